"""Flat records of one replication: one row per matter, one row per pool.

Records are plain numpy columns, collected once after the simulation; metrics
(``sim.metrics``) are pure functions of them. Times are hours from the start
of the run; NaN means "did not happen before the horizon".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

ROUTES = ("in_grid", "department", "enforcement", "petition", "escalated", "open")
"""Route a matter took: who resolved it (``petition``: its resident went over
the grid's head and the petitions office resolved it; ``escalated``: a simple
matter moved from its grid worker to a department; ``open``: not resolved by
the horizon). The first four are also the resolver codes."""

MATTER_COLUMNS = ("grid", "unit", "town", "category", "complexity", "resolver", "escalated", "supervised",
                  "discovered", "satisfied")
"""Per-matter attributes besides the times."""

TIME_COLUMNS = (
    "t_report",
    "t_start",
    "t_onsite",
    "t_res_in",
    "t_handle_start",
    "t_handle_onsite",
    "t_handled",
    "t_closed",
    "t_deadline",
    "t_petition",
)


@dataclass(frozen=True)
class Records:
    """Everything measured in one replication.

    Attributes:
        grid, unit, town, category, complexity: per-matter attributes.
        resolver: -1 not resolved, 0 grid worker, 1 department, 2 enforcement,
            3 petitions office.
        escalated, supervised, discovered: per-matter flags.
        satisfied: 1 satisfied, 0 not, -1 not closed.
        times: the ``TIME_COLUMNS`` per matter.
        pool_kind, pool_name, pool_servers, pool_busy_h: per pool.
        grid_work_h: worker hours spent on each grid's matters in the window.
        warmup_h, horizon_h: the measurement window.
    """

    grid: np.ndarray
    unit: np.ndarray
    town: np.ndarray
    category: np.ndarray
    complexity: np.ndarray
    resolver: np.ndarray
    escalated: np.ndarray
    supervised: np.ndarray
    discovered: np.ndarray
    satisfied: np.ndarray
    times: dict[str, np.ndarray]
    pool_kind: tuple[str, ...]
    pool_name: tuple[str, ...]
    pool_servers: np.ndarray
    pool_busy_h: np.ndarray
    pool_duty_h: np.ndarray
    grid_work_h: np.ndarray
    replacement_times: np.ndarray
    replacement_grids: np.ndarray
    warmup_h: float
    horizon_h: float

    def __len__(self) -> int:
        return int(self.grid.size)

    @classmethod
    def merge(cls, parts: list[tuple[np.ndarray, "Records"]], n: int) -> "Records":
        """The records of a city from those of its towns.

        ``parts`` pairs each town's records with the city-wide ids of its
        matters; every matter is in exactly one part. Per-matter columns are
        put back in city order, pools are listed town after town, worker hours
        per grid are added up and replacements are listed in time order.
        """
        first = parts[0][1]

        def scatter(get) -> np.ndarray:
            out = np.empty(n, dtype=get(first).dtype)
            for ids, rec in parts:
                out[ids] = get(rec)
            return out

        replaced_at = np.concatenate([rec.replacement_times for _, rec in parts])
        order = np.argsort(replaced_at, kind="stable")
        return cls(
            **{name: scatter(lambda r, name=name: getattr(r, name)) for name in MATTER_COLUMNS},
            times={name: scatter(lambda r, name=name: r.times[name]) for name in first.times},
            pool_kind=sum((rec.pool_kind for _, rec in parts), ()),
            pool_name=sum((rec.pool_name for _, rec in parts), ()),
            pool_servers=np.concatenate([rec.pool_servers for _, rec in parts]),
            pool_busy_h=np.concatenate([rec.pool_busy_h for _, rec in parts]),
            pool_duty_h=np.concatenate([rec.pool_duty_h for _, rec in parts]),
            grid_work_h=np.sum([rec.grid_work_h for _, rec in parts], axis=0),
            replacement_times=replaced_at[order],
            replacement_grids=np.concatenate([rec.replacement_grids for _, rec in parts])[order],
            warmup_h=first.warmup_h,
            horizon_h=first.horizon_h,
        )

    def __getattr__(self, name: str) -> np.ndarray:
        times = self.__dict__.get("times")
        if times is not None and name in times:
            return times[name]
        raise AttributeError(name)

    @property
    def route(self) -> np.ndarray:
        """Route code per matter, an index into ``ROUTES``."""
        r = np.where(self.resolver < 0, 5, self.resolver).astype(np.int8)
        r[self.escalated.astype(bool) & (self.resolver == 1)] = 4
        return r

    @classmethod
    def from_model(cls, model: "Model") -> "Records":
        # Views on the model's compact arrays, not copies: at city scale the
        # records are the largest thing in memory and the model is done with them.
        grid = np.frombuffer(model.grid, dtype=np.int32) if model.n else np.empty(0, np.int32)

        def col(a) -> np.ndarray:
            return np.frombuffer(a, dtype=np.float64) if model.n else np.empty(0)

        times = {
            "t_report": col(model.report),
            "t_start": col(model.t_start),
            "t_onsite": col(model.t_onsite),
            "t_res_in": col(model.t_res_in),
            "t_handle_start": col(model.t_hstart),
            "t_handle_onsite": col(model.t_honsite),
            "t_handled": col(model.t_handled),
            "t_closed": col(model.t_closed),
            "t_deadline": col(model.deadline),
            "t_petition": col(model.t_petition),
        }
        assessor = model.assessor
        return cls(
            grid=grid,
            unit=model.layout.grid_unit[grid].astype(np.int32),
            town=model.layout.grid_town[grid].astype(np.int32),
            category=np.frombuffer(model.category, dtype=np.uint8).astype(np.int8),
            complexity=np.frombuffer(model.complexity, dtype=np.uint8).astype(np.int8),
            resolver=np.frombuffer(model.resolver, dtype=np.int8),
            escalated=np.frombuffer(model.escalated, dtype=np.bool_),
            supervised=np.frombuffer(model.supervised, dtype=np.bool_),
            discovered=np.frombuffer(model.discovered, dtype=np.bool_),
            satisfied=np.frombuffer(model.satisfied, dtype=np.int8),
            times=times,
            pool_kind=tuple(p.kind for p in model.pools),
            pool_name=tuple(p.name for p in model.pools),
            pool_servers=np.asarray([p.size for p in model.pools], dtype=np.int64),
            pool_busy_h=np.asarray([p.busy_h for p in model.pools]),
            pool_duty_h=np.asarray([p.duty_h for p in model.pools]),
            grid_work_h=np.asarray(model.grid_work_h, dtype=float),
            replacement_times=np.asarray(assessor.replacement_times if assessor else [], dtype=float),
            replacement_grids=np.asarray(assessor.replacement_grids if assessor else [], dtype=np.int64),
            warmup_h=model.warmup_h,
            horizon_h=model.horizon_h,
        )

