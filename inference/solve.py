"""Keypoints → SMPL-X skeleton pose: an analytic, root-first kinematic solver (HKMR order).

Everything here works in the camera frame (x right, y down, z away from the camera, metres) and
is vectorised over frames ``T``; the live link calls the same functions with ``T = 1``.

Order of the solve (each joint conditioned on its already-solved parent, Zhou'21 IKNet-style):

1. pelvis from the hip line and the trunk's up direction; chest (spine3) from the shoulder line;
   the pelvis→chest rotation is shared by spine1/2/3 (:data:`SPINE_SHARE`);
2. collars aim at the shoulders, neck aims at the head, head orientation is a rigid fit of the face
   points (nose, eyes, ears, mouth);
3. limbs: upper arm / thigh from the bend plane (elbow/knee offset from the shoulder-wrist /
   hip-ankle line, with a smooth fallback when the limb is straight), forearm / shin aim, forearm
   twist shared half-and-half with the wrist, whose frame comes from the hand landmarks;
   ankles from heel, toe and ankle;
4. fingers: each phalanx aims at the next hand landmark from its parent's frame (no added twist);
5. joint limits: per-joint maximum angles (anatomical maxima that real mocap respects) and no
   gross knee hyperextension; elbows cannot bend backwards by construction.

The batch path then refines this pose by a joint least-squares fit of all landmarks
(:mod:`inference.refine`).

Positions follow from forward kinematics with fixed bone lengths, so limbs never stretch.

Speed (the live path calls this per frame at ``T = 1``, where numpy's per-call overhead, not
arithmetic, is the cost): left and right sides, arms and legs are solved in the same batched calls;
rest-dependent constants (unit bones, rest frames, the torso parameter map) are computed once per
:class:`Subject` (``Subject.rig``); the rotation maths is closed-form numpy (``rotations``); the
torso fit's Jacobian probes run as one batch and it can be warm-started; forward kinematics is one
matrix product and re-chaining goes by tree level; joint limits are checked on traces first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import rotations as rot
from .layout import HAND, HAND_FINGER_START, LANDMARK_JOINT, POSE, landmark_offsets
from .skeleton import FINGERS, JOINT_INDEX, NUM_JOINTS, PARENTS, bone_vectors

J = JOINT_INDEX
_LR = ("left", "right")


def _pair(name: str) -> np.ndarray:
    return np.array([J[f"left_{name}"], J[f"right_{name}"]])


def _lm_pair(name: str) -> np.ndarray:
    return np.array([POSE[f"left_{name}"], POSE[f"right_{name}"]])


HIP, KNEE, ANKLE, FOOT = _pair("hip"), _pair("knee"), _pair("ankle"), _pair("foot")
COLLAR, SHOULDER, ELBOW, WRIST = _pair("collar"), _pair("shoulder"), _pair("elbow"), _pair("wrist")
LM_SHOULDER, LM_ELBOW, LM_WRIST = _lm_pair("shoulder"), _lm_pair("elbow"), _lm_pair("wrist")
LM_HIP, LM_KNEE, LM_ANKLE = _lm_pair("hip"), _lm_pair("knee"), _lm_pair("ankle")
LM_HEEL, LM_TOE = _lm_pair("heel"), _lm_pair("foot_index")
LM_PINKY, LM_INDEX = _lm_pair("pinky"), _lm_pair("index")
LM_FACE = np.arange(11)  # nose, eyes, ears, mouth corners of the pose model
HAND_BASE = np.array([33, 54])  # where each hand's 21 landmarks start in the 75-landmark block

#: (2, 5, 3) finger joints per side in SMPL-X finger order (index, middle, pinky, ring, thumb).
FINGER_JOINTS = np.array([[[J[f"{s}_{f}{k}"] for k in (1, 2, 3)] for f in FINGERS] for s in _LR])
#: (5, 4) MediaPipe hand landmark of each finger joint and the tip, same finger order.
FINGER_LMS = np.array([[HAND_FINGER_START[f] + k for k in range(4)] for f in FINGERS])
#: (6,) hand landmarks rigid with the wrist (wrist, thumb CMC, index/middle/ring/pinky MCP) and the
#: (2, 6) joints they sit on.
PALM_LMS = np.array([HAND["wrist"], HAND["thumb_cmc"], HAND["index_mcp"], HAND["middle_mcp"], HAND["ring_mcp"],
                     HAND["pinky_mcp"]])
PALM_JOINTS = np.array([[J[f"{s}_wrist"]] + [J[f"{s}_{f}1"] for f in ("thumb", "index", "middle", "ring", "pinky")]
                        for s in _LR])

_Z = np.array([0.0, 0.0, 1.0])
LEG_VISIBLE = 0.5  # knee and ankle visibility below this: the leg hangs straight
KNEE_HYPEREXTENSION = 0.25  # radians a knee may bend backwards (about -X) before the limit holds it

#: (55,) maximum local rotation angle in radians (joint limits).
MAX_ANGLE = np.full(NUM_JOINTS, 1.9)
MAX_ANGLE[[0]] = np.pi
MAX_ANGLE[[J["spine1"], J["spine2"], J["spine3"]]] = 1.0
MAX_ANGLE[[J["neck"]]] = 1.1
MAX_ANGLE[[J["head"]]] = 1.0
MAX_ANGLE[COLLAR] = 1.1
MAX_ANGLE[SHOULDER] = np.pi
MAX_ANGLE[ELBOW] = 2.7
MAX_ANGLE[WRIST] = 2.4
MAX_ANGLE[HIP] = 2.6
MAX_ANGLE[KNEE] = 2.6
MAX_ANGLE[ANKLE] = 1.5
MAX_ANGLE[FOOT] = 0.8
MAX_ANGLE[[J["jaw"]]] = 0.6
MAX_ANGLE[[J["left_eye_smplhf"], J["right_eye_smplhf"]]] = 0.6


def legs_seen(W: np.ndarray) -> np.ndarray:
    """(T, 2) bool, left and right: knee and ankle both seen at least LEG_VISIBLE (W (T, 75)
    confidences); a leg that is not hangs straight from the pelvis."""
    return np.minimum(W[:, _S_KNEE], W[:, _S_ANKLE]) >= LEG_VISIBLE


def _lm_slice(pair: np.ndarray) -> slice:
    """The left/right landmark pair as a slice (a view, cheaper than indexing with the pair)."""
    assert pair[1] == pair[0] + 1
    return slice(int(pair[0]), int(pair[1]) + 1)


_S_SHOULDER, _S_ELBOW, _S_WRIST = _lm_slice(LM_SHOULDER), _lm_slice(LM_ELBOW), _lm_slice(LM_WRIST)
_S_KNEE, _S_ANKLE, _S_HEEL, _S_TOE = _lm_slice(LM_KNEE), _lm_slice(LM_ANKLE), _lm_slice(LM_HEEL), _lm_slice(LM_TOE)
_S_INDEX, _S_PINKY = _lm_slice(LM_INDEX), _lm_slice(LM_PINKY)
_S_FACE = slice(0, len(LM_FACE))
assert (LM_FACE == np.arange(len(LM_FACE))).all()

#: (4, 2) the leg chains, hip → foot, left and right.
LEGS = np.stack([HIP, KNEE, ANKLE, FOOT])
SPINE = np.array([J["spine1"], J["spine2"], J["spine3"]])
NECK, HEAD = J["neck"], J["head"]
_BACK = np.array([0.0, 0.0, -1.0])  # the elbow points backwards when the forearm bends forward

#: Joint order in which :func:`solve_skeleton` produces its blocks of rotations (pelvis, spine,
#: collars, neck, head + jaw + eyes, shoulders, elbows, wrists, finger joints 1, 2, 3, legs), and the
#: permutation back to the SMPL-X order.
_BLOCK_ORDER = np.concatenate([
    [0], SPINE, COLLAR, [NECK, HEAD, J["jaw"], J["left_eye_smplhf"], J["right_eye_smplhf"]],
    SHOULDER, ELBOW, WRIST, FINGER_JOINTS[:, :, 0].ravel(), FINGER_JOINTS[:, :, 1].ravel(),
    FINGER_JOINTS[:, :, 2].ravel(), LEGS.ravel()])
_FROM_BLOCKS = np.argsort(_BLOCK_ORDER)
assert len(_BLOCK_ORDER) == NUM_JOINTS and (np.sort(_BLOCK_ORDER) == np.arange(NUM_JOINTS)).all()

def _frame_target_map() -> np.ndarray:
    """(16, 75): ``map @ Q`` gives the two vectors each target frame is built from (rows 0..7 the
    first, 8..15 the second): pelvis (hip line, trunk axis), chest (shoulder line, trunk axis),
    hands from their landmarks (wrist → middle knuckle, pinky → index knuckle), hands from the pose
    model's knuckles, feet (heel → toe, heel → ankle); left then right."""
    M = np.zeros((16, 75))
    trunk = {POSE["left_shoulder"]: 0.5, POSE["right_shoulder"]: 0.5, POSE["left_hip"]: -0.5, POSE["right_hip"]: -0.5}
    rows = [({LM_HIP[0]: 1.0, LM_HIP[1]: -1.0}, trunk), ({LM_SHOULDER[0]: 1.0, LM_SHOULDER[1]: -1.0}, trunk)]
    for side in range(2):
        h = HAND_BASE[side]
        rows.append(({h + HAND["middle_mcp"]: 1.0, h + HAND["wrist"]: -1.0},
                     {h + HAND["index_mcp"]: 1.0, h + HAND["pinky_mcp"]: -1.0}))
    for side in range(2):
        rows.append(({LM_INDEX[side]: 0.5, LM_PINKY[side]: 0.5, LM_WRIST[side]: -1.0},
                     {LM_INDEX[side]: 1.0, LM_PINKY[side]: -1.0}))
    for side in range(2):
        rows.append(({LM_TOE[side]: 1.0, LM_HEEL[side]: -1.0}, {LM_ANKLE[side]: 1.0, LM_HEEL[side]: -1.0}))
    for r, (a, b) in enumerate(rows):
        for k, v in a.items():
            M[r, k] += v
        for k, v in b.items():
            M[8 + r, k] += v
    return M


