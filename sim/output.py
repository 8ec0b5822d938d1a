"""Writing results so that a crash never leaves a file that looks complete.

Every file is written to a temporary name in the same folder and renamed into
place (``os.replace`` is atomic on POSIX), so a reader sees either the old
file, or none, or the whole new one. The manifest records what is needed to
reproduce a run: seed, resolved config, package versions, code version.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class OutputOptions:
    """What a run writes besides the summary (``output.*``, ``progress`` and ``jobs`` in the config)."""

    events: bool = True
    events_format: str = "auto"  # csv, parquet, or auto (see sim.runner.events_format_for)
    backlog_step_h: float = 24.0
    plot: bool = True
    progress: bool = True
    jobs: int = 1  # processes for the run's independent parts (sim.parallel); -1 = every core


PACKAGES = ("gridgov", "simpy", "numpy", "scipy", "pandas", "matplotlib", "hydra-core", "omegaconf")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it into place on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600 files; results are shared, so give them the usual
    # mode a plain open() would (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_open(path) as fh:
        json.dump(_clean(data), fh, indent=2, sort_keys=False, allow_nan=False)
        fh.write("\n")


def git_revision() -> dict[str, Any]:
    """Commit of the code that ran, and whether the work tree had changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def manifest(seed: int, wall_seconds: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What is needed to judge and reproduce a run."""
    return {
        "seed": seed,
        "wall_seconds": wall_seconds,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_revision(),
        "argv": sys.argv,
        **(extra or {}),
    }
