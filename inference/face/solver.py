"""The face solver: face-mesh landmarks → ARKit weights, jaw and eye rotations, SMPL-X expression.

Input is the 478-point face mesh (with irises) of :data:`~inference.core.layout.FACE` as 3D points in pixel
units: ``x = u``, ``y = v`` (image, y down), ``z = kpz`` (pixels, away from the camera positive).
The face is treated as a (near-)orthographic 3D point cloud: its size is small next to its distance.

Pipeline (every step vectorised over frames; the streaming path runs the same functions with T = 1):

1. Head pose is removed (:func:`head_frame`, :func:`canonical_face`). A head frame is built from
   stable points (eye corners, nose ridge, forehead): +X from the subject's right eye to the left
   eye, +Y up (towards the forehead), +Z forward out of the face; lengths are divided by the
   inter-ocular distance (IOD, eye centre to eye centre).
2. :func:`face_measures` computes :data:`MEASURE_NAMES`: scale- and pose-free local measures
   (eyelid gap over eye width, iris offset, mouth width, corner heights, brow heights …). Each is
   a component or length of a difference vector between landmarks, expressed in the head frame,
   so a frame costs a few small matrix products (no per-landmark Python).
3. :func:`neutral_measures` estimates the subject's neutral per measure: a robust quantile over the
   present frames (:data:`NEUTRAL_QUANTILE`; the jaw's from its lengths less what open lips add).
   :func:`measure_noise` measures each measure's jitter in the calm stretches; noisy measures (a
   small face, small eyes) are smoothed (:func:`noise_smoothing`, zero phase in batch, causal and
   weighted down on frames the tracker is losing in streaming) and widen the dead zones of the
   channels they drive. The batch path calibrates once per sequence; :class:`FaceSolver` in
   streaming mode keeps a ring buffer and re-estimates both periodically.
4. :func:`arkit_from_measures` maps each measure (relative to neutral) to a channel in [0, 1]
   through the ranges of :data:`ARKIT_RANGES` (on a turned head the far mouth corner takes the
   near one's change, :func:`~.arkit.borrow_near_side`); :func:`jaw_from_measures` and
   :func:`eyes_from_measures` give SMPL-X axis-angle rotations.
5. :class:`ExpressionFitter` fits SMPL-X expression coefficients to the 51 iBUG points
   (:data:`IBUG51_FROM_MEDIAPIPE`) given a body model with ``face_landmark_expression_basis()``.

Channels that landmarks cannot observe are always 0: ``tongueOut`` (no tongue landmarks) and
``cheekPuff`` (the face-mesh contour barely reacts to a puff; a guessed value would mostly be noise).
``jawForward``, ``mouthDimple*`` and ``noseSneer*`` are weak approximations (see the table).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.layout import IBUG51_FROM_MEDIAPIPE, NUM_ARKIT, NUM_EXPRESSION
from .arkit import (arkit_from_measures, eyes_from_measures, gaze_angles, jaw_from_measures, noise_ramps,
                    noise_smoothing)
from .expression import ExpressionFitter
from .measures import (NOISE_UNKNOWN, NUM_MEASURES, UPPER_RIGID, face_measures, frame_confidence, measure_noise,
                       neutral_measures, to_face_axes, upper_face_reference)


@dataclass
class FaceResult:
    """Face stage output for T frames (zeros where the face is missing).

    arkit:      (T, 52) float32 in [0, 1], order :data:`ARKIT_NAMES`.
    jaw:        (T, 3) float32 axis-angle local rotation of the SMPL-X ``jaw`` joint.
    eyes:       (T, 2, 3) float32 axis-angle of ``left_eye_smplhf``, ``right_eye_smplhf``.
    expression: (T, E) float32 SMPL-X expression coefficients (zeros when no model was given).
    present:    (T,) bool frames that had a face.
    """

    arkit: np.ndarray
    jaw: np.ndarray
    eyes: np.ndarray
    expression: np.ndarray
    present: np.ndarray


def _smooth_runs(x: np.ndarray, present: np.ndarray, alpha: float) -> np.ndarray:
    """Zero-phase one-pole smoothing (forward then backward) within runs of present frames.

    x: (T, ...) float; alpha in [0, 1): weight of the previous output. Loops over runs, each run
    filtered with scipy's vectorised ``lfilter``.
    """
    if alpha <= 0.0 or x.shape[0] < 2:
        return x
    from scipy.signal import lfilter
    out = x.copy()
    idx = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(np.int8), [0]])))
    b, a = [1.0 - alpha], [1.0, -alpha]
    for s, e in zip(idx[::2], idx[1::2]):
        seg = x[s:e].reshape(e - s, -1)
        f, _ = lfilter(b, a, seg, axis=0, zi=(alpha * seg[:1]))
        f = f[::-1]
        f, _ = lfilter(b, a, f, axis=0, zi=(alpha * f[:1]))
        out[s:e] = f[::-1].reshape(x[s:e].shape)
    return out


def _smooth_columns(m: np.ndarray, alpha: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Zero-phase one-pole smoothing of each column of m (N, M) with its own weight alpha (M,),
    within runs of consecutive frame numbers ``idx`` (N,) (a missing frame starts a new run).
    Columns whose weights round alike (0.01) are filtered together."""
    out = m.copy()
    full = np.zeros(int(idx[-1]) + 1 if len(idx) else 0, bool)
    full[idx] = True
    for a in np.unique(np.round(alpha, 2)):
        cols = np.flatnonzero(np.round(alpha, 2) == a)
        if a <= 0.0:
            continue
        x = np.zeros((full.size, cols.size))
        x[idx] = m[:, cols]
        out[:, cols] = _smooth_runs(x, full, float(a))[idx]
    return out


