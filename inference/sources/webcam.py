"""A webcam (``webcam:N``, N the camera index) as a frame source.

Timestamps are ``time.monotonic()`` when each frame was grabbed, relative to the first frame. A
webcam never ends, so ``loop`` does not apply; a camera that stops delivering frames raises
:class:`InputError`.
"""
from __future__ import annotations

import time
from typing import Iterator

# base first: it sets OPENCV_FFMPEG_LOGLEVEL before cv2 is imported
from .base import CaptureSource, fail, open_capture, quiet_opencv, usable_fps

import cv2  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["WebcamSource", "open_webcam"]

_WEBCAM_FIRST_FRAME_S = 3.0  # how long a webcam may take to deliver its first frame


class WebcamSource(CaptureSource):
    """Frames of camera ``camera`` at their grab times (see the module docstring)."""

    kind = "webcam"

    def __init__(self, spec: str, camera: int, cap: cv2.VideoCapture, first: np.ndarray,
                 first_clock: float):
        fps = usable_fps(cap.get(cv2.CAP_PROP_FPS))
        super().__init__(spec, (first.shape[1], first.shape[0]), None, fps, False)
        self.camera = camera
        self._cap: cv2.VideoCapture | None = cap
        self._pending: tuple[np.ndarray, float] | None = (first, first_clock)
        self._clock0: float | None = None

    def _pass(self) -> Iterator[tuple[np.ndarray, float]]:
        cap = self._cap
        if cap is None:
            return
        if self._pending is not None:
            image, clock = self._pending
            self._pending = None
            if self._clock0 is None:
                self._clock0 = clock
            yield image, clock - self._clock0
        while not self._closed:
            if not cap.grab():
                if self._closed:
                    return
                raise fail(f"WEBCAM: camera {self.camera} stopped delivering frames; check it is "
                           "still connected and not used by another program")
            clock = time.monotonic()
            ok, image = cap.retrieve()
            if not ok or image is None:
                continue
            if self._clock0 is None:
                self._clock0 = clock
            yield image, clock - self._clock0


def open_webcam(spec: str, arg: str | None) -> WebcamSource:
    """Open camera ``arg`` (digits; None or empty means 0) once it delivers a first frame."""
    arg = (arg or "0").strip()
    if not arg.isdigit():
        raise fail(f"INPUT: {spec!r} is not a camera; write webcam:N with N the camera index "
                   "(webcam:0 is the first camera)")
    camera = int(arg)
    cap = open_capture(camera)
    if not cap.isOpened():
        cap.release()
        raise fail(f"WEBCAM: camera {camera} cannot be opened; check it is connected and not in "
                   "use by another program, or try another index (webcam:0, webcam:1, ...)")
    deadline = time.monotonic() + _WEBCAM_FIRST_FRAME_S
    with quiet_opencv():
        while True:
            ok = cap.grab()
            clock = time.monotonic()
            if ok:
                ok, image = cap.retrieve()
                if ok and image is not None and image.ndim == 3 and image.size:
                    return WebcamSource(spec, camera, cap, image, clock)
            if clock > deadline:
                break
            time.sleep(0.05)
    cap.release()
    raise fail(f"WEBCAM: camera {camera} opened but delivered no frame; check it is not in use by "
               "another program, or try another index (webcam:0, webcam:1, ...)")
