"""Frame sources on real media (../shared/data) and on broken inputs."""
from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_paths import BASKETBALL, DATA, MEGAMIND, MESSI
from inference.core.errors import InputError
from inference.sources.open import open_source

needs_data = pytest.mark.skipif(not MEGAMIND.exists(), reason=f"shared data not found at {DATA}")


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@needs_data
def test_video_frames_sizes_and_container_timestamps():
    with open_source(str(MEGAMIND)) as src:
        assert src.kind == "video"
        assert src.size == (720, 528)
        assert src.frame_count == 270
        assert src.nominal_fps == pytest.approx(23.976, abs=1e-3)
        frames = list(src)
    assert len(frames) == 270
    assert [f.index for f in frames] == list(range(270))
    times = np.array([f.time for f in frames])
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times, np.arange(270) / 23.976, atol=1e-3)
    img = frames[100].image
    assert img.shape == (528, 720, 3) and img.dtype == np.uint8


@needs_data
def test_single_image():
    with open_source(str(MESSI)) as src:
        assert (src.kind, src.size, src.frame_count) == ("image", (548, 342), 1)
        frames = list(src)
    assert len(frames) == 1
    assert frames[0].time == 0.0 and frames[0].index == 0
    assert frames[0].image.shape == (342, 548, 3) and frames[0].image.dtype == np.uint8


@needs_data
def test_grayscale_image_becomes_bgr():
    assert cv2.imread(str(BASKETBALL), cv2.IMREAD_UNCHANGED).ndim == 2  # really grayscale
    with open_source(str(BASKETBALL)) as src:
        (frame,) = list(src)
    assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8


def test_four_channel_image_becomes_bgr(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2] = 200
    rgba[..., 3] = 128
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    with open_source(str(tmp_path / "a.png")) as src:
        (frame,) = list(src)
    assert frame.image.shape == (20, 30, 3)
    assert int(frame.image[0, 0, 2]) == 200


def test_image_decided_by_content_not_extension(tmp_path):
    img = np.full((10, 12, 3), 77, np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    (tmp_path / "picture.mp4").write_bytes(buf.tobytes())  # a PNG misnamed .mp4
    with open_source(str(tmp_path / "picture.mp4")) as src:
        assert src.kind == "image" and src.size == (12, 10)


@needs_data
def test_folder_natural_order(tmp_path):
    base = cv2.imread(str(MESSI))
    names = ["frame_2.png", "frame_10.png", "frame_1.png"]
    for value, name in zip((2, 10, 1), names):
        img = base.copy()
        img[0, 0] = value  # tag each picture with its number
        cv2.imwrite(str(tmp_path / name), img)
    (tmp_path / "notes.txt").write_text("not a picture")
    with open_source(str(tmp_path), folder_fps=25.0) as src:
        assert (src.kind, src.size, src.frame_count) == ("folder", (548, 342), 3)
        frames = list(src)
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert [f.time for f in frames] == pytest.approx([0.0, 0.04, 0.08])
    assert all(f.image.shape == (342, 548, 3) for f in frames)


def _truncated_video(tmp_path: Path) -> Path:
    data = MEGAMIND.read_bytes()
    out = tmp_path / "truncated.avi"
    out.write_bytes(data[: int(len(data) * 0.4)])
    return out


def _bad_input(kind: str, tmp_path: Path) -> str:
    if kind == "missing":
        return str(tmp_path / "nope" / "missing.mp4")
    if kind == "zero_bytes":
        (tmp_path / "empty.mp4").write_bytes(b"")
        return str(tmp_path / "empty.mp4")
    if kind in ("text_mp4", "text_jpg"):
        p = tmp_path / ("notes.mp4" if kind == "text_mp4" else "notes.jpg")
        p.write_text("this is not a video\nnor a picture\n" * 20)
        return str(p)
    if kind == "empty_folder":
        (tmp_path / "frames").mkdir()
        return str(tmp_path / "frames")
    if kind == "folder_of_junk":
        (tmp_path / "frames").mkdir()
        (tmp_path / "frames" / "a.png").write_text("junk")
        return str(tmp_path / "frames")
    if kind == "truncated_video":
        if not MEGAMIND.exists():
            pytest.skip("shared data not found")
        return str(_truncated_video(tmp_path))
    if kind.startswith("webcam"):
        return kind
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "zero_bytes", "text_mp4", "text_jpg", "empty_folder",
                                  "folder_of_junk", "truncated_video", "webcam:7", "webcam:abc"])
