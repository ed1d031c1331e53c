"""Pictures as frame sources: one image file, or a folder of images played as a video.

A picture is recognised by its content (magic numbers, then decoding), the extension being only a
hint. Pictures are read with OpenCV's ``IMREAD_COLOR``, which converts grayscale, 16-bit and
4-channel pictures to 3-channel uint8 BGR and applies EXIF orientation.

Timestamps: an image is at 0.0; a folder's picture *i* is at ``i / folder_fps``, since a folder
of pictures has no clock, so the rate is assumed.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterator

# base first: it sets OPENCV_FFMPEG_LOGLEVEL before cv2 is imported
from .base import Source, fail, quiet_opencv

import cv2  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["IMAGE_EXTENSIONS", "ImageSource", "FolderSource", "looks_like_image", "decode_image",
           "open_folder"]

#: File extensions (lower case) taken as pictures inside a folder.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".jp2",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".avif", ".gif",
})


def _natural_key(name: str) -> tuple:
    """Sort key putting frame_2 before frame_10 (ties broken by the exact name)."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def looks_like_image(path: Path) -> bool:
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


def decode_image(path: Path) -> np.ndarray | None:
    """(H, W, 3) uint8 BGR or None. Reads through numpy so non-ASCII paths work on Windows too."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    with quiet_opencv():
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        return None
    return image


class ImageSource(Source):
    """One picture at time 0.0; looped, it repeats at ``folder_fps``."""

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
                image = decode_image(self.files[pos])
                if image is None:
                    warnings.warn(f"FOLDER: skipping {self.files[pos].name}: not a readable image",
                                  RuntimeWarning, stacklevel=2)
                    continue
            h, w = image.shape[:2]
            if (w, h) != self.size:
                raise fail(f"FOLDER: {self.files[pos].name} is {w}x{h} but the first picture is "
                           f"{self.size[0]}x{self.size[1]}; all pictures in {self.path} must "
                           "have the same size")
            yield image, (pos - self._origin) / self._fps

    def close(self) -> None:
        super().close()
        self._first = None


def open_folder(path: Path, folder_fps: float, loop: bool) -> FolderSource:
    """A :class:`FolderSource` starting at the first readable picture of ``path``."""
    try:
        entries = [p for p in path.iterdir()
                   if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
                   and p.is_file()]
    except OSError as exc:
        raise fail(f"INPUT: cannot list the folder {path} ({exc.strerror}); check its permissions")
    files = sorted(entries, key=lambda p: _natural_key(p.name))
    for pos, file in enumerate(files):
        image = decode_image(file)
        if image is not None:
            if pos:
                # stacklevel 3: the warning points at the caller of open_source
                warnings.warn(f"FOLDER: skipping {pos} unreadable picture(s) before {file.name}",
                              RuntimeWarning, stacklevel=3)
            return FolderSource(path, files, image, pos, folder_fps, loop)
    what = f"{len(files)} image file(s), none readable" if files else "no image files"
    raise fail(f"FOLDER: {path} has {what}; put the frames in it as .png or .jpg pictures")
