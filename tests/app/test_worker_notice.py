"""The worker says 'compiling the live solver' in the ring's notice while numba compiles it (a Python
whose numba cache is empty, e.g. one picked by hand in Blender's Preferences), and nothing when it
loads the cache. Real worker child processes on Megamind.avi, a fresh NUMBA_CACHE_DIR."""
import os
import subprocess
import sys
import time

from data_paths import MEGAMIND, REPO
from inference.app.worker import COMPILE_NOTICE
from inference.stream import ring as stream
from inference.stream.record import FrameLayout


def watch_live_worker(cache_dir, timeout: float = 240.0) -> tuple[set[str], float]:
    """Start a live worker with ``cache_dir`` as numba's cache; every notice seen until its first
    frame, and how long that took (s)."""
    ring = stream.Ring.create(8, FrameLayout())
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("MOCAP_NO_JIT", None)
    proc = subprocess.Popen([sys.executable, "-m", "inference.app.worker", "--ring", ring.path, "--token",
                             ring.token_hex, "--mode", "live", "--source", str(MEGAMIND), "--loop"],
                            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    notices, t0 = set(), time.monotonic()
    try:
        while ring.write_count < 1:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() - t0 < timeout, "no frame in time"
            notices.add(ring.notice)
            time.sleep(0.05)
        notices.add(ring.notice)
        return notices, time.monotonic() - t0
    finally:
        proc.stdin.close()
        proc.wait(20)
        ring.close()
        ring.unlink()


def test_compiling_is_said_while_it_happens_and_only_then(tmp_path):
    cold, cold_s = watch_live_worker(tmp_path / "numba-cache")
    assert cold == {"", COMPILE_NOTICE}, cold                       # said, then cleared before frames
    assert any(p.suffix == ".nbi" for p in (tmp_path / "numba-cache").rglob("*"))
    warm, warm_s = watch_live_worker(tmp_path / "numba-cache")
    assert warm == {""}, warm                                        # the cache loads: nothing to say
    assert warm_s < cold_s
