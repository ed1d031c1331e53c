"""The "Avatar" sub-panel of the capture panel: the Add Avatar button and what it is."""
from __future__ import annotations

import bpy

from .classes import register_classes, unregister_classes
from .panel import MocapSubPanel


class MOCAP_PT_avatar(MocapSubPanel, bpy.types.Panel):
    bl_idname = "MOCAP_PT_avatar"
    bl_label = "Avatar"

    def draw(self, context):
        col = self.layout.column()
        col.operator("mocap.add_avatar", icon="OUTLINER_OB_ARMATURE")
        col.label(text="MakeHuman body and rig (CC0)")


CLASSES = (MOCAP_PT_avatar,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
