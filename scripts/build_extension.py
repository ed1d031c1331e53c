"""Build the installable Blender extension zip without a Blender binary.

    python scripts/build_extension.py [--out-dir DIR]      # default DIR: <repo>/dist

Reads ``blender_manifest.toml`` at the repository root, walks the tree with the manifest's
``[build] paths_exclude_pattern`` (gitignore-style, the semantics of Blender's own
``blender --command extension build``: ``/`` anchors a pattern to the root, a trailing ``/`` matches
directories only, ``*`` stays inside one path component, ``**`` spans components, ``!`` re-includes,
an excluded directory is not descended into, symlinks are skipped; one deliberate difference:
``a/**/b`` does not match ``ab``, which Blender's regex also lets through) and writes
``<id>-<version>.zip`` with the manifest at the zip root. The archive is deterministic: sorted
entries, fixed timestamps and permissions, so the same tree gives the same bytes. The zip's absolute
path is the last line printed. Only the standard library is used.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

MANIFEST_NAME = "blender_manifest.toml"
REQUIRED_KEYS = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                 "blender_version_min", "license")
# Blender's defaults when the manifest has no [build] table.
DEFAULT_EXCLUDE = ("__pycache__/", ".*", "/*.zip", "*.blend[1-9]")
STORED_SUFFIXES = (".whl", ".zip", ".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".rar", ".tgz")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class BuildError(Exception):
    """The manifest or the source tree cannot be packaged; ``str(err)`` is a one-line fix."""


@dataclass(frozen=True)
class Manifest:
    """The manifest fields the build needs (the whole table is kept in ``data``)."""

    id: str
    version: str
    type: str
    exclude: tuple[str, ...]
    paths: tuple[str, ...] | None
    wheels: tuple[str, ...]
    data: dict


@dataclass(frozen=True)
class Pattern:
    """One compiled exclude pattern: path components, anchoring and flags."""

    parts: tuple[str, ...]
    anchored: bool
    dir_only: bool
    negate: bool


def parse_manifest(path: Path) -> Manifest:
    """Read and check ``blender_manifest.toml``; raise :class:`BuildError` on a missing field."""
    if not path.is_file():
        raise BuildError(f"{path} not found: run from the extension source root")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BuildError(f"{path}: invalid TOML ({err}); fix the syntax") from None
    missing = [k for k in REQUIRED_KEYS if not data.get(k)]
    if missing:
        raise BuildError(f"{path}: missing {', '.join(missing)}; add them to the manifest")
    if not ID_RE.match(data["id"]):
        raise BuildError(f"{path}: id {data['id']!r} must be a Python identifier (letters, digits, _)")
    build = data.get("build", {})
    if "generated" in build:
        raise BuildError(f"{path}: [build.generated] is reserved; remove it")
    paths, exclude = build.get("paths"), build.get("paths_exclude_pattern")
    if paths is not None and exclude is not None:
        raise BuildError(f"{path}: [build] declares both paths and paths_exclude_pattern; keep one")
    for key, value in (("paths", paths), ("paths_exclude_pattern", exclude)):
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)):
            raise BuildError(f"{path}: [build] {key} must be a list of non-empty strings")
    return Manifest(
        id=data["id"], version=str(data["version"]), type=data["type"],
        exclude=tuple(exclude) if exclude is not None else (DEFAULT_EXCLUDE if paths is None else ()),
        paths=tuple(paths) if paths is not None else None,
        wheels=tuple(data.get("wheels", ())), data=data,
    )


def compile_pattern(text: str) -> Pattern | None:
    """One gitignore-style pattern → :class:`Pattern` (None for an empty pattern)."""
    negate = text.startswith("!")
    text = text.lstrip("!") if negate else (text[1:] if text.startswith("\\!") else text)
    text = re.sub(r"/{2,}", "/", text)
    anchored, dir_only = text.startswith("/"), text.endswith("/") and len(text) > 1
    parts = tuple(p for p in text.strip("/").split("/") if p)
    while parts[:1] == ("**",):  # a leading ** is the same as no anchor
        parts, anchored = parts[1:], False
    while len(parts) > 1 and parts[-1] == "**":  # "a/**": everything inside the directory a
        parts, dir_only = parts[:-1], True
    if not parts:
        return None
    return Pattern(parts=parts, anchored=anchored, dir_only=dir_only, negate=negate)


def _match_parts(pat: tuple[str, ...], segs: tuple[str, ...]) -> bool:
    """Whether the pattern components match exactly these path components (``**`` = 0+ comps)."""
    if not pat:
        return not segs
    if pat[0] == "**":
        return any(_match_parts(pat[1:], segs[i:]) for i in range(len(segs) + 1))
    return bool(segs) and fnmatchcase(segs[0], pat[0]) and _match_parts(pat[1:], segs[1:])


def pattern_matches(p: Pattern, rel: str, is_dir: bool) -> bool:
    """Whether ``p`` matches the root-relative POSIX path ``rel``.

    The match starts at the root (anchored) or at any component, and ends at the path's end, or for a
    directory-only pattern at the end of any directory prefix (so ``a/`` also covers ``a/b.py``).
    """
    segs = tuple(rel.strip("/").split("/"))
    starts = (0,) if p.anchored else range(len(segs))
    ends = range(1, len(segs) + (1 if is_dir else 0)) if p.dir_only else (len(segs),)
    return any(_match_parts(p.parts, segs[i:j]) for i in starts for j in ends if j > i)


def is_excluded(patterns: tuple[Pattern, ...], rel: str, is_dir: bool) -> bool:
    """Blender's rule: excluded when a pattern matches and no ``!`` pattern re-includes it."""
    hit = False
    for p in patterns:
        if pattern_matches(p, rel, is_dir):
            if p.negate:
                return False
            hit = True
    return hit


