"""The compiled twin of the numpy solver (numba), one frame at a time: the live path's backend.

At ``T = 1`` the numpy solve (:mod:`.lifting` → :mod:`.solve`) is a thousand tiny array calls whose
per-call overhead, not their arithmetic, is the cost. This module runs the same lifting passes for
one frame as one compiled function of scalar loops: the same steps in the same order, the same
formulas (``rotations``' closed forms, Shepperd's quaternion, Horn's Kabsch), so that it agrees
with the numpy path to rounding (``tests/body/test_solve_parity.py``). Two numerical pieces differ
in method, not in result: the Gauss-Newton normal equations are solved by Cholesky instead of a
symmetric eigendecomposition, and Horn's 4×4 eigenproblem by Jacobi rotations instead of LAPACK.

Its public functions are named and called like the numpy side's (:func:`solve_skeleton`,
:func:`limit_pose`, :func:`collar_rhythm` as in :mod:`.solve`; :func:`lifting_passes` as in
:mod:`.lifting`), looping over frames in Python; :func:`lift_one_frame` is the live path's entry
point (one frame's detections, no per-call conversions).

Both backends take their tables, block order and tuning from :mod:`.tables`; the kernel receives
them as arguments (:func:`rig_args`, :func:`_tables`, laid out by the ``T_*``, ``C_*``, ``SC_*``,
``IT_*``, ``LY_*``, ``BK_*`` and ``R_*`` constants below), never as globals from other modules
frozen into the compiled code, so numba's on-disk cache (keyed on this file) cannot go stale when
the solver's tuning changes. Without numba (an environment without it), :data:`AVAILABLE` is False,
the functions run as plain Python and the live path runs the numpy solve.
"""
from __future__ import annotations

import os

import numpy as np

from ..core import rotations as rot
from ..core.layout import NUM_BODY, NUM_HAND, NUM_KEYPOINTS, NUM_PARTS, PART_LEFT_HAND
from ..core.records import Camera, DetectionSeq
from ..core.skeleton import DEFAULT_REST, DEPTH, PARENTS
from . import tables as S
from .landmarks import LANDMARK_JOINT
from .lift import VISIBLE
from .lifting import LIFTING_PASSES
from .solve import SkeletonPose
from .subject import Rig, Subject

try:  # the worker's environment pins numba; anywhere else the numpy solve is used
    if os.environ.get("MOCAP_NO_JIT"):
        raise ImportError("disabled by MOCAP_NO_JIT")
    from numba import njit
    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False

    def njit(*args, **kwargs):  # noqa: D103 - a stand-in decorator: the functions stay plain Python
        return (lambda f: f) if not args or not callable(args[0]) else args[0]

_jit = njit(cache=True, nogil=True)
_EPS = 1e-9  # rotations.EPS: a division guard of the closed forms, not tuning

# Layout of the argument tuples (built by _tables and rig_args at the end; numba reads these ints
# as compile-time constants, and they live in this file, so its cache follows them).
# tabs: index tables
(T_FRAME_TARGETS, T_LM, T_PALM_LMS, T_PARENTS, T_DEPTH, T_BLOCK_ORDER, T_KNEES, T_FINGER_LMS, T_HORN,
 T_LANDMARK_JOINT, T_HAND_BASE, T_FACE_LMS, T_BLOCKS, T_LAYOUT) = range(14)
# tabs[T_LAYOUT]: counts and where things start: detector layout, target frame rows (FR_*), torso
# parameters (TORSO_*)
(LY_NUM_BODY, LY_NUM_HAND, LY_PART_HAND, LY_FR_PELVIS, LY_FR_CHEST, LY_FR_HANDS, LY_FR_POSE_HANDS, LY_FR_FEET,
 LY_TORSO_TILT, LY_TORSO_SPINE, LY_TORSO_COLLARS) = range(11)
# tabs[T_BLOCKS]: (start, stop) of each block of tables.BLOCK_ORDER (tables.B_*)
BK_PELVIS, BK_SPINE, BK_COLLAR, BK_NECK, BK_HEAD, BK_SHOULDER, BK_ELBOW, BK_WRIST, BK_FINGERS, BK_LEGS = range(10)
# tabs[T_LM]: rows of landmark pairs (left, right)
LM_SH, LM_EL, LM_WR, LM_KN, LM_AN, LM_HE, LM_TO, LM_IX, LM_PK, LM_HP = range(10)
# cfg: tuning; cfg[C_SCALARS]: scalar tuning; cfg[C_ITERS]: the torso fit's iterations
C_SPINE_SHARE, C_PRIOR_W, C_SCALARS, C_ITERS, C_MAX_ANGLE, C_TRACE_LIMIT, C_BOUND = range(7)
(SC_W_HEAD, SC_W_CHEST, SC_FD_STEP, SC_DAMP, SC_LEG_VISIBLE, SC_PROTRACTION, SC_KNEE_TRACE, SC_VISIBLE,
 SC_KNEE_HYPER, SC_HEAD_MID, SC_FACE_FLOOR, SC_BEND_LO, SC_BEND_HI, SC_BEND_AGAINST, SC_BEND_CLEAR, SC_FOOT_LO,
 SC_FOOT_HI, SC_POSE_HAND_SEEN, SC_TWIST_SHARE, SC_RHYTHM_FREE, SC_RHYTHM_REST, SC_RHYTHM_RATIO,
 SC_MIN_DEPTH, SC_FINGER_HYPER, SC_MCP_ABDUCTION, SC_MCP_HYPER, SC_FINGER_FLEXION, SC_FINGER_SIDEWAYS) = range(28)
IT_COLD, IT_WARM, IT_COLD_TOL, IT_WARM_TOL = range(4)
R_RV_MAP, R_OFFSETS, R_HEAD_BONE = 4, 19, 22                          # in rig_args' tuple
_R_FIXED = 12  # the torso residual's entries before its parameter priors: shoulders (6), head (3), chest (3)


# --------------------------------------------------------------------------------------------
# 3-vectors and 3×3 matrices (the closed forms of inference.rotations, one at a time)
# --------------------------------------------------------------------------------------------
@_jit
def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@_jit
def _normalize(v):
    """(3,) → (3,) unit (zero stays zero)."""
    n = max(np.sqrt(_dot(v, v)), _EPS)
    return v / n


@_jit
def _cross(a, b):
    out = np.empty(3)
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]
    return out


@_jit
def _mv(R, v):
    """(3, 3), (3,) → (3,)."""
    out = np.empty(3)
    for i in range(3):
        out[i] = R[i, 0] * v[0] + R[i, 1] * v[1] + R[i, 2] * v[2]
    return out


@_jit
def _mtv(R, v):
    """Rᵀ v."""
    out = np.empty(3)
    for i in range(3):
        out[i] = R[0, i] * v[0] + R[1, i] * v[1] + R[2, i] * v[2]
    return out


