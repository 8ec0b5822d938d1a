"""Grid workers: "one grid, one worker", or the workers of a village pooled.

Workers handle simple matters, triage difficult and urgent ones before
hand-over, and make the feedback visit that closes every matter. With
``staffing.pooling = grid`` each grid has its own pool of
``workers_per_grid`` workers who serve only that grid; with ``unit`` the
workers of all grids of a village form one pool serving all its grids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .service import Pool

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model


def build_pools(model: "Model") -> tuple[list[Pool], list[Pool]]:
    """Build the worker pools; return them and the pool serving each grid."""
    layout = model.layout
    staffing = model.scenario.staffing
    per_grid = staffing.workers_per_grid
    pools: list[Pool] = []
    grid_pool: list[Pool] = [None] * layout.n_grids  # type: ignore[list-item]
    if staffing.pooling == "grid":
        for g in range(layout.n_grids):
            pool = Pool(model, "worker", f"grid{g}", [g] * per_grid)
            pools.append(pool)
            grid_pool[g] = pool
    elif staffing.pooling == "unit":
        for u, name in enumerate(layout.unit_names):
            grids = layout.grids_of_unit(u).tolist()
            homes = [g for g in grids for _ in range(per_grid)]
            pool = Pool(model, "worker", name, homes)
            pools.append(pool)
            for g in grids:
                grid_pool[g] = pool
    else:  # validated in sim.config; kept for direct users of the model
        raise ValueError(f"staffing.pooling={staffing.pooling!r}: expected 'grid' or 'unit'")
    return pools, grid_pool
