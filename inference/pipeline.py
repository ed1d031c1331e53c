"""Detections → SMPL-X motion: subject proportions, lifting passes, world frame, face, filtering.

``solve_sequence`` is the batch path (the CLI, bakes, re-solving cached detections with other
settings); ``LivePipeline`` is the streaming path (webcam, live link), frame by frame with the same
functions at ``T = 1``. Both give a :class:`Motion` in AMASS/SMPL-X conventions (Y up, metres).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import lift, live_kernel, refine
from . import rotations as rot
from .face import ARKIT_NAMES, FaceSolver
from .filters import FACE as FACE_PART
from .filters import MotionFilter, bridge_short_gaps, gaussian_smooth, target_sigma
from .layout import BODY, FACE, POSE, landmark_offsets, landmarks_from_pose
from .records import Camera, Detection, DetectionSeq
from .skeleton import DEFAULT_REST, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, bone_vectors, global_to_local
from .solve import TORSO_BOUND, SkeletonPose, Subject, chain_local, fk_positions, pose_landmarks, solve_skeleton

#: Default horizontal field of view (degrees): a typical webcam / phone main camera.
DEFAULT_FOV_DEG = 60.0
#: Camera axes (x right, y down, z away) → world (Y up, camera looking along −Z).
CAMERA_TO_WORLD_BASE = np.diag([1.0, -1.0, -1.0])
GRAVITY_MAX_TILT_DEG = 30.0

J = JOINT_INDEX
EYES_JAW = [J["jaw"], J["left_eye_smplhf"], J["right_eye_smplhf"]]

# Segments measured on the metric body landmarks: name → (landmark pairs, SMPL-X bones they scale).
_SEGMENTS = {
    "upper_arm": ([("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")], ["left_elbow", "right_elbow"]),
    "forearm": ([("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")], ["left_wrist", "right_wrist"]),
    "thigh": ([("left_hip", "left_knee"), ("right_hip", "right_knee")], ["left_knee", "right_knee"]),
    "shin": ([("left_knee", "left_ankle"), ("right_knee", "right_ankle")], ["left_ankle", "right_ankle"]),
    "shoulders": ([("left_shoulder", "right_shoulder")], ["left_shoulder", "right_shoulder", "left_collar", "right_collar"]),
    "hips": ([("left_hip", "right_hip")], ["left_hip", "right_hip"]),
}


# --------------------------------------------------------------------------------------------
# shots
# --------------------------------------------------------------------------------------------
#: A new shot (an edit cut, or another person) starts where the body's landmarks move by more than
#: this share of the body's size in one frame (median over the landmarks seen in both frames;
#: real motion stays under ~0.1 even at 24 fps, Megamind's two cuts jump 0.5 and 0.7).
SHOT_CUT = 0.25


def shot_ids(seq: DetectionSeq) -> np.ndarray:
    """(T,) int64 shot number of each frame (0, 1, …): the batch smoothing never mixes two shots."""
    kp = seq.kp2d[:, BODY].astype(np.float64)
    ok = (kp[..., 2] >= lift.VISIBLE) & seq.present[:, :1]                       # (T, 33)
    lo = np.where(ok[..., None], kp[..., :2], np.inf).min(1)
    hi = np.where(ok[..., None], kp[..., :2], -np.inf).max(1)
    size = np.where(ok.sum(1) >= 4, (hi - lo).max(-1), np.inf)                   # (T,) pixels
    both = ok[1:] & ok[:-1]
    step = np.linalg.norm(kp[1:, :, :2] - kp[:-1, :, :2], axis=-1)              # (T-1, 33)
    n = both.sum(1)                                                              # (T-1,)
    med = np.take_along_axis(np.sort(np.where(both, step, np.inf), axis=1), (n // 2)[:, None], 1)[:, 0]
    cut = (n >= 4) & (med > SHOT_CUT * np.minimum(size[1:], size[:-1]))
    return np.concatenate([[0], np.cumsum(cut)])[:len(seq)].astype(np.int64)


# --------------------------------------------------------------------------------------------
# subject
# --------------------------------------------------------------------------------------------
#: Segments whose length depends on posture (spine bend, shrugging) are taken at a high percentile
#: (their upright rest length); rigid limb bones at the median.
_POSTURAL = {"shoulders": 85.0, "torso": 90.0}


def measure_segments(seq: DetectionSeq, min_visibility: float = 0.7) -> dict[str, float]:
    """Metric length of body segments over the frames where both ends are seen well: the median for
    limb bones, a high percentile for posture-dependent ones (``torso`` = hip centre → shoulder
    centre, ``shoulders`` width). Unmeasured segments are left out.
    """
    W = seq.world.astype(np.float64)
    vis = seq.kp2d[:, :33, 2]
    ok_body = seq.present[:, 0]
    out: dict[str, float] = {}

    def med(a: str, b: str) -> np.ndarray:
        ia, ib = POSE[a], POSE[b]
        good = ok_body & (vis[:, ia] >= min_visibility) & (vis[:, ib] >= min_visibility)
        return np.linalg.norm(W[good, ia] - W[good, ib], axis=-1)

    for name, (pairs, _) in _SEGMENTS.items():
        vals = np.concatenate([med(a, b) for a, b in pairs])
        if len(vals):
            out[name] = float(np.percentile(vals, _POSTURAL.get(name, 50.0)))
    good = ok_body & (vis[:, [11, 12, 23, 24]].min(-1) >= min_visibility)
    if good.any():
        torso = np.linalg.norm(W[good][:, [11, 12]].mean(1) - W[good][:, [23, 24]].mean(1), axis=-1)
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
    scale[25:55] = arm
    bones = bone_vectors(base) * scale[:, None]
    rest = np.zeros_like(base)
    rest[0] = base[0] * np.mean([ratios.get("thigh", overall), ratios.get("shin", overall)])
    for j in range(1, NUM_JOINTS):
        rest[j] = rest[PARENTS[j]] + bones[j]
    return rest


def estimate_subject(seq: DetectionSeq, model=None, num_betas: int = 10) -> Subject:
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


# --------------------------------------------------------------------------------------------
# camera-frame solve
# --------------------------------------------------------------------------------------------
#: Perspective passes of the camera-frame solve (each one solve of the skeleton).
LIFTING_PASSES = 2


def solve_camera(seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool = True,
                 passes: int = LIFTING_PASSES, sigma: float = 0.0, refined: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame solve of frames that have a body (see :func:`_lifting_passes`; ``sigma``
    seconds of zero-phase target smoothing; ``refined``: the last pass ends with
    :func:`refine.refine_pose`). Returns global rotations (T, 55, 3, 3) and joints
    (T, 55, 3) in the camera frame (metres)."""
    pose = _lifting_passes(seq, subject, camera, hands, passes, sigma=sigma, refined=refined)[-1]
    return pose.G, pose.joints


