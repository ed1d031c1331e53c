"""The MediaPipe models behind the detectors, by name: the ``.tflite`` files bundled in the
mediapipe 0.10.21 wheel that Holistic runs at ``model_complexity=1`` (plus the iris and palm
models), and the size of each one's input picture. The converter (:mod:`.convert`) turns them into
ONNX files of the same names; the ONNX detector (:mod:`.onnx`) loads them by these names.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The wheel the models come from (the last one that bundles the Holistic models).
MEDIAPIPE_VERSION = "0.10.21"
#: ONNX opset of the converted files.
OPSET = 17


@dataclass(frozen=True)
class ModelSpec:
    """name; wheel_path the file inside the mediapipe wheel (as its RECORD names it); input_hw the
    input picture's (height, width) in pixels (NHWC float32, batch first)."""
    name: str
    wheel_path: str
    input_hw: tuple[int, int]


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("pose_detection", "mediapipe/modules/pose_detection/pose_detection.tflite", (224, 224)),
    ModelSpec("pose_landmark_full", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite", (256, 256)),
    ModelSpec("hand_recrop", "mediapipe/modules/holistic_landmark/hand_recrop.tflite", (256, 256)),
    ModelSpec("hand_landmark_full", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite", (224, 224)),
    ModelSpec("face_detection_short_range", "mediapipe/modules/face_detection/face_detection_short_range.tflite",
              (128, 128)),
    ModelSpec("face_landmark", "mediapipe/modules/face_landmark/face_landmark.tflite", (192, 192)),
    ModelSpec("iris_landmark", "mediapipe/modules/iris_landmark/iris_landmark.tflite", (64, 64)),
    ModelSpec("palm_detection_full", "mediapipe/modules/palm_detection/palm_detection_full.tflite", (192, 192)),
)}
