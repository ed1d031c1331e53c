"""Exports (issue 12): BVH, FBX and glTF of the chosen armature through Blender's own exporters, read
back by Blender's own importers with the same bones and frame count; an SMPL-X action back to the
engine's motion npz, which imports into a fresh armature as the same action (within 1e-5); and one
line for every bad input, with nothing half-written.

The motion is real: the first frames of the AMASS sample (body and fingers) written as keys with
``keys.write_keys``, plus face channels. Runs on bpy 5.0 and 4.2 LTS (scripts/test.sh).
"""
from __future__ import annotations

import importlib
import types

import bpy
import numpy as np
import pytest

from conftest import ROOT, disable
from test_extension import CheckedLayout

AMASS = ROOT.parent / "shared" / "data" / "motion" / "amass_sample.npz"
pytestmark = pytest.mark.skipif(not AMASS.is_file(), reason="shared data missing")
N = 24        # frames of the clip
FPS = 30


def addon(name: str):
    from conftest import MODULE
    return importlib.import_module(f"{MODULE}.{name}")


def amass_clip(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """The sample's first ``n`` frames on SMPL-X's 55 joints: quats (n, 55, 4) x, y, z, w, trans (n, 3)."""
    rot = addon("inference.core.rotations")
    with np.load(AMASS) as d:
        poses = d["poses"][:n].reshape(n, 52, 3)
        trans = d["trans"][:n].astype(np.float64)
    aa = np.zeros((n, 55, 3))
    aa[:, :22] = poses[:, :22]              # body; jaw and eyes keep the rest pose
    aa[:, 25:] = poses[:, 22:]              # 15 left + 15 right hand joints
    return rot.quat_exp(aa), trans


def keyed_armature(name: str = "SMPLX", root_bone: bool = False) -> bpy.types.Object:
    """An SMPL-X armature with the AMASS clip keyed on frames 1..N (plus ARKit and expression keys),
    the scene's range and rate set to the clip's, the panel's Armature set to it."""
    armature, keys = addon("blender_addon.armature"), addon("blender_addon.keys")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = FPS, 1.0, 1, N
    obj = armature.build_armature(bpy.context, name, root_bone=root_bone)
    quats, trans = amass_clip()
    rng = np.random.default_rng(7)
    keys.write_keys(obj, np.arange(1, N + 1, dtype=np.float64), quats, trans, armature.rest_heads(obj)[0],
                    expression=rng.normal(0.0, 0.5, (N, 10)), arkit=rng.uniform(0.0, 1.0, (N, 52)))
    scene.smplx_mocap.target = obj
    return obj


def world_heads(obj, frames) -> np.ndarray:
    """(T, 55, 3) Y-up positions of the SMPL-X bones' heads (armature space) at ``frames``."""
    names = addon("inference.core.skeleton").JOINT_NAMES
    conv = addon("blender_addon.convert")
    out = []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        out.append([tuple(obj.pose.bones[n].head) for n in names])     # copies: .head follows the pose
    return conv.points_from_blender(np.array(out))


def world_points(obj, frames, offset: int = 0) -> np.ndarray:
    """(T, 55, 3) Blender world positions of the SMPL-X-named bones' heads at ``frames + offset``."""
    names = addon("inference.core.skeleton").JOINT_NAMES
    out = []
    for f in frames:
        bpy.context.scene.frame_set(int(f) + offset)
        mw = np.array(obj.matrix_world)
        heads = np.array([tuple(obj.pose.bones[n].head) for n in names])
        out.append(heads @ mw[:3, :3].T + mw[:3, 3])
    return np.array(out)


def key_frames(obj) -> np.ndarray:
    """Sorted distinct frames of every key of the object's action."""
    frames = set()
    for fc in addon("blender_addon.keys").fcurves_of(obj).values():
        co = np.zeros(2 * len(fc.keyframe_points))
        fc.keyframe_points.foreach_get("co", co)
        frames |= set(np.round(co[0::2], 4).tolist())
    return np.array(sorted(frames))


def imported(run) -> list[bpy.types.Object]:
    """The objects ``run()`` (an importer) added to the file."""
    before = set(bpy.data.objects)
    assert run() == {"FINISHED"}
    return [o for o in bpy.data.objects if o not in before]


def only_armature(objs) -> bpy.types.Object:
    arms = [o for o in objs if o.type == "ARMATURE"]
    assert len(arms) == 1, [(o.name, o.type) for o in objs]
    return arms[0]


def bone_names(obj) -> set[str]:
    return {b.name for b in obj.data.bones}


def same_action(a, b, frames, tol=1e-5) -> None:
    keys = addon("blender_addon.keys")
    ka, kb = keys.read_keys(a, frames), keys.read_keys(b, frames)
    for name in ("quats", "trans", "arkit", "expression"):
        assert ka[name].shape == kb[name].shape, name
        err = np.abs(ka[name] - kb[name]).max()
        assert err < tol, (name, err)


def no_partial_files(folder) -> None:
    assert not [p.name for p in folder.iterdir() if ".part" in p.name]


# ---------------------------------------------------------------------------- npz
@pytest.mark.parametrize("root_bone", [False, True], ids=["pelvis-root", "root-bone"])
def test_npz_export_imports_into_a_fresh_armature_as_the_same_action(installed_addon, tmp_path, root_bone):
    motion_mod, records = addon("inference.pipeline.motion"), addon("inference.core.records")
    obj = keyed_armature(root_bone=root_bone)
    path = tmp_path / "take.npz"
    assert bpy.ops.mocap.export_npz(filepath=str(path)) == {"FINISHED"}
    no_partial_files(tmp_path)

    m = motion_mod.Motion.from_npz(path)
    frames = np.arange(1, N + 1, dtype=np.float64)
    assert m.poses.shape == (N, 165) and m.joints.shape == (N, 55, 3) and m.arkit.shape == (N, 52)
    assert m.valid.all() and m.part_valid.all()
    assert np.allclose(m.frame_times, np.arange(N) / FPS)
    # the joints are Blender's posed bones (forward kinematics over the armature's rest joints)
    assert np.abs(m.joints - world_heads(obj, frames)).max() < 1e-4
    # no motion file behind this armature: the default camera (60°, the scene's resolution)
    scene = bpy.context.scene
    cam = records.Camera.from_fov(scene.render.resolution_x, scene.render.resolution_y, records.DEFAULT_FOV_DEG)
    assert np.allclose(m.camera.K, cam.K) and m.camera.size == cam.size

    # re-import into a fresh armature (nothing chosen): a new take named after the file, the same action
    scene.smplx_mocap.target = None
    bpy.context.view_layer.objects.active = None
    new = only_armature(imported(lambda: bpy.ops.mocap.import_npz(filepath=str(path))))
    assert new is not obj and new.animation_data.action.name == "take"
    assert addon("blender_addon.cache").resolve(str(new[addon("blender_addon.cache").MOTION_PROP])) == str(path)
    same_action(obj, new, frames)
    assert np.abs(world_heads(new, frames) - world_heads(obj, frames)).max() < 1e-4


def test_a_capture_file_survives_import_and_export_with_its_camera(installed_addon, tmp_path):
    """An engine file (camera, world frame, shape) → import → export: the same poses, root, joints and
    camera fields (the file the armature came from supplies them)."""
    motion_mod, records, rot = (addon("inference.pipeline.motion"), addon("inference.core.records"),
                                addon("inference.core.rotations"))
    skeleton = addon("inference.core.skeleton")
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = FPS, 1.0
    quats, trans = amass_clip()
    rng = np.random.default_rng(3)
    rest = skeleton.DEFAULT_REST * 1.07                           # a taller subject than the default
    c2w = np.eye(4)
    c2w[:3, :3] = rot.quat_to_matrix(rot.quat_exp(np.array([2.9, 0.2, -0.1])))
    c2w[:3, 3] = (0.3, 1.4, 3.0)
    src = motion_mod.Motion.from_locals(
        rot.quat_to_matrix(quats), trans + rest[0], rest, expression=rng.normal(0, 0.5, (N, 10)),
        arkit=rng.uniform(0, 1, (N, 52)), valid=np.ones(N, bool), part_valid=np.ones((N, 4), bool),
        frame_times=np.arange(N) / FPS, keypoints2d=np.zeros((N, 553, 3), np.float32),
        camera=records.Camera.from_fov(640, 480, 50.0), camera_to_world=c2w, betas=rng.normal(0, 1, 10))
    src_path = tmp_path / "clip.smplx.npz"
    src.save(src_path)
    src = motion_mod.Motion.from_npz(src_path)                     # as stored (float32)

    obj = only_armature(imported(lambda: bpy.ops.mocap.import_npz(filepath=str(src_path))))
    assert obj.animation_data.action.name == "clip"
    out = tmp_path / "again.npz"
    assert bpy.ops.mocap.export_npz(filepath=str(out), armature=obj.name, frame_start=1, frame_end=N) == {"FINISHED"}
    m = motion_mod.Motion.from_npz(out)
    qa, qb = rot.quat_exp(m.poses.reshape(N, 55, 3).astype(np.float64)), quats
    assert np.abs(np.abs(np.sum(qa * qb, -1)) - 1.0).max() < 1e-6           # same rotations (up to sign)
    assert np.abs(m.trans - src.trans).max() < 1e-5
    assert np.abs(m.rest_joints - src.rest_joints).max() < 1e-5
    assert np.abs(m.joints - src.joints).max() < 1e-4
    assert np.abs(m.arkit - src.arkit).max() < 1e-5 and np.abs(m.expression - src.expression).max() < 1e-5
    assert np.allclose(m.camera.K, src.camera.K) and m.camera.size == src.camera.size
    assert np.allclose(m.camera_to_world, src.camera_to_world) and np.allclose(m.betas, src.betas)


# ---------------------------------------------------------------------------- Blender's formats
def test_bvh_reads_back_with_the_same_bones_and_frame_count(installed_addon, tmp_path):
    obj = keyed_armature()
    path = tmp_path / "take.bvh"
    assert bpy.ops.mocap.export_bvh(filepath=str(path), frame_start=5, frame_end=14) == {"FINISHED"}
    no_partial_files(tmp_path)
    # Blender's BVH exporter writes its own Z-up axes (it has no axis option), so its importer reads
    # the file back as it was with Up Z / Forward Y (its default assumes a Y-up file)
    back = only_armature(imported(lambda: bpy.ops.import_anim.bvh(filepath=str(path), axis_up="Z", axis_forward="Y")))
    assert bone_names(back) == bone_names(obj)
    frames = key_frames(back)
    assert len(frames) == 10 and frames[0] == 1.0                      # frames 5..14, from the importer's frame 1
    err = np.abs(world_points(back, np.arange(1, 11)) - world_points(obj, np.arange(5, 15))).max()
    assert err < 1e-4, err                                             # the same motion (6-decimal text)


def test_fbx_reads_back_with_the_same_bones_frames_and_the_skinned_mesh(installed_addon, tmp_path):
    obj = keyed_armature()
    # a mesh the armature deforms goes with it; another selected object does not, and stays selected
    bpy.ops.mesh.primitive_cube_add(size=0.3)
    skin = bpy.context.active_object
    skin.vertex_groups.new(name="pelvis").add(list(range(len(skin.data.vertices))), 1.0, "REPLACE")
    skin.modifiers.new("Armature", "ARMATURE").object = obj
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.1, location=(2, 0, 0))
    other = bpy.context.active_object
    scene = bpy.context.scene
    path = tmp_path / "take.fbx"
    assert bpy.ops.mocap.export_fbx(filepath=str(path)) == {"FINISHED"}
    # what the exporter needed was put back: selection, active object, frame range
    assert other.select_get() and not skin.select_get() and bpy.context.view_layer.objects.active == other
    assert (scene.frame_start, scene.frame_end) == (1, N)
    objs = imported(lambda: bpy.ops.import_scene.fbx(filepath=str(path)))
    back = only_armature(objs)
    assert sorted(o.type for o in objs) == ["ARMATURE", "MESH"]
    assert bone_names(back) == bone_names(obj)
    frames = key_frames(back)
    assert len(frames) == N
    # the same motion; Blender's FBX importer puts the file's keys one frame later than they were
    assert frames[0] == 2.0
    err = np.abs(world_points(back, np.arange(1, N + 1), offset=1) - world_points(obj, np.arange(1, N + 1))).max()
    assert err < 1e-4, err


