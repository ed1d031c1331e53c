"""Expression measures → the 52 ARKit blendshape weights, the SMPL-X jaw and eye rotations.

In: the measures of :mod:`.measures` and the subject's neutral; out: ARKit weights (T, 52) in
[0, 1], jaw (T, 3) and eyes (T, 2, 3) axis-angle. Each channel is a ramp of a driving quantity
(mostly "measure − neutral") through the ranges of :data:`ARKIT_RANGES`.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import ARKIT_INDEX, NUM_ARKIT
from .measures import LIPS_CLOSED_GAP, MI, NOISE_FLOOR, NUM_MEASURES

#: Inter-ocular distance (eye centre to eye centre, i.e. the midpoints of the eye corners) of an
#: average adult, metres; converts canonical face units to metres for the jaw rotation.
IOD_M = 0.062
#: Distance from the jaw's pivot to the chin, metres (SMPL-X jaw joint to the menton).
JAW_LENGTH_M = 0.095
#: Eye-ball radius over eye width (corner to corner): iris offset/width → sin(gaze angle).
EYE_RADIUS_OVER_WIDTH = 0.40
#: Rotation bounds, radians.
JAW_OPEN_MAX, JAW_SIDE_MAX, EYE_MAX = 0.5, 0.15, 0.5
#: The jaw's drop (IOD) is this mix of the chin's and the outer lower lip's distance increase
#: from the nose bridge: the chin alone is poorly tracked (no texture, beards), the lower lip rides
#: on the jaw and is tracked well.
JAW_DROP_MIX = {"chin_dist": 0.4, "lip_dist": 0.6}


#: Channel = clip((x − lo) / (hi − lo), 0, 1) for a driving quantity x (see :data:`_DRIVERS`,
#: mostly "measure − neutral"). Units: eye measures are fractions of the eye width, everything
#: else fractions of the inter-ocular distance (IOD ≈ 62 mm, so 0.016 IOD ≈ 1 mm); "relative"
#: drivers are fractions of the neutral value. ``lo`` is a small dead zone; the clip's measured
#: landmark noise widens it and the span (:data:`NOISE_DEAD_ZONE`). Ranges were set from MediaPipe
#: output on a talking clip and on the rendered MakeHuman head (``scripts/bench_face.py``).
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
    "lipsOpen": (LIPS_CLOSED_GAP, 0.30),
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
    # brows (IOD above the eye corners): lowered (mean of inner and outer), inner raised, outer raised.
    # The mesh's brow points follow about a third of the skin's motion (a 5 mm raise of the
    # rendered MakeHuman brows moves them by ~0.03 IOD ≈ 1.9 mm), hence the short raise ramps with
    # a small dead zone (the clip's noise widens both)
    "browDown": (0.015, 0.08),
    "browInnerUp": (0.005, 0.06),
    "browOuterUp": (0.005, 0.06),
    # cheek below the eye raised (IOD); the mesh's cheek points jitter by ~0.02 IOD
    "cheekSquint": (0.02, 0.08),
    # nose wing raised (IOD); weak: the alar points move little and jitter with the mesh
    "noseSneer": (0.03, 0.10),
}
# Not in the table: cheekPuff, tongueOut (always 0); mouthClose, mouthDimple* (derived from
# other channels in :func:`arkit_from_measures`).

#: Landmark noise → ramps. A channel's driving quantity has a noise σ (from the measures' jitter,
#: :func:`~.measures.measure_noise`); its dead zone starts :data:`NOISE_DEAD_ZONE` σ above ``lo``
#: and its ramp is at least :data:`NOISE_SPAN` σ long, so a still face's jitter stays in the dead
#: zone and a rare larger excursion moves the channel a little, not from 0 to 1. On a large,
#: well-tracked face σ is small and the table's ranges apply almost unchanged.
NOISE_DEAD_ZONE = 3.0
NOISE_SPAN = 8.0
#: Noise-weighted smoothing of the measures: a measure whose noise is a large share r of the range
#: of the most sensitive channel it drives (a gaze on a 7-pixel eye, a lip corner on a 17-pixel
#: face) gets a one-pole weight α = NOISE_SMOOTH_MAX · r² / (NOISE_SMOOTH_REF² + r²); a clean
#: measure (a close-up's jaw, r ≈ 0.02) is left alone.
NOISE_SMOOTH_REF = 0.04
NOISE_SMOOTH_MAX = 0.7

#: A turned head's far mouth corner is seen edge-on: MediaPipe places it poorly (at −30° the far
#: corner rises 0.07 IOD when only the jaw opens, the near one drops 0.03), so beyond a turn its
#: measures borrow the near corner's change: the far side's share of the near side's grows
#: smoothly from 0 at ``FAR_SIDE_YAW[0]`` to ``FAR_SIDE_BORROW`` at ``FAR_SIDE_YAW[1]`` (radians of
#: head yaw). An asymmetric smile on a strongly turned head is therefore seen as symmetric.
FAR_SIDE_YAW = (np.radians(10.0), np.radians(30.0))
FAR_SIDE_BORROW = 1.0

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
_EYE_OPEN = np.array([MI["eye_open_l"], MI["eye_open_r"]])
#: Measures of the mouth corners, (left, right) columns, that borrow the near side on a turned head.
_CORNER_PAIRS = np.array([[MI["corner_up_l"], MI["corner_up_r"]],
                          [MI["corner_out_l"], MI["corner_out_r"]]], np.int64)


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


def _ramp(x: np.ndarray, key: str, sigma: float = 0.0) -> np.ndarray:
    """The ramp of :data:`ARKIT_RANGES` ``key``, its dead zone and span widened by the noise σ."""
    lo, hi = ARKIT_RANGES[key]
    return np.clip((x - lo - NOISE_DEAD_ZONE * sigma) / max(hi - lo, NOISE_SPAN * sigma), 0.0, 1.0)


def far_side_share(yaw: np.ndarray) -> np.ndarray:
    """How much of the near corner's change the far corner takes, from head yaw (T,) radians.

    Returns (T, 2) float64 for (left, right): the left side is far when yaw > 0. A smoothstep
    over :data:`FAR_SIDE_YAW`, up to :data:`FAR_SIDE_BORROW`.
    """
    lo, hi = FAR_SIDE_YAW
    t = np.clip((np.abs(yaw) - lo) / (hi - lo), 0.0, 1.0)
    b = FAR_SIDE_BORROW * t * t * (3.0 - 2.0 * t)
    return np.stack([b * (yaw > 0), b * (yaw < 0)], axis=-1)


def borrow_near_side(d: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Mouth-corner changes from neutral (T, NUM_MEASURES) with the far corner's blended towards
    the near corner's on a turned head (:func:`far_side_share`). Returns a new (T, NUM_MEASURES)."""
    b = far_side_share(yaw)                                    # (T, 2)
    dl, dr = d[:, _CORNER_PAIRS[:, 0]], d[:, _CORNER_PAIRS[:, 1]]
    out = d.copy()
    out[:, _CORNER_PAIRS[:, 0]] = dl + b[:, :1] * (dr - dl)
    out[:, _CORNER_PAIRS[:, 1]] = dr + b[:, 1:] * (dl - dr)
    return out


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


