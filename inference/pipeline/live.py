"""The streaming path: one detection at a time → one filtered SMPL-X frame (webcam, live link).

In: detections in stream order; out: :class:`FrameResult` per frame. The same lifting passes as
the batch path at T = 1 (compiled by :mod:`~inference.body.solve_numba` where numba is there),
their torso fits warm-started from the previous frame, then the face and the causal One-Euro
filter. Open :class:`LivePipeline` first.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ..body import solve_numba
from ..body.hands import checked_hands, hand_confidence
from ..body.lifting import LIFTING_PASSES, lifting_passes, warm_start
from ..body.proportions import estimate_subject
from ..body.solve import SkeletonPose
from ..body.subject import Subject
from ..body.world import world_frame
from ..core import rotations as rot
from ..core.layout import PART_BODY, PART_FACE, PART_HANDS, POSE_FEET
from ..core.records import Camera, Detection, DetectionSeq
from ..core.skeleton import DEFAULT_REST, FACE_JOINTS, NUM_JOINTS, bone_vectors, forward_kinematics, global_to_local, local_to_global
from ..face.measures import face_points
from ..face.solver import FaceSolver
from ..temporal.motion_filter import MotionFilter
from .floor import FloorFilter, lowest_foot_height


def solve_camera_live(det_seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool = True,
                      previous: list[np.ndarray] | None = None, passes: int = LIFTING_PASSES,
                      compiled: bool | None = None) -> tuple[SkeletonPose, list[np.ndarray]]:
    """Streaming solve of one frame (``T = 1``): :func:`solve_camera`'s passes, each pass's torso
    fit warm-started from the same pass of the previous frame (``previous``: the list this
    function returned then; None for a first frame, solved from scratch like the batch path).
    Returns the camera-frame pose and what the next frame starts from: the torso parameters of
    each pass, or None when a fit ended on the edge of its box (``tables.TORSO_BOUND``: garbage
    detections) and the next frame is better solved from scratch (:func:`warm_start`).

    ``compiled`` (default: when numba is installed, :data:`solve_numba.AVAILABLE`): the passes run
    as one compiled function (:func:`solve_numba.lift_one_frame`, the same solve to rounding),
    else through the numpy solver (:func:`~inference.body.lifting.lifting_passes`)."""
    if solve_numba.AVAILABLE if compiled is None else compiled:
        prev = None if previous is None else np.concatenate(previous)
        G, joints, torso = solve_numba.lift_one_frame(det_seq.kp2d[0], det_seq.kpz[0], det_seq.world[0],
                                                      det_seq.present[0], subject, camera, hands, prev, passes)
        return SkeletonPose(G=G[None], joints=joints[None], torso=torso[-1:]), warm_start(list(torso[:, None]))
    poses = lifting_passes(det_seq, subject, camera, hands, passes, previous)
    return poses[-1], warm_start([p.torso for p in poses])


@dataclass
class FrameResult:
    """One live frame: local_quat (55, 4) x, y, z, w local rotations with the world root (the
    filter's output), local_rot (55, 3, 3) the same as matrices, trans (3,), joints (55, 3),
    expression (E,), arkit (52,), part_valid (4,), time (s)."""

    time: float
    local_quat: np.ndarray
    local_rot: np.ndarray
    trans: np.ndarray
    joints: np.ndarray
    expression: np.ndarray
    arkit: np.ndarray
    part_valid: np.ndarray


@dataclass
class StageTimes:
    """Wall time (milliseconds) of the last :meth:`LivePipeline.step`, by stage: ``solve`` (subject,
    body solve, world frame, rotation conversions and output kinematics), ``face`` and ``filter``."""

    solve: float = 0.0
    face: float = 0.0
    filter: float = 0.0


class LivePipeline:
    """Frame-by-frame solve + filter for the webcam / live link (same solver at T = 1).

    Each frame runs the batch path's lifting passes with their torso fits warm-started from the
    previous frame's (see :func:`solve_camera_live`); the first frame with a person after none is
    solved from scratch. The subject's proportions are measured over the first ``warmup``
    frames with a person (re-estimated after 1, 2, 4, 8, … of them) and then frozen; the world
    frame is fixed at the first frame with a person, and the root is then moved down by
    ``floor_height`` each frame so the feet stay on the floor (:class:`~.floor.FloorFilter`).
    ``last_times`` holds the last step's :class:`StageTimes`. ``compiled`` False runs the passes
    through the numpy solver even where numba is installed (otherwise the compiled
    :mod:`~inference.body.solve_numba` runs them; ``self.compiled`` says which).
    """

    def __init__(self, camera: Camera, model=None, hands: bool = True, face: bool = True,
                 smoothing: float = 0.5, warmup: int = 15, compiled: bool | None = None):
        self.camera, self.model, self.hands, self.face = camera, model, hands, face
        # the compiled lifting passes when numba is installed: loaded (or compiled) here, not on
        # the first frame with a person
        self.compiled = solve_numba.warm_up() if compiled is None or compiled else False
        self.warmup = warmup
        self._seen: list[Detection] = []
        self._provisional: Subject | None = None
        self.subject: Subject | None = None
        self.camera_to_world: np.ndarray | None = None
        self.face_solver = FaceSolver(model=model)
        self.filter = MotionFilter(smoothing=smoothing)
        self._last_local = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
        self._last_root = np.zeros(3)
        self._previous: list[np.ndarray] | None = None     # torso fits of the last frame's passes
        self._default_bones = bone_vectors(DEFAULT_REST)
        self._default_subject = Subject.from_rest(DEFAULT_REST)
        self.floor = FloorFilter()
        self.floor_height = 0.0         # metres the root is lowered by this frame (world Y)
        self.last_times = StageTimes()

    def _subject(self, det: Detection) -> Subject:
        if self.subject is not None:
            return self.subject
        self._seen.append(det)
        n = len(self._seen)
        if self._provisional is None or n >= self.warmup or (n & (n - 1)) == 0:
            self._provisional = estimate_subject(DetectionSeq.stack(self._seen), self.model)
        if n >= self.warmup:
            self.subject, self._seen = self._provisional, []
        return self._provisional

    def _solve_body(self, det: Detection) -> tuple[np.ndarray, np.ndarray]:
        """Local rotations (55, 3, 3) with the world root, and the world pelvis position (3,)."""
        subject = self._subject(det)
        seq = DetectionSeq(times=np.array([det.time]), image_size=det.image_size, kp2d=det.kp2d[None],
                           kpz=det.kpz[None], world=det.world[None], present=det.present[None])
        pose, self._previous = solve_camera_live(seq, subject, self.camera, self.hands, self._previous,
                                                 compiled=self.compiled)
        Gc, Jc = pose.G[0], pose.joints[0]
        if self.camera_to_world is None:
            self.camera_to_world = world_frame(Gc, Jc, subject, det.kp2d[POSE_FEET, 2])
        M = self.camera_to_world
        local = global_to_local(pose.G)[0]
        local[0] = M[:3, :3] @ Gc[0]
        return local, M[:3, :3] @ Jc[0] + M[:3, 3]

    def step(self, det: Detection) -> FrameResult:
        """Solve, face and filter one detection (in stream order); ``last_times`` gets its stage
        timings."""
        t0 = time.perf_counter()
        det = replace(det, present=det.present.copy())
        det.present[PART_HANDS] = checked_hands(det.kp2d[None], det.present[None])[0]   # see body.hands
        part_valid = det.present.copy()
        body = bool(det.present[PART_BODY])
        part_valid[PART_HANDS] &= self.hands and body
        part_valid[PART_FACE] &= self.face and body
        if body:
            local, root = self._solve_body(det)
        else:
            local, root = self._last_local.copy(), self._last_root.copy()
            self._previous = None
        t1 = time.perf_counter()
        fr = self.face_solver.solve_frame(face_points(det.kp2d, det.kpz), bool(part_valid[PART_FACE]))
        t2 = time.perf_counter()
        local[FACE_JOINTS] = rot.axis_angle(np.concatenate([fr.jaw, fr.eyes[0]]).astype(np.float64))
        q_in = rot.to_quat(local)
        t3 = time.perf_counter()
        q, root_f, expr, arkit = self.filter.step(det.time, q_in, root, fr.expression[0], fr.arkit[0], part_valid,
                                                  hand_confidence(det.kp2d[None])[0])
        t4 = time.perf_counter()
        self._last_local, self._last_root = local, root
        rest = self.subject.rest if self.subject is not None else DEFAULT_REST
        bones = self.subject.bones if self.subject is not None else self._default_bones
        offsets = (self.subject or self._default_subject).offsets
        L = rot.quat_to_matrix(q)
        G = local_to_global(L[None])
        joints = forward_kinematics(G, bones, root_f[None])[0]
        if body:                    # feet on Y = 0, causally (floor.FloorFilter); held while nobody is seen
            self.floor_height = self.floor.step(det.time, float(lowest_foot_height(G, joints[None], offsets)[0]))
        joints[:, 1] -= self.floor_height
        root_f[1] -= self.floor_height
        t5 = time.perf_counter()
        self.last_times = StageTimes(solve=1e3 * (t1 - t0 + t3 - t2 + t5 - t4), face=1e3 * (t2 - t1),
                                     filter=1e3 * (t4 - t3))
        return FrameResult(time=det.time, local_quat=q, local_rot=L, trans=root_f - rest[0], joints=joints,
                           expression=expr, arkit=arkit, part_valid=part_valid)
