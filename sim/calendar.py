"""Working calendars: when grid workers, departments and teams are on duty.

Time 0 of every run is a Monday at 00:00; hours count on from there. A
calendar is a set of working days of the week and one daily shift
[start_h, end_h). ``None`` in place of a calendar means "around the clock".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from heapq import heappush

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


class ShiftClock:
    """A calendar's state now, kept by events at its shift boundaries.

    The model asks "on shift?" and "on-duty hours so far?" several times per
    task; a clock answers from two attributes set when a shift starts or ends
    instead of recomputing the calendar from the time. The boundary events
    are put in SimPy's queue at exactly the boundary times (not as a delay
    from now, which can round an ulp away) with URGENT priority, so at a
    boundary the clock turns before any other event of that instant runs:
    ``Calendar.is_on`` at the boundary times. On shift is then a state, never
    a comparison of two roundings of the same time: a server woken for the
    next shift start (``next_start - now`` from now, which may land an ulp
    early) that finds the clock still off is woken again for it, and lands
    on it.

    Attributes:
        on: whether servers keeping this calendar are on shift now.
        next_start: time of the next shift start (inf: none before the horizon).
    """

    __slots__ = ("calendar", "on", "next_start", "base", "day24", "start_h", "shift_h",
                 "_env", "_bounds", "_i", "_tick")

    def __init__(self, calendar: Calendar, env, horizon_h: float) -> None:
        from .service import Tick

        self.calendar = calendar
        self._env = env
        self.start_h = calendar.start_h
        self.shift_h = calendar.end_h - calendar.start_h
        # (time, on) for every boundary in (0, horizon]. A shift ending where
        # the next begins (24-hour shifts) turns off and on again in the same
        # instant, before any other event: the new day's hours count from there.
        bounds: list[tuple[float, bool]] = []
        for d in range(int(math.ceil(horizon_h / 24.0)) + 1):
            if d % 7 in calendar.days:  # the same floats as shift_starts and is_on
                bounds += [(24.0 * d + calendar.start_h, True), (24.0 * d + calendar.end_h, False)]
        self._bounds = [b for b in bounds if 0.0 < b[0] <= horizon_h]
        self._i = 0
        self._tick = Tick(self._turn)
        self.on = calendar.is_on(0.0)
        self.base = self.day24 = 0.0  # set at each shift start (on_hours is asked on shift only)
        if self.on:
            self._set_day(0.0)
        self._advance()

    def _set_day(self, t: float) -> None:
        day = int(t // 24.0)
        weeks, d = divmod(day, 7)
        cal = self.calendar
        self.base = weeks * cal._week + cal._before[d]  # on-duty hours before today
        self.day24 = 24.0 * day

    def _advance(self) -> None:
        """Schedule the next boundary and find the next shift start."""
        bounds, i = self._bounds, self._i
        self.next_start = next((t for t, on in bounds[i:i + 2] if on), math.inf)
        if i < len(bounds):
            self._tick.callbacks = [self._turn]
            env = self._env  # env.schedule(tick, URGENT, t - now), at exactly t (SimPy 4's queue entry)
            heappush(env._queue, (bounds[i][0], 0, next(env._eid), self._tick))

    def _turn(self, _event) -> None:
        t, on = self._bounds[self._i]
        self.on = on
        if on:
            self._set_day(t)
        self._i += 1
        self._advance()

    def on_hours(self, now: float) -> float:
        """``Calendar.on_hours(now)`` for ``now`` on shift: the same arithmetic,
        so the same float (``Pool`` inlines it on its hot path)."""
        x = now - self.day24 - self.start_h
        if x < 0.0:  # min(max(x, 0.0), shift), without two calls
            x = 0.0
        elif x > self.shift_h:
            x = self.shift_h
        return self.base + x
