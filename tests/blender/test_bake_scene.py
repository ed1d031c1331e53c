"""What an artist gets from a bake (issue 11): the scene at the clip's rate and range, keys on whole
frames, an action per take named after the source, the armature in the subject's own proportions
(its joints are the motion file's), a camera that shows the armature over the footage, and starts
that fail (a foreign rig in the Armature field, a runtime that cannot start) say one line and leave
the add-on usable and nothing behind.

The clip is a real photo (a man standing still, holding a ball) seen through a slow synthetic pan
and zoom: 75 frames at 25 fps (``tests/support/still_clip.py``, written with the engine's OpenCV).
"""
from __future__ import annotations

import importlib
import os
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from conftest import MODULE, ROOT, descendant_pids, disable, enable, shm_leftovers

BASKETBALL = ROOT.parent / "shared" / "data" / "images" / "basketball1.png"
pytestmark = pytest.mark.skipif(not BASKETBALL.is_file(), reason="shared data missing")


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory, worker_python) -> Path:
    out = tmp_path_factory.mktemp("clip") / "still.avi"
    code = ("import sys; sys.path.insert(0, sys.argv[1])\nfrom support.still_clip import write_still_clip\n"
            "write_still_clip(sys.argv[2], sys.argv[3])\n")
    subprocess.run([worker_python, "-c", code, str(ROOT / "tests"), str(BASKETBALL), str(out)], check=True,
                   timeout=120)
    return out


def setup_capture(worker_python: str, video: Path):
    bpy.context.preferences.addons[MODULE].preferences.python_path = worker_python
    props = bpy.context.scene.smplx_mocap
    props.source_type, props.video_path = "VIDEO", str(video)
    return props


def cache_path(obj) -> str:
    cache = addon("blender_addon.cache")
    return cache.resolve(str(obj[cache.MOTION_PROP]))


def key_frames(obj) -> np.ndarray:
    """Frames of the root's W rotation keys."""
    fc = addon("blender_addon.keys").fcurves_of(obj)[('pose.bones["pelvis"].rotation_quaternion', 0)]
    co = np.zeros(2 * len(fc.keyframe_points))
    fc.keyframe_points.foreach_get("co", co)
    return co[0::2]


def world_joints(obj, frames: np.ndarray) -> np.ndarray:
    """(T, 55, 3) Blender world positions (Z up) of the SMPL-X bones' heads at ``frames``."""
    names = addon("inference.core.skeleton").JOINT_NAMES
    scene, out = bpy.context.scene, []
    for f in frames:
        scene.frame_set(int(round(f)))
        mw = np.array(obj.matrix_world)
        heads = np.array([obj.pose.bones[n].head for n in names])
        out.append(heads @ mw[:3, :3].T + mw[:3, 3])
    return np.array(out)


