"""Which detected hands are believed (:mod:`inference.body.hands`) and how the fingers are aimed
(issue 11, finding 2): a hand found twice or far from its wrist is dropped, hands held together are
kept; a finger's middle and end joints bend only in its plane of flexion and never flip straight
back from a curl; both solver backends agree."""
import numpy as np
import pytest

from inference.body import solve, solve_numba
from inference.body.hands import checked_hands, hand_confidence, with_checked_hands
from inference.body.subject import Subject
from inference.body.tables import (FINGER_FLEXION, FINGER_HYPEREXTENSION, FINGER_JOINTS, FINGER_PLANAR,
                                   FINGER_SIDEWAYS, HAND_CLEAR_PX, HAND_CONFIDENCE_FLOOR, MCP_ABDUCTION,
                                   MCP_HYPEREXTENSION)
from inference.core import rotations as rot
from inference.core.layout import HAND, HANDS, NUM_KEYPOINTS, PART_BODY, PART_HANDS, POSE_WRISTS
from inference.core.records import DetectionSeq
from inference.core.skeleton import DEFAULT_REST

SUBJECT = Subject.from_rest(DEFAULT_REST)


def _hand(wrist: tuple[float, float], size: float = 40.0, mirror: bool = False) -> np.ndarray:
    """(21, 2) a flat open hand of the given bounding-box size with its wrist at ``wrist``."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.0, 1.0, (21, 2))
    pts[HAND["wrist"]] = (0.5, 1.0)
    pts[:, 0] = pts[:, 0].min() + (pts[:, 0] - pts[:, 0].min()) / np.ptp(pts[:, 0])
    pts[:, 1] = (pts[:, 1] - pts[:, 1].min()) / np.ptp(pts[:, 1])
    if mirror:
        pts[:, 0] = 1.0 - pts[:, 0]
    return (pts - pts[HAND["wrist"]]) * size + np.asarray(wrist)


def _frame(left, right, pose_wrists) -> tuple[np.ndarray, np.ndarray]:
    """kp2d (1, 553, 3) and present (1, 4) with the given hands (None: not found)."""
    kp = np.zeros((1, NUM_KEYPOINTS, 3))
    kp[0, POSE_WRISTS, :2], kp[0, POSE_WRISTS, 2] = pose_wrists, 0.9
    present = np.zeros((1, 4), bool)
    present[0, PART_BODY] = True
    for side, pts in enumerate((left, right)):
        if pts is not None:
            kp[0, HANDS[side], :2], kp[0, HANDS[side], 2] = pts, 1.0
            present[0, PART_HANDS.start + side] = True
    return kp, present


def test_a_hand_found_twice_keeps_the_one_at_its_own_wrist():
    """Holding a ball: both crops land on the right hand; the left 'hand' sits there too, far from
    the left pose wrist."""
    pose_wrists = np.array([[300.0, 300.0], [200.0, 200.0]])            # left, right
    right = _hand((200.0, 200.0))
    left = right + 2.0                                                   # the same hand, a pixel or two off
    ok = checked_hands(*_frame(left, right, pose_wrists))
    assert ok.tolist() == [[False, True]]


def test_hands_held_together_are_both_kept():
    pose_wrists = np.array([[205.0, 200.0], [195.0, 200.0]])
    left, right = _hand((205.0, 200.0), mirror=True), _hand((195.0, 200.0))
    assert checked_hands(*_frame(left, right, pose_wrists)).tolist() == [[True, True]]


def test_a_hand_far_from_its_wrist_is_dropped_and_seq_flags_follow():
    pose_wrists = np.array([[300.0, 300.0], [200.0, 200.0]])
    left, right = _hand((500.0, 100.0)), _hand((200.0, 200.0))           # left: 5 hand sizes away
    kp, present = _frame(left, right, pose_wrists)
    assert checked_hands(kp, present).tolist() == [[False, True]]
    seq = DetectionSeq(np.zeros(1), (640, 480), kp.astype(np.float32), np.zeros((1, NUM_KEYPOINTS), np.float32),
                       np.zeros((1, 33, 3), np.float32), present)
    out = with_checked_hands(seq)
    assert out.present[0].tolist() == [True, False, True, False] and seq.present[0, 1]   # a copy


def test_hand_confidence_grows_with_size():
    pose_wrists = np.array([[300.0, 300.0], [200.0, 200.0]])
    small, large = (_frame(_hand((300.0, 300.0), s), _hand((200.0, 200.0), 2 * s), pose_wrists)[0]
                    for s in (20.0, HAND_CLEAR_PX))
    c_small, c_large = hand_confidence(small)[0], hand_confidence(large)[0]
    np.testing.assert_allclose(c_small, [20.0 / HAND_CLEAR_PX, 40.0 / HAND_CLEAR_PX])
    np.testing.assert_allclose(c_large, [1.0, 1.0])
    assert hand_confidence(np.zeros((1, NUM_KEYPOINTS, 3)))[0].tolist() == [HAND_CONFIDENCE_FLOOR] * 2


# --------------------------------------------------------------------------------------------
# finger aims
# --------------------------------------------------------------------------------------------
def _joint_args(k: int, side: int, finger: int):
    rig = SUBJECT.rig
    limits = (MCP_ABDUCTION, MCP_HYPEREXTENSION) if k == 0 else (FINGER_SIDEWAYS, FINGER_HYPEREXTENSION)
    return rig.finger_child[k, side, finger], rig.finger_hinge[k, side, finger], limits


def _local(parent, child, hinge, limits, bone):
    return rot.transpose(parent) @ solve._finger_aim(parent, child, hinge, bone, *limits)


def test_a_middle_joint_bends_about_its_plane_and_keeps_its_range():
    rng = np.random.default_rng(1)
    child, hinge, limits = _joint_args(1, 0, 0)                         # left index, middle joint
    assert FINGER_PLANAR[1, 0, 0] and np.linalg.norm(hinge) == pytest.approx(1.0)
    parent = rot.axis_angle(rng.normal(size=(400, 3)))
    bone = rot.mv(parent, rng.normal(size=(400, 3)))                    # any direction
    d = rot.mv(_local(parent, child, hinge, limits, bone), child)       # the child bone in the parent
    sideways = np.arcsin(rot.dot(d, hinge)[:, 0])
    flex = np.arctan2(rot.dot(d, np.cross(hinge, child))[:, 0], rot.dot(d, child)[:, 0])
    assert np.abs(sideways).max() <= FINGER_SIDEWAYS + 1e-9 and np.abs(sideways).max() > FINGER_SIDEWAYS - 1e-6
    assert flex.min() >= -FINGER_HYPEREXTENSION - 1e-9 and flex.max() <= FINGER_FLEXION + 1e-9
    # no twist about the bone: the local rotation is a swing from the rest bone
    rv = rot.to_rotvec(_local(parent, child, hinge, limits, bone))
    np.testing.assert_allclose(rot.dot(rv, child)[:, 0], 0.0, atol=1e-9)


def test_a_curl_past_full_flexion_stays_flexed_instead_of_flipping_back():
    child, hinge, limits = _joint_args(2, 1, 3)                         # right ring, end joint
    flex_dir = np.cross(hinge, child)
    parent = np.eye(3)[None].repeat(2, 0)
    # pointing back, just past full flexion on the palm side / just past hyperextension on the back
    beyond = np.array([FINGER_FLEXION + 0.6, -FINGER_HYPEREXTENSION - 0.6])
    bone = np.cos(beyond)[:, None] * child + np.sin(beyond)[:, None] * flex_dir
    angle = rot.dot(rot.to_rotvec(_local(parent, child, hinge, limits, bone)), hinge)[:, 0]
    np.testing.assert_allclose(angle, [FINGER_FLEXION, -FINGER_HYPEREXTENSION], atol=1e-9)
    # a little off the plane of flexion the same holds (the nearer end, never a flip)
    bone = bone + 0.05 * hinge
    angle = rot.dot(rot.to_rotvec(_local(parent, child, hinge, limits, bone)), hinge)[:, 0]
    np.testing.assert_allclose(angle, [FINGER_FLEXION, -FINGER_HYPEREXTENSION], atol=1e-2)


def test_a_thumb_joint_aims_freely():
    child, hinge, limits = _joint_args(1, 0, 4)                         # left thumb, middle joint
    assert not FINGER_PLANAR[1, 0, 4] and not hinge.any()
    bone = np.array([[0.3, 0.8, -0.5]])
    G = solve._finger_aim(np.eye(3)[None], child, hinge, bone, *limits)
    np.testing.assert_allclose(rot.mv(G, child), rot.normalize(bone), atol=1e-12)


def test_both_backends_aim_fingers_alike():
    rng = np.random.default_rng(2)
    for k in range(3):
        for side in range(2):
            for finger in range(5):
                child, hinge, limits = _joint_args(k, side, finger)
                parent = rot.axis_angle(rng.normal(size=(20, 3)))
                bone = rng.normal(size=(20, 3))
                ref = solve._finger_aim(parent, child, hinge, bone, *limits)
                for i in range(20):
                    got = solve_numba._finger_aim(parent[i], child, hinge, bone[i], *limits, FINGER_FLEXION)
                    np.testing.assert_allclose(got, ref[i], atol=1e-9)


def test_noisy_straight_finger_stays_in_its_plane_in_the_whole_solve():
    """A finger whose landmarks are nudged a little (detector noise on a nearly straight finger):
    the solved middle and end joints turn sideways by at most FINGER_SIDEWAYS."""
    from support.scenes import amass_camera_scene
    from inference.body.landmarks import landmarks_from_pose
    _, G, joints, _ = amass_camera_scene()
    G, joints = G[:1], joints[:1]
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets)
    rng = np.random.default_rng(3)
    index = HANDS[0].start + HAND["index_mcp"] + np.arange(4)     # left index
    Q[:, index] += rng.normal(0.0, 0.01, (1, 4, 3))
    pose = solve.solve_skeleton(Q, np.ones(Q.shape[:2]), np.ones((1, 2), bool), SUBJECT)
    for k in (1, 2):
        j = FINGER_JOINTS[0, 0, k]
        parent = pose.G[0, FINGER_JOINTS[0, 0, k - 1]]
        d = (parent.T @ pose.G[0, j]) @ SUBJECT.rig.finger_child[k, 0, 0]
        assert abs(np.arcsin(d @ SUBJECT.rig.finger_hinge[k, 0, 0])) <= FINGER_SIDEWAYS + 1e-9
