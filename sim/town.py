"""The town: units (villages and communities) cut into grids.

The source (Xiaji town) cuts its population into 67 basic service grids of
about 1,000 people ("300-500 households"): 2 communities into 10 grids and 9
villages into 57. A city is several such towns side by side, each with its
own departments, enforcement teams and petitions office (the town is the
level that runs grid governance); its grids share nothing across towns.
A ``TownSpec`` lists the units; ``build_layout`` cuts each
unit's population into grids and lays all residents on one line, unit after
unit and grid after grid, so that a resident's index fixes their grid for any
partition. Arrivals are generated on fixed blocks of that line (see
``sim.arrivals``), which is what keeps grid-size sweeps paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .scenario import TownSpec, UnitSpec


@dataclass(frozen=True)
class Layout:
    """Grids of a town as flat arrays (index = grid id).

    Attributes:
        unit_names: name of each unit.
        unit_xy_km: position of each unit, shape (units, 2).
        grid_unit: unit index of each grid.
        grid_population: residents of each grid.
        grid_area_km2: area of each grid.
        grid_difficulty: handling-time multiplier of each grid.
        grid_end: cumulative population (exclusive end resident index).
        unit_town: administrative town of each unit.
        town_seat_km: position of each town's seat, shape (towns, 2).
    """

    unit_names: tuple[str, ...]
    unit_xy_km: np.ndarray
    grid_unit: np.ndarray
    grid_population: np.ndarray
    grid_area_km2: np.ndarray
    grid_difficulty: np.ndarray
    grid_end: np.ndarray
    unit_town: np.ndarray
    town_seat_km: np.ndarray

    @property
    def n_towns(self) -> int:
        return int(self.town_seat_km.shape[0])

    @property
    def grid_town(self) -> np.ndarray:
        """Town index of each grid."""
        return self.unit_town[self.grid_unit]

    def units_of_town(self, town: int) -> np.ndarray:
        return np.flatnonzero(self.unit_town == town)

    def town_label(self, town: int) -> str:
        """Prefix for the names of a town's pools ('' in a one-town area)."""
        return f"town{town:03d}/" if self.n_towns > 1 else ""

    @property
    def n_grids(self) -> int:
        return int(self.grid_unit.size)

    @property
    def n_units(self) -> int:
        return len(self.unit_names)

    @property
    def population(self) -> int:
        return int(self.grid_end[-1]) if self.grid_end.size else 0

    def grid_of_resident(self, resident: np.ndarray) -> np.ndarray:
        """Grid index of each resident index."""
        return np.searchsorted(self.grid_end, resident, side="right")

    def grids_of_unit(self, unit: int) -> np.ndarray:
        return np.flatnonzero(self.grid_unit == unit)


