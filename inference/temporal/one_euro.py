"""The One-Euro filter on real timestamps: Euclidean and in the rotation domain.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a first-order low-pass whose cutoff
rises with the signal's speed: ``cutoff = min_cutoff + beta * |dx/dt|_filtered``. Slow motion is
smoothed hard (jitter goes), fast motion passes with little lag. Every step uses the real time
between samples (``dt = t - t_prev``, variable, never a nominal fps), through

    alpha(cutoff, dt) = r / (1 + r),   r = 2 * pi * cutoff * dt.

* :class:`OneEuro` - Euclidean, any array shape, per-channel parameters (arrays broadcastable to x).
* :class:`QuatOneEuro` - the same in the rotation domain for (N, 4) unit quaternions (x, y, z, w).
  The speed is the geodesic angular rate ``log(q_prev_hat^-1 q) / dt`` (a 3-vector angular
  velocity, filtered like the derivative above) and the output is ``slerp(q_prev_hat, q, alpha)``.
  The input's sign is matched to the previous output first, so the filter never takes the long way
  round and its output never flips sign. No Euler angles.

:mod:`.motion_filter` runs them over a whole SMPL-X frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.rotations import quat_angle, quat_conj, quat_log, quat_mul, quat_normalize, rowdot, slerp

_TWO_PI = 2.0 * np.pi



# --------------------------------------------------------------------------------------------
# One-Euro core: pure update functions
# --------------------------------------------------------------------------------------------

@dataclass
class OneEuroParams:
    """One-Euro settings. Each field is a float or an array broadcastable to the filtered signal
    (per-channel settings, e.g. one min_cutoff per joint).

    min_cutoff: Hz, cutoff at rest (lower = smoother, more lag when slow).
    beta:       Hz per (unit of x)/s, how much the cutoff rises with speed (higher = less lag).
    d_cutoff:   Hz, cutoff of the low-pass on the derivative (speed estimate).
    """

    min_cutoff: float | np.ndarray
    beta: float | np.ndarray
    d_cutoff: float | np.ndarray = 1.0


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    """Exponential-smoothing weight of a first-order low-pass at ``cutoff`` Hz over ``dt`` s."""
    r = _TWO_PI * np.asarray(cutoff, dtype=np.float64) * dt
    return r / (r + 1.0)


def one_euro_update(x: np.ndarray, x_prev: np.ndarray, dx_prev: np.ndarray, dt: float,
                    p: OneEuroParams, gain: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One Euclidean One-Euro step. x, x_prev, dx_prev: same shape; dt > 0 seconds.

    ``gain`` (broadcastable, in [0, 1]) scales the smoothing weight and the speed term (used to blend a part
    back in). Returns (x_hat, dx_hat), the new output and filtered derivative.
    """
    dx = (x - x_prev) / dt
    dx_hat = dx_prev + smoothing_factor(p.d_cutoff, dt) * (dx - dx_prev)
    a = smoothing_factor(p.min_cutoff + p.beta * gain * np.abs(dx_hat), dt) * gain
    return x_prev + a * (x - x_prev), dx_hat


def quat_one_euro_update(q: np.ndarray, q_prev: np.ndarray, w_prev: np.ndarray, dt: float,
                         p: OneEuroParams, gain: np.ndarray | float = 1.0,
                         max_step: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One rotation-domain One-Euro step.

    q: (N, 4) unit measurement; q_prev: (N, 4) previous output; w_prev: (N, 3) previous filtered
    angular velocity (rad/s, in the previous output's frame); dt > 0 s; params broadcastable to (N,);
    gain (N,) or scalar in [0, 1] scales alpha; max_step (N,) radians or None: a measurement
    further than this from the previous output is taken only that far (a single outlier moves
    the output, and the speed estimate, by a bounded amount). Returns (q_hat (N, 4), w_hat (N, 3));
    q_hat is on q_prev's side of the double cover.
    """
    q = np.where(rowdot(q, q_prev) < 0.0, -q, q)            # hemisphere: the short way, no flips
    if max_step is not None:
        angle = quat_angle(q_prev, q)
        q = slerp(q_prev, q, np.minimum(1.0, max_step / np.maximum(angle, 1e-12)))
    omega = quat_log(quat_mul(quat_conj(q_prev), q)) * (1.0 / dt)   # geodesic angular rate (N, 3)
    w_hat = w_prev + smoothing_factor(p.d_cutoff, dt)[..., None] * (omega - w_prev)
    speed = np.sqrt(rowdot(w_hat, w_hat))[:, 0]
    a = smoothing_factor(p.min_cutoff + p.beta * gain * speed, dt) * gain
    return slerp(q_prev, q, a), w_hat


class OneEuro:
    """Euclidean One-Euro filter over an array of any shape, (N,) or (N, D) say.

    ``f(x, t)`` returns the filtered x. The first call returns x; a call whose t is not after the
    previous one (duplicate timestamp) returns the previous output and changes nothing. Inputs must
    be finite (:class:`MotionFilter` handles missing data).
    """

    def __init__(self, params: OneEuroParams):
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if not dt > 0.0:
            return self._x.copy()
        self._x, self._dx = one_euro_update(x, self._x, self._dx, dt, self.params)
        self._t = float(t)
        return self._x.copy()


class QuatOneEuro:
    """One-Euro filter on (N, 4) unit quaternions (x, y, z, w), per-rotation parameters allowed
    (arrays broadcastable to (N,)). Same call semantics as :class:`OneEuro`; outputs are unit
    quaternions whose sign follows the previous output (consecutive outputs have dot > 0; the
    first has w >= 0), so the output does not depend on the sign of the inputs at all."""

    def __init__(self, params: OneEuroParams):
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._q: np.ndarray | None = None
        self._w: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, q: np.ndarray, t: float) -> np.ndarray:
        q = quat_normalize(np.asarray(q, dtype=np.float64).reshape(-1, 4))
        if self._q is None:                                  # first output: w >= 0
            q = q * np.where(q[:, 3] < 0.0, -1.0, 1.0)[:, None]
            self._q, self._w, self._t = q, np.zeros((len(q), 3)), float(t)
            return q.copy()
        dt = float(t) - self._t
        if not dt > 0.0:
            return self._q.copy()
        self._q, self._w = quat_one_euro_update(q, self._q, self._w, dt, self.params)
        self._t = float(t)
        return self._q.copy()


# --------------------------------------------------------------------------------------------
# Whole-frame filter
# --------------------------------------------------------------------------------------------


