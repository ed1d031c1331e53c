"""The SMPL-X 55-joint skeleton: official joint names, hierarchy and a default rest pose.

Conventions (AMASS / SMPL-X): Y up, metres, the body faces +Z, the subject's left is +X.
In the rest pose every local rotation is the identity, so every joint's global rest frame is the
world frame and a bone is just ``rest[child] - rest[parent]``.

The default rest skeleton is an anthropometric average adult (about 1.70 m tall, T-pose, palms
down), used when the user gives no SMPL-X model file; :func:`scaled_rest` then stretches its bones
to the proportions measured from the subject.
"""
from __future__ import annotations

import numpy as np

from . import rotations as rot
from .layout import PART_BODY, PART_FACE, PART_LEFT_HAND, PART_RIGHT_HAND

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1", "right_ring2",
    "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)
NUM_JOINTS = 55
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(JOINT_NAMES)}

#: (55,) int parent index of each joint, -1 for the root (SMPL-X kintree_table[0]).
PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
     20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
     21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53], dtype=np.int64)

#: Joint groups (index arrays).
BODY_JOINTS = np.arange(22)            # SMPL / SMPL-H body, same order
HAND_JOINTS = np.arange(25, 55)        # 15 left then 15 right finger joints
LEFT_HAND_JOINTS = np.arange(25, 40)
RIGHT_HAND_JOINTS = np.arange(40, 55)
FACE_JOINTS = np.array([22, 23, 24])   # jaw, eyes
#: The jaw and the two eyes (left, right): the face's joints, posed by the face stage.
JAW = JOINT_INDEX["jaw"]
EYES = np.array([JOINT_INDEX["left_eye_smplhf"], JOINT_INDEX["right_eye_smplhf"]])
#: (55,) int the part of each joint in ``part_valid`` order (core/layout.PARTS): body 0..21,
#: face 22..24 (jaw, eyes), left hand 25..39, right hand 40..54.
JOINT_PART = np.empty(NUM_JOINTS, dtype=np.int64)
JOINT_PART[BODY_JOINTS] = PART_BODY
JOINT_PART[FACE_JOINTS] = PART_FACE
JOINT_PART[LEFT_HAND_JOINTS] = PART_LEFT_HAND
JOINT_PART[RIGHT_HAND_JOINTS] = PART_RIGHT_HAND
#: Body + hands: the 52 SMPL-H joints (what round-trip MPJPE is measured on).
SMPLH_JOINTS = np.concatenate([BODY_JOINTS, HAND_JOINTS])

FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X order inside a hand
#: Shape coefficients fitted and stored (the first 10 betas of SMPL-X; zeros without a model).
NUM_BETAS = 10

_LEFT_HAND_OFFSETS = {
    # finger: (first joint relative to the wrist, lengths of the next two bones, tip length,
    #          unit direction of the finger in rest)
    "index": ((0.095, 0.004, 0.026), (0.037, 0.024), 0.021, (1.0, 0.0, 0.0)),
    "middle": ((0.098, 0.004, 0.004), (0.041, 0.027), 0.023, (1.0, 0.0, 0.0)),
    "pinky": ((0.082, -0.004, -0.036), (0.028, 0.019), 0.019, (1.0, 0.0, -0.12)),
    "ring": ((0.092, 0.000, -0.016), (0.037, 0.025), 0.021, (1.0, 0.0, -0.05)),
    "thumb": ((0.028, -0.013, 0.032), (0.034, 0.030), 0.024, (0.62, -0.16, 0.77)),
}

#: Tip length of each finger (metres, default skeleton): distance from the third joint to the tip.
DEFAULT_TIP_LENGTH = {f: v[2] for f, v in _LEFT_HAND_OFFSETS.items()}


