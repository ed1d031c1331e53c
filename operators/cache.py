"""Clear the bake cache in the extension's user folder (thin operator over blender_addon.cache)."""
from __future__ import annotations

import bpy

from ..blender_addon import cache


class MOCAP_OT_clear_cache(bpy.types.Operator):
    """Delete the bake files kept in the add-on's user folder for unsaved .blend files (files the open .blend uses are kept)"""

    bl_idname = "mocap.clear_cache"
    bl_label = "Clear Bake Cache"
    bl_options = {"REGISTER"}

    def execute(self, context):
        n, freed = cache.clear()
        self.report({"INFO"}, f"removed {n} cached file(s), {freed / 1e6:.1f} MB")
        return {"FINISHED"}


CLASSES = (MOCAP_OT_clear_cache,)
