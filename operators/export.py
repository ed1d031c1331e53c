"""Export the chosen armature's action as BVH, FBX, glTF or an engine motion npz, and import such an
npz into a new take (thin operators over blender_addon.export).

From a script: ``bpy.ops.mocap.export_fbx(filepath="/tmp/take.fbx")`` exports the panel's Armature
(or the active armature, or the one named by ``armature``) over the scene's frame range unless
``frame_start`` / ``frame_end`` are given. A failure is one line in the report (a RuntimeError
from a script).
"""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..blender_addon import export
from ..blender_addon.classes import register_classes, unregister_classes


def _armature(context, name: str) -> bpy.types.Object | None:
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise export.ExportError(f"no object named '{name}': pass the name of an armature")
        return obj
    return export.chosen_armature(context)


def _failure(exc: BaseException) -> str:
    """One line for the report: an export's own message, else ``Type: message``."""
    if isinstance(exc, export.ExportError):
        return str(exc).splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class _ExportMixin(ExportHelper):
    """File browser + frame range (the scene's unless set) + the chosen armature."""

    bl_options = {"REGISTER"}
    kind = ""
    write = None          # export.export_<kind>

    frame_start: IntProperty(name="Start Frame", default=1, description="First frame exported (default: the scene's)")
    frame_end: IntProperty(name="End Frame", default=250, description="Last frame exported (default: the scene's)")
    armature: StringProperty(name="Armature", default="", options={"SKIP_SAVE"},
                             description="Armature to export (empty: the Mocap panel's Armature or the active one)")

    @classmethod
    def poll(cls, context):
        return export.chosen_armature(context) is not None

    def _range(self, context) -> tuple[int, int]:
        scene = context.scene
        start = self.frame_start if self.properties.is_property_set("frame_start") else scene.frame_start
        end = self.frame_end if self.properties.is_property_set("frame_end") else scene.frame_end
        return start, end

    def invoke(self, context, event):
        self.frame_start, self.frame_end = context.scene.frame_start, context.scene.frame_end
        return ExportHelper.invoke(self, context, event)

    def execute(self, context):
        try:
            obj = _armature(context, self.armature)
            start, end = self._range(context)
            path = type(self).write(obj, self.filepath, start, end, context=context)
        except Exception as exc:  # noqa: BLE001 - one line in the report, never a traceback
            self.report({"ERROR"}, f"{self.bl_label}: {_failure(exc)}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{self.bl_label}: frames {start}..{end} of '{obj.name}' written to {path}")
        return {"FINISHED"}


class MOCAP_OT_export_bvh(_ExportMixin, bpy.types.Operator):
    """Export the armature's action over the frame range as BVH (Blender's BVH exporter)"""

    bl_idname = "mocap.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: StringProperty(default="*.bvh", options={"HIDDEN"})
    write = staticmethod(export.export_bvh)


class MOCAP_OT_export_fbx(_ExportMixin, bpy.types.Operator):
    """Export the armature (and the meshes it deforms) with its action baked over the frame range as FBX"""

    bl_idname = "mocap.export_fbx"
    bl_label = "Export FBX"
    filename_ext = ".fbx"
    filter_glob: StringProperty(default="*.fbx", options={"HIDDEN"})
    write = staticmethod(export.export_fbx)


class MOCAP_OT_export_gltf(_ExportMixin, bpy.types.Operator):
    """Export the armature (and the meshes it deforms) with its action over the frame range as glTF binary (.glb)"""

    bl_idname = "mocap.export_gltf"
    bl_label = "Export glTF"
    filename_ext = ".glb"
    filter_glob: StringProperty(default="*.glb;*.gltf", options={"HIDDEN"})
    write = staticmethod(export.export_gltf)


class MOCAP_OT_export_npz(_ExportMixin, bpy.types.Operator):
    """Export the SMPL-X armature's action over the frame range as a motion .npz (the capture's own format)"""

    bl_idname = "mocap.export_npz"
    bl_label = "Export Motion npz"
    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    write = staticmethod(export.export_npz)


class MOCAP_OT_import_npz(bpy.types.Operator, ImportHelper):
    """Import a motion .npz (a capture or an export) as a new take of the SMPL-X armature (a new one when none is chosen)"""

    bl_idname = "mocap.import_npz"
    bl_label = "Import Motion npz"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    armature: StringProperty(name="Armature", default="", options={"SKIP_SAVE"},
                             description="SMPL-X armature to key (empty: the Mocap panel's Armature or the active "
                                         "armature; none: a new one)")

    def execute(self, context):
        try:
            obj, n = export.import_npz(self.filepath, _armature(context, self.armature), context=context)
        except Exception as exc:  # noqa: BLE001 - one line in the report, never a traceback
            self.report({"ERROR"}, f"{self.bl_label}: {_failure(exc)}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{self.bl_label}: {n} frame(s) keyed into action "
                              f"'{obj.animation_data.action.name}' of '{obj.name}'")
        return {"FINISHED"}


CLASSES = (MOCAP_OT_export_bvh, MOCAP_OT_export_fbx, MOCAP_OT_export_gltf, MOCAP_OT_export_npz, MOCAP_OT_import_npz)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
