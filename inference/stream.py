"""Shared-memory frame stream between the inference worker (producer) and Blender (consumer).

One producer, one consumer, one memory-mapped file: on Linux a file in ``/dev/shm`` (tmpfs, real
shared memory), elsewhere in the temporary folder. ``multiprocessing.shared_memory`` is not used:
on Python 3.11 it registers every segment with a resource-tracker process, which unlinks the other
side's segment when either process exits. Here the creating side (Blender) owns the file and is
the only one that unlinks it; the attaching side (the worker) never does. Segment files are named
``smplx_mocap_*`` and their paths are kept in a small registry file, so the ones a crash leaves
behind are removed at the next start (:func:`remember`, :func:`forget`, :func:`remove_stale`).

Layout of the file (little endian)::

    header  HEADER_SIZE bytes   magic, layout version, sizes, 16-byte session token, creator pid,
                                write count (own cache line), read count (own cache line),
                                producer heartbeat / state / progress / fps, last error line,
                                rest joints (55, 3) float32 + flag
    slots   slots x slot_size   seq u64, frame id u64, time f64, sent-at f64, record float32 (R,)

Each slot is a seqlock: for the n-th published frame (n = 0, 1, ...) the producer sets ``seq`` to
``2n + 1`` (odd: being written), fills the slot, sets ``seq`` to ``2n + 2`` (even: complete), then
the header's write count to ``n + 1``. A reader copies the slot and re-reads ``seq``; a change or an
odd value means the copy may be torn and it is retried (:meth:`Ring.read_latest`) or counted as
dropped (:meth:`Ring.read_new`: the frame was overwritten before it was read). Since ``seq`` names
the publication it holds, a reader also knows whether a slot still holds the frame it wants.

Ordering: the producer's stores (slot ``seq`` odd → fields → ``seq`` even → write count) are
separate numpy operations; x86-64 keeps stores in program order (TSO), which this relies on. A
weakly ordered CPU (ARM64) gives no such guarantee for plain stores, so there a torn record is
possible in principle, though not observed (the stress test runs on x86-64).

The consumer stores its progress in the header's read count; a producer writing with
``block=True`` waits while it is a full ring ahead of it (a bake drops nothing), while
``block=False`` overwrites the oldest frame (the live view wants the newest).

Record (:class:`FrameLayout`, float32): ``quat`` (55, 4) w, x, y, z local joint rotations in SMPL-X
order, Y up, joint 0 = root orientation in the world; ``trans`` (3,) metres, SMPL convention
(pelvis = trans + rest pelvis); ``expression`` (E,); ``arkit`` (52,) in [0, 1]; ``part_valid`` (4,)
0/1 for body, left hand, right hand, face.

Only numpy and the standard library are used: Blender imports this module.
"""
from __future__ import annotations

import enum
import errno
import hmac
import mmap
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MocapError

__all__ = ["StreamError", "State", "FrameLayout", "FrameRecord", "Ring", "remember", "forget",
           "remove_stale", "list_segments", "default_directory", "PREFIX", "MAGIC", "VERSION"]

MAGIC = b"SMPLXMOC"
VERSION = 1
PREFIX = "smplx_mocap_"
HEADER_SIZE = 4096
TOKEN_BYTES = 16
ERROR_BYTES = 512
NUM_JOINTS = 55
NUM_ARKIT = 52
NUM_PARTS = 4
_SLOT_META = 32          # seq, frame id, time, sent-at
_SLOT_ALIGN = 64         # one cache line
_WAIT_S = 0.0005         # poll interval of a blocked writer

