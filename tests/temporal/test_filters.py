"""Temporal filters: One-Euro (Euclidean, quaternion) and the whole-frame MotionFilter."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from inference.core.rotations import quat_angle, quat_exp, quat_mul, slerp
from inference.core.skeleton import JOINT_PART
from inference.temporal.motion_filter import HAND_HOLD_S, MotionFilter, params_for, relaxed_hand_pose
from inference.temporal.offline import gaussian_smooth, target_sigma
from inference.core.layout import PART_LEFT_HAND as LEFT_HAND, PART_RIGHT_HAND as RIGHT_HAND
from inference.temporal.one_euro import OneEuro, OneEuroParams, QuatOneEuro
from inference.core.skeleton import BODY_JOINTS, DEFAULT_REST, FINGERS, JOINT_INDEX, LEFT_HAND_JOINTS, RIGHT_HAND_JOINTS, bone_vectors, forward_kinematics, local_to_global

E = 10


def jittered_times(n: int, rng: np.random.Generator, lo: float = 1 / 60, hi: float = 1 / 20) -> np.ndarray:
    """(n,) strictly increasing timestamps with random gaps in [lo, hi] seconds."""
    return np.cumsum(rng.uniform(lo, hi, n))


def identity(n: int) -> np.ndarray:
    q = np.zeros((n, 4))
    q[:, 3] = 1.0
    return q


# ------------------------------------------------------------------------------------------
# Euclidean One-Euro
# ------------------------------------------------------------------------------------------

def _run(p: OneEuroParams, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    f = OneEuro(p)
    return np.array([f(xi, ti) for xi, ti in zip(x, t)])


def test_one_euro_noisy_sine_variable_dt():
    rng = np.random.default_rng(1)
    t = jittered_times(1200, rng)                       # ~40 s, 20..60 Hz, jittered gaps
    clean = lambda tt: np.sin(2 * np.pi * 0.15 * tt)    # noqa: E731
    noise = rng.normal(0.0, 0.05, t.shape)
    p = OneEuroParams(min_cutoff=0.7, beta=0.3)
    y, y_clean = _run(p, clean(t) + noise, t), _run(p, clean(t), t)
    keep = t > t[0] + 1.0
    raw_noise = np.sqrt(np.mean(noise[keep] ** 2))
    out_noise = np.sqrt(np.mean((y - y_clean)[keep] ** 2))      # the noise left in the output
    assert out_noise < raw_noise / 2.0
    # lag: the shift that best aligns the output with the clean signal
    taus = np.linspace(0.0, 0.5, 101)
    err = [np.sqrt(np.mean((y[keep] - clean(t[keep] - tau)) ** 2)) for tau in taus]
    lag = taus[int(np.argmin(err))]
    assert lag <= 0.12
    assert min(err) < raw_noise / 2.0                            # lag-compensated error: noise gone


def test_one_euro_vector_per_channel_params_and_first_call():
    rng = np.random.default_rng(2)
    t = jittered_times(600, rng)
    x = rng.normal(0.0, 0.1, (600, 5, 3)) + np.arange(5)[:, None]
    # channel 0 nearly unfiltered, channel 4 heavily filtered (params broadcast to (5, 3))
    p = OneEuroParams(min_cutoff=np.array([50.0, 5.0, 1.0, 0.5, 0.1])[:, None], beta=0.0)
    f = OneEuro(p)
    y = np.array([f(xi, ti) for xi, ti in zip(x, t)])
    np.testing.assert_array_equal(y[0], x[0])           # first call returns x
    spread = y[100:].std(axis=0).mean(axis=1)          # residual noise per channel
    assert np.all(np.diff(spread) < 0)
    assert spread[-1] < 0.2 * spread[0]


def test_one_euro_stationary_converges_and_duplicate_time():
    rng = np.random.default_rng(3)
    t = jittered_times(400, rng)
    f = OneEuro(OneEuroParams(min_cutoff=1.0, beta=0.5))
    f(np.zeros(4), t[0] - 0.05)
    for ti in t:
        y = f(np.full(4, 2.0), ti)
    np.testing.assert_allclose(y, 2.0, atol=1e-6)
    again = f(np.full(4, -100.0), t[-1])               # duplicate timestamp: unchanged
    np.testing.assert_array_equal(again, y)
    np.testing.assert_array_equal(f(np.full(4, -100.0), t[-1] - 1.0), y)   # backwards too


# ------------------------------------------------------------------------------------------
# Quaternion helpers and QuatOneEuro
# ------------------------------------------------------------------------------------------

def test_slerp_short_way_and_endpoints():
    rng = np.random.default_rng(4)
    q0 = Rotation.random(50, random_state=5).as_quat()
    q1 = Rotation.random(50, random_state=6).as_quat()
    q1[::2] *= -1.0                                    # mixed hemispheres
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-12)
    end = slerp(q0, q1, 1.0)
    np.testing.assert_allclose(np.abs(np.sum(end * q1, axis=1)), 1.0, atol=1e-12)
    t = rng.random(50)
    mid = slerp(q0, q1, t)
    ang = quat_angle(q0, q1)
    np.testing.assert_allclose(quat_angle(q0, mid), t * ang, atol=1e-9)        # geodesic, short way
    np.testing.assert_allclose(quat_angle(mid, q1), (1 - t) * ang, atol=1e-9)
    assert np.all(np.sum(mid * q0, axis=1) > 0)                                # on q0's side
    r = Rotation.from_quat(q0).inv() * Rotation.from_quat(q1)
    np.testing.assert_allclose(quat_angle(q0, q1), r.magnitude(), atol=1e-9)
    # nearly identical inputs stay finite and exact
    tiny = quat_mul(q0, quat_exp(np.tile([1e-10, 0.0, 0.0], (50, 1))))
    assert np.all(np.isfinite(slerp(q0, tiny, 0.5)))


def _rotation_track(t: np.ndarray) -> np.ndarray:
    """(T, 3, 4) smooth ground-truth rotations for three joints."""
    rv = np.stack([np.stack([0.8 * np.sin(1.1 * t + k), 0.5 * np.cos(0.7 * t + 2 * k),
                             0.3 * np.sin(0.5 * t)], axis=-1) for k in range(3)], axis=1)
    return quat_exp(rv)


def test_quat_one_euro_reduces_noise_and_never_flips():
    rng = np.random.default_rng(7)
    t = jittered_times(900, rng)
    truth = _rotation_track(t)
    noise = quat_exp(rng.normal(0.0, np.radians(3.0), truth.shape[:-1] + (3,)))
    meas = quat_mul(truth.reshape(-1, 4), noise.reshape(-1, 4)).reshape(truth.shape)
    signs = np.where(rng.random(truth.shape[:-1]) < 0.5, -1.0, 1.0)[..., None]

    outs = {}
    for name, m in (("plain", meas), ("random_sign", meas * signs), ("clean", truth)):
        f = QuatOneEuro(OneEuroParams(min_cutoff=np.array([0.8, 1.0, 1.2]), beta=0.3))
        outs[name] = np.array([f(mi, ti) for mi, ti in zip(m, t)])
    out = outs["random_sign"]
    # q and -q are the same rotation: the output does not change at all
    np.testing.assert_allclose(outs["plain"], out, atol=1e-12)
    # never a sign flip: consecutive outputs on the same side
    assert np.all(np.sum(out[1:] * out[:-1], axis=-1) > 0)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)
    keep = t > t[0] + 1.0
    raw_err = quat_angle(meas[keep], truth[keep]).mean()
    filt_err = quat_angle(out[keep], truth[keep]).mean()          # noise and lag
    noise_left = quat_angle(out[keep], outs["clean"][keep]).mean()
    assert noise_left < 0.5 * raw_err
    assert filt_err < 0.9 * raw_err


def test_quat_one_euro_alternating_sign_constant_rotation():
    q = Rotation.from_rotvec([[0.3, -1.2, 2.0], [0.0, 0.0, 3.1]]).as_quat()
    f = QuatOneEuro(OneEuroParams(min_cutoff=1.0, beta=0.5))
    first = f(q, 0.0)
    t = 0.0
    for k in range(50):
        t += 0.02 + 0.01 * (k % 3)
        out = f(q * (-1.0 if k % 2 == 0 else 1.0), t)
        np.testing.assert_allclose(out, first, rtol=0, atol=1e-15)


def test_quat_one_euro_follows_large_rotation_without_long_way():
    # a steady 170 deg/s spin about Y sampled at jittered rates, crossing the q/-q boundary
    rng = np.random.default_rng(8)
    t = jittered_times(300, rng)
    angle = np.radians(170.0) * (t - t[0])
    q = quat_exp(np.stack([0 * angle, angle, 0 * angle], axis=-1))[:, None, :]
    f = QuatOneEuro(OneEuroParams(min_cutoff=1.0, beta=0.5))
    out = np.array([f(qi, ti) for qi, ti in zip(q, t)])
    step = quat_angle(out[1:, 0], out[:-1, 0])
    assert step.max() < np.radians(170.0) * np.diff(t).max() * 1.5
    assert np.all(np.sum(out[1:, 0] * out[:-1, 0], axis=-1) > 0)
    assert quat_angle(out[-1, 0], q[-1, 0]) < np.radians(20.0)   # keeps up (speed-adaptive)


# ------------------------------------------------------------------------------------------
# MotionFilter
# ------------------------------------------------------------------------------------------

def _fist(side_joints: np.ndarray, amount: float = 1.2) -> np.ndarray:
    """(55, 4) identity pose with the given finger joints flexed by ``amount`` rad about Z."""
    q = identity(55)
    sign = -1.0 if side_joints[0] == LEFT_HAND_JOINTS[0] else 1.0
    q[side_joints] = quat_exp(np.array([0.0, 0.0, sign * amount]))
    return q


def _frame(q=None):
    return (identity(55) if q is None else q, np.zeros(3), np.zeros(E), np.zeros(52))


def test_relaxed_pose_curls_toward_palm_and_is_mirrored():
    q = relaxed_hand_pose()
    rot = Rotation.from_quat(q).as_matrix()[None]
    glob = local_to_global(rot)
    pos = forward_kinematics(glob, bone_vectors(DEFAULT_REST), DEFAULT_REST[None, 0])[0]
    for side in ("left", "right"):
        for finger in FINGERS:
            j2, j3 = JOINT_INDEX[f"{side}_{finger}2"], JOINT_INDEX[f"{side}_{finger}3"]
            bone = DEFAULT_REST[j3] - DEFAULT_REST[j2]
            tip_rest = DEFAULT_REST[j3] + bone
            tip = pos[j3] + glob[0, j3] @ bone
            assert tip[1] < tip_rest[1] - 0.003, (side, finger)    # toward the palm (-Y)
            assert abs(tip[1] - tip_rest[1]) < 0.05                   # gentle
    # mirror across the X = 0 plane: (x, y, z, w) -> (x, -y, -z, w)
    np.testing.assert_allclose(q[RIGHT_HAND_JOINTS], q[LEFT_HAND_JOINTS] * [1, -1, -1, 1], atol=1e-12)
    assert np.all(quat_angle(q[LEFT_HAND_JOINTS], identity(15)) < 0.35)
    # joints outside the hands stay at identity
    others = np.setdiff1d(np.arange(55), np.r_[LEFT_HAND_JOINTS, RIGHT_HAND_JOINTS])
    np.testing.assert_array_equal(q[others], identity(len(others)))


def test_hand_disappears_held_then_fades_then_reappears_smoothly():
    rng = np.random.default_rng(9)
    t = jittered_times(240, rng, 1 / 40, 1 / 20)
    fade = 0.6
    mf = MotionFilter(smoothing=0.5, fade_time=fade)
    fist = _fist(LEFT_HAND_JOINTS)
    gone = (t > t[0] + 1.5) & (t < t[0] + 4.5)
    lh = LEFT_HAND_JOINTS
    outs = []
    for ti, g in zip(t, gone):
        valid = np.array([True, not g, True, True])
        outs.append(mf.step(ti, *_frame(fist), valid)[0])
    out = np.array(outs)
    relaxed = relaxed_hand_pose()

    first_gone, last_gone = np.flatnonzero(gone)[[0, -1]]
    # before it goes, the hand has converged to the measured fist
    assert quat_angle(out[first_gone - 1, lh], fist[lh]).max() < 1e-3
    # while gone: held for HAND_HOLD_S, then the distance to the relaxed pose decays exactly as
    # exp(-elapsed / fade_time) from the last held frame
    d0 = quat_angle(out[first_gone - 1, lh], relaxed[lh])
    dist = quat_angle(out[first_gone:last_gone + 1, lh], relaxed[lh])
    held = t[first_gone:last_gone + 1] - t[first_gone - 1] <= HAND_HOLD_S
    assert held[0] and not held[-1]
    last_held = t[first_gone + np.flatnonzero(held)[-1]]
    elapsed = np.maximum(t[first_gone:last_gone + 1] - last_held, 0.0)
    np.testing.assert_allclose(dist, d0 * np.exp(-elapsed[:, None] / fade), rtol=1e-6, atol=1e-9)
    assert np.all(np.diff(dist, axis=0) <= 1e-12)                   # monotonic decrease
    steps = quat_angle(out[first_gone:last_gone + 1, lh], out[first_gone - 1:last_gone, lh])
    assert steps.max() < 0.1                                         # no jump when it goes
    assert dist[-1].max() < 0.01 * d0.max()
    # the right hand (eased in from its neutral on the stream's first frame) was untouched
    assert quat_angle(out[first_gone - 1:, RIGHT_HAND_JOINTS], fist[RIGHT_HAND_JOINTS]).max() < 1e-3

    # reappearance: no snap, eases in, converges
    back = out[last_gone:, lh]
    gap = quat_angle(back[0], fist[lh]).max()
    assert gap > 1.0
    steps_back = quat_angle(back[1:], back[:-1])
    assert steps_back[0].max() < 0.05 * gap                          # first frame back barely moves
    assert steps_back.max() < 0.25 * gap
    assert np.all(np.diff(quat_angle(back, fist[lh]).max(axis=1)) <= 1e-12)
    assert quat_angle(out[-1, lh], fist[lh]).max() < 0.02
    assert np.all(np.sum(out[1:] * out[:-1], axis=-1) > 0)           # never a sign flip


def test_face_fades_to_neutral_and_eases_back():
    rng = np.random.default_rng(10)
    t = jittered_times(150, rng, 1 / 40, 1 / 20)
    mf = MotionFilter(num_expression=E)
    q = identity(55)
    q[22] = quat_exp(np.array([0.3, 0.0, 0.0]))
    ex, ak = np.full(E, 1.5), np.full(52, 0.8)
    gone = (t > t[0] + 1.0) & (t < t[0] + 4.0)
    res = [mf.step(ti, q, np.zeros(3), ex, ak, np.array([True, True, True, not g]))
           for ti, g in zip(t, gone)]
    oq = np.array([r[0] for r in res])
    oe = np.array([r[2] for r in res])
    oa = np.array([r[3] for r in res])
    i0, i1 = np.flatnonzero(gone)[[0, -1]]
    assert np.all(np.diff(oe[i0 - 1:i1 + 1, 0]) < 0) and oe[i1, 0] < 0.02 * 1.5
    assert np.all(np.diff(oa[i0 - 1:i1 + 1, 0]) < 0) and oa[i1, 0] < 0.02 * 0.8
    assert quat_angle(oq[i1, 22], identity(1)[0]) < 0.01
    assert np.abs(np.diff(oe[i1:, 0])).max() < 0.5 * 1.5             # eases back, no snap
    np.testing.assert_allclose(oe[-1], ex, atol=0.02)


def test_body_invalid_holds_pose_and_hands_fade():
    rng = np.random.default_rng(11)
    t = jittered_times(120, rng)
    mf = MotionFilter()
    meas_q = Rotation.from_rotvec(rng.normal(0, 0.3, (120, 55, 3)) * 0.1
                                  + np.linspace(0, 1, 120)[:, None, None]).as_quat()
    meas_q[:, np.r_[LEFT_HAND_JOINTS]] = _fist(LEFT_HAND_JOINTS)[LEFT_HAND_JOINTS]
    trans = np.cumsum(rng.normal(0, 0.01, (120, 3)), axis=0)
    gone = np.arange(120) >= 60
    outs = [mf.step(t[i], meas_q[i], trans[i], np.zeros(E), np.zeros(52),
                    np.array([not gone[i]] * 4)) for i in range(120)]
    oq = np.array([o[0] for o in outs])
    ot = np.array([o[1] for o in outs])
    np.testing.assert_array_equal(oq[60:, BODY_JOINTS], np.broadcast_to(oq[59, BODY_JOINTS], (60, 22, 4)))
    np.testing.assert_array_equal(ot[60:], np.broadcast_to(ot[59], (60, 3)))
    relaxed = relaxed_hand_pose()
    d = quat_angle(oq[59:, LEFT_HAND_JOINTS], relaxed[LEFT_HAND_JOINTS]).max(axis=1)
    assert np.all(np.diff(d) < 0) and d[-1] < 0.2 * d[0]


def test_nan_inputs_never_propagate():
    rng = np.random.default_rng(12)
    T = 200
    t = jittered_times(T, rng)
    q = Rotation.random(T * 55, random_state=13).as_quat().reshape(T, 55, 4)
    tr, ex, ak = rng.normal(size=(T, 3)), rng.normal(size=(T, E)), rng.random((T, 52))
    valid = rng.random((T, 4)) > 0.2
    for arr, shape in ((q, (55, 4)), (tr, (3,)), (ex, (E,)), (ak, (52,))):
        for i in rng.choice(T, 40, replace=False):
            idx = tuple(rng.integers(0, s) for s in shape)
            arr[(i,) + idx] = rng.choice([np.nan, np.inf, -np.inf])
    q[5, 30] = 0.0                                                   # a zero quaternion
    q[0, 3] = np.nan                                                 # NaN on the very first frame
    mf = MotionFilter(num_expression=E)
    out = mf.filter_sequence(t, q, tr, ex, ak, valid)
    for o in out:
        assert np.all(np.isfinite(o))
    np.testing.assert_allclose(np.linalg.norm(out[0], axis=-1), 1.0, atol=1e-9)
    assert np.all(np.sum(out[0][1:] * out[0][:-1], axis=-1) > 0)
    # a NaN time is ignored like a duplicate timestamp
    before = mf.step(t[-1] + 0.03, q[1], tr[1], ex[1], ak[1], np.ones(4, bool))
    after = mf.step(np.nan, q[2], tr[2], ex[2], ak[2], np.ones(4, bool))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_nan_in_one_hand_holds_that_hand_only():
    mf = MotionFilter()
    fist = _fist(RIGHT_HAND_JOINTS)
    t = 0.0
    for _ in range(60):
        t += 1 / 30
        held = mf.step(t, *_frame(fist), np.ones(4, bool))[0]
    bad = fist.copy()
    bad[45, 1] = np.nan                                              # one finger joint of the right hand
    bad[0] = quat_exp(np.array([0.0, 0.5, 0.0]))                     # the body moves meanwhile
    out = mf.step(t + 1 / 30, *_frame(bad), np.ones(4, bool))[0]
    rh = RIGHT_HAND_JOINTS
    np.testing.assert_array_equal(out[rh], held[rh])                 # held (HAND_HOLD_S), not faded yet
    assert quat_angle(out[0], held[0]) > 0.01                        # the body still follows


def test_before_first_valid_frame_outputs_neutral():
    relaxed = relaxed_hand_pose()
    mf = MotionFilter()
    fist = _fist(LEFT_HAND_JOINTS)
    trans = np.array([1.0, 2.0, 3.0])
    o = mf.step(0.0, fist, trans, np.ones(E), np.ones(52), np.zeros(4, bool))
    np.testing.assert_allclose(o[0], np.where((JOINT_PART == LEFT_HAND)[:, None]
                                              | (JOINT_PART == RIGHT_HAND)[:, None], relaxed, identity(55)))
    np.testing.assert_array_equal(o[1], 0.0)
    np.testing.assert_array_equal(o[2], 0.0)
    np.testing.assert_array_equal(o[3], 0.0)
    # the body's first valid frame is taken as measured (no easing in from the origin)
    o = mf.step(0.04, fist, trans, np.ones(E), np.ones(52), np.array([True, False, False, False]))
    np.testing.assert_allclose(o[1], trans)
    # a face that appears later eases in from neutral
    o = mf.step(0.08, fist, trans, np.ones(E), np.ones(52), np.array([True, False, False, True]))
    assert 0.0 < o[2][0] < 0.5


def test_duplicate_timestamp_returns_previous_output():
    mf = MotionFilter()
    mf.step(0.0, *_frame(), np.ones(4, bool))
    a = mf.step(0.05, *_frame(_fist(LEFT_HAND_JOINTS)), np.ones(4, bool))
    b = mf.step(0.05, *_frame(_fist(RIGHT_HAND_JOINTS)), np.ones(4, bool))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_smoothing_setting_orders_noise_and_lag():
    rng = np.random.default_rng(14)
    t = jittered_times(600, rng)
    clean = np.stack([np.sin(t), np.cos(0.5 * t), 0.1 * t], axis=1)
    noisy = clean + rng.normal(0, 0.02, clean.shape)
    q = identity(55)
    noise = []
    for s in (0.0, 0.5, 1.0):
        mf = MotionFilter(smoothing=s)
        tr = np.array([mf.step(ti, q, x, np.zeros(E), np.zeros(52), np.ones(4, bool))[1]
                       for ti, x in zip(t, noisy)])
        noise.append(np.std(np.diff(tr[50:], axis=0)))
    assert noise[0] > noise[1] > noise[2]
    p0, p1 = params_for(0.0, 1.5, 0.3), params_for(1.0, 1.5, 0.3)
    assert p0.min_cutoff == pytest.approx(24.0) and p1.min_cutoff == pytest.approx(0.375)
    assert params_for(0.5, 1.5, 0.3).min_cutoff == pytest.approx(1.5)


def test_filter_sequence_equals_repeated_step():
    rng = np.random.default_rng(15)
    T = 150
    t = jittered_times(T, rng)
    t[40] = t[39]                                                    # a duplicate timestamp
    q = Rotation.from_rotvec(np.cumsum(rng.normal(0, 0.05, (T, 55, 3)), axis=0)).as_quat()
    q *= np.where(rng.random((T, 55, 1)) < 0.3, -1.0, 1.0)
    tr = np.cumsum(rng.normal(0, 0.01, (T, 3)), axis=0)
    ex, ak = rng.normal(size=(T, E)), rng.random((T, 52))
    valid = rng.random((T, 4)) > 0.25
    valid[:10] = False
    ex[70, 2] = np.nan
    mf = MotionFilter(smoothing=0.7, num_expression=E)
    batch = mf.filter_sequence(t, q, tr, ex, ak, valid)
    mf2 = MotionFilter(smoothing=0.7, num_expression=E)
    mf2.step(0.0, *_frame(), np.ones(4, bool))                       # dirty state: batch resets
    mf2.reset()
    steps = [mf2.step(t[i], q[i], tr[i], ex[i], ak[i], valid[i]) for i in range(T)]
    for k in range(4):   # same arithmetic; numpy may pick other SIMD kernels for other array sizes
        np.testing.assert_allclose(batch[k], np.array([s[k] for s in steps]), rtol=0, atol=1e-12)
    assert batch[0].shape == (T, 55, 4) and batch[1].shape == (T, 3)
    assert batch[2].shape == (T, E) and batch[3].shape == (T, 52)
    # continuing the stream in chunks is the same as one pass
    a = MotionFilter(smoothing=0.7, num_expression=E)
    first = a.filter_sequence(t[:80], q[:80], tr[:80], ex[:80], ak[:80], valid[:80])
    rest = a.filter_sequence(t[80:], q[80:], tr[80:], ex[80:], ak[80:], valid[80:], reset=False)
    np.testing.assert_allclose(np.concatenate([first[0], rest[0]]), batch[0], rtol=0, atol=1e-12)


def test_bridge_short_gaps_interpolates_only_short_dropouts():
    from inference.temporal.offline import bridge_short_gaps
    T = 40
    t = np.arange(T) / 30.0
    q = np.zeros((T, 55, 4))
    q[..., 3] = 1.0
    angle = np.linspace(0.0, 1.0, T)
    q[:, 30] = np.stack([np.zeros(T), np.zeros(T), np.sin(angle / 2), np.cos(angle / 2)], -1)  # left hand joint
    ch = np.linspace(0.0, 1.0, T)[:, None].repeat(3, 1)
    valid = np.ones((T, 4), bool)
    valid[5:10, 1] = False        # 5 frames (0.2 s): bridged
    valid[15:35, 2] = False       # 20 frames (0.67 s): left to the filter's hold and fade
    valid[0:3, 3] = False         # lost at the start: nothing to bridge from
    qb, chb, usable = bridge_short_gaps(t, q, ch, valid, np.full(3, 3))
    assert usable[5:10, 1].all() and not usable[15:35, 2].any() and not usable[0:3, 3].any()
    np.testing.assert_allclose(np.abs(qb[5:10, 30]), np.abs(q[5:10, 30]), atol=1e-9)  # slerp of a uniform turn
    np.testing.assert_array_equal(qb[:, :25], q[:, :25])   # the body is never touched
    np.testing.assert_array_equal(chb, ch)                 # the face was never lost between two seen frames


def test_gaussian_smooth_is_zero_phase_and_reduces_noise():
    """Offline target smoothing: a straight-line motion comes out unchanged (no lag) away from the
    ends, and noise on a sine shrinks by more than half at 25 ms on 120 fps, with little bias."""
    times = np.cumsum(np.r_[0.0, np.random.default_rng(0).uniform(0.007, 0.010, 599)])  # variable dt
    ramp = np.stack([times, -2.0 * times, 0.5 + 0.0 * times], -1)[:, None]               # (T, 1, 3)
    out = gaussian_smooth(times, ramp, np.ones((600, 1)), 0.025)
    np.testing.assert_allclose(out[20:-20], ramp[20:-20], atol=2e-4)
    clean = np.sin(2 * np.pi * 1.0 * times)[:, None, None] * np.ones((1, 1, 3))
    noisy = clean + np.random.default_rng(1).normal(0.0, 0.05, clean.shape)
    sm = gaussian_smooth(times, noisy, np.ones((600, 1)), 0.025)
    assert np.abs(sm - clean).mean() < 0.45 * np.abs(noisy - clean).mean()
    assert np.abs(gaussian_smooth(times, clean, np.ones((600, 1)), 0.025) - clean).max() < 0.02


def test_gaussian_smooth_weights_and_gaps():
    """Unseen samples (weight 0) neither move nor pull their neighbours; samples across a time gap
    longer than the kernel do not mix; sigma 0 returns the input."""
    times = np.r_[np.arange(10) / 30.0, 5.0 + np.arange(10) / 30.0]    # a 4.7 s gap after frame 9
    x = np.r_[np.zeros(10), np.ones(10)][:, None, None] * np.ones((1, 2, 3))
    w = np.ones((20, 2))
    x[4, 0], w[4, 0] = 100.0, 0.0                                       # an unseen outlier
    out = gaussian_smooth(times, x, w, 0.05)
    assert out[4, 0, 0] == 100.0                                        # kept as it was
    np.testing.assert_allclose(np.delete(out[:10, 0], 4, axis=0), 0.0)  # not pulled by it
    np.testing.assert_allclose(out[10:], 1.0)                           # nothing across the gap
    np.testing.assert_allclose(out[:10, 1], 0.0)
    np.testing.assert_array_equal(gaussian_smooth(times, x, w, 0.0), x)
    assert target_sigma(0.0) == 0.0 and target_sigma(0.5) == pytest.approx(0.02)
