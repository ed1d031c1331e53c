"""Rig profiles: which target bones carry which SMPL-X joints, found automatically from bone names.

A bone map is ``dict[str, list[str]]``: SMPL-X joint name (core.skeleton.JOINT_NAMES) → target bone
names in chain order (several bones = the joint's rotation spread over them, e.g. a 5-bone spine;
one bone under several joints = merged); a missing or empty entry = unmapped.

Built-in profiles are the JSON files in ``profiles/`` (one rig family each). Names are compared in a
canonical form (:func:`normalise`), so ``mixamorig1:LeftArm``, ``DEF-upper_arm.L``, ``upperarm_l``,
``L_Hip`` and ``J_Bip_L_UpperArm`` match whatever prefix, case, separators and side convention a rig
uses. :func:`detect` scores every profile against a rig (names and hierarchy) and returns the best
with its map; below :data:`DETECT_THRESHOLD` it falls back to :func:`guess_map`, a map built from the
rig's structure for the user to finish. Maps are shared as JSON presets (:func:`save_map`, :func:`load_map`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..core.skeleton import BODY_JOINTS as _BODY, JOINT_NAMES, PARENTS
from .presets import read_preset, write_preset

PROFILE_DIR = Path(__file__).with_name("profiles")
BODY_JOINTS: tuple[str, ...] = tuple(JOINT_NAMES[i] for i in _BODY)
#: face_bones keys of a profile → the SMPL-X joint they carry.
FACE_JOINTS = {"jaw": "jaw", "left_eye": "left_eye_smplhf", "right_eye": "right_eye_smplhf"}
#: A detection below this score is not trusted: the map is guessed from the rig's structure instead.
DETECT_THRESHOLD = 0.7
#: The score never drops below this share for bone-set disagreement alone (extra face or prop bones
#: are normal); the rest rewards a rig whose whole bone set matches the profile's (tie-breaks between
#: families with the same core names, e.g. UE4 and MakeHuman's game-engine rig).
AGREEMENT_FLOOR = 0.9
#: Prefixes that mark a copy of a bone rather than another bone (Rigify's deform and original
#: bones). MCH- (mechanism) is deliberately not here: those bones are never animated by hand.
COPY_PREFIXES = ("DEF", "ORG")
#: Weight of a name found only through a stripped copy prefix: on a generated Rigify rig the FK
#: controls (no prefix) then beat the DEF bones, which follow constraints and cannot take keys.
PREFIX_WEIGHT = {"": 1.0, "DEF": 0.9, "ORG": 0.8}
DEFAULT_PREFIX_ORDER = ("", "DEF", "ORG")
#: Words that mark helper bones a guessed map leaves alone (twist, corrective, IK, end bones).
HELPER_WORDS = ("twist", "share", "roll", "helper", "corrective", "ik", "pole", "target", "end", "tip",
                "nub", "null", "mch", "adj", "sec")
MAP_FORMAT = "smplx-mocap bone map"
#: The profile name a detection carries when the user's own map was applied.
USER_MAP = "your map"
#: The centre chain, whose bone count tells rig families apart (UE4's 3-bone spine, UE5's 5).
TORSO_JOINTS = ("pelvis", "spine1", "spine2", "spine3", "neck", "head")
#: Score lost per unknown torso bone, as a share of all mapped bones.
GAP_WEIGHT = 0.5


class ProfileError(ValueError):
    """A profile or bone-map file is unusable; the message says which and why, on one line."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    bones: dict[str, tuple[str, ...]]     # SMPL-X joint → target names (jaw/eyes folded in)
    fingers: bool
    other_bones: tuple[str, ...] = ()     # the family's known unmapped bones (twist, IK, end, root)
    prefix_order: tuple[str, ...] = DEFAULT_PREFIX_ORDER
    loose_hierarchy: bool = False         # control rigs parent through mechanism bones
    known: frozenset[str] = field(init=False, repr=False, compare=False)  # canonical names of all its bones

    def __post_init__(self):
        names = [n for chain in self.bones.values() for n in chain] + list(self.other_bones)
        object.__setattr__(self, "known", frozenset(normalise(n) for n in names))


