"""The feet on the floor in every frame (pipeline/floor.py) and the root-slide warning
(pipeline/root_slide.py): on a real still person filmed through a pan and zoom (batch, live and
the CLI), on real walks and hops (CMU), and on synthetic floor signals."""
import os
import subprocess
import sys

import numpy as np
import pytest

from data_paths import BASKETBALL, CMU, REPO
from inference.body.body_model import load_smplx
from inference.body.landmarks import landmark_offsets
from inference.body.subject import Subject
from inference.core import rotations as rot
from inference.core.records import Camera, Detection
from inference.core.skeleton import DEFAULT_REST, local_to_global
from inference.pipeline.batch import solve_sequence
from inference.pipeline.floor import (AIRBORNE_M, FOOT_TOLERANCE_M, MAX_AIRBORNE_S, FloorFilter, floor_offline,
                                      lowest_foot_height)
from inference.pipeline.live import LivePipeline
from inference.pipeline.motion import Motion
from inference.pipeline.root_slide import FOOT_JOINTS, ROOT_SLIDE_WARN_M, root_slide
from support.still_clip import write_still_clip
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera, render_detections

#: The acceptance: the lowest foot point of a person on the ground within this of Y = 0, every frame.
ON_FLOOR_M = 0.02


def lowest_foot(motion: Motion) -> np.ndarray:
    """(T,) world Y of the lowest heel / toe point of a saved motion."""
    G = local_to_global(rot.axis_angle(motion.poses.reshape(len(motion.poses), -1, 3)))
    return lowest_foot_height(G, motion.joints, landmark_offsets(motion.rest_joints))


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory):
    """basketball1.png (a man standing still, holding a ball) through a slow pan and zoom: the clip's
    path and its MediaPipe detections (DetectionSeq, camera)."""
    from inference.app.capture import detect_source

    clip = write_still_clip(BASKETBALL, tmp_path_factory.mktemp("still") / "still.avi")
    seq, size, _, _ = detect_source(str(clip), progress=False)
    return clip, seq, Camera.from_fov(size[0], size[1], 60.0)


def test_still_clip_batch_feet_on_the_floor_and_slide_warned(still_clip):
    _, seq, cam = still_clip
    m = solve_sequence(seq, cam)
    low = lowest_foot(m)
    print(f"still clip, batch: lowest foot point max |Y| {np.abs(low).max() * 100:.2f} cm, "
          f"floor shift up to {np.abs(m.floor_height).max() * 100:.1f} cm; {m.warnings}")
    assert m.valid.all()
    assert np.abs(low).max() <= ON_FLOOR_M
    assert len(m.warnings) == 1 and m.warnings[0].startswith("ROOT SLIDE") and "\n" not in m.warnings[0]
    # the world joints, the floor shift undone, are where the camera-frame solve put them
    unshifted = m.joints + m.floor_height[:, None, None] * np.array([0.0, 1.0, 0.0])
    inv = np.linalg.inv(m.camera_to_world)
    np.testing.assert_allclose(m.camera_points(m.joints, np.arange(len(m.joints))),
                               unshifted @ inv[:3, :3].T + inv[:3, 3], atol=1e-9)


def test_still_clip_live_feet_on_the_floor(still_clip):
    _, seq, cam = still_clip
    live = LivePipeline(cam)
    low = []
    for i in range(len(seq)):
        out = live.step(Detection(time=float(seq.times[i]), image_size=seq.image_size, kp2d=seq.kp2d[i],
                                  kpz=seq.kpz[i], world=seq.world[i], present=seq.present[i]))
        offsets = landmark_offsets(live.subject.rest if live.subject is not None else DEFAULT_REST)
        low.append(lowest_foot_height(local_to_global(out.local_rot[None]), out.joints[None], offsets)[0])
    print(f"still clip, live: lowest foot point max |Y| {np.abs(low).max() * 100:.2f} cm")
    assert np.abs(low).max() <= ON_FLOOR_M


def test_cli_warns_of_the_slide_in_one_line(still_clip, tmp_path):
    clip, _, _ = still_clip
    out = tmp_path / "still.smplx.npz"
    r = subprocess.run([sys.executable, "-m", "inference", "capture", str(clip), "--out", str(out), "--quiet"],
                       cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0].startswith("warning: ROOT SLIDE") and len(r.stderr.splitlines()) == 1, r.stderr
    back = Motion.from_npz(out)
    assert len(back.warnings) == 1 and back.floor_height.shape == (len(back.valid),)


@pytest.fixture(scope="module")
def cmu_solves(smplx_model_path):
    """The CMU clips (walks 131_01 / 131_02, hops 131_03) as synthetic detections with 10 mm
    keypoint noise, solved at the default smoothing: name → (motion, true world joints)."""
    from test_roundtrip_cmu import CAMERA_DISTANCE, CAMERA_HEIGHT, cmu_motion

    model = load_smplx(smplx_model_path, load_posedirs=False)
    rest = model.rest_joints(np.zeros(10))
    cam = Camera.from_fov(1280, 720, 60.0)
    out = {}
    for path in CMU:
        L, root, times = cmu_motion(path, rest)
        G, joints = pose_in_camera(L, root, rest, WORLD_TO_CAMERA, np.array([0.0, CAMERA_HEIGHT, CAMERA_DISTANCE]))
        seq = render_detections(G, joints, rest, cam, times, noise_m=0.01, seed=1)
        out[path.name] = solve_sequence(seq, cam, model=model, subject=Subject.from_rest(rest))
    return out


