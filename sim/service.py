"""Service pools: grid workers, department desks and enforcement teams.

A pool is a set of servers sharing one queue, as in a SimPy ``Resource`` but
leaner: each server is one long-lived SimPy process that pulls tasks from the
pool's queue, instead of one process per matter requesting a resource. That is
the hot path of the model, so it keeps per-task work and allocation small.

Queue discipline (the source's "overdue matters are supervised"): a matter
still waiting when its deadline passes is moved to the front of the queue it
is in. Supervised matters are served earliest-deadline first, then the rest
by priority class and first-come first-served. The move to the front is
applied when a server next picks a task, which gives exactly the same order as
moving it at the deadline itself, without one timer per matter.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Callable

import simpy

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model


class Server:
    """One worker, department desk or team: a long-lived SimPy process.

    Attributes:
        index: position in its pool.
        home: opaque location used by the pool's travel function (a grid for
            workers, a base point for teams).
    """

    __slots__ = ("pool", "index", "home", "wake", "busy_h")

    def __init__(self, pool: "Pool", index: int, home: object = None) -> None:
        self.pool = pool
        self.index = index
        self.home = home
        self.wake: simpy.Event | None = None
        self.busy_h = 0.0


class Pool:
    """Servers that share a queue.

    Args:
        model: the running model (gives the clock, matter state, callbacks).
        kind: ``worker``, ``department`` or ``enforcement``.
        name: label for tables.
        homes: one entry per server (its location for travel).
        travel_h: ``travel_h(server, matter) -> (out_h, back_h)``; ``None``
            means servers work where they are.
    """

    def __init__(
        self,
        model: "Model",
        kind: str,
        name: str,
        homes: list[object],
        travel_h: Callable[[Server, int], tuple[float, float]] | None = None,
    ) -> None:
        self.model = model
        self.kind = kind
        self.name = name
        self.travel_h = travel_h
        self.servers = [Server(self, i, h) for i, h in enumerate(homes)]
        self.idle: deque[Server] = deque()
        self._normal: list[tuple] = []  # (priority, seq, mid, token, step)
        self._by_deadline: list[tuple] = []  # (deadline, seq, mid, token, step)
        self._supervised: list[tuple] = []  # (deadline, seq, mid, token, step)
        self._seq = 0
        self.waiting = 0
        self.busy_h = 0.0
        for s in self.servers:
            model.env.process(self._serve(s))

    @property
    def size(self) -> int:
        return len(self.servers)

    # -- queue ---------------------------------------------------------------
    def submit(self, mid: int, step: int, priority: int) -> None:
        """Hand a task to an idle server, or queue it."""
        if self.idle:
            server = self._choose_idle(mid)
            server.wake.succeed((mid, step))  # type: ignore[union-attr]
            return
        m = self.model
        tok = m.token[mid]
        self._seq += 1
        heappush(self._normal, (priority, self._seq, mid, tok, step))
        heappush(self._by_deadline, (m.deadline[mid], self._seq, mid, tok, step))
        self.waiting += 1
        m.on_queued(self, mid, step, tok)

    def withdraw(self, mid: int) -> None:
        """Take a waiting matter out of the queue (escalation, abandonment)."""
        self.model.token[mid] += 1
        self.waiting -= 1

    def _choose_idle(self, mid: int) -> Server:
        if self.travel_h is None or len(self.idle) == 1:
            return self.idle.popleft()
        best = min(self.idle, key=lambda s: self.travel_h(s, mid)[0])  # type: ignore[misc]
        self.idle.remove(best)
        return best

    def _next_task(self) -> tuple[int, int] | None:
        if self.waiting == 0:
            if self._normal:  # only stale entries are left: drop them
                self._normal.clear()
                self._by_deadline.clear()
                self._supervised.clear()
            return None
        m = self.model
        token = m.token
        now = m.env.now
        dl = self._by_deadline
        while dl and dl[0][0] <= now:
            entry = heappop(dl)
            if token[entry[2]] == entry[3]:
                heappush(self._supervised, entry)
                m.supervised[entry[2]] = 1
        for heap in (self._supervised, self._normal):
            while heap:
                _, _, mid, tok, step = heappop(heap)
                if token[mid] == tok:
                    token[mid] = tok + 1
                    self.waiting -= 1
                    return mid, step
        raise AssertionError(f"pool {self.name}: {self.waiting} waiting but queue empty")

    # -- servers -------------------------------------------------------------
    def _serve(self, server: Server):
        env = self.model.env
        m = self.model
        travel_h = self.travel_h
        while True:
            task = self._next_task()
            if task is None:
                server.wake = env.event()
                self.idle.append(server)
                task = yield server.wake
            mid, step = task
            now = env.now
            out_h, back_h = travel_h(server, mid) if travel_h is not None else (0.0, 0.0)
            work = m.start(self, server, mid, step, now, out_h)
            busy = out_h + work + back_h
            m.account(self, server, mid, now, busy)
            if back_h > 0.0:
                yield env.timeout(out_h + work)
                m.done(self, server, mid, step)
                yield env.timeout(back_h)
            else:
                yield env.timeout(busy)
                m.done(self, server, mid, step)
