"""Round trip on real CMU motion capture: each BVH clip is retargeted onto the generated SMPL-X
model's rest skeleton (:func:`support.bvh.cmu_to_smplx`), seen by a camera as synthetic detections,
solved, and compared with the same centroid-aligned MPJPE over the 52 body+hand joints as the AMASS
round trip (tests/test_roundtrip.py).

Clips are taken every 4th frame (120 → 30 fps, at most 300 frames). The subject faces the camera in
the first frame and its trajectory is centred 5.5 m in front of a camera 1 m above the floor, so it
stays in view while it walks (131_01, 131_02) or hops (131_03) towards the camera.

The bounds are the targets: ≤ 10 mm noiseless, ≤ 12 mm with 10 mm keypoint noise (per axis, on
every landmark). The noiseless solve runs without smoothing, the noisy one at the default smoothing
0.5 (the batch path as a user gets it). The README has the measured figures.
"""
import numpy as np
import pytest

from data_paths import CMU
from inference.core import rotations as rot
from inference.body.body_model import load_smplx
from support.bvh import cmu_to_smplx, read_bvh
from inference.pipeline.batch import solve_sequence
from inference.core.records import Camera
from inference.body.subject import Subject
from support.synthetic import WORLD_TO_CAMERA, pose_in_camera, render_detections
from support.amass import mpjpe_mm, solved_camera_joints

STEP, MAX_FRAMES = 4, 300
CAMERA_DISTANCE, CAMERA_HEIGHT = 5.5, 1.0

#: clip → (noiseless bound, 10 mm-noise bound): the targets, millimetres.
BOUNDS_MM = {
    "cmu_131_03.bvh": (10.0, 12.0),
    "cmu_scaled_131_01.bvh": (10.0, 12.0),
    "cmu_scaled_131_02.bvh": (10.0, 12.0),
}


def cmu_motion(path, rest):
    """The clip's SMPL-X motion, subsampled, facing the camera (+Z) in its first frame, with its
    trajectory centred on the origin in the ground plane.

    Returns local rotations (T, 55, 3, 3), pelvis positions (T, 3) in the Y-up world, times (T,).
    """
    m = read_bvh(path)
    L, root = cmu_to_smplx(m, rest)
    L, root = L[::STEP][:MAX_FRAMES], root[::STEP][:MAX_FRAMES]
    fwd = L[0, 0] @ [0.0, 0.0, 1.0]
    face_camera = rot.axis_angle(np.array([0.0, -np.arctan2(fwd[0], fwd[2]), 0.0]))
    L[:, 0] = face_camera @ L[:, 0]
    root = root @ face_camera.T
    centre = root.mean(0) * [1.0, 0.0, 1.0]
    return L, root - centre, np.arange(len(L)) * m.frame_time * STEP


@pytest.fixture(scope="module")
def model_rest(smplx_model_path):
    model = load_smplx(smplx_model_path, load_posedirs=False)
    return model, model.rest_joints(np.zeros(10))


@pytest.fixture(scope="module", params=CMU, ids=[p.name for p in CMU])
def scene(request, model_rest):
    model, rest = model_rest
    L, root, times = cmu_motion(request.param, rest)
    cam = Camera.from_fov(1280, 720, 60.0)
    G, joints = pose_in_camera(L, root, rest, WORLD_TO_CAMERA,
                               np.array([0.0, CAMERA_HEIGHT, CAMERA_DISTANCE]))
    return request.param.name, model, rest, cam, G, joints, times


@pytest.mark.parametrize("noise_m", [0.0, 0.01])
def test_cmu_roundtrip(scene, noise_m):
    name, model, rest, cam, G, joints, times = scene
    seq = render_detections(G, joints, rest, cam, times, noise_m=noise_m, seed=1)
    uv = seq.kp2d[:, :75, :2]
    assert ((uv >= 0) & (uv < np.array(cam.size))).all(), "the subject leaves the image"
    m = solve_sequence(seq, cam, model=model, smoothing=0.5 if noise_m > 0 else 0.0,
                       subject=Subject.from_rest(rest))
    err = mpjpe_mm(solved_camera_joints(m), joints)
    print(f"CMU round trip {name} ({len(times)} frames), noise {noise_m * 1000:.0f} mm: "
          f"MPJPE {err:.1f} mm")
    assert m.valid.all() and m.part_valid[:, :3].all()
    assert err <= BOUNDS_MM[name][noise_m > 0]
