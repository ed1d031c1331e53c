"""Lifting detections to camera-space targets (inference.body.lift): the root translation that best
projects a 3D estimate onto the 2D keypoints, against a plain least-squares solve."""
import numpy as np

from inference.body import lift
from inference.core.records import Camera


def test_solve_translation_matches_least_squares():
    rng = np.random.default_rng(11)
    cam = Camera.from_fov(1280, 720, 60.0)
    X = rng.normal(size=(6, 33, 3)) * 0.4
    t_true = np.array([0.1, -0.2, 3.0]) + rng.normal(size=(6, 3)) * 0.2
    P = X + t_true[:, None]
    uv = P[..., :2] / P[..., 2:] * cam.K[0, 0] + cam.K[:2, 2] + rng.normal(size=(6, 33, 2))
    w = rng.uniform(0.0, 1.0, size=(6, 33))
    t = lift.solve_translation(X, uv, w, cam)
    f, c = cam.K[0, 0], cam.K[:2, 2]
    for k in range(6):                                  # the pinhole equations, weighted, by lstsq
        d = uv[k] - c
        A = np.concatenate([np.stack([np.full(33, f), np.zeros(33), -d[:, 0]], -1),
                            np.stack([np.zeros(33), np.full(33, f), -d[:, 1]], -1)])
        b = np.concatenate([d[:, 0] * X[k, :, 2] - f * X[k, :, 0], d[:, 1] * X[k, :, 2] - f * X[k, :, 1]])
        sw = np.sqrt(np.concatenate([w[k], w[k]]))[:, None]
        np.testing.assert_allclose(t[k], np.linalg.lstsq(A * sw, b * sw[:, 0], rcond=None)[0], atol=1e-9)
    np.testing.assert_allclose(t, t_true, atol=0.05)
