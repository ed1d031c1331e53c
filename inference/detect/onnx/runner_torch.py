"""Run one converted model with PyTorch: for GPUs where ``onnxruntime-gpu`` cannot be installed.

A small ONNX-graph executor, not a converter: the ModelProto is read with ``onnx``, its
initializers become tensors once (on the device), and each node becomes a closure over its
attributes and constant inputs, precomputed at load, so a call is one list walk with one
``torch.nn.functional`` op per node. Only the op types our converted MediaPipe models hold are
implemented; any other op (or an attribute value we do not implement) is a one-line
:class:`UnsupportedOpError` at load, never a wrong result. Same interface as
:class:`.runner.OrtModel`. float32 on the CPU; on CUDA fp16 on request (``half``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .runner import DEVICES
from .store import ModelStoreError

#: The ONNX domains of the standard operators.
ONNX_DOMAINS = ("", "ai.onnx")
#: ONNX Slice's "to the end" (INT64_MAX) and anything at least as large.
SLICE_TO_END = 2**62


class UnsupportedOpError(ModelStoreError):
    """The model holds an ONNX op (or attribute value) the PyTorch runner does not implement."""


def _unsupported(model: str, node, what: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"detector model '{model}': the PyTorch runner has no {what} (node "
                              f"'{node.name}'): convert the models again with scripts/convert_models.py, "
                              "or run this model with ONNX Runtime")


def choose_device(device: str, cuda: bool) -> tuple[str, str]:
    """(torch device, warning '' or one line) for ``device`` ('auto', 'gpu' or 'cpu') when this
    torch has CUDA (``cuda``) or not."""
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
    if device == "cpu" or not cuda:
        warning = ("GPU requested but this PyTorch has no CUDA (a CPU-only build, or no usable driver): "
                   "running on the CPU") if device == "gpu" else ""
        return "cpu", warning
    return "cuda:0", ""


# --- One builder per op type: (context, node, attributes, constant(name) → array or None) →
# (fn, the inputs fn takes at run time); constant inputs (shapes, pads, weights) are bound in fn.

def _text(value):
    """An attribute value with ONNX's byte strings as str."""
    return value.decode() if isinstance(value, bytes) else value


def _optional(node, i: int) -> str:
    """The name of the node's i-th input, '' when absent."""
    return node.input[i] if len(node.input) > i else ""


def _pairs(pads: list[int]) -> list[int]:
    """ONNX pads (begin₀ … beginₖ, end₀ … endₖ) → F.pad's (beginₖ, endₖ, …, begin₀, end₀)."""
    k = len(pads) // 2
    return [p for i in reversed(range(k)) for p in (pads[i], pads[k + i])]


def _conv(ctx, node, attrs, const):
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: N812, PLC0415

    weight, bias = const(node.input[1]), const(_optional(node, 2))
    if weight is None or (_optional(node, 2) and bias is None):
        raise ctx.unsupported(node, "Conv with weights computed in the graph")
    if weight.ndim != 4 or attrs.get("auto_pad", "NOTSET") != "NOTSET":
        raise ctx.unsupported(node, f"Conv of rank {weight.ndim - 2} or auto_pad {attrs.get('auto_pad')}")
    # channels-last weights: the NHWC input stays channels-last through the graph (its Transpose is a
    # view), where depthwise convolutions run 2-3x faster than on NCHW (CPU and cuDNN alike).
    w = ctx.tensor(weight).contiguous(memory_format=torch.channels_last)
    b = ctx.tensor(bias) if bias is not None else None
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    stride, dilation = tuple(attrs.get("strides", (1, 1))), tuple(attrs.get("dilations", (1, 1)))
    groups = attrs.get("group", 1)
    if pads[:2] == pads[2:]:                      # symmetric: the convolution pads itself
        return (lambda x: F.conv2d(x, w, b, stride, tuple(pads[:2]), dilation, groups)), [node.input[0]]
    edges = _pairs(pads)                          # TFLite's SAME with stride 2 pads more at the end
    return (lambda x: F.conv2d(F.pad(x, edges), w, b, stride, 0, dilation, groups)), [node.input[0]]


