"""Measures of a capture against its own detections (used by tests, the benchmark and the demo)."""
from __future__ import annotations

import numpy as np

from .layout import LANDMARK_JOINT, landmark_offsets
from .pipeline import Motion
from .skeleton import DEFAULT_REST

#: (N,) landmarks that sit on a joint (zero offset): shoulders … ankles, knuckles, hand joints.
JOINT_LANDMARKS = np.flatnonzero(np.linalg.norm(landmark_offsets(DEFAULT_REST), axis=-1) == 0.0)


def reprojection_errors(motion: Motion, min_confidence: float = 0.5, part: str = "all") -> np.ndarray:
    """Pixel distance between each confidently detected joint landmark and the solved skeleton's
    joint projected with the stored intrinsics and camera pose. Returns a flat array over the
    valid frames; ``part`` = 'all', 'body' (the 33 pose landmarks) or 'hands'."""
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
        errs.append(np.linalg.norm(uv[ok] - kp[ok, :2], axis=-1))
    return np.concatenate(errs) if errs else np.zeros(0)
