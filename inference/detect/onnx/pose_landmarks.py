"""The body landmarks (BlazePose GHUM full) around the converted ``pose_landmark_full`` model, as
MediaPipe's ``pose_landmark_by_roi_cpu.pbtxt`` computes them: the ROI from a detection or from
the previous frame's auxiliary landmarks (``pose_detection_to_roi`` / ``pose_landmarks_to_roi``),
its 256 × 256 crop, the model's outputs decoded (``tensors_to_pose_landmarks_and_segmentation``:
39 landmarks refined on the heatmap, the pose-presence flag, the 39 world landmarks) and projected
back to the picture.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core.layout import NUM_BODY
from . import rects as rect_maths
from . import roi

# ImageToTensorCalculator options of pose_landmark_by_roi_cpu.pbtxt (default border: replicate).
INPUT_SIZE = 256
VALUE_RANGE = (0.0, 1.0)
BORDER = cv2.BORDER_REPLICATE
NUM_LANDMARKS = 39                  # 33 body + 2 auxiliary (ROI centre, ROI scale) + 4 unused
AUX = slice(NUM_BODY, NUM_BODY + 2)
#: Holistic's min_tracking_confidence default: the ThresholdingCalculator on the pose flag.
PRESENCE_THRESHOLD = 0.5
# RefineLandmarksFromHeatmapCalculator options. The window is 9 × 9 (the proto's default), not the
# pbtxt's kernel_size 7: measured on basketball1.png, 9 reproduces mediapipe 0.10.21's landmarks to
# 0.001 heatmap cells, 7 is off by up to 0.4 cells (≈ 2.6 picture pixels).
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5
# AlignmentPointsRectsCalculator + RectTransformationCalculator options (pose_detection_to_roi,
# pose_landmarks_to_roi): rotation from point 0 to point 1 made vertical, box 2 × their distance,
# square on the long side, × 1.25.
TARGET_ANGLE = np.pi / 2
ROI_SCALE = 1.25
#: The model's output names (its order in MediaPipe's SplitTensorVectorCalculator).
LANDMARKS_OUTPUT, FLAG_OUTPUT, HEATMAP_OUTPUT, WORLD_OUTPUT = "Identity", "Identity_1", "Identity_3", "Identity_4"


@dataclass
class PoseLandmarks:
    """Decoded landmark-model outputs for N crops: present (N,) bool (flag > threshold); flag (N,);
    points (N, 33, 3) u, v in picture pixels and z in picture pixels (MediaPipe z × image width);
    visibility, presence (N, 33) in [0, 1]; aux (N, 2, 2) auxiliary landmarks u, v in pixels;
    world (N, 33, 3) metres, rotated back by the ROI's rotation. Rows where ``present`` is False
    hold the model's raw guess (MediaPipe drops them)."""
    present: np.ndarray
    flag: np.ndarray
    points: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    aux: np.ndarray
    world: np.ndarray


def alignment_rects(centre: np.ndarray, scale_point: np.ndarray) -> np.ndarray:
    """(N, 2), (N, 2) picture pixels → (N, 5) ROIs cx, cy, w, h, θ: centred on ``centre``, square
    of 2 × |scale_point − centre| × 1.25, rotated so that centre → scale_point points up."""
    rects = rect_maths.alignment_rects(np.asarray(centre, np.float64), np.asarray(scale_point, np.float64),
                                       TARGET_ANGLE)
    rects[:, 2:4] *= ROI_SCALE
    return rects


def detection_rects(keypoints: np.ndarray) -> np.ndarray:
    """Detection keypoints (N, 4, 2) picture pixels → ROIs (N, 5) (pose_detection_to_roi)."""
    return alignment_rects(keypoints[:, 0], keypoints[:, 1])


def tracking_rects(aux: np.ndarray) -> np.ndarray:
    """Auxiliary landmarks (N, 2, 2) picture pixels → next frame's ROIs (N, 5) (pose_landmarks_to_roi)."""
    return alignment_rects(aux[:, 0], aux[:, 1])


