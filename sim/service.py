"""Service pools: grid workers, department desks and enforcement teams.

A pool is a set of servers sharing one queue, as in a SimPy ``Resource`` but
leaner. This is the hot path of the model, so a server is not even a SimPy
process: it is a small state machine driven by SimPy's event loop. When a
server starts a task it puts one bare entry in SimPy's queue at the task's
end, a call that finishes the task and pulls the next one; an idle server
waits in the pool's idle list and is started directly by ``submit``. That
keeps the cost per task to one scheduled entry, with no generator, process,
event or allocation beyond the queue entry.

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

import math
from collections import deque
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Callable

from .calendar import Calendar, ShiftClock
from .routing import CX_SIMPLE, DEPARTMENT, SIMPLE

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

TravelFn = Callable[["Server", int, int], tuple[float, float]]


class Tick:
    """The cheapest event SimPy's loop accepts: callbacks and an ok flag.

    SimPy 4's ``Environment.step`` only reads ``callbacks`` and ``_ok`` of an
    event; the model also reads ``Environment._now`` instead of the ``now``
    property, and pushes onto ``Environment._queue`` with the environment's
    own event counter ``_eid`` (what ``Environment.schedule`` does, without
    the method call) on the hot path. These are SimPy 4 internals, hence the
    ``simpy<5`` pin in pyproject.toml.

    A Tick can be scheduled again once it has been processed (the loop sets
    its ``callbacks`` to None). Servers do without: the model's loop
    (``Model._run_until``) calls a ``partial`` found in the queue directly.
    """

    __slots__ = ("callbacks", "_ok")

    def __init__(self, callback=None) -> None:
        self.callbacks = [callback] if callback is not None else None
        self._ok = True


class Server:
    """One worker, department desk or team: a state machine on SimPy's clock.

    Attributes:
        index: position in its pool.
        home: location used by the pool's travel function (a grid for
            workers, a base index for teams).
        mid, step: the task in hand (``mid`` is -1 when there is none).
    """

    __slots__ = ("pool", "index", "home", "duty_done", "idle_since", "idle_on_h",
                 "vacant_until", "learning_until", "mid", "step", "back_h", "trips", "wake")

    def __init__(self, pool: "Pool", index: int, home: object = None) -> None:
        self.pool = pool
        self.index = index
        self.home = home
        self.duty_done = 0.0
        self.idle_since = 0.0
        self.idle_on_h = 0.0  # on-duty hours of its calendar when it went idle
        self.vacant_until = 0.0
        self.learning_until = 0.0
        self.mid = -1
        self.step = -1
        self.back_h = 0.0
        # Travel per step to a matter at ``home`` ((out, back) hours, indexed
        # by step), when the pool's travel function is known to give that
        # for every such matter; None: always ask the travel function.
        self.trips: tuple[tuple[float, float], ...] | None = None
        # The server's one pending event (a task's end, or a resume) is this
        # partial itself in SimPy's queue: the model's loop calls it, with no
        # event and no callback list to set and clear. It is built once and
        # reused; partial calls the pool's method from C: one Python frame, not two.
        self.wake = partial(pool._next, self)


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
        self.env = model.env
        self.kind = kind
        self.name = name
        self.travel_h = travel_h
        self.calendar = calendar
        self.clock: ShiftClock | None = None  # the calendar's state, set by the model
        self.duty_share = duty_share
        self.duty_block_h = duty_block_h
        self.neighbours: list[Pool] = []
        self.cover: Pool | None = None
        self.servers = [Server(self, i, h) for i, h in enumerate(homes)]
        self.idle: deque[Server] = deque()
        # While every queued task has the same priority and deadlines that do
        # not decrease in arrival order (e.g. a grid's first-step matters of
        # one complexity), supervision cannot reorder the queue: overdue tasks
        # are already at its front. The pool then keeps a plain FIFO deque and
        # switches to the structure below, for good, at the first task that
        # breaks the pattern. Same order, less work per task.
        self._fifo: deque[tuple] | None = deque()  # (priority, seq, mid, token, step, deadline)
        self._fifo_prio = -1
        self._fifo_last_deadline = -math.inf
        # Otherwise: one FIFO deque per priority class (index = priority; seq
        # grows with every entry, so each deque is in (priority, seq) order),
        # a heap of deadlines to find overdue tasks, and a heap of supervised
        # tasks by deadline. A task is in a class deque and the deadline heap;
        # whichever copy is served first makes the other stale (token).
        self._classes: list[deque[tuple]] = []  # (deadline, seq, mid, token, step, priority)
        self._by_deadline: list[tuple] = []  # the same tuples
        self._supervised: list[tuple] = []  # (deadline, seq, mid, token, step, priority)
        self.index = -1  # position in the model's pool list, set by the model
        self.resolver_code = -1  # the model's code for this kind of resolver, set by the model
        self.waiting = 0
        self.busy_h = 0.0
        self.duty_h = 0.0
        self._is_worker = kind == "worker"
        self._plain = travel_h is None and calendar is None and duty_share == 0.0
        self._closing_step = model.closing_step
        self._queue = model.env._queue
        self._eid = model.env._eid
        for server in self.servers:
            self._resume_in(server, 0.0)

    @property
    def size(self) -> int:
        return len(self.servers)

    def _resume_in(self, server: Server, delay: float) -> None:
        """Wake ``server`` after ``delay`` hours to look for work (its one pending event)."""
        heappush(self._queue, (self.env._now + delay, 1, next(self._eid), server.wake))  # 1 = NORMAL priority

    def on_shift(self) -> bool:
        clock = self.clock
        return clock is None or clock.on

    # -- queue ---------------------------------------------------------------
    def submit(self, mid: int, step: int, priority: int) -> None:
        """Start a task on a free server (own pool first, then neighbours), or queue it."""
        if self.cover is not None:
            self.cover.submit(mid, step, priority)
            return
        if self.idle and (self.clock is None or self.clock.on):
            self._start(self._choose_idle(mid, step), mid, step)
            return
        for nb in self.neighbours:
            if nb.idle and nb.cover is None and nb.on_shift():
                nb._start(nb._choose_idle(mid, step), mid, step)
                return
        # Queue it (inlined here: most tasks that reach a pool wait).
        m = self.model
        tok = m.token[mid]
        m.seq += 1  # town-wide, so that neighbours can compare ages
        seq = m.seq
        deadline = m.deadline[mid]
        fifo = self._fifo
        if fifo is not None and not fifo:
            self._fifo_prio = priority
        if fifo is not None and priority == self._fifo_prio and deadline >= self._fifo_last_deadline:
            self._fifo_last_deadline = deadline
            fifo.append((priority, seq, mid, tok, step, deadline))
        else:
            if fifo is not None:
                self._to_heaps()
            entry = (deadline, seq, mid, tok, step, priority)  # one tuple in both structures
            try:
                self._classes[priority].append(entry)
            except IndexError:  # the first task of a new priority class
                self._class(priority).append(entry)
            heappush(self._by_deadline, entry)
        self.waiting += 1
        # Timers are set only for matters nobody has started on (Model.on_queued).
        if m.queue_hooks and not m.started[mid]:
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
            server = self.idle.popleft()
        else:
            server = min(self.idle, key=lambda s: self.travel_h(s, mid, step)[0])  # type: ignore[misc]
            self.idle.remove(server)
        if self.duty_share > 0.0:
            self._credit_idle_duty(server, self.env._now)
        return server

    def _class(self, priority: int) -> deque[tuple]:
        classes = self._classes
        while len(classes) <= priority:
            classes.append(deque())
        return classes[priority]

    def _to_heaps(self) -> None:
        """Leave FIFO mode: move the queued tasks into the class deques and the deadline heap."""
        for prio, seq, mid, tok, step, deadline in self._fifo:  # type: ignore[union-attr]
            entry = (deadline, seq, mid, tok, step, prio)
            self._class(prio).append(entry)
            heappush(self._by_deadline, entry)
        self._fifo = None

    def _promote_overdue(self, mark: bool) -> None:
        """Supervision: waiting tasks past their deadline move to the front."""
        m = self.model
        token = m.token
        now = self.env._now
        dl = self._by_deadline
        while dl and dl[0][0] <= now:
            entry = heappop(dl)
            if token[entry[2]] == entry[3]:
                heappush(self._supervised, entry)
                if mark:
                    m.supervised[entry[2]] = 1

    def _next_task(self, mark_supervised: bool = True) -> tuple[int, int, int] | None:
        fifo = self._fifo
        if fifo is not None:
            if self.waiting == 0:
                fifo.clear()
                self._fifo_last_deadline = -math.inf
                return None
            m = self.model
            token = m.token
            while True:
                prio, _, mid, tok, step, deadline = fifo.popleft()
                if token[mid] == tok:
                    token[mid] = tok + 1
                    self.waiting -= 1
                    if mark_supervised and deadline <= self.env._now:
                        m.supervised[mid] = 1  # it waited past its deadline: it was at the front
                    return mid, step, prio
        if self.waiting == 0:
            if self._by_deadline or self._supervised or any(self._classes):  # only stale entries: drop them
                for q in self._classes:
                    q.clear()
                self._by_deadline.clear()
                self._supervised.clear()
            return None
        token = self.model.token
        dl = self._by_deadline
        if dl and dl[0][0] <= self.env._now:
            self._promote_overdue(mark_supervised)
        sup = self._supervised
        while sup:
            _, _, mid, tok, step, prio = heappop(sup)
            if token[mid] == tok:
                token[mid] = tok + 1
                self.waiting -= 1
                return mid, step, prio
        for q in self._classes:
            while q:
                _, _, mid, tok, step, prio = q.popleft()
                if token[mid] == tok:
                    token[mid] = tok + 1
                    self.waiting -= 1
                    return mid, step, prio
        raise AssertionError(f"pool {self.name}: {self.waiting} waiting but queue empty")

    def _head_key(self) -> tuple | None:
        """Sort key of the task this pool would serve next (None if empty).

        Supervised matters come first (earliest deadline), then priority
        class and arrival order (``seq`` is counted town-wide, so keys of
        different pools compare by age).
        """
        if self.waiting == 0:
            return None
        token = self.model.token
        fifo = self._fifo
        if fifo is not None:
            while token[fifo[0][2]] != fifo[0][3]:
                fifo.popleft()  # stale
            head = fifo[0]
            if head[5] <= self.env._now:  # overdue: ranks with supervised work, by deadline
                return (0, head[5], head[1])
            return (1, head[0], head[1])
        self._promote_overdue(True)
        sup = self._supervised
        while sup and token[sup[0][2]] != sup[0][3]:
            heappop(sup)  # stale: started, moved or withdrawn
        if sup:
            return (0, sup[0][0], sup[0][1])
        for q in self._classes:
            while q and token[q[0][2]] != q[0][3]:
                q.popleft()  # stale
            if q:
                return (1, q[0][5], q[0][1])
        return None  # pragma: no cover - waiting > 0 implies a valid entry

    def _pull(self) -> tuple[int, int, int] | None:
        task = self._next_task()
        if task is None and self.neighbours:
            best, best_key = None, None
            for nb in self.neighbours:
                if nb.waiting and nb.cover is None:
                    key = nb._head_key()
                    if key is not None and (best_key is None or key < best_key):
                        best, best_key = nb, key
            if best is not None:  # the oldest waiting work of the neighbours
                return best._next_task()
        return task

    def wake_idle(self) -> None:
        """Start idle servers that have work waiting (at a shift start or a return)."""
        if not self.idle:  # the common case at a shift start: nothing to do
            return
        pending = self.waiting
        if self.neighbours:
            pending += sum(nb.waiting for nb in self.neighbours)
        while self.idle and pending > 0:
            server = self.idle.popleft()
            if self.duty_share > 0.0:
                self._credit_idle_duty(server, self.env._now)
            self._next(server)
            pending -= 1

    def release(self, server: Server) -> None:
        """Take an idle server off duty (a vacancy starts): it re-checks its state now."""
        if server in self.idle:
            self.idle.remove(server)
            self._resume_in(server, 0.0)

    # -- server state machine ------------------------------------------------
    def _next(self, server: Server) -> None:
        """The server's event fired (its task ended, or a wait is over), or an
        idle server is called: finish the task in hand, then look for work
        (shift, vacancy and duties first)."""
        mid = server.mid
        if mid >= 0:  # the task in hand has ended (one callback for both events: a call less per task)
            server.mid = -1
            if server.step == self._closing_step:  # the matter's last step (once per matter): close it
                self.model._close(mid)
            else:
                self.model.route(mid, server.step)  # the model records the step's end and sends the matter on
            if server.back_h > 0.0:  # drive back to base before taking more work
                back, server.back_h = server.back_h, 0.0
                self._resume_in(server, back)
                return
        now = self.env._now
        if not self._plain or server.vacant_until > now:
            if server.vacant_until > now:
                self._resume_in(server, server.vacant_until - now)
                return
            clock = self.clock
            if clock is not None and not clock.on:
                if clock.next_start < math.inf:
                    self._resume_in(server, clock.next_start - now)
                return
            if self.duty_share > 0.0:
                if clock is not None:  # clock.on_hours(now), inlined
                    x = now - clock.day24 - clock.start_h
                    if x < 0.0:
                        x = 0.0
                    elif x > clock.shift_h:
                        x = clock.shift_h
                    on_h = clock.base + x
                else:
                    on_h = now
                owed = self.duty_share * on_h - server.duty_done
                if owed >= self.duty_block_h:  # kept from duties by matters: catch up now
                    block = self.duty_block_h
                    server.duty_done += block
                    self.duty_h += self.model.window_overlap(now, block)
                    self._resume_in(server, block)
                    return
        task = self._pull() if self.neighbours else self._next_task()
        if task is None:
            server.idle_since = now
            if self.duty_share > 0.0 and self.clock is not None:
                server.idle_on_h = on_h  # clock.on_hours(now), computed above (going idle happens on shift only)
            self.idle.append(server)
        else:
            self._start(server, task[0], task[1])

    def _start(self, server: Server, mid: int, step: int) -> None:
        m = self.model
        now = self.env._now  # the property costs a call per task; this is the hot path
        if self.travel_h is None:
            out_h = back_h = 0.0
        elif server.trips is not None and m.grid[mid] == server.home:  # the common case, without a call
            out_h, back_h = server.trips[step]
        else:
            out_h, back_h = self.travel_h(server, mid, step)
        # What the model records when a step starts, and the step's work
        # (the model's bookkeeping, inlined here: it runs for every task).
        started = m.started
        if not started[mid]:  # the matter's first handler
            started[mid] = 1
            m.t_start[mid] = now
            m.t_onsite[mid] = now + out_h
        if m._resolving[step]:
            m.t_hstart[mid] = now
            m.t_honsite[mid] = now + out_h
            m.resolver[mid] = self.resolver_code
        if step == DEPARTMENT and m.complexity[mid] == CX_SIMPLE and (m.escalated[mid] or self.kind == "petitions"):
            work = m.work[SIMPLE][mid]  # a simple matter keeps its simple work content
        else:
            work = m.work[step][mid]
        if self._is_worker:
            if not m._uniform_difficulty:
                work *= m._difficulty[m.grid[mid]]
            if server.learning_until > now:
                work *= m._learning_factor
        # the part of the busy period inside the measurement window:
        # min(now + busy, horizon) - max(now, warm-up), without two calls
        end = now + (out_h + work + back_h)
        if end > m.horizon_h:
            end = m.horizon_h
        overlap = end - now if now >= m.warmup_h else end - m.warmup_h
        if overlap > 0.0:
            self.busy_h += overlap
            if self._is_worker:
                m.grid_work_h[m.grid[mid]] += overlap
        server.mid = mid
        server.step = step
        server.back_h = back_h
        heappush(self._queue, (now + (out_h + work), 1, next(self._eid), server.wake))  # as env.schedule(ev, NORMAL, ...)

    def _credit_idle_duty(self, server: Server, now: float) -> None:
        """Idle time on shift is spent on duties, up to what is owed."""
        clock = self.clock
        if clock is not None:
            on_now, on_then = clock.on_hours(now), server.idle_on_h
        else:
            on_now, on_then = now, server.idle_since
        credit, owed = on_now - on_then, self.duty_share * on_now - server.duty_done
        if owed < credit:  # min(idle time, what is owed)
            credit = owed
        if credit > 0.0:
            server.duty_done += credit
            self.duty_h += self.model.window_overlap(now - credit, credit)
