"""Fit the scene to a capture: its frame rate and range, the written armature selected and active,
and a camera that matches the video with the clip as its background.

A clip's frames land on whole scene frames only when the scene runs at the clip's rate; a bake
offers (panel option, on by default) to set ``render.fps`` / ``fps_base`` and the frame range from
the clip. Rates are given as Blender does: an integer ``fps`` and a ``fps_base`` (23.976 fps is
24 / 1.001). The camera's intrinsics and placement come from the capture file (``K``,
``camera_to_world``), so looking through it shows the armature over the footage.
"""
from __future__ import annotations

import os

import bpy
import numpy as np
from mathutils import Matrix

from . import keys
from .convert import SENSOR_WIDTH_MM, camera_lens, camera_matrix_world

#: A rate within this fraction of a whole number is that whole number (fps_base 1).
_WHOLE_RATE_TOLERANCE = 1e-4


def fps_settings(rate: float) -> tuple[int, float]:
    """(fps, fps_base) whose ratio is ``rate`` frames per second: 25 → (25, 1.0), 23.976 → (24, 1.001)."""
    rate = float(rate)
    if not rate > 0.0:
        raise ValueError(f"frame rate {rate} is not positive")
    fps = max(1, int(round(rate)))
    base = fps / rate
    return fps, (1.0 if abs(base - 1.0) < _WHOLE_RATE_TOLERANCE else base)


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's frame rate in frames per second (``render.fps / render.fps_base``)."""
    return scene.render.fps / scene.render.fps_base


def match_scene(scene: bpy.types.Scene, rate: float, duration_s: float | None = None) -> None:
    """Set the scene's frame rate to ``rate`` and, with ``duration_s`` (the last frame's time), its
    range to the clip's frames from ``scene.frame_start`` on."""
    scene.render.fps, scene.render.fps_base = fps_settings(rate)
    if duration_s is not None:
        scene.frame_end = scene.frame_start + max(1, int(round(duration_s * rate)))


def select_only(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    """Make ``obj`` the only selected object and the active one (what was written is what is picked)."""
    view_layer = context.view_layer
    for other in view_layer.objects:
        if other.select_get(view_layer=view_layer) and other != obj:
            other.select_set(False, view_layer=view_layer)
    if obj.name in view_layer.objects:
        obj.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj


def movie_clip(path: str) -> bpy.types.MovieClip | None:
    """The video at ``path`` as a movie clip (loaded once, then reused), or None when Blender cannot
    read it."""
    try:
        return bpy.data.movieclips.load(os.path.abspath(path), check_existing=True)
    except RuntimeError:
        return None


def add_camera(context: bpy.types.Context, name: str, K, size: tuple[int, int], camera_to_world,
               clip: bpy.types.MovieClip | None = None, set_resolution: bool = True,
               first_frame: int = 0, frames: np.ndarray | None = None,
               lift: np.ndarray | None = None) -> bpy.types.Object:
    """A camera object ``name`` (reused when it exists) with the capture's intrinsics ``K`` (3, 3)
    at ``size`` (width, height) pixels and its ``camera_to_world`` (4, 4, Y-up world), made the
    scene's camera; ``clip`` (the source video) is its background, its frame ``first_frame`` (0-based:
    where a trimmed capture starts) at the scene's first frame. set_resolution: the render size
    becomes the video's (the camera frame matches it). frames (T,), lift (T,) metres: the capture
    lowered each frame's world by ``lift`` to put the feet on the floor (``Motion.floor_height``),
    so the camera is keyed that much lower at those frames and still sees the armature where the
    footage shows the person."""
    scene = context.scene
    obj = bpy.data.objects.get(name)
    if obj is None or obj.type != "CAMERA":
        obj = bpy.data.objects.new(name, bpy.data.cameras.new(name))
        (getattr(context, "collection", None) or scene.collection).objects.link(obj)
    cam = obj.data
    cam.sensor_fit = "HORIZONTAL"
    cam.sensor_width = SENSOR_WIDTH_MM
    cam.lens, cam.shift_x, cam.shift_y = camera_lens(K, size)
    obj.matrix_world = Matrix(camera_matrix_world(camera_to_world).tolist())
    if obj.animation_data is not None:
        obj.animation_data.action = None
    if frames is not None and lift is not None and len(frames) and np.any(np.asarray(lift) != 0.0):
        height = obj.location.z - np.asarray(lift, np.float64)     # Y-up lift → Blender Z
        keys.write_channel(obj, "location", 2, frames, height, "Camera", action_name=f"{name}Action")
    if set_resolution:
        scene.render.resolution_x, scene.render.resolution_y = int(size[0]), int(size[1])
        scene.render.resolution_percentage = 100
        scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    if clip is not None:
        clip.frame_start = scene.frame_start - int(first_frame)
        cam.show_background_images = True
        bg = next((b for b in cam.background_images if b.source == "MOVIE_CLIP"), None) or cam.background_images.new()
        bg.source = "MOVIE_CLIP"
        bg.clip = clip
        bg.alpha = 1.0
        bg.frame_method = "FIT"
        bg.clip_user.use_render_undistorted = False
        scene.active_clip = clip
    scene.camera = obj
    return obj
