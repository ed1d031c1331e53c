"""The extension as Blender sees it: the zip, install, enable/disable, registration, the runtime setup.

Runs in headless bpy (5.0.1 in ``.venv-blender``, 4.2 LTS in ``.venv-blender42``) with Blender's user
folders in a temporary directory (see conftest.py).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import stat
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import bpy
import pytest

from conftest import (ADDON_ID, MODULE, REPO, ROOT, USER_RESOURCES, descendant_pids, disable, enable,
                      install_zip, wait_no_children)

BL_PKG_CLI = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
ACTION_OPERATORS = ("MOCAP_OT_live_start", "MOCAP_OT_live_stop", "MOCAP_OT_record_toggle",
                    "MOCAP_OT_bake", "MOCAP_OT_resolve")


def _load_by_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while the class is created
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def blender_ext():
    """Blender's own extension command-line module (build, validate, PathPatternMatch)."""
    assert BL_PKG_CLI.is_file(), f"{BL_PKG_CLI} missing from the bpy wheel"
    return _load_by_path("_blender_ext_cli", BL_PKG_CLI)


@pytest.fixture(scope="module")
def build_script():
    return _load_by_path("_build_extension", ROOT / "scripts" / "build_extension.py")


def addon_module(name: str):
    """A submodule of the installed extension, e.g. ``addon_module("blender_addon.runtime")``."""
    return importlib.import_module(f"{MODULE}.{name}")


@pytest.fixture
def runtime(extension_module):
    """The installed ``blender_addon.runtime``, with no setup job left over from another test."""
    mod = addon_module("blender_addon.runtime")
    mod.cancel_active()
    yield mod
    mod.cancel_active()


def our_load_pre_handlers(module: str = MODULE) -> list:
    return [h for h in bpy.app.handlers.load_pre if getattr(h, "__module__", "").startswith(module)]


