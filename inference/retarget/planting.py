"""Planted feet on a character of other proportions: the root's horizontal path from the source's
foot contacts.

The hips' path scaled by the leg-length ratio moves the target's feet as the source's only when
the target has the source's proportions; otherwise a planted foot slides by the change of the
hip-to-foot vector, which differs between the two skeletons (pelvis width, thigh / shin ratio).
Each frame step of the root is therefore blended toward the step that keeps the source's planted
foot points where the scaled source keeps them, weighted by how planted they are (low and slow in
the source). Directions are untouched: only the root's horizontal steps change, and not at all
when the target's feet already follow the scaled source's. A live link carries the last frame in
a :class:`RootTrack` so that one tick at a time gives the bake's path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A foot point's contact weight is 1 up to the first height above the floor and 0 from the second;
#: in between it ramps (metres, the source's). A point's height is measured from where it stands
#: in the rest pose (an ankle stands higher than a toe) above the frame's floor, which is where the
#: lowest of them stands: per frame, so stairs, slopes and the engine's per-frame floor need no clip.
CONTACT_LOW_M = (0.03, 0.07)
#: … and 1 up to the first horizontal speed, 0 from the second (metres per second, the source's).
CONTACT_SLOW_M_S = (0.3, 0.7)


@dataclass(frozen=True)
class RootTrack:
    """The last frame of a planted path: head (2,) the root head's corrected ground position,
    raw (2,) its uncorrected one, foot (2, F) the target's foot points relative to the root head,
    source (3, F) the source's foot points (metres, Z up)."""
    head: np.ndarray
    raw: np.ndarray
    foot: np.ndarray
    source: np.ndarray


def _ramp(x: np.ndarray, full: float, none: float) -> np.ndarray:
    """1 at or below ``full``, 0 at or above ``none``, linear between."""
    return np.clip((none - x) / (none - full), 0.0, 1.0)


def contact_weights(source: np.ndarray, rest_height: np.ndarray, frame_rate: float) -> np.ndarray:
    """(T − 1, F) in [0, 1] how planted each foot point is on each frame step: source (3, T, F)
    Z-up foot points (metres), rest_height (F,) the height each stands at in the rest pose above
    the lowest of them (see :data:`CONTACT_LOW_M`)."""
    raised = source[2] - rest_height
    height = raised - raised.min(axis=1, keepdims=True)
    high = np.maximum(height[:-1], height[1:])
    speed = np.linalg.norm(np.diff(source[:2], axis=1), axis=0) * frame_rate
    return _ramp(high, *CONTACT_LOW_M) * _ramp(speed, *CONTACT_SLOW_M_S)


def planted_path(raw: np.ndarray, foot: np.ndarray, source: np.ndarray, rest_height: np.ndarray, scale: float,
                 frame_rate: float, track: RootTrack | None = None) -> tuple[np.ndarray, RootTrack]:
    """The root head's ground positions (T, 2) that keep planted feet planted, and the track of the
    last frame. raw (T, 2) the scaled source root's path; foot (2, T, F) the target's foot points
    relative to the root head; source (3, T, F) the source's foot points (metres, Z up) and
    rest_height (F,) their rest heights above the lowest (:func:`contact_weights`); scale the
    target / source leg-length ratio; track: the frame before these (a live link's last tick), or
    None to start at ``raw[0]``. Every step moves the root by the scaled source's step where no foot
    is planted, by the step that keeps the planted points on the scaled source's steps where some
    are (their weighted mean), and by a blend of the two in between."""
    if track is not None:
        raw = np.concatenate([track.raw[None], raw])
        foot = np.concatenate([track.foot[:, None], foot], axis=1)
        source = np.concatenate([track.source[:, None], source], axis=1)
        start = track.head
    else:
        start = raw[0]
    w = contact_weights(source, rest_height, frame_rate)                                     # (T − 1, F)
    keep = scale * np.diff(source[:2], axis=1) - np.diff(foot, axis=1)                   # (2, T − 1, F)
    total = w.sum(axis=1)
    planted = (keep * w).sum(axis=2) / np.maximum(total, 1e-9)                           # (2, T − 1)
    free = np.diff(raw, axis=0).T
    share = np.minimum(total, 1.0)
    steps = free + share * (planted - free)
    path = start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps.T, axis=0)])
    if track is not None:
        path = path[1:]
    last = RootTrack(path[-1].copy(), raw[-1].copy(), foot[:, -1].copy(), source[:, -1].copy())
    return path, last
