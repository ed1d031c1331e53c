"""A picture a person can check: detected 2D landmarks and the solved skeleton over a frame."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.layout import BODY, FACE, LHAND, RHAND
from ..core.skeleton import PARENTS
from ..pipeline.motion import Motion


def project_points(motion: Motion, points: np.ndarray, frame: int) -> np.ndarray:
    """World points (N, 3) of ``frame`` → pixels (N, 2) through the motion's stored camera and
    camera pose (:meth:`Motion.camera_points`)."""
    p = motion.camera_points(points, frame)
    K = motion.camera.K
    return p[:, :2] / np.maximum(p[:, 2:3], 1e-6) * np.diag(K)[:2] + K[:2, 2]


def draw_preview(image: np.ndarray, motion: Motion, frame: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR → a copy with landmarks (green body, blue/red hands, grey face) and the
    solved SMPL-X skeleton (yellow bones, orange joints)."""
    import cv2

    img = image.copy()
    kp = motion.keypoints2d[frame]
    for sl, color, r in ((FACE, (170, 170, 170), 1), (BODY, (0, 220, 0), 3),
                         (LHAND, (255, 120, 0), 2), (RHAND, (0, 0, 255), 2)):
        for u, v, c in kp[sl]:
            if c > 0.3:
                cv2.circle(img, (int(u), int(v)), r, color, -1, cv2.LINE_AA)
    if motion.valid[frame]:
        uv = project_points(motion, motion.joints[frame], frame)
        for j in range(1, len(PARENTS)):
            a, b = uv[j], uv[PARENTS[j]]
            cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), (0, 230, 255), 2, cv2.LINE_AA)
        for u, v in uv:
            cv2.circle(img, (int(u), int(v)), 3, (0, 120, 255), -1, cv2.LINE_AA)
    cv2.putText(img, "landmarks: green body / blue left hand / red right hand; yellow: solved SMPL-X",
                (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    import cv2

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"--preview '{path}' must end in .png")
    tmp = path.with_name(f".{path.name}.part.png")
    if not cv2.imwrite(str(tmp), image):
        raise InputError(f"--preview: cannot write '{path}': check the folder exists and is writable")
    os.replace(tmp, path)
