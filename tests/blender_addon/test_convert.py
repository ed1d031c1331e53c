"""blender_addon/convert.py: Y-up ↔ Z-up, bone bases, the w-first bpy boundary, continuity, time.

Runs in the engine venv (no bpy). scipy's Rotation is the independent reference; the rotation maths
itself is ``inference.core.rotations`` (tested on its own), convert keeps only what is Blender's.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from support.addon_modules import addon_module

cv = addon_module("blender_addon.convert")
rot = addon_module("inference.core.rotations")
RNG = np.random.default_rng(7)


def _same_rotation(q1, q2, atol):
    """Quaternions equal up to sign."""
    d = np.abs(np.sum(np.asarray(q1) * np.asarray(q2), axis=-1))
    np.testing.assert_allclose(d, 1.0, atol=atol)


def test_points_map_is_C_and_inverts():
    p = RNG.normal(size=(7, 55, 3))
    z = cv.points_to_blender(p)
    np.testing.assert_allclose(z, p @ cv.C.T, atol=1e-15)
    np.testing.assert_array_equal(cv.points_to_blender([1.0, 2.0, 3.0]), [1.0, -3.0, 2.0])
    np.testing.assert_allclose(cv.points_from_blender(z), p, atol=1e-15)
    assert np.isclose(np.linalg.det(cv.C), 1.0) and np.allclose(cv.C @ cv.C.T, np.eye(3))


def test_blender_order_is_scipys_scalar_first_and_round_trips_exactly():
    r = Rotation.random(300, random_state=11)
    q = r.as_quat().reshape(3, 100, 4)                                          # x, y, z, w
    wxyz = cv.to_blender_wxyz(q)
    np.testing.assert_array_equal(wxyz.reshape(-1, 4), r.as_quat(scalar_first=True))
    np.testing.assert_array_equal(cv.from_blender_wxyz(wxyz), q)
    np.testing.assert_array_equal(cv.to_blender_wxyz([0.0, 0.0, 0.0, 1.0]), [1.0, 0.0, 0.0, 0.0])


def test_convert_has_no_rotation_maths_of_its_own():
    """Quaternion algebra lives in inference.core.rotations only."""
    for name in ("quat_multiply", "quat_normalize", "quat_to_matrix", "matrix_to_quat", "axis_angle_to_quats",
                 "quats_to_axis_angle", "poses_to_quats", "quats_to_poses"):
        assert not hasattr(cv, name), name


def test_bone_basis_is_BT_C_L_CT_B_and_inverts():
    T, J = 6, 55
    L = Rotation.random(T * J, random_state=4)
    B = Rotation.random(J, random_state=5).as_matrix()
    q = L.as_quat().reshape(T, J, 4)
    out = cv.bone_basis_quats(q, B)
    assert out.shape == (T, J, 4)
    expect = np.swapaxes(B, -1, -2)[None] @ cv.C @ L.as_matrix().reshape(T, J, 3, 3) @ cv.C.T @ B[None]
    np.testing.assert_allclose(Rotation.from_quat(out.reshape(-1, 4)).as_matrix().reshape(T, J, 3, 3), expect,
                               atol=1e-12)
    np.testing.assert_array_equal(out[..., 3], q[..., 3])          # sign (hemisphere) is kept
    np.testing.assert_allclose(cv.blender_to_local_quats(out, B), q, atol=1e-14)


@pytest.mark.parametrize("scale", [1e-9, 0.8, 3.0])
def test_poses_to_blender_quaternions_match_scipy(scale):
    """The add-on's whole path, axis-angle poses → ``rotation_quaternion`` values, against scipy."""
    T, J = 5, 55
    poses = RNG.normal(scale=scale, size=(T, J, 3))
    B = Rotation.random(J, random_state=9).as_matrix()
    got = cv.to_blender_wxyz(cv.bone_basis_quats(rot.quat_exp(poses), B))
    L = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(T, J, 3, 3)
    basis = np.swapaxes(B, -1, -2)[None] @ cv.C @ L @ cv.C.T @ B[None]
    want = Rotation.from_matrix(basis.reshape(-1, 3, 3)).as_quat(scalar_first=True).reshape(T, J, 4)
    _same_rotation(got, want, atol=1e-13)


