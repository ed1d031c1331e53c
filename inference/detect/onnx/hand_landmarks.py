"""Both hands from the body pose, as MediaPipe Holistic finds them
(``mediapipe/modules/holistic_landmark/hand_landmarks_from_pose_cpu.pbtxt``):

1. a rough ROI from the pose's wrist, pinky and index (``HandLandmarksFromPoseToRecropRoi``),
   only where the pose's wrist is visible;
2. ``hand_recrop`` on its 256 × 256 crop: two points → the re-crop ROI (``HandRecropByRoiCpu``);
3. in video, last frame's hand ROI instead while it still fits (``HandTracking``);
4. ``hand_landmark_full`` on the 224 × 224 crop: 21 landmarks, presence, handedness, world
   landmarks (``HandLandmarkCpu``).

Side 0 is the subject's LEFT hand, fed by the pose's left wrist (Holistic's
``left_hand_landmarks``, our ``LHAND``), side 1 the right. Points are picture pixels; depth is
MediaPipe's z × picture width, as :class:`~inference.core.records.Detection` stores it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...core.layout import POSE
from . import rects as R
from .roi import crops_of, to_image
from .runner import OrtModel

RECROP_MODEL, LANDMARK_MODEL = "hand_recrop", "hand_landmark_full"
RECROP_SIZE, LANDMARK_SIZE = 256, 224
NUM_HAND = 21
#: Pose landmarks (wrist, pinky, index) that place each hand, left then right
#: (``hand_landmarks_left_and_right_cpu.pbtxt``).
POSE_HAND = np.array([[POSE[f"{side}_{n}"] for n in ("wrist", "pinky", "index")] for side in ("left", "right")])
#: A hand is looked for only where the pose's wrist visibility exceeds this
#: (``hand_visibility_from_hand_landmarks_from_pose.pbtxt``).
WRIST_VISIBILITY = 0.1
#: ROI from the pose: scale, shift (``hand_landmarks_from_pose_to_recrop_roi.pbtxt``).
POSE_ROI_SCALE, POSE_ROI_SHIFT_Y = 2.7, -0.1
#: ROI from the re-crop model's two points (``hand_recrop_by_roi_cpu.pbtxt``).
RECROP_TARGET_ANGLE, RECROP_SCALE, RECROP_SHIFT_Y = -np.pi / 2, 1.0, -0.1
#: ROI from last frame's landmarks (``hand_landmarks_to_roi.pbtxt``).
TRACK_SCALE, TRACK_SHIFT_Y = 2.0, -0.1
#: When last frame's ROI is kept (``hand_tracking.pbtxt``).
TRACKING = R.TrackingRule(rotation_degrees=40.0, translation=0.2, scale=0.4, recrop_margin=-0.1)
#: Hand presence threshold and the z normalisation of ``hand_landmark_cpu.pbtxt``.
PRESENCE, NORMALIZE_Z = 0.5, 0.4
#: The landmarks ``HandLandmarksToRectCalculator`` boxes (wrist, MCPs and PIPs), and within them
#: wrist, index MCP, middle MCP and ring MCP that set the rotation.
PALM_POINTS = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])
PALM_WRIST, PALM_INDEX, PALM_MIDDLE, PALM_RING = 0, 4, 6, 8


@dataclass
class Hands:
    """Hands of N frames, side 0 left, 1 right. points (N, 2, 21, 3) float64 pixel u, v and depth
    (z × picture width); world (N, 2, 21, 3) metric, hand-centred; present (N, 2) bool; score
    (N, 2) presence; handedness (N, 2) the model's "left hand" score; rects (N, 2, 5) the ROI
    the landmark model saw (NaN where none)."""
    points: np.ndarray
    world: np.ndarray
    present: np.ndarray
    score: np.ndarray
    handedness: np.ndarray
    rects: np.ndarray


def pose_rects(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose (N, 33, 3) pixel u, v, visibility → hand ROIs (N, 2, 5) and whether each is looked for
    (N, 2): ``HandDetectionsFromPoseToRectsCalculator`` + ``RectTransformationCalculator``."""
    pts = pose[:, POSE_HAND, :2].reshape(-1, 3, 2)
    wrist, pinky, index = pts[:, 0], pts[:, 1], pts[:, 2]
    middle = (2 * index + pinky) / 3            # MediaPipe's estimate of the middle finger
    side = 2 * np.linalg.norm(middle - wrist, axis=1)
    rot = R.rotation(wrist, middle, np.pi / 2)
    rects = R.transform(np.column_stack([middle, side, side, rot]), POSE_ROI_SCALE, POSE_ROI_SHIFT_Y)
    visible = pose[:, POSE_HAND[:, 0], 2] > WRIST_VISIBILITY
    return rects.reshape(len(pose), 2, 5), visible


