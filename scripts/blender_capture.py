#!/usr/bin/env python
"""Headless capture into a .blend: builds the extension, installs and enables it in bpy, bakes INPUT
with the add-on's own operator and saves OUT.blend (an SMPL-X armature with one key per frame with a
person, ARKit and expression channels). Run with a Python that has bpy (``scripts/test.sh`` makes
``.venv-blender``)::

    .venv-blender/bin/python scripts/blender_capture.py INPUT --out OUT.blend [--model SMPLX.npz]
        [--python WORKER_PYTHON] [--smoothing 0.5] [--fov 60] [--max-frames N]
        [--target RIG.blend|RIG.fbx|RIG.bvh [--map MAP.json] [--in-place]]

With ``--target`` the character (a .blend holding one armature, appended with its meshes; or
Blender's own FBX / BVH importer) is loaded first and checked (one humanoid armature, the map's bones
exist), then the take is retargeted onto it with the detected rig profile or ``--map`` (the add-on's
Retarget Take): the armature keeps its name and carries the action ``<take> → <name>`` (and the ARKit
weights on its ARKit properties or matching shape keys). The profile and the unmapped bones are
printed, one line each, before the .blend's path.

The worker runs in the engine's Python (``--python``, default ``.venv/bin/python`` made by
``scripts/demo.sh`` / ``scripts/test.sh``). Blender's user folders are a temporary folder, so nothing
is installed into your own Blender; the solved motion (OUT.smplx.npz) and the raw detections
(OUT.detections.npz, for re-solving with other smoothing) are saved beside OUT.blend. Errors: one
line on stderr, exit code 2, no .blend written.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON_ID = "smplx_mocap"
MODULE = f"bl_ext.user_default.{ADDON_ID}"
TARGET_SUFFIXES = (".blend", ".fbx", ".bvh")


class CaptureError(RuntimeError):
    """One line for stderr."""


def addon(name: str):
    """A module of the enabled add-on (``blender_addon.retarget``, ``inference.retarget.profiles``)."""
    return importlib.import_module(f"{MODULE}.{name}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", help="video file, image, or folder of images")
    p.add_argument("--out", required=True, help="the .blend to write")
    p.add_argument("--model", default="", help="your SMPL-X model file (SMPLX_NEUTRAL.npz …)")
    p.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                   help="Python 3.11 with the engine's requirements (default: the repo's .venv)")
    p.add_argument("--smoothing", type=float, default=0.5)
    p.add_argument("--fov", type=float, default=60.0)
    p.add_argument("--max-frames", type=int, default=0)
    p.add_argument("--target", default="", help="your character: a .blend with one armature, an .fbx or a .bvh")
    p.add_argument("--map", default="", help="a bone-map preset (JSON) instead of the detected rig profile")
    p.add_argument("--in-place", action="store_true", help="drop the travel over the floor")
    return p.parse_args(argv)


def check(args: argparse.Namespace) -> tuple[Path, Path]:
    src, out = Path(args.input).expanduser().resolve(), Path(args.out).expanduser().resolve()
    if not src.exists():
        raise CaptureError(f"INPUT: {src} does not exist")
    if out.suffix != ".blend":
        raise CaptureError(f"--out: '{out}' must end in .blend")
    if not out.parent.is_dir():
        raise CaptureError(f"--out: folder '{out.parent}' does not exist")
    if not (os.path.isfile(args.python) and os.access(args.python, os.X_OK)):
        raise CaptureError(f"--python: '{args.python}' is not an executable; run scripts/demo.sh once "
                           "(it makes .venv) or point --python at a Python with requirements-worker.txt")
    if args.model and not os.path.isfile(args.model):
        raise CaptureError(f"--model: '{args.model}' does not exist")
    if args.map and not args.target:
        raise CaptureError("--map needs --target (the character the map is for)")
    for flag, path in (("--target", args.target), ("--map", args.map)):
        if path and not os.path.isfile(path):
            raise CaptureError(f"{flag}: '{path}' does not exist")
    if args.target and Path(args.target).suffix.lower() not in TARGET_SUFFIXES:
        raise CaptureError(f"--target: '{args.target}' is not a .blend, .fbx or .bvh file")
    return src, out


def _imported(do) -> list:
    """Objects that ``do()`` added to the file."""
    import bpy
    before = set(bpy.data.objects)
    do()
    return [o for o in bpy.data.objects if o not in before]


def _append_blend(path: Path) -> list:
    """Every object of a .blend appended (not linked) into the current file, none in the scene yet."""
    import bpy
    with bpy.data.libraries.load(str(path), link=False) as (src, dst):
        dst.objects = list(src.objects)
    return [o for o in dst.objects if o is not None]


def _family(arm, objects: list) -> list:
    """``arm`` and the objects that belong to it: its descendants and meshes it deforms."""
    def belongs(o) -> bool:
        p = o.parent
        while p is not None:
            if p == arm:
                return True
            p = p.parent
        return any(m.type == "ARMATURE" and m.object == arm for m in getattr(o, "modifiers", ()))
    return [arm] + [o for o in objects if o != arm and belongs(o)]


def _problem(arms: list) -> str:
    """Why these imported armatures cannot be the target ("" when one usable armature)."""
    if not arms:
        return "holds no armature"
    if len(arms) > 1:
        return f"holds {len(arms)} armatures ({', '.join(sorted(a.name for a in arms))}): keep one per file"
    arm = arms[0]
    lib = arm.library or arm.data.library
    if lib is not None:
        return f"armature '{arm.name}' is linked from library '{lib.filepath}': make it local in its file first"
    if not len(arm.data.bones):
        return f"armature '{arm.name}' has no bones (no rest pose)"
    return ""


def _remove(objects: list) -> None:
    import bpy
    for o in objects:
        bpy.data.objects.remove(o)


def _bvh_is_z_up(arm) -> bool:
    """Whether a BVH read as Y-up (the format's convention) stands on its back, i.e. the file is
    Z-up (Blender's own BVH exporter writes armature space as is): the hips → head direction."""
    import numpy as np
    bones = arm.data.bones
    found = addon("inference.retarget.profiles").detect(
        [b.name for b in bones], [b.parent.name if b.parent else None for b in bones])
    hips, head = ((found.bone_map.get(j) or [None])[0] for j in ("pelvis", "head"))
    if hips is None or head is None:
        return False
    heads = {b.name: np.array(b.head_local) for b in bones}
    up = np.asarray(arm.matrix_world)[:3, :3] @ (heads[head] - heads[hips])
    return int(np.argmax(np.abs(up))) != 2


def _read_bvh(path: Path) -> list:
    import bpy
    objects = _imported(lambda: bpy.ops.import_anim.bvh(filepath=str(path)))
    arms = [o for o in objects if o.type == "ARMATURE"]
    if len(arms) == 1 and len(arms[0].data.bones) and _bvh_is_z_up(arms[0]):
        action = arms[0].animation_data.action if arms[0].animation_data else None
        _remove(objects)
        if action is not None:
            bpy.data.actions.remove(action)
        objects = _imported(lambda: bpy.ops.import_anim.bvh(filepath=str(path), axis_up="Z", axis_forward="Y"))
    return objects


def load_target(path: Path):
    """The character's armature in the scene (its name kept); raises :class:`CaptureError` on one line
    and leaves nothing behind when the file does not hold exactly one usable armature."""
    import bpy
    scene = bpy.context.scene
    suffix = path.suffix.lower()
    try:
        if suffix == ".blend":
            objects = _append_blend(path)
        elif suffix == ".fbx":
            objects = _imported(lambda: bpy.ops.import_scene.fbx(filepath=str(path)))
        else:
            objects = _read_bvh(path)
    except (RuntimeError, OSError) as exc:
        raise CaptureError(f"--target: Blender could not read '{path.name}': {str(exc).strip().splitlines()[-1]}") from None
    arms = [o for o in objects if o.type == "ARMATURE"]
    problem = _problem(arms)
    if problem:
        _remove(objects)
        raise CaptureError(f"--target: '{path.name}' {problem}")
    arm = arms[0]
    keep = _family(arm, objects)
    _remove([o for o in objects if o not in keep])
    for o in keep:
        if not o.users_collection:
            scene.collection.objects.link(o)
    return arm


def target_map(arm, map_path: str):
    """The detection (profile or the user's map) for ``arm``, checked before the long bake: a map
    naming missing bones or a rig nothing humanoid matches is one line."""
    profiles = addon("inference.retarget.profiles")
    bones = arm.data.bones
    names, parents = [b.name for b in bones], [b.parent.name if b.parent else None for b in bones]
    try:
        bone_map = profiles.load_map(map_path, names) if map_path else None
        found = profiles.user_map(bone_map, names) if bone_map else profiles.detect(names, parents)
    except profiles.ProfileError as exc:
        raise CaptureError(f"--{'map' if map_path else 'target'}: {exc}") from None
    if not found.bone_map.get("pelvis"):
        raise CaptureError(f"--target: '{arm.name}' is not a humanoid (no hips bone found): {found.summary()}; "
                           "give --map MAP.json")
    return bone_map, found


def capture(args: argparse.Namespace, src: Path, out: Path, user_dir: Path) -> Path:
    os.environ["BLENDER_USER_RESOURCES"] = str(user_dir)
    import bpy  # after the user folders are redirected
    import addon_utils

    sys.path.insert(0, str(ROOT / "scripts"))
    import build_extension
    zip_path = build_extension.build(ROOT, user_dir / "dist")
    if bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                                enable_on_install=True) != {"FINISHED"}:
        raise CaptureError(f"could not install {zip_path}")
    if MODULE not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module=MODULE)
    try:
        bpy.ops.wm.read_homefile(use_empty=True)
        if args.target:
            for module in ("io_scene_fbx", "io_anim_bvh"):              # Blender's own importers
                addon_utils.enable(module, default_set=False)
            rig = load_target(Path(args.target).resolve())
            bone_map, _ = target_map(rig, args.map)
        prefs = bpy.context.preferences.addons[MODULE].preferences
        prefs.python_path = str(Path(args.python).absolute())
        prefs.model_path = str(Path(args.model).resolve()) if args.model else ""
        props = bpy.context.scene.smplx_mocap
        props.source_type = "FOLDER" if src.is_dir() else "VIDEO"
        props.folder_path, props.video_path = (str(src), "") if src.is_dir() else ("", str(src))
        props.smoothing, props.fov = args.smoothing, args.fov
        try:
            bpy.ops.mocap.bake(max_frames=args.max_frames)
        except RuntimeError as exc:       # the operator's ERROR report
            raise CaptureError(str(exc).strip().splitlines()[-1].removeprefix("Error: ")) from None
        obj = props.target
        if args.target:
            retarget = addon("blender_addon.retarget")
            try:
                found = retarget.retarget_take(obj, rig, in_place=args.in_place, bone_map=bone_map)
            except retarget.RetargetError as exc:
                raise CaptureError(f"--target: {exc}") from None
            print("profile: " + (found.summary().removeprefix("rig profile ") if found.profile else
                                 f"none — {found.summary()}"))
            unmapped = found.unmapped_target_bones
            print(f"unmapped bones ({len(unmapped)}): {', '.join(unmapped) if unmapped else 'none'}")
        motion = Path(obj["smplx_mocap_motion"])
        base = out.with_suffix("")
        for src_file, suffix in ((motion, ".smplx.npz"), (Path(obj["smplx_mocap_detections"]), ".detections.npz")):
            if src_file.is_file():
                dst = base.with_name(base.name + suffix)
                shutil.copyfile(src_file, dst)
                key = "smplx_mocap_motion" if suffix == ".smplx.npz" else "smplx_mocap_detections"
                obj[key] = str(dst)
        scene = bpy.context.scene
        anim = obj.animation_data
        if anim and anim.action:
            start, end = anim.action.frame_range
            scene.frame_start, scene.frame_end = int(start), max(int(start) + 1, int(round(end)))
        bpy.ops.wm.save_as_mainfile(filepath=str(out), check_existing=False)
    finally:
        bpy.ops.preferences.addon_disable(module=MODULE)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    user_dir = Path(tempfile.mkdtemp(prefix="smplx_mocap_blender_"))
    try:
        src, out = check(args)
        path = capture(args, src, out, user_dir)
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(user_dir, ignore_errors=True)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
