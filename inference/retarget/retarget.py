"""Retarget SMPL-X motion onto a target rig: pose-bone quaternions and the root's location.

A bake calls :func:`retarget` once for the whole clip; a live link builds the plan once
(:func:`.plan.build_plan`) and calls :func:`apply_plan` every tick with one frame. Both are
vectorised over frames and bones in component-major quaternions (4, T, bones): the source's
world rotations come from one pass per tree level, every mapped bone's pose is a product of
constant and per-frame rotations (see :mod:`.plan`), the root's height puts the target's
lowest foot point at the captured height, and its ground path keeps planted feet planted
(:mod:`.planting`; a live link hands each tick the last one's :class:`.planting.RootTrack`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import rotations as rot
from ..core.records import DEFAULT_FPS
from ..core.skeleton import LEVELS, NUM_JOINTS, PARENTS
from .plan import MotionShapeError, RetargetPlan, build_plan
from .planting import RootTrack, planted_path
from .rig import TargetRig

_IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Retargeted:
    """rotations (T, B, 4) x, y, z, w pose-bone rotations in each bone's rest frame (identity for
    unmapped bones); root_location (T, 3) pose-bone location of ``root_bone`` (Blender's, in its
    rest frame); mapped (B,) bool; root_bone the target bone index that carries the location;
    track the root path's last frame (None in place or without feet), for the next live tick."""
    rotations: np.ndarray
    root_location: np.ndarray
    mapped: np.ndarray
    root_bone: int
    track: RootTrack | None = None


def retarget(quats: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray, rig: TargetRig,
             bone_map: dict, in_place: bool = False, frame_rate: float = DEFAULT_FPS) -> Retargeted:
    """SMPL-X local rotations quats (T, 55, 4) x, y, z, w (Y up, the root's in world), the SMPL
    translation trans (T, 3) and the rest joints (55, 3) Y up metres → the target's pose.
    ``in_place`` drops the horizontal translation; frame_rate (frames per second) tells planted
    feet from moving ones."""
    return apply_plan(build_plan(rest_joints, rig, bone_map), quats, trans, in_place, frame_rate=frame_rate)


def _z_up(v: np.ndarray) -> np.ndarray:
    """Y-up → Z-up of component-major vectors (3, ...) or quaternions (4, ...): (x, y, z) → (x, −z, y)."""
    return np.concatenate([v[:1], -v[2:3], v[1:2], v[3:]])


def _global(q: np.ndarray) -> np.ndarray:
    """World rotations of the SMPL-X joints, one product per tree level. (4, T, 55) → (4, T, 55)."""
    g = q.copy()
    for joints, parents in LEVELS:
        g[:, :, joints] = rot.cm_mul(g[:, :, parents], q[:, :, joints])
    return g


