"""The face from the body pose, as MediaPipe Holistic finds it
(``mediapipe/modules/holistic_landmark/face_landmarks_from_pose_cpu.pbtxt``), with irises:

1. a rough ROI from the pose's 11 face points (``FaceLandmarksFromPoseToRecropRoi``);
2. the short-range face detector inside it → the re-crop ROI from its keypoints
   (``FaceDetectionFrontDetectionsToRoi``); no detection, no face;
3. in video, last frame's face ROI instead while it still fits (``FaceTracking``);
4. ``face_landmark`` on the 192 × 192 crop: 468 points and the face flag (``FaceLandmarkCpu``);
5. ``iris_landmark`` on both eyes' 64 × 64 crops (the right eye mirrored), as MediaPipe's iris
   graph (``iris_landmark_cpu.pbtxt``): 5 iris points per eye and the eye contours.

Holistic with ``refine_face_landmarks`` runs ``face_landmark_with_attention`` instead of steps 4–5
(which we cannot convert); its 478 points are in the order built here: the 468 mesh points, the
left-image-side iris (around mesh point 33) 468–472, the other 473–477, each iris's depth the
mean of its eyelids', as its ``LandmarksRefinement`` does. Points are picture pixels, depth
MediaPipe's z × picture width.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ...core.layout import (FACE_EYE_INNER, FACE_EYE_OUTER, FACE_EYE_REGIONS, NUM_EYELID, NUM_FACE,
                           NUM_FACE_MESH, POSE, POSE_FACE)
from . import face_detection
from . import rects as R
from .roi import crops_of, to_image
from .runner import OrtModel

MESH_MODEL, IRIS_MODEL = "face_landmark", "iris_landmark"
MESH_SIZE, IRIS_SIZE = 192, 64
NUM_MESH, NUM_IRIS, NUM_CONTOUR = NUM_FACE_MESH, 5, FACE_EYE_REGIONS.shape[1]
#: The pose's face points (nose … mouth) and within them right eye → left eye, which set the ROI's
#: rotation (``face_landmarks_from_pose_to_recrop_roi.pbtxt``), and its scale.
POSE_RIGHT_EYE, POSE_LEFT_EYE, POSE_ROI_SCALE = POSE["right_eye"], POSE["left_eye"], 3.0
#: ROI from the detector's keypoints (right eye 0 → left eye 1), ``face_detection_front_detections_to_roi.pbtxt``.
DETECTION_SCALE, DETECTION_SHIFT_Y = 2.0, -0.1
#: ROI from last frame's mesh (points 33 → 263), ``face_landmarks_to_roi.pbtxt``.
TRACK_START, TRACK_END, TRACK_SCALE = FACE_EYE_OUTER[1], FACE_EYE_OUTER[0], 1.5
#: When last frame's ROI is kept (``face_tracking.pbtxt``).
TRACKING = R.TrackingRule(rotation_degrees=15.0, translation=0.1, scale=0.3, recrop_margin=-0.2)
#: Face flag threshold (after a sigmoid), ``face_landmark_cpu.pbtxt``.
PRESENCE = 0.5
#: Eye corners that place each eye's crop (image-left eye first, then the other, which the
#: iris model sees mirrored), ``iris_tracking_cpu.pbtxt``; ROI scale ``iris_landmark_landmarks_to_roi.pbtxt``.
EYE_CORNERS = np.array([[FACE_EYE_OUTER[1], FACE_EYE_INNER[1]], [FACE_EYE_INNER[0], FACE_EYE_OUTER[0]]])
EYE_SCALE = 2.3
#: Mesh points of each eye's 71 contour points as the iris model orders them; the first 16 (the
#: lids) give the iris its depth.
EYE_CONTOURS, EYELID = FACE_EYE_REGIONS, NUM_EYELID
#: Refine the mesh's eye contours (x, y) by the iris model's, as the attention model refines them?
#: Measured against Holistic's attention model it brings them further off (eyes' median 0.5 → 1.0 px
#: on messi5.jpg), so the mesh's own eye contours are kept.
REFINE_EYES = False


@dataclass
class Faces:
    """Faces of N frames. points (N, 478, 3) float64 pixel u, v and depth (z × picture width);
    present (N,) bool; score (N,) face flag; rects (N, 5) the ROI the mesh model saw (NaN where none)."""
    points: np.ndarray
    present: np.ndarray
    score: np.ndarray
    rects: np.ndarray


def pose_rects(pose: np.ndarray) -> np.ndarray:
    """Pose (N, 33, ≥2) pixels → (N, 5) the face ROI the detector searches
    (``FaceLandmarksFromPoseToRecropRoi``)."""
    rects = R.points_rects(pose[:, POSE_FACE, :2], POSE_RIGHT_EYE, POSE_LEFT_EYE, 0.0, clamp=True)
    return R.transform(rects, POSE_ROI_SCALE)


def detection_rects(keypoints: np.ndarray) -> np.ndarray:
    """Detector keypoints (N, 6, 2) pixels → (N, 5) the face ROI (``FaceDetectionFrontDetectionsToRoi``)."""
    return R.transform(R.points_rects(keypoints, 0, 1, 0.0), DETECTION_SCALE, DETECTION_SHIFT_Y)


def landmark_rects(points: np.ndarray) -> np.ndarray:
    """Face points (N, K, 2) pixels → (N, 5) the tracking ROI (``FaceLandmarksToRoi``)."""
    return R.transform(R.points_rects(points, TRACK_START, TRACK_END, 0.0, clamp=True), TRACK_SCALE)


def run_mesh(model: OrtModel, images: Sequence[np.ndarray], owner: np.ndarray,
             rects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``face_landmark`` on ROIs (M, 5) → points (M, 468, 3) pixels and depth, face flag (M,)."""
    m = len(rects)
    out = model(crops_of(images, owner, rects, MESH_SIZE))
    raw = out["conv2d_21"].reshape(m, NUM_MESH, 3).astype(np.float64)
    points = np.empty_like(raw)
    points[..., :2] = to_image(raw[..., :2], rects, MESH_SIZE)
    points[..., 2] = raw[..., 2] / MESH_SIZE * rects[:, 2:3]
    score = 1 / (1 + np.exp(-out["conv2d_31"].reshape(m).astype(np.float64)))
    return points, score


