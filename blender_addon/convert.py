"""SMPL-X (Y-up) ↔ Blender armature (Z-up): what is specific to Blender. Pure numpy, no bpy.

Conventions:

* The engine is SMPL-X / AMASS: Y up, metres. The armature object has an identity transform and
  its data is Z-up: a point maps by ``C`` (``(x, y, z)_Yup → (x, -z, y)_Zup``).
* A joint's SMPL-X local rotation ``L_j`` (joint 0 = root orientation in the world) becomes the pose
  bone's basis rotation ``B_j^T · (C L_j C^T) · B_j`` where ``B_j`` is the 3×3 of
  ``bone.matrix_local`` (the bone's rest orientation in armature space), for every bone including
  the root. With ``M_j = B_j^T C`` this is a conjugation ``M_j L_j M_j^T``; on a quaternion
  ``(v, w)`` it is simply ``(M_j v, w)``, which is what :func:`bone_basis_quats` computes.
* The root bone's ``location`` (bone-local) is ``B_0^T · C · (pelvis_world − armature_pelvis)``
  with ``pelvis_world = trans + rest_pelvis`` (SMPL convention).
* Quaternions are ``(x, y, z, w)`` as everywhere in the engine; the rotation maths is
  ``inference.core.rotations``. Blender's own API is w-first (``pose_bone.rotation_quaternion``,
  F-curve index 0 = w): :func:`to_blender_wxyz` / :func:`from_blender_wxyz` convert where values
  are handed to or read from bpy, and nowhere else.
"""
from __future__ import annotations

import numpy as np

from ..inference.core.skeleton import Y_UP_TO_Z_UP

#: (3, 3) float64 Y-up → Z-up point map: (x, y, z) → (x, -z, y) (the engine's one definition).
C = Y_UP_TO_Z_UP


# ------------------------------------------------------------------------------ the bpy boundary
def to_blender_wxyz(q: np.ndarray) -> np.ndarray:
    """Engine quaternions → Blender's component order. (..., 4) x, y, z, w → (..., 4) w, x, y, z."""
    q = np.asarray(q)
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


def from_blender_wxyz(q: np.ndarray) -> np.ndarray:
    """Blender's quaternions → the engine's order. (..., 4) w, x, y, z → (..., 4) x, y, z, w."""
    q = np.asarray(q)
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


# ------------------------------------------------------------------------------ points
def points_to_blender(p: np.ndarray) -> np.ndarray:
    """Y-up → Z-up points. p: (..., 3) → (..., 3) float64."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def points_from_blender(p: np.ndarray) -> np.ndarray:
    """Z-up → Y-up points (inverse of :func:`points_to_blender`). (..., 3) → (..., 3) float64."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


# ------------------------------------------------------------------------------ bone bases
def _bone_maps(bone_rest: np.ndarray) -> np.ndarray:
    """``M_j = B_j^T C``. bone_rest: (J, 3, 3) → (J, 3, 3) float64."""
    return np.swapaxes(np.asarray(bone_rest, dtype=np.float64), -1, -2) @ C


def bone_basis_quats(local_rot_quat: np.ndarray, bone_rest: np.ndarray) -> np.ndarray:
    """SMPL-X local rotations → pose-bone basis rotations ``B^T C L C^T B``.

    local_rot_quat: (T, J, 4) x, y, z, w Y-up local rotations (joint 0 in the world); bone_rest:
    (J, 3, 3) rest orientation of each bone in armature space (``bone.matrix_local.to_3x3()``).
    Returns (T, J, 4) float64 x, y, z, w. The sign of each quaternion is kept (w is unchanged).
    """
    q = np.asarray(local_rot_quat, dtype=np.float64)
    v = np.einsum("jab,tjb->tja", _bone_maps(bone_rest), q[..., :3])
    return np.concatenate([v, q[..., 3:]], axis=-1)


