"""Where a bake's files live: its raw detections (for a re-solve without detection) and its motion.

A bake of a saved .blend writes them into ``<blend folder>/<blend name>_mocap/`` and the armature
refers to them with relative paths (``//…``), so they travel with the .blend. A bake of an unsaved
file writes them into the extension's user folder (``cache/``); saving the .blend moves what its
objects refer to beside it (:func:`keep_with_blend`, a ``save_pre`` handler). The user folder's
cache is kept under :data:`CACHE_LIMIT_BYTES` (oldest first, never a file the open .blend refers
to), and :func:`clear` empties it on demand.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import bpy

#: Custom properties on the armature naming a bake's files.
DETECTIONS_PROP = "smplx_mocap_detections"
MOTION_PROP = "smplx_mocap_motion"
FILE_PROPS = (DETECTIONS_PROP, MOTION_PROP)
DETECTIONS_SUFFIX = ".detections.npz"
MOTION_SUFFIX = ".smplx.npz"
#: The user folder's cache is pruned to this size at every bake (about 150 bakes of 2 minutes).
CACHE_LIMIT_BYTES = 500 * 1024 * 1024

_SAVED_PATHS: dict[tuple[str, str], str] = {}   # (object, property) → value before a save moved it


def user_cache() -> Path:
    from . import runtime
    folder = runtime.user_dir(create=True) / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def blend_folder(blend_path: str) -> Path:
    """The folder beside a .blend that holds its bakes' files (``shot.blend`` → ``shot_mocap/``)."""
    path = Path(blend_path)
    return path.with_name(f"{path.stem}_mocap")


def resolve(value: str) -> str:
    """An absolute path from a stored one (``//`` is the open .blend's folder)."""
    return os.path.normpath(bpy.path.abspath(value)) if value else ""


def stored(path: str, blend_path: str | None = None) -> str:
    """How a file is referred to: relative (``//…``) when it lies beside the .blend, else absolute."""
    blend_path = bpy.data.filepath if blend_path is None else blend_path
    if blend_path and Path(path).resolve().is_relative_to(Path(blend_path).resolve().parent):
        return bpy.path.relpath(path, start=str(Path(blend_path).parent))
    return str(path)


def new_paths(spec: str) -> tuple[str, str]:
    """Absolute paths for a new bake of source ``spec``: (detections, motion), in the .blend's
    folder when it is saved, else in the user cache (pruned first)."""
    if bpy.data.filepath:
        folder = blend_folder(bpy.data.filepath)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = user_cache()
        prune(folder, CACHE_LIMIT_BYTES)
    tag = f"{Path(spec.rstrip('/')).stem or 'capture'}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, i = tag, 1
    while (folder / f"{name}{DETECTIONS_SUFFIX}").exists():       # two bakes within a second
        name, i = f"{tag}-{i}", i + 1
    return str(folder / f"{name}{DETECTIONS_SUFFIX}"), str(folder / f"{name}{MOTION_SUFFIX}")


def motion_path_for(detections: str) -> str:
    """The motion file that goes with a detections file (a re-solve writes it again)."""
    return detections[: -len(DETECTIONS_SUFFIX)] + MOTION_SUFFIX if detections.endswith(DETECTIONS_SUFFIX) \
        else detections + MOTION_SUFFIX


def referenced() -> set[Path]:
    """Every bake file the open .blend's objects refer to."""
    out = set()
    for obj in bpy.data.objects:
        for prop in FILE_PROPS:
            if prop in obj:
                out.add(Path(resolve(str(obj[prop]))))
    return out


def prune(folder: Path, limit_bytes: int) -> int:
    """Delete the oldest bake files in ``folder`` until it holds at most ``limit_bytes`` (never one
    the open .blend refers to). Returns the bytes freed."""
    files = sorted((p for p in folder.glob("*.npz") if p.is_file()), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    keep, freed = referenced(), 0
    for p in files:
        if total - freed <= limit_bytes:
            break
        if p in keep:
            continue
        size = p.stat().st_size
        try:
            p.unlink()
            freed += size
        except OSError:
            pass
    return freed


def clear() -> tuple[int, int]:
    """Empty the user folder's cache except what the open .blend refers to: (files, bytes) removed."""
    folder, keep = user_cache(), referenced()
    n = freed = 0
    for p in folder.glob("*.npz"):
        if p.is_file() and p not in keep:
            size = p.stat().st_size
            try:
                p.unlink()
            except OSError:
                continue
            n, freed = n + 1, freed + size
    return n, freed


def size() -> int:
    """Bytes in the user folder's cache."""
    return sum(p.stat().st_size for p in user_cache().glob("*.npz") if p.is_file())


def keep_with_blend(blend_path: str) -> None:
    """Before ``blend_path`` is written: copy each bake file its objects refer to that is not beside
    it into its ``_mocap`` folder, and refer to every one beside it relatively (remembered, so a
    "Save Copy" can put the open file's paths back in :func:`after_save`)."""
    _SAVED_PATHS.clear()
    if not blend_path:
        return
    base = Path(blend_path).resolve().parent
    for obj in bpy.data.objects:
        for prop in FILE_PROPS:
            if prop not in obj:
                continue
            value = str(obj[prop])
            src = Path(resolve(value))
            if not src.is_file():
                continue
            dst = src
            if not src.resolve().is_relative_to(base):
                folder = blend_folder(blend_path)
                folder.mkdir(parents=True, exist_ok=True)
                dst = folder / src.name
                if not dst.exists():
                    shutil.copy2(src, dst)
            new = stored(str(dst), blend_path)
            if new != value:
                _SAVED_PATHS[(obj.name, prop)] = value
                obj[prop] = new


def after_save(blend_path: str) -> None:
    """After a save: a copy saved elsewhere ("Save Copy") keeps the open file's own paths."""
    if bpy.data.filepath and os.path.normpath(bpy.data.filepath) != os.path.normpath(blend_path):
        for (name, prop), value in _SAVED_PATHS.items():
            obj = bpy.data.objects.get(name)
            if obj is not None:
                obj[prop] = value
    _SAVED_PATHS.clear()