def test_bake_fits_the_scene_the_armature_and_a_camera_and_a_shorter_take_replaces_nothing(
        installed_addon, worker_python, still_clip, no_leaks):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = 24, 1.0, 1, 250
    setup_capture(worker_python, still_clip)
    assert bpy.ops.mocap.bake() == {"FINISHED"}
    obj = scene.smplx_mocap.target
    conv, motion_mod = addon("blender_addon.convert"), addon("inference.pipeline.motion")
    m = motion_mod.Motion.from_npz(cache_path(obj))
    valid = np.asarray(m.valid, bool)
    assert valid.sum() > 60

    # the scene runs at the clip's rate over its range; every key is on a whole frame
    assert (scene.render.fps, scene.render.fps_base) == (25, 1.0)
    assert (scene.frame_start, scene.frame_end) == (1, 75)
    frames = key_frames(obj)
    assert len(frames) == valid.sum() and np.abs(frames - np.round(frames)).max() < 1e-4

    # the take is an action named after the source; what was written is selected and active
    assert obj.animation_data.action.name == "still"
    assert bpy.context.view_layer.objects.active == obj and obj.select_get()
    assert [o.name for o in bpy.context.selected_objects] == [obj.name]

    # the armature has the subject's proportions: its joints are the file's, every frame, within 1 mm
    got = world_joints(obj, frames)
    want = conv.points_to_blender(m.joints[valid])
    assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()

    # a camera that matches the video, with the clip behind: the armature projects where the engine's
    # joints do in the footage
    cam = scene.camera
    assert cam is not None and cam.name == "still Camera" and cam.data.show_background_images
    assert cam.data.background_images[0].clip is not None
    assert (scene.render.resolution_x, scene.render.resolution_y) == tuple(m.camera.size)
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    W, H = m.camera.size
    for k in (0, len(frames) // 2, len(frames) - 1):
        i = int(np.flatnonzero(valid)[k])
        scene.frame_set(int(round(frames[k])))
        blender_px = np.array([[v.x * W, (1.0 - v.y) * H] for v in
                               (world_to_camera_view(scene, cam, Vector(p)) for p in got[k])])
        pc = m.camera_points(m.joints[i], i)
        engine_px = (pc @ np.asarray(m.camera.K).T)[:, :2] / pc[:, 2:3]
        assert np.abs(blender_px - engine_px).max() < 0.5, (k, np.abs(blender_px - engine_px).max())
    # the capture put the feet on the floor in every frame: the lowest foot joint never floats
    names = addon("inference.core.skeleton").JOINT_INDEX
    feet = got[:, [names[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")], 2]
    assert feet.min(axis=1).max() < 0.10, feet.min(axis=1).max()

    # a shorter re-bake is a new take: 15 keys, none of the first take's tail; the first take is kept
    assert bpy.ops.mocap.bake(max_frames=15) == {"FINISHED"}
    assert obj.animation_data.action.name == "still.001"
    assert len(key_frames(obj)) == 15 and scene.frame_end == 15
    first = bpy.data.actions["still"]
    assert first.use_fake_user

    # a trimmed bake (frames 31..45 of the clip) starts at the scene's first frame, over the clip's
    # frames 31..45 in the camera's background
    scene.smplx_mocap.clip_start, scene.smplx_mocap.clip_end = 31, 45
    assert bpy.ops.mocap.bake() == {"FINISHED"}
    m = motion_mod.Motion.from_npz(cache_path(obj))
    frames = key_frames(obj)
    assert len(m.valid) == 15 and abs(m.frame_times[0] - 30 / 25) < 1e-6
    assert frames[0] == 1.0 and (scene.frame_start, scene.frame_end) == (1, 15)
    assert scene.camera.data.background_images[0].clip.frame_start == 1 - 30
    got = world_joints(obj, frames)
    assert np.abs(got - conv.points_to_blender(m.joints[np.asarray(m.valid, bool)])).max() < 1e-3

    # undo / a new start: the status line does not claim a bake that is not there
    addon("blender_addon.session").forget_finished()
    assert addon("blender_addon.session").status().line() == "idle"


def test_a_foreign_armature_is_refused_in_one_line_and_the_addon_stays_usable(installed_addon, worker_python,
                                                                             still_clip, no_leaks):
    props = setup_capture(worker_python, still_clip)
    arm = bpy.data.objects.new("MyCharacter", bpy.data.armatures.new("MyCharacter"))
    bpy.context.collection.objects.link(arm)
    props.target = arm
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.bake()
    message = str(info.value).strip()
    assert "MyCharacter" in message and "Armature field" in message and len(message.splitlines()) == 1, message
    session = addon("blender_addon.session")
    assert session.active() is None and "MyCharacter" in session.status().line()
    assert not shm_leftovers() and not descendant_pids()
    props.target = None                                   # clearing the field makes every button usable again
    assert bpy.ops.mocap.bake.poll() and bpy.ops.mocap.live_start.poll()
    assert not [o for o in bpy.data.objects if o.name.startswith("SMPLX")]


def test_a_start_that_fails_leaves_no_empty_armature(installed_addon, still_clip, tmp_path, no_leaks):
    not_python = tmp_path / "python"
    not_python.write_bytes(b"\x00not an executable")
    not_python.chmod(0o755)
    props = setup_capture(str(not_python), still_clip)
    for _ in range(2):
        with pytest.raises(RuntimeError) as info:
            bpy.ops.mocap.bake()
        assert "could not start the worker" in str(info.value)
    assert props.target is None
    assert not bpy.data.armatures and not [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert addon("blender_addon.session").active() is None


def test_disabling_the_addon_mid_bake_leaves_no_partial_file(extension_module, bpy_clean, worker_python,
                                                             still_clip, no_leaks):
    enable(extension_module)
    try:
        setup_capture(worker_python, still_clip)
        launch, pump = addon("blender_addon.launch"), addon("blender_addon.pump")
        detections, out = addon("blender_addon.cache").new_paths(str(still_clip))
        session, obj = launch.start("bake", bpy.context, source=str(still_clip), detections=detections, out=out)
        job = pump.start_bake(session, obj, bpy.context.scene, out, detections)
        while session.ring.progress[0] < 5 and pump.bake_step(job, bpy.context.scene) == "running":
            pass
    finally:
        disable(extension_module)     # Blender frees a running modal bake without its cancel
    assert session.finished and not Path(session.ring.path).exists()
    assert not list(Path(out).parent.glob(".*.part"))


def test_bake_files_travel_with_the_blend_and_the_cache_can_be_cleared(installed_addon, worker_python, still_clip,
                                                                         tmp_path, no_leaks):
    cache = addon("blender_addon.cache")
    setup_capture(worker_python, still_clip)
    assert bpy.ops.mocap.bake(max_frames=8) == {"FINISHED"}
    obj = bpy.context.scene.smplx_mocap.target
    in_cache = Path(obj[cache.DETECTIONS_PROP])
    assert in_cache.parent == cache.user_cache() and in_cache.is_file()

    # saving moves what the file uses beside it, referred to relatively
    blend = tmp_path / "shot" / "shot.blend"
    blend.parent.mkdir()
    assert bpy.ops.wm.save_as_mainfile(filepath=str(blend)) == {"FINISHED"}
    for prop in cache.FILE_PROPS:
        value = str(obj[prop])
        assert value.startswith("//shot_mocap/"), value
        assert Path(cache.resolve(value)).is_file()
    # a re-solve reads the relative detections and writes beside the .blend
    assert bpy.ops.mocap.resolve() == {"FINISHED"}
    assert str(obj[cache.MOTION_PROP]).startswith("//shot_mocap/")
    # "Save Copy" elsewhere does not re-point the open file
    copy = tmp_path / "elsewhere" / "copy.blend"
    copy.parent.mkdir()
    assert bpy.ops.wm.save_as_mainfile(filepath=str(copy), copy=True) == {"FINISHED"}
    assert str(obj[cache.DETECTIONS_PROP]).startswith("//shot_mocap/")
    assert (copy.parent / "copy_mocap" / Path(cache.resolve(str(obj[cache.DETECTIONS_PROP]))).name).is_file()

    # a bake of a saved file writes beside it; the user cache can be emptied
    assert bpy.ops.mocap.bake(max_frames=5) == {"FINISHED"}
    assert str(obj[cache.DETECTIONS_PROP]).startswith("//shot_mocap/")
    assert bpy.ops.mocap.clear_cache() == {"FINISHED"}
    assert not list(cache.user_cache().glob("*.npz"))
    assert Path(cache.resolve(str(obj[cache.DETECTIONS_PROP]))).is_file()


def test_the_user_cache_is_pruned_oldest_first_and_keeps_what_the_file_uses(installed_addon, tmp_path):
    cache = addon("blender_addon.cache")
    folder = tmp_path / "cache"
    folder.mkdir()
    files = []
    for i in range(5):
        p = folder / f"take{i}.detections.npz"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
        files.append(p)
    arm = bpy.data.objects.new("A", bpy.data.armatures.new("A"))
    bpy.context.collection.objects.link(arm)
    arm[cache.DETECTIONS_PROP] = str(files[0])              # the oldest, but in use
    assert cache.prune(folder, 2500) == 3000                  # 5000 → 2000 bytes: the three oldest unused go
    assert [p.exists() for p in files] == [True, False, False, False, True]


def test_clip_rates_become_blender_rates(installed_addon):
    fps_settings = addon("blender_addon.scene_setup").fps_settings
    assert fps_settings(25.0) == (25, 1.0) and fps_settings(30.0) == (30, 1.0)
    for rate, fps in ((24000 / 1001, 24), (30000 / 1001, 30), (60000 / 1001, 60), (12.5, 12)):
        got_fps, base = fps_settings(rate)
        assert got_fps == fps and got_fps / base == pytest.approx(rate, rel=1e-9)
    with pytest.raises(ValueError):
        fps_settings(0.0)
