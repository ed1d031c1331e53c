"""Retarget the panel's baked take onto your own armature (thin operator over blender_addon.retarget)."""
from __future__ import annotations

import bpy

from ..blender_addon import retarget


class MOCAP_OT_retarget_take(bpy.types.Operator):
    """Key the SMPL-X armature's take onto your character (the panel's Retarget To armature) as a new action; the rig's profile is detected from its bone names"""

    bl_idname = "mocap.retarget_take"
    bl_label = "Retarget Take"
    bl_options = {"REGISTER", "UNDO"}

    in_place: bpy.props.BoolProperty(name="In Place", default=False,
                                     description="Drop the travel over the floor (the character stays at its origin)")

    @classmethod
    def poll(cls, context):
        props = context.scene.smplx_mocap
        return props.target is not None and props.retarget_target is not None

    def execute(self, context):
        props = context.scene.smplx_mocap
        try:
            found = retarget.retarget_take(props.target, props.retarget_target, in_place=self.in_place)
        except retarget.RetargetError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"retargeted onto '{props.retarget_target.name}': {found.summary()}")
        if found.unmapped_target_bones:
            self.report({"INFO"}, "unmapped bones: " + ", ".join(found.unmapped_target_bones[:20])
                        + (" …" if len(found.unmapped_target_bones) > 20 else ""))
        return {"FINISHED"}


CLASSES = (MOCAP_OT_retarget_take,)