_FRAME_TARGETS = _frame_target_map()


# Forward kinematics and chaining by tree level (10 steps instead of 55 per-joint steps).
_DEPTH = np.zeros(NUM_JOINTS, np.int64)
for _j in range(1, NUM_JOINTS):
    _DEPTH[_j] = _DEPTH[PARENTS[_j]] + 1
#: per tree level ≥ 1: (joints, their parents)
LEVELS = tuple((np.flatnonzero(_DEPTH == d), PARENTS[_DEPTH == d]) for d in range(1, _DEPTH.max() + 1))
#: (55, 54) ANCESTORS[j, b - 1] = 1 when bone b (joint b ≥ 1 from its parent) lies on the root → j path.
ANCESTORS = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
for _j in range(1, NUM_JOINTS):
    _a = _j
    while _a > 0:
        ANCESTORS[_j, _a - 1] = 1.0
        _a = PARENTS[_a]


def chain_local(local: np.ndarray) -> np.ndarray:
    """Local → global rotations, root first, one step per tree level. (T, 55, 3, 3) → (T, 55, 3, 3)."""
    glob = local.copy()
    for joints, parents in LEVELS:
        glob[:, joints] = glob[:, parents] @ local[:, joints]
    return glob


def fk_positions(G: np.ndarray, bones: np.ndarray, root_pos: np.ndarray) -> np.ndarray:
    """Joint positions: root + the sum of the rotated bones along each joint's path.

    G (T, 55, 3, 3) global rotations; bones (55, 3) rest bone vectors; root_pos (T, 3).
    Returns (T, 55, 3) (same as :func:`inference.skeleton.forward_kinematics`).
    """
    rotated = rot.mv(G[:, PARENTS[1:]], bones[1:])             # (T, 54, 3)
    return root_pos[:, None] + ANCESTORS @ rotated


