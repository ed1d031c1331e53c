"""Steadiness figures of a captured motion: how much the fingers, wrists and ARKit weights change
between consecutive frames (``scripts/bench_steadiness.py`` and ``tests/pipeline/test_steadiness.py``).

On a still subject every change is flicker. Calm stretches of a real clip (a subject who barely
moves) are picked from the 2D keypoints alone (:func:`calm_pairs`), so the pick does not depend on
the solver under test.
"""
from __future__ import annotations

import numpy as np

from inference.core import rotations as rot
from inference.core.layout import BODY, HANDS, PART_BODY, PART_HANDS
from inference.core.records import DetectionSeq
from inference.core.skeleton import HAND_JOINTS, JOINT_INDEX
from inference.temporal.shots import shot_ids

WRISTS = np.array([JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]])
#: A pair of frames is calm where the body's 2D landmarks (seen at least CALM_VISIBLE in both) move
#: by at most CALM_MOTION of the body's 2D size (median over the landmarks), and so do the landmarks
#: of each hand seen in both; a calm stretch is at least CALM_RUN such pairs in a row, in one shot.
CALM_VISIBLE, CALM_MOTION, CALM_RUN = 0.5, 0.01, 6


def joint_steps(local_quat: np.ndarray) -> np.ndarray:
    """(T, 55, 4) local quaternions → (T-1, 55) degrees each joint turns between consecutive frames."""
    return np.degrees(rot.quat_angle(local_quat[1:], local_quat[:-1]))


def _size(kp: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(T, N, 3), (T, N) bool → (T,) the larger side of the bounding box of the seen points."""
    lo = np.where(ok[..., None], kp[..., :2], np.inf).min(1)
    hi = np.where(ok[..., None], kp[..., :2], -np.inf).max(1)
    return np.where(ok.sum(1) >= 2, (hi - lo).max(-1), np.inf)


def _median_motion(kp: np.ndarray, both: np.ndarray) -> np.ndarray:
    """(T, N, 3) keypoints, (T-1, N) seen in both → (T-1,) median displacement (pixels; 0 if none)."""
    step = np.linalg.norm(kp[1:, :, :2] - kp[:-1, :, :2], axis=-1)
    step = np.where(both, step, np.nan)
    with np.errstate(all="ignore"):
        out = np.nanmedian(np.where(both.any(1, keepdims=True), step, 0.0), axis=1)
    return out


def calm_pairs(seq: DetectionSeq) -> np.ndarray:
    """(T-1,) bool: consecutive frames i, i+1 inside a calm stretch (see CALM_*)."""
    kp = seq.kp2d[:, BODY].astype(np.float64)
    ok = (kp[..., 2] >= CALM_VISIBLE) & seq.present[:, PART_BODY, None]
    size = _size(kp, ok)
    ref = np.minimum(size[1:], size[:-1])
    calm = (_median_motion(kp, ok[1:] & ok[:-1]) <= CALM_MOTION * ref) & seq.present[1:, PART_BODY] \
        & seq.present[:-1, PART_BODY]
    for side, sl in enumerate(HANDS):
        seen = seq.present[:, PART_HANDS][:, side]
        both = (seen[1:] & seen[:-1])[:, None] & np.ones(sl.stop - sl.start, bool)
        calm &= _median_motion(seq.kp2d[:, sl].astype(np.float64), both) <= CALM_MOTION * ref
    shots = shot_ids(seq)
    calm &= shots[1:] == shots[:-1]
    out = np.zeros_like(calm)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], calm.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= CALM_RUN:
            out[a:b] = True
    return out


def steadiness(local_quat: np.ndarray, arkit: np.ndarray, present: np.ndarray,
               pairs: np.ndarray | None = None) -> dict:
    """Figures of one capture. local_quat (T, 55, 4); arkit (T, 52); present (T, 4) bool, what the
    detector found (a hand dropping out or coming back is a change of its flag); pairs (T-1,) bool:
    the consecutive-frame pairs measured (default all).

    Returns finger joints' change (degrees: max, p99, counts over 15 / 45 / 90 over all finger
    joints and pairs), the wrists' change (max over all pairs and over the pairs where that hand's
    detection drops out or comes back), the ARKit weights' largest change per pair (p99, max)."""
    pairs = np.ones(len(local_quat) - 1, bool) if pairs is None else np.asarray(pairs, bool)
    steps = joint_steps(local_quat)[pairs]
    fingers = steps[:, HAND_JOINTS].ravel()
    wrists = steps[:, WRISTS]
    hands = present[:, PART_HANDS]
    drop = (hands[1:] != hands[:-1])[pairs]                                   # (P, 2) left, right
    ark = np.abs(np.diff(arkit, axis=0))[pairs].max(1) if len(arkit) > 1 else np.zeros(0)

    def stat(v: np.ndarray, q: float | None = None) -> float:
        if not v.size:
            return 0.0
        return round(float(np.percentile(v, q) if q is not None else v.max()), 3)

    return {
        "pairs": int(pairs.sum()),
        "finger_max_deg": stat(fingers), "finger_p99_deg": stat(fingers, 99),
        "finger_over_15": int((fingers > 15).sum()), "finger_over_45": int((fingers > 45).sum()),
        "finger_over_90": int((fingers > 90).sum()),
        "wrist_max_deg": stat(wrists), "wrist_dropout_pairs": int(drop.sum()),
        "wrist_at_dropout_max_deg": stat(wrists[drop]),
        "arkit_p99": stat(ark, 99), "arkit_max": stat(ark),
    }
