"""The "Retarget Map" sub-panel of the capture panel: which rig profile the character ("Retarget To")
was matched to and how sure, the bones and joints the map leaves out (always listed, never
silently ignored), and the map editor: one row per SMPL-X joint → the character's bone (a joint
spread over a chain has one row per bone), stored on the armature (``retarget.MAP_PROP``) as
soon as a row changes, so Retarget Take and the live link use it. Presets load and save as JSON.

The rows (``scene.smplx_mocap.bone_map``) are a view of the stored map for one armature
(``bone_map_owner``): Detect / Edit Map / Load fill them, an edited row writes the map back.
"""
from __future__ import annotations

import bpy

from ..inference.core.skeleton import JOINT_NAMES
from ..inference.retarget.profiles import ProfileError, detect
from . import retarget
from .classes import register_classes, unregister_classes
from .panel import MocapSubPanel, _draw_action

#: Names shown per line, and lines at most, when the unmapped bones and joints are listed.
NAMES_PER_LINE = 4
MAX_LINES = 12
# (operator idname, RNA class name, button text, icon)
MAP_ACTIONS = (
    ("mocap.detect_rig_map", "MOCAP_OT_detect_rig_map", "Detect", "VIEWZOOM"),
    ("mocap.load_rig_map", "MOCAP_OT_load_rig_map", "Load", "IMPORT"),
    ("mocap.save_rig_map", "MOCAP_OT_save_rig_map", "Save", "EXPORT"),
)
EDIT_ACTION = ("mocap.edit_rig_map", "MOCAP_OT_edit_rig_map", "Edit Map", "GREASEPENCIL")
ROW_ACTIONS = (("ADD", "ADD"), ("REMOVE", "REMOVE"))   # (mocap.bone_map_row action, icon)

_filling = False                 # rows are being filled: their update must not store a partial map
_detected: dict[tuple, object] = {}   # (armature name, bone names) → Detection, for drawing


# ---------------------------------------------------------------------------- rows ↔ map
def fill_rows(props, obj: bpy.types.Object, bone_map: dict[str, list[str]]) -> None:
    """Make the editor's rows the map of ``obj``: every joint's bones in chain order, then one
    empty row per joint without a bone (to fill in)."""
    global _filling
    _filling = True
    try:
        props.bone_map.clear()
        for joint in JOINT_NAMES:
            for bone in bone_map.get(joint) or [""]:
                row = props.bone_map.add()
                row.joint, row.bone = joint, bone
        props.bone_map_owner = obj.name
        props.bone_map_index = 0
    finally:
        _filling = False


def rows_map(props, bone_names=None) -> tuple[dict[str, list[str]], list[str]]:
    """(map, rows naming bones the armature lacks) from the editor's rows; rows with an empty bone
    are unmapped, unknown bones are left out of the map (and returned, for the panel to say)."""
    out: dict[str, list[str]] = {}
    unknown = []
    have = set(bone_names) if bone_names is not None else None
    for row in props.bone_map:
        if not row.bone:
            continue
        if have is not None and row.bone not in have:
            unknown.append(f"{row.joint} → {row.bone}")
            continue
        chain = out.setdefault(row.joint, [])
        if row.bone not in chain:
            chain.append(row.bone)
    return out, unknown


def add_row(props) -> None:
    """Insert an empty row for the active row's joint right after it: the joint's next bone in
    chain order (a spine or neck spread over more bones)."""
    global _filling
    if not len(props.bone_map):
        return
    at = min(max(props.bone_map_index, 0), len(props.bone_map) - 1)
    _filling = True
    try:
        row = props.bone_map.add()
        row.joint = props.bone_map[at].joint
        props.bone_map.move(len(props.bone_map) - 1, at + 1)
        props.bone_map_index = at + 1
    finally:
        _filling = False


def remove_row(context) -> None:
    """Take the active row's bone out of the map: the row goes when its joint has others, else its
    bone is cleared (every joint keeps a row to fill in); the map is stored."""
    props = context.scene.smplx_mocap
    if not len(props.bone_map):
        return
    at = min(max(props.bone_map_index, 0), len(props.bone_map) - 1)
    joint = props.bone_map[at].joint
    if sum(row.joint == joint for row in props.bone_map) > 1:
        props.bone_map.remove(at)
        props.bone_map_index = min(at, len(props.bone_map) - 1)
        rows_changed(context)
    else:
        props.bone_map[at].bone = ""                      # its update stores the map


def rows_changed(context) -> None:
    """A row was edited: store the rows' map on their armature (marked edited, profile kept)."""
    if _filling:
        return
    props = context.scene.smplx_mocap
    obj = bpy.data.objects.get(props.bone_map_owner)
    if obj is None or obj.type != "ARMATURE":
        return
    info = retarget.stored_info(obj)
    bone_map, _ = rows_map(props, obj.data.bones.keys())
    retarget.store_map(obj, bone_map, info.get("profile"), info.get("score"), edited=True)


