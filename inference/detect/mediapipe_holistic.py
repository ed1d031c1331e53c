"""The embedded detector: MediaPipe Holistic (``mediapipe==0.10.21``, models bundled in the
wheel, nothing downloaded), behind the :class:`~.base.Detector` interface.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.errors import DetectorError
from ..core.layout import BODY, FACE, LHAND, NUM_KEYPOINTS, PART_BODY, PART_FACE, PART_LEFT_HAND, PART_RIGHT_HAND, RHAND
from ..core.records import Detection, Frame


class MediaPipeHolisticDetector:
    """MediaPipe Holistic: 33 body landmarks (+ metric world coordinates), 21 per hand, 478 face.

    ``static_images=True`` runs full detection on every picture (photos, folders); ``False`` tracks
    across video frames, which is faster and steadier. Only ``model_complexity=1`` is bundled in
    the wheel: other complexities would download weights, so they are not offered.
    """

    name = "mediapipe-holistic"

    def __init__(self, static_images: bool = False, hands: bool = True, face: bool = True,
                 min_confidence: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            from mediapipe.python.solutions import holistic  # noqa: PLC0415 (heavy import)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DetectorError(
                f"cannot import mediapipe ({exc}): run scripts/demo.sh once to create the worker "
                "environment, or pip install mediapipe==0.10.21 into the worker's Python") from exc
        self.hands, self.face = hands, face
        self._holistic = holistic.Holistic(
            static_image_mode=static_images, model_complexity=1, smooth_landmarks=not static_images,
            refine_face_landmarks=face, min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence)

    def preprocess(self, frame: Frame) -> np.ndarray:
        """(H, W, 3) uint8 BGR → contiguous RGB, read-only (lets MediaPipe avoid a copy)."""
        rgb = np.ascontiguousarray(frame.image[:, :, ::-1])
        rgb.flags.writeable = False
        return rgb

    def infer(self, rgb: np.ndarray) -> Any:
        return self._holistic.process(rgb)

    def postprocess(self, out: Any, frame: Frame) -> Detection:
        h, w = frame.image.shape[:2]
        det = Detection.empty(frame.time, (w, h))
        parts = ((out.pose_landmarks, BODY, PART_BODY, True),
                 (out.left_hand_landmarks, LHAND, PART_LEFT_HAND, self.hands),
                 (out.right_hand_landmarks, RHAND, PART_RIGHT_HAND, self.hands),
                 (out.face_landmarks, FACE, PART_FACE, self.face))
        for landmarks, sl, part, wanted in parts:
            if landmarks is None or not wanted:
                continue
            a = _landmark_array(landmarks)
            n = sl.stop - sl.start
            if a.shape[0] < n:  # face mesh without irises (468): leave the irises undetected
                a = np.concatenate([a, np.zeros((n - a.shape[0], 4), np.float32)])
            det.kp2d[sl, 0] = a[:n, 0] * w
            det.kp2d[sl, 1] = a[:n, 1] * h
            det.kp2d[sl, 2] = a[:n, 3] if part == PART_BODY else (a[:n, 0] != 0).astype(np.float32)
            det.kpz[sl] = a[:n, 2] * w
            det.present[part] = True
        if out.pose_world_landmarks is not None:
            det.world[:] = _landmark_array(out.pose_world_landmarks)[:, :3]
        assert det.kp2d.shape == (NUM_KEYPOINTS, 3)
        return det

    def close(self) -> None:
        if self._holistic is not None:
            self._holistic.close()
            self._holistic = None

    def __enter__(self) -> "MediaPipeHolisticDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _landmark_array(landmark_list: Any) -> np.ndarray:
    """MediaPipe NormalizedLandmarkList → (N, 4) float32 x, y, z, visibility."""
    lms = landmark_list.landmark
    return np.array([(p.x, p.y, p.z, p.visibility) for p in lms], dtype=np.float32)
