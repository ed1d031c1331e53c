"""pip's output → the runtime setup's stages, so that the status line says what is happening
("Downloading packages (12/29, 180 MB)", "Installing packages (20/29: jaxlib)") instead of pip's raw
lines, which stay in the setup log.

pip prints one ``Collecting`` / ``Processing`` / ``Requirement already satisfied`` line per
requirement while it resolves and downloads, then ``Installing collected packages: a, b, ...`` and
nothing more until ``Successfully installed``: about 30 s of unpacking 1.2 GB. Progress through
that silence is read from the venv's ``site-packages``, where each package's ``*.dist-info`` folder
appears as pip finishes it. Standard library only (no bpy): the tests feed it real pip output.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: Share of pip's step spent downloading (the rest installing): 321 MB came in 8 s from a fast
#: mirror and take about 30 s at 10 MB/s; installing took 32 s (README, runtime setup).
DOWNLOAD_SHARE = 0.5

_REQUIREMENT = re.compile(r"^(Collecting|Processing|Requirement already satisfied:) ")
_SIZE = re.compile(r"^(?:Downloading|Using cached) \S+ \(([\d.]+) (kB|MB|GB)\)")
_UNIT = {"kB": 1e-3, "MB": 1.0, "GB": 1e3}
_INSTALLING = "Installing collected packages: "
_INSTALLED = "Successfully installed "
_ERROR = "ERROR: "
#: pip's words for a network that does not answer, and the one-line hint shown for them.
_OFFLINE_SIGNS = ("NewConnectionError", "Temporary failure in name resolution", "Could not fetch URL",
                  "ConnectTimeoutError", "ProxyError", "Network is unreachable", "ReadTimeoutError")
NETWORK_HINT = "cannot reach PyPI: check the network connection (or proxy) and run the setup again"
DISK_FULL_HINT = "the disk is full: free space in the extension's user folder and run the setup again"


@dataclass(frozen=True)
class PipOutput:
    """What pip has said so far: ``stage`` is 'resolving', 'installing' or 'done'; requirement lines
    seen (``satisfied`` of them already installed, ``local`` of them local files), megabytes
    downloaded or taken from pip's cache, and the packages being installed, in pip's install order."""

    stage: str = "resolving"
    seen: int = 0
    satisfied: int = 0
    local: int = 0
    megabytes: float = 0.0
    to_install: tuple[str, ...] = ()


def read_pip_output(lines: Iterable[str]) -> PipOutput:
    """pip's output lines (any indentation) → :class:`PipOutput`."""
    stage, seen, satisfied, local, mb, names = "resolving", 0, 0, 0, 0.0, ()
    for raw in lines:
        line = raw.strip()
        if _REQUIREMENT.match(line):
            seen += 1
            satisfied += line.startswith("Requirement already satisfied:")
            local += line.startswith("Processing ")
        elif m := _SIZE.match(line):
            mb += float(m[1]) * _UNIT[m[2]]
        elif line.startswith(_INSTALLING):
            stage, names = "installing", tuple(n.strip() for n in line[len(_INSTALLING):].split(",") if n.strip())
        elif line.startswith(_INSTALLED):
            stage = "done"
    return PipOutput(stage, seen, satisfied, local, mb, names)


def pip_progress(out: PipOutput, expected: int, installed: int = 0) -> tuple[float, str]:
    """(fraction of pip's step in 0..1, stage label) from :func:`read_pip_output`, the number of
    pinned requirements and of packages already installed (:func:`count_installed`)."""
    if out.stage == "done":
        return 1.0, "Packages installed"
    if out.stage == "installing":
        total = max(len(out.to_install), 1)
        done = min(installed, total)
        current = f": {out.to_install[done]}" if done < len(out.to_install) else ""
        return DOWNLOAD_SHARE + (1.0 - DOWNLOAD_SHARE) * done / total, f"Installing packages ({done}/{total}{current})"
    total = max(expected, out.seen, 1)
    fraction = DOWNLOAD_SHARE * max(out.seen - 1, 0) / total   # the last one seen is still coming
    if out.seen and out.satisfied == out.seen:
        return DOWNLOAD_SHARE * out.seen / total, f"Checking installed packages ({out.seen}/{total})"
    if out.seen and out.satisfied + out.local == out.seen:
        return fraction, f"Collecting packages ({out.seen}/{total})"
    size = f", {out.megabytes:.0f} MB" if out.megabytes >= 1 else ""
    return fraction, f"Downloading packages ({out.seen}/{total}{size})"


def timed_fraction(elapsed: float, expected: float) -> float:
    """Progress of a step known only by its usual duration: linear to 0.9 at ``expected`` seconds,
    then on towards 1 without reaching it, so that a slow machine's bar still moves (the live
    solver's compile took 78 s instead of 36 s with 8 processes on 2 cores)."""
    if elapsed <= expected:
        return 0.9 * max(elapsed, 0.0) / expected
    return 0.9 + 0.1 * (1.0 - math.exp(-(elapsed - expected) / expected))


def normalize(name: str) -> str:
    """A project name as pip's dist-info folders spell it (PEP 503, lower case, ``_``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def count_installed(site_packages: Path, names: Iterable[str], since: float) -> int:
    """How many of ``names`` have a ``*.dist-info`` folder in ``site_packages`` written at or after
    ``since`` (seconds since the epoch): the packages pip has finished installing."""
    wanted = {normalize(n) for n in names}
    if not wanted:
        return 0
    count = 0
    try:
        with os.scandir(site_packages) as entries:
            for entry in entries:
                if entry.name.endswith(".dist-info") and normalize(entry.name.split("-", 1)[0]) in wanted:
                    try:
                        count += entry.stat().st_mtime >= since
                    except OSError:   # removed while pip replaces it
                        pass
    except OSError:
        return 0
    return count


def failure_reason(lines: list[str], returncode: int) -> str:
    """One line saying why a setup step failed: a hint for a network or a full disk, else pip's
    own ``ERROR:`` line (without the prefix), else the step's last line."""
    text = "\n".join(lines)
    if any(sign in text for sign in _OFFLINE_SIGNS):
        return NETWORK_HINT
    if "No space left on device" in text:
        return DISK_FULL_HINT
    errors = [ln.strip()[len(_ERROR):] for ln in lines if ln.strip().startswith(_ERROR)]
    if errors:
        return errors[-1]
    return lines[-1].strip() if lines else f"exit status {returncode}"
