"""The PyTorch runner (inference/detect/onnx/runner_torch.py) against ONNX Runtime on the CPU: every
converted model gives the same outputs, a batch of N is N single calls, the device setting falls
back with a warning, and an op it does not implement is one clear line at load. Prints the max
differences and the milliseconds per call (batch 1) of both runtimes.
"""
import time

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from inference.detect.models import MODELS
from inference.detect.onnx import store
from inference.detect.onnx.runner import OrtModel
from inference.detect.onnx.runner_torch import OP_TYPES, TorchModel, UnsupportedOpError, choose_device

#: Largest output difference between the runtimes, relative to the output's magnitude (at least 1).
TOLERANCE = 1e-4
#: Outputs whose float32 result depends on summation order beyond TOLERANCE: pose_landmark_full's
#: segmentation logits (±1500, unused by the detector) — ONNX Runtime itself is 1.3e-4 from a float64
#: run of the same graph there (PyTorch 1.9e-4), and the conversion's parity to the .tflite is 3e-4.
LOOSER = {("pose_landmark_full", "Identity_2"): 1e-3}
#: A batch against single calls of the same runtime (PyTorch picks other kernels for batch > 1).
BATCH_TOLERANCE = 1e-5
BATCH = 2
TIMED_CALLS = 10


def _input(entry, n: int) -> np.ndarray:
    """(n, H, W, 3) float32 uniform noise in [0, 1] (seed 0), as the conversion's parity check."""
    shape = next(iter(entry.inputs.values()))[1:]
    return np.random.default_rng(0).uniform(0.0, 1.0, (n, *shape)).astype(np.float32)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


def _ms(model, x: np.ndarray) -> float:
    model(x)                        # first call: allocations, kernel choice
    start = time.perf_counter()
    for _ in range(TIMED_CALLS):
        model(x)
    return (time.perf_counter() - start) * 1e3 / TIMED_CALLS


def test_converted_models_hold_only_implemented_ops(onnx_models):
    found = {n.op_type for name, e in store.read_manifest(onnx_models).items()
             for n in onnx.load(str(onnx_models / e.file)).graph.node}
    print("op types:", sorted(found))
    assert found <= set(OP_TYPES), sorted(found - set(OP_TYPES))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torch_matches_onnx_runtime_on_the_cpu(onnx_models, name):
    entry = store.read_manifest(onnx_models)[name]
    data = store.model_bytes(onnx_models, name)
    ort, tch = OrtModel(data, name, device="cpu", threads=1), TorchModel(data, name, device="cpu", threads=1)
    assert (tch.provider, tch.warning, tch.name) == ("torch-cpu", "", name)
    assert (tch.input_name, tch.output_names) == (ort.input_name, ort.output_names)
    x = _input(entry, BATCH)
    want, got = ort(x), tch(x)
    singles = [tch(x[i:i + 1]) for i in range(BATCH)]
    diffs = {}
    for out in ort.output_names:
        assert got[out].shape == want[out].shape and got[out].dtype == np.float32, out
        diffs[out] = _relative(got[out], want[out])
        assert diffs[out] <= LOOSER.get((name, out), TOLERANCE), (out, diffs[out])
        assert _relative(got[out], np.concatenate([s[out] for s in singles])) <= BATCH_TOLERANCE, out
    print(f"{name}: max difference {', '.join(f'{k} {v:.1e}' for k, v in diffs.items())}; ms per call "
          f"(batch 1) ONNX Runtime {_ms(ort, x[:1]):.2f}, PyTorch {_ms(tch, x[:1]):.2f}")


def test_device_setting():
    assert choose_device("cpu", True) == ("cpu", "")
    assert choose_device("auto", True) == ("cuda:0", "")
    assert choose_device("gpu", True) == ("cuda:0", "")
    assert choose_device("auto", False) == ("cpu", "")
    device, warning = choose_device("gpu", False)
    assert device == "cpu" and "GPU" in warning and "\n" not in warning
    with pytest.raises(ValueError, match="cpu"):
        choose_device("tpu", False)


def test_gpu_without_cuda_runs_on_the_cpu_with_a_warning(onnx_models):
    name = "iris_landmark"
    model = TorchModel(store.model_bytes(onnx_models, name), name, device="gpu", half=True)
    if torch.cuda.is_available():       # the GPU machine: no fallback, fp16 as asked
        assert (model.provider, model.warning) == ("torch-cuda:0 fp16", "")
    else:                               # fp16 is for CUDA only: the CPU stays float32
        assert model.provider == "torch-cpu" and model.warning and "\n" not in model.warning
    out = model(_input(store.read_manifest(onnx_models)[name], 1))
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in out.values())


def _model(node, inputs, outputs, initializers=()) -> bytes:
    """A one-node ONNX model (opset 17) as bytes; inputs / outputs: (name, shape) float32."""
    def values(pairs):
        return [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in pairs]
    graph = helper.make_graph([node], "tiny", values(inputs), values(outputs), list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_an_unimplemented_op_is_one_line_at_load():
    data = _model(helper.make_node("Erf", ["x"], ["y"], name="erf0"), [("x", [1, 4])], [("y", [1, 4])])
    with pytest.raises(UnsupportedOpError, match="'Erf'") as err:
        TorchModel(data, "tiny", device="cpu")
    assert "\n" not in str(err.value) and "erf0" in str(err.value)
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1])
    data = _model(helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect"), [("x", [1, 1, 4, 4])],
                  [("y", [1, 1, 6, 6])], [pads])
    with pytest.raises(UnsupportedOpError, match="Pad in mode reflect"):
        TorchModel(data, "tiny", device="cpu")


def test_damaged_bytes_are_one_line():
    with pytest.raises(store.ModelStoreError, match="cannot read detector model 'tiny'"):
        TorchModel(b"\x00not a model", "tiny", device="cpu")


def _weights(name, shape, seed):
    values = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, shape, values.ravel())


#: Branches the converted models do not take, each a one-node model: (node, inputs, outputs, initializers).
BRANCHES = {
    "DepthToSpace CRD": (helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD"),
                         [("x", [2, 8, 3, 5])], [("y", [2, 2, 6, 10])], []),
    "Gemm transA transB alpha beta": (
        helper.make_node("Gemm", ["x", "b", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0),
        [("x", [6, 3])], [("y", [3, 4])], [_weights("b", [4, 6], 1), _weights("c", [4], 2)]),
    "PRelu one slope": (helper.make_node("PRelu", ["x", "s"], ["y"]), [("x", [2, 3, 4])], [("y", [2, 3, 4])],
                        [_weights("s", [1], 3)]),
    "Conv dilated, strided, asymmetric pads": (
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 1], strides=[2, 1], dilations=[2, 1]),
        [("x", [2, 4, 9, 7])], [("y", [2, 6, 4, 7])], [_weights("w", [6, 4, 3, 3], 4)]),
}


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_branches_the_models_do_not_take_match_onnx_runtime(branch):
    node, inputs, outputs, initializers = BRANCHES[branch]
    data = _model(node, inputs, outputs, initializers)
    x = np.random.default_rng(0).normal(size=inputs[0][1]).astype(np.float32)
    want, got = OrtModel(data, "tiny", device="cpu")(x), TorchModel(data, "tiny", device="cpu")(x)
    assert got["y"].shape == want["y"].shape and _relative(got["y"], want["y"]) <= TOLERANCE
