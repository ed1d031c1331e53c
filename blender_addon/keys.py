"""Drive an SMPL-X armature: pose it live (:func:`apply_pose`) and write keyframes in bulk
(:func:`write_keys`), plus :func:`read_keys` to evaluate written keys back into SMPL-X terms.

Inputs are in engine terms (SMPL-X, Y up): local joint quaternions ``(x, y, z, w)``, the SMPL
translation and the motion's rest pelvis (``pelvis_world = trans + rest_pelvis``). The conversion to
bone space is :mod:`.convert` with each bone's rest basis read from ``bone.matrix_local``; quaternions
are put into Blender's w-first order (``convert.to_blender_wxyz``) only where they are handed to bpy,
and taken back out of it (``convert.from_blender_wxyz``) where they are read from bpy.

Bulk keys use ``keyframe_points.add`` + ``foreach_set`` per F-curve (never ``keyframe_insert``). The
F-curves come from the action's channelbag for the ID's slot (layered actions, Blender 4.4+/5.x) or
from ``action.fcurves`` (4.2 LTS), chosen by feature detection (as are the channelbag helpers and the
F-curve group argument, which 4.4/4.5 lack).

Imports only bpy, numpy and the stdlib (plus the numpy-only engine modules).
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..inference.core import rotations as rot
from ..inference.core.layout import ARKIT_NAMES, NUM_ARKIT, NUM_PARTS, PART_BODY, PART_FACE
from ..inference.core.skeleton import JOINT_NAMES, JOINT_PART, NUM_JOINTS
from .armature import ROOT_MOTION_BONE, expression_key_name, expression_prop_name
from .convert import (blender_to_local_quats, bone_basis_quats, continuous_quats, from_blender_wxyz,
                      points_from_blender, root_locations, root_motion_locations, to_blender_wxyz,
                      trans_from_root_locations, trans_from_root_motion)

ROOT_BONE = JOINT_NAMES[0]
ARKIT_GROUP = "ARKit"
EXPRESSION_GROUP = "Expression"
_LINEAR = 1           # FCurve keyframe interpolation enum value of 'LINEAR'
_FRAME_TOL = 1e-4     # keys this close (in frames) to a written frame or range count as inside it
#: Append key by key (O(chunk)) instead of rewriting the whole curve (O(curve)) when the curve
#: already holds more than this many times the chunk's keys (per-key RNA writes cost ~40× a key
#: in a bulk ``foreach_set`` + ``update``).
_PER_KEY_RATIO = 40


class RigError(ValueError):
    """The object is not an SMPL-X armature built by this add-on."""


# ---------------------------------------------------------------------------- rig cache
@dataclass(frozen=True)
class RigInfo:
    """What the key writer needs from an armature, derived from its bones' rest matrices.

    bone_rest: (55, 3, 3) float64 orthonormal rest bases in armature space (SMPL-X joint order);
    root_rest: with a bone :data:`ROOT_MOTION_BONE` that is the pelvis's parent, its rest basis (it
    then carries the motion over the floor, the pelvis its height);
    armature_pelvis: (3,) float64 Y-up rest head of the root bone; pose_index: (55,) int64 position
    of each SMPL-X joint in ``obj.pose.bones``; num_pose_bones: len(obj.pose.bones).
    """

    signature: bytes
    bone_rest: np.ndarray
    armature_pelvis: np.ndarray
    pose_index: np.ndarray
    num_pose_bones: int
    root_rest: np.ndarray | None = None     # (3, 3) rest of a root-motion bone (parent of the pelvis), or None


#: Per-object cache, keyed by object name; an entry is reused while the bones' rest matrices are
#: unchanged. Only numpy data is kept (no bpy references, which undo can invalidate).
_RIG_CACHE: dict[str, RigInfo] = {}


def _rest_matrices(obj: bpy.types.Object) -> np.ndarray:
    """(N, 4, 4) float32 ``bone.matrix_local`` of every bone, in ``obj.data.bones`` order."""
    bones = obj.data.bones
    flat = np.empty(len(bones) * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    return flat.reshape(-1, 4, 4).transpose(0, 2, 1)          # foreach_get is column-major


def rig_info(obj: bpy.types.Object) -> RigInfo:
    """Cached :class:`RigInfo` of an SMPL-X armature (rebuilt when its rest pose changes).

    Raises RigError when the object is not an armature or lacks one of the 55 SMPL-X bones.
    """
    if obj is None or obj.type != "ARMATURE":
        raise RigError(f"{getattr(obj, 'name', None)!r} is not an armature: select the SMPL-X armature")
    mats = _rest_matrices(obj)
    signature = obj.data.name.encode() + mats.tobytes()
    info = _RIG_CACHE.get(obj.name)
    if info is not None and info.signature == signature:
        return info
    bone_index = {b.name: i for i, b in enumerate(obj.data.bones)}
    pose_bones = obj.pose.bones if obj.pose is not None else ()
    pose_index = {b.name: i for i, b in enumerate(pose_bones)}
    missing = [n for n in JOINT_NAMES if n not in bone_index or n not in pose_index]
    if missing:
        raise RigError(f"armature {obj.name!r} lacks SMPL-X bones {missing[:3]}...: "
                       "rebuild it with the add-on's 'Create SMPL-X armature'")
    rows = np.array([bone_index[n] for n in JOINT_NAMES])
    rest3 = mats[rows, :3, :3].astype(np.float64)
    rest3 = rot.quat_to_matrix(rot.to_quat(rest3))                    # exactly orthonormal
    parent = obj.data.bones[ROOT_BONE].parent
    root_rest = None
    if parent is not None and parent.name == ROOT_MOTION_BONE:
        root_rest = rot.quat_to_matrix(rot.to_quat(mats[bone_index[ROOT_MOTION_BONE], :3, :3].astype(np.float64)))
    info = RigInfo(signature=signature, bone_rest=rest3,
                   armature_pelvis=points_from_blender(mats[rows[0], :3, 3].astype(np.float64)),
                   pose_index=np.array([pose_index[n] for n in JOINT_NAMES], dtype=np.int64),
                   num_pose_bones=len(pose_bones), root_rest=root_rest)
    _RIG_CACHE[obj.name] = info
    return info


# ---------------------------------------------------------------------------- live pose
ALL_PARTS = (True,) * NUM_PARTS


def _locations(info: RigInfo, trans: np.ndarray, rest_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(pelvis bone location, root-motion bone location or None), each (T, 3) or (3,)."""
    if info.root_rest is None:
        return root_locations(trans, rest_pelvis, info.bone_rest[0], info.armature_pelvis), None
    return root_motion_locations(trans, rest_pelvis, info.bone_rest[0], info.root_rest, info.armature_pelvis)


