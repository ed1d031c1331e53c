"""The extension package without Blender: manifest fields, the zip that scripts/build_extension.py
makes, its exclude patterns, and the rule that code Blender imports needs only bpy, numpy and the
standard library."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_extension.py"
MANIFEST = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
PERMISSION_KEYS = {"files", "network", "clipboard", "camera", "microphone"}  # Blender's manifest schema
BLENDER_PACKAGES = ("blender_addon", "operators")
# Modules Blender itself may load: bpy's own, numpy, and this extension.
BLENDER_SIDE_THIRD_PARTY = {"bpy", "bpy_extras", "mathutils", "addon_utils", "gpu", "gpu_extras", "bmesh",
                            "numpy", "_bpy", "idprop", "bl_math", "rna_prop_ui", "bl_ui"}


def _load_build_script():
    spec = importlib.util.spec_from_file_location("_build_extension", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


build_extension = _load_build_script()


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = run_build("--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.is_file()
    return path


def _terse_ok(text: str) -> bool:
    """Blender's rule for tagline and permission reasons: ≤ 64 chars, no trailing punctuation."""
    return 0 < len(text) <= 64 and text == text.strip() and (text[-1].isalnum() or text[-1] in ")]}")


# --- manifest ----------------------------------------------------------------------------------------
def test_manifest_fields():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert MANIFEST["schema_version"] == "1.0.0"
    assert MANIFEST["id"] == "smplx_mocap" and MANIFEST["type"] == "add-on"
    assert MANIFEST["name"] == "SMPL-X Mocap" and MANIFEST["maintainer"].strip()
    assert MANIFEST["version"] == pyproject["project"]["version"]
    assert MANIFEST["blender_version_min"] == "4.2.0"
    assert MANIFEST["license"] == ["SPDX:MIT"]
    assert _terse_ok(MANIFEST["tagline"])
    perms = MANIFEST["permissions"]
    assert {"files", "camera"} <= set(perms) <= PERMISSION_KEYS
    assert all(_terse_ok(reason) for reason in perms.values()), perms


def test_manifest_excludes_development_files():
    patterns = build_extension.compile_patterns(tuple(MANIFEST["build"]["paths_exclude_pattern"]))
    for path, is_dir in [("tests/", True), ("scripts/", True), ("dev/", True), (".venv/", True),
                         (".venv-blender/", True), ("inference/__pycache__/", True), (".git/", True),
                         (".gitignore", False), (".ci/", True), ("demo_out/", True), (".cache/", True),
                         ("dist/", True), ("smplx_mocap-0.1.0.zip", False), ("x.pyc", False)]:
        assert build_extension.is_excluded(patterns, path, is_dir), path
    for path, is_dir in [("inference/", True), ("blender_addon/", True), ("operators/", True),
                         ("__init__.py", False), ("requirements-worker.txt", False),
                         ("inference/tests_helpers.py", False)]:
        assert not build_extension.is_excluded(patterns, path, is_dir), path


# --- the zip -----------------------------------------------------------------------------------------
def test_zip_contents(built_zip):
    assert built_zip.name == f"{MANIFEST['id']}-{MANIFEST['version']}.zip"
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        assert zf.testzip() is None
        assert tomllib.loads(zf.read("blender_manifest.toml").decode()) == MANIFEST
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
    # the runtime set-up installs from the requirement files (the GPU option from all three)
    assert {"__init__.py", "blender_manifest.toml", "requirements-worker.txt", "requirements-gpu.txt",
            "requirements-convert.txt", "blender_addon/__init__.py",
            "operators/__init__.py", "inference/__init__.py"} <= names
    shipped = {p.relative_to(ROOT).as_posix() for pkg in ("inference", *BLENDER_PACKAGES)
               for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts}
    assert shipped <= names, sorted(shipped - names)
    data = {p.relative_to(ROOT).as_posix() for p in (ROOT / "inference").rglob("*.json")}  # rig profiles, tables
    assert data and data <= names, sorted(data - names)
    forbidden = ("tests/", "scripts/", "dev/", ".venv", ".git", ".ci/", ".cache/", "demo_out/", "dist/")
    assert not [n for n in names if n.startswith(forbidden) or "__pycache__" in n or n.endswith(".pyc")]
    assert not {"pyproject.toml", "requirements-test.txt", "requirements-blender.txt", "requirements-blender42.txt"} & names


