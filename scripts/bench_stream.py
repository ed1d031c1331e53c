#!/usr/bin/env python
"""Frame transport benchmark: the shared-memory ring vs a pickling pipe; prints one JSON object.

The payload is one frame as the worker streams it (55 joints, ``NUM_EXPRESSION`` expression
coefficients): a float32 ring record (``record_floats`` long) for the ring, the same fields as a dict
of numpy arrays (+ frame id and time) for the pipe.

Main figures, two processes (a forked child producer, this process the consumer), N frames one way:

* ``shm_us_per_frame``  — CPU time per frame of ring ``write`` in the child plus ``read_new`` in the
  parent (both processes' user + system time over the stream, divided by N). The parent polls like
  Blender's timer (``read_new`` every 1 ms, taking every frame that arrived); the ring is large
  enough that the writer never waits, and ``block=True`` makes sure nothing is dropped.
* ``pipe_us_per_frame`` — the same for ``multiprocessing.Pipe``: pickle + ``send`` in the child,
  ``recv`` + unpickle in the parent, one message per frame.
* ``*_wall_us_per_frame`` — wall time of the same streams / N (noisy on a loaded machine).
* ``*_inprocess_us_per_frame`` — one process, one frame at a time: ring ``write`` + ``read_new``
  (same code path) vs ``send`` + ``recv`` on the two ends of a Pipe; CPU time, best of 5 runs.
  This is the per-call overhead with no batching at all.

    .venv/bin/python scripts/bench_stream.py [--frames 20000]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from inference.core.layout import NUM_ARKIT, NUM_EXPRESSION, NUM_PARTS  # noqa: E402
from inference.stream.record import FrameLayout  # noqa: E402
from inference.stream.ring import Ring  # noqa: E402

LAYOUT = FrameLayout()


def frame_dict(i: int) -> dict:
    """One frame as a dict of arrays (what a pipe-based design would send)."""
    rng = np.random.default_rng(i)
    return {"frame_id": i, "time": i / 30.0, "quat": rng.normal(size=(55, 4)).astype(np.float32),
            "trans": rng.normal(size=3).astype(np.float32), "expression": np.zeros(NUM_EXPRESSION, np.float32),
            "arkit": rng.uniform(size=NUM_ARKIT).astype(np.float32), "part_valid": np.ones(NUM_PARTS, np.float32)}


def frame_record(i: int) -> np.ndarray:
    d = frame_dict(i)
    return LAYOUT.pack(d["quat"], d["trans"], d["expression"], d["arkit"], d["part_valid"])


# ---------------------------------------------------------------------------------------------
# two processes
# ---------------------------------------------------------------------------------------------
POLL_S = 0.001


def _ring_child(path: str, token: str, n: int, go, cpu) -> None:
    ring = Ring.attach(path, token)
    rec = frame_record(0)
    go.wait()
    c0 = time.process_time()
    for i in range(n):
        ring.write(i, i / 30.0, rec, block=True)
    cpu.value = time.process_time() - c0
    ring.close()


def _pipe_child(conn, n: int, go, cpu) -> None:
    d = frame_dict(0)
    go.wait()
    c0 = time.process_time()
    for i in range(n):
        d["frame_id"] = i
        conn.send(d)
    cpu.value = time.process_time() - c0
    conn.close()


def shm_two_process(n: int) -> tuple[float, float]:
    """(CPU µs per frame, wall µs per frame)."""
    ring = Ring.create(2 * n, LAYOUT)
    ctx = mp.get_context("fork")
    go, cpu = ctx.Event(), ctx.Value("d", 0.0)
    child = ctx.Process(target=_ring_child, args=(ring.path, ring.token_hex, n, go, cpu))
    child.start()
    time.sleep(0.3)                                   # let the child attach
    got = 0
    t0, c0 = time.perf_counter(), time.process_time()
    go.set()
    while got < n:
        ids, _, records, dropped = ring.read_new()
        assert dropped == 0
        got += len(ids)
        if got < n:
            time.sleep(POLL_S)
    wall, cpu_parent = time.perf_counter() - t0, time.process_time() - c0
    child.join()
    ring.close()
    ring.unlink()
    return (cpu.value + cpu_parent) / n * 1e6, wall / n * 1e6


def pipe_two_process(n: int) -> tuple[float, float]:
    """(CPU µs per frame, wall µs per frame)."""
    ctx = mp.get_context("fork")
    recv_end, send_end = ctx.Pipe(duplex=False)
    go, cpu = ctx.Event(), ctx.Value("d", 0.0)
    child = ctx.Process(target=_pipe_child, args=(send_end, n, go, cpu))
    child.start()
    send_end.close()
    time.sleep(0.3)
    t0, c0 = time.perf_counter(), time.process_time()
    go.set()
    for _ in range(n):
        recv_end.recv()
    wall, cpu_parent = time.perf_counter() - t0, time.process_time() - c0
    child.join()
    return (cpu.value + cpu_parent) / n * 1e6, wall / n * 1e6


# ---------------------------------------------------------------------------------------------
# one process
# ---------------------------------------------------------------------------------------------
def best_of(fn, n: int, repeats: int = 5) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, (time.process_time() - t0) / n)
    return best * 1e6


def shm_in_process(n: int) -> float:
    owner = Ring.create(8, LAYOUT)
    producer = Ring.attach(owner.path, owner.token_hex)
    rec = frame_record(0)

    def one(i: int) -> None:
        producer.write(i, 0.0, rec)
        owner.read_new()

    us = best_of(one, n)
    producer.close()
    owner.close()
    owner.unlink()
    return us


def pipe_in_process(n: int) -> float:
    a, b = mp.Pipe()
    d = frame_dict(0)

    def one(i: int) -> None:
        a.send(d)
        b.recv()

    return best_of(one, n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20000, help="frames per two-process stream")
    args = ap.parse_args()
    shm, shm_wall = shm_two_process(args.frames)
    pipe, pipe_wall = pipe_two_process(args.frames)
    shm_1 = shm_in_process(2000)
    pipe_1 = pipe_in_process(2000)
    print(json.dumps({
        "record_floats": LAYOUT.record_len, "frames": args.frames,
        "shm_us_per_frame": round(shm, 2), "pipe_us_per_frame": round(pipe, 2),
        "ratio": round(pipe / shm, 1),
        "measure": "two processes, one-way stream, CPU time of producer + consumer per frame",
        "shm_wall_us_per_frame": round(shm_wall, 2), "pipe_wall_us_per_frame": round(pipe_wall, 2),
        "shm_inprocess_us_per_frame": round(shm_1, 2), "pipe_inprocess_us_per_frame": round(pipe_1, 2),
        "ratio_inprocess": round(pipe_1 / shm_1, 1),
    }))


if __name__ == "__main__":
    main()
