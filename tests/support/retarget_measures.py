"""What a retarget is measured by (tests/retarget and scripts/bench_retarget.py): the source's
joint positions, the angle between a target segment and the source's, finger flexion, foot
contacts and foot sliding; and a captured motion (the engine's npz) as a retarget source."""
from __future__ import annotations

import numpy as np

from inference.core import rotations as rot
from inference.core.skeleton import DEPTH, JOINT_INDEX, NUM_JOINTS, bone_vectors, forward_kinematics, local_to_global
from inference.retarget.plan import REFERENCE_CHILD, Y_UP_TO_Z_UP


def source_positions(glob, trans, rest):
    """(T, 55, 3) Z-up joint positions of the source: world rotations glob (T, 55, 3, 3) Y up,
    the SMPL translation (T, 3), rest joints (55, 3)."""
    return forward_kinematics(glob, bone_vectors(rest), rest[0] + trans) @ Y_UP_TO_Z_UP.T


def angle(a, b):
    """(…) degrees between vectors a and b (…, 3)."""
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def flexion(a, b, c):
    """(T,) angle at b between a → b and b → c (degrees)."""
    return angle(b - a, c - b)


def segment_errors(bone_map, rig, M, P):
    """Per SMPL-X bone (joint → its reference child, both mapped; the root-most joint, whose
    bone keeps its own rest direction, left out): (T,) degrees between the target's segment
    (posed head to head, M (T, B, 4, 4) pose matrices) and the source's (P (T, 55, 3)). A merged
    bone is measured once, from its first joint. → {joint index: (T,)}."""
    heads, index = M[..., :3, 3], rig.index
    owner = {}
    for j, bones in bone_map.items():
        for b in bones:
            owner.setdefault(b, []).append(JOINT_INDEX[j])
    root = min((j for j, bones in bone_map.items() if bones), key=lambda j: DEPTH[JOINT_INDEX[j]])
    by_joint = {JOINT_INDEX[j]: bones for j, bones in bone_map.items() if bones}
    errors = {}
    for j, bones in by_joint.items():
        c = REFERENCE_CHILD[j]
        js = owner[bones[0]]
        if j == JOINT_INDEX[root] or c < 0 or c not in by_joint or j != max(js, key=lambda q: DEPTH[q]):
            continue
        j0 = min(js, key=lambda q: DEPTH[q])
        target = heads[:, index[by_joint[c][0]]] - heads[:, index[bones[0]]]
        errors[j] = angle(target, P[:, c] - P[:, j0])
    return errors


#: A foot point is in contact on a frame step t → t + 1 when, in the source, it is *low*: within
#: CONTACT_HEIGHT_M of its own lowest height in the clip (ankles and toes stand at different heights),
#: and *slow*: it moves less than CONTACT_SPEED_M_S horizontally over the step.
CONTACT_HEIGHT_M = 0.05
CONTACT_SPEED_M_S = 0.5


def foot_contacts(points, fps):
    """(T − 1, F) bool contact of the source's foot points (T, F, 3) Z up metres on each frame
    step (see :data:`CONTACT_HEIGHT_M`, :data:`CONTACT_SPEED_M_S`)."""
    height = points[..., 2] - points[..., 2].min(0)
    step = np.linalg.norm(np.diff(points[..., :2], axis=0), axis=-1)
    return (height[:-1] <= CONTACT_HEIGHT_M) & (height[1:] <= CONTACT_HEIGHT_M) & (step * fps <= CONTACT_SPEED_M_S)


def foot_sliding(points, contacts):
    """Foot sliding: mean horizontal displacement (metres per frame step) of foot points (T, F, 3)
    Z up over the steps where ``contacts`` (T − 1, F) holds (the source's, for both the source
    and the target, so both are measured on the same steps); 0 with no contact."""
    step = np.linalg.norm(np.diff(points[..., :2], axis=0), axis=-1)
    return float(step[contacts].mean()) if contacts.any() else 0.0


FINGERS = ("index", "middle", "ring", "pinky", "thumb")
FOOT_POINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def motion_source(motion):
    """A captured :class:`~inference.pipeline.motion.Motion` as a retarget source: local
    quaternions (T, 55, 4) x, y, z, w, the SMPL translation (T, 3), world rotations (T, 55, 3, 3)
    Y up, rest joints (55, 3) and the frame rate."""
    L = rot.axis_angle(motion.poses.reshape(len(motion.poses), NUM_JOINTS, 3))
    return rot.to_quat(L), motion.trans, local_to_global(L), motion.rest_joints, motion.frame_rate


def finger_flexion_errors(bone_map, rig, heads, P):
    """{(side, finger): (T,) degrees} the worse of two flexion differences target − source: at the
    knuckle (phalanx 1 → 2 against the hand's wrist → middle-knuckle line) and at the middle joint
    (between phalanges). heads (T, B, 3) posed target heads; P (T, 55, 3) source joints."""
    out = {}
    for side in ("left", "right"):
        h = lambda j: heads[:, rig.index[bone_map[j][0]]]
        hand_t = h(f"{side}_middle1") - h(f"{side}_wrist")
        hand_s = P[:, JOINT_INDEX[f"{side}_middle1"]] - P[:, JOINT_INDEX[f"{side}_wrist"]]
        for finger in FINGERS:
            js = [f"{side}_{finger}{k}" for k in (1, 2, 3)]
            t = [h(j) for j in js]
            s = [P[:, JOINT_INDEX[j]] for j in js]
            knuckle = np.abs(angle(hand_t, t[1] - t[0]) - angle(hand_s, s[1] - s[0]))
            out[(side, finger)] = np.maximum(knuckle, np.abs(flexion(*t) - flexion(*s)))
    return out
