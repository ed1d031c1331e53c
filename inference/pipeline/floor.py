"""The floor in every frame: how far the solved motion's root must move down so that the lowest
point of the feet touches Y = 0, frame by frame, for the whole clip (batch) or causally (live).

In: the filtered world-space motion (global rotations, joints) and the subject's landmark
offsets; out: the floor height of each frame, subtracted from the root's Y.

:func:`~inference.body.world.world_frame` puts the feet on the floor in the first frame only; a
zooming or panning camera (or a drifting depth estimate) then lifts or sinks the person by
centimetres. What is smoothed is the floor's height (the lowest of the four heel and toe points of
both feet, per frame), not the root: the root keeps its own (real) vertical motion — a squat, a
bounce — and a walk keeps one foot on the floor, because the lowest point of both feet is pinned.
Frames well above the floor for a short time (a jump) are left out of the floor and bridged, so a
jump stays a jump; a longer stay up there (a step onto a box, an edit cut) becomes the new floor.
"""
from __future__ import annotations

import numpy as np

from ..body.landmarks import landmarks_from_pose
from ..core.layout import POSE_FEET
from ..temporal.offline import gaussian_smooth
from ..temporal.one_euro import OneEuroParams, one_euro_update

#: Offline: Gaussian sigma (seconds, zero phase, local-linear) of the floor height. The floor is
#: a slow thing (a camera's zoom or pan), so it does not follow the user's smoothing setting.
FLOOR_SIGMA_S = 0.1
#: Live: One-Euro settings of the floor height (min_cutoff Hz, beta Hz per m/s).
FLOOR_ONE_EURO = OneEuroParams(min_cutoff=0.5, beta=20.0)
#: On the ground, the lowest foot point stays within this (metres) of Y = 0 whatever the
#: smoothing: the smoothed floor is moved by what the feet would leave the floor by beyond it.
FOOT_TOLERANCE_M = 0.015
#: The lowest foot point this far (metres) above the floor is off the ground (a jump): the floor
#: is held there, not lifted with the feet.
AIRBORNE_M = 0.08
#: Off the ground for longer than this (seconds) is a new floor (a step up, a cut), not a jump.
MAX_AIRBORNE_S = 1.0