def _positions(plan: RetargetPlan, g: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(3, T, 55) Z-up positions of the joints the plan needs (the others stay zero)."""
    pos = np.zeros((3, g.shape[1], NUM_JOINTS))
    turned = rot.cm_rotate(g[:, :, PARENTS[plan.fk_bones]], plan.fk_vectors.T[:, None, :])   # (3, T, U)
    pos[:, :, plan.fk_joints] = (plan.rest_joints[0] + trans).T[:, :, None] + turned @ plan.fk_incidence
    return _z_up(pos)


def _source_deltas(plan: RetargetPlan, q: np.ndarray, gz: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(4, T, M) world rotation (Z up) each mapped bone follows, from the SMPL-X rest."""
    E = gz[:, :, plan.delta_joint]
    spread = np.flatnonzero(plan.fraction < 1.0)
    if len(spread):                        # a share of the joint's local rotation
        local = np.moveaxis(q[:, :, plan.delta_joint[spread]], 0, -1)                   # (T, S, 4)
        share = np.moveaxis(rot.quat_exp(rot.quat_to_rotvec(local) * plan.fraction[spread, None]), -1, 0)
        base = np.where(plan.spread_parent[spread] >= 0, gz[:, :, np.maximum(plan.spread_parent[spread], 0)],
                        _IDENTITY[:, None, None])
        E[:, :, spread] = rot.cm_mul(base, _z_up(share))
    if len(plan.spread_joint):             # spread chains: their chord onto the SMPL-X bone
        now = rot.cm_rotate(E[:, :, plan.spread_bones], plan.spread_offset.T[:, None]) @ plan.spread_incidence
        want = rot.cm_rotate(gz[:, :, plan.spread_joint], plan.spread_total.T[:, None])
        turn = rot.cm_swing(now, want)
        E[:, :, plan.spread_bones] = rot.cm_mul(turn[:, :, plan.spread_group], E[:, :, plan.spread_bones])
    chords = np.flatnonzero(plan.chord[:, 0] >= 0)
    if len(chords):                        # merged: turn the bone onto the chord of its segments
        now = rot.cm_rotate(E[:, :, chords], plan.chord_rest[chords].T[:, None])
        want = pos[:, :, plan.chord[chords, 1]] - pos[:, :, plan.chord[chords, 0]]
        E[:, :, chords] = rot.cm_mul(rot.cm_swing(now, want), E[:, :, chords])
    return E


def _root_location(plan: RetargetPlan, E: np.ndarray, pos: np.ndarray, trans: np.ndarray, in_place: bool,
                   frame_rate: float, track: RootTrack | None) -> tuple[np.ndarray, RootTrack | None]:
    """(T, 3) pose location of the root bone: the source root scaled by the leg-length ratio,
    its height set so the target's lowest foot point is at the (scaled) captured height, its
    ground path keeping planted feet planted (not in place); and the path's last frame."""
    src = pos[:, :, plan.root_joint].T - plan.root_joint_rest
    if in_place:
        src[:, :2] -= _z_up(trans.T).T[:, :2]
    head = plan.root_head + plan.scale * src
    last = None
    if plan.num_foot_points:
        E_ext = np.concatenate([E, np.broadcast_to(_IDENTITY[:, None, None], (4, E.shape[1], 1))], axis=2)
        turned = rot.cm_rotate(E_ext[:, :, plan.foot_entry_bone], plan.foot_entry_vec.T[:, None])  # (3, T, entries)
        feet = turned @ plan.foot_incidence                                             # (3, T, F) from the root head
        source = pos[:, :, plan.foot_joints]
        captured = source[2].min(1) - plan.floor_source
        head[:, 2] = plan.floor_target + plan.scale * captured - feet[2].min(1)
        if not in_place:
            head[:, :2], last = planted_path(head[:, :2], feet[:2], source, plan.foot_rest_height, plan.scale,
                                             frame_rate, track)
    return (head - plan.root_head) @ plan.root_rest_t.T, last


def _continuous(q: np.ndarray, hemisphere: np.ndarray | None) -> np.ndarray:
    """Quaternion signs (4, T, M) chosen so consecutive frames (and the first against
    ``hemisphere`` (M, 4)) lie on the same side: Blender interpolates F-curves component-wise."""
    dots = (q[:, 1:] * q[:, :-1]).sum(0)                                              # (T − 1, M)
    first = (q[:, 0] * hemisphere.T).sum(0) if hemisphere is not None else np.ones(q.shape[2])
    flips = np.concatenate([np.where(first < 0.0, -1.0, 1.0)[None], np.where(dots < 0.0, -1.0, 1.0)])
    return q * np.cumprod(flips, axis=0)


def apply_plan(plan: RetargetPlan, quats: np.ndarray, trans: np.ndarray, in_place: bool = False,
               hemisphere: np.ndarray | None = None, track: RootTrack | None = None,
               frame_rate: float = DEFAULT_FPS) -> Retargeted:
    """The target's pose for frames of SMPL-X motion (see :func:`retarget`) with a prepared plan.
    hemisphere (B, 4) and track: the previous tick's rotations and root path (its ``track``), so a
    live stream keeps its signs and its planted feet."""
    quats, trans = np.asarray(quats, np.float64), np.asarray(trans, np.float64)
    if quats.ndim != 3 or quats.shape[1:] != (NUM_JOINTS, 4) or trans.shape != (len(quats), 3):
        raise MotionShapeError(f"retarget: rotations {quats.shape} and translation {trans.shape}: give "
                               f"(T, {NUM_JOINTS}, 4) x, y, z, w quaternions and (T, 3) metres")
    q = np.moveaxis(quats, -1, 0)                                                       # (4, T, 55)
    g = _global(q)
    pos = _positions(plan, g, trans)
    gz = _z_up(g)
    E = _source_deltas(plan, q, gz, pos)
    E_m = np.where(plan.ancestor >= 0, E[:, :, np.maximum(plan.ancestor, 0)], _IDENTITY[:, None, None])
    Q = rot.cm_mul(rot.cm_mul(plan.left[:, None], rot.cm_conj(E_m)), rot.cm_mul(E, plan.right[:, None]))
    Q = _continuous(Q, None if hemisphere is None else np.asarray(hemisphere)[plan.bones])
    rotations = np.broadcast_to(_IDENTITY, (q.shape[1], plan.num_bones, 4)).copy()
    rotations[:, plan.bones] = rot.quat_normalize(np.moveaxis(Q, 0, -1))   # products drift ~1e-5 off unit length
    location, last = _root_location(plan, E, pos, trans, in_place, frame_rate, track)
    return Retargeted(rotations, location, plan.mapped, int(plan.bones[plan.root]), last)
