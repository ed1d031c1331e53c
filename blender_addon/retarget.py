"""Carry a baked SMPL-X take onto the artist's own armature (Blender glue over ``inference.retarget``).

In: an SMPL-X armature with an action (a bake) and a target armature; out: a new action on the
target (one take, named ``<take> → <target>``), keyed in bulk per bone, with the ARKit weights on
the target's matching shape keys. The rig's profile is detected from its bone names and hierarchy
(``profiles.detect``); the rest poses are read from Blender (``bone.matrix_local``) and the maths
is the engine's (``retarget.retarget``), so a T-pose, an A-pose or other bone rolls look the same.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import bpy
import numpy as np

from ..inference.core.errors import MocapError
from ..inference.core.layout import ARKIT_NAMES, PART_BODY, PART_FACE
from ..inference.core.records import DEFAULT_FPS
from ..inference.core.skeleton import DEFAULT_REST, JOINT_PART
from ..inference.retarget.face_names import match_shape_keys
from ..inference.retarget.plan import RetargetPlan, build_plan
from ..inference.retarget.planting import RootTrack
from ..inference.retarget.profiles import Detection, ProfileError, detect, user_map, validate_map
from ..inference.retarget.retarget import Retargeted, apply_plan, retarget
from ..inference.retarget.rig import TargetRig, followed_parents
from . import keys
from .armature import rest_heads
from .convert import to_blender_wxyz
from .scene_setup import scene_fps

GROUP = "Retarget"
#: Custom property of a target armature: the user's bone map (JSON), used instead of detection.
MAP_PROP = "mocap_bone_map"
#: A generated Rigify rig's switches (custom properties of its pose bones) and the values under which
#: its controls form a plain FK hierarchy: the limbs follow their FK controls (``IK_FK`` 1; 0 is
#: IK), the FK limbs their parents (``FK_limb_follow`` 0), the neck and head their parents
#: (``neck_follow`` / ``head_follow`` 1; below 1 they keep part of the torso's rotation).
RIGIFY_FK_SWITCHES = {"IK_FK": 1.0, "FK_limb_follow": 0.0, "neck_follow": 1.0, "head_follow": 1.0}
#: Constraints that, at full influence in world space, make a bone turn with another bone.
_FOLLOW_CONSTRAINTS = ("COPY_TRANSFORMS", "COPY_ROTATION")


class RetargetError(ValueError):
    """A retarget that cannot run; one line that says what to choose instead."""


def target_rig(obj: bpy.types.Object) -> TargetRig:
    """The armature's bones as the retargeter sees them (names, rest matrices, lengths, and as parents
    the bones they turn with: their parents, or bones their constraints copy, :func:`_follows`)."""
    bones = obj.data.bones
    names = tuple(b.name for b in bones)
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], np.int64)
    flat = np.empty(len(bones) * 16, np.float32)
    bones.foreach_get("matrix_local", flat)
    rest = flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)       # foreach_get is column-major
    return TargetRig(names, followed_parents(parents, rest, _follows(obj, index)), rest,
                     np.array([b.length for b in bones], np.float64))


def _follows(obj: bpy.types.Object, index: dict[str, int]) -> dict[int, int]:
    """Bone → the bone of the same armature whose world rotation a full-influence constraint copies
    (the last such constraint of its stack; drivers evaluated, so a Rigify switch counts as set)."""
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    out = {}
    for pb in evaluated.pose.bones:
        for c in pb.constraints:
            if c.type not in _FOLLOW_CONSTRAINTS or c.mute or c.influence < 0.999 or c.target is None \
                    or c.target.name != obj.name or c.subtarget not in index \
                    or c.owner_space != "WORLD" or c.target_space != "WORLD" or c.mix_mode != "REPLACE":
                continue
            if c.type == "COPY_ROTATION" and not (c.use_x and c.use_y and c.use_z) \
                    or any(getattr(c, f"invert_{a}", False) for a in "xyz"):
                continue
            out[index[pb.name]] = index[c.subtarget]
    return out


def retarget_take(source: bpy.types.Object, target: bpy.types.Object, in_place: bool = False,
                  bone_map: dict[str, list[str]] | None = None) -> Detection:
    """Key ``source``'s take (an SMPL-X armature's action) onto ``target`` as a new action; returns
    the rig detection (profile, unmapped bones). bone_map: the user's map (SMPL-X joint → bones)
    instead of the detected profile's. Raises :class:`RetargetError` on one line."""
    if target is None or target.type != "ARMATURE" or target == source:
        raise RetargetError("choose another armature (your character) as the retarget target")
    _check_local(target)
    try:
        keys.rig_info(source)
    except keys.RigError:
        raise RetargetError(f"'{source.name}' is not an SMPL-X armature: bake a video into one first") from None
    anim = source.animation_data
    if anim is None or anim.action is None:
        raise RetargetError(f"'{source.name}' has no action: bake a video first")
    got = keys.read_keys(source)
    if not len(got["frames"]):
        raise RetargetError(f"'{source.name}''s action has no keys: bake a video first")
    bones = target.data.bones
    try:
        names, parents = [b.name for b in bones], [b.parent.name if b.parent else None for b in bones]
        found = detect(names, parents) if bone_map is None else user_map(bone_map, names)
    except ProfileError as exc:
        raise RetargetError(str(exc)) from None
    if not found.bone_map:
        raise RetargetError(f"no bone of '{target.name}' could be matched to the body: {found.summary()}")
    switches = fk_switches(target)
    rig = target_rig(target)
    out = retarget(got["quats"], got["trans"], rest_heads(source), rig, found.bone_map, in_place,
                   frame_rate=scene_fps(bpy.context.scene))
    _write(target, got["frames"], out, f"{anim.action.name} → {target.name}")
    _write_face(target, got["frames"], got["arkit"])
    for path, value in switches:           # keyed too: the take plays in FK whatever the switch says later
        keys.write_channel(target, path, 0, got["frames"][:1], np.array([value]), GROUP)
    return found


