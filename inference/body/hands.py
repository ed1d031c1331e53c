"""Which detected hands to believe, and how far: side checks and a confidence from the hand's size.

In: the detector's keypoints (T, 553, 3) and part flags (T, 4); out: the hands that pass the side
checks and each hand's confidence (T, 2). MediaPipe gives no per-landmark confidence for hands, and
picks a hand's side from the pose model's wrist it cropped around: where the hands overlap (holding
a ball) both crops can land on the same hand, and one detection is then the other hand's
duplicate. A hand far from its own wrist is another person's or a ghost. The landmarks of a hand a
few dozen pixels across jitter by a large share of its bones, so the filters smooth a small hand
harder (:func:`hand_confidence`).
"""
from __future__ import annotations

import numpy as np

from ..core.layout import HANDS, PART_BODY, PART_HANDS, POSE_WRISTS
from ..core.records import DetectionSeq
from .lift import VISIBLE
from .tables import HAND_CLEAR_PX, HAND_CONFIDENCE_FLOOR, HAND_DUPLICATE, HAND_NEAR, HAND_REACH


def hand_points(kp2d: np.ndarray) -> np.ndarray:
    """(T, 553, 3) keypoints → (T, 2, 21, 2) pixels of the left and right hand's landmarks."""
    return np.stack([kp2d[:, sl, :2] for sl in HANDS], axis=1).astype(np.float64)


def hand_sizes(kp2d: np.ndarray) -> np.ndarray:
    """(T, 553, 3) → (T, 2) the longer side of each hand's 2D bounding box (pixels; 0 if not found)."""
    H = hand_points(kp2d)
    return (H.max(2) - H.min(2)).max(-1)


def checked_hands(kp2d: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T, 2) bool: the hands found (present (T, 4)) that pass the side checks.

    A hand whose wrist is more than HAND_REACH of its size from its own side's pose wrist (seen at
    least ``lift.VISIBLE``) is dropped. Two hands whose landmarks lie on top of each other (median
    distance under HAND_DUPLICATE of their size) are one hand found twice when one of them has its
    wrist more than HAND_NEAR from its own pose wrist: the one further from its own is dropped
    (hands held together, each at its own wrist, are both kept)."""
    H = hand_points(kp2d)                                                       # (T, 2, 21, 2)
    size = np.maximum((H.max(2) - H.min(2)).max(-1), 1.0)                       # (T, 2)
    pw = kp2d[:, POSE_WRISTS].astype(np.float64)                                # (T, 2, 3)
    found = present[:, PART_HANDS] & present[:, PART_BODY, None]
    own = np.linalg.norm(H[:, :, 0] - pw[..., :2], axis=-1) / size
    ok = found & ~((own > HAND_REACH) & (pw[..., 2] >= VISIBLE))
    overlap = np.median(np.linalg.norm(H[:, 0] - H[:, 1], axis=-1), axis=-1) / size.mean(-1)   # (T,)
    duplicate = ok.all(1) & (overlap < HAND_DUPLICATE) & (own.max(1) > HAND_NEAR)
    drop = np.stack([own[:, 0] >= own[:, 1], own[:, 1] > own[:, 0]], axis=1)
    return ok & ~(duplicate[:, None] & drop)


def with_checked_hands(seq: DetectionSeq) -> DetectionSeq:
    """The detections with the hands that fail :func:`checked_hands` marked not found."""
    present = seq.present.copy()
    present[:, PART_HANDS] = checked_hands(seq.kp2d, seq.present)
    return DetectionSeq(seq.times, seq.image_size, seq.kp2d, seq.kpz, seq.world, present, seq.info)


def hand_confidence(kp2d: np.ndarray) -> np.ndarray:
    """(T, 553, 3) → (T, 2) how far each hand's finger landmarks can be believed frame to frame, in
    [HAND_CONFIDENCE_FLOOR, 1]: its size over HAND_CLEAR_PX (the detector's jitter of a pixel or
    two turns a small hand's phalanges by tens of degrees; from HAND_CLEAR_PX on, by a few)."""
    return np.clip(hand_sizes(kp2d) / HAND_CLEAR_PX, HAND_CONFIDENCE_FLOOR, 1.0)
