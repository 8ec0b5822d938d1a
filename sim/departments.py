"""Town departments that claim difficult matters by category, and the petitions office.

Each department is one pool of ``staff`` desks keeping the departments'
calendar; every category is claimed by exactly one department (checked in
``sim.config``). Escalated simple matters go to the department of their
category too. Matters whose residents lost patience become petitions and go to
the petitions office (``petitions.staff`` desks), which handles a simple
matter with its simple work content and any other with its department work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .service import Pool

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model


def build_pools(model: "Model") -> tuple[list[Pool], list[Pool]]:
    """Build one pool per department; return them and the pool of each category."""
    scenario = model.scenario
    names = [c for c, _ in scenario.arrivals.categories]
    pools: list[Pool] = []
    by_category: list[Pool] = [None] * len(names)  # type: ignore[list-item]
    for dept in scenario.departments:
        pool = Pool(model, "department", dept.name, [None] * dept.staff,
                    calendar=scenario.calendars.departments)
        pools.append(pool)
        for cat in dept.categories:
            by_category[names.index(cat)] = pool
    return pools, by_category


def build_petitions_office(model: "Model") -> Pool:
    """The office that handles matters turned into petitions."""
    scenario = model.scenario
    return Pool(model, "petitions", "petitions", [None] * scenario.petitions.staff,
                calendar=scenario.calendars.departments)
