"""ONNX graph patches after conversion: a dynamic batch axis and reproducible bytes.

The converted graphs fix the batch at 1: their inputs and outputs say so, some Reshapes have a
constant target shape ``[1, …]`` and some Slices cut the batch axis to ``[0, 1)``. Those become
``0`` (keep the input's batch) and "to the end", so N pictures run as one call and give exactly
what N calls of one give. Names (tensors, nodes) are renumbered and free text dropped, so two
conversions of the same file are byte for byte the same.
"""
from __future__ import annotations

import numpy as np

#: The batch axis's symbolic name in the converted inputs and outputs.
BATCH = "batch"
_INT64_MAX = np.iinfo(np.int64).max


def make_batch_dynamic(model):
    """Patch ``model`` (an onnx ModelProto, in place) for any batch size; returns it."""
    from onnx import numpy_helper  # noqa: PLC0415 (the converter's environment only)

    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH
    del graph.value_info[:]                      # shapes inferred for batch 1
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    added = {}

    def replace(node, slot: int, values: np.ndarray) -> None:
        name = f"{node.input[slot]}_any_batch"
        added.setdefault(name, numpy_helper.from_array(values, name))
        node.input[slot] = name

    for node in graph.node:
        if node.op_type == "Reshape" and node.input[1] in constants:
            shape = constants[node.input[1]]
            if shape.size and shape[0] == 1:
                replace(node, 1, np.concatenate([[0], shape[1:]]).astype(shape.dtype))     # 0: the input's batch
        elif node.op_type == "Slice" and len(node.input) >= 4 and node.input[3] in constants:
            axes = constants[node.input[3]].tolist()
            if 0 in axes:
                ends = constants[node.input[2]].copy()
                ends[axes.index(0)] = _INT64_MAX
                replace(node, 2, ends)
    graph.initializer.extend(added.values())
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def canonicalise(model, name: str):
    """Put ``model``'s nodes in an order fixed by the graph's structure alone and renumber its inner
    tensor and node names in that order, constants too (the converter lists independent branches
    and constants in a different order each run); drop doc strings and metadata and name the graph
    ``name`` (in place); returns it. Inputs and outputs keep their names."""
    graph = model.graph
    nodes = _structural_order(graph)
    del graph.node[:]
    graph.node.extend(nodes)
    outer = {v.name for v in list(graph.input) + list(graph.output)}
    renamed: dict[str, str] = {}
    for node in graph.node:
        for tensor in list(node.input) + list(node.output):
            if tensor and tensor not in outer and tensor not in renamed:
                renamed[tensor] = f"t{len(renamed)}"
    constants = sorted(graph.initializer, key=lambda t: int(renamed.get(t.name, "t-1")[1:]))
    constants = [type(t).FromString(t.SerializeToString()) for t in constants]
    for t in constants:
        t.name, t.doc_string = renamed.get(t.name, t.name), ""
    del graph.initializer[:]
    graph.initializer.extend(constants)
    for k, node in enumerate(graph.node):
        node.input[:] = [renamed.get(t, t) for t in node.input]
        node.output[:] = [renamed.get(t, t) for t in node.output]
        node.name, node.doc_string = f"n{k:04d}_{node.op_type}", ""
    graph.name, graph.doc_string, model.doc_string = name, "", ""
    model.producer_name, model.producer_version = "smplx_mocap.convert", "1"
    del model.metadata_props[:]
    return model


def _structural_order(graph) -> list:
    """The nodes in depth-first post-order from the graph's outputs (in their order), each node's
    inputs visited in slot order: a topological order that depends on the structure, not on names
    or the converter's listing. Nodes no output depends on are left out."""
    producer = {t: node for node in graph.node for t in node.output}
    order, done = [], set()
    for output in graph.output:
        if output.name not in producer:
            continue
        stack = [(producer[output.name], 0)]
        while stack:
            node, slot = stack.pop()
            if id(node) in done:
                continue
            inputs = [producer[t] for t in node.input if t in producer]
            while slot < len(inputs) and id(inputs[slot]) in done:
                slot += 1
            if slot < len(inputs):
                stack.append((node, slot + 1))
                stack.append((inputs[slot], 0))
            else:
                done.add(id(node))
                order.append(node)
    return [type(n).FromString(n.SerializeToString()) for n in order]


def io_shapes(values) -> dict:
    """{name: [dims]} of graph inputs or outputs (a symbolic dim by its name)."""
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}
