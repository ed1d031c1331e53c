"""The pose detector (BlazePose detection) around the converted ``pose_detection`` model, as
MediaPipe's ``pose_detection_cpu.pbtxt`` computes it: the whole picture letterboxed into 224 × 224
(values in [−1, 1], zero border), SSD anchors, sigmoid scores, box + 4 keypoints decoding, weighted
non-max suppression, letterbox removal. Out: detections in picture pixels, best first.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from . import roi

# ImageToTensorCalculator options of pose_detection_cpu.pbtxt.
INPUT_SIZE = 224
VALUE_RANGE = (-1.0, 1.0)
BORDER = cv2.BORDER_CONSTANT        # BORDER_ZERO
# SsdAnchorsCalculator options (fixed_anchor_size: anchors are 1 × 1, only centres matter).
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
#: Anchors per cell and layer: aspect ratio 1.0 plus the interpolated scale (default ratio 1.0).
ANCHORS_PER_LAYER = 2
NUM_ANCHORS = 2254
# TensorsToDetectionsCalculator options.
NUM_KEYPOINTS = 4
BOX_SCALE = 224.0                   # x_scale = y_scale = w_scale = h_scale
SCORE_CLIPPING = 100.0
MIN_SCORE = 0.5                     # Holistic's min_detection_confidence default
# NonMaxSuppressionCalculator options (INTERSECTION_OVER_UNION, WEIGHTED).
MIN_SUPPRESSION_IOU = 0.3
#: The model's output names: boxes (N, 2254, 12), scores (N, 2254, 1).
BOXES_OUTPUT, SCORES_OUTPUT = "Identity", "Identity_1"


@dataclass
class PoseDetections:
    """The detections of one picture, best first (K may be 0): score (K,); box (K, 4) xmin, ymin,
    xmax, ymax and keypoints (K, 4, 2) u, v, in picture pixels (MediaPipe's normalised × size).
    Keypoint 0 is the hip centre, 1 the point above the head that sets the body's size and
    rotation."""
    score: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray


@lru_cache(maxsize=1)
def ssd_anchors() -> np.ndarray:
    """(2254, 2) float32 anchor centres x, y in [0, 1], in the model's output order (layers with
    the same stride merged, cells row by row, the anchors of a cell together)."""
    centres = []
    strides = np.array(ANCHOR_STRIDES)
    for stride in dict.fromkeys(ANCHOR_STRIDES):       # unique strides, in order
        per_cell = ANCHORS_PER_LAYER * int((strides == stride).sum())
        size = int(np.ceil(INPUT_SIZE / stride))
        y, x = np.mgrid[0:size, 0:size]
        cells = np.stack([(x.ravel() + ANCHOR_OFFSET) / size, (y.ravel() + ANCHOR_OFFSET) / size], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    anchors = np.concatenate(centres).astype(np.float32)
    assert len(anchors) == NUM_ANCHORS
    return anchors


def letterbox_rects(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-picture ROIs padded to a square (ImageToTensorCalculator's PadRoi). sizes (N, 2) width,
    height → rects (N, 5) cx, cy, w, h, θ in pixels and padding (N, 2) left (= right), top
    (= bottom) as fractions of the square."""
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    side = sizes.max(axis=1)
    rects = np.zeros((len(sizes), 5))
    rects[:, :2] = sizes / 2
    rects[:, 2] = rects[:, 3] = side
    padding = (1.0 - sizes / side[:, None]) / 2
    return rects, padding


