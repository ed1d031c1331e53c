"""The compiled solver (inference.body.solve_numba) against the numpy solver it mirrors, through
the functions both name alike (``backends``, tests/body/conftest.py): its rotation pieces on
special and random inputs, whole solves and lifting passes (cold and warm-started, with and without
hands) on real detections of the sample clip and on synthetic detections of real motion, perturbed
until every branch of the solver runs (joint limits, hanging legs, missing hands, pose-model
wrists); and how the kernel gets its tables and tuning (as arguments, never as globals from other
modules, so its on-disk cache cannot go stale)."""
import ast
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data_paths import REPO
from inference.body import solve_numba as LK
from inference.body import tables as S
from inference.body.landmarks import LANDMARK_JOINT
from inference.body.lift import VISIBLE
from inference.body.landmarks import landmarks_from_pose
from inference.body.lifting import warm_start
from inference.body.proportions import estimate_subject
from inference.body.subject import Subject
from inference.core import rotations as rot
from inference.core.layout import NUM_BODY, NUM_HAND, PART_LEFT_HAND
from inference.core.records import Camera, DetectionSeq
from inference.core.skeleton import DEFAULT_REST, global_to_local
from support.scenes import amass_camera_scene, random_rotations
from support.synthetic import render_detections

ATOL = 1e-8  # radians-ish / metres: the two paths differ by summation order only
SUBJECT = Subject.from_rest(DEFAULT_REST)


@pytest.fixture(scope="module")
def perturbed_scene():
    """AMASS motion rendered to detections, then pushed out of the easy cases: landmarks thrown
    up to 15 cm (joint limits), random visibilities (hanging legs, pose-model or forearm wrists,
    feet without heel and toe) and hands dropped at random. Returns the camera, the detections
    and which frames were thrown (wild) or dimmed (dim)."""
    cam, G, joints, times = amass_camera_scene()
    every = np.arange(0, len(G), 5)[:60]
    seq = render_detections(G[every], joints[every], DEFAULT_REST, cam, times[every], noise_m=0.01, seed=7)
    rng = np.random.default_rng(11)
    T = len(seq)
    wild = rng.random(T) < 0.5
    seq.world[wild] += rng.uniform(-0.15, 0.15, (wild.sum(), 33, 3)).astype(np.float32)
    seq.kp2d[wild, :75, :2] += rng.uniform(-60, 60, (wild.sum(), 75, 2)).astype(np.float32)
    dim = rng.random(T) < 0.5
    seq.kp2d[dim, :33, 2] = rng.uniform(0.0, 1.0, (dim.sum(), 33)).astype(np.float32)
    seq.present[:, 1:3] &= rng.random((T, 2)) < 0.7
    return cam, seq, wild, dim


# --------------------------------------------------------------------------------------------
# how the kernel is built and fed
# --------------------------------------------------------------------------------------------
def test_numba_is_installed_and_the_kernel_compiled():
    """The worker's pinned environment has numba: the live path runs compiled."""
    assert LK.AVAILABLE and LK.warm_up()