def blender_to_local_quats(basis_quat: np.ndarray, bone_rest: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bone_basis_quats`: ``L = C^T B Q B^T C``.

    basis_quat: (T, J, 4) x, y, z, w pose-bone basis rotations; bone_rest: (J, 3, 3).
    Returns (T, J, 4) float64 x, y, z, w Y-up local rotations.
    """
    q = np.asarray(basis_quat, dtype=np.float64)
    v = np.einsum("jba,tjb->tja", _bone_maps(bone_rest), q[..., :3])
    return np.concatenate([v, q[..., 3:]], axis=-1)


def root_locations(trans: np.ndarray, rest_pelvis: np.ndarray, bone_rest0: np.ndarray,
                   armature_pelvis: np.ndarray | None = None) -> np.ndarray:
    """Root bone ``location`` values: ``B_0^T C (trans + rest_pelvis − armature_pelvis)``.

    trans: (T, 3) or (3,) SMPL translation; rest_pelvis: (3,) Y-up rest pelvis of the motion
    (``rest_joints[0]``, so ``pelvis_world = trans + rest_pelvis``); bone_rest0: (3, 3) root bone
    rest orientation; armature_pelvis: (3,) Y-up rest head of the armature's root bone (default:
    ``rest_pelvis``, i.e. the armature was built from the same rest skeleton). Returns (T, 3) or (3,).
    """
    return _pelvis_offset(trans, rest_pelvis, armature_pelvis) @ _bone_maps(bone_rest0).T


def _pelvis_offset(trans: np.ndarray, rest_pelvis: np.ndarray, armature_pelvis: np.ndarray | None) -> np.ndarray:
    """Y-up pelvis position relative to the armature's rest pelvis: ``trans + rest_pelvis − armature_pelvis``."""
    rest_pelvis = np.asarray(rest_pelvis, dtype=np.float64)
    arm = rest_pelvis if armature_pelvis is None else np.asarray(armature_pelvis, dtype=np.float64)
    return np.asarray(trans, dtype=np.float64) + (rest_pelvis - arm)


def trans_from_root_locations(loc: np.ndarray, rest_pelvis: np.ndarray, bone_rest0: np.ndarray,
                              armature_pelvis: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`root_locations`. loc: (T, 3) or (3,) → trans with the same shape."""
    return np.asarray(loc, dtype=np.float64) @ _bone_maps(bone_rest0) - _pelvis_offset(0.0, rest_pelvis, armature_pelvis)


def root_motion_locations(trans: np.ndarray, rest_pelvis: np.ndarray, bone_rest0: np.ndarray,
                          root_rest: np.ndarray, armature_pelvis: np.ndarray | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """With a root bone (parent of the pelvis, never rotated): the root carries the motion over the
    floor and the pelvis its height. Same inputs as :func:`root_locations` plus root_rest (3, 3),
    the root bone's rest orientation. Returns (pelvis location, root location), each (T, 3) or (3,)."""
    offset = _pelvis_offset(trans, rest_pelvis, armature_pelvis)
    ground, height = offset.copy(), np.zeros_like(offset)
    ground[..., 1], height[..., 1] = 0.0, offset[..., 1]
    return height @ _bone_maps(bone_rest0).T, ground @ _bone_maps(root_rest).T


def trans_from_root_motion(pelvis_loc: np.ndarray, root_loc: np.ndarray, rest_pelvis: np.ndarray,
                           bone_rest0: np.ndarray, root_rest: np.ndarray,
                           armature_pelvis: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`root_motion_locations` → trans (T, 3) or (3,)."""
    offset = np.asarray(pelvis_loc, np.float64) @ _bone_maps(bone_rest0) + np.asarray(root_loc, np.float64) @ \
        _bone_maps(root_rest)
    return offset - _pelvis_offset(0.0, rest_pelvis, armature_pelvis)


# ------------------------------------------------------------------------------ continuity, time
def continuous_quats(q: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Flip quaternion signs so that consecutive frames have a non-negative dot product.

    q: (T, J, 4); previous: optional (J, 4) quaternion of the frame before ``q[0]`` (to continue a
    chunk written earlier), in the same component order. Returns (T, J, 4) float64, each
    ``q[t, j]`` or ``-q[t, j]``. Vectorised: the sign of frame t is the running product of the
    signs of the consecutive dot products.
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


# ------------------------------------------------------------------------------ camera
#: OpenCV camera axes (x right, y down, z forward) → Blender's camera axes (x right, y up, looking along −z).
_CV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])
#: Sensor width of the cameras the add-on makes (Blender's default full frame), millimetres.
SENSOR_WIDTH_MM = 36.0


def camera_matrix_world(camera_to_world: np.ndarray) -> np.ndarray:
    """Blender camera object matrix for a capture's ``camera_to_world`` (4, 4) (OpenCV camera
    axes → Y-up world) → (4, 4) float64 in Blender's Z-up world."""
    C4 = np.eye(4)
    C4[:3, :3] = C
    return C4 @ np.asarray(camera_to_world, np.float64) @ _CV_TO_BLENDER_CAMERA


def camera_lens(K: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float]:
    """(lens mm, shift_x, shift_y) of a camera with horizontal sensor fit and
    :data:`SENSOR_WIDTH_MM` that images like pinhole intrinsics ``K`` (3, 3) pixels at ``size``
    (width, height). Blender's shifts are fractions of the width; a principal point right of /
    below the centre is a negative / positive shift."""
    K = np.asarray(K, np.float64)
    w, h = float(size[0]), float(size[1])
    return K[0, 0] * SENSOR_WIDTH_MM / w, (0.5 * w - K[0, 2]) / w, (K[1, 2] - 0.5 * h) / w
