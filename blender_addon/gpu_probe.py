"""Is there an NVIDIA GPU the GPU runtime can use? Asked of ``nvidia-smi`` (installed with every NVIDIA
driver) before the runtime set-up installs ``onnxruntime-gpu``: which GPU, which driver, and one plain
line saying so or saying why the set-up stays on the CPU.

``onnxruntime-gpu`` is built for CUDA 13, whose wheels need an NVIDIA driver of the 580 series or newer;
without a usable GPU it still imports and silently runs on the CPU, so the set-up asks first instead of
installing 1.6 GB for nothing. Standard library only (no bpy): the tests put fake ``nvidia-smi``
executables on PATH.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

NVIDIA_SMI = "nvidia-smi"
#: One ``name, driver_version`` line per GPU, no header.
NVIDIA_SMI_QUERY = ("--query-gpu=name,driver_version", "--format=csv,noheader")
#: The oldest driver branch that runs CUDA 13 (NVIDIA's CUDA 13.0 release notes: r580).
MIN_DRIVER = 580
#: nvidia-smi answers in well under a second; a hung driver must not hang the set-up dialog.
PROBE_TIMEOUT_S = 10.0
_DRIVER = re.compile(r"^\d+(\.\d+)*$")


@dataclass(frozen=True)
class Gpu:
    """One GPU as nvidia-smi lists it."""

    name: str
    driver: str

    @property
    def driver_major(self) -> int:
        return int(self.driver.split(".", 1)[0])


@dataclass(frozen=True)
class GpuProbe:
    """The verdict: ``usable`` (the GPU runtime can run here), ``message`` one line for the user,
    ``gpus`` what nvidia-smi listed."""

    usable: bool
    message: str
    gpus: tuple[Gpu, ...] = ()


def no_gpu(reason: str) -> GpuProbe:
    return GpuProbe(False, f"No NVIDIA GPU found ({reason}): the runtime is set up for the CPU")


def parse_gpus(text: str) -> tuple[Gpu, ...]:
    """nvidia-smi's ``name, driver`` lines → GPUs; a line without a driver version is not a GPU
    (nvidia-smi prints its errors on stdout too)."""
    gpus = []
    for line in text.splitlines():
        name, _, driver = line.strip().rpartition(",")
        name, driver = name.strip(), driver.strip()
        if name and _DRIVER.match(driver):
            gpus.append(Gpu(name, driver))
    return tuple(gpus)


def judge(gpus: tuple[Gpu, ...]) -> GpuProbe:
    """The verdict on the listed GPUs (they share one driver: the first one speaks for all)."""
    if not gpus:
        return no_gpu("nvidia-smi lists no GPU")
    first = gpus[0]
    if first.driver_major < MIN_DRIVER:
        return GpuProbe(False, f"NVIDIA driver {first.driver} is too old for CUDA 13 (needs {MIN_DRIVER} or newer): "
                               "update it, then run the set-up again; the runtime is set up for the CPU", gpus)
    more = f" and {len(gpus) - 1} more" if len(gpus) > 1 else ""
    return GpuProbe(True, f"NVIDIA GPU: {first.name}{more} (driver {first.driver})", gpus)


def probe_nvidia(search_path: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> GpuProbe:
    """Run ``nvidia-smi`` (found on ``search_path``, default PATH) and judge what it lists. Never
    raises: every failure is a :class:`GpuProbe` saying why the CPU runtime is set up instead."""
    exe = shutil.which(NVIDIA_SMI, path=search_path)
    if not exe:
        return no_gpu(f"{NVIDIA_SMI} is not on PATH")
    try:
        out = subprocess.run([exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return no_gpu(f"{NVIDIA_SMI} did not answer in {timeout:g} s")
    except OSError as exc:
        return no_gpu(f"{NVIDIA_SMI} cannot run: {exc.strerror or exc}")
    gpus = parse_gpus(out.stdout) if out.returncode == 0 else ()
    if not gpus and out.returncode != 0:
        said = next((ln.strip() for ln in (out.stdout + "\n" + out.stderr).splitlines() if ln.strip()), "")
        return no_gpu(f"{NVIDIA_SMI} failed: {said[:120] or f'exit status {out.returncode}'}")
    return judge(gpus)
