"""Writing result files safely: through a temporary file in the same folder, then a rename.

A failed or interrupted write leaves no file (or the old one) behind, never a half-written one.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError


#: Suffix of the temporary file a write goes through (``.<stem>.<random>.npz.part`` beside the target).
PART_SUFFIX = ".npz.part"


def partial_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files of writes to ``path`` that never finished (a process killed mid-write)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.stem}.*{PART_SUFFIX}"))


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray], compressed: bool = True) -> None:
    """Save ``arrays`` as an .npz at ``path`` (an existing folder) through a temporary file in the
    same folder, then rename: a failure leaves no file, or the old one, behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=PART_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
        os.chmod(tmp, 0o666 & ~current_umask())      # as any file the user writes (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)          # elsewhere: read by setting it, then put it back
    os.umask(mask)
    return mask


def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The CLI's output: ``arrays`` compressed to ``path`` (must end in .npz, in an existing folder;
    :class:`InputError` otherwise) by :func:`save_npz_atomic`."""
    path = Path(path)
    if path.suffix != ".npz":
        raise InputError(f"OUTPUT: '{path}' must end in .npz")
    if not path.parent.is_dir():
        raise InputError(f"OUTPUT: folder '{path.parent}' does not exist: create it or choose another --out")
    save_npz_atomic(path, arrays)
