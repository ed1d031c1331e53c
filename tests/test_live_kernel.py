"""The compiled live solve (``inference/live_kernel.py``, numba) against the numpy solver it
mirrors: its rotation pieces on special and random inputs, and whole lifting passes (cold and
warm-started, with and without hands) on real detections of the sample clip and on synthetic
detections of real motion, perturbed until every branch of the solver runs (joint limits, hanging
legs, missing hands, pose-model wrists)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data_paths import REPO
from inference import live_kernel as LK
from inference import rotations as rot
from inference import solve as S
from inference.layout import LANDMARK_JOINT
from inference.lift import VISIBLE
from inference.pipeline import _lifting_passes, estimate_subject, warm_start
from inference.records import Camera, DetectionSeq
from inference.skeleton import DEFAULT_REST, global_to_local
from inference.solve import MAX_ANGLE, Subject
from inference.synthetic import render_detections
from test_live_speed_parity import _rotations, amass_camera_scene  # noqa: F401 - a fixture

ATOL = 1e-8  # radians-ish / metres: the two paths differ by summation order only


def test_numba_is_installed_and_the_kernel_compiled():
    """The worker's pinned environment has numba: the live path runs compiled."""
    assert LK.AVAILABLE and LK.warm_up()


def test_argument_layout_names_the_right_arrays():
    subject = Subject.from_rest(DEFAULT_REST)
    args = LK.rig_args(subject)
    assert args is LK.rig_args(subject)                      # built once per rig
    np.testing.assert_array_equal(args[LK.R_RV_MAP], subject.rig.rv_map)
    np.testing.assert_array_equal(args[LK.R_OFFSETS], subject.offsets)
    np.testing.assert_array_equal(args[LK.R_HEAD_BONE], subject.bones[S.HEAD])
    tabs, cfg = LK._TABS, LK._CFG
    np.testing.assert_array_equal(tabs[LK.T_LANDMARK_JOINT], LANDMARK_JOINT)
    np.testing.assert_array_equal(cfg[LK.C_BOUND], S.TORSO_BOUND)
    sc = cfg[LK.C_SCALARS]
    assert (sc[LK.SC_W_HEAD], sc[LK.SC_VISIBLE], sc[LK.SC_KNEE_HYPER]) == (S._W_HEAD, VISIBLE, S.KNEE_HYPEREXTENSION)
    assert cfg[LK.C_ITERS][LK.IT_WARM_TOL] == S.TORSO_WARM_TOL


def test_without_numba_the_live_path_runs_numpy():
    code = ("from inference import live_kernel as LK; from inference.pipeline import LivePipeline; "
            "from inference.records import Camera; p = LivePipeline(Camera.from_fov(640, 480, 60)); "
            "print(LK.AVAILABLE, p.compiled)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MOCAP_NO_JIT": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------
# rotation pieces
# --------------------------------------------------------------------------------------------
def test_rotation_pieces_match_rotations_module():
    R = _rotations(200, seed=5)
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
        R, t = LK._kabsch(src, dst, w, np.ascontiguousarray(rot._HORN))
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
# whole lifting passes
# --------------------------------------------------------------------------------------------
def _compare_passes(seq: DetectionSeq, subject: Subject, cam: Camera, hands: bool, atol: float = ATOL
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run every frame cold and warm-started (from the numpy path's previous frame) through both
    paths; assert they agree within ``atol``. Returns the numpy path's warm-started global
    rotations (T, 55, 3, 3) and its cold and warm joints (T, 55, 3) each (the first frame: cold)."""
    prev, out, cold, warm = None, [], [], []
    for i in range(len(seq)):
        one = seq[i:i + 1]
        for start in (None, prev):
            ref = _lifting_passes(one, subject, cam, hands, 2, start)
            G, joints, torso = LK.lifting_passes(one.kp2d[0], one.kpz[0], one.world[0], one.present[0], subject,
                                                 cam, hands, None if start is None else np.concatenate(start), 2)
            np.testing.assert_allclose(G, ref[-1].G[0], atol=atol, err_msg=f"frame {i}")
            np.testing.assert_allclose(joints, ref[-1].joints[0], atol=atol, err_msg=f"frame {i}")
            np.testing.assert_allclose(torso, np.concatenate([p.torso for p in ref]), atol=100 * atol)
            (cold if start is None else warm).append(ref[-1].joints[0])
            if start is None and prev is None:
                warm.append(ref[-1].joints[0])
                break
        prev = warm_start([p.torso for p in ref])
        out.append(ref[-1].G[0])
    return np.array(out), np.array(cold), np.array(warm)


@pytest.mark.parametrize("hands", [True, False], ids=["hands", "no-hands"])
def test_kernel_matches_numpy_on_the_sample_clip(megamind_head, hands):
    seq, size = megamind_head
    seq = seq[seq.present[:, 0]]
    assert seq.present[:, 1:3].any() and len(seq) > 60
    subject = estimate_subject(seq[:15])
    _compare_passes(seq, subject, Camera.from_fov(size[0], size[1], 60.0), hands)


def test_kernel_matches_numpy_on_perturbed_synthetic_frames(amass_camera_scene):
    """AMASS motion rendered to detections, then pushed out of the easy cases: landmarks thrown
    up to 15 cm (joint limits), random visibilities (hanging legs, pose-model or forearm wrists,
    feet without heel and toe) and hands dropped at random."""
    cam, G, joints, times = amass_camera_scene
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
    subject = Subject.from_rest(DEFAULT_REST)
    # garbage frames make ill-conditioned torso fits (some end on TORSO_BOUND), where the two
    # linear solvers' rounding grows to ~1e-7
    Gs, cold, warm = _compare_passes(seq, subject, cam, hands=True, atol=1e-6)
    ang = np.linalg.norm(Rotation.from_matrix(global_to_local(Gs).reshape(-1, 3, 3)).as_rotvec(), axis=-1)
    at_limit = np.isclose(ang.reshape(T, 55)[:, 1:], MAX_ANGLE[1:], atol=1e-6)
    assert at_limit.any(), "the perturbation should drive some joint to its limit"
    assert (np.minimum(seq.kp2d[:, 25:27, 2], seq.kp2d[:, 27:29, 2]) < 0.5).any()   # a hanging leg
    # the torso fit stays in its box (TORSO_BOUND) on garbage, and a fit on its edge is not warm-
    # started from (pipeline.warm_start): a clean frame after garbage lands where a cold solve does
    clean_after = np.flatnonzero(~(wild | dim)[1:] & (wild | dim)[:-1]) + 1
    assert len(clean_after) >= 3
    gap = 1000 * np.linalg.norm(warm[clean_after, :22] - cold[clean_after, :22], axis=-1).max()
    assert gap < 5.0, f"{gap:.1f} mm"
