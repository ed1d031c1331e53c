"""The captured motion and its file: :class:`Motion`, the one reader and writer of the output npz.

In: solved local rotations, root positions, face channels and the capture's metadata; out: the
npz the CLI, the worker and the add-on read (AMASS/SMPL-X conventions, Y up, metres; the README
lists its keys). Blender imports this module too (numpy only).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import rotations as rot
from ..core.errors import InputError
from ..core.files import write_npz_atomic
from ..core.layout import ARKIT_NAMES, PARTS
from ..core.records import Camera
from ..core.skeleton import JOINT_NAMES, PARENTS, bone_vectors, forward_kinematics, local_to_global

#: The keys :meth:`Motion.from_npz` needs.
_KEYS = ("poses", "trans", "joints", "expression", "arkit", "valid", "part_valid", "frame_times", "keypoints2d",
         "camera_intrinsics", "image_size", "camera_to_world", "rest_joints", "betas", "gender", "model_path")


@dataclass
class Motion:
    """A captured SMPL-X motion (see the README for the saved schema). T frames."""

    poses: np.ndarray          # (T, 165) axis-angle, SMPL-X joint order, root in world
    trans: np.ndarray          # (T, 3) metres, SMPL convention (pelvis = trans + rest pelvis)
    joints: np.ndarray         # (T, 55, 3) world joint positions
    expression: np.ndarray     # (T, E)
    arkit: np.ndarray          # (T, 52) in [0, 1]
    valid: np.ndarray          # (T,) bool: a person was found
    part_valid: np.ndarray     # (T, 4) bool: body, left hand, right hand, face
    frame_times: np.ndarray    # (T,) seconds
    keypoints2d: np.ndarray    # (T, 553, 3) pixels + confidence
    camera: Camera
    camera_to_world: np.ndarray  # (4, 4)
    rest_joints: np.ndarray    # (55, 3) the skeleton the poses drive
    betas: np.ndarray          # (B,) zeros without a model
    gender: str = "neutral"
    model_path: str = ""
    warnings: tuple[str, ...] = ()  # one line each, for the user (e.g. pipeline/root_slide.py)
    floor_height: np.ndarray | None = None  # (T,) metres the root was lowered by (pipeline/floor.py); None: 0
    detector: str = ""         # what detected ("mediapipe-holistic", "onnx-holistic"; "" when not known)
    backend: str = ""          # … run by ("mediapipe", "onnxruntime")
    provider: str = ""         # … where (the backend's own word, e.g. "CPUExecutionProvider")

    def __post_init__(self) -> None:
        if self.floor_height is None:
            self.floor_height = np.zeros(len(self.poses))

    def camera_points(self, points: np.ndarray, frame: int | np.ndarray) -> np.ndarray:
        """World points (..., 3) of ``frame`` (an int, or (T,) indices for (T, N, 3)) → the camera
        frame: ``camera_to_world`` inverted, after the frame's floor shift is undone."""
        inv = np.linalg.inv(self.camera_to_world)
        lift = np.asarray(self.floor_height)[frame]
        p = np.asarray(points, np.float64) + np.multiply.outer(lift, [0.0, 1.0, 0.0]).reshape(
            np.shape(lift) + (1,) * (np.ndim(points) - np.ndim(lift) - 1) + (3,))
        return p @ inv[:3, :3].T + inv[:3, 3]

    @property
    def frame_rate(self) -> float:
        """Median rate of the real timestamps (informational: keys are placed by time)."""
        if len(self.frame_times) < 2:
            return 30.0
        dt = np.diff(self.frame_times)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if len(dt) else 30.0

    @classmethod
    def from_locals(cls, local: np.ndarray, root_world: np.ndarray, rest: np.ndarray, **fields) -> "Motion":
        """A motion from local rotations (T, 55, 3, 3) with the root in the world and the world
        pelvis positions root_world (T, 3) of a skeleton with rest joints ``rest`` (55, 3): the
        axis-angle poses, SMPL translation and world joints follow; ``fields`` are the rest."""
        joints = forward_kinematics(local_to_global(local), bone_vectors(rest), root_world)
        return cls(poses=rot.to_rotvec(local).reshape(len(local), -1), trans=root_world - rest[0], joints=joints,
                   rest_joints=rest, **fields)

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> "Motion":
        """Read a file written by :meth:`save` (``allow_pickle=False``); :class:`InputError` if it
        is not one."""
        try:
            with np.load(path, allow_pickle=False) as d:
                missing = [k for k in _KEYS if k not in d.files]
                if missing:
                    raise InputError(f"MOTION: {path} lacks {', '.join(missing)}: not a capture written by "
                                     "this add-on; capture or bake the clip again")
                return cls(poses=d["poses"], trans=d["trans"], joints=d["joints"], expression=d["expression"],
                           arkit=d["arkit"], valid=d["valid"], part_valid=d["part_valid"],
                           frame_times=d["frame_times"], keypoints2d=d["keypoints2d"],
                           camera=Camera(K=d["camera_intrinsics"], size=tuple(int(v) for v in d["image_size"])),
                           camera_to_world=d["camera_to_world"], rest_joints=d["rest_joints"],
                           betas=d["betas"], gender=str(d["gender"]), model_path=str(d["model_path"]),
                           warnings=tuple(str(w) for w in d["warnings"]) if "warnings" in d.files else (),
                           floor_height=d["floor_height"] if "floor_height" in d.files else None,
                           **{k: str(d[k]) for k in ("detector", "backend", "provider") if k in d.files})
        except (OSError, ValueError) as exc:
            raise InputError(f"MOTION: cannot read {path} ({exc}); capture or bake the clip again") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the npz (compressed, atomic: a failure leaves no file or the old one)."""
        write_npz_atomic(Path(path), self.to_npz_dict())

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        return {
            "poses": self.poses.astype(np.float32), "trans": self.trans.astype(np.float32),
            "betas": self.betas.astype(np.float32), "gender": np.array(self.gender),
            "mocap_frame_rate": np.array(self.frame_rate), "joint_names": np.array(JOINT_NAMES),
            "parents": PARENTS.copy(), "rest_joints": self.rest_joints.astype(np.float32),
            "expression": self.expression.astype(np.float32), "arkit": self.arkit.astype(np.float32),
            "arkit_names": np.array(ARKIT_NAMES), "valid": self.valid, "part_valid": self.part_valid,
            "part_names": np.array(PARTS),
            "frame_times": self.frame_times.astype(np.float64),
            "keypoints2d": self.keypoints2d.astype(np.float32),
            "camera_intrinsics": self.camera.K.astype(np.float64),
            "image_size": np.array(self.camera.size, np.int32),
            "camera_to_world": self.camera_to_world.astype(np.float64),
            "joints": self.joints.astype(np.float32), "model_path": np.array(self.model_path),
            "warnings": np.array(self.warnings, dtype=np.str_),
            "floor_height": np.asarray(self.floor_height, np.float32),
            "detector": np.array(self.detector), "backend": np.array(self.backend), "provider": np.array(self.provider),
        }
