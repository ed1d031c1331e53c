"""SMPL-X armature, mesh, live pose and bulk keyframes inside Blender (bpy 5.0 or 4.2 LTS as a module).

Run with ``.venv-blender/bin/python -m pytest tests/blender/test_armature_keys.py`` (or
``.venv-blender42``). The add-on modules are imported as ``smplx_mocap.blender_addon.*`` (the
repository root aliased as the package ``smplx_mocap``, as Blender sees the installed extension)
without running the add-on's registration. The generated SMPL-X-layout model is written by the
engine venv (its generator lives in tests/support, beside the engine tests). Quaternions are
x, y, z, w as everywhere in the engine; Blender's own w-first values are only read through bpy.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
import time
import types
from pathlib import Path

import bpy
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
AMASS = ROOT.parent / "shared" / "data" / "motion" / "amass_sample.npz"
ENGINE_PYTHON = ROOT / ".venv" / "bin" / "python"


def _alias_package():
    for name, path in (("smplx_mocap", ROOT), ("smplx_mocap.blender_addon", ROOT / "blender_addon")):
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(path)]
            sys.modules[name] = pkg


_alias_package()
cv = importlib.import_module("smplx_mocap.blender_addon.convert")
armature = importlib.import_module("smplx_mocap.blender_addon.armature")
keys = importlib.import_module("smplx_mocap.blender_addon.keys")
rot = importlib.import_module("smplx_mocap.inference.core.rotations")
skeleton = importlib.import_module("smplx_mocap.inference.core.skeleton")
body_model = importlib.import_module("smplx_mocap.inference.body.body_model")
layout = importlib.import_module("smplx_mocap.inference.core.layout")
ARKIT_NAMES, NUM_ARKIT, NUM_EXPRESSION = layout.ARKIT_NAMES, layout.NUM_ARKIT, layout.NUM_EXPRESSION
IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])

REST = skeleton.DEFAULT_REST
REST_PELVIS = REST[0]
JOINT_NAMES = skeleton.JOINT_NAMES


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture
def ctx():
    """A fresh empty scene (factory startup file; preferences and enabled add-ons are kept)."""
    assert bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True) == {"FINISHED"}
    return bpy.context


@pytest.fixture(scope="module")
def amass():
    """50 real AMASS frames mapped onto SMPL-X 55 joints: quats (50, 55, 4) x, y, z, w, trans (50, 3)."""
    with np.load(AMASS) as d:
        poses = d["poses"][:50].reshape(50, 52, 3)
        trans = d["trans"][:50].astype(np.float64)
    aa = np.zeros((50, 55, 3))
    aa[:, :22] = poses[:, :22]              # body; jaw and eyes (22..24) identity
    aa[:, 25:] = poses[:, 22:]              # 15 left + 15 right hand joints
    return rot.quat_exp(aa), trans


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A generated SMPL-X-layout model (300 shape / 100 expression directions), loaded numpy-only."""
    path = tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz"
    subprocess.run([str(ENGINE_PYTHON), "-c",
                    "import sys; sys.path.insert(0, 'tests'); from support.testing_model import make_test_model; "
                    "make_test_model(sys.argv[1])",
                    str(path)], cwd=ROOT, check=True)
    return body_model.load_smplx(path, load_posedirs=False)


def _fk_blender(quats, trans, rest):
    """Engine forward kinematics → Z-up joint positions (T, 55, 3) and global rotations Z-up."""
    glob = skeleton.local_to_global(rot.quat_to_matrix(quats))
    pos = skeleton.forward_kinematics(glob, skeleton.bone_vectors(rest), trans + rest[0])
    return cv.points_to_blender(pos), cv.C @ glob @ cv.C.T


def _pose_state(obj):
    """Posed heads (55, 3) and 3×3 armature-space matrices (55, 3, 3), SMPL-X joint order."""
    pb = obj.pose.bones
    heads = np.array([pb[n].head for n in JOINT_NAMES])
    mats = np.array([np.array(pb[n].matrix)[:3, :3] for n in JOINT_NAMES])
    return heads, mats


def _sign_fixed(q_read, q_ref):
    return q_read * np.sign(np.sum(q_read * q_ref, -1, keepdims=True))