@dataclass
class Detection:
    """What :func:`detect` found. ``profile`` is None when the map was guessed."""
    profile: str | None
    score: float                                          # 0..1, how sure
    bone_map: dict[str, list[str]]
    unmapped_target_bones: list[str]
    unmapped_smplx_joints: list[str]
    candidates: list[tuple[str, float]] = field(default_factory=list)   # every profile, best first

    @property
    def guessed(self) -> bool:
        return self.profile is None

    def summary(self) -> str:
        """One line for the panel and the report."""
        best = self.candidates[0] if self.candidates else ("none", 0.0)
        head = (f"rig profile {self.profile} ({self.score:.0%} sure)" if self.profile else
                f"no rig profile fits (best {best[0]} {best[1]:.0%}): map guessed from the hierarchy, check it")
        return (f"{head}; {len(self.unmapped_target_bones)} target bones unmapped, "
                f"{len(self.unmapped_smplx_joints)} SMPL-X joints without a bone")


# --- names ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NameParts:
    prefix: str   # "", "DEF" or "ORG"
    core: str     # lower case letters and digits only
    side: str     # "", "l" or "r"

    @property
    def key(self) -> str:
        return f"{self.core}.{self.side}" if self.side else self.core


_SEP = r"[._\-\s]"
_MIXAMO = re.compile(r"^mixamorig\d*[:_]?", re.I)
_COPY = re.compile(r"^(DEF|ORG)[-_.]", re.I)
_SUFFIX = re.compile(rf"{_SEP}(l|r|left|right)((?:{_SEP}\d+)*)$", re.I)
_INFIX = re.compile(rf"{_SEP}(l|r|left|right){_SEP}", re.I)
_LONG_PREFIX = re.compile(rf"^([Ll]eft|[Rr]ight|LEFT|RIGHT)(?=[A-Z0-9]|{_SEP}|$)")
_SHORT_PREFIX = re.compile(rf"^([lrLR])(?:{_SEP}+|(?=[A-Z][a-z]))")
_CAMEL = re.compile(r"(?<=[a-z0-9])(Left|Right)(?=[A-Z0-9._\-\s]|$)")


def split_name_raw(name: str) -> str:
    """The name without namespace and Mixamo prefix (kept otherwise as written)."""
    return _MIXAMO.sub("", re.split(r"[:|]", name.strip())[-1])


@lru_cache(maxsize=16384)
def split_name(name: str) -> NameParts:
    """A bone (or shape-key) name → prefix, canonical core and side.

    Strips namespaces (``a:b``, ``a|b``), Mixamo prefixes (``mixamorig:``, ``mixamorig1:``,
    ``mixamorig_``) and the copy prefixes ``DEF-`` / ``ORG-``; reads the side from ``.L``/``_r``/``.L.001``,
    ``_L_`` infixes (``J_Bip_L_Hand``, ``CC_Base_L_Thigh``, ``Bip01 L Thigh``), ``Left``/``left_``
    prefixes, ``L_``/``l_``/``lThigh`` prefixes and camel-case ``...Left`` suffixes; the core is what
    remains, lower case, separators dropped.
    """
    s = split_name_raw(name)
    prefix = ""
    m = _COPY.match(s)
    if m:
        prefix, s = m.group(1).upper(), s[m.end():]
    side = ""
    for pattern, repl in ((_SUFFIX, r"\2"), (_INFIX, "_"), (_LONG_PREFIX, ""), (_SHORT_PREFIX, ""),
                          (_CAMEL, "")):
        m = pattern.search(s)
        if m and re.sub(_SEP, "", s[:m.start()] + s[m.end():]):
            side = m.group(1)[0].lower()
            s = s[:m.start()] + m.expand(repl) + s[m.end():]
            break
    return NameParts(prefix, re.sub(r"[^a-z0-9]", "", s.lower()), side)


def normalise(name: str) -> str:
    """Canonical form of a bone name: ``"mixamorig1:LeftForeArm"`` → ``"forearm.l"``,
    ``"DEF-upper_arm.L.001"`` → ``"upperarm001.l"``, ``"J_Bip_C_Hips"`` → ``"jbipchips"``."""
    return split_name(name).key


