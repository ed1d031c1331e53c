"""A GENERATED stand-in for the licensed SMPL-X model file, for tests and demos.

:func:`make_test_model` writes an ``.npz`` with exactly the keys, shapes and dtypes of the official
SMPL-X v1.1 files (:data:`SPEC`), but its content is synthetic: vertices are rings around the
bones of :data:`skeleton.DEFAULT_REST` (a tube per bone, one ring centred on every joint), a
Fibonacci-sphere head and a curved face patch carrying the 51 landmark triangles. The joint
regressor averages each joint's ring, so ``J_regressor @ v_template == DEFAULT_REST``; the shape
space is human-plausible (beta0 ~ overall size, beta1 ~ girth and hip/shoulder width, the rest
small smooth bone-length and girth fields, about +-10 % at beta = +-2), the expression space moves
only the face patch (a few mm per unit).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS

V, F, NUM_LMK = 10475, 20908, 51
#: The official SMPL-X v1.1 npz layout: key -> (shape, dtype); dtype None = pickled object (0-d).
SPEC: dict[str, tuple[tuple[int, ...], str | None]] = {
    "v_template": ((V, 3), "float32"),
    "f": ((F, 3), "int32"),
    "J_regressor": ((NUM_JOINTS, V), "float32"),
    "kintree_table": ((2, NUM_JOINTS), "uint32"),
    "shapedirs": ((V, 3, 400), "float32"),
    "posedirs": ((V, 3, 486), "float32"),
    "weights": ((V, NUM_JOINTS), "float32"),
    "lmk_faces_idx": ((NUM_LMK,), "int64"),
    "lmk_bary_coords": ((NUM_LMK, 3), "float32"),
    "dynamic_lmk_faces_idx": ((79, 17), "int64"),
    "dynamic_lmk_bary_coords": ((79, 17, 3), "float32"),
    "hands_componentsl": ((45, 45), "float32"),
    "hands_componentsr": ((45, 45), "float32"),
    "hands_meanl": ((45,), "float32"),
    "hands_meanr": ((45,), "float32"),
    "joint2num": ((), None),
    "part2num": ((), None),
}

_FACE_NX, _FACE_NY = 24, 24
_FACE_X = (-0.07, 0.07)
_FACE_Y = (1.485, 1.655)
_FACE_Z0, _FACE_CURVE = 0.105, 3.0
_HEAD_CENTRE_UP, _HEAD_RADIUS = 0.075, 0.095

# radius (m) of the tube that ends at each joint; fingers/face joints default to small tubes
_RADIUS = {
    "pelvis": 0.13, "left_hip": 0.08, "left_knee": 0.06, "left_ankle": 0.045, "left_foot": 0.035,
    "spine1": 0.13, "spine2": 0.13, "spine3": 0.14, "neck": 0.055, "head": 0.06,
    "left_collar": 0.06, "left_shoulder": 0.05, "left_elbow": 0.04, "left_wrist": 0.03,
    "jaw": 0.02, "left_eye_smplhf": 0.012,
}


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


MIRROR = np.array([JOINT_INDEX[_mirror_name(n)] for n in JOINT_NAMES])


def _radius(j: int) -> float:
    name = JOINT_NAMES[j].replace("right_", "left_")
    if name in _RADIUS:
        return _RADIUS[name]
    return 0.011 if "thumb" in name else 0.009


def _ring_size(j: int) -> int:
    return 16 if j < 22 else 8


def _perp_basis(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to unit d (deterministic)."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(d, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(d, e1)


def _bone_dirs(rest: np.ndarray) -> np.ndarray:
    """(55, 3) unit direction of the bone into each joint (root: +Y)."""
    d = np.zeros_like(rest)
    d[0] = (0.0, 1.0, 0.0)
    vec = rest[1:] - rest[PARENTS[1:]]
    d[1:] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    return d


def _rings_per_bone(rest: np.ndarray, spacing: float) -> np.ndarray:
    """(55,) number of intermediate tube rings of the bone into each joint (0 for the root)."""
    length = np.linalg.norm(rest - rest[np.maximum(PARENTS, 0)], axis=1)
    k = np.maximum(1, np.round(length / spacing)).astype(int)
    k[0] = 0
    return k


def _tube_vertex_count(k: np.ndarray) -> int:
    sizes = np.array([_ring_size(j) for j in range(NUM_JOINTS)])
    return int(np.sum(sizes * (k + 1)))


def _build_tubes(rest: np.ndarray, budget: int):
    """Rings around every bone plus one ring centred on every joint.

    Returns verts (N, 3), bone_p/bone_j (N,) joint ids, t (N,) in [0, 1] along the bone (1 = at
    joint j), radial (N, 3) radius * unit radial vector, joint_ring (55, n) ids (list), tris (M, 3).
    """
    lo, hi = 0.002, 0.2
    for _ in range(40):  # largest ring density whose vertex count fits the budget
        mid = 0.5 * (lo + hi)
        if _tube_vertex_count(_rings_per_bone(rest, mid)) > budget:
            lo = mid
        else:
            hi = mid
    k = _rings_per_bone(rest, hi)
    dirs = _bone_dirs(rest)
    verts, bp, bj, ts, radial, tris, joint_rings = [], [], [], [], [], [], []
    start = 0
    for j in range(NUM_JOINTS):
        p = max(PARENTS[j], 0)
        n = _ring_size(j)
        e1, e2 = _perp_basis(dirs[j])
        ang = 2.0 * np.pi * np.arange(n) / n
        unit = np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2          # (n, 3)
        t = (np.arange(1, k[j] + 1) - 0.5) / k[j] if k[j] else np.zeros(0)
        t = np.append(t, 1.0)                                                   # last ring: at joint j
        r_p, r_j = _radius(p), _radius(j)
        r = np.where(t < 1.0, (1 - t) * min(r_p, 1.5 * r_j) + t * r_j, r_j)    # (R,)
        axis = (1 - t)[:, None] * rest[p] + t[:, None] * rest[j]               # (R, 3)
        rad = r[:, None, None] * unit[None]                                     # (R, n, 3)
        verts.append((axis[:, None] + rad).reshape(-1, 3))
        radial.append(rad.reshape(-1, 3))
        ts.append(np.repeat(t, n))
        bp.append(np.full(t.size * n, p))
        bj.append(np.full(t.size * n, j))
        ids = start + np.arange(t.size * n).reshape(t.size, n)
        joint_rings.append(ids[-1])
        a, b = ids[:-1], ids[1:]                                                # strips between rings
        a1, b1 = np.roll(a, -1, axis=1), np.roll(b, -1, axis=1)
        tris.append(np.stack([a, a1, b], -1).reshape(-1, 3))
        tris.append(np.stack([a1, b1, b], -1).reshape(-1, 3))
        start += t.size * n
    caps = np.concatenate([np.stack([np.full(r.size - 2, r[0]), r[1:-1], r[2:]], -1) for r in joint_rings])
    return (np.concatenate(verts), np.concatenate(bp), np.concatenate(bj), np.concatenate(ts),
            np.concatenate(radial), joint_rings, np.concatenate(tris), caps)


def _face_grid():
    """Face patch: verts (nx*ny, 3), uv (nx*ny, 2), tris (2(nx-1)(ny-1), 3) (local ids)."""
    x = np.linspace(*_FACE_X, _FACE_NX)
    y = np.linspace(*_FACE_Y, _FACE_NY)
    gx, gy = np.meshgrid(x, y)                                                  # (ny, nx)
    gz = _FACE_Z0 - _FACE_CURVE * gx**2 - 0.6 * (gy - 1.57) ** 2
    verts = np.stack([gx, gy, gz], -1).reshape(-1, 3)
    ids = np.arange(_FACE_NX * _FACE_NY).reshape(_FACE_NY, _FACE_NX)
    a, b, c, d = ids[:-1, :-1], ids[:-1, 1:], ids[1:, :-1], ids[1:, 1:]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    return verts, verts[:, :2].copy(), tris


def _landmark_targets() -> np.ndarray:
    """(51, 2) (x, y) of the 51 SMPL-X face landmarks (iBUG 68 without the jaw contour)."""
    pts = []
    brow = np.linspace(0.055, 0.012, 5)
    pts += [(-x, 1.603 + 0.006 * np.sin(np.pi * (x - 0.012) / 0.043)) for x in brow]         # 17-21
    pts += [(x, 1.603 + 0.006 * np.sin(np.pi * (x - 0.012) / 0.043)) for x in brow[::-1]]    # 22-26
    pts += [(0.0, y) for y in np.linspace(1.585, 1.545, 4)]                                  # 27-30
    pts += [(x, 1.533 + 0.1 * abs(x)) for x in np.linspace(-0.016, 0.016, 5)]               # 31-35

    def ellipse(cx, cy, ax, ay, n):
        a = np.pi - 2 * np.pi * np.arange(n) / n  # start at the subject's right corner, over the top
        return list(zip(cx + ax * np.cos(a), cy + ay * np.sin(a)))

    pts += ellipse(-0.032, 1.585, 0.014, 0.005, 6)                                          # 36-41
    pts += ellipse(0.032, 1.585, 0.014, 0.005, 6)                                           # 42-47
    pts += ellipse(0.0, 1.507, 0.025, 0.012, 12)                                            # 48-59
    pts += ellipse(0.0, 1.507, 0.016, 0.004, 8)                                             # 60-67
    return np.asarray(pts, dtype=np.float64)


def _locate_on_grid(pts: np.ndarray):
    """Triangle ids (local to the face grid) and barycentric coords of 2D points. (P,2) → (P,), (P,3)."""
    fx = (pts[:, 0] - _FACE_X[0]) / (_FACE_X[1] - _FACE_X[0]) * (_FACE_NX - 1)
    fy = (pts[:, 1] - _FACE_Y[0]) / (_FACE_Y[1] - _FACE_Y[0]) * (_FACE_NY - 1)
    cx = np.clip(np.floor(fx).astype(int), 0, _FACE_NX - 2)
    cy = np.clip(np.floor(fy).astype(int), 0, _FACE_NY - 2)
    u, v = fx - cx, fy - cy
    cell = cy * (_FACE_NX - 1) + cx
    n_cells = (_FACE_NX - 1) * (_FACE_NY - 1)
    lower = u + v <= 1.0  # triangle (a, b, c): a + u (b - a) + v (c - a)
    tri = np.where(lower, cell, n_cells + cell)
    # upper triangle (b, d, c): point = b + (1-v)... solve with d = a + (1,1)
    bary = np.where(lower[:, None], np.stack([1 - u - v, u, v], -1), np.stack([1 - v, u + v - 1, 1 - u], -1))
    return tri, bary


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    y = 1 - 2 * i / n
    r = np.sqrt(1 - y * y)
    phi = np.pi * (3 - np.sqrt(5)) * i
    return np.stack([r * np.cos(phi), y, r * np.sin(phi)], -1)


def _shape_fields(rest: np.ndarray, num_shape: int, rng: np.random.Generator):
    """Per-joint shape displacements D (K, 55, 3) and relative girth changes G (K, 55) per unit beta."""
    bones = rest - rest[np.maximum(PARENTS, 0)]
    bones[0] = 0.0
    scale = np.zeros((num_shape, NUM_JOINTS))                 # relative bone-length change
    lateral = np.zeros((num_shape, NUM_JOINTS))               # relative x-width change of the bone
    girth = np.zeros((num_shape, NUM_JOINTS))
    scale[0], girth[0] = 0.05, 0.05                           # beta0: overall size (similarity)
    wide = [JOINT_INDEX[n] for n in ("left_hip", "right_hip", "left_collar", "right_collar",
                                      "left_shoulder", "right_shoulder")]
    if num_shape > 1:
        lateral[1, wide], girth[1] = 0.06, 0.06               # beta1: girth / width
    if num_shape > 2:
        k = np.arange(2, num_shape)
        sigma = 0.03 / (1.0 + (k - 2) / 4.0)
        raw = rng.standard_normal((k.size, NUM_JOINTS))
        graw = rng.standard_normal((k.size, NUM_JOINTS))
        for f in (raw, graw):                                 # symmetric and smooth along the chain
            f[:] = 0.5 * (f + f[:, MIRROR])
            f[:, 1:] = 0.6 * f[:, 1:] + 0.4 * f[:, PARENTS[1:]]
        scale[2:] = sigma[:, None] * raw
        girth[2:] = 0.7 * sigma[:, None] * graw
    dbone = scale[..., None] * bones + lateral[..., None] * bones * np.array([1.0, 0.0, 0.0])
    disp = np.zeros((num_shape, NUM_JOINTS, 3))
    disp[:, 0] = scale[:, :1] * rest[0]                       # beta0 scales about the origin (floor)
    for j in range(1, NUM_JOINTS):
        disp[:, j] = disp[:, PARENTS[j]] + dbone[:, j]
    feet = [JOINT_INDEX[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    floor = disp[:, feet, 1].mean(axis=1)                     # keep the feet on the floor
    disp[1:, :, 1] -= floor[1:, None]
    return disp, girth


def _expression_fields(uv: np.ndarray, num_expr: int, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, E) smooth displacement of the face patch per unit expression (a few mm)."""
    m = 3
    lo = np.array([_FACE_X[0], _FACE_Y[0]])
    hi = np.array([_FACE_X[1], _FACE_Y[1]])
    centres = lo + (hi - lo) * rng.random((num_expr, m, 2))
    sig = rng.uniform(0.02, 0.04, (num_expr, m))
    amp = rng.standard_normal((num_expr, m, 3)) * (0.003 / (1.0 + np.arange(num_expr) / 20.0))[:, None, None]
    d2 = np.sum((uv[None, None] - centres[:, :, None]) ** 2, -1)               # (E, m, N)
    w = np.exp(-0.5 * d2 / sig[..., None] ** 2)
    out = np.einsum("emn,emi->nie", w, amp)
    if num_expr:                                                               # psi0: jaw open
        below = np.clip((1.53 - uv[:, 1]) / 0.03, 0.0, 1.0)
        out[:, :, 0] = 0.0
        out[:, 1, 0] = -0.006 * below
        out[:, 2, 0] = -0.002 * below
    return out


