"""A sweep's last points share their replications with jobs that have nothing left to run.

On a few cores a sweep ends in a tail: one job still runs its last point,
replication after replication, while the other jobs have finished theirs and
nothing is left to hand them (3 points on 2 cores: one core idles for a
whole point). Replications are independent (each is simulated from its own
keyed random streams, ``sim.streams``), so another process may run any of
them without changing a number.

So each point of a sweep puts its replications on a *board*, a folder under
the sweep's ``.shared/`` folder, and claims them one at a time from the
first. A job that has finished its own point goes back to the launcher for
the next point if one is still to start and no other job has promised to
take it (a *ticket*: one per point still to start, so a job that helps never
holds up a point waiting for a worker). Otherwise it stays: once every point
has started, it claims the *last* unclaimed replication of the running point
with the most left, runs it and leaves its records on the board; the point
takes them in order, as if it had run them itself. Claims and tickets are
files that appear whole under their name (``os.link``; two processes never
both get one); a claim holds the claimer's host and process id.

Nothing is lost if a helper fails: a helper that hits an error gives its
claim back, and the point runs that replication itself when the claim is
gone or its process has died; a point whose board is taken from under it
runs the rest itself. Only the joblib launcher with several jobs shares (its
jobs run on this machine, whose process ids can be checked; a cluster job
is sized for its own point), and only the one-town runs of a single process
(a city's towns, or a run with ``jobs`` > 1, already use several processes).

The ``.shared`` folder (made when the sweep starts, removed when it ends):
``started/NUM`` (holding the point's host and process id), ``settled/NUM``
(the point has all its replications, or does not share them), ``tickets/K``
(a job has gone back to the launcher to start the K-th point) and the boards
``point-NUM/`` (``job.pkl``: the scenario and layout; ``claim-R``;
``done-R.pkl``: a helper's records, until the point takes them; ``failed-R``:
a replication that failed in a helper, left to the point).
"""

from __future__ import annotations

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
_STARTED, _SETTLED, _TICKETS, _JOB = "started", "settled", "tickets", "job.pkl"
SHARED_LINE = "to help it finish"
"""Ends the log line of each replication a job runs for another point."""
POLL_S = 0.01
"""How often a waiting process looks again (a point for a helper's replication, a helper for work)."""
WAIT_S = 2.0
"""Longest a finished job waits with nothing to run: for the jobs holding
tickets to start the points left (with the joblib launcher they do within a
fraction of a second), or for a running point to put up its board."""


class _Settled(Exception):
    """The point a helper runs a replication for has ended meanwhile."""


def open_sweep(sweep_dir: str | os.PathLike, enabled: bool = True) -> None:
    """At a sweep's start (its main process): a fresh ``.shared`` folder if
    ``enabled``, none otherwise (sharing is off).

    Never on Windows, where ``os.kill(pid, 0)`` would end the process it should only look for.
    """
    root = Path(sweep_dir) / ROOT
    shutil.rmtree(root, ignore_errors=True)  # an interrupted session's boards
    if enabled and os.name != "nt":
        for sub in (_STARTED, _SETTLED, _TICKETS):
            (root / sub).mkdir(parents=True)


def close_sweep(sweep_dir: str | os.PathLike) -> None:
    """At a sweep's end, however it ends: remove the ``.shared`` folder."""
    shutil.rmtree(Path(sweep_dir) / ROOT, ignore_errors=True)


