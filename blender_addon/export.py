"""Exports of an armature's action: BVH, FBX and glTF through Blender's own exporters, and an SMPL-X
action back to the engine's motion npz (:func:`export_npz`, the schema ``python -m inference capture``
writes), plus :func:`import_npz` of such a file into a new take.

Blender's exporters work on the selection, the active object and the scene's frame range; each
export sets them for the chosen armature (and the meshes it deforms) and the asked range, and puts
them back afterwards, whatever happens. A single-file export is written to a temporary file beside
the target and renamed, so a failed export never leaves a half-written file.

The npz samples the action at every whole frame of the range (as the BVH and FBX exporters do):
``read_keys`` gives the local rotations, translation, ARKit and expression channels; the joints
follow by forward kinematics over the armature's rest joints; the camera comes from the motion file
the armature was baked or imported from, else a default camera looking at the origin.

Bad input (not an armature, no action, an unwritable path, a non-SMPL-X armature for npz, a file
that is not a capture) raises :class:`ExportError` with one line that says what to do.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np

from ..inference.core import rotations as rot
from ..inference.core.errors import MocapError
from ..inference.core.files import current_umask
from ..inference.core.layout import NUM_EXPRESSION, NUM_KEYPOINTS, NUM_PARTS
from ..inference.core.records import DEFAULT_FOV_DEG, Camera
from ..inference.core.skeleton import JOINT_PART, NUM_BETAS
from ..inference.pipeline.motion import Motion
from . import armature, cache, keys

#: (operator path under bpy.ops, the add-on that ships it) of Blender's exporters and importers used here.
EXPORTERS = {
    "BVH": (("export_anim", "bvh"), "io_anim_bvh"),
    "FBX": (("export_scene", "fbx"), "io_scene_fbx"),
    "GLTF": (("export_scene", "gltf"), "io_scene_gltf2"),
}
SUFFIXES = {"BVH": (".bvh",), "FBX": (".fbx",), "GLTF": (".glb", ".gltf"), "NPZ": (".npz",)}
#: Camera of an npz exported from an armature that has no motion file: the engine's world is the
#: camera's axes turned Y-up (x right, y down, z away → Y up, looking along −Z), at the origin.
_DEFAULT_CAMERA_TO_WORLD = np.diag([1.0, -1.0, -1.0, 1.0])


class ExportError(ValueError):
    """An export or import that cannot be done; ``str`` is one line that says what to change."""


# ---------------------------------------------------------------------------- what is exported
def chosen_armature(context: bpy.types.Context) -> bpy.types.Object | None:
    """The armature the export buttons act on: the panel's Armature, else the active object when it
    is an armature, else None."""
    props = getattr(context.scene, "smplx_mocap", None)
    target = getattr(props, "target", None) if props is not None else None
    if target is not None and target.name in bpy.data.objects:
        return target
    obj = getattr(context, "active_object", None)
    return obj if obj is not None and obj.type == "ARMATURE" else None


def _check_armature(obj: bpy.types.Object | None) -> bpy.types.Action:
    """The object's action; :class:`ExportError` when it is not an animated armature."""
    if obj is None or obj.type != "ARMATURE":
        raise ExportError(f"{getattr(obj, 'name', None)!r} is not an armature: choose an armature in the "
                          "Mocap panel or make one active")
    anim = obj.animation_data
    if anim is None or anim.action is None:
        raise ExportError(f"armature '{obj.name}' has no action: bake or key it first")
    return anim.action


def _check_range(frame_start: int, frame_end: int) -> tuple[int, int]:
    start, end = int(frame_start), int(frame_end)
    if end < start:
        raise ExportError(f"frame range {start}..{end} is empty: set the end frame at or after the start frame")
    return start, end


def _check_path(path: str, kind: str) -> Path:
    """Absolute target path with one of the format's suffixes in an existing, writable folder."""
    out = Path(bpy.path.abspath(str(path))) if path else Path()
    if not path or out.suffix.lower() not in SUFFIXES[kind]:
        raise ExportError(f"'{path}' is not a {'/'.join(SUFFIXES[kind])} file: choose a file name ending "
                          f"in {SUFFIXES[kind][0]}")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write into folder '{out.parent}' (missing or not writable): choose another")
    if out.is_dir():
        raise ExportError(f"'{out}' is a folder: choose a file name")
    return out


