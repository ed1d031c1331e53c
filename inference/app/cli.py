"""Command line: ``python -m inference capture INPUT [--model SMPLX.npz] [--out OUT.npz] ...``.

Every argument is checked before any work starts. Any :class:`~inference.core.errors.MocapError`
(and a malformed argument) ends the run with exit code 2 and exactly one line on stderr: the
detector's native log lines are kept off the terminal. The output is written to a temporary file
and renamed, so a failed run leaves no file behind and an existing output untouched.

Interrupts (Ctrl-C, SIGTERM) never raise inside library code (a KeyboardInterrupt thrown into
MediaPipe's import or its callbacks can be swallowed with a traceback): they set a flag the
capture checks between frames. During detection they stop it and the frames captured so far are
solved and saved; once detection is over the file is still written; with nothing captured yet the
run ends with exit code 130 and one line.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path
from typing import NoReturn

from ..core.errors import MocapError
from ..core.native_logs import native_logs_off_stderr
from ..detect.factory import DETECTORS, DEVICES
from ..core.records import DEFAULT_FPS
from .options import check_fov_smoothing, check_frame_options, check_npz_path, check_preview_path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def _parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="python -m inference", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture", help="capture SMPL-X motion from a video, image, image folder or webcam")
    c.add_argument("input", help="video file, image, folder of images, or webcam:N")
    c.add_argument("--model", help="SMPL-X model file (SMPLX_NEUTRAL.npz / _MALE / _FEMALE)")
    c.add_argument("--out", help="output .npz (default: INPUT name + .smplx.npz in the current folder)")
    c.add_argument("--fov", type=float, default=None, help="horizontal field of view in degrees (default 60)")
    c.add_argument("--smoothing", type=float, default=0.5, help="0 (none) … 1 (heavy), default 0.5")
    c.add_argument("--no-hands", action="store_true", help="do not solve the fingers")
    c.add_argument("--no-face", action="store_true", help="do not solve the face (jaw, eyes, expressions)")
    c.add_argument("--folder-fps", type=float, default=DEFAULT_FPS, help="frame rate of an image folder (it has no clock)")
    c.add_argument("--preview", help="also write a PNG: detected landmarks and the solved skeleton over a frame")
    c.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    c.add_argument("--start-frame", type=int, default=0,
                   help="skip this many frames first (a trim: the kept frames keep the source's timestamps)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--detector", choices=DETECTORS, default="mediapipe",
                   help="mediapipe: MediaPipe's own graph (default, the fastest here on the CPU); onnx: the same models "
                        "on ONNX Runtime, batched, GPU capable (converted at set-up: scripts/convert_models.py)")
    c.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the detector runs (a GPU that is not there: a warning and the CPU)")
    sub.add_parser("warmup", help="compile the live solver ahead of the first webcam capture (numba; "
                   "the add-on's runtime setup runs it)")
    return p


def default_out(spec: str) -> Path:
    name = "webcam" if spec.startswith("webcam") else Path(spec.rstrip("/")).stem or "capture"
    return Path.cwd() / f"{name}.smplx.npz"


class _Interrupts:
    """SIGINT / SIGTERM noted, never raised: the capture stops at the next frame
    (:attr:`requested`); from the end of detection on, the output is finished and written."""

    def __init__(self) -> None:
        self.requested = False
        self.hold = False

    def __call__(self, signum, frame) -> None:
        if self.hold and not self.requested:
            print("interrupted: finishing the solve and the file of the frames already captured", file=sys.stderr)
        self.requested = True

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self)


def check_capture_args(args: argparse.Namespace) -> Path:
    """Every check that needs no work, before any: raises :class:`MocapError`. Returns the output path."""
    check_fov_smoothing(args.fov, args.smoothing)
    check_frame_options(args.max_frames, args.folder_fps, args.start_frame)
    out = Path(args.out) if args.out else default_out(args.input)
    check_npz_path("--out", out)
    if args.preview:
        check_preview_path(Path(args.preview))
    return out


def capture(args: argparse.Namespace, interrupts: _Interrupts) -> Path:
    out = check_capture_args(args)
    from .capture import run_capture  # heavy imports only once the arguments are fine

    def detected(frames: int) -> None:
        interrupts.hold = True
        interrupts.requested = False     # what stopped the detector is spent; a later one is held

    if interrupts.requested:
        raise KeyboardInterrupt
    result = run_capture(args.input, model_path=args.model, fov_deg=args.fov, hands=not args.no_hands,
                         face=not args.no_face, smoothing=args.smoothing, folder_fps=args.folder_fps,
                         max_frames=args.max_frames, start_frame=args.start_frame, progress=not args.quiet, preview_path=args.preview,
                         on_detected=detected, should_stop=lambda: interrupts.requested,
                         detector=args.detector, device=args.device)
    result.motion.save(out)
    valid = int(result.motion.valid.sum())
    if valid == 0:
        print(f"warning: no person was detected in {len(result.motion.valid)} frame(s); "
              "the output has valid all false", file=sys.stderr)
    for warning in result.motion.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{len(result.motion.valid)} frames, person in {valid}; wrote {out}")
    if args.preview and result.preview_written:
        print(f"preview: {args.preview}")
    return out


def main(argv: list[str] | None = None) -> int:
    interrupts = _Interrupts()
    interrupts.install()
    try:
        args = _parser().parse_args(argv)
        warnings.simplefilter("ignore", category=UserWarning)
        if args.command == "capture":
            with native_logs_off_stderr():
                capture(args, interrupts)
        elif args.command == "warmup":
            from ..body.solve_numba import warm_up

            print("live solver: compiled" if warm_up() else "live solver: numpy (numba is not installed)")
        return 0
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted before anything was captured", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
