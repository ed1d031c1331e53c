"""The landmark model: where each of the 75 body and hand landmarks sits on the SMPL-X skeleton.

Landmark ``i`` is attached to joint ``LANDMARK_JOINT[i]`` at offset ``o_i`` in that joint's frame,
so in a posed skeleton it is at ``p_j + R_j @ o_i`` (rest frames are the world frame in SMPL-X, so
offsets are written in rest coordinates: Y up, +X subject's left, +Z forward). The solver inverts
exactly this model and the round-trip tests generate synthetic detections with it.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as rot
from ..core.layout import NUM_LANDMARKS, POSE_NAMES, HAND_FINGER_START
from ..core.skeleton import DEFAULT_REST, DEFAULT_TIP_LENGTH, JOINT_INDEX

_HEAD_OFFSETS = {  # default skeleton, metres, relative to the head joint in rest axes
    "nose": (0.0, 0.040, 0.110),
    "left_eye_inner": (0.014, 0.070, 0.090), "left_eye": (0.032, 0.072, 0.086),
    "left_eye_outer": (0.047, 0.070, 0.076), "left_ear": (0.074, 0.045, -0.010),
    "mouth_left": (0.024, -0.002, 0.095),
}


def _body_attachments() -> list[tuple[str, tuple[float, float, float]]]:
    att: list[tuple[str, tuple[float, float, float]]] = []
    for name in POSE_NAMES:
        side = "left" if name.startswith("left") else "right" if name.startswith("right") else ""
        sx = -1.0 if side == "right" else 1.0
        bare = name.replace("right_", "left_")
        if name == "nose" or bare in _HEAD_OFFSETS:
            o = _HEAD_OFFSETS["nose" if name == "nose" else bare]
            att.append(("head", (o[0] * sx, o[1], o[2])))
        elif name.startswith("mouth"):
            o = _HEAD_OFFSETS["mouth_left"]
            att.append(("head", (o[0] * (1.0 if name == "mouth_left" else -1.0), o[1], o[2])))
        elif bare in ("left_shoulder", "left_elbow", "left_wrist", "left_hip", "left_knee", "left_ankle"):
            att.append((name, (0.0, 0.0, 0.0)))
        elif bare == "left_pinky":
            att.append((f"{side}_pinky1", (0.0, 0.0, 0.0)))
        elif bare == "left_index":
            att.append((f"{side}_index1", (0.0, 0.0, 0.0)))
        elif bare == "left_thumb":
            att.append((f"{side}_thumb2", (0.0, 0.0, 0.0)))
        elif bare == "left_heel":
            att.append((f"{side}_ankle", (0.0, -0.060, -0.055)))
        elif bare == "left_foot_index":
            att.append((f"{side}_foot", (0.0, -0.010, 0.085)))
        else:  # pragma: no cover - every name is handled above
            raise AssertionError(name)
    return att


def _hand_attachments(side: str) -> list[tuple[str, tuple[float, float, float] | str]]:
    att: list[tuple[str, tuple[float, float, float] | str]] = [(f"{side}_wrist", (0.0, 0.0, 0.0))]
    by_index: dict[int, tuple[str, tuple[float, float, float] | str]] = {}
    for finger, start in HAND_FINGER_START.items():
        for k in range(3):
            by_index[start + k] = (f"{side}_{finger}{k + 1}", (0.0, 0.0, 0.0))
        by_index[start + 3] = (f"{side}_{finger}3", "tip")
    att += [by_index[i] for i in range(1, 21)]
    return att


_ATTACH = _body_attachments() + _hand_attachments("left") + _hand_attachments("right")


#: (75,) joint index each body/hand landmark is attached to.
LANDMARK_JOINT = np.array([JOINT_INDEX[j] for j, _ in _ATTACH], dtype=np.int64)
assert LANDMARK_JOINT.shape == (NUM_LANDMARKS,)


def landmark_offsets(rest: np.ndarray) -> np.ndarray:
    """Offsets of the 75 body+hand landmarks from their joints for a given rest skeleton.

    rest: (55, 3) rest joint positions. Returns (75, 3) float64 offsets in rest axes. Head and foot
    offsets scale with the skeleton's size; finger tips extend the last phalanx by a length that
    scales with the hand.
    """
    size = _skeleton_scale(rest)
    hand_scale = {
        side: np.linalg.norm(rest[JOINT_INDEX[f"{side}_middle1"]] - rest[JOINT_INDEX[f"{side}_wrist"]])
        / np.linalg.norm(DEFAULT_REST[JOINT_INDEX["left_middle1"]] - DEFAULT_REST[JOINT_INDEX["left_wrist"]])
        for side in ("left", "right")
    }
    out = np.zeros((len(_ATTACH), 3))
    for i, (joint, off) in enumerate(_ATTACH):
        if isinstance(off, str):  # finger tip: along the last phalanx
            side, finger = joint.split("_")[0], joint.split("_")[1][:-1]
            j3, j2 = JOINT_INDEX[joint], JOINT_INDEX[f"{side}_{finger}2"]
            d = rest[j3] - rest[j2]
            out[i] = d / np.linalg.norm(d) * DEFAULT_TIP_LENGTH[finger] * hand_scale[side]
        else:
            out[i] = np.asarray(off) * size
    return out


def _skeleton_scale(rest: np.ndarray) -> float:
    """Size of a skeleton relative to the default (ratio of pelvis-to-head heights)."""
    h = rest[JOINT_INDEX["head"], 1] - rest[JOINT_INDEX["pelvis"], 1]
    h0 = DEFAULT_REST[JOINT_INDEX["head"], 1] - DEFAULT_REST[JOINT_INDEX["pelvis"], 1]
    return float(h / h0)


def landmarks_from_pose(global_rot: np.ndarray, joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Where the 75 body+hand landmarks are in a posed skeleton.

    global_rot: (T, 55, 3, 3); joints: (T, 55, 3); offsets: (75, 3) from :func:`landmark_offsets`.
    Returns (T, 75, 3).
    """
    return joints[:, LANDMARK_JOINT] + rot.mv(global_rot[:, LANDMARK_JOINT], offsets)
