"""Batched rotation helpers (rotation matrices, ``(..., 3, 3)``), all vectorised over leading axes.

Conversions to axis-angle / quaternions use scipy's ``Rotation``; these helpers are the geometric
pieces the solver is built from: frames from two vectors, minimal ("swing") rotations, twists,
Kabsch fits and angle clamps.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

EPS = 1e-9


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis. (..., 3) → (..., 3); zero stays zero."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, EPS)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) → (..., 1)."""
    return np.sum(a * b, axis=-1, keepdims=True)


def mv(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrix-vector product. (..., 3, 3), (..., 3) → (..., 3)."""
    return np.einsum("...ij,...j->...i", R, v)


def frame_from(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frame: column 0 along ``a``, column 1 in the (a, b) half-plane.

    a, b: (..., 3) → (..., 3, 3).
    """
    e1 = normalize(a)
    e2 = normalize(b - dot(b, e1) * e1)
    e3 = np.cross(e1, e2)
    return np.stack([e1, e2, e3], axis=-1)


def align_two(va: np.ndarray, vb: np.ndarray, wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """Rotation R with ``R va ∥ wa`` exactly and ``R vb`` in the (wa, wb) half-plane.

    va, vb: (..., 3) rest vectors (broadcast); wa, wb: (..., 3) targets. Returns (..., 3, 3).
    """
    Fw = frame_from(wa, wb)
    Fv = frame_from(*np.broadcast_arrays(va, vb))
    return Fw @ np.swapaxes(Fv, -1, -2)


def axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues. (..., 3) axis × angle → (..., 3, 3)."""
    theta = np.linalg.norm(rotvec, axis=-1)[..., None, None]
    k = rotvec / np.maximum(np.linalg.norm(rotvec, axis=-1, keepdims=True), EPS)
    K = np.zeros(rotvec.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation taking direction ``a`` onto direction ``b``. (..., 3) → (..., 3, 3).

    Antiparallel inputs rotate by π about an axis perpendicular to ``a``.
    """
    a, b = normalize(a), normalize(b)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = dot(a, b)
    # a fallback axis for the antiparallel case
    helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    perp = normalize(np.cross(a, helper))
    axis = np.where(s > 1e-7, axis / np.maximum(s, EPS), perp)
    angle = np.arctan2(s, c)
    return axis_angle(axis * angle)


def aim(parent_rot: np.ndarray, rest_bone: np.ndarray, target_dir: np.ndarray) -> np.ndarray:
    """Global rotation of a joint that turns its parent's frame just enough to point the rest bone
    at ``target_dir`` (no added twist). parent_rot (..., 3, 3); rest_bone, target_dir (..., 3)."""
    return swing(mv(parent_rot, np.broadcast_to(rest_bone, target_dir.shape)), target_dir) @ parent_rot


def twist_angle(R: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Twist of rotation R about a unit ``axis`` (swing-twist decomposition). → (...,) radians."""
    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat().reshape(R.shape[:-2] + (4,))
    proj = np.sum(q[..., :3] * axis, axis=-1)
    return 2.0 * np.arctan2(proj, q[..., 3])


def kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rigid fit ``dst ≈ R src + t``. src (N, 3) or (..., N, 3); dst (..., N, 3); weights (..., N).

    Returns R (..., 3, 3), t (..., 3).
    """
    src = np.broadcast_to(src, dst.shape)
    w = np.ones(dst.shape[:-1]) if weights is None else weights
    w = w[..., None] / np.maximum(w.sum(-1)[..., None, None], EPS)
    cs, cd = (w * src).sum(-2), (w * dst).sum(-2)
    H = np.einsum("...ni,...nj->...ij", w * (src - cs[..., None, :]), dst - cd[..., None, :])
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    D = np.zeros(H.shape)
    D[..., 0, 0] = 1.0
    D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    R = np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)
    return R, cd - mv(R, cs)


def clamp_angle(R: np.ndarray, max_angle: np.ndarray | float) -> np.ndarray:
    """Scale each rotation's angle down to at most ``max_angle`` radians. (..., 3, 3) → (..., 3, 3)."""
    rv = to_rotvec(R)
    ang = np.linalg.norm(rv, axis=-1, keepdims=True)
    scale = np.minimum(1.0, np.asarray(max_angle)[..., None] / np.maximum(ang, EPS))
    if np.all(scale >= 1.0):
        return R
    return axis_angle(rv * scale)


def to_rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 3) axis-angle."""
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(R.shape[:-2] + (3,))


def to_quat(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 4) quaternions x, y, z, w (scipy order)."""
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat().reshape(R.shape[:-2] + (4,))


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) x, y, z, w → (..., 3, 3)."""
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(q.shape[:-1] + (3, 3))


def rotvec_to_matrix(rv: np.ndarray) -> np.ndarray:
    """(..., 3) → (..., 3, 3)."""
    return axis_angle(rv)
