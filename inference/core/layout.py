"""Every index of the detector layout, by name: the one place a keypoint number is written.

Layout (K = 553 keypoints, the MediaPipe Holistic topology every detector must produce):

=========  ==========  =====================================================
slice      count       content
=========  ==========  =====================================================
BODY       0:33        MediaPipe Pose landmarks (nose … right_foot_index)
LHAND      33:54       the subject's LEFT hand, MediaPipe Hands order
RHAND      54:75       the subject's RIGHT hand
FACE       75:553      MediaPipe Face Mesh with irises (478 points)
=========  ==========  =====================================================

The skeleton solver works on the first 75 (body + hands, :data:`LANDMARKS`); the face stage on the
478 face-mesh points, whose named indices are below too (``FACE_*``, in face-mesh numbering). Left
and right come in that order everywhere (the subject's left first). Also here: the part order of
``part_valid``, the 52 ARKit channel names and the expression width, each defined once.
"""
from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------------------------
# blocks of the 553 keypoints
# --------------------------------------------------------------------------------------------
NUM_BODY, NUM_HAND, NUM_FACE = 33, 21, 478
BODY = slice(0, NUM_BODY)
LHAND = slice(NUM_BODY, NUM_BODY + NUM_HAND)
RHAND = slice(NUM_BODY + NUM_HAND, NUM_BODY + 2 * NUM_HAND)
#: Where each hand's 21 landmarks start (left, right), in the keypoints and in the 75 landmarks.
HAND_START = (LHAND.start, RHAND.start)
HANDS = (LHAND, RHAND)
#: The 75 body + hand landmarks the skeleton is solved on.
NUM_LANDMARKS = RHAND.stop
LANDMARKS = slice(0, NUM_LANDMARKS)
FACE = slice(NUM_LANDMARKS, NUM_LANDMARKS + NUM_FACE)
NUM_KEYPOINTS = FACE.stop

# --------------------------------------------------------------------------------------------
# parts (``present``, ``part_valid``)
# --------------------------------------------------------------------------------------------
#: Part order used by ``present`` / ``part_valid`` (T, 4).
PARTS = ("body", "left_hand", "right_hand", "face")
PART_BODY, PART_LEFT_HAND, PART_RIGHT_HAND, PART_FACE = range(len(PARTS))
NUM_PARTS = len(PARTS)
#: The two hand parts, left and right (``present[:, PART_HANDS]``).
PART_HANDS = slice(PART_LEFT_HAND, PART_RIGHT_HAND + 1)

# --------------------------------------------------------------------------------------------
# body (MediaPipe Pose, 33)
# --------------------------------------------------------------------------------------------
POSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
POSE = {n: i for i, n in enumerate(POSE_NAMES)}


def pose_pair(name: str) -> np.ndarray:
    """(2,) the left and right pose landmark called ``left_<name>`` / ``right_<name>``."""
    return np.array([POSE[f"left_{name}"], POSE[f"right_{name}"]])


POSE_SHOULDERS, POSE_HIPS, POSE_WRISTS = pose_pair("shoulder"), pose_pair("hip"), pose_pair("wrist")
#: (4,) heels and toes: left heel, right heel, left toe, right toe.
POSE_FEET = np.concatenate([pose_pair("heel"), pose_pair("foot_index")])
#: (11,) the pose model's face points (nose, eyes, ears, mouth corners): the first 11.
POSE_FACE = np.arange(POSE["mouth_right"] + 1)
#: (2, 4) the pose model's own wrist, pinky, index and thumb of each hand (left, right): they
#: duplicate what the hand model finds.
POSE_HAND_POINTS = np.stack([pose_pair(n) for n in ("wrist", "pinky", "index", "thumb")], axis=1)

# --------------------------------------------------------------------------------------------
# hands (MediaPipe Hands, 21 each)
# --------------------------------------------------------------------------------------------
HAND_NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip",
    "index_dip", "index_tip", "middle_mcp", "middle_pip", "middle_dip", "middle_tip", "ring_mcp",
    "ring_pip", "ring_dip", "ring_tip", "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
HAND = {n: i for i, n in enumerate(HAND_NAMES)}
#: MediaPipe hand landmark index of the first joint of each SMPL-X finger (then +1, +2, tip +3).
HAND_FINGER_START = {"thumb": 1, "index": 5, "middle": 9, "ring": 13, "pinky": 17}
#: (4,) the knuckles (index, middle, ring, pinky MCP).
HAND_KNUCKLES = np.array([HAND["index_mcp"], HAND["middle_mcp"], HAND["ring_mcp"], HAND["pinky_mcp"]])
#: (6,) the landmarks rigid with the wrist: wrist, thumb CMC and the four knuckles.
HAND_PALM = np.concatenate([[HAND["wrist"], HAND["thumb_cmc"]], HAND_KNUCKLES])


def hand_slice(side: int) -> slice:
    """The 21 landmarks of hand ``side`` (0 left, 1 right) among the keypoints / landmarks."""
    return HANDS[side]