def test_argument_layout_names_the_right_arrays():
    subject = Subject.from_rest(DEFAULT_REST)                # a fresh rig: rig_args builds it
    args = LK.rig_args(subject)
    assert args is LK.rig_args(subject)                      # built once per rig
    np.testing.assert_array_equal(args[LK.R_RV_MAP], subject.rig.rv_map)
    np.testing.assert_array_equal(args[LK.R_OFFSETS], subject.offsets)
    np.testing.assert_array_equal(args[LK.R_HEAD_BONE], subject.bones[S.HEAD])
    tabs, cfg = LK._TABS, LK._CFG
    np.testing.assert_array_equal(tabs[LK.T_LANDMARK_JOINT], LANDMARK_JOINT)
    np.testing.assert_array_equal(tabs[LK.T_BLOCK_ORDER], S.BLOCK_ORDER)
    np.testing.assert_array_equal(tabs[LK.T_HAND_BASE], S.HAND_BASE)
    np.testing.assert_array_equal(tabs[LK.T_FACE_LMS], S.LM_FACE)
    np.testing.assert_array_equal(tabs[LK.T_LM][LK.LM_WR], S.LM_WRIST)
    np.testing.assert_array_equal(tabs[LK.T_LM][LK.LM_HP], S.LM_HIP)
    blocks = tabs[LK.T_BLOCKS]
    assert tuple(blocks[LK.BK_FINGERS]) == (S.B_FINGERS.start, S.B_FINGERS.stop)
    assert tuple(blocks[LK.BK_LEGS]) == (S.B_LEGS.start, S.B_LEGS.stop)
    assert tuple(blocks[LK.BK_HEAD]) == (S.B_HEAD.start, S.B_HEAD.stop)
    layout = tabs[LK.T_LAYOUT]
    assert (layout[LK.LY_NUM_BODY], layout[LK.LY_NUM_HAND], layout[LK.LY_PART_HAND]) == (NUM_BODY, NUM_HAND,
                                                                                        PART_LEFT_HAND)
    assert (layout[LK.LY_FR_HANDS], layout[LK.LY_FR_FEET]) == (S.FR_HANDS.start, S.FR_FEET.start)
    assert (layout[LK.LY_TORSO_SPINE], layout[LK.LY_TORSO_COLLARS]) == (S.TORSO_SPINE.start, S.TORSO_COLLARS.start)
    np.testing.assert_array_equal(cfg[LK.C_BOUND], S.TORSO_BOUND)
    sc = cfg[LK.C_SCALARS]
    assert (sc[LK.SC_W_HEAD], sc[LK.SC_VISIBLE], sc[LK.SC_KNEE_HYPER]) == (S.W_HEAD, VISIBLE, S.KNEE_HYPEREXTENSION)
    assert (sc[LK.SC_BEND_LO], sc[LK.SC_BEND_HI], sc[LK.SC_BEND_AGAINST], sc[LK.SC_BEND_CLEAR]) == (
        S.BEND_SEEN_LO, S.BEND_SEEN_HI, S.BEND_AGAINST, S.BEND_CLEAR)
    assert (sc[LK.SC_FOOT_LO], sc[LK.SC_FOOT_HI], sc[LK.SC_POSE_HAND_SEEN]) == (S.FOOT_SEEN_LO, S.FOOT_SEEN_HI,
                                                                              S.POSE_HAND_SEEN)
    assert (sc[LK.SC_RHYTHM_FREE], sc[LK.SC_RHYTHM_REST], sc[LK.SC_RHYTHM_RATIO]) == (S.RHYTHM_FREE, S.RHYTHM_REST,
                                                                                    S.RHYTHM_RATIO)
    assert (sc[LK.SC_MIN_DEPTH], sc[LK.SC_FACE_FLOOR], sc[LK.SC_DAMP]) == (S.MIN_DEPTH, S.FACE_WEIGHT_FLOOR,
                                                                          S.DAMPING[0, 0])
    assert (sc[LK.SC_TWIST_SHARE], sc[LK.SC_HEAD_MID]) == (S.TWIST_SHARE, S.HEAD_MID)
    assert cfg[LK.C_ITERS][LK.IT_WARM_TOL] == S.TORSO_WARM_TOL
    assert LK._EPS == rot.EPS


def _module_level_names(module) -> set[str]:
    """Names a module binds itself at its top level (assignments, defs), not by importing them."""
    names = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _code_objects(code) -> list:
    """A function's code and the code nested in it (comprehensions, inner functions)."""
    return [code] + [c for k in code.co_consts if inspect.iscode(k) for c in _code_objects(k)]


def test_the_kernel_reads_no_globals_from_other_modules():
    """numba freezes a compiled function's globals into its on-disk cache, which it keys on this
    file only: every global a jitted function reads must be numpy or defined in solve_numba itself
    (its own functions and argument layout), so tuning reaches it as arguments."""
    assert LK.AVAILABLE
    own = _module_level_names(LK)
    kernels = {n: f for n, f in vars(LK).items() if hasattr(f, "py_func")}
    assert len(kernels) > 30
    for name, f in kernels.items():
        read = {n for c in _code_objects(f.py_func.__code__) for n in c.co_names if n in vars(LK)}
        foreign = {n for n in read if n != "np" and n not in own}
        assert not foreign, f"{name} reads {foreign} from other modules"


