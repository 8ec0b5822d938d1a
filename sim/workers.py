"""Grid workers: "one grid, one worker", or the workers of a village pooled.

Workers handle simple matters, triage difficult and urgent ones before
hand-over, and make the feedback visit that closes every matter. With
``staffing.pooling = grid`` each grid has its own pool of
``workers_per_grid`` workers who serve only that grid; with ``unit`` the
workers of all grids of a village form one pool serving all its grids.

Travel (``travel.worker_speed_kmh``): a worker goes to the matter for the
simple handling and for the feedback visit (triage is done by phone and app).
For a worker and a matter at uniformly random points of a square grid of area
A the mean distance is 0.5214·√A (the mean distance between two random points
of a unit square), so a trip takes road_factor · 0.5214 · √A / speed hours.
A worker helping in another grid travels as across the two grids together
(area A_home + A_other), an approximation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .routing import FEEDBACK, SIMPLE
from .scenario import STEPS
from .service import Pool, Server

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

MEAN_DISTANCE_UNIT_SQUARE = (2.0 + math.sqrt(2.0) + 5.0 * math.log(1.0 + math.sqrt(2.0))) / 15.0


def _travel_fn(model: "Model"):
    """The pools' travel function, and each home grid's trips per step (or None, None)."""
    spec = model.scenario.travel
    if spec.worker_speed_kmh is None:
        return None, None
    k = spec.road_factor * MEAN_DISTANCE_UNIT_SQUARE / spec.worker_speed_kmh
    area = model.layout.grid_area_km2.tolist()
    own = (k * np.sqrt(model.layout.grid_area_km2)).tolist()  # k * math.sqrt(a), per grid, in one C loop
    grid = model.grid

    def trip(home: int, g: int, step: int) -> tuple[float, float]:
        if step != SIMPLE and step != FEEDBACK:
            return 0.0, 0.0
        if g == home:
            return own[g], 0.0
        return k * math.sqrt(area[g] + area[home]), 0.0

    def travel_h(server: Server, mid: int, step: int) -> tuple[float, float]:
        return trip(server.home, grid[mid], step)  # type: ignore[arg-type]

    def trips(home: int) -> tuple[tuple[float, float], ...]:
        return tuple(trip(home, home, step) for step in range(len(STEPS)))

    return travel_h, trips


def build_pools(model: "Model") -> tuple[list[Pool], list[Pool]]:
    """Build the worker pools; return them and the pool serving each grid."""
    layout = model.layout
    scenario = model.scenario
    staffing = scenario.staffing
    per_grid = staffing.workers_per_grid
    travel_h, trips = _travel_fn(model)
    options = dict(travel_h=travel_h, calendar=scenario.calendars.workers,
                   duty_share=scenario.duties.share, duty_block_h=scenario.duties.block_h)
    pools: list[Pool] = []
    grid_pool: list[Pool] = [None] * layout.n_grids  # type: ignore[list-item]  # None: a town not simulated
    if staffing.pooling == "grid":
        for g in model.grids:
            pool = Pool(model, "worker", f"grid{g}", [g] * per_grid, **options)
            pools.append(pool)
            grid_pool[g] = pool
    elif staffing.pooling == "unit":
        for u in model.units:
            grids = layout.grids_of_unit(u).tolist()
            homes = [g for g in grids for _ in range(per_grid)]
            pool = Pool(model, "worker", layout.unit_names[u], homes, **options)
            pools.append(pool)
            for g in grids:
                grid_pool[g] = pool
    else:  # validated in sim.config; kept for direct users of the model
        raise ValueError(f"staffing.pooling={staffing.pooling!r}: expected 'grid' or 'unit'")
    if trips is not None:  # the trips to matters in a worker's own grid, looked up without a call
        for pool in pools:
            for server in pool.servers:
                server.trips = trips(server.home)  # type: ignore[arg-type]
    return pools, grid_pool
