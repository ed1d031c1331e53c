"""The whole ONNX detector (body, hands and face from it) as the capture runs it, against the
MediaPipe detector on real footage: the first 120 frames of Megamind.avi, and a fast-motion clip
made from its frames (a whip pan, zoom and roll: the subject moves about 40 px a frame).

Tracked video is chaotic: each frame's crop comes from the last frame's landmarks, so a difference
of 1e-4 (ONNX Runtime vs TFLite arithmetic) grows over a clip — as it does between MediaPipe and
itself when a few pixels change by one grey level (tests/detect/test_onnx_pose_tracking.py shows
each tracking step is exact). So each part's presence must agree with MediaPipe at least as well
as MediaPipe agrees with perturbed runs of itself (20 pixels + 1 grey level: in one of two early
frames, or in every frame; the worst of the three) or on ≥ 98 % of frames, and the landmarks' clip median must
be within 2 px or 1.5 × MediaPipe's own (the face 3 px: MediaPipe refines it with an attention model
no converter handles; ours is the plain face mesh plus the iris model). Both CPU backends
(LiteRT on MediaPipe's own files, the default there, and ONNX Runtime on the converted ones) are held
to this. The CLI's ``--detector onnx`` writes what ran into the npz and a motion within millimetres of MediaPipe's; a
GPU asked for and missing is one warning line; missing models are one error line; several frames
per call give what one frame per call gives."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from data_paths import BASKETBALL, MEGAMIND, MESSI, REPO

from inference.app.capture import detect_source
from inference.core.layout import BODY, FACE, PARTS, RHAND
from inference.core.records import DetectionSeq, Frame
from inference.detect.base import detect
from inference.detect.factory import make_detector
from inference.detect.onnx.runner import LITERT_BACKEND, ORT_BACKEND
from inference.detect.onnx.store import ModelStoreError
from inference.pipeline.motion import Motion

pytestmark = pytest.mark.slow
#: The CPU backends (tests/conftest.py's cpu_models runs the same two).
CPU_BACKENDS = (ORT_BACKEND, LITERT_BACKEND)
CLIPS = {"megamind": 120, "fast_motion": 60}
#: Clip-median landmark difference to the MediaPipe detector, pixels, per part (issue 13: 2 px; the
#: face 3 px, see the module's docstring), or this many times MediaPipe's own.
BOUNDS_PX = {"body": (BODY, 2.0), "right hand": (RHAND, 2.0), "face": (FACE, 3.0)}
OWN_FACTOR = 1.5
#: MediaPipe's reproducibility: PIXELS pixels + 1 grey level, in one of the EARLY_FRAMES or in every frame.
PIXELS, EARLY_FRAMES = 20, (2, 10)


def _capture(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inference", "capture", str(MEGAMIND), "--max-frames", "48",
                           "--quiet", *extra], capture_output=True, text=True, cwd=REPO, timeout=600)


def _fast_motion_clip(path) -> str:
    """Megamind's first frames under a fast synthetic camera: pan up to 12 % of the width, zoom
    ± 15 %, roll ± 8°, turning every few frames (MJPG .avi)."""
    src = cv2.VideoCapture(str(MEGAMIND))
    frames = [src.read()[1] for _ in range(CLIPS["fast_motion"])]
    src.release()
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24, (w, h))
    for t, frame in enumerate(frames):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 8.0 * np.sin(1.1 * t), 1.0 + 0.15 * np.sin(0.7 * t))
        m[:, 2] += (0.12 * w * np.sin(0.9 * t), 0.05 * h * np.cos(1.3 * t))
        out.write(cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    out.release()
    return str(path)


def _mediapipe_perturbed(clip: str, frames: int, changed: int | None) -> DetectionSeq:
    """The MediaPipe detector on ``clip`` with :data:`PIXELS` pixels changed by one grey level in
    frame ``changed``, or in every frame (None)."""
    cap = cv2.VideoCapture(clip)
    detector, _ = make_detector("mediapipe")
    rng = np.random.default_rng(0)
    dets = []
    for i in range(frames):
        image = cap.read()[1]
        if changed is None or i == changed:
            ys, xs = rng.integers(0, image.shape[0], PIXELS), rng.integers(0, image.shape[1], PIXELS)
            image[ys, xs] = np.minimum(image[ys, xs].astype(int) + 1, 255).astype(np.uint8)
        dets.append(detect(detector, Frame(image=image, time=i / 24, index=i)))
    cap.release()
    detector.close()
    return DetectionSeq.stack(dets)


@pytest.fixture(scope="module", params=list(CLIPS))
def detections(request, tmp_path_factory, onnx_models):
    """({backend: ours}, MediaPipe's, [MediaPipe perturbed three ways]) on one clip."""
    frames = CLIPS[request.param]
    clip = str(MEGAMIND) if request.param == "megamind" else \
        _fast_motion_clip(tmp_path_factory.mktemp("clips") / "fast_motion.avi")
    ours = {backend: detect_source(clip, max_frames=frames, progress=False, detector="onnx", device="cpu",
                                   backend=backend)[0] for backend in CPU_BACKENDS}
    mediapipe, *_ = detect_source(clip, max_frames=frames, progress=False)
    return ours, mediapipe, [_mediapipe_perturbed(clip, frames, changed) for changed in (*EARLY_FRAMES, None)]


def _median_px(a: DetectionSeq, b: DetectionSeq, sl: slice) -> tuple[float, int]:
    both = (a.kp2d[:, sl, 2] > 0.5) & (b.kp2d[:, sl, 2] > 0.5)
    dist = np.linalg.norm(a.kp2d[:, sl, :2] - b.kp2d[:, sl, :2], axis=-1)
    return float(np.median(dist[both])), int(both.sum())


def test_presence_agrees_with_mediapipe_as_well_as_mediapipe_with_itself(detections):
    by_backend, ref, perturbed = detections
    assert ref.info.name == "mediapipe-holistic"
    frames = len(ref)
    for backend, ours in by_backend.items():
        assert (ours.info.name, ours.info.backend) == ("onnx-holistic", backend)
        for part, name in enumerate(PARTS):
            ours_off = int((ours.present[:, part] != ref.present[:, part]).sum())
            itself_off = max(int((p.present[:, part] != ref.present[:, part]).sum()) for p in perturbed)
            print(f"{backend} {name}: ours disagrees on {ours_off} of {frames} frames, MediaPipe perturbed on up to "
                  f"{itself_off}")
            assert ours_off <= max(itself_off, int(0.02 * frames)), (backend, name, ours_off, itself_off)


def test_landmarks_are_within_the_bounds(detections):
    by_backend, ref, perturbed = detections
    for backend, ours in by_backend.items():
        for part, (sl, bound) in BOUNDS_PX.items():
            median, seen = _median_px(ours, ref, sl)
            itself = max(_median_px(p, ref, sl)[0] for p in perturbed)
            print(f"{backend} {part}: median {median:.2f} px over {seen} landmarks (MediaPipe perturbed: up to "
                  f"{itself:.2f} px)")
            assert seen > 100 and median <= max(bound, OWN_FACTOR * itself), (backend, part, median, itself)


def test_the_cli_writes_what_ran_and_a_motion_close_to_mediapipes(tmp_path):
    motions = {}
    for detector in ("mediapipe", "onnx"):
        path = tmp_path / f"{detector}.npz"
        proc = _capture(tmp_path, "--detector", detector, "--out", str(path), "--max-frames", "48")
        assert proc.returncode == 0, proc.stderr[-2000:]
        motions[detector] = Motion.from_npz(path)
    ours, ref = motions["onnx"], motions["mediapipe"]
    assert (ours.detector, ours.backend, ours.provider) == ("onnx-holistic", "litert", "CPU (LiteRT XNNPACK)")
    assert (ref.detector, ref.backend) == ("mediapipe-holistic", "mediapipe")
    joints = np.linalg.norm(ours.joints - ref.joints, axis=-1)[ours.valid & ref.valid]
    print(f"solved joints: median {1000 * np.median(joints):.1f} mm")
    assert np.median(joints) < 0.01


def test_a_missing_gpu_is_one_warning_and_missing_models_one_error(tmp_path, monkeypatch):
    proc = _capture(tmp_path, "--detector", "onnx", "--device", "gpu", "--max-frames", "2",
                    "--out", str(tmp_path / "gpu.npz"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: GPU requested") and "CPU" in warnings[0]
    assert str(Motion.from_npz(tmp_path / "gpu.npz").provider) == "CPU (LiteRT XNNPACK)"

    # LiteRT reads MediaPipe's own files: no converted models needed on the CPU
    monkeypatch.setenv("SMPLX_MOCAP_MODELS", str(tmp_path / "no_models"))
    out = tmp_path / "lite.npz"
    proc = subprocess.run([sys.executable, "-m", "inference", "capture", str(MESSI), "--detector", "onnx",
                           "--out", str(out), "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and Motion.from_npz(out).backend == "litert", proc.stderr[-1500:]
    # ONNX Runtime (and PyTorch) read the converted ones: missing, one line that says what to run
    with pytest.raises(ModelStoreError) as err:
        make_detector("onnx", device="cpu", backend="onnxruntime")
    assert "convert_models.py" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("static", [True, False], ids=["pictures", "video"])
def test_frames_in_one_call_equal_frames_one_by_one(static, backend, onnx_models):
    if static:
        images = [cv2.imread(str(p)) for p in (BASKETBALL, MESSI, BASKETBALL)]
    else:
        cap = cv2.VideoCapture(str(MEGAMIND))
        images = [cap.read()[1] for _ in range(6)]
        cap.release()
    frames = [Frame(image=im, time=i / 24, index=i) for i, im in enumerate(images)]
    together, _ = make_detector("onnx", static_images=static, device="cpu", backend=backend)
    alone, _ = make_detector("onnx", static_images=static, device="cpu", backend=backend)
    many = together.detect_many(frames)
    single = [alone.postprocess(alone.infer(alone.preprocess(f)), f) for f in frames]
    for m, s in zip(many, single):
        assert (m.present == s.present).all() and m.time == s.time
        np.testing.assert_allclose(m.kp2d, s.kp2d, atol=1e-3)
        np.testing.assert_allclose(m.kpz, s.kpz, atol=1e-3)
