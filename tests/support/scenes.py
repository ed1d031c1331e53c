"""Synthetic inputs shared by several test files: rotations with the special cases the closed forms
must survive, and real motion (AMASS) posed in front of a camera."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from inference.core.records import Camera
from inference.core.skeleton import DEFAULT_REST
from support.amass import amass_local_rotations
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera


def random_rotations(n: int = 400, seed: int = 0) -> np.ndarray:
    """(n + 8, 3, 3): random rotations plus identity, half turns and near-identity / near-π ones."""
    special = np.array([[0, 0, 0], [np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi], [1e-9, 0, 0],
                        [0, np.pi - 1e-6, 0], [2.0, 1.0, 0.3], [np.pi / np.sqrt(2), np.pi / np.sqrt(2), 0]])
    return np.concatenate([Rotation.random(n, random_state=seed).as_matrix(),
                           Rotation.from_rotvec(special).as_matrix()])


def amass_camera_scene() -> tuple[Camera, np.ndarray, np.ndarray, np.ndarray]:
    """The AMASS sample on the default skeleton, 3.5 m in front of a 1280 × 720 camera (60° field
    of view), at 30 fps: camera, global rotations (T, 55, 3, 3), joints (T, 55, 3), times (T,)."""
    L, root, fps = amass_local_rotations()
    cam = Camera.from_fov(1280, 720, 60.0)
    G, joints = pose_in_camera(L, root + DEFAULT_REST[0], DEFAULT_REST, WORLD_TO_CAMERA, np.array([0.0, 1.0, 3.5]))
    every = np.arange(0, len(L), 4)                                              # 120 fps → 30 fps
    return cam, G[every], joints[every], every / fps