def compile_patterns(texts: tuple[str, ...]) -> tuple[Pattern, ...]:
    return tuple(p for p in map(compile_pattern, texts) if p is not None)


def collect_files(root: Path, manifest: Manifest) -> list[str]:
    """Sorted root-relative POSIX paths of the files to package (manifest and wheels always in)."""
    forced = [MANIFEST_NAME, *(w.removeprefix("./") for w in manifest.wheels)]
    if manifest.paths is not None:
        files = {p.removeprefix("./").strip("/") for p in manifest.paths} | set(forced)
    else:
        patterns = compile_patterns(manifest.exclude)
        files = set(forced)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            base = Path(dirpath).relative_to(root).as_posix()
            prefix = "" if base == "." else base + "/"
            dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))
                                 and not is_excluded(patterns, prefix + d + "/", True))
            files.update(prefix + f for f in filenames
                         if not os.path.islink(os.path.join(dirpath, f))
                         and not is_excluded(patterns, prefix + f, False))
    missing = sorted(f for f in files if not (root / f).is_file())
    if missing:
        raise BuildError(f"listed file(s) not found: {', '.join(missing)}; fix [build] paths or wheels")
    if manifest.type == "add-on" and not any(f.startswith("__init__.") for f in files):
        raise BuildError("not a Python package: add __init__.py at the extension root")
    return sorted(files)


def write_zip(root: Path, files: list[str], out_path: Path) -> None:
    """Write ``files`` (root-relative) into ``out_path`` deterministically, atomically."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name("." + out_path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for rel in files:
                src = root / rel
                info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
                info.create_system = 3  # Unix, so the permission bits below are honoured
                info.external_attr = (0o100755 if os.access(src, os.X_OK) else 0o100644) << 16
                info.compress_type = (zipfile.ZIP_STORED if rel.lower().endswith(STORED_SUFFIXES)
                                      else zipfile.ZIP_DEFLATED)
                zf.writestr(info, src.read_bytes(), compresslevel=9)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def build(root: Path, out_dir: Path) -> Path:
    """Package the extension at ``root`` into ``out_dir/<id>-<version>.zip``; return its path."""
    root = root.resolve()
    manifest = parse_manifest(root / MANIFEST_NAME)
    out_path = out_dir.resolve() / f"{manifest.id}-{manifest.version}.zip"
    files = collect_files(root, manifest)
    inside = out_path.parent.is_relative_to(root) and out_path.relative_to(root).as_posix() in files
    if inside:
        files.remove(out_path.relative_to(root).as_posix())
    write_zip(root, files, out_path)
    return out_path


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=root / "dist", help="output folder (default: dist/)")
    ap.add_argument("--source-dir", type=Path, default=root, help="extension source root (default: repo)")
    args = ap.parse_args(argv)
    try:
        path = build(args.source_dir, args.out_dir)
    except (BuildError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
