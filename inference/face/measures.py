"""Face-mesh landmarks → head pose and scale- and pose-free expression measures.

In: the 478 face-mesh points in pixels (u, v, kpz), T frames; out: the head frame and the
measures of :data:`MEASURE_NAMES` (eyelid gaps, iris offsets, mouth corners, lips, brows …) and
the subject's neutral of each. Each measure is a component or length of a difference vector
between landmarks expressed in the head frame, so a frame costs a few small matrix products.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as rot
from ..core.layout import (FACE, FACE_BRIDGE, FACE_BROW_INNER, FACE_BROW_OUTER, FACE_CHEEK, FACE_CHIN,
                           FACE_EYE_INNER, FACE_EYE_LOWER, FACE_EYE_OUTER, FACE_EYE_UPPER, FACE_FOREHEAD,
                           FACE_INNER_LIP_PAIRS, FACE_IRIS, FACE_LOWER_LIP, FACE_LOWER_LIP_IN, FACE_LOWER_LIP_SIDE,
                           FACE_MOUTH_CORNER, FACE_NOSE_BASE, FACE_NOSE_RIDGE, FACE_NOSE_WING, FACE_UPPER_LIP,
                           FACE_UPPER_LIP_IN, FACE_UPPER_LIP_SIDE, FACE_UPPER_RIGID)


def _avg(*idx) -> dict[int, float]:
    return {int(i): 1.0 / len(idx) for i in idx}


def _minus(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out = dict(a)
    for k, w in b.items():
        out[k] = out.get(k, 0.0) - w
    return out


def _vector_features() -> dict[str, dict[int, float]]:
    """Difference vectors between (averages of) landmarks, as weights per landmark (sum 0).

    Every measure is a component or a length of one of these, expressed in the head frame, so a
    frame costs one small matrix product (translation drops out because the weights sum to 0).
    """
    F: dict[str, dict[int, float]] = {
        "head_x": _minus(_avg(FACE_EYE_OUTER[0], FACE_EYE_INNER[0]), _avg(FACE_EYE_OUTER[1], FACE_EYE_INNER[1])),
        "head_up": _minus(_avg(*FACE_FOREHEAD), _avg(*FACE_NOSE_RIDGE)),
    }
    for s, side in enumerate(("l", "r")):
        mid = _avg(FACE_EYE_OUTER[s], FACE_EYE_INNER[s])
        F[f"eye_w_{side}"] = _minus({int(FACE_EYE_OUTER[s]): 1.0}, {int(FACE_EYE_INNER[s]): 1.0})
        for k in range(3):
            F[f"lid{k}_{side}"] = _minus({int(FACE_EYE_UPPER[s, k]): 1.0}, {int(FACE_EYE_LOWER[s, k]): 1.0})
        F[f"lid_low_{side}"] = _minus(_avg(*FACE_EYE_LOWER[s]), mid)
        F[f"lid_up_{side}"] = _minus(_avg(*FACE_EYE_UPPER[s]), mid)
        F[f"iris_{side}"] = _minus({int(FACE_IRIS[s]): 1.0}, mid)
        corner = {int(FACE_MOUTH_CORNER[s]): 1.0}
        F[f"corner_nose_{side}"] = _minus(corner, {FACE_NOSE_BASE: 1.0})
        F[f"corner_lipmid_{side}"] = _minus(corner, _avg(FACE_UPPER_LIP, FACE_LOWER_LIP))
        F[f"lip_span_{side}"] = _minus(_avg(*FACE_UPPER_LIP_SIDE[s]), _avg(*FACE_LOWER_LIP_SIDE[s]))
        F[f"upper_side_{side}"] = _minus(_avg(*FACE_UPPER_LIP_SIDE[s]), {FACE_NOSE_BASE: 1.0})
        F[f"lower_chin_{side}"] = _minus(_avg(*FACE_LOWER_LIP_SIDE[s]), {FACE_CHIN: 1.0})
        F[f"cheek_{side}"] = _minus(_avg(*FACE_CHEEK[s]), mid)
        F[f"nose_wing_{side}"] = _minus(_avg(*FACE_NOSE_WING[s]), mid)
    for k, (a, b) in enumerate(FACE_INNER_LIP_PAIRS):
        F[f"lip_gap{k}"] = _minus({int(a): 1.0}, {int(b): 1.0})
    F["chin_bridge"] = _minus({FACE_CHIN: 1.0}, {FACE_BRIDGE: 1.0})
    F["lip_bridge"] = _minus({FACE_LOWER_LIP: 1.0}, {FACE_BRIDGE: 1.0})
    F["chin_nose"] = _minus({FACE_CHIN: 1.0}, {FACE_NOSE_BASE: 1.0})
    F["mouth_w"] = _minus({int(FACE_MOUTH_CORNER[0]): 1.0}, {int(FACE_MOUTH_CORNER[1]): 1.0})
    F["mouth_c"] = _minus(_avg(*FACE_MOUTH_CORNER, FACE_UPPER_LIP, FACE_LOWER_LIP), {FACE_NOSE_BASE: 1.0})
    F["upper_thick"] = _minus({FACE_UPPER_LIP: 1.0}, {FACE_UPPER_LIP_IN: 1.0})
    F["lower_thick"] = _minus({FACE_LOWER_LIP: 1.0}, {FACE_LOWER_LIP_IN: 1.0})
    F["upper_lip_nose"] = _minus({FACE_UPPER_LIP: 1.0}, {FACE_NOSE_BASE: 1.0})
    F["lower_chin_c"] = _minus({FACE_LOWER_LIP: 1.0}, {FACE_CHIN: 1.0})
    return F


#: Each measure: (name, terms, divisor) with terms (feature, component "x"/"y"/"z" or "n" for the
#: length, coefficient) summed, then divided by the length of ``divisor`` (None: IOD units).
#: Sides are (left, right); "x" of a left-side feature is outward, of a right-side one inward, so
#: outward measures carry the side sign.
_MEASURE_DEFS: list[tuple[str, list[tuple[str, str, float]], str | None]] = []
# eyes (eye widths): mean eyelid gap; lower / upper lid height above the corner midpoint; iris
# offset from the corner midpoint towards +X (subject's left) and up
_MEASURE_DEFS += [(f"eye_open_{s}", [(f"lid{k}_{s}", "n", 1 / 3) for k in range(3)], f"eye_w_{s}")
                  for s in "lr"]
_MEASURE_DEFS += [(f"lid_low_{s}", [(f"lid_low_{s}", "y", 1.0)], f"eye_w_{s}") for s in "lr"]
_MEASURE_DEFS += [(f"lid_up_{s}", [(f"lid_up_{s}", "y", 1.0)], f"eye_w_{s}") for s in "lr"]
_MEASURE_DEFS += [(f"gaze_x_{s}", [(f"iris_{s}", "x", 1.0)], f"eye_w_{s}") for s in "lr"]
_MEASURE_DEFS += [(f"gaze_y_{s}", [(f"iris_{s}", "y", 1.0)], f"eye_w_{s}") for s in "lr"]
# the rest in IOD units
_MEASURE_DEFS += [
    ("lip_gap", [(f"lip_gap{k}", "n", 1 / 3) for k in range(3)], None),   # inner lips apart
    ("chin_dist", [("chin_bridge", "n", 1.0)], None),       # chin to nose bridge
    ("lip_dist", [("lip_bridge", "n", 1.0)], None),         # outer lower lip to nose bridge
    # chin offset from the nose base: sideways (+ = subject's left), forward
    ("chin_x", [("chin_nose", "x", 1.0)], None),
    ("chin_z", [("chin_nose", "z", 1.0)], None),
    ("mouth_width", [("mouth_w", "n", 1.0)], None),         # corner to corner
    # corner: outward from the nose base; height above the midpoint of the outer lips' centres
    ("corner_out_l", [("corner_nose_l", "x", 1.0)], None),
    ("corner_out_r", [("corner_nose_r", "x", -1.0)], None),
    ("corner_up_l", [("corner_lipmid_l", "y", 1.0)], None),
    ("corner_up_r", [("corner_lipmid_r", "y", 1.0)], None),
    ("mouth_x", [("mouth_c", "x", 1.0)], None),             # mouth centre sideways
    # vermilion thickness at the centre (outer to inner lip); outer upper-to-lower span at a side
    ("upper_thick", [("upper_thick", "n", 1.0)], None),
    ("lower_thick", [("lower_thick", "n", 1.0)], None),
    ("lip_span_l", [("lip_span_l", "n", 1.0)], None),
    ("lip_span_r", [("lip_span_r", "n", 1.0)], None),
    # upper lip height relative to the nose base: centre, sides
    ("upper_lip_y", [("upper_lip_nose", "y", 1.0)], None),
    ("upper_side_y_l", [("upper_side_l", "y", 1.0)], None),
    ("upper_side_y_r", [("upper_side_r", "y", 1.0)], None),
    # lower lip (outer) distance to the chin: sides, centre (unchanged by the jaw's rotation)
    ("lower_chin_l", [("lower_chin_l", "n", 1.0)], None),
    ("lower_chin_r", [("lower_chin_r", "n", 1.0)], None),
    ("lower_chin_c", [("lower_chin_c", "n", 1.0)], None),
    # cheek and nose-wing heights above the eye-corner midpoint of their side
    ("cheek_l", [("cheek_l", "y", 1.0)], None),
    ("cheek_r", [("cheek_r", "y", 1.0)], None),
    ("nose_wing_l", [("nose_wing_l", "y", 1.0)], None),
    ("nose_wing_r", [("nose_wing_r", "y", 1.0)], None),
]

#: Brow heights (IOD) above the eye-corner midpoint of their side, inner and outer brow, measured in
#: the upper face's own frame (:func:`brow_heights`), not in the head frame: MediaPipe tilts the
#: head frame's nose-ridge axis a little when the jaw opens or the mouth corners pull, and that
#: tilt alone moved a turned head's brow points by two thirds of a full raise.
BROW_NAMES = ("brow_in_l", "brow_in_r", "brow_out_l", "brow_out_r")
_BROW_POINTS = (FACE_BROW_INNER[0], FACE_BROW_INNER[1], FACE_BROW_OUTER[0], FACE_BROW_OUTER[1])
#: The upper face's rigid points (:data:`~inference.core.layout.FACE_UPPER_RIGID` and the eye corners).
UPPER_RIGID = np.concatenate([FACE_UPPER_RIGID, FACE_EYE_OUTER, FACE_EYE_INNER]).astype(np.int64)

#: Measure names, in column order (sides ordered left, right). Eye measures are in eye widths,
#: all others in IOD units; see :data:`_MEASURE_DEFS` for how each is built and
#: :data:`BROW_NAMES` for the brows. The last column,
#: ``head_yaw``, is the head's turn (radians, + = towards the subject's left: the left side is the
#: far one), which says how far to trust the far side's landmarks (:mod:`.arkit`).
MEASURE_NAMES: tuple[str, ...] = tuple(d[0] for d in _MEASURE_DEFS) + BROW_NAMES + ("head_yaw",)
NUM_MEASURES = len(MEASURE_NAMES)
MI: dict[str, int] = {n: i for i, n in enumerate(MEASURE_NAMES)}


def _compile_measures():
    feats = _vector_features()
    fnames = list(feats)
    used = np.array(sorted({i for f in feats.values() for i in f}), np.int64)
    col = {int(i): k for k, i in enumerate(used)}
    W = np.zeros((len(fnames), len(used)))
    for r, name in enumerate(fnames):
        for i, w in feats[name].items():
            W[r, col[i]] += w
    comps: list[tuple[int, int]] = []
    norms: list[int] = []
    for _, terms, div in _MEASURE_DEFS:
        for f, kind, _ in terms:
            if kind == "n" and fnames.index(f) not in norms:
                norms.append(fnames.index(f))
            elif kind != "n" and (fnames.index(f), "xyz".index(kind)) not in comps:
                comps.append((fnames.index(f), "xyz".index(kind)))
        if div is not None and fnames.index(div) not in norms:
            norms.append(fnames.index(div))
    nc, nn = len(comps), len(norms)
    nd = len(_MEASURE_DEFS)
    mix = np.zeros((nc + nn + 1, nd))
    div_col = np.full(nd, nc + nn, np.int64)      # the constant-1 column
    for j, (_, terms, div) in enumerate(_MEASURE_DEFS):
        for f, kind, coef in terms:
            r = (nc + norms.index(fnames.index(f)) if kind == "n"
                 else comps.index((fnames.index(f), "xyz".index(kind))))
            mix[r, j] += coef
        if div is not None:
            div_col[j] = nc + norms.index(fnames.index(div))
    comp_rows = np.array([c[0] for c in comps], np.int64)
    comp_axes = np.array([c[1] for c in comps], np.int64)
    return (used, W, fnames.index("head_x"), fnames.index("head_up"), comp_rows, comp_axes,
            np.array(norms, np.int64), mix, div_col)


(_USED, _FEATURE_W, _HEAD_X, _HEAD_UP, _COMP_ROWS, _COMP_AXES, _NORM_ROWS, _MIX,
 _DIV_COL) = _compile_measures()

#: Quantile of each measure over the present frames taken as the subject's neutral. Most use the
#: median; eye openness a slightly high quantile (blinks are short), jaw/lip opening a low one
#: (the mouth is closed between words).
NEUTRAL_QUANTILE = np.full(NUM_MEASURES, 0.5)
NEUTRAL_QUANTILE[[MI["eye_open_l"], MI["eye_open_r"]]] = 0.6
NEUTRAL_QUANTILE[[MI["chin_dist"], MI["lip_dist"], MI["lip_gap"]]] = 0.1

#: The highest a neutral can be (IOD): a mouth corner's height above the lips' centre line. The
#: neutral is estimated from the clip, so an expression held throughout (a photo of a broad smile)
#: would become the neutral; no resting mouth has its corners this high (measured 0.06–0.17 on the
#: rendered MakeHuman head at 0/±30° and on the photos; 0.22–0.26 on its full smile), so a higher
#: clip neutral is a held smile and is capped here.
NEUTRAL_CEILING = {"corner_up_l": 0.18, "corner_up_r": 0.18}
_CEIL_COLS = np.array([MI[k] for k in NEUTRAL_CEILING], np.int64)
_CEIL = np.array(list(NEUTRAL_CEILING.values()))

#: Inner-lip gap (IOD) of closed lips (the mesh's inner lip points never quite meet).
LIPS_CLOSED_GAP = 0.02
#: How much the jaw's lengths grow per unit of inner-lip gap when the mouth opens: the outer
#: lower lip rides with the lower inner lip, the chin lags behind it (the gap also opens by the
#: lips parting); measured on the MakeHuman head's mouth-open unit (scripts/bench_face.py).
JAW_REST_FROM_GAP = {"chin_dist": 0.5, "lip_dist": 0.9}
_JAW_REST = np.array([MI[k] for k in JAW_REST_FROM_GAP], np.int64)
_JAW_REST_COEF = np.array(list(JAW_REST_FROM_GAP.values()))

_FLIP = np.array([1.0, -1.0, -1.0])


def face_points(kp2d: np.ndarray, kpz: np.ndarray) -> np.ndarray:
    """The face stage's input from detector keypoints (layout of :mod:`inference.core.layout`).

    kp2d: (..., 553, 3) pixels u, v, confidence; kpz: (..., 553) depth in pixels. Returns
    (..., 478, 3) float64 (u, v, z).
    """
    kp2d, kpz = np.asarray(kp2d), np.asarray(kpz)
    return np.concatenate([kp2d[..., FACE, :2], kpz[..., FACE, None]], axis=-1).astype(np.float64)


def to_face_axes(face_px: np.ndarray) -> np.ndarray:
    """Image-style points (x right, y down, z away) → (x right, y up, z towards the camera).

    face_px: (..., 3) → (..., 3) float64. A proper rotation (180° about x), so for a face that
    looks at the camera +X is the subject's left, +Y up and +Z the face's forward.
    """
    return np.asarray(face_px, np.float64) * _FLIP


def _frame_from_axes(x: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (T, 3, 3) with columns X = x/|x|, Z ∝ x × up, Y = Z × X; and |x| (T,)."""
    iod = np.sqrt(np.einsum("ti,ti->t", x, x))
    x = x / np.maximum(iod, 1e-9)[:, None]
    z = rot.cross(x, up)
    z = z / np.maximum(np.sqrt(np.einsum("ti,ti->t", z, z)), 1e-12)[:, None]
    return np.stack([x, rot.cross(z, x), z], axis=-1), iod


