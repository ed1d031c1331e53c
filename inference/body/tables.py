"""The solver's tables and tuning, written once: both backends (numpy :mod:`.solve` and the
compiled :mod:`.solve_numba`) take every index, block order and threshold from here.

Index tables pair left and right (left first); ``LM_*`` are landmark indices among the 75 body +
hand landmarks, the other names SMPL-X joints. The compiled twin receives all of this as
arguments (never as globals frozen into its cache), so tuning here can never leave a stale
compiled solver behind.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import HAND, HAND_FINGER_START, HAND_PALM, HAND_START, NUM_LANDMARKS, POSE_FACE, pose_pair
from ..core.skeleton import EYES, FINGERS, JAW, JOINT_INDEX, NUM_JOINTS

J = JOINT_INDEX
_LR = ("left", "right")


def _pair(name: str) -> np.ndarray:
    return np.array([J[f"left_{name}"], J[f"right_{name}"]])


# --------------------------------------------------------------------------------------------
# joints and landmarks
# --------------------------------------------------------------------------------------------
HIP, KNEE, ANKLE, FOOT = _pair("hip"), _pair("knee"), _pair("ankle"), _pair("foot")
COLLAR, SHOULDER, ELBOW, WRIST = _pair("collar"), _pair("shoulder"), _pair("elbow"), _pair("wrist")
PELVIS = J["pelvis"]
LM_SHOULDER, LM_ELBOW, LM_WRIST = pose_pair("shoulder"), pose_pair("elbow"), pose_pair("wrist")
LM_HIP, LM_KNEE, LM_ANKLE = pose_pair("hip"), pose_pair("knee"), pose_pair("ankle")
LM_HEEL, LM_TOE = pose_pair("heel"), pose_pair("foot_index")
LM_PINKY, LM_INDEX = pose_pair("pinky"), pose_pair("index")
LM_FACE = POSE_FACE  # nose, eyes, ears, mouth corners of the pose model
HAND_BASE = np.array(HAND_START)  # where each hand's 21 landmarks start in the 75-landmark block

#: (2, 5, 3) finger joints per side in SMPL-X finger order (index, middle, pinky, ring, thumb).
FINGER_JOINTS = np.array([[[J[f"{s}_{f}{k}"] for k in (1, 2, 3)] for f in FINGERS] for s in _LR])
#: (5, 4) MediaPipe hand landmark of each finger joint and the tip, same finger order.
FINGER_LMS = np.array([[HAND_FINGER_START[f] + k for k in range(4)] for f in FINGERS])
#: (6,) hand landmarks rigid with the wrist (wrist, thumb CMC, index/middle/ring/pinky MCP) and the
#: (2, 6) joints they sit on.
PALM_LMS = HAND_PALM
PALM_JOINTS = np.array([[J[f"{s}_wrist"]] + [J[f"{s}_{f}1"] for f in ("thumb", "index", "middle", "ring", "pinky")]
                        for s in _LR])


def _lm_slice(pair: np.ndarray) -> slice:
    """The left/right landmark pair as a slice (a view, cheaper than indexing with the pair)."""
    assert pair[1] == pair[0] + 1
    return slice(int(pair[0]), int(pair[1]) + 1)


S_SHOULDER, S_ELBOW, S_WRIST = _lm_slice(LM_SHOULDER), _lm_slice(LM_ELBOW), _lm_slice(LM_WRIST)
S_KNEE, S_ANKLE, S_HEEL, S_TOE = _lm_slice(LM_KNEE), _lm_slice(LM_ANKLE), _lm_slice(LM_HEEL), _lm_slice(LM_TOE)
S_INDEX, S_PINKY = _lm_slice(LM_INDEX), _lm_slice(LM_PINKY)
S_FACE = slice(0, len(LM_FACE))
assert (LM_FACE == np.arange(len(LM_FACE))).all()

#: (4, 2) the leg chains, hip → foot, left and right.
LEGS = np.stack([HIP, KNEE, ANKLE, FOOT])
SPINE = np.array([J["spine1"], J["spine2"], J["spine3"]])
NECK, HEAD = J["neck"], J["head"]
FORWARD = np.array([0.0, 0.0, 1.0])  # +Z, the body's forward in rest
BACK = np.array([0.0, 0.0, -1.0])  # the elbow points backwards when the forearm bends forward

# --------------------------------------------------------------------------------------------
# blocks: the order in which both backends assemble a pose
# --------------------------------------------------------------------------------------------
#: (3, 2, 5) the finger joints in their block's order: phalanx 1, 2, 3; left, right; FINGERS order.
FINGER_BLOCK = np.moveaxis(FINGER_JOINTS, 2, 0)


def _blocks(*parts) -> tuple[np.ndarray, tuple[slice, ...]]:
    """The joints of the blocks, concatenated, and each block's slice of that order."""
    stops = np.cumsum([np.size(p) for p in parts])
    return (np.concatenate([np.ravel(p) for p in parts]),
            tuple(slice(int(b - np.size(p)), int(b)) for p, b in zip(parts, stops)))


