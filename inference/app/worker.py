"""The inference worker: the child process Blender starts in the engine's own Python.

    python -m inference.app.worker --ring PATH --token HEX --mode {live,bake,resolve} --source SPEC
        [--model SMPLX.npz] [--fov DEG] [--no-hands] [--no-face] [--smoothing 0..1] [--loop]
        [--detections PATH.npz] [--out PATH.npz] [--max-frames N] [--start-frame N] [--device auto|cpu|gpu]
        [--detector mediapipe|onnx]

It attaches to the shared-memory ring Blender created (:mod:`inference.stream.ring`; it never unlinks
it) and streams solved frames into it:

* ``live``    — source → detector → :class:`~inference.pipeline.live.LivePipeline` per frame, written
  without blocking (the live view wants the newest frame). A file source plays at its own clock
  (``--loop`` repeats it); a webcam runs as fast as it delivers.
* ``bake``    — the same, but every frame is written with ``block=True`` (nothing is dropped) and
  the source is not looped; at the end (source exhausted or stop asked) the raw detections go to
  ``--detections`` and the batch solve :func:`~inference.pipeline.batch.solve_sequence` to ``--out``:
  the very file ``python -m inference capture`` writes for the same input and options.
* ``resolve`` — load ``--detections`` and run the batch solve again (e.g. another smoothing) into
  ``--out``; no detector, seconds for hundreds of frames.

Lifecycle: the worker stops promptly and cleanly (state STOPPED in live mode) when its stdin ends
(the parent is gone), when a line ``stop`` arrives on stdin, or on SIGTERM / SIGINT. A background
thread beats the header's heartbeat every 0.1 s; state, progress and fps are kept in the header.

Errors: a :class:`~inference.core.errors.MocapError` puts its one-line message in the header's error
area and on stderr, state FAILED, exit code 2; any other exception gives ``Type: message`` in the
header, the traceback on stderr, state FAILED, exit code 1. Standard output carries exactly one
line, a JSON summary (mode, state, frames, dropped, seconds, out, detections): file descriptor 1
is pointed at stderr for the run, so library chatter cannot get in its way.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from itertools import islice
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, TextIO

os.environ.setdefault("GLOG_minloglevel", "2")        # MediaPipe's C++ log: warnings and up only
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The live solve works on tiny arrays between detector calls: BLAS worker threads only compete with
# the detector's own threads for the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ..core.errors import InputError, MocapError  # noqa: E402
from ..detect.factory import DETECTORS, DEVICES  # noqa: E402
from ..stream import ring as stream  # noqa: E402
from ..stream.record import FrameLayout  # noqa: E402
from .options import check_fov_smoothing, check_frame_options, check_npz_path  # noqa: E402

EXIT_OK, EXIT_BUG, EXIT_USER_ERROR = 0, 1, 2
HEARTBEAT_PERIOD_S = 0.1
#: The ring's notice while numba compiles the live solver (a Python whose numba cache is empty).
COMPILE_NOTICE = "compiling the live solver (once, about 30 s)"
WRITE_WAIT_S = 0.2            # a blocked bake write re-checks the stop flag this often
FPS_WINDOW = 30               # frames in the fps estimate


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference.app.worker",
                                description="Capture worker: streams solved SMPL-X frames into a shared-memory ring.")
    p.add_argument("--ring", required=True, help="ring file made by the parent (stream.Ring.create)")
    p.add_argument("--token", required=True, help="the ring's session token, hex")
    p.add_argument("--mode", required=True, choices=("live", "bake", "resolve"))
    p.add_argument("--source", default="", help="video file, image, folder of images, or webcam:N")
    p.add_argument("--model", default="", help="SMPL-X model file (SMPLX_NEUTRAL.npz / _MALE / _FEMALE)")
    p.add_argument("--fov", type=float, default=None, help="horizontal field of view in degrees (default 60)")
    p.add_argument("--no-hands", action="store_true", help="do not solve the fingers")
    p.add_argument("--no-face", action="store_true", help="do not solve the face")
    p.add_argument("--smoothing", type=float, default=0.5, help="0 (none) … 1 (heavy), default 0.5")
    p.add_argument("--loop", action="store_true", help="live: restart a file source at its end")
    p.add_argument("--detections", default="", help="bake: where to cache the raw detections; resolve: the cache to read")
    p.add_argument("--out", default="", help="bake / resolve: the output .npz")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--start-frame", type=int, default=0, help="skip this many frames first (a trim)")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the detector runs")
    p.add_argument("--detector", default="mediapipe", choices=DETECTORS,
                   help="mediapipe (the embedded graph) or onnx (the converted models on ONNX Runtime)")
    return p


def check_options(args: argparse.Namespace) -> None:
    """Raise :class:`InputError` for options that cannot work (before any heavy work starts)."""
    check_fov_smoothing(args.fov, args.smoothing)
    check_frame_options(args.max_frames, start_frame=args.start_frame)
    if args.mode in ("live", "bake") and not args.source:
        raise InputError(f"--mode {args.mode} needs --source (a video, image, folder or webcam:N)")
    if args.mode == "resolve" and not args.detections:
        raise InputError("--mode resolve needs --detections (the cache a bake wrote)")
    if args.mode in ("bake", "resolve") and not args.out:
        raise InputError(f"--mode {args.mode} needs --out (the .npz to write)")
    for flag, value in (("--out", args.out), ("--detections", args.detections if args.mode == "bake" else "")):
        if value:
            check_npz_path(flag, Path(value))


# ---------------------------------------------------------------------------------------------
# lifecycle helpers
# ---------------------------------------------------------------------------------------------
def watch_stdin(stop: threading.Event, stdin: TextIO | None = None) -> threading.Thread:
    """Daemon thread: set ``stop`` when stdin ends (the parent is gone) or a line ``stop`` arrives."""
    src = sys.stdin if stdin is None else stdin

    def run() -> None:
        try:
            if src is not None:
                for line in src:
                    if line.strip().lower() == "stop":
                        break
        except (OSError, ValueError):
            pass
        stop.set()

    th = threading.Thread(target=run, name="stdin-watch", daemon=True)
    th.start()
    return th


@contextmanager
def compile_notice(ring: stream.Ring):
    """Say :data:`COMPILE_NOTICE` in the ring's notice while numba compiles inside the block: its
    ``numba:compile`` event fires on a cache miss only, so loading the cache says nothing."""
    from ..body import solve_numba
    if not solve_numba.AVAILABLE:
        yield
        return
    from numba.core import event

    class _Notice(event.Listener):
        def on_start(self, _event):
            ring.notice = COMPILE_NOTICE

        def on_end(self, _event):
            pass

    try:
        with event.install_listener("numba:compile", _Notice()):
            yield
    finally:
        ring.notice = ""


class Heartbeat:
    """Daemon thread that beats ``ring``'s heartbeat every ``period`` seconds until :meth:`stop`."""

    def __init__(self, ring: stream.Ring, period: float = HEARTBEAT_PERIOD_S):
        self._ring, self._period, self._quit = ring, period, threading.Event()
        ring.beat()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._quit.wait(self._period):
            self._ring.beat()

    def stop(self) -> None:
        self._quit.set()
        self._thread.join()


