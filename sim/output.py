"""Writing results so that a crash never leaves a file that looks complete.

Every file is written to a temporary name in the same folder and renamed into
place (``os.replace`` is atomic on POSIX), so a reader sees either the old
file, or none, or the whole new one. The manifest records what is needed to
reproduce a run: seed, resolved config, package versions, code version.

A process killed while writing (SIGKILL, the memory killer, a second Ctrl-C)
leaves its hidden temporary file (``.NAME.gridgov-XXXXXXXX.tmp``) behind.
``remove_stale_temps`` removes such files where a run starts (``sim.runner``)
and where a sweep report is written (``sim.report``), and only those whose
writer is gone: a writer holds an exclusive ``flock`` on its temporary file
until it has renamed it, and the lock ends with its process however it
ends. A file that is locked, or whose lock cannot be tested (a file system
without ``flock``), is left alone; so are files not named like ours.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
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


PACKAGES = ("gridgov", "simpy", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "hydra-core", "omegaconf")


TEMP_MARK = "gridgov-"
_TEMP_NAME = re.compile(rf"\..+\.{re.escape(TEMP_MARK)}[a-z0-9_]{{8}}\.tmp")
"""Our temporary files: ``.`` + the final name + ``.gridgov-`` + mkstemp's 8 characters + ``.tmp``."""


def _lock(fd: int, wait: bool) -> bool | None:
    """An exclusive flock on ``fd``: True if taken, False if another holds it,
    None if this file system cannot tell."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _same_file(path: str | os.PathLike, fd: int) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _locked_temp(path: Path) -> tuple[int, str, bool]:
    """A new temporary file beside ``path``, locked (if the file system can
    lock) for as long as it is open; whether it is locked."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{TEMP_MARK}", suffix=".tmp", dir=path.parent)
        locked = _lock(fd, wait=True) is True
        # remove_stale_temps may have taken the lock first, between mkstemp and
        # here, and removed the file: then start again with a new one.
        if _same_file(tmp, fd):
            return fd, tmp, locked
        os.close(fd)


_HELD: set[int] = set()
"""Descriptors this process holds locked (temporary files being written, a running sweep's folder)."""


def _drop_inherited_locks() -> None:
    """In a child forked while a file was being written (the process pools of
    ``sim.parallel``): let go of the parent's locked descriptors. A flock
    belongs to the open file, which a forked child shares; a child that
    outlived its parent (killed by the memory killer, say) would otherwise
    keep a dead writer's file locked, and never removed. The descriptor
    number stays open, on /dev/null, so that nothing else can take it."""
    if not _HELD:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)
    _HELD.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_drop_inherited_locks)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it into place on success only.

    The temporary file stays locked until it has its final name (see
    ``remove_stale_temps``): it is renamed while still open. Where the file
    system cannot lock (or the platform cannot rename an open file), it is
    renamed once closed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp, locked = _locked_temp(path)
    try:
        if locked:
            _HELD.add(fd)
        fh = os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
        try:
            # mkstemp creates 0600 files; results are shared, so give them the
            # usual mode a plain open() would (0666 less the umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            if locked:
                os.replace(tmp, path)  # still open, so still locked
        finally:
            _HELD.discard(fd)
            fh.close()
        if not locked:
            os.replace(tmp, path)
    except BaseException:
        _HELD.discard(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def hold_lock(path: str | os.PathLike) -> int | None:
    """Lock ``path`` (made if missing) for this process until ``let_go``.

    Returns the locked descriptor, or None if the file system cannot lock.
    Raises ``BlockingIOError`` if another process holds the lock. The lock
    ends with the process however it ends, and a process forked from this
    one does not hold it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    taken = _lock(fd, wait=False)
    if taken is not True:
        os.close(fd)
        if taken is False:
            raise BlockingIOError(f"{path} is locked by another process")
        return None
    _HELD.add(fd)
    return fd


def let_go(fd: int) -> None:
    """End a lock taken by ``hold_lock``."""
    _HELD.discard(fd)
    with contextlib.suppress(OSError):
        os.close(fd)


def stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Our temporary files in ``folder`` (not in its subfolders), live or not."""
    try:
        entries = sorted(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for p in entries if _TEMP_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink()]


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove our temporary files in ``folder`` whose writer has gone; return them.

    A file is removed only if its lock can be taken (no process is writing
    it) and it is still the file that was locked.
    """
    removed = []
    for path in stale_temps(folder):
        try:
            # Opened for writing: where flock is emulated by record locks (NFS),
            # an exclusive lock needs a descriptor open for writing.
            fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # renamed into place or removed meanwhile (or not ours to write)
            continue
        try:
            if _lock(fd, wait=False) and _same_file(path, fd):
                os.unlink(path)
                removed.append(path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed


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
    """Commit of the code that ran, and whether the work tree had changes.

    Only when this package's own files are tracked by the repository around
    them: a copy installed into a folder inside some other checkout (a
    virtual environment in a project, say) would otherwise record that
    project's commit as its own. ``None`` where there is no such checkout.
    """
    here = Path(__file__).resolve().parent
    unknown: dict[str, Any] = {"commit": None, "dirty": None}
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", Path(__file__).name], cwd=here,
                                 capture_output=True, text=True, timeout=10)
        if tracked.returncode != 0:  # not a checkout, or one that does not track this file
            return unknown
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return unknown
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return unknown


def source_digest() -> dict[str, Any]:
    """SHA-256 of the ``sim`` package's Python source that ran (file names and
    contents, in name order), and where it was.

    It identifies the code where git cannot: an installed copy outside any
    checkout, or a work tree with uncommitted changes (two runs of a dirty
    tree with the same digest ran the same code).
    """
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = sorted(here.glob("*.py"))
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"sha256": h.hexdigest(), "files": len(files), "path": str(here)}


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that can change a run's results or files.

    ``gridgov`` is the version of the ``sim`` package that ran (its
    ``__version__``), not that of whichever copy is installed: with
    ``PYTHONPATH`` pointing at another checkout they differ.
    """
    from . import __version__

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        if name == "gridgov":
            out[name] = __version__
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