#: (55,) joint order in which both backends stack their solved rotations, in blocks (``B_*``:
#: slices of it): pelvis, spine, collars, neck, head (with the jaw and eyes, which follow it),
#: shoulders, elbows, wrists, finger joints (:data:`FINGER_BLOCK`), legs (:data:`LEGS`, flattened);
#: FROM_BLOCKS permutes such a stack back to SMPL-X order.
BLOCK_ORDER, (B_PELVIS, B_SPINE, B_COLLAR, B_NECK, B_HEAD, B_SHOULDER, B_ELBOW, B_WRIST, B_FINGERS, B_LEGS) = _blocks(
    [PELVIS], SPINE, COLLAR, [NECK], [HEAD, JAW, *EYES], SHOULDER, ELBOW, WRIST, FINGER_BLOCK, LEGS)
FROM_BLOCKS = np.argsort(BLOCK_ORDER)
assert len(BLOCK_ORDER) == NUM_JOINTS and (np.sort(BLOCK_ORDER) == np.arange(NUM_JOINTS)).all()

# --------------------------------------------------------------------------------------------
# target frames: rotations that come straight from the landmarks
# --------------------------------------------------------------------------------------------
#: Rows of the target frames (FRAME_TARGETS, ``Rig.target_frame_t``): pelvis, chest, hands from
#: their landmarks, hands from the pose model's knuckles, feet; pairs left then right.
FR_PELVIS, FR_CHEST, FR_HANDS, FR_POSE_HANDS, FR_FEET = 0, 1, slice(2, 4), slice(4, 6), slice(6, 8)
NUM_FRAMES = 8


def _frame_target_map() -> np.ndarray:
    """(2 NUM_FRAMES, 75): ``map @ Q`` gives the two vectors each target frame is built from (rows
    0..7 the first, 8..15 the second; frames in FR_* order): pelvis (hip line, trunk axis), chest
    (shoulder line, trunk axis), hands from their landmarks (wrist → middle knuckle, pinky → index
    knuckle), hands from the pose model's knuckles, feet (heel → toe, heel → ankle)."""
    M = np.zeros((2 * NUM_FRAMES, NUM_LANDMARKS))
    trunk = {LM_SHOULDER[0]: 0.5, LM_SHOULDER[1]: 0.5, LM_HIP[0]: -0.5, LM_HIP[1]: -0.5}
    rows = {FR_PELVIS: ({LM_HIP[0]: 1.0, LM_HIP[1]: -1.0}, trunk),
            FR_CHEST: ({LM_SHOULDER[0]: 1.0, LM_SHOULDER[1]: -1.0}, trunk)}
    for side in range(2):
        h = HAND_BASE[side]
        rows[FR_HANDS.start + side] = ({h + HAND["middle_mcp"]: 1.0, h + HAND["wrist"]: -1.0},
                                       {h + HAND["index_mcp"]: 1.0, h + HAND["pinky_mcp"]: -1.0})
        rows[FR_POSE_HANDS.start + side] = ({LM_INDEX[side]: 0.5, LM_PINKY[side]: 0.5, LM_WRIST[side]: -1.0},
                                            {LM_INDEX[side]: 1.0, LM_PINKY[side]: -1.0})
        rows[FR_FEET.start + side] = ({LM_TOE[side]: 1.0, LM_HEEL[side]: -1.0},
                                      {LM_ANKLE[side]: 1.0, LM_HEEL[side]: -1.0})
    assert sorted(rows) == list(range(NUM_FRAMES))
    for r, (a, b) in rows.items():
        for k, v in a.items():
            M[r, k] += v
        for k, v in b.items():
            M[NUM_FRAMES + r, k] += v
    return M


FRAME_TARGETS = _frame_target_map()

