"""The independent parts of a run on several processes (``jobs``).

The towns of a city share nothing, and neither do replications: each is
simulated from its own keyed random streams, so where and when it runs
cannot change a number. With ``jobs`` > 1 a run hands them to a pool of
processes and takes the results back in their order, so every output is
identical for any ``jobs`` (a test compares them). A city's replication is
split by town; a one-town run by replication. At most a few parts per
process are in flight, so memory stays bounded. A sweep point run in one
process may instead share its replications with the sweep's idle jobs
(``sim.share``), and takes them back in order just the same.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from .model import run_replication, simulate_town
from .records import CityRecords, Records
from .scenario import Scenario
from .share import Board
from .town import Layout


def cores(jobs: int) -> int:
    """Processes for ``jobs`` (-1: every core this process may run on)."""
    if jobs != -1:
        return jobs
    if hasattr(os, "sched_getaffinity"):  # respects CPU affinity and container limits
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def replications(scenario: Scenario, layout: Layout, jobs: int = 1, progress=None,
                 check_metrics: bool = True, share: Path | None = None) -> Iterator[tuple[int, Records]]:
    """Yield ``(r, records)`` for every replication, in order.

    ``progress`` (a ``sim.runner.Progress``, optional) hears of each
    replication's start and of its parts as they are done. The invariants
    are checked on every part's records; ``check_metrics=False`` leaves
    those of the metrics to the caller (see ``model.run_replication``).
    ``share``: a board folder (``sim.share``) where the sweep's idle jobs
    may take some of a one-process run's replications.
    """
    n_reps = scenario.run.replications
    # No more processes than parts run at once: a town's replications, or a city's towns.
    n_jobs = min(cores(jobs), n_reps if layout.n_towns == 1 else layout.n_towns)
    board = Board.offer(share, scenario, layout, check_metrics, alone=n_jobs == 1)
    if n_jobs == 1:
        try:
            for r in range(n_reps):
                if progress is not None:
                    progress.start_replication(r)
                run_here = partial(run_replication, scenario, layout, r,
                                   on_progress=progress.update if progress else None, check_metrics=check_metrics)
                yield r, run_here() if board is None or board.claim(r) else board.take(r, run_here)
        finally:
            if board is not None:
                board.close()
        return
    pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_ignore_ctrl_c)
    try:
        yield from _parts(pool, scenario, layout, n_jobs, progress, scenario.run.horizon_h, check_metrics)
    except BaseException:
        # A failed part (an invariant broken, a key pressed): stop at once
        # rather than wait for the parts already handed out, and end the
        # workers, which would otherwise outlive a command that exits now.
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list((getattr(pool, "_processes", None) or {}).values()):  # kill_workers() from Python 3.14
            process.kill()
        raise
    pool.shutdown()


def _ignore_ctrl_c() -> None:
    """In a worker: leave Ctrl-C to the process that started it, which ends
    the workers (the terminal sends it to every process of the command; a
    worker would print a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parts(pool: ProcessPoolExecutor, scenario: Scenario, layout: Layout, n_jobs: int, progress,
           horizon_h: float, check_metrics: bool) -> Iterator[tuple[int, Records]]:
    n_reps = scenario.run.replications
    town_part = partial(simulate_town, check_metrics=check_metrics)  # (scenario, layout, replication, town)
    if layout.n_towns == 1:  # a town: its replications in parallel
        calls = ((town_part, scenario, layout, r, None) for r in range(n_reps))
        for r, rec in enumerate(_in_order(pool, calls, ahead=n_jobs)):
            if progress is not None:
                progress.start_replication(r)
                progress.update(horizon_h, len(rec))
            yield r, rec
        return
    towns = layout.n_towns  # a city: each replication's towns in parallel
    for r in range(n_reps):
        if progress is not None:
            progress.start_replication(r)
        city, done = CityRecords(), 0
        calls = ((town_part, scenario, layout, r, t) for t in range(towns))
        for t, rec in enumerate(_in_order(pool, calls, ahead=2 * n_jobs)):
            done += len(rec)
            city.add(rec)
            if progress is not None:
                progress.update(horizon_h, done, (t, towns))
        yield r, city.records()


def _in_order(pool: ProcessPoolExecutor, calls, ahead: int):
    """Results of ``calls`` ((function, *args) tuples) in order, with at most
    ``ahead`` submitted and not yet taken."""
    calls = iter(calls)
    pending: deque = deque()
    for call in calls:
        pending.append(pool.submit(*call))
        if len(pending) >= ahead:
            break
    while pending:
        result = pending.popleft().result()
        call = next(calls, None)
        if call is not None:
            pending.append(pool.submit(*call))
        yield result
