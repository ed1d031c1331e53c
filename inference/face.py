"""The face stage: MediaPipe face-mesh landmarks → ARKit blendshapes, jaw and eye rotations, SMPL-X expression.

Input is the 478-point face mesh (with irises) of :data:`inference.layout.FACE` as 3D points in pixel
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
   present frames (:data:`NEUTRAL_QUANTILE`). The batch path calibrates once per sequence;
   :class:`FaceSolver` in streaming mode keeps a ring buffer and re-estimates it periodically.
4. :func:`arkit_from_measures` maps each measure (relative to neutral) to a channel in [0, 1]
   through the ranges of :data:`ARKIT_RANGES`; :func:`jaw_from_measures` and
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

from .layout import FACE

# --------------------------------------------------------------------------------------------
# Names and index tables
# --------------------------------------------------------------------------------------------

#: The 52 Apple ARKit blendshape names in Apple's canonical (Live Link Face) order.
#: "Left" is the subject's left, as in ARKit.
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
NUM_ARKIT = 52
ARKIT_INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_NAMES)}
#: Channels that are always 0 (not observable from face-mesh landmarks).
ARKIT_UNOBSERVED: tuple[str, ...] = ("cheekPuff", "tongueOut")

#: (51,) MediaPipe face-mesh index of each iBUG-68 landmark 17..67 (the 68-point set without the
#: 17 jaw-contour points, which is SMPL-X's static face-landmark set). The widely used
#: MediaPipe ↔ dlib-68 correspondence; iBUG 36-41 is the subject's right eye.
IBUG51_FROM_MEDIAPIPE = np.array([
    70, 63, 105, 66, 107,            # 17-21 right brow, outer → inner
    336, 296, 334, 293, 300,         # 22-26 left brow, inner → outer
    168, 197, 5, 4,                  # 27-30 nose ridge, top → tip
    75, 97, 2, 326, 305,             # 31-35 nostrils, right → left
    33, 160, 158, 133, 153, 144,     # 36-41 right eye: outer, upper ×2, inner, lower ×2
    362, 385, 387, 263, 373, 380,    # 42-47 left eye: inner, upper ×2, outer, lower ×2
    61, 39, 37, 0, 267, 269, 291,    # 48-54 outer upper lip, right corner → left corner
    405, 314, 17, 84, 181,           # 55-59 outer lower lip, left → right
    78, 82, 13, 312, 308,            # 60-64 inner upper lip, right corner → left corner
    317, 14, 87,                     # 65-67 inner lower lip, left → right
], dtype=np.int64)

# Sides are ordered (left, right) = the subject's left then right, like ARKit and SMPL-X's eyes.
_EYE_OUTER = np.array([263, 33])
_EYE_INNER = np.array([362, 133])
_EYE_UPPER = np.array([[387, 386, 385], [160, 159, 158]])   # upper lid, outer → inner
_EYE_LOWER = np.array([[373, 374, 380], [144, 145, 153]])   # lower lid, same order
_IRIS = np.array([473, 468])
_MOUTH_CORNER = np.array([291, 61])
_UPPER_LIP_SIDE = np.array([[267, 269], [37, 39]])          # outer upper lip, lateral points
_LOWER_LIP_SIDE = np.array([[314, 405], [84, 181]])         # outer lower lip, lateral points
_INNER_LIP_PAIRS = np.array([[13, 14], [82, 87], [312, 317]])  # inner upper / lower lip
_BROW_INNER = np.array([[336, 296, 285, 295], [107, 66, 55, 65]])
_BROW_OUTER = np.array([[300, 293, 276, 283], [70, 63, 46, 53]])
_CHEEK = np.array([[280, 330, 347], [50, 101, 118]])         # below the eyes
_NOSE_WING = np.array([[358, 294, 279], [129, 64, 49]])
_NOSE_BASE, _CHIN, _BRIDGE = 2, 152, 168
_UPPER_LIP, _LOWER_LIP, _UPPER_LIP_IN, _LOWER_LIP_IN = 0, 17, 13, 14
_FOREHEAD = np.array([10, 151, 9])
_NOSE_RIDGE = np.array([197, 195, 5, 4])

#: Inter-ocular distance (eye centre to eye centre, i.e. the midpoints of the eye corners) of an
#: average adult, metres; converts canonical face units to metres for the jaw rotation.
IOD_M = 0.062
#: Distance from the jaw's pivot to the chin, metres (SMPL-X jaw joint to the menton).
JAW_LENGTH_M = 0.095
#: Eye-ball radius over eye width (corner to corner): iris offset/width → sin(gaze angle).
EYE_RADIUS_OVER_WIDTH = 0.40
#: Rotation bounds, radians.
JAW_OPEN_MAX, JAW_SIDE_MAX, EYE_MAX = 0.5, 0.15, 0.5

# --------------------------------------------------------------------------------------------
# Head pose and measures
# --------------------------------------------------------------------------------------------


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
        "head_x": _minus(_avg(_EYE_OUTER[0], _EYE_INNER[0]), _avg(_EYE_OUTER[1], _EYE_INNER[1])),
        "head_up": _minus(_avg(*_FOREHEAD), _avg(*_NOSE_RIDGE)),
    }
    for s, side in enumerate(("l", "r")):
        mid = _avg(_EYE_OUTER[s], _EYE_INNER[s])
        F[f"eye_w_{side}"] = _minus({int(_EYE_OUTER[s]): 1.0}, {int(_EYE_INNER[s]): 1.0})
        for k in range(3):
            F[f"lid{k}_{side}"] = _minus({int(_EYE_UPPER[s, k]): 1.0}, {int(_EYE_LOWER[s, k]): 1.0})
        F[f"lid_low_{side}"] = _minus(_avg(*_EYE_LOWER[s]), mid)
        F[f"lid_up_{side}"] = _minus(_avg(*_EYE_UPPER[s]), mid)
        F[f"iris_{side}"] = _minus({int(_IRIS[s]): 1.0}, mid)
        corner = {int(_MOUTH_CORNER[s]): 1.0}
        F[f"corner_nose_{side}"] = _minus(corner, {_NOSE_BASE: 1.0})
        F[f"corner_lipmid_{side}"] = _minus(corner, _avg(_UPPER_LIP, _LOWER_LIP))
        F[f"lip_span_{side}"] = _minus(_avg(*_UPPER_LIP_SIDE[s]), _avg(*_LOWER_LIP_SIDE[s]))
        F[f"upper_side_{side}"] = _minus(_avg(*_UPPER_LIP_SIDE[s]), {_NOSE_BASE: 1.0})
        F[f"lower_chin_{side}"] = _minus(_avg(*_LOWER_LIP_SIDE[s]), {_CHIN: 1.0})
        F[f"brow_in_{side}"] = _minus(_avg(*_BROW_INNER[s]), mid)
        F[f"brow_out_{side}"] = _minus(_avg(*_BROW_OUTER[s]), mid)
        F[f"cheek_{side}"] = _minus(_avg(*_CHEEK[s]), mid)
        F[f"nose_wing_{side}"] = _minus(_avg(*_NOSE_WING[s]), mid)
    for k, (a, b) in enumerate(_INNER_LIP_PAIRS):
        F[f"lip_gap{k}"] = _minus({int(a): 1.0}, {int(b): 1.0})
    F["chin_bridge"] = _minus({_CHIN: 1.0}, {_BRIDGE: 1.0})
    F["lip_bridge"] = _minus({_LOWER_LIP: 1.0}, {_BRIDGE: 1.0})
    F["chin_nose"] = _minus({_CHIN: 1.0}, {_NOSE_BASE: 1.0})
    F["mouth_w"] = _minus({int(_MOUTH_CORNER[0]): 1.0}, {int(_MOUTH_CORNER[1]): 1.0})
    F["mouth_c"] = _minus(_avg(*_MOUTH_CORNER, _UPPER_LIP, _LOWER_LIP), {_NOSE_BASE: 1.0})
    F["upper_thick"] = _minus({_UPPER_LIP: 1.0}, {_UPPER_LIP_IN: 1.0})
    F["lower_thick"] = _minus({_LOWER_LIP: 1.0}, {_LOWER_LIP_IN: 1.0})
    F["upper_lip_nose"] = _minus({_UPPER_LIP: 1.0}, {_NOSE_BASE: 1.0})
    F["lower_chin_c"] = _minus({_LOWER_LIP: 1.0}, {_CHIN: 1.0})
    F["brow_gap"] = _minus(_avg(*_BROW_INNER[0]), _avg(*_BROW_INNER[1]))
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
    # brow, cheek and nose-wing heights above the eye-corner midpoint of their side
    ("brow_in_l", [("brow_in_l", "y", 1.0)], None),
    ("brow_in_r", [("brow_in_r", "y", 1.0)], None),
    ("brow_out_l", [("brow_out_l", "y", 1.0)], None),
    ("brow_out_r", [("brow_out_r", "y", 1.0)], None),
    ("brow_gap", [("brow_gap", "x", 1.0)], None),           # inner brows apart (unused)
    ("cheek_l", [("cheek_l", "y", 1.0)], None),
    ("cheek_r", [("cheek_r", "y", 1.0)], None),
    ("nose_wing_l", [("nose_wing_l", "y", 1.0)], None),
    ("nose_wing_r", [("nose_wing_r", "y", 1.0)], None),
]

#: Measure names, in column order (sides ordered left, right). Eye measures are in eye widths,
#: all others in IOD units; see :data:`_MEASURE_DEFS` for how each is built.
MEASURE_NAMES: tuple[str, ...] = tuple(d[0] for d in _MEASURE_DEFS)
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
    mix = np.zeros((nc + nn + 1, NUM_MEASURES))
    div_col = np.full(NUM_MEASURES, nc + nn, np.int64)      # the constant-1 column
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

#: The jaw's drop (IOD) is this mix of the chin's and the outer lower lip's distance increase
#: from the nose bridge: the chin alone is poorly tracked (no texture, beards), the lower lip rides
#: on the jaw and is tracked well.
JAW_DROP_MIX = {"chin_dist": 0.4, "lip_dist": 0.6}

_FLIP = np.array([1.0, -1.0, -1.0])


def face_points(kp2d: np.ndarray, kpz: np.ndarray) -> np.ndarray:
    """The face stage's input from detector keypoints (layout of :mod:`inference.layout`).

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


