"""Thin bpy operators. Every module here is registered in name order: it exposes ``CLASSES`` (a tuple
of operator classes) or ``register()`` / ``unregister()`` functions.

A module that fails to import or register is reported (console and :data:`LOAD_ERRORS`, shown by the
panel) and skipped, so the rest of the add-on, including the runtime setup, stays usable.
"""
from __future__ import annotations

import importlib
import pkgutil
import traceback
from types import ModuleType

from ..blender_addon.classes import register_classes, unregister_classes

LOAD_ERRORS: dict[str, str] = {}  # module name -> one-line error
_registered: list[ModuleType] = []


def module_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


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
    for name in module_names():
        try:
            mod = importlib.import_module(f".{name}", __package__)
            _register_module(mod)
        except Exception as exc:  # noqa: BLE001 - one broken operator module must not block the rest
            LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
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
