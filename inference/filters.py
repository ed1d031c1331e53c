"""Temporal filtering of the solved motion: One-Euro filters on real timestamps.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a first-order low-pass whose cutoff
rises with the signal's speed: ``cutoff = min_cutoff + beta * |dx/dt|_filtered``. Slow motion is
smoothed hard (jitter goes), fast motion passes with little lag. Every step uses the real time
between samples (``dt = t - t_prev``, variable, never a nominal fps), through

    alpha(cutoff, dt) = r / (1 + r),   r = 2 * pi * cutoff * dt.

Three layers, all vectorised over joints / channels:

* :class:`OneEuro` - Euclidean, any array shape, per-channel parameters (arrays broadcastable to x).
* :class:`QuatOneEuro` - the same in the rotation domain for (N, 4) unit quaternions (scipy order
  x, y, z, w). The speed is the geodesic angular rate ``log(q_prev_hat^-1 q) / dt`` (a 3-vector
  angular velocity, filtered like the derivative above) and the output is
  ``slerp(q_prev_hat, q, alpha)``. The input's sign is matched to the previous output first, so
  the filter never takes the long way round and its output never flips sign. No Euler angles.
* :class:`MotionFilter` - the whole SMPL-X frame the pipeline streams: 55 local rotations, root
  translation, expression and ARKit weights, with per-part validity, hold / fade of missing parts
  and blend-in of parts that come back. ``step`` (streaming) and ``filter_sequence`` (batch).

Smoothing → One-Euro settings (``MotionFilter(smoothing=s)``, s in [0, 1]). Each signal has
mid settings (used at s = 0.5)::

    signal                          min_cutoff (Hz)   beta            units of beta
    root translation                1.0               6.0             Hz per m/s
    body joints 0..21               1.5               5.0             Hz per rad/s
    finger joints 25..54            2.5               6.0             Hz per rad/s
    jaw / eyes 22..24               3.0               0.6             Hz per rad/s
    expression, ARKit weights       4.0               1.0             Hz per unit/s

and ``min_cutoff(s) = mid * 16 ** (1 - 2s)`` for s <= 0.5, ``mid * 4 ** (1 - 2s)`` above, and
``beta(s) = mid * 3 ** (1 - 2s)``; ``d_cutoff`` = 1 Hz throughout. So s = 0 gives 16x the cutoff
(24 Hz for the body: alpha ≈ 0.83 at 30 fps, almost no filtering) and 3x the beta; s = 1 gives a
quarter of the cutoff (0.375 Hz for the body) and a third of the beta: heavy smoothing. Fingers and
the face are faster signals than the body and get higher cutoffs (less lag) at every setting.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import (BODY_JOINTS, DEFAULT_REST, FACE_JOINTS, FINGERS, JOINT_INDEX,
                       LEFT_HAND_JOINTS, NUM_JOINTS, RIGHT_HAND_JOINTS)

NUM_ARKIT = 52
_TWO_PI = 2.0 * np.pi
_SIGN_FLIP = np.array([-1.0, -1.0, -1.0, 1.0])

# Structure constants of the Hamilton product in (x, y, z, w) order: for unit quaternions a, b,
# (a ⊗ b)[k] = sum_ij a[i] b[j] _QMUL[i, j, k]. Built once; lets quat_mul be one outer product and
# one weighted sum, whatever the number of quaternions.
def _qmul_table() -> np.ndarray:
    table = np.zeros((4, 4, 4))
    e = np.eye(4)
    for i in range(4):
        for j in range(4):
            (ax, ay, az, aw), (bx, by, bz, bw) = e[i], e[j]
            table[i, j] = (aw * bx + ax * bw + ay * bz - az * by,
                           aw * by - ax * bz + ay * bw + az * bx,
                           aw * bz + ax * by - ay * bx + az * bw,
                           aw * bw - ax * bx - ay * by - az * bz)
    return table.reshape(16, 4)


_QMUL = _qmul_table()


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products (N, k), (N, k) → (N, 1). A plain reduction, not a BLAS product: its
    summation order does not depend on memory alignment, so results are bit-for-bit reproducible
    (``filter_sequence`` equals repeated ``step`` exactly)."""
    return np.add.reduce(a * b, axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Quaternion helpers (scipy order x, y, z, w), vectorised over leading axes.
# --------------------------------------------------------------------------------------------

def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b. a, b: (N, 4) float64 → (N, 4). (A plain reduction rather than a
    BLAS product, for bit-for-bit reproducible results, see :func:`_rowdot`.)"""
    outer = (a[:, :, None] * b[:, None, :]).reshape(-1, 16, 1)
    return np.add.reduce(outer * _QMUL, axis=1)


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion). (..., 4) → (..., 4)."""
    return q * _SIGN_FLIP


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions. (..., 4) → (..., 4); a zero quaternion becomes the identity."""
    n = np.sqrt(np.einsum("...i,...i->...", q, q))[..., None]
    out = np.divide(q, n, out=np.zeros_like(q, dtype=np.float64), where=n > 1e-12)
    out[..., 3] = np.where(n[..., 0] > 1e-12, out[..., 3], 1.0)
    return out


def quat_log(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, radians) of unit quaternions with w >= 0. (N, 4) → (N, 3)."""
    v = q[:, :3]
    s = np.sqrt(_rowdot(v, v))                                      # (N, 1)
    small = s < 1e-12
    return v * np.where(small, 2.0, 2.0 * np.arctan2(s, q[:, 3:]) / np.where(small, 1.0, s))


def quat_exp(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternions from rotation vectors (axis * angle). (..., 3) → (..., 4)."""
    angle = np.sqrt(np.einsum("...i,...i->...", rotvec, rotvec))
    half = 0.5 * angle
    small = angle < 1e-12
    fac = np.where(small, 0.5, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([rotvec * fac[..., None], np.cos(half)[..., None]], axis=-1)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians, in [0, pi]) between rotations a and b. (..., 4) → (...)."""
    d = np.einsum("...i,...i->...", a, b)
    b = b * np.where(d < 0.0, -1.0, 1.0)[..., None]
    diff, summ = a - b, a + b
    # 4 * atan2(|a - b|, |a + b|) with b on a's side: accurate near 0 (unlike 2 * acos(|d|)).
    return 4.0 * np.arctan2(np.sqrt(np.einsum("...i,...i->...", diff, diff)),
                            np.sqrt(np.einsum("...i,...i->...", summ, summ)))


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation from q0 (t = 0) to q1 (t = 1) along the SHORT way.

    q0, q1: (N, 4) unit quaternions; t: scalar or (N,). Returns (N, 4) unit quaternions on q0's
    side of the double cover (q1's sign is matched to q0 first), so a chain of slerps never flips.
    """
    q1 = np.where(_rowdot(q0, q1) < 0.0, -q1, q1)
    diff = q0 - q1
    summ = q0 + q1
    # Angle between the two 4-vectors, 2*atan2(|q0-q1|, |q0+q1|): accurate near 0 (unlike acos).
    theta = 2.0 * np.arctan2(np.sqrt(_rowdot(diff, diff)), np.sqrt(_rowdot(summ, summ)))   # (N, 1)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim:
        t = t.reshape(-1, 1)
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-9
    inv = 1.0 / np.where(small, 1.0, sin_theta)
    s0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) * inv)
    s1 = np.where(small, t, np.sin(t * theta) * inv)
    out = s0 * q0 + s1 * q1
    return out / np.sqrt(_rowdot(out, out))


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
                         p: OneEuroParams, gain: np.ndarray | float = 1.0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """One rotation-domain One-Euro step.

    q: (N, 4) unit measurement; q_prev: (N, 4) previous output; w_prev: (N, 3) previous filtered
    angular velocity (rad/s, in the previous output's frame); dt > 0 s; params broadcastable to (N,);
    gain (N,) or scalar in [0, 1] scales alpha. Returns (q_hat (N, 4), w_hat (N, 3)); q_hat is on
    q_prev's side of the double cover.
    """
    q = np.where(_rowdot(q, q_prev) < 0.0, -q, q)            # hemisphere: the short way, no flips
    omega = quat_log(quat_mul(q_prev * _SIGN_FLIP, q)) * (1.0 / dt)   # geodesic angular rate (N, 3)
    w_hat = w_prev + smoothing_factor(p.d_cutoff, dt)[..., None] * (omega - w_prev)
    speed = np.sqrt(_rowdot(w_hat, w_hat))[:, 0]
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

BODY, LEFT_HAND, RIGHT_HAND, FACE = 0, 1, 2, 3   # indices into part_valid, as layout.PARTS

#: (55,) int part of each joint: body 0..21, face 22..24 (jaw, eyes), left hand 25..39, right 40..54.
JOINT_PART = np.empty(NUM_JOINTS, dtype=np.int64)
JOINT_PART[BODY_JOINTS] = BODY
JOINT_PART[FACE_JOINTS] = FACE
JOINT_PART[LEFT_HAND_JOINTS] = LEFT_HAND
JOINT_PART[RIGHT_HAND_JOINTS] = RIGHT_HAND
_JOINT_ONEHOT = np.eye(4)[JOINT_PART]             # (55, 4)

#: (min_cutoff Hz, beta) of each signal at smoothing 0.5; see the module docstring.
SIGNAL_DEFAULTS = {
    "root_translation": (1.0, 6.0),
    "body": (1.5, 5.0),
    "fingers": (2.5, 6.0),
    "face_joints": (3.0, 0.6),
    "expression": (4.0, 1.0),
}


def params_for(smoothing: float, min_cutoff_mid: float, beta_mid: float,
               d_cutoff: float = 1.0) -> OneEuroParams:
    """One-Euro settings of a signal at ``smoothing`` in [0, 1] (0 ≈ none, 0.5 = the mid settings,
    1 = heavy); see the mapping in the module docstring."""
    s = float(np.clip(smoothing, 0.0, 1.0))
    k = 16.0 if s <= 0.5 else 4.0
    return OneEuroParams(min_cutoff=min_cutoff_mid * k ** (1.0 - 2.0 * s),
                         beta=beta_mid * 3.0 ** (1.0 - 2.0 * s), d_cutoff=d_cutoff)


# Relaxed finger curl (radians of flexion at joints 1, 2, 3 of each finger). Flexion bends each
# phalanx toward the palm (-Y in the palm-down rest pose) about the axis  bone_dir × (-Y):  -Z for
# the left hand's fingers (which point +X), +Z for the right hand's (which point -X), and about a
# tilted axis for the thumb. The cascade (more curl toward the pinky) is a natural resting hand.
RELAXED_CURL = {
    "index": (0.10, 0.15, 0.10), "middle": (0.15, 0.20, 0.10), "ring": (0.20, 0.25, 0.12),
    "pinky": (0.25, 0.30, 0.15), "thumb": (0.05, 0.10, 0.10),
}


def relaxed_hand_pose() -> np.ndarray:
    """(55, 4) float64 local quaternions: identity except a gentle natural finger curl
    (:data:`RELAXED_CURL`), mirrored between the hands. The default neutral of a lost hand."""
    q = np.zeros((NUM_JOINTS, 4))
    q[:, 3] = 1.0
    palm = np.array([0.0, -1.0, 0.0])
    for side in ("left", "right"):
        for finger in FINGERS:
            idx = [JOINT_INDEX[f"{side}_{finger}{k}"] for k in (1, 2, 3)]
            for k, j in enumerate(idx):
                a, b = (idx[k], idx[k + 1]) if k < 2 else (idx[1], idx[2])
                d = DEFAULT_REST[b] - DEFAULT_REST[a]
                axis = np.cross(d, palm)
                axis /= np.linalg.norm(axis)
                q[j] = quat_exp(axis * RELAXED_CURL[finger][k])
    return q


class MotionFilter:
    """Temporal filter of the solved SMPL-X motion, streaming (:meth:`step`) or batch
    (:meth:`filter_sequence`).

    smoothing: 0 (almost none) … 1 (heavy), see the module docstring. fade_time: seconds, time
    constant of the fade of a missing hand / face to its neutral. relaxed_pose: (55, 4) quaternions
    whose hand joints are the neutral of a lost hand (default :func:`relaxed_hand_pose`).
    num_expression: E, length of the expression vector. blend_time: seconds over which a part that
    comes back is blended in (its smoothing weight ramps from 0 to full, quadratic ease-in).

    Parts (``part_valid`` order body, left_hand, right_hand, face):
    body = joints 0..21 + root translation; left_hand = 25..39; right_hand = 40..54;
    face = joints 22..24 (jaw, eyes) + expression + ARKit weights.

    Per part and frame:

    * valid → One-Euro filtered (per-signal settings).
    * not valid (or any NaN / inf / zero quaternion in its inputs) → held at its last output and
      faded toward its neutral, weight ``1 - exp(-dt / fade_time)`` per step (slerp for rotations):
      hands → ``relaxed_pose``; face → identity jaw / eyes, zero expression and ARKit weights.
      The body is held WITHOUT fading (the last pose and root translation stay).
    * valid again → the filter restarts from the held value with zero speed and its smoothing
      weight ramps in over ``blend_time``, so the part eases toward the measurement, never snaps.
    * before a part's first valid frame it outputs its neutral (body: identity, zero translation);
      the body's first valid frame (and any part valid on the very first step) is taken as is.

    Outputs never contain NaN. Rotations are unit quaternions whose sign follows the previous
    output (no flips between frames).
    """

    def __init__(self, smoothing: float = 0.5, fade_time: float = 0.6,
                 relaxed_pose: np.ndarray | None = None, num_expression: int = 10,
                 blend_time: float = 0.5):
        self.smoothing = float(smoothing)
        self.fade_time = float(fade_time)
        self.blend_time = float(blend_time)
        self.num_expression = int(num_expression)
        E = self.num_expression

        neutral = relaxed_hand_pose() if relaxed_pose is None else quat_normalize(
            np.asarray(relaxed_pose, dtype=np.float64).reshape(NUM_JOINTS, 4))
        hands = (JOINT_PART == LEFT_HAND) | (JOINT_PART == RIGHT_HAND)
        self.neutral_quat = np.where(hands[:, None], neutral, np.array([0.0, 0.0, 0.0, 1.0]))

        # Per-joint rotation settings and per-channel Euclidean settings ([trans | expr | arkit]).
        def per(group_params: list[tuple[np.ndarray, str]], n: int) -> OneEuroParams:
            fc, beta = np.empty(n), np.empty(n)
            for mask, name in group_params:
                p = params_for(self.smoothing, *SIGNAL_DEFAULTS[name])
                fc[mask], beta[mask] = p.min_cutoff, p.beta
            return OneEuroParams(min_cutoff=fc, beta=beta, d_cutoff=1.0)

        self.rot_params = per([(JOINT_PART == BODY, "body"), (hands, "fingers"),
                               (JOINT_PART == FACE, "face_joints")], NUM_JOINTS)
        self.num_channels = 3 + E + NUM_ARKIT
        self.channel_part = np.full(self.num_channels, FACE, dtype=np.int64)
        self.channel_part[:3] = BODY
        self.vec_params = per([(self.channel_part == BODY, "root_translation"),
                               (self.channel_part == FACE, "expression")], self.num_channels)
        self._channel_onehot = np.eye(4)[self.channel_part]  # (C, 4): sums per part as one product
        self._fading_joint = JOINT_PART != BODY          # the body holds, everything else fades
        self._fading_channel = self.channel_part != BODY
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next step is a first frame."""
        self._t: float | None = None
        self._q = self.neutral_quat.copy()                 # (55, 4) last output
        self._w = np.zeros((NUM_JOINTS, 3))                # (55, 3) filtered angular velocity
        self._x = np.zeros(self.num_channels)              # (C,) last output [trans|expr|arkit]
        self._dx = np.zeros(self.num_channels)             # (C,) filtered derivative
        self._seen = np.zeros(4, dtype=bool)               # part has had a valid frame
        self._since = np.zeros(4)                          # s since the part (re)appeared

    def _outputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        E = self.num_expression
        return self._q.copy(), self._x[:3].copy(), self._x[3:3 + E].copy(), self._x[3 + E:].copy()

    def step(self, t: float, local_quat: np.ndarray, trans: np.ndarray, expression: np.ndarray,
             arkit: np.ndarray, part_valid: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Filter one frame, in streaming order.

        t: seconds (real timestamp); local_quat: (55, 4) x, y, z, w; trans: (3,) metres;
        expression: (E,); arkit: (52,); part_valid: (4,) bool body / left hand / right hand / face.
        Returns (local_quat (55, 4), trans (3,), expression (E,), arkit (52,)) float64, filtered.
        A t not after the previous frame's returns the previous output and changes nothing.
        """
        q = np.asarray(local_quat, dtype=np.float64).reshape(NUM_JOINTS, 4)
        x = np.concatenate([np.asarray(trans, dtype=np.float64).reshape(3),
                            np.asarray(expression, dtype=np.float64).reshape(self.num_expression),
                            np.asarray(arkit, dtype=np.float64).reshape(NUM_ARKIT)])
        t = float(t)

        # Validity: the flag, and every value of the part finite, every quaternion non-zero.
        norm2 = _rowdot(q, q)                                           # (55, 1); NaN / inf propagate
        good_joint = (norm2 > 1e-12) & (norm2 < np.inf)
        bad = (~good_joint[:, 0] @ _JOINT_ONEHOT + ~np.isfinite(x) @ self._channel_onehot) > 0
        valid = np.asarray(part_valid, dtype=bool).reshape(4) & ~bad
        vj = valid[JOINT_PART]                                          # (55,)
        vc = valid[self.channel_part]                                   # (C,)
        # Unit length, on the previous output's side of the double cover; invalid entries are
        # replaced by the held output so the vectorised maths stays finite.
        vjc = vj[:, None]
        scale = np.where(_rowdot(q, self._q) < 0.0, -1.0, 1.0) / np.sqrt(np.where(vjc, norm2, 1.0))
        q = np.where(vjc, q * scale, self._q)
        x = np.where(vc, x, self._x)

        if self._t is None:                                # first frame: valid parts as measured
            if not np.isfinite(t):
                return self._outputs()
            self._t = t
            self._q, self._x = q, x
            self._seen = valid.copy()
            self._since = np.where(valid, np.inf, 0.0)
            return self._outputs()

        dt = t - self._t
        if not dt > 0.0:                                   # duplicate / backwards / NaN time
            return self._outputs()
        self._t = t

        # Parts easing back in: smoothing weight ramps in (quadratic ease-in) over blend_time.
        since = np.where(valid, self._since + dt, 0.0)
        gain = np.minimum(since / self.blend_time, 1.0) ** 2 if self.blend_time > 0 else np.ones(4)
        q_new, w_new = quat_one_euro_update(q, self._q, self._w, dt, self.rot_params,
                                            gain[JOINT_PART])
        x_new, dx_new = one_euro_update(x, self._x, self._dx, dt, self.vec_params,
                                        gain[self.channel_part])

        # The body's first valid frame is taken as measured (nothing sensible to ease from).
        snap = valid & ~self._seen
        snap[1:] = False
        if snap[BODY]:
            sj, sc = JOINT_PART == BODY, self.channel_part == BODY
            q_new[sj], w_new[sj] = q[sj], 0.0
            x_new[sc], dx_new[sc] = x[sc], 0.0
            since[BODY] = np.inf

        # Missing parts: hold (body) or fade toward neutral (hands, face), with zero speed.
        if not valid.all():
            wf = 1.0 - np.exp(-dt / self.fade_time) if self.fade_time > 0 else 1.0
            fj = ~vj & self._fading_joint
            hold_q = self._q
            if fj.any():
                hold_q = np.where(fj[:, None], slerp(self._q, self.neutral_quat, wf), self._q)
            hold_x = np.where(~vc & self._fading_channel, self._x * (1.0 - wf), self._x)
            q_new = np.where(vj[:, None], q_new, hold_q)
            w_new = np.where(vj[:, None], w_new, 0.0)
            x_new = np.where(vc, x_new, hold_x)
            dx_new = np.where(vc, dx_new, 0.0)

        self._q, self._w, self._x, self._dx = q_new, w_new, x_new, dx_new
        self._seen |= valid
        self._since = since
        return self._outputs()

    def filter_sequence(self, times: np.ndarray, local_quat: np.ndarray, trans: np.ndarray,
                        expression: np.ndarray, arkit: np.ndarray, part_valid: np.ndarray,
                        reset: bool = True
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batch form: exactly :meth:`step` over the frames (after :meth:`reset` unless
        ``reset=False``, which continues the stream).

        times: (T,); local_quat: (T, 55, 4); trans: (T, 3); expression: (T, E); arkit: (T, 52);
        part_valid: (T, 4) bool. Returns (local_quat (T, 55, 4), trans (T, 3), expression (T, E),
        arkit (T, 52)) float64.
        """
        if reset:
            self.reset()
        T = len(times)
        out_q = np.empty((T, NUM_JOINTS, 4))
        out_t = np.empty((T, 3))
        out_e = np.empty((T, self.num_expression))
        out_a = np.empty((T, NUM_ARKIT))
        for i in range(T):
            out_q[i], out_t[i], out_e[i], out_a[i] = self.step(
                times[i], local_quat[i], trans[i], expression[i], arkit[i], part_valid[i])
        return out_q, out_t, out_e, out_a


#: Gaps in a hand or the face up to this long (seconds) are bridged in the batch path.
MAX_BRIDGED_GAP_S = 0.5


def bridge_short_gaps(times: np.ndarray, local_quat: np.ndarray, channels: np.ndarray,
                      part_valid: np.ndarray, channel_part: np.ndarray,
                      max_gap_s: float = MAX_BRIDGED_GAP_S) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offline only: where a hand or the face is lost for at most ``max_gap_s`` and found again,
    interpolate its joints (slerp) and channels (linear) between the frames on either side, so the
    filter neither fades it out nor eases it back in for a short detector dropout.

    times (T,); local_quat (T, 55, 4); channels (T, C) with channel_part (C,) naming the part of each
    channel; part_valid (T, 4) bool. Returns copies of local_quat and channels and the (T, 4) mask of
    parts that are now usable (detected or bridged). The body (part 0) is never bridged here.
    """
    q, x, usable = local_quat.copy(), channels.copy(), part_valid.copy()
    for part in (LEFT_HAND, RIGHT_HAND, FACE):
        ok = part_valid[:, part]
        seen = np.flatnonzero(ok)
        if len(seen) < 2:
            continue
        jumps = np.flatnonzero(np.diff(seen) > 1)          # gaps between seen[k] and seen[k + 1]
        joints, chans = np.flatnonzero(JOINT_PART == part), np.flatnonzero(channel_part == part)
        for k in jumps:
            a, b = seen[k], seen[k + 1]
            if times[b] - times[a] > max_gap_s:
                continue
            mid = np.arange(a + 1, b)
            w = (times[mid] - times[a]) / max(times[b] - times[a], 1e-9)          # (G,)
            for j in joints:
                q[mid, j] = slerp(np.repeat(q[a, j][None], len(mid), 0), np.repeat(q[b, j][None], len(mid), 0), w)
            x[np.ix_(mid, chans)] = (1.0 - w)[:, None] * x[a, chans] + w[:, None] * x[b, chans]
            usable[mid, part] = True
    return q, x, usable


#: Offline target smoothing: Gaussian sigma (seconds) per unit of ``smoothing`` (0.5 → 20 ms).
TARGET_SIGMA_PER_SMOOTHING = 0.04


def target_sigma(smoothing: float) -> float:
    """Seconds of Gaussian sigma the batch path smooths its 3D landmark targets with."""
    return TARGET_SIGMA_PER_SMOOTHING * float(np.clip(smoothing, 0.0, 1.0))


def gaussian_smooth(times: np.ndarray, x: np.ndarray, weight: np.ndarray, sigma: float,
                    shots: np.ndarray | None = None) -> np.ndarray:
    """Offline, zero-phase: confidence-weighted Gaussian smoothing on real timestamps, as a local
    linear fit (each sample becomes the value at its own time of a straight line fitted to its
    neighbours within 3 sigma, weights ``exp(-dt² / 2 sigma²) * weight``): a motion at constant speed
    passes unchanged, also at the ends of a clip and with uneven frame times; time gaps and unseen
    samples mix in nothing, nor do samples of different ``shots`` (T,) ints (edit cuts).

    times (T,) seconds, increasing; x (T, N, D); weight (T, N) >= 0; sigma seconds. Samples with zero
    weight keep their value. Returns (T, N, D) float64. The loop runs over the kernel's taps
    (a few per side), each tap vectorised over all frames.
    """
    x = np.asarray(x, np.float64)
    T = len(times)
    if sigma <= 0 or T < 2:
        return x.copy()
    dt_frame = float(np.median(np.diff(times)))
    reach = int(min(T - 1, np.ceil(3.0 * sigma / max(dt_frame, 1e-6))))
    frames = np.arange(T)
    s0, s1, s2 = (np.zeros(weight.shape) for _ in range(3))      # sums of w, w dt, w dt²
    sx, stx = np.zeros_like(x), np.zeros_like(x)                  # sums of w x, w dt x
    shots = np.zeros(T, np.int64) if shots is None else np.asarray(shots)
    for offset in range(-reach, reach + 1):
        idx = np.clip(frames + offset, 0, T - 1)
        same = (idx == frames + offset) & (shots[idx] == shots)
        dt = (times[idx] - times) * same                                                    # (T,)
        g = np.exp(-0.5 * (dt / sigma) ** 2) * same
        w = g[:, None] * weight[idx]                                                        # (T, N)
        wd = w * dt[:, None]
        s0 += w
        s1 += wd
        s2 += wd * dt[:, None]
        sx += w[..., None] * x[idx]
        stx += wd[..., None] * x[idx]
    det = s0 * s2 - s1 * s1
    linear = det > 1e-9 * np.maximum(s0 * s2, 1e-30)               # else a weighted mean
    num = np.where(linear[..., None], s2[..., None] * sx - s1[..., None] * stx, sx)
    den = np.where(linear, det, s0)
    keep = (s0 > 0) & (weight > 0)
    return np.where(keep[..., None], num / np.where(keep, den, 1.0)[..., None], x)