def test_gltf_reads_back_as_an_armature_with_an_action(installed_addon, tmp_path):
    obj = keyed_armature()
    path = tmp_path / "take.glb"
    assert bpy.ops.mocap.export_gltf(filepath=str(path)) == {"FINISHED"}
    no_partial_files(tmp_path)
    back = only_armature(imported(lambda: bpy.ops.import_scene.gltf(filepath=str(path))))
    assert back.animation_data is not None and back.animation_data.action is not None
    assert bone_names(back) == bone_names(obj)
    assert len(key_frames(back)) == N
    err = np.abs(world_points(back, np.arange(1, N + 1)) - world_points(obj, np.arange(1, N + 1))).max()
    assert err < 1e-4, err                                             # the same motion, frame for frame


def test_other_rigs_export_to_blenders_formats(installed_addon, tmp_path):
    """BVH/FBX/glTF are for any armature, not only SMPL-X ones (npz is; see the errors below)."""
    rig = _two_bone_rig()
    for ext, op in (("bvh", bpy.ops.mocap.export_bvh), ("fbx", bpy.ops.mocap.export_fbx),
                    ("glb", bpy.ops.mocap.export_gltf)):
        assert op(filepath=str(tmp_path / f"rig.{ext}"), armature=rig.name, frame_start=1, frame_end=10) == {"FINISHED"}
        assert (tmp_path / f"rig.{ext}").stat().st_size > 0


