"""Convert an official SMPL-X ``.pkl`` model to the ``.npz`` the add-on loads.

    python scripts/convert_smplx_pkl.py SMPLX_NEUTRAL.pkl SMPLX_NEUTRAL.npz

Unpickling can run arbitrary code, so this uses an ALLOW-LISTED unpickler: only numpy array /
dtype / scalar reconstruction and scipy.sparse csc/csr matrices (rebuilt here from their numeric
state and made dense, never instantiated) are accepted; any other class (e.g. chumpy) is refused
before it is created or called. Python 2 pickles are read with encoding='latin1'. Only numeric
arrays are written (via a temp file then os.replace), after validating them as an SMPL-X model.
Exit status 2 and one line on stderr on any error.
"""
from __future__ import annotations

import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repo's `inference` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.body.body_model import build_model  # noqa: E402
from inference.core.files import save_npz_atomic  # noqa: E402
from inference.core.errors import ModelFileError  # noqa: E402

_SPARSE_NAMES = {"csc_matrix", "csr_matrix", "csc_array", "csr_array"}
_SPARSE_MODULES = {"scipy.sparse", "scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr",
                   "scipy.sparse._csr", "scipy.sparse._arrays", "scipy.sparse.compressed",
                   "scipy.sparse._compressed"}


class _Sparse:
    """Inert stand-in for a pickled scipy.sparse csc/csr matrix: it only records the state."""

    fmt = ""
    state: dict | None = None  # set by __setstate__ (pickle BUILD)

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a pickled sparse matrix has an unexpected state")
        self.state = state

    def to_dense(self) -> np.ndarray:
        st = self.state or {}
        data, indices, indptr = (np.asarray(st.get(k)) for k in ("data", "indices", "indptr"))
        shape = st.get("_shape", st.get("shape"))
        if shape is None or any(a.dtype.kind not in "iuf" for a in (data, indices, indptr)):
            raise ValueError("a pickled sparse matrix lacks numeric data/indices/indptr/shape")
        shape = tuple(int(s) for s in shape)
        counts = np.diff(indptr.astype(np.int64))
        major = np.repeat(np.arange(counts.size), counts)
        minor = indices.astype(np.int64)[: major.size]
        dense = np.zeros(shape, dtype=data.dtype)
        rc = (minor, major) if self.fmt == "csc" else (major, minor)
        np.add.at(dense, rc, data[: major.size])
        return dense


class _Csc(_Sparse):
    fmt = "csc"


class _Csr(_Sparse):
    fmt = "csr"


def _numpy_attr(submodule: str, name: str):
    """numpy.core.<submodule>.<name> (numpy 1.x) or numpy._core.<submodule>.<name> (numpy 2.x)."""
    import importlib

    bases = ("numpy._core", "numpy.core") if int(np.__version__.split(".")[0]) >= 2 else ("numpy.core", "numpy._core")
    for base in bases:
        try:
            return getattr(importlib.import_module(f"{base}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"this numpy has no {submodule}.{name}: install numpy 1.26 and retry")


def _latin1_encode(text, encoding="latin1"):
    """Safe `_codecs.encode` (Python-3 bytes in protocol <= 2 pickles): latin-1 str → bytes only."""
    if not isinstance(text, str) or encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError("refusing _codecs.encode with a non-latin1 encoding")
    return text.encode("latin1")


def _reconstructor(cls, base, state):
    """Safe `copy_reg._reconstructor` (protocol 0/1 objects): only for the sparse stand-ins."""
    if not (isinstance(cls, type) and issubclass(cls, _Sparse)):
        raise pickle.UnpicklingError("refusing copy_reg._reconstructor for a non-allow-listed class")
    return cls()


_NUMPY_ALLOWED = {
    ("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"),
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals; everything else is refused unexecuted."""

    def find_class(self, module: str, name: str):
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and name in ("ndarray", "dtype"):
            import numpy
            return getattr(numpy, name)
        for prefix in ("numpy.core.", "numpy._core."):
            if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_ALLOWED:
                return _numpy_attr(module[len(prefix):], name)
        if module in _SPARSE_MODULES and name in _SPARSE_NAMES:
            return _Csc if name.startswith("csc") else _Csr
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return _reconstructor
        raise pickle.UnpicklingError(
            f"refusing to unpickle '{module}.{name}' (only numpy arrays and scipy sparse matrices are "
            "allowed; chumpy-based or other .pkl files are not supported): download the .npz "
            "SMPL-X model from smpl-x.is.tue.mpg.de instead")


def _safe_load(data: bytes):
    return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


def _numeric_arrays(obj: dict) -> dict[str, np.ndarray]:
    out = {}
    for key, val in obj.items():
        if isinstance(key, bytes):
            key = key.decode("latin1")
        if not isinstance(key, str):
            continue
        if isinstance(val, _Sparse):
            val = val.to_dense()
        if isinstance(val, np.ndarray) and val.dtype.kind in "iuf":
            out[key] = val
    return out


def convert(in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Convert an SMPL-X .pkl to a validated numeric .npz; returns the output Path.

    Raises ModelFileError (one line) on any problem; never executes pickled code.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    name = in_path.name
    try:
        data = in_path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"{name}: cannot read the .pkl ({err.strerror or err}): check the path") from None
    if not data:
        raise ModelFileError(f"{name}: the file is empty (0 bytes): download SMPL-X from smpl-x.is.tue.mpg.de again")
    try:
        obj = _safe_load(data)
    except pickle.UnpicklingError as err:
        raise ModelFileError(f"{name}: {err}") from None
    except Exception as err:  # malformed pickle: EOFError, ValueError, TypeError, ...
        raise ModelFileError(f"{name}: not a readable SMPL-X pickle ({type(err).__name__}: {err}): "
                             "download SMPL-X from smpl-x.is.tue.mpg.de again") from None
    if not isinstance(obj, dict):
        raise ModelFileError(f"{name}: the pickle holds a {type(obj).__name__}, expected a dict of "
                             "arrays: is this an SMPL-X model file?")
    try:
        arrays = _numeric_arrays(obj)
    except ValueError as err:
        raise ModelFileError(f"{name}: {err}: the file is damaged; download it again") from None
    build_model(arrays, in_path)  # validate (raises ModelFileError naming the bad key)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_npz_atomic(out_path, arrays, compressed=False)   # uncompressed: a large model loads faster
    return out_path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print("usage: python scripts/convert_smplx_pkl.py IN.pkl OUT.npz", file=sys.stderr)
        return 2
    try:
        out = convert(argv[0], argv[1])
    except ModelFileError as err:
        print(f"convert_smplx_pkl: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line, no traceback
        print(f"convert_smplx_pkl: {type(err).__name__}: {err}: check the paths and retry", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