def apply_pose(obj: bpy.types.Object, quats: np.ndarray, trans: np.ndarray, rest_pelvis: np.ndarray,
               expression: np.ndarray | None = None, arkit: np.ndarray | None = None,
               mesh_obj: bpy.types.Object | None = None, parts: tuple[bool, ...] = ALL_PARTS) -> None:
    """Pose the armature now (live link, called every tick).

    quats: (55, 4) x, y, z, w SMPL-X local rotations (Y up); trans: (3,) SMPL translation;
    rest_pelvis: (3,) Y-up rest pelvis of the motion; expression: (E,) coefficients → ``expr_###``
    properties (and ``Exp###`` shape keys of ``mesh_obj``); arkit: (52,) weights → the ARKit properties.
    parts: (4,) bool in ``part_valid`` order: what is posed (the rest is left as it is).
    """
    info = rig_info(obj)
    basis = bone_basis_quats(np.asarray(quats, dtype=np.float64)[None], info.bone_rest)[0]
    pbones = obj.pose.bones
    posed = np.asarray(parts, bool)[JOINT_PART]
    flat = np.empty((info.num_pose_bones, 4), dtype=np.float32)
    if info.num_pose_bones != NUM_JOINTS or not posed.all():  # unposed parts and extra bones keep theirs
        pbones.foreach_get("rotation_quaternion", flat.ravel())
    flat[info.pose_index[posed]] = to_blender_wxyz(basis[posed])
    pbones.foreach_set("rotation_quaternion", flat.ravel())
    if parts[PART_BODY]:
        pelvis_loc, root_loc = _locations(info, trans, rest_pelvis)
        pbones[ROOT_BONE].location = pelvis_loc
        if root_loc is not None:
            pbones[ROOT_MOTION_BONE].location = root_loc
    if not parts[PART_FACE]:
        arkit = expression = None
    if arkit is not None:
        for name, value in zip(ARKIT_NAMES, np.asarray(arkit, dtype=np.float64).tolist()):
            obj[name] = value
    if expression is not None:
        values = np.asarray(expression, dtype=np.float64).tolist()
        for i, value in enumerate(values):
            obj[expression_prop_name(i)] = value
        keys = mesh_obj.data.shape_keys if mesh_obj is not None else None
        if keys is not None:
            blocks = keys.key_blocks
            for i, value in enumerate(values):
                kb = blocks.get(expression_key_name(i))
                if kb is not None:
                    kb.value = value
    obj.update_tag(refresh={"OBJECT", "DATA"})


