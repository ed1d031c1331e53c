"""The ONNX detector: MediaPipe Holistic's own models (converted at set-up, :mod:`..convert`) run
by ONNX Runtime, with the pre- and post-processing written here as MediaPipe computes it.

In: pictures (RGB, any size), one at a time (live) or in batches (bakes); out: the same
:class:`~inference.core.records.Detection` records the MediaPipe detector gives. Open ``store``
first (the converted models and their checks), then ``runner`` (ONNX Runtime and its providers;
``runner_torch`` runs the same graphs with PyTorch where only it reaches a GPU), ``roi`` (rotated
crops and the way back to the picture) and ``holistic`` (the detector); one module per model's
processing.
"""
