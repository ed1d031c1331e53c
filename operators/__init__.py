"""Thin bpy operators. The modules of :data:`MODULES` are registered in that order and unregistered in
reverse; each exposes ``CLASSES`` (a tuple of operator classes) or ``register()`` / ``unregister()``.

A module that fails to import or register is reported (console and :data:`LOAD_ERRORS`, shown by the
panel) and skipped, so the rest of the add-on, including the runtime setup, stays usable.
"""
from __future__ import annotations

import importlib
import traceback
from types import ModuleType

from ..blender_addon.classes import register_classes, unregister_classes

#: The operator modules, relative to this package, in registration order (unregistered in reverse).
MODULES = (".bake", ".live", ".cache", ".retarget", ".runtime", ".export", ".avatar")

LOAD_ERRORS: dict[str, str] = {}  # module name ("bake") -> one-line error
_registered: list[ModuleType] = []


def _register_module(mod: ModuleType) -> None:
    if hasattr(mod, "register"):
        mod.register()
    else:
        register_classes(getattr(mod, "CLASSES", ()))


def _unregister_module(mod: ModuleType) -> None:
    if hasattr(mod, "unregister"):
        mod.unregister()
    else:
        unregister_classes(getattr(mod, "CLASSES", ()))


def register() -> None:
    LOAD_ERRORS.clear()
    for name in MODULES:
        try:
            mod = importlib.import_module(name, __package__)
            _register_module(mod)
        except Exception as exc:  # noqa: BLE001 - one broken operator module must not block the rest
            LOAD_ERRORS[name.lstrip(".")] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            traceback.print_exc()
            continue
        _registered.append(mod)


def unregister() -> None:
    from ..blender_addon import runtime

    runtime.cancel_active()
    while _registered:
        mod = _registered.pop()
        try:
            _unregister_module(mod)
        except Exception:  # noqa: BLE001 - keep unregistering the others
            traceback.print_exc()