def _max_pool(ctx, node, attrs, const):
    import torch.nn.functional as F  # noqa: N812, PLC0415

    kernel = tuple(attrs["kernel_shape"])
    pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
    if len(kernel) != 2 or attrs.get("auto_pad", "NOTSET") != "NOTSET" or pads[:2] != pads[2:] \
            or attrs.get("storage_order", 0):
        raise ctx.unsupported(node, "MaxPool other than 2-D with symmetric explicit pads")
    stride, dilation = tuple(attrs.get("strides", kernel)), tuple(attrs.get("dilations", (1, 1)))
    ceil = bool(attrs.get("ceil_mode", 0))
    return (lambda x: F.max_pool2d(x, kernel, stride, tuple(pads[:2]), dilation, ceil)), [node.input[0]]


def _clip(ctx, node, attrs, const):
    import torch  # noqa: PLC0415

    names = [_optional(node, 1), _optional(node, 2)]
    bounds = [const(n) for n in names]
    if any(n and b is None for n, b in zip(names, bounds)):
        raise ctx.unsupported(node, "Clip with bounds computed in the graph")
    lo, hi = (None if b is None else float(b) for b in bounds)
    return (lambda x: torch.clamp(x, lo, hi)), [node.input[0]]


def _pad(ctx, node, attrs, const):
    import torch.nn.functional as F  # noqa: N812, PLC0415

    pads = const(node.input[1])
    value = const(_optional(node, 2)) if _optional(node, 2) else np.zeros(())
    mode = attrs.get("mode", "constant")
    if pads is None or value is None or mode != "constant" or _optional(node, 3):
        raise ctx.unsupported(node, f"Pad in mode {mode} or with pads computed in the graph")
    edges, fill = _pairs([int(p) for p in pads]), float(value)
    return (lambda x: F.pad(x, edges, value=fill)), [node.input[0]]


def _transpose(ctx, node, attrs, const):
    perm = tuple(attrs["perm"])
    return (lambda x: x.permute(perm)), [node.input[0]]


def _reshape(ctx, node, attrs, const):
    shape = const(node.input[1])
    if shape is None or attrs.get("allowzero", 0):
        raise ctx.unsupported(node, "Reshape with a shape computed in the graph or allowzero")
    shape = [int(s) for s in shape]
    copied = [i for i, s in enumerate(shape) if s == 0]   # 0: that dimension of the input
    if not copied:
        return (lambda x: x.reshape(shape)), [node.input[0]]
    return (lambda x: x.reshape([x.shape[i] if s == 0 else s for i, s in enumerate(shape)])), [node.input[0]]


def _resize(ctx, node, attrs, const):
    import torch.nn.functional as F  # noqa: N812, PLC0415

    scales = const(_optional(node, 2))
    mode, transform = attrs.get("mode", "nearest"), attrs.get("coordinate_transformation_mode", "half_pixel")
    if scales is None or _optional(node, 3) or len(scales) != 4 or list(scales[:2]) != [1, 1] \
            or mode != "linear" or transform != "half_pixel" or attrs.get("antialias", 0):
        raise ctx.unsupported(node, f"Resize other than 2-D {mode}/{transform} by constant scales")
    factor = (float(scales[2]), float(scales[3]))
    # align_corners=False is ONNX's half_pixel; torch maps coordinates by the given factor as ONNX does.
    return (lambda x: F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)), \
        [node.input[0]]


def _depth_to_space(ctx, node, attrs, const):
    import torch.nn.functional as F  # noqa: N812, PLC0415

    block, mode = attrs["blocksize"], attrs.get("mode", "DCR")
    if mode == "CRD":
        return (lambda x: F.pixel_shuffle(x, block)), [node.input[0]]

    def dcr(x):   # depth is (block row, block column, channel): TFLite's DEPTH_TO_SPACE
        n, c, h, w = x.shape
        y = x.reshape(n, block, block, c // (block * block), h, w).permute(0, 3, 4, 1, 5, 2)
        return y.reshape(n, c // (block * block), h * block, w * block)
    return dcr, [node.input[0]]


def _prelu(ctx, node, attrs, const):
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: N812, PLC0415

    slope = const(node.input[1])
    if slope is None:
        raise ctx.unsupported(node, "PRelu with a slope computed in the graph")
    full = ctx.tensor(slope)
    if slope.ndim == 4 and slope.shape[0] == 1 and slope.shape[2:] == (1, 1):   # per channel of NCHW
        per_channel = ctx.tensor(slope.reshape(-1))
        return (lambda x: F.prelu(x, per_channel) if x.dim() == 4 else torch.where(x >= 0, x, x * full)), \
            [node.input[0]]
    return (lambda x: torch.where(x >= 0, x, x * full)), [node.input[0]]


def _slice(ctx, node, attrs, const):
    starts, ends = const(node.input[1]), const(node.input[2])
    if starts is None or ends is None:
        raise ctx.unsupported(node, "Slice with bounds computed in the graph")
    axes = const(_optional(node, 3)) if _optional(node, 3) else np.arange(len(starts))
    steps = const(_optional(node, 4)) if _optional(node, 4) else np.ones(len(starts), np.int64)
    if axes is None or steps is None or (steps < 1).any() or (axes < 0).any():
        raise ctx.unsupported(node, "Slice with computed bounds, negative axes or steps below 1")
    index = [slice(None)] * (int(axes.max()) + 1)
    for a, s, e, t in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s), None if e >= SLICE_TO_END else int(e), int(t))
    index = tuple(index)
    return (lambda x: x[index]), [node.input[0]]


