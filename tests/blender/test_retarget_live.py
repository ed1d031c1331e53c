"""The live link onto your character, and the character's bone map in the panel.

Live: a real worker streams eight Megamind frames (a folder source, looped); the panel's Retarget To
is MakeHuman's CC0 Mixamo rig (a rig no one here wrote): every tick poses it with the engine's
retargeter (its pose equals ``retarget.retarget`` of the same frame), Record keys it in bulk next
to the SMPL-X armature, and the maths added per tick is measured. Map editor: detect, edit one row,
save, load back, and Retarget Take follows the edited map; the sub-panel draws with this Blender's
UI API (``CheckedLayout``)."""
from __future__ import annotations

import importlib
import json
import time
import types

import bpy
import numpy as np
import pytest

from conftest import MODULE, amass_take
from support.anny_rigs import load_rig, pose_world
from test_capture_session import frames_folder, keyed_frames, setup_capture  # noqa: F401 (fixture)
from test_extension import CheckedLayout
from test_retarget_take import _target
from inference.core import rotations as rot
from inference.core.layout import ARKIT_NAMES
from inference.core.skeleton import JOINT_NAMES

#: The first frame waits for the worker to compile the live solver (this session's fresh user folder
#: has no compiled cache: about 30 s idle, longer on a loaded machine).
COMPILE_WAIT_S = 180.0


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