def make_fake_python(path: Path, body: str, version: str = "3 11") -> Path:
    """An executable that answers the version probe like Python ``version`` and otherwise runs ``body``."""
    path.write_text("#!/bin/sh\n"
                    f'case "$*" in *version_info*) echo "{version}"; exit 0;; esac\n'
                    f"{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# --- the zip -----------------------------------------------------------------------------------------
def test_zip_is_what_blenders_own_build_makes(extension_zip, blender_ext, tmp_path):
    """Same members, same bytes as ``blender --command extension build``; Blender validates the zip."""
    out = tmp_path / "bl"
    out.mkdir()
    proc = subprocess.run([sys.executable, str(BL_PKG_CLI), "build", "--source-dir", str(ROOT),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reference = out / extension_zip.name
    with zipfile.ZipFile(reference) as ref, zipfile.ZipFile(extension_zip) as ours:
        assert sorted(ours.namelist()) == sorted(ref.namelist())
        for name in ref.namelist():
            assert ours.read(name) == ref.read(name), name
    proc = subprocess.run([sys.executable, str(BL_PKG_CLI), "validate", str(extension_zip)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Success" in proc.stdout, proc.stdout + proc.stderr


def _tree_paths(root: Path, max_depth: int = 3) -> list[tuple[str, bool]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        depth = len(rel.parts)
        prefix = "" if depth == 0 else rel.as_posix() + "/"
        out += [(prefix + d + "/", True) for d in dirnames] + [(prefix + f, False) for f in filenames]
        if depth >= max_depth - 1:
            dirnames.clear()
    return out


SYNTHETIC_PATHS = [
    ("a/b/c.py", False), ("a/b/", True), ("a/", True), ("x/a/b/", True), ("src/mod.py", False), ("src/a/b/mod.py", False), ("x/src/q/mod.py", False), ("deep/x/y/z.txt", False),
    ("keep.txt", False), ("doc/keep.txt", False), ("doc/", True), ("docs/", True), ("top", False),
    ("sub/top", False), ("top/", True), ("abc", False), ("a1c/", True), ("bee.md", False),
    ("x/y/bee.md", False), ("x/foo", False), ("foo/", True), ("x/deep/y", False), ("a/x/y/b", False),
    (".hidden/", True), ("src/.hidden", False), ("file.blend1", False), ("pkg.zip", False),
    ("sub/pkg.zip", False), ("x/__pycache__/", True), ("m.pyc", False),
]
PATTERN_SETS = [
    ["**/foo", "src/**/mod.py", "/x/*.py", "*.txt", "!keep.txt"],
    ["doc/", "/top", "**/deep/**", "a?c", "[ab]*.md"],
    ["__pycache__/", ".*", "/*.zip", "*.blend[1-9]"],
    ["*", "!*.py", "!*/"],
]


def test_exclude_patterns_agree_with_blender(build_script, blender_ext):
    """Our gitignore-style matcher gives Blender's answer for the manifest's patterns on every path of
    the repository tree, and for tricky patterns (``**``, anchors, directory-only, ``!``) too.
    (Not compared: Blender's regex lets ``a/**/b`` match ``ab``; we keep gitignore's answer.)"""
    import tomllib

    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    sets = [manifest["build"]["paths_exclude_pattern"], *PATTERN_SETS]
    paths = _tree_paths(ROOT) + SYNTHETIC_PATHS
    for patterns in sets:
        ours = build_script.compile_patterns(tuple(patterns))
        theirs = blender_ext.PathPatternMatch(patterns)
        for path, is_dir in paths:
            assert build_script.is_excluded(ours, path, is_dir) == theirs.test_path(path), (patterns, path)


# --- enable / disable --------------------------------------------------------------------------------
def test_enable_disable_three_times(extension_module, bpy_clean, no_leaks):
    """Every registered piece appears on enable and is gone on disable, three times over."""
    for _ in range(3):
        enable(extension_module)
        panel = bpy.types.MOCAP_PT_main
        assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "Mocap")
        assert isinstance(bpy.context.scene.smplx_mocap, bpy.types.PropertyGroup)
        prefs = bpy.context.preferences.addons[extension_module].preferences
        assert type(prefs).bl_idname == extension_module
        assert hasattr(bpy.types, "MOCAP_OT_setup_runtime") and hasattr(bpy.types, "MOCAP_OT_pick_model")
        assert bpy.ops.mocap.setup_runtime.poll()
        assert len(our_load_pre_handlers()) == 1
        disable(extension_module)
        assert extension_module not in bpy.context.preferences.addons
        for name in ("MOCAP_PT_main", "MOCAP_OT_setup_runtime", "MOCAP_OT_pick_model", *ACTION_OPERATORS):
            assert not hasattr(bpy.types, name), name
        assert not hasattr(bpy.types.Scene, "smplx_mocap")
        assert not our_load_pre_handlers()


def test_operator_modules_register_and_panel_actions(installed_addon):
    """Every module of ``operators/`` is in its explicit MODULES tuple and registered (nothing in
    LOAD_ERRORS); the panel's buttons name operators by idname matching their class names, available
    exactly when registered; the status line comes from the real session module."""
    ops = addon_module("operators")
    assert ops.LOAD_ERRORS == {}
    on_disk = sorted(p.stem for p in (ROOT / "operators").glob("*.py") if not p.stem.startswith("_"))
    assert sorted(m.lstrip(".") for m in ops.MODULES) == on_disk
    defined = set()
    for module in (m.lstrip(".") for m in ops.MODULES):
        for cls in getattr(addon_module(f"operators.{module}"), "CLASSES", ()):
            assert cls.is_registered, cls.__name__
            defined.add(cls.__name__)
    assert "MOCAP_OT_setup_runtime" in defined
    panel = addon_module("blender_addon.panel")
    for idname, rna_name, *_ in panel.ACTIONS:
        prefix, name = idname.split(".")
        assert rna_name == f"{prefix.upper()}_OT_{name}"
        assert panel.operator_available(rna_name) == (rna_name in defined)
    assert panel.session_status() == ("idle", False)


def test_session_does_not_import_pump(installed_addon):
    """No import loop: the pump uses the session, the session never imports the pump (the
    registration module stops the live link before ``session.shutdown``)."""
    import ast

    tree = ast.parse((ROOT / "blender_addon" / "session.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not any(name == "pump" or name.endswith(".pump") for name in imported), imported


def test_ui_icons_exist(installed_addon):
    """Every icon the panel and preferences name is one of Blender's (a wrong one fails at draw time)."""
    import re

    icons = set(bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys())
    used = {icon for *_, icon in addon_module("blender_addon.panel").ACTIONS}
    for rel in ("blender_addon/panel.py", "blender_addon/preferences.py"):
        used |= set(re.findall(r'icon="([A-Z_0-9]+)"', (ROOT / rel).read_text()))
    assert used and used <= icons, sorted(used - icons)


class CheckedOperatorProperties:
    """What ``layout.operator`` returns: setting a property the operator lacks (or an enum item it
    does not have) fails; what was set is kept in the call's arguments under ``"set"``."""

    def __init__(self, rna, call: dict):
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_set", call.setdefault("set", {}))

    def __setattr__(self, name, value):
        prop = self._rna.properties.get(name)
        assert prop is not None, f"operator {self._rna.identifier} has no property {name!r}"
        if prop.type == "ENUM":
            assert value in prop.enum_items.keys(), f"{self._rna.identifier}.{name}={value!r} unknown"
        self._set[name] = value


class CheckedLayout:
    """Stands in for ``bpy.types.UILayout`` in a draw call (headless bpy never draws): every method,
    argument and attribute must be one this Blender's UILayout has (its RNA), enum arguments (icons)
    one of its items, ``prop`` a property of the data, ``operator`` a registered operator. Layouts it
    returns (row, column, box, ...) are checked the same way; ``calls`` records (method, arguments)."""

    _rna = bpy.types.UILayout.bl_rna

    def __init__(self, calls: list | None = None):
        object.__setattr__(self, "calls", [] if calls is None else calls)

    def __setattr__(self, name, value):
        prop = self._rna.properties.get(name)
        assert prop is not None and not prop.is_readonly, f"UILayout.{name} is not settable in {bpy.app.version_string}"
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        fn = self._rna.functions.get(name)
        assert fn is not None, f"UILayout.{name}() does not exist in Blender {bpy.app.version_string}"
        params = [p for p in fn.parameters if not p.is_output]
        returns_layout = any(p.is_output and getattr(p, "fixed_type", None) is not None
                             and p.fixed_type.identifier == "UILayout" for p in fn.parameters)

        def call(*args, **kw):
            where = f"UILayout.{name}() in Blender {bpy.app.version_string}"
            assert len(args) <= len(params), f"{where}: {len(args)} positional arguments"
            given = {p.identifier: a for p, a in zip(params, args)}
            assert not set(given) & set(kw), f"{where}: {sorted(set(given) & set(kw))} given twice"
            given.update(kw)
            known = {p.identifier: p for p in params}
            assert set(given) <= set(known), f"{where} has no argument {sorted(set(given) - set(known))}"
            missing = [p.identifier for p in params if p.is_required and p.identifier not in given]
            assert not missing, f"{where}: {missing} missing"
            for key, value in given.items():
                if known[key].type == "ENUM" and isinstance(value, str):
                    assert value in known[key].enum_items.keys(), f"{where}: {key}={value!r} unknown"
            if name == "prop":
                assert given["property"] in given["data"].bl_rna.properties, f"no property {given['property']!r}"
            if name == "operator":
                module, op = given["operator"].split(".")
                try:
                    rna = getattr(getattr(bpy.ops, module), op).get_rna_type()
                except (AttributeError, KeyError):
                    pytest.fail(f"operator {given['operator']} not registered")
                self.calls.append((name, given))
                return CheckedOperatorProperties(rna, given)
            self.calls.append((name, given))
            return CheckedLayout(self.calls) if returns_layout else None
        return call


def test_panel_and_preferences_draw_with_this_blenders_ui_api(installed_addon):
    """The sidebar panel (every source type, recording on and off) and the preferences draw with
    only what this Blender's UILayout has."""
    props = bpy.context.scene.smplx_mocap
    panel = bpy.types.MOCAP_PT_main
    assert panel.poll(bpy.context)
    drawn_props = set()
    for source in ("VIDEO", "FOLDER", "WEBCAM"):
        for record in (False, True):
            props.source_type, props.record = source, record
            layout = CheckedLayout()
            panel.draw(types.SimpleNamespace(layout=layout), bpy.context)
            ops = [kw["operator"] for name, kw in layout.calls if name == "operator"]
            assert ops == ["mocap.live_start", "mocap.live_stop", "mocap.record_toggle", "mocap.bake",
                           "mocap.resolve", "mocap.retarget_take", "mocap.setup_runtime", "mocap.clear_cache"]
            assert not any(name == "label" and kw.get("icon") == "ERROR" for name, kw in layout.calls)
            drawn_props |= {kw["property"] for name, kw in layout.calls if name == "prop"}
    assert {"video_path", "folder_path", "webcam_index", "model_path", "match_scene", "add_camera", "clip_start",
            "clip_end", "root_bone", "retarget_target"} <= drawn_props
    props.record = False
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    cls = type(prefs)
    system = bpy.context.preferences.system
    online_before = system.use_online_access
    try:
        for online in (False, True):      # offline: why the setup cannot download, and the switch
            system.use_online_access = online
            layout = CheckedLayout()
            cls.layout = layout           # how Blender's preferences editor hands the layout over
            try:
                cls.draw(prefs, bpy.context)
            finally:
                del cls.layout
            assert [kw["property"] for name, kw in layout.calls if name == "prop"] == \
                ["model_path", "python_path", "runtime_device"] + ([] if online else ["use_online_access"])
            assert [kw["operator"] for name, kw in layout.calls if name == "operator"] == ["mocap.pick_model",
                                                                                           "mocap.setup_runtime"]
            offline = [kw for name, kw in layout.calls if name == "label" and "Online access is off" in kw["text"]]
            assert len(offline) == (0 if online else 1)
    finally:
        system.use_online_access = online_before


def test_scene_settings(installed_addon, tmp_path):
    """Defaults, limits, and the settings saved with the .blend file (reloading runs the load_pre hook)."""
    s = bpy.context.scene.smplx_mocap
    assert (s.source_type, s.device, s.smoothing, s.fov, s.webcam_index) == ("VIDEO", "AUTO", 0.5, 60.0, 0)
    assert (s.use_body, s.use_hands, s.use_face, s.record, s.target) == (True, True, True, False, None)
    rna = type(s).bl_rna.properties
    assert [i.identifier for i in rna["source_type"].enum_items] == ["VIDEO", "FOLDER", "WEBCAM"]
    assert [i.identifier for i in rna["device"].enum_items] == ["AUTO", "GPU", "CPU"]
    assert (rna["video_path"].subtype, rna["folder_path"].subtype) == ("FILE_PATH", "DIR_PATH")
    s.smoothing = 2.0
    assert s.smoothing == 1.0
    properties = addon_module("blender_addon.properties")
    arm = bpy.data.objects.new("Arm", bpy.data.armatures.new("Arm"))
    mesh = bpy.data.objects.new("Mesh", bpy.data.meshes.new("Mesh"))
    assert properties._is_armature(s, arm) and not properties._is_armature(s, mesh)
    bpy.context.collection.objects.link(arm)
    s.source_type, s.webcam_index, s.smoothing, s.fov, s.use_face, s.target = "WEBCAM", 2, 0.25, 75.0, False, arm
    path = tmp_path / "settings.blend"
    assert bpy.ops.wm.save_as_mainfile(filepath=str(path)) == {"FINISHED"}
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    assert bpy.context.scene.smplx_mocap.source_type == "VIDEO"
    assert bpy.ops.wm.open_mainfile(filepath=str(path)) == {"FINISHED"}
    s = bpy.context.scene.smplx_mocap
    assert (s.source_type, s.webcam_index, s.smoothing, s.fov, s.use_face) == ("WEBCAM", 2, 0.25, 75.0, False)
    assert s.target is not None and s.target.name == "Arm"
    assert len(our_load_pre_handlers()) == 1  # persistent across file loads


def test_preferences(installed_addon):
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    rna = type(prefs).bl_rna.properties
    assert rna["model_path"].subtype == "FILE_PATH" and rna["python_path"].subtype == "FILE_PATH"
    assert (prefs.model_path, prefs.python_path) == ("", "")
    assert addon_module("blender_addon.preferences").get() == prefs
    assert bpy.types.MOCAP_OT_pick_model.filename_ext == ".npz"


def _broken_copy(extension_zip: Path, tmp_path: Path, broken_id: str, member: str, patch) -> Path:
    """A copy of the extension zip under id ``broken_id`` with ``patch(bytes) -> bytes`` applied to
    the file ``member``."""
    broken_zip = tmp_path / f"{broken_id}-0.zip"
    with zipfile.ZipFile(extension_zip) as src, zipfile.ZipFile(broken_zip, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "blender_manifest.toml":
                data = data.replace(f'id = "{ADDON_ID}"'.encode(), f'id = "{broken_id}"'.encode())
            if name == member:
                data = patch(data)
            dst.writestr(name, data)
    return broken_zip


def test_failed_registration_is_rolled_back(extension_zip, extension_module, bpy_clean, tmp_path, no_leaks):
    """A module that fails to register leaves nothing behind (earlier modules unregistered, no handler),
    and the real add-on still enables afterwards."""
    broken_id = f"{ADDON_ID}_broken"
    install_zip(_broken_copy(extension_zip, tmp_path, broken_id, "blender_addon/panel.py",
                             lambda data: data + b'\n\ndef register():\n    raise RuntimeError("panel failed on purpose")\n'))
    module = f"bl_ext.{REPO}.{broken_id}"
    try:
        try:
            result = bpy.ops.preferences.addon_enable(module=module)
        except RuntimeError as exc:  # the operator reports the add-on's error
            assert "panel failed on purpose" in str(exc)
            result = {"CANCELLED"}
        assert result != {"FINISHED"} or module not in bpy.context.preferences.addons
        assert module not in bpy.context.preferences.addons
        assert not hasattr(bpy.types.Scene, "smplx_mocap")
        for name in ("MOCAP_OT_setup_runtime", "MOCAP_OT_pick_model", *ACTION_OPERATORS):
            assert not hasattr(bpy.types, name), name
        assert not our_load_pre_handlers(module)
    finally:
        repo_index = [r.module for r in bpy.context.preferences.extensions.repos].index(REPO)
        bpy.ops.extensions.package_uninstall(repo_index=repo_index, pkg_id=broken_id)
    assert not (USER_RESOURCES / "extensions" / REPO / broken_id).exists()
    enable(extension_module)
    assert hasattr(bpy.types, "MOCAP_PT_main")
    disable(extension_module)


def test_a_broken_operator_module_is_reported_and_skipped(extension_zip, extension_module, bpy_clean, tmp_path,
                                                          no_leaks):
    """An operator module that fails to import is reported in LOAD_ERRORS (the panel shows it) and
    skipped: the other operator modules register, the panel greys its buttons, disable removes all."""
    broken_id = f"{ADDON_ID}_oplive"
    future = b"from __future__ import annotations\n"
    install_zip(_broken_copy(extension_zip, tmp_path, broken_id, "operators/live.py",
                             lambda data: data.replace(future, future + b'raise RuntimeError("live failed on purpose")\n', 1)))
    module = f"bl_ext.{REPO}.{broken_id}"
    live_ops = ("MOCAP_OT_live_start", "MOCAP_OT_live_stop", "MOCAP_OT_record_toggle")
    try:
        enable(module)
        ops = importlib.import_module(f"{module}.operators")
        assert ops.LOAD_ERRORS == {"live": "RuntimeError: live failed on purpose"}
        for name in ("MOCAP_OT_bake", "MOCAP_OT_resolve", "MOCAP_OT_setup_runtime"):
            assert hasattr(bpy.types, name), name
        assert not any(hasattr(bpy.types, name) for name in live_ops)
        layout = CheckedLayout()
        bpy.types.MOCAP_PT_main.draw(types.SimpleNamespace(layout=layout), bpy.context)
        labels = [(kw.get("text"), kw.get("icon")) for name, kw in layout.calls if name == "label"]
        assert ("operators.live: RuntimeError: live failed on purpose", "ERROR") in labels
        assert ("Start Live (not available)", "PLAY") in labels
        disable(module)
        for name in ("MOCAP_PT_main", "MOCAP_OT_setup_runtime", *ACTION_OPERATORS):
            assert not hasattr(bpy.types, name), name
        assert not our_load_pre_handlers(module)
    finally:
        disable(module)
        repo_index = [r.module for r in bpy.context.preferences.extensions.repos].index(REPO)
        bpy.ops.extensions.package_uninstall(repo_index=repo_index, pkg_id=broken_id)
    assert not (USER_RESOURCES / "extensions" / REPO / broken_id).exists()


# --- the inference runtime ---------------------------------------------------------------------------
def test_find_system_python(runtime, tmp_path):
    old, new, blender = (tmp_path / d for d in ("old", "new", "blender"))
    for d in (old, new, blender):
        d.mkdir()
    make_fake_python(old / "python3", "exit 0", version="3 10")
    make_fake_python(new / "python3", "exit 0")
    make_fake_python(blender / "python3.11", "exit 0")
    search = os.pathsep.join(map(str, (blender, old, new)))
    assert runtime.find_system_python(search, exclude=[blender]) == str(new / "python3")
    assert runtime.find_system_python(search, exclude=[]) == str(blender / "python3.11")
    assert runtime.find_system_python(os.pathsep.join(map(str, (blender, old))), exclude=[blender]) is None
    assert runtime.python_version(tmp_path / "missing") is None
    found = runtime.find_system_python(exclude=runtime.blender_python_dirs())
    assert found is not None and runtime.python_version(found) == (3, 11)
    assert not Path(found).resolve().is_relative_to(Path(bpy.utils.resource_path("LOCAL")).resolve())


def test_worker_python_choice(installed_addon, runtime, tmp_path):
    """The preference when executable, else the completed private runtime, else None (with a hint)."""
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    paths = runtime.RuntimePaths(tmp_path / "user")
    assert runtime.worker_python(prefs, paths) is None
    assert "Set up inference runtime" in runtime.status_line(prefs, paths)
    fake = make_fake_python(tmp_path / "mypython", "exit 0")
    prefs.python_path = str(fake)
    assert runtime.worker_python(prefs, paths) == str(fake)
    assert runtime.status_line(prefs, paths) == f"Worker Python: {fake}"
    fake.chmod(0o644)  # no longer executable: fall back to the private runtime, which is not there
    assert runtime.worker_python(prefs, paths) is None
    assert runtime.status_line(prefs, paths).startswith("Not an executable")
    prefs.python_path = ""
    (paths.venv / "bin").mkdir(parents=True)
    make_fake_python(paths.venv / "bin" / "python", "exit 0")
    assert runtime.worker_python(prefs, paths) is None  # created but never completed: no stamp
    paths.stamp.write_text(runtime.requirements_digest() + "\n")
    assert runtime.worker_python(prefs, paths) == str(paths.python)
    assert runtime.status_line(prefs, paths) == f"Runtime ready: {paths.python}"
    paths.stamp.write_text("0" * 64 + "\n")
    assert runtime.worker_python(prefs, paths) == str(paths.python)
    assert runtime.status_line(prefs, paths).startswith("Runtime outdated")


def test_setup_job_progress_log_and_cancel(runtime, tmp_path, no_leaks):
    fake = make_fake_python(tmp_path / "python", 'echo "Collecting alpha"; echo "Collecting beta"; sleep 60')
    log, stamp = tmp_path / "setup.log", tmp_path / "stamp"
    step = runtime.Step("Installing", (str(fake), "-m", "pip"), 1.0, expected_items=4)
    job = runtime.SetupJob([step], log, (stamp, "abc")).start()
    end = time.monotonic() + 10
    while "2/4" not in job.poll().message and time.monotonic() < end:
        time.sleep(0.05)
    # pip's stage, never its raw lines: the second of four requirements is coming
    assert job.state.running and job.state.message == "Downloading packages (2/4)"
    assert job.state.fraction == pytest.approx(0.5 * 1 / 4)
    assert job.pid in descendant_pids()
    state = job.cancel()
    assert state.phase == "cancelled" and not stamp.exists()
    assert not wait_no_children()  # the shell and its `sleep` are gone
    text = log.read_text()
    assert f"$ {fake} -m pip" in text and "Collecting alpha" in text


def test_setup_job_failure_reports_the_last_line(runtime, tmp_path, no_leaks):
    fake = make_fake_python(tmp_path / "python", 'echo "Collecting mediapipe==0.10.21"; '
                            'echo "ERROR: No matching distribution found for mediapipe==0.10.21" >&2; exit 1')
    steps = [runtime.Step("Creating", (str(fake), "-m", "venv", "x"), 0.1),
             runtime.Step("Installing", (str(fake), "-m", "pip"), 0.9, expected_items=1)]
    state = runtime.SetupJob(steps, tmp_path / "setup.log", None).start().wait(timeout=20)
    assert state.phase == "failed" and state.returncode == 1
    assert state.message == "Creating failed: No matching distribution found for mediapipe==0.10.21"
    missing = runtime.SetupJob([runtime.Step("Creating", (str(tmp_path / "nope"),), 1.0)],
                               tmp_path / "setup2.log").start()
    assert missing.state.phase == "failed" and "nope" in missing.state.message
    no_venv = make_fake_python(tmp_path / "python3", 'echo "No module named venv"; exit 1')
    paths = runtime.RuntimePaths(tmp_path / "user")
    job = runtime.start_setup(base_python=str(no_venv), paths=paths, online_access=True)
    assert job.wait(timeout=20).phase == "failed"
    assert runtime.status_line(None, paths).startswith(
        "Setup failed: Creating the environment failed: No module named venv")
    assert runtime.worker_python(None, paths) is None


def test_setup_operator_creates_the_private_venv(installed_addon, runtime, no_leaks):
    """``mocap.setup_runtime`` (skip pip) makes a real Python 3.11 venv in the extension's user dir."""
    assert bpy.ops.mocap.setup_runtime(skip_pip=True) == {"FINISHED"}
    paths = runtime.runtime_paths(create=False)
    user_dir = Path(bpy.utils.extension_path_user(installed_addon))
    assert paths.venv == user_dir / "runtime" and user_dir.is_relative_to(USER_RESOURCES)
    out = subprocess.run([str(paths.python), "-c", "import sys; print(sys.prefix, sys.version_info[:2] == (3, 11))"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == [str(paths.venv), "True"]
    assert "-m venv --without-pip" in paths.log.read_text()
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    assert runtime.worker_python(prefs) is None  # nothing installed: not a usable runtime
    with pytest.raises(RuntimeError, match="is not Python 3.11"):
        bpy.ops.mocap.setup_runtime(base_python=str(paths.venv / "bin" / "nonexistent"), skip_pip=True)


def test_disable_kills_a_running_setup(installed_addon, runtime, tmp_path, no_leaks):
    fake = make_fake_python(tmp_path / "python3", "sleep 60")
    job = runtime.start_setup(base_python=str(fake), paths=runtime.RuntimePaths(tmp_path / "user"), online_access=True)
    assert job.state.running and job.pid in descendant_pids()
    assert not bpy.ops.mocap.setup_runtime.poll()  # one setup at a time
    disable(installed_addon)
    assert job.state.phase == "cancelled" and runtime.active_job() is None
    assert not wait_no_children()