def landmark_input(images: list[np.ndarray], rects: np.ndarray) -> np.ndarray:
    """One ROI per picture: RGB uint8 pictures, rects (N, 5) → (N, 256, 256, 3) float32 in [0, 1]."""
    return np.concatenate([roi.crops(im, r[None], INPUT_SIZE, VALUE_RANGE, BORDER) for im, r in zip(images, rects)])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """RefineLandmarksFromHeatmapCalculator: xy (N, L, 2) normalised to the crop, heatmap (N, h, w,
    L) logits → (N, L, 2): where a landmark's 7 × 7 window (cut at the edges) has a confidence
    ≥ 0.5, the confidence-weighted mean cell index / size; outside the heatmap, unchanged."""
    n, h, w, lms = heatmap.shape
    half = (HEATMAP_KERNEL - 1) // 2
    col = np.trunc(xy[..., 0] * w).astype(np.int64)       # C++ float → int truncates toward zero
    row = np.trunc(xy[..., 1] * h).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    conf = np.pad(sigmoid(heatmap), ((0, 0), (half, half), (half, half), (0, 0)))   # zero border = cut window
    offsets = np.arange(-half, half + 1)
    rows = np.clip(row, 0, h - 1)[..., None] + offsets + half      # (N, L, K) padded indices
    cols = np.clip(col, 0, w - 1)[..., None] + offsets + half
    ni, li = np.arange(n)[:, None, None, None], np.arange(lms)[None, :, None, None]
    window = conf[ni, rows[..., :, None], cols[..., None, :], li]  # (N, L, K, K)
    total = window.sum(axis=(2, 3))
    cell_r = (rows - half).astype(np.float64)
    cell_c = (cols - half).astype(np.float64)
    mean_r = (window.sum(axis=3) * cell_r).sum(axis=2) / np.where(total > 0, total, 1)
    mean_c = (window.sum(axis=2) * cell_c).sum(axis=2) / np.where(total > 0, total, 1)
    refine = inside & (window.max(axis=(2, 3)) >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    out = np.array(xy, np.float64)
    out[..., 0] = np.where(refine, mean_c / w, out[..., 0])
    out[..., 1] = np.where(refine, mean_r / h, out[..., 1])
    return out


def decode(outputs: dict[str, np.ndarray], rects: np.ndarray) -> PoseLandmarks:
    """The model's outputs for N crops of ROIs rects (N, 5) → :class:`PoseLandmarks` in picture
    pixels. z: crop pixels × ROI width / 256 (TensorsToLandmarks ÷ 256, LandmarkProjection × ROI
    width), i.e. MediaPipe's z × image width."""
    raw = outputs[LANDMARKS_OUTPUT].reshape(-1, NUM_LANDMARKS, 5).astype(np.float64)
    flag = outputs[FLAG_OUTPUT].reshape(-1).astype(np.float64)
    xy = refine_from_heatmap(raw[..., :2] / INPUT_SIZE, outputs[HEATMAP_OUTPUT])
    picture = roi.to_image(xy * INPUT_SIZE, rects, INPUT_SIZE)          # (N, 39, 2)
    z = raw[..., 2] * (np.asarray(rects)[:, 2:3] / INPUT_SIZE)
    world = outputs[WORLD_OUTPUT].reshape(-1, NUM_LANDMARKS, 3)[:, :NUM_BODY].astype(np.float64)
    c, s = np.cos(rects[:, 4])[:, None], np.sin(rects[:, 4])[:, None]
    world_xy = np.stack([c * world[..., 0] - s * world[..., 1], s * world[..., 0] + c * world[..., 1]], axis=-1)
    return PoseLandmarks(
        present=flag > PRESENCE_THRESHOLD, flag=flag,
        points=np.concatenate([picture[:, :NUM_BODY], z[:, :NUM_BODY, None]], axis=-1),
        visibility=sigmoid(raw[:, :NUM_BODY, 3]), presence=sigmoid(raw[:, :NUM_BODY, 4]),
        aux=picture[:, AUX], world=np.concatenate([world_xy, world[..., 2:]], axis=-1))


class PoseLandmarker:
    """The landmark model on an :class:`~.runner.OrtModel` of ``pose_landmark_full``."""

    def __init__(self, model):
        self.model = model

    def __call__(self, images: list[np.ndarray], rects: np.ndarray) -> PoseLandmarks:
        """RGB uint8 pictures with one ROI each, rects (N, 5) → their landmarks (N ≥ 1)."""
        rects = np.asarray(rects, np.float64).reshape(-1, 5)
        return decode(self.model(landmark_input(images, rects)), rects)
