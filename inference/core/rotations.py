"""The one rotation library: matrices ``(..., 3, 3)``, rotation vectors and quaternions.

Quaternions are (x, y, z, w), scipy's order, everywhere in the engine, the ring and the add-on
(Blender's own w-first order appears only where a value is handed to bpy, in
``blender_addon/convert.py``). Everything is closed-form numpy, vectorised over leading axes and
written with few, cheap array operations, so the live path (``T = 1``: a handful of joints per
call) is not dominated by per-call overhead. Conversions agree with
``scipy.spatial.transform.Rotation`` (``tests/core/test_rotations.py``).

What is here: frames from two vectors, minimal ("swing") rotations, twists, Kabsch fits;
matrix ↔ quaternion ↔ rotation vector; the quaternion algebra the filters use (product, log /
exp, geodesic angle, slerp).
"""
from __future__ import annotations

import math

import numpy as np

EPS = 1e-9
_I3 = np.eye(3)


def _skew_rows() -> np.ndarray:
    """(3, 9): ``v @ table`` is the row-major cross-product matrix [v]× of v."""
    t = np.zeros((3, 3, 3))  # t[k, i, j]: coefficient of v[k] in [v]×[i, j]
    t[0, 2, 1], t[0, 1, 2] = 1.0, -1.0
    t[1, 0, 2], t[1, 2, 0] = 1.0, -1.0
    t[2, 1, 0], t[2, 0, 1] = 1.0, -1.0
    return t.reshape(3, 9)


_SKEW = _skew_rows()


def _quat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Linear maps of Shepperd's method and of the quaternion → matrix quadratic form.

    ``R.reshape(9) @ M + I4`` is the symmetric (4, 4) matrix whose rows are 4 × q × (one component)
    (q in x, y, z, w order); ``outer(q, q).reshape(16) @ N`` is the row-major matrix of a unit q.
    """
    M = np.zeros((3, 3, 4, 4))
    for i in range(3):
        for j in range(3):
            M[i, j, i, j] += 1.0                      # off-diagonal: R_ij + R_ji
            M[i, j, j, i] += 1.0
        for k in range(3):                            # diagonal: 1 + 2 R_ii - tr (1 added later)
            M[k, k, i, i] -= 1.0
        M[i, i, 3, 3] += 1.0                          # 1 + tr
    for i, (a, b) in enumerate(((2, 1), (0, 2), (1, 0))):
        M[a, b, i, 3] += 1.0                          # R_ab - R_ba
        M[b, a, i, 3] -= 1.0
        M[a, b, 3, i] += 1.0
        M[b, a, 3, i] -= 1.0
    N = np.zeros((4, 4, 3, 3))
    x, y, z, w = range(4)
    for (i, j), terms in {
        (0, 0): [(w, w, 1), (x, x, 1), (y, y, -1), (z, z, -1)],
        (1, 1): [(w, w, 1), (x, x, -1), (y, y, 1), (z, z, -1)],
        (2, 2): [(w, w, 1), (x, x, -1), (y, y, -1), (z, z, 1)],
        (0, 1): [(x, y, 2), (z, w, -2)], (1, 0): [(x, y, 2), (z, w, 2)],
        (0, 2): [(x, z, 2), (y, w, 2)], (2, 0): [(x, z, 2), (y, w, -2)],
        (1, 2): [(y, z, 2), (x, w, -2)], (2, 1): [(y, z, 2), (x, w, 2)],
    }.items():
        for a, b, c in terms:
            N[a, b, i, j] += c
    return M.reshape(9, 16), N.reshape(16, 9)


_SHEPPERD, _QUAT_TO_MAT = _quat_tables()


def _horn_table() -> np.ndarray:
    """(9, 16): ``H.reshape(9) @ table`` is Horn's symmetric matrix (x, y, z, w order) of the
    cross-covariance H = Σ w src dstᵀ, whose top eigenvector is the best rotation's quaternion."""
    N = np.zeros((3, 3, 4, 4))
    x, y, z, w = range(4)
    entries = {
        (w, w): [(0, 0, 1), (1, 1, 1), (2, 2, 1)], (x, x): [(0, 0, 1), (1, 1, -1), (2, 2, -1)],
        (y, y): [(0, 0, -1), (1, 1, 1), (2, 2, -1)], (z, z): [(0, 0, -1), (1, 1, -1), (2, 2, 1)],
        (w, x): [(1, 2, 1), (2, 1, -1)], (w, y): [(2, 0, 1), (0, 2, -1)], (w, z): [(0, 1, 1), (1, 0, -1)],
        (x, y): [(0, 1, 1), (1, 0, 1)], (x, z): [(2, 0, 1), (0, 2, 1)], (y, z): [(1, 2, 1), (2, 1, 1)],
    }
    for (a, b), terms in entries.items():
        for i, j, c in terms:
            N[i, j, a, b] += c
            if a != b:
                N[i, j, b, a] += c
    return N.reshape(9, 16)


