"""The solver's priors for what the landmarks leave open: the collars' scapulohumeral rhythm."""
import numpy as np
import pytest

from inference import rotations as rot
from inference.skeleton import DEFAULT_REST, JOINT_INDEX as J
from inference.solve import COLLAR_PROTRACTION, Subject, collar_rhythm


@pytest.fixture(scope="module")
def rig():
    return Subject.from_rest(DEFAULT_REST).rig


def _shoulders_after(rig, params):
    """Collar parameters (4,) → where each shoulder moves (2, 3) when its collar turns by them."""
    x = np.zeros(8)
    x[4:] = params
    v = (x @ rig.rv_map).reshape(3, 3)                       # spine, left collar, right collar
    bones = DEFAULT_REST[[J["left_shoulder"], J["right_shoulder"]]] - DEFAULT_REST[[J["left_collar"], J["right_collar"]]]
    return rot.mv(rot.axis_angle(v[1:]), bones) - bones


@pytest.mark.parametrize("arm, up_deg", [((0.0, -1.0, 0.0), -20.0),    # hanging: collars lowered
                                         ((1.0, 0.0, 0.0), 0.0),       # T-pose (SMPL-X rest)
                                         ((0.0, 1.0, 0.0), 30.0)])     # overhead
def test_rhythm_elevation_follows_inman(rig, arm, up_deg):
    a = np.array(arm)
    arms = np.stack([a, a * [-1.0, 1.0, 1.0]])[None]          # mirrored for the right side
    p = collar_rhythm(np.eye(3)[None], arms, rig)[0]
    np.testing.assert_allclose(p[[0, 2]], np.radians(up_deg), atol=1e-9)
    np.testing.assert_allclose(p[[1, 3]], 0.0, atol=1e-9)
    moved = _shoulders_after(rig, p)
    assert np.all(np.sign(moved[:, 1]) == np.sign(up_deg))    # both shoulders go up / down alike


def test_rhythm_reaching_forward_protracts_both_shoulders(rig):
    arms = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    p = collar_rhythm(np.eye(3)[None], arms, rig)[0]
    np.testing.assert_allclose(np.abs(p[[1, 3]]), COLLAR_PROTRACTION, atol=1e-9)
    assert (_shoulders_after(rig, p)[:, 2] > 0.01).all()       # both shoulders move forward


def test_rhythm_is_measured_in_the_chest_frame(rig):
    """A bowing chest carries hanging arms with it: the prior does not change."""
    chest = rot.axis_angle(np.array([[0.8, 0.0, 0.0]]))
    arms = rot.mv(chest[:, None], np.array([[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]))
    hanging = np.array([[[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]])
    np.testing.assert_allclose(collar_rhythm(chest, arms, rig), collar_rhythm(np.eye(3)[None], hanging, rig),
                               atol=1e-9)
