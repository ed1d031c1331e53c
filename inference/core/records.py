"""The records that flow between the stages: a frame, the camera, a detection and a clip of them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .layout import NUM_BODY, NUM_KEYPOINTS, NUM_PARTS


@dataclass
class Frame:
    """One decoded picture. image: (H, W, 3) uint8 BGR; time: seconds from the source's clock."""

    image: np.ndarray
    time: float
    index: int


#: Default horizontal field of view (degrees): a typical webcam / phone main camera.
DEFAULT_FOV_DEG = 60.0
#: Frame rate of sources without a clock (image folders, a looped picture) and of streams that report none.
DEFAULT_FPS = 30.0


@dataclass
class Camera:
    """Pinhole intrinsics in pixels. ``K`` (3, 3) float64; ``size`` (width, height)."""

    K: np.ndarray
    size: tuple[int, int]

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float) -> "Camera":
        """Square pixels, principal point at the centre; ``fov_deg`` is the horizontal field of view."""
        f = 0.5 * width / np.tan(np.radians(fov_deg) / 2.0)
        K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
        return cls(K=K, size=(int(width), int(height)))


@dataclass
class Detection:
    """What a detector finds in one frame, in the layout of :mod:`.layout` (K = 553).

    kp2d:    (553, 3) float32 pixel u, v and confidence in [0, 1] (0 = not detected).
    kpz:     (553,) float32 relative depth in pixels (MediaPipe z × image width): for hands relative
             to the wrist, for the face relative to the face centre, for the body relative to the hips.
    world:   (33, 3) float32 metric body landmarks, camera-aligned axes (x right, y down, z away
             from the camera), origin between the hips; NaN when no body was found.
    present: (4,) bool body / left hand / right hand / face.
    """

    time: float
    image_size: tuple[int, int]
    kp2d: np.ndarray
    kpz: np.ndarray
    world: np.ndarray
    present: np.ndarray = field(default_factory=lambda: np.zeros(NUM_PARTS, bool))

    @classmethod
    def empty(cls, time: float, image_size: tuple[int, int]) -> "Detection":
        return cls(time=time, image_size=image_size, kp2d=np.zeros((NUM_KEYPOINTS, 3), np.float32),
                   kpz=np.zeros(NUM_KEYPOINTS, np.float32), world=np.full((NUM_BODY, 3), np.nan, np.float32))


@dataclass(frozen=True)
class DetectorInfo:
    """What detected: name ('mediapipe-holistic', 'onnx-holistic'), backend ('mediapipe',
    'onnxruntime'), provider (where it ran, as the backend reports it) and warning ('' or one
    line: a device asked for and not available)."""
    name: str
    backend: str
    provider: str
    warning: str = ""


@dataclass
class DetectionSeq:
    """Detections stacked over T frames (same fields as :class:`Detection` with a leading T axis).

    times (T,) float64 seconds; kp2d (T, 553, 3); kpz (T, 553); world (T, 33, 3); present (T, 4)
    bool; info: the detector that made them (None when not known, e.g. a cache of an older bake).
    """

    times: np.ndarray
    image_size: tuple[int, int]
    kp2d: np.ndarray
    kpz: np.ndarray
    world: np.ndarray
    present: np.ndarray
    info: DetectorInfo | None = None

    @classmethod
    def stack(cls, dets: "list[Detection]", image_size: tuple[int, int] | None = None) -> "DetectionSeq":
        if not dets:
            size = image_size or (0, 0)
            return cls(np.zeros(0), size, np.zeros((0, NUM_KEYPOINTS, 3), np.float32),
                       np.zeros((0, NUM_KEYPOINTS), np.float32), np.zeros((0, NUM_BODY, 3), np.float32),
                       np.zeros((0, NUM_PARTS), bool))
        return cls(times=np.array([d.time for d in dets], np.float64), image_size=dets[0].image_size,
                   kp2d=np.stack([d.kp2d for d in dets]), kpz=np.stack([d.kpz for d in dets]),
                   world=np.stack([d.world for d in dets]), present=np.stack([d.present for d in dets]))

    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, idx) -> "DetectionSeq":
        return DetectionSeq(self.times[idx], self.image_size, self.kp2d[idx], self.kpz[idx],
                            self.world[idx], self.present[idx], self.info)