#: (9, 16) the linear map from a flattened cross-covariance to Horn's 4 × 4 matrix (:func:`kabsch`).
HORN = _horn_table()
_I4_FLAT = np.eye(4).reshape(16)


def _vee_trace_table() -> np.ndarray:
    """(9, 4): ``R.reshape(9) @ table`` = (vee(R - Rᵀ), trace R)."""
    t = np.zeros((3, 3, 4))
    for i, (a, b) in enumerate(((2, 1), (0, 2), (1, 0))):
        t[a, b, i], t[b, a, i] = 1.0, -1.0
    for k in range(3):
        t[k, k, 3] = 1.0
    return t.reshape(9, 4)


_VEE_TRACE = _vee_trace_table()


# --------------------------------------------------------------------------------------------
# vectors
# --------------------------------------------------------------------------------------------
_ONES3, _ONES4 = np.ones((3, 1)), np.ones((4, 1))


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) → (..., 1), broadcasting."""
    return (a * b) @ _ONES3


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis. (..., 3) → (..., 3); zero stays zero."""
    return v / np.maximum(np.sqrt(dot(v, v)), EPS)


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices: ``skew(a) @ b == a × b``. (..., 3) → (..., 3, 3)."""
    return (v @ _SKEW).reshape(v.shape[:-1] + (3, 3))


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a × b along the last axis, broadcasting. (..., 3), (..., 3) → (..., 3)."""
    return (skew(a) @ b[..., None])[..., 0]


