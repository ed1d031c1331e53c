"""The add-on end to end in headless bpy: bake a real clip, live link with recording, a killed worker.

The worker is a real child process in the engine's venv; the add-on's own operators run it (their
blocking ``execute`` path, as a script uses them) and ``pump.tick`` is called as a plain function.
"""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from conftest import MODULE, ROOT

MEGAMIND = ROOT.parent / "shared" / "data" / "video" / "Megamind.avi"


def addon(name: str):
    return importlib.import_module(f"{MODULE}.{name}")


def setup_capture(worker_python: str, source: Path, source_type: str = "VIDEO"):
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.python_path = worker_python
    props = bpy.context.scene.smplx_mocap
    props.source_type = source_type
    if source_type == "VIDEO":
        props.video_path = str(source)
    else:
        props.folder_path = str(source)
    return props


def keyed_frames(obj) -> dict[str, np.ndarray]:
    """data_path[index] → key frames of every F-curve driving ``obj``."""
    keys = addon("blender_addon.keys")
    out = {}
    for fc in keys.fcurves_of(obj).values():
        co = np.zeros(2 * len(fc.keyframe_points))
        fc.keyframe_points.foreach_get("co", co)
        out[f"{fc.data_path}[{fc.array_index}]"] = co[0::2]
    return out


@pytest.fixture(scope="module")
def frames_folder(tmp_path_factory, worker_python) -> Path:
    """Eight frames of Megamind.avi as PNGs: a short clip the live link loops over several times."""
    folder = tmp_path_factory.mktemp("frames")
    code = ("import cv2, sys\nc = cv2.VideoCapture(sys.argv[1])\nfor i in range(60):\n    ok, im = c.read()\n"
            "    if i >= 52: cv2.imwrite(f'{sys.argv[2]}/f{i:03d}.png', im)\n")
    subprocess.run([worker_python, "-c", code, str(MEGAMIND), str(folder)], check=True, timeout=60)
    assert len(list(folder.glob("*.png"))) == 8
    return folder


@pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")
def test_bake_megamind_equals_engine_npz(installed_addon, worker_python, no_leaks):
    setup_capture(worker_python, MEGAMIND)
    assert bpy.ops.mocap.bake() == {"FINISHED"}
    session = addon("blender_addon.session")
    st = session.status()
    assert st.state == "done" and st.dropped == 0 and st.received > 0, st
    obj = bpy.context.scene.smplx_mocap.target
    with np.load(obj["smplx_mocap_motion"], allow_pickle=False) as d:
        poses, valid, times = d["poses"], d["valid"], d["frame_times"]
        expression, arkit = d["expression"], d["arkit"]
    assert st.received == len(valid)            # every frame was streamed, in order, none dropped
    n = int(valid.sum())
    assert n > 0.8 * len(valid)
    frames = keyed_frames(obj)
    quat_paths = [p for p in frames if p.endswith("rotation_quaternion[0]")]
    assert len(quat_paths) == 55
    assert all(len(v) == n for v in frames.values()), {k: len(v) for k, v in frames.items() if len(v) != n}
    for name in ("eyeBlinkLeft", "jawOpen", "mouthSmileRight"):
        assert f'["{name}"][0]' in frames
    assert '["expr_000"][0]' in frames
    scene = bpy.context.scene
    want = times[valid] * scene.render.fps / scene.render.fps_base + scene.frame_start
    assert np.allclose(frames[quat_paths[0]], want, atol=1e-6)
    keys, rot = addon("blender_addon.keys"), addon("inference.core.rotations")
    got = keys.read_keys(obj)
    q_want = rot.quat_exp(poses[valid].reshape(n, 55, 3).astype(np.float64))
    diff = np.abs(got["quats"] - np.sign((got["quats"] * q_want).sum(-1, keepdims=True)) * q_want).max()
    assert diff < 1e-4
    assert np.allclose(got["arkit"], arkit[valid], atol=1e-5)
    assert np.allclose(got["expression"], expression[valid], atol=1e-5)
    # the worker keeps numba's cache of the live solver in the user folder (an update keeps it)
    cache = addon("blender_addon.runtime").numba_cache_dir(addon("blender_addon.launch").user_dir())
    assert any(p.suffix in (".nbi", ".nbc") for p in cache.rglob("*")), sorted(cache.rglob("*"))[:5]

    # non-destructive: another smoothing re-solves the action from the cached detections
    bpy.context.scene.smplx_mocap.smoothing = 0.0
    assert bpy.ops.mocap.resolve() == {"FINISHED"}
    assert session.status().state == "done"
    with np.load(obj["smplx_mocap_motion"], allow_pickle=False) as d:
        poses2 = d["poses"]
    assert not np.allclose(poses2, poses, atol=1e-3)
    again = keys.read_keys(obj)
    assert again["quats"].shape == got["quats"].shape
    q2 = rot.quat_exp(poses2[valid].reshape(n, 55, 3).astype(np.float64))
    assert np.abs(again["quats"] - np.sign((again["quats"] * q2).sum(-1, keepdims=True)) * q2).max() < 1e-4


