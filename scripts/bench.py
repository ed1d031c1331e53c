#!/usr/bin/env python
"""Capture-engine benchmark on the sample clip; prints one JSON object.

Per-stage ms/frame of the streaming path (decode, detect, then ``LivePipeline.step``'s own stage
timings: solve, face, filter), pipeline FPS vs detector-alone FPS measured in the same run, and RSS
growth over a looped stream. ``live_solver`` says whether the lifting passes ran compiled
(``inference/body/solve_numba.py``, numba) or through numpy; the same loop is also run through the
numpy solver for comparison (``numpy_solver_solve_plus_filter_ms``).
    .venv/bin/python scripts/bench.py [--clip PATH] [--seconds 60]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# as the add-on's worker runs (inference/worker.py): one BLAS thread beside the detector's threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from inference.body import solve_numba  # noqa: E402
from inference.core.records import DEFAULT_FOV_DEG, Camera  # noqa: E402
from inference.detect.base import detect  # noqa: E402
from inference.detect.mediapipe_holistic import MediaPipeHolisticDetector  # noqa: E402
from inference.pipeline.live import LivePipeline  # noqa: E402
from inference.sources.open import open_source  # noqa: E402

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "Megamind.avi"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default=str(DEFAULT_CLIP))
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the looped memory run")
    args = ap.parse_args()

    src = open_source(args.clip)
    frames = list(src)
    src.close()
    w, h = src.size
    cam = Camera.from_fov(w, h, DEFAULT_FOV_DEG)

    # decode alone
    t0 = time.perf_counter()
    with open_source(args.clip) as s:
        n_dec = sum(1 for _ in s)
    decode_ms = (time.perf_counter() - t0) * 1000 / n_dec

    # detector alone (decode + detect), then the whole streaming pipeline, same clip, same run
    def run(full: bool, compiled: bool = True) -> tuple[float, dict]:
        det = MediaPipeHolisticDetector()
        live = LivePipeline(cam, compiled=compiled)   # the compiled solver loads here, outside the loop
        times = {"detect": 0.0, "solve": 0.0, "filter": 0.0, "face": 0.0}
        n = 0
        t_start = time.perf_counter()
        with open_source(args.clip) as s:
            for frame in s:
                a = time.perf_counter()
                d = detect(det, frame)
                times["detect"] += time.perf_counter() - a
                n += 1
                if not full:
                    continue
                live.step(d)                      # solve (body + output kinematics), face, filter
                st = live.last_times
                times["solve"] += st.solve / 1000.0
                times["face"] += st.face / 1000.0
                times["filter"] += st.filter / 1000.0
        total = time.perf_counter() - t_start
        det.close()
        return n / total, {k: v * 1000 / n for k, v in times.items()}

    detector_fps, _ = run(full=False)
    pipeline_fps, per = run(full=True)
    solver = "compiled" if solve_numba.AVAILABLE else "numpy"
    _, per_numpy = run(full=True, compiled=False)   # the same loop through the numpy solver, for comparison

    # memory over a looped stream (detector + the whole streaming pipeline)
    det = MediaPipeHolisticDetector()
    live = LivePipeline(cam)
    t_begin = time.perf_counter()
    rss0, t_end, n_loop = None, t_begin + args.seconds, 0
    samples, next_sample = [], t_begin + args.seconds / 10
    with open_source(args.clip, loop=True) as s:
        for frame in s:
            live.step(detect(det, frame))
            n_loop += 1
            if n_loop == 100:
                rss0 = rss_mb()
            now = time.perf_counter()
            if now >= next_sample:               # ten RSS samples over the run: flat or growing?
                samples.append(round(rss_mb(), 1))
                next_sample += args.seconds / 10
            if now > t_end:
                break
    det.close()
    print(json.dumps({
        "clip": Path(args.clip).name, "frames": len(frames), "image_size": [w, h],
        "pipeline_fps": round(pipeline_fps, 2), "detector_fps": round(detector_fps, 2),
        "pipeline_over_detector": round(pipeline_fps / detector_fps, 3),
        "decode_ms": round(decode_ms, 3), "detect_ms": round(per["detect"], 2),
        "solve_ms": round(per["solve"], 3), "filter_ms": round(per["filter"], 3),
        "face_ms": round(per["face"], 3),
        "solve_plus_filter_ms": round(per["solve"] + per["filter"], 3),
        "live_solver": solver,
        "numpy_solver_solve_plus_filter_ms": round(per_numpy["solve"] + per_numpy["filter"], 3),
        "loop_seconds": args.seconds, "loop_frames": n_loop,
        "rss_growth_mb": round(rss_mb() - (rss0 or rss_mb()), 2),
        "rss_samples_mb": samples,
    }))


if __name__ == "__main__":
    main()