#: Where the extension's code starts: Blender registers the package, the worker and the CLI are
#: started as ``python -m`` (the add-on's runtime set-up runs ``inference.body.solve_numba``'s
#: warm-up the same way).
ENTRY_MODULES = ("__init__", "blender_addon.__init__", "inference.__main__", "inference.app.worker",
                 "inference.detect.convert.__main__")


def _zip_import_graph(zf: zipfile.ZipFile) -> dict[str, set[str]]:
    """module → modules of the zip it imports (anywhere in the file), for every .py in the zip."""
    modules = {n[:-3].replace("/", "."): n for n in zf.namelist() if n.endswith(".py")}
    graph: dict[str, set[str]] = {}
    for mod, name in modules.items():
        pkg = mod.split(".")[:-1]
        edges = graph.setdefault(mod, set())
        for node in ast.walk(ast.parse(zf.read(name))):
            if isinstance(node, ast.ImportFrom):
                base = (pkg[:len(pkg) - node.level + 1] if node.level else []) + (node.module.split(".") if node.module else [])
                for a in node.names:
                    for cand in (".".join(base + [a.name]), ".".join(base)):
                        for m in (cand, cand + ".__init__"):
                            if m in modules:
                                edges.add(m)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("."):
                # a registration tuple names modules as strings for importlib (".panel", "..operators")
                level = len(node.value) - len(node.value.lstrip("."))
                target = ".".join(pkg[:len(pkg) - level + 1] + [node.value.lstrip(".")])
                edges.update(m for m in (target, target + ".__init__") if m in modules)
    return graph


