"""The frame record: one solved frame as a flat float32 vector, the unit the ring carries.

A record (:class:`FrameLayout`, float32) holds ``quat`` (55, 4) x, y, z, w local joint rotations in SMPL-X
order, Y up, joint 0 = root orientation in the world; ``trans`` (3,) metres, SMPL convention
(pelvis = trans + rest pelvis); ``expression`` (E,); ``arkit`` (52,) in [0, 1]; ``part_valid`` (4,)
0/1 for body, left hand, right hand, face.

Only numpy: Blender imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.layout import NUM_ARKIT, NUM_EXPRESSION, NUM_PARTS
from ..core.skeleton import NUM_JOINTS


@dataclass
class FrameRecord:
    """One frame read from the ring. ``record`` (R,) float32 is a private copy; the other arrays are
    views into it: quat (55, 4) x, y, z, w, trans (3,), expression (E,), arkit (52,), part_valid (4,) 0/1.
    ``frame_id`` / ``time`` (seconds, the source's clock) / ``sent_at`` (producer's
    ``time.monotonic()`` when written) are -1 / NaN when unknown."""

    record: np.ndarray
    quat: np.ndarray
    trans: np.ndarray
    expression: np.ndarray
    arkit: np.ndarray
    part_valid: np.ndarray
    frame_id: int = -1
    time: float = float("nan")
    sent_at: float = float("nan")


@dataclass(frozen=True)
class FrameLayout:
    """Where each field sits in a (R,) float32 record, R = 55*4 + 3 + E + 52 + 4."""

    num_expression: int = NUM_EXPRESSION

    def __post_init__(self):
        if int(self.num_expression) != self.num_expression or not 0 <= self.num_expression <= 400:
            raise ValueError(f"num_expression must be an integer in 0..400, not {self.num_expression!r}")

    @property
    def slices(self) -> dict[str, slice]:
        """Field name → slice of the record."""
        sizes = (("quat", NUM_JOINTS * 4), ("trans", 3), ("expression", self.num_expression),
                 ("arkit", NUM_ARKIT), ("part_valid", NUM_PARTS))
        out, start = {}, 0
        for name, size in sizes:
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def record_len(self) -> int:
        return NUM_JOINTS * 4 + 3 + self.num_expression + NUM_ARKIT + NUM_PARTS

    def pack(self, quat: np.ndarray, trans: np.ndarray, expression: np.ndarray, arkit: np.ndarray,
             part_valid: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """quat (55, 4) x, y, z, w, trans (3,), expression (E,), arkit (52,), part_valid (4,) bool or 0/1
        → (R,) float32 (written into ``out`` when given)."""
        rec = np.empty(self.record_len, np.float32) if out is None else out
        s = self.slices
        rec[s["quat"]] = np.reshape(quat, -1)
        rec[s["trans"]] = trans
        rec[s["expression"]] = expression
        rec[s["arkit"]] = arkit
        rec[s["part_valid"]] = np.asarray(part_valid, np.float32)
        return rec

    def unpack(self, record: np.ndarray, frame_id: int = -1, time: float = float("nan"),
               sent_at: float = float("nan")) -> FrameRecord:
        """(R,) float32 → :class:`FrameRecord` whose arrays are views of ``record``."""
        if record.shape != (self.record_len,):
            raise ValueError(f"record has shape {record.shape}, expected ({self.record_len},)")
        s = self.slices
        return FrameRecord(record=record, quat=record[s["quat"]].reshape(NUM_JOINTS, 4),
                           trans=record[s["trans"]], expression=record[s["expression"]],
                           arkit=record[s["arkit"]], part_valid=record[s["part_valid"]],
                           frame_id=int(frame_id), time=float(time), sent_at=float(sent_at))

    def unpack_many(self, records: np.ndarray) -> dict[str, np.ndarray]:
        """(N, R) float32 → views ``quat`` (N, 55, 4), ``trans`` (N, 3), ``expression`` (N, E),
        ``arkit`` (N, 52), ``part_valid`` (N, 4)."""
        records = np.asarray(records)
        if records.ndim != 2 or records.shape[1] != self.record_len:
            raise ValueError(f"records have shape {records.shape}, expected (N, {self.record_len})")
        s = self.slices
        out = {k: records[:, v] for k, v in s.items()}
        out["quat"] = out["quat"].reshape(len(records), NUM_JOINTS, 4)
        return out
