"""Enforcement teams sent down to grids for urgent matters.

The source's "forces sent down" (comprehensive governance and petitions,
emergency management, comprehensive law enforcement, city appearance,
environmental protection, police) handle urgent grid matters together: here
one joint pool of ``teams`` per town. A team travels from its base to the
matter's village (straight-line distance times a road factor, at
``speed_kmh``), works on site, and, if ``return_to_base``, drives back before
it is free again. With ``base = town`` all teams wait at the town seat; with
``units`` they are stationed in villages spread over the town, and the nearest
idle team goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .service import Pool, Server
from .town import cover_units

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model


def build_pools(model: "Model") -> dict[int, Pool]:
    """Build each simulated town's pool of teams with their bases and travel times."""
    return {t: _town_pool(model, t) for t in model.towns}


def _town_pool(model: "Model", town: int) -> Pool:
    spec = model.scenario.enforcement
    layout = model.layout
    if spec.base == "town":
        bases = [layout.town_seat_km[town]] * spec.teams
    else:
        bases = [layout.unit_xy_km[u] for u in cover_units(layout, spec.teams, town)]
    # Travel time from each base to each unit, precomputed once.
    xy = layout.unit_xy_km
    hours = [
        (np.hypot(*(xy - b).T) * spec.road_factor / spec.speed_kmh).tolist() for b in bases
    ]
    grid_unit = layout.grid_unit.tolist()
    back = spec.return_to_base

    def travel_h(server: Server, mid: int, step: int) -> tuple[float, float]:
        h = hours[server.home][grid_unit[model.grid[mid]]]  # type: ignore[index]
        return h, (h if back else 0.0)

    return Pool(model, "enforcement", layout.town_label(town) + "enforcement", list(range(spec.teams)),
                travel_h, calendar=model.scenario.calendars.enforcement)
