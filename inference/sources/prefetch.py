"""Decode ahead: a source's frames read in a thread of their own, a bounded number ahead of the
consumer, so that decoding (OpenCV/FFmpeg release the GIL) overlaps detection in a bake instead of
adding to it. Memory stays bounded (``depth`` frames: 16 × 2.7 MB at 720p). The consumer may stop
at any time; the decoding thread is joined before the source is closed, and an error in decoding
reaches the consumer as raised there.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


class Prefetch(Iterator[T]):
    """Iterate ``items`` (frames) up to ``depth`` ahead in a daemon thread. Use as a context
    manager (or call :meth:`close`) so the thread ends before the source it reads is closed."""

    def __init__(self, items: Iterable[T], depth: int = 16):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iter(items),), name="decode-ahead", daemon=True)
        self._done = False
        self._thread.start()

    def _put(self, item) -> bool:
        """Queue ``item`` unless the consumer stopped; False when it did."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
        except BaseException as exc:   # handed to the consumer, raised in its thread
            self._put(exc)
            return
        self._put(_END)

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return item

    def close(self) -> None:
        """Stop decoding and wait for the thread (it finishes the frame it is reading)."""
        self._done = True
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> "Prefetch[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
