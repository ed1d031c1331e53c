"""Decoding ahead in a thread (inference/sources/prefetch.py): the same frames in the same order as
reading the source directly, never more than ``depth`` ahead, a consumer that stops early ends the
thread before the source is closed, and a decoding error reaches the consumer."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from data_paths import MEGAMIND

from inference.core.errors import InputError
from inference.sources.open import open_source
from inference.sources.prefetch import Prefetch


def test_the_same_frames_in_the_same_order():
    with open_source(str(MEGAMIND)) as src:
        direct = [(f.index, f.time, f.image.copy()) for _, f in zip(range(40), src)]
    with open_source(str(MEGAMIND)) as src, Prefetch(iter(src), depth=4) as ahead:
        fetched = [(f.index, f.time, f.image) for _, f in zip(range(40), ahead)]
    assert [d[:2] for d in direct] == [f[:2] for f in fetched]
    assert all(np.array_equal(d[2], f[2]) for d, f in zip(direct, fetched))


def test_never_more_than_depth_ahead_and_an_early_stop_ends_the_thread():
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield i

    ahead = Prefetch(source(), depth=3)
    assert next(ahead) == 0
    time.sleep(0.3)                             # the thread fills the queue, then waits
    assert len(pulled) <= 1 + 3 + 1             # taken + queued + the one waiting to be queued
    ahead.close()
    assert not any(t.name == "decode-ahead" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(StopIteration):
        next(ahead)


def test_a_decoding_error_reaches_the_consumer_after_the_frames_before_it():
    def broken():
        yield from range(3)
        raise InputError("video.mp4: frame 3 cannot be decoded: re-encode it")

    with Prefetch(broken(), depth=8) as ahead:
        got = []
        with pytest.raises(InputError, match="frame 3 cannot be decoded"):
            for item in ahead:
                got.append(item)
    assert got == [0, 1, 2]
