"""Shared-memory ring (inference/stream.py): layout, header checks, seqlock across real processes,
backpressure, drop counting, crash registry, per-frame cost."""
import ast
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from inference.stream import registry
from inference.stream import ring as stream
from inference.stream.record import FrameLayout
from inference.core.errors import MocapError

REPO = Path(__file__).resolve().parents[2]
LAYOUT = FrameLayout(num_expression=10)
R = LAYOUT.record_len
RAMP = np.arange(R, dtype=np.float32)


def expected_record(frame_id):
    """Every field of frame ``frame_id`` derives from the id (exact in float32)."""
    return np.float32((frame_id % 4096) * 1000) + RAMP


def run_child(body: str, *args: str) -> subprocess.Popen:
    """A real child process running ``body`` with ``inference`` importable; argv[1:] = args."""
    code = ("import sys, time, os\nimport numpy as np\nfrom inference.stream import registry\n"
            "from inference.stream import ring as stream\nfrom inference.stream.record import FrameLayout\n") + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


WRITER = """
ring = stream.Ring.attach(sys.argv[1], sys.argv[2])
count, block, seconds = int(sys.argv[3]), sys.argv[4] == "block", float(sys.argv[5])
ramp = np.arange(ring.layout.record_len, dtype=np.float32)
ring.state = stream.State.RUNNING
end = time.monotonic() + seconds
i = 0
while i < count and time.monotonic() < end:
    rec = np.float32((i % 4096) * 1000) + ramp
    if ring.write(i, i * 0.5, rec, block=block, timeout=10.0):
        i += 1
    if i % 256 == 0:
        ring.beat()
ring.progress = (i, count)
ring.state = stream.State.DONE
ring.close()
print(i)
"""


@pytest.fixture
def ring(tmp_path):
    r = stream.Ring.create(8, LAYOUT)
    yield r
    r.close()
    r.unlink()


def test_stream_imports_only_numpy_and_stdlib():
    """Blender imports this package: numpy, the standard library, core and the stream itself only."""
    for path in (REPO / "inference" / "stream").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    assert node.level == 1 or (node.module or "").startswith("core."), f"{path.name} imports {node.module}"
                    continue
                names = [node.module.split(".")[0]]
            else:
                continue
            for n in names:
                assert n == "numpy" or n in sys.stdlib_module_names or n == "__future__", n


def test_layout_pack_unpack_roundtrip():
    rng = np.random.default_rng(0)
    quat = rng.normal(size=(55, 4)).astype(np.float32)
    trans, expr = rng.normal(size=3), rng.normal(size=10)
    arkit, valid = rng.uniform(size=52), np.array([True, False, True, True])
    rec = LAYOUT.pack(quat, trans, expr, arkit, valid)
    assert rec.shape == (R,) == (55 * 4 + 3 + 10 + 52 + 4,) and rec.dtype == np.float32
    f = LAYOUT.unpack(rec, frame_id=7, time=1.5)
    np.testing.assert_array_equal(f.quat, quat)
    np.testing.assert_allclose(f.trans, trans, rtol=1e-6)
    np.testing.assert_allclose(f.expression, expr, rtol=1e-6)
    np.testing.assert_allclose(f.arkit, arkit, rtol=1e-6)
    np.testing.assert_array_equal(f.part_valid, [1, 0, 1, 1])
    assert f.frame_id == 7 and f.time == 1.5 and np.shares_memory(f.quat, rec)
    many = LAYOUT.unpack_many(np.stack([rec, rec * 2]))
    assert many["quat"].shape == (2, 55, 4) and many["expression"].shape == (2, 10)
    np.testing.assert_array_equal(many["arkit"][1], rec[LAYOUT.slices["arkit"]] * 2)
    with pytest.raises(ValueError):
        LAYOUT.unpack(rec[:-1])