def test_zip_holds_no_test_helper_and_no_dead_module(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = zf.namelist()
        helpers = [n for n in names if Path(n).stem in ("bvh", "synthetic", "testing_model", "evaluate")
                   or n.startswith(("tests/", "support/"))]
        assert not helpers, f"test helpers in the extension: {helpers}"
        graph = _zip_import_graph(zf)
    reached, todo = set(), [m for m in ENTRY_MODULES if m in graph]
    assert len(todo) == len(ENTRY_MODULES), todo
    while todo:
        mod = todo.pop()
        if mod not in reached:
            reached.add(mod)
            todo.extend(graph[mod])
    # a package's __init__ is loaded with any of its modules
    reached |= {".".join(m.split(".")[:k]) + ".__init__" for m in reached for k in range(1, m.count(".") + 1)}
    dead = sorted(set(graph) - reached)
    assert not dead, f"modules nothing in the extension imports: {dead}"


def test_build_is_deterministic(built_zip, tmp_path):
    proc = run_build("--out-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    second = Path(proc.stdout.strip().splitlines()[-1])
    assert second.read_bytes() == built_zip.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [built_zip.name]  # no temporary file left


def _mini_tree(root: Path, manifest: str, files: dict[str, str]) -> Path:
    root.mkdir()
    (root / "blender_manifest.toml").write_text(manifest)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


GOOD_MANIFEST = """schema_version = "1.0.0"
id = "mini"
version = "1.2.3"
name = "Mini"
tagline = "A test extension"
maintainer = "Tests"
type = "add-on"
blender_version_min = "4.2.0"
license = ["SPDX:MIT"]
[build]
paths_exclude_pattern = ["/tests/", "*.log", "!keep.log", "__pycache__/", ".*"]
"""


def test_build_honours_patterns_on_a_small_tree(tmp_path):
    src = _mini_tree(tmp_path / "src", GOOD_MANIFEST, {
        "__init__.py": "", "pkg/mod.py": "", "pkg/tests/t.py": "", "tests/t.py": "", "a.log": "",
        "pkg/keep.log": "", "pkg/__pycache__/m.pyc": "", ".hidden/x.py": "", "pkg/.env": ""})
    (src / "link.py").symlink_to(src / "__init__.py")
    proc = run_build("--source-dir", str(src), "--out-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(proc.stdout.strip().splitlines()[-1]) as zf:
        assert sorted(zf.namelist()) == ["__init__.py", "blender_manifest.toml", "pkg/keep.log",
                                         "pkg/mod.py", "pkg/tests/t.py"]


@pytest.mark.parametrize("manifest, files, message", [
    (GOOD_MANIFEST.replace('tagline = "A test extension"\n', ""), {"__init__.py": ""}, "missing tagline"),
    (GOOD_MANIFEST, {"pkg/mod.py": ""}, "add __init__.py"),
    (GOOD_MANIFEST.replace('id = "mini"', 'id = "mini-ext"'), {"__init__.py": ""}, "Python identifier"),
    (GOOD_MANIFEST + "paths = ['x.py']\n", {"__init__.py": ""}, "keep one"),
    ("id = [", {"__init__.py": ""}, "invalid TOML"),
])
def test_build_errors_are_one_line(tmp_path, manifest, files, message):
    src = _mini_tree(tmp_path / "src", manifest, files)
    proc = run_build("--source-dir", str(src), "--out-dir", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- pattern semantics (gitignore style, as Blender's `extension build`) ---------------------------
@pytest.mark.parametrize("pattern, path, is_dir, expected", [
    ("*.txt", "a.txt", False, True), ("*.txt", "x/y/a.txt", False, True), ("*.txt", "a.txt.bak", False, False),
    ("/top", "top", False, True), ("/top", "sub/top", False, False),
    ("doc/", "doc", False, False), ("doc/", "doc/", True, True), ("doc/", "x/doc/", True, True),
    ("doc/", "doc/a.md", False, True),  # a path inside an excluded directory is excluded too
    ("x/*.py", "x/a.py", False, True), ("x/*.py", "x/y/a.py", False, False),  # * stays in one component
    ("x/**/a.py", "x/a.py", False, True), ("x/**/a.py", "x/p/q/a.py", False, True),
    ("x/**/a.py", "xa.py", False, False), ("**/foo", "a/b/foo", False, True),
    ("deep/**", "deep/x/y", False, True), ("deep/**", "deep", False, False),
    ("a?c", "abc", False, True), ("[ab]*.md", "bee.md", False, True), ("[ab]*.md", "cee.md", False, False),
    (".*", ".git/", True, True), (".*", "src/.env", False, True),
])
def test_pattern_semantics(pattern, path, is_dir, expected):
    patterns = build_extension.compile_patterns((pattern,))
    assert build_extension.is_excluded(patterns, path, is_dir) is expected


def test_negation_reincludes():
    patterns = build_extension.compile_patterns(("*.log", "!keep.log"))
    assert build_extension.is_excluded(patterns, "a.log", False)
    assert not build_extension.is_excluded(patterns, "x/keep.log", False)


# --- what Blender imports stays bpy + numpy + stdlib -----------------------------------------------
def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(absolute top-level modules, modules of ``inference`` imported relatively) of one file."""
    absolute, inference = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            absolute |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                absolute.add(node.module.split(".")[0])
            elif node.module and node.module.split(".")[0] == "inference":
                for a in node.names:       # `from ..inference.core import rotations` names a module
                    sub = ROOT / Path(*node.module.split("."), a.name)
                    inference.add(f"{node.module}.{a.name}" if sub.with_suffix(".py").is_file() else node.module)
    return absolute, inference


def test_blender_side_imports_only_bpy_numpy_stdlib():
    files = [ROOT / "__init__.py", *(p for pkg in BLENDER_PACKAGES for p in (ROOT / pkg).rglob("*.py"))]
    used_inference: set[str] = set()
    for path in files:
        absolute, inference = _imports(path)
        bad = absolute - set(sys.stdlib_module_names) - BLENDER_SIDE_THIRD_PARTY
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        used_inference |= inference
    blocked = "import sys\nfor m in ('scipy', 'cv2', 'mediapipe', 'bpy', 'jax', 'matplotlib'): sys.modules[m] = None\n"
    assert {"inference.stream.ring", "inference.pipeline.motion", "inference.core.layout"} <= used_inference
    for name in sorted(used_inference):
        proc = subprocess.run([sys.executable, "-c", blocked + f"import {name}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, f"{name} needs more than numpy + stdlib: {proc.stderr[-400:]}"
