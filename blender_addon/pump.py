"""The pump: each tick moves what the worker wrote into Blender (main thread only).

``tick()`` is a plain function: ``bpy.app.timers`` calls it in the UI, and a headless script (where
timers do not fire while it blocks) calls it in its own loop. Live mode poses the armature with the
newest complete frame; while recording, and during a bake, every frame is consumed in order and
written as keyframes in bulk chunks, so a worker that dies mid-way leaves every key received so far.

A bake ends with the worker's batch solve (the same file ``python -m inference capture`` writes,
read with :meth:`Motion.from_npz`): its keys replace the preview keys of the streamed pass, so the
action equals the engine's npz.

:func:`stop_all` ends the live link; the registration module calls it before
``session.shutdown()`` (the session module does not import this one).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..inference.core import rotations as rot
from ..inference.core.errors import InputError
from ..inference.core.layout import PART_BODY
from ..inference.pipeline.motion import Motion
from . import armature, cache, keys, retarget, scene_setup
from . import session as sess_mod
from .convert import points_from_blender, times_to_frames

#: Received frames are written as keys at least this often (seconds) while recording or baking.
FLUSH_INTERVAL_S = 0.5
TICK_S = 1.0 / 60.0


def rest_pelvis(obj: bpy.types.Object) -> np.ndarray:
    """(3,) the armature's rest pelvis in SMPL-X Y-up metres (its data is Z-up)."""
    return points_from_blender(obj.data.bones["pelvis"].head_local)


@dataclass
class Recorder:
    """Frames received but not yet keyed, and where the keys go."""

    obj_name: str
    frame_start: float
    time_origin: float | None = None   # source time placed at frame_start (None: first frame's)
    pending: list[np.ndarray] = field(default_factory=list)     # (N, R) record chunks
    pending_times: list[np.ndarray] = field(default_factory=list)
    keyed: int = 0
    last_flush: float = field(default_factory=time.monotonic)
    mesh_name: str = ""
    rest_pelvis: np.ndarray | None = None    # (3,) Y-up pelvis the records' trans refers to
    body_column: int = field(default_factory=lambda: sess_mod.part_valid_column(PART_BODY))
    parts: tuple[bool, ...] = keys.ALL_PARTS   # (4,) what gets keys, ``part_valid`` order
    retarget: retarget.LiveRetarget | None = None   # the live link's character, keyed with the armature

    def add(self, times: np.ndarray, records: np.ndarray, rest_pelvis: np.ndarray | None = None) -> None:
        if rest_pelvis is not None:
            self.rest_pelvis = rest_pelvis
        if len(times):
            if self.time_origin is None:
                self.time_origin = float(times[0])
            self.pending.append(records)
            self.pending_times.append(times)

    def flush(self, scene: bpy.types.Scene, force: bool = False) -> int:
        """Key the pending frames (bulk). Returns how many frames were keyed."""
        if not self.pending or (not force and time.monotonic() - self.last_flush < FLUSH_INTERVAL_S):
            return 0
        obj = bpy.data.objects.get(self.obj_name)
        records, times = np.concatenate(self.pending), np.concatenate(self.pending_times)
        self.pending, self.pending_times, self.last_flush = [], [], time.monotonic()
        if obj is None:
            return 0
        person = records[:, self.body_column] > 0.5   # frames without a person get no key
        records, times = records[person], times[person]
        if not len(times):
            return 0
        a = sess_mod.records_to_arrays(records)
        frames = times_to_frames(times - self.time_origin, scene.render.fps, scene.render.fps_base,
                                 self.frame_start)
        mesh = bpy.data.objects.get(self.mesh_name) if self.mesh_name else None
        pelvis = self.rest_pelvis if self.rest_pelvis is not None else rest_pelvis(obj)
        keys.write_keys(obj, frames, a["quat"], a["trans"], pelvis, a["expression"], a["arkit"], mesh_obj=mesh,
                        parts=self.parts)
        if self.retarget is not None:
            self.retarget.record(frames, a["quat"], a["trans"], a["arkit"], self.parts)
        self.keyed += len(times)
        return len(times)