def _weights(seq: DetectionSeq, hands: bool) -> tuple[np.ndarray, np.ndarray]:
    """Landmark confidences (T, 75) and usable hands (T, 2) bool."""
    W = lift.body_weights(seq)
    if not hands:
        W[:, 33:] = 0.0
    return W, seq.present[:, 1:3] & hands


def _lifting_passes(seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool, passes: int,
                    torso_init: list[np.ndarray] | None = None,
                    torso_iters: int | None = None, sigma: float = 0.0, refined: bool = False
                    ) -> list[SkeletonPose]:
    """``passes`` perspective passes: the landmarks of a 3D estimate are placed by the root
    translation that best projects them onto the 2D keypoints, moved onto their pixel rays at the
    depths that gives them (:func:`lift.perspective_targets`) and the skeleton is solved on them.
    The first estimate is the detector's metric body landmarks (:func:`lift.metric_body`), each
    next one the previous pass's solved skeleton. Only the last pass is a full solve: the others
    feed nothing but their body landmarks' depths to the next and leave out what moves none of them
    (``solve_skeleton(full=False)``). ``torso_init``: one warm start per pass (each (T, 8)) with
    ``torso_iters`` Gauss-Newton iterations. ``refined`` (batch path): the last pass's analytic
    solve is refined by a joint least-squares fit of all its targets (:func:`refine.refine_pose`).
    ``sigma`` > 0 (batch path only): each pass's targets are
    smoothed over time first (:func:`filters.gaussian_smooth`, weighted by the landmarks'
    confidences; zero phase, so no lag), which takes the detector's frame-to-frame jitter out
    before the solve rather than after it. Returns every pass's pose."""
    W, hand_ok = _weights(seq, hands)
    shots = shot_ids(seq) if sigma > 0 else None
    init = torso_init or [None] * passes
    uv = seq.kp2d[:, :33, :2]
    lm = lift.metric_body(seq)
    out: list[SkeletonPose] = []
    for k in range(passes):
        if k:
            lm = pose_landmarks(out[-1].G, out[-1].joints, subject)
        t = lift.solve_translation(lm[:, :33], uv, W[:, :33], camera)
        last = k == passes - 1
        Q = lift.perspective_targets(seq, lm + t[:, None], camera)
        if sigma > 0:
            Q = gaussian_smooth(seq.times, Q, W, sigma, shots)
        pose = solve_skeleton(Q, W, hand_ok, subject, torso_init=init[k], torso_iters=torso_iters, full=last)
        if last and refined:
            w, frozen = refine.weights_and_frozen(W, hand_ok)
            G, joints = refine.refine_pose(pose.G, pose.joints[:, 0], Q, w, frozen, subject)
            pose = SkeletonPose(G=G, joints=joints, torso=pose.torso)
        out.append(pose)
    return out


