"""The face detector Holistic runs inside the face ROI it takes from the pose
(``FaceDetectionShortRangeByRoiCpu``: ``face_detection_short_range`` on a 128 × 128 crop, SSD
anchors, sigmoid scores ≥ 0.5, weighted non-maximum suppression, projected back to the picture).
Holistic uses only the best detection's six keypoints (eyes, nose, mouth, ears), so only its
cluster of the weighted suppression is computed.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .roi import crops_of, to_image
from .runner import OrtModel

MODEL = "face_detection_short_range"
SIZE = 128
NUM_KEYPOINTS = 6
#: ``face_detection_short_range.pbtxt`` / ``face_detection.pbtxt`` options.
STRIDES = (8, 16, 16, 16)
ANCHOR_OFFSET = 0.5
ANCHORS_PER_LAYER = 2            # one aspect ratio (1.0) + the interpolated scale
SCORE_CLIP, MIN_SCORE = 100.0, 0.5
MIN_SUPPRESSION_IOU = 0.3
VALUE_RANGE = (-1.0, 1.0)
BORDER = cv2.BORDER_CONSTANT     # BORDER_ZERO


def anchor_centres() -> np.ndarray:
    """(896, 2) anchor centres in crop pixels, in the model's output order (``SsdAnchorsCalculator``
    with fixed anchor size: layers of one stride share a grid, their anchors stacked per cell)."""
    out = []
    layer = 0
    while layer < len(STRIDES):
        last = layer
        while last < len(STRIDES) and STRIDES[last] == STRIDES[layer]:
            last += 1
        same = last - layer
        cells = int(np.ceil(SIZE / STRIDES[layer]))
        y, x = np.mgrid[:cells, :cells]
        centre = (np.stack([x, y], axis=-1).reshape(-1, 1, 2) + ANCHOR_OFFSET) / cells * SIZE
        out.append(np.repeat(centre, same * ANCHORS_PER_LAYER, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out)


_ANCHORS = anchor_centres()


def best_keypoints(regressors: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs regressors (N, 896, 16), classificators (N, 896, 1) → keypoints (N, 6, 2) crop
    pixels of the best detection's weighted cluster, found (N,) bool."""
    n = len(regressors)
    reg = regressors.astype(np.float64)
    score = 1 / (1 + np.exp(-np.clip(scores[..., 0].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    centre = reg[..., :2] + _ANCHORS
    half = reg[..., 2:4] / 2
    lo, hi = centre - half, centre + half
    kps = reg[..., 4:4 + 2 * NUM_KEYPOINTS].reshape(n, -1, NUM_KEYPOINTS, 2) + _ANCHORS[:, None]
    valid = (score >= MIN_SCORE) & np.all(reg[..., 2:4] >= 0, axis=-1)
    found = valid.any(axis=1)
    best = np.argmax(np.where(valid, score, -1), axis=1)
    rows = np.arange(n)
    b_lo, b_hi = lo[rows, best][:, None], hi[rows, best][:, None]
    inter = np.clip(np.minimum(hi, b_hi) - np.maximum(lo, b_lo), 0, None).prod(axis=-1)
    area = lambda a, b: (b - a).prod(axis=-1)       # noqa: E731
    union = area(lo, hi) + area(b_lo, b_hi) - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
    weight = np.where(valid & (iou > MIN_SUPPRESSION_IOU), score, 0)
    weight[rows, best] = np.where(found, score[rows, best], 1)      # the best one is always in its cluster
    keypoints = np.einsum("na,nakc->nkc", weight, kps) / weight.sum(axis=1)[:, None, None]
    return keypoints, found


def detect_keypoints(model: OrtModel, images: Sequence[np.ndarray], owner: np.ndarray,
                     rects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best face's six keypoints (M, 6, 2) in picture pixels inside ROIs (M, 5), ROI m in
    ``images[owner[m]]``; found (M,)."""
    if not len(rects):
        return np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros(0, bool)
    out = model(crops_of(images, owner, rects, SIZE, VALUE_RANGE, BORDER))
    kps, found = best_keypoints(out["regressors"], out["classificators"])
    return to_image(kps, rects, SIZE), found
