"""Per-scene capture settings: ``scene.smplx_mocap`` (a PropertyGroup on ``bpy.types.Scene``).

Only user choices live here. The worker's live status (state, fps, latency, dropped, last error) is
not stored in the .blend: the panel reads it from :mod:`.session`.
"""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from .classes import register_classes, unregister_classes

SOURCE_ITEMS = (
    ("VIDEO", "Video", "A video file (container timestamps)"),
    ("FOLDER", "Image Folder", "A folder of images, frames --folder-fps apart"),
    ("WEBCAM", "Webcam", "A live camera (capture-clock timestamps)"),
)
DEVICE_ITEMS = (
    ("AUTO", "Auto", "Use a GPU when the worker finds one, else the CPU"),
    ("GPU", "GPU", "Run the detector on the GPU"),
    ("CPU", "CPU", "Run the detector on the CPU"),
)
DETECTOR_ITEMS = (
    ("MEDIAPIPE", "MediaPipe", "MediaPipe Holistic's own graph: its attention face model refines lips, eyelids and "
                               "irises (the face weights are tuned on it)"),
    ("ONNX", "Fast (LiteRT / ONNX)", "MediaPipe's models with our own tracking: about 1.4x MediaPipe's frame rate live "
                                     "on the CPU (LiteRT); on an NVIDIA GPU with the set-up's GPU runtime (ONNX "
                                     "Runtime). Plain face model: gaze and blinks differ"),
)


def _is_armature(_self, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


def _map_edited(entry, context) -> None:
    """A row of the map editor changed: store the rows as the character's map (``retarget.store_map``)."""
    from . import retarget_panel
    retarget_panel.rows_changed(context)


class BoneMapEntry(bpy.types.PropertyGroup):
    """One row of the map editor: an SMPL-X joint and a bone of the character ('' : unmapped)."""

    joint: StringProperty(name="Joint", description="SMPL-X joint")
    bone: StringProperty(name="Bone", update=_map_edited,
                         description="The character's bone that follows this joint (empty: none)")


class MocapSettings(bpy.types.PropertyGroup):
    """What to capture, from where, and into which armature."""

    source_type: EnumProperty(name="Source", items=SOURCE_ITEMS, default="VIDEO",
                              description="Where the frames come from")
    video_path: StringProperty(name="Video", subtype="FILE_PATH", description="Video file to capture")
    folder_path: StringProperty(name="Folder", subtype="DIR_PATH", description="Folder of images to capture")
    webcam_index: IntProperty(name="Webcam", default=0, min=0, max=63,
                              description="Camera index (0 is the system's default camera)")
    use_body: BoolProperty(name="Body", default=True, description="Capture the body and root motion")
    use_hands: BoolProperty(name="Hands", default=True, description="Capture the fingers")
    use_face: BoolProperty(name="Face", default=True, description="Capture jaw, eyes and expressions")
    smoothing: FloatProperty(name="Smoothing", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                             description="0: raw and responsive, 1: smoothest (bakes smooth without lag, "
                                         "the live link lags more)")
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="AUTO",
                         description="Where the detector runs")
    detector: EnumProperty(name="Detector", items=DETECTOR_ITEMS, default="MEDIAPIPE",
                           description="What finds the body, hands and face in each frame")
    target: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                            description="Armature to drive (empty: a new SMPL-X armature is created)")
    retarget_target: PointerProperty(name="Retarget To", type=bpy.types.Object, poll=_is_armature,
                                     description="Your character's armature: Retarget Take keys the baked take onto it")
    retarget_in_place: BoolProperty(name="In Place", default=False,
                                    description="Your character keeps its spot: the travel over the floor is dropped "
                                                "(Retarget Take and the live link)")
    root_bone: BoolProperty(name="Root Bone", default=False,
                            description="A new SMPL-X armature gets a 'root' bone on the floor that carries the "
                                        "motion over the floor (the pelvis keeps its height), as game engines expect")
    record: BoolProperty(name="Record", default=False,
                         description="Key the live link into the armature's action")
    clip_start: IntProperty(name="First Frame", default=1, min=1,
                            description="A bake starts at this frame of the video or folder (1: its first)")
    clip_end: IntProperty(name="Last Frame", default=0, min=0,
                          description="A bake ends after this frame of the video or folder (0: at its end)")
    match_scene: BoolProperty(name="Match Scene to Clip", default=True,
                              description="A bake sets the scene's frame rate and frame range to the clip's, so every "
                                          "captured frame lands on a whole frame")
    add_camera: BoolProperty(name="Camera from Video", default=True,
                             description="A bake adds a camera that matches the video (field of view, position) with "
                                         "the clip as its background, to check the result against the footage")
    bone_map: CollectionProperty(type=BoneMapEntry, name="Bone Map",
                                 description="The map editor's rows (SMPL-X joint → the character's bone)")
    bone_map_index: IntProperty(name="Row", default=0, min=0)
    bone_map_owner: StringProperty(name="Map Of", description="The armature the map editor's rows belong to")
    show_unmapped: BoolProperty(name="Unmapped", default=False,
                                description="List the character's bones and the SMPL-X joints the map leaves out")
    fov: FloatProperty(name="FOV (deg)", default=60.0, min=10.0, max=170.0, precision=1,
                       description="Horizontal field of view of the camera, in degrees")


CLASSES = (BoneMapEntry, MocapSettings)


def register() -> None:
    register_classes(CLASSES)
    bpy.types.Scene.smplx_mocap = PointerProperty(type=MocapSettings)


def unregister() -> None:
    if hasattr(bpy.types.Scene, "smplx_mocap"):
        del bpy.types.Scene.smplx_mocap
    unregister_classes(CLASSES)