# --------------------------------------------------------------------------------------------
# face mesh (478, face-mesh numbering: add FACE.start for the keypoints)
# --------------------------------------------------------------------------------------------
#: (51,) MediaPipe face-mesh index of each iBUG-68 landmark 17..67 (the 68-point set without the
#: 17 jaw-contour points, which is SMPL-X's static face-landmark set). The widely used
#: MediaPipe ↔ dlib-68 correspondence; iBUG 36-41 is the subject's right eye.
IBUG51_FROM_MEDIAPIPE = np.array([
    70, 63, 105, 66, 107,            # 17-21 right brow, outer → inner
    336, 296, 334, 293, 300,         # 22-26 left brow, inner → outer
    168, 197, 5, 4,                  # 27-30 nose ridge, top → tip
    75, 97, 2, 326, 305,             # 31-35 nostrils, right → left
    33, 160, 158, 133, 153, 144,     # 36-41 right eye: outer, upper ×2, inner, lower ×2
    362, 385, 387, 263, 373, 380,    # 42-47 left eye: inner, upper ×2, outer, lower ×2
    61, 39, 37, 0, 267, 269, 291,    # 48-54 outer upper lip, right corner → left corner
    405, 314, 17, 84, 181,           # 55-59 outer lower lip, left → right
    78, 82, 13, 312, 308,            # 60-64 inner upper lip, right corner → left corner
    317, 14, 87,                     # 65-67 inner lower lip, left → right
], dtype=np.int64)

# Sides are ordered (left, right) = the subject's left then right, like ARKit and SMPL-X's eyes.
FACE_EYE_OUTER = np.array([263, 33])
FACE_EYE_INNER = np.array([362, 133])
FACE_EYE_UPPER = np.array([[387, 386, 385], [160, 159, 158]])   # upper lid, outer → inner
FACE_EYE_LOWER = np.array([[373, 374, 380], [144, 145, 153]])   # lower lid, same order
FACE_IRIS = np.array([473, 468])
FACE_MOUTH_CORNER = np.array([291, 61])
FACE_UPPER_LIP_SIDE = np.array([[267, 269], [37, 39]])          # outer upper lip, lateral points
FACE_LOWER_LIP_SIDE = np.array([[314, 405], [84, 181]])         # outer lower lip, lateral points
FACE_INNER_LIP_PAIRS = np.array([[13, 14], [82, 87], [312, 317]])  # inner upper / lower lip
FACE_BROW_INNER = np.array([[336, 296, 285, 295], [107, 66, 55, 65]])
FACE_BROW_OUTER = np.array([[300, 293, 276, 283], [70, 63, 46, 53]])
FACE_CHEEK = np.array([[280, 330, 347], [50, 101, 118]])         # below the eyes
FACE_NOSE_WING = np.array([[358, 294, 279], [129, 64, 49]])
FACE_NOSE_BASE, FACE_CHIN, FACE_BRIDGE = 2, 152, 168
FACE_UPPER_LIP, FACE_LOWER_LIP, FACE_UPPER_LIP_IN, FACE_LOWER_LIP_IN = 0, 17, 13, 14
FACE_FOREHEAD = np.array([10, 151, 9])
FACE_NOSE_RIDGE = np.array([197, 195, 5, 4])
# points of the upper face that expressions barely move (forehead, temples, nose bridge): the
# face stage measures the brows in a frame fitted to them and the eye corners
FACE_UPPER_RIGID = np.array([10, 151, 9, 8, 168, 21, 251, 54, 284, 103, 332, 67, 297, 109, 338, 127, 356])
#: The 71 points of each eye's region the iris model (and Holistic's attention face model) refines,
#: in that model's order: lids, then halos and brows. MediaPipe's image-left eye (around 33, the
#: subject's right) first, as ``update_face_landmarks_calculator.cc`` lists them.
FACE_EYE_REGIONS = np.array([
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
     130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
     226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
     35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
     156, 70, 63, 105, 66, 107, 55, 193],
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
     359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
     446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
     265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
     383, 300, 293, 334, 296, 336, 285, 417]])
#: Of each eye region, the first 16 are the lids.
NUM_EYELID = 16
#: The 80 lip points Holistic's attention face model refines (``tensors_to_face_landmarks_with_attention.pbtxt``).
FACE_LIPS_REFINED = np.array([
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407])
#: The face mesh without irises: the first 468 of the 478.
NUM_FACE_MESH = 468


# --------------------------------------------------------------------------------------------
# what the face stage outputs
# --------------------------------------------------------------------------------------------
#: The 52 Apple ARKit blendshape names in Apple's canonical (Live Link Face) order.
#: "Left" is the subject's left, as in ARKit.
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
NUM_ARKIT = len(ARKIT_NAMES)
ARKIT_INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_NAMES)}
#: Channels that are always 0 (not observable from face-mesh landmarks).
ARKIT_UNOBSERVED: tuple[str, ...] = ("cheekPuff", "tongueOut")

#: Width of the SMPL-X expression vector in every output, record and ring (the first 10
#: coefficients; zeros without a model).
NUM_EXPRESSION = 10
