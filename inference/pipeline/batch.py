"""The batch path: a whole clip of detections → a filtered world-space SMPL-X :class:`Motion`.

What the CLI, a bake and re-solving cached detections run. In: the clip's detections, the camera,
optionally a body model; out: a :class:`~.motion.Motion`. Steps: the subject's proportions, the
lifting passes on landmark targets smoothed over time (zero phase, shot by shot), the refinement,
the hands' measured size, the world frame, the face, a light zero-phase One-Euro pass, then the
floor under the feet in every frame (:mod:`.floor`) and the root-slide check (:mod:`.root_slide`).
"""
from __future__ import annotations

import numpy as np

from ..body.lift import VISIBLE
from ..body.hands import hand_confidence, with_checked_hands
from ..body.lifting import LIFTING_PASSES, lifting_passes
from ..body.proportions import (HAND_SCALE_RANGE, HAND_SCALE_TOLERANCE, estimate_subject, measure_hand_scale,
                                with_hand_scale)
from ..body.subject import Subject
from ..body.world import CAMERA_TO_WORLD_BASE, world_frame
from ..core import rotations as rot
from ..core.layout import PART_BODY, PART_FACE, PART_HANDS, POSE_FEET
from ..core.records import Camera, DetectionSeq
from ..core.skeleton import EYES, JAW, NUM_BETAS, NUM_JOINTS, forward_kinematics, global_to_local, local_to_global
from ..face.measures import face_points
from ..face.solver import FaceSolver
from ..temporal.offline import BATCH_ONE_EURO_SHARE, filter_zero_phase, gaussian_smooth, target_sigma
from ..temporal.shots import shot_ids
from .floor import floor_offline, lowest_foot_height
from .motion import Motion
from .root_slide import root_slide, slide_warning


def solve_camera(seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool = True,
                 passes: int = LIFTING_PASSES, sigma: float = 0.0, refined: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame solve of frames that have a body (:func:`~inference.body.lifting.lifting_passes`;
    ``sigma`` seconds of zero-phase target smoothing, never across a shot cut; ``refined``: the
    last pass ends with the refinement). Returns global rotations (T, 55, 3, 3) and joints
    (T, 55, 3) in the camera frame (metres)."""
    smooth = None
    if sigma > 0:
        shots = shot_ids(seq)
        smooth = lambda Q, W: gaussian_smooth(seq.times, Q, W, sigma, shots)  # noqa: E731
    pose = lifting_passes(seq, subject, camera, hands, passes, smooth_targets=smooth, refined=refined)[-1]
    return pose.G, pose.joints


def solve_sequence(seq: DetectionSeq, camera: Camera, model=None, hands: bool = True, face: bool = True,
                   smoothing: float = 0.5, subject: Subject | None = None, refined: bool = True) -> Motion:
    """Solve a whole clip of detections into a filtered world-space motion. ``refined``: finish
    the solve with the joint least-squares fit of all landmarks (:mod:`~inference.body.refine`;
    the live path, one frame at a time in a time budget, does without it)."""
    T = len(seq)
    seq = with_checked_hands(seq)                     # a hand found twice or far from its wrist: not found
    valid = seq.present[:, PART_BODY].copy()
    measured = subject is None and model is None     # hands are measured on the default skeleton only
    subject = subject or estimate_subject(seq[valid] if valid.any() else seq, model)
    local = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
    root_cam = np.zeros((T, 3))
    M = np.eye(4)
    M[:3, :3] = CAMERA_TO_WORLD_BASE
    if valid.any():
        sigma = target_sigma(smoothing)
        Gc, Jc = solve_camera(seq[valid], subject, camera, hands, sigma=sigma, refined=refined)
        scale = measure_hand_scale(seq[valid], Jc, camera) if measured and hands else 1.0
        if abs(scale - 1.0) > HAND_SCALE_TOLERANCE:
            subject = with_hand_scale(subject, float(np.clip(scale, *HAND_SCALE_RANGE)))
            Gc, Jc = solve_camera(seq[valid], subject, camera, hands, sigma=sigma, refined=refined)
        first = int(np.argmax(valid))
        M = world_frame(Gc[0], Jc[0], subject, seq.kp2d[first, POSE_FEET, 2])
        loc = global_to_local(Gc)
        loc[:, 0] = M[:3, :3] @ Gc[:, 0]
        local[valid] = loc
        root_cam[valid] = Jc[:, 0]
    root_world = root_cam @ M[:3, :3].T + M[:3, 3]
    rest = subject.rest

    part_valid = seq.present.copy()
    part_valid[:, PART_HANDS] &= hands & valid[:, None]
    part_valid[:, PART_FACE] &= face & valid
    fr = FaceSolver(model=model).solve_batch(face_points(seq.kp2d, seq.kpz), part_valid[:, PART_FACE])
    local[:, JAW] = rot.axis_angle(fr.jaw)
    local[:, EYES] = rot.axis_angle(fr.eyes)

    q, root_world, expression, arkit = rot.to_quat(local), root_world, fr.expression, fr.arkit
    shots = shot_ids(seq)
    for shot in range(int(shots[-1]) + 1 if T else 0):                # each shot filtered on its own
        frames = np.flatnonzero(shots == shot)
        span = slice(frames[0], frames[-1] + 1)
        q[span], root_world[span], expression[span], arkit[span] = filter_zero_phase(
            seq.times[span], q[span], root_world[span], expression[span], arkit[span], part_valid[span],
            smoothing * BATCH_ONE_EURO_SHARE, hand_confidence(seq.kp2d[span]), 2.0 * smoothing)
    L = rot.quat_to_matrix(q)
    G = local_to_global(L)
    joints = forward_kinematics(G, subject.bones, root_world)
    floor = floor_offline(seq.times, lowest_foot_height(G, joints, subject.offsets), valid, shots)
    root_world[:, 1] -= floor                                                  # feet on Y = 0, every frame
    feet_seen = valid & (seq.kp2d[:, POSE_FEET, 2] >= VISIBLE).all(1)
    slide = slide_warning(root_slide(seq.times, joints, feet_seen))
    betas = subject.betas if subject.betas is not None else np.zeros(NUM_BETAS)
    return Motion.from_locals(L, root_world, rest, expression=expression, arkit=arkit,
                              valid=valid, part_valid=part_valid, frame_times=seq.times, keypoints2d=seq.kp2d,
                              camera=camera, camera_to_world=M, betas=np.asarray(betas),
                              gender=getattr(model, "gender", "neutral"), model_path=str(getattr(model, "path", "")),
                              warnings=(slide,) if slide else (), floor_height=floor,
                              **({"detector": seq.info.name, "backend": seq.info.backend, "provider": seq.info.provider}
                                 if seq.info is not None else {}))
