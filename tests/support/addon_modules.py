"""The add-on's bpy-free modules imported as Blender sees the installed extension: the repository
root as the package ``smplx_mocap``, without running the add-on's ``__init__`` files (they register
bpy classes), so the main suite tests them without Blender."""
from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def addon_module(name: str):
    """The module ``smplx_mocap.<name>`` (e.g. ``blender_addon.runtime``)."""
    for pkg_name, path in (("smplx_mocap", ROOT), ("smplx_mocap.blender_addon", ROOT / "blender_addon")):
        if pkg_name not in sys.modules:
            pkg = types.ModuleType(pkg_name)
            pkg.__path__ = [str(path)]
            sys.modules[pkg_name] = pkg
    return importlib.import_module(f"smplx_mocap.{name}")