# ---------------------------------------------------------------------------- actions / F-curves
def _is_layered(action: bpy.types.Action) -> bool:
    """Layered actions with slots (Blender 4.4+; the only kind in 5.x)."""
    return hasattr(action, "slots")


def ensure_action(id_block: bpy.types.ID, action_name: str | None = None) -> bpy.types.Action:
    """The ID's action, created (and its slot assigned) if needed.

    action_name: use an action of that name — the assigned one if it already has the name, else a
    new action (Blender may suffix the name). None: the assigned action or a new ``<ID>Action``.
    """
    anim = id_block.animation_data or id_block.animation_data_create()
    action = anim.action
    if action is None or (action_name is not None and action.name != action_name):
        action = bpy.data.actions.new(action_name or f"{id_block.name}Action")
        anim.action = action
    if _is_layered(action) and anim.action_slot is None:
        slot = next((s for s in action.slots if s.target_id_type in (id_block.id_type, "UNSPECIFIED")), None)
        anim.action_slot = slot or action.slots.new(id_type=id_block.id_type, name=id_block.name)
    return action


def new_take(id_block: bpy.types.ID, name: str) -> bpy.types.Action:
    """Give ``id_block`` a new, empty action named ``name`` (Blender suffixes a taken name) for a
    take; the action it had keeps a fake user, so an earlier take is never lost (it stays in the
    Action editor's list)."""
    anim = id_block.animation_data or id_block.animation_data_create()
    if anim.action is not None:
        anim.action.use_fake_user = True
    action = bpy.data.actions.new(name)
    anim.action = action
    return ensure_action(id_block)


def write_channel(id_block: bpy.types.ID, data_path: str, index: int, frames: np.ndarray, values: np.ndarray,
                  group: str, action_name: str | None = None) -> None:
    """Bulk-key one channel of any ID (e.g. a camera's ``location`` Z): frames (T,) increasing,
    values (T,); keys inside the frames' range are replaced. action_name: as :func:`ensure_action`."""
    action = ensure_action(id_block, action_name)
    owner = _fcurve_owner(id_block, action, create=True)
    fc = _ensure_fcurve(owner, _is_layered(action), data_path, index, group)
    _write_curve(fc, np.asarray(frames, np.float64), np.asarray(values, np.float64), replace_range=True)


def clear_take(id_block: bpy.types.ID) -> None:
    """Remove every F-curve of the ID's own action (slot) before a take is written again, so no
    key of an earlier, longer or differently timed pass survives."""
    anim = id_block.animation_data
    if anim is None or anim.action is None:
        return
    owner = _fcurve_owner(id_block, anim.action, create=False)
    if owner is None:
        return
    for fc in list(owner.fcurves):
        owner.fcurves.remove(fc)


def _fcurve_owner(id_block: bpy.types.ID, action: bpy.types.Action, create: bool):
    """What holds the F-curves: the channelbag of the ID's slot (layered) or the action (4.2)."""
    if not _is_layered(action):
        return action
    from bpy_extras import anim_utils
    slot = id_block.animation_data.action_slot
    if slot is None:
        return None
    if create:
        return _ensure_channelbag(action, slot)
    return anim_utils.action_get_channelbag_for_slot(action, slot)


