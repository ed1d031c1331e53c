"""The Mocap tab's "Export" sub-panel (closed by default): BVH, FBX, glTF and motion npz of the chosen
armature over the scene's frame range, and importing a motion npz as a new take."""
from __future__ import annotations

import bpy

from .classes import register_classes, unregister_classes
from .export import chosen_armature
from .panel import MocapSubPanel, _draw_action

# (operator idname, RNA class name, button text, icon)
EXPORTS = (
    ("mocap.export_bvh", "MOCAP_OT_export_bvh", "BVH", "EXPORT"),
    ("mocap.export_fbx", "MOCAP_OT_export_fbx", "FBX", "EXPORT"),
    ("mocap.export_gltf", "MOCAP_OT_export_gltf", "glTF", "EXPORT"),
)
NPZ_EXPORT = ("mocap.export_npz", "MOCAP_OT_export_npz", "Motion npz", "EXPORT")
NPZ_IMPORT = ("mocap.import_npz", "MOCAP_OT_import_npz", "Import Motion npz", "IMPORT")


class MOCAP_PT_export(MocapSubPanel, bpy.types.Panel):
    bl_idname = "MOCAP_PT_export"
    bl_label = "Export"

    def draw(self, context):
        layout = self.layout
        obj = chosen_armature(context)
        scene = context.scene
        if obj is None:
            layout.label(text="Choose an armature (panel's Armature or the active one)", icon="INFO")
        else:
            layout.label(text=f"'{obj.name}', frames {scene.frame_start}..{scene.frame_end}", icon="ARMATURE_DATA")
        row = layout.row(align=True)
        for action in EXPORTS + (NPZ_EXPORT,):
            _draw_action(row, *action)
        _draw_action(layout, *NPZ_IMPORT)


CLASSES = (MOCAP_PT_export,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