_CODE_VERSION: dict[str, Any] | None = None


def code_version() -> dict[str, Any]:
    """The code this process runs: ``{"git": git_revision(), "source": source_digest()}``.

    Read once per process, the first time a run asks (``sim.runner.run``
    does before it simulates), and kept: the modules were loaded then, so
    an edit or a checkout made while a run goes, or between the points a
    sweep worker runs, is not recorded as the code that ran.
    """
    global _CODE_VERSION
    if _CODE_VERSION is None:
        _CODE_VERSION = {"git": git_revision(), "source": source_digest()}
    return _CODE_VERSION


def config_digest(config: Any) -> str:
    """SHA-256 of a resolved config as ``summary.json`` saves it (keys sorted):
    a replay tells from it whether the saved config was edited after the run."""
    text = json.dumps(_clean(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


RESULT_TABLES = ("grids.csv", "backlog.csv", "events.csv", "events.parquet")
"""The tables a run writes beside ``summary.json`` (those it was asked for)."""


def file_digests(folder: Path, names: Sequence[str] = RESULT_TABLES) -> dict[str, str]:
    """SHA-256 of each of ``names`` present in ``folder``: recorded in a run's
    manifest, so that a replay can tell a table edited after the run from a
    difference of the code."""
    out = {}
    for name in names:
        path = Path(folder) / name
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            out[name] = digest.hexdigest()
    return out


def write_columns_csv(fh: IO[str], columns: Mapping[str, Any], float_format: str | None = None) -> None:
    """Write equal-length columns as a CSV table, as pandas' ``to_csv(index=False)`` writes them.

    Floats with ``float_format`` (``"%.6g"``), else the shortest repr of
    their double value (``24.0``); NaN as an empty field; integers, flags and
    text as they are, quoted only where CSV needs it. A run's small tables (``grids.csv``,
    ``backlog.csv``) are written this way so that a run, and a sweep worker,
    never loads pandas (about a quarter of a second each).
    """
    import numpy as np

    names = list(columns)
    cells = []
    for name in names:
        values = np.asarray(columns[name])
        if values.dtype.kind == "f":
            text = (lambda x: float_format % x) if float_format else repr
            cells.append(["" if x != x else text(x) for x in values.astype(float).tolist()])  # x != x: NaN
        else:
            cells.append([str(x) for x in values.tolist()])
    lengths = {len(c) for c in cells}
    if len(lengths) > 1:
        raise ValueError(f"columns of unequal length: {dict(zip(names, map(len, cells)))}")
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*cells))


def read_columns_csv(path: str | os.PathLike, names: Sequence[str]) -> dict[str, Any]:
    """Columns ``names`` of a numeric CSV table as float arrays (an empty field is NaN)."""
    import numpy as np

    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (it has {', '.join(header) or 'no header'})")
    read = functools.partial(np.loadtxt, path, delimiter=",", skiprows=1, usecols=[header.index(n) for n in names],
                             comments=None, quotechar="\"", ndmin=2, dtype=float, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "loadtxt: input contained no data")  # a header only: no rows
        try:
            table = read()  # numbers only: NumPy's own parser, as fast as pandas'
        except ValueError:  # an empty field (NaN as written): a converter per field, three times slower
            table = read(converters=lambda text: float(text) if text.strip() else math.nan)
    return {n: table[:, k] for k, n in enumerate(names)}


def manifest(seed: int, wall_seconds: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What is needed to judge and reproduce a run."""
    return {
        "seed": seed,
        "wall_seconds": wall_seconds,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        **code_version(),
        "argv": sys.argv,
        **(extra or {}),
    }


def print_lines_to_reader(main: Any) -> Any:
    """Run a command's ``main()`` that prints lines as it goes (the benchmarks);
    if the reader stops reading (``| head -1``), end quietly with status 1
    instead of a ``BrokenPipeError`` traceback. stdout is pointed at the null
    device first, so that the interpreter's last flush does not fail again
    (the way Python's documentation of SIGPIPE advises). Returns what
    ``main()`` returns."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
