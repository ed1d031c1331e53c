"""MediaPipe's rectangle calculators, vectorised, in picture pixels (rects (N, 5) cx, cy, w, h, θ as
in :mod:`.roi`): a rect from points (``LandmarksToDetectionCalculator`` +
``DetectionsToRectsCalculator``), from two alignment points (``AlignmentPointsRectsCalculator``),
its scaling and shifting (``RectTransformationCalculator``) and the choice between last frame's
rect and this frame's re-crop (holistic's ``RoiTrackingCalculator``).

MediaPipe computes all of these on normalised coordinates times the picture size; in pixels the
same formulas need no picture size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ``std::numeric_limits<float>::min()``: ``LandmarksToDetectionCalculator`` starts its maxima
#: there, so a maximum never falls below it (a box wholly left of / above the picture; in pixels
#: this is × picture size, still practically 0).
_FLT_MIN = float(np.finfo(np.float32).tiny)


def normalize_radians(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped into [−π, π), as MediaPipe's ``NormalizeRadians``."""
    return angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))


def rotation(start: np.ndarray, end: np.ndarray, target: float) -> np.ndarray:
    """(N,) the rect rotation that turns the vector start → end (pixels, (N, 2)) to the target
    angle (radians, counter-clockwise from x with y up), as ``DetectionsToRectsCalculator``."""
    d = end - start
    return normalize_radians(target - np.arctan2(-d[..., 1], d[..., 0]))


def box_rects(points: np.ndarray, clamp: bool = False) -> np.ndarray:
    """(N, 4) cx, cy, w, h of the axis-aligned box of points (N, K, 2) pixels. ``clamp``: the maxima
    never below (practically) 0, as ``LandmarksToDetectionCalculator`` computes them."""
    lo, hi = points.min(axis=1), points.max(axis=1)
    if clamp:
        hi = np.maximum(hi, _FLT_MIN)
    return np.concatenate([(lo + hi) / 2, hi - lo], axis=1)


def points_rects(points: np.ndarray, start: int, end: int, target: float, clamp: bool = False) -> np.ndarray:
    """(N, 5) the box of points (N, K, 2) turned by the rotation of point ``start`` → ``end``
    (``DetectionsToRectsCalculator`` with ``rotation_vector_*``; the box stays axis-aligned in
    size, as MediaPipe's)."""
    rot = rotation(points[:, start], points[:, end], target)
    return np.concatenate([box_rects(points, clamp), rot[:, None]], axis=1)


def alignment_rects(center: np.ndarray, scale: np.ndarray, target: float) -> np.ndarray:
    """(N, 5) ``AlignmentPointsRectsCalculator``: centred on ``center`` (N, 2), side twice the
    distance to ``scale`` (N, 2), turned so that center → scale points at ``target``."""
    side = 2.0 * np.linalg.norm(scale - center, axis=1)
    return np.column_stack([center, side, side, rotation(center, scale, target)])


def transform(rects: np.ndarray, scale: float, shift_y: float = 0.0, shift_x: float = 0.0,
              square_long: bool = True) -> np.ndarray:
    """(N, 5) ``RectTransformationCalculator``: shift along the rect's own axes (fractions of its
    size), make it square on its long side, scale."""
    cx, cy, w, h, th = np.asarray(rects, np.float64).T
    c, s = np.cos(th), np.sin(th)
    cx = cx + w * shift_x * c - h * shift_y * s
    cy = cy + w * shift_x * s + h * shift_y * c
    if square_long:
        w = h = np.maximum(w, h)
    return np.column_stack([cx, cy, w * scale, h * scale, th])


@dataclass(frozen=True)
class TrackingRule:
    """``RoiTrackingCalculatorOptions``: keep last frame's rect while it differs from this frame's
    re-crop by at most rotation_degrees, translation and scale (fractions of the re-crop's size)
    and last frame's landmarks lie inside the re-crop grown by recrop_margin."""
    rotation_degrees: float
    translation: float
    scale: float
    recrop_margin: float


def _along(points: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Points (N, K, 2) in axes turned by −θ (N,): the frame in which a rect of rotation θ is
    axis-aligned."""
    c, s = np.cos(-theta)[:, None], np.sin(-theta)[:, None]
    x, y = points[..., 0], points[..., 1]
    return np.stack([x * c - y * s, x * s + y * c], axis=-1)


def keep_tracking(prev_rects: np.ndarray, prev_points: np.ndarray, recrop: np.ndarray,
                  rule: TrackingRule) -> np.ndarray:
    """(N,) bool: whether ``RoiTrackingCalculator`` keeps last frame's rect (N, 5) built from last
    frame's landmarks (N, K, 2) instead of this frame's re-crop rect (N, 5)."""
    theta = recrop[:, 4]
    d_rot = np.degrees(prev_rects[:, 4]) - np.degrees(theta)
    d_rot = np.where(d_rot > 180, d_rot - 360, d_rot)
    d_rot = np.where(d_rot < -180, d_rot + 360, d_rot)
    centres = _along(np.stack([prev_rects[:, :2], recrop[:, :2]], axis=1), theta)
    shift = np.abs(centres[:, 0] - centres[:, 1])
    size = recrop[:, 2:4]
    rect_ok = ((np.abs(d_rot) <= rule.rotation_degrees)
               & np.all(shift <= size * rule.translation, axis=1)
               & np.all(np.abs(prev_rects[:, 2:4] - size) <= size * rule.scale, axis=1))
    half = size * (1 + rule.recrop_margin) / 2
    local = _along(prev_points, theta) - centres[:, 1:2]
    inside = np.all((np.abs(local) < half[:, None]).all(axis=2), axis=1)
    return rect_ok & inside