@_jit
def _mm(A, B):
    """(3, 3) @ (3, 3)."""
    out = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            out[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]
    return out


@_jit
def _mtm(A, B):
    """Aᵀ @ B."""
    out = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            out[i, j] = A[0, i] * B[0, j] + A[1, i] * B[1, j] + A[2, i] * B[2, j]
    return out


@_jit
def _frame_from(a, b):
    """Columns: a's direction, b's part perpendicular to it, their cross product."""
    e1 = _normalize(a)
    e2 = _normalize(b - _dot(b, e1) * e1)
    e3 = _cross(e1, e2)
    F = np.empty((3, 3))
    for i in range(3):
        F[i, 0], F[i, 1], F[i, 2] = e1[i], e2[i], e3[i]
    return F


@_jit
def _align_to_frame(rest_frame_t, wa, wb):
    return _mm(_frame_from(wa, wb), rest_frame_t)


@_jit
def _skew_unit(rv, scale):
    K = np.zeros((3, 3))
    K[0, 1], K[0, 2] = -rv[2] * scale, rv[1] * scale
    K[1, 0], K[1, 2] = rv[2] * scale, -rv[0] * scale
    K[2, 0], K[2, 1] = -rv[1] * scale, rv[0] * scale
    return K


@_jit
def _axis_angle(rv):
    """Rodrigues: (3,) → (3, 3)."""
    theta = np.sqrt(_dot(rv, rv))
    K = _skew_unit(rv, 1.0 / max(theta, _EPS))
    KK = _mm(K, K)
    s, c = np.sin(theta), 1.0 - np.cos(theta)
    R = s * K + c * KK
    for i in range(3):
        R[i, i] += 1.0
    return R


@_jit
def _swing_units(a, b):
    """Minimal rotation taking unit a onto unit b (rotations._swing_units)."""
    K = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            K[i, j] = b[i] * a[j] - a[i] * b[j]
    s = a + b
    h = 0.5 * _dot(s, s)
    if h < 1e-14 and _dot(a, a) > 0.5:       # antiparallel: π about a perpendicular axis
        helper = np.zeros(3)
        if abs(a[0]) < 0.9:
            helper[0] = 1.0
        else:
            helper[1] = 1.0
        p = _normalize(_cross(a, helper))
        R = np.empty((3, 3))
        for i in range(3):
            for j in range(3):
                R[i, j] = 2.0 * p[i] * p[j] - (1.0 if i == j else 0.0)
        return R
    R = K + _mm(K, K) / max(h, 1e-300)
    for i in range(3):
        R[i, i] += 1.0
    return R


@_jit
def _aim_unit(parent, unit_bone, target):
    return _mm(_swing_units(_mv(parent, unit_bone), _normalize(target)), parent)


@_jit
def _finger_aim(parent, child, hinge, bone, abduction, hyper, flexion):
    """solve._finger_aim for one joint."""
    d = _normalize(_mtv(parent, bone))
    if _dot(hinge, hinge) > 0.5:
        flex_dir = _cross(hinge, child)
        side = min(max(np.arcsin(min(max(_dot(d, hinge), -1.0), 1.0)), -abduction), abduction)
        flex = np.arctan2(_dot(d, flex_dir), _dot(d, child))
        if flex < -hyper or flex > flexion:
            flex = flexion if (flex - flexion) % (2 * np.pi) < (-hyper - flex) % (2 * np.pi) else -hyper
        d = np.cos(side) * (np.cos(flex) * child + np.sin(flex) * flex_dir) + np.sin(side) * hinge
    return _mm(parent, _swing_units(child, d))


@_jit
def _to_quat(R):
    """Shepperd's method, scipy's sign (rotations.to_quat): (3, 3) → (4,) x, y, z, w."""
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    C = np.empty((4, 4))
    for i in range(3):
        for j in range(3):
            C[i, j] = R[i, j] + R[j, i]
        C[i, i] = 1.0 + 2.0 * R[i, i] - tr
    C[0, 3] = C[3, 0] = R[2, 1] - R[1, 2]
    C[1, 3] = C[3, 1] = R[0, 2] - R[2, 0]
    C[2, 3] = C[3, 2] = R[1, 0] - R[0, 1]
    C[3, 3] = 1.0 + tr
    best = 0
    for i in range(1, 4):
        if C[i, i] > C[best, best]:
            best = i
    return C[best] / (2.0 * np.sqrt(C[best, best]))


@_jit
def _quat_to_rotvec(q):
    v = q[:3]
    s = np.sqrt(_dot(v, v))
    sign = -2.0 if q[3] < 0.0 else 2.0
    return v * (sign * np.arctan2(s, abs(q[3])) / max(s, 1e-300))


@_jit
def _to_rotvec(R):
    return _quat_to_rotvec(_to_quat(R))


@_jit
def _vee(R):
    out = np.empty(3)
    out[0] = R[2, 1] - R[1, 2]
    out[1] = R[0, 2] - R[2, 0]
    out[2] = R[1, 0] - R[0, 1]
    return out


@_jit
def _to_rotvec_fast(R):
    vee = _vee(R)
    s = np.sqrt(_dot(vee, vee))
    return vee * (np.arctan2(s, R[0, 0] + R[1, 1] + R[2, 2] - 1.0) / max(s, 1e-300))


@_jit
def _twist_angle(R, axis):
    den = 1.0 + R[0, 0] + R[1, 1] + R[2, 2]
    if den < 1e-6:
        q = _to_quat(R)
        if q[3] < 0.0:
            q = -q
        return 2.0 * np.arctan2(_dot(q[:3], axis), q[3])
    return 2.0 * np.arctan2(_dot(_vee(R), axis), den)


@_jit
def _unit_quat_to_matrix(q):
    x, y, z, w = q[0], q[1], q[2], q[3]
    R = np.empty((3, 3))
    R[0, 0] = w * w + x * x - y * y - z * z
    R[1, 1] = w * w - x * x + y * y - z * z
    R[2, 2] = w * w - x * x - y * y + z * z
    R[0, 1], R[1, 0] = 2.0 * (x * y - z * w), 2.0 * (x * y + z * w)
    R[0, 2], R[2, 0] = 2.0 * (x * z + y * w), 2.0 * (x * z - y * w)
    R[1, 2], R[2, 1] = 2.0 * (y * z - x * w), 2.0 * (y * z + x * w)
    return R


