#!/usr/bin/env python
"""Steadiness benchmark: flicker of the fingers, wrists and ARKit weights on real footage of a still
subject; prints one JSON object.

Clips: the shared photos basketball1.png (a man holding a ball in both hands) and messi5.jpg seen
through a slow synthetic pan / zoom (``tests/support/still_clip.py``: 75 frames, 25 fps; the person
does not move, so every change between frames is flicker), and Megamind.avi restricted to its calm
stretches (``tests/support/steadiness.calm_pairs``: runs of at least 6 consecutive frame pairs, in
one shot, where the median 2D body landmark and every seen hand's landmarks move by at most 1 %
of the body's 2D size per frame — picked from the detections alone). Each clip runs through the
batch path (``solve_sequence``) and the live path (``LivePipeline``, frame by frame) at the given
smoothing. Figures (``tests/support/steadiness.steadiness``): finger joints' change between
consecutive frames (max, p99, counts over 15 / 45 / 90°), the wrists' (max, and max at the frames
where a hand's detection drops out or comes back), ARKit weights' largest change per frame (p99, max).

The detections are cached (``--cache``, npz per clip), so re-runs skip MediaPipe.
    .venv/bin/python scripts/bench_steadiness.py [--smoothing 0.5] [--cache /tmp/steadiness]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from data_paths import BASKETBALL, MEGAMIND, MESSI  # noqa: E402
from inference.core.layout import PART_HANDS  # noqa: E402
from inference.core.records import DEFAULT_FOV_DEG, Camera, Detection, DetectionSeq  # noqa: E402
from inference.pipeline.batch import solve_sequence  # noqa: E402
from inference.pipeline.detections import load_detections, save_detections  # noqa: E402
from inference.pipeline.live import LivePipeline  # noqa: E402
from inference.core import rotations as rot  # noqa: E402
from support.steadiness import calm_pairs, steadiness  # noqa: E402
from support.still_clip import write_still_clip  # noqa: E402


def detections(name: str, source: Path, still: bool, cache: Path) -> tuple[DetectionSeq, Camera]:
    """The clip's detections, from the cache or by running the detector once."""
    path = cache / f"{name}_detections.npz"
    if path.is_file():
        return load_detections(path)
    from inference.app.capture import detect_source
    clip = write_still_clip(source, cache / f"{name}.avi") if still else source
    seq, size, _, _ = detect_source(str(clip), progress=False)
    camera = Camera.from_fov(size[0], size[1], DEFAULT_FOV_DEG)
    save_detections(path, seq, camera, source=str(clip))
    return seq, camera


def run_batch(seq: DetectionSeq, camera: Camera, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 55, 4) local quaternions and (T, 52) ARKit weights of the batch path."""
    m = solve_sequence(seq, camera, smoothing=smoothing)
    return rot.to_quat(rot.axis_angle(m.poses.reshape(len(seq), -1, 3))), m.arkit


def run_live(seq: DetectionSeq, camera: Camera, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 55, 4) local quaternions and (T, 52) ARKit weights of the live path, frame by frame."""
    live = LivePipeline(camera, smoothing=smoothing)
    out = [live.step(Detection(time=float(seq.times[i]), image_size=seq.image_size, kp2d=seq.kp2d[i],
                               kpz=seq.kpz[i], world=seq.world[i], present=seq.present[i]))
           for i in range(len(seq))]
    return np.stack([r.local_quat for r in out]), np.stack([r.arkit for r in out])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--cache", default="/tmp/steadiness", help="folder of the cached detections")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    out: dict = {"smoothing": args.smoothing}
    for name, source, still in (("basketball_pan_zoom", BASKETBALL, True), ("messi_pan_zoom", MESSI, True),
                                ("megamind_calm", MEGAMIND, False)):
        seq, camera = detections(name, source, still, cache)
        pairs = None if still else calm_pairs(seq)
        clip = {"frames": len(seq), "hands_found": seq.present[:, PART_HANDS].sum(0).tolist()}
        for path, run in (("batch", run_batch), ("live", run_live)):
            q, arkit = run(seq, camera, args.smoothing)
            clip[path] = steadiness(q, arkit, seq.present, pairs)
        out[name] = clip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
