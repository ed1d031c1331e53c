#!/usr/bin/env python
"""Convert MediaPipe's bundled detector models to ONNX (``python -m inference.detect.convert``; see
its help). Run it with the converter's environment (``.venv-convert``, made by scripts/test.sh)::

    .venv-convert/bin/python scripts/convert_models.py --mediapipe-site .venv/lib/python3.11/site-packages [--out DIR]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.detect.convert.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
