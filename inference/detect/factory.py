"""Which detector runs: the embedded MediaPipe graph or the ONNX pipeline (:mod:`.onnx`), on which
device, and what to tell the user about it. Everything that starts a capture (the CLI, the
worker) asks here, so the choice, its fallbacks and their one-line warnings are made once.
"""
from __future__ import annotations

from ..core.records import DetectorInfo

#: ``--detector``: the MediaPipe graph (the embedded default: the fastest measured on the CPU) or
#: the same models on ONNX Runtime (GPU capable; needs the converted models).
DETECTORS = ("mediapipe", "onnx")
DEVICES = ("auto", "cpu", "gpu")
#: What the MediaPipe detector runs on (its Python package has no GPU path).
MEDIAPIPE_PROVIDER = "CPU (TFLite XNNPACK)"


def make_detector(kind: str = "mediapipe", static_images: bool = False, hands: bool = True, face: bool = True,
                  device: str = "auto", backend: str | None = None):
    """(detector, :class:`DetectorInfo`) for ``kind`` on ``device``. A device that cannot be had
    is a warning in the info (the CPU runs instead), never an error; a missing or damaged ONNX
    model raises :class:`~.onnx.store.ModelStoreError` (one line). ``backend`` forces the ONNX
    detector's backend (:data:`.onnx.runner.BACKENDS`; None: the best for ``device``)."""
    if kind not in DETECTORS:
        raise ValueError(f"detector {kind!r}: choose one of {', '.join(DETECTORS)}")
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
    if kind == "onnx":
        from .onnx.holistic import OnnxHolisticDetector  # noqa: PLC0415 (loads ONNX Runtime)
        detector = OnnxHolisticDetector(static_images=static_images, hands=hands, face=face, device=device,
                                        backend=backend)
        return detector, DetectorInfo(detector.name, detector.backend, detector.provider, detector.warning)
    from .mediapipe_holistic import MediaPipeHolisticDetector  # noqa: PLC0415 (loads MediaPipe)
    warning = ("the MediaPipe detector runs on the CPU only (--detector onnx runs on a GPU): using the CPU"
               if device == "gpu" else "")
    detector = MediaPipeHolisticDetector(static_images=static_images, hands=hands, face=face)
    return detector, DetectorInfo(detector.name, "mediapipe", MEDIAPIPE_PROVIDER, warning)