# --------------------------------------------------------------------------------------------
# what the landmarks leave open
# --------------------------------------------------------------------------------------------
FACE_WEIGHT_FLOOR = 1e-3  # added to the face points' confidences: the head fit never has all-zero weights
#: The bend plane of a limb (the middle joint's offset from the base → end line, relative to the
#: upper bone) is believed from BEND_SEEN_LO on, fully from BEND_SEEN_HI; a straighter limb blends
#: into its fallback direction.
BEND_SEEN_LO, BEND_SEEN_HI = 0.04, 0.2
#: A bend against the fallback (cosine below -BEND_AGAINST) that is slight (offset under BEND_CLEAR
#: of the upper bone, about 30°) is taken for noise on a nearly straight limb: no flip.
BEND_AGAINST, BEND_CLEAR = 0.5, 0.5
#: Heel and toe confidence from which the foot's own direction and frame are blended in (fully from
#: FOOT_SEEN_HI); below FOOT_SEEN_LO the thigh's forward is the knee's fallback and the ankle hinges.
FOOT_SEEN_LO, FOOT_SEEN_HI = 0.3, 0.6
POSE_HAND_SEEN = 0.6  # pose-model index and pinky knuckles above this orient a wrist without hand landmarks
TWIST_SHARE = 0.5  # the neck and forearms take this share of the head's and wrists' twist about the bone
#: (3, 2, 5) finger joints whose bend is limited to about the finger's plane of flexion (towards
#: the palm): all three joints of the four fingers, the knuckles (phalanx 1) swinging out of it by
#: at most MCP_ABDUCTION, the middle and end joints (near hinges) by at most FINGER_SIDEWAYS (the
#: AMASS sample's hands, solved, reach 17° at every joint: the solve's finger frames carry no
#: twist, so a twisted phalanx shows as a sideways bend of its child). A nearly straight finger's
#: sideways noise (a bend-axis flip on landmarks a few pixels apart) then turns no joint far
#: sideways, and a joint bends back by at most its hyperextension (MCP_HYPEREXTENSION,
#: FINGER_HYPEREXTENSION); a bend beyond either end of its range is held at the nearer end, round
#: the circle (a curled finger's noise past full flexion stays flexed instead of flipping back).
FINGER_PLANAR = np.zeros((3, 2, 5), bool)
FINGER_PLANAR[:, :, [FINGERS.index(f) for f in ("index", "middle", "ring", "pinky")]] = True
MCP_ABDUCTION, MCP_HYPEREXTENSION = 0.35, 0.5      # radians
FINGER_SIDEWAYS, FINGER_HYPEREXTENSION = 0.3, 0.2  # radians, middle and end joints
FINGER_FLEXION = 1.9                               # radians, every finger joint (MAX_ANGLE too)
PALM_DOWN = np.array([0.0, -1.0, 0.0])  # the palm's side in SMPL-X's rest (palms down): fingers flex towards it
#: Side checks of the detected hands (:mod:`.hands`), in units of the hand's 2D size (the longer
#: side of its bounding box): a hand's wrist at most HAND_REACH from its own pose wrist; two hands
#: whose landmarks lie within HAND_DUPLICATE of each other (median), one of them with its wrist
#: more than HAND_NEAR from its own pose wrist, are one hand found twice (on the basketball clip
#: such pairs lie within 0.05-0.22 and 0.45-0.85 away; two hands held together at their own wrists
#: in the AMASS sample, 0.3 and under 0.25).
HAND_REACH, HAND_DUPLICATE, HAND_NEAR = 1.5, 0.25, 0.4
#: A hand this many pixels across (or more) has its finger landmarks believed fully frame to frame;
#: a smaller one in proportion, down to HAND_CONFIDENCE_FLOOR (:func:`.hands.hand_confidence`).
HAND_CLEAR_PX, HAND_CONFIDENCE_FLOOR = 160.0, 0.1
LEG_VISIBLE = 0.5  # knee and ankle visibility below this: the leg hangs straight
MIN_DEPTH = 0.05  # metres: the nearest a landmark is placed on its pixel ray