@_jit
def _top_eigvec_sym4(A):
    """Unit eigenvector of the largest eigenvalue of a symmetric (4, 4) matrix (cyclic Jacobi)."""
    A = A.copy()
    V = np.eye(4)
    for _sweep in range(30):
        off = 0.0
        for p in range(4):
            for q in range(p + 1, 4):
                off += A[p, q] * A[p, q]
        if off < 1e-30 * (A[0, 0] ** 2 + A[1, 1] ** 2 + A[2, 2] ** 2 + A[3, 3] ** 2) + 1e-300:
            break
        for p in range(4):
            for q in range(p + 1, 4):
                if A[p, q] == 0.0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2.0 * A[p, q])
                t = (1.0 if theta >= 0.0 else -1.0) / (abs(theta) + np.sqrt(theta * theta + 1.0))
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                for k in range(4):                       # A ← Jᵀ A J, V ← V J
                    akp, akq = A[k, p], A[k, q]
                    A[k, p], A[k, q] = c * akp - s * akq, s * akp + c * akq
                for k in range(4):
                    apk, aqk = A[p, k], A[q, k]
                    A[p, k], A[q, k] = c * apk - s * aqk, s * apk + c * aqk
                for k in range(4):
                    vkp, vkq = V[k, p], V[k, q]
                    V[k, p], V[k, q] = c * vkp - s * vkq, s * vkp + c * vkq
    best = 0
    for i in range(1, 4):
        if A[i, i] > A[best, best]:
            best = i
    return V[:, best].copy()


@_jit
def _kabsch(src, dst, w_in, horn):
    """Horn's weighted rigid fit dst ≈ R src + t (rotations.kabsch). src, dst (N, 3); w_in (N,);
    horn (9, 16). Returns R (3, 3), t (3,)."""
    n = src.shape[0]
    w = w_in / max(w_in.sum(), _EPS)
    cs, cd = np.zeros(3), np.zeros(3)
    for k in range(n):
        cs += w[k] * src[k]
        cd += w[k] * dst[k]
    H = np.zeros(9)
    for k in range(n):
        a, b = src[k] - cs, w[k] * (dst[k] - cd)
        for i in range(3):
            for j in range(3):
                H[3 * i + j] += a[i] * b[j]
    N = np.zeros(16)
    for i in range(9):
        for j in range(16):
            N[j] += H[i] * horn[i, j]
    R = _unit_quat_to_matrix(_top_eigvec_sym4(N.reshape(4, 4)))
    return R, cd - _mv(R, cs)