def eye_rects(mesh: np.ndarray) -> np.ndarray:
    """Mesh points (M, 468, 2) → (M, 2, 5) both eyes' ROIs (``IrisLandmarkLandmarksToRoi``)."""
    corners = mesh[:, EYE_CORNERS.ravel(), :2].reshape(-1, 2, 2)
    return R.transform(R.points_rects(corners, 0, 1, 0.0, clamp=True), EYE_SCALE).reshape(-1, 2, 5)


def eye_crop(image: np.ndarray, rect: np.ndarray, mirror: bool) -> np.ndarray:
    """(64, 64, 3) float32 [0, 1] the iris model's input, as MediaPipe makes it: the ROI cut out at
    its own size, rounded (``ImageCroppingCalculator``: nearest pixel, replicated border, pixel
    centres at ½), resized to 64 × 64 (area when shrinking, else bilinear), mirrored for the right eye."""
    cx, cy, w, h, th = rect
    cw, ch = max(int(np.round(w)), 1), max(int(np.round(h)), 1)
    if th == 0.0:       # MediaPipe snaps an unrotated crop onto the pixel grid
        cx = np.round(cx) if cw % 2 == 0 else np.round(cx + 0.5) - 0.5
        cy = np.round(cy) if ch % 2 == 0 else np.round(cy + 0.5) - 0.5
    c, s = np.cos(th), np.sin(th)
    # crop pixel index (j, i) → picture pixel index: centre + R · (j + ½ − cw/2, i + ½ − ch/2) − ½
    m = np.array([[c, -s, cx + c * (0.5 - cw / 2) - s * (0.5 - ch / 2) - 0.5],
                  [s, c, cy + s * (0.5 - cw / 2) + c * (0.5 - ch / 2) - 0.5]])
    cut = cv2.warpAffine(image, m, (cw, ch), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    shrink = min(IRIS_SIZE / cw, IRIS_SIZE / ch) < 1.0
    eye = cv2.resize(cut, (IRIS_SIZE, IRIS_SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if mirror:
        eye = eye[:, ::-1]
    return eye.astype(np.float32) / 255.0


def run_iris(model: OrtModel, images: Sequence[np.ndarray], owner: np.ndarray,
             mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``iris_landmark`` on both eyes of M meshes (M, 468, 3) → irises (M, 2, 5, 3) and eye contours
    (M, 2, 71, 3), pixels and depth (z × picture width)."""
    m = len(mesh)
    rects = eye_rects(mesh)
    batch = np.stack([eye_crop(images[owner[k]], rects[k, e], mirror=e == 1) for k in range(m) for e in (0, 1)])
    out = model(batch)
    raw = np.concatenate([out["output_iris"].reshape(2 * m, NUM_IRIS, 3),
                          out["output_eyes_contours_and_brows"].reshape(2 * m, NUM_CONTOUR, 3)], axis=1)
    raw = raw.astype(np.float64)
    mirrored = np.tile([False, True], m)
    raw[mirrored, :, 0] = IRIS_SIZE - raw[mirrored, :, 0]       # un-mirror the right eye
    flat = rects.reshape(-1, 5)
    pts = np.empty_like(raw)
    pts[..., :2] = to_image(raw[..., :2], flat, IRIS_SIZE)
    pts[..., 2] = raw[..., 2] / IRIS_SIZE * flat[:, 2:3]
    pts = pts.reshape(m, 2, NUM_IRIS + NUM_CONTOUR, 3)
    return pts[:, :, :NUM_IRIS], pts[:, :, NUM_IRIS:]


def assemble(mesh: np.ndarray, irises: np.ndarray, contours: np.ndarray, refine_eyes: bool = REFINE_EYES) -> np.ndarray:
    """Mesh (M, 468, 3), irises (M, 2, 5, 3), eye contours (M, 2, 71, 3) → (M, 478, 3) in the
    refined face-mesh order."""
    points = np.concatenate([mesh, irises.reshape(-1, 2 * NUM_IRIS, 3)], axis=1)
    if refine_eyes:
        points[:, EYE_CONTOURS.ravel(), :2] = contours[..., :2].reshape(len(mesh), -1, 2)
    lid_depth = mesh[:, EYE_CONTOURS[:, :EYELID], 2].mean(axis=2)             # (M, 2)
    points[:, NUM_MESH:, 2] = np.repeat(lid_depth, NUM_IRIS, axis=1)
    return points


class HolisticFace:
    """Holistic's face from the pose. ``track=True`` (video) keeps last frame's face ROI while it
    still fits, as Holistic's ``FaceTracking``; then the N frames of a call are consecutive frames.
    ``track=False`` treats every frame alone (one model call per stage for the whole batch)."""

    def __init__(self, detector: OrtModel, mesh: OrtModel, iris: OrtModel, track: bool = True,
                 refine_eyes: bool = REFINE_EYES):
        self.detector, self.mesh, self.iris, self.track = detector, mesh, iris, track
        self.refine_eyes = refine_eyes
        self.reset()

    def reset(self) -> None:
        """Forget last frame's face (a new clip)."""
        self._prev = None

    def __call__(self, images: Sequence[np.ndarray], pose: np.ndarray, body: np.ndarray | None = None) -> Faces:
        """images N RGB uint8 pictures; pose (N, 33, ≥2) pixels; body (N,) bool where a pose was
        found (default all) → :class:`Faces`."""
        n = len(images)
        body = np.ones(n, bool) if body is None else np.asarray(body, bool)
        idx = np.flatnonzero(body)
        keypoints, found = face_detection.detect_keypoints(
            self.detector, images, idx, pose_rects(np.asarray(pose, np.float64)[idx]))
        recrop = np.full((n, 5), np.nan)
        recrop[idx[found]] = detection_rects(keypoints[found])
        wanted = np.zeros(n, bool)
        wanted[idx[found]] = True
        if not self.track:
            return self._landmarks(images, recrop, wanted)
        return _stack([self._track_one(images, i, recrop, wanted) for i in range(n)])

    def _track_one(self, images, i, recrop, wanted) -> Faces:
        rects = recrop.copy()
        if self._prev is not None and wanted[i]:
            prev = self._prev[None]
            if R.keep_tracking(landmark_rects(prev), prev, recrop[i:i + 1], TRACKING)[0]:
                rects[i] = landmark_rects(prev)[0]
        one = np.zeros_like(wanted)
        one[i] = wanted[i]
        faces = self._landmarks(images, rects, one)
        self._prev = faces.points[i, :, :2] if faces.present[i] else None
        return Faces(faces.points[i:i + 1], faces.present[i:i + 1], faces.score[i:i + 1], faces.rects[i:i + 1])

    def _landmarks(self, images, rects, wanted) -> Faces:
        n = len(wanted)
        idx = np.flatnonzero(wanted)
        points = np.zeros((n, NUM_FACE, 3))
        score = np.zeros(n)
        if len(idx):
            mesh, score[idx] = run_mesh(self.mesh, images, idx, rects[idx])
            ok = score[idx] > PRESENCE
            if ok.any():
                irises, contours = run_iris(self.iris, images, idx[ok], mesh[ok])
                points[idx[ok]] = assemble(mesh[ok], irises, contours, self.refine_eyes)
        present = score > PRESENCE
        return Faces(points, present, score, np.where(wanted[:, None], rects, np.nan))


def _stack(faces: list[Faces]) -> Faces:
    return Faces(*(np.concatenate([getattr(f, k) for f in faces]) for k in Faces.__dataclass_fields__))
