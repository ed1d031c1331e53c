"""The ONNX body pipeline (inference/detect/onnx/pose*.py) against MediaPipe Holistic on real
pictures and video: the same landmarks within a fraction of a pixel, the same presence, the same
world landmarks; a batch of N pictures is N single calls. Prints the measured figures.
"""
import time

import cv2
import numpy as np
import pytest
from data_paths import BASKETBALL, MEGAMIND, MESSI

from inference.core.layout import BODY, PART_BODY
from inference.core.records import Frame
from inference.detect.mediapipe_holistic import MediaPipeHolisticDetector
from inference.detect.onnx.pose import PoseTracker
from inference.detect.onnx.pose_detection import NUM_ANCHORS, ssd_anchors

pytestmark = pytest.mark.slow

#: Acceptance of issue 13: median landmark difference to MediaPipe Holistic, pixels.
MAX_MEDIAN_PX = 2.0
#: Median world-landmark difference, metres (measured: < 1 mm).
MAX_WORLD_M = 0.005
VISIBLE = 0.5
VIDEO_FRAMES = 60


@pytest.fixture(scope="module")
def models(cpu_models):
    return cpu_models("pose_detection"), cpu_models("pose_landmark_full")


def _rgb(bgr):
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _mediapipe(frames, static):
    """MediaPipe Holistic's body per BGR frame: (Detection list, ms per frame)."""
    with MediaPipeHolisticDetector(static_images=static, hands=False, face=False) as mp:
        start, out = time.perf_counter(), []
        for i, bgr in enumerate(frames):
            frame = Frame(image=bgr, time=i / 30, index=i)
            out.append(mp.postprocess(mp.infer(mp.preprocess(frame)), frame))
        return out, (time.perf_counter() - start) * 1e3 / len(frames)


def _differences(ours, ref):
    """Pixel distances (K,) over the landmarks both see (visibility > 0.5) and the world distances (33,)."""
    both = (ours.kp2d[:, 2] > VISIBLE) & (ref.kp2d[BODY, 2] > VISIBLE)
    px = np.linalg.norm(ours.kp2d[both, :2] - ref.kp2d[BODY][both, :2], axis=1)
    return px, np.linalg.norm(ours.world - ref.world, axis=1)


def test_anchors_follow_the_ssd_options():
    anchors = ssd_anchors()
    assert anchors.shape == (NUM_ANCHORS, 2)
    # stride 8: 28 × 28 cells, 2 anchors each, first centre at half a cell
    np.testing.assert_allclose(anchors[:2], [[0.5 / 28, 0.5 / 28]] * 2)
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


@pytest.mark.parametrize("path", [BASKETBALL, MESSI], ids=["basketball1", "messi5"])
def test_static_picture_matches_mediapipe(models, path):
    bgr = cv2.imread(str(path))
    [ref], _ = _mediapipe([bgr], static=True)
    [ours] = PoseTracker(*models, static=True).process([_rgb(bgr)])
    assert (ours is not None) == bool(ref.present[PART_BODY])
    px, world = _differences(ours, ref)
    kpz = np.abs(ours.kpz - ref.kpz[BODY])
    print(f"\n{path.name}: body median {np.median(px):.3f} px (max {px.max():.3f}, {len(px)} landmarks), "
          f"kpz median {np.median(kpz):.3f} px, world median {np.median(world) * 1e3:.3f} mm")
    assert len(px) >= 10
    assert np.median(px) <= MAX_MEDIAN_PX
    assert np.median(world) <= MAX_WORLD_M
    assert np.median(kpz) <= MAX_MEDIAN_PX


def test_batch_is_single_calls(models):
    pictures = [_rgb(cv2.imread(str(p))) for p in (BASKETBALL, MESSI, BASKETBALL)]
    tracker = PoseTracker(*models, static=True)
    batch = tracker.process(pictures)
    for picture, together in zip(pictures, batch):
        [alone] = tracker.process([picture])
        np.testing.assert_allclose(together.kp2d, alone.kp2d, atol=1e-3)
        np.testing.assert_allclose(together.kpz, alone.kpz, atol=1e-3)
        np.testing.assert_allclose(together.world, alone.world, atol=1e-5)


def test_video_tracking_matches_mediapipe(models):
    capture, frames = cv2.VideoCapture(str(MEGAMIND)), []
    while len(frames) < VIDEO_FRAMES:
        ok, bgr = capture.read()
        assert ok, f"{MEGAMIND} has fewer than {VIDEO_FRAMES} frames"
        frames.append(bgr)
    refs, mp_ms = _mediapipe(frames, static=False)
    tracker = PoseTracker(*models, static=False)
    start = time.perf_counter()
    ours = [tracker.process([_rgb(bgr)])[0] for bgr in frames]
    our_ms = (time.perf_counter() - start) * 1e3 / len(frames)

    agree = np.mean([(o is not None) == bool(r.present[PART_BODY]) for o, r in zip(ours, refs)])
    pairs = [_differences(o, r) for o, r in zip(ours, refs) if o is not None and r.present[PART_BODY]]
    px = np.concatenate([p for p, _ in pairs])
    per_frame = np.array([np.median(p) for p, _ in pairs if len(p)])
    world = np.median(np.concatenate([w for _, w in pairs]))
    print(f"\nMegamind.avi {len(frames)} frames: presence agrees {agree:.0%} ({len(pairs)} with a body), "
          f"body median {np.median(px):.3f} px (worst frame's median {per_frame.max():.3f}), world median "
          f"{world * 1e3:.3f} mm; {our_ms:.1f} ms/frame (ONNX pose) vs {mp_ms:.1f} ms/frame (MediaPipe "
          "Holistic, which also runs its hand and face models)")
    assert agree >= 0.98
    assert np.median(px) <= MAX_MEDIAN_PX
    assert per_frame.max() <= MAX_MEDIAN_PX
    assert world <= MAX_WORLD_M
