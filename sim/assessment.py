"""Assessment of grid workers on residents' satisfaction, and replacement.

The source: resident satisfaction is "the sole standard"; results are tied to
pay; "a worker with low satisfaction or two consecutive failed assessments is
replaced". Every ``period_days`` each grid's satisfaction over the period
(satisfied / closed matters) is compared with ``threshold``; a grid that
fails ``fails_to_replace`` times in a row has its worker replaced. During the
vacancy the grid is covered by another grid of its village (the one with the
shortest queue); the new worker then works ``learning_factor`` times slower for
``learning_days``. With several workers per grid, or workers pooled per
village, one worker of the grid leaves and the others carry on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model
    from .service import Pool


class Assessor:
    """Counts satisfaction per grid and runs the periodic assessment."""

    def __init__(self, model: "Model") -> None:
        self.model = model
        self.spec = model.scenario.assessment
        n = model.layout.n_grids
        # Closed and satisfied matters per grid in the current period, counted
        # by the model as each matter closes (Model._close); plain lists, on the hot path.
        self.closed_n = [0] * n
        self.satisfied_n = [0] * n
        self.streak = np.zeros(n, dtype=np.int64)
        self.replacement_times: list[float] = []
        self.replacement_grids: list[int] = []
        model.env.process(self._run())

    def _run(self):
        env = self.model.env
        period = self.spec.period_days * 24.0  # type: ignore[operator]
        while True:
            yield env.timeout(period)
            self._assess()

    def _assess(self) -> None:
        spec = self.spec
        closed = np.asarray(self.closed_n, dtype=np.int64)
        rate = np.asarray(self.satisfied_n, dtype=np.int64) / np.maximum(closed, 1)
        failed = (closed >= spec.min_matters) & (rate < spec.threshold)
        self.streak = np.where(failed, self.streak + 1, 0)
        for g in np.flatnonzero(self.streak >= spec.fails_to_replace).tolist():
            self.streak[g] = 0
            self._replace(g)
        self.closed_n = [0] * len(closed)
        self.satisfied_n = [0] * len(closed)

    def _replace(self, grid: int) -> None:
        m = self.model
        pool = m._grid_pool[grid]
        now = m.env.now
        candidates = [s for s in pool.servers if s.home == grid and s.vacant_until <= now]
        if not candidates:
            return
        server = candidates[0]
        end = now + self.spec.vacancy_days * 24.0
        server.vacant_until = end
        server.learning_until = end + self.spec.learning_days * 24.0
        cal = pool.calendar
        server.duty_done = pool.duty_share * (cal.on_hours(end) if cal is not None else end)  # owes nothing yet
        pool.release(server)
        self.replacement_times.append(now)
        self.replacement_grids.append(grid)
        if all(s.vacant_until > now for s in pool.servers):
            cover = self._cover_for(pool, grid)
            if cover is not None:
                pool.cover = cover
                for mid, step, prio in pool.drain():
                    cover.submit(mid, step, prio)
                m.at(end, self._end_cover, pool)

    def _cover_for(self, pool: "Pool", grid: int) -> "Pool | None":
        m = self.model
        unit = m.layout.grid_unit[grid]
        others = {id(p): p for g in m.layout.grids_of_unit(unit).tolist()
                  if (p := m._grid_pool[g]) is not pool and p.cover is None}
        if not others:
            return None  # a one-grid village: matters wait for the new worker
        return min(others.values(), key=lambda p: p.waiting)

    def _end_cover(self, pool: "Pool") -> None:
        pool.cover = None
