"""Open a frame source: a video file, an image file, a folder of images or a webcam.

``open_source(spec)`` decides what ``spec`` is: ``webcam`` / ``webcam:N`` is a camera
(:mod:`.webcam`), a folder is a folder of images (:mod:`.images`), and a file is decoded to tell a
picture (:mod:`.images`) from a video (:mod:`.video`) — the extension is only a hint, so a text
file renamed ``.mp4`` or ``.jpg`` is refused up front with a one-line :class:`InputError`.
Every kind yields :class:`Frame` with real timestamps; the sources' shared behaviour (indices,
looping, BGR pictures, FFmpeg log level) is described in :mod:`.base`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

# base first: it sets OPENCV_FFMPEG_LOGLEVEL before any module imports cv2
from ..core.records import DEFAULT_FPS
from .base import Source, fail
from .images import IMAGE_EXTENSIONS, ImageSource, decode_image, looks_like_image, open_folder
from .video import VideoSource, open_video
from .webcam import open_webcam

__all__ = ["open_source"]

_MAX_SNIFF_IMAGE_BYTES = 256 << 20  # a file with no image signature is decoded as a picture
#                                      only below this size (avoids reading a big video into RAM)

_WEBCAM_RE = re.compile(r"^\s*webcam\s*(?::\s*(.*?))?\s*$", re.IGNORECASE)
_USAGE = "give a video file, an image file, a folder of images, or webcam:N (N = camera index)"


def _open_file(path: Path, folder_fps: float, loop: bool) -> Source:
    """An image or a video, whichever decodes (image first if signature or extension say so)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise fail(f"INPUT: cannot read {path} ({exc.strerror}); check its permissions")
    if size == 0:
        raise fail(f"INPUT: {path} is an empty file (0 bytes); re-export or re-copy it")
    image_first = looks_like_image(path) or path.suffix.lower() in IMAGE_EXTENSIONS
    if image_first:
        image = decode_image(path)
        if image is not None:
            return ImageSource(path, image, folder_fps, loop)
    opened = open_video(path)
    if opened is not None:
        cap, first, pts = opened
        return VideoSource(path, cap, first, pts, loop)
    if not image_first and size <= _MAX_SNIFF_IMAGE_BYTES:
        image = decode_image(path)
        if image is not None:
            return ImageSource(path, image, folder_fps, loop)
    raise fail(f"INPUT: {path} is neither a readable video nor a readable image; check it is a "
               "video (mp4, mov, avi, mkv, ...) or a picture (jpg, png, ...) and not damaged, "
               "then re-export or re-download it")


def open_source(spec: str | os.PathLike, folder_fps: float = DEFAULT_FPS, loop: bool = False) -> Source:
    """Open ``spec``: a video file, an image file, a folder of images, or ``webcam:N``.

    ``folder_fps`` is the rate assumed for a folder (and the repeat rate of a looped image).
    ``loop=True`` restarts a video / folder / image at its end with times still increasing (it can
    also be set later through ``source.loop``). Raises :class:`InputError` (one line: what is
    wrong and what to do) when the input cannot be used.
    """
    if not (np.isfinite(folder_fps) and folder_fps > 0):
        raise ValueError(f"folder_fps must be a positive number, not {folder_fps!r}")
    text = os.fspath(spec) if isinstance(spec, os.PathLike) else spec
    if not isinstance(text, str) or not text.strip():
        raise fail(f"INPUT: no input given; {_USAGE}")
    match = _WEBCAM_RE.match(text)
    if match and not os.path.exists(text):  # a file really named "webcam:0" is a file
        return open_webcam(text, match.group(1))
    path = Path(text).expanduser()
    if path.is_dir():
        return open_folder(path, float(folder_fps), loop)
    if not path.exists():
        raise fail(f"INPUT: {path} does not exist; check the path ({_USAGE})")
    if not path.is_file():
        raise fail(f"INPUT: {path} is not a regular file or folder; {_USAGE}")
    return _open_file(path, float(folder_fps), loop)