def mv(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrix-vector product, broadcasting. (..., 3, 3), (..., 3) → (..., 3)."""
    return (R @ v[..., None])[..., 0]


def transpose(R: np.ndarray) -> np.ndarray:
    """Inverse of rotations (a view). (..., 3, 3) → (..., 3, 3)."""
    return R.swapaxes(-1, -2)


# --------------------------------------------------------------------------------------------
# frames and minimal rotations
# --------------------------------------------------------------------------------------------
def frame_from(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frame: column 0 along ``a``, column 1 in the (a, b) half-plane.

    a, b: (..., 3) → (..., 3, 3).
    """
    e1 = normalize(a)
    e2 = normalize(b - dot(b, e1) * e1)
    return np.concatenate([e1[..., None], e2[..., None], cross(e1, e2)[..., None]], axis=-1)




def align_to_frame(rest_frame_t: np.ndarray, wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """Rotation R with ``R va ∥ wa`` exactly and ``R vb`` in the (wa, wb) half-plane, the rest side
    precomputed: rest_frame_t = frame_from(va, vb)ᵀ (..., 3, 3); wa, wb (..., 3). Returns (..., 3, 3)."""
    return frame_from(wa, wb) @ rest_frame_t


def axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues. (..., 3) axis × angle → (..., 3, 3)."""
    theta = np.sqrt(dot(rotvec, rotvec))[..., None]                    # (..., 1, 1)
    K = skew(rotvec) / np.maximum(theta, EPS)
    return _I3 + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)




def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation taking direction ``a`` onto direction ``b``. (..., 3) → (..., 3, 3).

    ``R = I + [v]× + [v]×² / (1 + c)`` with v = a × b, c = a · b (1 + c taken as |a + b|² / 2,
    accurate near antiparallel); antiparallel inputs rotate by π about an axis perpendicular to
    ``a``; a zero input gives the identity.
    """
    return _swing_units(normalize(a), normalize(b))


def _swing_units(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`swing` of unit (or zero) directions."""
    M = b[..., :, None] * a[..., None, :]
    K = M - transpose(M)                           # [a × b]× = b aᵀ - a bᵀ
    s = a + b
    h = 0.5 * dot(s, s)[..., None]                 # 1 + c, (..., 1, 1)
    R = _I3 + K + (K @ K) / np.maximum(h, 1e-300)
    flip = h[..., 0, 0] < 1e-14
    if flip.any():                                 # antiparallel: π about a perpendicular axis
        flip &= dot(a, a)[..., 0] > 0.5
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        p = normalize(cross(a, helper))
        half_turn = 2.0 * p[..., :, None] * p[..., None, :] - _I3
        R = np.where(flip[..., None, None], half_turn, R)
    return R




def aim_unit(parent_rot: np.ndarray, unit_bone: np.ndarray, target_dir: np.ndarray) -> np.ndarray:
    """Global rotation of a joint that turns its parent's frame just enough to point its rest bone
    (a unit vector) at ``target_dir`` (no added twist). parent_rot (..., 3, 3); unit_bone,
    target_dir (..., 3)."""
    return _swing_units(mv(parent_rot, unit_bone), normalize(target_dir)) @ parent_rot


def twist_angle(R: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Twist of rotation R about a unit ``axis`` (swing-twist decomposition of the quaternion with
    w ≥ 0, so the twist is in (-π, π]). → (...,) radians.

    2 atan2(v · axis, w) = 2 atan2(vee(R - Rᵀ) · axis, 1 + tr R) (both scaled by 4w ≥ 0); the
    quaternion is formed only for rotations within ~0.1° of a half turn, where that ratio is
    ill-conditioned.
    """
    y = R.reshape(R.shape[:-2] + (9,)) @ _VEE_TRACE
    den = 1.0 + y[..., 3]
    tw = 2.0 * np.arctan2(dot(y[..., :3], axis)[..., 0], den)
    near_half_turn = den < 1e-6
    if near_half_turn.any():
        q = to_quat(R)
        q = q * np.where(q[..., 3:] < 0.0, -1.0, 1.0)
        tw = np.where(near_half_turn, 2.0 * np.arctan2(dot(q[..., :3], axis)[..., 0], q[..., 3]), tw)
    return tw


def kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rigid fit ``dst ≈ R src + t`` (weighted least squares). src (N, 3) or (..., N, 3);
    dst (..., N, 3); weights (..., N). Returns R (..., 3, 3), t (..., 3).

    Horn's closed form: R's quaternion is the top eigenvector of a symmetric 4×4 matrix built from
    the weighted cross-covariance (always a proper rotation; the same optimum as the SVD solution
    with its reflection fix, and a small symmetric eigenproblem instead of an SVD).
    """
    w = np.ones(dst.shape[:-1]) if weights is None else weights
    w = (w / np.maximum(w.sum(-1, keepdims=True), EPS))[..., None, :]      # (..., 1, N)
    cs, cd = w @ src, w @ dst                                               # (..., 1, 3)
    H = np.swapaxes(src - cs, -1, -2) @ (w[..., 0, :, None] * (dst - cd))  # (..., 3, 3)
    N = (H.reshape(H.shape[:-2] + (9,)) @ HORN).reshape(H.shape[:-2] + (4, 4))
    R = _unit_quat_to_matrix(np.linalg.eigh(N)[1][..., -1])
    return R, (cd - cs @ transpose(R))[..., 0, :]




# --------------------------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------------------------
def to_quat(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 4) quaternions x, y, z, w (scipy's order and sign: Shepperd's method
    takes the best-conditioned of the four candidate rows, as ``Rotation.from_matrix``; row i is
    4 q_i q with C_ii = 4 q_i²)."""
    lead = R.shape[:-2]
    C = (R.reshape(lead + (9,)) @ _SHEPPERD + _I4_FLAT).reshape(-1, 4, 4)
    diag = C.reshape(-1, 16)[:, ::5]                                   # 1 + 2 R_ii - tr, 1 + tr
    best = diag.argmax(-1)
    q = C[np.arange(len(C)), best] / (2.0 * np.sqrt(diag.max(-1)))[:, None]
    return q.reshape(lead + (4,))


def _unit_quat_to_matrix(q: np.ndarray) -> np.ndarray:
    outer = (q[..., :, None] * q[..., None, :]).reshape(q.shape[:-1] + (16,))
    return (outer @ _QUAT_TO_MAT).reshape(q.shape[:-1] + (3, 3))


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) x, y, z, w (any non-zero norm) → (..., 3, 3)."""
    return _unit_quat_to_matrix(q / np.sqrt((q * q) @ _ONES4))


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit x, y, z, w → (..., 3) axis × angle, angle in [0, π] (sign as scipy: q with
    w < 0 is negated first)."""
    v, w = q[..., :3], q[..., 3:]
    s = np.sqrt(dot(v, v))
    return v * (np.where(w < 0.0, -2.0, 2.0) * np.arctan2(s, np.abs(w)) / np.maximum(s, 1e-300))


def to_rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 3) axis-angle, angle in [0, π]."""
    return quat_to_rotvec(to_quat(R))


def to_rotvec_fast(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 3) axis-angle from the skew part and the trace: θ = atan2(|vee|, tr - 1),
    rv = vee · θ / |vee| with vee = vee(R - Rᵀ) = 2 sin θ · axis. Same as :func:`to_rotvec` except
    near a half turn, where it loses precision (≈ 1e-16 / (π - θ) relative): for rotations known
    to stay away from π (priors, checks)."""
    y = R.reshape(R.shape[:-2] + (9,)) @ _VEE_TRACE
    vee = y[..., :3]
    s = np.sqrt(dot(vee, vee))
    return vee * (np.arctan2(s, y[..., 3:] - 1.0) / np.maximum(s, 1e-300))


# --------------------------------------------------------------------------------------------
# quaternion algebra (x, y, z, w), what the filters work in
# --------------------------------------------------------------------------------------------
_SIGN_FLIP = np.array([-1.0, -1.0, -1.0, 1.0])


# Structure constants of the Hamilton product in (x, y, z, w) order: for unit quaternions a, b,
# (a ⊗ b)[k] = sum_ij a[i] b[j] _QMUL[i, j, k]. Built once; lets quat_mul be one outer product and
# one weighted sum, whatever the number of quaternions.
def _qmul_table() -> np.ndarray:
    table = np.zeros((4, 4, 4))
    e = np.eye(4)
    for i in range(4):
        for j in range(4):
            (ax, ay, az, aw), (bx, by, bz, bw) = e[i], e[j]
            table[i, j] = (aw * bx + ax * bw + ay * bz - az * by,
                           aw * by - ax * bz + ay * bw + az * bx,
                           aw * bz + ax * by - ay * bx + az * bw,
                           aw * bw - ax * bx - ay * by - az * bz)
    return table.reshape(16, 4)


_QMUL = _qmul_table()


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products (N, k), (N, k) → (N, 1). A plain reduction, not a BLAS product: its
    summation order does not depend on memory alignment, so results are bit-for-bit reproducible
    (``filter_sequence`` equals repeated ``step`` exactly)."""
    return np.add.reduce(a * b, axis=-1, keepdims=True)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b. a, b: (N, 4) float64 → (N, 4). (A plain reduction rather than a
    BLAS product, for bit-for-bit reproducible results, see :func:`rowdot`.)"""
    outer = (a[:, :, None] * b[:, None, :]).reshape(-1, 16, 1)
    return np.add.reduce(outer * _QMUL, axis=1)


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion). (..., 4) → (..., 4)."""
    return q * _SIGN_FLIP


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions. (..., 4) → (..., 4); a zero quaternion becomes the identity."""
    n = np.sqrt(np.einsum("...i,...i->...", q, q))[..., None]
    out = np.divide(q, n, out=np.zeros_like(q, dtype=np.float64), where=n > 1e-12)
    out[..., 3] = np.where(n[..., 0] > 1e-12, out[..., 3], 1.0)
    return out