def _two_bone_rig() -> bpy.types.Object:
    arm = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm)
    bpy.context.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    a = arm.edit_bones.new("Hips")
    a.head, a.tail = (0, 0, 1), (0, 0, 1.2)
    b = arm.edit_bones.new("Spine")
    b.head, b.tail, b.parent = (0, 0, 1.2), (0, 0, 1.5), a
    bpy.ops.object.mode_set(mode="OBJECT")
    pb = rig.pose.bones["Spine"]
    for frame, angle in ((1, 0.0), (10, 0.8)):
        pb.rotation_quaternion = (np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0)
        pb.keyframe_insert("rotation_quaternion", frame=frame)
    return rig


# ---------------------------------------------------------------------------- bad input
def one_line_error(run) -> str:
    with pytest.raises(RuntimeError) as info:
        run()
    message = str(info.value).strip()
    assert len(message.splitlines()) == 1, message
    return message


def test_bad_input_is_one_line_and_writes_nothing(installed_addon, tmp_path):
    obj = keyed_armature()
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    good = str(tmp_path / "x.bvh")
    assert "is not an armature" in one_line_error(lambda: bpy.ops.mocap.export_bvh(filepath=good, armature=cube.name))
    bare = addon("blender_addon.armature").build_armature(bpy.context, "Bare")
    assert "has no action" in one_line_error(lambda: bpy.ops.mocap.export_fbx(filepath=str(tmp_path / "x.fbx"),
                                                                              armature=bare.name))
    missing = tmp_path / "no" / "such" / "x.glb"
    assert "cannot write into folder" in one_line_error(lambda: bpy.ops.mocap.export_gltf(filepath=str(missing)))
    assert "not a .npz file" in one_line_error(lambda: bpy.ops.mocap.export_npz(filepath=str(tmp_path / "x.txt")))
    assert "is empty" in one_line_error(lambda: bpy.ops.mocap.export_bvh(filepath=good, frame_start=9, frame_end=3))
    rig = _two_bone_rig()
    assert "has no SMPL-X bones" in one_line_error(
        lambda: bpy.ops.mocap.export_npz(filepath=str(tmp_path / "x.npz"), armature=rig.name))
    # a file that is not a capture: nothing is added to the scene
    junk = tmp_path / "junk.npz"
    np.savez(junk, something=np.zeros(3))
    before = set(bpy.data.objects)
    bpy.context.scene.smplx_mocap.target = None
    assert "lacks" in one_line_error(lambda: bpy.ops.mocap.import_npz(filepath=str(junk)))
    assert set(bpy.data.objects) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.npz"]
    assert obj.animation_data.action is not None


