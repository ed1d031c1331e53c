"""SMPL-X body model files: load and validate a user-supplied ``SMPLX_*.npz``, and the linear
shape/expression queries the solver needs (rest joints, bone-length fitting, face landmarks).

Users supply their own licensed SMPL-X v1.1 ``.npz`` (``SMPLX_NEUTRAL.npz`` / ``SMPLX_MALE.npz`` /
``SMPLX_FEMALE.npz``). The file is opened with ``allow_pickle=False`` and only the numeric keys
below are read; keys holding pickled objects (``joint2num``, ``part2num``) are never touched.
A ``.pkl`` model must first be converted with ``scripts/convert_smplx_pkl.py``.

Shape/expression split (the ``smplx`` library's rule): ``shapedirs`` is ``(V, 3, B)``; if
``B < 400`` the betas are ``[:10]`` and the expression ``[10:20]`` (older files, B = 20), else the
betas are ``[:300]`` and the expression ``[300:400]``.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import ModelFileError
from ..core.skeleton import NUM_JOINTS, PARENTS, SMPLH_JOINTS

NUM_VERTS = 10475
#: SMPL's joint and vertex counts: a file with these is SMPL or SMPL+H, not SMPL-X.
SMPL_JOINTS, SMPL_VERTS = 24, 6890
NUM_POSEDIRS = (NUM_JOINTS - 1) * 9  # 486
NUM_LANDMARKS = 51
SHAPE_SPACE_DIM, EXPRESSION_SPACE_DIM = 300, 100
OLD_SHAPE_DIM, OLD_EXPRESSION_DIM = 10, 10

_DOWNLOAD = "download SMPL-X from smpl-x.is.tue.mpg.de"
_NOT_SMPLX_HINT = f"is this an SMPL or SMPL+H (not SMPL-X) file? {_DOWNLOAD[0].upper()}{_DOWNLOAD[1:]}"
_PKL_HINT = "python scripts/convert_smplx_pkl.py IN.pkl OUT.npz"
_ROOT_PARENTS = (-1, 2**32 - 1, 2**64 - 1)  # the root's parent as stored (int, uint32, uint64)


@dataclass(eq=False)
class BodyModel:
    """A validated SMPL-X model (V = 10475 vertices, 55 joints). Arrays are read-only by convention.

    v_template: (V, 3) float64; faces: (F, 3) int32; J_regressor: (55, V) float64;
    shapedirs: (V, 3, num_betas) float64 (shape only); exprdirs: (V, 3, num_expression) float64;
    posedirs: (V, 3, 486) float32 or None (not loaded); weights: (V, 55) float32;
    lmk_faces_idx: (51,) int64; lmk_bary_coords: (51, 3) float64;
    hands_components_l/r: (45, 45) float64 or None; hands_mean_l/r: (45,) float64 or None.
    """

    path: Path
    gender: str
    v_template: np.ndarray = field(repr=False)
    faces: np.ndarray = field(repr=False)
    J_regressor: np.ndarray = field(repr=False)
    shapedirs: np.ndarray = field(repr=False)
    exprdirs: np.ndarray = field(repr=False)
    posedirs: np.ndarray | None = field(repr=False)
    weights: np.ndarray = field(repr=False)
    lmk_faces_idx: np.ndarray = field(repr=False)
    lmk_bary_coords: np.ndarray = field(repr=False)
    num_betas: int
    num_expression: int
    hands_components_l: np.ndarray | None = field(default=None, repr=False)
    hands_components_r: np.ndarray | None = field(default=None, repr=False)
    hands_mean_l: np.ndarray | None = field(default=None, repr=False)
    hands_mean_r: np.ndarray | None = field(default=None, repr=False)
    _joint_basis: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    @property
    def num_verts(self) -> int:
        return int(self.v_template.shape[0])

    # ---------------------------------------------------------------- shape → joints
    def _shape_offsets(self, betas: np.ndarray | None, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(len(rows), 3) float64 vertex offsets ``shapedirs[rows] · betas`` (betas zero-padded)."""
        b = _coeffs(betas, self.num_betas, "betas")
        if b is None:
            return np.zeros_like(self.v_template[rows])
        return self.shapedirs[rows][..., : b.size] @ b

    def joint_shape_basis(self, num_betas: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Rest joints as a linear function of the betas: ``rest = J0 + Jdirs @ betas``.

        Returns J0 (55, 3) float64 and Jdirs (55, 3, nb) float64 with ``nb = min(num_betas,
        self.num_betas)``. The full basis is computed once (only the J_regressor's non-zero columns).
        """
        if self._joint_basis is None:
            cols = np.flatnonzero(np.any(self.J_regressor != 0.0, axis=0))
            jr = self.J_regressor[:, cols]                                   # (55, C)
            j0 = jr @ self.v_template[cols]                                  # (55, 3)
            jd = (jr @ self.shapedirs[cols].reshape(cols.size, -1)).reshape(NUM_JOINTS, 3, -1)
            self._joint_basis = (j0, jd)
        j0, jd = self._joint_basis
        nb = max(0, min(int(num_betas), self.num_betas))
        return j0.copy(), jd[..., :nb].copy()

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(55, 3) float64 rest joints ``J_regressor @ (v_template + shapedirs · betas)``.

        betas: (b,) with b <= num_betas (zero-padded) or None for the template.
        """
        b = _coeffs(betas, self.num_betas, "betas")
        j0, jd = self.joint_shape_basis(self.num_betas)
        return j0 if b is None else j0 + jd[..., : b.size] @ b

    def fit_betas(self, bone_lengths: np.ndarray, num_betas: int = 10, reg: float = 1e-6,
                  iterations: int = 8) -> np.ndarray:
        """Betas whose rest-skeleton bone lengths match ``bone_lengths``.

        bone_lengths: (55,) metres, ``|rest[j] - rest[PARENTS[j]]|`` for j >= 1 (entry 0 and NaNs
        are ignored). Minimises ``sum (len_j(b) - L_j)^2 + reg * |b|^2`` (betas ~ N(0, 1)) with
        Gauss-Newton steps on the linearised lengths. reg is the expected squared length error in
        m^2 (1e-6: mm-accurate lengths; use ~1e-4 for noisy measured lengths). Returns (nb,)
        float64, ``nb = min(num_betas, self.num_betas)``.
        """
        lengths = np.asarray(bone_lengths, dtype=np.float64).reshape(-1)
        if lengths.shape != (NUM_JOINTS,):
            raise ValueError(f"bone_lengths has shape {lengths.shape}, expected ({NUM_JOINTS},): "
                             "pass one length per joint (NaN where unknown)")
        j0, jd = self.joint_shape_basis(num_betas)
        nb = jd.shape[-1]
        bones = np.arange(1, NUM_JOINTS)
        use = bones[np.isfinite(lengths[bones])]
        betas = np.zeros(nb)
        if nb == 0 or use.size == 0:
            return betas
        b0 = j0[use] - j0[PARENTS[use]]                                       # (U, 3)
        bd = jd[use] - jd[PARENTS[use]]                                       # (U, 3, nb)
        target = lengths[use]
        eye = np.eye(nb)
        for _ in range(iterations):
            vec = b0 + bd @ betas                                             # (U, 3)
            cur = np.linalg.norm(vec, axis=-1)
            unit = vec / np.maximum(cur, 1e-9)[:, None]
            jac = np.einsum("ui,uik->uk", unit, bd)                           # (U, nb)
            res = cur - target
            step = np.linalg.solve(jac.T @ jac + reg * eye, -(jac.T @ res + reg * betas))
            betas = betas + step
            if np.max(np.abs(step)) < 1e-7:
                break
        return betas

    # ---------------------------------------------------------------- face landmarks
    def _landmark_vertices(self) -> np.ndarray:
        """(51, 3) int64 vertex ids of each landmark's triangle."""
        return self.faces[self.lmk_faces_idx].astype(np.int64)

    def face_landmarks(self, betas: np.ndarray | None = None,
                       expression: np.ndarray | None = None) -> np.ndarray:
        """(51, 3) float64 rest-pose face landmarks (barycentric on the shaped, expressed mesh).

        betas: (b,) b <= num_betas; expression: (e,) e <= num_expression; zero-padded, None = 0.
        """
        l0, ldirs = self.face_landmark_expression_basis(betas)
        e = _coeffs(expression, self.num_expression, "expression")
        return l0 if e is None else l0 + ldirs[..., : e.size] @ e

    def face_landmark_expression_basis(self, betas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Face landmarks as a linear function of the expression: ``L = L0 + Ldirs @ expression``.

        Returns L0 (51, 3) float64 (for ``betas``, default zeros) and Ldirs (51, 3, E) float64.
        """
        vid = self._landmark_vertices()                                       # (51, 3)
        flat = vid.reshape(-1)
        verts = (self.v_template[flat] + self._shape_offsets(betas, flat)).reshape(*vid.shape, 3)
        bary = self.lmk_bary_coords
        l0 = np.einsum("lk,lki->li", bary, verts)
        edirs = self.exprdirs[flat].reshape(*vid.shape, 3, -1)                # (51, 3, 3, E)
        ldirs = np.einsum("lk,lkie->lie", bary, edirs)
        return l0, ldirs


def _coeffs(values: np.ndarray | None, size: int, name: str) -> np.ndarray | None:
    """(n,) float64 coefficients, n <= size, or None for 'all zero'."""
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size > size:
        raise ValueError(f"{name} has {v.size} coefficients but the model has {size}: pass at most {size}")
    return v


# ==================================================================== loading
def _fail(name: str, msg: str) -> ModelFileError:
    return ModelFileError(f"{name}: {msg}")


def _read(src: Mapping, key: str, name: str, required: bool = True) -> np.ndarray | None:
    """Read one numeric array from an NpzFile (or dict), mapping every failure to ModelFileError."""
    if key not in src:
        if not required:
            return None
        raise _fail(name, f"key '{key}' is missing: the file is not a complete SMPL-X v1.1 model; "
                          f"{_DOWNLOAD}")
    try:
        arr = src[key]
    except ValueError as err:  # object arrays with allow_pickle=False
        raise _fail(name, f"key '{key}' holds pickled Python objects ({err}), expected a numeric "
                          f"array: re-export the model as a plain .npz or {_DOWNLOAD}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise _fail(name, f"key '{key}' cannot be read ({type(err).__name__}: {err}): the file is "
                          f"damaged; {_DOWNLOAD} again") from None
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iuf":
        raise _fail(name, f"key '{key}' has dtype {arr.dtype}, expected a numeric (int or float) "
                          f"array: re-export the model as a plain .npz or {_DOWNLOAD}")
    return arr


def _check_shape(arr: np.ndarray, key: str, expected: tuple, name: str, hint: str = "") -> None:
    """expected: a tuple of ints (None = any size)."""
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        exp = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise _fail(name, f"key '{key}' has shape {tuple(arr.shape)}, expected {exp}"
                          + (f": {hint}" if hint else f": {_DOWNLOAD}"))


def _as_index(arr: np.ndarray, key: str, upper: int, name: str) -> np.ndarray:
    """Validate an integer index array with values in [0, upper); returns int64."""
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise _fail(name, f"key '{key}' has non-integer values, expected vertex/face indices: {_DOWNLOAD}")
    idx = arr.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= upper):
        raise _fail(name, f"key '{key}' has indices outside [0, {upper}): the file is damaged or "
                          f"from another model; {_DOWNLOAD}")
    return idx


def _as_float(arr: np.ndarray, key: str, name: str, dtype=np.float64) -> np.ndarray:
    out = np.asarray(arr, dtype=dtype)
    if not np.all(np.isfinite(out)):
        raise _fail(name, f"key '{key}' contains NaN or infinite values: the file is damaged; {_DOWNLOAD} again")
    return out


def _gender(src: Mapping, path: Path) -> str:
    """'female' / 'male' / 'neutral' from a plain-string 'gender' key, else the file name, else 'neutral'."""
    if "gender" in src:
        try:
            g = src["gender"]
            if isinstance(g, np.ndarray) and g.dtype.kind in "US" and g.size == 1:
                val = g.reshape(-1)[0]
                val = (val.decode("latin1") if isinstance(val, bytes) else str(val)).strip().lower()
                if val in ("female", "male", "neutral"):
                    return val
        except (ValueError, OSError, EOFError, zipfile.BadZipFile):
            pass
    stem = path.name.lower()
    for g in ("female", "male", "neutral"):  # 'female' first: it contains 'male'
        if g in stem:
            return g
    return "neutral"


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    name = path.name
    if path.suffix.lower() == ".pkl":
        raise _fail(name, f"pickled .pkl model files are not loaded (unpickling can run code): convert "
                          f"it once with `{_PKL_HINT}` and select the .npz")
    if not path.exists():
        raise _fail(name, f"SMPL-X model file not found at {path}: check the path or {_DOWNLOAD}")
    if not path.is_file():
        raise _fail(name, f"{path} is not a file: select the SMPL-X .npz file itself")
    if path.stat().st_size == 0:
        raise _fail(name, f"the file is empty (0 bytes): {_DOWNLOAD} again")
    if not zipfile.is_zipfile(path):
        raise _fail(name, f"not an .npz (zip) archive: select the SMPL-X .npz model file or {_DOWNLOAD}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise _fail(name, f"cannot open the .npz ({type(err).__name__}: {err}): {_DOWNLOAD} again") from None


def load_smplx(path: str | os.PathLike, load_posedirs: bool = True) -> BodyModel:
    """Load and validate an SMPL-X ``.npz`` model file.

    load_posedirs=False skips the (V, 3, 486) pose-corrective blend shapes (posedirs is then None;
    its presence is still checked). Raises ModelFileError (one line naming the bad key) on any
    problem.
    """
    path = Path(path)
    npz = _open_npz(path)
    try:
        return build_model(npz, path, load_posedirs=load_posedirs)
    finally:
        npz.close()


def build_model(src: Mapping, path: str | os.PathLike, load_posedirs: bool = True) -> BodyModel:
    """Validate the arrays of an SMPL-X model (an NpzFile or a dict of arrays) into a BodyModel.

    path: used for the gender and in error messages only.
    """
    path = Path(path)
    name = path.name
    V, J = NUM_VERTS, NUM_JOINTS

    jreg = _read(src, "J_regressor", name)
    hint = _NOT_SMPLX_HINT if (jreg.ndim == 2 and (jreg.shape[0] in (SMPL_JOINTS, len(SMPLH_JOINTS)) or jreg.shape[1] == SMPL_VERTS)) else ""
    _check_shape(jreg, "J_regressor", (J, V), name, hint)

    vt = _read(src, "v_template", name)
    _check_shape(vt, "v_template", (V, 3), name, _NOT_SMPLX_HINT if vt.shape[:1] == (SMPL_VERTS,) else "")

    kt = _read(src, "kintree_table", name)
    _check_shape(kt, "kintree_table", (2, J), name, _NOT_SMPLX_HINT if kt.ndim == 2 and kt.shape[1] in (SMPL_JOINTS, len(SMPLH_JOINTS)) else "")
    parents = kt[0].astype(np.float64)  # float: compare -1 / 2**32-1 / 2**64-1 roots without overflow
    if parents[0] not in _ROOT_PARENTS or not np.array_equal(parents[1:], PARENTS[1:].astype(np.float64)):
        raise _fail(name, "key 'kintree_table' row 0 (parents) differs from the SMPL-X hierarchy, "
                          f"expected root then {PARENTS[1:6].tolist()}...: {_DOWNLOAD}")

    weights = _read(src, "weights", name)
    _check_shape(weights, "weights", (V, J), name)

    f = _read(src, "f", name)
    _check_shape(f, "f", (None, 3), name)
    faces = _as_index(f, "f", V, name).astype(np.int32)

    sd = _read(src, "shapedirs", name)
    _check_shape(sd, "shapedirs", (V, 3, None), name)
    nb_all = sd.shape[-1]
    if nb_all < OLD_SHAPE_DIM + OLD_EXPRESSION_DIM:
        raise _fail(name, f"key 'shapedirs' has shape {sd.shape}, expected ({V}, 3, 400) (or ({V}, 3, 20) "
                          f"in older files): {_DOWNLOAD}")
    if nb_all < SHAPE_SPACE_DIM + EXPRESSION_SPACE_DIM:
        shape_sl, expr_sl = slice(0, OLD_SHAPE_DIM), slice(OLD_SHAPE_DIM, OLD_SHAPE_DIM + OLD_EXPRESSION_DIM)
    else:
        shape_sl = slice(0, SHAPE_SPACE_DIM)
        expr_sl = slice(SHAPE_SPACE_DIM, SHAPE_SPACE_DIM + EXPRESSION_SPACE_DIM)

    if "posedirs" not in src:
        _read(src, "posedirs", name)  # raises 'missing'
    posedirs = None
    if load_posedirs:
        pd = _read(src, "posedirs", name)
        _check_shape(pd, "posedirs", (V, 3, NUM_POSEDIRS), name)
        posedirs = _as_float(pd, "posedirs", name, np.float32)

    lfi = _read(src, "lmk_faces_idx", name)
    _check_shape(lfi, "lmk_faces_idx", (NUM_LANDMARKS,), name)
    lmk_faces_idx = _as_index(lfi, "lmk_faces_idx", faces.shape[0], name)
    lbc = _read(src, "lmk_bary_coords", name)
    _check_shape(lbc, "lmk_bary_coords", (NUM_LANDMARKS, 3), name)

    hands = {}
    for key, shape in (("hands_componentsl", (45, 45)), ("hands_componentsr", (45, 45)),
                       ("hands_meanl", (45,)), ("hands_meanr", (45,))):
        arr = _read(src, key, name, required=False)
        if arr is not None:
            _check_shape(arr, key, shape, name)
            arr = _as_float(arr, key, name)
        hands[key] = arr

    return BodyModel(
        path=path,
        gender=_gender(src, path),
        v_template=_as_float(vt, "v_template", name),
        faces=faces,
        J_regressor=_as_float(jreg, "J_regressor", name),
        shapedirs=_as_float(sd[..., shape_sl], "shapedirs", name),
        exprdirs=_as_float(sd[..., expr_sl], "shapedirs", name),
        posedirs=posedirs,
        weights=_as_float(weights, "weights", name, np.float32),
        lmk_faces_idx=lmk_faces_idx,
        lmk_bary_coords=_as_float(lbc, "lmk_bary_coords", name),
        num_betas=shape_sl.stop - shape_sl.start,
        num_expression=expr_sl.stop - expr_sl.start,
        hands_components_l=hands["hands_componentsl"],
        hands_components_r=hands["hands_componentsr"],
        hands_mean_l=hands["hands_meanl"],
        hands_mean_r=hands["hands_meanr"],
    )
