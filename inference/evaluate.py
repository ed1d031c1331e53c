"""Measures of a capture against its own detections (used by tests, the benchmark and the demo)."""
from __future__ import annotations

import numpy as np

from .layout import LANDMARK_JOINT, landmark_offsets
from .pipeline import Motion
from .skeleton import DEFAULT_REST

#: (N,) landmarks that sit on a joint (zero offset): shoulders … ankles, knuckles, hand joints.
JOINT_LANDMARKS = np.flatnonzero(np.linalg.norm(landmark_offsets(DEFAULT_REST), axis=-1) == 0.0)


#: The pose model's own wrist / pinky / index / thumb landmarks of the left and right hand.
_POSE_HAND = (np.array([15, 17, 19, 21]), np.array([16, 18, 20, 22]))


def reprojection_errors(motion: Motion, min_confidence: float = 0.5, part: str = "all") -> np.ndarray:
    """Pixel distance between each confidently detected joint landmark and the solved skeleton's
    joint projected with the stored intrinsics and camera pose. Returns a flat array over the
    valid frames; ``part`` = 'all', 'body' (the 33 pose landmarks) or 'hands'. Where the hand model
    found a hand, the pose model's duplicate landmarks of that hand (wrist, pinky, index, thumb) are
    left out: the solver follows the hand model there, and the two detectors can disagree by tens of
    pixels on close-ups."""
    sel = {"all": JOINT_LANDMARKS, "body": JOINT_LANDMARKS[JOINT_LANDMARKS < 33],
           "hands": JOINT_LANDMARKS[JOINT_LANDMARKS >= 33]}[part]
    world_to_cam = np.linalg.inv(motion.camera_to_world)
    K = motion.camera.K
    errs = []
    for t in np.flatnonzero(motion.valid):
        p = motion.joints[t, LANDMARK_JOINT[sel]] @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        uv = p[:, :2] / np.maximum(p[:, 2:3], 1e-6) * np.diag(K)[:2] + K[:2, 2]
        kp = motion.keypoints2d[t, sel]
        ok = kp[:, 2] >= min_confidence
        for side in (0, 1):   # a hand the hand model found is measured on its 21 landmarks, not twice
            if motion.part_valid[t, 1 + side]:
                ok &= ~np.isin(sel, _POSE_HAND[side])
        errs.append(np.linalg.norm(uv[ok] - kp[ok, :2], axis=-1))
    return np.concatenate(errs) if errs else np.zeros(0)