_P1, _P2 = np.array([1, 2, 0]), np.array([2, 0, 1])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (cheaper than ``np.cross`` for tiny arrays)."""
    return a[..., _P1] * b[..., _P2] - a[..., _P2] * b[..., _P1]


def _frame_from_axes(x: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (T, 3, 3) with columns X = x/|x|, Z ∝ x × up, Y = Z × X; and |x| (T,)."""
    iod = np.sqrt(np.einsum("ti,ti->t", x, x))
    x = x / np.maximum(iod, 1e-9)[:, None]
    z = _cross(x, up)
    z = z / np.maximum(np.sqrt(np.einsum("ti,ti->t", z, z)), 1e-12)[:, None]
    return np.stack([x, _cross(z, x), z], axis=-1), iod


def head_frame(face_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head pose from stable landmarks (eye corners, nose ridge, forehead).

    face_px: (T, 478, 3) pixels. Returns ``R`` (T, 3, 3) whose columns are the head's X (subject's
    left, eye to eye), Y (up, towards the forehead) and Z (forward) axes in face axes
    (:func:`to_face_axes`), ``origin`` (T, 3) the midpoint of the two eye centres (face axes) and
    ``iod`` (T,) the inter-ocular distance in pixels (0 for degenerate frames).
    """
    p = to_face_axes(face_px)
    eye_l = p[:, [_EYE_OUTER[0], _EYE_INNER[0]]].mean(axis=1)
    eye_r = p[:, [_EYE_OUTER[1], _EYE_INNER[1]]].mean(axis=1)
    up = p[:, _FOREHEAD].mean(axis=1) - p[:, _NOSE_RIDGE].mean(axis=1)
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


def face_measures(face_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale- and pose-free expression measures.

    face_px: (T, 478, 3) pixels (x = u, y = v, z = kpz). Returns ``m`` (T, NUM_MEASURES) float64
    in the order of :data:`MEASURE_NAMES` and ``iod`` (T,) pixels (0 marks a degenerate frame).
    Cost: one gather, one (K, 110) matrix product, a rotation and a (F, M) product per frame.
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
    return (feats @ _MIX) / np.maximum(feats[:, _DIV_COL], 1e-9), iod


def neutral_measures(m: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """The subject's neutral: a per-measure quantile (:data:`NEUTRAL_QUANTILE`) over present frames.

    m: (T, NUM_MEASURES); present: (T,) bool or None (all). Returns (NUM_MEASURES,) float64;
    NaN where there is no present frame.
    """
    if present is not None:
        m = m[np.asarray(present, bool)]
    if m.shape[0] == 0:
        return np.full(NUM_MEASURES, np.nan)
    s = np.sort(m, axis=0)
    pos = NEUTRAL_QUANTILE * (s.shape[0] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.shape[0] - 1)
    w = pos - lo
    cols = np.arange(NUM_MEASURES)
    return s[lo, cols] * (1.0 - w) + s[hi, cols] * w


# --------------------------------------------------------------------------------------------
# ARKit channels, jaw and eyes
# --------------------------------------------------------------------------------------------

#: Channel = clip((x − lo) / (hi − lo), 0, 1) for a driving quantity x (see :data:`_DRIVERS`,
#: mostly "measure − neutral"). Units: eye measures are fractions of the eye width, everything
#: else fractions of the inter-ocular distance (IOD ≈ 62 mm, so 0.016 IOD ≈ 1 mm); "relative"
#: drivers are fractions of the neutral value. ``lo`` is a dead zone above the landmark noise.
#: Ranges were set from MediaPipe output on a talking clip and are deliberately conservative.
ARKIT_RANGES: dict[str, tuple[float, float]] = {
    # eye openness relative to neutral: 1 − open/neutral (0 = as open as neutral, 1 = shut).
    # MediaPipe rarely closes the lids fully: ~70 % loss is a full blink
    "eyeBlink": (0.25, 0.70),
    # eyelid gap ratio above neutral (open/neutral − 1)
    "eyeWide": (0.12, 0.45),
    # lower lid raised above its neutral height (eye widths)
    "eyeSquint": (0.015, 0.09),
    # gaze angle (radians) from the iris offset; in/out horizontally, up/down vertically
    "eyeLookH": (0.04, 0.45),
    "eyeLookUp": (0.04, 0.35),
    "eyeLookDown": (0.04, 0.35),
    # jaw drop (IOD, :data:`JAW_DROP_MIX`); ~0.5 IOD ≈ 31 mm is a wide-open mouth
    "jawOpen": (0.02, 0.50),
    # chin lateral shift (IOD)
    "jawSide": (0.02, 0.12),
    # chin forward shift (IOD; MediaPipe depth is weak, so a wide dead zone)
    "jawForward": (0.06, 0.20),
    # inner-lip gap (IOD, absolute) → "lips apart" score gating funnel/pucker/press/close
    "lipsOpen": (0.02, 0.30),
    # jaw open while the lips stay together: jawOpen − lipsOpen
    "mouthClose": (0.10, 0.50),
    # mouth narrower than neutral: 1 − width/neutral (pucker if lips together, funnel if apart)
    "mouthNarrow": (0.05, 0.25),
    # whole mouth shifted sideways (IOD)
    "mouthSide": (0.02, 0.12),
    # corner raised above the mid-lip line (IOD) + half its outward shift
    "mouthSmile": (0.02, 0.14),
    # corner lowered below the mid-lip line (IOD)
    "mouthFrown": (0.02, 0.10),
    # corner pulled outward (IOD) less twice any rise (a rising corner is a smile)
    "mouthStretch": (0.03, 0.15),
    # lip thinning (vermilion at the centre): 1 − thickness/neutral
    "mouthRoll": (0.20, 0.65),
    # lower lip (centre) pushed away from the chin beyond neutral (IOD)
    "mouthShrugLower": (0.02, 0.10),
    # upper lip centre raised towards the nose (IOD)
    "mouthShrugUpper": (0.02, 0.08),
    # lateral lip span thinning (1 − span/neutral), gated by closed lips
    "mouthPress": (0.12, 0.45),
    # lateral lower lip pulled towards the chin beyond neutral (IOD)
    "mouthLowerDown": (0.02, 0.12),
    # lateral upper lip raised towards the nose (IOD)
    "mouthUpperUp": (0.02, 0.08),
    # brows (IOD above the eye corners): lowered (mean of inner and outer), inner raised, outer raised
    "browDown": (0.015, 0.08),
    "browInnerUp": (0.02, 0.12),
    "browOuterUp": (0.02, 0.12),
    # cheek below the eye raised (IOD); the mesh's cheek points jitter by ~0.02 IOD
    "cheekSquint": (0.02, 0.08),
    # nose wing raised (IOD); weak: the alar points move little and jitter with the mesh
    "noseSneer": (0.03, 0.10),
}
# Not in the table: cheekPuff, tongueOut (always 0); mouthClose, mouthDimple* (derived from
# other channels in :func:`arkit_from_measures`).

#: Resting iris offset from the eye-corner midpoint (eye widths) when looking straight ahead:
#: (x, y). MediaPipe places the iris centre close to the midpoint of the corners; a population
#: constant, so gaze is not re-centred per subject.
GAZE_CENTRE = np.array([0.0, 0.0])

# Driver terms per channel: (range key, [(source, name-or-side, coefficient)]); sources:
# "d" measure − neutral, "rel" (measure − neutral)/neutral, "yaw"/"pitch" gaze angle of side
# 0 = left / 1 = right (radians), "out+"/"up+" positive part of the corner's d(corner_out/up).
_DRIVERS: dict[str, tuple[str, list[tuple[str, object, float]]]] = {}
for _s, (_Sd, _sd) in enumerate((("Left", "l"), ("Right", "r"))):
    _sign = 1.0 if _s == 0 else -1.0     # "out" is +X for the left eye, −X for the right eye
    _DRIVERS.update({
        f"eyeBlink{_Sd}": ("eyeBlink", [("rel", f"eye_open_{_sd}", -1.0)]),
        f"eyeLookDown{_Sd}": ("eyeLookDown", [("pitch", _s, -1.0)]),
        f"eyeLookIn{_Sd}": ("eyeLookH", [("yaw", _s, -_sign)]),
        f"eyeLookOut{_Sd}": ("eyeLookH", [("yaw", _s, _sign)]),
        f"eyeLookUp{_Sd}": ("eyeLookUp", [("pitch", _s, 1.0)]),
        f"eyeSquint{_Sd}": ("eyeSquint", [("d", f"lid_low_{_sd}", 1.0)]),
        f"eyeWide{_Sd}": ("eyeWide", [("rel", f"eye_open_{_sd}", 1.0)]),
        f"mouthSmile{_Sd}": ("mouthSmile", [("d", f"corner_up_{_sd}", 1.0), ("out+", _s, 0.5)]),
        f"mouthFrown{_Sd}": ("mouthFrown", [("d", f"corner_up_{_sd}", -1.0)]),
        f"mouthStretch{_Sd}": ("mouthStretch", [("d", f"corner_out_{_sd}", 1.0), ("up+", _s, -2.0)]),
        f"mouthPress{_Sd}": ("mouthPress", [("rel", f"lip_span_{_sd}", -1.0)]),
        f"mouthLowerDown{_Sd}": ("mouthLowerDown", [("d", f"lower_chin_{_sd}", -1.0)]),
        f"mouthUpperUp{_Sd}": ("mouthUpperUp", [("d", f"upper_side_y_{_sd}", 1.0)]),
        f"browDown{_Sd}": ("browDown", [("d", f"brow_in_{_sd}", -0.5), ("d", f"brow_out_{_sd}", -0.5)]),
        f"browOuterUp{_Sd}": ("browOuterUp", [("d", f"brow_out_{_sd}", 1.0)]),
        f"cheekSquint{_Sd}": ("cheekSquint", [("d", f"cheek_{_sd}", 1.0)]),
        f"noseSneer{_Sd}": ("noseSneer", [("d", f"nose_wing_{_sd}", 1.0)]),
    })
_DRIVERS.update({
    "jawForward": ("jawForward", [("d", "chin_z", 1.0)]),
    "jawLeft": ("jawSide", [("d", "chin_x", 1.0)]),
    "jawRight": ("jawSide", [("d", "chin_x", -1.0)]),
    "jawOpen": ("jawOpen", [("d", k, w) for k, w in JAW_DROP_MIX.items()]),
    "mouthFunnel": ("mouthNarrow", [("rel", "mouth_width", -1.0)]),
    "mouthPucker": ("mouthNarrow", [("rel", "mouth_width", -1.0)]),
    "mouthLeft": ("mouthSide", [("d", "mouth_x", 1.0)]),
    "mouthRight": ("mouthSide", [("d", "mouth_x", -1.0)]),
    "mouthRollLower": ("mouthRoll", [("rel", "lower_thick", -1.0)]),
    "mouthRollUpper": ("mouthRoll", [("rel", "upper_thick", -1.0)]),
    "mouthShrugLower": ("mouthShrugLower", [("d", "lower_chin_c", 1.0)]),
    "mouthShrugUpper": ("mouthShrugUpper", [("d", "upper_lip_y", 1.0)]),
    "browInnerUp": ("browInnerUp", [("d", "brow_in_l", 0.5), ("d", "brow_in_r", 0.5)]),
})

#: Measures whose "rel" driver divides by the neutral (all positive lengths).
_REL = np.array([MI[n] for n in ("eye_open_l", "eye_open_r", "mouth_width", "lower_thick",
                                 "upper_thick", "lip_span_l", "lip_span_r")], np.int64)
_CORNER_OUT = np.array([MI["corner_out_l"], MI["corner_out_r"]])
_GAZE = np.array([MI["gaze_x_l"], MI["gaze_x_r"], MI["gaze_y_l"], MI["gaze_y_r"]])
_CORNER_UP = np.array([MI["corner_up_l"], MI["corner_up_r"]])


def _compile_drivers():
    src_off = {"d": 0, "rel": NUM_MEASURES, "out+": NUM_MEASURES + _REL.size,
               "up+": NUM_MEASURES + _REL.size + 2, "yaw": NUM_MEASURES + _REL.size + 4,
               "pitch": NUM_MEASURES + _REL.size + 6}
    A = np.zeros((NUM_MEASURES + _REL.size + 8, NUM_ARKIT))
    lo, hi = np.zeros(NUM_ARKIT), np.ones(NUM_ARKIT)
    rel_pos = {int(j): k for k, j in enumerate(_REL)}
    for name, (key, terms) in _DRIVERS.items():
        c = ARKIT_INDEX[name]
        lo[c], hi[c] = ARKIT_RANGES[key]
        for src, which, coef in terms:
            if src == "d":
                r = MI[which]
            elif src == "rel":
                r = src_off["rel"] + rel_pos[MI[which]]
            else:
                r = src_off[src] + int(which)
            A[r, c] += coef
    return A, lo, 1.0 / (hi - lo)


_DRIVE, _LO, _INV_SPAN = _compile_drivers()
del _s, _Sd, _sd, _sign
_CH = ARKIT_INDEX
_SQUINT = np.array([_CH["eyeSquintLeft"], _CH["eyeSquintRight"]])
_BLINK = np.array([_CH["eyeBlinkLeft"], _CH["eyeBlinkRight"]])
_PRESS = np.array([_CH["mouthPressLeft"], _CH["mouthPressRight"]])
_STRETCH = np.array([_CH["mouthStretchLeft"], _CH["mouthStretchRight"]])
_DIMPLE = np.array([_CH["mouthDimpleLeft"], _CH["mouthDimpleRight"]])


def _ramp(x: np.ndarray, key: str) -> np.ndarray:
    lo, hi = ARKIT_RANGES[key]
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def gaze_angles(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaze from the iris offsets: yaw (towards the subject's left +) and pitch (up +), radians.

    m: (T, NUM_MEASURES). Returns two (T, 2) arrays, sides (left, right). The iris offset from
    the corner midpoint over the eye width is sin(angle) × :data:`EYE_RADIUS_OVER_WIDTH`; its
    resting value is the population constant :data:`GAZE_CENTRE` (not calibrated per subject,
    so a subject who keeps looking aside is not re-centred).
    """
    s = (m[:, _GAZE] - np.repeat(GAZE_CENTRE, 2)) / EYE_RADIUS_OVER_WIDTH
    a = np.arcsin(np.clip(s, -1.0, 1.0))
    return a[:, 0:2], a[:, 2:4]


