"""What a retarget is measured by (tests/retarget and scripts/bench_retarget.py): the source's
joint positions, the angle between a target segment and the source's, finger flexion."""
from __future__ import annotations

import numpy as np

from inference.core.skeleton import DEPTH, JOINT_INDEX, bone_vectors, forward_kinematics
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
