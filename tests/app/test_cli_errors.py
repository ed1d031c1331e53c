"""Bad input: exit code 2, one line on stderr, no traceback, no output file left behind."""
import shutil
import subprocess
import sys

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
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


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