@dataclass
class Live:
    """The live link: a session, the armature it drives, and an optional recorder."""

    session: sess_mod.WorkerSession
    obj_name: str
    recorder: Recorder | None = None
    frames_applied: int = 0
    parts: tuple[bool, ...] = keys.ALL_PARTS   # (4,) what is posed and recorded, ``part_valid`` order
    fitted: bool = False        # the armature was re-proportioned to the subject the worker measured
    retarget: retarget.LiveRetarget | None = None   # the panel's "Retarget To" character, posed too


@dataclass
class Bake:
    """A bake in progress (see :func:`bake_step`)."""

    session: sess_mod.WorkerSession
    recorder: Recorder
    out_npz: str
    detections: str
    cancelled: bool = False
    final_keyed: int = 0        # frames keyed from the final solve (the file ``out_npz``)
    warnings: tuple[str, ...] = ()   # the final solve's warnings for the user (``Motion.warnings``)
    match_scene: bool = False   # set the scene's frame rate and range from the clip
    camera: str | None = None   # add a camera matching the video: None no, '' without background, else the clip
    take: str = ""              # the action's name ('' : the current action)


_LIVE: Live | None = None
_TIMER_ON = False


def live() -> Live | None:
    return _LIVE


# ---------------------------------------------------------------------------------------------
# one tick
# ---------------------------------------------------------------------------------------------
def tick(scene: bpy.types.Scene | None = None) -> dict:
    """Poll the live session once: pose the newest frame, key what the recorder received.

    Returns a small report: ``{"state", "applied", "keyed", "dropped"}``. Never raises because of
    the worker: a dead worker ends the link and its error is in the status line.
    """
    global _LIVE
    scene = scene or bpy.context.scene
    lv = _LIVE
    if lv is None:
        return {"state": "idle", "applied": 0, "keyed": 0, "dropped": 0}
    st = lv.session.poll()
    obj = bpy.data.objects.get(lv.obj_name)
    applied = keyed = 0
    lv.retarget = retarget.sync_live(lv.retarget, scene, lv.obj_name, lv.session.ring.rest_joints)
    if lv.recorder is not None:
        lv.recorder.retarget = lv.retarget
        ids, times, records = lv.session.read_new()
        lv.recorder.add(times, records, lv.session.rest_pelvis())
        latest = records[-1] if len(records) else None
        keyed = lv.recorder.flush(scene)
    else:
        rec = lv.session.read_latest()
        latest = rec.record if rec is not None else None
    if not lv.fitted and obj is not None and lv.session.ring.rest_joints is not None:
        armature.fit_rest(bpy.context, obj, lv.session.ring.rest_joints)
        lv.fitted = True
    if latest is not None and obj is not None:
        a = sess_mod.records_to_arrays(latest[None])
        keys.apply_pose(obj, a["quat"][0], a["trans"][0], lv.session.rest_pelvis(), a["expression"][0],
                        a["arkit"][0], parts=lv.parts)
        if lv.retarget is not None:
            lv.retarget.pose(a["quat"][0], a["trans"][0], a["arkit"][0], lv.parts)
        lv.frames_applied += 1
        applied = 1
    if lv.session.finished:
        if lv.recorder is not None:
            lv.recorder.flush(scene, force=True)
        sess_mod.end_active()
        _LIVE = None
        props = getattr(scene, "smplx_mocap", None)
        if props is not None:
            props.record = False            # nothing records any more: the button must not show pressed
    return {"state": st.state, "applied": applied, "keyed": keyed, "dropped": st.dropped}


def _timer() -> float | None:
    global _TIMER_ON
    try:
        tick()
    except Exception as exc:  # noqa: BLE001 - a timer that raises is silently dropped by Blender
        sess_mod.status().last_error = f"{type(exc).__name__}: {exc}"
        stop_live()
    if _LIVE is None:
        _TIMER_ON = False
        return None
    return TICK_S


def start_timer() -> None:
    global _TIMER_ON
    if not _TIMER_ON:
        bpy.app.timers.register(_timer, first_interval=TICK_S)
        _TIMER_ON = True


def stop_timer() -> None:
    global _TIMER_ON
    if _TIMER_ON and bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    _TIMER_ON = False


