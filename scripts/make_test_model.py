"""Write a GENERATED (not licensed) SMPL-X-layout model file for tests and demos.

    python scripts/make_test_model.py OUT.npz [--gender neutral|male|female] [--seed 0] [--old]

--old writes the older 10 shape + 10 expression layout (shapedirs (10475, 3, 20)).
See tests/support/testing_model.py for what the file contains.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repo's `inference` and the tests' `support`
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from support.testing_model import make_test_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a generated SMPL-X-layout .npz (not the licensed model).")
    ap.add_argument("out", help="output .npz path, e.g. SMPLX_NEUTRAL.npz")
    ap.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--old", action="store_true", help="10 shape + 10 expression components")
    args = ap.parse_args(argv)
    shape, expr = (10, 10) if args.old else (300, 100)
    try:
        path = make_test_model(args.out, gender=args.gender, num_shape=shape, num_expr=expr, seed=args.seed)
    except (OSError, ValueError) as err:
        print(f"make_test_model: {err}: check the output path", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
