"""Retarget the panel's baked take onto your own armature, and the character's bone map: detect it,
edit it, save and load it as a JSON preset (thin operators over blender_addon.retarget and
blender_addon.retarget_panel). A failure is one line in the report (a RuntimeError from a script)."""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..blender_addon import retarget, retarget_panel
from ..inference.retarget.profiles import ProfileError, detect, load_map, save_map

#: Unmapped bones named in a report at most (the panel lists them all).
REPORT_NAMES = 20


def _target(context) -> bpy.types.Object | None:
    obj = context.scene.smplx_mocap.retarget_target
    return obj if obj is not None and obj.type == "ARMATURE" else None


def _has_target(context) -> bool:
    return hasattr(context.scene, "smplx_mocap") and _target(context) is not None


def _report_unmapped(op: bpy.types.Operator, found) -> None:
    if found.unmapped_target_bones:
        names = found.unmapped_target_bones
        op.report({"INFO"}, "unmapped bones: " + ", ".join(names[:REPORT_NAMES])
                  + (" …" if len(names) > REPORT_NAMES else ""))


class MOCAP_OT_retarget_take(bpy.types.Operator):
    """Key the SMPL-X armature's take onto your character (the panel's Retarget To armature) as a new action, with the character's stored bone map or else the profile detected from its bone names"""

    bl_idname = "mocap.retarget_take"
    bl_label = "Retarget Take"
    bl_options = {"REGISTER", "UNDO"}

    in_place: bpy.props.BoolProperty(name="In Place", default=False,
                                     description="Drop the travel over the floor (the character stays at its origin); "
                                                 "unset: the panel's In Place")

    @classmethod
    def poll(cls, context):
        props = context.scene.smplx_mocap
        return props.target is not None and props.retarget_target is not None

    def execute(self, context):
        props = context.scene.smplx_mocap
        try:
            target = props.retarget_target
            bone_map = retarget.stored_map(target) if target.type == "ARMATURE" else None
            if not self.properties.is_property_set("in_place"):
                self.in_place = props.retarget_in_place
            found = retarget.retarget_take(props.target, target, in_place=self.in_place, bone_map=bone_map)
        except retarget.RetargetError as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        self.report({"INFO"}, f"retargeted onto '{props.retarget_target.name}': {found.summary()}")
        switched = [pb.name for pb in target.pose.bones if "IK_FK" in pb.keys()]
        if switched:
            self.report({"INFO"}, f"Rigify switches set to FK (the take keys the FK controls): {', '.join(switched)}")
        _report_unmapped(self, found)
        return {"FINISHED"}


class MOCAP_OT_detect_rig_map(bpy.types.Operator):
    """Detect the character's rig profile from its bone names and hierarchy and store its map on the armature (replaces an edited map)"""

    bl_idname = "mocap.detect_rig_map"
    bl_label = "Detect Rig Map"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _has_target(context)

    def execute(self, context):
        props, obj = context.scene.smplx_mocap, _target(context)
        bones = obj.data.bones
        try:
            found = detect(bones.keys(), [b.parent.name if b.parent else None for b in bones])
            bone_map = retarget.store_map(obj, found.bone_map, found.profile, round(found.score, 4))
        except (ProfileError, retarget.RetargetError) as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        retarget_panel.fill_rows(props, obj, bone_map)
        self.report({"INFO"}, f"'{obj.name}': {found.summary()}")
        _report_unmapped(self, found)
        return {"FINISHED"}


class MOCAP_OT_edit_rig_map(bpy.types.Operator):
    """Edit the character's bone map in the panel (its stored map, else the detected one, which is then stored)"""

    bl_idname = "mocap.edit_rig_map"
    bl_label = "Edit Rig Map"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _has_target(context)

    def execute(self, context):
        props, obj = context.scene.smplx_mocap, _target(context)
        try:
            bone_map = retarget.stored_map(obj)
        except retarget.RetargetError as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        if bone_map is None:
            return bpy.ops.mocap.detect_rig_map()
        retarget_panel.fill_rows(props, obj, bone_map)
        return {"FINISHED"}


class MOCAP_OT_save_rig_map(bpy.types.Operator, ExportHelper):
    """Save the character's bone map (stored, else detected) as a JSON preset to share or reuse"""

    bl_idname = "mocap.save_rig_map"
    bl_label = "Save Rig Map"
    bl_options = {"REGISTER"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return _has_target(context)

    def execute(self, context):
        obj = _target(context)
        try:
            bone_map = retarget.stored_map(obj)
            profile = retarget.stored_info(obj).get("profile")
            if bone_map is None:
                found = retarget.rig_detection(obj)
                bone_map, profile = found.bone_map, found.profile
            path = save_map(self.filepath, bone_map, profile)
        except (ProfileError, retarget.RetargetError) as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        self.report({"INFO"}, f"bone map of '{obj.name}' saved to {path}")
        return {"FINISHED"}


class MOCAP_OT_load_rig_map(bpy.types.Operator, ImportHelper):
    """Load a JSON bone-map preset onto the character (checked against its bones); Retarget Take and the live link use it"""

    bl_idname = "mocap.load_rig_map"
    bl_label = "Load Rig Map"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return _has_target(context)

    def execute(self, context):
        props, obj = context.scene.smplx_mocap, _target(context)
        try:
            bone_map = load_map(self.filepath, obj.data.bones.keys())
            bone_map = retarget.store_map(obj, bone_map, f"preset {Path(self.filepath).stem}")
        except (ProfileError, retarget.RetargetError) as exc:
            self.report({"ERROR"}, str(exc).splitlines()[0])
            return {"CANCELLED"}
        retarget_panel.fill_rows(props, obj, bone_map)
        self.report({"INFO"}, f"bone map {Path(self.filepath).name} loaded onto '{obj.name}' "
                              f"({sum(len(c) for c in bone_map.values())} bones)")
        return {"FINISHED"}


class MOCAP_OT_bone_map_row(bpy.types.Operator):
    """Add a bone to the active row's joint (the next bone of its chain) or take the active row's bone out of the map"""

    bl_idname = "mocap.bone_map_row"
    bl_label = "Bone Map Row"
    bl_options = {"REGISTER", "UNDO"}

    action: EnumProperty(items=(("ADD", "Add Bone", "Add a row for the active row's joint: its chain's next bone"),
                                ("REMOVE", "Remove Bone", "Take the active row's bone out of the map")))

    @classmethod
    def poll(cls, context):
        props = context.scene.smplx_mocap if hasattr(context.scene, "smplx_mocap") else None
        obj = _target(context) if props is not None else None
        return obj is not None and props.bone_map_owner == obj.name and len(props.bone_map) > 0

    def execute(self, context):
        props = context.scene.smplx_mocap
        if self.action == "ADD":
            retarget_panel.add_row(props)
        else:
            try:
                retarget_panel.remove_row(context)
            except retarget.RetargetError as exc:
                self.report({"ERROR"}, str(exc).splitlines()[0])
                return {"CANCELLED"}
        return {"FINISHED"}


CLASSES = (MOCAP_OT_retarget_take, MOCAP_OT_detect_rig_map, MOCAP_OT_edit_rig_map, MOCAP_OT_save_rig_map,
           MOCAP_OT_load_rig_map, MOCAP_OT_bone_map_row)
