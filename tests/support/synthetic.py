"""What the detector would report for a known SMPL-X motion: synthetic detections for round trips.

A posed skeleton is seen by a pinhole camera; its landmarks (the landmark model of
:mod:`inference.core.layout`) become a :class:`DetectionSeq` in exactly the detector's layout and
conventions — pixels with confidence, MediaPipe-style relative depths for the hands, metric
hip-centred body landmarks — optionally with Gaussian noise on the 3D landmark positions.
"""
from __future__ import annotations

import numpy as np

from inference.body.landmarks import LANDMARK_JOINT, landmark_offsets, landmarks_from_pose
from inference.core.records import Camera, DetectionSeq
from inference.core.skeleton import bone_vectors, forward_kinematics, local_to_global

#: Y-up world (AMASS/SMPL-X) → camera axes (x right, y down, z away) for a camera looking along −Z.
WORLD_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def pose_in_camera(local_rot: np.ndarray, root_pos_world: np.ndarray, rest: np.ndarray,
                   cam_from_world: np.ndarray, cam_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose a skeleton and express it in a camera frame.

    local_rot: (T, 55, 3, 3) local rotations (root = world orientation); root_pos_world: (T, 3);
    rest: (55, 3); cam_from_world: (3, 3) rotation; cam_t: (3,) so that x_cam = R x_world + t.
    Returns global rotations (T, 55, 3, 3) and joints (T, 55, 3) in the camera frame.
    """
    G = cam_from_world @ local_to_global(local_rot)
    root = root_pos_world @ cam_from_world.T + cam_t
    return G, forward_kinematics(G, bone_vectors(rest), root)


def render_detections(G: np.ndarray, joints: np.ndarray, rest: np.ndarray, camera: Camera,
                      times: np.ndarray, noise_m: float = 0.0, seed: int = 0) -> DetectionSeq:
    """Synthetic detections of a camera-frame pose. G (T, 55, 3, 3); joints (T, 55, 3); times (T,).

    Noise: i.i.d. Gaussian with ``noise_m`` metres per axis on every 3D landmark, seen consistently
    by the 2D keypoints, the metric landmarks and the relative depths. Both hands and the body are
    present; the face is absent (no face mesh is synthesised).
    """
    T = len(times)
    lm = landmarks_from_pose(G, joints, landmark_offsets(rest))  # (T, 75, 3)
    if noise_m > 0:
        lm = lm + np.random.default_rng(seed).normal(0.0, noise_m, lm.shape)
    K = camera.K
    uv = lm[..., :2] / lm[..., 2:3] * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]
    kp2d = np.zeros((T, 553, 3), np.float32)
    kpz = np.zeros((T, 553), np.float32)
    kp2d[:, :75, :2], kp2d[:, :75, 2] = uv, 1.0
    f = K[0, 0]
    for start in (33, 54):  # hands: MediaPipe z is depth relative to the wrist, in x's scale
        z = lm[:, start:start + 21, 2]
        kpz[:, start:start + 21] = (z - z[:, :1]) * f / z[:, :1]
    hip_mid = 0.5 * (lm[:, 23] + lm[:, 24])
    world = (lm[:, :33] - hip_mid[:, None]).astype(np.float32)
    present = np.zeros((T, 4), bool)
    present[:, :3] = True
    return DetectionSeq(times=np.asarray(times, np.float64), image_size=camera.size, kp2d=kp2d,
                        kpz=kpz, world=world, present=present)


__all__ = ["WORLD_TO_CAMERA", "pose_in_camera", "render_detections", "LANDMARK_JOINT"]
