"""The batch path's joint least-squares refinement (inference.body.refine) on real motion (AMASS poses):
its normal equations against a finite-difference Jacobian, an exact pose is a fixed point, frozen
joints stay, and on noisy landmarks it lands closer to the true pose than the analytic solve."""
import numpy as np
import pytest

from inference.body import refine
from inference.body.landmarks import landmarks_from_pose
from inference.body.solve import limit_pose, solve_skeleton
from inference.body.subject import Subject
from inference.core import rotations as rot
from inference.core.skeleton import (DEFAULT_REST, NUM_JOINTS, PARENTS, SMPLH_JOINTS, forward_kinematics,
                                     local_to_global)
from support.amass import amass_local_rotations
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera

SUBJECT = Subject.from_rest(DEFAULT_REST)


@pytest.fixture(scope="module")
def poses():
    """(T, 55, 3, 3) global rotations and (T, 55, 3) joints of every 10th AMASS frame, 3.5 m in
    front of a camera."""
    L, root, _ = amass_local_rotations()
    G, joints = pose_in_camera(L[::10], root[::10] + DEFAULT_REST[0], DEFAULT_REST, WORLD_TO_CAMERA,
                               np.array([0.0, 1.0, 3.5]))
    return G, joints


def _turn(G, root, x):
    """The refinement's update: x (3 A + 3,) world rotation vectors of the active joints, then the
    root translation. Returns landmarks (75, 3)."""
    A = len(refine.ACTIVE)
    d = x[:3 * A].reshape(A, 3)
    local = np.concatenate([G[:, :1], rot.transpose(G[:, PARENTS[1:]]) @ G[:, 1:]], axis=1)
    for k, j in enumerate(refine.ACTIVE):
        Gp = np.eye(3) if j == 0 else G[0, PARENTS[j]]
        local[0, j] = Gp.T @ rot.axis_angle(d[k]) @ G[0, j]
    G2 = local_to_global(local)
    P = forward_kinematics(G2, SUBJECT.bones, root + x[3 * A:])
    return landmarks_from_pose(G2, P, SUBJECT.offsets)[0]


def test_normal_equations_match_finite_differences(poses):
    G, joints = poses[0][3:4], poses[1][3:4]
    rng = np.random.default_rng(0)
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets) + rng.normal(0, 0.02, (1, 75, 3))
    w = rng.uniform(0.0, 1.0, (1, 75))
    L = landmarks_from_pose(G, joints, SUBJECT.offsets)
    H, g = refine._normal_equations(joints, L, L - Q, w)
    n = 3 * len(refine.ACTIVE) + 3
    h = 1e-6
    Jn = np.stack([(_turn(G, joints[:, 0], h * e) - _turn(G, joints[:, 0], -h * e)).ravel() / (2 * h)
                   for e in np.eye(n)], axis=1)                                       # (225, n)
    Wr = np.repeat(w[0], 3)
    np.testing.assert_allclose(H[0], Jn.T @ (Wr[:, None] * Jn), atol=1e-6)
    np.testing.assert_allclose(g[0], Jn.T @ (Wr * (L - Q)[0].ravel()), atol=1e-7)


def test_exact_pose_is_a_fixed_point(poses):
    G, joints = poses
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets)
    w = np.ones(Q.shape[:2])
    G2, J2 = refine.refine_pose(G, joints[:, 0], Q, w, np.zeros((len(G), NUM_JOINTS), bool), SUBJECT)
    # (the joint limits still apply: a few AMASS frames straighten a knee a little past them)
    np.testing.assert_allclose(J2, forward_kinematics(limit_pose(G), SUBJECT.bones, joints[:, 0]), atol=1e-6)


def test_frozen_joints_keep_their_rotations(poses):
    G, joints = poses
    rng = np.random.default_rng(1)
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets) + rng.normal(0, 0.01, (len(G), 75, 3))
    frozen = np.zeros((len(G), NUM_JOINTS), bool)
    frozen[:, 25:40] = True                       # the left hand's fingers
    frozen[:, 0] = True                           # and the root
    G2, J2 = refine.refine_pose(G, joints[:, 0], Q, np.ones((len(G), 75)), frozen, SUBJECT)
    local = lambda R: rot.transpose(R[:, PARENTS[25:40]]) @ R[:, 25:40]  # noqa: E731
    assert np.degrees(np.abs(rot.to_rotvec(rot.transpose(local(G)) @ local(G2))).max()) < 0.1
    np.testing.assert_allclose(J2[:, 0], joints[:, 0], atol=1e-4)
    assert np.degrees(np.arccos(np.clip((np.trace(rot.transpose(G[:, 0]) @ G2[:, 0], axis1=1, axis2=2) - 1) / 2,
                                        -1, 1))).max() < 0.1


def test_refinement_beats_the_analytic_solve_on_noisy_landmarks(poses):
    """10 mm of landmark noise (per axis): the skeleton fitted to all landmarks at once lands
    closer to the true joints than the bone-by-bone analytic solve, and fits the landmarks better."""
    G, joints = poses
    rng = np.random.default_rng(2)
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets) + rng.normal(0, 0.01, (len(G), 75, 3))
    W = np.ones((len(G), 75))
    hand_ok = np.ones((len(G), 2), bool)
    pose = solve_skeleton(Q, W, hand_ok, SUBJECT)
    w, frozen = refine.weights_and_frozen(W, hand_ok)
    G2, J2 = refine.refine_pose(pose.G, pose.joints[:, 0], Q, w, frozen, SUBJECT)

    def err(J):
        return np.linalg.norm(J[:, SMPLH_JOINTS] - joints[:, SMPLH_JOINTS], axis=-1).mean() * 1000

    def fit(Gx, Jx):
        return np.linalg.norm(landmarks_from_pose(Gx, Jx, SUBJECT.offsets) - Q, axis=-1).mean() * 1000
    print(f"analytic {err(pose.joints):.1f} mm, refined {err(J2):.1f} mm; landmark fit "
          f"{fit(pose.G, pose.joints):.1f} → {fit(G2, J2):.1f} mm")
    assert err(J2) < 0.9 * err(pose.joints)
    assert fit(G2, J2) < fit(pose.G, pose.joints)


def test_weights_drop_unseen_legs_and_hands_and_freeze_what_they_moved():
    W = np.ones((2, 75))
    W[1, [25, 27]] = 0.2                          # frame 1: left knee and ankle barely seen
    W[:, [23, 24]] = [[1.0, 1.0], [0.0, 0.0]]     # frame 1: no hips
    hand_ok = np.array([[True, False], [True, True]])
    w, frozen = refine.weights_and_frozen(W, hand_ok)
    assert (w[0, 54:75] == 0).all() and (w[0, 33:54] == 1).all()
    assert frozen[0, 40:55].all() and not frozen[0, 25:40].any()
    assert (w[1, [25, 27, 29, 31]] == 0).all() and (w[1, [26, 28, 30, 32]] == 1).all()
    assert frozen[1, [1, 4, 7, 10]].all() and not frozen[1, [2, 5, 8, 11]].any()
    assert frozen[1, 0] and not frozen[0, 0]
