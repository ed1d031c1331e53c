"""The detector models converted to ONNX (issue 13): conversion is byte-reproducible and checked
against the wheel (a file that differs from what mediapipe 0.10.21 shipped is refused), every
converted model matches its .tflite original (measured at conversion) and runs a batch of N as N
single calls, a damaged model file or manifest is one clear line, and the provider choice falls back
to the CPU with a warning when a GPU is asked for and missing.

The converter runs in its own environment (.venv-convert, made by scripts/test.sh, which also
converts every model once into the session's models folder, ``onnx_models``)."""
from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from inference.detect.models import MEDIAPIPE_VERSION, MODELS, OPSET
from inference.detect.onnx.runner import (CPU, CUDA, ORT_BACKEND, TENSORRT, TORCH_BACKEND, OrtModel,
                                         choose_backend, choose_providers)
from inference.detect.onnx.store import MANIFEST, ModelStoreError, model_bytes, read_manifest

ROOT = Path(__file__).resolve().parents[2]
CONVERT_PYTHON = ROOT / ".venv-convert" / "bin" / "python"
SCRIPT = ROOT / "scripts" / "convert_models.py"
#: The sparse model (densified) and the one whose Slices cut the batch axis: the patches under test.
PATCHED = ("pose_detection", "hand_recrop")


def _site() -> Path:
    """The site-packages of this (the worker's) environment, which holds mediapipe."""
    return Path(metadata.distribution("mediapipe").locate_file(""))


def _convert(out: Path, *extra: str, site: Path | None = None) -> subprocess.CompletedProcess:
    assert CONVERT_PYTHON.is_file(), f"{CONVERT_PYTHON} missing: run scripts/test.sh once (it makes .venv-convert)"
    return subprocess.run([str(CONVERT_PYTHON), str(SCRIPT), "--out", str(out), "--mediapipe-site",
                           str(site or _site()), *extra], capture_output=True, text=True, timeout=600)


def test_every_model_is_converted_close_to_its_original(onnx_models):
    entries = read_manifest(onnx_models)
    assert set(entries) == set(MODELS)
    doc = json.loads((onnx_models / MANIFEST).read_text())
    assert (doc["mediapipe"], doc["opset"]) == (MEDIAPIPE_VERSION, OPSET)
    for name, e in entries.items():
        assert e.parity <= 1e-3, (name, e.parity)
        assert all(shape[0] == "batch" for shape in list(e.inputs.values()) + list(e.outputs.values())), name
    print({name: f"{e.parity:.0e}" for name, e in entries.items()})


def test_conversion_is_byte_reproducible(onnx_models, tmp_path):
    """A second, independent conversion gives the very bytes of the session's."""
    proc = _convert(tmp_path, "--models", ",".join(PATCHED))
    assert proc.returncode == 0, proc.stderr[-2000:]
    again, first = read_manifest(tmp_path), read_manifest(onnx_models)
    for name in PATCHED:
        assert again[name].sha256 == first[name].sha256, name
        assert (tmp_path / f"{name}.onnx").read_bytes() == (onnx_models / f"{name}.onnx").read_bytes()
    assert "up to date" in _convert(tmp_path, "--models", PATCHED[1]).stdout     # nothing redone


def test_a_file_that_differs_from_the_wheel_is_refused(tmp_path):
    site = tmp_path / "site"
    dist = metadata.distribution("mediapipe")
    record = next(f for f in dist.files if f.name == "RECORD")
    info = Path(dist.locate_file(record)).parent                      # the installed .dist-info folder
    shutil.copytree(info, site / info.name)
    spec = MODELS["hand_recrop"]
    target = site / spec.wheel_path
    target.parent.mkdir(parents=True)
    data = bytearray((_site() / spec.wheel_path).read_bytes())
    data[len(data) // 2] ^= 0xFF                                      # one byte changed
    target.write_bytes(bytes(data))
    out = tmp_path / "models"
    proc = _convert(out, "--models", "hand_recrop", site=site)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert f"differs from the file mediapipe {MEDIAPIPE_VERSION} shipped" in err[0]
    assert not (out / MANIFEST).exists() and not list(out.glob("*.onnx"))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_batch_of_n_is_n_single_calls(onnx_models, name):
    model = OrtModel(model_bytes(onnx_models, name), name, device="cpu")
    h, w = MODELS[name].input_hw
    x = np.random.default_rng(0).uniform(0.0, 1.0, (4, h, w, 3)).astype(np.float32)
    batch = model(x)
    for k, out in batch.items():
        single = np.concatenate([model(x[i:i + 1])[k] for i in range(len(x))])
        assert out.shape[0] == 4 and np.abs(out - single).max() <= 1e-6 * max(1.0, float(np.abs(single).max())), k


def test_a_damaged_model_or_manifest_is_one_line(onnx_models, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(onnx_models, folder)
    model = folder / "hand_recrop.onnx"
    data = bytearray(model.read_bytes())
    data[100] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelStoreError) as info:
        model_bytes(folder, "hand_recrop")
    assert "is damaged" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ModelStoreError, match="not among"):
        model_bytes(folder, "no_such_model")
    with pytest.raises(ModelStoreError, match="no converted detector models"):
        read_manifest(tmp_path / "empty")
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(ModelStoreError, match="is not a model manifest"):
        read_manifest(folder)
    with pytest.raises(ModelStoreError, match="cannot load detector model") as info:
        OrtModel(b"not an onnx graph", "hand_recrop", device="cpu")      # bytes that passed a check but are not a model
    assert "\n" not in str(info.value)


def test_providers_are_chosen_best_first_and_a_missing_gpu_falls_back_with_a_warning():
    gpu_build = [TENSORRT, CUDA, CPU]
    assert choose_providers("auto", gpu_build).providers == (TENSORRT, CUDA, CPU)
    assert choose_providers("auto", [CUDA, CPU]).providers == (CUDA, CPU)
    assert choose_providers("cpu", gpu_build).providers == (CPU,)
    assert choose_providers("auto", [CPU]).warning == ""
    cpu_only = choose_providers("gpu", [CPU])
    assert cpu_only.providers == (CPU,) and "running on the CPU" in cpu_only.warning
    with pytest.raises(ValueError):
        choose_providers("tpu", gpu_build)


def test_a_gpu_asked_for_on_this_machine_runs_on_the_cpu_and_says_so(onnx_models):
    model = OrtModel(model_bytes(onnx_models, "hand_recrop"), "hand_recrop", device="gpu")
    assert model.provider == CPU and "running on the CPU" in model.warning
    assert model(np.zeros((1, 256, 256, 3), np.float32))


def test_pytorch_runs_the_models_only_where_it_alone_reaches_a_gpu():
    assert choose_backend("auto", [CPU], torch_cuda=True) == TORCH_BACKEND        # the GPU machine: torch + CPU ORT
    assert choose_backend("gpu", [CPU], torch_cuda=True) == TORCH_BACKEND
    assert choose_backend("cpu", [CPU], torch_cuda=True) == ORT_BACKEND
    assert choose_backend("gpu", [CUDA, CPU], torch_cuda=True) == ORT_BACKEND     # onnxruntime-gpu first
    assert choose_backend("gpu", [CPU], torch_cuda=False) == ORT_BACKEND          # then the CPU, with a warning