def _me() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def _temp(folder: Path, name: str, data: bytes) -> str:
    """A hidden temporary file in ``folder`` holding ``data``; its path."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _put(path: Path, data: bytes | str) -> None:
    """Write a file whole: readers never see it half-written."""
    tmp = _temp(path.parent, path.name, data.encode() if isinstance(data, str) else data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create(path: Path, text: str) -> bool:
    """Make ``path`` holding ``text``, whole, unless it exists; False if it does.

    Raises:
        OSError: the folder is gone or cannot be written.
    """
    tmp = _temp(path.parent, path.name, text.encode())
    try:
        os.link(tmp, path)  # appears with its content, or not at all
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return True


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _names(folder: Path) -> list[str]:
    """The markers in ``folder`` (not the temporary files being written there)."""
    return [n for n in os.listdir(folder) if not n.startswith(".")]


def point_started(sweep_dir: str | os.PathLike, num: int) -> None:
    """Point ``num`` starts in this process (first thing a sweep job does)."""
    with contextlib.suppress(OSError):  # no .shared folder: sharing is off
        _put(Path(sweep_dir) / ROOT / _STARTED / str(num), _me())


def point_settled(sweep_dir: str | os.PathLike, num: int) -> None:
    """Point ``num`` has ended, however (helpers stop waiting for its board)."""
    _settle(Path(sweep_dir) / ROOT, num)


def idle_until_report(sweep_dir: str | os.PathLike, total: int | None) -> bool:
    """Whether this job's worker now waits for the sweep's report: every
    point has started (none is left for it) and some still run. The report
    is drawn in these workers once they end (``sim.callbacks``)."""
    root = Path(sweep_dir) / ROOT
    try:
        return total is not None and len(_names(root / _STARTED)) >= total > len(_names(root / _SETTLED))
    except OSError:  # sharing is off (a cluster job: it ends with its point), or the sweep has ended
        return False


def _settle(root: Path, num: int | str) -> None:
    with contextlib.suppress(OSError):
        _put(root / _SETTLED / str(num), "")


def _num(board: Path) -> str:
    """The point number of a board folder (``point-NUM``)."""
    return board.name.partition("-")[2]


def board_dir(sweep_dir: str | os.PathLike, num: int) -> Path | None:
    """The board folder of point ``num``, or ``None`` when the sweep does not share."""
    root = Path(sweep_dir) / ROOT
    return root / f"point-{num}" if (root / _STARTED).is_dir() else None


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


class Board:
    """One point's replications, offered to the sweep's other jobs.

    The point claims each replication in order (``claim``); one a helper
    claimed first it takes from the board (``take``). If the board is taken
    from under it (the sweep ended while this job still runs), the point
    runs every replication left itself.
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
    def offer(cls, folder: Path | None, scenario: Scenario, layout: Layout, check_metrics: bool,
              alone: bool = True) -> Board | None:
        """A board for these replications, or ``None``: no folder (the sweep
        does not share), nothing to share (one replication, a city, or not
        run ``alone`` in one process), or the folder cannot be written."""
        if folder is None:
            return None
        if alone and scenario.run.replications >= 2 and layout.n_towns == 1:
            try:
                return cls(folder, scenario, layout, check_metrics)
            except OSError as exc:
                log.debug(f"replications not shared: {exc}")
                shutil.rmtree(folder, ignore_errors=True)
        _settle(folder.parent, _num(folder))  # helpers need not wait for this point's board
        return None

    def claim(self, r: int) -> bool:
        """Claim replication ``r`` for this process (True also when the board is gone)."""
        try:
            return _create(self.folder / f"claim-{r}", _me())
        except OSError:
            return True

    def take(self, r: int, run_here: Callable[[], Records]) -> Records:
        """Replication ``r``'s records from the helper that claimed it; run here
        if it gave its claim back, its process has died or the board is gone."""
        claim, done = self.folder / f"claim-{r}", self.folder / f"done-{r}.pkl"
        while self.folder.is_dir():
            if done.is_file():
                try:
                    rec = pickle.loads(done.read_bytes())
                except Exception as exc:  # noqa: BLE001 - unreadable: run it here instead
                    log.warning(f"replication {r} (counted from 0) from another job could not be read ({exc}); running it here")
                    break
                with contextlib.suppress(OSError):
                    done.unlink()  # held by the point from now on, not on disk
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
                break
            time.sleep(POLL_S)
        return run_here()

    def close(self) -> None:
        """The point has all its replications (or has failed): take the board down."""
        _settle(self.folder.parent, _num(self.folder))
        # Out of sight at once (a helper can then neither read a claim half
        # removed nor make one), then removed.
        gone = self.folder.with_name(f".{self.folder.name}-{os.getpid()}")
        try:
            os.rename(self.folder, gone)
        except OSError:
            gone = self.folder
        shutil.rmtree(gone, ignore_errors=True)
        if self.helped:
            log.info(f"replication(s) {', '.join(str(r) for r in self.helped)} (counted from 0, as in summary.json) "
                     "run by another job of the sweep")


