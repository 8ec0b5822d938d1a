"""The independent parts of a run on several processes (``jobs``).

The towns of a city share nothing, and neither do replications: each is
simulated from its own keyed random streams, so where and when it runs
cannot change a number. With ``jobs`` > 1 a run hands them to a pool of
processes and takes the results back in their order, so every output is
identical for any ``jobs`` (a test compares them). A city's replication is
split by town; a one-town run by replication. At most a few parts per
process are in flight, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from .model import run_replication, simulate_town
from .records import CityRecords, Records
from .scenario import Scenario
from .town import Layout


def cores(jobs: int) -> int:
    """Processes for ``jobs`` (-1: every core)."""
    return (os.cpu_count() or 1) if jobs == -1 else jobs


def replications(scenario: Scenario, layout: Layout, jobs: int = 1, progress=None) -> Iterator[tuple[int, Records]]:
    """Yield ``(r, records)`` for every replication, in order.

    ``progress`` (a ``sim.runner.Progress``, optional) hears of each
    replication's start and of its parts as they are done.
    """
    n_jobs = cores(jobs)
    n_reps = scenario.run.replications
    if n_jobs == 1:
        for r in range(n_reps):
            if progress is not None:
                progress.start_replication(r)
            yield r, run_replication(scenario, layout, r, on_progress=progress.update if progress else None)
        return
    horizon_h = scenario.run.horizon_h
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        if layout.n_towns > 1:
            towns = layout.n_towns
            for r in range(n_reps):
                if progress is not None:
                    progress.start_replication(r)
                city, done = CityRecords(), 0
                calls = ((simulate_town, scenario, layout, r, t) for t in range(towns))
                for t, rec in enumerate(_in_order(pool, calls, ahead=2 * n_jobs)):
                    done += len(rec)
                    city.add(rec)
                    if progress is not None:
                        progress.update(horizon_h, done, (t, towns))
                yield r, city.records()
        else:
            calls = ((simulate_town, scenario, layout, r, None) for r in range(n_reps))
            for r, rec in enumerate(_in_order(pool, calls, ahead=n_jobs)):
                if progress is not None:
                    progress.start_replication(r)
                    progress.update(horizon_h, len(rec))
                yield r, rec


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
