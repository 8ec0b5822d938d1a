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

Optional behaviour, each off unless configured:

* a working calendar: servers start tasks only on shift (a task running at
  the end of a shift is finished); queued work waits for the next shift;
* routine duties (grid workers): a share of on-shift time is owed to the
  "eight duties"; duties fill idle time, and a worker kept from them by
  matters catches up in blocks that waiting matters cannot interrupt;
* neighbour backup: a matter whose pool has no free server goes to a free
  server of a neighbouring pool, and a freed server with nothing of its own
  takes the oldest waiting work of its neighbours;
* vacancies: a server can be away (a worker being replaced); a pool with
  every server away passes its work to a covering pool.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Callable

import simpy

from .calendar import Calendar

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

TravelFn = Callable[["Server", int, int], tuple[float, float]]


class Server:
    """One worker, department desk or team: a long-lived SimPy process.

    Attributes:
        index: position in its pool.
        home: location used by the pool's travel function (a grid for
            workers, a base index for teams).
    """

    __slots__ = ("pool", "index", "home", "wake", "busy_h", "duty_done", "idle_since",
                 "vacant_until", "learning_until")

    def __init__(self, pool: "Pool", index: int, home: object = None) -> None:
        self.pool = pool
        self.index = index
        self.home = home
        self.wake: simpy.Event | None = None
        self.busy_h = 0.0
        self.duty_done = 0.0
        self.idle_since = 0.0
        self.vacant_until = 0.0
        self.learning_until = 0.0


class Pool:
    """Servers that share a queue.

    Args:
        model: the running model (gives the clock, matter state, callbacks).
        kind: ``worker``, ``department``, ``enforcement`` or ``petitions``.
        name: label for tables.
        homes: one entry per server (its location for travel).
        travel_h: ``travel_h(server, matter, step) -> (out_h, back_h)``;
            ``None`` means servers work where they are.
        calendar: when servers are on shift (``None``: always).
        duty_share, duty_block_h: routine duties (workers only).
    """

    def __init__(
        self,
        model: "Model",
        kind: str,
        name: str,
        homes: list[object],
        travel_h: TravelFn | None = None,
        calendar: Calendar | None = None,
        duty_share: float = 0.0,
        duty_block_h: float = 1.0,
    ) -> None:
        self.model = model
        self.kind = kind
        self.name = name
        self.travel_h = travel_h
        self.calendar = calendar
        self.duty_share = duty_share
        self.duty_block_h = duty_block_h
        self.neighbours: list[Pool] = []
        self.cover: Pool | None = None
        self.servers = [Server(self, i, h) for i, h in enumerate(homes)]
        self.idle: deque[Server] = deque()
        self._normal: list[tuple] = []  # (priority, seq, mid, token, step)
        self._by_deadline: list[tuple] = []  # (deadline, seq, mid, token, step)
        self._supervised: list[tuple] = []  # (deadline, seq, mid, token, step)
        self._seq = 0
        self.waiting = 0
        self.busy_h = 0.0
        self.duty_h = 0.0
        for s in self.servers:
            model.env.process(self._serve(s))

    @property
    def size(self) -> int:
        return len(self.servers)

    def on_shift(self) -> bool:
        cal = self.calendar
        return cal is None or cal.is_on(self.model.env.now)

    # -- queue ---------------------------------------------------------------
    def submit(self, mid: int, step: int, priority: int) -> None:
        """Hand a task to a free server (own pool first, then neighbours), or queue it."""
        if self.cover is not None:
            self.cover.submit(mid, step, priority)
            return
        if self.idle and self.on_shift():
            self._choose_idle(mid, step).wake.succeed((mid, step))  # type: ignore[union-attr]
            return
        for nb in self.neighbours:
            if nb.idle and nb.cover is None and nb.on_shift():
                nb._choose_idle(mid, step).wake.succeed((mid, step))  # type: ignore[union-attr]
                return
        self._enqueue(mid, step, priority)

    def _enqueue(self, mid: int, step: int, priority: int) -> None:
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

    def drain(self) -> list[tuple[int, int, int]]:
        """Remove and return every waiting task as (mid, step, priority), in queue order."""
        out = []
        while True:
            task = self._next_task(mark_supervised=False)
            if task is None:
                return out
            out.append(task)

    def _choose_idle(self, mid: int, step: int) -> Server:
        if self.travel_h is None or len(self.idle) == 1:
            return self.idle.popleft()
        best = min(self.idle, key=lambda s: self.travel_h(s, mid, step)[0])  # type: ignore[misc]
        self.idle.remove(best)
        return best

    def _next_task(self, mark_supervised: bool = True) -> tuple[int, int, int] | None:
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
                if mark_supervised:
                    m.supervised[entry[2]] = 1
        for heap in (self._supervised, self._normal):
            while heap:
                prio, _, mid, tok, step = heappop(heap)
                if token[mid] == tok:
                    token[mid] = tok + 1
                    self.waiting -= 1
                    return mid, step, prio
        raise AssertionError(f"pool {self.name}: {self.waiting} waiting but queue empty")

    def _pull(self) -> tuple[int, int, int] | None:
        task = self._next_task()
        if task is None:
            for nb in self.neighbours:
                if nb.waiting and nb.cover is None:
                    return nb._next_task()
        return task

    def wake_idle(self) -> None:
        """Wake idle servers that have work waiting (at a shift start or a return)."""
        pending = self.waiting + sum(nb.waiting for nb in self.neighbours)
        while self.idle and pending > 0:
            self.idle.popleft().wake.succeed(None)  # type: ignore[union-attr]
            pending -= 1

    # -- servers -------------------------------------------------------------
    def _serve(self, server: Server):
        env = self.model.env
        m = self.model
        travel_h = self.travel_h
        cal = self.calendar
        duty = self.duty_share
        while True:
            now = env.now
            if server.vacant_until > now:
                yield env.timeout(server.vacant_until - now)
                continue
            if cal is not None and not cal.is_on(now):
                yield env.timeout(cal.next_on(now) - now)
                continue
            if duty > 0.0:
                owed = duty * (cal.on_hours(now) if cal is not None else now) - server.duty_done
                if owed >= self.duty_block_h:  # kept from duties by matters: catch up now
                    block = self.duty_block_h
                    server.duty_done += block
                    self.duty_h += m.window_overlap(now, block)
                    yield env.timeout(block)
                    continue
            task = self._pull()
            if task is None:
                server.wake = env.event()
                server.idle_since = now
                self.idle.append(server)
                task = yield server.wake
                if duty > 0.0:
                    self._credit_idle_duty(server, env.now)
                if task is None:
                    continue
            mid, step = task[0], task[1]
            now = env.now
            out_h, back_h = travel_h(server, mid, step) if travel_h is not None else (0.0, 0.0)
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

    def _credit_idle_duty(self, server: Server, now: float) -> None:
        """Idle time on shift is spent on duties, up to what is owed."""
        cal = self.calendar
        if cal is not None:
            on_now, on_then = cal.on_hours(now), cal.on_hours(server.idle_since)
        else:
            on_now, on_then = now, server.idle_since
        credit = min(on_now - on_then, self.duty_share * on_now - server.duty_done)
        if credit > 0.0:
            server.duty_done += credit
            self.duty_h += self.model.window_overlap(now - credit, credit)
