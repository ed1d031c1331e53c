"""Bad input and interrupts: exit code 2 and exactly one line on stderr, checked before any work;
no traceback, no output or .part file left, an existing output untouched; Ctrl-C / SIGTERM keep
what was captured."""
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from data_paths import MEGAMIND, REPO


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "inference", "capture", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def _bad_inputs(tmp):
    zero = tmp / "zero.mp4"
    zero.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    trunc = tmp / "truncated.avi"
    data = MEGAMIND.read_bytes()
    trunc.write_bytes(data[: int(len(data) * 0.4)])
    return {"missing": tmp / "nope.mp4", "zero-byte": zero, "text-as-mp4": text,
            "truncated": trunc, "webcam": "webcam:7"}


@pytest.mark.parametrize("case", ["missing", "zero-byte", "text-as-mp4", "truncated", "webcam"])
def test_bad_input_exit_2_one_line_no_file(case, tmp_path):
    spec = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.npz"
    r = run_cli(spec, "--out", out, "--quiet", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error:"), r.stderr   # no native log lines
    assert not out.exists()
    assert not list(tmp_path.glob(".*.part"))


def _mixed_folder(tmp):
    folder = tmp / "mixed"
    folder.mkdir()
    for name in ("messi5.jpg", "basketball1.png"):
        (folder / name).write_bytes((REPO.parent / "shared" / "data" / "images" / name).read_bytes())
    return folder


def test_folder_of_mixed_sizes_is_one_line(tmp_path):
    r = run_cli(_mixed_folder(tmp_path), "--out", tmp_path / "o.npz", "--quiet", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "same size" in r.stderr, r.stderr


BAD_ARGS = {
    "fov-not-a-number": (["--fov", "abc"], "--fov"),
    "max-frames-0": (["--max-frames", "0"], "--max-frames"),
    "start-frame-negative": (["--start-frame", "-3"], "--start-frame"),
    "folder-fps-0": (["--folder-fps", "0"], "--folder-fps"),
    "folder-fps-negative": (["--folder-fps", "-1"], "--folder-fps"),
    "folder-fps-nan": (["--folder-fps", "nan"], "--folder-fps"),
    "preview-not-png": (["--preview", "p.txt"], "--preview"),
    "preview-missing-folder": (["--preview", "nope/p.png"], "--preview"),
    "out-is-a-folder": (["--out", "taken.npz"], "is a folder"),
    "out-folder-unwritable": (["--out", "/proc/out.npz"], "cannot write"),
    "out-not-npz": (["--out", "o.txt"], ".npz"),
}


@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_bad_arguments_refused_before_any_work(case, tmp_path):
    args, words = BAD_ARGS[case]
    (tmp_path / "taken.npz").mkdir()
    out = tmp_path / "o.npz"
    out.write_bytes(b"an earlier capture")
    if "--out" not in args:
        args = args + ["--out", out]
    r = run_cli(MEGAMIND, *args, cwd=tmp_path)              # no --quiet: a started capture would show
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error:") and words in r.stderr, r.stderr
    assert out.read_bytes() == b"an earlier capture"
    assert not (tmp_path / "p.png").exists() and not list(tmp_path.glob(".*.part"))


def test_output_is_readable_like_any_file_the_user_writes(tmp_path):
    out = tmp_path / "ok.npz"
    r = run_cli(REPO.parent / "shared" / "data" / "images" / "messi5.jpg", "--out", out, "--quiet",
                "--preview", tmp_path / "p.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o666 & ~umask


def _start_capture(tmp):
    """A capture of the sample clip, started; returns once the detector has done a few frames."""
    proc = subprocess.Popen([sys.executable, "-m", "inference", "capture", str(MEGAMIND), "--out", str(tmp / "s.npz")],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    seen = b""
    deadline = time.monotonic() + 120
    while max(map(int, re.findall(rb"\| *(\d+)/270", seen)), default=0) < 20:    # tqdm's frame count
        assert time.monotonic() < deadline and proc.poll() is None, seen[-500:]
        seen += os.read(proc.stderr.fileno(), 4096)
    return proc, seen


@pytest.mark.parametrize("sig, repeats", [(signal.SIGINT, 1), (signal.SIGINT, 4), (signal.SIGTERM, 3)],
                         ids=["ctrl-c", "ctrl-c-during-the-solve", "sigterm"])
def test_interrupt_keeps_what_was_captured(tmp_path, sig, repeats):
    proc, seen = _start_capture(tmp_path)
    for _ in range(repeats):            # the first stops the detector, the others land in the solve / write
        proc.send_signal(sig)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=120)
    err = (seen + err).decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "stopped: keeping the" in err and b"wrote" in out
    with np.load(tmp_path / "s.npz", allow_pickle=False) as d:
        assert 0 < len(d["valid"]) < 270 and d["valid"].any()
    assert not list(tmp_path.glob(".*.part"))


def test_interrupt_before_anything_is_captured_is_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "inference", "capture", str(MEGAMIND), "--out",
                             str(tmp_path / "s.npz"), "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    time.sleep(0.2)                     # Python is up; the engine's modules are loading
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (130, -signal.SIGINT), err     # -2: the signal came before Python started
    assert "Traceback" not in err.decode() and len(err.decode().splitlines()) <= 1, err
    assert not (tmp_path / "s.npz").exists()


def test_bad_model_file(tmp_path):
    bad = tmp_path / "SMPLX_NEUTRAL.pkl"
    bad.write_bytes(b"\x80\x02}q\x00.")
    out = tmp_path / "out.npz"
    r = run_cli(REPO.parent / "shared" / "data" / "images" / "messi5.jpg", "--model", bad, "--out", out,
                "--quiet", cwd=tmp_path)
    assert r.returncode == 2 and "convert_smplx_pkl" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_clip_without_person_succeeds_with_valid_false(tmp_path):
    path = tmp_path / "empty.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(8):
        w.write(np.full((120, 160, 3), 40 + 10 * i, np.uint8))
    w.release()
    out = tmp_path / "empty.npz"
    r = run_cli(path, "--out", out, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no person" in r.stderr
    with np.load(out, allow_pickle=False) as d:
        assert d["valid"].shape == (8,) and not d["valid"].any()
        assert np.isfinite(d["poses"]).all()


def test_start_and_max_frames_trim_keeping_the_source_timestamps(tmp_path):
    out = tmp_path / "trim.npz"
    r = run_cli(MEGAMIND, "--start-frame", "100", "--max-frames", "6", "--out", out, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with np.load(out) as m:
        times = m["frame_times"]
    assert len(times) == 6 and abs(times[0] - 100 / 23.976) < 2e-3 and np.all(np.diff(times) > 0)