def _same_rotation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest 1 − |â·b̂| over quaternions (..., 4), normalised (q and −q are one rotation)."""
    a, b = (q / np.linalg.norm(q, axis=-1, keepdims=True) for q in (a, b))
    return float((1.0 - np.abs((a * b).sum(-1))).max())


def _tick_until(pump, done, seconds=60.0):
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        pump.tick()
        time.sleep(0.005)
    return done()


def test_live_link_poses_and_records_the_character(installed_addon, worker_python, frames_folder, no_leaks):
    pump, glue = addon("blender_addon.pump"), addon("blender_addon.retarget")
    target, mesh = _target(load_rig("mixamo"))
    target["jawOpen"] = 0.0                      # a character whose own property drives its face
    props = setup_capture(worker_python, frames_folder, "FOLDER")
    props.retarget_target = target
    assert bpy.ops.mocap.live_start(loop=True, use_timer=False) == {"FINISHED"}
    lv = pump.live()
    assert _tick_until(pump, lambda: lv.frames_applied > 0, seconds=COMPILE_WAIT_S), addon("blender_addon.session").status()
    live = lv.retarget
    assert live is not None and live.error == "" and live.detection.profile == "mixamo"
    rest_quats = np.array([pb.rotation_quaternion[:] for pb in target.pose.bones])
    assert np.abs(rest_quats - [1, 0, 0, 0]).max() > 0.05        # the character moved

    # the maths added per tick: one frame through the session's plan (printed; the target, 0.5 ms, is
    # held by scripts/bench_retarget.py, not by a timed test on a shared machine)
    q = rot.quat_exp(np.random.default_rng(1).normal(0, 0.3, (1, 55, 3)))
    trans = np.zeros((1, 3))
    live.solve(q, trans, live.previous, live.track)
    medians = []
    for _ in range(3):             # the best of three medians: other processes share the 2 cores
        runs = []
        for _ in range(100):
            t0 = time.perf_counter()
            live.solve(q, trans, live.previous, live.track)
            runs.append(time.perf_counter() - t0)
        medians.append(1000 * float(np.median(runs)))
    math_ms = min(medians)
    t0 = time.perf_counter()
    for _ in range(100):
        live.pose(q[0], trans[0], np.full(len(ARKIT_NAMES), 0.5), lv.parts)
    pose_ms = 10 * (time.perf_counter() - t0)
    print(f"\nlive retarget per tick: maths {math_ms:.3f} ms (best median of 3 × 100), posing the rig {pose_ms:.3f} ms")

    # the panel's In Place rebuilds the live retarget: the root keeps its spot over the floor
    walked = q.repeat(2, axis=0), np.array([[0.0, 0.0, 0.0], [0.3, 0.0, 0.2]])
    assert np.abs(np.diff(live.solve(*walked, None, None).root_location, axis=0)).max() > 0.1
    props.retarget_in_place = True
    rest_now = addon("blender_addon.session").active().ring.rest_joints
    still = glue.sync_live(live, bpy.context.scene, lv.obj_name, rest_now if live.built_for[1] else None)
    assert still is not live and still.in_place
    loc = still.solve(*walked, None, None).root_location
    assert np.abs(loc[1] - loc[0]).max() < 1e-9
    props.retarget_in_place = False

    # record once the subject is measured (the plan is then built for the measured rest)
    assert _tick_until(pump, lambda: lv.fitted and lv.retarget is not None and lv.retarget.built_for[1])
    assert lv.retarget.plan is not live.plan                    # rebuilt once, for the subject's rest
    assert bpy.ops.mocap.record_toggle() == {"FINISHED"}
    rec = lv.recorder
    assert _tick_until(pump, lambda: rec.keyed + sum(len(t) for t in rec.pending_times) >= 16)
    session = addon("blender_addon.session").active()
    rest = np.array(session.ring.rest_joints, np.float64)
    live = lv.retarget
    # the live pose (read before the action is evaluated at the current frame): the last frame received
    posed = np.array([target.pose.bones[n].rotation_quaternion[:] for n in live.names])
    posed_root = np.array(target.pose.bones[live.root_name].location[:])
    assert bpy.ops.mocap.live_stop() == {"FINISHED"}

    # the character's keys: the same frames as the SMPL-X take, the retargeter's pose of each
    source = bpy.data.objects[lv.obj_name]
    keys = addon("blender_addon.keys")
    smplx = keyed_frames(source)
    frames = smplx['pose.bones["pelvis"].rotation_quaternion[0]']
    got = keys.read_keys(source)
    assert len(frames) == rec.keyed >= 16 and np.allclose(got["frames"], frames)
    fps = addon("blender_addon.scene_setup").scene_fps(bpy.context.scene)
    expected = addon("inference.retarget.retarget").retarget(got["quats"], got["trans"], rest,
                                                              glue.target_rig(target), live.detection.bone_map,
                                                              frame_rate=fps)
    char = keyed_frames(target)
    mapped = [live.names[b] for b in live.plan.bones]
    assert len(mapped) >= 50 and "mixamorig:LeftHandIndex1" in mapped
    for b, name in zip(live.plan.bones, mapped):
        curves = [char[f'pose.bones["{name}"].rotation_quaternion[{k}]'] for k in range(4)]
        assert all(np.array_equal(c, frames) for c in curves), name
    fcurves = keys.fcurves_of(target)
    wxyz = lambda name, f: np.array([fcurves[(f'pose.bones["{name}"].rotation_quaternion', k)].evaluate(f)
                                     for k in range(4)])
    want = np.concatenate([expected.rotations[..., 3:], expected.rotations[..., :3]], -1)     # w first
    for t in range(len(frames)):
        keyed = np.array([wxyz(n, frames[t]) for n in mapped])
        assert _same_rotation(keyed, want[t, live.plan.bones]) < 1e-6, t
        loc = [fcurves[(f'pose.bones["{live.root_name}"].location', k)].evaluate(frames[t]) for k in range(3)]
        assert np.abs(np.array(loc) - expected.root_location[t]).max() < 1e-4, t
    # the live pose is the last keyed frame's (the last record received is the one posed)
    assert _same_rotation(posed[live.plan.bones], want[-1, live.plan.bones]) < 1e-6
    assert np.abs(posed_root - expected.root_location[-1]).max() < 1e-4
    # the face: the character's ARKit property and its shape keys named in another convention
    assert np.array_equal(char['["jawOpen"][0]'], frames)
    shape_curves = keyed_frames(mesh.data.shape_keys)
    assert np.array_equal(shape_curves['key_blocks["Jaw_Open"].value[0]'], frames)
    jaw = keys.fcurves_of(mesh.data.shape_keys)[('key_blocks["Jaw_Open"].value', 0)]
    assert jaw.evaluate(frames[-1]) == pytest.approx(got["arkit"][-1, ARKIT_NAMES.index("jawOpen")], abs=1e-5)


def _row(props, joint):
    return next(r for r in props.bone_map if r.joint == joint)


def test_map_editor_detect_edit_save_load_and_retarget_take_uses_it(installed_addon, tmp_path):
    glue, panel = addon("blender_addon.retarget"), addon("blender_addon.retarget_panel")
    source, frames = amass_take()
    target, _ = _target(load_rig("mixamo"))
    props = bpy.context.scene.smplx_mocap
    props.target, props.retarget_target = source, target

    assert bpy.ops.mocap.detect_rig_map() == {"FINISHED"}
    info = glue.stored_info(target)
    assert info["profile"] == "mixamo" and info["score"] > 0.9 and not info["edited"]
    assert props.bone_map_owner == target.name
    detected = glue.stored_map(target)
    assert panel.rows_map(props)[0] == detected
    # every SMPL-X joint has a row: the ones without a bone are there to be filled, not dropped
    assert {r.joint for r in props.bone_map} == set(JOINT_NAMES)

    # edit one row: the left forearm no longer follows the elbow (the user's choice) → stored at once
    row = _row(props, "left_elbow")
    forearm = row.bone
    row.bone = ""
    edited = glue.stored_map(target)
    assert "left_elbow" not in edited and glue.stored_info(target)["edited"]
    assert {j: c for j, c in detected.items() if j != "left_elbow"} == edited
    # a row naming a bone the rig lacks is not used and is said in the panel
    _row(props, "jaw").bone = "no_such_bone"
    assert glue.stored_map(target) == edited
    assert panel.rows_map(props, target.data.bones.keys())[1] == ["jaw → no_such_bone"]
    _row(props, "jaw").bone = ""
    # a joint spread over one more bone: + on the spine's row adds the next bone of its chain
    spine = [i for i, r in enumerate(props.bone_map) if r.joint == "spine3"]
    props.bone_map_index = spine[-1]
    assert bpy.ops.mocap.bone_map_row(action="ADD") == {"FINISHED"}
    added = props.bone_map[spine[-1] + 1]
    assert added.joint == "spine3" and added.bone == "" and props.bone_map_index == spine[-1] + 1
    added.bone = "mixamorig:Neck"
    assert glue.stored_map(target)["spine3"] == detected["spine3"] + ["mixamorig:Neck"]
    assert bpy.ops.mocap.bone_map_row(action="REMOVE") == {"FINISHED"}     # − takes it out again
    assert glue.stored_map(target) == edited and len([r for r in props.bone_map if r.joint == "spine3"]) == len(spine)

    preset = tmp_path / "my_rig.json"
    assert bpy.ops.mocap.save_rig_map(filepath=str(preset)) == {"FINISHED"}
    assert json.loads(preset.read_text())["bones"] == edited
    assert bpy.ops.mocap.detect_rig_map() == {"FINISHED"}          # back to the profile's map …
    assert glue.stored_map(target) == detected
    assert bpy.ops.mocap.load_rig_map(filepath=str(preset)) == {"FINISHED"}   # … and the preset again
    assert glue.stored_map(target) == edited and panel.rows_map(props)[0] == edited
    assert glue.stored_info(target)["profile"] == "preset my_rig"

    # Retarget Take follows the stored, edited map
    assert bpy.ops.mocap.retarget_take() == {"FINISHED"}
    keys = addon("blender_addon.keys")
    paths = {p for p, _ in keys.fcurves_of(target)}
    assert f'pose.bones["{forearm}"].rotation_quaternion' not in paths
    assert 'pose.bones["mixamorig:RightForeArm"].rotation_quaternion' in paths
    rig = glue.target_rig(target)
    got = keys.read_keys(source)
    out = addon("inference.retarget.retarget").retarget(
        got["quats"], got["trans"], addon("blender_addon.armature").rest_heads(source), rig, edited,
        frame_rate=addon("blender_addon.scene_setup").scene_fps(bpy.context.scene))
    expected = pose_world(rig, out.rotations, out.root_location, out.root_bone)
    pose = [target.pose.bones[n] for n in rig.names]
    for t in (0, 5, 9):
        bpy.context.scene.frame_set(int(frames[t]))
        now = np.array([np.array(p.matrix) for p in pose])
        assert np.abs(now - expected[t]).max() < 1e-4, t


def test_bad_presets_are_one_line_and_change_nothing(installed_addon, tmp_path):
    glue = addon("blender_addon.retarget")
    target, _ = _target(load_rig("mixamo"))
    props = bpy.context.scene.smplx_mocap
    props.retarget_target = target
    assert bpy.ops.mocap.detect_rig_map() == {"FINISHED"}
    before = target[glue.MAP_PROP]
    wrong = tmp_path / "other_rig.json"
    wrong.write_text(json.dumps({"pelvis": ["Hips_of_another_rig"]}))
    for path, words in ((tmp_path / "missing.json", "does not exist"), (wrong, "does not have")):
        with pytest.raises(RuntimeError) as info:
            bpy.ops.mocap.load_rig_map(filepath=str(path))
        assert words in str(info.value) and len(str(info.value).strip().splitlines()) == 1
    assert target[glue.MAP_PROP] == before
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.save_rig_map(filepath=str(tmp_path / "no_folder" / "map.json"))
    assert "cannot write" in str(info.value)
    # a stored map that no longer fits the rig (a bone renamed since) stops Retarget Take in one line
    source, _ = amass_take()
    props.target = source
    target.data.bones["mixamorig:Head"].name = "Head_renamed"
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.retarget_take()
    assert "mixamorig:Head" in str(info.value) and len(str(info.value).strip().splitlines()) == 1


def test_retarget_subpanel_draws_with_this_blenders_ui_api(installed_addon):
    panel = bpy.types.MOCAP_PT_retarget
    assert panel.bl_parent_id == "MOCAP_PT_main" and panel.poll(bpy.context)
    props = bpy.context.scene.smplx_mocap
    icons = set(bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys())

    def draw():
        layout = CheckedLayout()
        panel.draw(types.SimpleNamespace(layout=layout), bpy.context)
        used = {kw.get("icon") for name, kw in layout.calls if kw.get("icon")}
        assert used <= icons, used - icons
        labels = [kw.get("text", "") for name, kw in layout.calls if name == "label"]
        return [kw["operator"] for name, kw in layout.calls if name == "operator"], labels, layout.calls

    ops, labels, _ = draw()
    assert ops == [] and labels == ["Choose your character in Retarget To"]
    target, _ = _target(load_rig("default"))          # MakeHuman's default rig: many face bones unmapped
    props.retarget_target = target
    ops, labels, _ = draw()
    assert ops == ["mocap.detect_rig_map", "mocap.load_rig_map", "mocap.save_rig_map", "mocap.edit_rig_map"]
    assert any("sure" in t and "not stored yet" in t for t in labels), labels
    assert any(t.endswith("of the character's bones unmapped") and not t.startswith("0 ") for t in labels)
    assert any(t.endswith("SMPL-X joints without a bone") for t in labels)
    assert bpy.ops.mocap.edit_rig_map() == {"FINISHED"}   # no map stored yet: detects and stores it
    props.show_unmapped = True
    ops, labels, calls = draw()
    assert ops == ["mocap.detect_rig_map", "mocap.load_rig_map", "mocap.save_rig_map",
                   "mocap.bone_map_row", "mocap.bone_map_row"]            # the list's + and − buttons
    assert [kw["set"] for name, kw in calls if kw.get("operator") == "mocap.bone_map_row"] == \
        [{"action": "ADD"}, {"action": "REMOVE"}]
    assert any(name == "template_list" for name, _ in calls)
    unmapped = addon("blender_addon.retarget").rig_detection(target).unmapped_target_bones
    assert unmapped and any(unmapped[0] in t for t in labels)
    # the list's rows draw too (a bone search over the character's bones; red when not one of them)
    rows = bpy.types.MOCAP_UL_bone_map
    props.bone_map[0].bone = "no_such_bone"
    for item in props.bone_map[:2]:
        layout = CheckedLayout()
        rows.draw_item(None, bpy.context, layout, props, item, 0, props, "bone_map_index", 0)
        assert [name for name, _ in layout.calls] == ["row", "label", "prop_search"]
    ops, labels, _ = draw()
    assert any("no_such_bone: no such bone, not used" in t for t in labels)
    props.show_unmapped = False


def test_the_live_plan_is_built_once_and_a_bad_target_is_one_line(installed_addon):
    """No worker needed: what the tick asks for (``retarget.sync_live``) with each kind of choice."""
    glue = addon("blender_addon.retarget")
    scene, props = bpy.context.scene, bpy.context.scene.smplx_mocap
    assert glue.sync_live(None, scene, "SMPL-X", None) is None                 # no Retarget To: nothing
    target, _ = _target(load_rig("mixamo"))
    props.retarget_target = target
    first = glue.sync_live(None, scene, "SMPL-X", None)
    assert first.error == "" and first.plan is not None and first.detection.profile == "mixamo"
    assert glue.sync_live(first, scene, "SMPL-X", None) is first             # built once …
    measured = glue.sync_live(first, scene, "SMPL-X", np.asarray(first.plan.rest_joints) * 1.05)
    assert measured is not first and measured.plan.scale != first.plan.scale  # … again for the subject
    assert bpy.ops.mocap.detect_rig_map() == {"FINISHED"}
    assert glue.sync_live(measured, scene, "SMPL-X", first.plan.rest_joints) is not measured   # a new map
    assert glue.sync_live(None, scene, target.name, None).error.startswith("the live link drives this armature")
    stick = bpy.data.objects.new("Stick", bpy.data.armatures.new("Stick"))
    scene.collection.objects.link(stick)
    bpy.context.view_layer.objects.active = stick
    bpy.ops.object.mode_set(mode="EDIT")
    bone = stick.data.edit_bones.new("Bone")
    bone.head, bone.tail = (0, 0, 0), (0, 0, 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    props.retarget_target = stick
    bad = glue.sync_live(None, scene, "SMPL-X", None)
    assert bad.plan is None and bad.error and len(bad.error.splitlines()) == 1, bad.error
    assert not bad.pose(np.tile([0.0, 0, 0, 1], (55, 1)), np.zeros(3), None, (True,) * 4)
