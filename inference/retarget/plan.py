"""What is worked out once per (SMPL-X rest, target rig, bone map): the retarget plan.

The retarget matches world directions. A mapped target bone b follows the world rotation E_b(t)
its SMPL-X joint undergoes from the SMPL-X rest, applied to the bone's *aligned* rest
orientation R_b = S_b A_b (A_b its Blender rest rotation, S_b a world swing that points the bone
like the SMPL-X rest bone: an A-pose target is first raised to the T-pose of SMPL-X, bent rest
elbows are straightened). Rolls and bone axes cancel because only deltas are carried. The
pose-bone rotation is then Q_b = K_b E_m(t)ᵀ E_b(t) R_b with m the nearest mapped ancestor of b
and K_b = A_bᵀ A_m R_mᵀ, all constant except the two deltas (unmapped bones in between keep
their rest, so they are rigid on m). See :mod:`.retarget` for the per-frame side.

Bone map (the format the rig profiles use): SMPL-X joint name → target bones in chain order. One
bone: it takes the joint's rotation. Several: the joint's local rotation is spread over them
(length-weighted slerp fractions). The same bone under several joints: merged, it follows the
most distal one with its direction set along the chord of the merged segments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import rotations as rot
from ..core.errors import MocapError
from ..core.skeleton import DEPTH, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, Y_UP_TO_Z_UP, bone_vectors
from .rig import TargetRig


#: Joints with several children whose bone points at one of them; joints not listed point at
#: their only child; None: no bone of its own in SMPL-X (a leaf, or the head whose children are
#: the jaw and eyes): such a joint's target bone keeps the rest alignment of its parent's.
_REFERENCE_OVERRIDES = {"pelvis": "spine1", "spine3": "neck", "left_wrist": "left_middle1",
                        "right_wrist": "right_middle1", "head": None}


def _reference_children() -> np.ndarray:
    """(55,) int the joint each joint's bone points at, −1 when none."""
    out = np.full(NUM_JOINTS, -1, np.int64)
    for j in range(NUM_JOINTS):
        name = JOINT_NAMES[j]
        if name in _REFERENCE_OVERRIDES:
            child = _REFERENCE_OVERRIDES[name]
            out[j] = -1 if child is None else JOINT_INDEX[child]
        else:
            kids = np.flatnonzero(PARENTS == j)
            out[j] = kids[0] if len(kids) == 1 else -1
    return out