HEADER_DTYPE = np.dtype({
    "names": ["magic", "version", "header_size", "slots", "slot_size", "record_len", "num_expression",
              "token", "owner_pid", "write_count", "read_count", "heartbeat", "state", "rest_flag",
              "frames_done", "frames_total", "fps", "error", "rest"],
    "formats": ["S8", "<u4", "<u4", "<u4", "<u4", "<u4", "<u4",
                ("u1", (TOKEN_BYTES,)), "<i8", "<u8", "<u8", "<f8", "<i4", "<i4",
                "<u8", "<u8", "<f8", ("u1", (ERROR_BYTES,)), ("<f4", (NUM_JOINTS, 3))],
    "offsets": [0, 8, 12, 16, 20, 24, 28,
                32, 48, 64, 128, 192, 200, 204,
                208, 216, 224, 256, 256 + ERROR_BYTES],
    "itemsize": HEADER_SIZE,
})


class StreamError(MocapError):
    """The shared-memory ring cannot be created, attached or used."""


class State(enum.IntEnum):
    """Producer state in the header (a fresh, zero-filled segment reads STARTING)."""

    STARTING = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    STOPPED = 4


# ---------------------------------------------------------------------------------------------
# record layout
# ---------------------------------------------------------------------------------------------
@dataclass
class FrameRecord:
    """One frame read from the ring. ``record`` (R,) float32 is a private copy; the other arrays are
    views into it: quat (55, 4) wxyz, trans (3,), expression (E,), arkit (52,), part_valid (4,) 0/1.
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

    num_expression: int = 10

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
        """quat (55, 4) wxyz, trans (3,), expression (E,), arkit (52,), part_valid (4,) bool or 0/1
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


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def default_directory() -> str:
    """``/dev/shm`` where it exists and is writable (tmpfs), else the temporary folder."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return tempfile.gettempdir()


def _slot_dtype(record_len: int) -> np.dtype:
    size = -(-(_SLOT_META + 4 * record_len) // _SLOT_ALIGN) * _SLOT_ALIGN
    return np.dtype({"names": ["seq", "frame_id", "time", "sent", "record"],
                     "formats": ["<u8", "<u8", "<f8", "<f8", ("<f4", (record_len,))],
                     "offsets": [0, 8, 16, 24, _SLOT_META], "itemsize": size})


def _reserve(fd: int, size: int, path: str) -> None:
    """Give the file its size; on Linux also reserve the pages, so a full /dev/shm fails here
    with a clear error instead of a SIGBUS on first write."""
    try:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
                return
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENODEV):
                    raise
        os.ftruncate(fd, size)
    except OSError as exc:
        raise StreamError(f"RING: cannot reserve {size} bytes for {path} ({exc.strerror}); free space "
                          "in that folder (e.g. /dev/shm) or use fewer slots") from None


def _map(fd: int, size: int) -> mmap.mmap:
    """Shared read-write mapping of the whole file, pages faulted in up front where the platform
    allows (MAP_POPULATE), so no write or read pays a first-touch page fault later."""
    if os.name == "posix":
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        return mmap.mmap(fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return mmap.mmap(fd, size, access=mmap.ACCESS_WRITE)


def _token_bytes(token: bytes | str) -> bytes:
    if isinstance(token, str):
        try:
            token = bytes.fromhex(token)
        except ValueError:
            raise StreamError("RING: the token is not a hex string; pass the value of ring.token_hex") from None
    if len(token) != TOKEN_BYTES:
        raise StreamError(f"RING: the token has {len(token)} bytes, expected {TOKEN_BYTES}; pass ring.token_hex")
    return bytes(token)


# ---------------------------------------------------------------------------------------------
# ring
# ---------------------------------------------------------------------------------------------
class Ring:
    """Single-producer / single-consumer ring of frame records in a memory-mapped file.

    Create on the consumer side with :meth:`create` (owner: it unlinks), attach on the producer
    side with :meth:`attach`. All access goes through numpy views made once over the mapping.
    """

    def __init__(self, path: str, mm: mmap.mmap, owner: bool):
        self.path, self._mm, self.owner = path, mm, owner
        header = np.frombuffer(mm, HEADER_DTYPE, count=1)
        self._header = header
        self.num_slots = int(header["slots"][0])
        self.layout = FrameLayout(num_expression=int(header["num_expression"][0]))
        self.token = bytes(header["token"][0])
        slots = np.frombuffer(mm, _slot_dtype(self.layout.record_len), count=self.num_slots,
                              offset=HEADER_SIZE)
        self._slots = slots
        self._seq, self._fid, self._time = slots["seq"], slots["frame_id"], slots["time"]
        self._sent, self._rec = slots["sent"], slots["record"]
        self._wc, self._rc = header["write_count"], header["read_count"]
        self._hb, self._state = header["heartbeat"], header["state"]
        self._done, self._total, self._fps = header["frames_done"], header["frames_total"], header["fps"]
        self._err, self._rest, self._rest_flag = header["error"][0], header["rest"][0], header["rest_flag"]
        self._last_sent = 0.0
        #: producer side: frames written over an unread slot (non-blocking writes)
        self.overwritten = 0
        #: reads that saw a slot change under them (retried or counted as dropped)
        self.torn = 0

    # -- lifetime -------------------------------------------------------------------------------
    @classmethod
    def create(cls, slots: int, layout: FrameLayout, path: str | os.PathLike | None = None,
               directory: str | os.PathLike | None = None) -> "Ring":
        """Make a new segment with a fresh session token (``ring.token_hex`` goes to the producer)."""
        if int(slots) < 1:
            raise ValueError(f"slots must be at least 1, not {slots!r}")
        slots = int(slots)
        if path is None:
            directory = os.fspath(directory) if directory is not None else default_directory()
            path = os.path.join(directory, f"{PREFIX}{os.getpid()}_{secrets.token_hex(6)}")
        path = os.fspath(path)
        slot_dtype = _slot_dtype(layout.record_len)
        size = HEADER_SIZE + slots * slot_dtype.itemsize
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        except OSError as exc:
            raise StreamError(f"RING: cannot create {path} ({exc.strerror}); choose another path or "
                              "folder") from None
        try:
            _reserve(fd, size, path)
            mm = _map(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        h = np.frombuffer(mm, HEADER_DTYPE, count=1)
        h["version"], h["header_size"], h["slots"] = VERSION, HEADER_SIZE, slots
        h["slot_size"], h["record_len"] = slot_dtype.itemsize, layout.record_len
        h["num_expression"], h["owner_pid"] = layout.num_expression, os.getpid()
        h["token"][0] = np.frombuffer(secrets.token_bytes(TOKEN_BYTES), np.uint8)
        h["magic"] = MAGIC            # last: a header with the magic is complete
        del h
        return cls(path, mm, owner=True)

    @classmethod
    def attach(cls, path: str | os.PathLike, token: bytes | str) -> "Ring":
        """Open an existing segment; the token, magic, version and sizes must match."""
        path = os.fspath(path)
        token = _token_bytes(token)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise StreamError(f"RING: cannot open {path} ({exc.strerror}); the creating side must make "
                              "it first and pass its path") from None
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_SIZE:
                raise StreamError(f"RING: {path} is {size} bytes, too small for a ring; pass the path "
                                  "made by Ring.create")
            mm = _map(fd, size)
        finally:
            os.close(fd)
        try:   # on a copy of the header: no view of the mapping may outlive a failed check
            _check_header(np.frombuffer(mm[:HEADER_SIZE], HEADER_DTYPE, count=1)[0], size, path, token)
        except BaseException:
            mm.close()
            raise
        return cls(path, mm, owner=False)

    @property
    def token_hex(self) -> str:
        return self.token.hex()

    @property
    def closed(self) -> bool:
        return self._mm is None

    def close(self) -> None:
        """Drop the mapping (idempotent). The file stays until the owner calls :meth:`unlink`."""
        if self._mm is None:
            return
        mm, self._mm = self._mm, None
        for name in ("_header", "_slots", "_seq", "_fid", "_time", "_sent", "_rec", "_wc", "_rc", "_hb",
                     "_state", "_done", "_total", "_fps", "_err", "_rest", "_rest_flag"):
            setattr(self, name, None)
        try:
            mm.close()
        except BufferError:   # a caller still holds a view: the mapping goes with it
            pass

    def unlink(self) -> None:
        """Remove the segment file (owner only; a missing file is fine)."""
        if not self.owner:
            raise StreamError("RING: only the side that created the ring may unlink it")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "Ring":
        return self

    def __exit__(self, *exc) -> None:
        """Close; the owner also unlinks."""
        self.close()
        if self.owner:
            self.unlink()

    def __repr__(self) -> str:
        return (f"<Ring {self.path} slots={self.num_slots} R={self.layout.record_len} "
                f"{'owner' if self.owner else 'attached'}{' closed' if self.closed else ''}>")

    # -- producer -------------------------------------------------------------------------------
    def write(self, frame_id: int, time_s: float, record: np.ndarray, block: bool = False,
              timeout: float | None = None) -> bool:
        """Publish one (R,) float32 record. ``block=True`` waits while the consumer is a full ring
        behind (returns False if ``timeout`` seconds pass first); ``block=False`` overwrites the
        oldest frame and always returns True."""
        if record.shape != (self.layout.record_len,):
            raise ValueError(f"record has shape {record.shape}, expected ({self.layout.record_len},)")
        n = int(self._wc[0])
        N = self.num_slots
        if n - int(self._rc[0]) >= N:
            if block:
                deadline = None if timeout is None else time.monotonic() + timeout
                while n - int(self._rc[0]) >= N:
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    time.sleep(_WAIT_S)
            else:
                self.overwritten += 1
        i = n % N
        self._seq[i] = 2 * n + 1
        self._fid[i] = frame_id
        self._time[i] = time_s
        self._sent[i] = time.monotonic()
        self._rec[i] = record
        self._seq[i] = 2 * n + 2
        self._wc[0] = n + 1
        return True

    # -- consumer -------------------------------------------------------------------------------
    def read_latest(self, attempts: int = 64) -> FrameRecord | None:
        """Newest complete frame (a copy), or None when nothing was written yet. Does not move the
        read count (live view)."""
        N = self.num_slots
        for _ in range(attempts):
            n = int(self._wc[0]) - 1
            if n < 0:
                return None
            i = n % N
            s1 = int(self._seq[i])
            rec = self._rec[i].copy()
            fid, t, sent = int(self._fid[i]), float(self._time[i]), float(self._sent[i])
            if s1 & 1 == 0 and s1 >= 2 * n + 2 and int(self._seq[i]) == s1:
                self._last_sent = sent
                return self.layout.unpack(rec, fid, t, sent)
            self.torn += 1
        return None

    def read_new(self, max_frames: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Every frame published since the last call, oldest first, and advance the read count.

        Returns frame ids (N,) int64, times (N,) float64, records (N, R) float32 (copies) and the
        number of frames lost (overwritten before they were read). ``max_frames`` caps N (the rest
        stays for the next call)."""
        N = self.num_slots
        w, r = int(self._wc[0]), int(self._rc[0])
        dropped = 0
        if w - r > N:
            dropped, r = w - N - r, w - N
        end = w if max_frames is None else min(w, r + int(max_frames))
        if end <= r:
            if dropped:
                self._rc[0] = r
            return (np.empty(0, np.int64), np.empty(0, np.float64),
                    np.empty((0, self.layout.record_len), np.float32), dropped)
        if end - r == 1:          # the usual live case: one new frame, read with scalars (no ufuncs)
            i = r % N
            s1 = int(self._seq[i])
            rec = self._rec[i].copy()
            fid, t, sent = int(self._fid[i]), float(self._time[i]), float(self._sent[i])
            self._rc[0] = end
            if s1 == 2 * r + 2 and int(self._seq[i]) == s1:
                self._last_sent = sent
                return np.array([fid], np.int64), np.array([t]), rec[None], dropped
            self.torn += 1
            return (np.empty(0, np.int64), np.empty(0, np.float64),
                    np.empty((0, self.layout.record_len), np.float32), dropped + 1)
        n = np.arange(r, end, dtype=np.int64)
        idx = n % N
        s1 = self._seq[idx].view(np.int64)
        records, ids = self._rec[idx], self._fid[idx].astype(np.int64)
        times, sent = self._time[idx], self._sent[idx]
        s2 = self._seq[idx].view(np.int64)
        ok = (s1 == s2) & (s1 == 2 * n + 2)
        self._rc[0] = end
        if not ok.all():
            bad = len(n) - int(ok.sum())
            self.torn += bad
            dropped += bad
            ids, times, records, sent = ids[ok], times[ok], records[ok], sent[ok]
        if len(sent):
            self._last_sent = float(sent[-1])
        return ids, times, records, dropped

    def last_sent_at(self) -> float:
        """Producer's ``time.monotonic()`` when the last frame read was written (0.0 before any)."""
        return self._last_sent

    @property
    def write_count(self) -> int:
        """Frames published so far."""
        return int(self._wc[0])

    @property
    def read_count(self) -> int:
        """Consumer progress (frames consumed or skipped by :meth:`read_new`)."""
        return int(self._rc[0])

    # -- producer status ------------------------------------------------------------------------
    @property
    def heartbeat(self) -> float:
        """Producer's last ``time.monotonic()`` (0.0 before the first beat)."""
        return float(self._hb[0])

    @heartbeat.setter
    def heartbeat(self, value: float) -> None:
        self._hb[0] = value

    def beat(self) -> None:
        """Producer: heartbeat = now."""
        self._hb[0] = time.monotonic()

    def heartbeat_age(self) -> float:
        """Seconds since the producer's last beat (inf before the first)."""
        hb = float(self._hb[0])
        return time.monotonic() - hb if hb > 0 else float("inf")

    @property
    def state(self) -> State:
        value = int(self._state[0])
        try:
            return State(value)
        except ValueError:
            raise StreamError(f"RING: unknown producer state {value}; the worker and the add-on "
                              "are different versions") from None

    @state.setter
    def state(self, value: State) -> None:
        self._state[0] = int(State(value))

    def state_name(self) -> str:
        """'starting', 'running', 'done', 'failed' or 'stopped'."""
        return self.state.name.lower()

    @property
    def progress(self) -> tuple[int, int]:
        """(frames processed, total frames or 0 when unknown)."""
        return int(self._done[0]), int(self._total[0])

    @progress.setter
    def progress(self, value: tuple[int, int]) -> None:
        self._done[0], self._total[0] = int(value[0]), int(value[1] or 0)

    @property
    def fps(self) -> float:
        """Producer's measured frames per second."""
        return float(self._fps[0])

    @fps.setter
    def fps(self, value: float) -> None:
        self._fps[0] = value

    @property
    def error(self) -> str:
        """The producer's last error line ('' when none)."""
        raw = self._err.tobytes().split(b"\0", 1)[0]
        return raw.decode("utf-8", "replace")

    @error.setter
    def error(self, text: str) -> None:
        line = " ".join(str(text).split())
        raw = line.encode("utf-8")[:ERROR_BYTES - 1].decode("utf-8", "ignore").encode("utf-8")
        buf = np.zeros(ERROR_BYTES, np.uint8)
        buf[:len(raw)] = np.frombuffer(raw, np.uint8)
        self._err[:] = buf

    @property
    def rest_joints(self) -> np.ndarray | None:
        """(55, 3) float32 subject rest joints published by the producer, or None (not known yet)."""
        return self._rest.copy() if int(self._rest_flag[0]) else None

    @rest_joints.setter
    def rest_joints(self, rest: np.ndarray | None) -> None:
        if rest is None:
            self._rest_flag[0] = 0
            return
        rest = np.asarray(rest, np.float32)
        if rest.shape != (NUM_JOINTS, 3):
            raise ValueError(f"rest joints have shape {rest.shape}, expected ({NUM_JOINTS}, 3)")
        self._rest_flag[0] = 0
        self._rest[:] = rest
        self._rest_flag[0] = 1


