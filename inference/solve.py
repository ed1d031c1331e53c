"""Keypoints → SMPL-X skeleton pose: an analytic, root-first kinematic solver (HKMR order).

Everything here works in the camera frame (x right, y down, z away from the camera, metres) and
is vectorised over frames ``T``; the live link calls the same functions with ``T = 1``.

Order of the solve (each joint conditioned on its already-solved parent, Zhou'21 IKNet-style):

1. pelvis from the hip line and the trunk's up direction; chest (spine3) from the shoulder line;
   the pelvis→chest rotation is shared evenly by spine1/2/3;
2. collars aim at the shoulders, neck aims at the head, head orientation is a rigid fit of the face
   points (nose, eyes, ears, mouth);
3. limbs: upper arm / thigh from the bend plane (elbow/knee offset from the shoulder-wrist /
   hip-ankle line, with a smooth fallback when the limb is straight), forearm / shin aim, forearm
   twist shared half-and-half with the wrist, whose frame comes from the hand landmarks;
   ankles from heel, toe and ankle;
4. fingers: each phalanx aims at the next hand landmark from its parent's frame (no added twist);
5. joint limits: per-joint maximum angles (anatomical maxima that real mocap respects) and no
   gross knee hyperextension; elbows cannot bend backwards by construction.

Positions follow from forward kinematics with fixed bone lengths, so limbs never stretch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rotations as rot
from .layout import HAND, HAND_FINGER_START, LANDMARK_JOINT, POSE, landmark_offsets, landmarks_from_pose
from .skeleton import (FINGERS, JOINT_INDEX, NUM_JOINTS, PARENTS, bone_vectors, forward_kinematics,
                       global_to_local, local_to_global)

J = JOINT_INDEX
_LR = ("left", "right")


def _pair(name: str) -> np.ndarray:
    return np.array([J[f"left_{name}"], J[f"right_{name}"]])


def _lm_pair(name: str) -> np.ndarray:
    return np.array([POSE[f"left_{name}"], POSE[f"right_{name}"]])


HIP, KNEE, ANKLE, FOOT = _pair("hip"), _pair("knee"), _pair("ankle"), _pair("foot")
COLLAR, SHOULDER, ELBOW, WRIST = _pair("collar"), _pair("shoulder"), _pair("elbow"), _pair("wrist")
LM_SHOULDER, LM_ELBOW, LM_WRIST = _lm_pair("shoulder"), _lm_pair("elbow"), _lm_pair("wrist")
LM_HIP, LM_KNEE, LM_ANKLE = _lm_pair("hip"), _lm_pair("knee"), _lm_pair("ankle")
LM_HEEL, LM_TOE = _lm_pair("heel"), _lm_pair("foot_index")
LM_PINKY, LM_INDEX = _lm_pair("pinky"), _lm_pair("index")
LM_FACE = np.arange(11)  # nose, eyes, ears, mouth corners of the pose model
HAND_BASE = np.array([33, 54])  # where each hand's 21 landmarks start in the 75-landmark block

#: (2, 5, 3) finger joints per side in SMPL-X finger order (index, middle, pinky, ring, thumb).
FINGER_JOINTS = np.array([[[J[f"{s}_{f}{k}"] for k in (1, 2, 3)] for f in FINGERS] for s in _LR])
#: (5, 4) MediaPipe hand landmark of each finger joint and the tip, same finger order.
FINGER_LMS = np.array([[HAND_FINGER_START[f] + k for k in range(4)] for f in FINGERS])

_X, _Z = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
LEG_VISIBLE = 0.5  # knee and ankle visibility below this: the leg hangs straight

#: (55,) maximum local rotation angle in radians (joint limits).
MAX_ANGLE = np.full(NUM_JOINTS, 1.9)
MAX_ANGLE[[0]] = np.pi
MAX_ANGLE[[J["spine1"], J["spine2"], J["spine3"]]] = 1.0
MAX_ANGLE[[J["neck"]]] = 1.1
MAX_ANGLE[[J["head"]]] = 1.0
MAX_ANGLE[COLLAR] = 1.1
MAX_ANGLE[SHOULDER] = np.pi
MAX_ANGLE[ELBOW] = 2.7
MAX_ANGLE[WRIST] = 2.4
MAX_ANGLE[HIP] = 2.6
MAX_ANGLE[KNEE] = 2.6
MAX_ANGLE[ANKLE] = 1.5
MAX_ANGLE[FOOT] = 0.8
MAX_ANGLE[[J["jaw"]]] = 0.6
MAX_ANGLE[[J["left_eye_smplhf"], J["right_eye_smplhf"]]] = 0.6


@dataclass
class Subject:
    """The rest skeleton the solver poses. rest: (55, 3) metres; offsets: (75, 3) landmark offsets."""

    rest: np.ndarray
    offsets: np.ndarray
    betas: np.ndarray | None = None

    @classmethod
    def from_rest(cls, rest: np.ndarray, betas: np.ndarray | None = None) -> "Subject":
        rest = np.asarray(rest, np.float64)
        return cls(rest=rest, offsets=landmark_offsets(rest), betas=betas)

    @property
    def bones(self) -> np.ndarray:
        """(55, 3) rest bone vectors from each joint's parent."""
        return bone_vectors(self.rest)