def test_without_numba_the_live_path_runs_numpy():
    code = ("from inference.body import solve_numba as LK; from inference.pipeline.live import LivePipeline; "
            "from inference.core.records import Camera; p = LivePipeline(Camera.from_fov(640, 480, 60)); "
            "print(LK.AVAILABLE, p.compiled)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MOCAP_NO_JIT": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------
# rotation pieces
# --------------------------------------------------------------------------------------------
def test_rotation_pieces_match_rotations_module():
    R = random_rotations(200, seed=5)
    rng = np.random.default_rng(0)
    for Ri in R:
        np.testing.assert_allclose(LK._to_quat(Ri), rot.to_quat(Ri), atol=1e-12)
        np.testing.assert_allclose(LK._to_rotvec(Ri), rot.to_rotvec(Ri), atol=1e-9)
        rv = rot.to_rotvec(Ri)
        np.testing.assert_allclose(LK._axis_angle(rv), rot.axis_angle(rv), atol=1e-12)
        axis = rot.normalize(rng.normal(size=3))
        assert LK._twist_angle(Ri, axis) == pytest.approx(float(rot.twist_angle(Ri, axis)), abs=1e-9)
    a = rot.normalize(rng.normal(size=(50, 3)))
    b = np.concatenate([rot.normalize(rng.normal(size=(45, 3))), -a[45:48], a[48:49], np.zeros((1, 3))])
    b[46] += 1e-9                                                  # almost antiparallel
    for ai, bi in zip(a, b):
        np.testing.assert_allclose(LK._swing_units(ai, bi), rot._swing_units(ai, bi), atol=1e-9)


def test_kabsch_eigen_and_spd_solves_match_lapack():
    rng = np.random.default_rng(1)
    for _ in range(50):
        src = rng.normal(size=(11, 3))
        R_true = Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
        dst = src @ R_true.T + rng.normal(size=3) + 0.01 * rng.normal(size=(11, 3))
        w = rng.uniform(0.0, 1.0, 11)
        R, t = LK._kabsch(src, dst, w, np.ascontiguousarray(rot.HORN))
        R_ref, t_ref = rot.kabsch(src, dst, w)
        np.testing.assert_allclose(R, R_ref, atol=1e-10)
        np.testing.assert_allclose(t, t_ref, atol=1e-10)
        A = rng.normal(size=(4, 4))
        A = A + A.T
        v = LK._top_eigvec_sym4(A)
        lam, V = np.linalg.eigh(A)
        assert abs(v @ V[:, -1]) == pytest.approx(1.0, abs=1e-10)
        J = rng.normal(size=(8, 20))
        M = J @ J.T + 1e-6 * np.eye(8)
        b = rng.normal(size=8)
        np.testing.assert_allclose(LK._solve_spd(M, b), np.linalg.solve(M, b), rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------------------------
# whole solves
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy_targets():
    """Every third frame of the AMASS scene (10 fps) as landmark targets with 1 cm of noise, random body
    confidences (hanging legs, pose-model and forearm wrists) and hands dropped at random:
    Q (T, 75, 3), W (T, 75), hand_ok (T, 2)."""
    _, G, joints, _ = amass_camera_scene()
    G, joints = G[::3], joints[::3]
    rng = np.random.default_rng(5)
    T = len(G)
    Q = landmarks_from_pose(G, joints, SUBJECT.offsets) + rng.normal(0.0, 0.01, (T, 75, 3))
    W = np.ones((T, 75))
    W[:, :NUM_BODY] = rng.uniform(0.0, 1.0, (T, NUM_BODY))
    return Q, W, rng.random((T, 2)) < 0.7


@pytest.mark.parametrize("full", [True, False], ids=["full", "partial"])
def test_solve_skeleton_backends_agree(backends, noisy_targets, full):
    """solve_skeleton alike on both backends, cold and warm-started (from the neighbouring frame's
    fit). The compiled twin fits each frame on its own, as the numpy solve does a frame alone (a
    batch of frames stops its fit once all of them converged); with a set number of iterations,
    the batches agree too."""
    Q, W, hand_ok = noisy_targets
    ref, twin = backends["numpy"], backends["numba"]
    cold = ref.solve_skeleton(Q, W, hand_ok, SUBJECT)
    for init in (None, np.roll(cold.torso, 1, axis=0)):
        b = twin.solve_skeleton(Q, W, hand_ok, SUBJECT, torso_init=init, full=full)
        for t in range(len(Q)):
            one = slice(t, t + 1)
            a = ref.solve_skeleton(Q[one], W[one], hand_ok[one], SUBJECT, None if init is None else init[one],
                                   full=full)
            np.testing.assert_allclose(b.G[one], a.G, atol=ATOL, err_msg=f"frame {t}")
            np.testing.assert_allclose(b.joints[one], a.joints, atol=ATOL, err_msg=f"frame {t}")
            np.testing.assert_allclose(b.torso[one], a.torso, atol=ATOL, err_msg=f"frame {t}")
        a = ref.solve_skeleton(Q, W, hand_ok, SUBJECT, torso_init=init, torso_iters=3, full=full)
        b = twin.solve_skeleton(Q, W, hand_ok, SUBJECT, torso_init=init, torso_iters=3, full=full)
        np.testing.assert_allclose(b.G, a.G, atol=ATOL)
        np.testing.assert_allclose(b.joints, a.joints, atol=ATOL)
        np.testing.assert_allclose(b.torso, a.torso, atol=ATOL)


def _compare_passes(backends, seq: DetectionSeq, subject: Subject, cam: Camera, hands: bool, atol: float = ATOL
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run every frame cold and warm-started (from the numpy path's previous frame) through both
    backends' lifting passes; assert that the last pass's pose agrees within ``atol``, earlier
    passes' poses and every pass's torso parameters within 100 ``atol``. Returns the numpy path's warm-started global rotations (T, 55, 3, 3) and
    its cold and warm joints (T, 55, 3) each (the first frame: cold)."""
    ref_passes, twin_passes = backends["numpy"].lifting_passes, backends["numba"].lifting_passes
    prev, out, cold, warm = None, [], [], []
    for i in range(len(seq)):
        one = seq[i:i + 1]
        for start in (None, prev):
            ref = ref_passes(one, subject, cam, hands, 2, start)
            twin = twin_passes(one, subject, cam, hands, 2, start)
            for k, (r, c) in enumerate(zip(ref, twin, strict=True)):
                tol = atol if k == len(ref) - 1 else 100 * atol    # an earlier pass only seeds depths
                np.testing.assert_allclose(c.G, r.G, atol=tol, err_msg=f"frame {i}, pass {k}")
                np.testing.assert_allclose(c.joints, r.joints, atol=tol, err_msg=f"frame {i}, pass {k}")
                np.testing.assert_allclose(c.torso, r.torso, atol=100 * atol)
            (cold if start is None else warm).append(ref[-1].joints[0])
            if start is None and prev is None:
                warm.append(ref[-1].joints[0])
                break
        prev = warm_start([p.torso for p in ref])
        out.append(ref[-1].G[0])
    return np.array(out), np.array(cold), np.array(warm)


@pytest.mark.parametrize("hands", [True, False], ids=["hands", "no-hands"])
def test_kernel_matches_numpy_on_the_sample_clip(backends, megamind_head, hands):
    seq, size = megamind_head
    seq = seq[seq.present[:, 0]]
    assert seq.present[:, 1:3].any() and len(seq) > 60
    subject = estimate_subject(seq[:15])
    _compare_passes(backends, seq, subject, Camera.from_fov(size[0], size[1], 60.0), hands)


def test_kernel_matches_numpy_on_perturbed_synthetic_frames(backends, perturbed_scene):
    cam, seq, wild, dim = perturbed_scene
    T = len(seq)
    # garbage frames make ill-conditioned torso fits (some end on TORSO_BOUND), where the two
    # linear solvers' rounding grows to ~1e-7
    Gs, cold, warm = _compare_passes(backends, seq, SUBJECT, cam, hands=True, atol=1e-6)
    ang = np.linalg.norm(Rotation.from_matrix(global_to_local(Gs).reshape(-1, 3, 3)).as_rotvec(), axis=-1)
    at_limit = np.isclose(ang.reshape(T, 55)[:, 1:], S.MAX_ANGLE[1:], atol=1e-6)
    assert at_limit.any(), "the perturbation should drive some joint to its limit"
    assert (np.minimum(seq.kp2d[:, 25:27, 2], seq.kp2d[:, 27:29, 2]) < S.LEG_VISIBLE).any()   # a hanging leg
    # the torso fit stays in its box (TORSO_BOUND) on garbage, and a fit on its edge is not warm-
    # started from (lifting.warm_start): a clean frame after garbage lands where a cold solve does
    clean_after = np.flatnonzero(~(wild | dim)[1:] & (wild | dim)[:-1]) + 1
    assert len(clean_after) >= 3
    gap = 1000 * np.linalg.norm(warm[clean_after, :22] - cold[clean_after, :22], axis=-1).max()
    assert gap < 5.0, f"{gap:.1f} mm"


def test_the_live_entry_point_is_the_compiled_lifting_passes(perturbed_scene):
    """lift_one_frame (what the live path calls) returns exactly what lifting_passes does."""
    cam, seq, _, _ = perturbed_scene
    prev = None
    for i in range(0, len(seq), 7):
        one = seq[i:i + 1]
        poses = LK.lifting_passes(one, SUBJECT, cam, True, 2, prev)
        G, joints, torso = LK.lift_one_frame(one.kp2d[0], one.kpz[0], one.world[0], one.present[0], SUBJECT, cam,
                                             True, None if prev is None else np.concatenate(prev), 2)
        np.testing.assert_array_equal(G, poses[-1].G[0])
        np.testing.assert_array_equal(joints, poses[-1].joints[0])
        np.testing.assert_array_equal(torso, np.concatenate([p.torso for p in poses]))
        prev = warm_start([p.torso for p in poses])
