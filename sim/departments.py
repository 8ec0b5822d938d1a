"""Town departments that claim difficult matters by category, and the petitions office.

Each town has its own offices. Each department is one pool of ``staff`` desks
keeping the departments' calendar; every category is claimed by exactly one
department (checked in ``sim.config``). Escalated simple matters go to the department of their
category too. Matters whose residents lost patience become petitions and go to
the petitions office (``petitions.staff`` desks), which handles a simple
matter with its simple work content and any other with its department work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .service import Pool

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model


def build_pools(model: "Model") -> tuple[list[Pool], dict[int, list[Pool]]]:
    """Build one pool per department of each simulated town; return them and,
    per town, the pool of each category."""
    scenario = model.scenario
    layout = model.layout
    names = [c for c, _ in scenario.arrivals.categories]
    pools: list[Pool] = []
    by_town: dict[int, list[Pool]] = {}
    for town in model.towns:
        by_category: list[Pool] = [None] * len(names)  # type: ignore[list-item]
        for dept in scenario.departments:
            pool = Pool(model, "department", layout.town_label(town) + dept.name, [None] * dept.staff,
                        calendar=scenario.calendars.departments)
            pools.append(pool)
            for cat in dept.categories:
                by_category[names.index(cat)] = pool
        by_town[town] = by_category
    return pools, by_town


def build_petitions_offices(model: "Model") -> dict[int, Pool]:
    """The office of each simulated town that handles matters turned into petitions."""
    scenario = model.scenario
    layout = model.layout
    return {t: Pool(model, "petitions", layout.town_label(t) + "petitions", [None] * scenario.petitions.staff,
                    calendar=scenario.calendars.departments) for t in model.towns}