@_jit
def _solve_spd(A, b):
    """A⁻¹ b for a symmetric positive definite (n, n) A (Cholesky)."""
    n = A.shape[0]
    L = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                L[i, i] = np.sqrt(max(s, 1e-300))
            else:
                L[i, j] = s / L[j, j]
    y = np.empty(n)
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * y[k]
        y[i] = s / L[i, i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        s = y[i]
        for k in range(i + 1, n):
            s -= L[k, i] * x[k]
        x[i] = s / L[i, i]
    return x


@_jit
def _smoothstep(x, lo, hi):
    t = min(max((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------------------------
# the solver's pieces (inference.body.solve, T = 1)
# --------------------------------------------------------------------------------------------
@_jit
def _torso_rotations(x, pelvis0, hip_axis, rv_map, spine_share, tilt):
    """solve._torso_rotations: x (8,) → pelvis (3, 3), spine joint rotations (3, 3, 3), collar
    local rotations (2, 3, 3)."""
    v = np.zeros(rv_map.shape[1])
    for k in range(x.shape[0]):
        for j in range(rv_map.shape[1]):
            v[j] += x[k] * rv_map[k, j]
    G0 = _mm(_axis_angle(x[tilt] * hip_axis), pelvis0)
    third = np.empty((3, 3, 3))
    for k in range(3):
        third[k] = _axis_angle(spine_share[k] * v[0:3])
    collar = np.empty((2, 3, 3))
    collar[0] = _axis_angle(v[3:6])
    collar[1] = _axis_angle(v[6:9])
    return G0, third, collar


@_jit
def _torso_residual(x, pelvis0, hip_axis, hip_mid, shoulder_t, head_t, chest_t, prior, rig, tabs, cfg):
    """solve._torso_residual: (8,) → (20,)."""
    (bones, pelvis_off, spine_sum, target_frame_t, rv_map, collar_fwd_sign, torso_vectors, spine3_children,
     hip_bones, face_offsets, aim1_dirs, elbow_dirs, limb_bones, limb_frame_t, lower_dirs, twist_axes,
     finger_hinge, finger_child, palm_offsets, offsets, collar_bones, shoulder_bones, head_bone,
     wrist_bones) = rig
    spine_share, prior_w = cfg[C_SPINE_SHARE], cfg[C_PRIOR_W]
    w_head, w_chest = cfg[C_SCALARS][SC_W_HEAD], cfg[C_SCALARS][SC_W_CHEST]
    G0, third, collar = _torso_rotations(x, pelvis0, hip_axis, rv_map, spine_share, tabs[T_LAYOUT][LY_TORSO_TILT])
    g1 = _mm(G0, third[0])
    g2 = _mm(g1, third[1])
    g3 = _mm(g2, third[2])
    p3 = hip_mid + _mv(G0, spine_sum[0]) + _mv(g1, spine_sum[1]) + _mv(g2, spine_sum[2])
    r = np.empty(_R_FIXED + x.shape[0])
    for s in range(2):
        sh = p3 + _mv(g3, collar_bones[s] + _mv(collar[s], shoulder_bones[s]))
        r[3 * s: 3 * s + 3] = sh - shoulder_t[s]
    r[6:9] = w_head * (p3 + _mv(g3, torso_vectors[2]) - head_t)
    r[9:12] = w_chest * _to_rotvec_fast(_mm(chest_t, g3))
    r[_R_FIXED:] = (x - prior) * prior_w
    return r


@_jit
def _solve_torso(pelvis0, chest, hip_mid, hip_vec, shoulder_t, head_R, head_t, rig, tabs, cfg, x0, warm, iters,
                 collars):
    """solve._solve_torso for one frame (``iters`` < 0: the default for a cold or warm fit).
    Returns pelvis, spine joint rotations (3, 3, 3), collar locals (2, 3, 3), parameters (8,)."""
    rv_map, head_bone, layout = rig[R_RV_MAP], rig[R_HEAD_BONE], tabs[T_LAYOUT]
    spine_share, iters_tol, bound = cfg[C_SPINE_SHARE], cfg[C_ITERS], cfg[C_BOUND]
    sc = cfg[C_SCALARS]
    h, damp = sc[SC_FD_STEP], sc[SC_DAMP]
    n = bound.shape[0]
    hip_axis = _normalize(hip_vec)
    head_t2 = head_t - sc[SC_HEAD_MID] * _mv(head_R, head_bone)
    chest_t = chest.T.copy()
    prior = np.zeros(n)
    prior[layout[LY_TORSO_COLLARS]:layout[LY_TORSO_COLLARS] + collars.shape[0]] = collars
    if warm:
        x = x0.copy()
        n_iter, tol = int(iters_tol[IT_WARM]), iters_tol[IT_WARM_TOL]
    else:
        x = np.zeros(n)
        s0 = layout[LY_TORSO_SPINE]
        x[s0:s0 + spine_share.shape[0]] = _to_rotvec(_mtm(pelvis0, chest)) / spine_share.shape[0]
        n_iter, tol = int(iters_tol[IT_COLD]), iters_tol[IT_COLD_TOL]
    if iters >= 0:
        n_iter = iters
    m = _R_FIXED + n
    Jm = np.empty((n, m))
    for _ in range(n_iter):
        r0 = _torso_residual(x, pelvis0, hip_axis, hip_mid, shoulder_t, head_t2, chest_t, prior, rig, tabs, cfg)
        for k in range(n):
            xp = x.copy()
            xp[k] += h
            Jm[k] = (_torso_residual(xp, pelvis0, hip_axis, hip_mid, shoulder_t, head_t2, chest_t, prior, rig, tabs,
                                     cfg) - r0) * (1.0 / h)
        A = np.empty((n, n))
        g = np.zeros(n)
        for i in range(n):
            for j in range(i + 1):
                a = 0.0
                for q in range(m):
                    a += Jm[i, q] * Jm[j, q]
                A[i, j] = A[j, i] = a
            A[i, i] += damp
            for q in range(m):
                g[i] += Jm[i, q] * r0[q]
        dx = _solve_spd(A, g)
        x = np.minimum(np.maximum(x - dx, -bound), bound)
        if np.abs(dx).max() < tol:
            break
    G0, third, collar = _torso_rotations(x, pelvis0, hip_axis, rv_map, spine_share, layout[LY_TORSO_TILT])
    return G0, third, collar, x


@_jit
def _bend_secondary(base, mid, end, fallback, sc):
    """solve._bend_secondary: (3,) each → (3,) unit."""
    w1 = mid - base
    axis = _normalize(end - base)
    e = w1 - _dot(w1, axis) * axis
    e_len = np.sqrt(_dot(e, e))
    w1_len = np.sqrt(_dot(w1, w1))
    wgt = _smoothstep(e_len / max(w1_len, _EPS), sc[SC_BEND_LO], sc[SC_BEND_HI])
    if _dot(e, fallback) < -sc[SC_BEND_AGAINST] * e_len and e_len < sc[SC_BEND_CLEAR] * w1_len:
        wgt = 0.0
    return _normalize(wgt * (e / max(e_len, _EPS)) + (1.0 - wgt) * fallback)


@_jit
def _limit_pose_kernel(G, tabs, cfg):
    """solve.limit_pose for one frame, in place on G (55, 3, 3)."""
    parents, depth, knees = tabs[T_PARENTS], tabs[T_DEPTH], tabs[T_KNEES]
    max_angle, trace_limit = cfg[C_MAX_ANGLE], cfg[C_TRACE_LIMIT]
    knee_trace_limit, knee_hyper = cfg[C_SCALARS][SC_KNEE_TRACE], cfg[C_SCALARS][SC_KNEE_HYPER]
    n = G.shape[0]
    local = np.empty((n, 3, 3))
    cand = np.zeros(n, np.bool_)
    dmin = 1 << 30
    for j in range(1, n):
        L = _mtm(G[parents[j]], G[j])
        local[j] = L
        tr = L[0, 0] + L[1, 1] + L[2, 2]
        c = tr < trace_limit[j]
        is_knee = j == knees[0] or j == knees[1]
        if is_knee and tr < knee_trace_limit and L[2, 1] < L[1, 2]:
            c = True
        if c:
            cand[j] = True
            rv = _to_rotvec(L)
            if is_knee:
                rv[0] = max(rv[0], -knee_hyper)
            ang = np.sqrt(_dot(rv, rv))
            local[j] = _axis_angle(rv * min(1.0, max_angle[j] / max(ang, _EPS)))
            dmin = min(dmin, depth[j])
    if dmin == 1 << 30:
        return
    for j in range(1, n):                    # parents come before their children
        if depth[j] >= dmin:
            G[j] = _mm(G[parents[j]], local[j])


@_jit
def _fk(G, bones, root, parents):
    """Joint positions (55, 3) from global rotations, rest bones and the root position."""
    n = G.shape[0]
    P = np.empty((n, 3))
    P[0] = root
    for j in range(1, n):
        P[j] = P[parents[j]] + _mv(G[parents[j]], bones[j])
    return P


@_jit
def _collar_rhythm_kernel(chest, arm, collar_fwd_sign, sc):
    """solve.collar_rhythm for one frame: chest (3, 3), arm (2, 3) → (4,)."""
    out = np.empty(2 * arm.shape[0])
    for s in range(arm.shape[0]):
        a = _normalize(_mtv(chest, arm[s]))
        elev = np.arccos(min(max(-a[1], -1.0), 1.0))
        out[2 * s] = (max(elev - sc[SC_RHYTHM_FREE], 0.0) - sc[SC_RHYTHM_REST]) / sc[SC_RHYTHM_RATIO]
        out[2 * s + 1] = sc[SC_PROTRACTION] * a[2] * collar_fwd_sign[s]
    return out


@_jit
def _solve_skeleton_kernel(Q, W, hand_ok, rig, tabs, cfg, x0, warm, iters, full):
    """solve.solve_skeleton for one frame: Q (75, 3), W (75,), hand_ok (2,) bool, torso warm
    start x0 (8,) if ``warm``, ``iters`` Gauss-Newton iterations (< 0: the default). Returns
    G (55, 3, 3), joints (55, 3), torso parameters (8,)."""
    (bones, pelvis_off, spine_sum, target_frame_t, rv_map, collar_fwd_sign, torso_vectors, spine3_children,
     hip_bones, face_offsets, aim1_dirs, elbow_dirs, limb_bones, limb_frame_t, lower_dirs, twist_axes,
     finger_hinge, finger_child, palm_offsets, offsets, collar_bones, shoulder_bones, head_bone,
     wrist_bones) = rig
    frame_targets, lm, palm_lms, parents = tabs[T_FRAME_TARGETS], tabs[T_LM], tabs[T_PALM_LMS], tabs[T_PARENTS]
    block_order, finger_lms, horn, blk = tabs[T_BLOCK_ORDER], tabs[T_FINGER_LMS], tabs[T_HORN], tabs[T_BLOCKS]
    hand_base, layout = tabs[T_HAND_BASE], tabs[T_LAYOUT]
    SH, EL, WR, KN, AN = lm[LM_SH], lm[LM_EL], lm[LM_WR], lm[LM_KN], lm[LM_AN]
    HE, TO, IX, PK, HP = lm[LM_HE], lm[LM_TO], lm[LM_IX], lm[LM_PK], lm[LM_HP]
    fr_hands, fr_pose_hands, fr_feet = layout[LY_FR_HANDS], layout[LY_FR_POSE_HANDS], layout[LY_FR_FEET]
    sc = cfg[C_SCALARS]

    # 1. target frames, hip centre, palm-anchored wrists, head, torso fit, spine
    n_frames = target_frame_t.shape[0]
    ab = np.zeros((2 * n_frames, 3))                                    # frame_targets @ Q
    for i in range(2 * n_frames):
        for n in range(Q.shape[0]):
            c = frame_targets[i, n]
            if c != 0.0:
                ab[i] += c * Q[n]
    frames = np.empty((n_frames, 3, 3))
    for i in range(n_frames):
        frames[i] = _align_to_frame(target_frame_t[i], ab[i], ab[n_frames + i])
    hip_mid = 0.5 * (Q[HP[0]] + Q[HP[1]])
    sh_t = np.empty((2, 3))
    el_t = np.empty((2, 3))
    wr_t = np.empty((2, 3))
    kn_t = np.empty((2, 3))
    an_t = np.empty((2, 3))
    palm_wrist = np.zeros((2, 3))
    for s in range(2):
        sh_t[s], el_t[s], kn_t[s], an_t[s] = Q[SH[s]], Q[EL[s]], Q[KN[s]], Q[AN[s]]
        for k in range(palm_lms.shape[0]):
            palm_wrist[s] += Q[hand_base[s] + palm_lms[k]] - _mv(frames[fr_hands + s], palm_offsets[s, k])
        palm_wrist[s] = palm_wrist[s] / palm_lms.shape[0]
        wr_t[s] = palm_wrist[s] if hand_ok[s] else Q[WR[s]]
    face = tabs[T_FACE_LMS]
    head_R, head_t = _kabsch(face_offsets, Q[face], W[face] + sc[SC_FACE_FLOOR], horn)
    chest = frames[layout[LY_FR_CHEST]]
    collars = _collar_rhythm_kernel(chest, el_t - sh_t, collar_fwd_sign, sc)
    G0, third, collar_local, torso_x = _solve_torso(frames[layout[LY_FR_PELVIS]], chest, hip_mid,
                                                    ab[layout[LY_FR_PELVIS]], sh_t, head_R, head_t, rig, tabs, cfg,
                                                    x0, warm, iters, collars)
    g1 = _mm(G0, third[0])
    g2 = _mm(g1, third[1])
    S3 = _mm(g2, third[2])
    P0 = hip_mid - _mv(G0, pelvis_off)
    P3 = hip_mid + _mv(G0, spine_sum[0]) + _mv(g1, spine_sum[1]) + _mv(g2, spine_sum[2])

    # 2. collars, neck, thighs
    P_children = np.empty((3, 3))
    for i in range(3):
        P_children[i] = P3 + _mv(S3, spine3_children[i])
    P_hip = np.empty((2, 3))
    G_collar = np.empty((2, 3, 3))
    thigh_swing = np.empty((2, 3, 3))
    P_sh = np.empty((2, 3))
    for s in range(2):
        P_hip[s] = P0 + _mv(G0, hip_bones[s])
        G_collar[s] = _aim_unit(_mm(S3, collar_local[s]), aim1_dirs[s], sh_t[s] - P_children[s])
        thigh_swing[s] = _aim_unit(G0, aim1_dirs[3 + s], kn_t[s] - P_hip[s])
        P_sh[s] = P_children[s] + _mv(G_collar[s], shoulder_bones[s])
    neck_swing = _aim_unit(S3, aim1_dirs[2], head_t - P_children[2])

    # 3a. upper arms and thighs from their bend planes, forearm hinges and shins
    foot_w = np.empty(2)
    base = np.empty((4, 3))
    mid = np.empty((4, 3))
    end = np.empty((4, 3))
    fallback = np.empty((4, 3))
    back = np.zeros(3)
    back[2] = -1.0
    zed = np.zeros(3)
    zed[2] = 1.0
    for s in range(2):
        upper_swing = _aim_unit(G_collar[s], elbow_dirs[s], el_t[s] - P_sh[s])
        knee_dir = _normalize(kn_t[s] - P_hip[s])
        v = Q[TO[s]] - Q[HE[s]]
        foot_fwd = v - _dot(v, knee_dir) * knee_dir
        foot_w[s] = _smoothstep(min(W[TO[s]], W[HE[s]]), sc[SC_FOOT_LO], sc[SC_FOOT_HI])
        fallback[s] = _mv(upper_swing, back)
        fallback[2 + s] = _normalize(foot_w[s] * _normalize(foot_fwd) + (1.0 - foot_w[s]) * _mv(thigh_swing[s], zed))
        base[s], base[2 + s] = P_sh[s], P_hip[s]
        mid[s], mid[2 + s] = el_t[s], kn_t[s]
        end[s], end[2 + s] = wr_t[s], an_t[s]
    G_upper = np.empty((4, 3, 3))
    G_lower = np.empty((4, 3, 3))
    P_mid = np.empty((4, 3))
    for i in range(4):
        sec = _bend_secondary(base[i], mid[i], end[i], fallback[i], sc)
        G_upper[i] = _align_to_frame(limb_frame_t[i], mid[i] - base[i], sec)
        P_mid[i] = base[i] + _mv(G_upper[i], limb_bones[i])
        G_lower[i] = _aim_unit(G_upper[i], lower_dirs[i], end[i] - P_mid[i])
    wrist_G = np.empty((2, 3, 3))
    for s in range(2):
        if hand_ok[s]:
            wrist_G[s] = frames[fr_hands + s]
        elif min(W[IX[s]], W[PK[s]]) > sc[SC_POSE_HAND_SEEN]:
            wrist_G[s] = frames[fr_pose_hands + s]
        else:
            wrist_G[s] = G_lower[s]

    # 3b. neck and forearm twist, fingers (the full solve only); in tables.FINGER_BLOCK's order
    swung = np.empty((3, 3, 3))
    swung[0], swung[1], swung[2] = neck_swing, G_lower[0], G_lower[1]
    n_phal, n_side, n_fing = finger_hinge.shape[0], finger_hinge.shape[1], finger_hinge.shape[2]
    fingers = np.empty((n_phal, n_side, n_fing, 3, 3))
    if full:
        for i in range(3):
            twisted = head_R if i == 0 else wrist_G[i - 1]
            tw = _twist_angle(_mtm(swung[i], twisted), twist_axes[i])
            swung[i] = _mm(swung[i], _axis_angle(twist_axes[i] * (sc[SC_TWIST_SHARE] * tw)))
        for s in range(n_side):
            for f in range(n_fing):
                parent_G = wrist_G[s]
                for k in range(n_phal):
                    if hand_ok[s]:   # along the detected bone, as solve.py
                        bone = Q[hand_base[s] + finger_lms[f, k + 1]] - Q[hand_base[s] + finger_lms[f, k]]
                        abd, hyper = ((sc[SC_MCP_ABDUCTION], sc[SC_MCP_HYPER]) if k == 0
                                      else (sc[SC_FINGER_SIDEWAYS], sc[SC_FINGER_HYPER]))
                        g = _finger_aim(parent_G, finger_child[k, s, f], finger_hinge[k, s, f], bone, abd, hyper,
                                        sc[SC_FINGER_FLEXION])
                    else:
                        g = parent_G
                    fingers[k, s, f] = g
                    parent_G = g
    else:
        for k in range(n_phal):
            for s in range(n_side):
                for f in range(n_fing):
                    fingers[k, s, f] = wrist_G[s]

    # 3c. ankles and feet; unseen legs hang from the pelvis; in tables.LEGS' order
    legs = np.empty((4, 2, 3, 3))
    for s in range(2):
        ankle = frames[fr_feet + s] if foot_w[s] > 0.0 else G_lower[2 + s]
        if min(W[KN[s]], W[AN[s]]) >= sc[SC_LEG_VISIBLE]:
            legs[0, s], legs[1, s], legs[2, s], legs[3, s] = G_upper[2 + s], G_lower[2 + s], ankle, ankle
        else:
            legs[0, s], legs[1, s], legs[2, s], legs[3, s] = G0, G0, G0, G0

    # the rotations in block order (tables.BLOCK_ORDER), then back to the SMPL-X order
    n_joints = block_order.shape[0]
    blocks = np.empty((n_joints, 3, 3))
    blocks[blk[BK_PELVIS, 0]] = G0
    b = blk[BK_SPINE, 0]
    blocks[b], blocks[b + 1], blocks[b + 2] = g1, g2, S3
    blocks[blk[BK_COLLAR, 0]:blk[BK_COLLAR, 1]] = G_collar
    blocks[blk[BK_NECK, 0]] = swung[0]
    for i in range(blk[BK_HEAD, 0], blk[BK_HEAD, 1]):                # the jaw and eyes follow the head
        blocks[i] = head_R
    blocks[blk[BK_SHOULDER, 0]:blk[BK_SHOULDER, 1]] = G_upper[:2]
    blocks[blk[BK_ELBOW, 0]:blk[BK_ELBOW, 1]] = swung[1:]
    blocks[blk[BK_WRIST, 0]:blk[BK_WRIST, 1]] = wrist_G
    blocks[blk[BK_FINGERS, 0]:blk[BK_FINGERS, 1]] = fingers.reshape((n_phal * n_side * n_fing, 3, 3))
    blocks[blk[BK_LEGS, 0]:blk[BK_LEGS, 1]] = legs.reshape((legs.shape[0] * legs.shape[1], 3, 3))
    G = np.empty((n_joints, 3, 3))
    for i in range(n_joints):
        G[block_order[i]] = blocks[i]
    if full:
        _limit_pose_kernel(G, tabs, cfg)
    return G, _fk(G, bones, P0, parents), torso_x


# --------------------------------------------------------------------------------------------
# lifting passes (inference.body.lift + lifting, T = 1)
# --------------------------------------------------------------------------------------------
@_jit
def _solve_translation(X, kp2d, w, K):
    """lift.solve_translation for one frame: X (N, 3), kp2d (N, ≥2) pixels, w (N,) → t (3,)."""
    f = K[0, 0]
    s = np.zeros(8)
    wsum = 0.0
    for n in range(X.shape[0]):
        du, dv = kp2d[n, 0] - K[0, 2], kp2d[n, 1] - K[1, 2]
        bu, bv = du * X[n, 2] - f * X[n, 0], dv * X[n, 2] - f * X[n, 1]
        wn = w[n]
        wsum += wn
        s[0] += wn * du
        s[1] += wn * dv
        s[2] += wn * bu
        s[3] += wn * bv
        s[4] += wn * du * du
        s[5] += wn * dv * dv
        s[6] += wn * du * bu
        s[7] += wn * dv * bv
    a = f * f * wsum + 1e-9
    c, d, p, q = -f * s[0], -f * s[1], f * s[2], f * s[3]
    e, r = s[4] + s[5] + 1e-9, -(s[6] + s[7])
    tz = (a * r - (c * p + d * q)) / (a * e - (c * c + d * d))
    t = np.empty(3)
    t[0], t[1], t[2] = (p - c * tz) / a, (q - d * tz) / a, tz
    return t


@_jit
def _perspective_targets(kp2d, kpz, present, posed, K, tabs, sc):
    """lift.perspective_targets for one frame: kp2d (≥75, 3) float32, kpz (≥75,) float32,
    present (≥3,) bool, posed (75, 3) → (75, 3)."""
    layout, hand_base, wrist = tabs[T_LAYOUT], tabs[T_HAND_BASE], tabs[T_LM][LM_WR]
    visible, min_depth = sc[SC_VISIBLE], sc[SC_MIN_DEPTH]
    Q = posed.copy()
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for n in range(layout[LY_NUM_BODY]):
        if kp2d[n, 2] >= visible:
            z = max(posed[n, 2], min_depth)
            Q[n, 0], Q[n, 1], Q[n, 2] = (kp2d[n, 0] - cx) * (z / fx), (kp2d[n, 1] - cy) * (z / fy), z
    for s in range(2):
        if present[layout[LY_PART_HAND] + s]:
            b = hand_base[s]
            zw = max(posed[wrist[s], 2], min_depth)
            for k in range(layout[LY_NUM_HAND]):
                z = zw + (kpz[b + k] - kpz[b]) * (zw / fx)       # the kpz difference in the detector's float32
                Q[b + k, 0] = (kp2d[b + k, 0] - cx) * (z / fx)
                Q[b + k, 1] = (kp2d[b + k, 1] - cy) * (z / fy)
                Q[b + k, 2] = z
            Q[wrist[s]] = Q[b]
    return Q


@_jit
def _lifting_passes_kernel(kp2d, kpz, world, present, hands, K, prev, warm, iters, passes, rig, tabs, cfg):
    """lifting.lifting_passes for one frame (no smoothing, no refinement). kp2d (553, 3),
    kpz (553,), world (33, 3) float32; present (4,) bool; K (3, 3); prev (passes, 8) warm starts.
    Returns every pass's G (passes, 55, 3, 3), joints (passes, 55, 3) and torso parameters
    (passes, 8)."""
    offsets, landmark_joint = rig[R_OFFSETS], tabs[T_LANDMARK_JOINT]
    layout, hand_base = tabs[T_LAYOUT], tabs[T_HAND_BASE]
    n_body, n_hand, n_lm = layout[LY_NUM_BODY], layout[LY_NUM_HAND], landmark_joint.shape[0]
    n_joints = tabs[T_PARENTS].shape[0]
    W = np.zeros(n_lm)
    for n in range(n_body):
        W[n] = kp2d[n, 2]
    hand_ok = np.zeros(2, np.bool_)
    for s in range(2):
        hand_ok[s] = present[layout[LY_PART_HAND] + s] and hands
        if hand_ok[s]:
            W[hand_base[s]:hand_base[s] + n_hand] = 1.0
    lm = np.zeros((n_lm, 3))
    for n in range(n_body):
        for i in range(3):
            lm[n, i] = 0.0 if np.isnan(world[n, i]) else world[n, i]
    torso = np.empty((passes, cfg[C_BOUND].shape[0]))
    Gs = np.empty((passes, n_joints, 3, 3))
    Js = np.empty((passes, n_joints, 3))
    for k in range(passes):
        if k:
            for n in range(n_lm):
                j = landmark_joint[n]
                lm[n] = Js[k - 1, j] + _mv(Gs[k - 1, j], offsets[n])
        t = _solve_translation(lm[:n_body], kp2d[:n_body], W[:n_body], K)
        Q = _perspective_targets(kp2d, kpz, present, lm + t, K, tabs, cfg[C_SCALARS])
        Gs[k], Js[k], torso[k] = _solve_skeleton_kernel(Q, W, hand_ok, rig, tabs, cfg, prev[k], warm, iters,
                                                        k == passes - 1)
    return Gs, Js, torso


# --------------------------------------------------------------------------------------------
# Python side: arguments and the entry points
# --------------------------------------------------------------------------------------------
def _laid_out(entries: tuple, dtype) -> np.ndarray:
    """An argument array from (index, value) pairs that fill it exactly: row ``index`` is ``value``."""
    rows = dict(entries)
    assert sorted(rows) == list(range(len(entries)))
    return np.array([rows[i] for i in range(len(rows))], dtype)


def _tables() -> tuple:
    """Index tables and tuning of the solve, from :mod:`.tables` (and the detector layout, the
    landmark model, ``lift.VISIBLE``, Horn's table of ``rotations``): (tabs, cfg), in the order of
    the T_*, LY_*, BK_*, LM_*, C_*, SC_* and IT_* constants."""
    as_int = lambda a: np.ascontiguousarray(a, np.int64)  # noqa: E731
    lm = _laid_out(((LM_SH, S.LM_SHOULDER), (LM_EL, S.LM_ELBOW), (LM_WR, S.LM_WRIST), (LM_KN, S.LM_KNEE),
                    (LM_AN, S.LM_ANKLE), (LM_HE, S.LM_HEEL), (LM_TO, S.LM_TOE), (LM_IX, S.LM_INDEX),
                    (LM_PK, S.LM_PINKY), (LM_HP, S.LM_HIP)), np.int64)
    blocks = _laid_out(tuple((row, (b.start, b.stop)) for row, b in (
        (BK_PELVIS, S.B_PELVIS), (BK_SPINE, S.B_SPINE), (BK_COLLAR, S.B_COLLAR), (BK_NECK, S.B_NECK),
        (BK_HEAD, S.B_HEAD), (BK_SHOULDER, S.B_SHOULDER), (BK_ELBOW, S.B_ELBOW), (BK_WRIST, S.B_WRIST),
        (BK_FINGERS, S.B_FINGERS), (BK_LEGS, S.B_LEGS))), np.int64)
    layout = _laid_out(((LY_NUM_BODY, NUM_BODY), (LY_NUM_HAND, NUM_HAND), (LY_PART_HAND, PART_LEFT_HAND),
                        (LY_FR_PELVIS, S.FR_PELVIS), (LY_FR_CHEST, S.FR_CHEST), (LY_FR_HANDS, S.FR_HANDS.start),
                        (LY_FR_POSE_HANDS, S.FR_POSE_HANDS.start), (LY_FR_FEET, S.FR_FEET.start),
                        (LY_TORSO_TILT, S.TORSO_TILT), (LY_TORSO_SPINE, S.TORSO_SPINE.start),
                        (LY_TORSO_COLLARS, S.TORSO_COLLARS.start)), np.int64)
    tabs = (np.ascontiguousarray(S.FRAME_TARGETS, np.float64), lm, as_int(S.PALM_LMS), as_int(PARENTS),
            as_int(DEPTH), as_int(S.BLOCK_ORDER), as_int(S.KNEE), as_int(S.FINGER_LMS),
            np.ascontiguousarray(rot.HORN, np.float64), as_int(LANDMARK_JOINT), as_int(S.HAND_BASE),
            as_int(S.LM_FACE), blocks, layout)
    scalars = _laid_out((
        (SC_W_HEAD, S.W_HEAD), (SC_W_CHEST, S.W_CHEST), (SC_FD_STEP, S.FD_STEP), (SC_DAMP, S.DAMPING_W),
        (SC_LEG_VISIBLE, S.LEG_VISIBLE), (SC_PROTRACTION, S.COLLAR_PROTRACTION),
        (SC_KNEE_TRACE, S.TRACE_AT_KNEE_LIMIT), (SC_VISIBLE, VISIBLE), (SC_KNEE_HYPER, S.KNEE_HYPEREXTENSION),
        (SC_HEAD_MID, S.HEAD_MID), (SC_FACE_FLOOR, S.FACE_WEIGHT_FLOOR), (SC_BEND_LO, S.BEND_SEEN_LO),
        (SC_BEND_HI, S.BEND_SEEN_HI), (SC_BEND_AGAINST, S.BEND_AGAINST), (SC_BEND_CLEAR, S.BEND_CLEAR),
        (SC_FOOT_LO, S.FOOT_SEEN_LO), (SC_FOOT_HI, S.FOOT_SEEN_HI), (SC_POSE_HAND_SEEN, S.POSE_HAND_SEEN),
        (SC_TWIST_SHARE, S.TWIST_SHARE), (SC_RHYTHM_FREE, S.RHYTHM_FREE), (SC_RHYTHM_REST, S.RHYTHM_REST),
        (SC_RHYTHM_RATIO, S.RHYTHM_RATIO), (SC_MIN_DEPTH, S.MIN_DEPTH),
        (SC_FINGER_HYPER, S.FINGER_HYPEREXTENSION), (SC_MCP_ABDUCTION, S.MCP_ABDUCTION),
        (SC_MCP_HYPER, S.MCP_HYPEREXTENSION), (SC_FINGER_FLEXION, S.FINGER_FLEXION),
        (SC_FINGER_SIDEWAYS, S.FINGER_SIDEWAYS)), np.float64)
    iters = _laid_out(((IT_COLD, S.TORSO_ITERS_COLD), (IT_WARM, S.TORSO_ITERS_WARM), (IT_COLD_TOL, S.TORSO_COLD_TOL),
                       (IT_WARM_TOL, S.TORSO_WARM_TOL)), np.float64)
    trace_limit = np.concatenate([[-np.inf], S.TRACE_AT_LIMIT])          # indexed by joint, root never limited
    cfg = (np.asarray(S.SPINE_SHARE, np.float64), np.asarray(S.PRIOR_W, np.float64), scalars, iters,
           np.asarray(S.MAX_ANGLE, np.float64), trace_limit, np.asarray(S.TORSO_BOUND, np.float64))
    return tabs, cfg


_TABS, _CFG = _tables()


def rig_args(subject: Subject) -> tuple:
    """The subject's rig as the kernel's argument tuple (24 float64 arrays, in the order the kernel
    functions unpack them; R_* name the ones taken singly). Built once per rig and kept on it."""
    rig = subject.rig
    args = getattr(rig, "_kernel_args", None)
    if args is None:
        B = rig.bones
        c = lambda a: np.ascontiguousarray(a, np.float64)  # noqa: E731
        args = tuple(c(a) for a in (
            B, rig.pelvis_off, rig.spine_sum, rig.target_frame_t, rig.rv_map, rig.collar_fwd_sign,
            rig.torso_vectors, rig.spine3_children, rig.hip_bones, rig.face_offsets, rig.aim1_dirs,
            rig.elbow_dirs, rig.limb_bones, rig.limb_frame_t, rig.lower_dirs, rig.twist_axes, rig.finger_hinge,
            rig.finger_child, rig.palm_offsets, subject.offsets, B[S.COLLAR], B[S.SHOULDER], B[S.HEAD],
            B[S.WRIST]))
        rig._kernel_args = args
    return args


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32)       # the detector's dtype: one compiled specialisation


def _f64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float64)


def _iters(torso_iters: int | None) -> int:
    return -1 if torso_iters is None else int(torso_iters)


def lift_one_frame(kp2d: np.ndarray, kpz: np.ndarray, world: np.ndarray, present: np.ndarray,
                   subject: Subject, camera: Camera, hands: bool, previous: np.ndarray | None,
                   passes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's lifting passes, the live path's entry point (:func:`lifting_passes` of one frame
    without its conversions).

    kp2d (553, 3), kpz (553,), world (33, 3) as detected (float32); present (4,) bool;
    previous (passes, 8) torso fits of the last frame to warm-start from, or None (cold).
    Returns the last pass's G (55, 3, 3) global rotations and joints (55, 3) in the camera frame,
    and the torso parameters of every pass (passes, 8).
    """
    warm = previous is not None
    prev = _f64(previous) if warm else np.zeros((passes, S.NUM_TORSO))
    Gs, Js, torso = _lifting_passes_kernel(_f32(kp2d), _f32(kpz), _f32(world), np.ascontiguousarray(present, np.bool_),
                                           bool(hands), _f64(camera.K), prev, warm, -1, int(passes),
                                           rig_args(subject), _TABS, _CFG)
    return Gs[-1], Js[-1], torso


def lifting_passes(seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool, passes: int = LIFTING_PASSES,
                   torso_init: list[np.ndarray] | None = None, torso_iters: int | None = None) -> list[SkeletonPose]:
    """:func:`.lifting.lifting_passes`, compiled, frame by frame (no target smoothing, no
    refinement: the batch path's additions). torso_init: one warm start (T, 8) per pass, or None.
    Returns every pass's pose, each with G (T, 55, 3, 3), joints (T, 55, 3), torso (T, 8)."""
    T = len(seq)
    warm = torso_init is not None
    prev = np.stack([_f64(t) for t in torso_init], axis=1) if warm else np.zeros((T, passes, S.NUM_TORSO))
    args = rig_args(subject)
    K = _f64(camera.K)
    out = [_lifting_passes_kernel(_f32(seq.kp2d[t]), _f32(seq.kpz[t]), _f32(seq.world[t]),
                                  np.ascontiguousarray(seq.present[t], np.bool_), bool(hands), K, prev[t], warm,
                                  _iters(torso_iters), int(passes), args, _TABS, _CFG) for t in range(T)]
    return [SkeletonPose(G=np.array([o[0][k] for o in out]), joints=np.array([o[1][k] for o in out]),
                         torso=np.array([o[2][k] for o in out])) for k in range(passes)]


def solve_skeleton(Q: np.ndarray, W: np.ndarray, hand_ok: np.ndarray, subject: Subject,
                   torso_init: np.ndarray | None = None, torso_iters: int | None = None,
                   full: bool = True) -> SkeletonPose:
    """:func:`.solve.solve_skeleton`, compiled, frame by frame: Q (T, 75, 3), W (T, 75),
    hand_ok (T, 2) bool, torso_init (T, 8) or None."""
    T = len(Q)
    Q, W, hand_ok = _f64(Q), _f64(W), np.ascontiguousarray(hand_ok, np.bool_)
    warm = torso_init is not None
    x0 = _f64(torso_init) if warm else np.zeros((T, S.NUM_TORSO))
    args = rig_args(subject)
    out = [_solve_skeleton_kernel(Q[t], W[t], hand_ok[t], args, _TABS, _CFG, x0[t], warm, _iters(torso_iters),
                                  bool(full)) for t in range(T)]
    return SkeletonPose(G=np.array([o[0] for o in out]), joints=np.array([o[1] for o in out]),
                        torso=np.array([o[2] for o in out]))


def limit_pose(G: np.ndarray) -> np.ndarray:
    """:func:`.solve.limit_pose`, compiled, frame by frame. (T, 55, 3, 3) → (T, 55, 3, 3)."""
    out = np.array(G, np.float64, order="C")
    for t in range(len(out)):
        _limit_pose_kernel(out[t], _TABS, _CFG)
    return out


def collar_rhythm(chest: np.ndarray, arm: np.ndarray, rig: Rig) -> np.ndarray:
    """:func:`.solve.collar_rhythm`, compiled, frame by frame: chest (T, 3, 3), arm (T, 2, 3) →
    (T, 4)."""
    chest, arm, sign = _f64(chest), _f64(arm), _f64(rig.collar_fwd_sign)
    return np.array([_collar_rhythm_kernel(chest[t], arm[t], sign, _CFG[C_SCALARS]) for t in range(len(chest))])


def warm_up() -> bool:
    """Compile the kernel for the detector's dtypes (tens of seconds the first time on 2 cores),
    or load it from numba's on-disk cache (a fraction of a second), so that no frame waits for
    it. Returns whether the compiled kernel is available."""
    if AVAILABLE:
        K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
        lift_one_frame(np.zeros((NUM_KEYPOINTS, 3), np.float32), np.zeros(NUM_KEYPOINTS, np.float32),
                       np.zeros((NUM_BODY, 3), np.float32), np.ones(NUM_PARTS, bool), Subject.from_rest(DEFAULT_REST), Camera(K=K, size=(640, 480)), True,
                       None, LIFTING_PASSES)
    return AVAILABLE


__all__ = ["AVAILABLE", "collar_rhythm", "lift_one_frame", "lifting_passes", "limit_pose", "rig_args",
           "solve_skeleton", "warm_up"]
