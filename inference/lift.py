"""Detections → camera-space 3D landmark targets (ProxyCap-style human-to-camera lifting).

Two passes, both vectorised over frames:

* **metric pass** — the detector's metric body landmarks (hip-centred, camera-aligned axes) and the
  hands' relative 3D shape hung on the wrists; enough to solve rotations, not the root depth;
* **root translation** — the solved skeleton has known bone lengths, so the translation that best
  projects its landmarks onto the 2D keypoints (weighted linear least squares on the pinhole
  equations) gives the root depth from 2D keypoints + intrinsics + bone lengths;
* **perspective pass** — each visible landmark is back-projected through its pixel at the depth the
  first pass gave it, so the re-solved skeleton agrees with the picture.
"""
from __future__ import annotations

import numpy as np

from .layout import BODY, LHAND, RHAND
from .records import Camera, DetectionSeq

HAND_SLICES = (LHAND, RHAND)
VISIBLE = 0.5  # body landmarks at least this visible are trusted in 2D


def body_weights(seq: DetectionSeq) -> np.ndarray:
    """(T, 75) confidence of the 33 body + 2×21 hand landmarks (hands: 1 when that hand was found)."""
    W = np.zeros((len(seq), 75))
    W[:, :33] = seq.kp2d[:, BODY, 2]
    W[:, 33:54] = seq.present[:, 1:2]
    W[:, 54:75] = seq.present[:, 2:3]
    return W


def metric_targets(seq: DetectionSeq) -> np.ndarray:
    """First-pass targets. Returns (T, 75, 3): body = metric world landmarks (hip-centred); each hand
    = its relative 3D shape in pixels, scaled to metres by its size relative to the body's forearm
    and hung on the body's wrist (rotations only need directions)."""
    T = len(seq)
    Q = np.zeros((T, 75, 3))
    Q[:, :33] = np.nan_to_num(seq.world)
    for side, sl in enumerate(HAND_SLICES):
        px = np.concatenate([seq.kp2d[:, sl, :2], seq.kpz[:, sl, None]], axis=-1).astype(np.float64)
        rel = px - px[:, :1]
        wrist = Q[:, 15 + side]
        Q[:, 33 + 21 * side: 54 + 21 * side] = wrist[:, None] + rel * _hand_scale(px)[:, None, None]
    return Q


def _hand_scale(px: np.ndarray) -> np.ndarray:
    """Metres per pixel of a hand, from its palm size (wrist→index/middle/pinky knuckles) taken
    as 0.09 m (adult average). px: (T, 21, 3) → (T,)."""
    palm = np.linalg.norm(px[:, [5, 9, 17]] - px[:, :1], axis=-1).mean(-1)
    return 0.09 / np.maximum(palm, 1e-6)


def solve_translation(X: np.ndarray, uv: np.ndarray, w: np.ndarray, camera: Camera) -> np.ndarray:
    """Translation t so that the pinhole projection of X + t matches uv.

    X: (T, N, 3) camera-frame points relative to any origin; uv: (T, N, 2) pixels; w: (T, N)
    weights. Linear least squares on  f(X+tx) = (u-cx)(Z+tz)  and the same for y. Returns (T, 3).
    """
    K = camera.K
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    du, dv = uv[..., 0] - cx, uv[..., 1] - cy
    T, N = X.shape[:2]
    A = np.zeros((T, 2 * N, 3))
    b = np.zeros((T, 2 * N))
    A[:, :N, 0], A[:, :N, 2], b[:, :N] = f, -du, du * X[..., 2] - f * X[..., 0]
    A[:, N:, 1], A[:, N:, 2], b[:, N:] = f, -dv, dv * X[..., 2] - f * X[..., 1]
    ww = np.concatenate([w, w], axis=1)
    AtA = np.einsum("tni,tn,tnj->tij", A, ww, A) + 1e-9 * np.eye(3)
    Atb = np.einsum("tni,tn,tn->ti", A, ww, b)
    return np.linalg.solve(AtA, Atb[..., None])[..., 0]


def backproject(uv: np.ndarray, depth: np.ndarray, camera: Camera) -> np.ndarray:
    """Pixels at given depths → camera-frame points. uv (..., 2), depth (...) → (..., 3)."""
    K = camera.K
    x = (uv[..., 0] - K[0, 2]) * depth / K[0, 0]
    y = (uv[..., 1] - K[1, 2]) * depth / K[1, 1]
    return np.stack([x, y, depth], axis=-1)


def perspective_targets(seq: DetectionSeq, posed_landmarks: np.ndarray, camera: Camera) -> np.ndarray:
    """Second-pass targets: landmarks moved onto their pixel rays at the depth the first pass gave them.

    posed_landmarks: (T, 75, 3) landmarks of the first-pass skeleton in the camera frame (with the
    root translation). Body landmarks seen with visibility ≥ 0.5 are back-projected at their own
    depth; hands are rebuilt in perspective from their pixels and relative depths, hung at the
    depth of the solved wrist. Returns (T, 75, 3).
    """
    Q = posed_landmarks.copy()
    vis = seq.kp2d[:, BODY, 2] >= VISIBLE
    depth = np.maximum(posed_landmarks[:, :33, 2], 0.05)
    lifted = backproject(seq.kp2d[:, BODY, :2].astype(np.float64), depth, camera)
    Q[:, :33] = np.where(vis[..., None], lifted, posed_landmarks[:, :33])
    f = camera.K[0, 0]
    for side, sl in enumerate(HAND_SLICES):
        zw = np.maximum(posed_landmarks[:, 15 + side, 2], 0.05)[:, None]  # wrist depth (T, 1)
        rel_z = (seq.kpz[:, sl] - seq.kpz[:, sl][:, :1]) * zw / f
        pts = backproject(seq.kp2d[:, sl, :2].astype(np.float64), zw + rel_z, camera)
        ok = seq.present[:, 1 + side][:, None, None]
        Q[:, 33 + 21 * side: 54 + 21 * side] = np.where(ok, pts, Q[:, 33 + 21 * side: 54 + 21 * side])
    return Q
