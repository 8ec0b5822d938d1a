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

import math
from dataclasses import dataclass

import numpy as np

from . import streams
from .distributions import Duration
from .scenario import STEPS, ProfileSpec, Scenario
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
        category: index into the arrival spec's category order.
        complexity: 0 simple, 1 difficult, 2 urgent.
        work_h: work content of each step, shape (n, 5), columns in ``STEPS`` order.
        extra_u: reserved per-matter uniforms, shape (n, 4) (``EXTRA_COLUMNS``).
        discovered: found by a worker on duty (else reported by a resident).
    """

    time_h: np.ndarray
    grid: np.ndarray
    category: np.ndarray
    complexity: np.ndarray
    work_h: np.ndarray
    extra_u: np.ndarray
    discovered: np.ndarray

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


def rate_multiplier(profile: ProfileSpec, t: np.ndarray) -> np.ndarray:
    """Arrival-rate multiplier at times ``t`` (hours; time 0 is Monday 00:00)."""
    m = np.ones_like(t)
    if profile.hour_of_day is not None:
        m *= np.asarray(profile.hour_of_day)[(np.floor(t).astype(np.int64)) % 24]
    if profile.day_of_week is not None:
        m *= np.asarray(profile.day_of_week)[(np.floor(t / 24.0).astype(np.int64)) % 7]
    for start_day, end_day, mult in profile.periods:
        m[(t >= 24.0 * start_day) & (t < 24.0 * end_day)] *= mult
    return m


class _Births:
    """Turns uniforms into matters: the nature of a matter, drawn at birth."""

    def __init__(self, scenario: Scenario) -> None:
        spec = scenario.arrivals
        self.cat_cum = np.cumsum([s for _, s in spec.categories])
        self.cx_cum = np.cumsum([s for _, s in spec.complexity])
        self.durations = [Duration(scenario.handling.step(name)) for name in STEPS]

    def __call__(self, t: np.ndarray, u: np.ndarray, grid: np.ndarray, discovered: bool) -> tuple:
        work = np.empty((t.size, len(STEPS)))
        for j, dur in enumerate(self.durations):
            work[:, j] = dur.ppf(u[:, U_STEP0 + j])
        return (
            t,
            grid.astype(np.int32),
            _pick(self.cat_cum, u[:, U_CATEGORY]).astype(np.int8),
            _pick(self.cx_cum, u[:, U_COMPLEXITY]).astype(np.int8),
            work,
            u[:, EXTRA_COLUMNS].copy(),
            np.full(t.size, discovered),
        )


def _resident_reports(scenario: Scenario, layout: Layout, replication: int, births: _Births,
                      grids: np.ndarray | None):
    """Matters reported by residents, block by block (thinned if the rate varies).

    With ``grids`` (sorted grid ids), only the blocks holding their residents
    are drawn, and only those residents' matters are kept.
    """
    spec = scenario.arrivals
    horizon = scenario.run.horizon_h
    seed = scenario.run.seed
    bsize = spec.block_people
    people = block_people(layout, bsize)
    profile = spec.profile
    bound = profile.candidate_bound
    rate_per_person_h = spec.per_1000_people_day / 1000.0 / 24.0 * bound
    if grids is None:
        blocks = np.arange(people.size)
    else:
        ends = layout.grid_end[grids]
        starts = ends - layout.grid_population[grids]
        blocks = np.unique(np.concatenate([np.arange(a // bsize, -(-b // bsize)) for a, b in zip(starts, ends)]))
    people_of = people.tolist()
    for start in range(0, blocks.size, _BLOCKS_PER_CHUNK):
        drawn = _candidates(seed, replication, streams.ARRIVALS, blocks[start:start + _BLOCKS_PER_CHUNK].tolist(),
                            lambda b: rate_per_person_h * people_of[b] * horizon, horizon)
        if drawn is None:
            continue
        t, u, block = drawn
        resident = block * bsize + np.floor(u[:, U_RESIDENT] * people[block]).astype(np.int64)
        if bound != 1.0 or not profile.is_flat:  # Lewis-Shedler thinning: keep with probability rate(t) / bound
            keep = u[:, U_THIN] * bound < rate_multiplier(profile, t)
            t, u, resident = t[keep], u[keep], resident[keep]
        grid = layout.grid_of_resident(resident)
        if grids is not None:  # a block may straddle the edge of the grids asked for
            keep = np.isin(grid, grids)
            t, u, grid = t[keep], u[keep], grid[keep]
        yield births(t, u, grid, False)


def _candidates(seed: int, replication: int, purpose: int, keys, mean, horizon: float):
    """Homogeneous Poisson candidates over [0, horizon) from each key's own
    stream (a block of residents, a grid): ``mean(key)`` of them on average,
    each with its sorted time and its row of uniforms. Returns (times,
    uniforms, key of each) in key order, or None when there are none.
    ~60,000 blocks in a city-year: kept lean."""
    # One draw per key for its times and uniforms together: uniform(0, h, n)
    # is h * random(n), and random((n, N)) takes the next n * N doubles, so
    # random(n * (1 + N)) split after n gives the same numbers in one call.
    # Sorting commutes with the (monotone) scaling, done once at the end.
    if not 0.0 <= horizon < math.inf:  # uniform(0, horizon) would have refused it
        raise ValueError(f"horizon must be finite and >= 0 hours, got {horizon!r}")
    width = 1 + N_UNIFORMS
    times, u_rows, counts, owners = [], [], [], []
    for key, rng in streams.keyed(seed, replication, purpose, keys):  # one generator, re-seeded per key:
        n = rng.poisson(mean(key))                                       # every draw of a key is made here
        if n == 0:
            continue
        x = rng.random(n * width)
        t = x[:n]
        t.sort()
        times.append(t)
        u_rows.append(x[n:])
        counts.append(n)
        owners.append(key)
    if not times:
        return None
    t = np.concatenate(times)
    t *= horizon
    return t, np.concatenate(u_rows).reshape(-1, N_UNIFORMS), np.repeat(np.asarray(owners, dtype=np.int64), counts)


def _found_on_duty(scenario: Scenario, layout: Layout, replication: int, births: _Births,
                   grids: np.ndarray | None):
    """Matters found by workers on duty: per grid, at a rate per expected duty hour.

    A grid's workers spend ``duties.share`` of their on-shift time on duties,
    so matters are found at ``discovered_per_duty_h * share * workers`` per
    on-shift hour (each grid has its own stream).
    """
    rate = scenario.arrivals.discovered_per_duty_h * scenario.duties.share
    if rate <= 0.0:
        return
    horizon = scenario.run.horizon_h
    cal = scenario.calendars.workers
    per_grid = rate * scenario.staffing.workers_per_grid
    # Every grid's candidates at once (their nature is drawn per matter, so
    # one call gives what a call per grid gives), in grid order.
    drawn = _candidates(scenario.run.seed, replication, streams.DISCOVERY,
                        range(layout.n_grids) if grids is None else grids.tolist(),
                        lambda g: per_grid * horizon, horizon)
    if drawn is None:
        return
    t, u, grid = drawn
    if cal is not None:  # found only while on shift: keep the on-shift candidates
        keep = cal.on_mask(t)
        t, u, grid = t[keep], u[keep], grid[keep]
    yield births(t, u, grid, True)


def generate(scenario: Scenario, layout: Layout, replication: int,
             towns: tuple[int, ...] | None = None) -> Arrivals:
    """Draw every matter of one replication: resident reports and finds on duty.

    With ``towns``, only the matters of those towns' grids: exactly the
    matters of the whole area that fall in them (every stream is keyed by
    its block of residents or its grid, never by what else is drawn).
    """
    births = _Births(scenario)
    grids = None if towns is None else np.flatnonzero(np.isin(layout.grid_town, towns))
    parts = [*_resident_reports(scenario, layout, replication, births, grids),
             *_found_on_duty(scenario, layout, replication, births, grids)]
    if not parts:
        return Arrivals(
            np.empty(0), np.empty(0, np.int32), np.empty(0, np.int8), np.empty(0, np.int8),
            np.empty((0, len(STEPS))), np.empty((0, len(EXTRA_COLUMNS))), np.empty(0, bool),
        )
    # Concatenate and sort one column at a time, dropping the parts as we go,
    # so that peak memory stays near twice the final arrays at city scale.
    n_cols = len(parts[0])
    cols: list[np.ndarray] = []
    for j in range(n_cols):
        cols.append(np.concatenate([p[j] for p in parts]))
    del parts
    order = np.argsort(cols[0], kind="stable")
    for j in range(n_cols):
        cols[j] = cols[j][order]
    return Arrivals(*cols)


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
        discovered=np.zeros(n, dtype=bool),
    )
