"""Sparse weights made dense, so ONNX converters can read the model.

MediaPipe ships some models (``pose_detection``) with sparse float16 weights that a ``DENSIFY``
operator expands at load time; converters do not implement it. Here a TFLite interpreter expands
them, the dense values become the constant tensors the ``DENSIFY`` operators produced, and the
operators are dropped. The interpreter must be created WITHOUT the default XNNPACK delegate: with
it the expanded tensors read back are not the weights, and the conversion is silently wrong.
"""
from __future__ import annotations

import numpy as np


def _builtin(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def densify(data: bytes, path: str) -> bytes:
    """The TFLite flatbuffer ``data`` (read from ``path``) with every DENSIFY operator replaced
    by its dense output; ``data`` itself when it has none."""
    import flatbuffers  # noqa: PLC0415 (the converter's environment only)
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.lite.python import schema_py_generated as schema  # noqa: PLC0415

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    dense_ops = [op for op in graph.operators if _builtin(model, op) == schema.BuiltinOperator.DENSIFY]
    if not dense_ops:
        return data
    interp = tf.lite.Interpreter(
        model_path=path, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()
    for op in dense_ops:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(interp.get_tensor(op.outputs[0])).tobytes(), np.uint8)
        model.buffers.append(buffer)
        graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
        sparse = graph.tensors[op.inputs[0]]
        sparse.sparsity, sparse.buffer = None, 0          # no longer read: an empty buffer
    graph.operators = [op for op in graph.operators if _builtin(model, op) != schema.BuiltinOperator.DENSIFY]
    builder = flatbuffers.Builder(4 * len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