def skinned_meshes(obj: bpy.types.Object, view_layer: bpy.types.ViewLayer) -> list[bpy.types.Object]:
    """Meshes of the view layer that ``obj`` deforms (an Armature modifier pointing at it)."""
    return [o for o in view_layer.objects if o.type == "MESH"
            and any(m.type == "ARMATURE" and m.object == obj for m in o.modifiers)]


# ---------------------------------------------------------------------------- Blender's exporters
def _exporter(kind: str):
    """The ``bpy.ops`` operator of a Blender exporter, its add-on enabled for this session if needed."""
    (group, name), module = EXPORTERS[kind]
    op = getattr(getattr(bpy.ops, group), name)
    try:
        op.get_rna_type()
        return op
    except KeyError:
        pass
    import addon_utils
    addon_utils.enable(module, default_set=False)
    try:
        op.get_rna_type()
    except KeyError:
        raise ExportError(f"Blender's {kind} exporter ({module}) is not available: enable it in "
                          "Preferences > Add-ons") from None
    return op


@contextlib.contextmanager
def _export_state(context: bpy.types.Context, obj: bpy.types.Object, frame_start: int, frame_end: int,
                  with_meshes: bool):
    """Select only ``obj`` (and, ``with_meshes``, the meshes it deforms), make it active and set the
    scene's frame range; everything is put back on exit."""
    view_layer, scene = context.view_layer, context.scene
    if obj.name not in view_layer.objects:
        raise ExportError(f"armature '{obj.name}' is not in the current view layer: link it to the scene first")
    if obj.mode == "EDIT":
        raise ExportError(f"armature '{obj.name}' is in Edit Mode: switch to Object or Pose Mode first")
    selected = [o for o in view_layer.objects if o.select_get(view_layer=view_layer)]
    active = view_layer.objects.active
    saved = (scene.frame_start, scene.frame_end, scene.frame_current)
    try:
        for o in selected:
            o.select_set(False, view_layer=view_layer)
        for o in [obj] + (skinned_meshes(obj, view_layer) if with_meshes else []):
            o.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj
        scene.frame_start, scene.frame_end = frame_start, frame_end
        yield
    finally:
        for o in view_layer.objects:
            o.select_set(o in selected, view_layer=view_layer)
        view_layer.objects.active = active
        scene.frame_start, scene.frame_end = saved[0], saved[1]
        scene.frame_set(saved[2])


def _run_exporter(kind: str, path: Path, call) -> None:
    """``call(filepath)`` writes the file; single files go through a temporary file beside ``path``
    that is renamed on success (a .gltf with its .bin beside it is written in place)."""
    atomic = path.suffix.lower() != ".gltf"
    target = path
    if atomic:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
        os.close(fd)
        target = Path(tmp)
    try:
        try:
            result = call(str(target))
        except RuntimeError as exc:           # the exporter's own error (its last line)
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            raise ExportError(f"Blender's {kind} exporter failed: {lines[-1] if lines else exc}") from None
        if "FINISHED" not in result or not target.is_file() or target.stat().st_size == 0:
            raise ExportError(f"Blender's {kind} exporter wrote nothing to '{path}': see the console")
        if atomic:
            os.chmod(target, 0o666 & ~current_umask())     # as any file the user writes (mkstemp: 0600)
            os.replace(target, path)
    finally:
        if atomic and target.exists():
            target.unlink()


def export_bvh(obj: bpy.types.Object, path: str, frame_start: int, frame_end: int,
               context: bpy.types.Context | None = None) -> Path:
    """BVH of ``obj``'s action over frames ``frame_start..frame_end`` (Blender's BVH exporter, the
    bones' own rotation order). Returns the written path."""
    context = context or bpy.context
    _check_armature(obj)
    start, end = _check_range(frame_start, frame_end)
    out = _check_path(path, "BVH")
    op = _exporter("BVH")
    with _export_state(context, obj, start, end, with_meshes=False):
        _run_exporter("BVH", out, lambda p: op(filepath=p, frame_start=start, frame_end=end, check_existing=False))
    return out


