"""Typed errors. Each message is one line that says what is wrong and what to do.

The CLI turns any :class:`MocapError` into exit code 2 and that line on stderr (no traceback).
"""
from __future__ import annotations


class MocapError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one-line message."""


class InputError(MocapError):
    """The input path, file, camera or folder cannot be used."""


class ModelFileError(MocapError):
    """The SMPL-X model file is missing, pickled, or has a key of the wrong shape or dtype."""


class DetectorError(MocapError):
    """The detector could not be created or run (e.g. a missing dependency)."""
