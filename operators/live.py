"""Live link operators: start, stop, record (thin: the work is in blender_addon.pump)."""
from __future__ import annotations

import bpy

from ..blender_addon import launch, pump
from ..blender_addon import session as sess_mod


class MOCAP_OT_live_start(bpy.types.Operator):
    """Start the live link: the worker streams the source and the armature follows every tick"""

    bl_idname = "mocap.live_start"
    bl_label = "Start Live Link"
    bl_options = {"REGISTER"}

    loop: bpy.props.BoolProperty(name="Loop", description="Restart a video or folder at its end", default=True)
    use_timer: bpy.props.BoolProperty(name="Timer", default=True, options={"HIDDEN", "SKIP_SAVE"},
                                      description="Pump with a Blender timer (off: the caller calls pump.tick)")

    @classmethod
    def poll(cls, context):
        return pump.live() is None and sess_mod.active() is None

    def execute(self, context):
        props = context.scene.smplx_mocap
        running = sess_mod.active()
        try:
            loop = self.loop and props.source_type != "WEBCAM"
            session, obj = launch.start("live", context, loop=loop)
            pump.start_live(session, obj, use_timer=self.use_timer, parts=launch.parts(props))
            if props.record:
                pump.set_recording(True, context.scene, launch.mesh_of(obj))
        except Exception as exc:  # noqa: BLE001 - a failed start says one line and leaves nothing running
            message = launch.failure_line(exc)
            if sess_mod.active() is not running:
                pump.stop_live(context.scene)
                sess_mod.end_active()
            sess_mod.start_failed(message)
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        self.report({"INFO"}, f"live link started on '{obj.name}'")
        return {"FINISHED"}


class MOCAP_OT_live_stop(bpy.types.Operator):
    """Stop the live link (keys recorded so far are kept)"""

    bl_idname = "mocap.live_stop"
    bl_label = "Stop Live Link"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return pump.live() is not None

    def execute(self, context):
        n = pump.stop_live(context.scene)
        context.scene.smplx_mocap.record = False
        st = sess_mod.status()
        if st.last_error and st.state == "failed":
            self.report({"WARNING"}, f"worker stopped with an error: {st.last_error}")
        self.report({"INFO"}, f"live link stopped; {n} frame(s) recorded")
        return {"FINISHED"}


class MOCAP_OT_record_toggle(bpy.types.Operator):
    """Record the live link into keyframes from the current frame (toggle)"""

    bl_idname = "mocap.record_toggle"
    bl_label = "Record"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.smplx_mocap
        props.record = not props.record
        lv = pump.live()
        if lv is not None:
            obj = bpy.data.objects.get(lv.obj_name)
            pump.set_recording(props.record, context.scene, launch.mesh_of(obj) if obj else "")
        self.report({"INFO"}, "recording" if props.record else "recording stopped")
        return {"FINISHED"}


CLASSES = (MOCAP_OT_live_start, MOCAP_OT_live_stop, MOCAP_OT_record_toggle)