def export_fbx(obj: bpy.types.Object, path: str, frame_start: int, frame_end: int,
               context: bpy.types.Context | None = None) -> Path:
    """FBX of ``obj`` and the meshes it deforms, its current action baked over the range (every
    frame keyed: no curve simplification; no leaf bones, so an import has the same bones)."""
    context = context or bpy.context
    _check_armature(obj)
    start, end = _check_range(frame_start, frame_end)
    out = _check_path(path, "FBX")
    op = _exporter("FBX")
    with _export_state(context, obj, start, end, with_meshes=True):
        _run_exporter("FBX", out, lambda p: op(
            filepath=p, check_existing=False, use_selection=True, object_types={"ARMATURE", "MESH"},
            bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
            bake_anim_use_all_bones=True, bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0,
            add_leaf_bones=False))
    return out


def export_gltf(obj: bpy.types.Object, path: str, frame_start: int, frame_end: int,
                context: bpy.types.Context | None = None) -> Path:
    """glTF (``.glb`` binary, or ``.gltf`` with its ``.bin``) of ``obj`` and the meshes it deforms,
    its current action sampled over the range."""
    context = context or bpy.context
    _check_armature(obj)
    start, end = _check_range(frame_start, frame_end)
    out = _check_path(path, "GLTF")
    op = _exporter("GLTF")
    fmt = "GLB" if out.suffix.lower() == ".glb" else "GLTF_SEPARATE"
    with _export_state(context, obj, start, end, with_meshes=True):
        _run_exporter("glTF", out, lambda p: op(
            filepath=p, check_existing=False, export_format=fmt, use_selection=True, export_animations=True,
            export_animation_mode="ACTIVE_ACTIONS", export_frame_range=True, export_force_sampling=True,
            will_save_settings=False))
    return out


# ---------------------------------------------------------------------------- npz
def sample_frames(frame_start: int, frame_end: int) -> np.ndarray:
    """(T,) float64 whole frames ``frame_start..frame_end``."""
    return np.arange(int(frame_start), int(frame_end) + 1, dtype=np.float64)


def _source_motion(obj: bpy.types.Object) -> Motion | None:
    """The motion file ``obj`` was baked or imported from (``cache.MOTION_PROP``), or None when it has
    none or it cannot be read any more."""
    value = str(obj.get(cache.MOTION_PROP, ""))
    path = cache.resolve(value) if value else ""
    if not path or not os.path.isfile(path):
        return None
    try:
        return Motion.from_npz(path)
    except MocapError:
        return None


def _mesh_betas(obj: bpy.types.Object) -> np.ndarray | None:
    """(B,) the SMPL-X mesh's ``Shape###`` key values, or None without such a mesh."""
    mesh = armature.smplx_mesh(obj)
    if mesh is None:
        return None
    blocks = mesh.data.shape_keys.key_blocks
    values = []
    while blocks.get(armature.shape_key_name(len(values))) is not None:
        values.append(blocks[armature.shape_key_name(len(values))].value)
    return np.array(values, np.float64) if values else None


def motion_from_keys(obj: bpy.types.Object, frames: np.ndarray, fps: float, fps_base: float = 1.0,
                     scene_size: tuple[int, int] = (1920, 1080)) -> Motion:
    """An engine :class:`Motion` of an SMPL-X armature's action sampled at ``frames`` (T,).

    ``poses`` keep the keyed quaternions' signs. Rotations of bones without keys are the rest pose, a missing translation is zero, missing ARKit
    weights are 0; ``part_valid`` says which parts have keys; ``valid`` is all true; frame times start
    at 0 at ``frames[0]``. Camera, camera_to_world, betas, gender and model path come from the
    armature's motion file when it has one, else a default camera of ``scene_size`` pixels (60°
    horizontal field of view) at the origin and the mesh's shape (or zero betas).
    Raises :class:`ExportError` for an armature without the 55 SMPL-X bones.
    """
    try:
        got = keys.read_keys(obj, frames)
    except keys.RigError:
        raise ExportError(f"armature '{obj.name}' has no SMPL-X bones: an npz export needs an SMPL-X armature "
                          "of this add-on (export other rigs as BVH, FBX or glTF)") from None
    T = frames.size
    q = got["quats"]                                                        # (T, 55, 4), NaN where not keyed
    keyed = np.isfinite(q).all(axis=(0, 2))                                 # (55,)
    q = rot.quat_normalize(np.where(np.isfinite(q), q, np.array([0.0, 0.0, 0.0, 1.0])))
    rest = armature.rest_heads(obj)                                         # (55, 3) the motion's rest joints
    root_world = np.nan_to_num(got["trans"]) + rest[0]
    arkit = got["arkit"]
    expression = got["expression"] if got["expression"].shape[1] else np.zeros((T, NUM_EXPRESSION))
    part_valid = np.zeros((T, NUM_PARTS), bool)
    for p in range(NUM_PARTS):
        part_valid[:, p] = bool(keyed[JOINT_PART == p].any())
    src = _source_motion(obj)
    if src is not None:
        camera, c2w, betas = src.camera, src.camera_to_world, src.betas
        gender, model_path = src.gender, src.model_path
    else:
        camera = Camera.from_fov(scene_size[0], scene_size[1], DEFAULT_FOV_DEG)
        c2w = _DEFAULT_CAMERA_TO_WORLD.copy()
        betas = _mesh_betas(obj)
        betas = np.zeros(NUM_BETAS) if betas is None else betas
        gender, model_path = "neutral", ""
    motion = Motion.from_locals(
        rot.quat_to_matrix(q), root_world, rest, expression=np.nan_to_num(expression), arkit=np.nan_to_num(arkit),
        valid=np.ones(T, bool), part_valid=part_valid, frame_times=(frames - frames[0]) * (fps_base / fps),
        keypoints2d=np.zeros((T, NUM_KEYPOINTS, 3), np.float32), camera=camera, camera_to_world=c2w,
        betas=np.asarray(betas, np.float64), gender=gender, model_path=model_path)
    # axis-angle that keeps each keyed quaternion's sign (angles up to 2π, as AMASS files have):
    # an import (quat_exp) then writes the same F-curves, not only the same rotations
    motion.poses = rot.quat_log(q.reshape(-1, 4)).reshape(T, -1)
    return motion