def _squeeze(ctx, node, attrs, const):
    axes = const(_optional(node, 1))
    if axes is None:
        if _optional(node, 1):
            raise ctx.unsupported(node, "Squeeze with axes computed in the graph")
        return (lambda x: x.squeeze()), [node.input[0]]
    dims = tuple(int(a) for a in axes)
    return (lambda x: x.squeeze(dims)), [node.input[0]]


def _gemm(ctx, node, attrs, const):
    import torch  # noqa: PLC0415

    b = const(node.input[1])
    c = const(_optional(node, 2))
    if b is None or (c is None and _optional(node, 2)):
        raise ctx.unsupported(node, "Gemm with a B or C computed in the graph")
    b = ctx.tensor(np.ascontiguousarray(b.T if attrs.get("transB", 0) else b))
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    trans_a = bool(attrs.get("transA", 0))
    if c is None:
        return (lambda x: alpha * ((x.t() if trans_a else x) @ b)), [node.input[0]]
    c = ctx.tensor(c)
    return (lambda x: torch.addmm(c, x.t() if trans_a else x, b, beta=beta, alpha=alpha)), [node.input[0]]


def _global_average_pool(ctx, node, attrs, const):
    return (lambda x: x.mean(tuple(range(2, x.dim())), keepdim=True)), [node.input[0]]


def _concat(ctx, node, attrs, const):
    import torch  # noqa: PLC0415

    axis = attrs["axis"]
    return (lambda *xs: torch.cat(xs, axis)), list(node.input)


def _elementwise(name):
    def build(ctx, node, attrs, const):
        import torch  # noqa: PLC0415

        fn = {"Add": torch.add, "Relu": torch.relu, "Sigmoid": torch.sigmoid}[name]
        return fn, list(node.input)
    return build


#: ONNX op type → builder: the op types of our converted models (tests/detect/test_runner_torch.py scans them).
BUILDERS: dict[str, Callable] = {
    "Conv": _conv, "MaxPool": _max_pool, "Clip": _clip, "Pad": _pad, "Transpose": _transpose,
    "Reshape": _reshape, "Resize": _resize, "DepthToSpace": _depth_to_space, "PRelu": _prelu,
    "Slice": _slice, "Squeeze": _squeeze, "Gemm": _gemm, "GlobalAveragePool": _global_average_pool,
    "Concat": _concat, **{op: _elementwise(op) for op in ("Add", "Relu", "Sigmoid")},
}
OP_TYPES = tuple(BUILDERS)


class _Context:
    """What the builders share: the model's name (errors), the device and the dtype of float tensors."""

    def __init__(self, name, device, dtype):
        self.name, self.device, self.dtype = name, device, dtype

    def tensor(self, array: np.ndarray):
        import torch  # noqa: PLC0415

        t = torch.from_numpy(np.array(array))
        return t.to(self.device, self.dtype if t.is_floating_point() else t.dtype)

    def unsupported(self, node, what: str) -> UnsupportedOpError:
        return _unsupported(self.name, node, what)


