"""Rest matrices from head, tail and roll (Blender's vec_roll_to_mat3, checked against real edit
bones in tests/blender/test_retarget_rest.py) and the component-major quaternion helpers the
retarget runs on."""
import numpy as np
import pytest

from inference.core import rotations as rot
from inference.retarget.rig import (CRITICAL_THRESHOLD, SAFE_THRESHOLD, RigError, TargetRig, followed_parents,
                                    rig_from_bones, vec_roll_to_mat3)


def _directions(n=2000, seed=0):
    d = np.random.default_rng(seed).normal(size=(n, 3))
    d[:8] = [[0, 1, 0], [0, -1, 0], [1e-4, -1, 0], [0, -1, 2e-3], [0.07, -1, 0.05], [1, 0, 0], [0, 0, -1], [0, 1, 1e-9]]
    return d


def _regular(d):
    """Directions outside Blender's singular zone at −Y (where it takes a plain half turn about Z)."""
    n = rot.normalize(d)
    return (1.0 + n[:, 1] > SAFE_THRESHOLD) | (n[:, 0] ** 2 + n[:, 2] ** 2 > CRITICAL_THRESHOLD ** 2)


def test_the_rest_frame_is_a_rotation_with_y_along_the_bone():
    d = _directions()
    roll = np.random.default_rng(1).uniform(-np.pi, np.pi, len(d))
    M = vec_roll_to_mat3(d, roll)
    np.testing.assert_allclose(M @ rot.transpose(M), np.broadcast_to(np.eye(3), M.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(M), 1.0, atol=1e-12)
    ok = _regular(d)
    assert (~ok).sum() == 2                            # exactly −Y and 1e-4 off it
    np.testing.assert_allclose(M[ok, :, 1], rot.normalize(d)[ok], atol=1e-12)


def test_roll_turns_x_and_z_about_the_bone():
    d = _directions(200)
    d = d[_regular(d)]
    M0, M1 = vec_roll_to_mat3(d, np.zeros(len(d))), vec_roll_to_mat3(d, np.full(len(d), 0.7))
    turn = M1 @ rot.transpose(M0)
    np.testing.assert_allclose(rot.to_rotvec(turn), 0.7 * M0[:, :, 1], atol=1e-9)


def test_blenders_closed_form_for_a_bone_along_y_and_a_flat_one():
    np.testing.assert_allclose(vec_roll_to_mat3(np.array([0.0, 2.0, 0.0]), np.array(0.0)), np.eye(3), atol=1e-15)
    # a bone along +X with roll 0: X axis turned to −Y, Z stays
    np.testing.assert_allclose(vec_roll_to_mat3(np.array([1.0, 0.0, 0.0]), np.array(0.0)),
                               [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-15)


def test_rig_from_bones_and_its_checks():
    rig = rig_from_bones(["a", "b"], ["", "a"], [[0, 0, 0], [0, 0, 1]], [[0, 0, 1], [0, 1, 1]], [0.0, 0.5])
    assert rig.parents.tolist() == [-1, 0] and rig.lengths.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(rig.heads, [[0, 0, 0], [0, 0, 1]])
    with pytest.raises(RigError, match="parent 'x'"):
        rig_from_bones(["a"], ["x"], [[0, 0, 0]], [[0, 0, 1]], [0.0])
    with pytest.raises(RigError, match="zero length"):
        rig_from_bones(["a"], [""], [[0, 0, 0]], [[0, 0, 0]], [0.0])
    with pytest.raises(RigError, match="loop"):
        TargetRig(("a", "b"), np.array([1, 0]), np.tile(np.eye(4), (2, 1, 1)))
    with pytest.raises(RigError, match="repeat"):
        TargetRig(("a", "a"), np.array([-1, 0]), np.tile(np.eye(4), (2, 1, 1)))


def test_component_major_quaternions_agree_with_the_rotation_library():
    rng = np.random.default_rng(2)
    for n in (7, 20000):                                   # the small and the bulk path
        a, b = rot.quat_normalize(rng.normal(size=(n, 4))), rot.quat_normalize(rng.normal(size=(n, 4)))
        v, w = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        np.testing.assert_allclose(rot.cm_mul(a.T, b.T).T, rot.quat_mul(a, b), atol=1e-14)
        np.testing.assert_allclose(rot.cm_rotate(a.T, v.T).T, rot.mv(rot.quat_to_matrix(a), v), atol=1e-13)
        np.testing.assert_allclose(rot.cm_conj(a.T).T, rot.quat_conj(a))
        np.testing.assert_allclose(rot.cm_matrix_row(a.T, 2).T, rot.quat_to_matrix(a)[:, 2], atol=1e-14)
        s = rot.cm_swing(v.T, w.T).T
        np.testing.assert_allclose(rot.quat_to_matrix(s), rot.swing(v, w), atol=1e-9)
    np.testing.assert_allclose(rot.cm_swing(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0])), [0, 0, 0, 1])


def test_a_bone_turns_with_the_bone_its_constraint_copies():
    """A Rigify-like rig: control 0, an ORG bone 2 (child of MCH bone 3) that copies it, so it turns
    with 0; a bone copying one of another rest orientation (1 → 2) or its own child (3 → 4) keeps
    its parent."""
    parents = np.array([-1, 0, 3, -1, 3])
    rest = np.tile(np.eye(4), (5, 1, 1))
    rest[1, :3, :3] = rot.axis_angle(np.array([0.0, 0.0, 0.5]))
    assert followed_parents(parents, rest, {2: 0, 1: 2, 3: 4}).tolist() == [-1, 0, 0, -1, 3]
    assert followed_parents(parents, rest, {}).tolist() == parents.tolist()