def solve_camera_live(det_seq: DetectionSeq, subject: Subject, camera: Camera, hands: bool = True,
                      previous: list[np.ndarray] | None = None, passes: int = LIFTING_PASSES,
                      compiled: bool | None = None) -> tuple[SkeletonPose, list[np.ndarray]]:
    """Streaming solve of one frame (``T = 1``): :func:`solve_camera`'s passes, each pass's torso
    fit warm-started from the same pass of the previous frame (``previous``: the list this
    function returned then; None for a first frame, solved from scratch like the batch path).
    Returns the camera-frame pose and what the next frame starts from: the torso parameters of
    each pass, or None when a fit ended on the edge of its box (``solve.TORSO_BOUND``: garbage
    detections) and the next frame is better solved from scratch (:func:`warm_start`).

    ``compiled`` (default: when numba is installed, :data:`live_kernel.AVAILABLE`): the passes run
    as one compiled function (:func:`live_kernel.lifting_passes`, the same solve to rounding),
    else through the numpy solver."""
    if live_kernel.AVAILABLE if compiled is None else compiled:
        prev = None if previous is None else np.concatenate(previous)
        G, joints, torso = live_kernel.lifting_passes(det_seq.kp2d[0], det_seq.kpz[0], det_seq.world[0],
                                                      det_seq.present[0], subject, camera, hands, prev, passes)
        return SkeletonPose(G=G[None], joints=joints[None], torso=torso[-1:]), warm_start(list(torso[:, None]))
    poses = _lifting_passes(det_seq, subject, camera, hands, passes, previous)
    return poses[-1], warm_start([p.torso for p in poses])


def warm_start(torsos: list[np.ndarray]) -> list[np.ndarray] | None:
    """The torso fits (one (1, 8) per pass) a next frame may start from, or None where one sits on
    the edge of ``solve.TORSO_BOUND``: a fit pushed there by garbage detections is a basin the
    next frames' warm fits would stay stuck in (on perturbed detections, up to a metre away from
    where a fresh solve lands)."""
    for t in torsos:
        if (np.abs(t) >= TORSO_BOUND * (1.0 - 1e-9)).any():
            return None
    return torsos


