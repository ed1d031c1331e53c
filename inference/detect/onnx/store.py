"""Where the converted ONNX models live and how they are checked: a folder with one
``<name>.onnx`` per model and a ``manifest.json`` that records each file's SHA-256, the SHA-256 of
the ``.tflite`` it came from, the opset and the mediapipe version. A model is read only when its
bytes match the manifest, so a damaged or replaced file is one clear line, never a wrong detector.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core.errors import MocapError
from ..models import MEDIAPIPE_VERSION, OPSET

MANIFEST = "manifest.json"
#: Environment variable naming the models folder (scripts/test.sh and the add-on set it).
MODELS_ENV = "SMPLX_MOCAP_MODELS"
#: Bump when the files' content changes for the same sources (another patch, another layout).
FORMAT = 1


class ModelStoreError(MocapError):
    """The converted models are missing, damaged or from another conversion."""


@dataclass(frozen=True)
class ModelEntry:
    """One converted model: file (in the folder), sha256 of the file, source_sha256 of the
    ``.tflite`` it came from, inputs / outputs {name: shape with ``"batch"`` first},
    parity the largest output difference to the ``.tflite`` original on a test input (relative
    to the output's largest magnitude, at least 1), measured at conversion."""
    file: str
    sha256: str
    source_sha256: str
    inputs: dict
    outputs: dict
    parity: float


def default_dir() -> Path:
    """The models folder: ``$SMPLX_MOCAP_MODELS``, else the user's cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``) ``/smplx_mocap/models``."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "smplx_mocap" / "models"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(folder: Path, entries: dict[str, ModelEntry]) -> Path:
    """Write the manifest (atomically: a reader sees the old one or the new one)."""
    doc = {"format": FORMAT, "mediapipe": MEDIAPIPE_VERSION, "opset": OPSET,
           "models": {name: asdict(e) for name, e in sorted(entries.items())}}
    path = Path(folder) / MANIFEST
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(folder: Path) -> dict[str, ModelEntry]:
    """The manifest's entries. Raises :class:`ModelStoreError` (one line) when it is missing, not
    JSON, or from another mediapipe version, opset or format."""
    path = Path(folder) / MANIFEST
    fix = "run scripts/convert_models.py (or the add-on's runtime set-up) to convert the detector models"
    if not path.is_file():
        raise ModelStoreError(f"no converted detector models in {folder}: {fix}")
    try:
        doc = json.loads(path.read_text())
        models = {name: ModelEntry(**e) for name, e in doc["models"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelStoreError(f"{path} is not a model manifest ({type(exc).__name__}): {fix}") from None
    if (doc.get("format"), doc.get("mediapipe"), doc.get("opset")) != (FORMAT, MEDIAPIPE_VERSION, OPSET):
        raise ModelStoreError(f"{path} is from another conversion (format {doc.get('format')}, mediapipe "
                              f"{doc.get('mediapipe')}, opset {doc.get('opset')}): {fix}")
    return models


def model_bytes(folder: Path, name: str, entries: dict[str, ModelEntry] | None = None) -> bytes:
    """The checked bytes of model ``name``. Raises :class:`ModelStoreError` when it is not in the
    manifest, missing, or its SHA-256 differs from the manifest's."""
    entries = read_manifest(folder) if entries is None else entries
    fix = "run scripts/convert_models.py again (or the add-on's runtime set-up)"
    if name not in entries:
        raise ModelStoreError(f"detector model '{name}' is not among the converted models in {folder}: {fix}")
    path = Path(folder) / entries[name].file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelStoreError(f"cannot read detector model {path} ({exc.strerror or exc}): {fix}") from None
    if sha256_hex(data) != entries[name].sha256:
        raise ModelStoreError(f"detector model {path} is damaged (its SHA-256 differs from the manifest's): {fix}")
    return data
