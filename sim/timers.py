"""Timers for many waiting matters on one SimPy event at a time."""

from __future__ import annotations

import math
from functools import partial
from heapq import heappop, heappush

import simpy

from .service import Tick


class TimerQueue:
    """Many timers on one SimPy event at a time.

    Escalation and patience timers are set for most waiting matters but fire
    for few of them (most matters start first). Keeping them in our own heap
    and scheduling a SimPy event only for the earliest keeps SimPy's event
    queue short. A wake-up fires every timer due at its own target time, so
    timers fire at exactly their time, not one rounding step early or late.
    """

    def __init__(self, env: simpy.Environment, fire, live) -> None:
        self.env = env
        self.fire = fire
        self.live = live  # live(payload) is False once the timer can no longer matter
        self.heap: list[tuple[float, int, object]] = []
        self.next_tick = math.inf
        self._seq = 0

    def add(self, t: float, payload: object) -> None:
        self._seq += 1
        heappush(self.heap, (t, self._seq, payload))
        if t < self.next_tick:
            self._schedule(t)

    def _schedule(self, t: float) -> None:
        self.next_tick = t
        self.env.schedule(Tick(partial(self._wake, t)), 1, max(0.0, t - self.env._now))  # type: ignore[arg-type]

    def _wake(self, target: float, _event) -> None:
        if target == self.next_tick:
            self.next_tick = math.inf
        heap = self.heap
        while heap and heap[0][0] <= target:
            self.fire(heappop(heap)[2])
        # A timer that has become moot (its matter started or moved) stays so:
        # drop such heads now instead of waking up for them.
        live = self.live
        while heap and not live(heap[0][2]):
            heappop(heap)
        if heap and heap[0][0] < self.next_tick:
            self._schedule(heap[0][0])