#: (55,) the joint each SMPL-X joint's bone points at (−1: none).
REFERENCE_CHILD = _reference_children()
#: The SMPL-X joints whose positions stand for the feet on the floor (where the target maps them).
FOOT_JOINTS = np.array([JOINT_INDEX[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")])
_LEG = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))


class BoneMapError(MocapError):
    """The bone map names joints or bones that do not exist, or maps nothing."""


class MotionShapeError(MocapError):
    """The motion or rest-joint arrays handed to the retarget have the wrong shapes."""


@dataclass(frozen=True)
class RetargetPlan:
    """Everything constant of one retarget (M mapped bones; B bones in the rig).

    Bones: bones (M,) their rig indices; delta_joint (M,) the SMPL-X joint whose world rotation
    each follows; fraction (M,) its share of that joint's local rotation (< 1 inside a spread
    chain) counted from spread_parent (M,) (−1: the world); ancestor (M,) the position in
    ``bones`` of the nearest mapped ancestor (−1: none); left / right (4, M) the constant
    quaternions K_b and R_b (component-major).
    Spread chains (N bones, G chains): spread_bones (N,) positions in ``bones``, spread_group
    (N,) and spread_incidence (N, G) their chain, spread_offset (N, 3) head → next head in the
    aligned rest; spread_joint (G,) and spread_total (G, 3) the chain's joint and aligned chord.
    Merged bones: chord (M, 2) the SMPL-X joints their chord runs between (−1: none) and
    chord_rest (M, 3) its rest direction (Z up).
    Source positions: fk_joints (K,) the joints needed (root, feet, chords), as sums over
    fk_bones (U,) of rest bone vectors fk_vectors (U, 3) turned by the parent, fk_incidence (U, K).
    Root: root (position in ``bones``), root_joint, root_head (3,), root_rest_t (3, 3) A_rᵀ,
    root_joint_rest (3,) (Z up); scale the target / SMPL-X leg length.
    Feet: the target's foot points (heads of the bones of foot_joints (F,)) relative to the
    root's head as sums of entries E_m · foot_entry_vec over foot_entry_bone (mapped bone of each
    entry), foot_incidence (entries, F); floor_target / floor_source the lowest foot point in
    each skeleton's own rest; foot_rest_height (F,) the source's foot points above floor_source in
    its rest (where each stands when planted: :mod:`.planting`).
    """
    num_bones: int
    bones: np.ndarray
    delta_joint: np.ndarray
    spread_parent: np.ndarray
    fraction: np.ndarray
    chord: np.ndarray
    chord_rest: np.ndarray
    spread_bones: np.ndarray
    spread_offset: np.ndarray
    spread_incidence: np.ndarray
    spread_group: np.ndarray
    spread_joint: np.ndarray
    spread_total: np.ndarray
    ancestor: np.ndarray
    left: np.ndarray
    right: np.ndarray
    fk_joints: np.ndarray
    fk_bones: np.ndarray
    fk_vectors: np.ndarray
    fk_incidence: np.ndarray
    root: int
    root_joint: int
    root_head: np.ndarray
    root_rest_t: np.ndarray
    root_joint_rest: np.ndarray
    scale: float
    foot_entry_bone: np.ndarray
    foot_entry_vec: np.ndarray
    foot_incidence: np.ndarray
    num_foot_points: int
    foot_joints: np.ndarray
    floor_target: float
    floor_source: float
    foot_rest_height: np.ndarray
    rest_joints: np.ndarray

    @property
    def mapped(self) -> np.ndarray:
        """(B,) bool."""
        out = np.zeros(self.num_bones, bool)
        out[self.bones] = True
        return out


def _chains(bone_map: dict, rig: TargetRig) -> dict[int, list[int]]:
    """SMPL-X joint → target bone indices, checked. Raises :class:`BoneMapError`."""
    index = rig.index
    bad_joints = sorted(set(bone_map) - set(JOINT_NAMES))
    if bad_joints:
        raise BoneMapError(f"bone map: {', '.join(bad_joints)} are not SMPL-X joints: use the names of "
                           "inference.core.skeleton.JOINT_NAMES")
    missing = sorted({b for bones in bone_map.values() for b in (bones or ()) if b not in index})
    if missing:
        raise BoneMapError(f"bone map names bones the armature lacks: {', '.join(missing[:8])}"
                           f"{' …' if len(missing) > 8 else ''}: fix the map or pick the right armature")
    chains = {JOINT_INDEX[j]: [index[b] for b in bones] for j, bones in bone_map.items() if bones}
    if not chains:
        raise BoneMapError("bone map maps no bone: pick a profile that fits the armature or map the bones")
    return chains


def _lengths(rig: TargetRig) -> np.ndarray:
    """(B,) bone lengths: the rig's own, else the distance to the first child's head (a leaf takes
    its parent's)."""
    if rig.lengths is not None:
        return np.asarray(rig.lengths, np.float64)
    heads = rig.heads
    out = np.zeros(len(rig.names))
    for b in range(len(rig.names)):
        kids = np.flatnonzero(rig.parents == b)
        out[b] = np.linalg.norm(heads[kids[0]] - heads[b]) if len(kids) else 0.0
    for b in range(len(rig.names)):
        if out[b] < 1e-6:
            p = rig.parents[b]
            out[b] = out[p] if p >= 0 and out[p] > 1e-6 else 0.05
    return out


def _ancestors(rig: TargetRig, b: int):
    p = rig.parents[b]
    while p >= 0:
        yield p
        p = rig.parents[p]


def build_plan(rest_joints: np.ndarray, rig: TargetRig, bone_map: dict) -> RetargetPlan:
    """The plan for SMPL-X rest joints (55, 3) Y up metres onto ``rig`` with ``bone_map``."""
    if np.shape(rest_joints) != (NUM_JOINTS, 3):
        raise MotionShapeError(f"retarget: rest joints {np.shape(rest_joints)}: give the ({NUM_JOINTS}, 3) "
                               "SMPL-X rest joints in metres, Y up")
    chains = _chains(bone_map, rig)
    rest_z = np.asarray(rest_joints, np.float64) @ Y_UP_TO_Z_UP.T                 # (55, 3) Z up
    A = rig.rest[:, :3, :3]
    heads = rig.heads
    lengths = _lengths(rig)
    tails = heads + A[:, :, 1] * lengths[:, None]

    owners: dict[int, list[int]] = {}
    for j, chain in chains.items():
        for b in chain:
            owners.setdefault(b, []).append(j)

    # the root-most mapped bone carries the root motion and keeps its rest (no alignment): rigs
    # disagree on where a hips bone points (up, forward, along the lumbar), not on standing upright
    first_joint = {b: min(js, key=lambda q: DEPTH[q]) for b, js in owners.items()}
    tops = [b for b in owners if not any(a in owners for a in _ancestors(rig, b))]
    root_bone = min(tops, key=lambda b: (DEPTH[first_joint[b]], b))

    ends = {j: heads[chains[REFERENCE_CHILD[j]][0]] if REFERENCE_CHILD[j] in chains else tails[chain[-1]]
            for j, chain in chains.items()}
    swing = _rest_swings(chains, owners, root_bone, heads, ends, rest_z)
    rows, spread = _bone_rows(chains, owners, swing, heads, ends)
    bones, delta_joint, spread_parent, fraction, chord, group, group_offset = rows
    group_joint, group_total = spread
    bones = np.array(bones, np.int64)
    delta_joint = np.array(delta_joint, np.int64)
    spread_parent = np.array(spread_parent, np.int64)
    fraction = np.array(fraction)
    chord = np.array(chord, np.int64)
    chord_rest = np.zeros((len(bones), 3))
    has_chord = (chord >= 0).all(1)
    chord_rest[has_chord] = rot.normalize(rest_z[chord[has_chord, 1]] - rest_z[chord[has_chord, 0]])

    group = np.array(group, np.int64)
    in_group = np.flatnonzero(group >= 0)
    slot = {int(b): i for i, b in enumerate(bones)}
    R = np.stack([swing[int(b)] @ A[b] for b in bones])
    ancestor = np.array([next((slot[a] for a in _ancestors(rig, int(b)) if a in slot), -1) for b in bones],
                        np.int64)
    left = np.empty_like(R)
    for i, b in enumerate(bones):
        m = ancestor[i]
        left[i] = A[b].T if m < 0 else A[b].T @ A[bones[m]] @ R[m].T

    root = slot[root_bone]
    root_joint = int(first_joint[root_bone])

    scale = _leg_scale(chains, heads, rest_z)
    entry_bone, entry_vec, entry_point, foot_joints = _foot_points(rig, chains, bones, slot, R, A, heads, root)
    num_points = len(foot_joints)
    # the target's floor is where its feet stand in its own rest (not in the aligned rest, where
    # legs re-aimed like the SMPL-X ones may lift a foot a little)
    floor_target = float(min(heads[chains[j][0], 2] for j in foot_joints)) if num_points else 0.0
    fk_joints = np.unique(np.concatenate([[root_joint], foot_joints, chord[has_chord].ravel()]))
    fk_joints = fk_joints.astype(np.int64)
    fk_bones, fk_incidence = _fk_paths(fk_joints)
    return RetargetPlan(
        num_bones=len(rig.names), bones=bones, delta_joint=delta_joint, spread_parent=spread_parent,
        fraction=fraction, chord=chord, chord_rest=chord_rest, ancestor=ancestor,
        left=rot.to_quat(left).T.copy(), right=rot.to_quat(R).T.copy(),
        fk_joints=fk_joints, fk_bones=fk_bones, fk_vectors=bone_vectors(rest_joints)[fk_bones],
        fk_incidence=fk_incidence, spread_bones=in_group,
        spread_offset=np.array(group_offset).reshape(-1, 3)[in_group],
        spread_incidence=np.eye(len(group_joint))[group[in_group]], spread_group=group[in_group],
        spread_joint=np.array(group_joint, np.int64), spread_total=np.array(group_total).reshape(-1, 3),
        root=root, root_joint=root_joint, root_head=heads[bones[root]].copy(),
        root_rest_t=A[bones[root]].T.copy(), root_joint_rest=rest_z[root_joint].copy(), scale=scale,
        foot_entry_bone=entry_bone, foot_entry_vec=entry_vec, foot_incidence=np.eye(num_points)[entry_point],
        num_foot_points=num_points, foot_joints=foot_joints, floor_target=floor_target,
        floor_source=float(rest_z[foot_joints, 2].min()) if num_points else 0.0,
        foot_rest_height=rest_z[foot_joints, 2] - (rest_z[foot_joints, 2].min() if num_points else 0.0),
        rest_joints=np.asarray(rest_joints, np.float64).copy())


def _rest_swings(chains, owners, root_bone, heads, ends, rest_z) -> dict[int, np.ndarray]:
    """Rest alignment: target bone → the world swing (3, 3) that points its segment (its chain's
    first head → ``ends[j]``, where the next joint's bones start) like the SMPL-X rest bone.
    Joints go parents first, so a joint without a SMPL-X bone of its own (head, fingertips, toes)
    inherits its parent's swing; the root-most bone keeps its rest; a merged bone ends with the
    swing of its most distal joint, measured from its first joint."""
    swing: dict[int, np.ndarray] = {}
    joint_swing = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    for j in np.argsort(DEPTH, kind="stable"):
        p = PARENTS[j]
        S = joint_swing[p] if p >= 0 else np.eye(3)
        if j in chains and REFERENCE_CHILD[j] >= 0:
            chain = chains[j]
            j0 = min(owners[chain[0]], key=lambda q: DEPTH[q])
            S = np.eye(3) if root_bone in chain else rot.swing(ends[j] - heads[chain[0]],
                                                               rest_z[REFERENCE_CHILD[j]] - rest_z[j0])
        joint_swing[j] = S
        for b in chains.get(j, ()):
            swing[b] = S
    return swing


def _bone_rows(chains, owners, swing, heads, ends):
    """Per mapped bone, in SMPL-X depth order: (bones, delta joint, spread parent, fraction, merged
    chord joints, spread chain, offset in it) as lists, and per spread chain (joint, aligned
    chord). A merged bone follows its most distal joint with the chord from its first; a chain of
    several bones shares its joint's local rotation by length-weighted fractions."""
    rows: tuple[list, ...] = ([], [], [], [], [], [], [])
    bones, delta_joint, spread_parent, fraction, chord, group, group_offset = rows
    group_joint, group_total = [], []
    for j, chain in sorted(chains.items(), key=lambda jc: DEPTH[jc[0]]):
        pts = np.array([heads[b] for b in chain] + [ends[j]])
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=-1)
        cum = np.cumsum(seg) / max(seg.sum(), 1e-9) if len(chain) > 1 else np.ones(1)
        grouped = len(chain) > 1 and REFERENCE_CHILD[j] >= 0 and all(len(owners[b]) == 1 for b in chain)
        if grouped:                           # a spread chain's chord is turned onto the SMPL-X bone
            group_joint.append(j)
            group_total.append(swing[chain[0]] @ (pts[-1] - pts[0]))
        for k, b in enumerate(chain):
            js = owners[b]
            if b in bones or (len(js) > 1 and j != max(js, key=lambda q: DEPTH[q])):
                continue                      # a merged bone is placed with its most distal joint
            bones.append(b)
            delta_joint.append(j)
            if len(js) > 1:
                spread_parent.append(-1)
                fraction.append(1.0)
                chord.append((min(js, key=lambda q: DEPTH[q]), REFERENCE_CHILD[j]))
            else:
                spread_parent.append(PARENTS[j] if k < len(chain) - 1 else -1)
                fraction.append(float(cum[k]))
                chord.append((-1, -1))
            group.append(len(group_joint) - 1 if grouped else -1)
            group_offset.append(swing[b] @ (pts[k + 1] - pts[k]) if grouped else np.zeros(3))
    return rows, (group_joint, group_total)


