"""Checks of the command-line options the CLI and the worker share, made before any work starts."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

from ..core.errors import InputError


def check_fov_smoothing(fov: float | None, smoothing: float) -> None:
    """Raise :class:`InputError` for a field of view or smoothing out of range (CLI and worker)."""
    if fov is not None and not 10.0 <= fov <= 170.0:
        raise InputError(f"--fov {fov}: give the horizontal field of view in degrees, between 10 and 170")
    if not 0.0 <= smoothing <= 1.0:
        raise InputError(f"--smoothing {smoothing}: give a value between 0 and 1")


def check_npz_path(flag: str, path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` ends in .npz and can be written (see
    :func:`check_writable_file`)."""
    if path.suffix != ".npz":
        raise InputError(f"{flag} '{path}' must end in .npz")
    check_writable_file(flag, path)


def check_writable_file(flag: str, path: Path) -> None:
    """Raise :class:`InputError` unless a file can be written at ``path``: its folder exists and
    takes a new file, and ``path`` is not a folder itself (checked by creating and removing a
    probe file, so it holds for any user and file system)."""
    if path.is_dir():
        raise InputError(f"{flag}: '{path}' is a folder: give a file name")
    if not path.parent.is_dir():
        raise InputError(f"{flag}: folder '{path.parent}' does not exist: create it or choose another path")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise InputError(f"{flag}: cannot write in folder '{path.parent}' ({exc.strerror}): "
                         "choose a folder you can write to") from None


def check_preview_path(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` is a writable .png path."""
    if path.suffix.lower() != ".png":
        raise InputError(f"--preview '{path}' must end in .png")
    check_writable_file("--preview", path)


def check_frame_options(max_frames: int | None, folder_fps: float | None = None, start_frame: int = 0) -> None:
    """Raise :class:`InputError` for a frame limit below 1, a negative first frame or a folder frame
    rate that is not a positive number."""
    if max_frames is not None and max_frames < 1:
        raise InputError(f"--max-frames {max_frames}: give at least 1, or leave it out")
    if start_frame < 0:
        raise InputError(f"--start-frame {start_frame}: give the number of frames to skip, 0 or more")
    if folder_fps is not None and not (math.isfinite(folder_fps) and folder_fps > 0):
        raise InputError(f"--folder-fps {folder_fps}: give the image folder's frame rate, a number above 0")
