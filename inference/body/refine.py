"""Batch refinement of a solved pose: all body and hand landmarks fitted together.

The analytic solver (:mod:`.solve`) aims each bone at one landmark from its already
solved parent, so under detector noise each joint carries its own landmark's whole error. This
step moves every joint rotation and the root translation at once to minimise the
confidence-weighted squared distance of the 75 body + hand landmarks to their targets — the
skeleton's fixed bone lengths and rigid parts (palm, head, pelvis) then average the landmarks'
noise instead of passing it on. A Tikhonov prior on each joint's change keeps what the landmarks
do not decide (how the spine shares a bend, bone twists, the collars' rhythm) where the analytic
solve put it. Joint limits are applied after.

Gauss-Newton with the geometric Jacobian of a kinematic tree: turning joint ``a`` by a small
world-frame rotation vector ``d`` moves every landmark ``i`` below it by ``d × (L_i - p_a)``.
Vectorised over frames (in chunks, for memory); the batch path uses it, the live path (one frame
in a hard time budget) does not.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as rot
from ..core.layout import LHAND, NUM_LANDMARKS, POSE, POSE_HIPS, RHAND
from ..core.skeleton import (ANCESTORS, FACE_JOINTS, JOINT_INDEX, LEFT_HAND_JOINTS, NUM_JOINTS, PARENTS,
                             RIGHT_HAND_JOINTS, forward_kinematics, global_to_local, local_to_global)
from .landmarks import LANDMARK_JOINT, landmarks_from_pose
from .solve import legs_seen, limit_pose
from .subject import Subject
from .tables import LEGS

#: Joints the refinement moves (all but the jaw and eyes, which no body landmark sees).
ACTIVE = np.setdiff1d(np.arange(NUM_JOINTS), FACE_JOINTS)
_N = len(ACTIVE)

#: Gauss-Newton iterations.
ITERATIONS = 2
#: Prior weight (metres of landmark error traded per radian of joint change) per joint: weak for
#: joints their landmarks pin down, strong for the spine (no landmark tells spine1/2/3 apart: the
#: analytic solve's share stands, else the fit bends spine3 by up to 40° to chase the shoulders'
#: depth on close-ups) and the neck (the face decides the head, not how the neck shares the turn).
PRIOR = np.full(NUM_JOINTS, 0.02)
PRIOR[[JOINT_INDEX["spine1"], JOINT_INDEX["spine2"], JOINT_INDEX["spine3"]]] = 0.3
PRIOR[JOINT_INDEX["neck"]] = 0.1
#: Frames per chunk (a frame's normal equations are 159 × 159 float64, 0.2 MB).
CHUNK = 256


#: (55, 55) 1 where joint a (column) is joint j (row) or one of its ancestors (the root always is).
_ANC_SELF = np.concatenate([np.ones((NUM_JOINTS, 1)), ANCESTORS], axis=1)
#: (75, len(ACTIVE)) 1 where active joint a is the joint of landmark i or an ancestor of it.
_MOVES = _ANC_SELF[LANDMARK_JOINT][:, ACTIVE]
#: Positions in ACTIVE of every (a, b) with a = b or a an ancestor of b.
_PAIRS = np.nonzero(_ANC_SELF[np.ix_(ACTIVE, ACTIVE)].T)
#: (4, 2) landmarks of each leg below the hip (knee, ankle, heel, toe), left and right.
_LEG_LMS = np.array([[POSE[f"{s}_{n}"] for s in ("left", "right")] for n in ("knee", "ankle", "heel", "foot_index")])


def refine_pose(G: np.ndarray, root: np.ndarray, Q: np.ndarray, w: np.ndarray, frozen: np.ndarray,
                subject: Subject, iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Refine a solved pose on its landmark targets.

    G (T, 55, 3, 3) global rotations, root (T, 3) pelvis positions (camera frame); Q (T, 75, 3)
    landmark targets; w (T, 75) landmark weights (0 = ignore); frozen (T, 55) bool: joints kept as
    they are (e.g. the fingers of a hand that was not seen). Returns the refined G (T, 55, 3, 3)
    with joint limits applied and joints (T, 55, 3).
    """
    G, root = G.copy(), root.copy()
    for s in range(0, len(G), CHUNK):
        sl = slice(s, s + CHUNK)
        G[sl], root[sl] = _refine_chunk(G[sl], root[sl], Q[sl], w[sl], frozen[sl], subject, iterations)
    G = limit_pose(G)
    return G, forward_kinematics(G, subject.bones, root)


