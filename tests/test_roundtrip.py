"""Round trip on real motion: AMASS (body + hands) drives the generated SMPL-X model; forward
kinematics → synthetic detections in the detector's layout → solve → forward kinematics.

MPJPE here is over the 52 body+hand joints after aligning each frame's centroid (translation),
in the camera frame. The bounds are the targets: ≤ 10 mm noiseless (solved without smoothing),
≤ 12 mm with 10 mm keypoint noise per axis (the batch path as a user gets it, default smoothing
0.5). The README has the measured figures.
"""
import numpy as np
import pytest

from inference.core import rotations as rot
from inference.body.body_model import load_smplx
from inference.pipeline.batch import solve_sequence
from inference.core.records import Camera
from inference.body.subject import Subject
from support.amass import amass_local_rotations, mpjpe_mm, solved_camera_joints
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera, render_detections


@pytest.fixture(scope="module")
def scene(smplx_model_path):
    model = load_smplx(smplx_model_path, load_posedirs=False)
    rest = model.rest_joints(np.zeros(10))
    L, root, fps = amass_local_rotations()
    cam = Camera.from_fov(1280, 720, 60.0)
    G, joints = pose_in_camera(L, root + rest[0], rest, WORLD_TO_CAMERA, np.array([0.0, 1.0, 3.5]))
    times = np.arange(len(L)) / fps
    return model, rest, cam, G, joints, times


@pytest.mark.parametrize("noise_m, smoothing, bound_mm", [(0.0, 0.0, 10.0), (0.01, 0.5, 12.0)])
def test_amass_roundtrip(scene, noise_m, smoothing, bound_mm):
    model, rest, cam, G, joints, times = scene
    seq = render_detections(G, joints, rest, cam, times, noise_m=noise_m, seed=1)
    m = solve_sequence(seq, cam, model=model, smoothing=smoothing, subject=Subject.from_rest(rest))
    err = mpjpe_mm(solved_camera_joints(m), joints)
    print(f"AMASS round trip, noise {noise_m * 1000:.0f} mm: MPJPE {err:.1f} mm")
    assert err <= bound_mm
    assert m.valid.all() and m.part_valid[:, :3].all()


def test_amass_roundtrip_limbs_exact(scene):
    """The observed chains (legs, arms, hands) are recovered almost exactly without noise."""
    model, rest, cam, G, joints, times = scene
    seq = render_detections(G, joints, rest, cam, times)
    m = solve_sequence(seq, cam, smoothing=0.0, subject=Subject.from_rest(rest))
    jc = solved_camera_joints(m)
    hands = np.arange(25, 55)
    rel = lambda x: x[:, hands] - x[:, [20] * 15 + [21] * 15]  # finger joints relative to their wrist
    assert np.linalg.norm(rel(jc) - rel(joints), axis=-1).mean() < 0.005


def test_estimated_subject_close_to_true(scene):
    model, rest, cam, G, joints, times = scene
    seq = render_detections(G, joints, rest, cam, times)
    m = solve_sequence(seq, cam, smoothing=0.0)
    assert mpjpe_mm(solved_camera_joints(m), joints) <= 18.0


@pytest.mark.parametrize("hip_deg, knee_deg", [(-60, 100), (-20, 100), (0, 100), (0, 120), (-30, 60)])
def test_strongly_bent_knee_is_solved_as_seen(hip_deg, knee_deg):
    """A knee bent past 90° keeps its observed bend plane (the foot-based fallback must not flip
    the leg)."""
    from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX as J
    rest, cam = DEFAULT_REST, Camera.from_fov(1280, 720, 60.0)
    L = np.broadcast_to(np.eye(3), (2, 55, 3, 3)).copy()
    L[:, J["right_hip"]] = rot.axis_angle(np.array([np.radians(hip_deg), 0.0, 0.0]))
    L[:, J["right_knee"]] = rot.axis_angle(np.array([np.radians(knee_deg), 0.0, 0.0]))
    G, joints = pose_in_camera(L, np.tile(rest[0], (2, 1)), rest, WORLD_TO_CAMERA, np.array([0.0, 1.0, 3.5]))
    seq = render_detections(G, joints, rest, cam, np.arange(2) / 30.0)
    m = solve_sequence(seq, cam, smoothing=0.0, subject=Subject.from_rest(rest))
    jc = solved_camera_joints(m)
    for name in ("right_knee", "right_ankle", "right_foot"):
        assert np.linalg.norm(jc[0, J[name]] - joints[0, J[name]]) < 0.005, name


def test_no_shot_cut_in_continuous_motion_and_a_splice_is_one(scene):
    """Fast real motion at 120 fps is one shot; two clips spliced together (the person jumps across
    the picture) are two, split exactly at the splice."""
    from inference.temporal.shots import shot_ids
    model, rest, cam, G, joints, times = scene
    seq = render_detections(G, joints, rest, cam, times, noise_m=0.01, seed=1)
    assert (shot_ids(seq) == 0).all()
    moved = render_detections(G, joints + np.array([1.2, 0.0, 0.5]), rest, cam, times, seed=1)
    half = len(times) // 2
    spliced = type(seq)(times, seq.image_size, np.concatenate([seq.kp2d[:half], moved.kp2d[half:]]),
                        np.concatenate([seq.kpz[:half], moved.kpz[half:]]),
                        np.concatenate([seq.world[:half], moved.world[half:]]), seq.present)
    shots = shot_ids(spliced)
    assert (shots[:half] == 0).all() and (shots[half:] == 1).all()


def test_batch_smoothing_does_not_cross_a_shot_cut(scene):
    """The frames after a cut are smoothed as if the clip started there: the same joint rotations
    as the second shot solved on its own (the targets' smoothing and the One-Euro pass both
    restart; the root is left out, its world frame is the first frame's of each clip)."""
    model, rest, cam, G, joints, times = scene
    n = 120
    seq = render_detections(G[:n], joints[:n], rest, cam, times[:n], noise_m=0.01, seed=1)
    moved = render_detections(G[n:2 * n], joints[n:2 * n] + np.array([1.2, 0.0, 0.5]), rest, cam, times[:n],
                              noise_m=0.01, seed=2)
    spliced = type(seq)(times[:2 * n], seq.image_size, np.concatenate([seq.kp2d, moved.kp2d]),
                        np.concatenate([seq.kpz, moved.kpz]), np.concatenate([seq.world, moved.world]),
                        np.concatenate([seq.present, moved.present]))
    second = type(seq)(times[n:2 * n], seq.image_size, moved.kp2d, moved.kpz, moved.world, moved.present)
    subject = Subject.from_rest(rest)
    both = solve_sequence(spliced, cam, model=model, smoothing=0.5, subject=subject).poses
    alone = solve_sequence(second, cam, model=model, smoothing=0.5, subject=subject).poses
    np.testing.assert_allclose(both[n:, 3:], alone[:, 3:], atol=1e-6)