def quat_log(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, radians) of unit quaternions with w >= 0. (N, 4) → (N, 3)."""
    v = q[:, :3]
    s = np.sqrt(rowdot(v, v))                                      # (N, 1)
    small = s < 1e-12
    return v * np.where(small, 2.0, 2.0 * np.arctan2(s, q[:, 3:]) / np.where(small, 1.0, s))


def quat_exp(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternions from rotation vectors (axis * angle). (..., 3) → (..., 4)."""
    angle = np.sqrt(np.einsum("...i,...i->...", rotvec, rotvec))
    half = 0.5 * angle
    small = angle < 1e-12
    fac = np.where(small, 0.5, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([rotvec * fac[..., None], np.cos(half)[..., None]], axis=-1)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians, in [0, pi]) between rotations a and b. (..., 4) → (...)."""
    d = np.einsum("...i,...i->...", a, b)
    b = b * np.where(d < 0.0, -1.0, 1.0)[..., None]
    diff, summ = a - b, a + b
    # 4 * atan2(|a - b|, |a + b|) with b on a's side: accurate near 0 (unlike 2 * acos(|d|)).
    return 4.0 * np.arctan2(np.sqrt(np.einsum("...i,...i->...", diff, diff)),
                            np.sqrt(np.einsum("...i,...i->...", summ, summ)))


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation from q0 (t = 0) to q1 (t = 1) along the SHORT way.

    q0, q1: (N, 4) unit quaternions; t: scalar or (N,). Returns (N, 4) unit quaternions on q0's
    side of the double cover (q1's sign is matched to q0 first), so a chain of slerps never flips.
    """
    q1 = np.where(rowdot(q0, q1) < 0.0, -q1, q1)
    diff = q0 - q1
    summ = q0 + q1
    # Angle between the two 4-vectors, 2*atan2(|q0-q1|, |q0+q1|): accurate near 0 (unlike acos).
    theta = 2.0 * np.arctan2(np.sqrt(rowdot(diff, diff)), np.sqrt(rowdot(summ, summ)))   # (N, 1)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim:
        t = t.reshape(-1, 1)
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-9
    inv = 1.0 / np.where(small, 1.0, sin_theta)
    s0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) * inv)
    s1 = np.where(small, t, np.sin(t * theta) * inv)
    out = s0 * q0 + s1 * q1
    return out / np.sqrt(rowdot(out, out))


