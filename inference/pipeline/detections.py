"""The detections cache: a clip's raw detections and camera, saved beside a bake so that it can be
re-solved with other settings without running the detector again.

In: a :class:`~inference.core.records.DetectionSeq` and its camera; out: an npz (atomic, no pickle)
and back.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.files import write_npz_atomic
from ..core.layout import NUM_BODY, NUM_KEYPOINTS, NUM_PARTS
from ..core.records import Camera, DetectionSeq, DetectorInfo

DETECTIONS_VERSION = 1
_DETECTION_KEYS = ("times", "kp2d", "kpz", "world", "present", "image_size", "camera_intrinsics")


#: What detected the cache (:class:`DetectorInfo`'s fields, saved as ``detector_<field>``; older caches lack them).
_INFO_FIELDS = ("name", "backend", "provider", "warning")


def save_detections(path: str | os.PathLike, seq: DetectionSeq, camera: Camera, source: str = "") -> None:
    """Write a clip's detections + camera to ``path`` (.npz, atomic)."""
    write_npz_atomic(Path(path), {
        "times": seq.times.astype(np.float64), "kp2d": seq.kp2d.astype(np.float32),
        "kpz": seq.kpz.astype(np.float32), "world": seq.world.astype(np.float32),
        "present": seq.present.astype(bool), "image_size": np.array(camera.size, np.int32),
        "camera_intrinsics": np.asarray(camera.K, np.float64), "source": np.array(str(source)),
        "version": np.array(DETECTIONS_VERSION, np.int32),
        **({f"detector_{k}": np.array(getattr(seq.info, k)) for k in _INFO_FIELDS} if seq.info is not None else {})})


def load_detections(path: str | os.PathLike) -> tuple[DetectionSeq, Camera]:
    """Read a cache written by :func:`save_detections` → (DetectionSeq, Camera)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"DETECTIONS: {path} does not exist; bake the clip first to create the cache")
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = [k for k in _DETECTION_KEYS if k not in d.files]
            if missing:
                raise InputError(f"DETECTIONS: {path} lacks {', '.join(missing)}; bake the clip again to rebuild the cache")
            arrays = {k: d[k] for k in _DETECTION_KEYS}
            info = DetectorInfo(*(str(d[f"detector_{k}"]) for k in _INFO_FIELDS)) \
                if all(f"detector_{k}" in d.files for k in _INFO_FIELDS) else None
    except (OSError, ValueError) as exc:
        raise InputError(f"DETECTIONS: {path} is not a readable detections cache ({exc}); bake the clip again") from None
    T = len(arrays["times"])
    shapes = {"kp2d": (T, NUM_KEYPOINTS, 3), "kpz": (T, NUM_KEYPOINTS), "world": (T, NUM_BODY, 3),
              "present": (T, NUM_PARTS),
              "image_size": (2,), "camera_intrinsics": (3, 3)}
    bad = [k for k, s in shapes.items() if arrays[k].shape != s]
    if bad:
        raise InputError(f"DETECTIONS: {path} has {bad[0]} of shape {arrays[bad[0]].shape}, expected "
                         f"{shapes[bad[0]]}; bake the clip again to rebuild the cache")
    size = (int(arrays["image_size"][0]), int(arrays["image_size"][1]))
    seq = DetectionSeq(times=arrays["times"].astype(np.float64), image_size=size, kp2d=arrays["kp2d"],
                       kpz=arrays["kpz"], world=arrays["world"], present=arrays["present"].astype(bool), info=info)
    return seq, Camera(K=arrays["camera_intrinsics"].astype(np.float64), size=size)