# --------------------------------------------------------------------------------------------
# world frame
# --------------------------------------------------------------------------------------------
def world_frame(G: np.ndarray, joints: np.ndarray, subject: Subject, foot_visibility: np.ndarray
                ) -> np.ndarray:
    """World frame from one solved frame (the first with a person): camera axes turned Y-up, tilted
    to gravity (the trunk's up direction, when within 30° of the camera's up) and shifted so the
    lowest seen foot point is at Y = 0 (unseen feet: the standing height of the pelvis).

    G (55, 3, 3), joints (55, 3) camera frame; foot_visibility (4,) heels and toes.
    Returns camera_to_world (4, 4).
    """
    lm = landmarks_from_pose(G[None], joints[None], subject.offsets)[0]
    base = CAMERA_TO_WORLD_BASE
    up = base @ rot.normalize(0.5 * (lm[11] + lm[12]) - 0.5 * (lm[23] + lm[24]))
    R = base
    if np.degrees(np.arccos(np.clip(up[1], -1.0, 1.0))) < GRAVITY_MAX_TILT_DEG:
        R = rot.swing(up, np.array([0.0, 1.0, 0.0])) @ base
    feet = lm[[POSE["left_heel"], POSE["right_heel"], POSE["left_foot_index"], POSE["right_foot_index"]]] @ R.T
    if np.max(foot_visibility) >= 0.5:
        floor = float(np.min(feet[foot_visibility >= 0.5, 1]))
    else:
        standing = subject.rest[0, 1] - min(subject.rest[J["left_foot"], 1], subject.rest[J["right_foot"], 1]) + 0.02
        floor = float((R @ joints[0])[1] - standing)
    M = np.eye(4)
    M[:3, :3], M[1, 3] = R, -floor
    return M