# ---------------------------------------------------------------------------- armature
def test_armature_bones_hierarchy_and_face_properties(ctx):
    obj = armature.build_armature(ctx)
    assert obj.type == "ARMATURE" and np.allclose(np.array(obj.matrix_world), np.eye(4))
    bones = obj.data.bones
    assert sorted(b.name for b in bones) == sorted(JOINT_NAMES)
    heads = np.array([bones[n].head_local for n in JOINT_NAMES])
    np.testing.assert_allclose(heads, cv.points_to_blender(REST), atol=1e-6)
    for j, name in enumerate(JOINT_NAMES):
        bone = bones[name]
        parent = skeleton.PARENTS[j]
        assert (bone.parent.name if bone.parent else None) == (JOINT_NAMES[parent] if parent >= 0 else None)
        assert not bone.use_connect and bone.length > 0.004
        assert obj.pose.bones[name].rotation_mode == "QUATERNION"
    # the spine points up (Z), the head bone up, the feet forward (-Y in Blender)
    def direction(name):
        return (bones[name].tail_local - bones[name].head_local).normalized()

    assert direction("pelvis").z > 0.9 and direction("head").z > 0.99 and direction("left_foot").y < -0.99
    assert list(obj[armature.JOINT_NAMES_PROP]) == list(JOINT_NAMES)
    for name in ARKIT_NAMES:
        ui = obj.id_properties_ui(name).as_dict()
        assert obj[name] == 0.0 and ui["min"] == 0.0 and ui["max"] == 1.0
        assert obj.is_property_overridable_library(f'["{name}"]')
    assert [k for k in obj.keys() if k.startswith("expr_")] == [f"expr_{i:03d}" for i in range(NUM_EXPRESSION)]


def test_rolls_are_deterministic(ctx):
    a = armature.build_armature(ctx, name="A")
    b = armature.build_armature(ctx, name="B")
    ma = np.array([np.array(x.matrix_local) for x in a.data.bones])
    mb = np.array([np.array(x.matrix_local) for x in b.data.bones])
    np.testing.assert_array_equal(ma, mb)