def detection_input(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 pictures (H, W, 3) → model input (N, 224, 224, 3) float32 in [−1, 1] and the
    letterbox padding (N, 2)."""
    sizes = np.array([(im.shape[1], im.shape[0]) for im in images])
    rects, padding = letterbox_rects(sizes)
    batch = np.concatenate([roi.crops(im, r[None], INPUT_SIZE, VALUE_RANGE, BORDER) for im, r in zip(images, rects)])
    return batch, padding


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model outputs (N, 2254, 12), (N, 2254, 1) → scores (N, 2254) (clipped logits through a
    sigmoid), boxes (N, 2254, 4) xmin, ymin, xmax, ymax and keypoints (N, 2254, 4, 2) x, y, all
    normalised to the letterboxed input. The model writes x before y (reverse_output_order)."""
    anchors = ssd_anchors()
    logits = np.clip(raw_scores[..., 0].astype(np.float64), -SCORE_CLIPPING, SCORE_CLIPPING)
    scores = 1.0 / (1.0 + np.exp(-logits))
    centre = raw_boxes[..., 0:2] / BOX_SCALE + anchors     # anchor size is 1
    half = raw_boxes[..., 2:4] / BOX_SCALE / 2
    boxes = np.concatenate([centre - half, centre + half], axis=-1)
    keypoints = raw_boxes[..., 4:4 + 2 * NUM_KEYPOINTS].reshape(*raw_boxes.shape[:2], NUM_KEYPOINTS, 2) / BOX_SCALE
    keypoints = keypoints + anchors[:, None, :]
    return scores, boxes, keypoints


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with boxes (K, 4), xmin, ymin, xmax, ymax → (K,);
    0 where they do not overlap (MediaPipe's OverlapSimilarity)."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + areas - inter
    return np.where((inter > 0) & (union > 0), inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray) -> PoseDetections:
    """One picture's candidates, scores (A,), boxes (A, 4), keypoints (A, 4, 2) → the weighted
    non-max suppression of those scoring ≥ MIN_SCORE with positive size: each cluster (IoU > 0.3
    with its best box, the best included) becomes its score-weighted mean box and keypoints, with
    the best box's score."""
    keep = (scores >= MIN_SCORE) & np.all(boxes[:, 2:] >= boxes[:, :2], axis=1)
    order = np.flatnonzero(keep)[np.argsort(-scores[keep], kind="stable")]
    out_score, out_box, out_kp = [], [], []
    while len(order):
        similar = iou(boxes[order[0]], boxes[order]) > MIN_SUPPRESSION_IOU
        cluster = order[similar]
        weights = scores[cluster][:, None]
        total = weights.sum()
        out_score.append(scores[order[0]])
        out_box.append((boxes[cluster] * weights).sum(axis=0) / total)
        out_kp.append((keypoints[cluster] * weights[:, :, None]).sum(axis=0) / total)
        order = order[~similar]
    return PoseDetections(np.array(out_score, np.float64), np.array(out_box, np.float64).reshape(-1, 4),
                          np.array(out_kp, np.float64).reshape(-1, NUM_KEYPOINTS, 2))


def remove_letterbox(det: PoseDetections, padding: np.ndarray, size: tuple[int, int]) -> PoseDetections:
    """Letterboxed-input coordinates → picture pixels (DetectionLetterboxRemovalCalculator, then ×
    size). padding (2,) left, top; size (width, height)."""
    scale = np.asarray(size, np.float64) / (1.0 - 2 * padding)
    box = ((det.box.reshape(-1, 2, 2) - padding) * scale).reshape(-1, 4)
    return PoseDetections(det.score, box, (det.keypoints - padding) * scale)


class PoseDetector:
    """The pose detector on an :class:`~.runner.OrtModel` of ``pose_detection``."""

    def __init__(self, model):
        self.model = model

    def __call__(self, images: list[np.ndarray]) -> list[PoseDetections]:
        """RGB uint8 pictures (H, W, 3), any sizes → their detections, best first."""
        if not images:
            return []
        batch, padding = detection_input(images)
        out = self.model(batch)
        scores, boxes, keypoints = decode(out[BOXES_OUTPUT], out[SCORES_OUTPUT])
        return [remove_letterbox(weighted_nms(scores[i], boxes[i], keypoints[i]), padding[i],
                                 (im.shape[1], im.shape[0])) for i, im in enumerate(images)]