# ---------------------------------------------------------------------------- panel
def test_export_subpanel_draws_its_buttons_and_registers_with_the_addon(installed_addon):
    panel = bpy.types.MOCAP_PT_export
    assert panel.bl_parent_id == "MOCAP_PT_main" and "DEFAULT_CLOSED" in panel.bl_options
    assert panel.poll(bpy.context)
    for with_armature in (False, True):
        if with_armature:
            keyed_armature()
        layout = CheckedLayout()
        panel.draw(types.SimpleNamespace(layout=layout), bpy.context)
        ops = [kw["operator"] for name, kw in layout.calls if name == "operator"]
        assert ops == ["mocap.export_bvh", "mocap.export_fbx", "mocap.export_gltf", "mocap.export_npz",
                       "mocap.import_npz"]
        assert bpy.ops.mocap.export_bvh.poll() == with_armature
    icons = set(bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys())
    used = {kw.get("icon") for name, kw in layout.calls if kw.get("icon")}
    assert used <= icons, used - icons
    disable(installed_addon)
    assert not hasattr(bpy.types, "MOCAP_PT_export") and not hasattr(bpy.types, "MOCAP_OT_export_npz")


def test_a_disabled_exporter_addon_is_enabled_for_the_export(installed_addon, tmp_path):
    """Blender ships the exporters as add-ons; one the user turned off is enabled again (not saved)."""
    import addon_utils
    obj = keyed_armature()
    addon_utils.disable("io_anim_bvh", default_set=False)
    try:
        assert addon_utils.check("io_anim_bvh")[1] is False
        assert bpy.ops.mocap.export_bvh(filepath=str(tmp_path / "x.bvh"), armature=obj.name) == {"FINISHED"}
        assert (tmp_path / "x.bvh").stat().st_size > 0
    finally:
        addon_utils.enable("io_anim_bvh", default_set=False)
