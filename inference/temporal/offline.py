"""Offline (whole-clip) smoothing: zero phase, so no lag, never across a shot cut.

In: a clip's landmark targets or solved motion with real timestamps; out: the same, smoothed.
:func:`gaussian_smooth` smooths the 3D landmark targets before the batch solve (the main
smoothing), :func:`bridge_short_gaps` bridges short dropouts of a hand or the face, and
:func:`filter_zero_phase` runs the One-Euro :class:`~.motion_filter.MotionFilter` forward and
backward over the solved motion.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import PART_FACE, PART_LEFT_HAND, PART_RIGHT_HAND
from ..core.rotations import slerp
from ..core.skeleton import JOINT_PART
from .motion_filter import WRISTS, MotionFilter

#: Gaps in a hand or the face up to this long (seconds) are bridged in the batch path.
MAX_BRIDGED_GAP_S = 0.5


def bridge_short_gaps(times: np.ndarray, local_quat: np.ndarray, channels: np.ndarray,
                      part_valid: np.ndarray, channel_part: np.ndarray,
                      max_gap_s: float = MAX_BRIDGED_GAP_S) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offline only: where a hand or the face is lost for at most ``max_gap_s`` and found again,
    interpolate its joints (slerp; a hand's wrist with it) and channels (linear) between the frames
    on either side, so the filter neither fades it out nor eases it back in for a short detector
    dropout, and the wrist does not jump to the pose model's knuckles for it.

    times (T,); local_quat (T, 55, 4); channels (T, C) with channel_part (C,) naming the part of each
    channel; part_valid (T, 4) bool. Returns copies of local_quat and channels and the (T, 4) mask of
    parts that are now usable (detected or bridged). The body (part 0) is never bridged here.
    """
    q, x, usable = local_quat.copy(), channels.copy(), part_valid.copy()
    for part in (PART_LEFT_HAND, PART_RIGHT_HAND, PART_FACE):
        ok = part_valid[:, part]
        seen = np.flatnonzero(ok)
        if len(seen) < 2:
            continue
        jumps = np.flatnonzero(np.diff(seen) > 1)          # gaps between seen[k] and seen[k + 1]
        joints, chans = np.flatnonzero(JOINT_PART == part), np.flatnonzero(channel_part == part)
        if part != PART_FACE:                    # the wrist takes the hand's frame while it is found
            joints = np.append(joints, WRISTS[part - PART_LEFT_HAND])
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


#: The batch path smooths mostly before the solve (its landmark targets, :func:`target_sigma`);
#: the One-Euro pass after it (which also holds and fades parts that leave the picture) runs at
#: this share of the smoothing setting (the README's round-trip figures chose it).
BATCH_ONE_EURO_SHARE = 0.3


#: Seconds at the start of a clip filtered backwards to find where the joint rotations' forward
#: pass starts (:func:`filter_zero_phase`).
PRIME_S = 1.0


def filter_zero_phase(times: np.ndarray, q: np.ndarray, root: np.ndarray, expression: np.ndarray,
                      arkit: np.ndarray, part_valid: np.ndarray, smoothing: float,
                      hand_confidence: np.ndarray | None = None, confidence_strength: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The batch path's smoothing: short dropouts of a hand or the face are bridged
    (:func:`bridge_short_gaps`), then the One-Euro filter runs forward (its rotations starting
    from the first PRIME_S filtered backwards), then backward over its output (times mirrored), so
    the two lags cancel — a whole clip needs no causal filter. Arrays as in
    :meth:`MotionFilter.filter_sequence`: q (T, 55, 4), root (T, 3), expression (T, E), arkit (T, 52),
    part_valid (T, 4), hand_confidence (T, 2) or None with its ``confidence_strength`` (see
    :class:`MotionFilter`); returns the filtered four."""
    E = expression.shape[1]
    found = part_valid[:, [PART_LEFT_HAND, PART_RIGHT_HAND]]         # before bridging: the wrists ease
    channels = np.concatenate([expression, arkit], axis=1)
    q, channels, part_valid = bridge_short_gaps(times, q, channels, part_valid,
                                                np.full(channels.shape[1], PART_FACE))
    expression, arkit = channels[:, :E], channels[:, E:]
    rev = slice(None, None, -1)
    conf = np.ones((len(times), 2)) if hand_confidence is None else hand_confidence

    def run(t, *arrays, span):
        return MotionFilter(smoothing=smoothing, num_expression=E, snap_first_hands=True,
                            confidence_strength=confidence_strength).filter_sequence(
            t, *arrays, part_valid[span], hand_confidence=conf[span], hand_found=found[span])

    if smoothing > 0 and len(times) > 1:
        # the forward pass starts from where the clip's first PRIME_S settle, filtered backwards:
        # a first frame that is an outlier would otherwise drag its first frames after it
        n = int(np.searchsorted(times, times[0] + PRIME_S, side="right"))
        pr = slice(n - 1, None, -1)
        q = q.copy()
        q[0] = run(times[n - 1] - times[pr], q[pr], root[pr], expression[pr], arkit[pr], span=pr)[0][-1]
    fwd = run(times, q, root, expression, arkit, span=slice(None))
    if smoothing <= 0 or len(times) < 2:
        return fwd
    back = run(times[-1] - times[rev], *(a[rev] for a in fwd), span=rev)
    return tuple(a[rev] for a in back)
