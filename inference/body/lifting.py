"""Lifting passes: detections → a camera-frame skeleton pose, through perspective re-lifting.

In: detections (T frames), the subject, the camera; out: global rotations and joints in the
camera frame per pass (:class:`~.solve.SkeletonPose`). Each pass places a 3D estimate by the root
translation that best reprojects it (:mod:`.lift`), moves its landmarks onto their pixel rays and
solves the skeleton on them (:mod:`.solve`); the batch path ends with :mod:`.refine`. Open
:func:`lifting_passes` first.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.layout import BODY, HAND_START, PART_HANDS
from ..core.records import Camera, DetectionSeq
from . import lift, refine
from .landmarks import landmarks_from_pose
from .solve import SkeletonPose, solve_skeleton
from .subject import Subject
from .tables import TORSO_BOUND

#: Perspective passes of the camera-frame solve (each one solve of the skeleton).
LIFTING_PASSES = 2


def landmark_weights(seq: DetectionSeq, hands: bool) -> tuple[np.ndarray, np.ndarray]:
    """Landmark confidences (T, 75) and usable hands (T, 2) bool (none with ``hands`` off)."""
    W = lift.body_weights(seq)
    if not hands:
        W[:, HAND_START[0]:] = 0.0
    return W, seq.present[:, PART_HANDS] & hands


def lifting_passes(seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool, passes: int = LIFTING_PASSES,
                   torso_init: list[np.ndarray] | None = None, torso_iters: int | None = None,
                   smooth_targets: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                   refined: bool = False) -> list[SkeletonPose]:
    """``passes`` perspective passes: the landmarks of a 3D estimate are placed by the root
    translation that best projects them onto the 2D keypoints, moved onto their pixel rays at the
    depths that gives them (:func:`lift.perspective_targets`) and the skeleton is solved on them.
    The first estimate is the detector's metric body landmarks (:func:`lift.metric_body`), each
    next one the previous pass's solved skeleton. Only the last pass is a full solve: the others
    feed nothing but their body landmarks' depths to the next and leave out what moves none of them
    (``solve_skeleton(full=False)``). ``torso_init``: one warm start per pass (each (T, 8)) with
    ``torso_iters`` Gauss-Newton iterations. ``refined`` (batch path): the last pass's analytic
    solve is refined by a joint least-squares fit of all its targets (:func:`refine.refine_pose`).
    ``smooth_targets(Q, W)`` (batch path only) smooths each pass's targets Q (T, 75, 3) over time
    before the solve (the pipeline's zero-phase smoother, weighted by the confidences W), which
    takes the detector's frame-to-frame jitter out before the solve rather than after it. Returns
    every pass's pose. :func:`.solve_numba.lifting_passes` is the compiled twin, frame by frame
    (unsmoothed, unrefined)."""
    W, hand_ok = landmark_weights(seq, hands)
    init = torso_init or [None] * passes
    uv = seq.kp2d[:, BODY, :2]
    lm = lift.metric_body(seq)
    out: list[SkeletonPose] = []
    for k in range(passes):
        if k:
            lm = landmarks_from_pose(out[-1].G, out[-1].joints, subject.offsets)
        t = lift.solve_translation(lm[:, BODY], uv, W[:, BODY], camera)
        last = k == passes - 1
        Q = lift.perspective_targets(seq, lm + t[:, None], camera)
        if smooth_targets is not None:
            Q = smooth_targets(Q, W)
        pose = solve_skeleton(Q, W, hand_ok, subject, torso_init=init[k], torso_iters=torso_iters, full=last)
        if last and refined:
            w, frozen = refine.weights_and_frozen(W, hand_ok)
            G, joints = refine.refine_pose(pose.G, pose.joints[:, 0], Q, w, frozen, subject)
            pose = SkeletonPose(G=G, joints=joints, torso=pose.torso)
        out.append(pose)
    return out


def warm_start(torsos: list[np.ndarray]) -> list[np.ndarray] | None:
    """The torso fits (one (1, 8) per pass) a next frame may start from, or None where one sits on
    the edge of ``tables.TORSO_BOUND``: a fit pushed there by garbage detections is a basin the
    next frames' warm fits would stay stuck in (on perturbed detections, up to a metre away from
    where a fresh solve lands)."""
    for t in torsos:
        if (np.abs(t) >= TORSO_BOUND * (1.0 - 1e-9)).any():
            return None
    return torsos
