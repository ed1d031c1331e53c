"""The world frame: from the camera's axes to a Y-up world with the feet on the floor.

In: the first solved frame with a person (camera frame); out: camera_to_world (4, 4), fixed for
the clip or the live session.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as rot
from ..core.layout import POSE_FEET, POSE_HIPS, POSE_SHOULDERS
from ..core.skeleton import JOINT_INDEX
from .landmarks import landmarks_from_pose
from .subject import Subject

J = JOINT_INDEX

#: Camera axes (x right, y down, z away) → world (Y up, camera looking along −Z).
CAMERA_TO_WORLD_BASE = np.diag([1.0, -1.0, -1.0])
#: The trunk's up direction is taken as gravity when it is within this many degrees of the camera's up.
GRAVITY_MAX_TILT_DEG = 30.0


def world_frame(G: np.ndarray, joints: np.ndarray, subject: Subject, foot_visibility: np.ndarray
                ) -> np.ndarray:
    """World frame from one solved frame (the first with a person): camera axes turned Y-up, tilted
    to gravity (the trunk's up direction, when within 30° of the camera's up) and shifted so the
    lowest seen foot point is at Y = 0 (unseen feet: the standing height of the pelvis).

    G (55, 3, 3), joints (55, 3) camera frame; foot_visibility (4,) heels and toes.
    Returns camera_to_world (4, 4).
    """
    lm = landmarks_from_pose(G[None], joints[None], subject.offsets)[0]
    base = CAMERA_TO_WORLD_BASE
    up = base @ rot.normalize(lm[POSE_SHOULDERS].mean(0) - lm[POSE_HIPS].mean(0))
    R = base
    if np.degrees(np.arccos(np.clip(up[1], -1.0, 1.0))) < GRAVITY_MAX_TILT_DEG:
        R = rot.swing(up, np.array([0.0, 1.0, 0.0])) @ base
    feet = lm[POSE_FEET] @ R.T
    if np.max(foot_visibility) >= 0.5:
        floor = float(np.min(feet[foot_visibility >= 0.5, 1]))
    else:
        standing = subject.rest[0, 1] - min(subject.rest[J["left_foot"], 1], subject.rest[J["right_foot"], 1]) + 0.02
        floor = float((R @ joints[0])[1] - standing)
    M = np.eye(4)
    M[:3, :3], M[1, 3] = R, -floor
    return M