class RateMeter:
    """Frames per second over the last ``window`` frames."""

    def __init__(self, window: int = FPS_WINDOW):
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float | None = None) -> float:
        self._times.append(time.monotonic() if now is None else now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


def claim_stdout() -> TextIO:
    """Keep the real stdout for the summary line and point file descriptor 1 at stderr, so nothing
    else (Python or C library output) can reach the parent's stdout."""
    try:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)
        return os.fdopen(fd, "w", encoding="utf-8")
    except (OSError, ValueError, AttributeError):
        return sys.stdout


@dataclass
class Summary:
    """The final JSON line. ``dropped``: bake — frames not written because a stop came while the
    ring was full; live — frames overwritten before the consumer's ``read_new`` took them (a
    consumer that only shows ``read_latest`` sees every live frame it needs)."""

    mode: str
    state: str = "starting"
    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    out: str | None = None
    detections: str | None = None
    device: str = "cpu"


# ---------------------------------------------------------------------------------------------
# frames → ring
# ---------------------------------------------------------------------------------------------
def pack_result(layout: FrameLayout, result, out: np.ndarray | None = None) -> np.ndarray:
    """:class:`~inference.pipeline.live.FrameResult` → (R,) float32 ring record."""
    return layout.pack(result.local_quat, result.trans, result.expression, result.arkit, result.part_valid, out=out)


