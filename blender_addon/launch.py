"""From the panel's settings to a running worker: options, interpreter, target armature, cache files."""
from __future__ import annotations

import os
import time
from pathlib import Path

import bpy

from . import session as sess_mod

ADDON_PACKAGE = __package__.rpartition(".")[0] or __package__


class LaunchError(RuntimeError):
    """Settings that cannot start a capture; one line that says what to change."""


def preferences():
    addon = bpy.context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon else None


def user_dir() -> Path:
    """The extension's private folder (the runtime venv, logs, segment registry, bake caches)."""
    from . import runtime
    return runtime.user_dir(create=True)


def worker_python() -> str:
    from . import runtime
    python = runtime.worker_python(preferences())
    if not python:
        raise LaunchError("no inference runtime: click 'Set up inference runtime' in the add-on's Preferences "
                          "or pick a Python 3.11 interpreter there")
    return python


def model_path() -> str:
    prefs = preferences()
    path = bpy.path.abspath(getattr(prefs, "model_path", "") or "") if prefs else ""
    if path and not os.path.isfile(path):
        raise LaunchError(f"SMPL-X model file '{path}' does not exist: fix it in the add-on's Preferences")
    return path


def source_spec(props) -> str:
    """The worker's INPUT from the panel's source settings."""
    if props.source_type == "WEBCAM":
        return f"webcam:{int(props.webcam_index)}"
    raw = props.video_path if props.source_type == "VIDEO" else props.folder_path
    path = bpy.path.abspath(raw or "")
    if not path:
        raise LaunchError("choose a video file or image folder in the Mocap panel first")
    if not os.path.exists(path):
        raise LaunchError(f"'{path}' does not exist: choose another file in the Mocap panel")
    return path


def options(props, mode: str, **extra) -> sess_mod.WorkerOptions:
    source = extra.pop("source") if "source" in extra else source_spec(props)
    return sess_mod.WorkerOptions(mode=mode, source=source,
                                  model=model_path(), fov=float(props.fov), hands=bool(props.use_hands),
                                  face=bool(props.use_face), smoothing=float(props.smoothing),
                                  device=str(props.device).lower(), **extra)


def parts(props) -> tuple[bool, bool, bool, bool]:
    """What the panel's Body / Hands / Face boxes ask for, in ``part_valid`` order (body, left hand,
    right hand, face): only these parts are posed and keyed."""
    return bool(props.use_body), bool(props.use_hands), bool(props.use_hands), bool(props.use_face)


def cache_paths(spec: str) -> tuple[str, str]:
    """Where a bake keeps its raw detections and its solved motion."""
    folder = user_dir() / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(spec.rstrip("/")).stem or "capture"
    tag = time.strftime("%Y%m%d-%H%M%S")
    return str(folder / f"{stem}-{tag}.detections.npz"), str(folder / f"{stem}-{tag}.smplx.npz")


def target_armature(context, props) -> bpy.types.Object:
    """The armature the capture drives: the panel's target, or a new SMPL-X armature."""
    obj = props.target
    if obj is not None and obj.type == "ARMATURE" and obj.name in bpy.data.objects:
        return obj
    from . import armature
    model = None
    path = model_path()
    if path:
        from ..inference.body.body_model import load_smplx
        model = load_smplx(path, load_posedirs=False)
    obj = armature.build_armature(context, name="SMPLX", model=model)
    props.target = obj
    return obj


def mesh_of(obj: bpy.types.Object) -> str:
    """Name of the SMPL-X mesh skinned to ``obj`` (it carries the expression shape keys), or ''."""
    for child in obj.children:
        if child.type == "MESH" and child.data.shape_keys is not None:
            return child.name
    return ""


def start(mode: str, context, **extra) -> tuple[sess_mod.WorkerSession, bpy.types.Object]:
    """Start a worker for the panel's settings. Raises :class:`LaunchError` / ``SessionError``."""
    if sess_mod.active() is not None:
        raise LaunchError("a capture is already running: stop it first")
    props = context.scene.smplx_mocap
    opts = options(props, mode, **extra)
    obj = target_armature(context, props)
    return sess_mod.start(worker_python(), opts, user_dir()), obj
