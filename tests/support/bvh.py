"""BVH motion files: reader, forward kinematics, and retargeting a CMU skeleton onto SMPL-X.

Used to drive round-trip tests with real motion capture (the CMU database's BVH conversions).

BVH conventions (as the format defines them, Biovision): a joint's ``OFFSET`` is its rest position
in its parent's frame; a frame line holds every joint's channels in the hierarchy's order; rotation
channels are Euler angles in degrees and the joint's local rotation is the product of the
elementary rotations *in channel order*, ``R = R_c1 @ R_c2 @ R_c3`` (column vectors, so e.g.
``Zrotation Xrotation Yrotation`` is ``Rz @ Rx @ Ry``: intrinsic Z-X-Y, scipy ``"ZXY"``). A point in a
joint's frame maps to its parent's frame as ``R @ p + offset``. In the rest pose (all channels zero)
every frame is the world frame. Position channels are supported on the root only: its world
position is ``OFFSET + (Xposition, Yposition, Zposition)``.

``End Site`` blocks are not joints (they have no channels); they are kept as leaf offsets
(:attr:`BvhMotion.end_parent`, :attr:`BvhMotion.end_offsets`) and used nowhere else.

The CMU conversions are Y up, the subject faces +Z with its left on +X in the rest pose: the same
axes as SMPL-X, so no change of axes is needed (the tests check it on the real files).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from inference.core import rotations as rot
from inference.core.errors import InputError
from inference.core.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, global_to_local

_ROT_AXES = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POS_AXES = {"xposition": 0, "yposition": 1, "zposition": 2}


@dataclass
class BvhMotion:
    """A parsed BVH file. J joints (End Sites excluded), T frames, E End Sites.

    names: (J,) joint names in file order (parents come first); parents: (J,) int, -1 for the root;
    offsets: (J, 3) float64 rest offset from the parent (file units); channels: (J,) tuples of
    channel names as written; frame_time: seconds per frame; local_rot: (T, J, 3, 3) float64 local
    rotations; root_pos: (T, 3) float64 world position of the root (file units);
    end_parent: (E,) int joint owning each End Site; end_offsets: (E, 3) float64.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    local_rot: np.ndarray
    root_pos: np.ndarray
    end_parent: np.ndarray
    end_offsets: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.local_rot)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        """Index of joint ``name``; raises InputError when the skeleton has no such joint."""
        try:
            return self.names.index(name)
        except ValueError:
            raise InputError(f"BVH skeleton has no joint {name!r}: expected a CMU skeleton") from None

    def rest_positions(self) -> np.ndarray:
        """(J, 3) rest-pose joint positions (root at the origin), file units."""
        pos = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            if p >= 0:
                pos[j] = pos[p] + self.offsets[j]
        return pos


