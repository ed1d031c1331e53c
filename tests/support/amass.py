"""Real motion for round trips: the AMASS sample as SMPL-X local rotations facing the camera, and
the error measure the round-trip tests share."""
import numpy as np

from data_paths import AMASS
from inference.core import rotations as rot
from inference.core.skeleton import SMPLH_JOINTS


def amass_local_rotations():
    d = np.load(AMASS, allow_pickle=False)
    poses, trans = d["poses"], d["trans"]
    T = len(poses)
    rv = np.zeros((T, 55, 3))
    rv[:, :22] = poses[:, :66].reshape(T, 22, 3)
    rv[:, 25:55] = poses[:, 66:156].reshape(T, 30, 3)
    L = rot.axis_angle(rv)
    z_up_to_y_up = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
    L[:, 0] = z_up_to_y_up @ L[:, 0]
    fwd = L[0, 0] @ [0, 0, 1.0]
    face_camera = rot.axis_angle(np.array([0.0, -np.arctan2(fwd[0], fwd[2]), 0.0]))
    L[:, 0] = face_camera @ L[:, 0]
    root = trans @ z_up_to_y_up.T @ face_camera.T
    return L, root - root[0], float(d["mocap_framerate"])


def mpjpe_mm(a, b):
    a, b = a[:, SMPLH_JOINTS], b[:, SMPLH_JOINTS]
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return float(np.linalg.norm(a - b, axis=-1).mean() * 1000)


def solved_camera_joints(motion):
    return motion.camera_points(motion.joints, np.arange(len(motion.joints)))
