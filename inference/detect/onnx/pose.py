"""The body of the ONNX detector: MediaPipe's ``pose_landmark_cpu.pbtxt`` (as Holistic runs it at
model_complexity=1). Detection runs only when there is no ROI from the previous frame (static mode:
on every picture); the landmarks of a frame give the next frame's ROI through the auxiliary
landmarks. In video mode the landmarks are smoothed as ``pose_landmark_filtering.pbtxt`` does
(one-euro filters, low-pass visibility); the auxiliary landmarks are always smoothed there, so the
tracking ROI — and through it every later frame — depends on that filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pose_detection import PoseDetector
from .pose_landmarks import PoseLandmarker, detection_rects, tracking_rects

#: MediaPipe's Python solutions stamp frame i at i × 33 333 µs (a simulated 30 fps), whatever the video's rate.
SOLUTION_FRAME_STEP = 0.033333
#: VisibilitySmoothingCalculator low_pass_filter alpha (landmarks, auxiliary and world landmarks).
VISIBILITY_ALPHA = 0.1
# LandmarksSmoothingCalculator one_euro_filter options: (min_cutoff, beta, derivate_cutoff).
LANDMARK_FILTER = (0.05, 80.0, 1.0)
AUX_FILTER = (0.01, 10.0, 1.0)
WORLD_FILTER = (0.1, 40.0, 1.0)          # disable_value_scaling: metres need no object scale
#: The filters' frequency before the first interval is known (OneEuroFilterOptions default).
DEFAULT_FREQUENCY = 30.0


@dataclass
class BodyResult:
    """One picture's body in the Detection layout: kp2d (33, 3) float32 u, v pixels and visibility
    as confidence; kpz (33,) float32 MediaPipe z × image width; world (33, 3) float32 metres."""
    kp2d: np.ndarray
    kpz: np.ndarray
    world: np.ndarray


class OneEuroFilter:
    """MediaPipe's OneEuroFilter over an array of values (each element its own filter, one shared
    clock): the derivative from the last raw value, low-passed at derivate_cutoff; the value
    low-passed at min_cutoff + beta × |derivative|."""

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float):
        self.min_cutoff, self.beta, self.derivate_cutoff = min_cutoff, beta, derivate_cutoff
        self.reset()

    def reset(self) -> None:
        self.frequency, self.last_time = DEFAULT_FREQUENCY, None
        self.raw = self.value = self.dvalue = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * self.frequency)

    def __call__(self, values: np.ndarray, time: float, value_scale: float = 1.0) -> np.ndarray:
        """values (...) at ``time`` seconds → filtered values (...)."""
        values = np.asarray(values, np.float64)
        if self.last_time is not None and time <= self.last_time:
            return values                       # MediaPipe passes a non-increasing timestamp through
        if self.last_time is not None:
            self.frequency = 1.0 / (time - self.last_time)
        self.last_time = time
        if self.raw is None:
            self.raw, self.value, self.dvalue = values, values, np.zeros_like(values)
            return values
        dvalue = (values - self.raw) * value_scale * self.frequency
        self.dvalue = self.dvalue + self._alpha(self.derivate_cutoff) * (dvalue - self.dvalue)
        alpha = self._alpha(self.min_cutoff + self.beta * np.abs(self.dvalue))
        self.value = self.value + alpha * (values - self.value)
        self.raw = values
        return self.value


class LowPass:
    """MediaPipe's LowPassFilter with a fixed alpha (the visibility smoothing)."""

    def __init__(self, alpha: float):
        self.alpha, self.value = alpha, None

    def reset(self) -> None:
        self.value = None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, np.float64)
        self.value = values if self.value is None else self.alpha * values + (1 - self.alpha) * self.value
        return self.value