def _ensure_channelbag(action: bpy.types.Action, slot: bpy.types.ActionSlot):
    """The slot's channelbag, created if needed: ``anim_utils.action_ensure_channelbag_for_slot``
    where it exists (5.0+); Blender 4.4/4.5 have layered actions without that helper, so the same
    steps (first layer, its first keyframe strip, ``channelbag(slot, ensure=True)``) are done here."""
    from bpy_extras import anim_utils
    ensure = getattr(anim_utils, "action_ensure_channelbag_for_slot", None)
    if ensure is not None:
        return ensure(action, slot)
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def _ensure_fcurve(owner, layered: bool, data_path: str, index: int, group: str) -> bpy.types.FCurve:
    fc = owner.fcurves.find(data_path, index=index)
    if fc is not None:
        return fc
    if not layered:
        return owner.fcurves.new(data_path, index=index, action_group=group)
    if "group_name" in owner.fcurves.bl_rna.functions["new"].parameters:       # 5.0+
        return owner.fcurves.new(data_path, index=index, group_name=group)
    fc = owner.fcurves.new(data_path, index=index)                            # 4.4 / 4.5
    fc.group = owner.groups.get(group) or owner.groups.new(group)
    return fc


def fcurves_of(id_block: bpy.types.ID) -> dict[tuple[str, int], bpy.types.FCurve]:
    """All F-curves animating ``id_block`` through its assigned action/slot, by (data_path, index)."""
    anim = id_block.animation_data
    if anim is None or anim.action is None:
        return {}
    owner = _fcurve_owner(id_block, anim.action, create=False)
    if owner is None:
        return {}
    return {(fc.data_path, fc.array_index): fc for fc in owner.fcurves}


# ---------------------------------------------------------------------------- one F-curve
def _read_points(fc: bpy.types.FCurve) -> tuple[np.ndarray, np.ndarray]:
    """Existing keys: co (N, 2) float32 and interpolation (N,) int32."""
    kp = fc.keyframe_points
    n = len(kp)
    co = np.empty(2 * n, dtype=np.float32)
    ip = np.empty(n, dtype=np.int32)
    if n:
        kp.foreach_get("co", co)
        kp.foreach_get("interpolation", ip)
    return co.reshape(n, 2), ip


def _inside(existing: np.ndarray, frames: np.ndarray, replace_range: bool) -> np.ndarray:
    """(N,) bool: existing key frames to replace — inside [min, max] of ``frames`` (replace_range)
    or within tolerance of one of them."""
    if replace_range:
        return (existing >= frames[0] - _FRAME_TOL) & (existing <= frames[-1] + _FRAME_TOL)
    pos = np.clip(np.searchsorted(frames, existing), 1, max(frames.size - 1, 1))
    near = np.minimum(np.abs(frames[pos - 1] - existing), np.abs(frames[np.minimum(pos, frames.size - 1)] - existing))
    return near <= _FRAME_TOL


def _last_key(fc: bpy.types.FCurve) -> tuple[float, float] | None:
    """(frame, value) of the curve's last key point (keys are kept sorted), O(1); None if empty."""
    kp = fc.keyframe_points
    if len(kp) == 0:
        return None
    co = kp[len(kp) - 1].co
    return float(co[0]), float(co[1])


def _is_append(fc: bpy.types.FCurve, first_frame: float) -> bool:
    """True when every existing key lies before ``first_frame`` (a chunk appended at the end)."""
    last = _last_key(fc)
    return last is None or last[0] < first_frame - _FRAME_TOL