def arkit_from_measures(m: np.ndarray, neutral: np.ndarray,
                        gaze: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """ARKit channels from measures and the subject's neutral.

    m: (T, NUM_MEASURES); neutral: (NUM_MEASURES,); gaze: optional output of :func:`gaze_angles`.
    Returns (T, 52) float32 in [0, 1], order :data:`ARKIT_NAMES`.
    """
    d = m - neutral
    yaw, pitch = gaze_angles(m) if gaze is None else gaze
    G = np.concatenate([d, d[:, _REL] / np.maximum(neutral[_REL], 1e-6),
                        np.maximum(d[:, _CORNER_OUT], 0.0), np.maximum(d[:, _CORNER_UP], 0.0),
                        yaw, pitch], axis=1)
    out = np.clip((G @ _DRIVE - _LO) * _INV_SPAN, 0.0, 1.0)
    lips_open = _ramp(m[:, MI["lip_gap"]], "lipsOpen")
    closed = 1.0 - lips_open
    out[:, _SQUINT] *= 1.0 - out[:, _BLINK]
    out[:, _CH["mouthFunnel"]] *= lips_open
    out[:, _CH["mouthPucker"]] *= closed
    out[:, _PRESS] *= closed[:, None]
    out[:, _CH["mouthClose"]] = _ramp(out[:, _CH["jawOpen"]] - lips_open, "mouthClose")
    # dimple (corners pulled back and tight) is not separable from stretch with landmarks
    out[:, _DIMPLE] = 0.5 * out[:, _STRETCH]
    return out.astype(np.float32)


def jaw_from_measures(m: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """SMPL-X jaw rotation (axis-angle, in the head joint's frame) from the chin's motion.

    m: (T, NUM_MEASURES); neutral: (NUM_MEASURES,). Returns (T, 3) float32: opening is a positive
    rotation about +X (the jaw drop of :data:`JAW_DROP_MIX` in metres over the jaw length,
    0 … :data:`JAW_OPEN_MAX`), a chin shift towards the subject's left a positive rotation about
    +Y (± :data:`JAW_SIDE_MAX`).
    """
    drop = sum(w * (m[:, MI[k]] - neutral[MI[k]]) for k, w in JAW_DROP_MIX.items())
    drop = drop - ARKIT_RANGES["jawOpen"][0]
    side = m[:, MI["chin_x"]] - neutral[MI["chin_x"]]
    out = np.zeros((m.shape[0], 3), np.float32)
    out[:, 0] = np.clip(drop * (IOD_M / JAW_LENGTH_M), 0.0, JAW_OPEN_MAX)
    out[:, 1] = np.clip(side * (IOD_M / JAW_LENGTH_M), -JAW_SIDE_MAX, JAW_SIDE_MAX)
    return out


def eyes_from_measures(m: np.ndarray, gaze: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """SMPL-X eye rotations (left_eye_smplhf, right_eye_smplhf) from the iris offsets.

    m: (T, NUM_MEASURES); gaze: optional output of :func:`gaze_angles`. Returns (T, 2, 3) float32
    axis-angle, the swing without twist that turns +Z (forward) to the gaze direction: looking
    towards the subject's left is a positive rotation about +Y, looking up a negative rotation
    about +X; each angle bounded to ± :data:`EYE_MAX`.
    """
    yaw, pitch = gaze_angles(m) if gaze is None else gaze
    yaw = np.clip(yaw, -EYE_MAX, EYE_MAX)
    pitch = np.clip(pitch, -EYE_MAX, EYE_MAX)
    cp = np.cos(pitch)
    dx, dy, dz = np.sin(yaw) * cp, np.sin(pitch), np.cos(yaw) * cp
    s = np.sqrt(dx * dx + dy * dy)
    k = np.arctan2(s, dz) / np.maximum(s, 1e-12)          # angle / |axis|, → 1 as s → 0
    return np.stack([-dy * k, dx * k, np.zeros_like(dx)], axis=-1).astype(np.float32)


# --------------------------------------------------------------------------------------------
# SMPL-X expression fit
# --------------------------------------------------------------------------------------------


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Map each frame's ``src`` points onto ``dst`` with the best similarity (Umeyama).

    src: (T, N, 3) detected points; dst: (N, 3) or (T, N, 3) template. Returns (T, N, 3): the
    source points after the scale·rotation·translation that best fits them to the template
    (least squares, no reflection).
    """
    ms = src.sum(axis=1, keepdims=True) * (1.0 / src.shape[1])
    md = dst.sum(axis=-2, keepdims=True) * (1.0 / dst.shape[-2])
    s0, d0 = src - ms, dst - md
    H = np.swapaxes(s0, 1, 2) @ d0                         # (T, 3, 3) cross-covariance
    U, S, Vt = np.linalg.svd(H)
    # no reflection: flip the weakest axis when det(H) < 0 (det U·det Vt has the sign of det H)
    det = np.einsum("ti,ti->t", H[:, 0], _cross(H[:, 1], H[:, 2]))
    D = np.ones((src.shape[0], 3))
    D[:, 2] = np.where(det < 0.0, -1.0, 1.0)
    R = (np.swapaxes(Vt, 1, 2) * D[:, None, :]) @ np.swapaxes(U, 1, 2)   # V diag(D) Uᵀ
    scale = (S * D).sum(axis=1) / np.maximum(np.einsum("tni,tni->t", s0, s0), 1e-300)
    return (scale[:, None, None] * s0) @ np.swapaxes(R, 1, 2) + md


def similarity_tangent(L: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3N, 7) of the displacements a small similarity makes to points L (N, 3):
    translation (3), rotation (3) and scale (1), flattened like ``L.ravel()``."""
    Lc = L - L.mean(axis=0)
    cols = [np.tile(np.eye(3)[k], L.shape[0]) for k in range(3)]
    cols += [np.cross(np.eye(3)[k], Lc).ravel() for k in range(3)]
    cols.append(Lc.ravel())
    Q, _ = np.linalg.qr(np.stack(cols, axis=1))
    return Q


class ExpressionFitter:
    """Linear SMPL-X expression fit to the 51 iBUG face landmarks.

    ``model`` must provide ``face_landmark_expression_basis() -> (L0 (51, 3), Ldirs (51, 3, E))``:
    the model's neutral face landmarks in metres (rest pose) and how they move per expression
    coefficient. ``regularization`` λ is relative to the mean squared norm of a basis direction,
    so its effect does not depend on the basis' units. Per frame the detected points are
    similarity-aligned to the model's face and ψ solves the regularised least squares
    (B̃ᵀ B̃ + λ I) ψ = B̃ᵀ r, r = aligned − L0, where B̃ is ``Ldirs`` (flattened to (153, E))
    with its similarity-tangent part removed (the alignment already absorbs that part). The
    solve matrix is computed once, so a frame costs one 3×3 SVD and a (E, 153) product per
    iteration; the second iteration re-aligns to L0 + B ψ.

    Limitation: L0 and Ldirs are in the rest pose (jaw closed), so a mouth opening is partly
    explained by ψ as well as by the separate jaw rotation; if both are applied the lips may open
    a little more than detected.
    """

    def __init__(self, model, num_expression: int = 10, regularization: float = 0.05,
                 iterations: int = 2, max_abs: float = 4.0):
        L0, Ldirs = model.face_landmark_expression_basis()
        L0 = np.asarray(L0, np.float64)
        Ldirs = np.asarray(Ldirs, np.float64)
        if L0.shape != (51, 3) or Ldirs.ndim != 3 or Ldirs.shape[:2] != (51, 3):
            raise ValueError(f"face basis must be (51, 3) and (51, 3, E), got {L0.shape}, {Ldirs.shape}")
        E = min(int(num_expression), Ldirs.shape[2])
        B = Ldirs[:, :, :E].reshape(153, E)
        # The alignment absorbs the part of each direction that a similarity could also produce;
        # solving with the directions projected off the similarity's tangent space at L0 makes one
        # align+solve pass the linearised joint (pose, ψ) solution.
        Q = similarity_tangent(L0)
        Pb = B - Q @ (Q.T @ B)
        BtB = Pb.T @ Pb
        lam = regularization * float(np.trace(BtB)) / E
        self.L0 = L0
        self.B = B                                         # (153, E)
        self.solve_matrix = np.linalg.solve(BtB + lam * np.eye(E), Pb.T)   # (E, 153)
        self.num_expression = E
        self.iterations = max(1, int(iterations))
        self.max_abs = float(max_abs)

    def residuals(self, points: np.ndarray, template: np.ndarray | None = None) -> np.ndarray:
        """Detected points aligned to ``template`` (default L0) minus L0. (T, 51, 3) → (T, 153)."""
        tpl = self.L0 if template is None else template
        return (similarity_align(points, tpl) - self.L0).reshape(points.shape[0], 153)

    def fit(self, points: np.ndarray, offset: np.ndarray | None = None,
            return_residual: bool = False):
        """Expression coefficients per frame.

        points: (T, 51, 3) detected iBUG-51 points in any similarity frame (e.g. face axes in
        pixels). offset: optional (153,) neutral residual of this subject (landmark-definition
        and identity differences, e.g. the median of :meth:`residuals`), subtracted before
        solving so that the subject's neutral gives ψ = 0. Returns (T, E) float64 clipped to
        ± ``max_abs``; with ``return_residual`` also the first pass's aligned points minus L0
        (T, 153) (≈ :meth:`residuals`, used to keep a running offset without another alignment).
        """
        pts = np.asarray(points, np.float64)
        T = pts.shape[0]
        base = self.L0 if offset is None else self.L0 + np.reshape(offset, (51, 3))
        psi = np.zeros((T, self.num_expression))
        first = None
        for it in range(self.iterations):
            tpl = base if it == 0 else base + (psi @ self.B.T).reshape(T, 51, 3)
            aligned = similarity_align(pts, tpl)
            if it == 0:
                first = (aligned - self.L0).reshape(T, 153)
            psi = (aligned - base).reshape(T, 153) @ self.solve_matrix.T
        psi = np.clip(psi, -self.max_abs, self.max_abs)
        return (psi, first) if return_residual else psi


# --------------------------------------------------------------------------------------------
# Results and the solver
# --------------------------------------------------------------------------------------------


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


class FaceSolver:
    """Face-mesh landmarks → :class:`FaceResult`, offline (:meth:`solve_batch`) or live (:meth:`solve_frame`).

    model: optional body model with ``face_landmark_expression_basis()`` (see
    :class:`ExpressionFitter`); without one the expression is zeros of width ``num_expression``.
    smoothing: one-pole smoothing factor in [0, 1) applied to the outputs (0 = off; batch is
    zero-phase forward-backward within runs of present frames, streaming is causal).
    regularization: see :class:`ExpressionFitter`. relative_expression: subtract the subject's
    neutral landmark residual (sequence median / running median) before the expression solve, so
    identity and landmark-definition differences do not show up as expression.
    Streaming keeps the measures of the last ``neutral_window`` present frames and re-estimates
    the neutral from them every ``neutral_every`` frames (every frame during the first
    ``neutral_warmup`` frames).
    """

    def __init__(self, model=None, num_expression: int = 10, smoothing: float = 0.0,
                 regularization: float = 0.05, relative_expression: bool = True,
                 neutral_window: int = 600, neutral_every: int = 15, neutral_warmup: int = 30):
        if not 0.0 <= float(smoothing) < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.fitter = (ExpressionFitter(model, num_expression, regularization)
                       if model is not None else None)
        self.num_expression = self.fitter.num_expression if self.fitter else int(num_expression)
        self.smoothing = float(smoothing)
        self.relative_expression = bool(relative_expression)
        self.neutral_every = max(1, int(neutral_every))
        self.neutral_warmup = int(neutral_warmup)
        self._measures = _Ring(neutral_window, NUM_MEASURES)
        # landmark residuals for the running expression offset: every ``residual_stride``-th
        # frame, so the periodic median stays cheap
        self.residual_stride = 4
        self._residuals = _Ring(max(30, int(neutral_window) // self.residual_stride), 153)
        self.reset()

    def reset(self) -> None:
        """Forget the streaming state (neutral, expression offset, smoothing)."""
        self._measures.clear()
        self._residuals.clear()
        self._since = 0
        self._frames = 0
        self.neutral: np.ndarray | None = None
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
        neutral = neutral_measures(m)
        gaze = gaze_angles(m)
        res.arkit[idx] = arkit_from_measures(m, neutral, gaze)
        res.jaw[idx] = jaw_from_measures(m, neutral)
        res.eyes[idx] = eyes_from_measures(m, gaze)
        if self.fitter is not None:
            pts = to_face_axes(face_px[idx][:, IBUG51_FROM_MEDIAPIPE])
            off = (_median_rows(self.fitter.residuals(pts)) if self.relative_expression
                   else None)
            res.expression[idx] = self.fitter.fit(pts, off)
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
            self._prev = None
            return self._empty(1)
        fp = np.asarray(face_px, np.float64)[None]
        if not np.isfinite(fp).all():
            self._prev = None
            return self._empty(1)
        m, iod = face_measures(fp)
        if not iod[0] > 1e-6:
            self._prev = None
            return self._empty(1)
        self._measures.push(m[0])
        self._since += 1
        if (self.neutral is None or self._measures.count <= self.neutral_warmup
                or self._since >= self.neutral_every):
            self.neutral = neutral_measures(self._measures.rows())
            self._since = 0
        gaze = gaze_angles(m)
        arkit = arkit_from_measures(m, self.neutral, gaze)
        jaw = jaw_from_measures(m, self.neutral)
        eyes = eyes_from_measures(m, gaze)
        expr = np.zeros((1, self.num_expression), np.float32)
        if self.fitter is not None:
            pts = to_face_axes(fp[:, IBUG51_FROM_MEDIAPIPE])
            if not self.relative_expression:
                expr = self.fitter.fit(pts).astype(np.float32)
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
                expr = psi.astype(np.float32)
        out = (arkit, jaw, eyes, expr)
        if self.smoothing > 0.0 and self._prev is not None:
            a = self.smoothing
            out = tuple((a * p + (1.0 - a) * x).astype(np.float32) for p, x in zip(self._prev, out))
        self._prev = out
        return FaceResult(arkit=out[0], jaw=out[1], eyes=out[2], expression=out[3],
                          present=np.ones(1, bool))
