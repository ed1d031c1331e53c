"""Face-stage checks on real and rendered input, shared by ``scripts/bench_face.py`` and tests/face.

* :func:`expression_clip` — a performance of the rendered MakeHuman head (:mod:`.face_render`): each
  expression unit rises from neutral to full and back, with neutral stretches between, seen from
  one head turn; :func:`expression_scores` says how well each driven unit's ARKit channels follow
  it (correlation) and how quiet they stay while other units play (cross-talk).
* :func:`arkit_steadiness` — consecutive-frame changes of the ARKit weights of a clip (a still
  subject: every change is flicker).

Both run the engine's own path: MediaPipe Holistic (:mod:`inference.detect`), the face solver and
the batch path's zero-phase filter at the given smoothing, as ``solve_sequence`` runs them.
"""
from __future__ import annotations

import numpy as np

from inference.core.layout import ARKIT_INDEX, PART_FACE
from inference.face.measures import face_points
from inference.face.solver import FaceSolver
from inference.temporal.offline import BATCH_ONE_EURO_SHARE, filter_zero_phase

#: Clip timing (frames at :data:`FPS`): neutral stretch before each unit, ramp up, hold, ramp down.
FPS = 25.0
NEUTRAL, RAMP, HOLD = 20, 8, 3


def expression_schedule(units: list[str], neutral: int = NEUTRAL, ramp: int = RAMP,
                        hold: int = HOLD) -> np.ndarray:
    """(T, U) weights: per unit a neutral stretch, a smooth rise to 1, a hold and a fall; one
    neutral stretch at the end."""
    up = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp + 2)[1:-1])
    seg = np.concatenate([np.zeros(neutral), up, np.ones(hold), up[::-1]])
    W = np.zeros((len(units) * seg.size + neutral, len(units)))
    for k in range(len(units)):
        W[k * seg.size:(k + 1) * seg.size, k] = seg
    return W


def detect_frames(frames, fps: float = FPS):
    """Engine detections of BGR frames (video mode): kp2d (T, 553, 3), kpz (T, 553), present (T, 4)."""
    from inference.core.records import Frame
    from inference.detect.base import detect
    from inference.detect.mediapipe_holistic import MediaPipeHolisticDetector
    kp, kz, pres = [], [], []
    with MediaPipeHolisticDetector() as det:
        for i, img in enumerate(frames):
            d = detect(det, Frame(image=img, time=i / fps, index=i))
            kp.append(d.kp2d)
            kz.append(d.kpz)
            pres.append(d.present)
    return np.array(kp), np.array(kz), np.array(pres)


def solve_arkit(kp2d: np.ndarray, kpz: np.ndarray, present: np.ndarray, smoothing: float = 0.5,
                fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """ARKit weights (T, 52) as the batch path makes them (face solver, then the zero-phase One-Euro
    pass at ``smoothing``'s batch share) and the face's presence (T,)."""
    T = len(kp2d)
    fp = face_points(kp2d, kpz)
    face = present[:, PART_FACE]
    fr = FaceSolver().solve_batch(fp, face)
    q = np.tile([0.0, 0.0, 0.0, 1.0], (T, 55, 1))
    pv = np.zeros((T, 4), bool)
    pv[:, PART_FACE] = fr.present
    _, _, _, arkit = filter_zero_phase(np.arange(T) / fps, q, np.zeros((T, 3)), fr.expression, fr.arkit,
                                       pv, smoothing * BATCH_ONE_EURO_SHARE)
    return np.asarray(arkit), fr.present


def arkit_steadiness(arkit: np.ndarray, present: np.ndarray) -> dict:
    """Per-channel p99 of |Δ| between consecutive present frames; the worst channels."""
    both = present[1:] & present[:-1]
    d = np.abs(np.diff(arkit, axis=0))[both]
    p99 = np.percentile(d, 99, axis=0) if len(d) else np.zeros(arkit.shape[1])
    names = list(ARKIT_INDEX)
    worst = np.argsort(-p99)[:5]
    return {"p99_max": round(float(p99.max()), 3), "worst": {names[i]: round(float(p99[i]), 3) for i in worst},
            "frames": int(present.sum())}


def expression_scores(arkit: np.ndarray, present: np.ndarray, weights: np.ndarray,
                      unit_channels: dict[str, tuple[str, ...]]) -> dict:
    """For each unit (a column of ``weights`` (T, U)) and each of its channels: the correlation of
    the channel with the unit's weight over the clip, the channel's value at full weight, and the
    channel's largest value (p98) while other units play (cross-talk)."""
    out = {}
    units = list(unit_channels)
    for u, unit in enumerate(units):
        w = weights[present, u]
        others = present & (weights[:, u] == 0) & (weights.sum(axis=1) > 0)
        for ch in unit_channels[unit]:
            a = arkit[:, ARKIT_INDEX[ch]]
            corr = float(np.corrcoef(a[present], w)[0, 1]) if a[present].std() > 1e-9 else 0.0
            out[f"{unit}->{ch}"] = {"corr": round(corr, 3),
                                    "at_full": round(float(np.median(a[present & (weights[:, u] >= 0.99)])), 3),
                                    "crosstalk_p98": round(float(np.percentile(a[others], 98)), 3)}
    return out


def solve_arkit_live(kp2d: np.ndarray, kpz: np.ndarray, present: np.ndarray, smoothing: float = 0.5,
                     fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """ARKit weights (T, 52) as the live path makes them: the face solver one frame at a time
    (running neutral and noise), then the streaming One-Euro filter at ``smoothing``."""
    from inference.temporal.motion_filter import MotionFilter
    T = len(kp2d)
    fp = face_points(kp2d, kpz)
    solver = FaceSolver()
    rows = [solver.solve_frame(fp[i], bool(present[i, PART_FACE])) for i in range(T)]
    arkit = np.concatenate([r.arkit for r in rows])
    face = np.concatenate([r.present for r in rows])
    pv = np.zeros((T, 4), bool)
    pv[:, PART_FACE] = face
    q = np.tile([0.0, 0.0, 0.0, 1.0], (T, 55, 1))
    expr = np.concatenate([r.expression for r in rows])
    _, _, _, out = MotionFilter(smoothing=smoothing, num_expression=expr.shape[1]).filter_sequence(
        np.arange(T) / fps, q, np.zeros((T, 3)), expr, arkit, pv)
    return np.asarray(out), face