def test_bad_inputs_raise_one_line_input_error(kind, tmp_path):
    spec = _bad_input(kind, tmp_path)
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        with open_source(spec) as src:
            for _ in src:  # a truncated video fails at the end of iteration
                pass
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message
    assert ";" in message or ":" in message  # what is wrong + what to do
    if kind.startswith("webcam"):
        assert time.monotonic() - start < 3.0


@needs_data
def test_truncated_video_yields_what_decodes_then_reports(tmp_path):
    path = _truncated_video(tmp_path)
    seen = []
    pattern = r"^VIDEO: decoding stopped after (\d+) of 270 frames"
    with pytest.raises(InputError, match=pattern) as info:
        with open_source(str(path)) as src:
            assert src.frame_count == 270
            for frame in src:
                seen.append(frame.time)
    assert 50 < len(seen) < 270
    assert f"after {len(seen)} of 270" in str(info.value)
    assert np.all(np.diff(seen) > 0)


@needs_data
def test_loop_keeps_time_increasing_and_releases_handles():
    with open_source(str(MEGAMIND), loop=True) as src:
        times, fds = [], []
        for frame in src:
            times.append(frame.time)
            if frame.index % 270 == 269:
                fds.append(_fd_count())
            if frame.index >= 4 * 270 + 10:
                break
    times = np.array(times)
    assert len(times) > 270
    assert np.all(np.diff(times) > 0)
    # the second pass continues one frame period after the last frame of the first
    assert times[270] - times[269] == pytest.approx(1 / 23.976, abs=1e-3)
    assert times[-1] == pytest.approx((len(times) - 1) / 23.976, abs=5e-3)
    assert len(set(fds)) == 1, fds  # no leaked file handles across passes


@needs_data
def test_close_releases_file_handle_and_iterating_twice_restarts():
    before = _fd_count()
    src = open_source(str(MEGAMIND))
    first = [f.time for _, f in zip(range(5), src)]
    again = [f.time for _, f in zip(range(5), src)]
    assert first == again == pytest.approx(np.arange(5) / 23.976, abs=1e-3)
    src.close()
    assert _fd_count() == before
    with pytest.raises(InputError):
        list(src)


def test_video_written_by_opencv_has_zero_based_times(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    with open_source(str(path)) as src:
        assert src.kind == "video" and src.size == (64, 48) and src.frame_count == 12
        times = [f.time for f in src]
    assert times == pytest.approx(np.arange(12) / 25.0, abs=1e-3)


class _FakeCamera:
    """Stands in for cv2.VideoCapture(index): ``frames`` pictures, then nothing."""

    def __init__(self, frames: int, opened: bool = True):
        self.frames, self.opened, self.released = frames, opened, False

    def isOpened(self):
        return self.opened

    def grab(self):
        if self.frames <= 0:
            return False
        self.frames -= 1
        time.sleep(0.01)
        return True

    def retrieve(self):
        return True, np.zeros((48, 64, 3), np.uint8)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True


def test_webcam_uses_capture_clock(monkeypatch):
    import inference.sources.webcam as webcam

    cam = _FakeCamera(frames=5)
    monkeypatch.setattr(webcam, "open_capture", lambda target, api=None: cam)
    with open_source("webcam:0") as src:
        assert (src.kind, src.size, src.frame_count) == ("webcam", (64, 48), None)
        assert src.nominal_fps == 30.0
        with pytest.raises(InputError, match="^WEBCAM: camera 0 stopped delivering frames"):
            frames = []
            for frame in src:
                frames.append(frame)
    assert [f.index for f in frames] == list(range(5))
    times = [f.time for f in frames]
    assert times[0] == 0.0 and all(b - a > 0.005 for a, b in zip(times, times[1:]))
    assert cam.released


def test_webcam_that_gives_no_frame_fails_fast(monkeypatch):
    import inference.sources.webcam as webcam

    cam = _FakeCamera(frames=0)
    monkeypatch.setattr(webcam, "open_capture", lambda target, api=None: cam)
    monkeypatch.setattr(webcam, "_WEBCAM_FIRST_FRAME_S", 0.2)
    start = time.monotonic()
    with pytest.raises(InputError, match="^WEBCAM: camera 3 opened but delivered no frame"):
        open_source("webcam:3")
    assert time.monotonic() - start < 1.0 and cam.released
