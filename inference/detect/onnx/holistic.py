"""The ONNX detector behind the :class:`~..base.Detector` interface: MediaPipe Holistic's models
(converted at set-up) run by ONNX Runtime, the body first, then the hands and the face from it,
giving the same :class:`~inference.core.records.Detection` records as the MediaPipe detector.

Pictures are consecutive frames of one clip (the body, hands and face are tracked from frame to
frame, as Holistic does); ``static_images`` detects the body anew in every picture (photos,
folders). :meth:`OnnxHolisticDetector.detect_many` runs several frames per model call where the
frames allow it (each hand and face stage once per batch).
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ...core.layout import BODY, FACE, LHAND, NUM_BODY, PART_BODY, PART_FACE, PART_LEFT_HAND, PART_RIGHT_HAND, RHAND
from ...core.records import Detection, Frame
from .face_landmarks import HolisticFace
from .hand_landmarks import HolisticHands
from .pose import PoseTracker
from .runner import (BACKENDS, LITERT_BACKEND, NO_GPU_WARNING, TORCH_BACKEND, OrtModel, choose_backend,
                     torch_has_cuda)
from .runner_litert import LiteRtModel, litert_available, wheel_model_bytes
from .store import default_dir, model_bytes, read_manifest

#: Where TensorRT keeps its engines and timing cache, inside the models folder.
ENGINE_CACHE = "tensorrt"


class OnnxHolisticDetector:
    """Body (33 landmarks + metric world), both hands (21 each) and the face (478) from the ONNX
    models in ``models_dir`` (default: :func:`.store.default_dir`), on ``device`` ('auto', 'gpu'
    or 'cpu'), by ONNX Runtime, by PyTorch for a GPU only it can reach, or on the CPU by LiteRT
    from MediaPipe's own files (``backend``: :func:`.runner.choose_backend` unless given).
    ``provider`` says where they run; ``warning`` is '' or one line (a GPU asked for and not
    found). Raises :class:`.store.ModelStoreError` or :class:`..wheel.WheelModelError` (one line)
    when a model is missing or damaged."""

    name = "onnx-holistic"

    def __init__(self, static_images: bool = False, hands: bool = True, face: bool = True, device: str = "auto",
                 models_dir: Path | None = None, threads: int = 0, backend: str | None = None):
        import onnxruntime as ort  # noqa: PLC0415 (the worker's environment)
        gpu_wanted = device != "cpu"
        self.backend = backend or choose_backend(device, ort.get_available_providers(),
                                                 gpu_wanted and torch_has_cuda(), litert_available())
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if self.backend == LITERT_BACKEND:
            # MediaPipe's own .tflite files, checked against its wheel: nothing to convert
            warning = NO_GPU_WARNING if device == "gpu" else ""

            def load(name: str):
                return LiteRtModel(wheel_model_bytes(name), name, threads, warning)
        else:
            folder = Path(models_dir) if models_dir is not None else default_dir()
            entries = read_manifest(folder)
            if self.backend == TORCH_BACKEND:
                from .runner_torch import TorchModel as Model  # noqa: PLC0415 (PyTorch: the GPU machine)
            else:
                Model = OrtModel

            def load(name: str):
                return Model(model_bytes(folder, name, entries), name, device, threads, folder / ENGINE_CACHE)

        detection, landmarks = load("pose_detection"), load("pose_landmark_full")
        self.pose = PoseTracker(detection, landmarks, static=static_images)
        # Holistic carries the hand and face ROIs from one picture to the next even on photos: the
        # same here, so that both detectors give the same landmarks
        self.hands = HolisticHands(load("hand_recrop"), load("hand_landmark_full")) if hands else None
        self.face = HolisticFace(load("face_detection_short_range"), load("face_landmark"),
                                 load("iris_landmark")) if face else None
        self.provider, self.warning = landmarks.provider, landmarks.warning
        #: Seconds spent per stage (body, hands, face) and frames seen, for benchmarks.
        self.stage_seconds = {"body": 0.0, "hands": 0.0, "face": 0.0}
        self.frames = 0

    # --- the Detector interface (one frame) ------------------------------------------------------
    def preprocess(self, frame: Frame) -> np.ndarray:
        """(H, W, 3) uint8 BGR → contiguous RGB (the models' channel order). OpenCV's swap: numpy's
        ``[..., ::-1]`` copy takes 8 ms on a 720p frame, this 0.05 ms."""
        return cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)

    def infer(self, rgb: np.ndarray) -> list[Detection]:
        return self._detect([rgb], [0.0])

    def postprocess(self, detections: list[Detection], frame: Frame) -> Detection:
        det = detections[0]
        det.time = frame.time
        return det

    def detect_many(self, frames: list[Frame]) -> list[Detection]:
        """Detections of consecutive frames (or unrelated pictures in static mode), each model run
        once for the batch where tracking allows."""
        if not frames:
            return []
        return self._detect([self.preprocess(f) for f in frames], [f.time for f in frames])

    def _detect(self, images: list[np.ndarray], times: list[float]) -> list[Detection]:
        start = time.perf_counter()
        bodies = self.pose.process(images)
        n = len(images)
        out = [Detection.empty(t, (im.shape[1], im.shape[0])) for im, t in zip(images, times)]
        found = np.array([b is not None for b in bodies])
        pose = np.zeros((n, NUM_BODY, 3))
        for i, body in enumerate(bodies):
            if body is not None:
                d = out[i]
                d.kp2d[BODY], d.kpz[BODY], d.world[:] = body.kp2d, body.kpz, body.world
                d.present[PART_BODY] = True
                pose[i] = body.kp2d
        self.stage_seconds["body"] += time.perf_counter() - start
        if self.hands is not None:
            hands = self._timed("hands", self.hands, images, pose, found)
            for side, (part, sl) in enumerate(((PART_LEFT_HAND, LHAND), (PART_RIGHT_HAND, RHAND))):
                for i in np.flatnonzero(hands.present[:, side]):
                    _fill(out[i], sl, part, hands.points[i, side])
        if self.face is not None:
            faces = self._timed("face", self.face, images, pose, found)
            for i in np.flatnonzero(faces.present):
                _fill(out[i], FACE, PART_FACE, faces.points[i])
        self.frames += n
        return out

    def _timed(self, stage: str, run, *args):
        start = time.perf_counter()
        try:
            return run(*args)
        finally:
            self.stage_seconds[stage] += time.perf_counter() - start

    def close(self) -> None:
        self.pose = self.hands = self.face = None

    def __enter__(self) -> "OnnxHolisticDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fill(det: Detection, sl: slice, part: int, points: np.ndarray) -> None:
    """Hand or face points (K, 3) pixel u, v and depth into ``det``: confidence 1 where found (as
    the MediaPipe detector gives hands and faces, which carry no per-point visibility)."""
    det.kp2d[sl, :2] = points[:, :2]
    det.kp2d[sl, 2] = 1.0
    det.kpz[sl] = points[:, 2]
    det.present[part] = True