# --------------------------------------------------------------------------------------------
# motion record
# --------------------------------------------------------------------------------------------
@dataclass
class Motion:
    """A captured SMPL-X motion (see the README for the saved schema). T frames."""

    poses: np.ndarray          # (T, 165) axis-angle, SMPL-X joint order, root in world
    trans: np.ndarray          # (T, 3) metres, SMPL convention (pelvis = trans + rest pelvis)
    joints: np.ndarray         # (T, 55, 3) world joint positions
    expression: np.ndarray     # (T, E)
    arkit: np.ndarray          # (T, 52) in [0, 1]
    valid: np.ndarray          # (T,) bool: a person was found
    part_valid: np.ndarray     # (T, 4) bool: body, left hand, right hand, face
    frame_times: np.ndarray    # (T,) seconds
    keypoints2d: np.ndarray    # (T, 553, 3) pixels + confidence
    camera: Camera
    camera_to_world: np.ndarray  # (4, 4)
    rest_joints: np.ndarray    # (55, 3) the skeleton the poses drive
    betas: np.ndarray          # (B,) zeros without a model
    gender: str = "neutral"
    model_path: str = ""

    @property
    def frame_rate(self) -> float:
        """Median rate of the real timestamps (informational: keys are placed by time)."""
        if len(self.frame_times) < 2:
            return 30.0
        dt = np.diff(self.frame_times)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if len(dt) else 30.0

    @classmethod
    def from_npz(cls, path) -> "Motion":
        """Read a file written by the CLI (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as d:
            return cls(poses=d["poses"], trans=d["trans"], joints=d["joints"], expression=d["expression"],
                       arkit=d["arkit"], valid=d["valid"], part_valid=d["part_valid"],
                       frame_times=d["frame_times"], keypoints2d=d["keypoints2d"],
                       camera=Camera(K=d["camera_intrinsics"], size=tuple(int(v) for v in d["image_size"])),
                       camera_to_world=d["camera_to_world"], rest_joints=d["rest_joints"],
                       betas=d["betas"], gender=str(d["gender"]), model_path=str(d["model_path"]))

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        return {
            "poses": self.poses.astype(np.float32), "trans": self.trans.astype(np.float32),
            "betas": self.betas.astype(np.float32), "gender": np.array(self.gender),
            "mocap_frame_rate": np.array(self.frame_rate), "joint_names": np.array(JOINT_NAMES),
            "parents": PARENTS.copy(), "rest_joints": self.rest_joints.astype(np.float32),
            "expression": self.expression.astype(np.float32), "arkit": self.arkit.astype(np.float32),
            "arkit_names": np.array(ARKIT_NAMES), "valid": self.valid, "part_valid": self.part_valid,
            "part_names": np.array(["body", "left_hand", "right_hand", "face"]),
            "frame_times": self.frame_times.astype(np.float64),
            "keypoints2d": self.keypoints2d.astype(np.float32),
            "camera_intrinsics": self.camera.K.astype(np.float64),
            "image_size": np.array(self.camera.size, np.int32),
            "camera_to_world": self.camera_to_world.astype(np.float64),
            "joints": self.joints.astype(np.float32), "model_path": np.array(self.model_path),
        }


def _locals_to_motion_arrays(local: np.ndarray, root_world: np.ndarray, rest: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """local (T, 55, 3, 3) with world root; root_world (T, 3) pelvis → poses (T,165), trans, joints."""
    G = chain_local(local)
    joints = fk_positions(G, bone_vectors(rest), root_world)
    poses = rot.to_rotvec(local).reshape(len(local), -1)
    return poses, root_world - rest[0], joints


# --------------------------------------------------------------------------------------------
# batch path
# --------------------------------------------------------------------------------------------
#: A measured hand size this far from the skeleton's re-solves with the hands scaled (within the range).
HAND_SCALE_TOLERANCE = 0.05
HAND_SCALE_RANGE = (0.7, 1.4)
#: Knuckles of the 21-point hand model (index, middle, ring, pinky MCP) and their SMPL-X joints per side.
_HAND_KNUCKLES = np.array([5, 9, 13, 17])
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
        ok = seq.present[:, 1 + side]
        if not ok.any():
            continue
        base = 33 + 21 * side
        px = seq.kp2d[ok][:, base + np.r_[0, _HAND_KNUCKLES], :2].astype(np.float64)   # (n, 5, 2)
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
    bones[25:55] *= scale
    rest = subject.rest.copy()
    for j in range(25, NUM_JOINTS):            # parents come before children in SMPL-X order
        rest[j] = rest[PARENTS[j]] + bones[j]
    return Subject.from_rest(rest, betas=subject.betas)


#: The batch path smooths mostly before the solve (its landmark targets, :func:`filters.target_sigma`);
#: the One-Euro pass after it (which also holds and fades parts that leave the picture) runs at
#: this share of the smoothing setting. Round trips with 10 mm keypoint noise (README): One-Euro
#: alone at 0.5 left 18–22 mm; targets at 20 ms, the refinement and One-Euro at 0.15 (the default
#: 0.5) 10.7–11.7 mm.
BATCH_ONE_EURO_SHARE = 0.3


def filter_zero_phase(times: np.ndarray, q: np.ndarray, root: np.ndarray, expression: np.ndarray,
                      arkit: np.ndarray, part_valid: np.ndarray, smoothing: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The batch path's smoothing: short dropouts of a hand or the face are bridged
    (:func:`filters.bridge_short_gaps`), then the One-Euro filter runs forward, then backward over its
    output (times mirrored), so the two lags cancel — a whole clip needs no causal filter. Arrays as in
    :meth:`MotionFilter.filter_sequence`: q (T, 55, 4), root (T, 3), expression (T, E), arkit (T, 52),
    part_valid (T, 4); returns the filtered four."""
    E = expression.shape[1]
    channels = np.concatenate([expression, arkit], axis=1)
    q, channels, part_valid = bridge_short_gaps(times, q, channels, part_valid,
                                                np.full(channels.shape[1], FACE_PART))
    expression, arkit = channels[:, :E], channels[:, E:]
    fwd = MotionFilter(smoothing=smoothing, num_expression=E).filter_sequence(
        times, q, root, expression, arkit, part_valid)
    if smoothing <= 0 or len(times) < 2:
        return fwd
    rev = slice(None, None, -1)
    back = MotionFilter(smoothing=smoothing, num_expression=E).filter_sequence(
        times[-1] - times[rev], *(a[rev] for a in fwd), part_valid[rev])
    return tuple(a[rev] for a in back)