def grids_in_unit(unit: UnitSpec, people_per_grid: int) -> int:
    """How many grids a unit is cut into (at least one)."""
    if unit.grids is not None:
        return unit.grids
    return max(1, int(round(unit.population / people_per_grid)))


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` integers that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def build_layout(town: TownSpec) -> Layout:
    """Cut every unit into grids and lay residents out on one line."""
    grid_unit, grid_pop, grid_area, grid_diff = [], [], [], []
    for ui, unit in enumerate(town.units):
        n = grids_in_unit(unit, town.people_per_grid)
        for pop in split_evenly(unit.population, n):
            grid_unit.append(ui)
            grid_pop.append(pop)
            grid_area.append(unit.area_km2 / n)
            grid_diff.append(unit.difficulty)
    pop_arr = np.asarray(grid_pop, dtype=np.int64)
    return Layout(
        unit_names=tuple(u.name for u in town.units),
        unit_xy_km=np.asarray([(u.x_km, u.y_km) for u in town.units], dtype=float).reshape(-1, 2),
        grid_unit=np.asarray(grid_unit, dtype=np.int64),
        grid_population=pop_arr,
        grid_area_km2=np.asarray(grid_area, dtype=float),
        grid_difficulty=np.asarray(grid_diff, dtype=float),
        grid_end=np.cumsum(pop_arr),
        unit_town=np.asarray([u.town for u in town.units], dtype=np.int64),
        town_seat_km=np.asarray(town.seats_km, dtype=float).reshape(-1, 2),
    )


def synthetic_units(
    population: int, unit_population: int, area_km2: float
) -> tuple[UnitSpec, ...]:
    """Units of a synthetic town: equal villages on a square lattice.

    The number of units depends only on the population, never on the grid
    size, so that sweeping ``people_per_grid`` changes only how each village
    is cut into grids.
    """
    n_units = max(1, int(round(population / unit_population)))
    side = math.sqrt(area_km2)
    k = math.ceil(math.sqrt(n_units))
    cell = side / k
    units = []
    for i, pop in enumerate(split_evenly(population, n_units)):
        row, col = divmod(i, k)
        units.append(
            UnitSpec(
                name=f"unit{i:04d}",
                kind="village",
                population=pop,
                area_km2=area_km2 / n_units,
                x_km=(col + 0.5) * cell - side / 2.0,
                y_km=(row + 0.5) * cell - side / 2.0,
            )
        )
    return tuple(units)


def synthetic_counts(population: int, unit_population: int, people_per_town: int | None) -> tuple[int, int]:
    """Towns and units ``synthetic_city`` would build, counted without building them.

    ``split_evenly`` gives towns of at most two sizes, so the units are
    counted per size, not per town.
    """
    n_towns = 1 if people_per_town is None else max(1, int(round(population / people_per_town)))
    base, extra = divmod(population, n_towns)

    def units(pop: int) -> int:  # as synthetic_units
        return max(1, int(round(pop / unit_population)))

    return n_towns, extra * units(base + 1) + (n_towns - extra) * units(base)


def synthetic_city(
    population: int, unit_population: int, area_km2: float, people_per_town: int | None
) -> tuple[tuple[UnitSpec, ...], tuple[tuple[float, float], ...]]:
    """Units and town seats of a synthetic area: equal towns, each a square of
    its share of ``area_km2``, on a square lattice centred on the origin, each
    cut into equal villages by ``synthetic_units``.

    The number of towns is ``population / people_per_town`` rounded (at least
    one; ``None`` = one town). A one-town area is exactly ``synthetic_units``
    with its seat at the origin.
    """
    n_towns = 1 if people_per_town is None else max(1, int(round(population / people_per_town)))
    cell = math.sqrt(area_km2 / n_towns)  # each town a square of its share of the area
    k = math.ceil(math.sqrt(n_towns))  # towns per row of the lattice (the last row may be short)
    side = k * cell
    units: list[UnitSpec] = []
    seats: list[tuple[float, float]] = []
    for t, pop in enumerate(split_evenly(population, n_towns)):
        row, col = divmod(t, k)
        cx, cy = (col + 0.5) * cell - side / 2.0, (row + 0.5) * cell - side / 2.0
        seats.append((cx, cy))
        for u in synthetic_units(pop, unit_population, area_km2 / n_towns):
            name = u.name if n_towns == 1 else f"town{t:03d}_{u.name}"
            units.append(replace(u, name=name, x_km=u.x_km + cx, y_km=u.y_km + cy, town=t))
    return tuple(units), tuple(seats)


def cover_units(layout: Layout, k: int, town: int = 0) -> list[int]:
    """Choose ``k`` units of a town to station teams in, spread over the town.

    Greedy farthest-point (k-centre) selection starting from the unit nearest
    the town seat: a standard 2-approximation of the best coverage radius.
    Returns indices into ``layout.unit_xy_km``.
    """
    ids = layout.units_of_town(town)
    xy = layout.unit_xy_km[ids]
    n = xy.shape[0]
    seat = layout.town_seat_km[town]
    first = int(np.argmin(np.hypot(*(xy - seat).T)))
    chosen = [first]
    dist = np.hypot(*(xy - xy[first]).T)
    while len(chosen) < k:
        if len(chosen) >= n:  # more teams than units: wrap around
            chosen.append(chosen[len(chosen) % n])
            continue
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    return ids[chosen].tolist()
