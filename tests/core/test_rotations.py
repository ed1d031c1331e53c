"""The closed-form rotation maths (inference.core.rotations) against scipy and SVD references."""
import numpy as np
from scipy.spatial.transform import Rotation

from inference.core import rotations as rot
from support.scenes import random_rotations


def test_conversions_match_scipy():
    R = random_rotations()
    ref = Rotation.from_matrix(R)
    np.testing.assert_allclose(rot.to_quat(R), ref.as_quat(), atol=1e-12)        # same sign too
    np.testing.assert_allclose(rot.to_rotvec(R), ref.as_rotvec(), atol=1e-9)
    q = ref.as_quat() * 3.0                                                      # any norm
    np.testing.assert_allclose(rot.quat_to_matrix(q), R, atol=1e-12)
    rv = np.random.default_rng(1).normal(size=(200, 3)) * 1.5
    np.testing.assert_allclose(rot.axis_angle(rv), Rotation.from_rotvec(rv).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.axis_angle(np.zeros(3)), np.eye(3))
    assert rot.to_quat(R.reshape(2, -1, 3, 3)).shape == (2, len(R) // 2, 4)
    away = ref.magnitude() < np.pi - 1e-3
    np.testing.assert_allclose(rot.to_rotvec_fast(R[away]), ref.as_rotvec()[away], atol=1e-9)


def test_twist_is_the_canonical_swing_twist_angle():
    R = random_rotations(seed=2)
    axis = rot.normalize(np.random.default_rng(3).normal(size=(len(R), 3)))
    q = Rotation.from_matrix(R).as_quat()
    q = q * np.where(q[:, 3:] < 0.0, -1.0, 1.0)                                  # w ≥ 0
    ref = 2.0 * np.arctan2((q[:, :3] * axis).sum(-1), q[:, 3])
    diff = np.angle(np.exp(1j * (rot.twist_angle(R, axis) - ref)))              # modulo 2π (half turns)
    assert np.abs(diff).max() < 1e-6
    tw = rot.twist_angle(Rotation.from_rotvec(axis[:50] * 0.7).as_matrix(), axis[:50])
    np.testing.assert_allclose(tw, 0.7, atol=1e-12)                             # a pure twist


def test_swing_cross_and_frames():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    np.testing.assert_allclose(rot.cross(a, b), np.cross(a, b), atol=1e-12)
    S = rot.swing(a, b)
    np.testing.assert_allclose(rot.mv(S, rot.normalize(a)), rot.normalize(b), atol=1e-12)
    np.testing.assert_allclose(S @ np.swapaxes(S, -1, -2), np.broadcast_to(np.eye(3), S.shape), atol=1e-12)
    # minimal: the rotation axis is a × b, the angle the one between a and b
    ref = Rotation.from_rotvec(rot.normalize(np.cross(a, b))
                               * np.arccos(np.clip((rot.normalize(a) * rot.normalize(b)).sum(-1), -1, 1))[:, None])
    np.testing.assert_allclose(S, ref.as_matrix(), atol=1e-9)
    # antiparallel: a half turn taking a onto -a; a zero direction: identity
    e = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 0]])
    S = rot.swing(e, np.array([[-1.0, 0, 0], [0, 0, -2.0], [1.0, 0, 0]]))
    np.testing.assert_allclose(rot.mv(S[:2], e[:2]), -e[:2], atol=1e-12)
    np.testing.assert_allclose(S[2], np.eye(3))
    F = rot.frame_from(a, b)
    np.testing.assert_allclose(np.linalg.det(F), 1.0, atol=1e-12)
    np.testing.assert_allclose(F[..., 0], rot.normalize(a), atol=1e-12)


def _svd_kabsch(src, dst, w):
    """Reference: the weighted SVD solution with its reflection fix, frame by frame."""
    out = []
    for d, wt in zip(dst, w):
        wt = wt / wt.sum()
        cs, cd = wt @ src, wt @ d
        U, _, Vt = np.linalg.svd((src - cs).T @ (wt[:, None] * (d - cd)))
        D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
        out.append(Vt.T @ D @ U.T)
    return np.array(out)


def test_kabsch_matches_svd_solution():
    rng = np.random.default_rng(5)
    src = rng.normal(size=(11, 3)) * 0.1
    R_true = Rotation.random(20, random_state=6).as_matrix()
    dst = np.einsum("tij,nj->tni", R_true, src) + rng.normal(size=(20, 1, 3)) + rng.normal(size=(20, 11, 3)) * 0.01
    w = rng.uniform(0.1, 1.0, size=(20, 11))
    R, t = rot.kabsch(src, dst, w)
    np.testing.assert_allclose(R, _svd_kabsch(src, dst, w), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    resid = dst - (np.einsum("tij,nj->tni", R, src) + t[:, None])
    assert np.abs(resid).max() < 0.05
