#!/usr/bin/env python
"""The add-on's benchmark: frame transport, bulk baking and the live tick; prints one JSON object.

Run with the Blender-as-module venv (``scripts/test.sh`` makes it)::

    .venv-blender/bin/python scripts/bench_blender.py [--frames 20000] [--insert-frames 1000]

Keys, with their targets:

* ``shm_us_per_frame`` / ``pipe_us_per_frame``: one frame record (55 quaternions, root,
  expression, ARKit, part flags) written by a worker process and read by this process through
  the shared-memory ring, vs the same fields pickled through a ``multiprocessing.Pipe``; CPU time of
  both processes per frame (see scripts/bench_stream.py). Target: ring ≤ 50 µs and ≥ 10× faster.
  ``*_inprocess_*``: the same pair one frame at a time in a single process (no batching at all).
* ``bake_10k_s`` / ``keyframe_insert_10k_s``: 10,000 frames × 285 channels keyed in bulk vs with
  ``keyframe_insert`` (extrapolated from ``keyframe_insert_frames_measured``). Target ≤ 2 s, ≥ 10×.
* ``live_tick_ms``: one live pump tick (``pump.tick``: poll the worker, read the newest frame from
  the ring, unpack it, pose the 55 bones) with a real worker streaming Megamind.avi in a loop, mean
  over the ticks that applied a frame; ``pose_apply_ms`` is the pose application alone. Target ≤ 2 ms.

The transport part runs before bpy is imported (its child processes are forked).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_stream  # noqa: E402  (no bpy)


ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "video" / "Megamind.avi"


def bench_pump_tick(seconds: float, worker_python: str) -> dict:
    """Live link with a real worker: time ``pump.tick`` for ``seconds`` after the first frame."""
    import bench_keys
    import bpy
    import numpy as np
    pump, session = bench_keys._import("blender_addon.pump"), bench_keys._import("blender_addon.session")
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    obj = bench_keys.armature.build_armature(bpy.context, name="SMPLX_live")
    opts = session.WorkerOptions(mode="live", source=str(CLIP), loop=True)
    with tempfile.TemporaryDirectory() as user:
        pump.start_live(session.start(worker_python, opts, user), obj, use_timer=False)
        try:
            deadline = time.monotonic() + 60.0
            while pump.live() is not None and pump.live().frames_applied == 0 and time.monotonic() < deadline:
                pump.tick()
                time.sleep(0.005)
            ticks, applied = [], []
            end = time.monotonic() + seconds
            while pump.live() is not None and time.monotonic() < end:
                t0 = time.perf_counter()
                r = pump.tick()
                ticks.append(time.perf_counter() - t0)
                applied.append(r["applied"])
                time.sleep(1.0 / 60.0)        # Blender's timer interval
        finally:
            pump.stop_live()
    t, a = np.array(ticks) * 1e3, np.array(applied, bool)
    return {"live_tick_ms": round(float(t[a].mean()), 4) if a.any() else None,
            "live_tick_p95_ms": round(float(np.percentile(t[a], 95)), 4) if a.any() else None,
            "live_tick_idle_ms": round(float(t[~a].mean()), 4) if (~a).any() else None,
            "live_ticks_with_frame": int(a.sum()), "live_ticks": len(t)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000, help="frames per two-process transport stream")
    ap.add_argument("--insert-frames", type=int, default=1_000, help="frames keyed with keyframe_insert")
    ap.add_argument("--ticks", type=int, default=300, help="pose applications timed")
    ap.add_argument("--live-seconds", type=float, default=5.0, help="live pump ticks timed for this long")
    ap.add_argument("--worker-python", default=str(ROOT / ".venv" / "bin" / "python"))
    args = ap.parse_args(argv)
    shm, shm_wall = bench_stream.shm_two_process(args.frames)
    pipe, pipe_wall = bench_stream.pipe_two_process(args.frames)
    shm_1 = bench_stream.shm_in_process(2000)
    pipe_1 = bench_stream.pipe_in_process(2000)

    import bench_keys  # imports bpy
    keys = bench_keys.main(["--insert-frames", str(args.insert_frames), "--ticks", str(args.ticks)], emit=False)
    live = bench_pump_tick(args.live_seconds, args.worker_python)
    keys["pose_apply_ms"] = keys.pop("live_tick_ms")
    keys["pose_apply_p95_ms"] = keys.pop("live_tick_p95_ms")
    keys.pop("live_ticks", None)
    result = {
        "shm_us_per_frame": round(shm, 2), "pipe_us_per_frame": round(pipe, 2),
        "shm_vs_pipe": round(pipe / shm, 1),
        "transport_measure": "two processes, one-way, CPU time of producer + consumer per frame",
        "shm_inprocess_us_per_frame": round(shm_1, 2), "pipe_inprocess_us_per_frame": round(pipe_1, 2),
        "shm_wall_us_per_frame": round(shm_wall, 2), "pipe_wall_us_per_frame": round(pipe_wall, 2),
        **{k: v for k, v in keys.items()},
        **live,
    }
    result["bake_vs_keyframe_insert"] = result.pop("ratio")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
