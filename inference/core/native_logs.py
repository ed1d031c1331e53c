"""Keep native libraries' log lines (MediaPipe, TFLite, TensorFlow) off the terminal: the promise
of one line per error holds only if what C++ code writes to file descriptor 2 goes elsewhere."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def native_logs_off_stderr() -> Iterator[None]:
    """File descriptor 2 → /dev/null while the detector's native code logs to it (MediaPipe,
    TFLite); Python's ``sys.stderr`` keeps the terminal, so the engine's own lines still show."""
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
    except (OSError, ValueError, AttributeError):   # no real stderr (embedded): nothing to keep clean
        yield
        return
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)
        sys.stderr.close()
        sys.stderr = python_stderr