def _append_per_key(fc: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Append T keys after the existing ones touching only the new points: O(T), not O(existing)."""
    kp = fc.keyframe_points
    n = len(kp)
    kp.add(frames.size)
    for i, (f, v) in enumerate(zip(frames.tolist(), values.tolist())):
        point = kp[n + i]
        point.co = (f, v)
        point.interpolation = "LINEAR"


def _write_curve(fc: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, replace_range: bool) -> None:
    """Write T linear keys (frames sorted ascending) into ``fc``, replacing the keys inside the
    written range and keeping every key outside it.

    A short chunk appended after a long curve (live recording) only touches its new points. Any
    other write is done in bulk over the whole curve: existing points inside the range are reused
    (no per-key removal for a re-write of the same frames), surplus ones removed, then one
    ``foreach_set`` of co and interpolation and ``fcurve.update()`` (sort + handles).
    """
    kp = fc.keyframe_points
    n_keys = len(kp)
    if n_keys > _PER_KEY_RATIO * frames.size and _is_append(fc, frames[0]):
        _append_per_key(fc, frames, values)
        return
    co, ip = _read_points(fc)
    slots = np.flatnonzero(_inside(co[:, 0], frames, replace_range))
    n_new = frames.size
    if slots.size > n_new:                                   # fewer keys than before in the range
        for i in slots[n_new:][::-1].tolist():
            kp.remove(kp[i], fast=True)
        co, ip = _read_points(fc)
        slots = np.flatnonzero(_inside(co[:, 0], frames, replace_range))[:n_new]
    n_old = co.shape[0]
    extra = n_new - slots.size
    if extra:
        kp.add(extra)
        co = np.concatenate([co, np.zeros((extra, 2), np.float32)])
        ip = np.concatenate([ip, np.full(extra, _LINEAR, np.int32)])
        slots = np.concatenate([slots, np.arange(n_old, n_old + extra)])
    co[slots, 0] = frames
    co[slots, 1] = values
    ip[slots] = _LINEAR
    kp.foreach_set("co", co.ravel())
    kp.foreach_set("interpolation", ip)
    fc.update()                                              # sort + handles


def _value_before(fc: bpy.types.FCurve, frame: float) -> float | None:
    """Value of the last key before ``frame`` (O(1) when all keys are before it), or None."""
    last = _last_key(fc)
    if last is None:
        return None
    if last[0] < frame - _FRAME_TOL:
        return last[1]
    co, _ = _read_points(fc)
    before = co[co[:, 0] < frame - _FRAME_TOL]
    return float(before[np.argmax(before[:, 0]), 1]) if before.shape[0] else None


def _previous_quats(rot_curves: list[list[bpy.types.FCurve]], frame: float) -> np.ndarray:
    """(J, 4) x, y, z, w keyed basis quaternion of each bone just before ``frame``; zeros where
    none. ``rot_curves``: each bone's 4 ``rotation_quaternion`` curves in Blender's order (w first)."""
    prev = np.zeros((len(rot_curves), 4))
    for j, fcs in enumerate(rot_curves):                     # 55 bones × 4 curves
        vals = [_value_before(fc, frame) for fc in fcs]
        if all(v is not None for v in vals):
            prev[j] = vals
    return from_blender_wxyz(prev)


# ---------------------------------------------------------------------------- bulk keys
@dataclass(frozen=True)
class _Channel:
    """One F-curve to write: data path, array index, group and (T,) values."""

    data_path: str
    index: int
    group: str
    values: np.ndarray


def _check_inputs(frames, quats, trans, expression, arkit):
    frames = np.asarray(frames, dtype=np.float64).reshape(-1)
    t = frames.size
    quats = np.asarray(quats, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if quats.shape != (t, NUM_JOINTS, 4) or trans.shape != (t, 3):
        raise ValueError(f"quats {quats.shape} / trans {trans.shape} do not match {t} frames: "
                         f"pass ({t}, 55, 4) x, y, z, w and ({t}, 3)")
    if t and np.any(np.diff(frames) <= 0):
        raise ValueError("frames must increase strictly: pass one frame per captured sample, in time order")
    for name, arr, width in (("expression", expression, None), ("arkit", arkit, NUM_ARKIT)):
        if arr is not None and (np.ndim(arr) != 2 or np.shape(arr)[0] != t
                                or (width is not None and np.shape(arr)[1] != width)):
            raise ValueError(f"{name} has shape {np.shape(arr)}: pass ({t}, {width or 'E'}) or None")
    return frames, quats, trans


def write_keys(obj: bpy.types.Object, frames: np.ndarray, quats: np.ndarray, trans: np.ndarray,
               rest_pelvis: np.ndarray, expression: np.ndarray | None = None,
               arkit: np.ndarray | None = None, mesh_obj: bpy.types.Object | None = None,
               action_name: str | None = None, replace_range: bool = True,
               parts: tuple[bool, ...] = ALL_PARTS) -> bpy.types.Action:
    """Bulk-write keyframes for a clip (or one chunk of it) and return the armature's action.

    frames: (T,) float64 strictly increasing scene frames (``convert.times_to_frames``); quats:
    (T, 55, 4) x, y, z, w SMPL-X local rotations, Y up; trans: (T, 3); rest_pelvis: (3,) Y-up;
    expression: (T, E) → ``["expr_###"]`` on the object and, with ``mesh_obj``, the ``Exp###`` shape
    key values (the shape-key datablock's own action); arkit: (T, 52) → the ARKit properties.
    replace_range: existing keys inside [frames[0], frames[-1]] are replaced (False: only keys at
    the written frames); keys outside, and other channels, are kept — so consecutive chunks append.
    Quaternions are made hemisphere-continuous, also with the key before the chunk. parts: (4,)
    bool in ``part_valid`` order: only their channels get keys (body: its joints and the root's
    location; a hand: its fingers; face: jaw, eyes, ARKit, expression and shape keys).
    """
    frames, quats, trans = _check_inputs(frames, quats, trans, expression, arkit)
    info = rig_info(obj)
    action = ensure_action(obj, action_name)
    owner = _fcurve_owner(obj, action, create=True)
    layered = _is_layered(action)
    if frames.size == 0:
        return action

    keyed = np.flatnonzero(np.asarray(parts, bool)[JOINT_PART])               # the joints that get keys
    names = [JOINT_NAMES[j] for j in keyed]
    rot_curves = [[_ensure_fcurve(owner, layered, f'pose.bones["{n}"].rotation_quaternion', k, n)
                   for k in range(4)] for n in names]
    basis = bone_basis_quats(quats, info.bone_rest)[:, keyed]                  # (T, J, 4)
    basis = continuous_quats(basis, previous=_previous_quats(rot_curves, frames[0]))
    basis = to_blender_wxyz(basis)                                             # F-curve index 0 = w

    channels = [_Channel(f'pose.bones["{n}"].rotation_quaternion', k, n, basis[:, i, k])
                for i, n in enumerate(names) for k in range(4)]
    if parts[PART_BODY]:
        loc, root_loc = _locations(info, trans, rest_pelvis)
        channels += [_Channel(f'pose.bones["{ROOT_BONE}"].location', k, ROOT_BONE, loc[:, k]) for k in range(3)]
        if root_loc is not None:
            channels += [_Channel(f'pose.bones["{ROOT_MOTION_BONE}"].location', k, ROOT_MOTION_BONE, root_loc[:, k])
                         for k in range(3)]
    if not parts[PART_FACE]:
        arkit = expression = None
    if arkit is not None:
        arkit = np.asarray(arkit, dtype=np.float64)
        channels += [_Channel(f'["{n}"]', 0, ARKIT_GROUP, arkit[:, i]) for i, n in enumerate(ARKIT_NAMES)]
    if expression is not None:
        expression = np.asarray(expression, dtype=np.float64)
        _ensure_props(obj, expression.shape[1])
        channels += [_Channel(f'["{expression_prop_name(i)}"]', 0, EXPRESSION_GROUP, expression[:, i])
                     for i in range(expression.shape[1])]
    for ch in channels:
        _write_curve(_ensure_fcurve(owner, layered, ch.data_path, ch.index, ch.group),
                     frames, ch.values, replace_range)

    if mesh_obj is not None and expression is not None:
        _write_shape_keys(mesh_obj, frames, expression, action_name, replace_range)
    return action


def _ensure_props(obj: bpy.types.Object, n: int) -> None:
    """Create missing ``expr_###`` properties (an F-curve on a missing property does not evaluate)."""
    for i in range(n):
        name = expression_prop_name(i)
        if name not in obj:
            obj[name] = 0.0


def _write_shape_keys(mesh_obj: bpy.types.Object, frames: np.ndarray, expression: np.ndarray,
                      action_name: str | None, replace_range: bool) -> None:
    """Key ``key_blocks["Exp###"].value`` on the mesh's shape-key datablock (its own action)."""
    keys = mesh_obj.data.shape_keys
    if keys is None:
        raise RigError(f"mesh {mesh_obj.name!r} has no shape keys: build it with a SMPL-X model file")
    action = ensure_action(keys, f"{action_name}_shapes" if action_name else None)
    owner = _fcurve_owner(keys, action, create=True)
    layered = _is_layered(action)
    for i in range(expression.shape[1]):
        name = expression_key_name(i)
        if keys.key_blocks.get(name) is None:
            continue
        fc = _ensure_fcurve(owner, layered, f'key_blocks["{name}"].value', 0, EXPRESSION_GROUP)
        _write_curve(fc, frames, expression[:, i], replace_range)


# ---------------------------------------------------------------------------- read back
def _evaluate(fc: bpy.types.FCurve | None, frames: np.ndarray) -> np.ndarray:
    if fc is None:
        return np.full(frames.size, np.nan)
    return np.array([fc.evaluate(f) for f in frames.tolist()], dtype=np.float64)


def read_keys(obj: bpy.types.Object, frames: np.ndarray | None = None, rest_pelvis: np.ndarray | None = None,
              mesh_obj: bpy.types.Object | None = None) -> dict[str, np.ndarray]:
    """Evaluate the written F-curves back into SMPL-X terms (test / inspection helper).

    frames: (T,) frames to evaluate (default: the key frames of the root's W curve); rest_pelvis:
    (3,) Y-up rest pelvis of the motion for ``trans`` (default: the armature's). Returns a dict:
    ``frames`` (T,), ``quats`` (T, 55, 4) x, y, z, w Y-up local rotations (as keyed, not renormalised),
    ``trans`` (T, 3), ``arkit`` (T, 52) (NaN where not keyed), ``expression`` (T, E) for the keyed
    ``expr_###``, and with ``mesh_obj`` ``shape_keys`` (T, E) of the ``Exp###`` values.
    """
    info = rig_info(obj)
    curves = fcurves_of(obj)
    rot_path = 'pose.bones["{}"].rotation_quaternion'
    if frames is None:
        root_w = curves.get((rot_path.format(ROOT_BONE), 0))
        frames = _read_points(root_w)[0][:, 0] if root_w is not None else np.zeros(0)
    frames = np.asarray(frames, dtype=np.float64).reshape(-1)
    basis = np.stack([np.stack([_evaluate(curves.get((rot_path.format(n), k)), frames) for k in range(4)], -1)
                      for n in JOINT_NAMES], axis=1)                              # (T, 55, 4) w first
    basis = from_blender_wxyz(basis)
    loc = np.stack([_evaluate(curves.get((f'pose.bones["{ROOT_BONE}"].location', k)), frames)
                    for k in range(3)], -1)
    pelvis = info.armature_pelvis if rest_pelvis is None else np.asarray(rest_pelvis, dtype=np.float64)
    if info.root_rest is None:
        trans = trans_from_root_locations(loc, pelvis, info.bone_rest[0], info.armature_pelvis)
    else:
        root_loc = np.stack([_evaluate(curves.get((f'pose.bones["{ROOT_MOTION_BONE}"].location', k)), frames)
                             for k in range(3)], -1)
        trans = trans_from_root_motion(loc, root_loc, pelvis, info.bone_rest[0], info.root_rest, info.armature_pelvis)
    out = {
        "frames": frames,
        "quats": blender_to_local_quats(basis, info.bone_rest),
        "trans": trans,
        "arkit": np.stack([_evaluate(curves.get((f'["{n}"]', 0)), frames) for n in ARKIT_NAMES], -1),
    }
    expr = []
    while (f'["{expression_prop_name(len(expr))}"]', 0) in curves:
        expr.append(_evaluate(curves[(f'["{expression_prop_name(len(expr))}"]', 0)], frames))
    out["expression"] = np.stack(expr, -1) if expr else np.zeros((frames.size, 0))
    if mesh_obj is not None and mesh_obj.data.shape_keys is not None:
        kcurves = fcurves_of(mesh_obj.data.shape_keys)
        vals = []
        while (f'key_blocks["{expression_key_name(len(vals))}"].value', 0) in kcurves:
            vals.append(_evaluate(kcurves[(f'key_blocks["{expression_key_name(len(vals))}"].value', 0)], frames))
        out["shape_keys"] = np.stack(vals, -1) if vals else np.zeros((frames.size, 0))
    return out
