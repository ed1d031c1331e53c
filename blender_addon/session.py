"""One capture session seen from Blender: the worker child process and the ring it writes.

Blender creates the shared-memory ring (and is the only side that unlinks it), starts the worker
from an argument list (no shell) in the engine's own Python, and polls both every tick. Nothing
here touches bpy data: :mod:`.pump` turns what is read into pose bones and keyframes.

Lifecycle: the child exits when its stdin closes, so a Blender that dies takes the worker with it;
a segment left by a crash is listed in ``segments.txt`` in the extension's user folder and removed at
the next start; ``shutdown()`` (unregister, file load, quit) stops the child and unlinks the memory.
This module does not know about the pump: the registration module stops the live link first.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .runtime import MODELS_DIRNAME, numba_cache_dir
from ..inference.core.files import partial_files
from ..inference.core.layout import NUM_EXPRESSION
from ..inference.core.skeleton import DEFAULT_REST
from ..inference.detect.onnx.store import MODELS_ENV
from ..inference.stream.record import FrameLayout
from ..inference.stream.registry import forget, remember, remove_stale
from ..inference.stream.ring import Ring

#: Folder that holds ``inference/`` (the installed extension, or the repository).
EXTENSION_ROOT = Path(__file__).resolve().parents[1]
#: A worker whose heartbeat is older than this is reported as stalled.
HEARTBEAT_TIMEOUT_S = 5.0
#: The bundled MediaPipe detector has no GPU path: asked for the GPU, the worker runs on the CPU.
GPU_NOTE = "GPU not available for the MediaPipe detector: running on the CPU"
RING_SLOTS = {"live": 8, "bake": 256, "resolve": 8}


class SessionError(RuntimeError):
    """A session could not start; the message is one line that says what to do."""


@dataclass
class Status:
    """What the status line shows."""

    state: str = "idle"              # idle, starting, running, done, failed, stopped
    fps: float = 0.0
    latency_ms: float = 0.0
    received: int = 0
    dropped: int = 0
    progress: tuple[int, int] = (0, 0)
    last_error: str = ""
    note: str = ""                   # what the user should know that is not an error (e.g. no GPU)
    notice: str = ""                 # what the worker says it is busy with (e.g. compiling)
    mode: str = ""                   # live, bake, resolve: latency means something for live only

    def line(self) -> str:
        if self.state == "idle":
            return "idle" + (f" — last error: {self.last_error}" if self.last_error else "")
        done, total = self.progress
        parts = [self.state, f"{self.fps:.1f} fps"]
        if self.mode == "live":
            parts.append(f"{self.latency_ms:.0f} ms")
        parts.append(f"dropped {self.dropped}")
        if total:
            parts.append(f"{done}/{total}")
        for text in (self.notice, self.note, self.last_error):
            if text:
                parts.append(text)
        return " · ".join(parts)


@dataclass
class WorkerOptions:
    """What the worker is asked to do (mirrors ``python -m inference.app.worker``'s arguments)."""

    mode: str                         # live, bake, resolve
    source: str = ""
    model: str = ""
    fov: float = 60.0
    hands: bool = True
    face: bool = True
    smoothing: float = 0.5
    loop: bool = False
    detections: str = ""
    out: str = ""
    device: str = "auto"
    detector: str = "mediapipe"       # mediapipe or onnx
    max_frames: int = 0
    start_frame: int = 0              # frames skipped at the start (a trim)

    def argv(self, ring: Ring) -> list[str]:
        a = ["-m", "inference.app.worker", "--ring", str(ring.path), "--token", ring.token_hex,
             "--mode", self.mode, "--smoothing", repr(float(self.smoothing)), "--fov", repr(float(self.fov)),
             "--device", self.device.lower(), "--detector", self.detector.lower()]
        if self.source:
            a += ["--source", self.source]
        for flag, value in (("--model", self.model), ("--detections", self.detections), ("--out", self.out)):
            if value:
                a += [flag, value]
        if not self.hands:
            a.append("--no-hands")
        if not self.face:
            a.append("--no-face")
        if self.loop:
            a.append("--loop")
        if self.max_frames:
            a += ["--max-frames", str(int(self.max_frames))]
        if self.start_frame:
            a += ["--start-frame", str(int(self.start_frame))]
        return a


@dataclass
class WorkerSession:
    """A running worker + its ring. Create with :func:`start`; always end with :meth:`stop`."""

    options: WorkerOptions
    ring: Ring
    process: subprocess.Popen
    log_path: Path
    registry: Path
    started: float = field(default_factory=time.monotonic)
    status: Status = field(default_factory=Status)
    _last_live_id: int = -1
    _closed: bool = False

    # ---------------------------------------------------------------------------------- polling
    def poll(self) -> Status:
        """Refresh :attr:`status` from the ring header and the child's exit code (cheap: every tick)."""
        st = self.status
        if self._closed:
            return st
        state = self.ring.state_name()
        st.fps = self.ring.fps
        st.progress = self.ring.progress
        st.notice = self.ring.notice
        code = self.process.poll()
        if code is not None and state not in ("done", "stopped"):
            state = "failed"
            st.last_error = self.ring.error or self.log_tail(1) or f"worker exited with code {code}"
            if code < 0:
                st.last_error = f"worker was killed (signal {-code})" + (f": {st.last_error}"
                                                                         if self.ring.error else "")
        elif code is None and state == "running" and self.ring.heartbeat_age() > HEARTBEAT_TIMEOUT_S:
            st.last_error = f"worker stalled: no heartbeat for {self.ring.heartbeat_age():.0f} s"
        elif state == "failed":
            st.last_error = self.ring.error or self.log_tail(1)
        st.state = state
        return st

    @property
    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    @property
    def finished(self) -> bool:
        """The worker has ended (done, failed, stopped or died)."""
        return self._closed or self.process.poll() is not None

    def read_latest(self):
        """Newest complete frame not yet shown, or None (live view)."""
        rec = self.ring.read_latest()
        if rec is None or rec.frame_id == self._last_live_id:
            return None
        self._last_live_id = rec.frame_id
        self.status.latency_ms = max(0.0, (time.monotonic() - rec.sent_at) * 1000.0)
        return rec

    def read_new(self):
        """Every frame since the last call, in order: (ids (N,), times (N,), records (N, R))."""
        ids, times, records, dropped = self.ring.read_new()
        self.status.received += len(ids)
        self.status.dropped += int(dropped)
        if len(ids):
            self._last_live_id = int(ids[-1])
            sent = self.ring.last_sent_at()
            if sent:
                self.status.latency_ms = max(0.0, (time.monotonic() - sent) * 1000.0)
        return ids, times, records

    def rest_pelvis(self) -> np.ndarray:
        """(3,) Y-up rest pelvis the streamed ``trans`` refers to (the subject's once the worker has
        measured it, the default skeleton's before)."""
        rest = self.ring.rest_joints
        return np.asarray(rest[0] if rest is not None else DEFAULT_REST[0], np.float64)

    def log_tail(self, lines: int = 5) -> str:
        """The last non-empty lines of the worker's log (its stderr)."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 8192))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        rows = [r.strip() for r in text.splitlines() if r.strip()]
        return "\n".join(rows[-lines:])

    # ---------------------------------------------------------------------------------- stopping
    def request_stop(self) -> None:
        """Ask the worker to finish (it writes what it has and exits)."""
        if self.process.poll() is None and self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.write(b"stop\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the child (stdin closed, then terminate, then kill) and unlink the ring. Idempotent."""
        if self._closed:
            return
        self.poll()
        self.request_stop()
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(1.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(1.0)
        self._closed = True
        for path in (self.options.out, self.options.detections):
            remove_partial_files(path)
        try:
            self.ring.close()
        finally:
            self.ring.unlink()
            forget(self.ring.path, self.registry)
        if self.status.state in ("running", "starting"):
            self.status.state = "stopped"


def remove_partial_files(path: str) -> None:
    """Remove the temporary files a worker killed while writing ``path`` left beside it."""
    if not path:
        return
    for part in partial_files(path):
        try:
            part.unlink()
        except OSError:
            pass


def start(python: str, options: WorkerOptions, user_dir: str | os.PathLike) -> WorkerSession:
    """Create the ring, start the worker and return the session (raises :class:`SessionError`)."""
    if not python or not os.access(python, os.X_OK):
        raise SessionError("no inference runtime: click 'Set up inference runtime' in the add-on's "
                           "Preferences or pick a Python 3.11 interpreter there")
    user = Path(user_dir)
    user.mkdir(parents=True, exist_ok=True)
    registry = user / "segments.txt"
    remove_stale(registry)
    ring = Ring.create(RING_SLOTS.get(options.mode, 8), _layout())
    remember(ring.path, registry)
    log_path = user / "worker.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(EXTENSION_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir(user)))   # the setup compiled the live solver there
    env.setdefault(MODELS_ENV, str(user / MODELS_DIRNAME))          # the ONNX detector's converted models
    for var in ("PYTHONHOME", "PYTHONSTARTUP"):   # Blender's own settings must not leak into the worker
        env.pop(var, None)
    try:
        log = open(log_path, "wb")
        try:
            proc = subprocess.Popen([python, *options.argv(ring)], cwd=str(EXTENSION_ROOT), env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                    close_fds=True)
        finally:
            log.close()
    except OSError as exc:
        ring.close()
        ring.unlink()
        forget(ring.path, registry)
        raise SessionError(f"could not start the worker with '{python}': {exc.strerror or exc}") from None
    sess = WorkerSession(options=options, ring=ring, process=proc, log_path=log_path, registry=registry)
    sess.status.state = "starting"
    sess.status.mode = options.mode
    if options.device.lower() == "gpu" and options.detector.lower() == "mediapipe" and options.mode != "resolve":
        sess.status.note = GPU_NOTE     # the ONNX detector's worker says it in the ring's notice when it must
    return sess


# ---------------------------------------------------------------------------------------------
# the one active session (main thread only)
# ---------------------------------------------------------------------------------------------
_ACTIVE: WorkerSession | None = None
_LAST_STATUS = Status()


def active() -> WorkerSession | None:
    return _ACTIVE


def set_active(sess: WorkerSession | None) -> None:
    global _ACTIVE
    _ACTIVE = sess


def status() -> Status:
    """Status of the active session, or of the last one that ended."""
    return _ACTIVE.status if _ACTIVE is not None else _LAST_STATUS


def start_failed(message: str) -> None:
    """A start that failed: the status line shows this error, not the last session's."""
    global _LAST_STATUS
    _LAST_STATUS = Status(last_error=message)


def forget_finished() -> None:
    """Undo / redo: what the last finished session said (e.g. "done 75/75") may describe work that
    is no longer in the file, so the status line goes back to idle. A running session is untouched."""
    global _LAST_STATUS
    if _ACTIVE is None:
        _LAST_STATUS = Status()


def end_active() -> Status:
    """Stop the active session (if any) and keep its final status for the panel."""
    global _ACTIVE, _LAST_STATUS
    sess, _ACTIVE = _ACTIVE, None
    if sess is not None:
        sess.stop()
        _LAST_STATUS = sess.status
    return _LAST_STATUS


def shutdown() -> None:
    """Unregister / file load / quit: stop the worker and unlink the memory; never raises.

    The caller ends the pump's live link first (``blender_addon.shutdown_session``); at interpreter
    exit only this runs, which is enough: the worker and the memory belong to the session.
    """
    global _LAST_STATUS
    try:
        end_active()
    except Exception:  # noqa: BLE001
        pass
    _LAST_STATUS = Status()   # a new file / a re-enabled add-on starts idle


# Quitting Blender does not unregister add-ons: stop the worker and unlink the ring at exit too
# (the worker would also exit on its own when its stdin closes).
atexit.register(shutdown)


_LAYOUTS: dict[int, FrameLayout] = {}


def _layout(num_expression: int = NUM_EXPRESSION) -> FrameLayout:
    layout = _LAYOUTS.get(num_expression)
    if layout is None:
        layout = _LAYOUTS[num_expression] = FrameLayout(num_expression=num_expression)
    return layout


def records_to_arrays(records: np.ndarray, num_expression: int = NUM_EXPRESSION) -> dict[str, np.ndarray]:
    """(N, R) float32 ring records → quat (N, 55, 4) x, y, z, w, trans (N, 3), expression, arkit,
    part_valid."""
    return _layout(num_expression).unpack_many(records)


def part_valid_column(part: int, num_expression: int = NUM_EXPRESSION) -> int:
    """Column of a ring record holding ``part_valid[part]`` (``part``: ``layout.PART_BODY`` …)."""
    sl = _layout(num_expression).slices["part_valid"]
    return sl.start + part