def head_frame(face_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head pose from stable landmarks (eye corners, nose ridge, forehead).

    face_px: (T, 478, 3) pixels. Returns ``R`` (T, 3, 3) whose columns are the head's X (subject's
    left, eye to eye), Y (up, towards the forehead) and Z (forward) axes in face axes
    (:func:`to_face_axes`), ``origin`` (T, 3) the midpoint of the two eye centres (face axes) and
    ``iod`` (T,) the inter-ocular distance in pixels (0 for degenerate frames).
    """
    p = to_face_axes(face_px)
    eye_l = p[:, [FACE_EYE_OUTER[0], FACE_EYE_INNER[0]]].mean(axis=1)
    eye_r = p[:, [FACE_EYE_OUTER[1], FACE_EYE_INNER[1]]].mean(axis=1)
    up = p[:, FACE_FOREHEAD].mean(axis=1) - p[:, FACE_NOSE_RIDGE].mean(axis=1)
    R, iod = _frame_from_axes(eye_l - eye_r, up)
    return R, 0.5 * (eye_l + eye_r), iod


def canonical_face(face_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole cloud without head pose: head axes, origin between the eyes, IOD = 1.

    face_px: (T, 478, 3) pixels. Returns points (T, 478, 3) float64, ``R`` (T, 3, 3) and ``iod``
    (T,) as :func:`head_frame`. (The measures use the same frame without building this cloud.)
    """
    R, origin, iod = head_frame(face_px)
    c = (to_face_axes(face_px) - origin[:, None]) @ R
    return c / np.maximum(iod, 1e-9)[:, None, None], R, iod


