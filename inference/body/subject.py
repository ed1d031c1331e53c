"""The subject: the rest skeleton the solver poses, and the constants of the solve derived from it.

:class:`Subject` holds the rest joints (55, 3), the landmark offsets and the betas; its
:class:`Rig` is computed once from them (unit bones, rest frames, the torso parameter map), so a
frame's solve does no rest-pose work. :mod:`.proportions` measures a subject from detections.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import rotations as rot
from ..core.skeleton import bone_vectors
from .landmarks import landmark_offsets
from .tables import (ANKLE, BACK, COLLAR, ELBOW, FINGER_JOINTS, FINGER_LMS, FINGER_PLANAR, FOOT, FORWARD, HAND_BASE,
                     HEAD, HEAD_MID, HIP, KNEE, LM_FACE, LM_HEEL, LM_TOE, NECK, NUM_TORSO, PALM_DOWN, PALM_JOINTS,
                     SHOULDER, SPINE, TORSO_COLLARS, TORSO_SPINE, WRIST)


def _rv_map(collar_basis: np.ndarray) -> np.ndarray:
    """(8, 9): torso parameters (tilt, spine rotation vector, collar swings) → the spine's and the
    left and right collars' rotation vectors, flattened. collar_basis (2, 2, 3)."""
    M = np.zeros((NUM_TORSO, 3, 3))                  # parameter → (spine, left collar, right collar)
    M[TORSO_SPINE, 0] = np.eye(3)
    for side in range(2):
        first = TORSO_COLLARS.start + 2 * side
        M[first:first + 2, 1 + side] = collar_basis[side]
    return M.reshape(NUM_TORSO, 9)