# --------------------------------------------------------------------------------------------
# component-major quaternions (4, ...) x, y, z, w: the bulk paths (a whole clip × many bones),
# where a product is 16 multiplies on long contiguous arrays instead of stacked 3 × 3 products
# --------------------------------------------------------------------------------------------
#: Below this many quaternions a product is one outer product and one small matrix product
#: (few numpy calls: a live tick), above it 16 multiplies on long arrays (less memory: a clip).
_CM_SMALL = 4096
_QMUL_T = _QMUL.T.copy()                                   # (4, 16)


def _qrot_table() -> np.ndarray:
    """(9, 16) the rotation matrix of a unit quaternion as a quadratic form: R.ravel() =
    table @ (q ⊗ q).ravel() (the homogeneous formula, exact for unit quaternions)."""
    def matrix(q):
        x, y, z, w = q
        return np.array([[w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
                         [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
                         [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z]])
    e, table = np.eye(4), np.zeros((4, 4, 3, 3))
    for i in range(4):
        for j in range(4):
            table[i, j] = matrix(e[i]) if i == j else (matrix(e[i] + e[j]) - matrix(e[i]) - matrix(e[j])) / 2
    return table.reshape(16, 9).T.copy()


_QROT = _qrot_table()


def _shape(a: np.ndarray, b: np.ndarray) -> tuple:
    """The broadcast shape of two component-major arrays without their component axis."""
    return a.shape[1:] if a.shape[1:] == b.shape[1:] else np.broadcast_shapes(a.shape[1:], b.shape[1:])


def cm_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b of component-major quaternions, broadcasting. (4, ...) → (4, ...)."""
    shape = _shape(a, b)
    if math.prod(shape) <= _CM_SMALL:
        outer = (a[:, None] * b[None, :]).reshape(16, -1)
        return (_QMUL_T @ outer).reshape((4,) + shape)
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.stack([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def cm_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (inverse of a unit quaternion). (4, ...) → (4, ...)."""
    return q * _SIGN_FLIP.reshape((4,) + (1,) * (q.ndim - 1))


def cm_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectors v (3, ...) rotated by unit quaternions q (4, ...), broadcasting: v + w t + u × t
    with t = 2 u × v (few quaternions: their matrices as one small product). → (3, ...)."""
    if math.prod(_shape(q, v)) <= _CM_SMALL:
        R = (_QROT @ (q[:, None] * q[None, :]).reshape(16, -1)).reshape((3, 3) + q.shape[1:])
        return (R * v[None]).sum(1)
    x, y, z, w = q
    vx, vy, vz = v
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return np.stack([vx + w * tx + y * tz - z * ty, vy + w * ty + z * tx - x * tz, vz + w * tz + x * ty - y * tx])


def cm_swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation taking direction a onto direction b, (3, ...) each → (4, ...): the
    normalised (a × b, |a||b| + a · b). Opposite or zero directions give the identity."""
    ax, ay, az = a
    bx, by, bz = b
    w = np.sqrt((ax * ax + ay * ay + az * az) * (bx * bx + by * by + bz * bz)) + ax * bx + ay * by + az * bz
    q = np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx, w])
    n = np.sqrt((q * q).sum(0))
    ok = n > 1e-12
    q = q / np.where(ok, n, 1.0)
    q[3] = np.where(ok, q[3], 1.0)
    return q


def cm_matrix_row(q: np.ndarray, row: int) -> np.ndarray:
    """One row (0, 1 or 2) of the rotation matrices of unit quaternions (4, ...) → (3, ...)."""
    x, y, z, w = q
    if row == 0:
        return np.stack([1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y)])
    if row == 1:
        return np.stack([2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x)])
    return np.stack([2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y)])
