"""The streaming solve (``LivePipeline``: warm-started, one frame at a time, compiled or through
the numpy solver) against the batch solve of the same frames, on synthetic detections of real
motion (AMASS) and on real detections of the sample clip."""
import numpy as np
import pytest

from inference.body.subject import Subject
from inference.core.records import Camera, Detection, DetectionSeq
from inference.core.skeleton import DEFAULT_REST
from inference.pipeline.batch import solve_camera, solve_sequence
from inference.pipeline.live import LivePipeline
from support.scenes import amass_camera_scene as _amass_camera_scene
from support.synthetic import render_detections

WARMUP = 20  # frames: the live subject is re-estimated during the first 15 frames with a person


def _detections(seq: DetectionSeq) -> list[Detection]:
    return [Detection(time=float(seq.times[i]), image_size=seq.image_size, kp2d=seq.kp2d[i], kpz=seq.kpz[i],
                      world=seq.world[i], present=seq.present[i]) for i in range(len(seq))]


def _live_vs_batch_mm(seq: DetectionSeq, cam: Camera, compiled: bool = True) -> np.ndarray:
    """(T, 55) distance (mm) between the live and the batch camera-frame joints, smoothing 0, the
    batch solved with the subject the live pipeline froze and without the batch path's final
    refinement (:mod:`inference.body.refine`), which the live path does not run."""
    live = LivePipeline(cam, smoothing=0.0, compiled=compiled)
    assert live.compiled == compiled
    steps = [(live.step(d).joints, live.floor_height) for d in _detections(seq)]     # floor shift undone below
    joints = np.array([j + [0.0, f, 0.0] for j, f in steps])
    assert live.last_times.solve > 0.0 and live.last_times.filter > 0.0
    batch = solve_sequence(seq, cam, smoothing=0.0, subject=live.subject, refined=False)

    def to_camera(J, M):
        inv = np.linalg.inv(M)
        return J @ inv[:3, :3].T + inv[:3, 3]
    batch_camera = batch.camera_points(batch.joints, np.arange(len(batch.joints)))
    d = np.linalg.norm(to_camera(joints, live.camera_to_world) - batch_camera, axis=-1)
    return 1000.0 * d[batch.valid]


@pytest.fixture(scope="module")
def amass_camera_scene():
    return _amass_camera_scene()


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("noise_m, median_mm, p90_mm", [(0.0, 0.5, 3.0), (0.01, 1.0, 10.0)])
def test_live_path_follows_batch_path_on_synthetic_motion(amass_camera_scene, noise_m, median_mm, p90_mm, compiled):
    cam, G, joints, times = amass_camera_scene
    seq = render_detections(G, joints, DEFAULT_REST, cam, times, noise_m=noise_m, seed=3)
    d = _live_vs_batch_mm(seq, cam, compiled)[WARMUP:]
    print(f"live vs batch, noise {noise_m * 1000:.0f} mm: median {np.median(d):.2f} mm, p90 {np.percentile(d, 90):.2f} mm")
    assert np.median(d) <= median_mm
    assert np.percentile(d, 90) <= p90_mm


def test_live_first_frame_is_the_batch_solve(amass_camera_scene):
    """A first frame (no previous pose to start from) is solved exactly as the batch path's
    analytic solve does."""
    cam, G, joints, times = amass_camera_scene
    seq = render_detections(G[:1], joints[:1], DEFAULT_REST, cam, times[:1])
    subject = Subject.from_rest(DEFAULT_REST)
    live = LivePipeline(cam, smoothing=0.0, warmup=1)
    live.subject = subject
    out = live.step(_detections(seq)[0])
    Gc, Jc = solve_camera(seq, subject, cam, refined=False)
    inv = np.linalg.inv(live.camera_to_world)
    np.testing.assert_allclose(out.joints @ inv[:3, :3].T + inv[:3, 3], Jc[0], atol=1e-9)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_live_path_follows_batch_path_on_the_sample_clip(megamind_head, compiled):
    """Real detections (the first 120 frames of Megamind.avi: a close-up, shot cuts, one hand),
    through the compiled lifting passes (:mod:`inference.body.solve_numba`) and through the numpy
    solver."""
    seq, size = megamind_head
    d = _live_vs_batch_mm(seq, Camera.from_fov(size[0], size[1], 60.0), compiled)[WARMUP:, :22]   # body joints
    print(f"live vs batch, Megamind: median {np.median(d):.2f} mm, p90 {np.percentile(d, 90):.2f} mm")
    assert np.median(d) <= 0.5
    assert np.percentile(d, 90) <= 3.0
