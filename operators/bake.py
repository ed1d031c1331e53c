"""Bake a video to an action, and re-solve a bake with other settings (thin operators over pump)."""
from __future__ import annotations

import os
import time

import bpy

from ..blender_addon import cache, launch, pump
from ..blender_addon import session as sess_mod
from ..blender_addon.classes import register_classes, unregister_classes

_POLL_S = 0.05
#: (window manager, timer) of each running modal bake. Blender frees a running modal operator
#: without calling its ``cancel`` when the add-on is disabled, so :func:`unregister` ends these.
_OPEN_UI: list = []


def _end_ui(wm, timer) -> None:
    """Remove a modal bake's timer and progress bar (each at most once; never raises)."""
    if (wm, timer) in _OPEN_UI:
        _OPEN_UI.remove((wm, timer))
    try:
        wm.event_timer_remove(timer)
        wm.progress_end()
    except (ReferenceError, RuntimeError):   # the window manager is gone already
        pass


class _WorkerJobMixin:
    """Modal when invoked from the UI (timer + Esc), blocking when executed from a script."""

    _timer = None
    _job = None

    def _begin(self, context):  # -> pump.Bake or raises
        raise NotImplementedError

    def _progress(self, job) -> float:
        done, total = job.session.status.progress
        return (done / total) if total else 0.0

    def _finish(self, context, result: str) -> set[str]:
        job = self._job
        keyed = job.recorder.keyed if job else 0
        if result == "done":
            obj = bpy.data.objects.get(job.recorder.obj_name)
            action = obj.animation_data.action if obj is not None and obj.animation_data else None
            where = f"action '{action.name}' of '{obj.name}'" if action is not None else f"'{job.recorder.obj_name}'"
            self.report({"INFO"}, f"{self.bl_label}: {job.final_keyed} frame(s) keyed into {where}; "
                                  f"motion file {job.out_npz}")
            for warning in job.warnings:
                self.report({"WARNING"}, warning)
            if job.warnings:
                sess_mod.status().note = job.warnings[0]
            return {"FINISHED"}
        if result == "cancelled":
            self.report({"WARNING"}, f"{self.bl_label} cancelled: the {keyed} frame(s) baked so far are kept")
            return {"FINISHED"}
        st = sess_mod.status()
        self.report({"ERROR"}, f"{self.bl_label} failed: {st.last_error or 'worker ended'}; "
                               f"the {keyed} frame(s) received are kept")
        return {"FINISHED"}

    def _start(self, context) -> bool:
        """Start the job; on any failure: one line in the report and the status, nothing left
        running (a session that did start is ended), False."""
        running = sess_mod.active()
        try:
            self._job = self._begin(context)
            return True
        except Exception as exc:  # noqa: BLE001 - a failed start must never leave the add-on stuck
            message = launch.failure_line(exc)
        if sess_mod.active() is not running:      # this start's own session, never one already running
            sess_mod.end_active()
        sess_mod.start_failed(message)
        self.report({"ERROR"}, message)
        return False

    def _step(self, context) -> str:
        """One pump step; an unexpected error ends the bake (one line, keys kept) as 'failed'."""
        try:
            return pump.bake_step(self._job, context.scene)
        except Exception as exc:  # noqa: BLE001 - the worker must be stopped and the buttons freed
            pump.abort_bake(self._job, launch.failure_line(exc))
            return "failed"

    def execute(self, context):
        if not self._start(context):
            return {"CANCELLED"}
        while True:
            result = self._step(context)
            if result != "running":
                return self._finish(context, result)
            time.sleep(_POLL_S)

    def invoke(self, context, event):
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(_POLL_S, window=context.window)
        _OPEN_UI.append((wm, self._timer))
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._job.cancelled = True
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        result = self._step(context)
        wm = context.window_manager
        wm.progress_update(int(100 * self._progress(self._job)))
        if context.area:
            context.area.tag_redraw()
        if result == "running":
            return {"RUNNING_MODAL"}
        _end_ui(wm, self._timer)
        return self._finish(context, result)


class MOCAP_OT_bake(_WorkerJobMixin, bpy.types.Operator):
    """Capture the whole video into an action as fast as the worker runs (Esc cancels, keeps what was baked)"""

    bl_idname = "mocap.bake"
    bl_label = "Bake Video to Action"
    bl_options = {"REGISTER", "UNDO"}

    max_frames: bpy.props.IntProperty(name="Max Frames", default=0, min=0, options={"SKIP_SAVE"},
                                      description="Stop after this many frames (0: the whole input)")

    @classmethod
    def poll(cls, context):
        return sess_mod.active() is None and context.scene.smplx_mocap.source_type != "WEBCAM"

    def _begin(self, context):
        props = context.scene.smplx_mocap
        spec = launch.source_spec(props)
        start, count = launch.trim(props, self.max_frames)
        detections, out = cache.new_paths(spec)
        session, obj = launch.start("bake", context, source=spec, detections=detections, out=out,
                                    max_frames=count, start_frame=start)
        obj[cache.DETECTIONS_PROP] = cache.stored(detections)
        return pump.start_bake(session, obj, context.scene, out, detections, launch.mesh_of(obj),
                               parts=launch.parts(props), take=launch.take_name(spec),
                               match_scene=props.match_scene, rate=launch.source_rate(props, spec),
                               camera=(spec if props.source_type == "VIDEO" else "") if props.add_camera else None)


class MOCAP_OT_resolve(_WorkerJobMixin, bpy.types.Operator):
    """Re-solve the last bake with the current smoothing and parts, from its cached detections (no detection)"""

    bl_idname = "mocap.resolve"
    bl_label = "Re-solve Bake"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.scene.smplx_mocap.target
        return sess_mod.active() is None and obj is not None and cache.DETECTIONS_PROP in obj

    def _begin(self, context):
        props = context.scene.smplx_mocap
        obj = props.target
        detections = cache.resolve(str(obj[cache.DETECTIONS_PROP]))
        if not os.path.isfile(detections):
            raise launch.LaunchError(f"the bake's detections '{detections}' are gone: bake the video again")
        out = cache.motion_path_for(detections)
        session, obj = launch.start("resolve", context, source="", detections=detections, out=out)
        return pump.start_bake(session, obj, context.scene, out, detections, launch.mesh_of(obj),
                               parts=launch.parts(props), match_scene=props.match_scene)


CLASSES = (MOCAP_OT_bake, MOCAP_OT_resolve)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    while _OPEN_UI:
        _end_ui(*_OPEN_UI[-1])
    unregister_classes(CLASSES)
