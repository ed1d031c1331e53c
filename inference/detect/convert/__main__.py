"""``python -m inference.detect.convert``: convert MediaPipe's bundled detector models (mediapipe
0.10.21) to ONNX, once, at set-up (``scripts/convert_models.py`` and the add-on's runtime set-up run
it).

Runs in the converter's environment (``requirements-convert.txt``: tensorflow-cpu, tf2onnx, onnx,
onnxruntime) and reads the models from the mediapipe wheel installed in the worker's environment::

    python -m inference.detect.convert --mediapipe-site WORKER_SITE_PACKAGES [--out DIR] [--models a,b]

Each ``.tflite`` is checked against the wheel's RECORD, converted with a dynamic batch axis, checked
against its original and written with a manifest of SHA-256s to DIR (default ``$SMPLX_MOCAP_MODELS``
or ``~/.cache/smplx_mocap/models``); models already converted from the same bytes are kept. Prints
one line per model, then the folder. Errors: one line on stderr, exit code 2, the folder as it was.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")        # before tensorflow loads: no log lines
os.environ.setdefault("GLOG_minloglevel", "2")

from ...core.errors import MocapError  # noqa: E402
from ..onnx.store import default_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.detect.convert", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="", help="the models folder (default: $SMPLX_MOCAP_MODELS or the user cache)")
    p.add_argument("--models", default="", help="comma-separated model names (default: all)")
    p.add_argument("--mediapipe-site", default="", help="the site-packages folder with mediapipe 0.10.21 "
                                                       "(default: this interpreter's)")
    args = p.parse_args(argv)
    try:
        from .build import convert_all  # noqa: PLC0415 (needs the converter's packages)
    except ImportError as exc:
        print(f"error: the converter's packages are missing ({exc.name}): run it with the environment of "
              "requirements-convert.txt (scripts/test.sh makes .venv-convert)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_dir()
    try:
        convert_all(out, [n for n in args.models.split(",") if n] or None,
                    Path(args.mediapipe_site) if args.mediapipe_site else None)
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the models to {out} ({exc.strerror or exc}): choose a writable --out",
              file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
