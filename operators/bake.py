"""Bake a video to an action, and re-solve a bake with other settings (thin operators over pump)."""
from __future__ import annotations

import time

import bpy

from ..blender_addon import launch, pump
from ..blender_addon import session as sess_mod

_POLL_S = 0.05


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
            return {"FINISHED"}
        if result == "cancelled":
            self.report({"WARNING"}, f"{self.bl_label} cancelled: the {keyed} frame(s) baked so far are kept")
            return {"FINISHED"}
        st = sess_mod.status()
        self.report({"ERROR"}, f"{self.bl_label} failed: {st.last_error or 'worker ended'}; "
                               f"the {keyed} frame(s) received are kept")
        return {"FINISHED"}

    def execute(self, context):
        try:
            self._job = self._begin(context)
        except (launch.LaunchError, sess_mod.SessionError) as exc:
            sess_mod.start_failed(str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        while True:
            result = pump.bake_step(self._job, context.scene)
            if result != "running":
                return self._finish(context, result)
            time.sleep(_POLL_S)

    def invoke(self, context, event):
        try:
            self._job = self._begin(context)
        except (launch.LaunchError, sess_mod.SessionError) as exc:
            sess_mod.start_failed(str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(_POLL_S, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._job.cancelled = True
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        result = pump.bake_step(self._job, context.scene)
        wm = context.window_manager
        wm.progress_update(int(100 * self._progress(self._job)))
        if context.area:
            context.area.tag_redraw()
        if result == "running":
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
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
        detections, out = launch.cache_paths(spec)
        session, obj = launch.start("bake", context, source=spec, detections=detections, out=out,
                                    max_frames=self.max_frames)
        obj["smplx_mocap_detections"] = detections
        return pump.start_bake(session, obj, context.scene, out, detections, launch.mesh_of(obj),
                               parts=launch.parts(props))


class MOCAP_OT_resolve(_WorkerJobMixin, bpy.types.Operator):
    """Re-solve the last bake with the current smoothing and parts, from its cached detections (no detection)"""

    bl_idname = "mocap.resolve"
    bl_label = "Re-solve Bake"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.scene.smplx_mocap.target
        return sess_mod.active() is None and obj is not None and "smplx_mocap_detections" in obj

    def _begin(self, context):
        props = context.scene.smplx_mocap
        obj = props.target
        detections = str(obj["smplx_mocap_detections"])
        _, out = launch.cache_paths(detections.replace(".detections.npz", ""))
        session, obj = launch.start("resolve", context, source="", detections=detections, out=out)
        return pump.start_bake(session, obj, context.scene, out, detections, launch.mesh_of(obj),
                               parts=launch.parts(props))


CLASSES = (MOCAP_OT_bake, MOCAP_OT_resolve)