class _Tokens:
    """Hierarchy tokens with line numbers, for one-line error messages."""

    def __init__(self, lines: list[str], name: str):
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0
        self.name = name

    def fail(self, what: str) -> InputError:
        line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 0
        return InputError(f"{self.name}: {what} (line {line}): not a valid BVH file")

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise self.fail(f"unexpected end of hierarchy, expected {what}")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok != word:
            self.pos -= 1
            raise self.fail(f"expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            return float(tok)
        except ValueError:
            self.pos -= 1
            raise self.fail(f"expected a number for {what}, found {tok!r}") from None


def _parse_hierarchy(tk: _Tokens):
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_parent: list[int] = []
    end_offsets: list[list[float]] = []

    def offset() -> list[float]:
        tk.expect("OFFSET")
        return [tk.number("OFFSET") for _ in range(3)]

    def joint(parent: int) -> None:
        name = tk.next("a joint name")
        j = len(names)
        names.append(name)
        parents.append(parent)
        tk.expect("{")
        offsets.append(offset())
        chans: tuple[str, ...] = ()
        if tk.pos < len(tk.items) and tk.items[tk.pos][0] == "CHANNELS":
            tk.next("CHANNELS")
            n = tk.number("the channel count")
            if n != int(n) or not 0 <= n <= 6:
                raise tk.fail(f"bad channel count {n:g} for joint {name!r}")
            chans = tuple(tk.next("a channel name") for _ in range(int(n)))
            for c in chans:
                if c.lower() not in _ROT_AXES and c.lower() not in _POS_AXES:
                    raise tk.fail(f"unknown channel {c!r} for joint {name!r}")
            if parent >= 0 and any(c.lower() in _POS_AXES for c in chans):
                raise tk.fail(f"position channels on non-root joint {name!r} are not supported")
        channels.append(chans)
        while True:
            tok = tk.next("JOINT, End Site or '}'")
            if tok == "}":
                return
            if tok == "JOINT":
                joint(j)
            elif tok == "End":
                tk.expect("Site")
                tk.expect("{")
                end_parent.append(j)
                end_offsets.append(offset())
                tk.expect("}")
            else:
                tk.pos -= 1
                raise tk.fail(f"expected JOINT, End Site or '}}', found {tok!r}")

    tk.expect("HIERARCHY")
    tk.expect("ROOT")
    joint(-1)
    if tk.pos != len(tk.items):
        raise tk.fail("text after the root joint's closing brace")
    return (tuple(names), np.array(parents, np.int64), np.array(offsets, np.float64), tuple(channels),
            np.array(end_parent, np.int64), np.array(end_offsets, np.float64).reshape(-1, 3))


def _parse_motion(lines: list[str], first_line: int, name: str, width: int) -> tuple[np.ndarray, float]:
    """Frames (T, width) float64 and the frame time from the lines after ``MOTION``."""
    def header(i: int, key: str) -> str:
        if i >= len(lines) or not lines[i].strip().startswith(key):
            raise InputError(f"{name}: expected '{key}' (line {first_line + i + 1}): not a valid BVH file")
        return lines[i].split(":", 1)[1].strip()

    frames_txt, time_txt = header(0, "Frames:"), header(1, "Frame Time:")
    try:
        n_frames, frame_time = int(frames_txt), float(time_txt)
    except ValueError:
        raise InputError(f"{name}: bad frame count {frames_txt!r} or frame time {time_txt!r}: "
                         "not a valid BVH file") from None
    if n_frames < 1 or not frame_time > 0:
        raise InputError(f"{name}: needs at least one frame and a positive frame time "
                         f"(found {n_frames} frames of {frame_time:g} s)")
    rows = [(first_line + 2 + k + 1, ln) for k, ln in enumerate(lines[2:]) if ln.strip()]
    if len(rows) != n_frames:
        raise InputError(f"{name}: header says {n_frames} frames but the file holds {len(rows)}: "
                         "the file is truncated or corrupt")
    counts = np.array([len(ln.split()) for _, ln in rows])
    bad = np.flatnonzero(counts != width)
    if bad.size:
        line_no, _ = rows[bad[0]]
        raise InputError(f"{name}: frame on line {line_no} has {counts[bad[0]]} values, the hierarchy "
                         f"declares {width} channels")
    try:
        data = np.array(" ".join(ln for _, ln in rows).split(), np.float64).reshape(n_frames, width)
    except ValueError:
        for line_no, ln in rows:  # find the offending line for the message
            try:
                np.array(ln.split(), np.float64)
            except ValueError:
                raise InputError(f"{name}: non-numeric value on line {line_no}: not a valid BVH "
                                 "file") from None
        raise
    if not np.isfinite(data).all():
        raise InputError(f"{name}: frame data holds NaN or infinite values")
    return data, frame_time


def _euler_to_matrices(angles_deg: np.ndarray, channels: tuple[tuple[str, ...], ...],
                       columns: list[np.ndarray]) -> np.ndarray:
    """Local rotations (T, J, 3, 3) from the frame table, batched per distinct channel order."""
    T, J = len(angles_deg), len(channels)
    out = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    orders: dict[str, list[int]] = {}
    for j, chans in enumerate(channels):
        seq = "".join(_ROT_AXES[c.lower()] for c in chans if c.lower() in _ROT_AXES)
        if seq:
            orders.setdefault(seq, []).append(j)
    for seq, joints in orders.items():
        cols = np.stack([columns[j] for j in joints])            # (n, len(seq)) column indices
        ang = angles_deg[:, cols]                                 # (T, n, len(seq))
        R = Rotation.from_euler(seq, ang.reshape(-1, len(seq)), degrees=True).as_matrix()
        out[:, joints] = R.reshape(T, len(joints), 3, 3)
    return out


def read_bvh(path: str | os.PathLike) -> BvhMotion:
    """Read a BVH file. Raises :class:`InputError` (one line) for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"BVH file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, OSError) as e:
        raise InputError(f"cannot read BVH file {p}: {e.__class__.__name__}: not a text BVH file") from None
    lines = text.splitlines()
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip() == "MOTION"), None)
    if motion_at is None:
        raise InputError(f"{p.name}: no MOTION section: not a valid BVH file (or truncated)")
    names, parents, offsets, channels, end_parent, end_offsets = _parse_hierarchy(
        _Tokens(lines[:motion_at], p.name))
    starts = np.cumsum([0] + [len(c) for c in channels])
    data, frame_time = _parse_motion(lines[motion_at + 1:], motion_at + 1, p.name, int(starts[-1]))

    columns = [np.array([starts[j] + k for k, c in enumerate(chans) if c.lower() in _ROT_AXES], np.int64)
               for j, chans in enumerate(channels)]
    local_rot = _euler_to_matrices(data, channels, columns)
    root_pos = np.broadcast_to(offsets[0], (len(data), 3)).copy()
    for k, c in enumerate(channels[0]):
        if c.lower() in _POS_AXES:
            root_pos[:, _POS_AXES[c.lower()]] += data[:, k]
    return BvhMotion(names=names, parents=parents, offsets=offsets, channels=channels,
                     frame_time=frame_time, local_rot=local_rot, root_pos=root_pos,
                     end_parent=end_parent, end_offsets=end_offsets)


def bvh_forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions (T, J, 3) and global rotations (T, J, 3, 3) of every frame."""
    L = motion.local_rot
    G = np.empty_like(L)
    pos = np.empty(L.shape[:-1])
    G[:, 0], pos[:, 0] = L[:, 0], motion.root_pos
    for j in range(1, len(motion.names)):  # over joints, vectorised over frames
        p = motion.parents[j]
        G[:, j] = G[:, p] @ L[:, j]
        pos[:, j] = pos[:, p] + G[:, p] @ motion.offsets[j]
    return pos, G


# --- CMU → SMPL-X ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Bone:
    """One SMPL-X joint driven by a CMU joint.

    driver: the CMU joint whose global rotation the SMPL-X joint takes (up to the fixed rest
    alignment); start, end: CMU joints whose rest positions give the direction of the bone the
    driver moves (None: no bone to align, the alignment is the identity); smplx_end: the SMPL-X
    joint at the far end of the SMPL-X joint's own bone.
    """

    driver: str
    start: str | None = None
    end: str | None = None
    smplx_end: str | None = None


def _cmu_table(hip, knee, ankle, toe, spine, chest, chest2, neck, head, collar, shoulder, elbow,
               hand, fingers, sides=("Left", "Right"), short=("L", "R")) -> dict[str, _Bone]:
    table = {"pelvis": _Bone("Hips")}
    for side, long_, s in (("left", sides[0], short[0]), ("right", sides[1], short[1])):
        f = lambda n: n.format(side=long_, s=s, sl=s.lower())  # noqa: E731
        table.update({
            f"{side}_hip": _Bone(f(hip), f(hip), f(knee), f"{side}_knee"),
            f"{side}_knee": _Bone(f(knee), f(knee), f(ankle), f"{side}_ankle"),
            f"{side}_ankle": _Bone(f(ankle), f(ankle), f(toe), f"{side}_foot"),
            f"{side}_foot": _Bone(f(toe)),
            f"{side}_collar": _Bone(f(collar), chest2, f(shoulder), f"{side}_shoulder"),
            f"{side}_shoulder": _Bone(f(shoulder), f(shoulder), f(elbow), f"{side}_elbow"),
            f"{side}_elbow": _Bone(f(elbow), f(elbow), f(hand), f"{side}_wrist"),
            f"{side}_wrist": _Bone(f(hand), f(hand), f(fingers), f"{side}_middle1"),
        })
    table.update({
        "spine1": _Bone(spine, "Hips", chest, "spine2"),
        "spine2": _Bone(chest, chest, chest2, "spine3"),
        "spine3": _Bone(chest2, chest2, neck, "neck"),
        "neck": _Bone(neck, neck, head, "head"),
        "head": _Bone(head),
    })
    return table


#: SMPL-X joint → CMU joint, for the two CMU BVH conversions in circulation.
CMU_SKELETONS: dict[str, dict[str, _Bone]] = {
    # the ASF→BVH conversion (Hips, LHipJoint, LeftHip, …, lowerback, Chest, Chest2, lowerneck, …)
    "cmu_asf": _cmu_table(hip="{side}Hip", knee="{side}Knee", ankle="{side}Ankle", toe="{side}Toe",
                          spine="lowerback", chest="Chest", chest2="Chest2", neck="Neck", head="Head",
                          collar="{side}Collar", shoulder="{side}Shoulder", elbow="{side}Elbow",
                          hand="{sl}hand", fingers="{s}Fingers"),
    # the Bruce Hahne / cgspeed conversion (Hips, LHipJoint, LeftUpLeg, …, LowerBack, Spine, Spine1, …)
    "cmu_cgspeed": _cmu_table(hip="{side}UpLeg", knee="{side}Leg", ankle="{side}Foot",
                              toe="{side}ToeBase", spine="LowerBack", chest="Spine", chest2="Spine1",
                              neck="Neck1", head="Head", collar="{side}Shoulder", shoulder="{side}Arm",
                              elbow="{side}ForeArm", hand="{side}Hand", fingers="{side}FingerBase"),
}

#: Joints whose rest lengths define the leg length used to scale the root trajectory.
_LEG = ("hip", "knee", "ankle")


def cmu_table_for(motion: BvhMotion) -> dict[str, _Bone]:
    """The SMPL-X ← CMU joint table matching ``motion``'s joint names; InputError if none does."""
    names = set(motion.names)
    for table in CMU_SKELETONS.values():
        needed = {n for b in table.values() for n in (b.driver, b.start, b.end) if n}
        if needed <= names:
            return table
    raise InputError("BVH skeleton is not a CMU skeleton (no Hips/LeftHip/LeftKnee/… or "
                     "Hips/LeftUpLeg/LeftLeg/… joints): use a CMU database BVH file")


#: SMPL-X joints that keep their rest shape relative to the pelvis when the CMU trunk is at rest.
_TRUNK = ("spine1", "spine2", "spine3", "neck", "head")


def rest_alignment(motion: BvhMotion, rest_smplx: np.ndarray, table: dict[str, _Bone]) -> dict[str, np.ndarray]:
    """Per SMPL-X joint, the fixed rotation A (3, 3) that maps its rest onto the CMU rest.

    Limbs: ``A @ smplx_bone ∥ cmu_bone``, the minimal rotation between the two rest bone directions
    (both skeletons' rest frames are the world frame), so limb bones point along the CMU bones. The
    pelvis takes the Kabsch fit of its three bones (to both hips and up the spine). The trunk
    (spine1 … head) takes the pelvis's A and each foot its ankle's: a CMU trunk or foot at its
    rest then leaves the SMPL-X one at its own rest shape. (Aligning each short spine bone on its
    own would force SMPL-X's curved rest spine straight with a zig-zag of local rotations, about
    -18°, +38°, -42°, +29° for spine2, spine3, neck, head, that no body makes; and would bend the
    toes by the ankle's alignment.) Joints with no bone to align otherwise take the identity.
    """
    cmu_rest = motion.rest_positions()
    P = lambda n: cmu_rest[motion.index(n)]  # noqa: E731
    S = lambda n: rest_smplx[JOINT_INDEX[n]]  # noqa: E731
    out: dict[str, np.ndarray] = {}
    for joint, bone in table.items():
        if bone.start is None:
            out[joint] = np.eye(3)
            continue
        a = S(bone.smplx_end) - S(joint)
        b = P(bone.end) - P(bone.start)
        out[joint] = rot.swing(a, b)
    hips = [table["left_hip"].start, table["right_hip"].start, table["spine1"].end]
    src = np.stack([S(n) for n in ("left_hip", "right_hip", "spine1")]) - S("pelvis")
    dst = np.stack([P(n) for n in hips]) - P("Hips")
    out["pelvis"], _ = rot.kabsch(rot.normalize(src), rot.normalize(dst))
    for joint in _TRUNK:
        out[joint] = out["pelvis"]
    for side in ("left", "right"):
        out[f"{side}_foot"] = out[f"{side}_ankle"]
    return out


def leg_length(points: np.ndarray, hip: int, knee: int, ankle: int) -> float:
    """Thigh + shin length of one leg from rest positions points (N, 3)."""
    return float(np.linalg.norm(points[knee] - points[hip]) + np.linalg.norm(points[ankle] - points[knee]))


def cmu_to_smplx(motion: BvhMotion, rest_smplx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Retarget a CMU BVH motion onto an SMPL-X skeleton.

    rest_smplx: (55, 3) SMPL-X rest joints (Y up, metres). Returns local rotations (T, 55, 3, 3)
    (joint 0 = root orientation in the Y-up world) and the pelvis trajectory (T, 3) in metres: the
    BVH root position scaled by SMPL-X leg length / BVH leg length (so the BVH's units do not
    matter). Each mapped SMPL-X joint takes the global rotation ``G_cmu[driver] @ A`` with ``A``
    from :func:`rest_alignment`; fingers, jaw and eyes keep the identity local rotation.

    Limb bones then point exactly along the CMU bones in every frame. The trunk keeps SMPL-X's
    rest curvature and turns as the CMU trunk segments turn: SMPL-X pelvis → spine1 moves with the
    pelvis (CMU Hips → Chest with lowerback), and SMPL-X spine3 → neck moves with spine3 = CMU
    Chest2 (CMU Chest2 → Neck with lowerneck, whose rotation reaches SMPL-X through the neck's
    global rotation); the trunk as a whole (pelvis → head) follows within a few degrees.
    """
    table = cmu_table_for(motion)
    A = rest_alignment(motion, rest_smplx, table)
    _, G_cmu = bvh_forward_kinematics(motion)
    T = motion.num_frames
    G = np.empty((T, NUM_JOINTS, 3, 3))
    G[:, 0] = G_cmu[:, motion.index(table["pelvis"].driver)] @ A["pelvis"]
    for j in range(1, NUM_JOINTS):  # parents first; unmapped joints follow their parent
        name = JOINT_NAMES[j]
        if name in table:
            G[:, j] = G_cmu[:, motion.index(table[name].driver)] @ A[name]
        else:
            G[:, j] = G[:, PARENTS[j]]
    cmu_rest = motion.rest_positions()
    scales = []
    for side in ("left", "right"):
        cmu_idx = [motion.index(table[f"{side}_{k}"].driver) for k in _LEG]
        smplx_idx = [JOINT_INDEX[f"{side}_{k}"] for k in _LEG]
        scales.append(leg_length(rest_smplx, *smplx_idx) / leg_length(cmu_rest, *cmu_idx))
    root = motion.root_pos * float(np.mean(scales))
    return global_to_local(G), root


__all__ = ["BvhMotion", "read_bvh", "bvh_forward_kinematics", "cmu_to_smplx", "cmu_table_for",
           "rest_alignment", "CMU_SKELETONS"]
