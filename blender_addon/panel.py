"""The 3D View sidebar tab "Mocap": source, parts, settings, model, actions and the worker status.

Draws even when the capture operators or the session module are missing (a partial install, or a
module that failed to load): their buttons are replaced by a greyed note, the status reads "idle".
"""
from __future__ import annotations

import bpy

from . import preferences
from .cache import MOTION_PROP
from .classes import register_classes, unregister_classes

# (operator idname, RNA class name, button text, icon)
ACTIONS = (
    ("mocap.live_start", "MOCAP_OT_live_start", "Start Live", "PLAY"),
    ("mocap.live_stop", "MOCAP_OT_live_stop", "Stop Live", "PAUSE"),
    ("mocap.record_toggle", "MOCAP_OT_record_toggle", "Record", "REC"),
    ("mocap.bake", "MOCAP_OT_bake", "Bake Video to Action", "ACTION"),
    ("mocap.resolve", "MOCAP_OT_resolve", "Re-solve Bake", "FILE_REFRESH"),
)


def operator_available(rna_name: str) -> bool:
    return hasattr(bpy.types, rna_name)


def session_status() -> tuple[str, bool]:
    """(status line, is an error) from :mod:`.session`; ("idle", False) when it is not there."""
    try:
        from . import session
    except ImportError:
        return "idle", False
    try:
        st = session.status()
        line = st.line() if hasattr(st, "line") else str(st)
        return line, getattr(st, "state", "") == "failed" or bool(getattr(st, "last_error", ""))
    except Exception as exc:  # noqa: BLE001 - the panel must always draw
        return f"status unavailable: {exc}", True


def _draw_action(layout, idname: str, rna_name: str, text: str, icon: str, **kw) -> None:
    if operator_available(rna_name):
        layout.operator(idname, text=text, icon=icon, **kw)
    else:
        sub = layout.row()
        sub.enabled = False
        sub.label(text=f"{text} (not available)", icon=icon)


def _draw_take(layout, obj) -> None:
    """Where the last bake of the panel's armature went: its action and its files."""
    motion = str(obj.get(MOTION_PROP, "")) if obj is not None else ""
    if not motion:
        return
    anim = obj.animation_data
    if anim is not None and anim.action is not None:
        layout.label(text=f"Take: action '{anim.action.name}' on '{obj.name}'", icon="ACTION")
    layout.label(text=f"Files: {motion.rpartition('/')[0] or motion}", icon="FILE_FOLDER")


class MocapPanel:
    """Where the add-on's panels live (the 3D View sidebar's Mocap tab) and when they draw."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "smplx_mocap")


class MocapSubPanel(MocapPanel):
    """A closed-by-default sub-panel of the Mocap tab (Export, Avatar, Retarget Map)."""

    bl_parent_id = "MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}


class MOCAP_PT_main(MocapPanel, bpy.types.Panel):
    bl_idname = "MOCAP_PT_main"
    bl_label = "SMPL-X Mocap"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        props = context.scene.smplx_mocap

        box = layout.box()
        box.prop(props, "source_type")
        if props.source_type == "VIDEO":
            box.prop(props, "video_path")
        elif props.source_type == "FOLDER":
            box.prop(props, "folder_path")
        else:
            box.prop(props, "webcam_index")

        col = layout.column(heading="Capture", align=True)
        col.prop(props, "use_body")
        col.prop(props, "use_hands")
        col.prop(props, "use_face")
        col = layout.column()
        col.prop(props, "smoothing", slider=True)
        col.prop(props, "detector")
        col.prop(props, "device")
        col.prop(props, "fov")
        col.prop(props, "target")
        if props.target is None:
            col.prop(props, "root_bone")
        col = layout.column(heading="Bake", align=True)
        row = col.row(align=True)
        row.prop(props, "clip_start")
        row.prop(props, "clip_end")
        col.prop(props, "match_scene")
        col.prop(props, "add_camera")

        prefs = preferences.get(context)
        if prefs is not None:
            layout.prop(prefs, "model_path")

        layout.use_property_split = False
        col = layout.column(align=True)
        row = col.row(align=True)
        for action in ACTIONS[:2]:
            _draw_action(row, *action)
        idname, rna_name, text, icon = ACTIONS[2]
        _draw_action(col, idname, rna_name, "Recording" if props.record else text, icon,
                     **({"depress": props.record} if operator_available(rna_name) else {}))
        row = col.row(align=True)
        for action in ACTIONS[3:]:
            _draw_action(row, *action)
        row = layout.row(align=True)
        row.prop(props, "retarget_target", text="")
        row.prop(props, "retarget_in_place", text="", icon="PINNED")
        _draw_action(row, "mocap.retarget_take", "MOCAP_OT_retarget_take", "Retarget Take", "ARMATURE_DATA")
        layout.operator("mocap.setup_runtime", icon="CONSOLE")
        _draw_action(layout, "mocap.clear_cache", "MOCAP_OT_clear_cache", "Clear Bake Cache", "TRASH")

        line, is_error = session_status()
        layout.label(text=line, icon="ERROR" if is_error else "INFO")
        _draw_take(layout, props.target)
        try:
            from ..operators import LOAD_ERRORS
        except ImportError:
            LOAD_ERRORS = {}
        for name, err in LOAD_ERRORS.items():
            layout.label(text=f"operators.{name}: {err}", icon="ERROR")


CLASSES = (MOCAP_PT_main,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
