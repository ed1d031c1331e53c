"""SMPL-X (Y-up) ↔ Blender armature (Z-up) conversions. Pure numpy, no bpy, no scipy.

Conventions:

* The engine is SMPL-X / AMASS: Y up, metres. The armature object has an identity transform and
  its data is Z-up: a point maps by ``C`` (``(x, y, z)_Yup → (x, -z, y)_Zup``).
* A joint's SMPL-X local rotation ``L_j`` (joint 0 = root orientation in the world) becomes the pose
  bone's basis rotation ``B_j^T · (C L_j C^T) · B_j`` where ``B_j`` is the 3×3 of
  ``bone.matrix_local`` (the bone's rest orientation in armature space), for every bone including
  the root. With ``M_j = B_j^T C`` this is a conjugation ``M_j L_j M_j^T``; on a quaternion
  ``(w, v)`` it is simply ``(w, M_j v)``, which is what :func:`bone_basis_quats` computes.
* The root bone's ``location`` (bone-local) is ``B_0^T · C · (pelvis_world − armature_pelvis)``
  with ``pelvis_world = trans + rest_pelvis`` (SMPL convention).
* Quaternions are ``(w, x, y, z)`` (Blender's order).
"""
from __future__ import annotations

import numpy as np

#: (3, 3) float64 Y-up → Z-up point map: (x, y, z) → (x, -z, y).
C = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

_EPS = 1e-12


# ------------------------------------------------------------------------------ points
def points_to_blender(p: np.ndarray) -> np.ndarray:
    """Y-up → Z-up points. p: (..., 3) → (..., 3) float64."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def points_from_blender(p: np.ndarray) -> np.ndarray:
    """Z-up → Y-up points (inverse of :func:`points_to_blender`). (..., 3) → (..., 3) float64."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


