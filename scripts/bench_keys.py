"""Keying benchmark: bulk ``write_keys`` vs per-frame ``keyframe_insert``, and the live-pose tick.

Run with the Blender-as-module venv::

    .venv-blender/bin/python scripts/bench_keys.py [--frames 10000] [--insert-frames 1000] [--ticks 300]

Prints one JSON object:

* ``bake_10k_s``: ``keys.write_keys`` for 10,000 frames × (55 bone quaternions + root location +
  52 ARKit + 10 expression channels) = ``channels`` (285) F-curves;
* ``keyframe_insert_10k_s``: the same channels keyed with ``keyframe_insert`` frame by frame
  (pose set by ``apply_pose``), measured on ``keyframe_insert_frames_measured`` frames and
  extrapolated linearly to 10,000;
* ``ratio`` = keyframe_insert_10k_s / bake_10k_s (the bulk speed-up); ``live_tick_ms``: mean ``apply_pose`` time
  (with ARKit and expression) over ``live_ticks`` calls, and its 95th percentile.

Motion: the AMASS sample in ../shared/data (body + hands mapped onto SMPL-X), looped to length.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import types
from pathlib import Path

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AMASS = ROOT.parent / "shared" / "data" / "motion" / "amass_sample.npz"


def _import(name: str):
    """Import an add-on module as ``smplx_mocap.<name>`` (the repository root as the package,
    as Blender sees the installed extension) without running the add-on's registration."""
    for pkg_name, path in (("smplx_mocap", ROOT), ("smplx_mocap.blender_addon", ROOT / "blender_addon")):
        if pkg_name not in sys.modules:
            pkg = types.ModuleType(pkg_name)
            pkg.__path__ = [str(path)]
            sys.modules[pkg_name] = pkg
    return importlib.import_module(f"smplx_mocap.{name}")


cv = _import("blender_addon.convert")
armature = _import("blender_addon.armature")
keys = _import("blender_addon.keys")
rot = _import("inference.core.rotations")
layout = _import("inference.core.layout")
ARKIT_NAMES, NUM_ARKIT, NUM_EXPRESSION = layout.ARKIT_NAMES, layout.NUM_ARKIT, layout.NUM_EXPRESSION
DEFAULT_REST = _import("inference.core.skeleton").DEFAULT_REST


def motion(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Looped AMASS motion: quats (n, 55, 4) x, y, z, w, trans (n, 3), arkit (n, NUM_ARKIT),
    expression (n, NUM_EXPRESSION)."""
    with np.load(AMASS) as d:
        poses, trans = d["poses"], d["trans"]
    aa = np.zeros((poses.shape[0], 55, 3))
    aa[:, :22] = poses[:, :66].reshape(-1, 22, 3)
    aa[:, 25:] = poses[:, 66:].reshape(-1, 30, 3)
    idx = np.arange(n) % poses.shape[0]
    rng = np.random.default_rng(0)
    return (rot.quat_exp(aa)[idx], trans[idx].astype(np.float64),
            rng.random((n, NUM_ARKIT)), rng.normal(size=(n, NUM_EXPRESSION)))


def bench_bake(n: int) -> float:
    quats, trans, arkit, expr = motion(n)
    obj = armature.build_armature(bpy.context, name="Bake")
    frames = np.arange(1, n + 1, dtype=np.float64)
    t0 = time.perf_counter()
    keys.write_keys(obj, frames, quats, trans, DEFAULT_REST[0], expression=expr, arkit=arkit)
    return time.perf_counter() - t0


def bench_keyframe_insert(n: int) -> float:
    quats, trans, arkit, expr = motion(n)
    obj = armature.build_armature(bpy.context, name="Insert")
    pbones = [obj.pose.bones[name] for name in keys.JOINT_NAMES]
    root = obj.pose.bones[keys.ROOT_BONE]
    props = [f'["{name}"]' for name in ARKIT_NAMES] + [f'["{armature.expression_prop_name(i)}"]' for i in range(NUM_EXPRESSION)]
    t0 = time.perf_counter()
    for t in range(n):                                          # the per-frame baseline
        frame = float(t + 1)
        keys.apply_pose(obj, quats[t], trans[t], DEFAULT_REST[0], expression=expr[t], arkit=arkit[t])
        for pb in pbones:
            pb.keyframe_insert("rotation_quaternion", frame=frame, group=pb.name)
        root.keyframe_insert("location", frame=frame, group=root.name)
        for path in props:
            obj.keyframe_insert(path, frame=frame)
    return time.perf_counter() - t0


def bench_live(ticks: int) -> np.ndarray:
    quats, trans, arkit, expr = motion(ticks)
    obj = armature.build_armature(bpy.context, name="Live")
    keys.apply_pose(obj, quats[0], trans[0], DEFAULT_REST[0])   # fills the rig cache
    times = np.empty(ticks)
    for t in range(ticks):
        t0 = time.perf_counter()
        keys.apply_pose(obj, quats[t], trans[t], DEFAULT_REST[0], expression=expr[t], arkit=arkit[t])
        times[t] = time.perf_counter() - t0
    return times * 1e3


def main(argv: list[str] | None = None, emit: bool = True) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--insert-frames", type=int, default=1_000)
    ap.add_argument("--ticks", type=int, default=300)
    args = ap.parse_args(argv)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bake = bench_bake(args.frames) * 10_000 / args.frames
    insert = bench_keyframe_insert(args.insert_frames) * 10_000 / args.insert_frames
    tick = bench_live(args.ticks)
    result = {
        "blender": bpy.app.version_string,
        "channels": 55 * 4 + 3 + NUM_ARKIT + NUM_EXPRESSION,
        "bake_frames_measured": args.frames,
        "bake_10k_s": round(bake, 3),
        "keyframe_insert_frames_measured": args.insert_frames,
        "keyframe_insert_10k_s": round(insert, 3),
        "keyframe_insert_extrapolated": args.insert_frames != 10_000,
        "ratio": round(insert / bake, 1),
        "live_ticks": args.ticks,
        "live_tick_ms": round(float(tick.mean()), 4),
        "live_tick_p95_ms": round(float(np.percentile(tick, 95)), 4),
    }
    if emit:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
