"""The output npz: Motion writes and reads it back exactly; a file that is not one is refused in one line."""
import os

import numpy as np
import pytest

from inference.core import rotations as rot
from inference.core.errors import InputError
from inference.core.layout import NUM_ARKIT, NUM_EXPRESSION, NUM_KEYPOINTS, NUM_PARTS, PARTS
from inference.core.records import Camera
from inference.core.skeleton import DEFAULT_REST, NUM_JOINTS, bone_vectors, forward_kinematics, local_to_global
from inference.pipeline.motion import Motion


def _motion(T: int = 6) -> Motion:
    rng = np.random.default_rng(0)
    local = rot.axis_angle(rng.normal(scale=0.3, size=(T, NUM_JOINTS, 3)))
    root = rng.normal(size=(T, 3)) + [0, 0.9, 0]
    return Motion.from_locals(local, root, DEFAULT_REST, expression=rng.normal(size=(T, NUM_EXPRESSION)),
                              arkit=rng.uniform(size=(T, NUM_ARKIT)), valid=np.ones(T, bool),
                              part_valid=np.ones((T, NUM_PARTS), bool), frame_times=np.arange(T) / 25.0,
                              keypoints2d=rng.uniform(size=(T, NUM_KEYPOINTS, 3)).astype(np.float32),
                              camera=Camera.from_fov(640, 480, 60.0), camera_to_world=np.eye(4),
                              betas=np.zeros(10), gender="neutral", model_path="")


def test_from_locals_is_smplx_convention():
    m = _motion()
    local = rot.axis_angle(m.poses.reshape(len(m.poses), NUM_JOINTS, 3))
    joints = forward_kinematics(local_to_global(local), bone_vectors(DEFAULT_REST), m.trans + DEFAULT_REST[0])
    np.testing.assert_allclose(m.joints, joints, atol=1e-9)          # pelvis = trans + rest pelvis
    assert m.frame_rate == pytest.approx(25.0)


def test_save_and_read_back(tmp_path):
    m = _motion()
    out = tmp_path / "take.smplx.npz"
    m.save(out)
    assert not list(tmp_path.glob(".*.part"))
    back = Motion.from_npz(out)
    for key in ("poses", "trans", "joints", "expression", "arkit", "keypoints2d", "rest_joints"):
        np.testing.assert_allclose(getattr(back, key), getattr(m, key), atol=1e-6)
    np.testing.assert_array_equal(back.part_valid, m.part_valid)
    np.testing.assert_allclose(back.camera.K, m.camera.K)
    with np.load(out, allow_pickle=False) as d:
        assert tuple(d["part_names"]) == PARTS and d["arkit_names"].shape == (NUM_ARKIT,)


@pytest.mark.parametrize("content", [b"not a zip", None], ids=["garbage", "other-npz"])
def test_bad_file_is_one_line_input_error(tmp_path, content):
    bad = tmp_path / "bad.npz"
    if content is None:
        np.savez(bad, x=np.zeros(3))
    else:
        bad.write_bytes(content)
    with pytest.raises(InputError) as err:
        Motion.from_npz(bad)
    assert "\n" not in str(err.value) and "again" in str(err.value)
    with pytest.raises(InputError):
        Motion.from_npz(tmp_path / "missing.npz")


def test_save_refuses_a_path_it_cannot_write(tmp_path):
    with pytest.raises(InputError):
        _motion().save(tmp_path / "nope" / "x.npz")
    with pytest.raises(InputError):
        _motion().save(tmp_path / "x.txt")
    assert os.listdir(tmp_path) == []
