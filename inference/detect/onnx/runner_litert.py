"""Run one of MediaPipe's models on the CPU with LiteRT (``ai-edge-litert``): the ``.tflite`` file
straight from the installed mediapipe wheel (checked against its RECORD, :mod:`..wheel`), on the
XNNPACK kernels MediaPipe's own graph uses. On 2 CPU cores that is 1.3–2.8× faster than ONNX
Runtime on these small PReLU models (README), and it needs no conversion.

Same interface as :class:`.runner.OrtModel`: a batch in, ``{output name: array}`` out. The output
names are the TFLite tensor names, which the converter keeps in the ONNX files, so the pre/post-
processing modules read both the same way.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ...core.native_logs import native_logs_off_stderr
from ..models import MODELS
from ..wheel import checked_source, record_hashes
from .store import ModelStoreError

LITERT_BACKEND = "litert"
LITERT_PROVIDER = "CPU (LiteRT XNNPACK)"


def litert_available() -> bool:
    """Whether ``ai-edge-litert`` is installed here (the worker's runtime has it)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def wheel_model_bytes(name: str) -> bytes:
    """The ``.tflite`` bytes of model ``name`` from this environment's mediapipe wheel, checked
    against the wheel's RECORD. Raises :class:`..wheel.WheelModelError` (one line)."""
    root, hashes = record_hashes()
    path, _ = checked_source(MODELS[name], root, hashes)
    return path.read_bytes()


class LiteRtModel:
    """One ``.tflite`` model in a LiteRT interpreter with ``threads`` CPU threads (0: all cores).
    ``provider`` and ``warning`` as :class:`.runner.OrtModel`'s."""

    provider = LITERT_PROVIDER

    def __init__(self, data: bytes, name: str, threads: int = 0, warning: str = ""):
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (the worker's environment)

        try:
            with native_logs_off_stderr():      # LiteRT announces its XNNPACK delegate on stderr
                self.interpreter = Interpreter(model_content=data, num_threads=threads or os.cpu_count() or 1)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelStoreError(f"LiteRT cannot load detector model '{name}' ({type(exc).__name__}): reinstall "
                                  "the add-on's runtime (mediapipe's model files)") from None
        self.name, self.warning = name, warning
        (inp,) = self.interpreter.get_input_details()
        self.input_index = inp["index"]
        self.outputs = [(o["name"], o["index"], tuple(o["shape"][1:])) for o in self.interpreter.get_output_details()]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, W, 3) float32 → {output name: (N, …) array}. The models have batch 1: one
        invocation per picture (no gain from batching on the CPU)."""
        batch = np.ascontiguousarray(batch, np.float32)
        out = {name: np.empty((len(batch), *shape), np.float32) for name, _, shape in self.outputs}
        for i in range(len(batch)):
            self.interpreter.set_tensor(self.input_index, batch[i:i + 1])
            self.interpreter.invoke()
            for name, index, _ in self.outputs:
                out[name][i] = self.interpreter.get_tensor(index)[0]
        return out
