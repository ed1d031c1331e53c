"""Run one converted model: ONNX Runtime with the best provider this machine really has.

Providers are tried in order TensorRT (fp16, engines and timing cache in the models folder) →
CUDA → CPU, and the one a session got is read back from it (``session.get_providers()``), never
assumed: ``onnxruntime-gpu`` without a usable GPU imports fine and silently runs on the CPU. A GPU
that was asked for and is not there is a warning (for the status line and the npz), not a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .store import ModelStoreError

TENSORRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
#: Providers by device setting, best first.
PROVIDER_ORDER = {"auto": (TENSORRT, CUDA, CPU), "gpu": (TENSORRT, CUDA, CPU), "cpu": (CPU,)}
DEVICES = tuple(PROVIDER_ORDER)
NO_GPU_WARNING = ("GPU requested but no GPU runtime is installed (the add-on's set-up: GPU (NVIDIA), or "
                  "onnxruntime-gpu): running on the CPU")


@dataclass(frozen=True)
class ProviderChoice:
    """providers to ask ONNX Runtime for, best first; warning ('' or one line) when the device
    setting cannot be met here."""
    providers: tuple[str, ...]
    warning: str = ""


def choose_providers(device: str, available: list[str] | tuple[str, ...]) -> ProviderChoice:
    """The providers for ``device`` ('auto', 'gpu' or 'cpu') among those ONNX Runtime has."""
    if device not in PROVIDER_ORDER:
        raise ValueError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
    chosen = tuple(p for p in PROVIDER_ORDER[device] if p in available or p == CPU)
    warning = NO_GPU_WARNING if device == "gpu" and chosen == (CPU,) else ""
    return ProviderChoice(chosen, warning)


def _provider_options(provider: str, cache: Path | None) -> dict:
    if provider == TENSORRT and cache is not None:
        return {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True, "trt_timing_cache_path": str(cache)}
    return {}


class OrtModel:
    """One model in an ONNX Runtime session. ``provider`` the one the session runs on; ``warning``
    as :class:`ProviderChoice`'s, plus a GPU that failed to start."""

    def __init__(self, data: bytes, name: str, device: str = "auto", threads: int = 0,
                 cache: Path | None = None):
        import onnxruntime as ort  # noqa: PLC0415 (the worker's environment)

        choice = choose_providers(device, ort.get_available_providers())
        if choice.providers[0] != CPU and hasattr(ort, "preload_dlls"):
            # onnxruntime-gpu finds the CUDA / cuDNN of the nvidia-* wheels (the set-up's GPU option)
            # only when asked to load them first; a library that fails to load shows as the CPU provider below
            try:
                ort.preload_dlls()
            except OSError:
                pass
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        providers = [(p, _provider_options(p, cache)) for p in choice.providers]
        try:
            self.session = ort.InferenceSession(data, options, providers=providers)
        except Exception as exc:    # ONNX Runtime raises its own untyped errors on a bad graph
            raise ModelStoreError(f"ONNX Runtime cannot load detector model '{name}' ({type(exc).__name__}): run "
                                  "scripts/convert_models.py again (or the add-on's runtime set-up)") from None
        self.name = name
        self.provider = self.session.get_providers()[0]
        self.warning = choice.warning
        if device == "gpu" and self.provider == CPU and not self.warning:
            self.warning = "GPU requested but ONNX Runtime could not start it (driver, CUDA or cuDNN): running on the CPU"
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, W, 3) float32 → {output name: (N, …) array}."""
        outputs = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(batch, np.float32)})
        return dict(zip(self.output_names, outputs))


#: The backends: ONNX Runtime (every device), PyTorch (a GPU where ONNX Runtime has none) and
#: LiteRT (the CPU: MediaPipe's own .tflite files on XNNPACK, the fastest there).
ORT_BACKEND, TORCH_BACKEND, LITERT_BACKEND = "onnxruntime", "torch", "litert"
BACKENDS = (ORT_BACKEND, TORCH_BACKEND, LITERT_BACKEND)


def choose_backend(device: str, ort_providers: list[str] | tuple[str, ...], torch_cuda: bool,
                   litert: bool = False) -> str:
    """Where a GPU is wanted ('auto' or 'gpu'): ONNX Runtime if it has a GPU provider, else
    PyTorch if it sees CUDA (the GPU machine that has PyTorch but not ``onnxruntime-gpu``). On the
    CPU: LiteRT where it is installed (``litert``), else ONNX Runtime."""
    if device != "cpu":
        if any(p in ort_providers for p in (TENSORRT, CUDA)):
            return ORT_BACKEND
        if torch_cuda:
            return TORCH_BACKEND
    return LITERT_BACKEND if litert else ORT_BACKEND


def torch_has_cuda() -> bool:
    """Whether PyTorch is installed here and sees a CUDA device (False without PyTorch)."""
    try:
        import torch  # noqa: PLC0415 (optional: only the GPU path uses it)
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