def _paced(frames: Iterator, stop: threading.Event, pace: bool, max_frames: int | None) -> Iterator:
    """Frames until ``stop`` or ``max_frames``; with ``pace``, no faster than their timestamps."""
    t_wall = t_src = None
    count = 0
    for frame in frames:
        if stop.is_set():
            return
        if pace:
            now = time.monotonic()
            if t_wall is None:
                t_wall, t_src = now, frame.time
            delay = (frame.time - t_src) - (now - t_wall)
            if delay > 0 and stop.wait(delay):
                return
        yield frame
        count += 1
        if max_frames is not None and count >= max_frames:
            return


def stream_source(args: argparse.Namespace, ring: stream.Ring, stop: threading.Event, model,
                  summary: Summary, bake: bool):
    """Open the source and stream solved frames into ``ring`` until it ends or ``stop``.

    Returns the detections (a list of :class:`~inference.core.records.Detection`, kept in bake
    mode only), the camera, the live pipeline and what detected (:class:`~inference.core.records.DetectorInfo`)."""
    from ..core.records import DEFAULT_FOV_DEG, Camera
    from ..detect.base import detect
    from ..detect.factory import make_detector
    from ..pipeline.live import LivePipeline
    from ..sources.open import open_source

    hands, face = not args.no_hands, not args.no_face
    kept = []
    with open_source(args.source, loop=args.loop and not bake) as src:
        camera = Camera.from_fov(src.size[0], src.size[1], args.fov or DEFAULT_FOV_DEG)
        total = 0 if (src.loop or not src.frame_count) else max(0, src.frame_count - args.start_frame)
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        detector, info = make_detector(args.detector, static_images=src.kind in ("image", "folder"), hands=hands,
                                       face=face, device=args.device)
        summary.device = info.provider
        if info.warning:
            print(f"warning: {info.warning}", file=sys.stderr)
        with compile_notice(ring):   # LivePipeline loads (or compiles) the live solver
            pipe = LivePipeline(camera, model=model, hands=hands, face=face, smoothing=args.smoothing)
        ring.notice = info.warning   # a device asked for and not found: the add-on's status line says it
        layout, record = ring.layout, np.empty(ring.layout.record_len, np.float32)
        meter, rest_sent = RateMeter(), False
        ring.progress = (0, total)
        ring.state = stream.State.RUNNING
        summary.state = "running"
        try:
            pace = not bake and src.kind != "webcam"
            for frame in _paced(islice(src, args.start_frame, None), stop, pace, args.max_frames):
                det = detect(detector, frame)
                if bake:
                    kept.append(det)
                pack_result(layout, pipe.step(det), out=record)
                if bake:
                    while not ring.write(frame.index, frame.time, record, block=True, timeout=WRITE_WAIT_S):
                        if stop.is_set():
                            summary.dropped += 1
                            break
                else:
                    ring.write(frame.index, frame.time, record)
                if not rest_sent and pipe.subject is not None:
                    ring.rest_joints = pipe.subject.rest
                    rest_sent = True
                summary.frames += 1
                ring.progress = (summary.frames, total)
                ring.fps = meter.tick()
        finally:
            detector.close()
    if not bake:
        summary.dropped += ring.overwritten
    return kept, camera, pipe, info


