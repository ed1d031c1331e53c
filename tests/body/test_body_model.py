"""SMPL-X model file support: the generated test model, the loader, its queries and the pkl converter."""
from __future__ import annotations

import collections
import importlib.util
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from inference.body.body_model import BodyModel, build_model, load_smplx
from inference.core.errors import ModelFileError
from inference.core.skeleton import DEFAULT_REST, PARENTS
from support.testing_model import SPEC, make_test_model

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


conv = _load_script("convert_smplx_pkl")


@pytest.fixture(scope="module")
def model(smplx_model_path) -> BodyModel:
    return load_smplx(smplx_model_path)


@pytest.fixture(scope="module")
def arrays(smplx_model_path) -> dict[str, np.ndarray]:
    """The generated file's numeric arrays (read-only by convention: copy before changing)."""
    with np.load(smplx_model_path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if SPEC[k][1] is not None}


def _bone_lengths(rest: np.ndarray) -> np.ndarray:
    out = np.full(55, np.nan)
    out[1:] = np.linalg.norm(rest[1:] - rest[PARENTS[1:]], axis=1)
    return out


# ------------------------------------------------------------------ the generated test model
def test_test_model_keys_shapes_dtypes_match_spec(smplx_model_path):
    with zipfile.ZipFile(smplx_model_path) as zf:
        names = {n[:-4] for n in zf.namelist()}
        assert names == set(SPEC)
        for key, (shape, dtype) in SPEC.items():
            with zf.open(key + ".npy") as fh:
                assert np.lib.format.read_magic(fh) == (1, 0)
                got_shape, _, got_dtype = np.lib.format.read_array_header_1_0(fh)
            assert got_shape == shape, key
            assert got_dtype == (np.dtype(object) if dtype is None else np.dtype(dtype)), key


def test_test_model_content(arrays):
    kt = arrays["kintree_table"]
    assert kt[0, 0] == 4294967295 and np.array_equal(kt[0, 1:], PARENTS[1:]) and np.array_equal(kt[1], np.arange(55))
    jreg = arrays["J_regressor"].astype(np.float64)
    assert np.allclose(jreg.sum(1), 1.0) and jreg.min() >= 0.0
    assert np.abs(jreg @ arrays["v_template"].astype(np.float64) - DEFAULT_REST).max() < 1e-6
    f = arrays["f"]
    assert f.min() >= 0 and f.max() < 10475
    assert not np.any((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2]))
    assert np.allclose(arrays["weights"].sum(1), 1.0)
    assert np.allclose(arrays["lmk_bary_coords"].sum(1), 1.0) and arrays["lmk_bary_coords"].min() >= -1e-6
    expr = arrays["shapedirs"][..., 300:]
    moving = np.flatnonzero(np.abs(expr).max(axis=(1, 2)) > 0)
    assert moving.size < 1000  # expression moves the face patch only
    assert set(np.unique(f[arrays["lmk_faces_idx"]])) <= set(moving)


def test_test_model_is_deterministic(tmp_path):
    a = make_test_model(tmp_path / "a" / "SMPLX_NEUTRAL.npz", num_shape=10, num_expr=10, seed=3)
    b = make_test_model(tmp_path / "b" / "SMPLX_NEUTRAL.npz", num_shape=10, num_expr=10, seed=3)
    with np.load(a) as x, np.load(b) as y:
        for k in ("v_template", "shapedirs", "f", "lmk_faces_idx"):
            assert np.array_equal(x[k], y[k])


# ------------------------------------------------------------------ loader and queries
def test_load_shapes(model, smplx_model_path):
    assert model.gender == "neutral" and model.path == Path(smplx_model_path)
    assert model.v_template.shape == (10475, 3) and model.v_template.dtype == np.float64
    assert model.faces.shape == (20908, 3) and model.faces.dtype == np.int32
    assert model.J_regressor.shape == (55, 10475) and model.J_regressor.dtype == np.float64
    assert model.shapedirs.shape == (10475, 3, 300) and model.num_betas == 300
    assert model.exprdirs.shape == (10475, 3, 100) and model.num_expression == 100
    assert model.posedirs.shape == (10475, 3, 486) and model.posedirs.dtype == np.float32
    assert model.weights.shape == (10475, 55) and model.weights.dtype == np.float32
    assert model.lmk_faces_idx.shape == (51,) and model.lmk_faces_idx.dtype == np.int64
    assert model.lmk_bary_coords.shape == (51, 3) and model.lmk_bary_coords.dtype == np.float64
    assert model.hands_components_l.shape == (45, 45) and model.hands_mean_r.shape == (45,)


