"""Flat records of one replication: one row per matter, one row per pool.

Records are plain numpy columns, collected once after the simulation; metrics
(``sim.metrics``) are pure functions of them. Times are hours from the start
of the run; NaN means "did not happen before the horizon".
"""

from __future__ import annotations

import hashlib
from array import array
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
        # records are the largest thing in memory and the model is done with
        # them. The model's state kept in lists is converted (see Model.__init__).
        grid = model.grid_col

        def col(a) -> np.ndarray:
            return np.frombuffer(a, dtype=np.float64) if model.n else np.empty(0)

        times = {
            "t_report": model.report_col,
            "t_start": col(model.t_start),
            "t_onsite": col(model.t_onsite),
            "t_res_in": col(model.t_res_in),
            "t_handle_start": col(model.t_hstart),
            "t_handle_onsite": col(model.t_honsite),
            "t_handled": col(model.t_handled),
            "t_closed": col(model.t_closed),
            "t_deadline": model.deadline_col,
            "t_petition": col(model.t_petition),
        }
        assessor = model.assessor
        return cls(
            grid=grid,
            unit=model.layout.grid_unit[grid].astype(np.int32),
            town=model.layout.grid_town[grid].astype(np.int32),
            category=np.frombuffer(model.category, dtype=np.uint8).astype(np.int8),
            complexity=model.complexity_col,
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


def resident_digest(rec: Records) -> str:
    """A fingerprint of the matters residents reported in one replication:
    the SHA-256 (first 16 hex digits) of their report times, categories and
    complexities, in report order.

    Two runs with the same fingerprint in replication r saw the very same
    resident reports (common random numbers at work: a grid-size, staffing or
    routing change keeps it); a change of horizon, arrival rate, population,
    rate profile or of the shares of categories and complexities redraws or
    changes them, and the fingerprints differ. Where the matters were reported
    (grid, unit) is not part of it: a grid-size sweep reports the same matters
    in other grids. Matters found by workers on duty are left out: their number
    follows the staffing.
    """
    resident = ~rec.discovered.astype(bool)
    digest = hashlib.sha256()
    for column, dtype in ((rec.t_report, np.float64), (rec.category, np.int8), (rec.complexity, np.int8)):
        digest.update(np.ascontiguousarray(column[resident], dtype=dtype).tobytes())
    return digest.hexdigest()[:16]


class CityRecords:
    """Collects the records of a city's towns, one town at a time, and merges them.

    Each town's per-matter columns are appended to one growing buffer per
    column as soon as the town is done (the town's own arrays are then freed
    and their memory reused by the next town); ``records`` puts the matters
    in report-time order (ties: town order), as the matters of the whole city
    are numbered, one column at a time. Peak memory stays near one copy of
    the city's columns. Pools are listed town after town, worker hours per
    grid are added up and replacements are listed in time order.
    """

    def __init__(self) -> None:
        self._columns: dict[str, array] = {}
        self._dtypes: dict[str, np.dtype] = {}
        self._pools: dict[str, list] = {name: [] for name in _POOL_FIELDS}
        self._window: tuple[float, float] | None = None

    def add(self, rec: Records) -> None:
        """Append one town's records."""
        cols = {**{name: getattr(rec, name) for name in MATTER_COLUMNS}, **rec.times}
        for name, col in cols.items():
            if name not in self._columns:
                self._dtypes[name] = col.dtype
                self._columns[name] = array("b")  # raw bytes; the dtype is kept beside
            self._columns[name].frombytes(np.ascontiguousarray(col).tobytes())
        for name in _POOL_FIELDS:
            self._pools[name].append(getattr(rec, name))
        self._window = (rec.warmup_h, rec.horizon_h)

    def records(self) -> Records:
        """The merged records (the collector is emptied)."""
        assert self._window is not None, "no town added"
        cols = self._columns

        def column(name: str) -> np.ndarray:
            raw = cols.pop(name)
            out = np.frombuffer(raw, dtype=self._dtypes[name])[order]
            del raw  # the town-major buffer goes as soon as its column is merged
            return out

        order = np.argsort(np.frombuffer(cols["t_report"], dtype=np.float64), kind="stable")
        matter = {name: column(name) for name in MATTER_COLUMNS}
        times = {name: column(name) for name in TIME_COLUMNS}
        pools = self._pools
        replaced_at = np.concatenate(pools["replacement_times"])
        by_time = np.argsort(replaced_at, kind="stable")
        return Records(
            **matter,
            times=times,
            pool_kind=sum(pools["pool_kind"], ()),
            pool_name=sum(pools["pool_name"], ()),
            pool_servers=np.concatenate(pools["pool_servers"]),
            pool_busy_h=np.concatenate(pools["pool_busy_h"]),
            pool_duty_h=np.concatenate(pools["pool_duty_h"]),
            grid_work_h=np.sum(pools["grid_work_h"], axis=0),
            replacement_times=replaced_at[by_time],
            replacement_grids=np.concatenate(pools["replacement_grids"])[by_time].astype(np.int64),
            warmup_h=self._window[0],
            horizon_h=self._window[1],
        )


_POOL_FIELDS = ("pool_kind", "pool_name", "pool_servers", "pool_busy_h", "pool_duty_h",
                "grid_work_h", "replacement_times", "replacement_grids")

