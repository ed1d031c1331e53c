"""A real still subject filmed by a moving camera: a photo from the shared data seen through a slow
synthetic pan and zoom. The person does not move, so a correct capture is one constant pose; every
change between frames is flicker (the steadiness tests and ``scripts/bench_steadiness.py`` use it)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: The default clip: 75 frames at 25 fps (3 s), 640 × 480.
FRAMES = 75
FPS = 25.0
SIZE = (640, 480)
#: The crop shrinks to this fraction of the photo (a slow zoom in) while its centre pans by
#: ``PAN`` of the photo's size.
ZOOM_TO = 0.82
PAN = (0.06, 0.03)


def crop_windows(image_size: tuple[int, int], frames: int = FRAMES) -> np.ndarray:
    """(frames, 4) float64 crop windows x0, y0, x1, y1 in photo pixels: a smooth pan and zoom (ease
    in / ease out) that keeps the output's aspect ratio."""
    w, h = image_size
    s = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, frames))        # 0 → 1, smooth at both ends
    scale = 1.0 + (ZOOM_TO - 1.0) * s
    cw, ch = w * scale, h * scale
    cx = w / 2 + PAN[0] * w * (s - 0.5) * 2 * (1 - scale) / (1 - ZOOM_TO)
    cy = h / 2 + PAN[1] * h * (s - 0.5) * 2 * (1 - scale) / (1 - ZOOM_TO)
    cx = np.clip(cx, cw / 2, w - cw / 2)
    cy = np.clip(cy, ch / 2, h - ch / 2)
    return np.stack([cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2], axis=1)


def still_frames(photo: str | Path, frames: int = FRAMES, size: tuple[int, int] = SIZE) -> np.ndarray:
    """(frames, H, W, 3) uint8 BGR: the photo through the pan / zoom of :func:`crop_windows`."""
    img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(photo)
    h, w = img.shape[:2]
    out = np.empty((frames, size[1], size[0], 3), np.uint8)
    for i, (x0, y0, x1, y1) in enumerate(crop_windows((w, h), frames)):
        # an affine warp (sub-pixel crop + resize) so the motion is smooth, not whole-pixel steps
        A = np.array([[size[0] / (x1 - x0), 0.0, -x0 * size[0] / (x1 - x0)],
                      [0.0, size[1] / (y1 - y0), -y0 * size[1] / (y1 - y0)]])
        out[i] = cv2.warpAffine(img, A, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out


def write_still_clip(photo: str | Path, out: str | Path, frames: int = FRAMES, fps: float = FPS,
                     size: tuple[int, int] = SIZE) -> Path:
    """Write :func:`still_frames` as an MJPG ``.avi`` at ``fps`` and return its path."""
    out = Path(out)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), size)
    if not writer.isOpened():
        raise OSError(f"cannot write {out}")
    try:
        for frame in still_frames(photo, frames, size):
            writer.write(frame)
    finally:
        writer.release()
    return out
