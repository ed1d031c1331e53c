"""The LiteRT backend (MediaPipe's own .tflite files on the CPU): picked for the CPU where it is
installed, the same outputs as the converted ONNX files under ONNX Runtime, a batch of N equal to N
single calls, a wheel file that differs from the wheel's RECORD refused, and bytes that are not a
model one clear line."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from inference.detect import wheel
from inference.detect.convert.build import PARITY_LIMIT
from inference.detect.models import MODELS
from inference.detect.onnx import runner_litert
from inference.detect.onnx.runner import (CPU, CUDA, LITERT_BACKEND, ORT_BACKEND, TORCH_BACKEND, OrtModel,
                                          choose_backend)
from inference.detect.onnx.runner_litert import LITERT_PROVIDER, LiteRtModel, wheel_model_bytes
from inference.detect.onnx.store import ModelStoreError, model_bytes

#: pose_landmark_full's segmentation logits (±1500, unused by the detector) depend on summation order
#: beyond the conversion's limit (measured 1.1e-3 between XNNPACK and ONNX Runtime on random pictures).
LOOSER = {("pose_landmark_full", "Identity_2"): 3e-3}


def test_litert_runs_the_cpu_and_a_gpu_runtime_comes_first():
    assert choose_backend("cpu", [CPU], torch_cuda=False, litert=True) == LITERT_BACKEND
    assert choose_backend("auto", [CPU], torch_cuda=False, litert=True) == LITERT_BACKEND
    assert choose_backend("gpu", [CPU], torch_cuda=False, litert=True) == LITERT_BACKEND    # with a warning
    assert choose_backend("cpu", [CUDA, CPU], torch_cuda=True, litert=True) == LITERT_BACKEND
    assert choose_backend("auto", [CUDA, CPU], torch_cuda=False, litert=True) == ORT_BACKEND
    assert choose_backend("auto", [CPU], torch_cuda=True, litert=True) == TORCH_BACKEND
    assert choose_backend("cpu", [CPU], torch_cuda=False, litert=False) == ORT_BACKEND      # not installed


@pytest.mark.parametrize("name", sorted(MODELS))
def test_litert_gives_what_the_converted_model_gives(onnx_models, name):
    lite = LiteRtModel(wheel_model_bytes(name), name)
    ort = OrtModel(model_bytes(onnx_models, name), name, device="cpu")
    h, w = MODELS[name].input_hw
    x = np.random.default_rng(1).uniform(0.0, 1.0, (3, h, w, 3)).astype(np.float32)
    got, want = lite(x), ort(x)
    assert lite.provider == LITERT_PROVIDER and set(got) == set(want)
    for k, out in got.items():
        single = np.concatenate([lite(x[i:i + 1])[k] for i in range(len(x))])
        np.testing.assert_array_equal(out, single)
        error = np.abs(out - want[k]).max() / max(1.0, float(np.abs(want[k]).max()))
        print(f"{name} {k}: {error:.1e}")
        assert out.shape == want[k].shape and error <= LOOSER.get((name, k), PARITY_LIMIT), (k, error)


def test_a_wheel_file_that_differs_from_its_record_is_refused(tmp_path, monkeypatch):
    root, hashes = wheel.record_hashes()
    spec = MODELS["hand_recrop"]
    copy = tmp_path / spec.wheel_path
    copy.parent.mkdir(parents=True)
    shutil.copyfile(root / spec.wheel_path, copy)
    monkeypatch.setattr(runner_litert, "record_hashes", lambda: (tmp_path, hashes))
    assert wheel_model_bytes("hand_recrop") == (root / spec.wheel_path).read_bytes()
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(wheel.WheelModelError) as err:
        wheel_model_bytes("hand_recrop")
    assert "differs from the file mediapipe" in str(err.value) and "\n" not in str(err.value)


def test_bytes_that_are_not_a_model_are_one_line():
    with pytest.raises(ModelStoreError) as err:
        LiteRtModel(b"not a tflite model" * 64, "hand_recrop")
    assert "LiteRT cannot load detector model 'hand_recrop'" in str(err.value) and "\n" not in str(err.value)
