"""The registry of shared-memory segments: the ones a crash leaves behind are removed at the next start.

Segment paths are listed in a small text file in the extension's user folder; a segment whose
creator is no longer alive is stale. Only numpy and the standard library: Blender imports it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .ring import HEADER_DTYPE, HEADER_SIZE, MAGIC, PREFIX, default_directory


def _read_registry(registry_file: str | os.PathLike) -> list[str]:
    try:
        text = Path(registry_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def _write_registry(registry_file: str | os.PathLike, paths: list[str]) -> None:
    reg = Path(registry_file)
    reg.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{reg.name}.", dir=reg.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(p + "\n" for p in paths))
        os.replace(tmp, reg)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remember(path: str | os.PathLike, registry_file: str | os.PathLike) -> None:
    """Add a segment path to the registry (call right after :meth:`Ring.create`)."""
    path = os.path.abspath(os.fspath(path))
    paths = _read_registry(registry_file)
    if path not in paths:
        _write_registry(registry_file, paths + [path])


def forget(path: str | os.PathLike, registry_file: str | os.PathLike) -> None:
    """Drop a segment path from the registry (call after :meth:`Ring.unlink`)."""
    path = os.path.abspath(os.fspath(path))
    paths = _read_registry(registry_file)
    if path in paths:
        _write_registry(registry_file, [p for p in paths if p != path])


def _owner_alive(path: str) -> bool:
    """The process that created the segment at ``path`` still runs."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEADER_DTYPE.itemsize)
    except OSError:
        return False
    if len(raw) < HEADER_SIZE:
        return False
    h = np.frombuffer(raw, HEADER_DTYPE, count=1)[0]
    pid = int(h["owner_pid"])
    if bytes(h["magic"]) != MAGIC or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def remove_stale(registry_file: str | os.PathLike) -> list[str]:
    """Unlink the ``smplx_mocap_*`` segments listed in the registry whose creating process is gone
    (left by a crash); returns their paths. Segments of a running creator stay listed."""
    removed, keep = [], []
    for path in _read_registry(registry_file):
        if not os.path.basename(path).startswith(PREFIX):
            continue
        if not os.path.exists(path):
            continue
        if _owner_alive(path):
            keep.append(path)
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError:
            keep.append(path)
    if removed or os.path.exists(registry_file):
        _write_registry(registry_file, keep)
    return removed


def list_segments(directory: str | os.PathLike | None = None) -> list[str]:
    """Paths of every ``smplx_mocap_*`` file in ``directory`` (default: :func:`default_directory`)."""
    d = Path(directory if directory is not None else default_directory())
    return sorted(str(p) for p in d.glob(PREFIX + "*") if p.is_file())
