"""ARKit-52 weights → a target's shape keys, matched by name.

Tolerant of case, separators, side conventions and wrappers: ``eyeBlinkLeft``, ``EyeBlink_L``,
``eyeBlink_L``, ``Eye_Blink_Left``, ``EYE_BLINK_LEFT``, ``blendShape1.eyeBlinkLeft`` (Maya/FBX
blend-shape node prefixes), ``A14_Eye_Blink_Left`` (Character Creator's numbered ARKit set) all
match ``eyeBlinkLeft``. Other names come from ``arkit_aliases.json`` (shipped) and from a user table
(JSON ``{arkit name: shape key}``) that overrides everything. Unmatched names are reported.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from ..core.layout import ARKIT_NAMES
from .presets import read_preset, write_preset
from .profiles import split_name

ALIASES_PATH = Path(__file__).with_name("arkit_aliases.json")
TABLE_FORMAT = "smplx-mocap ARKit shape-key table"
#: A leading code such as CC's ``A25_`` or ``01_``: an index, not part of the name.
_CODE = re.compile(r"^[A-Za-z]?\d{1,3}[_.\-\s]+(?=[A-Za-z])")


class FaceNameError(ValueError):
    """A shape-key table is unusable; the message says which and why, on one line."""


@dataclass
class FaceMatch:
    mapping: dict[str, str]      # ARKit name → shape key name
    unmatched: list[str]         # ARKit names with no shape key (ARKit order)
    unused_keys: list[str]       # the target's shape keys no ARKit name drives

    def summary(self) -> str:
        return (f"{len(self.mapping)}/{len(ARKIT_NAMES)} ARKit shapes matched to shape keys"
                + (f"; unmatched: {', '.join(self.unmatched)}" if self.unmatched else ""))


def canonical(name: str) -> str:
    """Canonical form of an ARKit or shape-key name: ``"blendShape1.A14_Eye_Blink_Left"`` → ``"eyeblink.l"``."""
    s = re.split(r"[:|]", name.strip())[-1]
    head, dot, tail = s.rpartition(".")
    if dot and len(tail) > 2 and re.search(r"[A-Za-z]{3}", tail):   # a node prefix, not ".L"
        s = tail
    s = _CODE.sub("", s)
    return split_name(s).key


@lru_cache(maxsize=1)
def builtin_aliases() -> dict[str, tuple[str, ...]]:
    """ARKit name → other names (``arkit_aliases.json``)."""
    try:
        data = json.loads(ALIASES_PATH.read_text(encoding="utf-8"))["aliases"]
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise FaceNameError(f"{ALIASES_PATH.name} is missing or broken ({err}): reinstall the extension") from err
    bad = sorted(set(data) - set(ARKIT_NAMES))
    if bad:
        raise FaceNameError(f"{ALIASES_PATH.name}: {bad[0]!r} is not an ARKit blendshape name")
    return {k: tuple(v) for k, v in data.items()}


def match_shape_keys(shape_keys: Sequence[str], table: Mapping[str, str] | None = None) -> FaceMatch:
    """Match the 52 ARKit names to ``shape_keys`` (a mesh's shape-key names, Basis included or not).

    ``table`` (ARKit name → shape key, e.g. from :func:`load_table`) wins over name matching; an
    entry naming a key the mesh lacks leaves that ARKit name unmatched. Each key drives at most one
    ARKit name (the first in ARKit order that claims it).
    """
    table = validate_table(table or {})
    keys = list(dict.fromkeys(shape_keys))
    by_canon: dict[str, str] = {}
    for k in keys:
        by_canon.setdefault(canonical(k), k)
    aliases = builtin_aliases()
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for name in ARKIT_NAMES:
        if name in table:
            if table[name] in keys:
                mapping[name] = table[name]
                used.add(table[name])
            continue
        for candidate in (name, *aliases.get(name, ())):
            key = by_canon.get(canonical(candidate))
            if key is not None and key not in used and key not in table.values():
                mapping[name] = key
                used.add(key)
                break
    return FaceMatch(mapping, [n for n in ARKIT_NAMES if n not in mapping], [k for k in keys if k not in used])


def validate_table(table: Mapping, where: str = "ARKit table") -> dict[str, str]:
    if not isinstance(table, Mapping):
        raise FaceNameError(f"{where}: expected an object of ARKit name → shape key name")
    bad = sorted(set(table) - set(ARKIT_NAMES))
    if bad:
        raise FaceNameError(f"{where}: {bad[0]!r} is not an ARKit blendshape name (e.g. 'eyeBlinkLeft')")
    for k, v in table.items():
        if not isinstance(v, str) or not v:
            raise FaceNameError(f"{where}: {k!r} must name one shape key, got {v!r}")
    return dict(table)


def save_table(path: str | Path, mapping: Mapping[str, str]) -> Path:
    """Write an ARKit → shape-key table the user can edit and share."""
    doc = {"format": TABLE_FORMAT, "version": 1, "shape_keys": validate_table(mapping)}
    return write_preset(path, doc, "the ARKit table", FaceNameError)


def load_table(path: str | Path) -> dict[str, str]:
    """Read a table written by :func:`save_table` (or a plain ARKit → key object); one-line errors."""
    data = read_preset(path, "ARKit table", TABLE_FORMAT, "shape_keys", FaceNameError)
    return validate_table(data, where=f"ARKit table {Path(path).name}")