def solve_sequence(seq: DetectionSeq, camera: Camera, model=None, hands: bool = True, face: bool = True,
                   smoothing: float = 0.5, subject: Subject | None = None, refined: bool = True) -> Motion:
    """Solve a whole clip of detections into a filtered world-space motion. ``refined``: finish
    the solve with the joint least-squares fit of all landmarks (:mod:`inference.refine`; the live
    path, one frame at a time in a time budget, does without it)."""
    T = len(seq)
    valid = seq.present[:, 0].copy()
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
        foot_vis = seq.kp2d[first, [POSE["left_heel"], POSE["right_heel"], POSE["left_foot_index"],
                                    POSE["right_foot_index"]], 2]
        M = world_frame(Gc[0], Jc[0], subject, foot_vis)
        loc = global_to_local(Gc)
        loc[:, 0] = M[:3, :3] @ Gc[:, 0]
        local[valid] = loc
        root_cam[valid] = Jc[:, 0]
    root_world = root_cam @ M[:3, :3].T + M[:3, 3]
    rest = subject.rest

    part_valid = seq.present.copy()
    part_valid[:, 1:3] &= hands & valid[:, None]
    part_valid[:, 3] &= face & valid
    solver = FaceSolver(model=model)
    face_px = np.concatenate([seq.kp2d[:, FACE, :2], seq.kpz[:, FACE, None]], axis=-1).astype(np.float64)
    fr = solver.solve_batch(face_px, part_valid[:, 3])
    local[:, J["jaw"]] = rot.axis_angle(fr.jaw)
    local[:, [J["left_eye_smplhf"], J["right_eye_smplhf"]]] = rot.axis_angle(fr.eyes)

    q, root_world, expression, arkit = rot.to_quat(local), root_world, fr.expression, fr.arkit
    shots = shot_ids(seq)
    for shot in range(int(shots[-1]) + 1 if T else 0):                # each shot filtered on its own
        frames = np.flatnonzero(shots == shot)
        span = slice(frames[0], frames[-1] + 1)
        q[span], root_world[span], expression[span], arkit[span] = filter_zero_phase(
            seq.times[span], q[span], root_world[span], expression[span], arkit[span], part_valid[span],
            smoothing * BATCH_ONE_EURO_SHARE)
    poses, trans, joints = _locals_to_motion_arrays(rot.quat_to_matrix(q), root_world, rest)
    betas = subject.betas if subject.betas is not None else np.zeros(10)
    return Motion(poses=poses, trans=trans, joints=joints, expression=expression, arkit=arkit,
                  valid=valid, part_valid=part_valid, frame_times=seq.times, keypoints2d=seq.kp2d,
                  camera=camera, camera_to_world=M, rest_joints=rest, betas=np.asarray(betas),
                  gender=getattr(model, "gender", "neutral"), model_path=str(getattr(model, "path", "")))


