"""The runtime set-up's "GPU (NVIDIA)" option: the nvidia-smi probe (fake nvidia-smi executables on
PATH), the steps it adds (order, pins, the converter made and removed), the conversion step and the
GPU check step really run (the converter's .venv-convert, the worker's .venv with its CPU onnxruntime).

Runs in the engine venv (no bpy, no GPU).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.addon_modules import addon_module

ROOT = Path(__file__).resolve().parents[2]
WORKER_SITE = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"
CONVERT_PYTHON = ROOT / ".venv-convert" / "bin" / "python"


runtime = addon_module("blender_addon.runtime")
probe = addon_module("blender_addon.gpu_probe")
store = addon_module("inference.detect.onnx.store")
BASE = "/usr/bin/python3.11"


def fake_smi(folder: Path, script: str) -> str:
    """A folder holding only an executable ``nvidia-smi`` (a shell script): the probe's PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / probe.NVIDIA_SMI
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    return str(folder)


# --- the probe ---------------------------------------------------------------------------------------
def test_probe_without_nvidia_smi(tmp_path):
    got = probe.probe_nvidia(search_path=str(tmp_path))
    assert not got.usable and got.gpus == ()
    assert got.message == "No NVIDIA GPU found (nvidia-smi is not on PATH): the runtime is set up for the CPU"


def test_probe_good_driver_names_the_gpu(tmp_path):
    path = fake_smi(tmp_path, 'echo "NVIDIA H200, 580.95.05"')
    got = probe.probe_nvidia(search_path=path)
    assert got.usable and got.gpus == (probe.Gpu("NVIDIA H200", "580.95.05"),)
    assert got.message == "NVIDIA GPU: NVIDIA H200 (driver 580.95.05)"


def test_probe_several_gpus_and_a_comma_in_the_name(tmp_path):
    path = fake_smi(tmp_path, 'printf "NVIDIA RTX A6000, Ada, 590.10\\nNVIDIA RTX A6000, Ada, 590.10\\n"')
    got = probe.probe_nvidia(search_path=path)
    assert got.usable and got.message == "NVIDIA GPU: NVIDIA RTX A6000, Ada and 1 more (driver 590.10)"


def test_probe_old_driver_says_update_it(tmp_path):
    path = fake_smi(tmp_path, 'echo "NVIDIA GeForce RTX 3060, 550.120"')
    got = probe.probe_nvidia(search_path=path)
    assert not got.usable and got.gpus[0].driver_major == 550
    assert got.message == ("NVIDIA driver 550.120 is too old for CUDA 13 (needs 580 or newer): update it, then run "
                           "the set-up again; the runtime is set up for the CPU")


def test_probe_no_gpu_listed(tmp_path):
    """nvidia-smi without a GPU answers nothing (exit 0), or fails with its own line (exit 9)."""
    got = probe.probe_nvidia(search_path=fake_smi(tmp_path / "a", "exit 0"))
    assert not got.usable and got.message == ("No NVIDIA GPU found (nvidia-smi lists no GPU): the runtime is set up "
                                              "for the CPU")
    failing = fake_smi(tmp_path / "b", 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA '
                                       'driver. Make sure that the latest NVIDIA driver is installed and running."; exit 9')
    got = probe.probe_nvidia(search_path=failing)
    assert not got.usable and got.message.startswith("No NVIDIA GPU found (nvidia-smi failed: NVIDIA-SMI has failed")
    assert got.message.endswith("): the runtime is set up for the CPU") and "\n" not in got.message


def test_probe_garbage_output_is_no_gpu(tmp_path):
    path = fake_smi(tmp_path, 'echo "Segmentation fault"; echo "name, [N/A]"; echo "<xml/>"')
    got = probe.probe_nvidia(search_path=path)
    assert not got.usable and "nvidia-smi lists no GPU" in got.message
    assert probe.parse_gpus("name, driver_version\n, 580.1\nNVIDIA A100,\n") == ()


def test_probe_timeout_and_unrunnable(tmp_path):
    path = fake_smi(tmp_path / "slow", "exec sleep 30")
    got = probe.probe_nvidia(search_path=path, timeout=0.5)
    assert not got.usable and got.message == ("No NVIDIA GPU found (nvidia-smi did not answer in 0.5 s): the runtime "
                                              "is set up for the CPU")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / probe.NVIDIA_SMI).write_bytes(b"\x7fELF not really")
    (broken / probe.NVIDIA_SMI).chmod(0o755)
    got = probe.probe_nvidia(search_path=str(broken))
    assert not got.usable and got.message.startswith("No NVIDIA GPU found (nvidia-smi cannot run: ")


def test_setup_device_falls_back_to_the_cpu_with_the_reason(tmp_path):
    assert runtime.setup_device(runtime.DEVICE_CPU) == (runtime.DEVICE_CPU, None)
    old = probe.judge((probe.Gpu("NVIDIA T4", "535.1"),))
    assert runtime.setup_device(runtime.DEVICE_GPU, old) == (runtime.DEVICE_CPU, old)
    good = probe.judge((probe.Gpu("NVIDIA L4", "580.65.06"),))
    assert runtime.setup_device(runtime.DEVICE_GPU, good) == (runtime.DEVICE_GPU, good)


