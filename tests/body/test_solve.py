"""The skeleton solver (inference.body.solve) and its compiled twin (solve_numba), each test run
over both backends (``backend``, tests/body/conftest.py): joint limits against their definition,
the collars' scapulohumeral rhythm, exact recovery of what exact landmarks determine, and the
fallbacks for what the detector does not see."""
import numpy as np
import pytest

from inference.body.landmarks import landmarks_from_pose
from inference.body.subject import Subject
from inference.body.tables import (ANKLE, COLLAR_PROTRACTION, FINGER_JOINTS, FOOT, HIP, KNEE, KNEE_HYPEREXTENSION,
                                   LEG_VISIBLE, LM_ANKLE, LM_KNEE, MAX_ANGLE, NUM_TORSO, WRIST)
from inference.core import rotations as rot
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX as J, PARENTS, global_to_local, local_to_global
from support.scenes import amass_camera_scene

SUBJECT = Subject.from_rest(DEFAULT_REST)


@pytest.fixture(scope="module")
def exact_targets():
    """Every 24th frame of the AMASS scene (21 poses) and its exact landmarks, all seen:
    G (T, 55, 3, 3), joints (T, 55, 3), Q (T, 75, 3), W (T, 75), hand_ok (T, 2)."""
    _, G, joints, _ = amass_camera_scene()
    G, joints = G[::6], joints[::6]
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets)
    return G, joints, Q, np.ones(Q.shape[:2]), np.ones((len(Q), 2), bool)


# --------------------------------------------------------------------------------------------
# joint limits
# --------------------------------------------------------------------------------------------
def _random_pose(T: int, scale: float, seed: int) -> np.ndarray:
    return local_to_global(rot.axis_angle(np.random.default_rng(seed).normal(size=(T, 55, 3)) * scale))


def _limit_reference(G: np.ndarray) -> np.ndarray:
    """Joint limits by definition: every local rotation vector clamped, the whole chain rebuilt."""
    rv = rot.to_rotvec(global_to_local(G))
    rv[:, KNEE, 0] = np.maximum(rv[:, KNEE, 0], -KNEE_HYPEREXTENSION)
    ang = np.linalg.norm(rv, axis=-1, keepdims=True)
    rv = rv * np.minimum(1.0, MAX_ANGLE[:, None] / np.maximum(ang, 1e-9))
    return local_to_global(rot.axis_angle(rv))


@pytest.mark.parametrize("scale", [0.3, 1.2])   # mostly within the limits / many joints beyond them
def test_limit_pose_matches_its_definition(backend, scale):
    G = _random_pose(40, scale, 9)
    # knees bent backwards on half the frames: the hyperextension clamp
    knee_local = rot.axis_angle(np.array([-0.8, 0.05, 0.0]))
    G[::2, KNEE] = G[::2][:, PARENTS[KNEE]] @ knee_local
    out = backend.limit_pose(G)
    np.testing.assert_allclose(out, _limit_reference(G), atol=1e-9)
    local = rot.to_rotvec(global_to_local(out))
    assert (np.linalg.norm(local, axis=-1) <= MAX_ANGLE + 1e-9).all()
    assert (local[:, KNEE, 0] >= -KNEE_HYPEREXTENSION - 1e-9).all()
    within = backend.limit_pose(_random_pose(5, 0.05, 10))
    np.testing.assert_allclose(backend.limit_pose(within), within, atol=0)       # nothing to do


# --------------------------------------------------------------------------------------------
# the collars' scapulohumeral rhythm (the torso fit's prior for what the landmarks leave open)
# --------------------------------------------------------------------------------------------
def _shoulders_after(rig, params):
    """Collar parameters (4,) → where each shoulder moves (2, 3) when its collar turns by them."""
    x = np.zeros(NUM_TORSO)
    x[4:] = params
    v = (x @ rig.rv_map).reshape(3, 3)                       # spine, left collar, right collar
    bones = DEFAULT_REST[[J["left_shoulder"], J["right_shoulder"]]] - DEFAULT_REST[[J["left_collar"], J["right_collar"]]]
    return rot.mv(rot.axis_angle(v[1:]), bones) - bones


@pytest.mark.parametrize("arm, up_deg", [((0.0, -1.0, 0.0), -20.0),    # hanging: collars lowered
                                         ((1.0, 0.0, 0.0), 0.0),       # T-pose (SMPL-X rest)
                                         ((0.0, 1.0, 0.0), 30.0)])     # overhead
def test_rhythm_elevation_follows_inman(backend, arm, up_deg):
    rig = SUBJECT.rig
    a = np.array(arm)
    arms = np.stack([a, a * [-1.0, 1.0, 1.0]])[None]          # mirrored for the right side
    p = backend.collar_rhythm(np.eye(3)[None], arms, rig)[0]
    np.testing.assert_allclose(p[[0, 2]], np.radians(up_deg), atol=1e-9)
    np.testing.assert_allclose(p[[1, 3]], 0.0, atol=1e-9)
    moved = _shoulders_after(rig, p)
    assert np.all(np.sign(moved[:, 1]) == np.sign(up_deg))    # both shoulders go up / down alike