def test_create_attach_header_fields(tmp_path):
    layout = FrameLayout(num_expression=7)
    own = stream.Ring.create(5, layout, directory=tmp_path)
    try:
        name = os.path.basename(own.path)
        assert name.startswith(stream.PREFIX) and own.path in registry.list_segments(tmp_path)
        assert stat.S_IMODE(os.stat(own.path).st_mode) == 0o600
        att = stream.Ring.attach(own.path, own.token_hex)
        assert att.layout == layout and att.num_slots == 5 and att.token == own.token
        assert own.state is stream.State.STARTING and own.heartbeat_age() == float("inf")
        assert own.read_latest() is None and len(own.read_new()[0]) == 0
        att.state = stream.State.RUNNING
        att.beat()
        att.progress = (3, 40)
        att.fps = 12.5
        att.error = "a long\nmessage " + "é" * 600        # one line, cut at a character boundary
        rest = np.arange(165, dtype=np.float32).reshape(55, 3)
        assert own.rest_joints is None
        att.rest_joints = rest
        assert own.state_name() == "running" and own.heartbeat_age() < 1.0
        assert own.progress == (3, 40) and own.fps == 12.5
        assert own.error.startswith("a long message éé") and "\n" not in own.error
        assert len(own.error.encode()) < stream.ERROR_BYTES
        assert own.notice == ""
        att.notice = "compiling the live solver " + "é" * 300   # its own area, cut the same way
        assert own.notice.startswith("compiling the live solver é") and len(own.notice.encode()) < stream.NOTICE_BYTES
        assert own.error.startswith("a long message")
        np.testing.assert_array_equal(own.rest_joints, rest)
        with pytest.raises(stream.StreamError):
            att.unlink()                                     # the attached side never unlinks
        att.close()
        att.close()
        assert os.path.exists(own.path)
    finally:
        own.close()
        own.unlink()
    assert not os.path.exists(own.path)
    own.unlink()                                             # idempotent


def test_attach_rejects_wrong_token_magic_version_and_size(tmp_path, ring):
    def fails(path, token, words):
        with pytest.raises(stream.StreamError) as exc:
            stream.Ring.attach(path, token)
        msg = str(exc.value)
        assert isinstance(exc.value, MocapError) and "\n" not in msg and words in msg, msg

    fails(ring.path, "00" * 16, "token does not match")
    fails(ring.path, bytes(16), "token does not match")
    fails(ring.path, "zz", "not a hex string")
    fails(ring.path, "abcd", "expected 16")
    fails(tmp_path / "missing", ring.token_hex, "cannot open")
    raw = bytearray(Path(ring.path).read_bytes())
    bad = tmp_path / "badmagic"
    bad.write_bytes(b"NOTARING" + bytes(raw[8:]))
    fails(bad, ring.token_hex, "bad magic")
    wrong = bytearray(raw)
    wrong[8:12] = (stream.VERSION + 1).to_bytes(4, "little")
    (tmp_path / "badversion").write_bytes(bytes(wrong))
    fails(tmp_path / "badversion", ring.token_hex, "layout version")
    (tmp_path / "short").write_bytes(bytes(raw[:stream.HEADER_SIZE + 100]))
    fails(tmp_path / "short", ring.token_hex, "truncated")
    (tmp_path / "tiny").write_bytes(b"SMPLXMOC")
    fails(tmp_path / "tiny", ring.token_hex, "too small")
    with pytest.raises(stream.StreamError):
        stream.Ring.create(4, LAYOUT, path=ring.path)        # O_EXCL: never reuse a file


def test_read_new_in_order_counts_frames_lost_to_a_lapping_writer(ring):
    att = stream.Ring.attach(ring.path, ring.token_hex)
    for i in range(3):
        att.write(i, i * 0.5, expected_record(i))
    ids, times, recs, dropped = ring.read_new()
    assert list(ids) == [0, 1, 2] and dropped == 0 and list(times) == [0.0, 0.5, 1.0]
    for i in range(3, 23):                                  # 20 frames into 8 slots: 12 lost
        att.write(i, i * 0.5, expected_record(i))
    assert att.overwritten == 12
    ids, times, recs, dropped = ring.read_new(max_frames=5)
    assert list(ids) == list(range(15, 20)) and dropped == 12
    np.testing.assert_array_equal(recs, np.stack([expected_record(i) for i in ids]))
    ids, _, _, dropped = ring.read_new()
    assert list(ids) == [20, 21, 22] and dropped == 0 and ring.read_count == 23
    assert ring.read_latest().frame_id == 22 and ring.last_sent_at() > 0
    att.close()


def test_blocking_write_times_out_when_the_consumer_does_not_read(ring):
    att = stream.Ring.attach(ring.path, ring.token_hex)
    for i in range(8):
        assert att.write(i, 0.0, RAMP, block=True, timeout=0.01)
    t0 = time.monotonic()
    assert not att.write(8, 0.0, RAMP, block=True, timeout=0.1)
    assert 0.09 <= time.monotonic() - t0 < 1.0
    ring.read_new(max_frames=1)
    assert att.write(8, 0.0, RAMP, block=True, timeout=0.1)
    assert att.write_count == 9
    att.close()


