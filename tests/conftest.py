"""Shared pytest fixtures."""

# --- SMPL-X test model (body_model helper) ---------------------------------------------------
import sys as _sys
from pathlib import Path as _Path

import pytest as _pytest

if str(_Path(__file__).resolve().parents[1]) not in _sys.path:  # make `inference` importable
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))


@_pytest.fixture(scope="session")
def smplx_model_path(tmp_path_factory):
    """Path to a GENERATED SMPL-X-layout SMPLX_NEUTRAL.npz (written once per test session)."""
    from support.testing_model import make_test_model

    return make_test_model(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")


@_pytest.fixture(scope="session")
def megamind_head():
    """MediaPipe detections of the first 120 frames of Megamind.avi (a close-up, shot cuts, one
    hand): (DetectionSeq, (width, height)). Detected once per test session."""
    from data_paths import MEGAMIND
    from inference.app.capture import detect_source

    seq, size, _, _ = detect_source(str(MEGAMIND), max_frames=120, progress=False)
    return seq, size


@_pytest.fixture(scope="session")
def onnx_models():
    """The converted detector models (scripts/test.sh converts them once into .cache/models and sets
    SMPLX_MOCAP_MODELS): the folder, its manifest checked."""
    from inference.detect.onnx.store import default_dir, read_manifest

    folder = default_dir()
    read_manifest(folder)          # a missing or stale folder fails here with what to run
    return folder


#: The backends that run the detector's models on the CPU: ONNX Runtime (the converted files) and
#: LiteRT (MediaPipe's own .tflite files, the CPU default).
CPU_BACKENDS = ("onnxruntime", "litert")


@_pytest.fixture(scope="session", params=CPU_BACKENDS)
def cpu_models(request, onnx_models):
    """load(name, threads=1) → one detector model on the CPU, by each backend in turn
    (``load.backend`` says which)."""
    from inference.detect.onnx.runner import OrtModel
    from inference.detect.onnx.runner_litert import LiteRtModel, wheel_model_bytes
    from inference.detect.onnx.store import model_bytes

    def load(name, threads=1):
        if request.param == "litert":
            return LiteRtModel(wheel_model_bytes(name), name, threads)
        return OrtModel(model_bytes(onnx_models, name), name, device="cpu", threads=threads)

    load.backend = request.param
    return load
