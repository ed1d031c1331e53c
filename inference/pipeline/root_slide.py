"""Root slide: how far the body travels while its feet do not step — camera motion (a pan, a
zoom) turned into root motion, which nothing in a monocular solve can tell apart.

In: the world-space joints, which frames show both feet; out: the
longest such slide in metres, and the one-line warning the CLI prints and the npz keeps.
Nobody travels without moving their feet relative to the pelvis, so a stretch where the feet stay
put relative to the pelvis and the pelvis still travels is the camera's doing.
"""
from __future__ import annotations

import numpy as np

from ..core.skeleton import JOINT_INDEX

#: The joints that say whether a person steps: ankles and feet.
FOOT_JOINTS = np.array([JOINT_INDEX[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")])
#: Feet that stay within this (metres, each horizontal axis, relative to the pelvis) over
#: :data:`STILL_WINDOW_S` do not step (a step moves a foot 0.3 m and more; the solve of a still
#: person's legs wobbles by about 0.07 m under a zooming camera).
STILL_FEET_M = 0.12
STILL_WINDOW_S = 1.0
#: A slide longer than this (metres, horizontal) gets the warning.
ROOT_SLIDE_WARN_M = 0.2


def feet_still(times: np.ndarray, joints: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(T,) bool: both feet seen and still, horizontally (world X / Z), relative to the pelvis over
    the frames within half :data:`STILL_WINDOW_S` on either side. times (T,); joints (T, 55, 3)
    world; seen (T,) bool (a person with both feet in view)."""
    rel = (joints[:, FOOT_JOINTS] - joints[:, :1])[..., [0, 2]]                     # (T, 4, 2)
    T = len(times)
    half = 0.5 * STILL_WINDOW_S
    reach = int(min(max(T - 1, 0), np.ceil(half / max(float(np.median(np.diff(times))) if T > 1 else 1.0, 1e-6))))
    frames = np.arange(T)
    lo, hi = rel.copy(), rel.copy()
    for offset in range(-reach, reach + 1):            # the window's taps, each over all frames
        idx = np.clip(frames + offset, 0, T - 1)
        near = (seen[idx] & (np.abs(times[idx] - times) <= half))[:, None, None]
        lo = np.where(near, np.minimum(lo, rel[idx]), lo)
        hi = np.where(near, np.maximum(hi, rel[idx]), hi)
    return seen & ((hi - lo).max(axis=(1, 2)) < STILL_FEET_M)


def root_slide(times: np.ndarray, joints: np.ndarray, seen: np.ndarray) -> float:
    """Metres: the farthest the pelvis gets (horizontally, world X / Z) from where a stretch of
    :func:`feet_still` frames began, over all such stretches; 0 without one."""
    still = feet_still(times, joints, seen)
    if not still.any():
        return 0.0
    starts = np.flatnonzero(still & ~np.concatenate([[False], still[:-1]]))
    start_of = starts[np.searchsorted(starts, np.arange(len(still)), side="right") - 1]     # (T,) valid where still
    travel = np.linalg.norm((joints[:, 0] - joints[np.maximum(start_of, 0), 0])[:, [0, 2]], axis=1)
    return float(travel[still].max())


def slide_warning(slide_m: float) -> str | None:
    """The one-line warning for a slide of ``slide_m`` metres, or None below :data:`ROOT_SLIDE_WARN_M`."""
    if slide_m < ROOT_SLIDE_WARN_M:
        return None
    return (f"ROOT SLIDE: the body travels {slide_m:.2f} m while its feet do not step; the camera probably "
            "moved (pan / zoom) and became root motion: film from a fixed camera, or remove the root's travel")