@dataclass
class SkeletonPose:
    """A solved pose in the camera frame. G: (T, 55, 3, 3) global rotations; joints: (T, 55, 3)."""

    G: np.ndarray
    joints: np.ndarray


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _perp(v: np.ndarray, axis_unit: np.ndarray) -> np.ndarray:
    return v - rot.dot(v, axis_unit) * axis_unit


def _bend_secondary(base: np.ndarray, mid: np.ndarray, end: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Direction from the base→end line towards the middle joint (the limb's bend), blended into
    ``fallback`` as the limb straightens. All (..., 3) → (..., 3) unit."""
    w1 = mid - base
    axis = rot.normalize(end - base)
    e = _perp(w1, axis)
    bend = np.linalg.norm(e, axis=-1, keepdims=True) / np.maximum(np.linalg.norm(w1, axis=-1, keepdims=True), 1e-9)
    wgt = _smoothstep(bend, 0.04, 0.2)
    wgt = np.where(rot.dot(e, fallback) < -0.5 * np.linalg.norm(e, axis=-1, keepdims=True), 0.0, wgt)
    return rot.normalize(wgt * rot.normalize(e) + (1.0 - wgt) * fallback)


# Torso fit weights (metres of shoulder error traded per radian of rotation).
_W_COLLAR = 0.06   # collars prefer rest
_W_CHEST = 0.1     # chest prefers the frame of the shoulder line and trunk axis
_W_TILT = 0.02     # pelvis tilt prefers the trunk axis
_W_HEAD = 1.0      # the head must be reachable through a neck bent halfway


def _torso_fk(x: np.ndarray, pelvis0: np.ndarray, hip_axis: np.ndarray, hip_mid: np.ndarray,
              rest: np.ndarray, B: np.ndarray, collar_basis: np.ndarray):
    """Torso forward kinematics from the 8 torso parameters.

    x: (..., 8) = pelvis tilt about the hip line (1), shared spine1/2/3 local rotation vector (3),
    left and right collar swings (2 + 2, perpendicular to each collar bone). Broadcasts against
    pelvis0 (..., 3, 3), hip_axis/hip_mid (..., 3). Returns pelvis, per-spine-joint rotation,
    spine3 rotation, spine3 position (..., 3), collar local rotations (..., 2, 3, 3) and shoulder
    positions (..., 2, 3).
    """
    G0 = rot.axis_angle(hip_axis * x[..., 0:1]) @ pelvis0
    third = rot.axis_angle(x[..., 1:4])
    p = hip_mid - rot.mv(G0, rest[HIP].mean(0) - rest[0])
    g = G0
    for j in (J["spine1"], J["spine2"], J["spine3"]):
        p = p + rot.mv(g, B[j])
        g = g @ third
    c = x[..., 4:8].reshape(x.shape[:-1] + (2, 2))
    collar_local = rot.axis_angle(np.einsum("...sk,skd->...sd", c, collar_basis))
    collar_pos = p[..., None, :] + rot.mv(g[..., None, :, :], B[COLLAR])
    shoulders = collar_pos + rot.mv(g[..., None, :, :] @ collar_local, B[SHOULDER])
    return G0, third, g, p, collar_local, shoulders


def _solve_torso(pelvis0: np.ndarray, chest: np.ndarray, hip_mid: np.ndarray, hip_vec: np.ndarray,
                 shoulder_t: np.ndarray, head_R: np.ndarray, head_t: np.ndarray, rest: np.ndarray,
                 B: np.ndarray, iters: int = 6):
    """Pelvis tilt, spine bend and collars that put both shoulders on their targets.

    The hips fix the pelvis up to a tilt about the hip line; the shoulders (6 numbers) then decide
    8 torso parameters, with weak priors (collars near rest, chest near the shoulder-line frame,
    pelvis near the trunk axis) settling the rest. Damped Gauss-Newton, vectorised over frames,
    with a forward-difference Jacobian. pelvis0, chest (T, 3, 3); hip_mid, hip_vec (T, 3);
    shoulder_t (T, 2, 3). Returns pelvis (T, 3, 3), spine joint rotation (T, 3, 3) and collar
    local rotations (T, 2, 3, 3).
    """
    T = pelvis0.shape[0]
    axis = rot.normalize(hip_vec)
    cb = rot.normalize(B[SHOULDER])                                    # (2, 3) collar bone dirs
    e1 = rot.normalize(np.cross(cb, [0.0, 1.0, 0.0]))
    collar_basis = np.stack([e1, np.cross(cb, e1)], axis=1)            # (2, 2, 3)
    x = np.zeros((T, 8))
    x[:, 1:4] = rot.to_rotvec(np.swapaxes(pelvis0, -1, -2) @ chest) / 3.0
    h = 1e-4
    steps = np.concatenate([np.zeros((1, 8)), h * np.eye(8)])          # (9, 8)
    chest_t = np.swapaxes(chest, -1, -2)

    # the neck turns halfway from the chest to the head; the head must then reach its target
    head_bone = rot.mv(head_R, B[J["head"]])[:, None]                  # (T, 1, 3)

    def residual(xs):
        _, _, g3, p3, _, sh = _torso_fk(xs, pelvis0[:, None], axis[:, None], hip_mid[:, None], rest, B,
                                        collar_basis)
        r_sh = (sh - shoulder_t[:, None]).reshape(xs.shape[:-1] + (6,))
        neck = p3 + rot.mv(g3, B[J["neck"]])
        head_pred = neck + 0.5 * (rot.mv(g3, B[J["head"]]) + head_bone)
        r_head = _W_HEAD * (head_pred - head_t[:, None])
        r_chest = _W_CHEST * rot.to_rotvec(chest_t[:, None] @ g3)
        return np.concatenate([r_sh, r_head, r_chest, _W_COLLAR * xs[..., 4:8], _W_TILT * xs[..., 0:1]], axis=-1)

    for _ in range(iters):
        r = residual(x[:, None] + steps)                                 # (T, 9, m)
        Jm = (r[:, 1:] - r[:, :1]) / h                                   # (T, 8, m)
        JtJ = Jm @ np.swapaxes(Jm, -1, -2) + 1e-6 * np.eye(8)
        dx = np.linalg.solve(JtJ, -(Jm @ r[:, 0, :, None]))[..., 0]
        x = x + dx
    G0, third, _, _, collar_local, _ = _torso_fk(x, pelvis0, axis, hip_mid, rest, B, collar_basis)
    return G0, third, collar_local


def solve_skeleton(Q: np.ndarray, W: np.ndarray, hand_ok: np.ndarray, subject: Subject) -> SkeletonPose:
    """Pose the subject's skeleton onto landmark targets.

    Q: (T, 75, 3) camera-space targets of the 33 body + 2×21 hand landmarks (metres);
    W: (T, 75) confidences in [0, 1]; hand_ok: (T, 2) bool, whether each hand's landmarks are usable.
    Returns the pose with joint limits applied.
    """
    T = Q.shape[0]
    rest, off, B = subject.rest, subject.offsets, subject.bones
    G = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
    P = np.zeros((T, NUM_JOINTS, 3))

    # 1. pelvis and spine ---------------------------------------------------------------------
    lhip, rhip = Q[:, LM_HIP[0]], Q[:, LM_HIP[1]]
    lsh, rsh = Q[:, LM_SHOULDER[0]], Q[:, LM_SHOULDER[1]]
    hip_mid, sh_mid = 0.5 * (lhip + rhip), 0.5 * (lsh + rsh)
    rest_hip_mid, rest_sh_mid = rest[HIP].mean(0), rest[SHOULDER].mean(0)
    up_rest = rest_sh_mid - rest_hip_mid
    pelvis0 = rot.align_two(rest[HIP[0]] - rest[HIP[1]], up_rest, lhip - rhip, sh_mid - hip_mid)
    chest = rot.align_two(rest[SHOULDER[0]] - rest[SHOULDER[1]], up_rest, lsh - rsh, sh_mid - hip_mid)
    head_R, head_t = rot.kabsch(off[LM_FACE], Q[:, LM_FACE], W[:, LM_FACE] + 1e-3)
    G[:, 0], third, collar_local = _solve_torso(pelvis0, chest, hip_mid, lhip - rhip,
                                                 Q[:, LM_SHOULDER], head_R, head_t, rest, B)
    P[:, 0] = hip_mid - rot.mv(G[:, 0], rest_hip_mid - rest[0])
    for j in (J["spine1"], J["spine2"], J["spine3"]):
        p = PARENTS[j]
        G[:, j] = G[:, p] @ third
        P[:, j] = P[:, p] + rot.mv(G[:, p], B[j])
    S3 = G[:, J["spine3"]]

    # 2. collars, neck, head -----------------------------------------------------------------
    P[:, COLLAR] = P[:, None, J["spine3"]] + rot.mv(S3[:, None], B[COLLAR])
    G[:, COLLAR] = S3[:, None] @ collar_local
    # any residual the torso fit left is taken up by aiming the collars
    G[:, COLLAR] = rot.aim(G[:, COLLAR], B[SHOULDER], Q[:, LM_SHOULDER] - P[:, COLLAR])
    P[:, SHOULDER] = P[:, COLLAR] + rot.mv(G[:, COLLAR], B[SHOULDER])

    neck, head = J["neck"], J["head"]
    P[:, neck] = P[:, J["spine3"]] + rot.mv(S3, B[neck])
    neck_swing = rot.aim(S3, B[head], head_t - P[:, neck])
    axis = rot.normalize(B[head])
    tw = rot.twist_angle(np.swapaxes(neck_swing, -1, -2) @ head_R, axis)
    G[:, neck] = neck_swing @ rot.axis_angle(axis * (0.5 * tw)[:, None])
    G[:, head] = head_R
    for j in (J["jaw"], J["left_eye_smplhf"], J["right_eye_smplhf"]):
        G[:, j] = head_R

    # 3a. arms --------------------------------------------------------------------------------
    back = np.array([0.0, 0.0, -1.0])  # the elbow points backwards when the forearm bends forward
    el_t, wr_t = Q[:, LM_ELBOW], Q[:, LM_WRIST]
    upper_swing = rot.aim(G[:, COLLAR], B[ELBOW], el_t - P[:, SHOULDER])
    sec = _bend_secondary(P[:, SHOULDER], el_t, wr_t, rot.mv(upper_swing, back))
    G[:, SHOULDER] = rot.align_two(B[ELBOW], back, el_t - P[:, SHOULDER], sec)
    P[:, ELBOW] = P[:, SHOULDER] + rot.mv(G[:, SHOULDER], B[ELBOW])
    fore_hinge = rot.aim(G[:, SHOULDER], B[WRIST], wr_t - P[:, ELBOW])
    P[:, WRIST] = P[:, ELBOW] + rot.mv(fore_hinge, B[WRIST])

    # 3b. wrist frame from the hand landmarks, else from the pose's index/pinky knuckles
    H = np.stack([Q[:, b:b + 21] for b in HAND_BASE], axis=1)  # (T, 2, 21, 3)
    f1 = FINGER_JOINTS[:, :, 0]  # (2, 5)
    va = rest[f1[:, 1]] - rest[WRIST]                      # wrist → middle knuckle
    vb = rest[f1[:, 0]] - rest[f1[:, 2]]                   # pinky → index knuckle
    wa_hand = H[:, :, HAND["middle_mcp"]] - H[:, :, HAND["wrist"]]
    wb_hand = H[:, :, HAND["index_mcp"]] - H[:, :, HAND["pinky_mcp"]]
    va_pose = 0.5 * (rest[f1[:, 0]] + rest[f1[:, 2]]) - rest[WRIST]
    wa_pose = 0.5 * (Q[:, LM_INDEX] + Q[:, LM_PINKY]) - Q[:, LM_WRIST]
    wb_pose = Q[:, LM_INDEX] - Q[:, LM_PINKY]
    wrist_hand = rot.align_two(va, vb, wa_hand, wb_hand)
    wrist_pose = rot.align_two(va_pose, vb, wa_pose, wb_pose)
    pose_ok = (np.minimum(W[:, LM_INDEX], W[:, LM_PINKY]) > 0.6)[..., None, None]
    wrist_G = np.where(hand_ok[..., None, None], wrist_hand, np.where(pose_ok, wrist_pose, fore_hinge))
    axis = rot.normalize(B[WRIST])  # (2, 3)
    tw = rot.twist_angle(np.swapaxes(fore_hinge, -1, -2) @ wrist_G, axis)
    G[:, ELBOW] = fore_hinge @ rot.axis_angle(axis * (0.5 * tw)[..., None])
    G[:, WRIST] = wrist_G

    # 4. fingers: aim each phalanx at the next landmark, from the parent's frame -------------------
    Hs = H - H[:, :, :1] + P[:, WRIST, None]  # hand landmarks hung on the solved wrist
    parent_G, parent_P = G[:, WRIST][:, :, None], P[:, WRIST][:, :, None]  # (T, 2, 1, ...)
    tip_off = off[HAND_BASE[:, None] + FINGER_LMS[None, :, 3]]  # (2, 5, 3)
    for k in range(3):
        jk = FINGER_JOINTS[:, :, k]
        p = parent_P + rot.mv(parent_G, B[jk])
        child_bone = B[FINGER_JOINTS[:, :, k + 1]] if k < 2 else tip_off
        target = Hs[:, :, FINGER_LMS[:, k + 1]] - p
        g = rot.aim(np.broadcast_to(parent_G, target.shape + (3,)), child_bone, target)
        keep = hand_ok[:, :, None, None, None]
        g = np.where(keep, g, np.broadcast_to(parent_G, g.shape))
        G[:, jk], P[:, jk] = g, p
        parent_G, parent_P = g, p

    # 3c. legs and feet --------------------------------------------------------------------------
    P[:, HIP] = P[:, None, 0] + rot.mv(G[:, None, 0], B[HIP])
    kn_t, an_t, he_t, to_t = Q[:, LM_KNEE], Q[:, LM_ANKLE], Q[:, LM_HEEL], Q[:, LM_TOE]
    thigh_swing = rot.aim(G[:, None, 0], B[KNEE], kn_t - P[:, HIP])
    foot_fwd = _perp(to_t - he_t, rot.normalize(kn_t - P[:, HIP]))
    foot_w = _smoothstep(np.minimum(W[:, LM_TOE], W[:, LM_HEEL]), 0.3, 0.6)[..., None]
    fallback = rot.normalize(foot_w * rot.normalize(foot_fwd) + (1.0 - foot_w) * rot.mv(thigh_swing, _Z))
    sec = _bend_secondary(P[:, HIP], kn_t, an_t, fallback)
    G[:, HIP] = rot.align_two(B[KNEE], _Z, kn_t - P[:, HIP], sec)
    P[:, KNEE] = P[:, HIP] + rot.mv(G[:, HIP], B[KNEE])
    G[:, KNEE] = rot.aim(G[:, HIP], B[ANKLE], an_t - P[:, KNEE])
    P[:, ANKLE] = P[:, KNEE] + rot.mv(G[:, KNEE], B[ANKLE])
    toe_rest = rest[FOOT] + off[LM_TOE]
    heel_rest = rest[ANKLE] + off[LM_HEEL]
    foot_G = rot.align_two(toe_rest - heel_rest, rest[ANKLE] - heel_rest, to_t - he_t, an_t - he_t)
    G[:, ANKLE] = np.where(foot_w[..., None] > 0.0, foot_G, G[:, KNEE])
    G[:, FOOT] = G[:, ANKLE]
    # legs the camera does not see (out of frame, hidden) hang straight from the pelvis instead of
    # following the detector's guesses, whose bend direction wanders and would flip the thighs
    seen = (np.minimum(W[:, LM_KNEE], W[:, LM_ANKLE]) >= LEG_VISIBLE)[..., None, None]
    for chain in (HIP, KNEE, ANKLE, FOOT):
        G[:, chain] = np.where(seen, G[:, chain], G[:, None, 0])

    G = limit_pose(G)
    return SkeletonPose(G=G, joints=forward_kinematics(G, rest, P[:, 0]))


def limit_pose(G: np.ndarray) -> np.ndarray:
    """Apply joint limits to global rotations. (T, 55, 3, 3) → (T, 55, 3, 3)."""
    local = global_to_local(G)
    rv = rot.to_rotvec(local)
    # knees flex about +X: no more than a little hyperextension (elbows cannot bend backwards
    # by construction: their bend plane comes from _bend_secondary)
    rv[:, KNEE, 0] = np.maximum(rv[:, KNEE, 0], -0.25)
    ang = np.linalg.norm(rv, axis=-1, keepdims=True)
    rv = rv * np.minimum(1.0, MAX_ANGLE[:, None] / np.maximum(ang, 1e-9))
    return local_to_global(rot.axis_angle(rv))


def pose_joints(G: np.ndarray, subject: Subject, root_pos: np.ndarray) -> np.ndarray:
    """Forward kinematics: (T, 55, 3, 3), (T, 3) → (T, 55, 3)."""
    return forward_kinematics(G, subject.rest, root_pos)


def pose_landmarks(G: np.ndarray, joints: np.ndarray, subject: Subject) -> np.ndarray:
    """The 75 body+hand landmarks of a posed skeleton: (T, 75, 3)."""
    return landmarks_from_pose(G, joints, subject.offsets)


__all__ = ["Subject", "SkeletonPose", "solve_skeleton", "limit_pose", "pose_joints", "pose_landmarks",
           "LANDMARK_JOINT"]