def test_live_link_records_every_frame_of_a_looping_clip(installed_addon, worker_python, frames_folder, no_leaks):
    setup_capture(worker_python, frames_folder, "FOLDER")
    assert bpy.ops.mocap.live_start(loop=True, use_timer=False) == {"FINISHED"}
    pump = addon("blender_addon.pump")
    end = time.monotonic() + 60
    while pump.live().frames_applied == 0 and time.monotonic() < end:
        pump.tick()
        time.sleep(0.005)
    assert pump.live().frames_applied > 0, addon("blender_addon.session").status()
    obj = bpy.data.objects[pump.live().obj_name]
    assert any(pb.rotation_quaternion[0] < 0.9999 for pb in obj.pose.bones)   # the live pose moved bones
    assert bpy.ops.mocap.record_toggle() == {"FINISHED"}
    want = 24   # three passes over the 8-frame folder
    received = 0
    while received < want and time.monotonic() < end:
        received += pump.tick()["keyed"]
        rec = pump.live().recorder
        received = rec.keyed + sum(len(t) for t in rec.pending_times)
        time.sleep(0.005)
    st = addon("blender_addon.session").status()
    # once the worker has measured the subject, the armature has its proportions
    rest = addon("blender_addon.session").active().ring.rest_joints
    assert rest is not None
    pump.tick()
    assert np.abs(addon("blender_addon.armature").rest_heads(obj) - rest).max() < 1e-4
    assert bpy.ops.mocap.live_stop() == {"FINISHED"}
    assert received >= want and st.dropped == 0
    frames = keyed_frames(obj)
    lengths = {len(v) for v in frames.values()}
    assert lengths == {received}
    f = next(iter(frames.values()))
    assert np.all(np.diff(f) > 0)    # one key per captured frame, placed by the source's clock


@pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")
def test_a_gpu_the_detector_cannot_use_is_said_in_the_status_line(installed_addon, worker_python, frames_folder,
                                                                  no_leaks):
    session, launch = addon("blender_addon.session"), addon("blender_addon.launch")
    opts = session.WorkerOptions(mode="live", source=str(frames_folder), device="GPU")
    sess = session.start(worker_python, opts, launch.user_dir())
    try:
        assert session.GPU_NOTE in sess.poll().line()
    finally:
        sess.stop()
    cpu = session.start(worker_python, session.WorkerOptions(mode="live", source=str(frames_folder)), launch.user_dir())
    try:
        assert session.GPU_NOTE not in cpu.poll().line()
    finally:
        cpu.stop()


@pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")
def test_a_bake_with_the_onnx_detector_keys_its_capture_and_says_a_missing_gpu(installed_addon, worker_python,
                                                                              frames_folder, no_leaks):
    """The panel's Detector "Fast": on the CPU LiteRT bakes from MediaPipe's own model files (no
    conversion needed); its npz says what ran; on a machine without a GPU, Device GPU is said in the
    status line while it runs."""
    props = setup_capture(worker_python, MEGAMIND)
    props.detector = "ONNX"
    assert bpy.ops.mocap.bake(max_frames=8) == {"FINISHED"}
    session = addon("blender_addon.session")
    assert session.status().state == "done"
    with np.load(props.target["smplx_mocap_motion"], allow_pickle=False) as d:
        assert (str(d["detector"]), str(d["backend"]), str(d["provider"])) == \
            ("onnx-holistic", "litert", "CPU (LiteRT XNNPACK)")
        assert d["valid"].sum() >= 6
    launch = addon("blender_addon.launch")
    opts = session.WorkerOptions(mode="live", source=str(frames_folder), device="GPU", detector="onnx")
    sess = session.start(worker_python, opts, launch.user_dir())
    try:
        end = time.monotonic() + 120
        while "GPU requested" not in sess.poll().line() and time.monotonic() < end and not sess.finished:
            time.sleep(0.05)
        line = sess.poll().line()
        assert "GPU requested" in line and "running on the CPU" in line and session.GPU_NOTE not in line, line
    finally:
        sess.stop()


def test_status_says_what_matters_and_a_failed_start_replaces_the_old_error(installed_addon, worker_python, tmp_path):
    session = addon("blender_addon.session")
    live = session.Status(state="running", mode="live", fps=20.0, latency_ms=35.0).line()
    bake = session.Status(state="running", mode="bake", fps=20.0, latency_ms=35.0, progress=(3, 9)).line()
    assert "35 ms" in live and " ms" not in bake and "3/9" in bake
    session.start_failed("an earlier error")
    props = setup_capture(worker_python, tmp_path / "missing.mp4")
    assert props.video_path.endswith("missing.mp4")
    with pytest.raises(RuntimeError):            # the operator reports the error (and cancels)
        bpy.ops.mocap.bake()
    line = session.status().line()
    assert "missing.mp4" in line and "an earlier error" not in line, line


