"""The ``.tflite`` files inside the installed mediapipe wheel, checked against the wheel's RECORD
(its list of files with their SHA-256s) before anything is converted: a file that differs from
what the wheel shipped is refused."""
from __future__ import annotations

import base64
import hashlib
from importlib import metadata
from pathlib import Path

from ...core.errors import MocapError
from ..models import MEDIAPIPE_VERSION, ModelSpec


class ConversionError(MocapError):
    """A model cannot be converted (wrong wheel, a file that differs from it, a converter failure)."""


def record_hashes(site: Path | None = None) -> tuple[Path, dict[str, str]]:
    """(the folder the wheel is installed in, {file inside the wheel: sha256 hex}) from the RECORD
    of the mediapipe installed in ``site`` (a site-packages folder, e.g. the worker's; None: this
    interpreter's). Raises :class:`ConversionError` on another version or none."""
    found = list(metadata.distributions(name="mediapipe", path=[str(site)])) if site is not None else None
    try:
        dist = found[0] if found else metadata.distribution("mediapipe") if site is None else None
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None:
        where = f"in {site}" if site is not None else "in this environment"
        raise ConversionError(f"mediapipe is not installed {where}: give --mediapipe-site the worker environment's "
                              f"site-packages (it has mediapipe=={MEDIAPIPE_VERSION})")
    if dist.version != MEDIAPIPE_VERSION:
        raise ConversionError(f"mediapipe {dist.version} is installed, the models are converted from "
                              f"{MEDIAPIPE_VERSION}: install mediapipe=={MEDIAPIPE_VERSION}")
    hashes = {}
    for f in dist.files or ():
        if f.hash is not None and f.hash.mode == "sha256":
            hashes[str(f).replace("\\", "/")] = base64.urlsafe_b64decode(f.hash.value + "==").hex()
    return Path(dist.locate_file("")), hashes


def checked_source(spec: ModelSpec, root: Path, hashes: dict[str, str]) -> tuple[Path, str]:
    """(path, sha256 hex) of ``spec``'s ``.tflite`` under ``root``, whose SHA-256 equals the
    RECORD's ``hashes``. Raises :class:`ConversionError` (one line) when missing or different."""
    path = Path(root) / spec.wheel_path
    if spec.wheel_path not in hashes:
        raise ConversionError(f"{spec.wheel_path} is not in mediapipe {MEDIAPIPE_VERSION}'s RECORD: "
                              f"reinstall mediapipe=={MEDIAPIPE_VERSION}")
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConversionError(f"cannot read {path} ({exc.strerror or exc}): reinstall mediapipe=={MEDIAPIPE_VERSION}") from None
    if digest != hashes[spec.wheel_path]:
        raise ConversionError(f"{path} differs from the file mediapipe {MEDIAPIPE_VERSION} shipped (SHA-256 "
                              f"{digest[:12]}…, RECORD {hashes[spec.wheel_path][:12]}…): reinstall "
                              f"mediapipe=={MEDIAPIPE_VERSION}; nothing was converted")
    return path, digest