def test_blocking_writer_process_drops_nothing():
    r = stream.Ring.create(4, LAYOUT)
    try:
        child = run_child(WRITER, r.path, r.token_hex, "300", "block", "20")
        got, lost = [], 0
        rng = np.random.default_rng(1)
        deadline = time.monotonic() + 20
        while len(got) < 300 and time.monotonic() < deadline:
            ids, times, recs, dropped = r.read_new(max_frames=int(rng.integers(1, 6)))
            got += list(ids)
            lost += dropped
            np.testing.assert_array_equal(recs, np.float32((ids[:, None] % 4096) * 1000) + RAMP)
            np.testing.assert_array_equal(times, ids * 0.5)
            time.sleep(float(rng.uniform(0, 0.002)))       # a slow, irregular consumer
        out, err = child.communicate(timeout=10)
        assert child.returncode == 0, err
        assert got == list(range(300)) and lost == 0 and out.strip() == "300"
        assert r.state is stream.State.DONE and r.progress == (300, 300)
    finally:
        r.close()
        r.unlink()


def test_seqlock_never_returns_a_torn_record():
    """A child writes as fast as it can into 2 slots; every record read must be whole."""
    r = stream.Ring.create(2, LAYOUT)
    try:
        child = run_child(WRITER, r.path, r.token_hex, "100000000", "overwrite", "1.5")
        while r.state is stream.State.STARTING:
            time.sleep(0.001)
        checked, returned, lost, last = 0, 0, 0, -1

        def consume():
            nonlocal returned, lost, last
            ids, times, recs, dropped = r.read_new()
            if len(ids):
                assert ids[0] > last and np.all(np.diff(ids) > 0)
                last = ids[-1]
                np.testing.assert_array_equal(recs, np.float32((ids[:, None] % 4096) * 1000) + RAMP)
                np.testing.assert_array_equal(times, ids * 0.5)
            returned += len(ids)
            lost += dropped

        while r.state is stream.State.RUNNING:
            f = r.read_latest()
            if f is not None:
                np.testing.assert_array_equal(f.record, expected_record(f.frame_id))
                assert f.time == f.frame_id * 0.5
                checked += 1
            consume()
        out, err = child.communicate(timeout=10)
        assert child.returncode == 0, err
        written = int(out)
        consume()
        checked += returned
        # each published frame is returned by read_new exactly once or counted as lost
        assert r.read_count == written == returned + lost and checked > 1000
        print(f"\nwritten {written}, checked {checked}, returned {returned}, lost {lost}, torn {r.torn}")
    finally:
        r.close()
        r.unlink()


def test_remove_stale_unlinks_segments_of_dead_creators(tmp_path):
    registry_file = tmp_path / "state" / "segments.txt"
    crashed = run_child("""
        r = stream.Ring.create(4, FrameLayout(10), directory=sys.argv[1])
        registry.remember(r.path, sys.argv[2])
        print(r.path, flush=True)
        os._exit(0)          # a crash: no close, no unlink
        """, str(tmp_path), str(registry_file))
    out, err = crashed.communicate(timeout=20)
    assert crashed.returncode == 0, err
    dead_path = out.strip()
    live = stream.Ring.create(4, LAYOUT, directory=tmp_path)      # creator (this process) alive
    registry.remember(live.path, registry_file)
    registry.remember(tmp_path / "not_ours.txt", registry_file)           # never a segment: left alone
    (tmp_path / "not_ours.txt").write_text("keep")
    try:
        assert set(registry.list_segments(tmp_path)) == {dead_path, live.path}
        assert registry.remove_stale(registry_file) == [dead_path]
        assert not os.path.exists(dead_path) and os.path.exists(live.path)
        assert (tmp_path / "not_ours.txt").exists()
        assert registry_file.read_text().split() == [live.path]
        registry.forget(live.path, registry_file)
        assert registry_file.read_text() == ""
        assert registry.remove_stale(tmp_path / "no_registry.txt") == []
    finally:
        live.close()
        live.unlink()


def test_write_plus_read_is_well_under_50_us(ring):
    att = stream.Ring.attach(ring.path, ring.token_hex)
    rec = expected_record(3)
    best = np.inf
    for _ in range(5):          # CPU time: what the frame costs, not how busy the machine is
        t0 = time.process_time()
        for i in range(1000):
            att.write(i, 0.0, rec)
            ids, _, recs, _ = ring.read_new()
        best = min(best, (time.process_time() - t0) / 1000)
    assert len(ids) == 1 and np.array_equal(recs[0], rec)
    print(f"\nwrite + read_new: {best * 1e6:.1f} us/frame")
    assert best < 50e-6
    att.close()
