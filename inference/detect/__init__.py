"""Detect: a picture → 2D keypoints, relative depths and metric body landmarks.

In: a :class:`~inference.core.records.Frame`; out: a :class:`~inference.core.records.Detection` in
the layout of :mod:`inference.core.layout` (553 keypoints: body, both hands, face mesh). Open
``base`` first (the preprocess / infer / postprocess interface every detector implements), then
``factory`` (which detector runs, on which device), ``mediapipe_holistic`` (the embedded default,
models bundled in the wheel) and ``onnx`` (the same models with our own processing: LiteRT on the
CPU, ONNX Runtime / PyTorch on files converted at set-up by ``convert``); ``models`` names them and
``wheel`` checks the wheel's files.
"""
