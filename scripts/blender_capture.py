#!/usr/bin/env python
"""Headless capture into a .blend: builds the extension, installs and enables it in bpy, bakes INPUT
with the add-on's own operator and saves OUT.blend (an SMPL-X armature with one key per frame with a
person, ARKit and expression channels). Run with a Python that has bpy (``scripts/test.sh`` makes
``.venv-blender``)::

    .venv-blender/bin/python scripts/blender_capture.py INPUT --out OUT.blend [--model SMPLX.npz]
        [--python WORKER_PYTHON] [--smoothing 0.5] [--fov 60] [--max-frames N]

The worker runs in the engine's Python (``--python``, default ``.venv/bin/python`` made by
``scripts/demo.sh`` / ``scripts/test.sh``). Blender's user folders are a temporary folder, so nothing
is installed into your own Blender; the solved motion (OUT.smplx.npz) and the raw detections
(OUT.detections.npz, for re-solving with other smoothing) are saved beside OUT.blend. Errors: one
line on stderr, exit code 2, no .blend written.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON_ID = "smplx_mocap"
MODULE = f"bl_ext.user_default.{ADDON_ID}"


class CaptureError(RuntimeError):
    """One line for stderr."""


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
    return src, out


def capture(args: argparse.Namespace, src: Path, out: Path, user_dir: Path) -> Path:
    os.environ["BLENDER_USER_RESOURCES"] = str(user_dir)
    import bpy  # after the user folders are redirected

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