# ---------------------------------------------------------------------------------------------
# live link
# ---------------------------------------------------------------------------------------------
def start_live(session: sess_mod.WorkerSession, obj: bpy.types.Object, use_timer: bool = True,
               parts: tuple[bool, ...] = keys.ALL_PARTS) -> Live:
    """Drive ``obj`` from the session's newest frame; ``parts`` (4,) bool: what is posed and recorded."""
    global _LIVE
    stop_live()
    sess_mod.set_active(session)
    _LIVE = Live(session=session, obj_name=obj.name, parts=tuple(parts))
    if use_timer:
        start_timer()
    return _LIVE


def set_recording(on: bool, scene: bpy.types.Scene, mesh_name: str = "") -> None:
    """Start or stop recording the live link into keyframes (from the current frame on)."""
    lv = _LIVE
    if lv is None:
        return
    if on and lv.recorder is None:
        lv.session.read_new()   # frames before this moment are not part of the take
        lv.recorder = Recorder(obj_name=lv.obj_name, frame_start=float(scene.frame_current), mesh_name=mesh_name,
                               parts=lv.parts)
    elif not on and lv.recorder is not None:
        lv.recorder.flush(scene, force=True)
        lv.recorder = None


def stop_live(scene: bpy.types.Scene | None = None) -> int:
    """End the live link (keys recorded so far are written). Returns frames recorded."""
    global _LIVE
    lv, _LIVE = _LIVE, None
    stop_timer()
    if lv is None:
        return 0
    n = 0
    if lv.recorder is not None:
        try:
            lv.recorder.flush(scene or bpy.context.scene, force=True)
        finally:
            n = lv.recorder.keyed
    sess_mod.end_active()
    return n


def stop_all() -> None:
    """Shutdown (unregister, file load): end the live link, keeping what was recorded; never raises.
    The worker itself is stopped by ``session.shutdown()``, which the caller runs next."""
    try:
        stop_live()
    except Exception:  # noqa: BLE001
        pass


# ---------------------------------------------------------------------------------------------
# bake
# ---------------------------------------------------------------------------------------------
def start_bake(session: sess_mod.WorkerSession, obj: bpy.types.Object, scene: bpy.types.Scene,
               out_npz: str, detections: str, mesh_name: str = "", parts: tuple[bool, ...] = keys.ALL_PARTS,
               take: str = "", match_scene: bool = False, rate: float | None = None,
               camera: str | None = None) -> Bake:
    """A bake into ``obj``; ``parts`` (4,) bool in ``part_valid`` order: what gets keys.

    take: name of a new action for this take (the armature's previous action is kept with a fake
    user; '': write into the current action, as a re-solve does). match_scene: set the scene's
    frame rate (``rate``, when the clip's is known now; the final solve's timestamps otherwise) and
    frame range to the clip's. camera: at the end, add a camera that matches the capture's (None:
    none; a video path: with that clip as its background; '': without background)."""
    sess_mod.set_active(session)
    if take:
        keys.new_take(obj, take)
        mesh = bpy.data.objects.get(mesh_name) if mesh_name else None
        if mesh is not None and mesh.data.shape_keys is not None:
            keys.new_take(mesh.data.shape_keys, f"{take}_shapes")
    if match_scene and rate:
        scene_setup.match_scene(scene, rate)
    rec = Recorder(obj_name=obj.name, frame_start=float(scene.frame_start), mesh_name=mesh_name,
                   parts=tuple(parts))
    return Bake(session=session, recorder=rec, out_npz=out_npz, detections=detections, match_scene=match_scene,
                camera=camera, take=take)


def abort_bake(job: Bake, message: str) -> None:
    """End a bake that hit an unexpected error: the worker stops, its memory is unlinked, the
    status says ``message`` (one line); the keys written so far stay. Never raises."""
    try:
        sess_mod.end_active()
    finally:
        st = sess_mod.status()
        st.state, st.last_error = "failed", message.splitlines()[0] if message else "bake failed"