def make_test_model(path: str | os.PathLike, gender: str = "neutral", num_shape: int = 300,
                    num_expr: int = 100, seed: int = 0) -> Path:
    """Write a generated SMPL-X-layout ``.npz`` to ``path`` and return its Path.

    num_shape/num_expr: (300, 100) like SMPL-X v1.1, or (10, 10) like the older files (shapedirs
    last axis 20). gender ('neutral'/'male'/'female') only varies the random shape fields; name the
    file SMPLX_<GENDER>.npz so the loader reports it. Deterministic given the arguments.
    """
    if (num_shape, num_expr) not in ((300, 100), (10, 10)):
        raise ValueError(f"num_shape/num_expr = {num_shape}/{num_expr}: use 300/100 (SMPL-X v1.1) or 10/10 (older files)")
    if gender not in ("neutral", "male", "female"):
        raise ValueError(f"gender {gender!r} is not neutral/male/female: pass one of those")
    rng = np.random.default_rng([seed, ("neutral", "male", "female").index(gender)])
    rest = DEFAULT_REST

    face_v, face_uv, face_t = _face_grid()
    n_head = 700
    tube_v, bp, bj, t, radial, joint_rings, tube_t, caps = _build_tubes(rest, V - face_v.shape[0] - n_head)
    n_head = V - face_v.shape[0] - tube_v.shape[0]
    head_c = rest[JOINT_INDEX["head"]] + (0.0, _HEAD_CENTRE_UP, 0.0)
    sphere = _fibonacci_sphere(n_head)
    head_v = head_c + _HEAD_RADIUS * sphere * (1.0, 1.1, 1.05)
    from scipy.spatial import ConvexHull  # local: only the generator needs it
    head_t = ConvexHull(sphere).simplices

    n_face, n_tube = face_v.shape[0], tube_v.shape[0]
    verts = np.concatenate([face_v, tube_v, head_v])                           # face patch first
    tris = np.concatenate([face_t, tube_t + n_face, head_t + n_face + n_tube])
    extra = caps + n_face
    if tris.shape[0] < F:
        tris = np.concatenate([tris, np.resize(extra, (F - tris.shape[0], 3))])
    faces = tris[:F].astype(np.int32)

    head = JOINT_INDEX["head"]
    # per-vertex interpolation weights over joints (for shape fields) and radial vectors
    interp = np.zeros((V, NUM_JOINTS))
    rows_tube = np.arange(n_face, n_face + n_tube)
    np.add.at(interp, (rows_tube, bp), 1.0 - t)
    np.add.at(interp, (rows_tube, bj), t)
    interp[:n_face, head] = 1.0
    interp[n_face + n_tube:, head] = 1.0
    radial_v = np.concatenate([face_v - rest[head], radial, head_v - rest[head]])

    disp, girth = _shape_fields(rest, num_shape, rng)
    shape = interp @ disp.transpose(1, 2, 0).reshape(NUM_JOINTS, -1)           # (V, 3K)
    shape = shape.reshape(V, 3, num_shape) + (interp @ girth.T)[:, None, :] * radial_v[:, :, None]
    expr = np.zeros((V, 3, num_expr))
    expr[:n_face] = _expression_fields(face_uv, num_expr, rng)
    shapedirs = np.concatenate([shape, expr], axis=-1).astype(np.float32)

    jreg = np.zeros((NUM_JOINTS, V), np.float32)
    for j, ring in enumerate(joint_rings):
        jreg[j, ring + n_face] = 1.0 / ring.size
    d2 = np.sum((verts[:, None] - rest[None]) ** 2, -1)
    weights = np.zeros((V, NUM_JOINTS), np.float32)
    weights[np.arange(V), np.argmin(d2, 1)] = 1.0

    kintree = np.stack([np.where(PARENTS < 0, 2**32 - 1, PARENTS), np.arange(NUM_JOINTS)]).astype(np.uint32)
    lmk_tri, lmk_bary = _locate_on_grid(_landmark_targets())
    n_face_tris = face_t.shape[0]
    dyn_idx = rng.integers(0, n_face_tris, (79, 17))
    dyn_bary = rng.dirichlet(np.ones(3), (79, 17))

    def hand_pca():
        q, _ = np.linalg.qr(rng.standard_normal((45, 45)))
        return q.astype(np.float32), (0.15 * rng.standard_normal(45)).astype(np.float32)

    comp_l, mean_l = hand_pca()
    comp_r, mean_r = hand_pca()
    posedirs = (rng.standard_normal((V, 3, 486), dtype=np.float32) * np.float32(1e-4))

    arrays = {
        "v_template": verts.astype(np.float32), "f": faces, "J_regressor": jreg,
        "kintree_table": kintree, "shapedirs": shapedirs, "posedirs": posedirs, "weights": weights,
        "lmk_faces_idx": lmk_tri.astype(np.int64), "lmk_bary_coords": lmk_bary.astype(np.float32),
        "dynamic_lmk_faces_idx": dyn_idx.astype(np.int64),
        "dynamic_lmk_bary_coords": dyn_bary.astype(np.float32),
        "hands_componentsl": comp_l, "hands_componentsr": comp_r,
        "hands_meanl": mean_l, "hands_meanr": mean_r,
        # like the official files: pickled dicts the loader must never read
        "joint2num": np.array({n: i for i, n in enumerate(JOINT_NAMES)}, dtype=object),
        "part2num": np.array({"body": 0, "head": 1, "hands": 2}, dtype=object),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)
    return path
