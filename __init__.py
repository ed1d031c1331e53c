"""SMPL-X Mocap Blender extension (id ``smplx_mocap``): monocular motion capture to an SMPL-X armature.

The repository root is the extension source; registration lives in :mod:`.blender_addon`. The
imports are inside the functions so that importing this package without Blender (pytest collects
the repository root as a package) does not need bpy.
"""


def register() -> None:
    from .blender_addon import register as _register
    _register()


def unregister() -> None:
    from .blender_addon import unregister as _unregister
    _unregister()


__all__ = ["register", "unregister"]