def _rv_map(collar_basis: np.ndarray) -> np.ndarray:
    """(8, 9): torso parameters (tilt, spine rotation vector, collar swings) → the spine's and the
    left and right collars' rotation vectors, flattened. collar_basis (2, 2, 3)."""
    M = np.zeros((8, 3, 3))
    M[1:4, 0] = np.eye(3)
    for side in range(2):
        M[4 + 2 * side: 6 + 2 * side, 1 + side] = collar_basis[side]
    return M.reshape(8, 9)


@dataclass
class Rig:
    """Rest-dependent constants of the solve, computed once per :class:`Subject` (float64, rest
    axes). ``*_frame_t`` are transposed rest frames for :func:`rot.align_to_frame`; rows of
    stacked constants follow the order the solver stacks its targets in."""

    bones: np.ndarray            # (55, 3) bone vectors
    pelvis_off: np.ndarray       # (3,) hip centre - pelvis
    spine_sum: np.ndarray        # (3, 3) spine1 bone - pelvis_off, spine2 bone, spine3 bone
    target_frame_t: np.ndarray   # (8, 3, 3) pelvis, chest, hands (2), pose-model hands (2), feet (2): the
    #                              rest frames of the vectors _FRAME_TARGETS picks
    rv_map: np.ndarray           # (8, 9) torso parameters → spine, left and right collar rotation vectors
    collar_fwd_sign: np.ndarray  # (2,) sign of each collar's second swing parameter for a forward swing
    torso_vectors: np.ndarray    # (3, 3) collar bones (2) and neck + half head, in spine3's frame
    spine3_children: np.ndarray  # (3, 3) collar bones (2) and neck bone
    hip_bones: np.ndarray        # (2, 3)
    face_offsets: np.ndarray     # (11, 3) face points on the head
    aim1_dirs: np.ndarray        # (5, 3) unit shoulder bones (2), head bone, knee bones (2)
    elbow_dirs: np.ndarray       # (2, 3) unit elbow bones
    limb_bones: np.ndarray       # (4, 3) elbow bones (2), knee bones (2)
    limb_frame_t: np.ndarray     # (4, 3, 3) upper arm (elbow bone + backwards), thigh (knee bone + forward)
    lower_bones: np.ndarray      # (4, 3) wrist bones (2), ankle bones (2)
    lower_dirs: np.ndarray       # (4, 3) the same, unit
    twist_axes: np.ndarray       # (3, 3) unit head bone, unit wrist bones (2)
    finger_bones: np.ndarray     # (3, 2, 5, 3) bone of finger joint k (from its parent)
    finger_child: np.ndarray     # (3, 2, 5, 3) unit bone of the child of finger joint k (tip offset last)
    palm_offsets: np.ndarray     # (2, 6, 3) the PALM_LMS landmarks' rest offsets from their wrist

    @classmethod
    def from_rest(cls, rest: np.ndarray, off: np.ndarray) -> "Rig":
        B = bone_vectors(rest)
        up_rest = rest[SHOULDER].mean(0) - rest[HIP].mean(0)
        frame_t = lambda a, b: rot.transpose(rot.frame_from(*np.broadcast_arrays(a, b)))  # noqa: E731
        pelvis_off = rest[HIP].mean(0) - rest[0]
        cb = rot.normalize(B[SHOULDER])                                  # (2, 3) collar bone dirs
        e1 = rot.normalize(rot.cross(cb, np.array([0.0, 1.0, 0.0])))
        f1 = FINGER_JOINTS[:, :, 0]                                       # (2, 5)
        vb = rest[f1[:, 0]] - rest[f1[:, 2]]                              # pinky → index knuckle
        tip_off = off[HAND_BASE[:, None] + FINGER_LMS[None, :, 3]]       # (2, 5, 3)
        heel_rest = rest[ANKLE] + off[LM_HEEL]
        return cls(
            bones=B, pelvis_off=pelvis_off,
            spine_sum=np.stack([B[SPINE[0]] - pelvis_off, B[SPINE[1]], B[SPINE[2]]]),
            target_frame_t=np.concatenate([
                frame_t(np.stack([rest[HIP[0]] - rest[HIP[1]], rest[SHOULDER[0]] - rest[SHOULDER[1]]]), up_rest),
                frame_t(rest[f1[:, 1]] - rest[WRIST], vb),
                frame_t(0.5 * (rest[f1[:, 0]] + rest[f1[:, 2]]) - rest[WRIST], vb),
                frame_t(rest[FOOT] + off[LM_TOE] - heel_rest, rest[ANKLE] - heel_rest)]),
            rv_map=_rv_map(np.stack([e1, rot.cross(cb, e1)], axis=1)),    # collar swing axes
            collar_fwd_sign=np.sign(rot.dot(rot.cross(cb, _Z), rot.cross(cb, e1))[:, 0]),
            torso_vectors=np.concatenate([B[COLLAR], (B[NECK] + 0.5 * B[HEAD])[None]]),
            spine3_children=np.concatenate([B[COLLAR], B[NECK][None]]), hip_bones=B[HIP],
            face_offsets=off[LM_FACE],
            aim1_dirs=rot.normalize(np.concatenate([B[SHOULDER], B[HEAD][None], B[KNEE]])),
            elbow_dirs=rot.normalize(B[ELBOW]),
            limb_bones=np.concatenate([B[ELBOW], B[KNEE]]),
            limb_frame_t=np.concatenate([frame_t(B[ELBOW], _BACK), frame_t(B[KNEE], _Z)]),
            lower_bones=np.concatenate([B[WRIST], B[ANKLE]]),
            lower_dirs=rot.normalize(np.concatenate([B[WRIST], B[ANKLE]])),
            twist_axes=rot.normalize(np.concatenate([B[HEAD][None], B[WRIST]])),
            finger_bones=np.stack([B[FINGER_JOINTS[:, :, k]] for k in range(3)]),
            finger_child=rot.normalize(np.stack([B[FINGER_JOINTS[:, :, 1]], B[FINGER_JOINTS[:, :, 2]], tip_off])),
            palm_offsets=rest[PALM_JOINTS] - rest[WRIST][:, None],
        )


