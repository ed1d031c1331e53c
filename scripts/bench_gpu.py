#!/usr/bin/env python
"""Detector benchmark (issue 13): the ONNX detector (MediaPipe's models on ONNX Runtime) against
MediaPipe's own graph, body + hands + face, on a 720p clip (Megamind.avi's frames scaled to
1280 × 720); prints one JSON object.

``mediapipe_fps``: MediaPipe Holistic, one frame at a time (the reference, same run).
``live_fps``: the ONNX detector one frame per call (the live link's case), tracking.
``offline_fps``: a bake's detection end to end: the 720p clip written to a file, decoded ahead in
    its own thread while the ONNX detector takes 16 frames per model call (``detect_source``).
``stage_ms``: the ONNX detector's ms per frame in its body, hands and face stages (live run).
``peak_rss_mb``: the process's peak resident memory; ``gpu_peak_mb``: null without a GPU backend.
``backend`` / ``provider`` / ``device_name``: what ran (the provider as ONNX Runtime reports it).
``backend``: LiteRT on the CPU (MediaPipe's .tflite files), ONNX Runtime or PyTorch on a GPU
    (``--backend`` forces one).
    .venv/bin/python scripts/bench_gpu.py [--frames 96] [--device auto|cpu|gpu] [--backend NAME]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.app.capture import DETECT_CHUNK, detect_source  # noqa: E402
from inference.core.records import Frame  # noqa: E402
from inference.detect.base import detect  # noqa: E402
from inference.detect.factory import make_detector  # noqa: E402
from inference.detect.onnx.holistic import OnnxHolisticDetector  # noqa: E402
from inference.detect.onnx.runner import BACKENDS  # noqa: E402

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "Megamind.avi"
SIZE = (1280, 720)


def frames(n: int) -> list[Frame]:
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    while len(out) < n:
        ok, image = cap.read()
        if not ok:
            break
        out.append(Frame(image=cv2.resize(image, SIZE, interpolation=cv2.INTER_LINEAR), time=len(out) / 24,
                         index=len(out)))
    cap.release()
    return out


def write_clip(clip: list[Frame], path: Path) -> Path:
    """The frames as an MJPG video file (what a bake reads), at 24 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, SIZE)
    for frame in clip:
        writer.write(frame.image)
    writer.release()
    return path


def device_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_peak_mb(backend: str) -> float | None:
    """PyTorch's peak GPU memory (the PyTorch backend on CUDA); None otherwise (not measured)."""
    if backend != "torch":
        return None
    import torch  # noqa: PLC0415 (the GPU machine's)
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None


def fps_one_by_one(detector, clip: list[Frame]) -> float:
    start = time.perf_counter()
    for frame in clip:
        detect(detector, frame)
    return len(clip) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    p.add_argument("--backend", default=None, choices=BACKENDS)
    args = p.parse_args()
    clip = frames(args.frames)
    mediapipe, _ = make_detector("mediapipe")
    detect(mediapipe, clip[0])                                   # its graph starts on the first frame
    mediapipe_fps = fps_one_by_one(mediapipe, clip)
    mediapipe.close()

    live = OnnxHolisticDetector(device=args.device, backend=args.backend)
    detect(live, clip[0])
    live.stage_seconds = dict.fromkeys(live.stage_seconds, 0.0)
    live.frames = 0
    live_fps = fps_one_by_one(live, clip)
    stage_ms = {k: round(1000 * v / live.frames, 2) for k, v in live.stage_seconds.items()}
    backend, provider, warning = live.backend, live.provider, live.warning
    live.close()

    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        video = write_clip(clip, Path(tmp) / "clip720p.avi")
        start = time.perf_counter()
        seq, *_ = detect_source(str(video), progress=False, detector="onnx", device=args.device, backend=args.backend)
        offline_fps = len(seq) / (time.perf_counter() - start)
    print(json.dumps({
        "clip": f"{CLIP.name} scaled to {SIZE[0]}x{SIZE[1]}", "frames": len(clip), "parts": "body, hands, face",
        "mediapipe_fps": round(mediapipe_fps, 2), "live_fps": round(live_fps, 2),
        "offline_fps": round(offline_fps, 2), "live_vs_mediapipe": round(live_fps / mediapipe_fps, 3),
        "offline_batch": DETECT_CHUNK, "stage_ms": stage_ms,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "gpu_peak_mb": gpu_peak_mb(backend),
        "backend": backend, "provider": provider, "device_name": device_name(), "warning": warning}, indent=1))


if __name__ == "__main__":
    main()
