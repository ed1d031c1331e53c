"""Command line: ``python -m inference capture INPUT [--model SMPLX.npz] [--out OUT.npz] ...``.

Any :class:`~inference.core.errors.MocapError` ends the run with exit code 2 and one line on stderr;
the output is written to a temporary file and renamed, so a failed run leaves no file behind.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..core.errors import MocapError
from .options import check_fov_smoothing, check_npz_path

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture", help="capture SMPL-X motion from a video, image, image folder or webcam")
    c.add_argument("input", help="video file, image, folder of images, or webcam:N")
    c.add_argument("--model", help="SMPL-X model file (SMPLX_NEUTRAL.npz / _MALE / _FEMALE)")
    c.add_argument("--out", help="output .npz (default: INPUT name + .smplx.npz in the current folder)")
    c.add_argument("--fov", type=float, default=None, help="horizontal field of view in degrees (default 60)")
    c.add_argument("--smoothing", type=float, default=0.5, help="0 (none) … 1 (heavy), default 0.5")
    c.add_argument("--no-hands", action="store_true", help="do not solve the fingers")
    c.add_argument("--no-face", action="store_true", help="do not solve the face (jaw, eyes, expressions)")
    c.add_argument("--folder-fps", type=float, default=30.0, help="frame rate of an image folder (it has no clock)")
    c.add_argument("--preview", help="also write a PNG: detected landmarks and the solved skeleton over a frame")
    c.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("warmup", help="compile the live solver ahead of the first webcam capture (numba; "
                   "the add-on's runtime setup runs it)")
    return p


def default_out(spec: str) -> Path:
    name = "webcam" if spec.startswith("webcam") else Path(spec.rstrip("/")).stem or "capture"
    return Path.cwd() / f"{name}.smplx.npz"


def capture(args: argparse.Namespace) -> Path:
    from .capture import run_capture  # heavy imports only once the arguments are fine

    check_fov_smoothing(args.fov, args.smoothing)
    out = Path(args.out) if args.out else default_out(args.input)
    check_npz_path("--out", out)
    result = run_capture(args.input, model_path=args.model, fov_deg=args.fov, hands=not args.no_hands,
                         face=not args.no_face, smoothing=args.smoothing, folder_fps=args.folder_fps,
                         max_frames=args.max_frames, progress=not args.quiet, preview_path=args.preview)
    result.motion.save(out)
    valid = int(result.motion.valid.sum())
    if valid == 0:
        print(f"warning: no person was detected in {len(result.motion.valid)} frame(s); "
              "the output has valid all false", file=sys.stderr)
    print(f"{len(result.motion.valid)} frames, person in {valid}; wrote {out}")
    if args.preview and result.preview_written:
        print(f"preview: {args.preview}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.simplefilter("ignore", category=UserWarning)
    try:
        if args.command == "capture":
            capture(args)
        elif args.command == "warmup":
            from ..body.solve_numba import warm_up

            print("live solver: compiled" if warm_up() else "live solver: numpy (numba is not installed)")
        return 0
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted before anything was captured", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
