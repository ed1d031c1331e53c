"""The inference worker (inference/worker.py) as a real child process on real media.

One short bake of Megamind.avi (20 frames) is shared by the bake / resolve tests; live workers
check the exits (stdin closed, kill -9). Every worker runs ``python -m inference.app.worker`` from an
argument list, like Blender starts it."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from data_paths import MEGAMIND, REPO
from inference.stream import ring as stream
from inference.pipeline.live import FrameResult
from inference.app.worker import pack_result
from inference.core.rotations import to_quat
from inference.stream.record import FrameLayout

LAYOUT = FrameLayout()
BAKE_FRAMES = 20


class Worker:
    """A worker child process on its own ring (this test process is the owner)."""

    def __init__(self, tmp: Path, *args: str, slots: int = 4, token: str | None = None):
        self.ring = stream.Ring.create(slots, LAYOUT)
        self.stdout_path, self.stderr_path = tmp / "worker.out", tmp / "worker.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "inference.app.worker", "--ring", self.ring.path,
                 "--token", token or self.ring.token_hex, *args],
                cwd=REPO, stdin=subprocess.PIPE, stdout=out, stderr=err)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def summary(self) -> dict:
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"stdout must be one JSON line, got {lines!r}"
        return json.loads(lines[0])

    def wait_running(self, frames: int = 1, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ring.write_count < frames:
            assert self.proc.poll() is None, f"worker ended early: {self.stderr[-2000:]}"
            assert time.monotonic() < deadline, "worker produced no frame in time"
            time.sleep(0.02)
        assert self.ring.state is stream.State.RUNNING

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.ring.close()
        self.ring.unlink()


@pytest.fixture(scope="module")
def bake(tmp_path_factory):
    """Bake 20 frames through a 4-slot ring with a slow consumer; collect everything it streamed."""
    tmp = tmp_path_factory.mktemp("bake")
    out, dets = tmp / "bake.npz", tmp / "bake.detections.npz"
    w = Worker(tmp, "--mode", "bake", "--source", str(MEGAMIND), "--max-frames", str(BAKE_FRAMES),
               "--out", str(out), "--detections", str(dets), "--smoothing", "0.5")
    ids, times, records, lost, states = [], [], [], 0, set()
    try:
        while True:
            finished = w.proc.poll() is not None
            i, t, r, d = w.ring.read_new(max_frames=2)       # slower than the writer: it must wait
            ids += list(i)
            times += list(t)
            records += list(r)
            lost += d
            states.add(w.ring.state_name())
            if finished and not len(i):
                break
            time.sleep(0.15 if len(i) else 0.02)
        yield dict(worker=w, out=out, dets=dets, ids=ids, times=np.array(times),
                   records=np.array(records), lost=lost, states=states, code=w.proc.returncode,
                   rest=w.ring.rest_joints, state=w.ring.state_name(), error=w.ring.error,
                   progress=w.ring.progress, hb_age=w.ring.heartbeat_age(), tmp=tmp)
    finally:
        w.close()


def test_pack_result_writes_xyzw_quaternions():
    rot = np.broadcast_to(np.eye(3), (55, 3, 3)).copy()
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    rot[0] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]               # 90° about +Y
    res = FrameResult(time=0.5, local_quat=to_quat(rot), local_rot=rot, trans=np.array([1.0, 2.0, 3.0]),
                      joints=np.zeros((55, 3)), expression=np.arange(10.0), arkit=np.full(52, 0.25),
                      part_valid=np.array([1, 0, 1, 0], bool))
    f = LAYOUT.unpack(pack_result(LAYOUT, res))
    np.testing.assert_allclose(f.quat[0], [0, np.sin(np.pi / 4), 0, np.cos(np.pi / 4)], atol=1e-6)
    np.testing.assert_allclose(f.quat[1:], np.tile([0, 0, 0, 1.0], (54, 1)), atol=1e-7)
    np.testing.assert_array_equal(f.trans, [1, 2, 3])
    np.testing.assert_array_equal(f.expression, np.arange(10.0))
    np.testing.assert_array_equal(f.part_valid, [1, 0, 1, 0])


def test_bake_streams_every_frame_in_order_and_writes_the_files(bake):
    w = bake["worker"]
    assert bake["code"] == 0, w.stderr[-3000:]
    assert bake["ids"] == list(range(BAKE_FRAMES)) and bake["lost"] == 0
    assert bake["state"] == "done" and bake["error"] == "" and bake["progress"] == (BAKE_FRAMES, BAKE_FRAMES)
    assert "running" in bake["states"]
    s = w.summary()
    assert s["frames"] == BAKE_FRAMES and s["dropped"] == 0 and s["state"] == "done"
    assert s["out"] == str(bake["out"]) and s["detections"] == str(bake["dets"])
    assert bake["out"].is_file() and bake["dets"].is_file()
    assert not list(bake["tmp"].glob("*.part"))              # atomic writes left nothing behind
    q = LAYOUT.unpack_many(bake["records"])["quat"]
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
    with np.load(bake["out"]) as m:
        np.testing.assert_allclose(bake["times"], m["frame_times"])  # the source's own clock
        np.testing.assert_allclose(bake["rest"], m["rest_joints"], atol=1e-6)
    assert os.path.exists(w.ring.path)                       # the worker never unlinks


def test_bake_file_equals_python_m_inference_capture(bake):
    from inference.app.capture import run_capture

    ref = run_capture(str(MEGAMIND), max_frames=BAKE_FRAMES, progress=False).motion.to_npz_dict()
    with np.load(bake["out"], allow_pickle=False) as got:
        assert set(got.files) == set(ref)
        np.testing.assert_allclose(got["poses"], ref["poses"], atol=1e-5)
        for key in ref:
            if ref[key].dtype.kind in "fc":
                np.testing.assert_allclose(got[key], ref[key], atol=1e-5, err_msg=key)
            else:
                np.testing.assert_array_equal(got[key], ref[key], err_msg=key)


def test_resolve_from_the_cache_is_fast_and_follows_the_smoothing(bake, tmp_path):
    same, other = tmp_path / "same.npz", tmp_path / "other.npz"
    for out, smoothing in ((same, "0.5"), (other, "0.0")):
        w = Worker(tmp_path, "--mode", "resolve", "--detections", str(bake["dets"]), "--out", str(out),
                   "--smoothing", smoothing, "--source", str(MEGAMIND))
        try:
            t0 = time.monotonic()
            assert w.wait(30) == 0, w.stderr[-3000:]
            wall = time.monotonic() - t0
            s = w.summary()
            assert s["state"] == "done" and s["frames"] == BAKE_FRAMES and w.ring.state_name() == "done"
            assert s["seconds"] < 5.0 and wall < 15.0           # no detector: imports + a batch solve
            assert "mediapipe" not in w.stderr.lower() and "XNNPACK" not in w.stderr
            assert w.ring.progress == (BAKE_FRAMES, BAKE_FRAMES)
        finally:
            w.close()
    with np.load(bake["out"]) as b, np.load(same) as s, np.load(other) as o:
        for key in b.files:                                      # the cache reproduces the bake
            if b[key].dtype.kind == "f":
                np.testing.assert_allclose(s[key], b[key], atol=1e-6, err_msg=key)
            else:
                np.testing.assert_array_equal(s[key], b[key], err_msg=key)
        assert o["poses"].shape == b["poses"].shape
        assert np.abs(o["poses"] - b["poses"]).max() > 1e-3     # another smoothing, another motion
        np.testing.assert_array_equal(o["keypoints2d"], b["keypoints2d"])


def test_live_worker_exits_promptly_when_stdin_closes(tmp_path):
    w = Worker(tmp_path, "--mode", "live", "--source", str(MEGAMIND), "--loop", slots=8)
    try:
        w.wait_running(frames=3)
        assert w.ring.heartbeat_age() < 0.5
        latest = w.ring.read_latest()
        assert latest is not None and latest.frame_id >= 2
        np.testing.assert_allclose(np.linalg.norm(latest.quat, axis=-1), 1.0, atol=1e-5)
        assert w.ring.progress[1] == 0 and w.ring.fps > 0     # looped: no total
        t0 = time.monotonic()
        w.proc.stdin.close()
        assert w.wait(10) == 0, w.stderr[-3000:]
        elapsed = time.monotonic() - t0
        assert elapsed < 2.0, f"took {elapsed:.2f} s to exit"
        assert w.ring.state_name() == "stopped" and w.ring.error == ""
        s = w.summary()
        assert s["state"] == "stopped" and s["frames"] >= 3 and s["mode"] == "live"
        assert os.path.exists(w.ring.path)
    finally:
        w.close()


def test_killed_worker_leaves_the_ring_for_the_parent_to_unlink(tmp_path):
    w = Worker(tmp_path, "--mode", "live", "--source", str(MEGAMIND), "--loop")
    try:
        w.wait_running(frames=1)
        os.kill(w.proc.pid, signal.SIGKILL)
        assert w.wait(10) == -signal.SIGKILL
        time.sleep(0.4)
        assert os.path.exists(w.ring.path)
        assert w.ring.heartbeat_age() > 0.3                     # nobody beats any more
        assert w.ring.state_name() == "running"                 # what the parent sees: a dead runner
        assert w.ring.read_latest() is not None                 # frames written so far are readable
    finally:
        w.close()
    assert not os.path.exists(w.ring.path)


def test_stop_line_ends_a_bake_with_what_was_captured(tmp_path):
    out = tmp_path / "stopped.npz"
    w = Worker(tmp_path, "--mode", "bake", "--source", str(MEGAMIND), "--out", str(out), slots=64)
    try:
        w.wait_running(frames=2)
        w.proc.stdin.write(b"stop\n")
        w.proc.stdin.flush()
        assert w.wait(30) == 0, w.stderr[-3000:]
        s = w.summary()
        ids, _, _, lost = w.ring.read_new()
        assert s["state"] == "done" and lost == 0 and list(ids) == list(range(s["frames"]))
        assert 2 <= s["frames"] < 270
        with np.load(out) as m:
            assert m["poses"].shape == (s["frames"], 165)
    finally:
        w.close()


def test_bad_source_fails_with_one_line_in_the_header(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_text("this is not a video\n")
    w = Worker(tmp_path, "--mode", "live", "--source", str(bad))
    try:
        assert w.wait(30) == 2
        err = w.ring.error
        assert w.ring.state_name() == "failed" and err and "\n" not in err and str(bad) in err
        assert w.stderr.strip().splitlines()[-1] == f"error: {err}"
        assert w.summary()["state"] == "failed"
    finally:
        w.close()


def test_wrong_token_is_refused_without_touching_the_ring(tmp_path):
    w = Worker(tmp_path, "--mode", "live", "--source", str(MEGAMIND), token="ab" * 16)
    try:
        assert w.wait(30) == 2
        assert "token does not match" in w.stderr and len(w.stderr.strip().splitlines()) == 1
        assert w.ring.state_name() == "starting" and w.ring.error == "" and w.ring.heartbeat == 0.0
        assert w.summary()["state"] == "failed"
    finally:
        w.close()