# --------------------------------------------------------------------------------------------
# torso fit
# --------------------------------------------------------------------------------------------
#: Its parameters: pelvis tilt about the hip line, the spine joints' shared rotation vector, the
#: collar swings (left up, left forward-or-back, right up, right forward-or-back).
TORSO_TILT, TORSO_SPINE, TORSO_COLLARS = 0, slice(1, 4), slice(4, 8)
NUM_TORSO = 8
# Torso fit weights (metres of shoulder error traded per radian of rotation).
#: How the pelvis→chest bend is shared by spine1/2/3 (sums to 3): 50 / 30 / 20 %, lumbar first, as in
#: the range of motion of the lumbar vs. thoracic spine (and in AMASS: mean local rotation 0.43 / 0.26 /
#: 0.18 rad on the sample sequence).
SPINE_SHARE = np.array([1.5, 0.9, 0.6])
W_COLLAR = 0.06   # collars prefer the scapulohumeral rhythm's position (:func:`collar_rhythm`)
COLLAR_PROTRACTION = 0.35  # radians of collar protraction with an arm straight forward
W_CHEST = 0.1     # chest prefers the frame of the shoulder line and trunk axis (also conditions the fit)
W_TILT = 0.02     # pelvis tilt prefers the trunk axis
W_HEAD = 1.0      # the head must be reachable through a neck bent halfway
HEAD_MID = 0.5    # the point along the head bone the fit puts where the face places it (Rig.torso_vectors)
#: Scapulohumeral rhythm (Inman, 2:1 glenohumeral : scapulothoracic): the first RHYTHM_FREE of arm
#: elevation (from hanging) is the shoulder joint's alone, beyond it the girdle takes one part in
#: RHYTHM_RATIO; RHYTHM_REST is that excess at SMPL-X's rest (T-pose, 90°), the collars' zero.
RHYTHM_FREE, RHYTHM_REST, RHYTHM_RATIO = np.pi / 6, np.pi / 3, 3.0
#: Gauss-Newton iterations of the torso fit: at most TORSO_ITERS_* from scratch (cold) or from a
#: warm start (the previous frame's solution, live path), stopping once every parameter's step is
#: below TORSO_*_TOL radians. Cold fits run to convergence so that the batch result does not depend
#: on where the fit started (the live path, starting elsewhere, then lands on the same solution).
TORSO_ITERS_COLD, TORSO_COLD_TOL = 20, 1e-6
TORSO_ITERS_WARM, TORSO_WARM_TOL = 10, 1e-2
#: The box the torso parameters stay in (tilt, spine rotation vector per component, collars): on
#: garbage detections the fit would otherwise run off to hundreds of radians, and a live frame
#: warm-starts from the last one's fit.
TORSO_BOUND = np.array([np.pi / 2, 1.0, 1.0, 1.0, np.pi / 2, np.pi / 2, np.pi / 2, np.pi / 2])
FD_STEP = 1e-4                                                                # forward-difference step
FD_PROBES = np.concatenate([np.zeros((1, NUM_TORSO)), FD_STEP * np.eye(NUM_TORSO)])  # (9, 8) base + 8 probes
DAMPING_W = 1e-6                                                              # Levenberg damping
DAMPING = DAMPING_W * np.eye(NUM_TORSO)
#: (8,) weights of the parameter priors: tilt, (spine: none), collars.
PRIOR_W = np.array([W_TILT, 0.0, 0.0, 0.0, W_COLLAR, W_COLLAR, W_COLLAR, W_COLLAR])
assert len(TORSO_BOUND) == len(PRIOR_W) == NUM_TORSO == TORSO_COLLARS.stop

# --------------------------------------------------------------------------------------------
# joint limits
# --------------------------------------------------------------------------------------------
KNEE_HYPEREXTENSION = 0.25  # radians a knee may bend backwards (about -X) before the limit holds it
#: (55,) maximum local rotation angle in radians (joint limits).
MAX_ANGLE = np.full(NUM_JOINTS, 1.9)
MAX_ANGLE[[PELVIS]] = np.pi
MAX_ANGLE[SPINE] = 1.0
MAX_ANGLE[[NECK]] = 1.1
MAX_ANGLE[[HEAD]] = 1.0
MAX_ANGLE[COLLAR] = 1.1
MAX_ANGLE[SHOULDER] = np.pi
MAX_ANGLE[ELBOW] = 2.7
MAX_ANGLE[WRIST] = 2.4
MAX_ANGLE[HIP] = 2.6
MAX_ANGLE[KNEE] = 2.6
MAX_ANGLE[ANKLE] = 1.5
MAX_ANGLE[FOOT] = 0.8
MAX_ANGLE[[JAW]] = 0.6
MAX_ANGLE[EYES] = 0.6
MAX_ANGLE[FINGER_JOINTS.ravel()] = FINGER_FLEXION
#: (9,) picks the trace out of a flattened 3 × 3 matrix.
IDENTITY_TRACE_ROW = np.eye(3).reshape(9)
#: (54,) trace of a local rotation at its joint's angle limit (joints 1..54): 1 + 2 cos(limit).
TRACE_AT_LIMIT = 1.0 + 2.0 * np.cos(MAX_ANGLE[1:])
TRACE_AT_KNEE_LIMIT = 1.0 + 2.0 * np.cos(KNEE_HYPEREXTENSION)    # a knee rotation at that angle
IS_KNEE = np.isin(np.arange(1, NUM_JOINTS), KNEE)                 # (54,) over joints 1..54
