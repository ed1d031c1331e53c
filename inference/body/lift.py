"""Detections → camera-space 3D landmark targets (ProxyCap-style human-to-camera lifting).

The pieces of a lifting pass, all vectorised over frames (:mod:`.lifting` chains them):

* **metric landmarks** — the detector's metric body landmarks (hip-centred, camera-aligned axes),
  :func:`metric_body`;
* **root translation** — the translation that best projects a 3D estimate (the metric landmarks,
  or a solved skeleton with its known bone lengths) onto the 2D keypoints (weighted linear least
  squares on the pinhole equations) gives the root depth from 2D keypoints + intrinsics;
* **perspective targets** — each visible landmark is back-projected through its pixel at the depth
  the estimate gave it (hands rebuilt from their pixels and relative depths at the wrist's depth),
  so the skeleton solved on them agrees with the picture.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import BODY, HAND_START, LANDMARKS, LHAND, NUM_HAND, NUM_LANDMARKS, PART_HANDS, POSE_WRISTS, RHAND
from ..core.records import Camera, DetectionSeq
from .tables import MIN_DEPTH

VISIBLE = 0.5  # body landmarks at least this visible are trusted in 2D


def body_weights(seq: DetectionSeq) -> np.ndarray:
    """(T, 75) confidence of the 33 body + 2×21 hand landmarks (hands: 1 when that hand was found)."""
    W = np.zeros((len(seq), NUM_LANDMARKS))
    W[:, BODY] = seq.kp2d[:, BODY, 2]
    W[:, LHAND] = seq.present[:, PART_HANDS][:, :1]
    W[:, RHAND] = seq.present[:, PART_HANDS][:, 1:]
    return W


def metric_body(seq: DetectionSeq) -> np.ndarray:
    """(T, 75, 3) the detector's metric body landmarks (hip-centred, camera-aligned axes; missing →
    0) with the hands at zero: the 3D estimate the first perspective pass starts from (it rebuilds
    the hands that were found from their pixels at the depth of these wrists, and the solver
    ignores the landmarks of hands that were not)."""
    T = len(seq)
    Q = np.zeros((T, NUM_LANDMARKS, 3))
    w = seq.world
    Q[:, BODY] = np.where(np.isnan(w), 0.0, w)
    return Q


_ONES2 = np.ones((2, 1))
_HAND = np.ones(NUM_HAND, bool)


def solve_translation(X: np.ndarray, uv: np.ndarray, w: np.ndarray, camera: Camera) -> np.ndarray:
    """Translation t so that the pinhole projection of X + t matches uv.

    X: (T, N, 3) camera-frame points relative to any origin; uv: (T, N, 2) pixels; w: (T, N)
    weights. Weighted linear least squares on  f(X+tx) = (u-cx)(Z+tz)  and the same for y, through
    its 3×3 normal equations [[a, 0, c], [0, a, d], [c, d, e]] t = [p, q, r] (their sums formed in
    one product, solved in closed form, 1e-9 ridge on the diagonal). Returns (T, 3).
    """
    K = camera.K
    f = K[0, 0]
    D = uv - K[:2, 2]                                                   # (T, N, 2) du, dv
    B = D * X[..., 2:] - f * X[..., :2]                                 # (T, N, 2) du Z - f X, dv Z - f Y
    s = (w[:, None, :] @ np.concatenate([D, B, D * D, D * B], axis=-1))[:, 0]   # (T, 8) weighted sums
    a = f * f * w.sum(-1, keepdims=True) + 1e-9                         # (T, 1)
    cd, pq = -f * s[:, 0:2], f * s[:, 2:4]                              # (T, 2)
    e, r = s[:, 4:5] + s[:, 5:6] + 1e-9, -(s[:, 6:7] + s[:, 7:8])       # (T, 1)
    tz = (a * r - (cd * pq) @ _ONES2) / (a * e - (cd * cd) @ _ONES2)
    return np.concatenate([(pq - cd * tz) / a, tz], axis=-1)


def backproject(uv: np.ndarray, depth: np.ndarray, camera: Camera) -> np.ndarray:
    """Pixels at given depths → camera-frame points. uv (..., 2), depth (...) → (..., 3) float64."""
    K = camera.K
    xy = (uv - K[:2, 2]) * (depth[..., None] / K[[0, 1], [0, 1]])
    return np.concatenate([xy, depth[..., None]], axis=-1)


def perspective_targets(seq: DetectionSeq, posed_landmarks: np.ndarray, camera: Camera) -> np.ndarray:
    """Second-pass targets: landmarks moved onto their pixel rays at the depth the first pass gave them.

    posed_landmarks: (T, 75, 3) landmarks of the first-pass skeleton in the camera frame (with the
    root translation). Body landmarks seen with visibility ≥ 0.5 are back-projected at their own
    depth; hands are rebuilt in perspective from their pixels and relative depths, hung at the
    depth of the solved wrist; a found hand's wrist is also the body's wrist target. Returns (T, 75, 3).
    """
    T = len(posed_landmarks)
    z = posed_landmarks[..., 2]
    zw = np.maximum(z[:, POSE_WRISTS], MIN_DEPTH)[:, :, None]                # wrist depths (T, 2, 1)
    kz = seq.kpz[:, HAND_START[0]:NUM_LANDMARKS].reshape(T, 2, NUM_HAND)
    depth = np.concatenate([np.maximum(z[:, BODY], MIN_DEPTH),
                            (zw + (kz - kz[:, :, :1]) * (zw / camera.K[0, 0])).reshape(T, 2 * NUM_HAND)], axis=1)
    use = np.concatenate([seq.kp2d[:, BODY, 2] >= VISIBLE,
                          (seq.present[:, PART_HANDS, None] & _HAND).reshape(T, 2 * NUM_HAND)], axis=1)
    Q = np.where(use[..., None], backproject(seq.kp2d[:, LANDMARKS, :2], depth, camera), posed_landmarks)
    # A found hand places its own wrist better than the pose model's wrist landmark (which can sit
    # centimetres off on close-ups): the forearm is aimed at the hand's wrist.
    for side in (0, 1):
        wrist = POSE_WRISTS[side]
        Q[:, wrist] = np.where(seq.present[:, PART_HANDS][:, side, None], Q[:, HAND_START[side]], Q[:, wrist])
    return Q
