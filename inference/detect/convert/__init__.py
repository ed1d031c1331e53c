"""Convert MediaPipe's bundled ``.tflite`` models to ONNX (a set-up step, never at capture time).

In: the installed mediapipe 0.10.21 wheel (each file checked against the wheel's RECORD hash);
out: a folder of ``<name>.onnx`` files with a dynamic batch axis and a manifest of SHA-256s (read by
:mod:`..onnx.store`). Runs in its own environment (tensorflow-cpu, tf2onnx, onnx:
``requirements-convert.txt``), driven by ``scripts/convert_models.py``. Open ``build`` first; ``..wheel``
finds and checks the files, ``densify`` rewrites sparse weights as dense ones, ``graph`` patches the
ONNX graph (batch axis, reproducible names).
"""
