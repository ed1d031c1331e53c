"""Registering a module's tuple of bpy classes, the one way every module of the add-on does it.

``register_classes`` registers in order and, when one class fails, unregisters the ones it already
registered before re-raising (no half-registered module); ``unregister_classes`` goes in reverse
and skips classes that are not registered, so it never raises after a partial registration.
"""
from __future__ import annotations

import bpy


def register_classes(classes) -> None:
    done = []
    try:
        for cls in classes:
            bpy.utils.register_class(cls)
            done.append(cls)
    except Exception:
        for cls in reversed(done):
            bpy.utils.unregister_class(cls)
        raise


def unregister_classes(classes) -> None:
    for cls in reversed(classes):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