@dataclass
class Rig:
    """Rest-dependent constants of the solve, computed once per :class:`Subject` (float64, rest
    axes). ``*_frame_t`` are transposed rest frames for :func:`rot.align_to_frame`; rows of
    stacked constants follow the order the solver stacks its targets in."""

    bones: np.ndarray            # (55, 3) bone vectors
    pelvis_off: np.ndarray       # (3,) hip centre - pelvis
    spine_sum: np.ndarray        # (3, 3) spine1 bone - pelvis_off, spine2 bone, spine3 bone
    target_frame_t: np.ndarray   # (8, 3, 3) pelvis, chest, hands (2), pose-model hands (2), feet (2): the
    #                              rest frames of the vectors _FRAME_TARGETS picks
    rv_map: np.ndarray           # (8, 9) torso parameters → spine, left and right collar rotation vectors
    collar_fwd_sign: np.ndarray  # (2,) sign of each collar's second swing parameter for a forward swing
    torso_vectors: np.ndarray    # (3, 3) collar bones (2) and neck + half head, in spine3's frame
    spine3_children: np.ndarray  # (3, 3) collar bones (2) and neck bone
    hip_bones: np.ndarray        # (2, 3)
    face_offsets: np.ndarray     # (11, 3) face points on the head
    aim1_dirs: np.ndarray        # (5, 3) unit shoulder bones (2), head bone, knee bones (2)
    elbow_dirs: np.ndarray       # (2, 3) unit elbow bones
    limb_bones: np.ndarray       # (4, 3) elbow bones (2), knee bones (2)
    limb_frame_t: np.ndarray     # (4, 3, 3) upper arm (elbow bone + backwards), thigh (knee bone + forward)
    lower_bones: np.ndarray      # (4, 3) wrist bones (2), ankle bones (2)
    lower_dirs: np.ndarray       # (4, 3) the same, unit
    twist_axes: np.ndarray       # (3, 3) unit head bone, unit wrist bones (2)
    finger_hinge: np.ndarray     # (3, 2, 5, 3) unit flexion axis of finger joint k in rest (FINGER_PLANAR), else 0
    finger_child: np.ndarray     # (3, 2, 5, 3) unit bone of the child of finger joint k (tip offset last)
    palm_offsets: np.ndarray     # (2, 6, 3) the PALM_LMS landmarks' rest offsets from their wrist

    @classmethod
    def from_rest(cls, rest: np.ndarray, off: np.ndarray) -> "Rig":
        B = bone_vectors(rest)
        up_rest = rest[SHOULDER].mean(0) - rest[HIP].mean(0)
        frame_t = lambda a, b: rot.transpose(rot.frame_from(*np.broadcast_arrays(a, b)))  # noqa: E731
        pelvis_off = rest[HIP].mean(0) - rest[0]
        cb = rot.normalize(B[SHOULDER])                                  # (2, 3) collar bone dirs
        e1 = rot.normalize(rot.cross(cb, np.array([0.0, 1.0, 0.0])))
        f1 = FINGER_JOINTS[:, :, 0]                                       # (2, 5)
        vb = rest[f1[:, 0]] - rest[f1[:, 2]]                              # pinky → index knuckle
        tip_off = off[HAND_BASE[:, None] + FINGER_LMS[None, :, 3]]       # (2, 5, 3)
        heel_rest = rest[ANKLE] + off[LM_HEEL]
        child = rot.normalize(np.stack([B[FINGER_JOINTS[:, :, 1]], B[FINGER_JOINTS[:, :, 2]], tip_off]))
        return cls(
            bones=B, pelvis_off=pelvis_off,
            spine_sum=np.stack([B[SPINE[0]] - pelvis_off, B[SPINE[1]], B[SPINE[2]]]),
            target_frame_t=np.concatenate([
                frame_t(np.stack([rest[HIP[0]] - rest[HIP[1]], rest[SHOULDER[0]] - rest[SHOULDER[1]]]), up_rest),
                frame_t(rest[f1[:, 1]] - rest[WRIST], vb),
                frame_t(0.5 * (rest[f1[:, 0]] + rest[f1[:, 2]]) - rest[WRIST], vb),
                frame_t(rest[FOOT] + off[LM_TOE] - heel_rest, rest[ANKLE] - heel_rest)]),
            rv_map=_rv_map(np.stack([e1, rot.cross(cb, e1)], axis=1)),    # collar swing axes
            collar_fwd_sign=np.sign(rot.dot(rot.cross(cb, FORWARD), rot.cross(cb, e1))[:, 0]),
            torso_vectors=np.concatenate([B[COLLAR], (B[NECK] + HEAD_MID * B[HEAD])[None]]),
            spine3_children=np.concatenate([B[COLLAR], B[NECK][None]]), hip_bones=B[HIP],
            face_offsets=off[LM_FACE],
            aim1_dirs=rot.normalize(np.concatenate([B[SHOULDER], B[HEAD][None], B[KNEE]])),
            elbow_dirs=rot.normalize(B[ELBOW]),
            limb_bones=np.concatenate([B[ELBOW], B[KNEE]]),
            limb_frame_t=np.concatenate([frame_t(B[ELBOW], BACK), frame_t(B[KNEE], FORWARD)]),
            lower_bones=np.concatenate([B[WRIST], B[ANKLE]]),
            lower_dirs=rot.normalize(np.concatenate([B[WRIST], B[ANKLE]])),
            twist_axes=rot.normalize(np.concatenate([B[HEAD][None], B[WRIST]])),
            finger_hinge=FINGER_PLANAR[..., None] * rot.normalize(rot.cross(child, PALM_DOWN)),
            finger_child=child,
            palm_offsets=rest[PALM_JOINTS] - rest[WRIST][:, None],
        )


@dataclass
class Subject:
    """The rest skeleton the solver poses. rest: (55, 3) metres; offsets: (75, 3) landmark offsets.
    ``rig`` holds the rest-dependent constants of the solve (derived, not an argument)."""

    rest: np.ndarray
    offsets: np.ndarray
    betas: np.ndarray | None = None
    rig: Rig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rest = np.asarray(self.rest, np.float64)
        self.offsets = np.asarray(self.offsets, np.float64)
        self.rig = Rig.from_rest(self.rest, self.offsets)

    @classmethod
    def from_rest(cls, rest: np.ndarray, betas: np.ndarray | None = None) -> "Subject":
        rest = np.asarray(rest, np.float64)
        return cls(rest=rest, offsets=landmark_offsets(rest), betas=betas)

    @property
    def bones(self) -> np.ndarray:
        """(55, 3) rest bone vectors from each joint's parent."""
        return self.rig.bones