# --- the steps ---------------------------------------------------------------------------------------
def test_cpu_steps_have_no_gpu_step(tmp_path):
    paths = runtime.RuntimePaths(tmp_path / "user")
    labels = [s.label for s in runtime.setup_steps(BASE, paths)]
    assert labels == ["Creating the environment", "Installing the pinned packages",
                      "Making the engine importable from this Python", runtime.AVATAR_LABEL, runtime.COMPILE_LABEL]
    assert [s.label for s in runtime.setup_steps(BASE, paths, device=runtime.DEVICE_GPU, skip_pip=True)] == labels[:1]


def test_gpu_steps_follow_the_cpu_ones_in_order(tmp_path):
    paths = runtime.RuntimePaths(tmp_path / "user")
    cpu = runtime.setup_steps(BASE, paths)
    steps = runtime.setup_steps(BASE, paths, device=runtime.DEVICE_GPU)
    assert steps[:len(cpu)] == cpu
    gpu = steps[len(cpu):]
    assert [s.label for s in gpu] == ["Removing the CPU-only ONNX Runtime", "Installing ONNX Runtime for NVIDIA GPUs",
                                      "Creating the converter environment", "Installing the model converter",
                                      runtime.CONVERT_LABEL, "Removing the converter environment",
                                      runtime.GPU_CHECK_LABEL]
    worker, converter = str(paths.python), str(runtime.venv_python(paths.converter))
    swap, install, make, pip_conv, convert, remove, check = gpu
    assert swap.argv[:4] == (worker, "-m", "pip", "uninstall") and swap.argv[-2:] == ("-y", "onnxruntime")
    assert install.argv[:4] == (worker, "-m", "pip", "install")
    assert install.argv[-4:] == ("-r", str(runtime.GPU_REQUIREMENTS), "-c", str(runtime.REQUIREMENTS))
    assert install.site_packages == runtime.venv_site_packages(paths.venv) and install.expected_items == 8
    assert make.argv == (BASE, "-m", "venv", "--clear", str(paths.converter)) and make.expected_s
    assert paths.converter.parent == paths.user_dir and paths.converter != paths.venv
    assert pip_conv.argv[0] == converter and pip_conv.argv[-2:] == ("-r", str(runtime.CONVERT_REQUIREMENTS))
    assert convert.argv[0] == converter and convert.argv[-4:] == (
        "--mediapipe-site", str(runtime.venv_site_packages(paths.venv)), "--out", str(paths.models))
    assert paths.models == paths.user_dir / runtime.MODELS_DIRNAME
    assert remove.argv[0] == BASE and remove.argv[-1] == str(paths.converter)
    assert check.argv[0] == worker and check.reports and not any(s.reports for s in steps if s is not check)
    # the downloads dominate: the GPU pip step weighs more than the whole CPU runtime
    assert install.weight > sum(s.weight for s in cpu)
    offline = runtime.setup_steps(BASE, paths, pip_args=("--no-index",), device=runtime.DEVICE_GPU)
    assert all("--no-index" in s.argv for s in offline if s.expected_items)


def test_a_previous_gpu_runtime_is_removed_before_the_pins(tmp_path):
    """onnxruntime and onnxruntime-gpu share the package folder: installing the CPU pins over the GPU
    package would leave both half installed, so the GPU one goes first (CPU and GPU set-ups alike)."""
    paths = runtime.RuntimePaths(tmp_path / "user")
    site = runtime.venv_site_packages(paths.venv)
    (site / "onnxruntime_gpu-1.31.1.dist-info").mkdir(parents=True)
    for device in (runtime.DEVICE_CPU, runtime.DEVICE_GPU):
        steps = runtime.setup_steps(BASE, paths, device=device)
        assert steps[1].label == "Removing the GPU ONNX Runtime" and steps[2].label == "Installing the pinned packages"
        assert steps[1].argv[-2:] == ("-y", "onnxruntime-gpu")