# --- profiles ------------------------------------------------------------------------------------
def _str_list(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(f"{where}: expected a list of bone names, got {value!r}")
    return tuple(value)


def parse_profile(data: Mapping, where: str = "profile") -> Profile:
    """A profile's JSON object → :class:`Profile` (validated; one-line errors)."""
    if not isinstance(data, Mapping):
        raise ProfileError(f"{where}: expected a JSON object")
    for key in ("name", "description", "bones", "fingers"):
        if key not in data:
            raise ProfileError(f"{where}: missing key {key!r}")
    if not isinstance(data["bones"], Mapping):
        raise ProfileError(f"{where}: 'bones' must map SMPL-X joint names to lists of bone names")
    unknown = sorted(set(data["bones"]) - set(JOINT_NAMES))
    if unknown:
        raise ProfileError(f"{where}: {unknown[0]!r} is not an SMPL-X joint name (see core/skeleton.JOINT_NAMES)")
    bones = {j: _str_list(v, f"{where}: bones[{j!r}]") if v else () for j, v in data["bones"].items()}
    face = data.get("face_bones") or {}
    bad = sorted(set(face) - set(FACE_JOINTS))
    if bad:
        raise ProfileError(f"{where}: face_bones key {bad[0]!r} is not one of {sorted(FACE_JOINTS)}")
    for key, bone in face.items():
        bones[FACE_JOINTS[key]] = _str_list(bone, f"{where}: face_bones[{key!r}]")
    order = tuple(p.upper() for p in data.get("prefix_order", DEFAULT_PREFIX_ORDER))
    if set(order) != set(DEFAULT_PREFIX_ORDER):
        raise ProfileError(f"{where}: prefix_order must order exactly {list(DEFAULT_PREFIX_ORDER)}")
    return Profile(name=str(data["name"]), description=str(data["description"]),
                   bones={j: bones[j] for j in JOINT_NAMES if bones.get(j)}, fingers=bool(data["fingers"]),
                   other_bones=_str_list(data.get("other_bones", []), f"{where}: other_bones")
                   if data.get("other_bones") else (),
                   prefix_order=order, loose_hierarchy=data.get("hierarchy") == "loose")


@lru_cache(maxsize=1)
def load_profiles() -> dict[str, Profile]:
    """Every built-in profile by name (``profiles/*.json``)."""
    out = {}
    for path in sorted(PROFILE_DIR.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ProfileError(f"profile {path.name}: not readable JSON ({err})") from err
        prof = parse_profile(data, f"profile {path.name}")
        if prof.name != path.stem:
            raise ProfileError(f"profile {path.name}: its name {prof.name!r} must equal the file name")
        out[prof.name] = prof
    if not out:
        raise ProfileError(f"no rig profiles in {PROFILE_DIR}: the extension is incomplete, reinstall it")
    return out


def get_profile(name: str) -> Profile:
    profiles = load_profiles()
    if name not in profiles:
        raise ProfileError(f"unknown rig profile {name!r}; built-in: {', '.join(profiles)}")
    return profiles[name]


# --- matching a profile to a rig -----------------------------------------------------------------
@dataclass(frozen=True)
class _Rig:
    names: tuple[str, ...]
    parent: dict[str, str | None]
    by_key: dict[str, tuple[tuple[str, str], ...]]   # canonical key → ((prefix, bone name), ...)

    def ancestors(self, bone: str) -> list[str]:
        out, seen = [], {bone}
        p = self.parent.get(bone)
        while p and p not in seen:
            out.append(p)
            seen.add(p)
            p = self.parent.get(p)
        return out


def _rig(bone_names: Sequence[str], parent_names: Sequence[str | None]) -> _Rig:
    if len(bone_names) != len(parent_names):
        raise ProfileError(f"{len(bone_names)} bone names but {len(parent_names)} parents: give one parent "
                           "(or None) per bone")
    names = tuple(bone_names)
    by_key: dict[str, list[tuple[str, str]]] = {}
    for n in names:
        parts = split_name(n)
        by_key.setdefault(parts.key, []).append((parts.prefix, n))
    return _Rig(names, {n: (p or None) for n, p in zip(names, parent_names)},
                {k: tuple(v) for k, v in by_key.items()})


def _find(rig: _Rig, profile: Profile, name: str) -> tuple[str, str] | None:
    """The rig bone a profile name points at, as (prefix, bone), preferring the profile's prefix order."""
    found = rig.by_key.get(normalise(name))
    if not found:
        return None
    return min(found, key=lambda pb: profile.prefix_order.index(pb[0]))


def _fit_spine(bone_map: dict[str, list[str]], rig: _Rig) -> None:
    """Neck-chain bones that carry the arms belong to the chest (e.g. MPFB's 5-bone Rigify torso)."""
    arm_roots = [c[0] for j in ("left_collar", "right_collar", "left_shoulder", "right_shoulder")
                 for c in [bone_map.get(j)] if c]
    neck = bone_map.get("neck", [])
    if not arm_roots or not neck:
        return
    carries = [b for b in neck if all(b in rig.ancestors(a) for a in arm_roots[:2])]
    if carries and len(carries) < len(neck):
        bone_map["neck"] = [b for b in neck if b not in carries]
        bone_map["spine3"] = [b for b in bone_map.get("spine3", []) if b not in carries] + carries


def _apply(profile: Profile, rig: _Rig) -> tuple[dict[str, list[str]], dict[str, float]]:
    """The profile's map on this rig (found bones only) and each joint's match quality (0..1)."""
    bone_map, quality = {}, {}
    for joint, chain in profile.bones.items():
        hits = [_find(rig, profile, n) for n in chain]
        found = [h for h in hits if h]
        if found:
            bone_map[joint] = list(dict.fromkeys(b for _, b in found))
        quality[joint] = (len(found) / len(chain)) * (
            float(np.mean([PREFIX_WEIGHT[p] for p, _ in found])) if found else 0.0)
    _fit_spine(bone_map, rig)
    return bone_map, quality


def hierarchy_consistency(bone_map: Mapping[str, Sequence[str]], bone_names: Sequence[str],
                          parent_names: Sequence[str | None]) -> float:
    """Share (0..1) of mapped bones whose rig ancestors agree with the SMPL-X tree: each chain's
    bones descend from each other, and a joint's first bone descends from (or is, when merged) the
    last bone of its nearest mapped SMPL-X ancestor. 1.0 when nothing can be checked."""
    return _consistency(bone_map, _rig(bone_names, parent_names))


def _consistency(bone_map: Mapping[str, Sequence[str]], rig: _Rig) -> float:
    return _hierarchy(bone_map, rig)[0]


def _between(rig: _Rig, top: str, bone: str) -> list[str] | None:
    """Bones strictly between ``bone`` and its ancestor ``top`` (None when ``top`` is not one)."""
    line = rig.ancestors(bone)
    return line[:line.index(top)] if top in line else None


def _hierarchy(bone_map: Mapping[str, Sequence[str]], rig: _Rig) -> tuple[float, set[str]]:
    """(consistency 0..1, the rig bones lying between mapped bones on the checked paths)."""
    checked = good = 0
    inside: set[str] = set()
    for j, joint in enumerate(JOINT_NAMES):
        chain = list(bone_map.get(joint) or ())
        if not chain:
            continue
        links = list(zip(chain, chain[1:]))
        p = PARENTS[j]
        while p >= 0 and not bone_map.get(JOINT_NAMES[p]):
            p = PARENTS[p]
        if p >= 0:
            links.insert(0, (bone_map[JOINT_NAMES[p]][-1], chain[0]))
        for top, bone in links:
            checked += 1
            if top == bone:             # merged onto the parent joint's bone
                good += 1
                continue
            gap = _between(rig, top, bone)
            if gap is not None:
                good += 1
                inside.update(gap)
    return (good / checked if checked else 1.0), inside


def _agreement(profile: Profile, rig: _Rig) -> float:
    """How well the whole bone sets agree (0..1): the rig's bones the profile knows and the
    profile's bones (mapped, face and known extras) the rig has."""
    known = profile.known
    keys = set(rig.by_key)
    both = len(known & keys)
    return 0.5 * both / max(len(keys), 1) + 0.5 * both / max(len(known), 1)


def score_profile(profile: Profile, bone_names: Sequence[str], parent_names: Sequence[str | None]
                  ) -> tuple[float, dict[str, list[str]]]:
    """(score 0..1, bone map) of one profile on a rig. The score is the body joints' name-match
    quality × the map's hierarchy consistency × (AGREEMENT_FLOOR … 1 by bone-set agreement)."""
    return _score(profile, _rig(bone_names, parent_names))


def _score(profile: Profile, rig: _Rig) -> tuple[float, dict[str, list[str]]]:
    bone_map, quality = _apply(profile, rig)
    body = [quality[j] for j in BODY_JOINTS if j in profile.bones]
    core = float(np.mean(body)) if body else 0.0
    hier = gaps = 1.0
    if not profile.loose_hierarchy:
        hier, inside = _hierarchy(bone_map, rig)
        # torso bones inside the mapped chain that the profile does not know (e.g. UE5's spine_04
        # under a UE4 map) say the family is wrong; limbs (twist segments, hip and palm bones)
        # and bones off the chains (face, props) vary within a family and do not count
        torso = {j: bone_map[j] for j in TORSO_JOINTS if bone_map.get(j)}
        unknown = [b for b in _hierarchy(torso, rig)[1] if normalise(b) not in profile.known]
        mapped = sum(len(c) for c in bone_map.values())
        gaps = 1.0 - GAP_WEIGHT * len(unknown) / max(mapped + len(unknown), 1)
    agree = AGREEMENT_FLOOR + (1.0 - AGREEMENT_FLOOR) * _agreement(profile, rig)
    return core * hier * gaps * agree, bone_map


def _unmapped(bone_map: Mapping[str, Sequence[str]], rig: _Rig) -> tuple[list[str], list[str]]:
    used = {b for chain in bone_map.values() for b in chain}
    return [n for n in rig.names if n not in used], [j for j in JOINT_NAMES if not bone_map.get(j)]


def detect(bone_names: Sequence[str], parent_names: Sequence[str | None],
           heads: np.ndarray | None = None, threshold: float = DETECT_THRESHOLD) -> Detection:
    """Score every built-in profile on a rig and keep the best; below ``threshold`` the map is
    guessed from names and hierarchy (:func:`guess_map`) and ``profile`` is None.

    bone_names: the armature's bone names; parent_names: each bone's parent name (None for a root);
    heads: optional (B, 3) rest head positions (armature space, Blender's +X = the character's left),
    used by the guess for sides the names do not give.
    """
    rig = _rig(bone_names, parent_names)
    if not rig.names:
        raise ProfileError("the armature has no bones: choose a humanoid armature")
    results = sorted(((name, *_score(prof, rig)) for name, prof in load_profiles().items()),
                     key=lambda r: -r[1])
    candidates = [(name, round(score, 4)) for name, score, _ in results]
    name, score, bone_map = results[0]
    if score < threshold:
        name, bone_map = None, guess_map(bone_names, parent_names, heads)
    unmapped_bones, unmapped_joints = _unmapped(bone_map, rig)
    return Detection(name, score, bone_map, unmapped_bones, unmapped_joints, candidates)


def apply_profile(profile: str | Profile, bone_names: Sequence[str], parent_names: Sequence[str | None]
                  ) -> Detection:
    """A chosen profile's map on a rig (the user overrides detection)."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    rig = _rig(bone_names, parent_names)
    score, bone_map = _score(prof, rig)
    unmapped_bones, unmapped_joints = _unmapped(bone_map, rig)
    return Detection(prof.name, score, bone_map, unmapped_bones, unmapped_joints, [(prof.name, round(score, 4))])


def user_map(bone_map: Mapping, bone_names: Sequence[str]) -> Detection:
    """The user's own map (a loaded preset) on a rig, checked against its bones; ``profile`` is
    :data:`USER_MAP`. Raises :class:`ProfileError` when it names a bone the rig does not have."""
    clean = validate_map(bone_map, bone_names)
    unmapped_bones, unmapped_joints = _unmapped(clean, _rig(bone_names, [None] * len(bone_names)))
    return Detection(USER_MAP, 1.0, clean, unmapped_bones, unmapped_joints, [(USER_MAP, 1.0)])

# --- guessing a map from structure ---------------------------------------------------------------
_ROLE_WORDS = (   # role → words of a bone's core (first match wins, most specific first)
    ("hand", ("hand", "wrist", "palm")),
    ("forearm", ("forearm", "lowerarm", "loarm", "elbow")),
    ("upperarm", ("upperarm", "uparm", "shldr", "arm")),
    ("collar", ("clavicle", "collar", "shoulder")),
    ("toe", ("toe", "ball")),
    ("foot", ("foot", "ankle")),
    ("thigh", ("thigh", "upleg", "upperleg")),
    ("shin", ("shin", "calf", "knee", "lowerleg", "loleg", "leg")),
    ("head", ("head", "skull", "cranium")),
    ("neck", ("neck",)),
)
_FINGER_WORDS = {"thumb": ("thumb", "pollex"), "index": ("index", "point", "fore"),
                 "middle": ("middle", "mid"), "ring": ("ring",), "pinky": ("pinky", "little", "pink", "small")}
_ANATOMICAL = ("thumb", "index", "middle", "ring", "pinky")


def _role(core: str) -> str:
    for role, words in _ROLE_WORDS:
        if any(w in core for w in words):
            return role
    return ""


def _is_helper(name: str) -> bool:
    """Twist, IK, end and other helper bones (by the words of the raw name)."""
    words = {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", split_name_raw(name))}
    core = split_name(name).core
    return bool(words & set(HELPER_WORDS)) or any(len(w) > 4 and w in core for w in HELPER_WORDS)


def _path(rig: _Rig, top: str, bottom: str) -> list[str]:
    """Bones from just below ``top`` down to ``bottom`` (top excluded)."""
    chain = [bottom] + rig.ancestors(bottom)
    return list(reversed(chain[:chain.index(top)])) if top in chain else [bottom]


def _lca(rig: _Rig, bones: Sequence[str]) -> str | None:
    common = None
    for b in bones:
        line = [b] + rig.ancestors(b)
        common = line if common is None else [x for x in common if x in line]
    return common[0] if common else None


def _limb_end(rig: _Rig, side: str, role: str, sides: dict[str, str]) -> str | None:
    """The topmost bone of a role on a side (e.g. the left hand), helpers excluded."""
    hits = [n for n in rig.names if sides[n] == side and _role(split_name(n).core) == role
            and not _is_helper(n)]
    return min(hits, key=lambda n: len(rig.ancestors(n))) if hits else None


def _assign(chain: list[str], roles: Sequence[str]) -> dict[str, list[str]]:
    """Split a limb chain (top → end) into roles by names, else by position from the end."""
    named = {r: [b for b in chain if _role(split_name(b).core) == r and not _is_helper(b)]
             for r in roles}
    if all(named.values()):
        return {r: named[r][:1] for r in roles}
    plain = [b for b in chain if not _is_helper(b)]
    tail = plain[-len(roles):]
    return {r: [b] for r, b in zip(roles[len(roles) - len(tail):], tail)}


def _fingers(rig: _Rig, hand: str, children: dict[str, list[str]]) -> dict[str, list[str]]:
    """finger → its three bones under a hand, by names (thumb, index, ...; finger1..5) or order."""
    chains = []
    for c in children.get(hand, []):
        chain, b = [], c
        while b is not None:
            if not _is_helper(b):
                chain.append(b)
            kids = [k for k in children.get(b, []) if not _is_helper(k)]
            b = kids[0] if len(kids) == 1 else None
            if len(kids) > 1:   # a palm bone carrying several fingers: look below it
                chains.extend(_fingers(rig, chain[-1], children).values())
                chain = []
                break
        if len(chain) >= 3:
            chains.append(chain[-3:])
    out: dict[str, list[str]] = {}
    digits = {}
    for chain in chains:
        core = split_name(chain[-1]).core
        named = next((f for f in _ANATOMICAL if any(w in core for w in _FINGER_WORDS[f])), None)
        if named and named not in out:
            out[named] = chain
            continue
        m = re.search(r"(?:finger|digit|f)(\d)", core)
        if m:
            digits[int(m.group(1))] = chain
    base = 0 if 0 in digits else 1
    for d, chain in digits.items():
        if 0 <= d - base < 5 and _ANATOMICAL[d - base] not in out:
            out[_ANATOMICAL[d - base]] = chain
    rest = [c for c in chains if c not in out.values()]
    for f in _ANATOMICAL:
        if f not in out and rest:
            out[f] = rest.pop(0)
    return out


def _head(rig: _Rig, chest: str, sides: dict[str, str], children: dict[str, list[str]]) -> str | None:
    """The head: a centre bone named head/skull under the chest, else the centre chain above the
    chest followed down to where it branches into the face (the bone before the branching one)."""
    named = [b for b in rig.names if not sides[b] and _role(split_name(b).core) == "head"
             and chest in rig.ancestors(b) and not _is_helper(b)]
    if named:
        return min(named, key=lambda b: len(rig.ancestors(b)))
    size = dict.fromkeys(rig.names, 0)           # descendants of each bone
    for n in rig.names:
        for a in rig.ancestors(n):
            size[a] = size.get(a, 0) + 1
    chain, b = [], chest
    while True:
        centre = [c for c in children.get(b, []) if not sides[c] and not _is_helper(c)]
        if not centre:
            break
        b = max(centre, key=lambda c: size[c])
        chain.append(b)
        if len(children.get(b, [])) >= 3:
            break
    if not chain:
        return None
    return chain[-2] if len(chain) >= 2 and len(children.get(chain[-1], [])) >= 3 else chain[-1]


def guess_map(bone_names: Sequence[str], parent_names: Sequence[str | None],
              heads: np.ndarray | None = None) -> dict[str, list[str]]:
    """A starting map for a rig no profile fits, from names and hierarchy; the user finishes it.

    Hands and feet are found by name (hand/wrist, foot/ankle) on each side (side from the name,
    else from ``heads`` x: +X = left); the pelvis is the lowest common ancestor of all four, the
    chest that of the hands; the spine is the path between them (spread over spine1..3), neck and
    head lie on the path to a "head" bone; each limb's path is split into its parts by names, else
    by position; three-bone finger chains under each hand go by name, number or order.
    """
    rig = _rig(bone_names, parent_names)
    sides = {n: split_name(n).side for n in rig.names}
    if heads is not None:
        heads = np.asarray(heads, float).reshape(len(rig.names), 3)
        for n, h in zip(rig.names, heads):
            if not sides[n] and abs(h[0]) > 1e-3 and _role(split_name(n).core):
                sides[n] = "l" if h[0] > 0 else "r"
    children: dict[str, list[str]] = {}
    for n in rig.names:
        if rig.parent[n]:
            children.setdefault(rig.parent[n], []).append(n)
    ends = {(s, r): _limb_end(rig, s, r, sides) for s in "lr" for r in ("hand", "foot")}
    bone_map: dict[str, list[str]] = {}
    if not all(ends.values()):
        return bone_map
    hands = [ends["l", "hand"], ends["r", "hand"]]
    pelvis = _lca(rig, hands + [ends["l", "foot"], ends["r", "foot"]])
    chest = _lca(rig, hands)
    if pelvis is None or chest is None:
        return bone_map
    bone_map["pelvis"] = [pelvis]
    spine = [b for b in _path(rig, pelvis, chest) if not _is_helper(b)] if chest != pelvis else []
    if spine:
        n = len(spine)
        cuts = [0, max(1, round(n / 3)), max(1, round(2 * n / 3)), n]
        for k, joint in enumerate(("spine1", "spine2", "spine3")):
            part = spine[cuts[k]:cuts[k + 1]] or [spine[min(cuts[k], n - 1)]]
            bone_map[joint] = part
    head = _head(rig, chest, sides, children)
    if head:
        bone_map["head"] = [head]
        neck = [b for b in _path(rig, chest, head)[:-1] if not _is_helper(b)]
        if neck:
            bone_map["neck"] = neck
        below = [b for b in rig.names if head in rig.ancestors(b) and not _is_helper(b)]
        jaw = [b for b in below if not sides[b] and "jaw" in split_name(b).core]
        if jaw:
            bone_map["jaw"] = [min(jaw, key=lambda b: len(rig.ancestors(b)))]
        for s, joint in (("l", "left_eye_smplhf"), ("r", "right_eye_smplhf")):
            eyes = [b for b in below if sides[b] == s and split_name(b).core.endswith("eye")]
            if eyes:
                bone_map[joint] = [min(eyes, key=lambda b: len(rig.ancestors(b)))]
    for s, side in (("l", "left"), ("r", "right")):
        arm = _assign(_path(rig, chest, ends[s, "hand"]), ("collar", "upperarm", "forearm", "hand"))
        for role, joint in (("collar", "collar"), ("upperarm", "shoulder"), ("forearm", "elbow"), ("hand", "wrist")):
            if arm.get(role):
                bone_map[f"{side}_{joint}"] = arm[role]
        leg = _assign(_path(rig, pelvis, ends[s, "foot"]), ("thigh", "shin", "foot"))
        for role, joint in (("thigh", "hip"), ("shin", "knee"), ("foot", "ankle")):
            if leg.get(role):
                bone_map[f"{side}_{joint}"] = leg[role]
        toes = [c for c in children.get(ends[s, "foot"], []) if not _is_helper(c)]
        named = [c for c in toes if _role(split_name(c).core) == "toe"]
        if named or len(toes) == 1:
            bone_map[f"{side}_foot"] = (named or toes)[:1]
        for finger, chain in _fingers(rig, ends[s, "hand"], children).items():
            for k, bone in enumerate(chain, start=1):
                bone_map[f"{side}_{finger}{k}"] = [bone]
    return {j: bone_map[j] for j in JOINT_NAMES if j in bone_map}


# --- presets -------------------------------------------------------------------------------------
def validate_map(bone_map: Mapping, bone_names: Sequence[str] | None = None,
                 where: str = "bone map") -> dict[str, list[str]]:
    """A bone map checked (SMPL-X joint keys, lists of names; when ``bone_names`` is given, every
    named bone exists). Returns a clean ``dict[str, list[str]]`` in JOINT_NAMES order."""
    if not isinstance(bone_map, Mapping):
        raise ProfileError(f"{where}: expected an object of SMPL-X joint → bone names")
    unknown = sorted(set(bone_map) - set(JOINT_NAMES))
    if unknown:
        raise ProfileError(f"{where}: {unknown[0]!r} is not an SMPL-X joint name (see core/skeleton.JOINT_NAMES)")
    clean = {j: list(_str_list(v, f"{where}: {j!r}")) if v else [] for j, v in bone_map.items()}
    if bone_names is not None:
        have = set(bone_names)
        for j, chain in clean.items():
            missing = [b for b in chain if b not in have]
            if missing:
                raise ProfileError(f"{where}: {j!r} names bone {missing[0]!r}, which the armature does not have")
    return {j: clean[j] for j in JOINT_NAMES if clean.get(j)}


def save_map(path: str | Path, bone_map: Mapping[str, Sequence[str]], profile: str | None = None) -> Path:
    """Write a bone map as a shareable JSON preset."""
    doc = {"format": MAP_FORMAT, "version": 1, "profile": profile, "bones": validate_map(bone_map)}
    return write_preset(path, doc, "the bone map", ProfileError)


def load_map(path: str | Path, bone_names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Read a JSON preset written by :func:`save_map` (or a plain joint → bones object); checked
    against the armature's ``bone_names`` when given. Raises :class:`ProfileError` on one line."""
    data = read_preset(path, "bone map", MAP_FORMAT, "bones", ProfileError)
    return validate_map(data, bone_names, where=f"bone map {Path(path).name}")