# --------------------------------------------------------------------------------------------
# streaming path
# --------------------------------------------------------------------------------------------
@dataclass
class FrameResult:
    """One live frame: local_rot (55, 3, 3) with world root, trans (3,), joints (55, 3),
    expression (E,), arkit (52,), part_valid (4,), time (s); local_quat (55, 4) x, y, z, w: the
    filter's quaternions local_rot was made from (None when a caller builds one from matrices)."""

    time: float
    local_rot: np.ndarray
    trans: np.ndarray
    joints: np.ndarray
    expression: np.ndarray
    arkit: np.ndarray
    part_valid: np.ndarray
    local_quat: np.ndarray | None = None


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
    frame is fixed at the first frame with a person. ``last_times`` holds the last step's
    :class:`StageTimes`. ``compiled`` False runs the passes through the numpy solver even where
    numba is installed (otherwise the compiled :mod:`live_kernel` runs them; ``self.compiled``
    says which).
    """

    def __init__(self, camera: Camera, model=None, hands: bool = True, face: bool = True,
                 smoothing: float = 0.5, warmup: int = 15, compiled: bool | None = None):
        self.camera, self.model, self.hands, self.face = camera, model, hands, face
        # the compiled lifting passes (live_kernel) when numba is installed: loaded (or compiled)
        # here, not on the first frame with a person
        self.compiled = live_kernel.warm_up() if compiled is None or compiled else False
        self.warmup = warmup
        self._seen: list[Detection] = []
        self._provisional: Subject | None = None
        self.subject: Subject | None = None
        self.camera_to_world: np.ndarray | None = None
        self.face_solver = FaceSolver(model=model)
        self.filter = MotionFilter(smoothing=smoothing, num_expression=self.face_solver.num_expression
                                   if hasattr(self.face_solver, "num_expression") else 10)
        self._last_local = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
        self._last_root = np.zeros(3)
        self._previous: list[np.ndarray] | None = None     # torso fits of the last frame's passes
        self._default_bones = bone_vectors(DEFAULT_REST)
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
            foot_vis = det.kp2d[[POSE["left_heel"], POSE["right_heel"], POSE["left_foot_index"],
                                 POSE["right_foot_index"]], 2]
            self.camera_to_world = world_frame(Gc, Jc, subject, foot_vis)
        M = self.camera_to_world
        local = global_to_local(pose.G)[0]
        local[0] = M[:3, :3] @ Gc[0]
        return local, M[:3, :3] @ Jc[0] + M[:3, 3]

    def step(self, det: Detection) -> FrameResult:
        """Solve, face and filter one detection (in stream order); ``last_times`` gets its stage
        timings."""
        t0 = time.perf_counter()
        part_valid = det.present.copy()
        part_valid[1:3] &= self.hands and bool(det.present[0])
        part_valid[3] &= self.face and bool(det.present[0])
        if det.present[0]:
            local, root = self._solve_body(det)
        else:
            local, root = self._last_local.copy(), self._last_root.copy()
            self._previous = None
        t1 = time.perf_counter()
        face_px = np.concatenate([det.kp2d[FACE, :2], det.kpz[FACE, None]], axis=-1).astype(np.float64)
        fr = self.face_solver.solve_frame(face_px, bool(part_valid[3]))
        t2 = time.perf_counter()
        local[EYES_JAW] = rot.axis_angle(np.concatenate([fr.jaw, fr.eyes[0]]).astype(np.float64))
        q_in = rot.to_quat(local)
        t3 = time.perf_counter()
        q, root_f, expr, arkit = self.filter.step(det.time, q_in, root, fr.expression[0], fr.arkit[0], part_valid)
        t4 = time.perf_counter()
        self._last_local, self._last_root = local, root
        rest = self.subject.rest if self.subject is not None else DEFAULT_REST
        bones = self.subject.bones if self.subject is not None else self._default_bones
        L = rot.quat_to_matrix(q)
        joints = fk_positions(chain_local(L[None]), bones, root_f[None])[0]
        t5 = time.perf_counter()
        self.last_times = StageTimes(solve=1e3 * (t1 - t0 + t3 - t2 + t5 - t4), face=1e3 * (t2 - t1),
                                     filter=1e3 * (t4 - t3))
        return FrameResult(time=det.time, local_rot=L, trans=root_f - rest[0], joints=joints,
                           expression=expr, arkit=arkit, part_valid=part_valid, local_quat=q)


__all__ = ["Motion", "solve_sequence", "LivePipeline", "FrameResult", "StageTimes", "solve_camera",
           "solve_camera_live", "warm_start", "estimate_subject", "scaled_rest",
           "measure_segments", "world_frame", "DEFAULT_FOV_DEG", "landmark_offsets"]