def _check_local(target: bpy.types.Object) -> None:
    """A linked armature cannot take keys: raise :class:`RetargetError` (one line) for one."""
    if target.library is not None or target.data.library is not None:
        raise RetargetError(f"'{target.name}' is linked from a library: make it local or a library override")


def fk_switches(target: bpy.types.Object) -> list[tuple[str, float]]:
    """Set a generated Rigify rig's switches (:data:`RIGIFY_FK_SWITCHES`) so its controls form a
    plain FK hierarchy, as the retarget keys them; returns (data path, value) of each one set."""
    out = []
    for pb in target.pose.bones:
        for prop, value in RIGIFY_FK_SWITCHES.items():
            if prop in pb.keys():
                pb[prop] = value
                out.append((f'pose.bones["{pb.name}"]["{prop}"]', value))
    if out:                                # their drivers set the constraints' influences
        target.update_tag()
        bpy.context.view_layer.update()
    return out


def _write(target: bpy.types.Object, frames: np.ndarray, out, take: str) -> None:
    keys.new_take(target, take)
    wxyz = to_blender_wxyz(out.rotations)                                      # (T, B, 4) w first
    for b in np.flatnonzero(out.mapped):
        name = target.data.bones[int(b)].name
        target.pose.bones[name].rotation_mode = "QUATERNION"
        for k in range(4):
            keys.write_channel(target, f'pose.bones["{name}"].rotation_quaternion', k, frames, wxyz[:, b, k], GROUP)
    root = target.data.bones[int(out.root_bone)].name
    for k in range(3):
        keys.write_channel(target, f'pose.bones["{root}"].location', k, frames, out.root_location[:, k], GROUP)


