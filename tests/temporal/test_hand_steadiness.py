"""The filters' handling of flickering hands (issue 11, finding 2): a small hand's outliers move its
fingers by a bounded step, a hand lost for a moment is held and goes on, its wrist eases in where
the hand's detection goes or comes back instead of snapping to the pose model's knuckles, a
stream's first hand eases in, the batch pass does not start from an outlier."""
import numpy as np

from inference.core.layout import NUM_EXPRESSION as E
from inference.core.rotations import quat_angle, quat_exp
from inference.core.skeleton import JOINT_INDEX, LEFT_HAND_JOINTS, RIGHT_HAND_JOINTS
from inference.temporal.motion_filter import FINGER_MAX_RATE, HAND_HOLD_S, RATE_POWER, WRISTS, MotionFilter
from inference.temporal.offline import filter_zero_phase

DT = 1 / 25
LW = JOINT_INDEX["left_wrist"]


def _pose(finger_angle: float = 0.0, wrist_angle: float = 0.0) -> np.ndarray:
    q = np.zeros((55, 4))
    q[:, 3] = 1.0
    q[LEFT_HAND_JOINTS] = quat_exp(np.array([0.0, 0.0, -finger_angle]))
    q[LW] = quat_exp(np.array([wrist_angle, 0.0, 0.0]))
    return q


def _run(mf, poses, valid, conf=None):
    out = []
    for i, (q, v) in enumerate(zip(poses, valid)):
        out.append(mf.step(i * DT, q, np.zeros(3), np.zeros(E), np.zeros(52), v,
                           None if conf is None else conf[i])[0])
    return np.array(out)


def test_a_small_hands_outlier_moves_its_fingers_by_a_bounded_step():
    poses = [_pose(0.3)] * 30 + [_pose(0.3 + 2.0)] + [_pose(0.3)] * 5       # one frame flipped by 115°
    valid = [np.ones(4, bool)] * len(poses)
    for c in (0.2, 0.5):
        out = _run(MotionFilter(0.5), poses, valid, [np.full(2, c)] * len(poses))
        step = quat_angle(out[31, LEFT_HAND_JOINTS], out[30, LEFT_HAND_JOINTS])
        assert step.max() <= c ** RATE_POWER * FINGER_MAX_RATE * DT + 1e-9
        assert quat_angle(out[-1, LEFT_HAND_JOINTS], poses[0][LEFT_HAND_JOINTS]).max() < np.radians(2.0)
    clear = _run(MotionFilter(0.5), poses, valid, [np.ones(2)] * len(poses))
    assert quat_angle(clear[31, LEFT_HAND_JOINTS], clear[30, LEFT_HAND_JOINTS]).max() > np.radians(20.0)


def test_a_hand_lost_for_a_moment_is_held_and_goes_on():
    n_gone = int(HAND_HOLD_S / DT) - 1
    moving = [_pose(0.02 * i) for i in range(40)]
    valid = [np.array([True, not (20 <= i < 20 + n_gone), True, True]) for i in range(40)]
    out = _run(MotionFilter(0.5), moving, valid)
    held = out[20:20 + n_gone, LEFT_HAND_JOINTS]
    np.testing.assert_array_equal(held, np.broadcast_to(out[19, LEFT_HAND_JOINTS], held.shape))   # no fade
    back = 20 + n_gone
    # found again: filtered on at once (no ease-in from zero): it catches up with the motion
    assert quat_angle(out[back, LEFT_HAND_JOINTS], out[back - 1, LEFT_HAND_JOINTS]).max() > np.radians(1.0)


def test_the_wrist_is_held_and_eases_in_where_its_hand_goes_and_comes_back():
    """The wrist's measurement jumps by 40° while the hand is lost (the pose model's knuckles):
    held, then eased to, then eased back when the hand returns; never a jump."""
    poses = [_pose(0.3, 0.0)] * 30 + [_pose(0.3, 0.7)] * 30 + [_pose(0.3, 0.0)] * 30
    valid = [np.array([True, not (30 <= i < 60), True, True]) for i in range(90)]
    out = _run(MotionFilter(0.5), poses, valid)
    steps = np.degrees(quat_angle(out[1:, LW], out[:-1, LW]))
    assert steps.max() < 10.0                                                # the bound
    assert steps[29:31].max() < 1e-9 and steps[59:61].max() < 1.0             # at the dropout / return
    np.testing.assert_array_equal(out[30:30 + int(HAND_HOLD_S / DT), LW],
                                  np.broadcast_to(out[29, LW], (int(HAND_HOLD_S / DT), 4)))
    assert quat_angle(out[59, LW], poses[59][LW]) < np.radians(5.0)         # it got there
    assert quat_angle(out[-1, LW], poses[-1][LW]) < np.radians(5.0)         # and back
    assert np.all(np.isin(WRISTS, [LW, JOINT_INDEX["right_wrist"]]))


def test_a_streams_first_hand_eases_in_unless_smoothing_is_off():
    poses = [_pose(1.2)] * 20
    valid = [np.ones(4, bool)] * 20
    eased = _run(MotionFilter(0.5), poses, valid)
    assert quat_angle(eased[0, LEFT_HAND_JOINTS], poses[0][LEFT_HAND_JOINTS]).max() > 0.5
    assert np.degrees(quat_angle(eased[1:, LEFT_HAND_JOINTS], eased[:-1, LEFT_HAND_JOINTS])).max() < 15.0
    raw = _run(MotionFilter(0.0), poses, valid)
    np.testing.assert_allclose(quat_angle(raw[0, RIGHT_HAND_JOINTS], poses[0][RIGHT_HAND_JOINTS]), 0.0, atol=1e-9)
    np.testing.assert_allclose(quat_angle(raw[0, LEFT_HAND_JOINTS], poses[0][LEFT_HAND_JOINTS]), 0.0, atol=1e-9)


def test_the_batch_pass_does_not_start_from_an_outlier():
    T = 50
    q = np.stack([_pose(0.4)] * T)
    q[0] = _pose(0.4 + 1.5)                                                  # the clip's first frame is off
    valid = np.ones((T, 4), bool)
    out = filter_zero_phase(np.arange(T) * DT, q, np.zeros((T, 3)), np.zeros((T, E)), np.zeros((T, 52)), valid,
                            0.15, np.full((T, 2), 0.2), 1.0)[0]
    steps = np.degrees(quat_angle(out[1:, LEFT_HAND_JOINTS], out[:-1, LEFT_HAND_JOINTS]))
    assert steps.max() < 5.0
    assert quat_angle(out[0, LEFT_HAND_JOINTS], q[5, LEFT_HAND_JOINTS]).max() < np.radians(10.0)
