"""Working calendars: when grid workers, departments and teams are on duty.

Time 0 of every run is a Monday at 00:00; hours count on from there. A
calendar is a set of working days of the week and one daily shift
[start_h, end_h). ``None`` in place of a calendar means "around the clock".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WEEK_H = 168.0


@dataclass(frozen=True)
class Calendar:
    """A weekly shift pattern.

    Attributes:
        days: working days, 0 = Monday ... 6 = Sunday.
        start_h, end_h: daily shift, hours after midnight (start < end <= 24).
    """

    days: tuple[int, ...]
    start_h: float
    end_h: float

    def __post_init__(self) -> None:
        # Lookup tables for the hot path (on_hours and is_on run per task):
        # on-duty hours before each weekday, the week's total, and which days work.
        before, acc = [], 0.0
        for d in range(7):
            before.append(acc)
            if d in self.days:
                acc += self.end_h - self.start_h
        object.__setattr__(self, "_before", tuple(before))
        object.__setattr__(self, "_week", acc)
        object.__setattr__(self, "_works", tuple(d in self.days for d in range(7)))

    @property
    def shift_h(self) -> float:
        return self.end_h - self.start_h

    @property
    def weekly_h(self) -> float:
        return self.shift_h * len(self.days)

    def is_on(self, t: float) -> bool:
        day = int(t // 24.0)
        h = t - 24.0 * day
        return self._works[day % 7] and self.start_h <= h < self.end_h

    def next_on(self, t: float) -> float:
        """The first time >= t that is on duty."""
        if self.is_on(t):
            return t
        day = int(t // 24.0)
        for k in range(8):
            d = day + k
            start = 24.0 * d + self.start_h
            if (d % 7) in self.days and start >= t:
                return start
        raise ValueError("a calendar needs at least one working day")  # pragma: no cover

    def on_hours(self, t: float) -> float:
        """On-duty hours in [0, t) (constant time: it is on the model's hot path)."""
        if t <= 0.0:
            return 0.0
        day = int(t // 24.0)
        weeks, d = divmod(day, 7)
        total = weeks * self._week + self._before[d]
        if self._works[d]:
            total += min(max(t - 24.0 * day - self.start_h, 0.0), self.end_h - self.start_h)
        return total

    def on_mask(self, t):
        """Vectorised ``is_on`` for a numpy array of times."""
        import numpy as np

        t = np.asarray(t, dtype=float)
        day = np.floor(t / 24.0)
        h = t - 24.0 * day
        return np.isin(day.astype(np.int64) % 7, self.days) & (h >= self.start_h) & (h < self.end_h)

    def shift_starts(self, horizon_h: float) -> list[float]:
        """Every shift start in [0, horizon)."""
        out = []
        for d in range(int(math.ceil(horizon_h / 24.0)) + 1):
            s = 24.0 * d + self.start_h
            if (d % 7) in self.days and s < horizon_h:
                out.append(s)
        return out
