"""Frame sources: a video file, an image file, a folder of images or a webcam → :class:`Frame`.

``open_source(spec)`` decides what ``spec`` is by decoding it (the extension is only a hint), so a
text file renamed ``.mp4`` or ``.jpg`` is refused up front with a one-line :class:`InputError`.

Timestamps (``Frame.time``, seconds) come from the source's own clock where it has one:

* video  — the container's presentation timestamps (``CAP_PROP_POS_MSEC`` after each read),
  relative to the first decoded frame, so the first frame is at 0.0 s. OpenCV's FFmpeg backend
  reports some streams shifted by a constant (e.g. MPEG-4 in AVI with decoder delay reports frame
  *i* at *(i+1)/fps*) and may report 0 for the last, flushed frame; taking times relative to the
  first frame removes the constant shift, and any timestamp that does not increase (missing,
  all-zero, or out of order) is replaced by the previous time + 1/fps. A backend that gives no
  usable timestamps at all therefore yields exactly ``index / CAP_PROP_FPS`` (30 fps when the
  container has no rate either).
* webcam — ``time.monotonic()`` when the frame was grabbed, relative to the first frame.
* image  — 0.0.
* folder — ``index / folder_fps``: a folder of pictures has no clock, so the rate is assumed.

``Frame.index`` counts frames from 0 and keeps increasing across loops. Images are always
3-channel uint8 BGR (grayscale, 16-bit and 4-channel pictures are converted by OpenCV's
``IMREAD_COLOR``, which also applies EXIF orientation).

A video whose decoding stops early (fewer frames than the container announces, by more than 2
frames and 2 %, and whose last timestamp is short of the announced duration too) raises
:class:`InputError` at the end of iteration, after the frames that did decode were yielded.

``loop=True`` (video, folder, image) restarts at the end, times continuing to increase; a video is
reopened for each pass (a fresh decoder, the old one released), so no memory or file handle leaks.

Importing this module sets ``OPENCV_FFMPEG_LOGLEVEL`` to -8 (quiet) unless already set, so
FFmpeg's complaints about damaged files ("ac-tex damaged", "moov atom not found") do not flood the
console (with that variable set OpenCV prints FFmpeg's log with printf, i.e. on *stdout*, so any
other level would pollute stdout); the problem is reported as an :class:`InputError` instead. It
takes effect only if no video was opened earlier in the process. OpenCV's own log (``[ WARN:0@…]
can't open camera by index``) is silenced only while a source is being opened.
"""
from __future__ import annotations

import os
import re
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import InputError  # noqa: E402
from .records import Frame  # noqa: E402

__all__ = ["open_source", "Source", "IMAGE_EXTENSIONS"]

#: File extensions (lower case) taken as pictures inside a folder.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".jp2",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".avif", ".gif",
})

# A truncated video is one that decodes fewer frames than announced by more than both of these.
_TRUNC_FRAMES = 2
_TRUNC_FRACTION = 0.02
_DEFAULT_FPS = 30.0
_WEBCAM_FIRST_FRAME_S = 3.0  # how long a webcam may take to deliver its first frame
_MAX_SNIFF_IMAGE_BYTES = 256 << 20  # a file with no image signature is decoded as a picture
#                                      only below this size (avoids reading a big video into RAM)

_WEBCAM_RE = re.compile(r"^\s*webcam\s*(?::\s*(.*?))?\s*$", re.IGNORECASE)
_USAGE = "give a video file, an image file, a folder of images, or webcam:N (N = camera index)"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> InputError:
    return InputError(_one_line(message))


@contextmanager
def _quiet_opencv():
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


def _usable_fps(value: float) -> float | None:
    return float(value) if np.isfinite(value) and 0.0 < value < 1000.0 else None


def _natural_key(name: str) -> tuple:
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def _looks_like_image(path: Path) -> bool:
    """Magic-number check of the common picture formats (content, not extension)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
    except OSError:
        return False
    return (head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*",
                             b"GIF87a", b"GIF89a", b"\x76\x2f\x31\x01", b"#?RADIANCE", b"#?RGBE",
                             b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:12] in (b"ftypavif", b"ftypavis"))
            or (len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"1234567"
                and head[2:3] in b" \t\r\n#"))


def _decode_image(path: Path) -> np.ndarray | None:
    """(H, W, 3) uint8 BGR or None. Reads through numpy so non-ASCII paths work on Windows too."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    with _quiet_opencv():
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        return None
    return image


