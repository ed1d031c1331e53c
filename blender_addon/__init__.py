"""Registration of the SMPL-X Mocap extension (Rigify-style, symmetric).

``register`` imports and registers :data:`MODULES` in order; when one fails, the ones already
registered are unregistered again and the error propagates (Blender reports it). ``unregister`` goes
in reverse over what did register, never raises, stops the capture (:func:`shutdown_session`: the
live link, then the child process and its shared memory) and removes the ``load_pre`` handler, which
stops the capture when another .blend file is loaded, and the ``undo_post`` / ``redo_post`` handler,
which clears a finished capture's status line (it may describe a bake that was undone), and the
``save_pre`` / ``save_post`` handlers, which keep a bake's files beside the saved .blend (``cache``).
"""
from __future__ import annotations

import importlib
import traceback
from types import ModuleType

import bpy
from bpy.app.handlers import persistent

# Relative to this package; "..operators" is the sibling package at the extension root.
MODULES = (".properties", ".preferences", "..operators", ".panel", ".export_panel", ".avatar_panel",
           ".retarget_panel")

_registered: list[ModuleType] = []


def shutdown_session() -> None:
    """End the live link (``pump.stop_all``: recorded keys are written), then stop the worker and
    unlink its shared memory (``session.shutdown``). A module missing from this build is skipped;
    never raises."""
    for name, func in (("pump", "stop_all"), ("session", "shutdown")):
        try:
            mod = importlib.import_module(f".{name}", __package__)
        except ImportError:  # not part of this build
            continue
        except Exception:  # noqa: BLE001 - a broken module must not break unregister
            traceback.print_exc()
            continue
        try:
            getattr(mod, func)()
        except Exception:  # noqa: BLE001 - shutdown is best effort by contract
            traceback.print_exc()


@persistent
def _on_load_pre(*_args) -> None:
    shutdown_session()


def _call(module: str, func: str, *args) -> None:
    """``module.func(*args)`` for a handler: a failure is printed, never raised (it must not break
    undo or saving)."""
    try:
        getattr(importlib.import_module(f".{module}", __package__), func)(*args)
    except Exception:  # noqa: BLE001
        traceback.print_exc()


@persistent
def _on_undo_redo(*_args) -> None:
    _call("session", "forget_finished")


@persistent
def _on_save_pre(filepath="", *_args) -> None:
    _call("cache", "keep_with_blend", filepath)


@persistent
def _on_save_post(filepath="", *_args) -> None:
    _call("cache", "after_save", filepath)


#: (handler list name, function) registered by :func:`register`, removed by :func:`unregister`.
_HANDLERS = (("load_pre", _on_load_pre), ("undo_post", _on_undo_redo), ("redo_post", _on_undo_redo),
             ("save_pre", _on_save_pre), ("save_post", _on_save_post))


def register() -> None:
    for name in MODULES:
        try:
            mod = importlib.import_module(name, __package__)
            mod.register()
        except Exception:
            unregister()
            raise
        _registered.append(mod)
    for list_name, func in _HANDLERS:
        handlers = getattr(bpy.app.handlers, list_name)
        if not any(_is_our_handler(h, func) for h in handlers):
            handlers.append(func)


def _is_our_handler(fn, func) -> bool:
    """Also matches the handler of an earlier import of this module (after a reload)."""
    return getattr(fn, "__module__", None) == __name__ and getattr(fn, "__name__", None) == func.__name__


def unregister() -> None:
    for list_name, func in _HANDLERS:
        handlers = getattr(bpy.app.handlers, list_name)
        for fn in [h for h in handlers if _is_our_handler(h, func)]:
            handlers.remove(fn)
    shutdown_session()
    while _registered:
        mod = _registered.pop()
        try:
            mod.unregister()
        except Exception:  # noqa: BLE001 - keep unregistering the rest
            traceback.print_exc()