def export_npz(obj: bpy.types.Object, path: str, frame_start: int, frame_end: int,
               context: bpy.types.Context | None = None) -> Path:
    """Write ``obj``'s SMPL-X action over whole frames ``frame_start..frame_end`` as an engine
    motion npz (atomic; readable with ``Motion.from_npz``). Returns the written path."""
    context = context or bpy.context
    _check_armature(obj)
    start, end = _check_range(frame_start, frame_end)
    out = _check_path(path, "NPZ")
    render = context.scene.render
    motion = motion_from_keys(obj, sample_frames(start, end), render.fps, render.fps_base,
                              (render.resolution_x, render.resolution_y))
    try:
        motion.save(out)
    except (MocapError, OSError) as exc:
        raise ExportError(f"cannot write '{out}' ({exc}): choose another file".splitlines()[0]) from None
    return out


def take_name(path: str | os.PathLike) -> str:
    """Action name for an imported file: ``walk.smplx.npz`` → ``walk``."""
    name = Path(path).name
    for suffix in (cache.MOTION_SUFFIX, ".npz"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "capture"
    return name or "capture"


def import_npz(path: str, obj: bpy.types.Object | None = None, context: bpy.types.Context | None = None,
               frame_start: float | None = None) -> tuple[bpy.types.Object, int]:
    """Key an engine motion npz onto ``obj`` (an SMPL-X armature; None: a new one) as a new take
    named after the file, its first frame at ``frame_start`` (default the scene's). Returns (the
    armature, frames keyed). A new armature that could not be keyed is removed again."""
    from . import launch, pump, scene_setup
    context = context or bpy.context
    src = Path(bpy.path.abspath(str(path))) if path else Path()
    if not path or not src.is_file():
        raise ExportError(f"'{path}' is not a file: choose a motion .npz written by a capture or an export")
    try:
        Motion.from_npz(src)                    # a bad file changes nothing in the scene
    except MocapError as exc:
        raise ExportError(str(exc).splitlines()[0]) from None
    created = obj is None
    if created:
        obj = armature.build_armature(context, name=take_name(src))
    else:
        try:
            keys.rig_info(obj)
        except keys.RigError as exc:
            raise ExportError(str(exc).splitlines()[0]) from None
    try:
        take = take_name(src)
        keys.new_take(obj, take)
        mesh = launch.mesh_of(obj)
        if mesh:
            keys.new_take(bpy.data.objects[mesh].data.shape_keys, f"{take}_shapes")
        n = pump.apply_motion_file(str(src), obj, context.scene, mesh_name=mesh, frame_start=frame_start)
    except BaseException:
        if created:
            launch.remove_armature(obj)
        raise
    scene_setup.select_only(context, obj)
    return obj, n