def detection(obj: bpy.types.Object):
    """The profile detection of ``obj`` (cached per bone set: drawing must stay cheap)."""
    names = tuple(obj.data.bones.keys())
    key = (obj.name, names)
    if key not in _detected:
        _detected.clear()
        parents = [b.parent.name if b.parent else None for b in obj.data.bones]
        try:
            _detected[key] = detect(names, parents)
        except ProfileError as exc:
            _detected[key] = str(exc)
    return _detected[key]


def profile_line(info: dict) -> str:
    """One line about a stored map: its profile, how sure, edited or not."""
    profile, score = info.get("profile"), info.get("score")
    head = f"Map: rig profile {profile}" if profile else "Map: guessed from the hierarchy"
    if score is not None:
        head += f" ({float(score):.0%} sure)"
    return head + (", edited" if info.get("edited") else "")


def _names(layout, title: str, names: list[str], show: bool) -> None:
    layout.label(text=f"{len(names)} {title}", icon="ERROR" if names else "CHECKMARK")
    if not show or not names:
        return
    col = layout.column(align=True)
    lines = [names[i:i + NAMES_PER_LINE] for i in range(0, len(names), NAMES_PER_LINE)]
    for line in lines[:MAX_LINES]:
        col.label(text=", ".join(line))
    if len(lines) > MAX_LINES:
        col.label(text=f"… and {len(names) - MAX_LINES * NAMES_PER_LINE} more")


def _live_error(target_name: str) -> str:
    try:
        from . import pump
    except ImportError:
        return ""
    lv = pump.live()
    rt = getattr(lv, "retarget", None)
    return rt.error if rt is not None and rt.target_name == target_name else ""


class MOCAP_UL_bone_map(bpy.types.UIList):
    """SMPL-X joint → the character's bone (searched among its bones; red: not one of them)."""

    bl_idname = "MOCAP_UL_bone_map"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        obj = bpy.data.objects.get(data.bone_map_owner)
        row = layout.row(align=True)
        row.label(text=item.joint)
        if obj is not None and obj.type == "ARMATURE":
            row.alert = bool(item.bone) and item.bone not in obj.data.bones
            row.prop_search(item, "bone", obj.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class MOCAP_PT_retarget(MocapSubPanel, bpy.types.Panel):
    bl_idname = "MOCAP_PT_retarget"
    bl_label = "Retarget Map"

    def draw(self, context):
        layout = self.layout
        props = context.scene.smplx_mocap
        target = props.retarget_target
        if target is None:
            layout.label(text="Choose your character in Retarget To", icon="INFO")
            return
        info = retarget.stored_info(target)
        if info:
            layout.label(text=profile_line(info), icon="ARMATURE_DATA")
            bone_map = info.get("bones") or {}
        else:
            found = detection(target)
            if isinstance(found, str):
                layout.label(text=found, icon="ERROR")
                bone_map = {}
            else:
                head = found.summary().split(";")[0]
                layout.label(text=f"{head[:1].upper()}{head[1:]} (not stored yet)", icon="ARMATURE_DATA")
                bone_map = found.bone_map
        row = layout.row(align=True)
        for action in MAP_ACTIONS:
            _draw_action(row, *action)
        error = _live_error(target.name)
        if error:
            layout.label(text=f"Live: {error}", icon="ERROR")

        used = {b for chain in bone_map.values() for b in chain}
        _names(layout, "of the character's bones unmapped", [n for n in target.data.bones.keys() if n not in used],
               props.show_unmapped)
        _names(layout, "SMPL-X joints without a bone", [j for j in JOINT_NAMES if not bone_map.get(j)],
               props.show_unmapped)
        layout.prop(props, "show_unmapped", text="List Unmapped")

        if props.bone_map_owner != target.name:
            _draw_action(layout, *EDIT_ACTION)
            return
        row = layout.row()
        row.template_list("MOCAP_UL_bone_map", "", props, "bone_map", props, "bone_map_index", rows=8)
        col = row.column(align=True)
        for action, icon in ROW_ACTIONS:
            if hasattr(bpy.types, "MOCAP_OT_bone_map_row"):
                col.operator("mocap.bone_map_row", text="", icon=icon).action = action
        _, unknown = rows_map(props, target.data.bones.keys())
        for entry in unknown:
            layout.label(text=f"{entry}: no such bone, not used", icon="ERROR")


CLASSES = (MOCAP_UL_bone_map, MOCAP_PT_retarget)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    _detected.clear()
    unregister_classes(CLASSES)
