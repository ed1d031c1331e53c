"""The ``.tflite`` files inside the installed mediapipe wheel, checked against the wheel's RECORD
(its list of files with their SHA-256s) before they are converted (:mod:`.convert`) or run
(:mod:`.onnx.runner_litert`): a file that differs from what the wheel shipped is refused."""
from __future__ import annotations

import base64
import hashlib
from importlib import metadata
from pathlib import Path

from ..core.errors import MocapError
from .models import MEDIAPIPE_VERSION, ModelSpec


class WheelModelError(MocapError):
    """A model file of the mediapipe wheel is missing, from another version or differs from it."""


def record_hashes(site: Path | None = None) -> tuple[Path, dict[str, str]]:
    """(the folder the wheel is installed in, {file inside the wheel: sha256 hex}) from the RECORD
    of the mediapipe installed in ``site`` (a site-packages folder, e.g. the worker's; None: this
    interpreter's). Raises :class:`WheelModelError` on another version or none."""
    found = list(metadata.distributions(name="mediapipe", path=[str(site)])) if site is not None else None
    try:
        dist = found[0] if found else metadata.distribution("mediapipe") if site is None else None
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None:
        where = f"in {site}" if site is not None else "in this environment"
        raise WheelModelError(f"mediapipe is not installed {where}: install mediapipe=={MEDIAPIPE_VERSION} (the "
                              "converter: give --mediapipe-site the worker environment's site-packages)")
    if dist.version != MEDIAPIPE_VERSION:
        raise WheelModelError(f"mediapipe {dist.version} is installed, the detector models come from "
                              f"{MEDIAPIPE_VERSION}: install mediapipe=={MEDIAPIPE_VERSION}")
    hashes = {}
    for f in dist.files or ():
        if f.hash is not None and f.hash.mode == "sha256":
            hashes[str(f).replace("\\", "/")] = base64.urlsafe_b64decode(f.hash.value + "==").hex()
    return Path(dist.locate_file("")), hashes


def checked_source(spec: ModelSpec, root: Path, hashes: dict[str, str]) -> tuple[Path, str]:
    """(path, sha256 hex) of ``spec``'s ``.tflite`` under ``root``, whose SHA-256 equals the
    RECORD's ``hashes``. Raises :class:`WheelModelError` (one line) when missing or different."""
    path = Path(root) / spec.wheel_path
    if spec.wheel_path not in hashes:
        raise WheelModelError(f"{spec.wheel_path} is not in mediapipe {MEDIAPIPE_VERSION}'s RECORD: "
                              f"reinstall mediapipe=={MEDIAPIPE_VERSION}")
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise WheelModelError(f"cannot read {path} ({exc.strerror or exc}): reinstall mediapipe=={MEDIAPIPE_VERSION}") from None
    if digest != hashes[spec.wheel_path]:
        raise WheelModelError(f"{path} differs from the file mediapipe {MEDIAPIPE_VERSION} shipped (SHA-256 "
                              f"{digest[:12]}…, RECORD {hashes[spec.wheel_path][:12]}…): reinstall "
                              f"mediapipe=={MEDIAPIPE_VERSION}")
    return path, digest
