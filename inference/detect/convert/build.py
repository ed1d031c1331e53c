"""Convert the models of :data:`..models.MODELS` into a folder: check each ``.tflite`` against the
wheel's RECORD, densify sparse weights, convert with tf2onnx at :data:`..models.OPSET`, make the
batch axis dynamic, canonicalise the names, write ``<name>.onnx`` and then the manifest. Files are
written atomically; a failure leaves the previous files and manifest as they were.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import onnx

from ...core.native_logs import native_logs_off_stderr
from ..models import MODELS, OPSET, ModelSpec
from ..onnx.store import ModelEntry, ModelStoreError, read_manifest, sha256_hex, write_manifest
from ..wheel import WheelModelError, checked_source, record_hashes
from .densify import densify
from .graph import canonicalise, io_shapes, make_batch_dynamic


class ConversionError(WheelModelError):
    """A model cannot be converted (besides the wheel's own errors: a converter failure, parity)."""


def convert_model(spec: ModelSpec, source: Path) -> bytes:
    """The ONNX bytes of one checked ``.tflite`` file (dynamic batch, canonical names)."""
    import tf2onnx  # noqa: PLC0415 (the converter's environment only)

    tf2onnx.logging.set_level(logging.ERROR)
    dense = densify(source.read_bytes(), str(source))
    with tempfile.TemporaryDirectory(prefix="smplx_mocap_convert_") as tmp:
        path = Path(tmp) / f"{spec.name}.tflite"
        path.write_bytes(dense)
        try:
            with native_logs_off_stderr():    # TFLite announces XNNPACK per interpreter
                model, _ = tf2onnx.convert.from_tflite(str(path), opset=OPSET)
        except Exception as exc:    # the converter's own errors are many and untyped
            raise ConversionError(f"tf2onnx could not convert {spec.name} ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}): check the pinned converter "
                                  "versions in requirements-convert.txt") from None
    model = canonicalise(make_batch_dynamic(model), spec.name)
    onnx.checker.check_model(model)
    return model.SerializeToString()


#: The largest relative output difference a converted model may have to its ``.tflite`` original.
PARITY_LIMIT = 1e-3


def parity(source: Path, data: bytes) -> float:
    """The largest output difference between the ``.tflite`` file and its ONNX conversion on one
    fixed test picture (uniform noise in [0, 1], seed 0), relative to each output's magnitude
    (absolute for outputs within ±1: flags and scores, whose tiny values carry no digits)."""
    import numpy as np  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415 (the converter's environment only)
    import tensorflow as tf  # noqa: PLC0415

    interp = tf.lite.Interpreter(   # TFLite's reference kernels: no XNNPACK (and no log line about it)
        model_path=str(source),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    x = np.random.default_rng(0).uniform(0.0, 1.0, inp["shape"]).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    want = {o["name"]: interp.get_tensor(o["index"]) for o in interp.get_output_details()}
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: x})))
    if set(got) != set(want):
        return float("inf")
    return max(float(np.abs(got[k] - want[k]).max() / max(float(np.abs(want[k]).max()), 1.0)) for k in want)


def convert_all(folder: Path, names: list[str] | None = None, site: Path | None = None,
                progress=print) -> dict[str, ModelEntry]:
    """Convert ``names`` (all by default) of the mediapipe installed in ``site`` (a site-packages
    folder; None: this interpreter's) into ``folder``; models already there from the same source
    bytes are kept. Returns the manifest's entries. Raises :class:`ConversionError`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names or ()) - set(MODELS))
    if unknown:
        raise ConversionError(f"unknown model(s) {', '.join(unknown)}: choose among {', '.join(MODELS)}")
    try:
        entries = read_manifest(folder)
    except ModelStoreError:
        entries = {}
    root, hashes = record_hashes(site)
    for name in names or list(MODELS):
        spec = MODELS[name]
        source, source_sha = checked_source(spec, root, hashes)
        old = entries.get(name)
        if old is not None and old.source_sha256 == source_sha and (folder / old.file).is_file() \
                and sha256_hex((folder / old.file).read_bytes()) == old.sha256:
            progress(f"{name}: up to date")
            continue
        data = convert_model(spec, source)
        error = parity(source, data)
        if not error <= PARITY_LIMIT:
            raise ConversionError(f"the ONNX conversion of {name} differs from the original by {error:.1e} (limit "
                                  f"{PARITY_LIMIT:.0e}): check the pinned converter versions in requirements-convert.txt")
        target = folder / f"{name}.onnx"
        tmp = target.with_suffix(".onnx.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        proto = onnx.load_model_from_string(data)
        entries[name] = ModelEntry(target.name, sha256_hex(data), source_sha,
                                   io_shapes(proto.graph.input), io_shapes(proto.graph.output), error)
        progress(f"{name}: converted ({len(data) / 1e6:.1f} MB, {error:.0e} from the original)")
    write_manifest(folder, entries)
    return entries
