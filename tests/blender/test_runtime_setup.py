"""The runtime setup as the user meets it: it honours Blender's online access, says what it will
download and install (how much, where) before it starts, and shows stages read from pip's real
output instead of pip's raw lines; the worker's 'compiling the live solver' notice reaches the status.

Runs in headless bpy (5.0 and 4.2), like test_extension.py.
"""
from __future__ import annotations

import csv
import hashlib
import base64
import importlib
import os
import re
import subprocess
import sys
import time
import tomllib
import types
import zipfile
from pathlib import Path

import bpy
import pytest

from conftest import MODULE, ROOT, descendant_pids, wait_no_children
from test_extension import BL_PKG_CLI, CheckedLayout, _load_by_path, make_fake_python

PIP_LOG = Path(__file__).parent / "data" / "pip_install_worker.txt"
#: Everything the status may say while pip runs: stages, never pip's own lines.
STAGE = re.compile(r"^(Creating the environment: \d+ s|(Downloading|Collecting|Checking installed) packages "
                   r"\(\d+/\d+(, \d+ MB)?\)|Installing packages \(\d+/\d+(: [\w.-]+)?\)|Packages installed|"
                   r"Making the engine importable from this Python|"
                   r"Compiling the live solver \(once, about 30 s\): \d+ s)$")


@pytest.fixture
def runtime(extension_module):
    """The installed ``blender_addon.runtime``, with no setup job left over from another test."""
    mod = importlib.import_module(f"{MODULE}.blender_addon.runtime")
    mod.cancel_active()
    yield mod
    mod.cancel_active()


@pytest.fixture
def online_access():
    """Set Blender's 'Allow Online Access' for a test (``bpy.app.online_access`` follows it); restored after."""
    system = bpy.context.preferences.system
    before = system.use_online_access

    def set_to(value: bool) -> None:
        system.use_online_access = value
        assert bpy.app.online_access is value

    yield set_to
    system.use_online_access = before


def pip_lines() -> list[str]:
    return [ln for ln in PIP_LOG.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]


def make_wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (one module) that pip installs offline."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": b"VALUE = 1\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