def lowest_foot_height(G: np.ndarray, joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(T,) world Y of the lowest heel / toe landmark of both feet.

    G (T, 55, 3, 3) global rotations and joints (T, 55, 3) of the world-space motion; offsets
    (75, 3) the subject's landmark offsets (``Subject.offsets``).
    """
    return landmarks_from_pose(G, joints, offsets)[:, POSE_FEET, 1].min(1)


def _lowest_around(x: np.ndarray, times: np.ndarray, radius_s: float, shots: np.ndarray) -> np.ndarray:
    """(T,) the larger of the minima of x (T,) over the frames of the same shot within ``radius_s``
    seconds before and within ``radius_s`` after: a frame is above this only if it is above lower
    frames on both sides (a jump), not where the floor itself steps (a cut, the end of a zoom)."""
    T = len(x)
    dt = float(np.median(np.diff(times))) if T > 1 else 1.0
    reach = int(min(max(T - 1, 0), np.ceil(radius_s / max(dt, 1e-6))))
    frames = np.arange(T)
    before, after = x.copy(), x.copy()
    for offset in range(1, reach + 1):                 # the window's taps, each over all frames
        for side, sign in ((before, -1), (after, 1)):
            idx = np.clip(frames + sign * offset, 0, T - 1)
            near = (shots[idx] == shots) & (np.abs(times[idx] - times) <= radius_s)
            np.minimum(side, np.where(near, x[idx], np.inf), out=side)
    return np.maximum(before, after)


def _jumps(height: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T,) bool: the frames of the jumps in ``height`` (T,), the lowest foot point above
    :func:`_lowest_around` (−inf where nobody is seen). A jump is a run of frames more than
    :data:`FOOT_TOLERANCE_M` up, take-off and landing included, that gets higher than
    :data:`AIRBORNE_M` and lasts at most :data:`MAX_AIRBORNE_S`."""
    up = height > FOOT_TOLERANCE_M
    edges = np.diff(np.concatenate([[0], up.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if not len(starts):
        return up
    jump = (np.maximum.reduceat(height, starts) > AIRBORNE_M) & (times[ends] - times[starts] <= MAX_AIRBORNE_S)
    run = np.cumsum(edges[:-1] == 1) - 1                # the run of each frame (meaningful where up)
    return up & jump[np.maximum(run, 0)]


def floor_offline(times: np.ndarray, lowest: np.ndarray, valid: np.ndarray, shots: np.ndarray) -> np.ndarray:
    """Batch: the floor height (T,) of each frame, zero phase, never across a shot cut.

    times (T,) seconds; lowest (T,) :func:`lowest_foot_height`; valid (T,) bool a person was seen;
    shots (T,) ints. Frames on the ground (valid, and not in a jump: :func:`_jumps` above lower
    frames on both sides within half :data:`MAX_AIRBORNE_S`) are
    smoothed (local-linear Gaussian, :data:`FLOOR_SIGMA_S`) and kept within
    :data:`FOOT_TOLERANCE_M` of their lowest foot point; the others take the floor interpolated
    in time between their shot's ground frames (a shot with nobody on the ground: 0).
    """
    lowest = np.asarray(lowest, np.float64)
    shots = np.asarray(shots)
    envelope = _lowest_around(np.where(valid, lowest, np.inf), times, 0.5 * MAX_AIRBORNE_S, shots)
    ground = valid & ~_jumps(np.where(valid, lowest - envelope, -np.inf), times)
    floor = gaussian_smooth(times, lowest[:, None, None], ground[:, None].astype(np.float64), FLOOR_SIGMA_S,
                            shots)[:, 0, 0]
    floor = np.where(ground, np.clip(floor, lowest - FOOT_TOLERANCE_M, lowest + FOOT_TOLERANCE_M), 0.0)
    for shot in np.unique(shots):                      # the frames off the ground: bridged per shot
        own = shots == shot
        known = own & ground
        if known.any():
            floor[own & ~ground] = np.interp(times[own & ~ground], times[known], floor[known])
    return floor


class FloorFilter:
    """Live: the floor height frame by frame, causal (One-Euro at :data:`FLOOR_ONE_EURO`, the
    output kept within :data:`FOOT_TOLERANCE_M` of the lowest foot point).

    ``step(t, lowest)`` returns the floor height to subtract from the root's Y this frame. A
    lowest foot point more than :data:`AIRBORNE_M` above the last floor holds the floor (a jump;
    without look-ahead its first :data:`AIRBORNE_M` are taken as the floor) for up to
    :data:`MAX_AIRBORNE_S`; after that the filter follows it (a new floor). A ``t`` not after the
    previous one returns the previous floor.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._state: np.ndarray | None = None          # (1,) the One-Euro's floor
        self._speed = np.zeros(1)
        self._t = 0.0
        self._out = 0.0                                 # the last floor returned
        self._airborne_s = 0.0

    def step(self, t: float, lowest: float) -> float:
        lowest = float(lowest)
        if self._state is None:
            self._state, self._t, self._out = np.array([lowest]), float(t), lowest
            return lowest
        dt = float(t) - self._t
        if not dt > 0.0:
            return self._out
        self._t = float(t)
        if lowest - self._out > AIRBORNE_M and self._airborne_s + dt <= MAX_AIRBORNE_S:
            self._airborne_s += dt
            return self._out
        self._airborne_s = 0.0
        self._state, self._speed = one_euro_update(np.array([lowest]), self._state, self._speed, dt,
                                                   FLOOR_ONE_EURO)
        self._out = float(np.clip(self._state[0], lowest - FOOT_TOLERANCE_M, lowest + FOOT_TOLERANCE_M))
        return self._out
