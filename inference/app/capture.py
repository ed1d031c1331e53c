"""Source → detect → batch solve for one input: what ``python -m inference capture`` runs."""
from __future__ import annotations

import sys
from itertools import islice
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.layout import BODY, PART_LEFT_HAND
from ..core.records import DEFAULT_FOV_DEG, DEFAULT_FPS, Camera, Detection, DetectionSeq
from ..detect.base import detect
from ..detect.factory import make_detector
from ..pipeline.batch import solve_sequence
from ..pipeline.motion import Motion
from ..sources.open import open_source
from ..sources.prefetch import Prefetch


@dataclass
class CaptureResult:
    motion: Motion
    detections: DetectionSeq
    preview_written: bool = False


#: Frames a batching detector (the ONNX one) takes per call in a bake: each model runs once per chunk.
DETECT_CHUNK = 16


def detect_source(spec: str, hands: bool = True, face: bool = True, folder_fps: float = DEFAULT_FPS,
                  max_frames: int | None = None, progress: bool = True,
                  should_stop: Callable[[], bool] | None = None, start_frame: int = 0,
                  detector: str = "mediapipe", device: str = "auto", backend: str | None = None
                  ) -> tuple[DetectionSeq, tuple[int, int], np.ndarray | None, int]:
    """Run the detector (``detector`` on ``device`` by ``backend``, see :mod:`~inference.detect.factory`) over
    every frame of ``spec``. Ctrl-C (KeyboardInterrupt), or ``should_stop()`` turning true between
    frames, stops and keeps what was captured; with nothing captured yet it raises
    KeyboardInterrupt. The first ``start_frame`` frames are skipped (their successors keep the
    source's timestamps).

    Returns the detections (``info`` says what detected them), the image size, the best frame for
    a preview (most visible body) and its index in the detections.
    """
    dets: list[Detection] = []
    best_img, best_idx, best_score = None, -1, -1.0
    with open_source(spec, folder_fps=folder_fps) as src:
        remaining = max(0, src.frame_count - start_frame) if src.frame_count else None
        total = remaining if max_frames is None else min(max_frames, remaining or max_frames)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="frame", desc="capture", file=sys.stderr, leave=False)
        model, info = make_detector(detector, static_images=src.kind in ("image", "folder"), hands=hands, face=face,
                                    device=device, backend=backend)
        if info.warning:
            print(f"warning: {info.warning}", file=sys.stderr)
        chunk = DETECT_CHUNK if hasattr(model, "detect_many") else 1
        # decoding runs ahead in its own thread (two chunks), overlapping detection
        frames = Prefetch(islice(src, start_frame, None if max_frames is None else start_frame + max_frames),
                          depth=2 * DETECT_CHUNK)
        try:
            while batch := list(islice(frames, chunk)):
                if should_stop is not None and should_stop():
                    raise KeyboardInterrupt
                found = model.detect_many(batch) if chunk > 1 else [detect(model, batch[0])]
                for frame, det in zip(batch, found):
                    dets.append(det)
                    score = float(det.kp2d[BODY, 2].sum()) + det.present[PART_LEFT_HAND:].sum()   # body, hands, face
                    if score > best_score:
                        best_img, best_idx, best_score = frame.image.copy(), len(dets) - 1, score
                if bar is not None:
                    bar.update(len(batch))
        except KeyboardInterrupt:
            if not dets:
                raise
            print(("\n" if bar is not None else "") + f"stopped: keeping the {len(dets)} frame(s) captured so far",
                  file=sys.stderr)
        finally:
            frames.close()
            model.close()
            if bar is not None:
                bar.close()
        size = src.size
    seq = DetectionSeq.stack(dets, image_size=size)
    seq.info = info
    return seq, size, best_img, best_idx


def run_capture(spec: str, model_path: str | None = None, fov_deg: float | None = None,
                hands: bool = True, face: bool = True, smoothing: float = 0.5, folder_fps: float = DEFAULT_FPS,
                max_frames: int | None = None, progress: bool = True, preview_path: str | None = None,
                start_frame: int = 0,
                on_detected: Callable[[int], None] | None = None,
                should_stop: Callable[[], bool] | None = None, detector: str = "mediapipe",
                device: str = "auto") -> CaptureResult:
    """Capture one input into a :class:`Motion` (and optionally a preview PNG). ``on_detected(n)``
    is called once the detector is done with the n frames it captured, before the solve;
    ``should_stop`` see :func:`detect_source`."""
    model = None
    if model_path:
        from ..body.body_model import load_smplx
        model = load_smplx(model_path, load_posedirs=False)
    seq, size, best_img, best_idx = detect_source(spec, hands, face, folder_fps, max_frames, progress, should_stop,
                                                  start_frame, detector, device)
    if on_detected is not None:
        on_detected(len(seq))
    camera = Camera.from_fov(size[0], size[1], fov_deg or DEFAULT_FOV_DEG)
    motion = solve_sequence(seq, camera, model=model, hands=hands, face=face, smoothing=smoothing)
    written = False
    if preview_path and best_img is not None:
        from .preview import draw_preview, write_png
        write_png(preview_path, draw_preview(best_img, motion, best_idx))
        written = True
    return CaptureResult(motion=motion, detections=seq, preview_written=written)
