"""Matters reported by residents: Poisson arrivals on fixed blocks of residents.

Residents are laid on one line (see ``sim.town``) and the line is cut into
blocks of ``block_people`` residents. Each block is an independent Poisson
source with its own random stream, and everything about a matter (who reported
it, its category, its complexity, the work content of every step) is drawn at
birth from that stream, by inverse transform from uniforms. Grids are mapped
onto blocks afterwards, so:

* any two partitions of the same population (grid-size sweeps) see the very
  same matters, only attributed to different grids;
* changing routing, staffing or escalation never shifts a random number;
* changing a share or a mean moves each matter's draw smoothly.

A homogeneous Poisson process on [0, H) is generated exactly as a Poisson
count followed by that many sorted uniform times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import streams
from .distributions import Duration
from .scenario import STEPS, Scenario
from .town import Layout

# Columns of the per-matter uniform draws. Never reorder: the order is part of
# the random-number scheme. Spare columns are reserved for mechanisms that
# need a per-matter draw later, so that adding them shifts nothing.
U_RESIDENT, U_CATEGORY, U_COMPLEXITY = 0, 1, 2
U_STEP0 = 3  # five step columns follow, in STEPS order
U_THIN, U_PATIENCE, U_SATISFACTION, U_SPARE = 8, 9, 10, 11
N_UNIFORMS = 12
EXTRA_COLUMNS = (U_THIN, U_PATIENCE, U_SATISFACTION, U_SPARE)

_BLOCKS_PER_CHUNK = 4096  # bounds the temporary uniform matrix at city scale


@dataclass(frozen=True)
class Arrivals:
    """All matters of one replication, sorted by report time (index = matter id).

    Attributes:
        time_h: report time.
        grid: grid index.
        category: index into ``scenario.CATEGORIES`` order of the arrival spec.
        complexity: 0 simple, 1 difficult, 2 urgent.
        work_h: work content of each step, shape (n, 5), columns in ``STEPS`` order.
        extra_u: reserved per-matter uniforms, shape (n, 4).
    """

    time_h: np.ndarray
    grid: np.ndarray
    category: np.ndarray
    complexity: np.ndarray
    work_h: np.ndarray
    extra_u: np.ndarray

    def __len__(self) -> int:
        return int(self.time_h.size)


def block_people(layout: Layout, block_size: int) -> np.ndarray:
    """Residents in each block (the last block may be partial)."""
    pop = layout.population
    n_blocks = -(-pop // block_size)
    people = np.full(n_blocks, block_size, dtype=np.int64)
    if n_blocks:
        people[-1] = pop - block_size * (n_blocks - 1)
    return people


def generate(scenario: Scenario, layout: Layout, replication: int) -> Arrivals:
    """Draw every matter reported over the horizon of one replication."""
    spec = scenario.arrivals
    horizon = scenario.run.horizon_h
    seed = scenario.run.seed
    bsize = spec.block_people
    people = block_people(layout, bsize)
    rate_per_person_h = spec.per_1000_people_day / 1000.0 / 24.0

    cat_cum = np.cumsum([s for _, s in spec.categories])
    cx_cum = np.cumsum([s for _, s in spec.complexity])
    durations = [Duration(scenario.handling.step(name)) for name in STEPS]

    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, people.size, _BLOCKS_PER_CHUNK):
        times, u_rows, first_res = [], [], []
        for b in range(start, min(start + _BLOCKS_PER_CHUNK, people.size)):
            rng = streams.stream(seed, replication, streams.ARRIVALS, b)
            n = rng.poisson(rate_per_person_h * people[b] * horizon)
            if n == 0:
                continue
            times.append(np.sort(rng.uniform(0.0, horizon, n)))
            u = rng.random((n, N_UNIFORMS))
            u_rows.append(u)
            first_res.append(np.full(n, b * bsize + 0.0))
            first_res[-1] += np.floor(u[:, U_RESIDENT] * people[b])
        if not times:
            continue
        t = np.concatenate(times)
        u = np.concatenate(u_rows)
        resident = np.concatenate(first_res).astype(np.int64)
        grid = layout.grid_of_resident(resident).astype(np.int32)
        category = _pick(cat_cum, u[:, U_CATEGORY]).astype(np.int8)
        complexity = _pick(cx_cum, u[:, U_COMPLEXITY]).astype(np.int8)
        work = np.empty((t.size, len(STEPS)))
        for j, dur in enumerate(durations):
            work[:, j] = dur.ppf(u[:, U_STEP0 + j])
        parts.append((t, grid, category, complexity, work, u[:, EXTRA_COLUMNS].copy()))

    if not parts:
        return Arrivals(
            np.empty(0), np.empty(0, np.int32), np.empty(0, np.int8),
            np.empty(0, np.int8), np.empty((0, len(STEPS))), np.empty((0, len(EXTRA_COLUMNS))),
        )
    cols = [np.concatenate(c) for c in zip(*parts)]
    order = np.argsort(cols[0], kind="stable")
    return Arrivals(*(c[order] for c in cols))


def _pick(cum_shares: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the share interval each uniform falls in (inverse transform)."""
    idx = np.searchsorted(cum_shares, u, side="right")
    return np.minimum(idx, cum_shares.size - 1)  # rounding of shares near 1


def hand_placed(
    time_h: list[float],
    grid: list[int],
    complexity: list[str],
    work_h: dict[str, list[float]] | None = None,
    category: list[int] | None = None,
    scenario: Scenario | None = None,
) -> Arrivals:
    """Matters placed by hand, for exact-trace tests and what-if studies.

    Args:
        time_h: report times (any order; sorted here).
        grid: grid index of each matter.
        complexity: ``simple``, ``difficult`` or ``urgent`` per matter.
        work_h: per step name, the work content of each matter; steps not
            given take their distribution's mean from ``scenario`` (or 0).
        category: category index per matter (default 0).
        scenario: used for default work contents.
    """
    n = len(time_h)
    work = np.zeros((n, len(STEPS)))
    for j, step in enumerate(STEPS):
        if work_h and step in work_h:
            work[:, j] = work_h[step]
        elif scenario is not None:
            work[:, j] = scenario.handling.step(step).mean_h
    order = np.argsort(np.asarray(time_h, dtype=float), kind="stable")
    cx = np.asarray([("simple", "difficult", "urgent").index(c) for c in complexity], dtype=np.int8)
    cat = np.zeros(n, dtype=np.int8) if category is None else np.asarray(category, dtype=np.int8)
    return Arrivals(
        time_h=np.asarray(time_h, dtype=float)[order],
        grid=np.asarray(grid, dtype=np.int32)[order],
        category=cat[order],
        complexity=cx[order],
        work_h=work[order],
        extra_u=np.full((n, len(EXTRA_COLUMNS)), 0.5)[order],
    )