# ------------------------------------------------------------------------------ quaternion basics
def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b``. (..., 4) wxyz, (..., 4) wxyz (broadcast) → (..., 4)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions. (..., 4) → (..., 4) float64; a zero quaternion becomes the identity."""
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    ident = np.zeros_like(q)
    ident[..., 0] = 1.0
    return np.where(n > _EPS, q / np.maximum(n, _EPS), ident)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of (not necessarily unit) quaternions. (..., 4) wxyz → (..., 3, 3)."""
    w, x, y, z = np.moveaxis(quat_normalize(q), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (w ≥ 0) of rotation matrices. (..., 3, 3) → (..., 4) wxyz.

    Shepperd's method: each matrix uses the best-conditioned of the four formulas, so the result is
    accurate for every angle including π.
    """
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    cands = np.stack([
        np.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                  m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0],
                  m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22,
                  m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                  1 - m00 - m11 + m22], -1),
    ], axis=-2)                                                                  # (..., 4, 4)
    pick = np.argmax(np.stack([trace, m00, m11, m22], -1), axis=-1)              # (...,)
    q = np.take_along_axis(cands, pick[..., None, None], axis=-2)[..., 0, :]
    q = quat_normalize(q)
    return np.where(q[..., :1] < 0.0, -q, q)


# ------------------------------------------------------------------------------ axis-angle
def axis_angle_to_quats(aa: np.ndarray) -> np.ndarray:
    """Axis-angle vectors → unit quaternions (Rodrigues, half-angle form).

    aa: (..., 3) axis × angle (radians) → (..., 4) wxyz float64. Exact at 0 (``sin(θ/2)/θ`` is
    evaluated with ``np.sinc``) and well-conditioned up to and beyond π.
    """
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    scale = 0.5 * np.sinc(theta / (2.0 * np.pi))        # sin(θ/2) / θ
    return np.concatenate([np.cos(0.5 * theta), aa * scale], axis=-1)


def quats_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit quaternions → axis-angle with angle in [0, π]. (..., 4) wxyz → (..., 3) float64.

    Uses ``θ = 2·atan2(|v|, w)`` on the w ≥ 0 hemisphere: accurate near 0 (``θ/|v| → 2/w``) and
    near π (``w → 0``).
    """
    q = quat_normalize(q)
    q = np.where(q[..., :1] < 0.0, -q, q)
    w, v = q[..., :1], q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    theta = 2.0 * np.arctan2(s, w)
    small = s < 1e-8
    factor = np.where(small, 2.0 / np.maximum(w, _EPS), theta / np.where(small, 1.0, s))
    return v * factor


def poses_to_quats(poses: np.ndarray) -> np.ndarray:
    """SMPL-X axis-angle poses → local quaternions. poses: (T, 3J) (J = 55: (T, 165)) → (T, J, 4)."""
    poses = np.asarray(poses, dtype=np.float64)
    return axis_angle_to_quats(poses.reshape(poses.shape[0], -1, 3))


def quats_to_poses(quats: np.ndarray) -> np.ndarray:
    """Inverse of :func:`poses_to_quats`. (T, J, 4) wxyz → (T, 3J) float64 axis-angle."""
    quats = np.asarray(quats)
    return quats_to_axis_angle(quats).reshape(quats.shape[0], -1)


# ------------------------------------------------------------------------------ bone bases
def _bone_maps(bone_rest: np.ndarray) -> np.ndarray:
    """``M_j = B_j^T C``. bone_rest: (J, 3, 3) → (J, 3, 3) float64."""
    return np.swapaxes(np.asarray(bone_rest, dtype=np.float64), -1, -2) @ C


def bone_basis_quats(local_rot_quat: np.ndarray, bone_rest: np.ndarray) -> np.ndarray:
    """SMPL-X local rotations → pose-bone basis rotations ``B^T C L C^T B``.

    local_rot_quat: (T, J, 4) wxyz Y-up local rotations (joint 0 in the world); bone_rest:
    (J, 3, 3) rest orientation of each bone in armature space (``bone.matrix_local.to_3x3()``).
    Returns (T, J, 4) float64 wxyz. The sign of each quaternion is kept (w is unchanged).
    """
    q = np.asarray(local_rot_quat, dtype=np.float64)
    m = _bone_maps(bone_rest)
    v = np.einsum("jab,tjb->tja", m, q[..., 1:])
    return np.concatenate([q[..., :1], v], axis=-1)


def blender_to_local_quats(basis_quat: np.ndarray, bone_rest: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bone_basis_quats`: ``L = C^T B Q B^T C``.

    basis_quat: (T, J, 4) wxyz pose-bone basis rotations; bone_rest: (J, 3, 3).
    Returns (T, J, 4) float64 wxyz Y-up local rotations.
    """
    q = np.asarray(basis_quat, dtype=np.float64)
    m = _bone_maps(bone_rest)
    v = np.einsum("jba,tjb->tja", m, q[..., 1:])
    return np.concatenate([q[..., :1], v], axis=-1)


def root_locations(trans: np.ndarray, rest_pelvis: np.ndarray, bone_rest0: np.ndarray,
                   armature_pelvis: np.ndarray | None = None) -> np.ndarray:
    """Root bone ``location`` values: ``B_0^T C (trans + rest_pelvis − armature_pelvis)``.

    trans: (T, 3) or (3,) SMPL translation; rest_pelvis: (3,) Y-up rest pelvis of the motion
    (``rest_joints[0]``, so ``pelvis_world = trans + rest_pelvis``); bone_rest0: (3, 3) root bone
    rest orientation; armature_pelvis: (3,) Y-up rest head of the armature's root bone (default:
    ``rest_pelvis``, i.e. the armature was built from the same rest skeleton). Returns (T, 3) or (3,).
    """
    trans = np.asarray(trans, dtype=np.float64)
    rest_pelvis = np.asarray(rest_pelvis, dtype=np.float64)
    arm = rest_pelvis if armature_pelvis is None else np.asarray(armature_pelvis, dtype=np.float64)
    offset = trans + (rest_pelvis - arm)
    return offset @ _bone_maps(bone_rest0).T


def trans_from_root_locations(loc: np.ndarray, rest_pelvis: np.ndarray, bone_rest0: np.ndarray,
                              armature_pelvis: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`root_locations`. loc: (T, 3) or (3,) → trans with the same shape."""
    loc = np.asarray(loc, dtype=np.float64)
    rest_pelvis = np.asarray(rest_pelvis, dtype=np.float64)
    arm = rest_pelvis if armature_pelvis is None else np.asarray(armature_pelvis, dtype=np.float64)
    return loc @ _bone_maps(bone_rest0) - (rest_pelvis - arm)


# ------------------------------------------------------------------------------ continuity, time
def continuous_quats(q: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Flip quaternion signs so that consecutive frames have a non-negative dot product.

    q: (T, J, 4); previous: optional (J, 4) quaternion of the frame before ``q[0]`` (to continue a
    chunk written earlier). Returns (T, J, 4) float64, each ``q[t, j]`` or ``-q[t, j]``. Vectorised:
    the sign of frame t is the running product of the signs of the consecutive dot products.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[0] == 0:
        return q.copy()
    first = np.ones(q.shape[1:-1])
    if previous is not None:
        first = np.where(np.sum(q[0] * np.asarray(previous, dtype=np.float64), -1) < 0.0, -1.0, 1.0)
    step = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0.0, -1.0, 1.0)        # (T-1, J)
    sign = np.cumprod(np.concatenate([first[None], step], axis=0), axis=0)     # (T, J)
    return q * sign[..., None]


def times_to_frames(times: np.ndarray, fps: float, fps_base: float = 1.0, frame_start: float = 1.0,
                    t0: float = 0.0) -> np.ndarray:
    """Real timestamps → (fractional) scene frames, one key per captured frame, no rounding.

    times: (T,) seconds (the engine's ``frame_times``, relative to the first frame); fps,
    fps_base: the scene's ``render.fps`` / ``render.fps_base`` (rate = fps / fps_base);
    frame_start: the frame of time ``t0``. Returns (T,) float64 ``frame_start + (times − t0)·fps/fps_base``.
    """
    if fps <= 0 or fps_base <= 0:
        raise ValueError(f"fps={fps}, fps_base={fps_base}: both must be positive (use the scene's render settings)")
    times = np.asarray(times, dtype=np.float64)
    return float(frame_start) + (times - float(t0)) * (float(fps) / float(fps_base))


def frames_to_times(frames: np.ndarray, fps: float, fps_base: float = 1.0, frame_start: float = 1.0,
                    t0: float = 0.0) -> np.ndarray:
    """Inverse of :func:`times_to_frames`. (T,) → (T,) float64 seconds."""
    frames = np.asarray(frames, dtype=np.float64)
    return float(t0) + (frames - float(frame_start)) * (float(fps_base) / float(fps))
