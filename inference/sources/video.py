"""A video file as a frame source, decoded with OpenCV's FFmpeg backend.

Timestamps are the container's presentation timestamps (``CAP_PROP_POS_MSEC`` after each read),
relative to the first decoded frame, so the first frame is at 0.0 s. OpenCV's FFmpeg backend
reports some streams shifted by a constant (e.g. MPEG-4 in AVI with decoder delay reports frame
*i* at *(i+1)/fps*) and may report 0 for the last, flushed frame; taking times relative to the
first frame removes the constant shift, and any timestamp that does not increase (missing,
all-zero, or out of order) is replaced by the previous time + 1/fps. A backend that gives no
usable timestamps at all therefore yields exactly ``index / CAP_PROP_FPS`` (30 fps when the
container has no rate either).

A video whose decoding stops early (fewer frames than the container announces, by more than 2
frames and 2 %, and whose last timestamp is short of the announced duration too) raises
:class:`InputError` at the end of iteration, after the frames that did decode were yielded.

With ``loop=True`` the video is reopened for each pass (a fresh decoder, the old one released), so
no memory or file handle leaks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

# base first: it sets OPENCV_FFMPEG_LOGLEVEL before cv2 is imported
from .base import DEFAULT_FPS, CaptureSource, fail, open_capture, quiet_opencv, usable_fps

import cv2  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["VideoSource", "open_video"]

# A truncated video is one that decodes fewer frames than announced by more than both of these.
_TRUNC_FRAMES = 2
_TRUNC_FRACTION = 0.02


def _file_apis() -> list[int]:
    try:
        has_ffmpeg = cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    except Exception:  # pragma: no cover
        has_ffmpeg = True
    return [cv2.CAP_FFMPEG] if has_ffmpeg else [cv2.CAP_ANY]


def open_video(path: Path) -> tuple[cv2.VideoCapture, np.ndarray, float] | None:
    """An opened capture, its first frame ((H, W, 3) uint8 BGR) and that frame's raw timestamp
    (s), or None."""
    for api in _file_apis():
        cap = open_capture(str(path), api)
        if not cap.isOpened():
            cap.release()
            continue
        with quiet_opencv():
            ok, image = cap.read()
        if ok and image is not None and image.ndim == 3 and image.size:
            return cap, image, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        cap.release()
    return None


class VideoSource(CaptureSource):
    """Frames of a video file at its container timestamps (see the module docstring)."""

    kind = "video"

    def __init__(self, path: Path, cap: cv2.VideoCapture, first: np.ndarray, first_pts: float,
                 loop: bool = False):
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        frame_count = int(round(count)) if np.isfinite(count) and count > 0 else None
        fps = usable_fps(cap.get(cv2.CAP_PROP_FPS))
        super().__init__(str(path), (first.shape[1], first.shape[0]), frame_count, fps, loop)
        self.path = path
        self._cap: cv2.VideoCapture | None = cap
        self._pending: tuple[np.ndarray, float] | None = (first, first_pts)
        #: True once a pass had to replace a missing / non-increasing container timestamp.
        self.timestamps_repaired = False

    def _reopen(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        opened = open_video(self.path)
        if opened is None:
            raise fail(f"VIDEO: {self.path} can no longer be opened; "
                       "check the file is still there")
        self._cap, first, pts = opened
        self._pending = (first, pts)

    def _pass(self) -> Iterator[tuple[np.ndarray, float]]:
        if self._pending is None:
            self._reopen()
        cap = self._cap
        image, raw = self._pending
        self._pending = None
        step = self._frame_step()
        base = raw if np.isfinite(raw) else 0.0
        prev = None
        count = 0
        while True:
            if prev is None:
                t = 0.0
            else:
                t = raw - base
                if not (np.isfinite(t) and t > prev + 1e-6):  # missing / zero / out of order
                    t = prev + step
                    self.timestamps_repaired = True
            count += 1
            prev = t
            yield image, t
            if self._closed or cap is not self._cap:
                return
            ok, image = cap.read()
            if not ok or image is None:
                break
            raw = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self._closed:
            return
        total = self.frame_count
        if total and count < total - _TRUNC_FRAMES and count < total * (1.0 - _TRUNC_FRACTION):
            # A frame count estimated from duration × a guessed rate (Matroska, VFR) can overshoot;
            # only call it truncated when the timestamps also stop well before the announced end.
            if prev + step < (total / (self.nominal_fps or DEFAULT_FPS)) * (1.0 - _TRUNC_FRACTION):
                raise fail(f"VIDEO: decoding stopped after {count} of {total} frames: the file is "
                           f"truncated or damaged; re-export or re-download it ({self.path})")