# --- online access -----------------------------------------------------------------------------------
def test_online_access_off_downloads_nothing(installed_addon, runtime, online_access, tmp_path, no_leaks):
    """Off: the operator (with bpy.app.online_access as bpy reports it) and the function refuse with
    one line saying how to allow it or what else to do; no child process, no folder, no log."""
    online_access(False)
    paths = runtime.runtime_paths(create=False)
    before = [(p.exists(), p.stat().st_mtime_ns if p.exists() else 0) for p in (paths.venv, paths.log)]
    for call in (lambda: bpy.ops.mocap.setup_runtime(), lambda: bpy.ops.mocap.setup_runtime("INVOKE_DEFAULT")):
        with pytest.raises(RuntimeError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg.strip() and "Online access is off" in msg, msg
        assert "Preferences › System › Network › Allow Online Access" in msg and "Worker Python" in msg
    assert runtime.active_job() is None and not descendant_pids()
    assert [(p.exists(), p.stat().st_mtime_ns if p.exists() else 0) for p in (paths.venv, paths.log)] == before

    user = runtime.RuntimePaths(tmp_path / "user")
    with pytest.raises(runtime.RuntimeSetupError) as err:
        runtime.start_setup(paths=user, online_access=False)
    assert str(err.value) == runtime.offline_message()
    assert "371 MB" in str(err.value)
    with pytest.raises(runtime.RuntimeSetupError, match="started with --offline-mode: start it without"):
        runtime.start_setup(paths=user, online_access=False, offline_override=True)
    assert runtime.active_job() is None and not user.user_dir.exists()
    assert runtime.downloads() and not runtime.downloads(skip_pip=True) and not runtime.downloads(pip_args=["--no-index"])


def test_online_access_on_lets_the_operator_past_the_gate(installed_addon, runtime, online_access, tmp_path,
                                                         no_leaks):
    """On: the operator reads bpy.app.online_access and goes on (here to a Python that cannot make a venv)."""
    online_access(True)
    fake = make_fake_python(tmp_path / "python3", 'echo "No module named venv"; exit 1')
    with pytest.raises(RuntimeError, match="Creating the environment failed: No module named venv"):
        bpy.ops.mocap.setup_runtime(base_python=str(fake))
    assert not wait_no_children()


def test_manifest_declares_network_and_blender_accepts_it():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    perms = manifest["permissions"]
    assert "PyPI" in perms["network"] and "runtime" in perms["network"]
    blender_ext = _load_by_path("_blender_ext_cli_perm", BL_PKG_CLI)
    assert blender_ext.pkg_manifest_validate_field_permissions(perms, strict=True) is None


# --- ask first ---------------------------------------------------------------------------------------
def test_confirmation_says_size_what_and_where(runtime, tmp_path):
    paths = runtime.RuntimePaths(tmp_path / "user")
    lines = runtime.confirmation_lines(paths, "/usr/bin/python3.11")
    text = "\n".join(lines)
    assert "Downloads about 371 MB from PyPI: 33 pinned packages (MediaPipe" in text
    assert "Installs about 1.3 GB" in text and str(paths.venv) in text and "/usr/bin/python3.11" in text
    assert "about 30 s" in text and str(paths.log) in text and "Blender's Python" in text
    assert all(len(ln) < 130 + len(str(paths.log)) for ln in lines)


def test_stated_installed_size_matches_the_pinned_packages(runtime):
    """INSTALLED_BYTES against the files the pinned packages really install (their RECORDs in the
    engine's .venv, same pins): the packages alone, the venv adds pip and setuptools."""
    pins = dict(ln.split("#", 1)[0].strip().split("==") for ln in runtime.REQUIREMENTS.read_text().splitlines()
                if ln.split("#", 1)[0].strip())
    site = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"
    total, found = 0, set()
    for dist in site.glob("*.dist-info"):
        name, version = dist.name[: -len(".dist-info")].split("-", 1)
        key = next((p for p in pins if re.sub(r"[-_.]+", "_", p).lower() == re.sub(r"[-_.]+", "_", name).lower()), None)
        if key is not None and pins[key] == version:
            found.add(key)
            with open(dist / "RECORD", newline="") as fh:
                total += sum(int(row[2]) for row in csv.reader(fh) if len(row) > 2 and row[2])
    assert found == set(pins), set(pins) - found
    assert total <= runtime.INSTALLED_BYTES <= 1.2 * total, total


def test_free_space_is_checked_before_anything_runs(runtime, tmp_path):
    with pytest.raises(runtime.RuntimeSetupError, match=r"needs about 1\.7 GB free on the disk of .* \(1\.0 GB free\)"):
        runtime.check_free_space(10**9, tmp_path)
    runtime.check_free_space(10**10, tmp_path)


# --- stages, not pip's lines -------------------------------------------------------------------------
def test_stages_from_a_real_pip_log(runtime):
    """A real ``pip install -r requirements-worker.txt`` log, line by line: the stage moves through
    every requirement, then installing; the fraction never goes back and no raw pip text shows."""
    stages = importlib.import_module(f"{MODULE}.blender_addon.setup_stages")
    lines = pip_lines()
    expected = runtime.count_requirements(runtime.REQUIREMENTS)
    seen, last = [], -1.0
    for i in range(len(lines) + 1):
        out = stages.read_pip_output(lines[:i])
        fraction, label = stages.pip_progress(out, expected)
        assert fraction >= last and STAGE.match(label), (i, label)
        last = fraction
        if not seen or seen[-1] != label:
            seen.append(label)
    # the recorded log predates onnxruntime and LiteRT in the pins: it downloads 29 of today's 33
    assert seen[0] == "Downloading packages (0/33)" and "Downloading packages (29/33, 250 MB)" in seen
    assert seen[-2:] == ["Installing packages (0/29: flatbuffers)", "Packages installed"]
    out = stages.read_pip_output(lines[:-1])
    assert out.stage == "installing" and len(out.to_install) == 29 and out.to_install[-1] == "mediapipe"
    # while pip installs silently, the finished packages' dist-info folders move the bar
    assert stages.pip_progress(out, expected, installed=10) == (
        pytest.approx(0.5 + 0.5 * 10 / 29), f"Installing packages (10/29: {out.to_install[10]})")


def test_count_installed_reads_new_dist_info_folders(tmp_path):
    stages = importlib.import_module(f"{MODULE}.blender_addon.setup_stages")
    (tmp_path / "absl_py-2.5.1.dist-info").mkdir()
    (tmp_path / "opencv_contrib_python-4.11.0.86.dist-info").mkdir()
    (tmp_path / "numpy-1.26.4.dist-info").mkdir()
    names = ["absl-py", "opencv-contrib-python", "jaxlib"]
    assert stages.count_installed(tmp_path, names, since=0.0) == 2
    assert stages.count_installed(tmp_path, names, since=time.time() + 60) == 0   # written before the step
    assert stages.count_installed(tmp_path / "missing", names, since=0.0) == 0


def test_timed_steps_keep_moving_past_their_usual_time():
    """The compile step's bar: 0.9 at its usual 30 s, still moving (never done) at 78 s on a busy machine."""
    stages = importlib.import_module(f"{MODULE}.blender_addon.setup_stages")
    t = [0.0, 10.0, 30.0, 31.0, 45.0, 78.0, 300.0]
    f = [stages.timed_fraction(x, 30.0) for x in t]
    assert f == sorted(f) and len(set(f)) == len(f) and f[0] == 0.0 and f[-1] < 1.0
    assert f[2] == pytest.approx(0.9) and f[5] > 0.97


def test_failure_reasons_from_real_pip_errors(tmp_path):
    """pip's own ERROR line without its prefix; a one-line hint when PyPI cannot be reached."""
    stages = importlib.import_module(f"{MODULE}.blender_addon.setup_stages")
    pip = [sys.executable, "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--no-input",
           "--target", str(tmp_path / "t")]
    missing = subprocess.run([*pip, "--no-index", "smplx-mocap-no-such-package==1.0"],
                             capture_output=True, text=True, timeout=120)
    lines = (missing.stdout + missing.stderr).splitlines()
    assert missing.returncode != 0
    assert stages.failure_reason(lines, missing.returncode) == \
        "No matching distribution found for smplx-mocap-no-such-package==1.0"
    offline = subprocess.run([*pip, "--index-url", "http://127.0.0.1:9/simple", "--retries", "1", "--timeout", "2",
                              "smplx-mocap-no-such-package==1.0"], capture_output=True, text=True, timeout=120)
    assert offline.returncode != 0
    assert stages.failure_reason((offline.stdout + offline.stderr).splitlines(), offline.returncode) == stages.NETWORK_HINT


def test_full_setup_offline_shows_real_stages(runtime, tmp_path, no_leaks):
    """venv + a real pip install (offline: local wheels and a requirement the venv has) + the engine's
    .pth + the compile step: every status the poll sees is a stage, the bar never goes back, the
    runtime is ready; pip's lines are in the log only."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("smplx_tiny_a", "smplx_tiny_b"):
        make_wheel(wheels, name)
    paths = runtime.RuntimePaths(tmp_path / "user")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# offline test\npip\nsmplx_tiny_a==1.0\nsmplx_tiny_b==1.0\n")
    args = ("--no-index", "--find-links", str(wheels))
    job = runtime.start_setup(paths=paths, requirements=reqs, pip_args=args, online_access=False)
    with pytest.raises(runtime.RuntimeSetupError, match="already being set up"):
        runtime.start_setup(paths=paths, requirements=reqs, pip_args=args, online_access=False)
    states, end = [], time.monotonic() + 180
    while job.poll().running and time.monotonic() < end:
        states.append((job.state.fraction, job.state.message))
        time.sleep(0.02)
    state = job.state
    assert state.phase == "done", (state, paths.log.read_text()[-2000:])
    fractions = [f for f, _ in states]
    assert fractions == sorted(fractions) and fractions[0] < 0.1
    messages = list(dict.fromkeys(m for _, m in states))
    assert all(STAGE.match(m) for m in messages), messages
    assert messages[0].startswith("Creating the environment") and messages[-1].startswith("Compiling the live solver")
    assert any(m.startswith(("Collecting packages", "Installing packages", "Checking")) for m in messages), messages
    assert paths.stamp.read_text().strip() == runtime.requirements_digest(reqs)
    assert runtime.worker_python(None, paths) == str(paths.python)
    log = paths.log.read_text()
    assert "Requirement already satisfied: pip" in log and "Successfully installed smplx_tiny" in log
    # the last step compiles the live solver; without numpy / numba it says so and the setup stands
    assert "live solver: numpy (No module named 'numpy')" in log
    # the engine imports from any folder with the runtime's Python (`python -m inference` works)
    out = subprocess.run([str(paths.python), "-c", "import inference; print(inference.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=30)
    assert Path(out.stdout.strip()).parent.parent == runtime.EXTENSION_ROOT, out.stderr


# --- the GPU option ----------------------------------------------------------------------------------
def test_runtime_device_preference_reaches_the_operator(installed_addon, runtime):
    """The preferences offer CPU (default) and GPU (NVIDIA); the operator takes its device from them
    (the pure parts, the probe and the GPU steps: tests/blender_addon/test_runtime_gpu.py)."""
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    prop = prefs.bl_rna.properties["runtime_device"]
    assert prop.default == runtime.DEVICE_CPU == prefs.runtime_device
    assert [(i.identifier, i.name) for i in prop.enum_items] == [("CPU", "CPU"), ("GPU", "GPU (NVIDIA)")]
    prefs.runtime_device = runtime.DEVICE_GPU
    try:
        ops = importlib.import_module(f"{MODULE}.operators.runtime")
        unset, explicit = types.SimpleNamespace(device=""), types.SimpleNamespace(device=runtime.DEVICE_CPU)
        assert ops.MOCAP_OT_setup_runtime._device(unset, bpy.context) == runtime.DEVICE_GPU   # the preference
        assert ops.MOCAP_OT_setup_runtime._device(explicit, bpy.context) == runtime.DEVICE_CPU
        layout = CheckedLayout()   # drawn with this Blender's UI API, the GPU option's line included
        type(prefs).layout = layout
        try:
            type(prefs).draw(prefs, bpy.context)
        finally:
            del type(prefs).layout
        assert any(name == "label" and kw["text"].startswith("GPU (NVIDIA): about 1.6 GB more")
                   for name, kw in layout.calls)
    finally:
        prefs.runtime_device = runtime.DEVICE_CPU


def test_gpu_option_without_a_usable_gpu_sets_up_the_cpu(runtime, tmp_path, monkeypatch, no_leaks):
    """GPU asked for, an nvidia-smi that finds no driver first on PATH: the probe's one line is the job's
    notice (a warning), the steps are the CPU ones and the set-up succeeds."""
    (tmp_path / "bin").mkdir()
    smi = make_fake_python(tmp_path / "bin" / "nvidia-smi", 'echo "NVIDIA-SMI has failed because it couldn\'t '
                           'communicate with the NVIDIA driver."; exit 9')
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    base = None
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "smplx_tiny_a")
    paths = runtime.RuntimePaths(tmp_path / "user")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("smplx_tiny_a==1.0\n")
    job = runtime.start_setup(base, paths=paths,
                              requirements=reqs, pip_args=("--no-index", "--find-links", str(wheels)),
                              online_access=False, device=runtime.DEVICE_GPU)
    assert runtime.CONVERT_LABEL not in [s.label for s in job.steps]
    message = ("No NVIDIA GPU found (nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate "
               "with the NVIDIA driver.): the runtime is set up for the CPU")
    assert job.notices == [message] == job.warnings
    state = job.wait(timeout=180)
    assert state.phase == "done", (state, paths.log.read_text()[-2000:])
    assert not (paths.user_dir / runtime.CONVERTER_DIRNAME).exists()


# --- the worker's notice -----------------------------------------------------------------------------
def test_status_line_shows_the_workers_notice(installed_addon, tmp_path, no_leaks):
    """What the worker puts in the ring's notice (e.g. compiling the live solver) is on the status line
    while it lasts (the worker side: tests/app/test_worker_notice.py)."""
    session = importlib.import_module(f"{MODULE}.blender_addon.session")
    ring_mod = importlib.import_module(f"{MODULE}.inference.stream.ring")
    fake = make_fake_python(tmp_path / "python3", "exec sleep 30")
    sess = session.start(str(fake), session.WorkerOptions(mode="live", source="0"), tmp_path / "user")
    try:
        worker_side = ring_mod.Ring.attach(sess.ring.path, sess.ring.token_hex)
        worker_side.notice = "compiling the live solver (once, about 30 s)"
        assert sess.poll().line().endswith("compiling the live solver (once, about 30 s)")
        worker_side.notice = ""
        assert "compiling" not in sess.poll().line()
        worker_side.close()
    finally:
        sess.stop(timeout=0.5)
    assert not wait_no_children()
