"""Frame sources: turn an input spec into :class:`inference.core.records.Frame` objects.

In: a spec — a video file path, an image file, a folder of images (played in natural order at an
assumed rate), or ``webcam:N`` (N the camera index). Out: an iterable, closable source of ``Frame``
(3-channel uint8 BGR picture, real timestamp in seconds from the source's own clock, index) with
one-line :class:`~inference.core.errors.InputError` for unusable inputs. Start with
:mod:`inference.sources.open` (``open_source``), which decides what a spec is and hands it to
:mod:`.video`, :mod:`.images` or :mod:`.webcam`; what they share lives in :mod:`.base`.
"""
