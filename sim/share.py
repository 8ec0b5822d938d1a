"""A sweep's last points share their replications with jobs that have nothing left to run.

On a few cores a sweep ends in a tail: one job still runs its last point,
replication after replication, while the other jobs have finished theirs and
nothing is left to hand them (3 points on 2 cores: one core idles for a
whole point). Replications are independent (each is simulated from its own
keyed random streams, ``sim.streams``), so another process may run any of
them without changing a number.

So each point of a sweep puts its replications on a *board*, a folder under
the sweep's ``.shared/`` folder, and claims them one at a time from the
first. A job that has finished its own point stays to help when no point is
left for it: when every point of the sweep has started, or the points not
started yet are no more than the workers already free to take them (a job
that helps never holds up a point waiting for a worker). It then claims the
*last* unclaimed replication of the point with the most left, runs it and
leaves its records on the board; the point takes them in order, as if it had
run them itself. A claim is a file made with ``O_CREAT | O_EXCL`` (two
processes never both get one) holding the claimer's host and process id.

Nothing is lost if a helper fails: a helper that hits an error gives its
claim back, and the point runs that replication itself when the claim is
gone or its process has died. Helping stays on one machine (a job helps only
points whose process runs on its own host, whose process ids it can check),
and only the one-town runs of a single process share (a city's towns or a
run with ``jobs`` > 1 already use several processes).

The ``.shared`` folder (made when the sweep starts, removed when it ends):
``started/NUM`` and ``settled/NUM`` (the point's replications are all
taken, or it does not share them), ``workers/HOST-PID`` (``busy`` with a
point, ``helping`` after it, ``free`` back with the launcher for another
point; removed when its process exits) and the boards ``point-NUM/`` (``job.pkl``: the scenario and
layout; ``claim-R``; ``done-R.pkl``: a helper's records).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a sweep's main process imports this module, and never simulates
    from .records import Records
    from .scenario import Scenario
    from .town import Layout

log = logging.getLogger("gridgov.sweep")

ROOT = ".shared"
"""The sweep's folder for boards, created when the sweep starts and removed when it ends."""
_STARTED, _SETTLED, _WORKERS, _JOB = "started", "settled", "workers", "job.pkl"
SHARED_LINE = "to help it finish"
"""Ends the log line of each replication a job runs for another point."""
POLL_S = 0.01
"""How often a waiting process looks again (a point for a helper's replication, a helper for work)."""
WAIT_S = 2.0
"""Longest a finished job waits with nothing to run: for the free workers to
start the points not started yet (with the joblib launcher they do within a
fraction of a second; another launcher may start them elsewhere, unseen), or
for a running point to put up its board."""


def open_sweep(sweep_dir: str | os.PathLike) -> None:
    """At a sweep's start (its main process): a fresh ``.shared`` folder; sharing is on.

    Not on Windows, where ``os.kill(pid, 0)`` would end the process it should only look for.
    """
    root = Path(sweep_dir) / ROOT
    shutil.rmtree(root, ignore_errors=True)  # an interrupted session's boards
    if os.name != "nt":
        for sub in (_STARTED, _SETTLED, _WORKERS):
            (root / sub).mkdir(parents=True)


def close_sweep(sweep_dir: str | os.PathLike) -> None:
    """At a sweep's end, however it ends: remove the ``.shared`` folder."""
    shutil.rmtree(Path(sweep_dir) / ROOT, ignore_errors=True)


