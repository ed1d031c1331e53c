"""The target skeleton as Blender sees it: bone names, parents and rest matrices.

``rest`` is Blender's ``bone.matrix_local``: armature space (Z up), the origin at the bone's head,
the bone's Y axis along head → tail and X / Z turned about it by the bone's roll. Rigs that come
with head, tail and roll only (JSON rig files, a test rig) get the same matrices Blender computes
through :func:`rig_from_bones`, a numpy port of Blender's ``vec_roll_to_mat3_normalized``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core import rotations as rot
from ..core.errors import MocapError

#: Blender's thresholds on θ = 1 + y (y the bone direction's Y): above SAFE, θ as it is; below,
#: θ recomputed from x and z; and when also x² + z² < CRITICAL² the bone points straight down −Y
#: and Blender takes the half turn about Z.
SAFE_THRESHOLD = 6.1e-3
CRITICAL_THRESHOLD = 2.5e-4


class RigError(MocapError):
    """The target skeleton cannot be used (inconsistent names, parents or rest matrices)."""


@dataclass(frozen=True)
class TargetRig:
    """names (B,); parents (B,) int64, −1 for a root, every parent before its children or not;
    rest (B, 4, 4) float64 Blender ``bone.matrix_local`` (armature space, Z up, metres);
    lengths (B,) optional bone lengths (``bone.length``; without them a bone's length is taken as
    the distance to its first child's head)."""
    names: tuple[str, ...]
    parents: np.ndarray
    rest: np.ndarray
    lengths: np.ndarray | None = None

    def __post_init__(self):
        B = len(self.names)
        if self.parents.shape != (B,) or self.rest.shape != (B, 4, 4):
            raise RigError(f"target rig: {B} names but parents {self.parents.shape} and rest {self.rest.shape}: "
                           "give one parent and one 4×4 rest matrix per bone")
        if len(set(self.names)) != B:
            raise RigError("target rig: bone names repeat: every bone needs its own name")
        if self.lengths is not None and np.shape(self.lengths) != (B,):
            raise RigError(f"target rig: {B} names but {np.shape(self.lengths)} lengths: give one length per bone")
        if ((self.parents < -1) | (self.parents >= B)).any():
            raise RigError("target rig: a parent index is out of range: use −1 for a root bone")
        depth_left = np.full(B, B)
        up = self.parents.copy()
        while (up >= 0).any():              # every chain reaches a root within B steps, or loops
            depth_left -= up >= 0
            if (depth_left < 0).any():
                raise RigError("target rig: the parents form a loop: every bone must lead up to a root")
            up = np.where(up >= 0, self.parents[np.maximum(up, 0)], -1)

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @property
    def heads(self) -> np.ndarray:
        """(B, 3) rest head positions."""
        return self.rest[:, :3, 3]


def vec_roll_to_mat3(direction: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Blender's bone rest orientation from its direction and roll.

    direction (..., 3) head → tail (any length > 0); roll (...,) radians. Returns (..., 3, 3) whose
    Y column is the unit direction: the minimal rotation taking +Y onto it (a half turn about Z
    when it points down −Y), then turned by ``roll`` about the direction.
    """
    n = rot.normalize(np.asarray(direction, np.float64))
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    theta = 1.0 + y
    theta_alt = x * x + z * z
    regular = (theta > SAFE_THRESHOLD) | (theta_alt > CRITICAL_THRESHOLD ** 2)
    # near −Y θ = 1 + y loses its digits. Blender (float32) then takes two terms of the series of
    # 1 − sqrt(1 − s), s = x² + z²; in float64 the exact (x² + z²) / (1 − y) keeps the matrix
    # orthonormal (the series is off by ~1e-5 there) and agrees with Blender to float32 precision
    theta = np.where(theta <= SAFE_THRESHOLD, theta_alt / np.maximum(1.0 - y, 1.0), theta)
    theta = np.where(regular, theta, 1.0)
    B = np.empty(n.shape[:-1] + (3, 3))
    B[..., 0, 0] = 1.0 - x * x / theta
    B[..., 0, 1] = x
    B[..., 0, 2] = -x * z / theta
    B[..., 1, 0] = -x
    B[..., 1, 1] = y
    B[..., 1, 2] = -z
    B[..., 2, 0] = -x * z / theta
    B[..., 2, 1] = z
    B[..., 2, 2] = 1.0 - z * z / theta
    B = np.where(regular[..., None, None], B, np.diag([-1.0, -1.0, 1.0]))
    return rot.axis_angle(n * np.asarray(roll, np.float64)[..., None]) @ B


def rig_from_bones(names: Sequence[str], parents: Sequence, heads: np.ndarray, tails: np.ndarray,
                   rolls: np.ndarray) -> TargetRig:
    """A :class:`TargetRig` from edit-bone data: names (B,); parents (B,) names ('' / None for a
    root) or indices (−1); heads, tails (B, 3) armature space; rolls (B,) radians."""
    names = tuple(names)
    index = {n: i for i, n in enumerate(names)}
    idx = []
    for name, p in zip(names, parents):
        if p is None or (isinstance(p, str) and p == ""):
            idx.append(-1)
        elif isinstance(p, str):
            if p not in index:
                raise RigError(f"target rig: bone {name!r} names a parent {p!r} that is not in the rig")
            idx.append(index[p])
        else:
            idx.append(int(p))
    heads, tails = np.asarray(heads, np.float64), np.asarray(tails, np.float64)
    if (np.linalg.norm(tails - heads, axis=-1) < 1e-9).any():
        raise RigError("target rig: a bone has zero length (head = tail): give it a tail")
    rest = np.tile(np.eye(4), (len(names), 1, 1))
    rest[:, :3, :3] = vec_roll_to_mat3(tails - heads, np.asarray(rolls, np.float64))
    rest[:, :3, 3] = heads
    return TargetRig(names, np.array(idx, np.int64), rest, np.linalg.norm(tails - heads, axis=-1))


#: A bone follows another only when their rest orientations agree (the copy then keeps the rest
#: pose as it is): largest difference of matrix entries.
FOLLOW_REST_TOLERANCE = 1e-3


def followed_parents(parents: np.ndarray, rest: np.ndarray, follows: dict[int, int]) -> np.ndarray:
    """(B,) int64 the bone each bone turns with: its parent, or for a bone b in ``follows`` (b →
    t: a constraint makes b copy bone t's world rotation in full, as a generated Rigify rig's ORG
    and DEF bones copy its controls) bone t, when both have one rest orientation and following t
    closes no loop. parents (B,); rest (B, 4, 4)."""
    out = np.asarray(parents, np.int64).copy()
    for b, t in sorted(follows.items()):
        if np.abs(rest[b, :3, :3] - rest[t, :3, :3]).max() > FOLLOW_REST_TOLERANCE:
            continue
        up, steps = t, 0
        while up >= 0 and up != b and steps <= len(out):
            up, steps = out[up], steps + 1
        if up != b:
            out[b] = t
    return out
