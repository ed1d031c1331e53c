"""From the panel's settings to a running worker: options, interpreter, target armature, cache files."""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from . import session as sess_mod

ADDON_PACKAGE = __package__.rpartition(".")[0] or __package__


class LaunchError(RuntimeError):
    """Settings that cannot start a capture; one line that says what to change."""


def failure_line(exc: BaseException) -> str:
    """One line for the report and the status line: a start's own message, or ``Type: message``
    for anything unexpected (never a traceback)."""
    if isinstance(exc, (LaunchError, sess_mod.SessionError)):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


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
                                  device=str(props.device).lower(), detector=str(props.detector).lower(), **extra)


def trim(props, max_frames: int = 0) -> tuple[int, int]:
    """(frames to skip, frames to capture, 0: all) from the panel's First / Last Frame and a caller's
    own frame limit. Raises :class:`LaunchError` when Last Frame is before First Frame."""
    start = int(props.clip_start) - 1
    count = int(props.clip_end) - start if props.clip_end else 0
    if props.clip_end and count < 1:
        raise LaunchError(f"Last Frame {props.clip_end} is before First Frame {props.clip_start}: "
                          "set Last Frame to 0 (the end) or after First Frame")
    if max_frames:
        count = min(count, max_frames) if count else max_frames
    return start, count


def parts(props) -> tuple[bool, bool, bool, bool]:
    """What the panel's Body / Hands / Face boxes ask for, in ``part_valid`` order (body, left hand,
    right hand, face): only these parts are posed and keyed."""
    return bool(props.use_body), bool(props.use_hands), bool(props.use_hands), bool(props.use_face)


def take_name(spec: str) -> str:
    """Name of a bake's action: the source's file or folder name (``dance.mp4`` → ``dance``)."""
    return Path(spec.rstrip("/")).stem or "capture"


def source_rate(props, spec: str) -> float | None:
    """The clip's frame rate as Blender reads it (videos: the movie clip's; image folders: the
    worker's default spacing), or None when Blender cannot tell (the final solve's timestamps then set it)."""
    if props.source_type == "FOLDER":
        from ..inference.core.records import DEFAULT_FPS
        return float(DEFAULT_FPS)
    if props.source_type != "VIDEO":
        return None
    from . import scene_setup
    clip = scene_setup.movie_clip(spec)
    return float(clip.fps) if clip is not None and clip.fps > 0 else None


def check_target(obj: bpy.types.Object | None) -> None:
    """Raise :class:`LaunchError` when the panel's Armature is set to a rig the capture cannot drive."""
    if obj is None:
        return
    from .keys import RigError, rig_info
    try:
        rig_info(obj)
    except RigError:
        raise LaunchError(f"armature '{obj.name}' has no SMPL-X bones: clear the panel's Armature field to "
                          "capture into a new SMPL-X armature") from None


def target_armature(context, props) -> tuple[bpy.types.Object, bool]:
    """The armature the capture drives and whether it was created now: the panel's target (checked
    with :func:`check_target`), or a new SMPL-X armature (then also the panel's target)."""
    obj = props.target
    if obj is not None and obj.name in bpy.data.objects:
        check_target(obj)
        return obj, False
    from . import armature
    model = None
    path = model_path()
    if path:
        from ..inference.body.body_model import load_smplx
        model = load_smplx(path, load_posedirs=False)
    obj = armature.build_armature(context, name="SMPLX", model=model, root_bone=bool(props.root_bone))
    props.target = obj
    return obj, True


def remove_armature(obj: bpy.types.Object) -> None:
    """Delete an armature this start created (and its skinned mesh), leaving nothing behind."""
    for child in list(obj.children):
        data = child.data
        bpy.data.objects.remove(child)
        if data is not None and data.users == 0:
            bpy.data.meshes.remove(data)
    data = obj.data
    bpy.data.objects.remove(obj)
    if data is not None and data.users == 0:
        bpy.data.armatures.remove(data)


def mesh_of(obj: bpy.types.Object) -> str:
    """Name of the SMPL-X mesh skinned to ``obj`` (it carries the expression shape keys), or ''."""
    for child in obj.children:
        if child.type == "MESH" and child.data.shape_keys is not None:
            return child.name
    return ""


def start(mode: str, context, **extra) -> tuple[sess_mod.WorkerSession, bpy.types.Object]:
    """Start a worker for the panel's settings. Raises :class:`LaunchError` / ``SessionError``.

    Every setting is checked before anything is made; a start that fails after the armature was
    created removes it again (and clears the panel's Armature field), so a failed start leaves
    nothing behind."""
    if sess_mod.active() is not None:
        raise LaunchError("a capture is already running: stop it first")
    props = context.scene.smplx_mocap
    opts = options(props, mode, **extra)
    python = worker_python()
    check_target(props.target)
    obj, created = target_armature(context, props)
    try:
        session = sess_mod.start(python, opts, user_dir())
        sess_mod.set_active(session)       # from now on, whatever fails ends it (``session.end_active``)
        return session, obj
    except BaseException:
        if created:
            props.target = None
            remove_armature(obj)
        raise