def _me() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def _put(path: Path, text: str) -> None:
    """Write a small marker file whole (readers never see it half-written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode() if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _worker_state(root: Path, state: str) -> None:
    """Record what this process does now (``busy``, ``helping``, ``free``)."""
    path = root / _WORKERS / _me().replace(" ", "-")
    with contextlib.suppress(OSError):
        _put(path, f"{state} {_me()}")
        if path not in _LEAVING:  # a process that has exited takes no point: not free
            _LEAVING.add(path)
            atexit.register(lambda: path.unlink(missing_ok=True))


_LEAVING: set[Path] = set()


def point_started(sweep_dir: str | os.PathLike, num: int) -> None:
    """Point ``num`` starts in this process (first thing a sweep job does)."""
    root = Path(sweep_dir) / ROOT
    with contextlib.suppress(OSError):  # no .shared folder: sharing is off
        # In this order; help_others reads them the other way round.
        _put(root / _STARTED / str(num), _me())
        _worker_state(root, "busy")


def board_dir(sweep_dir: str | os.PathLike, num: int) -> Path | None:
    """The board folder of point ``num``, or ``None`` when the sweep does not share."""
    root = Path(sweep_dir) / ROOT
    return root / f"point-{num}" if (root / _STARTED).is_dir() else None


def _settle(root: Path, num: int | str) -> None:
    with contextlib.suppress(OSError):
        _put(root / _SETTLED / str(num), "")


def point_settled(sweep_dir: str | os.PathLike, num: int) -> None:
    """Point ``num`` has ended, however (helpers stop waiting for its board)."""
    _settle(Path(sweep_dir) / ROOT, num)


def _alive(claim_text: str) -> bool:
    """Whether the process named in a claim ("host pid") may still run (one on another host: assumed so)."""
    host, _, pid = claim_text.rpartition(" ")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _claim(board: Path, r: int) -> bool:
    """Claim replication ``r`` of a board; False if another process has it."""
    try:
        fd = os.open(board / f"claim-{r}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_me())
    return True


class Board:
    """One point's replications, offered to the sweep's other jobs.

    The point claims each replication in order (``claim``); one a helper
    claimed first it takes from the board (``take``).
    """

    def __init__(self, folder: Path, scenario: Scenario, layout: Layout, check_metrics: bool) -> None:
        self.folder = folder
        self.helped: list[int] = []
        folder.mkdir()
        # Written last: a board without it is not offered yet.
        _put(folder / _JOB, pickle.dumps(
            {"owner": _me(), "scenario": scenario, "layout": layout, "check_metrics": check_metrics},
            protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def offer(cls, folder: Path | None, scenario: Scenario, layout: Layout, check_metrics: bool) -> Board | None:
        """A board for these replications, or ``None`` (no folder, nothing to share, or the folder cannot be written)."""
        if folder is None:
            return None
        if scenario.run.replications >= 2 and layout.n_towns == 1:
            try:
                return cls(folder, scenario, layout, check_metrics)
            except OSError as exc:
                log.debug(f"replications not shared: {exc}")
                shutil.rmtree(folder, ignore_errors=True)
        _settle(folder.parent, folder.name.partition("-")[2])  # helpers need not wait for this point's board
        return None

    def claim(self, r: int) -> bool:
        return _claim(self.folder, r)

    def take(self, r: int, run_here: Callable[[], Records]) -> Records:
        """Replication ``r``'s records from the helper that claimed it; run here
        if it gave its claim back or its process has died."""
        claim, done = self.folder / f"claim-{r}", self.folder / f"done-{r}.pkl"
        while True:
            if done.is_file():
                try:
                    rec = pickle.loads(done.read_bytes())
                except Exception as exc:  # noqa: BLE001 - unreadable: run it here instead
                    log.warning(f"replication {r + 1} from another job could not be read ({exc}); running it here")
                    break
                self.helped.append(r)
                return rec
            text = _read(claim)
            if text is None:  # given back
                if self.claim(r):
                    return run_here()
                continue
            if not _alive(text):
                if done.is_file():  # written just before its process ended
                    continue
                claim.write_text(_me(), encoding="utf-8")
                break
            time.sleep(POLL_S)
        return run_here()

    def close(self) -> None:
        """The point has all its replications (or has failed): take the board down."""
        _settle(self.folder.parent, self.folder.name.partition("-")[2])  # before the board goes: see help_others
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.helped:
            log.info(f"replication(s) {', '.join(str(r + 1) for r in self.helped)} run by another job of the sweep")


def help_others(sweep_dir: str | os.PathLike, num: int, total: int | None) -> list[tuple[str, int]]:
    """After point ``num``: run other points' unclaimed replications while no
    point waits for this worker; return ``(board, replication)`` of each one run here.

    Never raises for a replication that fails: its claim is given back and the
    point runs it itself (and records the error, if it is one).
    """
    root = Path(sweep_dir) / ROOT
    helped: list[tuple[str, int]] = []
    if total is None or not (root / _STARTED).is_dir():
        return helped
    _settle(root, num)
    _worker_state(root, "helping")
    try:
        return _help(root, total, helped)
    finally:
        _worker_state(root, "free")  # back to the launcher, for another point


def _help(root: Path, total: int, helped: list[tuple[str, int]]) -> list[tuple[str, int]]:
    give_up = time.monotonic() + WAIT_S
    jobs: dict[Path, dict[str, Any]] = {}
    while True:
        try:
            # Workers before points: a worker seen free has not started a point
            # that is missed here (point_started writes them the other way round).
            # One seen waiting to help is not free: two jobs finishing together
            # must not each wait for the other to take the next point.
            states = [(_read(w) or "").partition(" ") for w in (root / _WORKERS).iterdir()]
            free = sum(1 for state, _, who in states if state == "free" and _alive(who))
            started = {p.name: _read(p) or "" for p in (root / _STARTED).iterdir() if not p.name.startswith(".")}
            pending = total - len(started)
            if pending > 0:
                # Points still to start: this worker takes one unless enough
                # others are free for them all (they are about to start them).
                if pending > free or time.monotonic() > give_up:
                    return helped
                time.sleep(POLL_S)
                continue
            settled = set(os.listdir(root / _SETTLED))
            running = [n for n, owner in started.items()
                       if n not in settled and owner.rpartition(" ")[0] == socket.gethostname() and _alive(owner)]
            if not running:
                return helped
            pick = _pick(root, jobs, running)
        except OSError:  # the sweep has ended and removed the folder
            return helped
        if pick is None:  # a running point's board is not up yet
            if time.monotonic() > give_up:
                return helped
            time.sleep(POLL_S)
            continue
        if pick is False:
            return helped  # every replication left is claimed
        board, r = pick
        claim = board / f"claim-{r}"
        try:
            job = jobs[board]
            from .model import run_replication

            rec = run_replication(job["scenario"], job["layout"], r, check_metrics=job["check_metrics"])
            _put(board / f"done-{r}.pkl", pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # noqa: BLE001 - the point runs it itself and records any error
            if not board.is_dir():
                continue  # the point has ended meanwhile (it failed): nothing to give back
            with contextlib.suppress(OSError):
                claim.unlink()
            log.warning(f"replication {r + 1} of {board.name}, run to help it, failed ({exc}); "
                        "the point runs it itself")
            return helped
        except BaseException:
            with contextlib.suppress(OSError):
                claim.unlink()
            raise
        helped.append((board.name, r))
        give_up = time.monotonic() + WAIT_S
        log.info(f"ran replication {r + 1} of {board.name.replace('-', ' ')} {SHARED_LINE}")


def _pick(root: Path, jobs: dict[Path, dict[str, Any]], running: list[str]) -> tuple[Path, int] | bool | None:
    """Claim the last unclaimed replication of the running point with the most left.

    Returns:
        the board and the replication claimed; ``None`` if a running point
        has no board up yet; ``False`` if every replication is claimed.
    """
    best: list[tuple[Path, list[int]]] = []
    waiting = False
    for num in running:
        board = root / f"point-{num}"
        if board not in jobs:
            try:
                jobs[board] = pickle.loads((board / _JOB).read_bytes())
            except Exception:  # noqa: BLE001 - not offered yet (or taken down meanwhile)
                waiting = True
                continue
        n = jobs[board]["scenario"].run.replications
        claimed = {int(p.name.partition("-")[2]) for p in board.glob("claim-*")}
        left = [r for r in range(n) if r not in claimed]
        if left:
            best.append((board, left))
    for board, left in sorted(best, key=lambda b: (-len(b[1]), b[0].name)):
        for r in reversed(left):
            try:
                if _claim(board, r):
                    return board, r
            except OSError:  # the board was taken down meanwhile
                break
    return None if waiting else False