@pytest.mark.parametrize("name", ["cmu_scaled_131_01.bvh", "cmu_scaled_131_02.bvh"])
def test_walks_keep_a_foot_on_the_floor_and_no_slide_warning(cmu_solves, name):
    m = cmu_solves[name]
    low = lowest_foot(m)
    print(f"{name}: lowest foot point max |Y| {np.abs(low).max() * 100:.2f} cm")
    assert np.abs(low).max() <= ON_FLOOR_M
    assert m.warnings == ()


def test_hops_stay_hops(cmu_solves):
    """131_03 hops up to ~10 cm off the ground (foot points of the true motion): the floor is not
    lifted with the feet."""
    low = lowest_foot(cmu_solves["cmu_131_03.bvh"])
    print(f"hops: lowest foot point max {low.max() * 100:.1f} cm")
    assert low.max() >= 0.08
    assert np.percentile(np.abs(low), 50) <= FOOT_TOLERANCE_M


# --- synthetic floor signals ----------------------------------------------------------------

FPS = 30.0


def _drift_and_jump(T: int = 240):
    """(times, lowest, jump frames): a floor drifting 15 cm over the clip (ease in / out, like a
    zoom) plus small noise, with a 0.4 s jump 30 cm high at 4 s."""
    t = np.arange(T) / FPS
    drift = 0.15 * (0.5 - 0.5 * np.cos(np.pi * t / t[-1]))
    jump = (t >= 4.0) & (t < 4.4)
    lowest = drift + np.random.default_rng(0).normal(0.0, 0.002, T) + np.where(jump, 0.3 * np.sin(np.pi * (t - 4.0) / 0.4), 0.0)
    return t, lowest, jump, drift


def test_offline_floor_follows_a_drift_and_keeps_a_jump():
    t, lowest, jump, drift = _drift_and_jump()
    floor = floor_offline(t, lowest, np.ones(len(t), bool), np.zeros(len(t), int))
    feet = lowest - floor
    assert np.abs(feet[~jump]).max() <= FOOT_TOLERANCE_M + 1e-12
    assert feet[jump].max() >= 0.28                    # the jump keeps its height
    assert np.abs(floor[jump] - drift[jump]).max() <= 0.01


def test_live_floor_follows_a_drift_and_keeps_most_of_a_jump():
    t, lowest, jump, drift = _drift_and_jump()
    f = FloorFilter()
    feet = lowest - np.array([f.step(ti, x) for ti, x in zip(t, lowest)])
    after = t >= 4.6                                   # a few frames to land
    assert np.abs(feet[~jump & (t < 4.0)]).max() <= FOOT_TOLERANCE_M + 1e-12
    assert np.abs(feet[after]).max() <= FOOT_TOLERANCE_M + 1e-12
    assert feet[jump].max() >= 0.3 - AIRBORNE_M - 0.01    # causal: only its first AIRBORNE_M are lost


def test_a_long_stay_up_is_a_new_floor():
    """Standing on a 20 cm box for 3 s: not a jump, the feet go back to the floor."""
    t = np.arange(240) / FPS
    lowest = np.where((t >= 2.0) & (t < 5.0), 0.2, 0.0)
    floor = floor_offline(t, lowest, np.ones(len(t), bool), np.zeros(len(t), int))
    live = FloorFilter()
    floor_live = np.array([live.step(ti, x) for ti, x in zip(t, lowest)])
    settled = (t >= 2.0 + MAX_AIRBORNE_S + 0.2) & (t < 5.0)
    assert np.abs((lowest - floor)[settled]).max() <= FOOT_TOLERANCE_M + 1e-12
    assert np.abs((lowest - floor_live)[settled]).max() <= FOOT_TOLERANCE_M + 1e-12


def _feet_pose(T: int, step_m: float, travel_m: float):
    """(times, joints (T, 55, 3)): a pelvis travelling ``travel_m`` along Z, the feet swinging
    ``step_m`` back and forth relative to it (about one step per second; 0: not stepping)."""
    t = np.arange(T) / FPS
    joints = np.tile(DEFAULT_REST, (T, 1, 1))
    joints += np.linspace(0.0, travel_m, T)[:, None, None] * np.array([0.0, 0.0, 1.0])
    swing = 0.5 * step_m * np.sin(np.pi * t)
    for k, j in enumerate(FOOT_JOINTS):                # left ankle, right ankle, left foot, right foot
        joints[:, j, 2] += swing * (1.0 if k % 2 == 0 else -1.0)
    return t, joints


def test_root_slide_is_travel_without_steps():
    t, still = _feet_pose(90, 0.0, 0.4)
    assert root_slide(t, still, np.ones(len(t), bool)) >= ROOT_SLIDE_WARN_M
    assert root_slide(t, still, np.zeros(len(t), bool)) == 0.0          # feet unseen: cannot tell
    t, walk = _feet_pose(90, 0.6, 2.0)
    assert root_slide(t, walk, np.ones(len(t), bool)) < ROOT_SLIDE_WARN_M
