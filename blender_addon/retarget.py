"""Carry a baked SMPL-X take onto the artist's own armature (Blender glue over ``inference.retarget``).

In: an SMPL-X armature with an action (a bake) and a target armature; out: a new action on the
target (one take, named ``<take> → <target>``), keyed in bulk per bone, with the ARKit weights on
the target's matching shape keys. The rig's profile is detected from its bone names and hierarchy
(``profiles.detect``); the rest poses are read from Blender (``bone.matrix_local``) and the maths
is the engine's (``retarget.retarget``), so a T-pose, an A-pose or other bone rolls look the same.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..inference.core.layout import ARKIT_NAMES
from ..inference.retarget.face_names import match_shape_keys
from ..inference.retarget.profiles import Detection, ProfileError, detect
from ..inference.retarget.retarget import retarget
from ..inference.retarget.rig import TargetRig
from . import keys
from .armature import rest_heads
from .convert import to_blender_wxyz

GROUP = "Retarget"


class RetargetError(ValueError):
    """A retarget that cannot run; one line that says what to choose instead."""


def target_rig(obj: bpy.types.Object) -> TargetRig:
    """The armature's bones as the retargeter sees them (names, parents, rest matrices, lengths)."""
    bones = obj.data.bones
    names = tuple(b.name for b in bones)
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], np.int64)
    flat = np.empty(len(bones) * 16, np.float32)
    bones.foreach_get("matrix_local", flat)
    rest = flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)       # foreach_get is column-major
    return TargetRig(names, parents, rest, np.array([b.length for b in bones], np.float64))


def retarget_take(source: bpy.types.Object, target: bpy.types.Object, in_place: bool = False) -> Detection:
    """Key ``source``'s take (an SMPL-X armature's action) onto ``target`` as a new action; returns
    the rig detection (profile, unmapped bones). Raises :class:`RetargetError` on one line."""
    if target is None or target.type != "ARMATURE" or target == source:
        raise RetargetError("choose another armature (your character) as the retarget target")
    try:
        keys.rig_info(source)
    except keys.RigError:
        raise RetargetError(f"'{source.name}' is not an SMPL-X armature: bake a video into one first") from None
    anim = source.animation_data
    if anim is None or anim.action is None:
        raise RetargetError(f"'{source.name}' has no action: bake a video first")
    got = keys.read_keys(source)
    if not len(got["frames"]):
        raise RetargetError(f"'{source.name}''s action has no keys: bake a video first")
    bones = target.data.bones
    try:
        found = detect([b.name for b in bones], [b.parent.name if b.parent else None for b in bones])
    except ProfileError as exc:
        raise RetargetError(str(exc)) from None
    if not found.bone_map:
        raise RetargetError(f"no bone of '{target.name}' could be matched to the body: {found.summary()}")
    rig = target_rig(target)
    out = retarget(got["quats"], got["trans"], rest_heads(source), rig, found.bone_map, in_place)
    _write(target, got["frames"], out, f"{anim.action.name} → {target.name}")
    _write_face(target, got["frames"], got["arkit"])
    return found


def _write(target: bpy.types.Object, frames: np.ndarray, out, take: str) -> None:
    keys.new_take(target, take)
    wxyz = to_blender_wxyz(out.rotations)                                      # (T, B, 4) w first
    for b in np.flatnonzero(out.mapped):
        name = target.data.bones[int(b)].name
        target.pose.bones[name].rotation_mode = "QUATERNION"
        for k in range(4):
            keys.write_channel(target, f'pose.bones["{name}"].rotation_quaternion', k, frames, wxyz[:, b, k], GROUP)
    root = target.data.bones[int(out.root_bone)].name
    for k in range(3):
        keys.write_channel(target, f'pose.bones["{root}"].location', k, frames, out.root_location[:, k], GROUP)


def _write_face(target: bpy.types.Object, frames: np.ndarray, arkit: np.ndarray) -> None:
    """The ARKit weights onto the shape keys of the target's meshes whose names match (any convention)."""
    for child in target.children:
        shape_keys = child.data.shape_keys if child.type == "MESH" else None
        if shape_keys is None:
            continue
        match = match_shape_keys([kb.name for kb in shape_keys.key_blocks])
        for i, name in enumerate(ARKIT_NAMES):
            key = match.mapping.get(name)
            if key and np.isfinite(arkit[:, i]).all():
                keys.write_channel(shape_keys, f'key_blocks["{key}"].value', 0, frames, arkit[:, i], "ARKit")