def help_others(sweep_dir: str | os.PathLike, num: int, total: int | None) -> list[tuple[str, int]]:
    """After point ``num``: unless this job is needed for a point still to
    start, run other points' unclaimed replications; return ``(board,
    replication)`` of each one run here.

    Never raises for a replication that fails: its claim is given back and the
    point runs it itself (and records the error, if it is one).
    """
    root = Path(sweep_dir) / ROOT
    helped: list[tuple[str, int]] = []
    if total is None or not (root / _STARTED).is_dir():
        return helped
    _settle(root, num)
    try:
        started = len(_names(root / _STARTED))
        # The next points to start, one ticket each: the first free one is this job's.
        for k in range(started, total):
            if _create(root / _TICKETS / str(k), _me()):
                return helped  # back to the launcher, which hands this job the next point
    except OSError:  # the sweep has ended and removed the folder
        return helped
    # Every point left has a job coming for it: help the running ones meanwhile.
    give_up = time.monotonic() + WAIT_S
    jobs: dict[Path, dict[str, Any]] = {}
    owners: dict[str, str] = {}  # point -> "host pid"; a started marker never changes once written
    while True:
        try:
            for n in _names(root / _STARTED):
                if n not in owners and (owner := _read(root / _STARTED / n)) is not None:
                    owners[n] = owner
            if len(owners) < total:  # the promised points are still starting
                if time.monotonic() > give_up:
                    return helped  # one never came: go back for it
                time.sleep(POLL_S)
                continue
            settled = set(_names(root / _SETTLED))
            running = [n for n, owner in owners.items()
                       if n not in settled and owner.rpartition(" ")[0] == socket.gethostname() and _alive(owner)]
            if not running:
                return helped
            pick = _pick(root, jobs, running)
        except OSError:
            return helped
        if pick is None:  # a running point's board is not up yet
            if time.monotonic() > give_up:
                return helped
            time.sleep(POLL_S)
            continue
        if pick is False:
            return helped  # every replication left is claimed
        board, r = pick
        if _help_with(root, board, jobs[board], r):
            helped.append((board.name, r))
            log.info(f"ran replication {r} (counted from 0) of {board.name.replace('-', ' ')} {SHARED_LINE}")
        elif board.is_dir():
            return helped  # it failed: the point runs it itself
        give_up = time.monotonic() + WAIT_S


def _help_with(root: Path, board: Path, job: dict[str, Any], r: int) -> bool:
    """Run replication ``r`` claimed on ``board``; leave its records there. False if not done."""
    from .model import run_replication

    settled = root / _SETTLED / _num(board)

    def stop_if_settled(*_: Any) -> None:  # every simulated week: the point may have ended (failed)
        if settled.exists():
            raise _Settled

    done = failed = False
    try:
        if settled.exists():  # its board came down as this job claimed
            return False
        rec = run_replication(job["scenario"], job["layout"], r, on_progress=stop_if_settled,
                              check_metrics=job["check_metrics"])
        _put(board / f"done-{r}.pkl", pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL))
        done = True
    except _Settled:
        pass
    except Exception as exc:  # noqa: BLE001 - the point runs it itself and records any error
        failed = True
        if board.is_dir():
            log.warning(f"replication {r} (counted from 0) of {board.name}, run to help it, failed ({exc}); "
                        "the point runs it itself")
    finally:
        if not done:
            with contextlib.suppress(OSError):
                if failed:  # no other helper tries it again: the point runs it (and records the error)
                    _put(board / f"failed-{r}", "")
                (board / f"claim-{r}").unlink()  # given back
    return done


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
        try:
            # A replication that failed in a helper is the point's own to run.
            claimed = {int(n.partition("-")[2]) for n in _names(board) if n.startswith(("claim-", "failed-"))}
        except OSError:  # taken down meanwhile
            continue
        left = [r for r in range(jobs[board]["scenario"].run.replications) if r not in claimed]
        if left:
            best.append((board, left))
    for board, left in sorted(best, key=lambda b: (-len(b[1]), b[0].name)):
        for r in reversed(left):
            try:
                if _create(board / f"claim-{r}", _me()):
                    return board, r
            except OSError:  # taken down meanwhile
                break
    return None if waiting else False