def _write_face(target: bpy.types.Object, frames: np.ndarray, arkit: np.ndarray) -> None:
    """The ARKit weights onto the target's own ARKit custom properties when it has them (the avatar's
    shape-key drivers read those) and onto the shape keys of its meshes whose names match (any convention)."""
    for i, name in enumerate(ARKIT_NAMES):
        if name in target.keys() and np.isfinite(arkit[:, i]).all():
            keys.write_channel(target, f'["{name}"]', 0, frames, arkit[:, i], "ARKit")
    for child in target.children:
        shape_keys = child.data.shape_keys if child.type == "MESH" else None
        if shape_keys is None:
            continue
        match = match_shape_keys([kb.name for kb in shape_keys.key_blocks])
        for i, name in enumerate(ARKIT_NAMES):
            key = match.mapping.get(name)
            if key and np.isfinite(arkit[:, i]).all():
                keys.write_channel(shape_keys, f'key_blocks["{key}"].value', 0, frames, arkit[:, i], "ARKit")


# ---------------------------------------------------------------------------- the user's map
def _bones(obj: bpy.types.Object) -> tuple[list[str], list[str | None]]:
    bones = obj.data.bones
    return [b.name for b in bones], [b.parent.name if b.parent else None for b in bones]


def stored_info(obj: bpy.types.Object | None) -> dict:
    """What :func:`store_map` wrote on ``obj`` (profile, score, edited, bones), unchecked; {} when none
    or unreadable (for the panel, which must always draw)."""
    text = obj.get(MAP_PROP) if obj is not None else None
    try:
        doc = json.loads(str(text)) if text else {}
    except json.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def stored_map(obj: bpy.types.Object) -> dict[str, list[str]] | None:
    """The bone map stored on the armature (:data:`MAP_PROP`), checked against its bones; None when
    there is none. Raises :class:`RetargetError` on one line."""
    text = obj.get(MAP_PROP)
    if not text:
        return None
    try:
        doc = json.loads(str(text))
        data = doc.get("bones", doc) if isinstance(doc, dict) else doc
        return validate_map(data, _bones(obj)[0], where=f"'{obj.name}''s bone map")
    except json.JSONDecodeError as exc:
        raise RetargetError(f"'{obj.name}''s stored bone map is not JSON ({exc.msg}): detect the map again") from None
    except ProfileError as exc:
        raise RetargetError(f"{exc}: fix that entry or detect the map again") from None


def store_map(obj: bpy.types.Object, bone_map: dict, profile: str | None = None, score: float | None = None,
              edited: bool = False) -> dict[str, list[str]]:
    """Store ``bone_map`` (SMPL-X joint → bones) on the armature as JSON; returns it checked.
    Raises :class:`RetargetError` when it names a bone the armature lacks."""
    try:
        clean = validate_map(bone_map, _bones(obj)[0], where=f"bone map for '{obj.name}'")
    except ProfileError as exc:
        raise RetargetError(str(exc)) from None
    obj[MAP_PROP] = json.dumps({"profile": profile, "score": score, "edited": edited, "bones": clean})
    return clean


def rig_detection(target: bpy.types.Object) -> Detection:
    """The map a retarget onto ``target`` uses: the user's stored map when there is one, else the
    detected profile's (unmapped bones and joints listed either way). Raises :class:`RetargetError`."""
    names, parents = _bones(target)
    bone_map = stored_map(target)
    try:
        return detect(names, parents) if bone_map is None else user_map(bone_map, names)
    except ProfileError as exc:
        raise RetargetError(str(exc)) from None