def _open_capture(target, api: int | None = None) -> cv2.VideoCapture:
    with _quiet_opencv():
        if api is None:
            return cv2.VideoCapture(target)
        return cv2.VideoCapture(target, api)


def _file_apis() -> list[int]:
    try:
        has_ffmpeg = cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    except Exception:  # pragma: no cover
        has_ffmpeg = True
    return [cv2.CAP_FFMPEG] if has_ffmpeg else [cv2.CAP_ANY]


def _open_video(path: Path) -> tuple[cv2.VideoCapture, np.ndarray, float] | None:
    """An opened capture, its first frame and that frame's raw timestamp (s), or None."""
    for api in _file_apis():
        cap = _open_capture(str(path), api)
        if not cap.isOpened():
            cap.release()
            continue
        with _quiet_opencv():
            ok, image = cap.read()
        if ok and image is not None and image.ndim == 3 and image.size:
            return cap, image, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        cap.release()
    return None


class Source:
    """An iterable of :class:`Frame`; also a context manager. See the module docstring.

    Attributes: ``kind`` ('video', 'image', 'folder', 'webcam'), ``size`` (width, height),
    ``frame_count`` (frames per pass, or None for a webcam; for a video it is what the container
    announces), ``nominal_fps`` (float or None, informational only: use ``Frame.time``),
    ``loop`` (restart at the end; ignored by a webcam, which never ends), ``spec`` (as given).
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
            raise _fail(f"{self.kind.upper()}: {self.spec} was closed; "
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
        return 1.0 / (self.nominal_fps or _DEFAULT_FPS)

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


class _CaptureSource(Source):
    """A source read through a ``cv2.VideoCapture`` (``_cap``) with one decoded frame held back
    (``_pending``): closing releases the capture."""

    def close(self) -> None:
        super().close()
        self._pending = None
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


class VideoSource(_CaptureSource):
    kind = "video"

    def __init__(self, path: Path, cap: cv2.VideoCapture, first: np.ndarray, first_pts: float,
                 loop: bool = False):
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        frame_count = int(round(count)) if np.isfinite(count) and count > 0 else None
        fps = _usable_fps(cap.get(cv2.CAP_PROP_FPS))
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
        opened = _open_video(self.path)
        if opened is None:
            raise _fail(f"VIDEO: {self.path} can no longer be opened; "
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
            if prev + step < (total / (self.nominal_fps or _DEFAULT_FPS)) * (1.0 - _TRUNC_FRACTION):
                raise _fail(f"VIDEO: decoding stopped after {count} of {total} frames: the file is "
                            f"truncated or damaged; re-export or re-download it ({self.path})")



class ImageSource(Source):
    kind = "image"

    def __init__(self, path: Path, image: np.ndarray, folder_fps: float, loop: bool = False):
        super().__init__(str(path), (image.shape[1], image.shape[0]), 1, None, loop)
        self.path = path
        self._image = image
        self._step = 1.0 / folder_fps

    def _frame_step(self) -> float:
        return self._step

    def _pass(self) -> Iterator[tuple[np.ndarray, float]]:
        if self._image is not None:
            yield self._image, 0.0

    def close(self) -> None:
        super().close()
        self._image = None


class FolderSource(Source):
    """Pictures of a folder in natural order (frame_2 before frame_10), at ``folder_fps``.

    Only files with an image extension are taken (hidden files such as macOS ``._x.jpg`` are
    skipped). A picture that cannot be decoded is skipped with a warning and its time slot stays
    empty; a picture whose size differs from the first one raises :class:`InputError`.
    """

    kind = "folder"

    def __init__(self, path: Path, files: list[Path], first: np.ndarray, first_pos: int,
                 folder_fps: float, loop: bool = False):
        super().__init__(str(path), (first.shape[1], first.shape[0]), len(files), folder_fps, loop)
        self.path = path
        self.files = files
        self._first: tuple[int, np.ndarray] | None = (first_pos, first)
        self._origin = first_pos  # the first readable picture is at time 0
        self._fps = folder_fps

    def _frame_step(self) -> float:
        return 1.0 / self._fps

    def _pass(self) -> Iterator[tuple[np.ndarray, float]]:
        first, self._first = self._first, None
        for pos in range(self._origin, len(self.files)):
            if self._closed:
                return
            if first is not None and pos == first[0]:
                image = first[1]
            else:
                image = _decode_image(self.files[pos])
                if image is None:
                    warnings.warn(f"FOLDER: skipping {self.files[pos].name}: not a readable image",
                                  RuntimeWarning, stacklevel=2)
                    continue
            h, w = image.shape[:2]
            if (w, h) != self.size:
                raise _fail(f"FOLDER: {self.files[pos].name} is {w}x{h} but the first picture is "
                            f"{self.size[0]}x{self.size[1]}; all pictures in {self.path} must "
                            "have the same size")
            yield image, (pos - self._origin) / self._fps

    def close(self) -> None:
        super().close()
        self._first = None


class WebcamSource(_CaptureSource):
    kind = "webcam"

    def __init__(self, spec: str, camera: int, cap: cv2.VideoCapture, first: np.ndarray,
                 first_clock: float):
        fps = _usable_fps(cap.get(cv2.CAP_PROP_FPS))
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
                raise _fail(f"WEBCAM: camera {self.camera} stopped delivering frames; check it is "
                            "still connected and not used by another program")
            clock = time.monotonic()
            ok, image = cap.retrieve()
            if not ok or image is None:
                continue
            if self._clock0 is None:
                self._clock0 = clock
            yield image, clock - self._clock0



def _open_webcam(spec: str, arg: str | None) -> WebcamSource:
    arg = (arg or "0").strip()
    if not arg.isdigit():
        raise _fail(f"INPUT: {spec!r} is not a camera; write webcam:N with N the camera index "
                    "(webcam:0 is the first camera)")
    camera = int(arg)
    cap = _open_capture(camera)
    if not cap.isOpened():
        cap.release()
        raise _fail(f"WEBCAM: camera {camera} cannot be opened; check it is connected and not in "
                    "use by another program, or try another index (webcam:0, webcam:1, ...)")
    deadline = time.monotonic() + _WEBCAM_FIRST_FRAME_S
    with _quiet_opencv():
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
    raise _fail(f"WEBCAM: camera {camera} opened but delivered no frame; check it is not in use by "
                "another program, or try another index (webcam:0, webcam:1, ...)")


def _open_folder(path: Path, folder_fps: float, loop: bool) -> FolderSource:
    try:
        entries = [p for p in path.iterdir()
                   if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
                   and p.is_file()]
    except OSError as exc:
        raise _fail(f"INPUT: cannot list the folder {path} ({exc.strerror}); check its permissions")
    files = sorted(entries, key=lambda p: _natural_key(p.name))
    for pos, file in enumerate(files):
        image = _decode_image(file)
        if image is not None:
            if pos:
                warnings.warn(f"FOLDER: skipping {pos} unreadable picture(s) before {file.name}",
                              RuntimeWarning, stacklevel=3)
            return FolderSource(path, files, image, pos, folder_fps, loop)
    what = f"{len(files)} image file(s), none readable" if files else "no image files"
    raise _fail(f"FOLDER: {path} has {what}; put the frames in it as .png or .jpg pictures")


def _open_file(path: Path, folder_fps: float, loop: bool) -> Source:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(f"INPUT: cannot read {path} ({exc.strerror}); check its permissions")
    if size == 0:
        raise _fail(f"INPUT: {path} is an empty file (0 bytes); re-export or re-copy it")
    image_first = _looks_like_image(path) or path.suffix.lower() in IMAGE_EXTENSIONS
    if image_first:
        image = _decode_image(path)
        if image is not None:
            return ImageSource(path, image, folder_fps, loop)
    opened = _open_video(path)
    if opened is not None:
        cap, first, pts = opened
        return VideoSource(path, cap, first, pts, loop)
    if not image_first and size <= _MAX_SNIFF_IMAGE_BYTES:
        image = _decode_image(path)
        if image is not None:
            return ImageSource(path, image, folder_fps, loop)
    raise _fail(f"INPUT: {path} is neither a readable video nor a readable image; check it is a "
                "video (mp4, mov, avi, mkv, ...) or a picture (jpg, png, ...) and not damaged, "
                "then re-export or re-download it")


def open_source(spec: str | os.PathLike, folder_fps: float = 30.0, loop: bool = False) -> Source:
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
        raise _fail(f"INPUT: no input given; {_USAGE}")
    match = _WEBCAM_RE.match(text)
    if match and not os.path.exists(text):
        return _open_webcam(text, match.group(1))
    path = Path(text).expanduser()
    if path.is_dir():
        return _open_folder(path, float(folder_fps), loop)
    if not path.exists():
        raise _fail(f"INPUT: {path} does not exist; check the path ({_USAGE})")
    if not path.is_file():
        raise _fail(f"INPUT: {path} is not a regular file or folder; {_USAGE}")
    return _open_file(path, float(folder_fps), loop)
