"""The subject's proportions, measured: detections → the rest skeleton to solve with.

In: a clip's detections (the metric body landmarks, the hands' pixels); out: a :class:`~.subject.Subject`
whose bones have the measured lengths (on the default skeleton, or SMPL-X betas fitted to them with a
model), and the hands scaled to the size they are seen at. Open :func:`estimate_subject` first.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import (BODY, HAND, HAND_KNUCKLES, HAND_START, PART_BODY, PART_LEFT_HAND, POSE, POSE_HIPS,
                           POSE_SHOULDERS)
from ..core.records import Camera, DetectionSeq
from ..core.skeleton import DEFAULT_REST, HAND_JOINTS, JOINT_INDEX, NUM_BETAS, NUM_JOINTS, PARENTS, bone_vectors
from .subject import Subject

J = JOINT_INDEX

# Segments measured on the metric body landmarks: name → (landmark pairs, SMPL-X bones they scale).
_SEGMENTS = {
    "upper_arm": ([("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")], ["left_elbow", "right_elbow"]),
    "forearm": ([("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")], ["left_wrist", "right_wrist"]),
    "thigh": ([("left_hip", "left_knee"), ("right_hip", "right_knee")], ["left_knee", "right_knee"]),
    "shin": ([("left_knee", "left_ankle"), ("right_knee", "right_ankle")], ["left_ankle", "right_ankle"]),
    "shoulders": ([("left_shoulder", "right_shoulder")], ["left_shoulder", "right_shoulder", "left_collar", "right_collar"]),
    "hips": ([("left_hip", "right_hip")], ["left_hip", "right_hip"]),
}


#: Segments whose length depends on posture (spine bend, shrugging) are taken at a high percentile
#: (their upright rest length); rigid limb bones at the median.
_POSTURAL = {"shoulders": 85.0, "torso": 90.0}


def measure_segments(seq: DetectionSeq, min_visibility: float = 0.7) -> dict[str, float]:
    """Metric length of body segments over the frames where both ends are seen well: the median for
    limb bones, a high percentile for posture-dependent ones (``torso`` = hip centre → shoulder
    centre, ``shoulders`` width). Unmeasured segments are left out.
    """
    W = seq.world.astype(np.float64)
    vis = seq.kp2d[:, BODY, 2]
    ok_body = seq.present[:, PART_BODY]
    out: dict[str, float] = {}

    def med(a: str, b: str) -> np.ndarray:
        ia, ib = POSE[a], POSE[b]
        good = ok_body & (vis[:, ia] >= min_visibility) & (vis[:, ib] >= min_visibility)
        return np.linalg.norm(W[good, ia] - W[good, ib], axis=-1)

    for name, (pairs, _) in _SEGMENTS.items():
        vals = np.concatenate([med(a, b) for a, b in pairs])
        if len(vals):
            out[name] = float(np.percentile(vals, _POSTURAL.get(name, 50.0)))
    good = ok_body & (vis[:, np.r_[POSE_SHOULDERS, POSE_HIPS]].min(-1) >= min_visibility)
    if good.any():
        torso = np.linalg.norm(W[good][:, POSE_SHOULDERS].mean(1) - W[good][:, POSE_HIPS].mean(1), axis=-1)
        out["torso"] = float(np.percentile(torso, _POSTURAL["torso"]))
    return out


def _default_segment_lengths(rest: np.ndarray) -> dict[str, float]:
    def d(a: str, b: str) -> float:
        return float(np.linalg.norm(rest[J[a]] - rest[J[b]]))
    return {
        "upper_arm": d("left_shoulder", "left_elbow"), "forearm": d("left_elbow", "left_wrist"),
        "thigh": d("left_hip", "left_knee"), "shin": d("left_knee", "left_ankle"),
        "shoulders": d("left_shoulder", "right_shoulder"), "hips": d("left_hip", "right_hip"),
        "torso": float(np.linalg.norm(rest[[J["left_shoulder"], J["right_shoulder"]]].mean(0)
                                      - rest[[J["left_hip"], J["right_hip"]]].mean(0))),
    }


def scaled_rest(segments: dict[str, float], base: np.ndarray = DEFAULT_REST) -> np.ndarray:
    """The default skeleton with each segment stretched to a measured length.

    Unmeasured segments (and the spine, head, hands, feet) take the median ratio of the measured
    ones, clipped to a plausible adult/child range. Returns (55, 3) rest joints.
    """
    ref = _default_segment_lengths(base)
    ratios = {k: np.clip(v / ref[k], 0.5, 1.6) for k, v in segments.items() if k in ref and v > 0}
    overall = float(np.median(list(ratios.values()))) if ratios else 1.0
    scale = np.full(NUM_JOINTS, overall)
    for name, (_, bones) in _SEGMENTS.items():
        if name in ratios:
            scale[[J[b] for b in bones]] = ratios[name]
    if "torso" in ratios:
        scale[[J["spine1"], J["spine2"], J["spine3"], J["neck"]]] = ratios["torso"]
    arm = np.mean([ratios.get("upper_arm", overall), ratios.get("forearm", overall)])
    scale[HAND_JOINTS] = arm
    bones = bone_vectors(base) * scale[:, None]
    rest = np.zeros_like(base)
    rest[0] = base[0] * np.mean([ratios.get("thigh", overall), ratios.get("shin", overall)])
    for j in range(1, NUM_JOINTS):
        rest[j] = rest[PARENTS[j]] + bones[j]
    return rest


def estimate_subject(seq: DetectionSeq, model=None, num_betas: int = NUM_BETAS) -> Subject:
    """Rest skeleton for the person in ``seq``: measured proportions on the default skeleton, or,
    with an SMPL-X model, betas fitted to the measured bone lengths."""
    segments = measure_segments(seq)
    if model is None:
        return Subject.from_rest(scaled_rest(segments))
    lengths = np.full(NUM_JOINTS, np.nan)
    for name, (_, bones) in _SEGMENTS.items():
        if name in segments and name not in ("shoulders", "hips"):
            lengths[[J[b] for b in bones]] = segments[name]
    betas = model.fit_betas(lengths, num_betas=num_betas) if np.isfinite(lengths).any() else np.zeros(num_betas)
    return Subject.from_rest(model.rest_joints(betas), betas=np.asarray(betas, np.float64))


#: A measured hand size this far from the skeleton's re-solves with the hands scaled (within the range).
HAND_SCALE_TOLERANCE = 0.05
HAND_SCALE_RANGE = (0.7, 1.4)


#: The SMPL-X joints under the hand model's knuckles (index, middle, ring, pinky), per side.
_KNUCKLE_JOINTS = np.array([[J["left_index1"], J["left_middle1"], J["left_ring1"], J["left_pinky1"]],
                            [J["right_index1"], J["right_middle1"], J["right_ring1"], J["right_pinky1"]]])
_WRISTS = np.array([J["left_wrist"], J["right_wrist"]])


def measure_hand_scale(seq: DetectionSeq, joints_cam: np.ndarray, camera: Camera) -> float:
    """How much larger the subject's hands are than the skeleton's: the detected palm size in pixels
    (wrist → four knuckles of the hand model) over the solved skeleton's palm projected with the
    same camera, median over frames with that hand found. The solved fingers point where the
    detected ones do, so foreshortening cancels. seq: T frames; joints_cam: (T, 55, 3) camera
    frame. Returns 1.0 when no hand was seen."""
    ratios = []
    K = camera.K
    for side in (0, 1):
        ok = seq.present[:, PART_LEFT_HAND + side]
        if not ok.any():
            continue
        px = seq.kp2d[ok][:, HAND_START[side] + np.r_[HAND["wrist"], HAND_KNUCKLES], :2].astype(np.float64)  # (n, 5, 2)
        P = joints_cam[ok][:, np.r_[_WRISTS[side], _KNUCKLE_JOINTS[side]]]              # (n, 5, 3)
        uv = P[..., :2] / np.maximum(P[..., 2:3], 1e-6) * np.diag(K)[:2] + K[:2, 2]
        det = np.linalg.norm(px[:, 1:] - px[:, :1], axis=-1).sum(-1)
        sol = np.linalg.norm(uv[:, 1:] - uv[:, :1], axis=-1).sum(-1)
        good = sol > 1.0
        ratios.append(det[good] / sol[good])
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    return float(np.median(r)) if len(r) >= 3 else 1.0


def with_hand_scale(subject: Subject, scale: float) -> Subject:
    """The subject with every hand bone (wrist → knuckles → finger tips) scaled by ``scale``."""
    bones = bone_vectors(subject.rest)
    bones[HAND_JOINTS] *= scale
    rest = subject.rest.copy()
    for j in HAND_JOINTS:                      # parents come before children in SMPL-X order
        rest[j] = rest[PARENTS[j]] + bones[j]
    return Subject.from_rest(rest, betas=subject.betas)


