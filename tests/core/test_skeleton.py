"""The skeleton's fast kinematics (inference.core.skeleton: one step per tree level, one matrix
product for the positions) against their per-joint definitions."""
import numpy as np

from inference.core import rotations as rot
from inference.core.skeleton import (DEFAULT_REST, NUM_JOINTS, PARENTS, bone_vectors, forward_kinematics,
                                     global_to_local, local_to_global)


def _random_pose(T: int, scale: float, seed: int) -> np.ndarray:
    return local_to_global(rot.axis_angle(np.random.default_rng(seed).normal(size=(T, NUM_JOINTS, 3)) * scale))


def _chain_per_joint(L: np.ndarray) -> np.ndarray:
    """Global rotations by definition: each joint's local rotation after its parent's global one."""
    G = np.empty_like(L)
    G[:, 0] = L[:, 0]
    for j in range(1, NUM_JOINTS):
        G[:, j] = G[:, PARENTS[j]] @ L[:, j]
    return G


def _positions_per_joint(G: np.ndarray, rest: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Joint positions by definition: each rest bone turned by its parent's global rotation."""
    P = np.empty(G.shape[:-1])
    P[:, 0] = root
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        P[:, j] = P[:, p] + G[:, p] @ (rest[j] - rest[p])
    return P


def test_fast_kinematics_match_the_per_joint_definitions():
    G = _random_pose(7, 0.6, 7)
    root = np.random.default_rng(8).normal(size=(7, 3))
    np.testing.assert_allclose(forward_kinematics(G, bone_vectors(DEFAULT_REST), root),
                               _positions_per_joint(G, DEFAULT_REST, root), atol=1e-12)
    L = global_to_local(G)
    np.testing.assert_allclose(local_to_global(L), _chain_per_joint(L), atol=1e-12)
    np.testing.assert_allclose(_chain_per_joint(L), G, atol=1e-12)            # global_to_local inverts it
