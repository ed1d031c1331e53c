"""Regions of interest: rotated rectangles in the picture, the crops a landmark model sees, and the
way back from crop to picture — as MediaPipe computes them (``ImageToTensorCalculator``'s
``GetRotatedSubRectToRectTransformMatrix``), so the converted models see the pixels they were
trained on.

A rectangle is its centre (cx, cy) and size (w, h) in picture pixels and a rotation θ (radians;
with x right and y down, positive turns x toward y). Coordinates are MediaPipe's normalised
coordinates × size, taken as OpenCV pixel-index coordinates (pixel i's centre at i), because
MediaPipe's CPU ``ImageToTensorCalculator`` (``image_to_tensor_converter_opencv.cc``) warps the
ROI's corners (``cv::boxPoints`` of centre = normalised × size) onto the crop's pixel-index corners
0 and S: crop point (u, v) of an S × S crop is picture point
``centre + R(θ) · ((u / S − ½) w, (v / S − ½) h)``, both ways (sampling and landmark projection).
"""
from __future__ import annotations

import cv2
import numpy as np


def crop_to_image(rects: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) affine maps from crop pixels of an S × S crop to picture pixels. rects (N, 5)
    cx, cy, w, h, θ."""
    rects = np.asarray(rects, np.float64).reshape(-1, 5)
    cx, cy, w, h, th = rects.T
    c, s = np.cos(th), np.sin(th)
    m = np.empty((len(rects), 2, 3))
    m[:, 0, 0], m[:, 0, 1] = c * w / size, -s * h / size
    m[:, 1, 0], m[:, 1, 1] = s * w / size, c * h / size
    m[:, 0, 2] = cx - 0.5 * (c * w - s * h)
    m[:, 1, 2] = cy - 0.5 * (s * w + c * h)
    return m


def crops(image: np.ndarray, rects: np.ndarray, size: int, value_range: tuple[float, float] = (0.0, 1.0),
          border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """(N, S, S, 3) float32 crops of an RGB uint8 picture (H, W, 3) for rects (N, 5), bilinear,
    scaled to ``value_range`` (MediaPipe's [0, 1] or [−1, 1]); outside the picture: 0 (constant
    border) or the edge pixels (replicate)."""
    maps = crop_to_image(rects, size)     # crop index → picture index, no half-pixel shift (as MediaPipe)
    lo, hi = value_range
    out = np.empty((len(maps), size, size, 3), np.float32)
    for i, m in enumerate(maps):
        # warpPerspective as MediaPipe calls it: its fixed-point sampling differs from warpAffine's by
        # up to a few grey levels on some pixels.
        pixels = cv2.warpPerspective(image, np.vstack([m, (0.0, 0.0, 1.0)]), (size, size),
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border,
                                     borderValue=(0, 0, 0))
        out[i] = pixels.astype(np.float32) * ((hi - lo) / 255.0) + lo
    return out


def to_image(points: np.ndarray, rects: np.ndarray, size: int) -> np.ndarray:
    """Crop pixels (N, K, 2) of S × S crops → picture pixels (N, K, 2)."""
    maps = crop_to_image(rects, size)
    return np.einsum("nij,nkj->nki", maps[:, :, :2], points) + maps[:, None, :, 2]


def to_crop(points: np.ndarray, rects: np.ndarray, size: int) -> np.ndarray:
    """Picture pixels (N, K, 2) → crop pixels (N, K, 2) of S × S crops (the inverse of :func:`to_image`)."""
    maps = crop_to_image(rects, size)
    inv = np.linalg.inv(maps[:, :, :2])
    return np.einsum("nij,nkj->nki", inv, points - maps[:, None, :, 2])


def crops_of(images, owner: np.ndarray, rects: np.ndarray, size: int,
             value_range: tuple[float, float] = (0.0, 1.0), border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """(M, S, S, 3) float32 crops of rects (M, 5) of several pictures: rect m from ``images[owner[m]]``
    (RGB uint8), as :func:`crops` (default border: MediaPipe's default, replicate)."""
    out = np.empty((len(rects), size, size, 3), np.float32)
    for m, (i, rect) in enumerate(zip(owner, rects)):
        out[m] = crops(images[i], rect[None], size, value_range, border)[0]
    return out