# ---------------------------------------------------------------------------- live link
@dataclass
class LiveRetarget:
    """The live link's retarget onto one character: the plan is built once per session (again only
    when the subject's rest is measured, or the target or its stored map changes: ``built_for``).
    ``error`` (one line) when it cannot be built; then nothing is posed.

    names (B,) the target's bones; pose_index (M,) pose-bone index of each plan bone; joint_part
    (M,) the capture part of the SMPL-X joint each follows; arkit_props (52 at most) ARKit index →
    the armature's own custom property; arkit_keys (mesh object, shape key, ARKit index) of its
    child meshes; previous / keyed (B, 4) x, y, z, w the last posed / keyed rotations (sign continuity)
    and track / keyed_track the root paths' last frames (planted feet); in_place and frame_rate
    from the scene (``built_for``).
    """
    target_name: str
    built_for: tuple
    plan: RetargetPlan | None = None
    detection: Detection | None = None
    names: tuple[str, ...] = ()
    pose_index: np.ndarray | None = None
    joint_part: np.ndarray | None = None
    arkit_props: tuple[tuple[int, str], ...] = ()
    arkit_keys: tuple[tuple[str, str, int], ...] = ()
    error: str = ""
    previous: np.ndarray | None = None
    keyed: np.ndarray | None = None
    track: RootTrack | None = None
    keyed_track: RootTrack | None = None
    in_place: bool = False
    frame_rate: float = DEFAULT_FPS

    @property
    def root_name(self) -> str:
        return self.names[int(self.plan.bones[self.plan.root])]

    def solve(self, quats: np.ndarray, trans: np.ndarray, hemisphere: np.ndarray | None,
              track: RootTrack | None) -> Retargeted:
        """The target's pose for SMPL-X quats (T, 55, 4) x, y, z, w and trans (T, 3), continuing
        the rotations ``hemisphere`` (B, 4) and the root path ``track`` of the frame before."""
        return apply_plan(self.plan, quats, trans, self.in_place, hemisphere, track, self.frame_rate)

    def pose(self, quats: np.ndarray, trans: np.ndarray, arkit: np.ndarray | None,
             parts: tuple[bool, ...]) -> bool:
        """Pose the target now with one frame: quats (55, 4), trans (3,), arkit (52,); parts (4,)
        bool: what is posed. Returns False when there is nothing to pose."""
        target = bpy.data.objects.get(self.target_name)
        if self.plan is None or target is None:
            return False
        out = self.solve(np.asarray(quats)[None], np.asarray(trans)[None], self.previous, self.track)
        self.previous, self.track = out.rotations[0], out.track
        on = np.asarray(parts, bool)[self.joint_part]
        pbones = target.pose.bones
        flat = np.empty(len(pbones) * 4, np.float32)
        pbones.foreach_get("rotation_quaternion", flat)         # unmapped bones keep theirs
        flat = flat.reshape(-1, 4)
        flat[self.pose_index[on]] = to_blender_wxyz(out.rotations[0, self.plan.bones[on]])
        pbones.foreach_set("rotation_quaternion", flat.ravel())
        if parts[PART_BODY]:
            pbones[self.root_name].location = out.root_location[0]
        if arkit is not None and parts[PART_FACE]:
            self._face(target, np.asarray(arkit, np.float64))
        target.update_tag(refresh={"OBJECT", "DATA"})
        return True

    def _face(self, target: bpy.types.Object, arkit: np.ndarray) -> None:
        for i, name in self.arkit_props:
            if np.isfinite(arkit[i]):
                target[name] = float(arkit[i])
        for mesh_name, key, i in self.arkit_keys:
            mesh = bpy.data.objects.get(mesh_name)
            block = mesh.data.shape_keys.key_blocks.get(key) if mesh is not None and mesh.data.shape_keys else None
            if block is not None and np.isfinite(arkit[i]):
                block.value = float(arkit[i])

    def record(self, frames: np.ndarray, quats: np.ndarray, trans: np.ndarray, arkit: np.ndarray | None,
               parts: tuple[bool, ...]) -> int:
        """Key frames (T,) of SMPL-X quats (T, 55, 4), trans (T, 3), arkit (T, 52) onto the target's
        current action in bulk (as the SMPL-X recorder does). Returns the frames keyed."""
        target = bpy.data.objects.get(self.target_name)
        if self.plan is None or target is None or not len(frames):
            return 0
        out = self.solve(quats, trans, self.keyed if self.keyed is not None else self.previous, self.keyed_track)
        self.keyed, self.keyed_track = out.rotations[-1], out.track
        wxyz = to_blender_wxyz(out.rotations)                                  # (T, B, 4) w first
        on = np.asarray(parts, bool)[self.joint_part]
        for b in self.plan.bones[on]:
            path = f'pose.bones["{self.names[b]}"].rotation_quaternion'
            for k in range(4):
                keys.write_channel(target, path, k, frames, wxyz[:, b, k], GROUP)
        if parts[PART_BODY]:
            for k in range(3):
                keys.write_channel(target, f'pose.bones["{self.root_name}"].location', k, frames,
                                   out.root_location[:, k], GROUP)
        if arkit is not None and parts[PART_FACE]:
            _write_face(target, frames, np.asarray(arkit, np.float64))
        return len(frames)