def solve_and_write(args: argparse.Namespace, ring: stream.Ring, seq, camera, model, summary: Summary) -> None:
    """Batch solve ``seq`` and write ``--out`` exactly as ``python -m inference capture`` does."""
    from ..pipeline.batch import solve_sequence
    motion = solve_sequence(seq, camera, model=model, hands=not args.no_hands, face=not args.no_face,
                            smoothing=args.smoothing)
    motion.save(args.out)
    ring.rest_joints = motion.rest_joints
    summary.out = str(args.out)


# ---------------------------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------------------------
def run_live(args, ring, stop, model, summary: Summary) -> None:
    stream_source(args, ring, stop, model, summary, bake=False)
    ring.state = stream.State.STOPPED if stop.is_set() else stream.State.DONE


def run_bake(args, ring, stop, model, summary: Summary) -> None:
    from ..core.records import DetectionSeq
    from ..pipeline.detections import save_detections
    dets, camera, _, info = stream_source(args, ring, stop, model, summary, bake=True)
    if not dets:
        ring.state = stream.State.STOPPED
        return
    seq = DetectionSeq.stack(dets, image_size=camera.size)
    seq.info = info
    if args.detections:
        save_detections(args.detections, seq, camera, args.source)
        summary.detections = str(args.detections)
    solve_and_write(args, ring, seq, camera, model, summary)
    ring.state = stream.State.DONE


def run_resolve(args, ring, stop, model, summary: Summary) -> None:
    from ..core.records import Camera
    from ..pipeline.detections import load_detections
    seq, camera = load_detections(args.detections)
    if args.max_frames is not None:
        seq = seq[:args.max_frames]
    if len(seq) == 0:
        raise InputError(f"DETECTIONS: {args.detections} holds no frames; bake the clip again")
    if args.fov is not None:
        camera = Camera.from_fov(camera.size[0], camera.size[1], args.fov)
    ring.progress = (0, len(seq))
    ring.state = stream.State.RUNNING
    summary.state = "running"
    solve_and_write(args, ring, seq, camera, model, summary)
    summary.frames, summary.detections = len(seq), str(args.detections)
    ring.progress = (len(seq), len(seq))
    ring.state = stream.State.DONE


MODES = {"live": run_live, "bake": run_bake, "resolve": run_resolve}


def run(args: argparse.Namespace, ring: stream.Ring, stop: threading.Event, summary: Summary) -> None:
    check_options(args)
    model = None
    if args.model:
        from ..body.body_model import load_smplx
        model = load_smplx(args.model, load_posedirs=False)
    MODES[args.mode](args, ring, stop, model, summary)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = claim_stdout()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    summary = Summary(mode=args.mode)
    try:
        ring = stream.Ring.attach(args.ring, args.token)
    except MocapError as exc:                      # no ring to report in: stderr and the summary
        print(f"error: {exc}", file=sys.stderr, flush=True)
        summary.state = "failed"
        print(json.dumps(asdict(summary)), file=out, flush=True)
        return EXIT_USER_ERROR
    watch_stdin(stop)
    heart = Heartbeat(ring)
    code = EXIT_OK
    try:
        run(args, ring, stop, summary)
    except MocapError as exc:
        message = " ".join(str(exc).split())
        ring.error = message
        ring.state = stream.State.FAILED
        print(f"error: {message}", file=sys.stderr, flush=True)
        code = EXIT_USER_ERROR
    except Exception as exc:  # noqa: BLE001 - reported in the header, traceback on stderr
        ring.error = f"{type(exc).__name__}: {exc}"
        ring.state = stream.State.FAILED
        traceback.print_exc(file=sys.stderr)
        code = EXIT_BUG
    finally:
        heart.stop()
        ring.beat()
        summary.state = ring.state_name()
        ring.close()
    summary.seconds = round(time.monotonic() - t0, 3)
    print(json.dumps(asdict(summary)), file=out, flush=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    _code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)      # everything is written and closed: skip MediaPipe's slow interpreter teardown
