"""Keypoints → SMPL-X skeleton pose: an analytic, root-first kinematic solver (HKMR order).

Everything here works in the camera frame (x right, y down, z away from the camera, metres) and
is vectorised over frames ``T``; the live link calls the same functions with ``T = 1``.

Order of the solve (each joint conditioned on its already-solved parent, Zhou'21 IKNet-style):

1. pelvis from the hip line and the trunk's up direction; chest (spine3) from the shoulder line;
   the pelvis→chest rotation is shared by spine1/2/3 (:data:`SPINE_SHARE`);
2. collars aim at the shoulders, neck aims at the head, head orientation is a rigid fit of the face
   points (nose, eyes, ears, mouth);
3. limbs: upper arm / thigh from the bend plane (elbow/knee offset from the shoulder-wrist /
   hip-ankle line, with a smooth fallback when the limb is straight), forearm / shin aim, forearm
   twist shared half-and-half with the wrist, whose frame comes from the hand landmarks;
   ankles from heel, toe and ankle;
4. fingers: each phalanx aims at the next hand landmark from its parent's frame (no added twist);
5. joint limits: per-joint maximum angles (anatomical maxima that real mocap respects) and no
   gross knee hyperextension; elbows cannot bend backwards by construction.

The batch path then refines this pose by a joint least-squares fit of all landmarks
(:mod:`.refine`). :mod:`.solve_numba` is the compiled twin of this module, one frame at a time
(the live path), with the same public functions; both take their tables, block order and tuning
from :mod:`.tables`.

Positions follow from forward kinematics with fixed bone lengths, so limbs never stretch.

Speed (the live path calls this per frame at ``T = 1``, where numpy's per-call overhead, not
arithmetic, is the cost): left and right sides, arms and legs are solved in the same batched calls;
rest-dependent constants (unit bones, rest frames, the torso parameter map) are computed once per
:class:`Subject` (``Subject.rig``); the rotation maths is closed-form numpy (``rotations``); the
torso fit's Jacobian probes run as one batch and it can be warm-started; forward kinematics is one
matrix product and re-chaining goes by tree level; joint limits are checked on traces first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import rotations as rot
from ..core.layout import HAND_START, NUM_HAND
from ..core.skeleton import DEPTH, LEVELS, NUM_JOINTS, PARENTS, forward_kinematics
from .subject import Rig, Subject
from .tables import (B_COLLAR, B_ELBOW, B_FINGERS, B_HEAD, B_LEGS, B_NECK, B_PELVIS, B_SHOULDER, B_SPINE, B_WRIST,
                     BACK, BEND_AGAINST, BEND_CLEAR, BEND_SEEN_HI, BEND_SEEN_LO, COLLAR, COLLAR_PROTRACTION, DAMPING,
                     FACE_WEIGHT_FLOOR, FD_PROBES, FD_STEP, FINGER_BLOCK, FINGER_FLEXION, FINGER_HYPEREXTENSION,
                     FINGER_LMS, FINGER_SIDEWAYS, FOOT_SEEN_HI, FOOT_SEEN_LO, FORWARD, FR_CHEST, FR_FEET, FR_HANDS,
                     FR_PELVIS, FR_POSE_HANDS, FRAME_TARGETS, FROM_BLOCKS, HEAD, HEAD_MID, IDENTITY_TRACE_ROW,
                     IS_KNEE, KNEE, KNEE_HYPEREXTENSION, LEG_VISIBLE, LEGS, LM_HIP, MAX_ANGLE, MCP_ABDUCTION,
                     MCP_HYPEREXTENSION, NUM_FRAMES, NUM_TORSO, PALM_LMS, POSE_HAND_SEEN, PRIOR_W, RHYTHM_FREE,
                     RHYTHM_RATIO, RHYTHM_REST, S_ANKLE, S_ELBOW, S_FACE, S_HEEL, S_INDEX, S_KNEE, S_PINKY,
                     S_SHOULDER, S_TOE, S_WRIST, SHOULDER, SPINE, SPINE_SHARE, TORSO_BOUND, TORSO_COLD_TOL,
                     TORSO_COLLARS, TORSO_ITERS_COLD, TORSO_ITERS_WARM, TORSO_SPINE, TORSO_TILT, TORSO_WARM_TOL,
                     TRACE_AT_KNEE_LIMIT, TRACE_AT_LIMIT, TWIST_SHARE, W_CHEST, W_HEAD)


def legs_seen(W: np.ndarray) -> np.ndarray:
    """(T, 2) bool, left and right: knee and ankle both seen at least LEG_VISIBLE (W (T, 75)
    confidences); a leg that is not hangs straight from the pelvis."""
    return np.minimum(W[:, S_KNEE], W[:, S_ANKLE]) >= LEG_VISIBLE


@dataclass
class SkeletonPose:
    """A solved pose in the camera frame. G: (T, 55, 3, 3) global rotations; joints: (T, 55, 3);
    torso: (T, 8) the torso fit's parameters (to warm-start another fit), if solved."""

    G: np.ndarray
    joints: np.ndarray
    torso: np.ndarray | None = None


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.minimum(np.maximum((x - lo) * (1.0 / (hi - lo)), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _perp(v: np.ndarray, axis_unit: np.ndarray) -> np.ndarray:
    return v - rot.dot(v, axis_unit) * axis_unit


def _norm(v: np.ndarray) -> np.ndarray:
    """(..., 3) → (..., 1) lengths."""
    return np.sqrt(rot.dot(v, v))


def _bend_secondary(base: np.ndarray, mid: np.ndarray, end: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Direction from the base→end line towards the middle joint (the limb's bend), blended into
    ``fallback`` as the limb straightens. All (..., 3) → (..., 3) unit."""
    w1 = mid - base
    axis = rot.normalize(end - base)
    e = _perp(w1, axis)
    e_len = _norm(e)
    wgt = _smoothstep(e_len / np.maximum(_norm(w1), rot.EPS), BEND_SEEN_LO, BEND_SEEN_HI)
    # a slight bend against the fallback is noise on a nearly straight limb (no flip); a clear one
    # is believed as seen
    wgt = np.where((rot.dot(e, fallback) < -BEND_AGAINST * e_len) & (e_len < BEND_CLEAR * _norm(w1)), 0.0, wgt)
    return rot.normalize(wgt * (e / np.maximum(e_len, rot.EPS)) + (1.0 - wgt) * fallback)


def _finger_aim(parent: np.ndarray, child: np.ndarray, hinge: np.ndarray, bone: np.ndarray,
                abduction: float, hyperextension: float) -> np.ndarray:
    """Global rotation of a finger joint whose child bone (unit, rest) is to point along the
    detected ``bone``: the shortest turn from the parent's frame; for a joint with a flexion axis
    (``hinge``, unit in rest, else 0; tables.FINGER_PLANAR) the direction is first brought into
    its range: at most ``abduction`` out of the plane of flexion, flexion in [-hyperextension,
    FINGER_FLEXION] (beyond either end: the nearer end round the circle). parent (..., 3, 3);
    child, hinge, bone (..., 3) → (..., 3, 3)."""
    d = rot.normalize(rot.mv(rot.transpose(parent), bone))              # in the parent's rest frame
    flex_dir = rot.cross(hinge, child)
    side = np.clip(np.arcsin(np.clip(rot.dot(d, hinge), -1.0, 1.0)), -abduction, abduction)
    flex = np.arctan2(rot.dot(d, flex_dir), rot.dot(d, child))
    inside = (flex >= -hyperextension) & (flex <= FINGER_FLEXION)
    nearer_max = (flex - FINGER_FLEXION) % (2 * np.pi) < (-hyperextension - flex) % (2 * np.pi)
    flex = np.where(inside, flex, np.where(nearer_max, FINGER_FLEXION, -hyperextension))
    limited = np.cos(side) * (np.cos(flex) * child + np.sin(flex) * flex_dir) + np.sin(side) * hinge
    aim = np.where(rot.dot(hinge, hinge) > 0.5, limited, d)
    return parent @ rot.swing(child, aim)


@dataclass
class _TorsoFrame:
    """Per-frame quantities of the torso fit that do not depend on its parameters (T frames,
    broadcast against the 9 Jacobian probes with a unit axis)."""

    pelvis0: np.ndarray    # (T, 1, 3, 3)
    hip_axis: np.ndarray   # (T, 1, 1, 3) unit hip line (the pelvis tilts about it)
    hip_mid: np.ndarray    # (T, 1, 3)
    shoulder_t: np.ndarray  # (T, 1, 2, 3)
    head_t: np.ndarray     # (T, 1, 3) head target, back along the head bone to HEAD_MID
    chest_t: np.ndarray    # (T, 1, 3, 3) transposed chest target frame
    prior: np.ndarray      # (T, 1, 8) where the parameter priors pull (the collars' rhythm, else 0)


def _torso_rotations(x: np.ndarray, f: _TorsoFrame, rig: Rig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The torso's rotations from its 8 parameters x (T, K, 8): pelvis tilt about the hip line (1),
    shared spine1/2/3 local rotation vector (3), left and right collar swings (2 + 2, perpendicular
    to each collar bone). Returns the pelvis (T, K, 3, 3), the per-spine-joint rotation
    (T, K, 3, 3) and the collar local rotations (T, K, 2, 3, 3)."""
    v = (x @ rig.rv_map).reshape(x.shape[:-1] + (3, 3))                # spine, left, right collar
    rv = np.concatenate([x[..., TORSO_TILT, None, None] * f.hip_axis, SPINE_SHARE[:, None] * v[..., :1, :],
                         v[..., 1:, :]], axis=-2)
    R = rot.axis_angle(rv)                                              # tilt, spine1/2/3, collars
    return R[..., 0, :, :] @ f.pelvis0, R[..., 1:4, :, :], R[..., 4:, :, :]


def _torso_residual(x: np.ndarray, f: _TorsoFrame, rig: Rig) -> np.ndarray:
    """(T, K, 8) parameters → (T, K, 20) weighted residuals: shoulders (6), head (3), chest prior
    (3), parameter priors (8, the spine's three always zero)."""
    G0, spine_local, collar_local = _torso_rotations(x, f, rig)
    g1 = G0 @ spine_local[..., 0, :, :]
    g2 = g1 @ spine_local[..., 1, :, :]
    g3 = g2 @ spine_local[..., 2, :, :]
    s = rig.spine_sum
    p3 = f.hip_mid + G0 @ s[0] + g1 @ s[1] + g2 @ s[2]
    sh = p3[..., None, :] + (rig.bones[COLLAR] + rot.mv(collar_local, rig.bones[SHOULDER])) @ rot.transpose(g3)
    head = p3 + g3 @ rig.torso_vectors[2]
    return np.concatenate([(sh - f.shoulder_t).reshape(x.shape[:-1] + (6,)), W_HEAD * (head - f.head_t),
                           W_CHEST * rot.to_rotvec_fast(f.chest_t @ g3), (x - f.prior) * PRIOR_W], axis=-1)


def _solve_spd(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A⁻¹ b for symmetric positive definite A (..., n, n), b (..., n, k), by a symmetric
    eigendecomposition: numpy's general solver (LAPACK gesv through the bundled OpenBLAS) stalls
    for up to milliseconds on 8×8 systems on a busy 2-core machine, the symmetric eigensolver
    does not."""
    lam, V = np.linalg.eigh(A)
    return V @ ((rot.transpose(V) @ b) / lam[..., :, None])


def collar_rhythm(chest: np.ndarray, arm: np.ndarray, rig: Rig) -> np.ndarray:
    """Where the scapulohumeral rhythm puts the collars for the arms' directions: the collar
    parameters (T, 4) (left up, left forward-or-back, right up, right …) of the torso fit.

    chest (T, 3, 3) the chest's rotation; arm (T, 2, 3) shoulder → elbow, left and right. Elevation
    (from hanging, in the chest frame): the shoulder girdle takes one degree in RHYTHM_RATIO beyond
    the first RHYTHM_FREE (Inman's 2:1 glenohumeral : scapulothoracic rhythm), SMPL-X's rest
    (T-pose, 90°) being its zero, so hanging arms lower the collars by 20°; an arm reaching forward
    protracts the collar by up to COLLAR_PROTRACTION.
    """
    a = rot.normalize(rot.mv(rot.transpose(chest)[:, None], arm))          # rest axes, (T, 2, 3)
    elev = np.arccos(np.clip(-a[..., 1], -1.0, 1.0))
    up = (np.maximum(elev - RHYTHM_FREE, 0.0) - RHYTHM_REST) / RHYTHM_RATIO
    fwd = COLLAR_PROTRACTION * a[..., 2] * rig.collar_fwd_sign
    return np.stack([up, fwd], axis=-1).reshape(len(a), -1)


def _solve_torso(pelvis0: np.ndarray, chest: np.ndarray, hip_mid: np.ndarray, hip_vec: np.ndarray,
                 shoulder_t: np.ndarray, head_R: np.ndarray, head_t: np.ndarray, rig: Rig,
                 x0: np.ndarray | None = None, iters: int | None = None,
                 collars: np.ndarray | None = None):
    """Pelvis tilt, spine bend and collars that put both shoulders on their targets.

    The hips fix the pelvis up to a tilt about the hip line; the shoulders (6 numbers) then decide
    8 torso parameters, with weak priors (collars near rest, chest near the shoulder-line frame,
    pelvis near the trunk axis) settling the rest. Damped Gauss-Newton, vectorised over frames,
    with a forward-difference Jacobian (the 8 probes evaluated in one batch), the parameters kept
    in the box TORSO_BOUND. pelvis0, chest
    (T, 3, 3); hip_mid, hip_vec (T, 3); shoulder_t (T, 2, 3); head_R (T, 3, 3), head_t (T, 3).
    Cold (``x0`` None): from the chest frame, at most ``iters`` (default TORSO_ITERS_COLD)
    iterations; warm (``x0`` (T, 8), e.g. the previous frame's solution): at most ``iters``
    (default TORSO_ITERS_WARM); both stop once every step is below their tolerance.
    Returns pelvis (T, 3, 3), spine joint rotation (T, 3, 3), collar local rotations
    (T, 2, 3, 3) and the parameters (T, 8).
    """
    # the neck turns halfway from the chest to the head; the head must then reach its target
    f = _TorsoFrame(pelvis0=pelvis0[:, None], hip_axis=rot.normalize(hip_vec)[:, None, None], hip_mid=hip_mid[:, None],
                    shoulder_t=shoulder_t[:, None],
                    head_t=(head_t - HEAD_MID * rot.mv(head_R, rig.bones[HEAD]))[:, None],
                    chest_t=rot.transpose(chest)[:, None], prior=np.zeros((len(pelvis0), 1, NUM_TORSO)))
    if collars is not None:
        f.prior[:, 0, TORSO_COLLARS] = collars
    if x0 is None:
        x = np.zeros((len(pelvis0), NUM_TORSO))
        x[:, TORSO_SPINE] = rot.to_rotvec(rot.transpose(pelvis0) @ chest) / len(SPINE)
        iters, tol = (TORSO_ITERS_COLD if iters is None else iters), TORSO_COLD_TOL
    else:
        x = np.array(x0, np.float64)
        iters, tol = (TORSO_ITERS_WARM if iters is None else iters), TORSO_WARM_TOL
    for _ in range(iters):
        r = _torso_residual(x[:, None] + FD_PROBES, f, rig)               # (T, 9, 20)
        Jm = (r[:, 1:] - r[:, :1]) * (1.0 / FD_STEP)                       # (T, 8, 20)
        dx = _solve_spd(Jm @ rot.transpose(Jm) + DAMPING, Jm @ r[:, 0, :, None])[..., 0]
        x = np.clip(x - dx, -TORSO_BOUND, TORSO_BOUND)
        if np.abs(dx).max() < tol:
            break
    G0, third, collar_local = _torso_rotations(x[:, None], f, rig)
    return G0[:, 0], third[:, 0], collar_local[:, 0], x


def solve_skeleton(Q: np.ndarray, W: np.ndarray, hand_ok: np.ndarray, subject: Subject,
                   torso_init: np.ndarray | None = None, torso_iters: int | None = None,
                   full: bool = True) -> SkeletonPose:
    """Pose the subject's skeleton onto landmark targets.

    Q: (T, 75, 3) camera-space targets of the 33 body + 2×21 hand landmarks (metres);
    W: (T, 75) confidences in [0, 1]; hand_ok: (T, 2) bool, whether each hand's landmarks are usable.
    torso_init: (T, 8) warm start of the torso fit (``SkeletonPose.torso`` of another solve);
    torso_iters: its Gauss-Newton iterations (see :func:`_solve_torso`).
    full: False leaves out what moves none of the body landmarks but the thumbs' (neck and forearm
    twist, fingers, which then follow the wrists) and the joint limits: a cheaper pose that only
    seeds the landmark depths of another lifting pass.
    Returns the pose, with joint limits applied when ``full``.
    """
    T = Q.shape[0]
    rig = subject.rig
    B = rig.bones
    sh_t, el_t, wr_t = Q[:, S_SHOULDER], Q[:, S_ELBOW], Q[:, S_WRIST]      # (T, 2, 3) left, right
    kn_t, an_t, he_t, to_t = Q[:, S_KNEE], Q[:, S_ANKLE], Q[:, S_HEEL], Q[:, S_TOE]

    # 1. every frame that comes straight from the targets (pelvis and chest from the hip / shoulder
    # line and the trunk axis, hands, pose-model hands, feet); head; torso fit; spine --------------
    ab = FRAME_TARGETS @ Q                                             # (T, 16, 3)
    frames = rot.align_to_frame(rig.target_frame_t, ab[:, :NUM_FRAMES], ab[:, NUM_FRAMES:])
    hip_mid = 0.5 * (Q[:, LM_HIP[0]] + Q[:, LM_HIP[1]])
    H = Q[:, HAND_START[0]:].reshape(T, 2, NUM_HAND, 3)
    palm_wrist = (H[:, :, PALM_LMS] - rot.mv(frames[:, FR_HANDS, None], rig.palm_offsets)).mean(2)   # (T, 2, 3)
    wr_t = np.where(hand_ok[..., None], palm_wrist, wr_t)
    head_R, head_t = rot.kabsch(rig.face_offsets, Q[:, S_FACE], W[:, S_FACE] + FACE_WEIGHT_FLOOR)
    chest = frames[:, FR_CHEST]
    G0, third, collar_local, torso_x = _solve_torso(frames[:, FR_PELVIS], chest, hip_mid, ab[:, FR_PELVIS], sh_t,
                                                    head_R, head_t, rig, torso_init, torso_iters,
                                                    collar_rhythm(chest, el_t - sh_t, rig))
    g1 = G0 @ third[:, 0]
    g2 = g1 @ third[:, 1]
    spine = np.stack([g1, g2, g2 @ third[:, 2]], axis=1)
    S3 = spine[:, 2]
    P0 = hip_mid - rot.mv(G0, rig.pelvis_off)
    s = rig.spine_sum
    P3 = hip_mid + rot.mv(G0, s[0]) + rot.mv(g1, s[1]) + rot.mv(g2, s[2])

    # 2. collars (taking up what the torso fit left), neck and thighs: one batched aim ------------
    P_children = P3[:, None] + rig.spine3_children @ rot.transpose(S3)   # (T, 3, 3) collars, neck
    P_hip = P0[:, None] + rig.hip_bones @ rot.transpose(G0)             # (T, 2, 3)
    parents = np.concatenate([S3[:, None] @ collar_local, S3[:, None], G0[:, None], G0[:, None]], axis=1)
    targets = np.concatenate([sh_t - P_children[:, :2], (head_t - P_children[:, 2])[:, None], kn_t - P_hip],
                             axis=1)
    aimed = rot.aim_unit(parents, rig.aim1_dirs, targets)               # (T, 5, 3, 3)
    G_collar, neck_swing, thigh_swing = aimed[:, :2], aimed[:, 2], aimed[:, 3:]
    P_sh = P_children[:, :2] + rot.mv(G_collar, B[SHOULDER])

    # 3a. upper arms and thighs from their bend planes, then forearm hinges and shins ------------
    upper_swing = rot.aim_unit(G_collar, rig.elbow_dirs, el_t - P_sh)
    foot_fwd = _perp(to_t - he_t, rot.normalize(kn_t - P_hip))
    foot_w = _smoothstep(np.minimum(W[:, S_TOE], W[:, S_HEEL]), FOOT_SEEN_LO, FOOT_SEEN_HI)[..., None]
    leg_fallback = rot.normalize(foot_w * rot.normalize(foot_fwd) + (1.0 - foot_w) * rot.mv(thigh_swing, FORWARD))
    base = np.concatenate([P_sh, P_hip], axis=1)                        # (T, 4, 3) arms, legs
    mid = np.concatenate([el_t, kn_t], axis=1)
    end = np.concatenate([wr_t, an_t], axis=1)
    sec = _bend_secondary(base, mid, end, np.concatenate([rot.mv(upper_swing, BACK), leg_fallback], axis=1))
    G_upper = rot.align_to_frame(rig.limb_frame_t, mid - base, sec)     # shoulders, hips
    P_mid = base + rot.mv(G_upper, rig.limb_bones)                      # elbows, knees
    G_lower = rot.aim_unit(G_upper, rig.lower_dirs, end - P_mid)        # forearm hinges, knees
    fore_hinge = G_lower[:, :2]

    # 3b. wrists from the hand landmarks, else from the pose model's index/pinky knuckles ---------
    pose_ok = (np.minimum(W[:, S_INDEX], W[:, S_PINKY]) > POSE_HAND_SEEN)[..., None, None]
    wrist_G = np.where(hand_ok[..., None, None], frames[:, FR_HANDS],
                       np.where(pose_ok, frames[:, FR_POSE_HANDS], fore_hinge))
    swung = np.concatenate([neck_swing[:, None], fore_hinge], axis=1)   # (T, 3, 3, 3) neck, elbows

    fingers = np.empty((T,) + FINGER_BLOCK.shape + (3, 3))             # (T, 3, 2, 5, 3, 3)
    if full:
        # neck and forearm twist: a share of the head's / wrist's twist about the bone
        twisted = np.concatenate([head_R[:, None], wrist_G], axis=1)
        tw = rot.twist_angle(rot.transpose(swung) @ twisted, rig.twist_axes)
        swung = swung @ rot.axis_angle(rig.twist_axes * (TWIST_SHARE * tw)[..., None])

        # 4. fingers: aim each phalanx along its detected bone (landmark to next landmark), from
        # the parent's frame; not at the next landmark from where the chain put the joint, whose
        # direction turns round when the skeleton's finger overshoots the detected one
        lms = H[:, :, FINGER_LMS]                                       # (T, 2, 5, 4, 3)
        bone_dirs = lms[..., 1:, :] - lms[..., :-1, :]                  # (T, 2, 5, 3, 3)
        parent_G = wrist_G[:, :, None]                                  # (T, 2, 1, 3, 3)
        keep = hand_ok[:, :, None, None, None]
        for k in range(len(FINGER_BLOCK)):
            limits = (MCP_ABDUCTION, MCP_HYPEREXTENSION) if k == 0 else (FINGER_SIDEWAYS, FINGER_HYPEREXTENSION)
            g = np.where(keep, _finger_aim(parent_G, rig.finger_child[k], rig.finger_hinge[k], bone_dirs[..., k, :],
                                           *limits), parent_G)
            fingers[:, k] = g
            parent_G = g
    else:
        fingers[:] = wrist_G[:, None, :, None]                           # fingers follow the wrist

    # 3c. ankles and feet; legs the camera does not see (out of frame, hidden) hang straight from
    # the pelvis instead of following the detector's guesses, whose bend wanders and flips thighs
    ankle = np.where(foot_w[..., None] > 0.0, frames[:, FR_FEET], G_lower[:, 2:])
    legs = np.stack([G_upper[:, 2:], G_lower[:, 2:], ankle, ankle], axis=1)    # (T, 4, 2, 3, 3) as LEGS
    seen = legs_seen(W)[:, None, :, None, None]

    # the rotations in block order (tables.BLOCK_ORDER), then back to the SMPL-X order
    blocks = np.empty((T, NUM_JOINTS, 3, 3))
    blocks[:, B_PELVIS] = G0[:, None]
    blocks[:, B_SPINE] = spine
    blocks[:, B_COLLAR] = G_collar
    blocks[:, B_NECK] = swung[:, :1]
    blocks[:, B_HEAD] = head_R[:, None]                                # the jaw and eyes follow the head
    blocks[:, B_SHOULDER] = G_upper[:, :2]
    blocks[:, B_ELBOW] = swung[:, 1:]
    blocks[:, B_WRIST] = wrist_G
    blocks[:, B_FINGERS] = fingers.reshape((T, FINGER_BLOCK.size, 3, 3))
    blocks[:, B_LEGS] = np.where(seen, legs, G0[:, None, None]).reshape((T, LEGS.size, 3, 3))
    G = blocks[:, FROM_BLOCKS]
    if full:
        G = limit_pose(G)
    return SkeletonPose(G=G, joints=forward_kinematics(G, B, P0), torso=torso_x)




def limit_pose(G: np.ndarray) -> np.ndarray:
    """Apply joint limits to global rotations. (T, 55, 3, 3) → (T, 55, 3, 3).

    Local rotation vectors are scaled down to each joint's maximum angle, and the knees' flexion
    (about +X) kept above a slight hyperextension; the changed joints' subtrees are re-chained.
    Candidates are found cheaply (angles from the traces of the local rotations; a knee can only
    hyperextend past KNEE_HYPEREXTENSION with its rotation's x component negative) and a pose within its
    limits is returned as it is.
    """
    T = len(G)
    local_1 = rot.transpose(G[:, PARENTS[1:]]) @ G[:, 1:]                       # joints 1..54
    trace = (local_1.reshape(T, NUM_JOINTS - 1, 9) @ IDENTITY_TRACE_ROW)
    cand = trace < TRACE_AT_LIMIT
    knees = local_1[:, KNEE - 1]
    cand[:, KNEE - 1] |= (trace[:, KNEE - 1] < TRACE_AT_KNEE_LIMIT) & (knees[..., 2, 1] < knees[..., 1, 2])
    if not cand.any():
        return G
    # elbows cannot bend backwards by construction: their bend plane comes from _bend_secondary
    joint = np.nonzero(cand)[1]                                                   # (n,) candidates, joint - 1
    rv = rot.to_rotvec(local_1[cand])
    rv[:, 0] = np.where(IS_KNEE[joint], np.maximum(rv[:, 0], -KNEE_HYPEREXTENSION), rv[:, 0])
    ang = np.sqrt(rot.dot(rv, rv))[:, 0]
    rv = rv * np.minimum(1.0, MAX_ANGLE[1:][joint] / np.maximum(ang, rot.EPS))[:, None]
    local = np.concatenate([G[:, :1], local_1], axis=1)
    local[:, 1:][cand] = rot.axis_angle(rv)
    glob = G.copy()
    for joints, parents in LEVELS[int(DEPTH[1:][cand.any(0)].min()) - 1:]:      # from the shallowest candidate
        glob[:, joints] = glob[:, parents] @ local[:, joints]
    return glob