class PoseSmoother:
    """pose_landmark_filtering.pbtxt for one tracked body. ``smooth_landmarks`` False leaves the
    body and world landmarks raw (MediaPipe's SwitchContainer); the auxiliary landmarks are
    smoothed either way."""

    def __init__(self, smooth_landmarks: bool):
        self.smooth = smooth_landmarks
        self.points, self.aux, self.world = OneEuroFilter(*LANDMARK_FILTER), OneEuroFilter(*AUX_FILTER), \
            OneEuroFilter(*WORLD_FILTER)
        self.visibility = LowPass(VISIBILITY_ALPHA)

    def reset(self) -> None:
        """The body was lost: start afresh (MediaPipe resets on an empty landmark packet)."""
        for f in (self.points, self.aux, self.world, self.visibility):
            f.reset()

    def __call__(self, points: np.ndarray, visibility: np.ndarray, aux: np.ndarray, world: np.ndarray,
                 time: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """points (33, 3) pixels (u, v, z × width), visibility (33,), aux (2, 2) pixels, world (33, 3)
        → the same, filtered. The pixel filters scale speeds by the object's size: the box from
        the raw auxiliary landmarks (2 × their distance)."""
        object_scale = 2.0 * float(np.hypot(*(aux[1] - aux[0])))     # the unscaled alignment box
        aux = self.aux(aux, time, 1.0 / object_scale)
        if self.smooth:
            visibility = self.visibility(visibility)
            points = self.points(points, time, 1.0 / object_scale)
            world = self.world(world, time)
        return points, visibility, aux, world


class PoseTracker:
    """Body landmarks per picture as Holistic's pose part computes them. ``static``: every picture
    on its own (detection each time, no smoothing; a batch of N pictures is N single calls);
    otherwise the pictures are consecutive video frames (tracking, smoothing when ``smooth``)."""

    def __init__(self, detection_model, landmark_model, static: bool, smooth: bool = True):
        self.detector, self.landmarker = PoseDetector(detection_model), PoseLandmarker(landmark_model)
        self.static = static
        self.smoother = PoseSmoother(smooth and not static)
        self.rect: np.ndarray | None = None      # (5,) the ROI carried to the next frame
        self.frames = 0

    def process(self, images: list[np.ndarray], times: list[float] | None = None) -> list[BodyResult | None]:
        """RGB uint8 pictures (H, W, 3) → per picture its body or None. ``times`` (seconds) drive the
        video smoothing; None stamps frames as MediaPipe's Python solution does (30 fps)."""
        if self.static:
            return self._static(images)
        if times is None:
            times = [(self.frames + 1 + i) * SOLUTION_FRAME_STEP for i in range(len(images))]
        self.frames += len(images)
        return [self._track(im, t) for im, t in zip(images, times)]

    def _static(self, images: list[np.ndarray]) -> list[BodyResult | None]:
        detections = self.detector(images)
        found = [i for i, d in enumerate(detections) if len(d.score)]
        results: list[BodyResult | None] = [None] * len(images)
        if not found:
            return results
        rects = detection_rects(np.stack([detections[i].keypoints[0] for i in found]))
        lm = self.landmarker([images[i] for i in found], rects)
        for j, i in enumerate(found):
            if lm.present[j]:
                results[i] = _result(lm.points[j], lm.visibility[j], lm.world[j])
        return results

    def _track(self, image: np.ndarray, time: float) -> BodyResult | None:
        rect = self.rect
        if rect is None:
            det = self.detector([image])[0]
            if not len(det.score):
                self.smoother.reset()
                return None
            rect = detection_rects(det.keypoints[:1])[0]
        lm = self.landmarker([image], rect[None])
        if not lm.present[0]:
            self.rect = None
            self.smoother.reset()
            return None
        points, visibility, aux, world = self.smoother(lm.points[0], lm.visibility[0], lm.aux[0], lm.world[0], time)
        self.rect = tracking_rects(aux[None])[0]
        return _result(points, visibility, world)


def _result(points: np.ndarray, visibility: np.ndarray, world: np.ndarray) -> BodyResult:
    kp2d = np.concatenate([points[:, :2], visibility[:, None]], axis=1).astype(np.float32)
    return BodyResult(kp2d=kp2d, kpz=points[:, 2].astype(np.float32), world=np.asarray(world, np.float32))