def _check_header(h: np.void, size: int, path: str, token: bytes) -> None:
    if bytes(h["magic"]) != MAGIC:
        raise StreamError(f"RING: {path} is not a capture ring (bad magic); pass the path made by Ring.create")
    if int(h["version"]) != VERSION:
        raise StreamError(f"RING: {path} has layout version {int(h['version'])}, this side speaks "
                          f"{VERSION}; update the add-on and the engine together")
    if int(h["header_size"]) != HEADER_SIZE or int(h["record_len"]) != FrameLayout(int(h["num_expression"])).record_len:
        raise StreamError(f"RING: {path} has an unexpected header or record size; update the add-on "
                          "and the engine together")
    slot_size = _slot_dtype(int(h["record_len"])).itemsize
    if int(h["slot_size"]) != slot_size or size < HEADER_SIZE + int(h["slots"]) * slot_size or int(h["slots"]) < 1:
        raise StreamError(f"RING: {path} is truncated or has an inconsistent slot table; start a new session")
    if not hmac.compare_digest(bytes(h["token"]), token):
        raise StreamError(f"RING: the token does not match {path}; pass the token of this session")


# ---------------------------------------------------------------------------------------------
# crash registry
# ---------------------------------------------------------------------------------------------
def _read_registry(registry_file: str | os.PathLike) -> list[str]:
    try:
        text = Path(registry_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def _write_registry(registry_file: str | os.PathLike, paths: list[str]) -> None:
    reg = Path(registry_file)
    reg.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{reg.name}.", dir=reg.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(p + "\n" for p in paths))
        os.replace(tmp, reg)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remember(path: str | os.PathLike, registry_file: str | os.PathLike) -> None:
    """Add a segment path to the registry (call right after :meth:`Ring.create`)."""
    path = os.path.abspath(os.fspath(path))
    paths = _read_registry(registry_file)
    if path not in paths:
        _write_registry(registry_file, paths + [path])


def forget(path: str | os.PathLike, registry_file: str | os.PathLike) -> None:
    """Drop a segment path from the registry (call after :meth:`Ring.unlink`)."""
    path = os.path.abspath(os.fspath(path))
    paths = _read_registry(registry_file)
    if path in paths:
        _write_registry(registry_file, [p for p in paths if p != path])


def _owner_alive(path: str) -> bool:
    """The process that created the segment at ``path`` still runs."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEADER_DTYPE.itemsize)
    except OSError:
        return False
    if len(raw) < HEADER_SIZE:
        return False
    h = np.frombuffer(raw, HEADER_DTYPE, count=1)[0]
    pid = int(h["owner_pid"])
    if bytes(h["magic"]) != MAGIC or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def remove_stale(registry_file: str | os.PathLike) -> list[str]:
    """Unlink the ``smplx_mocap_*`` segments listed in the registry whose creating process is gone
    (left by a crash); returns their paths. Segments of a running creator stay listed."""
    removed, keep = [], []
    for path in _read_registry(registry_file):
        if not os.path.basename(path).startswith(PREFIX):
            continue
        if not os.path.exists(path):
            continue
        if _owner_alive(path):
            keep.append(path)
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError:
            keep.append(path)
    if removed or os.path.exists(registry_file):
        _write_registry(registry_file, keep)
    return removed


def list_segments(directory: str | os.PathLike | None = None) -> list[str]:
    """Paths of every ``smplx_mocap_*`` file in ``directory`` (default: :func:`default_directory`)."""
    d = Path(directory if directory is not None else default_directory())
    return sorted(str(p) for p in d.glob(PREFIX + "*") if p.is_file())
