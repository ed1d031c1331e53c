"""Checks of the command-line options the CLI and the worker share, made before any work starts."""
from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError


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