def test_gpu_requirements_are_exact_pins():
    lines = [ln.split("#", 1)[0].strip() for ln in runtime.GPU_REQUIREMENTS.read_text().splitlines()]
    pins = dict(ln.split("==") for ln in lines if ln)
    assert len(pins) == runtime.count_requirements(runtime.GPU_REQUIREMENTS) == 8
    assert all(v and v[0].isdigit() for v in pins.values())
    assert pins["onnxruntime-gpu"] == runtime.pinned_version(runtime.GPU_REQUIREMENTS, "onnxruntime-gpu")
    assert {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cudnn-cu13"} <= set(pins)
    assert all(v.startswith("13.0.") for k, v in pins.items() if k in ("nvidia-cuda-runtime", "nvidia-cuda-nvrtc"))
    # the worker's other pins stay: nothing here pins what requirements-worker.txt pins
    worker = {ln.split("#", 1)[0].strip().split("==")[0] for ln in runtime.REQUIREMENTS.read_text().splitlines()
              if ln.split("#", 1)[0].strip()}
    assert not worker & set(pins)


def test_confirmation_and_space_for_the_gpu(tmp_path):
    paths = runtime.RuntimePaths(tmp_path / "user")
    good = probe.judge((probe.Gpu("NVIDIA L4", "580.65.06"),))
    lines = runtime.gpu_confirmation_lines(paths, good)
    text = "\n".join(lines)
    assert text.startswith("NVIDIA GPU: NVIDIA L4 (driver 580.65.06)")
    assert "1.6 GB more: onnxruntime-gpu 1.31.1 with CUDA 13.0" in text and "2.6 GB more" in text
    assert str(paths.models) in text and "deleted once it has converted" in text and "(estimate)" in text
    assert all(len(ln) < 110 + len(str(paths.models)) for ln in lines)
    old = probe.judge((probe.Gpu("NVIDIA T4", "535.1"),))
    assert runtime.gpu_confirmation_lines(paths, old) == [old.message]
    assert runtime.needed_bytes(runtime.DEVICE_GPU) > runtime.needed_bytes() + 5e9
    runtime.check_free_space(runtime.needed_bytes(), tmp_path)
    with pytest.raises(runtime.RuntimeSetupError, match=r"needs about 7\.6 GB free"):
        runtime.check_free_space(runtime.needed_bytes(), tmp_path, runtime.DEVICE_GPU)


# --- the steps really run ----------------------------------------------------------------------------
needs_venvs = pytest.mark.skipif(not (CONVERT_PYTHON.exists() and WORKER_SITE.is_dir()),
                                 reason="needs .venv and .venv-convert (scripts/test.sh makes them)")


@needs_venvs
def test_conversion_and_removal_steps_run(tmp_path):
    """The conversion step's own argv (converter's Python replaced by .venv-convert's, the worker's
    site by .venv's) writes models the store reads; the removal step deletes the converter folder."""
    paths = runtime.RuntimePaths(tmp_path / "user")
    steps = {s.label: s for s in runtime.gpu_steps(sys.executable, paths)}
    convert = steps[runtime.CONVERT_LABEL].argv
    argv = [str(CONVERT_PYTHON), *convert[1:]]
    argv[argv.index("--mediapipe-site") + 1] = str(WORKER_SITE)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", store.MODELS_ENV)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(paths.models)
    entries = store.read_manifest(paths.models)
    assert runtime.CHECK_MODEL in entries and len(entries) >= 7
    assert store.model_bytes(paths.models, runtime.CHECK_MODEL, entries)   # hashes match
    # a stand-in converter folder, removed by the step as it runs
    (paths.converter / "lib").mkdir(parents=True)
    (paths.converter / "lib" / "x.py").write_text("")
    remove = steps["Removing the converter environment"].argv
    subprocess.run(list(remove), check=True, capture_output=True, timeout=60)
    assert not paths.converter.exists() and paths.models.is_dir()
    # the check step, with the worker's CPU onnxruntime: the plain CPU line, exit 0
    check = steps[runtime.GPU_CHECK_LABEL].argv
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), *check[1:]], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    line = res.stdout.strip().splitlines()[-1]
    assert line.startswith("ONNX Runtime 1.32.0 is running on the CPU: it has no CUDA provider"), line
    assert runtime.CPU_FALLBACK in line and "\n" not in line


def test_check_step_without_models_says_one_line(tmp_path):
    paths = runtime.RuntimePaths(tmp_path / "user")
    check = {s.label: s for s in runtime.gpu_steps(BASE, paths)}[runtime.GPU_CHECK_LABEL].argv
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), *check[1:]], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip() == f"cannot check the GPU: no converted detector models in {paths.models}: run " \
                                 "scripts/convert_models.py (or the add-on's runtime set-up) to convert the detector models"


def test_job_keeps_the_checks_line_and_the_probes_verdict(tmp_path):
    """A reporting step's last line becomes a notice; one saying the CPU is used is a warning."""
    py = shutil.which("python3") or sys.executable
    steps = [runtime.Step("say", (py, "-c", "print('noise'); print('ONNX Runtime 1.31.1 is running on the CPU: x')"),
                          1.0, reports=True)]
    old = probe.judge((probe.Gpu("NVIDIA T4", "535.1"),))
    job = runtime.SetupJob(steps, tmp_path / "log.txt", notices=[old.message]).start()
    assert job.wait(timeout=60).phase == "done"
    assert job.notices == [old.message, "ONNX Runtime 1.31.1 is running on the CPU: x"]
    assert job.warnings == job.notices
    ok = runtime.SetupJob([runtime.Step("say", (py, "-c", "print('ONNX Runtime runs the detector on the GPU (CUDA)')"),
                                        1.0, reports=True)], tmp_path / "log2.txt").start()
    assert ok.wait(timeout=60).phase == "done" and ok.notices and not ok.warnings