def test_rest_joints_and_shape_basis(model):
    assert np.abs(model.rest_joints() - DEFAULT_REST).max() < 1e-6
    assert np.abs(model.rest_joints(np.zeros(5)) - DEFAULT_REST).max() < 1e-6
    j0, jdirs = model.joint_shape_basis(16)
    assert j0.shape == (55, 3) and jdirs.shape == (55, 3, 16)
    betas = np.random.default_rng(0).standard_normal(16)
    dense = model.J_regressor @ (model.v_template + model.shapedirs[..., :16] @ betas)
    assert np.allclose(j0 + jdirs @ betas, dense, atol=1e-9)
    assert np.allclose(model.rest_joints(betas), dense, atol=1e-9)
    # beta0 is overall size: +-2 changes the height by roughly +-10 %
    h = model.rest_joints([2.0])[15, 1] / DEFAULT_REST[15, 1]
    assert 1.05 < h < 1.15
    with pytest.raises(ValueError):
        model.rest_joints(np.zeros(301))


def test_fit_betas_recovers_bone_lengths(model):
    rng = np.random.default_rng(1)
    for _ in range(5):
        true = np.clip(rng.standard_normal(10), -2, 2)
        lengths = _bone_lengths(model.rest_joints(true))
        fit = model.fit_betas(lengths, num_betas=10)
        assert fit.shape == (10,)
        assert np.nanmax(np.abs(_bone_lengths(model.rest_joints(fit)) - lengths)) < 1e-3
    lengths[rng.choice(np.arange(1, 55), 12, replace=False)] = np.nan  # unknown bones are ignored
    fit = model.fit_betas(lengths, num_betas=10)
    assert np.nanmax(np.abs(_bone_lengths(model.rest_joints(fit)) - lengths)) < 1e-3
    assert np.allclose(model.fit_betas(_bone_lengths(DEFAULT_REST)), 0.0, atol=1e-3)


def test_face_landmarks_and_expression_basis(model):
    l0, ldirs = model.face_landmark_expression_basis()
    assert l0.shape == (51, 3) and ldirs.shape == (51, 3, 100)
    assert np.allclose(model.face_landmarks(), l0)
    expr = np.random.default_rng(2).standard_normal(20)
    got = model.face_landmarks(expression=expr)
    assert np.allclose(got, l0 + ldirs[..., :20] @ expr)
    move = np.linalg.norm(ldirs, axis=1)  # (51, E) metres per unit expression
    assert 0.0005 < move[:, :10].max() < 0.02
    # the landmarks sit on the face, in front of the head
    head = DEFAULT_REST[15]
    assert np.all(l0[:, 2] > head[2]) and np.all(np.abs(l0[:, 1] - 1.56) < 0.1)
    bigger = model.face_landmarks(betas=[1.0])
    assert not np.allclose(bigger, l0)


def test_old_layout_10_shape_10_expression(tmp_path):
    path = make_test_model(tmp_path / "SMPLX_FEMALE.npz", gender="female", num_shape=10, num_expr=10)
    m = load_smplx(path, load_posedirs=False)
    assert m.gender == "female" and m.posedirs is None
    assert m.num_betas == 10 and m.num_expression == 10
    assert m.shapedirs.shape == (10475, 3, 10) and m.exprdirs.shape == (10475, 3, 10)
    with np.load(path) as npz:
        assert np.allclose(m.exprdirs, npz["shapedirs"][..., 10:20])
    assert m.joint_shape_basis(16)[1].shape == (55, 3, 10)


# ------------------------------------------------------------------ bad files
def _save(path: Path, arrays: dict) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _head(arrays, *keys) -> dict:
    return {k: arrays[k] for k in keys}