def _normal_equations(P: np.ndarray, L: np.ndarray, E: np.ndarray, w: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton normal equations H (T, n, n), g (T, n) (n = 3 A + 3: the active joints' world
    rotation vectors, then the root translation) of the weighted landmark residuals E = L - Q.

    Built from subtree moments instead of the 225-row Jacobian: for joints a above b (or a = b)
    the block is H_ab = Σ_i w_i [(v_ia · v_ib) I - v_ib v_iaᵀ] with v_ia = L_i - p_a over the
    landmarks i below b, which expands into b's sums of w, w L and w L Lᵀ; blocks of joints on
    different branches are zero. P (T, 55, 3) joints, L and E (T, 75, 3), w (T, 75).
    """
    T = len(P)
    pa = P[:, ACTIVE]                                                          # (T, A, 3)
    wL, wE = w[..., None] * L, w[..., None] * E
    per_landmark = np.concatenate([w[..., None], wL, (wL[..., :, None] * L[..., None, :]).reshape(T, NUM_LANDMARKS, 9),
                                   rot.cross(L, wE), wE], axis=-1)             # (T, 75, 19)
    sums = rot.transpose(rot.transpose(per_landmark) @ _MOVES)                 # (T, A, 19) over each subtree
    Wb, m1, m2 = sums[..., 0], sums[..., 1:4], sums[..., 4:13].reshape(T, _N, 3, 3)  # Σ w, Σ w L, Σ w L Lᵀ
    c, Es = sums[..., 13:16], sums[..., 16:19]                                 # Σ w L × e, Σ w e
    g = np.concatenate([(c - rot.cross(pa, Es)).reshape(T, 3 * _N), wE.sum(1)], axis=1)
    # blocks of the (ancestor a, descendant b) pairs, from b's moments
    a, b = _PAIRS
    p_a, p_b, W, M1, M2 = pa[:, a], pa[:, b], Wb[:, b, None], m1[:, b], m2[:, b]
    s = (np.trace(M2, axis1=-2, axis2=-1)[..., None] - rot.dot(M1, p_b) - rot.dot(p_a, M1)
         + W * rot.dot(p_a, p_b))                                              # (T, n_pairs, 1)
    K = M2 - M1[..., :, None] * p_a[..., None, :] - p_b[..., :, None] * M1[..., None, :] \
        + W[..., None] * p_b[..., :, None] * p_a[..., None, :]
    blocks = s[..., None] * np.eye(3) - K                                      # (T, n_pairs, 3, 3)
    H = np.zeros((T, 3 * _N + 3, 3 * _N + 3))
    Hb = H[:, :3 * _N, :3 * _N].reshape(T, _N, 3, _N, 3).swapaxes(2, 3)        # (T, A, A, 3, 3) view
    Hb[:, a, b] = blocks
    Hb[:, b, a] = rot.transpose(blocks)
    Ht = -rot.skew(m1 - Wb[..., None] * pa)                                    # (T, A, 3, 3) translation × rotation
    H[:, 3 * _N:, :3 * _N] = Ht.swapaxes(1, 2).reshape(T, 3, 3 * _N)
    H[:, :3 * _N, 3 * _N:] = rot.transpose(H[:, 3 * _N:, :3 * _N])
    H[:, 3 * _N:, 3 * _N:] = w.sum(1)[:, None, None] * np.eye(3)
    return H, g


def _refine_chunk(G, root, Q, w, frozen, subject, iterations):
    T = len(G)
    lam = np.where(frozen[:, ACTIVE], 1e3, PRIOR[ACTIVE])                 # (T, A)
    lam_t = np.where(frozen[:, :1], 1e3, 1e-4)                             # root translation
    lam2 = np.concatenate([np.repeat(lam ** 2, 3, axis=1), np.repeat(lam_t ** 2, 3, axis=1)], axis=1)  # (T, 3A + 3)
    acc = np.zeros((T, 3 * _N + 3))                                        # change from the start
    diag = np.arange(3 * _N + 3)
    Gp_root = (ACTIVE == 0)[None, :, None, None]
    parents_active = np.maximum(PARENTS[ACTIVE], 0)
    for _ in range(iterations):
        P = forward_kinematics(G, subject.bones, root)
        L = landmarks_from_pose(G, P, subject.offsets)                                 # (T, 75, 3)
        H, g = _normal_equations(P, L, L - Q, w)
        H[:, diag, diag] += lam2
        step = -np.linalg.solve(H, (g + lam2 * acc)[..., None])[..., 0]
        acc += step
        d = step[:, :3 * _N].reshape(T, _N, 3)
        # turn each active joint's subtree by d about the joint: its local rotation becomes
        # G_parentᵀ R(d) G_joint (the root's: R(d) G_root)
        Gp = np.where(Gp_root, np.eye(3), G[:, parents_active])
        local = global_to_local(G)
        local[:, ACTIVE] = rot.transpose(Gp) @ rot.axis_angle(d) @ G[:, ACTIVE]
        G = local_to_global(local)
        root = root + step[:, 3 * _N:]
    return G, root


def weights_and_frozen(W: np.ndarray, hand_ok: np.ndarray, visible: float = 0.5
                       ) -> tuple[np.ndarray, np.ndarray]:
    """What the refinement fits and what it keeps, from the solver's confidences W (T, 75) and
    found hands hand_ok (T, 2) bool: weights (T, 75) = the confidences of body landmarks seen at
    least ``visible`` and of found hands' landmarks, nothing from a leg the solver let hang
    (:func:`solve.legs_seen`); frozen (T, 55) bool = the fingers of hands not found and those legs."""
    T = len(W)
    seen = legs_seen(W)                                                                   # (T, 2)
    w = np.where(W >= visible, W, 0.0)
    w[:, LHAND] *= hand_ok[:, :1]
    w[:, RHAND] *= hand_ok[:, 1:2]
    for side in range(2):
        w[:, _LEG_LMS[:, side]] *= seen[:, side:side + 1]
    frozen = np.zeros((T, NUM_JOINTS), bool)
    frozen[:, 0] = (w[:, POSE_HIPS] == 0.0).all(1)      # without the hips, the root stays where the solve put it
    frozen[:, LEFT_HAND_JOINTS] = ~hand_ok[:, :1]
    frozen[:, RIGHT_HAND_JOINTS] = ~hand_ok[:, 1:2]
    for side in range(2):
        frozen[:, LEGS[:, side]] |= ~seen[:, side:side + 1]
    return w, frozen


__all__ = ["refine_pose", "weights_and_frozen", "ACTIVE", "ITERATIONS", "PRIOR"]