def bake_step(job: Bake, scene: bpy.types.Scene) -> str:
    """Move received frames into keys. Returns 'running', 'done', 'failed' or 'cancelled'.

    A final file that cannot be read fails the bake with its one-line :class:`InputError` as the
    status's error (the streamed keys stay)."""
    job.session.poll()
    _, times, records = job.session.read_new()
    job.recorder.add(times, records, job.session.rest_pelvis())
    job.recorder.flush(scene, force=job.session.finished)
    if job.cancelled:
        job.recorder.flush(scene, force=True)
        sess_mod.end_active()
        return "cancelled"
    if not job.session.finished:
        return "running"
    # drain what the worker wrote between the last read and its exit
    _, times, records = job.session.read_new()
    job.recorder.add(times, records, job.session.rest_pelvis())
    job.recorder.flush(scene, force=True)
    final = sess_mod.end_active()
    if final.state != "done":
        return "failed"
    if Path(job.out_npz).is_file():
        obj = bpy.data.objects[job.recorder.obj_name]
        try:
            motion = Motion.from_npz(job.out_npz)
        except InputError as exc:
            final.state, final.last_error = "failed", str(exc)
            return "failed"
        if job.match_scene:
            scene_setup.match_scene(scene, motion.frame_rate,
                                    float(motion.frame_times[-1] - motion.frame_times[0]) if len(motion.frame_times) else None)
        job.final_keyed = apply_motion(motion, obj, scene, mesh_name=job.recorder.mesh_name,
                                       parts=job.recorder.parts)
        job.warnings = tuple(motion.warnings)
        obj[cache.MOTION_PROP] = cache.stored(job.out_npz)
        if job.camera is not None:
            clip = scene_setup.movie_clip(job.camera) if job.camera else None
            first = int(round(float(motion.frame_times[0]) * motion.frame_rate)) if len(motion.frame_times) else 0
            frames = times_to_frames(motion.frame_times, scene.render.fps, scene.render.fps_base,
                                     float(scene.frame_start), t0=float(motion.frame_times[0]))
            scene_setup.add_camera(bpy.context, f"{job.take or obj.name} Camera", motion.camera.K,
                                   motion.camera.size, motion.camera_to_world, clip, set_resolution=job.match_scene,
                                   first_frame=first, frames=frames, lift=motion.floor_height)
        scene_setup.select_only(bpy.context, obj)
    return "done"


def apply_motion_file(path: str, obj: bpy.types.Object, scene: bpy.types.Scene, mesh_name: str = "",
                      frame_start: float | None = None, parts: tuple[bool, ...] = keys.ALL_PARTS) -> int:
    """:func:`apply_motion` of an engine npz (recorded as the object's ``cache.MOTION_PROP``);
    raises :class:`InputError` when ``path`` is not a capture file."""
    n = apply_motion(Motion.from_npz(path), obj, scene, mesh_name, frame_start, parts)
    obj[cache.MOTION_PROP] = cache.stored(path)
    return n


def apply_motion(m: Motion, obj: bpy.types.Object, scene: bpy.types.Scene, mesh_name: str = "",
                 frame_start: float | None = None, parts: tuple[bool, ...] = keys.ALL_PARTS) -> int:
    """Key a captured motion onto ``obj`` as its current action's whole content (frames with a
    person only, the motion's first frame at ``frame_start``, default the scene's; ``parts`` (4,)
    bool: which parts get keys). An armature this add-on built is first
    re-proportioned to the motion's ``rest_joints`` (and its mesh to its ``betas``), so its joints
    are the motion's ``joints``. Returns the number of keyed frames."""
    keep = np.asarray(m.valid, bool)
    mesh = bpy.data.objects.get(mesh_name) if mesh_name else None
    keys.clear_take(obj)
    if mesh is not None and mesh.data.shape_keys is not None:
        keys.clear_take(mesh.data.shape_keys)
    armature.fit_rest(bpy.context, obj, m.rest_joints, m.betas)
    if not keep.any():
        return 0
    T = int(keep.sum())
    quats = rot.quat_exp(np.asarray(m.poses[keep], np.float64).reshape(T, -1, 3))    # (T, 55, 4) x, y, z, w
    start = float(scene.frame_start if frame_start is None else frame_start)
    frames = times_to_frames(m.frame_times[keep], scene.render.fps, scene.render.fps_base, start,
                             t0=float(m.frame_times[0]))
    keys.write_keys(obj, frames, quats, m.trans[keep], m.rest_joints[0], m.expression[keep],
                    m.arkit[keep], mesh_obj=mesh, parts=parts)
    return T