def channel_noise(noise: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Noise σ of each channel's driving quantity from the measures' noise (NUM_MEASURES,) and the
    neutral (NUM_MEASURES,): the drivers are linear in the measures, so σ² adds up through
    the squared coefficients. Returns (52,) float64 (0 for channels without a driver)."""
    s = np.asarray(noise, np.float64)
    sg = np.concatenate([s, s[_REL] / np.maximum(np.abs(neutral[_REL]), 1e-6), s[_CORNER_OUT],
                         s[_CORNER_UP], s[_GAZE] / EYE_RADIUS_OVER_WIDTH])
    return np.sqrt((sg * sg) @ (_DRIVE * _DRIVE))


def noise_smoothing(noise: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """One-pole weight (of the previous value) per measure, from its noise (NUM_MEASURES,) over
    the range of the most sensitive channel it drives (:data:`NOISE_SMOOTH_REF`). Returns
    (NUM_MEASURES,) in [0, NOISE_SMOOTH_MAX)."""
    s = np.asarray(noise, np.float64)
    gain = np.abs(_DRIVE) * _INV_SPAN                         # (G, 52) channel units per driver unit
    per = gain.max(axis=1)                                     # (G,)
    r = s * per[:NUM_MEASURES]
    rel = s[_REL] / np.maximum(np.abs(neutral[_REL]), 1e-6) * per[NUM_MEASURES:NUM_MEASURES + _REL.size]
    r[_REL] = np.maximum(r[_REL], rel)
    for rows, cols in ((_CORNER_OUT, slice(NUM_MEASURES + _REL.size, NUM_MEASURES + _REL.size + 2)),
                       (_CORNER_UP, slice(NUM_MEASURES + _REL.size + 2, NUM_MEASURES + _REL.size + 4))):
        r[rows] = np.maximum(r[rows], s[rows] * per[cols])
    gz = slice(NUM_MEASURES + _REL.size + 4, NUM_MEASURES + _REL.size + 8)
    r[_GAZE] = np.maximum(r[_GAZE], s[_GAZE] / EYE_RADIUS_OVER_WIDTH * per[gz])
    r2 = r * r
    alpha = NOISE_SMOOTH_MAX * r2 / (NOISE_SMOOTH_REF ** 2 + r2)
    alpha[_EYE_OPEN] = 0.0          # a blink (100–150 ms) is shorter than any useful smoothing
    return alpha


def noise_ramps(noise: np.ndarray | None, neutral: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The channels' ramps for a noise level: start ``lo`` (52,), slope ``inv`` (52,) and the
    lip gap's σ (see :data:`NOISE_DEAD_ZONE`). noise: (NUM_MEASURES,) or None (the floor)."""
    if noise is None:
        noise = np.full(NUM_MEASURES, NOISE_FLOOR)
    sc = channel_noise(noise, neutral)
    return (_LO + NOISE_DEAD_ZONE * sc, 1.0 / np.maximum(1.0 / _INV_SPAN, NOISE_SPAN * sc),
            float(noise[MI["lip_gap"]]))


def arkit_from_measures(m: np.ndarray, neutral: np.ndarray,
                        gaze: tuple[np.ndarray, np.ndarray] | None = None,
                        noise: np.ndarray | None = None,
                        ramps: tuple[np.ndarray, np.ndarray, float] | None = None) -> np.ndarray:
    """ARKit channels from measures and the subject's neutral.

    m: (T, NUM_MEASURES); neutral: (NUM_MEASURES,); gaze: optional output of :func:`gaze_angles`;
    noise: (NUM_MEASURES,) jitter of the measures (:func:`~.measures.measure_noise`; None: the
    noise floor), which widens each channel's dead zone and ramp (:data:`NOISE_DEAD_ZONE`);
    ramps: :func:`noise_ramps` already computed for this noise and neutral (streaming).
    Returns (T, 52) float32 in [0, 1], order :data:`ARKIT_NAMES`.
    """
    d = borrow_near_side(m - neutral, m[:, MI["head_yaw"]])
    yaw, pitch = gaze_angles(m) if gaze is None else gaze
    G = np.concatenate([d, d[:, _REL] / np.maximum(neutral[_REL], 1e-6),
                        np.maximum(d[:, _CORNER_OUT], 0.0), np.maximum(d[:, _CORNER_UP], 0.0),
                        yaw, pitch], axis=1)
    lo, inv, gap_sigma = noise_ramps(noise, neutral) if ramps is None else ramps
    out = np.clip((G @ _DRIVE - lo) * inv, 0.0, 1.0)
    lips_open = _ramp(m[:, MI["lip_gap"]], "lipsOpen", gap_sigma)
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


