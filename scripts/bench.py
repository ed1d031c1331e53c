#!/usr/bin/env python
"""Capture-engine benchmark on the sample clip; prints one JSON object.

Per-stage ms/frame of the streaming path (decode, detect, solve, filter, face), pipeline FPS vs
detector-alone FPS measured in the same run, and RSS growth over a looped stream.
    .venv/bin/python scripts/bench.py [--clip PATH] [--seconds 60]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from inference import rotations as rot  # noqa: E402
from inference.detect import MediaPipeHolisticDetector, detect  # noqa: E402
from inference.face import FaceSolver  # noqa: E402
from inference.filters import MotionFilter  # noqa: E402
from inference.layout import FACE  # noqa: E402
from inference.pipeline import DEFAULT_FOV_DEG, estimate_subject, solve_camera  # noqa: E402
from inference.records import Camera, DetectionSeq  # noqa: E402
from inference.sources import open_source  # noqa: E402

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
    def run(full: bool) -> tuple[float, dict]:
        det = MediaPipeHolisticDetector()
        face = FaceSolver()
        filt = MotionFilter()
        times = {"detect": 0.0, "solve": 0.0, "filter": 0.0, "face": 0.0}
        subject = None
        n = 0
        t_start = time.perf_counter()
        with open_source(args.clip) as s:
            for frame in s:
                a = time.perf_counter()
                d = detect(det, frame)
                b = time.perf_counter()
                times["detect"] += b - a
                n += 1
                if not full:
                    continue
                seq = DetectionSeq.stack([d])
                local, root = np.broadcast_to(np.eye(3), (55, 3, 3)).copy(), np.zeros(3)
                if d.present[0]:
                    subject = subject or estimate_subject(seq)
                    G, J = solve_camera(seq, subject, cam)
                    local, root = G[0], J[0, 0]
                c = time.perf_counter()
                fr = face.solve_frame(np.concatenate([d.kp2d[FACE, :2], d.kpz[FACE, None]], -1), bool(d.present[3]))
                e = time.perf_counter()
                filt.step(d.time, rot.to_quat(local), root, fr.expression[0], fr.arkit[0], d.present)
                f = time.perf_counter()
                times["solve"] += c - b
                times["face"] += e - c
                times["filter"] += f - e
        total = time.perf_counter() - t_start
        det.close()
        return n / total, {k: v * 1000 / n for k, v in times.items()}

    detector_fps, _ = run(full=False)
    pipeline_fps, per = run(full=True)

    # memory over a looped stream (solve + filter + face on cached detections, detector in loop)
    det = MediaPipeHolisticDetector()
    filt, face = MotionFilter(), FaceSolver()
    subject = None
    rss0, t_end, n_loop = None, time.perf_counter() + args.seconds, 0
    with open_source(args.clip, loop=True) as s:
        for frame in s:
            d = detect(det, frame)
            seq = DetectionSeq.stack([d])
            if d.present[0]:
                subject = subject or estimate_subject(seq)
                G, J = solve_camera(seq, subject, cam)
                fr = face.solve_frame(np.concatenate([d.kp2d[FACE, :2], d.kpz[FACE, None]], -1), bool(d.present[3]))
                filt.step(d.time, rot.to_quat(G[0]), J[0, 0], fr.expression[0], fr.arkit[0], d.present)
            n_loop += 1
            if n_loop == 100:
                rss0 = rss_mb()
            if time.perf_counter() > t_end:
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
        "loop_seconds": args.seconds, "loop_frames": n_loop,
        "rss_growth_mb": round(rss_mb() - (rss0 or rss_mb()), 2),
    }))


if __name__ == "__main__":
    main()
