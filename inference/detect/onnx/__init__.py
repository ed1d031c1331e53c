"""Our detector: MediaPipe Holistic's own models with the pre- and post-processing written here as
MediaPipe computes it, run on the CPU by LiteRT (the wheel's ``.tflite`` files) or by ONNX Runtime /
PyTorch on the files converted at set-up (:mod:`..convert`).

In: pictures (RGB, any size), one at a time (live) or in batches (bakes); out: the same
:class:`~inference.core.records.Detection` records the MediaPipe detector gives. Open ``holistic``
first (the detector and how it picks a backend), then ``runner`` (ONNX Runtime and its providers,
:func:`~.runner.choose_backend`), ``runner_litert`` (LiteRT on the CPU), ``runner_torch`` (PyTorch
where only it reaches a GPU), ``store`` (the converted models and their checks), ``roi`` (rotated
crops and the way back to the picture); one module per model's processing.
"""