@dataclass
class Subject:
    """The rest skeleton the solver poses. rest: (55, 3) metres; offsets: (75, 3) landmark offsets.
    ``rig`` holds the rest-dependent constants of the solve (derived, not an argument)."""

    rest: np.ndarray
    offsets: np.ndarray
    betas: np.ndarray | None = None
    rig: Rig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rest = np.asarray(self.rest, np.float64)
        self.offsets = np.asarray(self.offsets, np.float64)
        self.rig = Rig.from_rest(self.rest, self.offsets)

    @classmethod
    def from_rest(cls, rest: np.ndarray, betas: np.ndarray | None = None) -> "Subject":
        rest = np.asarray(rest, np.float64)
        return cls(rest=rest, offsets=landmark_offsets(rest), betas=betas)

    @property
    def bones(self) -> np.ndarray:
        """(55, 3) rest bone vectors from each joint's parent."""
        return self.rig.bones


@dataclass
class SkeletonPose:
    """A solved pose in the camera frame. G: (T, 55, 3, 3) global rotations; joints: (T, 55, 3);
    torso: (T, 8) the torso fit's parameters (to warm-start another fit), if solved."""

    G: np.ndarray
    joints: np.ndarray
    torso: np.ndarray | None = None


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.minimum(np.maximum((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _perp(v: np.ndarray, axis_unit: np.ndarray) -> np.ndarray:
    return v - rot.dot(v, axis_unit) * axis_unit


def _norm(v: np.ndarray) -> np.ndarray:
    """(..., 3) → (..., 1) lengths."""
    return np.sqrt(rot.dot(v, v))


def _bend_secondary(base: np.ndarray, mid: np.ndarray, end: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Direction from the base→end line towards the middle joint (the limb's bend), blended into
    ``fallback`` as the limb straightens. All (..., 3) → (..., 3) unit."""
    w1 = mid - base
    axis = rot.normalize(end - base)
    e = _perp(w1, axis)
    e_len = _norm(e)
    wgt = _smoothstep(e_len / np.maximum(_norm(w1), 1e-9), 0.04, 0.2)
    # A slight bend against the fallback is taken for noise on a nearly straight limb (no flip); a
    # clear bend (over ~30°: perpendicular part over half the upper bone) is believed as seen.
    wgt = np.where((rot.dot(e, fallback) < -0.5 * e_len) & (e_len < 0.5 * _norm(w1)), 0.0, wgt)
    return rot.normalize(wgt * (e / np.maximum(e_len, rot.EPS)) + (1.0 - wgt) * fallback)


# Torso fit weights (metres of shoulder error traded per radian of rotation).
#: How the pelvis→chest bend is shared by spine1/2/3 (sums to 3): 50 / 30 / 20 %, lumbar first, as in
#: the range of motion of the lumbar vs. thoracic spine (and in AMASS: mean local rotation 0.43 / 0.26 /
#: 0.18 rad on the sample sequence). Equal shares measured 12.0 mm on the AMASS round trip, this 10.0.
SPINE_SHARE = np.array([1.5, 0.9, 0.6])
_W_COLLAR = 0.06   # collars prefer the scapulohumeral rhythm's position (:func:`collar_rhythm`)
COLLAR_PROTRACTION = 0.35  # radians of collar protraction with an arm straight forward
_W_CHEST = 0.1     # chest prefers the frame of the shoulder line and trunk axis (also conditions the fit)
_W_TILT = 0.02     # pelvis tilt prefers the trunk axis
_W_HEAD = 1.0      # the head must be reachable through a neck bent halfway
#: Gauss-Newton iterations of the torso fit: at most TORSO_ITERS_* from scratch (cold) or from a
#: warm start (the previous frame's solution, live path), stopping once every parameter's step is
#: below TORSO_*_TOL radians. Cold fits run to convergence so that the batch result does not depend
#: on where the fit started (the live path, starting elsewhere, then lands on the same solution).
TORSO_ITERS_COLD, TORSO_COLD_TOL = 20, 1e-6
TORSO_ITERS_WARM, TORSO_WARM_TOL = 10, 1e-2   # at 0.1 rad (when the live solve was numpy and every
#                                               iteration counted) live and batch were 5.7 mm apart
#                                               (p90, Megamind), now 1.2 mm
#: The box the torso parameters stay in (tilt, spine rotation vector per component, collars): on
#: garbage detections the fit would otherwise run off to hundreds of radians, and a live frame
#: warm-starts from the last one's fit. (Limiting the step length instead slowed the warm fits.)
TORSO_BOUND = np.array([np.pi / 2, 1.0, 1.0, 1.0, np.pi / 2, np.pi / 2, np.pi / 2, np.pi / 2])
_H = 1e-4                                                        # forward-difference step
_STEPS = np.concatenate([np.zeros((1, 8)), _H * np.eye(8)])      # (9, 8) base + 8 probes
_DAMP = 1e-6 * np.eye(8)


#: (8,) weights of the parameter priors: tilt, (spine: none), collars.
_PRIOR_W = np.array([_W_TILT, 0.0, 0.0, 0.0, _W_COLLAR, _W_COLLAR, _W_COLLAR, _W_COLLAR])


@dataclass
class _TorsoFrame:
    """Per-frame quantities of the torso fit that do not depend on its parameters (T frames,
    broadcast against the 9 Jacobian probes with a unit axis)."""

    pelvis0: np.ndarray    # (T, 1, 3, 3)
    hip_axis: np.ndarray   # (T, 1, 1, 3) unit hip line (the pelvis tilts about it)
    hip_mid: np.ndarray    # (T, 1, 3)
    shoulder_t: np.ndarray  # (T, 1, 2, 3)
    head_t: np.ndarray     # (T, 1, 3) head target minus half the head bone
    chest_t: np.ndarray    # (T, 1, 3, 3) transposed chest target frame
    prior: np.ndarray      # (T, 1, 8) where the parameter priors pull (the collars' rhythm, else 0)


def _torso_rotations(x: np.ndarray, f: _TorsoFrame, rig: Rig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The torso's rotations from its 8 parameters x (T, K, 8): pelvis tilt about the hip line (1),
    shared spine1/2/3 local rotation vector (3), left and right collar swings (2 + 2, perpendicular
    to each collar bone). Returns the pelvis (T, K, 3, 3), the per-spine-joint rotation
    (T, K, 3, 3) and the collar local rotations (T, K, 2, 3, 3)."""
    v = (x @ rig.rv_map).reshape(x.shape[:-1] + (3, 3))                # spine, left, right collar
    rv = np.concatenate([x[..., None, 0:1] * f.hip_axis, SPINE_SHARE[:, None] * v[..., :1, :], v[..., 1:, :]],
                        axis=-2)
    R = rot.axis_angle(rv)                                              # tilt, spine1/2/3, collars
    return R[..., 0, :, :] @ f.pelvis0, R[..., 1:4, :, :], R[..., 4:, :, :]


def _torso_residual(x: np.ndarray, f: _TorsoFrame, rig: Rig) -> np.ndarray:
    """(T, K, 8) parameters → (T, K, 20) weighted residuals: shoulders (6), head (3), chest prior
    (3), parameter priors (8, the spine's three always zero)."""
    G0, spine_local, collar_local = _torso_rotations(x, f, rig)
    g1 = G0 @ spine_local[..., 0, :, :]
    g2 = g1 @ spine_local[..., 1, :, :]
    g3 = g2 @ spine_local[..., 2, :, :]
    s = rig.spine_sum
    p3 = f.hip_mid + G0 @ s[0] + g1 @ s[1] + g2 @ s[2]
    sh = p3[..., None, :] + (rig.bones[COLLAR] + rot.mv(collar_local, rig.bones[SHOULDER])) @ rot.transpose(g3)
    head = p3 + g3 @ rig.torso_vectors[2]
    return np.concatenate([(sh - f.shoulder_t).reshape(x.shape[:-1] + (6,)), _W_HEAD * (head - f.head_t),
                           _W_CHEST * rot.to_rotvec_fast(f.chest_t @ g3), (x - f.prior) * _PRIOR_W], axis=-1)


def _solve_spd(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A⁻¹ b for symmetric positive definite A (..., n, n), b (..., n, k), by a symmetric
    eigendecomposition: numpy's general solver (LAPACK gesv through the bundled OpenBLAS) stalls
    for up to milliseconds on 8×8 systems on a busy 2-core machine, the symmetric eigensolver
    does not."""
    lam, V = np.linalg.eigh(A)
    return V @ ((rot.transpose(V) @ b) / lam[..., :, None])


def collar_rhythm(chest: np.ndarray, arm: np.ndarray, rig: Rig) -> np.ndarray:
    """Where the scapulohumeral rhythm puts the collars for the arms' directions: the collar
    parameters (T, 4) (left up, left forward-or-back, right up, right …) of the torso fit.

    chest (T, 3, 3) the chest's rotation; arm (T, 2, 3) shoulder → elbow, left and right. Elevation
    (from hanging, in the chest frame): the shoulder girdle takes one degree in three beyond the
    first 30° (Inman's 2:1 glenohumeral : scapulothoracic rhythm), SMPL-X's rest (T-pose, 90°) being
    its zero, so hanging arms lower the collars by 20°; an arm reaching forward protracts the
    collar by up to COLLAR_PROTRACTION.
    """
    a = rot.normalize(rot.mv(rot.transpose(chest)[:, None], arm))          # rest axes, (T, 2, 3)
    elev = np.arccos(np.clip(-a[..., 1], -1.0, 1.0))
    up = (np.maximum(elev - np.pi / 6, 0.0) - np.pi / 3) / 3.0
    fwd = COLLAR_PROTRACTION * a[..., 2] * rig.collar_fwd_sign
    return np.stack([up, fwd], axis=-1).reshape(len(a), 4)


def _solve_torso(pelvis0: np.ndarray, chest: np.ndarray, hip_mid: np.ndarray, hip_vec: np.ndarray,
                 shoulder_t: np.ndarray, head_R: np.ndarray, head_t: np.ndarray, rig: Rig,
                 x0: np.ndarray | None = None, iters: int | None = None,
                 collars: np.ndarray | None = None):
    """Pelvis tilt, spine bend and collars that put both shoulders on their targets.

    The hips fix the pelvis up to a tilt about the hip line; the shoulders (6 numbers) then decide
    8 torso parameters, with weak priors (collars near rest, chest near the shoulder-line frame,
    pelvis near the trunk axis) settling the rest. Damped Gauss-Newton, vectorised over frames,
    with a forward-difference Jacobian (the 8 probes evaluated in one batch), the parameters kept
    in the box TORSO_BOUND. pelvis0, chest
    (T, 3, 3); hip_mid, hip_vec (T, 3); shoulder_t (T, 2, 3); head_R (T, 3, 3), head_t (T, 3).
    Cold (``x0`` None): from the chest frame, at most ``iters`` (default TORSO_ITERS_COLD)
    iterations; warm (``x0`` (T, 8), e.g. the previous frame's solution): at most ``iters``
    (default TORSO_ITERS_WARM); both stop once every step is below their tolerance.
    Returns pelvis (T, 3, 3), spine joint rotation (T, 3, 3), collar local rotations
    (T, 2, 3, 3) and the parameters (T, 8).
    """
    # the neck turns halfway from the chest to the head; the head must then reach its target
    f = _TorsoFrame(pelvis0=pelvis0[:, None], hip_axis=rot.normalize(hip_vec)[:, None, None], hip_mid=hip_mid[:, None],
                    shoulder_t=shoulder_t[:, None], head_t=(head_t - 0.5 * rot.mv(head_R, rig.bones[HEAD]))[:, None],
                    chest_t=rot.transpose(chest)[:, None], prior=np.zeros((len(pelvis0), 1, 8)))
    if collars is not None:
        f.prior[:, 0, 4:] = collars
    if x0 is None:
        x = np.zeros((len(pelvis0), 8))
        x[:, 1:4] = rot.to_rotvec(rot.transpose(pelvis0) @ chest) / 3.0
        iters, tol = (TORSO_ITERS_COLD if iters is None else iters), TORSO_COLD_TOL
    else:
        x = np.array(x0, np.float64)
        iters, tol = (TORSO_ITERS_WARM if iters is None else iters), TORSO_WARM_TOL
    for _ in range(iters):
        r = _torso_residual(x[:, None] + _STEPS, f, rig)               # (T, 9, 20)
        Jm = (r[:, 1:] - r[:, :1]) * (1.0 / _H)                       # (T, 8, 20)
        dx = _solve_spd(Jm @ rot.transpose(Jm) + _DAMP, Jm @ r[:, 0, :, None])[..., 0]
        x = np.clip(x - dx, -TORSO_BOUND, TORSO_BOUND)
        if np.abs(dx).max() < tol:
            break
    G0, third, collar_local = _torso_rotations(x[:, None], f, rig)
    return G0[:, 0], third[:, 0], collar_local[:, 0], x


def solve_skeleton(Q: np.ndarray, W: np.ndarray, hand_ok: np.ndarray, subject: Subject,
                   torso_init: np.ndarray | None = None, torso_iters: int | None = None,
                   full: bool = True) -> SkeletonPose:
    """Pose the subject's skeleton onto landmark targets.

    Q: (T, 75, 3) camera-space targets of the 33 body + 2×21 hand landmarks (metres);
    W: (T, 75) confidences in [0, 1]; hand_ok: (T, 2) bool, whether each hand's landmarks are usable.
    torso_init: (T, 8) warm start of the torso fit (``SkeletonPose.torso`` of another solve);
    torso_iters: its Gauss-Newton iterations (see :func:`_solve_torso`).
    full: False leaves out what moves none of the body landmarks but the thumbs' (neck and forearm
    twist, fingers, which then follow the wrists) and the joint limits: a cheaper pose that only
    seeds the landmark depths of another lifting pass.
    Returns the pose, with joint limits applied when ``full``.
    """
    T = Q.shape[0]
    rig = subject.rig
    B = rig.bones
    sh_t, el_t, wr_t = Q[:, _S_SHOULDER], Q[:, _S_ELBOW], Q[:, _S_WRIST]      # (T, 2, 3) left, right
    kn_t, an_t, he_t, to_t = Q[:, _S_KNEE], Q[:, _S_ANKLE], Q[:, _S_HEEL], Q[:, _S_TOE]

    # 1. every frame that comes straight from the targets (pelvis and chest from the hip / shoulder
    # line and the trunk axis, hands, pose-model hands, feet); head; torso fit; spine --------------
    ab = _FRAME_TARGETS @ Q                                             # (T, 16, 3)
    frames = rot.align_to_frame(rig.target_frame_t, ab[:, :8], ab[:, 8:])
    hip_mid = 0.5 * (Q[:, LM_HIP[0]] + Q[:, LM_HIP[1]])
    H = Q[:, 33:75].reshape(T, 2, 21, 3)
    palm_wrist = (H[:, :, PALM_LMS] - rot.mv(frames[:, 2:4, None], rig.palm_offsets)).mean(2)   # (T, 2, 3)
    wr_t = np.where(hand_ok[..., None], palm_wrist, wr_t)
    head_R, head_t = rot.kabsch(rig.face_offsets, Q[:, _S_FACE], W[:, _S_FACE] + 1e-3)
    G0, third, collar_local, torso_x = _solve_torso(frames[:, 0], frames[:, 1], hip_mid, ab[:, 0], sh_t,
                                                    head_R, head_t, rig, torso_init, torso_iters,
                                                    collar_rhythm(frames[:, 1], el_t - sh_t, rig))
    g1 = G0 @ third[:, 0]
    g2 = g1 @ third[:, 1]
    spine = np.stack([g1, g2, g2 @ third[:, 2]], axis=1)
    S3 = spine[:, 2]
    P0 = hip_mid - rot.mv(G0, rig.pelvis_off)
    s = rig.spine_sum
    P3 = hip_mid + rot.mv(G0, s[0]) + rot.mv(g1, s[1]) + rot.mv(g2, s[2])

    # 2. collars (taking up what the torso fit left), neck and thighs: one batched aim ------------
    P_children = P3[:, None] + rig.spine3_children @ rot.transpose(S3)   # (T, 3, 3) collars, neck
    P_hip = P0[:, None] + rig.hip_bones @ rot.transpose(G0)             # (T, 2, 3)
    parents = np.concatenate([S3[:, None] @ collar_local, S3[:, None], G0[:, None], G0[:, None]], axis=1)
    targets = np.concatenate([sh_t - P_children[:, :2], (head_t - P_children[:, 2])[:, None], kn_t - P_hip],
                             axis=1)
    aimed = rot.aim_unit(parents, rig.aim1_dirs, targets)               # (T, 5, 3, 3)
    G_collar, neck_swing, thigh_swing = aimed[:, :2], aimed[:, 2], aimed[:, 3:]
    P_sh = P_children[:, :2] + rot.mv(G_collar, B[SHOULDER])

    # 3a. upper arms and thighs from their bend planes, then forearm hinges and shins ------------
    upper_swing = rot.aim_unit(G_collar, rig.elbow_dirs, el_t - P_sh)
    foot_fwd = _perp(to_t - he_t, rot.normalize(kn_t - P_hip))
    foot_w = _smoothstep(np.minimum(W[:, _S_TOE], W[:, _S_HEEL]), 0.3, 0.6)[..., None]
    leg_fallback = rot.normalize(foot_w * rot.normalize(foot_fwd) + (1.0 - foot_w) * rot.mv(thigh_swing, _Z))
    base = np.concatenate([P_sh, P_hip], axis=1)                        # (T, 4, 3) arms, legs
    mid = np.concatenate([el_t, kn_t], axis=1)
    end = np.concatenate([wr_t, an_t], axis=1)
    sec = _bend_secondary(base, mid, end, np.concatenate([rot.mv(upper_swing, _BACK), leg_fallback], axis=1))
    G_upper = rot.align_to_frame(rig.limb_frame_t, mid - base, sec)     # shoulders, hips
    P_mid = base + rot.mv(G_upper, rig.limb_bones)                      # elbows, knees
    G_lower = rot.aim_unit(G_upper, rig.lower_dirs, end - P_mid)        # forearm hinges, knees
    fore_hinge = G_lower[:, :2]
    P_wrist = P_mid[:, :2] + rot.mv(fore_hinge, B[WRIST])

    # 3b. wrists from the hand landmarks, else from the pose model's index/pinky knuckles ---------
    pose_ok = (np.minimum(W[:, _S_INDEX], W[:, _S_PINKY]) > 0.6)[..., None, None]
    wrist_G = np.where(hand_ok[..., None, None], frames[:, 2:4], np.where(pose_ok, frames[:, 4:6], fore_hinge))
    swung = np.concatenate([neck_swing[:, None], fore_hinge], axis=1)   # (T, 3, 3, 3) neck, elbows
    if full:
        # neck and forearm twist: half of the head's / wrist's twist about the bone
        twisted = np.concatenate([head_R[:, None], wrist_G], axis=1)
        tw = rot.twist_angle(rot.transpose(swung) @ twisted, rig.twist_axes)
        swung = swung @ rot.axis_angle(rig.twist_axes * (0.5 * tw)[..., None])

        # 4. fingers: aim each phalanx at the next landmark, from the parent's frame ---------------
        Hs = (H - palm_wrist[:, :, None] + P_wrist[:, :, None])[:, :, FINGER_LMS[:, 1:]]  # (T, 2, 5, 3, 3) on the wrist
        parent_G, parent_P = wrist_G[:, :, None], P_wrist[:, :, None]   # (T, 2, 1, ...)
        keep = hand_ok[:, :, None, None, None]
        finger_G = []
        for k in range(3):
            p = parent_P + rot.mv(parent_G, rig.finger_bones[k])
            g = np.where(keep, rot.aim_unit(parent_G, rig.finger_child[k], Hs[..., k, :] - p), parent_G)
            finger_G.append(g.reshape(T, 10, 3, 3))
            parent_G, parent_P = g, p
    else:
        finger_G = [np.repeat(wrist_G, 5, axis=1)] * 3                  # fingers follow the wrist

    # 3c. ankles and feet; legs the camera does not see (out of frame, hidden) hang straight from
    # the pelvis instead of following the detector's guesses, whose bend wanders and flips thighs
    ankle = np.where(foot_w[..., None] > 0.0, frames[:, 6:8], G_lower[:, 2:])
    legs = np.concatenate([G_upper[:, None, 2:], G_lower[:, None, 2:], ankle[:, None], ankle[:, None]], axis=1)
    seen = legs_seen(W)[:, None, :, None, None]
    legs = np.where(seen, legs, G0[:, None, None]).reshape(T, 8, 3, 3)   # hips, knees, ankles, feet

    head = head_R[:, None]                                             # head, jaw and eyes
    G = np.concatenate([G0[:, None], spine, G_collar, swung[:, :1], head, head, head, head, G_upper[:, :2],
                        swung[:, 1:], wrist_G, *finger_G, legs], axis=1)[:, _FROM_BLOCKS]
    if full:
        G = limit_pose(G)
    return SkeletonPose(G=G, joints=fk_positions(G, B, P0), torso=torso_x)


_TRACE = np.eye(3).reshape(9)
#: (54,) trace of a local rotation at its joint's angle limit (joints 1..54): 1 + 2 cos(limit).
_TRACE_AT_LIMIT = 1.0 + 2.0 * np.cos(MAX_ANGLE[1:])
_TRACE_AT_KNEE_LIMIT = 1.0 + 2.0 * np.cos(KNEE_HYPEREXTENSION)    # a knee rotation at that angle
_IS_KNEE = np.isin(np.arange(1, NUM_JOINTS), KNEE)                 # (54,) over joints 1..54


def limit_pose(G: np.ndarray) -> np.ndarray:
    """Apply joint limits to global rotations. (T, 55, 3, 3) → (T, 55, 3, 3).

    Local rotation vectors are scaled down to each joint's maximum angle, and the knees' flexion
    (about +X) kept above a slight hyperextension; the changed joints' subtrees are re-chained.
    Candidates are found cheaply (angles from the traces of the local rotations; a knee can only
    hyperextend past 0.25 rad with its rotation's x component negative) and a pose within its
    limits is returned as it is.
    """
    T = len(G)
    local_1 = rot.transpose(G[:, PARENTS[1:]]) @ G[:, 1:]                       # joints 1..54
    trace = (local_1.reshape(T, NUM_JOINTS - 1, 9) @ _TRACE)
    cand = trace < _TRACE_AT_LIMIT
    knees = local_1[:, KNEE - 1]
    cand[:, KNEE - 1] |= (trace[:, KNEE - 1] < _TRACE_AT_KNEE_LIMIT) & (knees[..., 2, 1] < knees[..., 1, 2])
    if not cand.any():
        return G
    # elbows cannot bend backwards by construction: their bend plane comes from _bend_secondary
    joint = np.nonzero(cand)[1]                                                   # (n,) candidates, joint - 1
    rv = rot.to_rotvec(local_1[cand])
    rv[:, 0] = np.where(_IS_KNEE[joint], np.maximum(rv[:, 0], -KNEE_HYPEREXTENSION), rv[:, 0])
    ang = np.sqrt(rot.dot(rv, rv))[:, 0]
    rv = rv * np.minimum(1.0, MAX_ANGLE[1:][joint] / np.maximum(ang, 1e-9))[:, None]
    local = np.concatenate([G[:, :1], local_1], axis=1)
    local[:, 1:][cand] = rot.axis_angle(rv)
    glob = G.copy()
    for joints, parents in LEVELS[int(_DEPTH[1:][cand.any(0)].min()) - 1:]:      # from the shallowest candidate
        glob[:, joints] = glob[:, parents] @ local[:, joints]
    return glob


def pose_joints(G: np.ndarray, subject: Subject, root_pos: np.ndarray) -> np.ndarray:
    """Forward kinematics: (T, 55, 3, 3), (T, 3) → (T, 55, 3)."""
    return fk_positions(G, subject.bones, root_pos)


def pose_landmarks(G: np.ndarray, joints: np.ndarray, subject: Subject) -> np.ndarray:
    """The 75 body+hand landmarks of a posed skeleton: (T, 75, 3)."""
    return joints[:, LANDMARK_JOINT] + rot.mv(G[:, LANDMARK_JOINT], subject.offsets)


__all__ = ["Subject", "SkeletonPose", "Rig", "solve_skeleton", "limit_pose", "pose_joints", "pose_landmarks",
           "chain_local", "fk_positions", "LANDMARK_JOINT", "TORSO_ITERS_COLD", "TORSO_ITERS_WARM"]