def landmark_rects(points: np.ndarray) -> np.ndarray:
    """(N, 5) the tracking ROI from hand landmarks (N, 21, 2) pixels (``HandLandmarksToRoi``)."""
    p = points[:, PALM_POINTS]
    mid = ((p[:, PALM_INDEX] + p[:, PALM_RING]) / 2 + p[:, PALM_MIDDLE]) / 2
    rot = R.rotation(p[:, PALM_WRIST], mid, np.pi / 2)
    centre = (p.max(axis=1) + p.min(axis=1)) / 2
    local = R._along(p - centre[:, None], rot)              # palm in the rect's own axes
    lo, hi = local.min(axis=1), local.max(axis=1)
    mid_local = (lo + hi) / 2
    c, s = np.cos(rot), np.sin(rot)
    cx = mid_local[:, 0] * c - mid_local[:, 1] * s + centre[:, 0]
    cy = mid_local[:, 0] * s + mid_local[:, 1] * c + centre[:, 1]
    rects = np.column_stack([cx, cy, hi - lo, rot])
    return R.transform(rects, TRACK_SCALE, TRACK_SHIFT_Y)


def recrop_rects(model: OrtModel, images: Sequence[np.ndarray], owner: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """(M, 5) the re-crop ROIs: ``hand_recrop`` on the pose ROIs (M, 5) → two alignment points →
    ``AlignmentPointsRectsCalculator`` + ``RectTransformationCalculator``."""
    if not len(rects):
        return np.zeros((0, 5))
    raw = model(crops_of(images, owner, rects, RECROP_SIZE))["output_crop"].reshape(-1, 2, 2)
    pts = to_image(raw.astype(np.float64), rects, RECROP_SIZE)
    aligned = R.alignment_rects(pts[:, 0], pts[:, 1], RECROP_TARGET_ANGLE)
    return R.transform(aligned, RECROP_SCALE, RECROP_SHIFT_Y)


def run_landmarks(model: OrtModel, images: Sequence[np.ndarray], owner: np.ndarray,
                  rects: np.ndarray) -> dict[str, np.ndarray]:
    """``hand_landmark_full`` on ROIs (M, 5) → points (M, 21, 3) pixels and depth (z × width),
    world (M, 21, 3), score (M,), present (M,), handedness (M,)."""
    m = len(rects)
    if not m:
        return {"points": np.zeros((0, NUM_HAND, 3)), "world": np.zeros((0, NUM_HAND, 3)),
                "score": np.zeros(0), "present": np.zeros(0, bool), "handedness": np.zeros(0)}
    out = model(crops_of(images, owner, rects, LANDMARK_SIZE))
    raw = out["Identity"].reshape(m, NUM_HAND, 3).astype(np.float64)
    points = np.empty((m, NUM_HAND, 3))
    points[..., :2] = to_image(raw[..., :2], rects, LANDMARK_SIZE)
    # TensorsToLandmarks: z / 224 / 0.4; LandmarkProjection: × ROI width (normalised) → × picture width
    points[..., 2] = raw[..., 2] / LANDMARK_SIZE / NORMALIZE_Z * rects[:, 2:3]
    world = out["Identity_3"].reshape(m, NUM_HAND, 3).astype(np.float64)
    c, s = np.cos(rects[:, 4])[:, None], np.sin(rects[:, 4])[:, None]     # WorldLandmarkProjection
    world[..., 0], world[..., 1] = world[..., 0] * c - world[..., 1] * s, world[..., 0] * s + world[..., 1] * c
    score = out["Identity_1"].reshape(m).astype(np.float64)
    return {"points": points, "world": world, "score": score, "present": score > PRESENCE,
            "handedness": out["Identity_2"].reshape(m).astype(np.float64)}


class HolisticHands:
    """Holistic's hands from the pose. ``track=True`` (video) keeps last frame's hand ROI while it
    still fits, as Holistic's ``HandTracking`` does; then the N frames of a call are consecutive
    frames. ``track=False`` treats every frame alone (all hands of the batch in one model call)."""

    def __init__(self, recrop: OrtModel, landmark: OrtModel, track: bool = True):
        self.recrop, self.landmark, self.track = recrop, landmark, track
        self.reset()

    def reset(self) -> None:
        """Forget last frame's hands (a new clip)."""
        self._prev = np.full((2, NUM_HAND, 2), np.nan)
        self._prev_ok = np.zeros(2, bool)

    def __call__(self, images: Sequence[np.ndarray], pose: np.ndarray, body: np.ndarray | None = None) -> Hands:
        """images N RGB uint8 pictures; pose (N, 33, 3) pixel u, v, visibility; body (N,) bool where
        a pose was found (default all) → :class:`Hands`."""
        n = len(images)
        body = np.ones(n, bool) if body is None else np.asarray(body, bool)
        rects, wanted = pose_rects(np.asarray(pose, np.float64))
        wanted &= body[:, None]
        owner = np.repeat(np.arange(n), 2).reshape(n, 2)
        recrop = np.full((n, 2, 5), np.nan)
        recrop[wanted] = recrop_rects(self.recrop, images, owner[wanted], rects[wanted])
        if not self.track:
            return self._landmarks(images, owner, recrop, wanted)
        frames = [self._track_one(images, owner[i:i + 1], recrop[i:i + 1], wanted[i:i + 1]) for i in range(n)]
        return Hands(*(np.concatenate([getattr(f, k) for f in frames]) for k in Hands.__dataclass_fields__))

    def _track_one(self, images, owner, recrop, wanted) -> Hands:
        rects = recrop.copy()
        prev = self._prev_ok & wanted[0]
        if prev.any():
            keep = R.keep_tracking(landmark_rects(self._prev[prev]), self._prev[prev], recrop[0, prev], TRACKING)
            rects[0, np.flatnonzero(prev)[keep]] = landmark_rects(self._prev[prev][keep])
        hands = self._landmarks(images, owner, rects, wanted)
        self._prev_ok = hands.present[0].copy()
        self._prev = np.where(self._prev_ok[:, None, None], hands.points[0, :, :, :2], np.nan)
        return hands

    def _landmarks(self, images, owner, rects, wanted) -> Hands:
        shape = wanted.shape
        got = run_landmarks(self.landmark, images, owner[wanted], rects[wanted])
        points = np.zeros(shape + (NUM_HAND, 3))
        world = np.zeros(shape + (NUM_HAND, 3))
        score, hand = np.zeros(shape), np.zeros(shape)
        present = np.zeros(shape, bool)
        points[wanted], world[wanted], present[wanted] = got["points"], got["world"], got["present"]
        score[wanted], hand[wanted] = got["score"], got["handedness"]
        points[~present] = 0
        world[~present] = 0
        return Hands(points, world, present, score, hand, np.where(wanted[..., None], rects, np.nan))
