"""Add-on preferences: the SMPL-X model file, the worker's Python, and the runtime setup (its device and button)."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from . import runtime
from .classes import register_classes, unregister_classes

ADDON_PACKAGE = __package__.rpartition(".")[0] or __package__  # bl_ext.<repo>.smplx_mocap


def get(context: bpy.types.Context | None = None) -> "MocapPreferences | None":
    """This add-on's preferences, or None when it is not enabled."""
    addon = (context or bpy.context).preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


class MOCAP_OT_pick_model(bpy.types.Operator, ImportHelper):
    """Choose your licensed SMPLX_{NEUTRAL,MALE,FEMALE}.npz"""

    bl_idname = "mocap.pick_model"
    bl_label = "Choose SMPL-X Model"
    bl_options = {"INTERNAL"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})

    def execute(self, context):
        prefs = get(context)
        if prefs is None:
            self.report({"ERROR"}, "enable the SMPL-X Mocap add-on first")
            return {"CANCELLED"}
        if not self.filepath.lower().endswith(".npz"):
            self.report({"ERROR"}, "pick an .npz file (convert a .pkl with scripts/convert_smplx_pkl.py)")
            return {"CANCELLED"}
        prefs.model_path = self.filepath
        return {"FINISHED"}


class MocapPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    model_path: StringProperty(
        name="SMPL-X Model", subtype="FILE_PATH",
        description="Your licensed SMPLX_{NEUTRAL,MALE,FEMALE}.npz (*.npz). Empty: the default skeleton "
                    "stretched to the subject's measured proportions")
    python_path: StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description="Python 3.11 interpreter with the worker's packages. Empty: the private runtime "
                    "made by 'Set up inference runtime'")
    runtime_device: EnumProperty(
        name="Runtime Device", items=runtime.DEVICE_ITEMS, default=runtime.DEVICE_CPU,
        description="What 'Set up inference runtime' installs: the CPU runtime, or also ONNX Runtime for an "
                    "NVIDIA GPU (checked first: without a usable GPU it sets up the CPU runtime and says why)")

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.prop(self, "model_path")
        row.operator(MOCAP_OT_pick_model.bl_idname, text="", icon="FILEBROWSER")
        layout.prop(self, "python_path")
        box = layout.box()
        try:
            line = runtime.status_line(self)
        except Exception as exc:  # noqa: BLE001 - drawing must never fail
            line = f"runtime status unavailable: {exc}"
        box.label(text=line, icon="INFO")
        running = runtime.active_job() is not None and runtime.active_job().state.running
        row = box.row()
        row.enabled = not running
        row.prop(self, "runtime_device", expand=True)
        row = box.row()
        row.enabled = not running and bpy.app.online_access
        row.operator("mocap.setup_runtime", icon="CONSOLE")
        col = box.column(align=True)
        col.label(text=f"Downloads about {runtime.megabytes(runtime.DOWNLOAD_BYTES)} from PyPI and installs about "
                       f"{runtime.megabytes(runtime.INSTALLED_BYTES)} in this add-on's user folder; it asks first.")
        if self.runtime_device == runtime.DEVICE_GPU:
            col.label(text=f"GPU (NVIDIA): about {runtime.megabytes(runtime.GPU_DOWNLOAD_BYTES)} more (onnxruntime-gpu, "
                           f"CUDA 13, cuDNN 9) and the detector models converted; needs a driver 580 or newer.")
        if not bpy.app.online_access:   # Blender's rule: nothing is downloaded while this is off
            col.label(text="Online access is off: the setup cannot download. Allow it here, or pick a "
                           "Python 3.11 that has the packages as Worker Python.", icon="ERROR")
            sub = col.row()
            sub.enabled = not getattr(bpy.app, "online_access_override", False)  # --offline-mode
            sub.prop(context.preferences.system, "use_online_access")


CLASSES = (MOCAP_OT_pick_model, MocapPreferences)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
