"""The user's JSON presets (bone maps, ARKit → shape-key tables): write one, read one back.

A preset is ``{"format": FORMAT, "version": 1, <key>: {...}, ...}``; a plain object is also read
(the mapping itself). Every failure is one line in the caller's error type.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def write_preset(path: str | Path, doc: dict, what: str, error: type[Exception]) -> Path:
    """Write ``doc`` as indented JSON to ``path``; ``what`` names it in the error ("the bone map")."""
    path = Path(path)
    try:
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise error(f"cannot write {what} {path}: {err.strerror or err}") from err
    return path


def read_preset(path: str | Path, what: str, fmt: str, key: str, error: type[Exception]):
    """The mapping stored under ``key`` of a preset of format ``fmt`` at ``path`` (or the whole
    object when it is a plain mapping without ``key``); ``what`` names it in the errors ("bone map")."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{what} {path} does not exist: choose a saved .json preset") from err
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{what} {path} is not readable: {err}") from err
    except json.JSONDecodeError as err:
        raise error(f"{what} {path.name} is not valid JSON (line {err.lineno}: {err.msg})") from err
    if isinstance(data, Mapping) and key in data:
        if data.get("format", fmt) != fmt:
            raise error(f"{what} {path.name}: format {data.get('format')!r} is not {fmt!r}")
        data = data[key]
    return data