#: The points :func:`brow_heights` reads: the brows' (4 groups of 4), then each side's eye corners.
_BROW_EYE = np.concatenate([*_BROW_POINTS, FACE_EYE_OUTER, FACE_EYE_INNER]).astype(np.int64)
_NB = sum(len(b) for b in _BROW_POINTS)


def upper_face_reference(rigid: np.ndarray) -> np.ndarray:
    """The subject's upper face: the per-point median of the centred rigid points (T, K, 3) → (K, 3)."""
    ref = np.median(np.asarray(rigid, np.float64), axis=0)
    return ref - ref.mean(axis=0)


def brow_heights(pts: np.ndarray, rigid: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Brow heights in the upper face's frame: each frame's rigid points (T, K, 3), centred, are
    turned onto the reference ``ref`` (K, 3) (least-squares rotation, Kabsch), and the brow points
    with them. pts: (T, 20, 3) the :data:`_BROW_EYE` points in head axes, IOD units. Returns (T, 4)
    in the order of :data:`BROW_NAMES`: mean brow-group height above its side's eye-corner midpoint.
    """
    H = np.swapaxes(rigid, 1, 2) @ ref                                   # (T, 3, 3)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(U) * np.linalg.det(Vt))
    Vt[:, 2] *= d[:, None]                                               # no reflection
    up = (np.swapaxes(Vt, 1, 2) @ np.swapaxes(U, 1, 2))[:, 1]            # (T, 3) rotated frame's Y row
    y = pts @ up[:, :, None]                                             # (T, 20, 1)
    brow = y[:, :_NB, 0].reshape(y.shape[0], 4, -1).mean(axis=2)         # (T, 4) in_l, in_r, out_l, out_r
    mid = 0.5 * (y[:, _NB:_NB + 2, 0] + y[:, _NB + 2:_NB + 4, 0])        # (T, 2) eye-corner midpoints l, r
    return brow - np.tile(mid, 2)


def face_measures(face_px: np.ndarray, upper_ref: np.ndarray | None = None, return_rigid: bool = False):
    """Scale- and pose-free expression measures.

    face_px: (T, 478, 3) pixels (x = u, y = v, z = kpz); upper_ref: (K, 3) the subject's upper face
    (:func:`upper_face_reference`, the streaming solver keeps it), None: from these frames. Returns
    ``m`` (T, NUM_MEASURES) float64 in the order of :data:`MEASURE_NAMES` and ``iod`` (T,) pixels
    (0 marks a degenerate frame). Cost: one gather, one (K, 110) matrix product, a rotation, a
    (F, M) product and a 3×3 SVD per frame. The last column is the head's yaw (``head_yaw``, radians).
    With ``return_rigid`` also the centred upper-face points (T, K, 3) (for a running ``upper_ref``).
    """
    pts = np.asarray(face_px, np.float64)[:, _USED]                     # (T, U, 3)
    V = (_FEATURE_W @ pts) * _FLIP                                       # (T, K, 3) face axes
    R, iod = _frame_from_axes(V[:, _HEAD_X], V[:, _HEAD_UP])
    V = (V @ R) / np.maximum(iod, 1e-9)[:, None, None]                   # head axes, IOD units
    T = V.shape[0]
    feats = np.empty((T, _MIX.shape[0]))
    nc = _COMP_ROWS.size
    feats[:, :nc] = V[:, _COMP_ROWS, _COMP_AXES]
    W = V[:, _NORM_ROWS]
    feats[:, nc:-1] = np.sqrt(np.einsum("tki,tki->tk", W, W))
    feats[:, -1] = 1.0
    m = np.empty((T, NUM_MEASURES))
    nd = _MIX.shape[1]
    m[:, :nd] = (feats @ _MIX) / np.maximum(feats[:, _DIV_COL], 1e-9)
    scale = _FLIP / np.maximum(iod, 1e-9)[:, None, None]
    rigid = (np.asarray(face_px, np.float64)[:, UPPER_RIGID] * scale) @ R          # (T, K, 3) head axes
    rigid -= rigid.mean(axis=1, keepdims=True)
    ref = upper_face_reference(rigid) if upper_ref is None else np.asarray(upper_ref, np.float64)
    m[:, nd:-1] = brow_heights((np.asarray(face_px, np.float64)[:, _BROW_EYE] * scale) @ R, rigid, ref)
    # the head's X axis (subject's left) turns away from the camera (−z) as the head turns left
    m[:, -1] = np.arctan2(-R[:, 2, 0], R[:, 0, 0])
    return (m, iod, rigid) if return_rigid else (m, iod)


#: Below this many frames the jitter of a measure cannot be estimated; :func:`measure_noise` then
#: assumes :data:`NOISE_UNKNOWN` (the streaming path's first second).
NOISE_MIN_FRAMES = 20
#: The least jitter assumed for every measure (its units): what MediaPipe's mesh shows on a large,
#: well-lit, still face; the per-clip estimate can only raise it.
NOISE_FLOOR = 0.002
#: Noise is measured in windows of this many second differences; the windows' mean magnitudes
#: are summarised by this quantile (the calmer stretches of the clip).
NOISE_WINDOW = 9
NOISE_CALM_QUANTILE = 0.1
#: The jitter assumed before it can be measured: that of a small face (~17 px between the eyes).
NOISE_UNKNOWN = 0.015


def measure_noise(m: np.ndarray, unknown: float = NOISE_FLOOR) -> np.ndarray:
    """Frame-to-frame jitter of each measure: a robust standard deviation of the landmark noise.

    m: (T, NUM_MEASURES) consecutive frames of one subject. Returns (NUM_MEASURES,) float64, at
    least :data:`NOISE_FLOOR`; ``unknown`` with fewer than :data:`NOISE_MIN_FRAMES` frames (the
    streaming path's first second passes :data:`NOISE_UNKNOWN`; a short batch clip the floor).
    The second difference m[t+1] − 2 m[t] + m[t−1] cancels expressions that change smoothly over
    a few frames and keeps independent per-frame noise (variance 6 σ²); means over short windows
    and a low quantile of them make fast expression changes (talking) and tracker jumps count
    little. The noise differs several-fold between a large, well-lit face and a small one,
    so the ARKit dead zones and the measures' smoothing follow it (:mod:`.arkit`).
    """
    m = np.asarray(m, np.float64)
    if m.shape[0] < NOISE_MIN_FRAMES:
        return np.full(NUM_MEASURES, float(unknown))
    e = np.abs(m[2:] - 2.0 * m[1:-1] + m[:-2])
    # the calm stretches: the mean |e| in short windows (a running sum), a low quantile over the
    # windows (talking moves the mouth in most frames, and at low frame rates its second
    # differences are large); E|e| = σ_e √(2/π) for Gaussian noise
    c = np.concatenate([np.zeros((1, e.shape[1])), np.cumsum(e, axis=0)])
    win = (c[NOISE_WINDOW:] - c[:-NOISE_WINDOW]) * (1.0 / NOISE_WINDOW)
    sigma = np.sqrt(np.pi / 2.0) * np.quantile(win, NOISE_CALM_QUANTILE, axis=0) / np.sqrt(6.0)
    return np.maximum(sigma, NOISE_FLOOR)


#: A frame whose upper-face measures (eyes, gaze, brows, cheeks, nose wings) jump, in median, by
#: more than this many σ from the previous estimate is one the tracker is losing; its update is
#: weighted down by (TRACKING_JUMP / median jump)². A lost track moves the whole mesh; a real
#: expression moves a few of these (a blink: 6 of 18) or, for the jaw and lips, almost none of them,
#: whereas an opening jaw moves half of all the measures (the mouth's), which read as a lost track.
TRACKING_JUMP = 2.5
_UPPER_FACE = np.array([i for n, i in MI.items()
                        if n.startswith(("eye_open", "lid_", "gaze_", "brow_", "cheek_", "nose_wing"))], np.int64)


def frame_confidence(jump_sigma: np.ndarray) -> np.ndarray:
    """Weight of a frame's new measures from their jumps over the noise, |Δm| / σ (..., M). → (...,)."""
    j = np.sort(np.abs(jump_sigma[..., _UPPER_FACE]), axis=-1)
    med = j[..., j.shape[-1] // 2]                                  # (upper) median
    return np.minimum(1.0, (TRACKING_JUMP / np.maximum(med, 1e-9)) ** 2)


def neutral_measures(m: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """The subject's neutral: a per-measure quantile (:data:`NEUTRAL_QUANTILE`) over present frames.

    m: (T, NUM_MEASURES); present: (T,) bool or None (all). Returns (NUM_MEASURES,) float64;
    NaN where there is no present frame.
    """
    if present is not None:
        m = m[np.asarray(present, bool)]
    if m.shape[0] == 0:
        return np.full(NUM_MEASURES, np.nan)
    # the jaw's rest from every frame: its lengths less what the frame's open lips add, so a
    # subject whose mouth is open throughout (a photo, a singer) is not taken as closed
    opening = np.maximum(m[:, MI["lip_gap"]] - LIPS_CLOSED_GAP, 0.0)
    m = m.copy()
    m[:, _JAW_REST] -= opening[:, None] * _JAW_REST_COEF
    s = np.sort(m, axis=0)
    pos = NEUTRAL_QUANTILE * (s.shape[0] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.shape[0] - 1)
    w = pos - lo
    cols = np.arange(NUM_MEASURES)
    neutral = s[lo, cols] * (1.0 - w) + s[hi, cols] * w
    neutral[_CEIL_COLS] = np.minimum(neutral[_CEIL_COLS], _CEIL)
    return neutral