def test_rhythm_reaching_forward_protracts_both_shoulders(backend):
    rig = SUBJECT.rig
    arms = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    p = backend.collar_rhythm(np.eye(3)[None], arms, rig)[0]
    np.testing.assert_allclose(np.abs(p[[1, 3]]), COLLAR_PROTRACTION, atol=1e-9)
    assert (_shoulders_after(rig, p)[:, 2] > 0.01).all()       # both shoulders move forward


def test_rhythm_is_measured_in_the_chest_frame(backend):
    """A bowing chest carries hanging arms with it: the prior does not change."""
    rig = SUBJECT.rig
    chest = rot.axis_angle(np.array([[0.8, 0.0, 0.0]]))
    arms = rot.mv(chest[:, None], np.array([[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]))
    hanging = np.array([[[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]])
    np.testing.assert_allclose(backend.collar_rhythm(chest, arms, rig),
                               backend.collar_rhythm(np.eye(3)[None], hanging, rig), atol=1e-9)


# --------------------------------------------------------------------------------------------
# the whole solve
# --------------------------------------------------------------------------------------------
def test_exact_landmarks_give_back_the_legs_and_hands_exactly(backend, exact_targets):
    """What the landmarks determine is recovered exactly: the leg chains (hip, knee and ankle
    landmarks) and each hand's pose about its wrist (the hand landmarks)."""
    G, joints, Q, W, hand_ok = exact_targets
    pose = backend.solve_skeleton(Q, W, hand_ok, SUBJECT)
    legs = np.concatenate([HIP, KNEE, ANKLE])
    np.testing.assert_allclose(pose.joints[:, legs], joints[:, legs], atol=1e-9)
    about_wrist = lambda P: P[:, FINGER_JOINTS.reshape(2, -1)] - P[:, WRIST, None]  # noqa: E731
    np.testing.assert_allclose(about_wrist(pose.joints), about_wrist(joints), atol=1e-9)
    assert pose.G.shape == G.shape and pose.torso.shape == (len(G), NUM_TORSO)


def test_a_warm_start_from_the_solution_stays_there(backend, exact_targets):
    """torso_init: a fit started from a finished one's parameters stops where it is."""
    _, _, Q, W, hand_ok = exact_targets
    cold = backend.solve_skeleton(Q, W, hand_ok, SUBJECT)
    warm = backend.solve_skeleton(Q, W, hand_ok, SUBJECT, torso_init=cold.torso)
    np.testing.assert_allclose(warm.torso, cold.torso, atol=1e-6)
    np.testing.assert_allclose(warm.joints, cold.joints, atol=1e-6)
    none = backend.solve_skeleton(Q, W, hand_ok, SUBJECT, torso_init=cold.torso + 0.05, torso_iters=0)
    np.testing.assert_allclose(none.torso, cold.torso + 0.05, atol=0)              # no iteration: kept


def test_a_leg_not_seen_hangs_from_the_pelvis(backend, exact_targets):
    _, _, Q, W, hand_ok = exact_targets
    W = W.copy()
    W[:, LM_KNEE[0]] = 0.5 * LEG_VISIBLE                           # the left knee barely seen
    W[1::2, LM_ANKLE[1]] = 0.5 * LEG_VISIBLE                       # the right ankle on every other frame
    G = backend.solve_skeleton(Q, W, hand_ok, SUBJECT).G
    chain = lambda side: np.stack([HIP[side], KNEE[side], ANKLE[side], FOOT[side]])  # noqa: E731
    np.testing.assert_allclose(G[:, chain(0)], np.broadcast_to(G[:, :1], G[:, chain(0)].shape), atol=0)
    np.testing.assert_allclose(G[1::2, chain(1)], np.broadcast_to(G[1::2, :1], G[1::2, chain(1)].shape), atol=0)
    assert np.abs(G[::2, chain(1)] - G[::2, :1]).max() > 0.1                 # seen: posed as seen


@pytest.mark.parametrize("full", [True, False], ids=["full", "partial"])
def test_without_hand_landmarks_the_fingers_follow_the_wrist(backend, exact_targets, full):
    """A hand not found keeps its fingers straight on the wrist (as does a partial solve, which
    poses no fingers)."""
    _, _, Q, W, hand_ok = exact_targets
    hand_ok = hand_ok.copy()
    hand_ok[:, 1] = False
    G = backend.solve_skeleton(Q, W, hand_ok, SUBJECT, full=full).G
    for side in (0, 1) if not full else (1,):
        fingers = G[:, FINGER_JOINTS[side].ravel()]
        np.testing.assert_allclose(fingers, np.broadcast_to(G[:, WRIST[side], None], fingers.shape), atol=0)
    if full:
        assert np.abs(G[:, FINGER_JOINTS[0].ravel()] - G[:, WRIST[0], None]).max() > 0.1
