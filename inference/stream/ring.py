"""The shared-memory ring between the inference worker (producer) and Blender (consumer).

One producer, one consumer, one memory-mapped file: on Linux a file in ``/dev/shm`` (tmpfs, real
shared memory), elsewhere in the temporary folder. ``multiprocessing.shared_memory`` is not used:
on Python 3.11 it registers every segment with a resource-tracker process, which unlinks the other
side's segment when either process exits. Here the creating side (Blender) owns the file and is
the only one that unlinks it; the attaching side (the worker) never does. Segment files are named
``smplx_mocap_*`` and their paths are kept in a small registry file, so the ones a crash leaves
behind are removed at the next start (:mod:`.registry`).

Layout of the file (little endian)::

    header  HEADER_SIZE bytes   magic, layout version, sizes, 16-byte session token, creator pid,
                                write count (own cache line), read count (own cache line),
                                producer heartbeat / state / progress / fps, last error line,
                                rest joints (55, 3) float32 + flag, notice line (what the
                                producer is busy with, e.g. compiling, '' when nothing)
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

Only numpy and the standard library are used: Blender imports this module.
"""
from __future__ import annotations
from __future__ import annotations

import enum
import errno
import hmac
import mmap
import os
import secrets
import tempfile
import time

import numpy as np

from ..core.errors import MocapError
from ..core.skeleton import NUM_JOINTS
from .record import FrameLayout, FrameRecord

MAGIC = b"SMPLXMOC"
VERSION = 3
PREFIX = "smplx_mocap_"
HEADER_SIZE = 4096
TOKEN_BYTES = 16
ERROR_BYTES = 512
NOTICE_BYTES = 256
_SLOT_META = 32          # seq, frame id, time, sent-at
_SLOT_ALIGN = 64         # one cache line
_WAIT_S = 0.0005         # poll interval of a blocked writer

HEADER_DTYPE = np.dtype({
    "names": ["magic", "version", "header_size", "slots", "slot_size", "record_len", "num_expression",
              "token", "owner_pid", "write_count", "read_count", "heartbeat", "state", "rest_flag",
              "frames_done", "frames_total", "fps", "error", "rest", "notice"],
    "formats": ["S8", "<u4", "<u4", "<u4", "<u4", "<u4", "<u4",
                ("u1", (TOKEN_BYTES,)), "<i8", "<u8", "<u8", "<f8", "<i4", "<i4",
                "<u8", "<u8", "<f8", ("u1", (ERROR_BYTES,)), ("<f4", (NUM_JOINTS, 3)), ("u1", (NOTICE_BYTES,))],
    "offsets": [0, 8, 12, 16, 20, 24, 28,
                32, 48, 64, 128, 192, 200, 204,
                208, 216, 224, 256, 256 + ERROR_BYTES, 1536],
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
        self._notice = header["notice"][0]
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
                     "_state", "_done", "_total", "_fps", "_err", "_rest", "_rest_flag", "_notice"):
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
        return _get_line(self._err)

    @error.setter
    def error(self, text: str) -> None:
        _put_line(self._err, text)

    @property
    def notice(self) -> str:
        """What the producer is busy with that the user should know, e.g. compiling ('' when nothing)."""
        return _get_line(self._notice)

    @notice.setter
    def notice(self, text: str) -> None:
        _put_line(self._notice, text)

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


def _get_line(area: np.ndarray) -> str:
    return area.tobytes().split(b"\0", 1)[0].decode("utf-8", "replace")


def _put_line(area: np.ndarray, text: str) -> None:
    """Write ``text`` as one line into a zero-terminated byte area, cut at a character boundary."""
    line = " ".join(str(text).split())
    raw = line.encode("utf-8")[:len(area) - 1].decode("utf-8", "ignore").encode("utf-8")
    buf = np.zeros(len(area), np.uint8)
    buf[:len(raw)] = np.frombuffer(raw, np.uint8)
    area[:] = buf


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


