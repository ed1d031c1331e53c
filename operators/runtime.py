"""``mocap.setup_runtime``: build the worker's private Python runtime without blocking the UI.

Invoked from the UI it first asks (a dialog saying what is downloaded, how much and where it goes),
then runs modal: a timer polls the setup, the status bar and ``wm.progress_*`` show its stage and
progress, Esc kills the running child. Executed from a script (or in background mode) it asks
nothing and waits. Either way it downloads nothing while Blender's online access is off.
The runtime device (CPU, or GPU (NVIDIA)) comes from the preferences; the GPU is probed before the
dialog, and a GPU that cannot be used is said in one line (the CPU runtime is set up instead).
"""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..blender_addon import preferences, runtime

_POLL_S = 0.25


class MOCAP_OT_setup_runtime(bpy.types.Operator):
    """Create a private Python 3.11 environment for the capture worker and install its pinned packages"""

    bl_idname = "mocap.setup_runtime"
    bl_label = "Set up inference runtime"
    bl_description = (f"Download the capture worker's pinned packages (about {runtime.megabytes(runtime.DOWNLOAD_BYTES)}) "
                      f"from PyPI into a private Python 3.11 environment (about "
                      f"{runtime.megabytes(runtime.INSTALLED_BYTES)}); it asks first")
    bl_options = {"REGISTER"}

    base_python: StringProperty(
        name="Base Python", options={"HIDDEN", "SKIP_SAVE"},
        description="System Python 3.11 to create the environment from (empty: search PATH)")
    skip_pip: BoolProperty(
        name="Skip pip", default=False, options={"HIDDEN", "SKIP_SAVE"},
        description="Only create the environment, install nothing (tests, offline preparation)")
    device: StringProperty(
        name="Device", options={"HIDDEN", "SKIP_SAVE"},
        description="CPU or GPU (empty: the preferences' Runtime Device)")

    _timer = None  # plain class attributes (not annotations: Blender reads those as properties)
    _job = None
    _lines = ()    # what the confirmation dialog says
    _gpu = None    # the GPU probe's verdict, from the dialog to the setup

    @classmethod
    def poll(cls, context):
        job = runtime.active_job()
        return job is None or not job.state.running

    def _online(self) -> dict:
        return {"online_access": bpy.app.online_access,
                "offline_override": getattr(bpy.app, "online_access_override", False)}

    def _device(self, context) -> str:
        if self.device:
            return self.device
        prefs = preferences.get(context)
        return prefs.runtime_device if prefs is not None else runtime.DEVICE_CPU

    def _start(self, context) -> bool:
        try:
            self._job = runtime.start_setup(self.base_python or None, skip_pip=self.skip_pip, device=self._device(context),
                                            gpu=self._gpu, **self._online())
        except runtime.RuntimeSetupError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        return True

    def _finish(self, state: runtime.JobState) -> set[str]:
        log = runtime.runtime_paths(create=False).log
        if state.phase == "done":
            python = runtime.runtime_paths(create=False).python
            self.report({"INFO"}, f"inference runtime ready: {python}" if not self.skip_pip
                        else f"environment created (no packages installed): {python}")
            for notice in self._job.notices:   # the GPU probe's verdict, the provider the check found
                self.report({"WARNING"} if notice in self._job.warnings else {"INFO"}, notice)
            return {"FINISHED"}
        if state.phase == "cancelled":
            self.report({"WARNING"}, "runtime setup cancelled; run it again to finish")
            return {"CANCELLED"}
        self.report({"ERROR"}, f"{state.message} (log: {log})")
        return {"CANCELLED"}

    def execute(self, context):
        if not self._start(context):
            return {"CANCELLED"}
        if self.options.is_invoke and not bpy.app.background and context.window is not None:
            return self._run_modal(context)   # confirmed in the dialog: run without blocking the UI
        return self._finish(self._job.wait())

    def invoke(self, context, event):
        """Check first (online access, Python 3.11, disk space), then ask with what and where."""
        try:
            base, paths = runtime.check_setup(self.base_python or None, skip_pip=self.skip_pip, **self._online())
        except runtime.RuntimeSetupError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if self.skip_pip or bpy.app.background or context.window is None:
            return self.execute(context)      # nothing to download, or no window to ask in
        device, self._gpu = runtime.setup_device(self._device(context))   # nvidia-smi, before the dialog
        try:   # again with the GPU option's disk space
            runtime.check_setup(self.base_python or None, paths, **self._online(), device=device)
        except runtime.RuntimeSetupError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        lines = runtime.confirmation_lines(paths, base)
        self._lines = tuple(lines[:-1] + (runtime.gpu_confirmation_lines(paths, self._gpu) if self._gpu else [])
                            + lines[-1:])
        return context.window_manager.invoke_props_dialog(
            self, width=720, title="Set up the capture runtime", confirm_text="Download and Install")

    def draw(self, context):
        col = self.layout.column(align=True)
        lines = self._lines or runtime.confirmation_lines(runtime.runtime_paths(create=False))
        for line in lines:
            col.label(text=line)

    def _run_modal(self, context):
        wm = context.window_manager
        self._timer = wm.event_timer_add(_POLL_S, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        self._show(context, self._job.state)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            runtime.cancel_active()
            self._end(context)
            return self._finish(self._job.state)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        state = self._job.poll()
        if state.running:
            self._show(context, state)
            return {"RUNNING_MODAL"}
        self._end(context)
        return self._finish(state)

    def cancel(self, context):  # Blender ends the modal (file load, window closed)
        runtime.cancel_active()
        self._end(context)

    def _show(self, context, state: runtime.JobState) -> None:
        context.window_manager.progress_update(int(round(100 * state.fraction)))
        if context.workspace is not None:
            context.workspace.status_text_set(f"SMPL-X runtime {state.fraction:.0%}: {state.message}  (Esc: cancel)")
        for window in context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "PREFERENCES":
                    area.tag_redraw()

    def _end(self, context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)


CLASSES = (MOCAP_OT_setup_runtime,)