def test_missing_file_pkl_empty_text(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_smplx(tmp_path / "SMPLX_NEUTRAL.npz")
    (tmp_path / "SMPLX_NEUTRAL.pkl").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ModelFileError, match=r"scripts/convert_smplx_pkl\.py"):
        load_smplx(tmp_path / "SMPLX_NEUTRAL.pkl")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        load_smplx(tmp_path / "empty.npz")
    (tmp_path / "text.npz").write_text("this is not a model\n")
    with pytest.raises(ModelFileError, match="not an .npz"):
        load_smplx(tmp_path / "text.npz")
    with pytest.raises(ModelFileError, match="not a file"):
        load_smplx(tmp_path)


def test_missing_key(tmp_path, arrays):
    p = _save(tmp_path / "SMPLX_NEUTRAL.npz", _head(arrays, "J_regressor", "v_template", "kintree_table"))
    with pytest.raises(ModelFileError, match=r"SMPLX_NEUTRAL\.npz: key 'weights' is missing"):
        load_smplx(p)


def test_smpl_file_is_named(tmp_path):
    p = _save(tmp_path / "SMPLX_NEUTRAL.npz", {"J_regressor": np.zeros((24, 6890)),
                                               "v_template": np.zeros((6890, 3))})
    with pytest.raises(ModelFileError) as err:
        load_smplx(p)
    msg = str(err.value)
    assert "key 'J_regressor' has shape (24, 6890), expected (55, 10475)" in msg
    assert "SMPL" in msg and "smpl-x.is.tue.mpg.de" in msg and "\n" not in msg


def test_object_array_key(tmp_path, arrays):
    bad = _head(arrays, "J_regressor")
    bad["v_template"] = np.array([{"not": "numbers"}], dtype=object)
    p = _save(tmp_path / "SMPLX_NEUTRAL.npz", bad)
    with pytest.raises(ModelFileError, match="key 'v_template' holds pickled"):
        load_smplx(p)


def test_string_array_key(tmp_path, arrays):
    bad = _head(arrays, "J_regressor")
    bad["v_template"] = np.array(["abc"])
    p = _save(tmp_path / "SMPLX_NEUTRAL.npz", bad)
    with pytest.raises(ModelFileError, match="key 'v_template' has dtype"):
        load_smplx(p)


@pytest.mark.parametrize("key, value, expect", [
    ("v_template", np.zeros((10475, 4)), r"key 'v_template' has shape \(10475, 4\), expected \(10475, 3\)"),
    ("kintree_table", np.zeros((2, 55), np.int64), r"key 'kintree_table' row 0"),
    ("weights", np.zeros((10475, 52)), r"key 'weights' has shape \(10475, 52\), expected \(10475, 55\)"),
    ("f", np.full((20908, 3), 10475), r"key 'f' has indices outside"),
    ("shapedirs", np.zeros((10475, 3, 8)), r"key 'shapedirs' has shape \(10475, 3, 8\), expected \(10475, 3, 400\)"),
    ("posedirs", np.zeros((10475, 3, 207)), r"key 'posedirs' has shape \(10475, 3, 207\), expected \(10475, 3, 486\)"),
    ("lmk_faces_idx", np.zeros(68, np.int64), r"key 'lmk_faces_idx' has shape \(68,\), expected \(51,\)"),
    ("lmk_bary_coords", np.zeros((51, 2)), r"key 'lmk_bary_coords' has shape \(51, 2\), expected \(51, 3\)"),
    ("hands_meanl", np.zeros(12), r"key 'hands_meanl' has shape \(12,\), expected \(45,\)"),
    ("J_regressor", np.full((55, 10475), np.nan), r"key 'J_regressor' contains NaN"),
])
def test_bad_key_in_memory(arrays, key, value, expect):
    bad = dict(arrays)
    bad[key] = value
    with pytest.raises(ModelFileError, match=expect):
        build_model(bad, "SMPLX_NEUTRAL.npz")