def _median_rows(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 of (N, D) (a full sort is faster than np.median's partition here)."""
    s = np.sort(a, axis=0)
    n = s.shape[0]
    return 0.5 * (s[(n - 1) // 2] + s[n // 2])


class _Ring:
    """Fixed-size ring buffer of row vectors. (capacity, width) float64."""

    def __init__(self, capacity: int, width: int):
        self.data = np.empty((max(1, int(capacity)), width))
        self.count = 0
        self.head = 0

    def clear(self) -> None:
        self.count = self.head = 0

    def push(self, row: np.ndarray) -> None:
        self.data[self.head] = row
        self.head = (self.head + 1) % self.data.shape[0]
        self.count = min(self.count + 1, self.data.shape[0])

    def rows(self) -> np.ndarray:
        return self.data[:self.count]

    def ordered(self) -> np.ndarray:
        """The rows oldest first (consecutive frames stay consecutive)."""
        if self.count < self.data.shape[0]:
            return self.data[:self.count]
        return np.roll(self.data, -self.head, axis=0)


class FaceSolver:
    """Face-mesh landmarks → :class:`FaceResult`, offline (:meth:`solve_batch`) or live (:meth:`solve_frame`).

    model: optional body model with ``face_landmark_expression_basis()`` (see
    :class:`ExpressionFitter`); without one the expression is zeros. The expression is always
    :data:`~inference.core.layout.NUM_EXPRESSION` wide (a model with fewer directions leaves the
    rest zero).
    smoothing: one-pole smoothing factor in [0, 1) applied to the outputs (0 = off; batch is
    zero-phase forward-backward within runs of present frames, streaming is causal).
    regularization: see :class:`ExpressionFitter`. relative_expression: subtract the subject's
    neutral landmark residual (sequence median / running median) before the expression solve, so
    identity and landmark-definition differences do not show up as expression.
    Streaming keeps the measures of the last ``neutral_window`` present frames and re-estimates
    the neutral and the measures' noise (:func:`measure_noise`) from them every ``neutral_every``
    frames (every frame during the first ``neutral_warmup`` frames).
    """

    def __init__(self, model=None, smoothing: float = 0.0,
                 regularization: float = 0.05, relative_expression: bool = True,
                 neutral_window: int = 600, neutral_every: int = 15, neutral_warmup: int = 30):
        if not 0.0 <= float(smoothing) < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.fitter = (ExpressionFitter(model, NUM_EXPRESSION, regularization)
                       if model is not None else None)
        self.num_expression = NUM_EXPRESSION
        self._fitted = slice(0, self.fitter.num_expression if self.fitter else 0)   # the model's share
        self.smoothing = float(smoothing)
        self.relative_expression = bool(relative_expression)
        self.neutral_every = max(1, int(neutral_every))
        self.neutral_warmup = int(neutral_warmup)
        self._measures = _Ring(neutral_window, NUM_MEASURES)
        # landmark residuals for the running expression offset: every ``residual_stride``-th
        # frame, so the periodic median stays cheap
        self.residual_stride = 4
        self._residuals = _Ring(max(30, int(neutral_window) // self.residual_stride), 153)
        # the upper face's rigid points for the brows' reference frame (same stride)
        self._rigid = _Ring(max(30, int(neutral_window) // self.residual_stride), UPPER_RIGID.size * 3)
        self.reset()

    def reset(self) -> None:
        """Forget the streaming state (neutral, expression offset, smoothing)."""
        self._measures.clear()
        self._residuals.clear()
        self._rigid.clear()
        self.upper_ref: np.ndarray | None = None
        self._seen = 0
        self._since = 0
        self._frames = 0
        self.neutral: np.ndarray | None = None
        self.noise: np.ndarray | None = None
        self._m_prev: np.ndarray | None = None
        self.expression_offset: np.ndarray | None = None
        self._prev: tuple[np.ndarray, ...] | None = None

    def _empty(self, T: int) -> FaceResult:
        return FaceResult(arkit=np.zeros((T, NUM_ARKIT), np.float32),
                          jaw=np.zeros((T, 3), np.float32),
                          eyes=np.zeros((T, 2, 3), np.float32),
                          expression=np.zeros((T, self.num_expression), np.float32),
                          present=np.zeros(T, bool))

    # ---- offline ----------------------------------------------------------------------------

    def solve_batch(self, face_px: np.ndarray, present: np.ndarray) -> FaceResult:
        """All frames at once with a per-sequence neutral.

        face_px: (T, 478, 3) float pixels (u, v, kpz); present: (T,) bool. Returns a FaceResult
        with T frames; frames without a face (or with non-finite/degenerate points) are zeros.
        """
        face_px = np.asarray(face_px, np.float64)
        present = np.asarray(present, bool).copy()
        T = face_px.shape[0]
        res = self._empty(T)
        if T == 0:
            return res
        present &= np.isfinite(face_px).all(axis=(1, 2))
        idx = np.flatnonzero(present)
        if idx.size:
            m, iod = face_measures(face_px[idx])
            idx, m = idx[iod > 1e-6], m[iod > 1e-6]
        present[:] = False
        present[idx] = True
        res.present = present
        if idx.size == 0:
            return res
        noise = measure_noise(m)
        m = _smooth_columns(m, noise_smoothing(noise, neutral_measures(m)), idx)
        neutral = neutral_measures(m)
        gaze = gaze_angles(m)
        res.arkit[idx] = arkit_from_measures(m, neutral, gaze, noise)
        res.jaw[idx] = jaw_from_measures(m, neutral)
        res.eyes[idx] = eyes_from_measures(m, gaze)
        if self.fitter is not None:
            pts = to_face_axes(face_px[idx][:, IBUG51_FROM_MEDIAPIPE])
            off = (_median_rows(self.fitter.residuals(pts)) if self.relative_expression
                   else None)
            res.expression[idx, self._fitted] = self.fitter.fit(pts, off)
        if self.smoothing > 0.0:
            a = self.smoothing
            res.arkit = np.clip(_smooth_runs(res.arkit, present, a), 0.0, 1.0).astype(np.float32)
            res.jaw = _smooth_runs(res.jaw, present, a).astype(np.float32)
            res.eyes = _smooth_runs(res.eyes, present, a).astype(np.float32)
            res.expression = _smooth_runs(res.expression, present, a).astype(np.float32)
        return res

    # ---- streaming --------------------------------------------------------------------------

    def solve_frame(self, face_px: np.ndarray, present: bool) -> FaceResult:
        """One live frame with a running neutral. face_px: (478, 3) pixels. Returns T = 1.

        A missing frame returns zeros and restarts the smoothing; the neutral is kept.
        """
        if not present:
            self._prev = self._m_prev = None
            return self._empty(1)
        fp = np.asarray(face_px, np.float64)[None]
        if not np.isfinite(fp).all():
            self._prev = self._m_prev = None
            return self._empty(1)
        m, iod, rigid = face_measures(fp, self.upper_ref, return_rigid=True)
        if not iod[0] > 1e-6:
            self._prev = self._m_prev = None
            return self._empty(1)
        self._measures.push(m[0])
        if self._seen % self.residual_stride == 0:
            self._rigid.push(rigid[0].ravel())
        self._seen += 1
        if self.noise is not None and self._m_prev is not None:    # causal twin of the batch's
            step = m - self._m_prev
            m = self._m_prev + self._gain * frame_confidence(step / self.noise) * step
        self._m_prev = m
        self._since += 1
        if (self.neutral is None or self._measures.count <= self.neutral_warmup
                or self._since >= self.neutral_every):
            self.neutral = neutral_measures(self._measures.rows())
            self.upper_ref = upper_face_reference(self._rigid.rows().reshape(-1, UPPER_RIGID.size, 3))
            self.noise = measure_noise(self._measures.ordered(), NOISE_UNKNOWN)
            self._gain = 1.0 - noise_smoothing(self.noise, self.neutral)
            self._ramps = noise_ramps(self.noise, self.neutral)
            self._since = 0
        gaze = gaze_angles(m)
        arkit = arkit_from_measures(m, self.neutral, gaze, ramps=self._ramps)
        jaw = jaw_from_measures(m, self.neutral)
        eyes = eyes_from_measures(m, gaze)
        expr = np.zeros((1, self.num_expression), np.float32)
        if self.fitter is not None:
            pts = to_face_axes(fp[:, IBUG51_FROM_MEDIAPIPE])
            if not self.relative_expression:
                expr[:, self._fitted] = self.fitter.fit(pts)
            else:
                psi, r = self.fitter.fit(pts, self.expression_offset, return_residual=True)
                self._frames += 1
                if self._frames % self.residual_stride == 1 or self.residual_stride == 1:
                    self._residuals.push(r[0])
                if self.expression_offset is None:          # first frame: it is the neutral
                    self.expression_offset = r[0].copy()
                    psi = self.fitter.fit(pts, self.expression_offset)
                elif (self._measures.count <= self.neutral_warmup
                      or self._since == self.neutral_every // 2):   # staggered with the neutral
                    self.expression_offset = _median_rows(self._residuals.rows())
                expr[:, self._fitted] = psi
        out = (arkit, jaw, eyes, expr)
        if self.smoothing > 0.0 and self._prev is not None:
            a = self.smoothing
            out = tuple((a * p + (1.0 - a) * x).astype(np.float32) for p, x in zip(self._prev, out))
        self._prev = out
        return FaceResult(arkit=out[0], jaw=out[1], eyes=out[2], expression=out[3],
                          present=np.ones(1, bool))