class TorchModel:
    """One model as a PyTorch program. ``provider`` 'torch-cpu' or 'torch-cuda:0' (+ ' fp16');
    ``warning`` '' or one line (a GPU asked for and not there). ``threads`` > 0 sets PyTorch's
    (process-wide) intra-op threads; ``cache`` is ignored (ONNX Runtime's TensorRT engines);
    ``half`` runs fp16 on CUDA (weights and input in fp16, outputs back to float32), never on the CPU."""

    def __init__(self, data: bytes, name: str, device: str = "auto", threads: int = 0,
                 cache: Path | None = None, half: bool = False):
        import onnx  # noqa: PLC0415 (the GPU worker's environment)
        import torch  # noqa: PLC0415
        from onnx import helper, numpy_helper  # noqa: PLC0415

        target, self.warning = choose_device(device, torch.cuda.is_available())
        if threads > 0:
            torch.set_num_threads(threads)
        half = half and target != "cpu"
        self.name = name
        self.provider = f"torch-{target}" + (" fp16" if half else "")
        self.device = torch.device(target)
        self.dtype = torch.float16 if half else torch.float32
        if target != "cpu":
            torch.backends.cudnn.benchmark = True     # fixed input sizes: pick the fastest kernels once
        try:
            graph = onnx.load_from_string(data).graph
        except Exception as exc:    # protobuf raises its own untyped errors on damaged bytes
            raise ModelStoreError(f"cannot read detector model '{name}' as ONNX ({type(exc).__name__}): run "
                                  "scripts/convert_models.py again (or the add-on's runtime set-up)") from None
        initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        ctx = _Context(name, self.device, self.dtype)
        inputs = [i.name for i in graph.input if i.name not in initializers]
        if len(inputs) != 1:
            raise ModelStoreError(f"detector model '{name}' has {len(inputs)} inputs, not one picture batch: "
                                  "run scripts/convert_models.py again")
        self.input_name = inputs[0]
        self.output_names = [o.name for o in graph.output]
        steps = []                                      # (fn, run-time input names, output name)
        for node in graph.node:
            if node.domain not in ONNX_DOMAINS or node.op_type not in BUILDERS:
                raise _unsupported(name, node, f"ONNX op '{node.op_type}'")
            if any(node.output[1:]):
                raise _unsupported(name, node, f"second output of '{node.op_type}'")
            attrs = {a.name: _text(helper.get_attribute_value(a)) for a in node.attribute}
            fn, dynamic = BUILDERS[node.op_type](ctx, node, attrs, initializers.get)
            steps.append((fn, dynamic, node.output[0]))
        # Value slots: the input, the initializers the graph uses as data (Add of a constant), each
        # node's output; the nodes in the file's order, which ONNX requires to be topological.
        constants = {n: ctx.tensor(initializers[n]) for _, d, _ in steps for n in d if n in initializers}
        slot = {self.input_name: 0, **{n: k + 1 for k, n in enumerate(constants)}}
        for _, dynamic, out in steps:
            missing = [n for n in dynamic if n not in slot]
            if missing:
                raise ModelStoreError(f"detector model '{name}' uses value '{missing[0]}' before it is computed: "
                                      "run scripts/convert_models.py again")
            slot.setdefault(out, len(slot))
        if any(n not in slot for n in self.output_names):
            raise ModelStoreError(f"detector model '{name}' has an output no node computes: "
                                  "run scripts/convert_models.py again")
        # Drop each intermediate after its last use (GPU memory on big batches).
        last = {n: k for k, (_, dynamic, _) in enumerate(steps) for n in dynamic}
        drops = [[] for _ in steps]
        for n, k in last.items():
            if n not in constants and n not in self.output_names:
                drops[k].append(slot[n])
        self._program = [(fn, [slot[n] for n in dynamic], slot[out], drops[k])
                         for k, (fn, dynamic, out) in enumerate(steps)]
        self._slots = [None] * len(slot)
        for n, t in constants.items():
            self._slots[slot[n]] = t
        self._outputs = [(n, slot[n]) for n in self.output_names]
        self._torch = torch

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, W, 3) float32 → {output name: (N, …) float32 array}."""
        torch = self._torch
        with torch.inference_mode():
            values = list(self._slots)
            x = torch.from_numpy(np.ascontiguousarray(batch, np.float32))
            values[0] = x.to(self.device, self.dtype, non_blocking=False)
            for fn, args, out, drops in self._program:
                values[out] = fn(*[values[i] for i in args])
                for i in drops:
                    values[i] = None
            return {n: values[i].to("cpu", torch.float32).contiguous().numpy() for n, i in self._outputs}