# ---------------------------------------------------------------------------- live pose
def test_apply_pose_matches_engine_forward_kinematics(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    pos, glob = _fk_blender(quats, trans, REST)
    rest_b = np.array([np.array(obj.data.bones[n].matrix_local)[:3, :3] for n in JOINT_NAMES])
    for t in (0, 17, 49):
        keys.apply_pose(obj, quats[t], trans[t], REST_PELVIS, expression=np.full(NUM_EXPRESSION, 0.5),
                        arkit=np.linspace(0, 1, NUM_ARKIT))
        ctx.view_layer.update()
        heads, mats = _pose_state(obj)
        np.testing.assert_allclose(heads, pos[t], atol=1e-4)
        np.testing.assert_allclose(mats, glob[t] @ rest_b, atol=1e-5)
    assert obj["expr_009"] == 0.5 and obj["mouthClose"] == pytest.approx(18 / 51)


def test_apply_pose_is_fast(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    keys.apply_pose(obj, quats[0], trans[0], REST_PELVIS)        # fills the cache
    expr, ark = np.zeros(NUM_EXPRESSION), np.zeros(NUM_ARKIT)
    t0 = time.perf_counter()
    for t in range(50):
        keys.apply_pose(obj, quats[t], trans[t], REST_PELVIS, expression=expr, arkit=ark)
    tick_ms = (time.perf_counter() - t0) / 50 * 1e3
    assert tick_ms < 2.0, f"live tick {tick_ms:.2f} ms"


# ---------------------------------------------------------------------------- bulk keys
def test_bulk_keys_evaluate_to_forward_kinematics_and_read_back(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    frames = np.arange(1, 51, dtype=np.float64)
    rng = np.random.default_rng(0)
    arkit, expr = rng.random((50, NUM_ARKIT)), rng.normal(size=(50, NUM_EXPRESSION))
    action = keys.write_keys(obj, frames, quats, trans, REST_PELVIS, expression=expr, arkit=arkit)
    assert obj.animation_data.action == action
    curves = keys.fcurves_of(obj)
    assert len(curves) == 55 * 4 + 3 + NUM_ARKIT + NUM_EXPRESSION
    assert all(len(fc.keyframe_points) == 50 for fc in curves.values())
    assert {kp.interpolation for fc in curves.values() for kp in fc.keyframe_points} == {"LINEAR"}

    pos, glob = _fk_blender(quats, trans, REST)
    rest_b = np.array([np.array(obj.data.bones[n].matrix_local)[:3, :3] for n in JOINT_NAMES])
    for k in (0, 9, 31, 49):
        ctx.scene.frame_set(int(frames[k]))
        heads, mats = _pose_state(obj)
        np.testing.assert_allclose(heads, pos[k], atol=1e-4)
        np.testing.assert_allclose(mats, glob[k] @ rest_b, atol=1e-5)
        assert obj["eyeBlinkLeft"] == pytest.approx(arkit[k, 0], abs=1e-6)
        assert obj["expr_003"] == pytest.approx(expr[k, 3], abs=1e-6)

    back = keys.read_keys(obj, rest_pelvis=REST_PELVIS)
    np.testing.assert_array_equal(back["frames"], frames)
    np.testing.assert_allclose(_sign_fixed(back["quats"], quats), quats, atol=1e-5)
    np.testing.assert_allclose(back["trans"], trans, atol=1e-5)
    np.testing.assert_allclose(back["arkit"], arkit, atol=1e-6)
    np.testing.assert_allclose(back["expression"], expr, atol=1e-6)
    basis = back["quats"]
    assert np.all(np.sum(basis[1:] * basis[:-1], -1) >= 0.0)         # hemisphere-continuous keys


def test_unticked_parts_get_no_keys_and_are_not_posed(ctx, amass):
    """The panel's Body / Hands / Face boxes: a part that is off gets no F-curve at all (nothing
    written over existing animation) and the live pose leaves its bones and properties alone."""
    quats, trans = amass
    frames = np.arange(1, 11, dtype=np.float64)
    rng = np.random.default_rng(1)
    arkit, expr = rng.random((10, NUM_ARKIT)), rng.normal(size=(10, NUM_EXPRESSION))
    part_of = dict(zip(JOINT_NAMES, skeleton.JOINT_PART))
    for parts in ((True, False, False, False), (False, True, True, False), (False, False, False, True)):
        obj = armature.build_armature(ctx, name=f"parts{parts}")
        keys.write_keys(obj, frames, quats[:10], trans[:10], REST_PELVIS, expression=expr, arkit=arkit, parts=parts)
        paths = {p for p, _ in keys.fcurves_of(obj)}
        bones = {p.split('"')[1] for p in paths if p.startswith("pose.bones") and p.endswith("rotation_quaternion")}
        assert bones == {n for n in JOINT_NAMES if parts[part_of[n]]}, parts
        assert (f'pose.bones["{keys.ROOT_BONE}"].location' in paths) == parts[layout.PART_BODY]
        assert ('["jawOpen"]' in paths) == ('["expr_000"]' in paths) == parts[layout.PART_FACE]

    obj = armature.build_armature(ctx, name="live")
    no_hands = (True, False, False, True)
    keys.apply_pose(obj, quats[20], trans[20], REST_PELVIS, expression=np.full(NUM_EXPRESSION, 0.5),
                    arkit=np.full(NUM_ARKIT, 0.5), parts=no_hands)
    pb = obj.pose.bones
    assert tuple(pb["left_index1"].rotation_quaternion) == (1.0, 0.0, 0.0, 0.0)
    assert tuple(pb["left_hip"].rotation_quaternion) != (1.0, 0.0, 0.0, 0.0) and obj["jawOpen"] == 0.5
    keys.apply_pose(obj, quats[21], trans[21], REST_PELVIS, arkit=np.full(NUM_ARKIT, 0.9),
                    parts=(True, True, True, False))
    assert obj["jawOpen"] == 0.5                                   # face off: the property is left alone


def test_fractional_frames_from_real_times(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    times = np.arange(50) / 120.0                                   # the AMASS clock, 120 Hz
    frames = cv.times_to_frames(times, ctx.scene.render.fps, ctx.scene.render.fps_base, frame_start=1)
    keys.write_keys(obj, frames, quats, trans, REST_PELVIS)
    fc = keys.fcurves_of(obj)[('pose.bones["pelvis"].location', 0)]
    co = np.empty(100, np.float32)
    fc.keyframe_points.foreach_get("co", co)
    np.testing.assert_allclose(co[0::2], frames, atol=1e-5)             # one key per sample, no rounding
    k = 10                                                              # frame 1 + 10·24/120 = 3.0
    ctx.scene.frame_set(int(frames[k]), subframe=float(frames[k] % 1))
    heads, _ = _pose_state(obj)
    np.testing.assert_allclose(heads, _fk_blender(quats, trans, REST)[0][k], atol=1e-4)


def test_rewriting_a_subrange_keeps_outside_keys(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    frames = np.arange(1, 51, dtype=np.float64)
    keys.write_keys(obj, frames, quats, trans, REST_PELVIS, arkit=np.zeros((50, NUM_ARKIT)))
    # re-solve frames 20..30 (11 existing keys) with only 6 new samples: 3 keys fewer in total
    sub = np.linspace(20, 30, 6)
    new_q = np.tile(IDENTITY, (6, 55, 1))
    keys.write_keys(obj, sub, new_q, np.ones((6, 3)), REST_PELVIS, arkit=np.ones((6, NUM_ARKIT)))
    curves = keys.fcurves_of(obj)
    assert all(len(fc.keyframe_points) == 50 - 11 + 6 for fc in curves.values())
    outside = np.r_[frames[:19], frames[30:]]
    idx = (outside - 1).astype(int)
    back = keys.read_keys(obj, frames=outside, rest_pelvis=REST_PELVIS)
    np.testing.assert_allclose(_sign_fixed(back["quats"], quats[idx]), quats[idx], atol=1e-5)
    np.testing.assert_allclose(back["trans"], trans[idx], atol=1e-5)
    assert np.all(back["arkit"] == 0.0)
    inside = keys.read_keys(obj, frames=sub, rest_pelvis=REST_PELVIS)
    np.testing.assert_allclose(np.abs(inside["quats"]), np.abs(new_q), atol=1e-6)
    np.testing.assert_allclose(inside["trans"], 1.0, atol=1e-5)
    assert np.all(inside["arkit"] == 1.0)
    # growing the range again (11 keys where 6 are) reuses the 6 and adds 5
    keys.write_keys(obj, frames[19:30], quats[19:30], trans[19:30], REST_PELVIS)
    again = keys.read_keys(obj, rest_pelvis=REST_PELVIS)
    np.testing.assert_array_equal(again["frames"], frames)
    np.testing.assert_allclose(_sign_fixed(again["quats"], quats), quats, atol=1e-5)
    arkit_w = np.array([curves[(f'["{ARKIT_NAMES[0]}"]', 0)].evaluate(f) for f in (25.0, 26.0)])
    assert np.all(arkit_w == 1.0)                      # channels not in the re-write stay as they were


def test_replace_range_false_only_replaces_matching_frames(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    frames = np.arange(1, 51, dtype=np.float64)
    keys.write_keys(obj, frames, quats, trans, REST_PELVIS)
    keys.write_keys(obj, np.array([10.0, 20.0]), quats[[0, 0]], np.zeros((2, 3)), REST_PELVIS, replace_range=False)
    back = keys.read_keys(obj, rest_pelvis=REST_PELVIS)
    np.testing.assert_array_equal(back["frames"], frames)             # 50 keys: 2 overwritten
    expect = trans.copy()
    expect[[9, 19]] = 0.0
    np.testing.assert_allclose(back["trans"], expect, atol=1e-5)


def test_chunks_append_and_stay_continuous(ctx, amass):
    quats, trans = amass
    whole = armature.build_armature(ctx, name="Whole")
    chunked = armature.build_armature(ctx, name="Chunked")
    frames = np.arange(1, 51, dtype=np.float64)
    keys.write_keys(whole, frames, quats, trans, REST_PELVIS)
    # bulk, bulk (other hemisphere), one key after 45 (the O(chunk) per-key append path), bulk
    for lo, hi, sign in ((0, 25, 1.0), (25, 45, -1.0), (45, 46, -1.0), (46, 50, 1.0)):
        keys.write_keys(chunked, frames[lo:hi], sign * quats[lo:hi], trans[lo:hi], REST_PELVIS)
    a = keys.read_keys(whole, rest_pelvis=REST_PELVIS)
    b = keys.read_keys(chunked, rest_pelvis=REST_PELVIS)
    np.testing.assert_array_equal(b["frames"], frames)
    np.testing.assert_allclose(b["quats"], a["quats"], atol=1e-6)     # flipped back at the seams
    np.testing.assert_allclose(b["trans"], a["trans"], atol=1e-6)
    mid = np.array([44.5, 45.5, 46.5])                                 # linear between chunk keys
    np.testing.assert_allclose(keys.read_keys(chunked, frames=mid)["quats"],
                               keys.read_keys(whole, frames=mid)["quats"], atol=1e-6)
    assert {kp.interpolation for fc in keys.fcurves_of(chunked).values() for kp in fc.keyframe_points} == {"LINEAR"}


def test_writing_twice_in_a_row_replaces_keys(ctx, amass):
    quats, trans = amass
    obj = armature.build_armature(ctx)
    frames = np.arange(1, 51, dtype=np.float64)
    first = keys.write_keys(obj, frames, quats, trans, REST_PELVIS)
    second = keys.write_keys(obj, frames, quats, trans + 0.1, REST_PELVIS)
    assert first == second and len(bpy.data.actions) == 1
    assert all(len(fc.keyframe_points) == 50 for fc in keys.fcurves_of(obj).values())
    np.testing.assert_allclose(keys.read_keys(obj, rest_pelvis=REST_PELVIS)["trans"], trans + 0.1, atol=1e-5)
    named = keys.write_keys(obj, frames, quats, trans, REST_PELVIS, action_name="Take2")
    assert named.name == "Take2" and obj.animation_data.action == named and first.name != "Take2"


def test_motion_rest_differs_from_armature_rest(ctx, amass):
    """A motion solved on another rest skeleton: the pelvis still lands at trans + its rest pelvis."""
    quats, trans = amass
    obj = armature.build_armature(ctx)
    motion_pelvis = REST_PELVIS + np.array([0.01, -0.05, 0.02])
    keys.write_keys(obj, np.arange(1, 51.0), quats, trans, motion_pelvis)
    ctx.scene.frame_set(5)
    head = np.array(obj.pose.bones["pelvis"].head)
    np.testing.assert_allclose(head, cv.points_to_blender(trans[4] + motion_pelvis), atol=1e-5)


def test_not_an_smplx_rig_is_refused(ctx):
    arm = bpy.data.armatures.new("Other")
    obj = bpy.data.objects.new("Other", arm)
    ctx.scene.collection.objects.link(obj)
    with pytest.raises(keys.RigError, match="lacks SMPL-X bones"):
        keys.write_keys(obj, np.arange(1.0, 3.0), np.tile(IDENTITY, (2, 55, 1)), np.zeros((2, 3)), REST_PELVIS)
    with pytest.raises(ValueError, match="do not match"):
        keys.write_keys(armature.build_armature(ctx), np.arange(1.0, 3.0), np.zeros((3, 55, 4)),
                        np.zeros((2, 3)), REST_PELVIS)


# ---------------------------------------------------------------------------- with a model
def test_model_mesh_groups_shape_keys_and_keys(ctx, model, amass):
    betas = np.linspace(-1, 1, 10)
    t0 = time.perf_counter()
    obj = armature.build_armature(ctx, model=model, betas=betas)
    build_s = time.perf_counter() - t0
    assert build_s < 5.0, f"mesh build took {build_s:.2f} s"
    np.testing.assert_allclose(np.array([obj.data.bones[n].head_local for n in JOINT_NAMES]),
                               cv.points_to_blender(model.rest_joints(betas)), atol=1e-5)
    mesh_obj = armature.smplx_mesh(obj)
    assert mesh_obj is not None and mesh_obj.parent == obj
    me = mesh_obj.data
    assert len(me.vertices) == model.num_verts and len(me.polygons) == model.faces.shape[0]
    shaped = model.v_template + model.shapedirs[..., :10] @ betas
    co = np.empty(3 * len(me.vertices), np.float32)
    me.vertices.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), cv.points_to_blender(model.v_template), atol=1e-5)
    loops = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", loops)
    np.testing.assert_array_equal(loops.reshape(-1, 3), model.faces)
    # vertex groups: one per bone holding exactly the model's non-zero weights
    assert [vg.name for vg in mesh_obj.vertex_groups] == list(JOINT_NAMES)
    got = np.zeros((model.num_verts, 55), np.float32)
    for v in me.vertices:
        for g in v.groups:
            got[v.index, g.group] = g.weight
    np.testing.assert_allclose(got, model.weights, atol=1e-6)
    mod = mesh_obj.modifiers["Armature"]
    assert mod.type == "ARMATURE" and mod.object == obj
    blocks = me.shape_keys.key_blocks
    assert [kb.name for kb in blocks] == (["Basis"] + [f"Shape{i:03d}" for i in range(10)]
                                          + [f"Exp{i:03d}" for i in range(NUM_EXPRESSION)])
    kco = np.empty(3 * len(me.vertices), np.float32)
    blocks["Exp004"].data.foreach_get("co", kco)
    np.testing.assert_allclose(kco.reshape(-1, 3), cv.points_to_blender(model.v_template + model.exprdirs[..., 4]),
                               atol=1e-5)
    blocks["Shape003"].data.foreach_get("co", kco)       # betas are shape keys set to the subject's values
    np.testing.assert_allclose(kco.reshape(-1, 3), cv.points_to_blender(model.v_template + model.shapedirs[..., 3]),
                               atol=1e-5)
    assert [blocks[f"Shape{i:03d}"].value for i in range(10)] == pytest.approx(betas, abs=1e-6)
    mixed = np.empty(3 * len(me.vertices), np.float32)
    ctx.view_layer.update()
    mesh_obj.evaluated_get(ctx.evaluated_depsgraph_get()).data.vertices.foreach_get("co", mixed)
    np.testing.assert_allclose(mixed.reshape(-1, 3), cv.points_to_blender(shaped), atol=1e-4)

    # keyed: shape-key values on the Key's own action, and the skinned mesh follows the skeleton
    quats, trans = amass
    rest = model.rest_joints(betas)
    expr = np.random.default_rng(1).normal(size=(50, NUM_EXPRESSION))
    frames = np.arange(1, 51, dtype=np.float64)
    keys.write_keys(obj, frames, quats, trans, rest[0], expression=expr, mesh_obj=mesh_obj)
    assert me.shape_keys.animation_data.action is not None
    back = keys.read_keys(obj, rest_pelvis=rest[0], mesh_obj=mesh_obj)
    np.testing.assert_allclose(back["shape_keys"], expr, atol=1e-6)
    np.testing.assert_allclose(back["expression"], expr, atol=1e-6)
    k = 12
    ctx.scene.frame_set(k + 1)
    assert blocks["Exp002"].value == pytest.approx(expr[k, 2], abs=1e-6)
    deg = ctx.evaluated_depsgraph_get()
    ev = mesh_obj.evaluated_get(deg)
    posed = np.empty(3 * model.num_verts, np.float32)
    ev.data.vertices.foreach_get("co", posed)
    # numpy linear blend skinning of the expressed mesh (binary weights in the test model)
    glob = skeleton.local_to_global(rot.quat_to_matrix(quats[k:k + 1]))[0]
    joints = skeleton.forward_kinematics(glob[None], skeleton.bone_vectors(rest), (trans[k] + rest[0])[None])[0]
    verts = shaped + model.exprdirs[..., :NUM_EXPRESSION] @ expr[k]
    owner = np.argmax(model.weights, axis=1)
    expect = np.einsum("vij,vj->vi", glob[owner], verts - rest[owner]) + joints[owner]
    np.testing.assert_allclose(posed.reshape(-1, 3), cv.points_to_blender(expect), atol=1e-4)


def test_fcurves_live_where_this_blender_keeps_them(ctx, model, amass):
    """Whichever action API this Blender has, chosen by feature detection like the writer: layered
    (4.4+: the ID's own slot is assigned and its channelbag holds the F-curves; 4.4/4.5 lack
    ``group_name`` and ``action_ensure_channelbag_for_slot``) or legacy (4.2: ``action.fcurves``).
    Every F-curve is grouped (bone name / ARKit / Expression), for the armature and the shape keys."""
    from bpy_extras import anim_utils

    quats, trans = amass
    obj = armature.build_armature(ctx, model=model, betas=np.zeros(10))
    mesh_obj = armature.smplx_mesh(obj)
    frames = np.arange(1, 11, dtype=np.float64)
    expr = np.zeros((10, NUM_EXPRESSION))
    keys.write_keys(obj, frames, quats[:10], trans[:10], REST_PELVIS, expression=expr,
                    arkit=np.zeros((10, NUM_ARKIT)), mesh_obj=mesh_obj)
    want_obj = {f'pose.bones["{n}"].rotation_quaternion': n for n in JOINT_NAMES}
    want_obj[f'pose.bones["{JOINT_NAMES[0]}"].location'] = JOINT_NAMES[0]
    want_obj.update({f'["{n}"]': keys.ARKIT_GROUP for n in ARKIT_NAMES})
    want_obj.update({f'["expr_{i:03d}"]': keys.EXPRESSION_GROUP for i in range(NUM_EXPRESSION)})
    want_key = {f'key_blocks["Exp{i:03d}"].value': keys.EXPRESSION_GROUP for i in range(NUM_EXPRESSION)}
    for id_block, want, count in ((obj, want_obj, 55 * 4 + 3 + NUM_ARKIT + NUM_EXPRESSION),
                                  (mesh_obj.data.shape_keys, want_key, NUM_EXPRESSION)):
        anim = id_block.animation_data
        action = anim.action
        if hasattr(action, "slots"):                                   # layered (4.4+)
            slot = anim.action_slot
            assert slot is not None and slot.target_id_type == id_block.id_type
            owner = anim_utils.action_get_channelbag_for_slot(action, slot)
            assert owner is not None
        else:                                                          # legacy (4.2)
            owner = action
        curves = list(owner.fcurves)
        assert len(curves) == count
        assert {(fc.data_path, fc.array_index) for fc in curves} == set(keys.fcurves_of(id_block))
        assert {fc.data_path: fc.group.name if fc.group else None for fc in curves} == want
        assert {g.name for g in owner.groups} == set(want.values())


def test_a_root_bone_carries_the_motion_over_the_floor_and_the_joints_stay_put(ctx, amass):
    quats, trans = amass
    trans = trans + np.array([0.3, 0.1, -0.4])            # away from the origin: the root must move
    plain = armature.build_armature(ctx, name="Plain")
    rooted = armature.build_armature(ctx, name="Rooted", root_bone=True)
    assert rooted.data.bones["pelvis"].parent.name == armature.ROOT_MOTION_BONE
    frames = np.arange(1.0, 1.0 + len(trans))
    for obj in (plain, rooted):
        keys.write_keys(obj, frames, quats, trans, REST_PELVIS)
    want, _ = _fk_blender(quats, trans, REST)
    for i in (0, 25, 49):
        ctx.scene.frame_set(int(frames[i]))
        for obj in (plain, rooted):
            heads, _ = _pose_state(obj)
            assert np.abs(heads - want[i]).max() < 1e-5
        root = rooted.pose.bones[armature.ROOT_MOTION_BONE]
        root_head = np.array(root.head)
        assert abs(root_head[2]) < 1e-6 and np.linalg.norm(root_head[:2]) > 0.1   # on the floor, moving
    back = keys.read_keys(rooted, frames)
    assert np.abs(back["trans"] - trans).max() < 1e-5
    # the live pose splits it the same way
    keys.apply_pose(rooted, quats[10], trans[10], REST_PELVIS)
    ctx.view_layer.update()
    heads, _ = _pose_state(rooted)
    assert np.abs(heads - want[10]).max() < 1e-5