def build_live(target: bpy.types.Object, rest_joints: np.ndarray | None, built_for: tuple = (),
               in_place: bool = False, frame_rate: float = DEFAULT_FPS) -> LiveRetarget:
    """The live retarget onto ``target`` for the SMPL-X rest joints (55, 3) Y up (None: the default
    skeleton's, as the worker streams before it has measured the subject)."""
    try:
        if target.type != "ARMATURE":
            raise RetargetError(f"'{target.name}' is not an armature: choose your character's armature")
        _check_local(target)
        found = rig_detection(target)
        if not found.bone_map:
            raise RetargetError(f"no bone of '{target.name}' could be matched to the body: {found.summary()}")
        fk_switches(target)
        rig = target_rig(target)
        plan = build_plan(DEFAULT_REST if rest_joints is None else rest_joints, rig, found.bone_map)
    except (RetargetError, MocapError) as exc:
        return LiveRetarget(target.name, built_for, error=str(exc).splitlines()[0])
    pbones = target.pose.bones
    slot = {pb.name: i for i, pb in enumerate(pbones)}
    for b in plan.bones:
        pbones[rig.names[b]].rotation_mode = "QUATERNION"
    face_keys = []
    for child in target.children:
        shape_keys = child.data.shape_keys if child.type == "MESH" else None
        if shape_keys is not None:
            match = match_shape_keys([kb.name for kb in shape_keys.key_blocks])
            face_keys += [(child.name, key, ARKIT_NAMES.index(name)) for name, key in match.mapping.items()]
    return LiveRetarget(
        target.name, built_for, plan, found, rig.names,
        pose_index=np.array([slot[rig.names[b]] for b in plan.bones], np.int64),
        joint_part=JOINT_PART[plan.delta_joint],
        arkit_props=tuple((i, n) for i, n in enumerate(ARKIT_NAMES) if n in target.keys()),
        arkit_keys=tuple(face_keys), in_place=in_place, frame_rate=frame_rate)


def sync_live(current: LiveRetarget | None, scene: bpy.types.Scene, source_name: str,
              rest_joints: np.ndarray | None) -> LiveRetarget | None:
    """The live retarget for the scene's "Retarget To" armature (None when none is chosen): the
    current one while it is still for the same target, rest, stored map, In Place and frame rate,
    else a new one (that keeps the sign continuity of the old one on the same target)."""
    props = getattr(scene, "smplx_mocap", None)
    target = props.retarget_target if props is not None else None
    if target is None:
        return None
    in_place, frame_rate = bool(props.retarget_in_place), scene_fps(scene)
    built_for = (target.name, rest_joints is not None, str(target.get(MAP_PROP, "")), in_place, frame_rate)
    if current is not None and current.built_for == built_for:
        return current
    if target.name == source_name:
        return LiveRetarget(target.name, built_for, error="the live link drives this armature already: choose "
                                                          "your character as Retarget To")
    made = build_live(target, rest_joints, built_for, in_place, frame_rate)
    if current is not None and current.target_name == target.name and current.plan is not None \
            and made.plan is not None and current.plan.num_bones == made.plan.num_bones:
        made.previous, made.keyed = current.previous, current.keyed
    return made

