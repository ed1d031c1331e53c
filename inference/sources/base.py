"""What every frame source shares: the :class:`Source` base, the OpenCV-capture base and helpers.

A source is an iterable of :class:`Frame`. ``Frame.time`` (seconds) comes from the source's own
clock where it has one; each kind's module (video, images, webcam) says which clock it uses.
``Frame.index`` counts frames from 0 and keeps increasing across loops. Images are always
3-channel uint8 BGR. ``loop=True`` (video, folder, image) restarts at the end, times continuing to
increase.

Importing this module sets ``OPENCV_FFMPEG_LOGLEVEL`` to -8 (quiet) unless already set, so
FFmpeg's complaints about damaged files ("ac-tex damaged", "moov atom not found") do not flood the
console (with that variable set OpenCV prints FFmpeg's log with printf, i.e. on *stdout*, so any
other level would pollute stdout); the problem is reported as an :class:`InputError` instead. It
takes effect only if no video was opened earlier in the process. Every module of this package that
uses cv2 imports this one before cv2. OpenCV's own log (``[ WARN:0@…] can't open camera by
index``) is silenced only while a source is being opened.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..core.errors import InputError  # noqa: E402
from ..core.records import DEFAULT_FPS, Frame  # noqa: E402

__all__ = ["Source", "CaptureSource", "DEFAULT_FPS", "fail", "quiet_opencv", "open_capture",
           "usable_fps"]

#: Frame rate assumed when a source announces none.


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str) -> InputError:
    """An :class:`InputError` whose message is one line (what is wrong; what to do)."""
    return InputError(_one_line(message))


@contextmanager
def quiet_opencv():
    """Silence OpenCV's own log (``[ WARN:0@…] can't open camera by index`` …) for a moment."""
    set_level = getattr(cv2, "setLogLevel", None)
    if set_level is None:  # pragma: no cover - older / other builds
        utils_logging = getattr(getattr(cv2, "utils", None), "logging", None)
        set_level = getattr(utils_logging, "setLogLevel", None)
    if set_level is None:  # pragma: no cover
        yield
        return
    old = set_level(0)  # LOG_LEVEL_SILENT; returns the previous level
    try:
        yield
    finally:
        set_level(old if isinstance(old, int) else 3)


def usable_fps(value: float) -> float | None:
    """``value`` when it is a plausible frame rate, else None (missing rates read as 0 or nan)."""
    return float(value) if np.isfinite(value) and 0.0 < value < 1000.0 else None


def open_capture(target, api: int | None = None) -> cv2.VideoCapture:
    """``cv2.VideoCapture(target[, api])`` with OpenCV's log silenced; ``target`` is a path or a
    camera index."""
    with quiet_opencv():
        if api is None:
            return cv2.VideoCapture(target)
        return cv2.VideoCapture(target, api)


class Source:
    """An iterable of :class:`Frame`; also a context manager. See the module docstring.

    Attributes: ``kind`` ('video', 'image', 'folder', 'webcam'), ``size`` (width, height),
    ``frame_count`` (frames per pass, or None for a webcam; for a video it is what the container
    announces), ``nominal_fps`` (float or None, informational only: use ``Frame.time``),
    ``loop`` (restart at the end; ignored by a webcam, which never ends), ``spec`` (as given).
    Subclasses implement ``_pass``: one pass of (image (H, W, 3) uint8 BGR, time in s from the
    start of the pass).
    """

    kind: str = ""

    def __init__(self, spec: str, size: tuple[int, int], frame_count: int | None,
                 nominal_fps: float | None, loop: bool = False):
        self.spec = spec
        self.size = (int(size[0]), int(size[1]))
        self.frame_count = frame_count
        self.nominal_fps = nominal_fps
        self.loop = bool(loop)
        self._closed = False

    # -- iteration ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        if self._closed:
            raise fail(f"{self.kind.upper()}: {self.spec} was closed; "
                       "open it again with open_source")
        index, t0 = 0, 0.0
        while True:
            count, last_time = 0, None
            for image, t in self._pass():
                yield Frame(image=image, time=t0 + t, index=index)
                index += 1
                count += 1
                last_time = t
            if self._closed or not self.loop or count == 0:
                return
            t0 += last_time + self._frame_step()

    def _pass(self) -> Iterator[tuple[np.ndarray, float]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _frame_step(self) -> float:
        return 1.0 / (self.nominal_fps or DEFAULT_FPS)

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.kind} {self.spec!r} {self.size[0]}x{self.size[1]} "
                f"frames={self.frame_count} fps={self.nominal_fps}>")


class CaptureSource(Source):
    """A source read through a ``cv2.VideoCapture`` (``_cap``) with one decoded frame held back
    (``_pending``): closing releases the capture."""

    def close(self) -> None:
        super().close()
        self._pending = None
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()