def test_killed_worker_mid_bake_keeps_keys(installed_addon, worker_python, no_leaks):
    setup_capture(worker_python, MEGAMIND)
    session = addon("blender_addon.session")
    killed = {}

    def killer():
        end = time.monotonic() + 120
        while time.monotonic() < end:
            sess = session.active()
            if sess is not None and sess.ring.progress[0] >= 15:
                os.kill(sess.process.pid, signal.SIGKILL)
                killed["at"] = sess.ring.progress[0]
                return
            time.sleep(0.01)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    with pytest.raises(RuntimeError, match="killed"):
        bpy.ops.mocap.bake()
    t.join(5)
    assert killed, "the worker was never seen running"
    obj = bpy.context.scene.smplx_mocap.target
    frames = keyed_frames(obj)
    n = {len(v) for v in frames.values()}
    assert len(n) == 1 and 0 < n.pop() <= len(list(range(killed["at"] + 300)))
    assert session.active() is None and session.status().state == "failed"


@pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")
def test_blender_capture_script_writes_blend(tmp_path, worker_python):
    """The headless script as a user runs it: its own bpy process, the built zip, the bake operator."""
    import sys
    out = tmp_path / "take.blend"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "blender_capture.py"), str(MEGAMIND),
                           "--out", str(out), "--max-frames", "12", "--python", worker_python],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out) and out.is_file()
    assert (tmp_path / "take.smplx.npz").is_file() and (tmp_path / "take.detections.npz").is_file()
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "blender_capture.py"), str(tmp_path / "missing.mp4"),
                          "--out", str(tmp_path / "bad.blend"), "--python", worker_python],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.blend").exists()


@pytest.mark.skipif(not MEGAMIND.is_file(), reason="shared data missing")
def test_bake_with_user_model_keys_expression_shape_keys(installed_addon, worker_python, tmp_path, no_leaks):
    """With a model file: the armature gets the skinned mesh and its Exp### shape keys are keyed."""
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    subprocess.run([worker_python, "-c", "import sys; sys.path.insert(0, 'tests'); "
                    "from support.testing_model import make_test_model; make_test_model(sys.argv[1])",
                    str(path)], cwd=ROOT, check=True, timeout=120)
    setup_capture(worker_python, MEGAMIND)
    bpy.context.preferences.addons[MODULE].preferences.model_path = str(path)
    try:
        assert bpy.ops.mocap.bake(max_frames=8) == {"FINISHED"}
    finally:
        bpy.context.preferences.addons[MODULE].preferences.model_path = ""
    obj = bpy.context.scene.smplx_mocap.target
    mesh = next(c for c in obj.children if c.type == "MESH")
    key = mesh.data.shape_keys
    assert "Exp000" in key.key_blocks
    paths = {fc.data_path for fc in addon("blender_addon.keys").fcurves_of(key).values()}
    assert 'key_blocks["Exp000"].value' in paths


def test_disable_during_live_link_stops_worker(extension_module, bpy_clean, worker_python, frames_folder, no_leaks):
    from conftest import disable, enable
    enable(extension_module)
    try:
        setup_capture(worker_python, frames_folder, "FOLDER")
        assert bpy.ops.mocap.live_start(loop=True, use_timer=False) == {"FINISHED"}
        sess = addon("blender_addon.session").active()
        pump = addon("blender_addon.pump")
        assert sess is not None and sess.alive and pump.live() is not None
    finally:
        disable(extension_module)     # unregister must end the live link, stop the child, unlink the ring
    assert pump.live() is None
    assert sess.finished and not Path(sess.ring.path).exists()


def test_bake_of_a_bad_file_reports_one_line_and_keys_nothing(installed_addon, worker_python, tmp_path, no_leaks):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    setup_capture(worker_python, bad)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.mocap.bake()
    message = str(info.value).strip()
    assert "notes.mp4" in message and len(message.splitlines()) == 1, message
    obj = bpy.context.scene.smplx_mocap.target
    assert obj is None or not keyed_frames(obj)
    assert addon("blender_addon.session").status().state == "failed"


def test_a_bad_motion_file_is_one_input_error_line(installed_addon, tmp_path):
    """The bake's final file is read by the engine's one reader (``Motion.from_npz``): a file that is
    not a capture is an InputError with one line, and nothing is keyed."""
    pump, armature = addon("blender_addon.pump"), addon("blender_addon.armature")
    InputError = addon("inference.core.errors").InputError
    obj = armature.build_armature(bpy.context)
    scene = bpy.context.scene
    not_npz = tmp_path / "broken.smplx.npz"
    not_npz.write_bytes(b"not a zip")
    other = tmp_path / "other.npz"
    np.savez(other, poses=np.zeros((2, 165)))
    for path in (not_npz, other, tmp_path / "missing.npz"):
        with pytest.raises(InputError) as info:
            pump.apply_motion_file(str(path), obj, scene)
        assert path.name in str(info.value) and len(str(info.value).splitlines()) == 1
    assert obj.animation_data is None and "smplx_mocap_motion" not in obj
