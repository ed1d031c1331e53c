"""The detector interface: every detector is preprocess → infer → postprocess.

In: a :class:`~inference.core.records.Frame` (BGR picture + time); out: a
:class:`~inference.core.records.Detection` in the layout of :mod:`inference.core.layout`. Splitting
the work this way lets a GPU / ONNX detector plug in beside the embedded MediaPipe one.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..core.records import Detection, Frame


class Detector(Protocol):
    """What the pipeline needs from a detector."""

    name: str

    def preprocess(self, frame: Frame) -> Any: ...

    def infer(self, inputs: Any) -> Any: ...

    def postprocess(self, outputs: Any, frame: Frame) -> Detection: ...

    def close(self) -> None: ...


def detect(detector: Detector, frame: Frame) -> Detection:
    """Run the three stages of ``detector`` on one frame."""
    return detector.postprocess(detector.infer(detector.preprocess(frame)), frame)