def _fk_paths(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The SMPL-X bones (joints ≥ 1, each rotated by its parent) on the root → joint paths of
    ``joints`` (K,): (U,) bones and the (U, K) 0 / 1 matrix of which path each lies on."""
    paths = []
    for j in joints:
        path, a = [], int(j)
        while a > 0:
            path.append(a)
            a = int(PARENTS[a])
        paths.append(path)
    bones = np.array(sorted({a for p in paths for a in p}), np.int64)
    incidence = np.array([[float(b in p) for p in paths] for b in bones]).reshape(len(bones), len(joints))
    return bones, incidence


def _leg_scale(chains: dict[int, list[int]], heads: np.ndarray, rest_z: np.ndarray) -> float:
    """Target hip → knee → ankle length over the SMPL-X one (mean of the mapped sides; 1 when no
    leg is mapped)."""
    ratios = []
    for side in _LEG:
        js = [JOINT_INDEX[n] for n in side]
        if all(j in chains for j in js):
            t = [heads[chains[j][0]] for j in js]
            s = [rest_z[j] for j in js]
            tl = np.linalg.norm(t[1] - t[0]) + np.linalg.norm(t[2] - t[1])
            sl = np.linalg.norm(s[1] - s[0]) + np.linalg.norm(s[2] - s[1])
            ratios.append(tl / max(sl, 1e-9))
    return float(np.mean(ratios)) if ratios else 1.0


def _foot_points(rig, chains, bones, slot, R, A, heads, root):
    """The target's foot points, the heads of the bones mapped to the SMPL-X ankle and foot joints
    (so both sides measure the same joints), relative to the root bone's head as sums over the
    bones on the path from the root: point(t) − root head(t) = Σ_entries E_m(u)(t) (G_u v) with
    G_u v the constant offset to the next head in u's aligned rest. Returns the entries' mapped
    bone (position in ``bones``), their vectors (P, 3), the point of each entry and the SMPL-X
    joint of each point."""
    root_bone = int(bones[root])
    entry_bone, entry_vec, entry_point, joints = [], [], [], []
    for j in FOOT_JOINTS:
        if j not in chains:
            continue
        b = chains[j][0]
        path = [b] + list(_ancestors(rig, b))
        if root_bone not in path:
            continue                           # a foot not under the root bone cannot be placed
        path = path[:path.index(root_bone) + 1][::-1]                  # root … b
        for u, nxt in zip(path[:-1], path[1:]):
            m = next(a for a in [u] + list(_ancestors(rig, u)) if a in slot)
            entry_bone.append(slot[m])
            entry_vec.append(R[slot[m]] @ A[m].T @ (heads[nxt] - heads[u]))   # rigid on m
            entry_point.append(len(joints))
        joints.append(int(j))
    return (np.array(entry_bone, np.int64), np.array(entry_vec).reshape(-1, 3),
            np.array(entry_point, np.int64), np.array(joints, np.int64))