def test_gender_key_and_file_name(arrays):
    assert build_model(arrays, "x/SMPLX_MALE.npz", load_posedirs=False).gender == "male"
    assert build_model(arrays, "x/smplx_female.npz", load_posedirs=False).gender == "female"
    with_key = dict(arrays, gender=np.array("female"))
    assert build_model(with_key, "x/model.npz", load_posedirs=False).gender == "female"


# ------------------------------------------------------------------ pkl converter
class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _py2_style_pickle(obj) -> bytes:
    """Protocol-2 pickle whose ndarray data are latin-1 *str*, as a Python 2 pickle reads back."""
    import io

    from numpy.core.multiarray import _reconstruct

    class P(pickle.Pickler):
        def reducer_override(self, o):
            if type(o) is np.ndarray:
                a = np.ascontiguousarray(o)
                return (_reconstruct, (np.ndarray, (0,), "b"),
                        (1, a.shape, a.dtype, False, a.tobytes().decode("latin1")))
            return NotImplemented

    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    return buf.getvalue()


def test_convert_pkl_round_trip(tmp_path, model, arrays):
    src = {k: arrays[k] for k in SPEC if SPEC[k][1] is not None and k != "posedirs"}
    src["posedirs"] = np.zeros((10475, 3, 486), np.float16)  # small but valid
    src["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"].astype(np.float64))
    src["joint2num"] = {"pelvis": 0}  # non-numeric entries are dropped
    src["gender"] = "neutral"
    pkl = tmp_path / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(pickle.dumps(src, protocol=2))
    out = conv.convert(pkl, tmp_path / "out" / "SMPLX_NEUTRAL.npz")
    m = load_smplx(out)
    assert np.allclose(m.J_regressor, model.J_regressor)
    assert np.allclose(m.v_template, model.v_template) and np.array_equal(m.faces, model.faces)
    assert np.allclose(m.rest_joints(), DEFAULT_REST, atol=1e-6)
    with np.load(out, allow_pickle=False) as npz:
        assert "joint2num" not in npz.files and "gender" not in npz.files
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_convert_py2_style_and_csr(tmp_path):
    jreg = scipy.sparse.csr_matrix(np.eye(3, 4) * 0.5)
    data = _py2_style_pickle({"a": np.arange(6, dtype=np.float64).reshape(2, 3), "J": jreg})
    obj = conv._safe_load(data)
    assert np.array_equal(obj["a"], np.arange(6.0).reshape(2, 3))
    assert np.array_equal(conv._numeric_arrays(obj)["J"], np.eye(3, 4) * 0.5)
    # protocols 4/5 (numpy's out-of-band _frombuffer path) load too
    for proto in (4, 5):
        obj = conv._safe_load(pickle.dumps({"a": np.ones((2, 2), np.float32)}, protocol=proto))
        assert np.array_equal(obj["a"], np.ones((2, 2)))


@pytest.mark.parametrize("payload, name", [
    (collections.OrderedDict(a=np.zeros(3)), "collections.OrderedDict"),
    ({"a": _Evil()}, "system"),
])
def test_convert_refuses_disallowed_classes(tmp_path, payload, name):
    marker = tmp_path / "pwned"
    _Evil.marker = marker
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ModelFileError, match=f"refusing to unpickle '.*{name}'"):
        conv.convert(pkl, tmp_path / "out.npz")
    assert not marker.exists() and not (tmp_path / "out.npz").exists()


def test_convert_cli_one_line_exit_2(tmp_path, capsys):
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"a": _Evil()}, protocol=0))
    _Evil.marker = tmp_path / "pwned"
    assert conv.main([str(pkl), str(tmp_path / "out.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing" in err and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()
    assert conv.main([str(tmp_path / "missing.pkl"), str(tmp_path / "out.npz")]) == 2
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2], protocol=2))
    assert conv.main([str(tmp_path / "list.pkl"), str(tmp_path / "out.npz")]) == 2
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    assert conv.main([str(tmp_path / "junk.pkl"), str(tmp_path / "out.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_load_is_fast(smplx_model_path):
    import time

    t = time.perf_counter()
    load_smplx(smplx_model_path)
    assert time.perf_counter() - t < 2.0
