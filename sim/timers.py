"""Timers for many waiting matters on one SimPy event at a time."""

from __future__ import annotations

import math
from functools import partial
from heapq import heapify, heappop, heappush

import simpy

from .service import Tick


class TimerQueue:
    """Many timers on one SimPy event at a time.

    Escalation and patience timers are set for most waiting matters but fire
    for few of them (most matters start first). Keeping them in our own heap
    and scheduling a SimPy event only for the earliest keeps SimPy's event
    queue short. A wake-up fires every timer due at its own target time, so
    timers fire at exactly their time, not one rounding step early or late.

    Only the timers of the nearest time bucket (``bucket_h`` wide) are in the
    heap; later ones wait unsorted in a list per bucket. When the heap runs
    out, the next bucket's timers that are still live go into it, so the many
    timers that become moot before their bucket comes up (their matter
    started) cost an append and a test, not a heap push and pop.
    A timer is in a bucket only if its bucket number, ``int(t / bucket_h)``,
    is above that of every timer in the heap: the number never decreases
    with ``t``, so every timer in the heap comes before every timer in a
    bucket, and the heap's head is the earliest timer. Moot timers are
    dropped, never fired, which changes nothing: a timer that can no longer
    matter stays so (``live`` leaves it out for good), and the callbacks
    ignore such timers anyway.
    """

    def __init__(self, env: simpy.Environment, fire, live, bucket_h: float = 24.0) -> None:
        self.env = env
        self.fire = fire
        # live(entries): those of the (time, seq, payload) entries whose timer
        # can still matter; a timer left out once is left out for good.
        self.live = live
        self.heap: list[tuple[float, int, object]] = []
        self._per_bucket = 1.0 / bucket_h
        self._bucket = -1  # the highest bucket number of the timers in the heap
        self._later: dict[int, list[tuple[float, int, object]]] = {}  # later buckets, by number
        self._later_numbers: list[int] = []  # heap of the keys of _later
        self.next_tick = math.inf
        self._seq = 0

    def add(self, t: float, payload: object) -> None:
        self._seq += 1
        entry = (t, self._seq, payload)
        b = int(t * self._per_bucket)
        if b <= self._bucket:
            heappush(self.heap, entry)
        else:
            try:
                self._later[b].append(entry)
            except KeyError:
                self._later[b] = [entry]
                heappush(self._later_numbers, b)
        if t < self.next_tick:
            self._schedule(t)

    def _schedule(self, t: float) -> None:
        self.next_tick = t
        self.env.schedule(Tick(partial(self._wake, t)), 1, max(0.0, t - self.env._now))  # type: ignore[arg-type]

    def _refill(self) -> bool:
        """Move the live timers of the next bucket into the (empty) heap; False if there is none."""
        if not self._later_numbers:
            return False
        b = heappop(self._later_numbers)
        heap = self.live(self._later.pop(b))
        heapify(heap)
        self.heap = heap
        self._bucket = b
        return True

    def _wake(self, target: float, _event) -> None:
        if target == self.next_tick:
            self.next_tick = math.inf
        while True:
            heap = self.heap
            if heap:
                if heap[0][0] > target:
                    break
                self.fire(heappop(heap)[2])
            elif not self._refill():
                break
        # A timer that has become moot (its matter started or moved) stays so:
        # drop such heads now instead of waking up for them.
        live = self.live
        while True:
            heap = self.heap
            while heap and not live(heap[:1]):
                heappop(heap)
            if heap or not self._refill():
                break
        if heap and heap[0][0] < self.next_tick:
            self._schedule(heap[0][0])