def test_root_locations_formula_and_inverse():
    trans = RNG.normal(size=(9, 3))
    rest_pelvis = np.array([0.0, 0.93, 0.0])
    B0 = Rotation.random(random_state=6).as_matrix()
    loc = cv.root_locations(trans, rest_pelvis, B0)
    np.testing.assert_allclose(loc, (B0.T @ cv.C @ trans.T).T, atol=1e-14)   # pelvis moves by trans
    arm = np.array([0.01, 0.9, -0.02])                                       # armature built elsewhere
    loc2 = cv.root_locations(trans, rest_pelvis, B0, armature_pelvis=arm)
    pelvis_world = trans + rest_pelvis
    np.testing.assert_allclose(loc2, (B0.T @ cv.C @ (pelvis_world - arm).T).T, atol=1e-14)
    np.testing.assert_allclose(cv.trans_from_root_locations(loc2, rest_pelvis, B0, arm), trans, atol=1e-14)
    assert cv.root_locations(trans[0], rest_pelvis, B0).shape == (3,)


def test_continuous_quats_removes_sign_flips():
    T, J = 400, 55
    t = np.linspace(0, 4, T)[:, None, None]
    aa = np.sin(t * RNG.uniform(0.5, 3.0, size=(1, J, 3))) * 2.5            # smooth, crosses large angles
    q = rot.quat_exp(aa)
    flips = np.where(RNG.random((T, J)) < 0.5, -1.0, 1.0)
    noisy = q * flips[..., None]
    out = cv.continuous_quats(noisy)
    assert np.all(np.sum(out[1:] * out[:-1], -1) >= 0.0)
    np.testing.assert_allclose(np.abs(np.sum(out * noisy, -1)), 1.0, atol=1e-12)  # same rotations
    prev = -out[-1]                                          # continue a chunk from the other sign
    nxt = cv.continuous_quats(noisy[:5], previous=prev)
    assert np.all(np.sum(nxt[0] * prev, -1) >= 0.0) and np.all(np.sum(nxt[1:] * nxt[:-1], -1) >= 0.0)


def test_times_to_frames_keeps_real_times():
    times = np.array([0.0, 0.0331, 0.0667, 0.1012, 0.5])       # an irregular webcam clock
    f = cv.times_to_frames(times, fps=30, fps_base=1.001, frame_start=10)
    np.testing.assert_allclose(f, 10 + times * 30 / 1.001, atol=1e-12)
    assert f.dtype == np.float64 and not np.allclose(f, np.round(f))         # no rounding
    np.testing.assert_allclose(cv.frames_to_times(f, 30, 1.001, 10), times, atol=1e-12)
    chunk = cv.times_to_frames(times[3:], 30, 1.001, 10)                    # chunks share the origin
    np.testing.assert_array_equal(chunk, f[3:])
    with pytest.raises(ValueError, match="positive"):
        cv.times_to_frames(times, fps=0)


def test_conversions_are_vectorised_on_10k_frames():
    import time
    q = rot.quat_exp(RNG.normal(size=(10_000, 55, 3)))
    B = Rotation.random(55, random_state=8).as_matrix()
    t0 = time.perf_counter()
    out = cv.to_blender_wxyz(cv.continuous_quats(cv.bone_basis_quats(q, B)))
    elapsed = time.perf_counter() - t0
    assert out.shape == (10_000, 55, 4)
    assert elapsed < 1.0, f"{elapsed:.2f} s for 10k frames: a per-frame loop crept in"


def test_camera_lens_and_placement_image_like_the_capture():
    records = addon_module("inference.core.records")
    cam = records.Camera.from_fov(1280, 720, 60.0)
    lens, sx, sy = cv.camera_lens(cam.K, cam.size)
    # horizontal field of view of a 36 mm wide sensor at that focal length: the capture's 60°
    assert np.degrees(2 * np.arctan(0.5 * cv.SENSOR_WIDTH_MM / lens)) == pytest.approx(60.0)
    assert (sx, sy) == (0.0, 0.0)
    K = cam.K.copy()
    K[0, 2] += 64.0                                       # principal point 64 px right → shift −0.05
    assert cv.camera_lens(K, cam.size)[1] == pytest.approx(-0.05)
    # the engine's camera looks along −Z of a Y-up world; Blender's camera looks along its local −Z
    M = np.eye(4)
    M[:3, :3] = np.diag([1.0, -1.0, -1.0])
    M[:3, 3] = [0.0, 1.5, 0.0]
    B = cv.camera_matrix_world(M)
    forward_blender = -B[:3, 2]                           # Blender camera's viewing direction
    assert np.allclose(forward_blender, cv.points_to_blender([0.0, 0.0, -1.0]))
    assert np.allclose(B[:3, 1], [0.0, 0.0, 1.0])         # its up is Blender's up
    assert np.allclose(B[:3, 3], cv.points_to_blender([0.0, 1.5, 0.0]))
