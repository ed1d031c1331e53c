"""Command line: ``python -m inference capture INPUT [--model SMPLX.npz] [--out OUT.npz] ...``.

Any :class:`~inference.errors.MocapError` ends the run with exit code 2 and one line on stderr;
the output is written to a temporary file and renamed, so a failed run leaves no file behind.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError, MocapError

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


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray], compressed: bool = True) -> None:
    """Save ``arrays`` as an .npz at ``path`` (an existing folder) through a temporary file in the
    same folder, then rename: a failure leaves no file, or the old one, behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The CLI's output: ``arrays`` compressed to ``path`` (must end in .npz, in an existing folder;
    :class:`InputError` otherwise) by :func:`save_npz_atomic`."""
    path = Path(path)
    if path.suffix != ".npz":
        raise InputError(f"OUTPUT: '{path}' must end in .npz")
    if not path.parent.is_dir():
        raise InputError(f"OUTPUT: folder '{path.parent}' does not exist: create it or choose another --out")
    save_npz_atomic(path, arrays)


def check_fov_smoothing(fov: float | None, smoothing: float) -> None:
    """Raise :class:`InputError` for a field of view or smoothing out of range (CLI and worker)."""
    if fov is not None and not 10.0 <= fov <= 170.0:
        raise InputError(f"--fov {fov}: give the horizontal field of view in degrees, between 10 and 170")
    if not 0.0 <= smoothing <= 1.0:
        raise InputError(f"--smoothing {smoothing}: give a value between 0 and 1")


def check_npz_path(flag: str, path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` ends in .npz and its folder exists."""
    if path.suffix != ".npz":
        raise InputError(f"{flag} '{path}' must end in .npz")
    if not path.parent.is_dir():
        raise InputError(f"{flag}: folder '{path.parent}' does not exist: create it or choose another path")


def capture(args: argparse.Namespace) -> Path:
    from .capture import run_capture  # heavy imports only once the arguments are fine

    check_fov_smoothing(args.fov, args.smoothing)
    out = Path(args.out) if args.out else default_out(args.input)
    check_npz_path("--out", out)
    result = run_capture(args.input, model_path=args.model, fov_deg=args.fov, hands=not args.no_hands,
                         face=not args.no_face, smoothing=args.smoothing, folder_fps=args.folder_fps,
                         max_frames=args.max_frames, progress=not args.quiet, preview_path=args.preview)
    write_npz_atomic(out, result.motion.to_npz_dict())
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
            from .live_kernel import warm_up

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