def _default_rest() -> np.ndarray:
    j = np.zeros((NUM_JOINTS, 3), np.float64)
    body = {
        "pelvis": (0.0, 0.93, 0.0), "left_hip": (0.070, 0.84, -0.005),
        "right_hip": (-0.070, 0.84, -0.005), "spine1": (0.0, 1.04, -0.025),
        "left_knee": (0.100, 0.475, 0.0), "right_knee": (-0.100, 0.475, 0.0),
        "spine2": (0.0, 1.17, -0.010), "left_ankle": (0.085, 0.075, -0.035),
        "right_ankle": (-0.085, 0.075, -0.035), "spine3": (0.0, 1.225, 0.015),
        "left_foot": (0.115, 0.020, 0.095), "right_foot": (-0.115, 0.020, 0.095),
        "neck": (0.0, 1.435, -0.020), "left_collar": (0.045, 1.345, -0.005),
        "right_collar": (-0.045, 1.345, -0.005), "head": (0.0, 1.515, 0.025),
        "left_shoulder": (0.175, 1.380, -0.020), "right_shoulder": (-0.175, 1.380, -0.020),
        "left_elbow": (0.440, 1.370, -0.040), "right_elbow": (-0.440, 1.370, -0.040),
        "left_wrist": (0.690, 1.375, -0.035), "right_wrist": (-0.690, 1.375, -0.035),
        "jaw": (0.0, 1.500, 0.055), "left_eye_smplhf": (0.032, 1.585, 0.085),
        "right_eye_smplhf": (-0.032, 1.585, 0.085),
    }
    for name, p in body.items():
        j[JOINT_INDEX[name]] = p
    for side, sign in (("left", 1.0), ("right", -1.0)):
        wrist = j[JOINT_INDEX[f"{side}_wrist"]]
        for finger, (first, lengths, _tip, direction) in _LEFT_HAND_OFFSETS.items():
            d = np.array(direction) / np.linalg.norm(direction)
            p = wrist + np.array(first) * (sign, 1.0, 1.0)
            j[JOINT_INDEX[f"{side}_{finger}1"]] = p
            for k, length in enumerate(lengths, start=2):
                p = p + length * d * (sign, 1.0, 1.0)
                j[JOINT_INDEX[f"{side}_{finger}{k}"]] = p
    return j


#: (55, 3) float64 default rest joint positions in metres (Y up, feet near Y=0).
DEFAULT_REST = _default_rest()


def bone_vectors(rest: np.ndarray) -> np.ndarray:
    """Bone offsets from each joint's parent. rest: (..., 55, 3) → (..., 55, 3); the root's is its position."""
    out = rest.copy()
    out[..., 1:, :] = rest[..., 1:, :] - rest[..., PARENTS[1:], :]
    return out


# Chaining and forward kinematics go by tree level (10 steps instead of 55 per-joint steps).
#: (55,) depth of each joint in the tree (the root is 0).
DEPTH = np.zeros(NUM_JOINTS, np.int64)
for _j in range(1, NUM_JOINTS):            # parents come before their children in SMPL-X order
    DEPTH[_j] = DEPTH[PARENTS[_j]] + 1
#: per tree level ≥ 1: (joints, their parents)
LEVELS = tuple((np.flatnonzero(DEPTH == d), PARENTS[DEPTH == d]) for d in range(1, DEPTH.max() + 1))
#: (55, 54) ANCESTORS[j, b - 1] = 1 when bone b (joint b ≥ 1 from its parent) lies on the root → j path.
ANCESTORS = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
for _j in range(1, NUM_JOINTS):
    _a = _j
    while _a > 0:
        ANCESTORS[_j, _a - 1] = 1.0
        _a = PARENTS[_a]
del _j, _a


def local_to_global(local_rot: np.ndarray) -> np.ndarray:
    """Chain local rotations root first, one step per tree level. (T, 55, 3, 3) → (T, 55, 3, 3)."""
    glob = local_rot.copy()
    for joints, parents in LEVELS:
        glob[:, joints] = glob[:, parents] @ local_rot[:, joints]
    return glob


def global_to_local(global_rot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`local_to_global`. (T, 55, 3, 3) → (T, 55, 3, 3)."""
    local = np.empty_like(global_rot)
    local[:, 0] = global_rot[:, 0]
    parent_t = np.swapaxes(global_rot[:, PARENTS[1:]], -1, -2)
    local[:, 1:] = parent_t @ global_rot[:, 1:]
    return local


def forward_kinematics(global_rot: np.ndarray, bones: np.ndarray, root_pos: np.ndarray) -> np.ndarray:
    """Joint positions: the root plus the rotated bones along each joint's path.

    global_rot (T, 55, 3, 3) world rotation of each joint's frame; bones (55, 3) rest bone vectors
    (:func:`bone_vectors`); root_pos (T, 3) world position of the pelvis. Returns (T, 55, 3).
    """
    rotated = rot.mv(global_rot[:, PARENTS[1:]], bones[1:])             # (T, 54, 3)
    return root_pos[:, None] + ANCESTORS @ rotated


#: (3, 3) float64 the engine's Y-up frame → Blender's Z-up frame: (x, y, z) → (x, −z, y) (a rotation).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
