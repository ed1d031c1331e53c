"""Measures of a capture against its own detections (tests and development scripts)."""
from __future__ import annotations

import numpy as np

from inference.app.preview import project_points
from inference.body.landmarks import LANDMARK_JOINT, landmark_offsets
from inference.core.layout import BODY, PART_LEFT_HAND, POSE_HAND_POINTS
from inference.core.skeleton import DEFAULT_REST
from inference.pipeline.motion import Motion

#: (N,) landmarks that sit on a joint (zero offset): shoulders … ankles, knuckles, hand joints.
JOINT_LANDMARKS = np.flatnonzero(np.linalg.norm(landmark_offsets(DEFAULT_REST), axis=-1) == 0.0)


def reprojection_errors(motion: Motion, min_confidence: float = 0.5, part: str = "all") -> np.ndarray:
    """Pixel distance between each confidently detected joint landmark and the solved skeleton's
    joint projected with the stored intrinsics and camera pose. Returns a flat array over the
    valid frames; ``part`` = 'all', 'body' (the 33 pose landmarks) or 'hands'. Where the hand model
    found a hand, the pose model's duplicate landmarks of that hand (wrist, pinky, index, thumb) are
    left out: the solver follows the hand model there, and the two detectors can disagree by tens of
    pixels on close-ups."""
    body = JOINT_LANDMARKS < BODY.stop
    sel = {"all": JOINT_LANDMARKS, "body": JOINT_LANDMARKS[body], "hands": JOINT_LANDMARKS[~body]}[part]
    errs = []
    for t in np.flatnonzero(motion.valid):
        uv = project_points(motion, motion.joints[t, LANDMARK_JOINT[sel]], t)
        kp = motion.keypoints2d[t, sel]
        ok = kp[:, 2] >= min_confidence
        for side in (0, 1):   # a hand the hand model found is measured on its 21 landmarks, not twice
            if motion.part_valid[t, PART_LEFT_HAND + side]:
                ok &= ~np.isin(sel, POSE_HAND_POINTS[side])
        errs.append(np.linalg.norm(uv[ok] - kp[ok, :2], axis=-1))
    return np.concatenate(errs) if errs else np.zeros(0)
