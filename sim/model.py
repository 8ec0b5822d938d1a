"""One replication of a town: SimPy processes built from a scenario.

The life of a matter: it is born in a grid (its nature already drawn, see
``sim.arrivals``), the routing policy sends it to a pool (its grid worker, a
department, the enforcement teams), each finished step asks the policy again,
and the last step, the worker's feedback visit, closes it. Waiting matters
past their deadline are supervised (``sim.service``); simple matters waiting
too long for their worker are escalated, and residents who lose patience
before anyone starts on their matter petition (both by timers set here).
Closed matters leave their resident satisfied or not; workers are assessed on
it and replaced after repeated failures (``sim.assessment``).

The model never reads files or configs: it takes a ``Scenario``, a ``Layout``
and the ``Arrivals`` of one replication, and returns ``Records``.
"""

from __future__ import annotations

import contextlib
import gc
import math
from array import array
from functools import partial
from heapq import heappop

import numpy as np
import simpy

from . import assessment, departments, enforcement, invariants, workers
from .arrivals import EXTRA_COLUMNS, U_PATIENCE, U_SATISFACTION, Arrivals, generate
from .calendar import ShiftClock
from .distributions import Duration
from .records import CityRecords, Records
from .routing import DEPARTMENT, FEEDBACK, PRIO_NORMAL, RESOLVING_STEPS, SIMPLE, closing_step, make_policy
from .scenario import COMPLEXITIES, STEPS, Scenario
from .service import Pool, Tick
from .timers import TimerQueue
from .town import Layout

_NAN = float("nan")
RESOLVER_CODES = {"worker": 0, "department": 1, "enforcement": 2, "petitions": 3}


def _farray(values: np.ndarray) -> array:
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


class Model:
    """The SimPy model of one replication.

    Args:
        scenario: what to simulate.
        layout: the town's grids.
        arrivals: every matter of this replication, sorted by report time.
    """

    def __init__(self, scenario: Scenario, layout: Layout, arrivals: Arrivals,
                 on_progress=None, progress_step_h: float = 168.0, towns: tuple[int, ...] | None = None) -> None:
        self.scenario = scenario
        self.layout = layout
        # The towns simulated (default: all). Towns share nothing, so a city
        # can be simulated one town at a time (``run_replication``); the
        # arrivals must then be those of these towns' grids only.
        self.towns = tuple(range(layout.n_towns)) if towns is None else tuple(towns)
        simulated = np.isin(layout.unit_town, self.towns)
        self.units = np.flatnonzero(simulated).tolist()
        self.grids = np.flatnonzero(simulated[layout.grid_unit]).tolist()
        self.env = simpy.Environment()
        self.horizon_h = scenario.run.horizon_h
        self.warmup_h = scenario.run.warmup_h
        n = len(arrivals)
        self.n = n

        # Per-matter state, indexed by matter id: compact arrays, except the
        # input columns read at almost every step, which are lists. CPython
        # indexes a list inside the bytecode, while indexing an array or bytes
        # is a C call that also boxes a new float at each read (5% of the
        # run's instructions went to it). The lists are built once, here
        # (about 70 bytes a matter more than arrays); what the run writes
        # stays in arrays, so memory does not grow as the run goes on. The
        # records take the input columns among them from the numpy arrays
        # kept beside (``Records.from_model``).
        dl = np.asarray([scenario.routing.deadline(c) for c in COMPLEXITIES])
        self.report_col = np.ascontiguousarray(arrivals.time_h, dtype=np.float64)
        self.deadline_col = np.ascontiguousarray(arrivals.time_h + dl[arrivals.complexity], dtype=np.float64)
        self.grid_col = arrivals.grid.astype(np.int32)
        self.complexity_col = arrivals.complexity.astype(np.int8)
        self.report: list[float] = self.report_col.tolist()
        self.deadline: list[float] = self.deadline_col.tolist()
        self.grid: list[int] = self.grid_col.tolist()
        self.complexity: list[int] = self.complexity_col.tolist()
        self.category = bytes(arrivals.category.astype(np.uint8))
        self.discovered = bytes(arrivals.discovered.astype(np.uint8))
        self.work = [_farray(arrivals.work_h[:, j]) for j in range(len(STEPS))]
        self.token = [0] * n
        self.seq = 0  # queue-entry counter shared by all pools
        self.supervised = bytearray(n)
        self.escalated = bytearray(n)
        self.resolver = bytearray(b"\xff" * n)
        self.satisfied = bytearray(b"\xff" * n)
        # Whether anyone has started on the matter (t_start is set): read
        # at almost every step, a flag costs no float per read and no Python
        # float per matter kept for the whole run, as a list of times would.
        self.started = bytearray(n)
        self.t_start, self.t_onsite, self.t_res_in, self.t_hstart = (
            array("d", [_NAN]) * n for _ in range(4)
        )
        self.t_honsite, self.t_handled, self.t_closed, self.t_petition = (
            array("d", [_NAN]) * n for _ in range(4)
        )

        self.has_step = tuple(not Duration(scenario.handling.step(s)).is_zero for s in STEPS)
        self._difficulty = layout.grid_difficulty.tolist()
        self._uniform_difficulty = bool(np.all(layout.grid_difficulty == 1.0))
        self.grid_work_h = [0.0] * layout.n_grids  # worker hours per grid in the window

        self.policy = make_policy(scenario.routing.policy, scenario.routing.escalate_after_h)
        self._next_step = self.policy.next_step
        # The step at whose end a server closes the matter itself (-1: none):
        # Model.route would only close it there, since the policy always
        # closes after it (routing.closing_step) and it is not a resolving
        # step (route records nothing at its end).
        closing = closing_step(self.policy)
        self.closing_step = -1 if closing is None or closing in RESOLVING_STEPS else closing
        self._resolving = tuple(s in RESOLVING_STEPS for s in range(len(STEPS)))
        self._learning_factor = scenario.assessment.learning_factor
        self.worker_pools, self._grid_pool = workers.build_pools(self)
        # Departments, teams and the petitions office belong to a town; each
        # grid is served by those of its own town.
        self.department_pools, by_town = departments.build_pools(self)
        self._grid_departments = self._per_grid(by_town)
        teams = enforcement.build_pools(self)
        self._grid_enforcement = self._per_grid(teams)
        self.pools: list[Pool] = [*self.worker_pools, *self.department_pools, *teams.values()]
        self.policy.prepare(self)

        pet = scenario.petitions
        self._patience: np.ndarray | None = None
        if pet.patience_mean_h is not None:
            offices = departments.build_petitions_offices(self)
            self._grid_petitions = self._per_grid(offices)
            self.pools.extend(offices.values())
            self._patience = _farray(-pet.patience_mean_h * np.log1p(-arrivals.extra_u[:, EXTRA_COLUMNS.index(U_PATIENCE)]))
            self._timer_set = bytearray(n)
            self._waiting_in = array("i", bytes(4 * n)) if n else array("i")  # pool index of a queued matter
            self._abandon_timers = TimerQueue(self.env, self._abandon, self._not_started)
        clocks: dict[object, ShiftClock] = {}
        for i, pool in enumerate(self.pools):
            pool.index = i
            pool.resolver_code = RESOLVER_CODES[pool.kind]
            if pool.calendar is not None:  # one clock per distinct calendar
                if pool.calendar not in clocks:
                    clocks[pool.calendar] = ShiftClock(pool.calendar, self.env, self.horizon_h)
                pool.clock = clocks[pool.calendar]
        self._escalation_timers = TimerQueue(self.env, self._escalate, self._still_queued)
        # Whether a queued task needs on_queued at all (escalation or patience timers).
        self._escalate_h = self.policy.escalate_after_h if self.has_step[DEPARTMENT] else None
        self.queue_hooks = self._escalate_h is not None or self._patience is not None
        sat = scenario.satisfaction
        penalty = 0.0 if self.has_step[FEEDBACK] else sat.no_feedback_penalty
        self._sat = (sat.on_time - penalty, sat.floor - penalty, sat.decay_h)
        self._u_satisfaction = _farray(arrivals.extra_u[:, EXTRA_COLUMNS.index(U_SATISFACTION)])
        self.assessor = assessment.Assessor(self) if scenario.assessment.period_days else None

        # Reports are not events in SimPy's queue: the run loop merges the
        # sorted report times with it (see _run_until). The next report keeps
        # the place in the queue's order an event scheduled now would have:
        # (time, NORMAL priority, an event id taken from SimPy's counter now).
        self._next_arrival = 0
        self._arrival_at = 0.0 + self.report[0] if n else math.inf  # as env.schedule(ev, NORMAL, report[0]) at 0
        self._arrival_eid = next(self.env._eid) if n else 0
        self._start_shift_bells()
        if on_progress is not None:
            self._progress = (on_progress, progress_step_h)
            self.at(progress_step_h, self._report_progress)

    def _report_progress(self) -> None:
        callback, step = self._progress
        callback(self.env._now, self._next_arrival)
        self.at(self.env._now + step, self._report_progress)

    def _per_grid(self, by_town: dict[int, Pool]) -> list[Pool | None]:
        """A list indexed by grid: each simulated grid's town's pool (None
        for the grids of towns not simulated). Built over this model's grids
        only: a city simulated town by town builds one per town."""
        out: list[Pool | None] = [None] * self.layout.n_grids
        grid_town = self.layout.grid_town
        for g in self.grids:
            out[g] = by_town.get(int(grid_town[g]))
        return out

    # -- lookups used by policies ------------------------------------------
    def worker_pool(self, mid: int) -> Pool:
        return self._grid_pool[self.grid[mid]]

    def department_pool(self, mid: int) -> Pool:
        return self._grid_departments[self.grid[mid]][self.category[mid]]

    def enforcement_pool(self, mid: int) -> Pool:
        return self._grid_enforcement[self.grid[mid]]

    def window_overlap(self, start: float, length: float) -> float:
        """Part of [start, start + length) inside the measurement window."""
        end = start + length  # max(0, min(end, horizon) - max(start, warm-up)), without three calls
        if end > self.horizon_h:
            end = self.horizon_h
        x = end - (start if start >= self.warmup_h else self.warmup_h)
        return x if x > 0.0 else 0.0

    # -- processes -----------------------------------------------------------
    def _start_shift_bells(self) -> None:
        """At each shift start, wake idle servers that have work waiting."""
        by_calendar: dict[object, list[Pool]] = {}
        for pool in self.pools:
            if pool.calendar is not None:
                by_calendar.setdefault(pool.calendar, []).append(pool)
        for cal, pools in by_calendar.items():
            self.env.process(self._bell(cal.shift_starts(self.horizon_h), pools))

    def _bell(self, starts: list[float], pools: list[Pool]):
        env = self.env
        for t in starts:
            if t > env._now:
                yield env.timeout(t - env._now)
            for pool in pools:
                pool.wake_idle()

    def at(self, t: float, callback, *args) -> None:
        """Call ``callback(*args)`` at time ``t`` (a timer without a process)."""
        self.env.schedule(Tick(partial(_fire, callback, args)), 1, max(0.0, t - self.env._now))  # type: ignore[arg-type]

    # -- callbacks from pools -----------------------------------------------
    def route(self, mid: int, done: int | None) -> None:
        """Send a matter to its next step (``done``: the step just finished by
        a server, ``None`` for a new report), or close it."""
        if done is not None and self._resolving[done]:
            self.t_handled[mid] = self.env._now
        nxt = self._next_step(self, mid, done)
        if nxt is None:
            self._close(mid)
            return
        pool, step, priority = nxt
        if self._resolving[step]:
            self.t_res_in[mid] = self.env._now
        pool.submit(mid, step, priority)

    def on_queued(self, pool: Pool, mid: int, step: int, token: int) -> None:
        """A task of a matter nobody has started on had to wait: set its
        escalation and patience timers (the pool calls this only for such
        matters: a simple matter's first step, or any step before the first)."""
        h = self._escalate_h
        if h is not None and step == SIMPLE and pool._is_worker:
            self._escalation_timers.add(self.report[mid] + h, (mid, token, pool))
        if self._patience is not None:
            self._waiting_in[mid] = pool.index
            if not self._timer_set[mid]:
                self._timer_set[mid] = 1
                self._abandon_timers.add(self.report[mid] + self._patience[mid], mid)

    def _still_queued(self, timers: list[tuple[float, int, tuple[int, int, Pool]]]) -> list:
        """The escalation timers whose task is still queued where it was (one
        call for a list, not one per timer: most timers are moot when tested)."""
        token = self.token
        return [x for x in timers if token[x[2][0]] == x[2][1]]

    def _not_started(self, timers: list[tuple[float, int, int]]) -> list:
        """The patience timers whose matter nobody has started on."""
        started = self.started
        return [x for x in timers if not started[x[2]]]

    def _escalate(self, entry: tuple[int, int, Pool]) -> None:
        mid, token, pool = entry
        if self.token[mid] != token:  # started, moved or already escalated
            return
        pool.withdraw(mid)
        self.escalated[mid] = 1
        self.t_res_in[mid] = self.env._now
        self.department_pool(mid).submit(mid, DEPARTMENT, PRIO_NORMAL)

    def _abandon(self, mid: int) -> None:
        """The resident's patience ran out before anyone started: a petition."""
        if self.started[mid]:  # someone has started on it
            return
        # Not started means still queued, in the pool it last queued in.
        self.pools[self._waiting_in[mid]].withdraw(mid)
        self.t_petition[mid] = self.env._now
        self.t_res_in[mid] = self.env._now
        self._grid_petitions[self.grid[mid]].submit(mid, DEPARTMENT, PRIO_NORMAL)

    def _close(self, mid: int) -> None:
        now = self.env._now
        if not self.started[mid]:  # closed without any step
            self.started[mid] = 1
            self.t_start[mid] = self.t_onsite[mid] = now
        self.t_closed[mid] = now
        sat = self._sat
        late = now - self.deadline[mid]
        p = sat[0] if late <= 0.0 else sat[1] + (sat[0] - sat[1]) * math.exp(-late / sat[2])
        ok = self._u_satisfaction[mid] < p
        self.satisfied[mid] = 1 if ok else 0
        if self.assessor is not None:  # Assessor.closed, inlined: once per matter
            g = self.grid[mid]
            self.assessor.closed_n[g] += 1
            if ok:
                self.assessor.satisfied_n[g] += 1

    # -- running -------------------------------------------------------------
    def run(self) -> Records:
        """Simulate to the horizon and return the records."""
        with _cycle_collector_paused():
            self._run_until(self.horizon_h)
        return Records.from_model(self)

    def release(self) -> None:
        """Drop the model's references to its pools and per-matter inputs.

        Servers and pools refer to each other, so a finished model is freed
        only by Python's cycle collector; at city scale, where a model per
        town is built in turn, that would keep dead towns' per-matter arrays
        (the large part) alive until then. The pools themselves still wait
        for the collector.
        """
        self.__dict__.clear()

    def _run_until(self, until: float) -> None:
        """``env.run(until=until)`` with the reports merged in, and SimPy 4's
        ``Environment.step`` inlined.

        The loop takes the earlier of the next report and the head of SimPy's
        queue, comparing (time, priority, event id) exactly as the queue
        orders its own events, so a report is handled where its event would
        have been. A queue event before the next report's time needs no more
        than a comparison of times (the inner loop); only one at that very
        time is ordered by (priority, event id). A report routes every matter
        reported by then (ties come together), and the next report takes an
        event id. Queue events: pop the earliest, set the clock, and call a
        server's own event (a ``partial``, see ``Pool._start``) or the
        callbacks of any other, crashing on a failed event nobody defused, as
        ``step`` does, without a method call and a try block per event.
        SimPy's ``run`` stops at a stop event scheduled at ``until`` before
        every other event at that time; here the loop stops at the first
        event at or after ``until``: the same events are processed, in the
        same order.
        """
        env = self.env
        if not until > env._now:
            raise ValueError(f"until ({until}) must be greater than the current simulation time")
        queue = env._queue
        eids = env._eid
        pop = heappop
        server_event = partial
        report, n, route = self.report, self.n, self.route
        at, eid = self._arrival_at, self._arrival_eid
        while True:
            before = at if at < until else until
            while queue:
                head = queue[0]
                if not head[0] < before:  # at the next report's time, the queue's order decides
                    if not (head[0] == at and at < until and (head[1] < 1 or (head[1] == 1 and head[2] < eid))):
                        break
                env._now, _, _, event = pop(queue)
                if type(event) is server_event:
                    event()
                    continue
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
            if not at < until:
                break
            env._now = at
            mid = self._next_arrival
            while mid < n and report[mid] <= at:
                route(mid, None)
                mid += 1
            self._next_arrival = mid
            if mid < n:  # as env.schedule(ev, NORMAL, report[mid] - now)
                at, eid = at + (report[mid] - at), next(eids)
            else:
                at = math.inf
        self._arrival_at, self._arrival_eid = at, eid
        env._now = until


def _fire(callback, args, _event) -> None:
    callback(*args)


@contextlib.contextmanager
def _cycle_collector_paused():
    """Pause Python's cycle collector while a model runs (reference counting still frees memory).

    The run allocates and frees queue entries by the million but makes no
    reference cycles that outlive an event: pools, servers and their events
    are built before it starts, and a processed event drops its callbacks.
    The collector would only walk the same live objects again and again
    (5% of the run's instructions under valgrind); it resumes afterwards, as
    it was, and finds next to nothing (a few thousand objects in a city-year).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def simulate_town(scenario: Scenario, layout: Layout, replication: int, town: int | None,
                  on_progress=None, check: bool = True, check_metrics: bool = True) -> Records:
    """Simulate one town of a city (``town=None``: the whole area) in one replication.

    ``on_progress(now_h, matters_reported)`` is called every simulated week.
    With ``check`` the invariants of ``sim.invariants`` are checked on the
    records: a violation raises ``InvariantError``. ``check_metrics=False``
    leaves those of the metrics to the caller (``invariants.check_values``).
    """
    towns = None if town is None else (town,)
    arrivals = generate(scenario, layout, replication, towns=towns)
    model = Model(scenario, layout, arrivals, on_progress=on_progress, towns=towns)
    del arrivals
    rec = model.run()
    model.release()  # the per-matter arrays not in the records go now, not at the next GC cycle
    if check:
        try:
            invariants.check(rec, scenario, replication=replication, metrics_checks=check_metrics)
        except invariants.InvariantError as exc:
            if town is None:
                raise
            raise invariants.InvariantError(  # the matter ids here are the town's own, not the city's
                exc.invariant, f"town {town} (matter numbers within the town): {exc}", exc.matter) from None
    return rec


def run_replication(scenario: Scenario, layout: Layout, replication: int, on_progress=None,
                    check: bool = True, check_metrics: bool = True) -> Records:
    """Generate the arrivals of replication ``replication`` and simulate it.

    A city is simulated one town at a time: towns share no servers, queues or
    timers, so each town's matters meet exactly the same events as in one
    simulation of the whole city (a test compares the two), and the records
    are merged. Small event and timer heaps keep the cost per matter of a
    city that of a town, and only one town's arrivals and model are in memory
    at a time (``sim.parallel`` runs towns on several processes).

    ``on_progress(now_h, matters_reported, part)`` is called every simulated
    week; ``part`` is ``(town, towns)`` for a city, ``None`` for one town.
    With ``check`` (the default) the invariants of ``sim.invariants`` are
    checked on each town's records: a violation raises ``InvariantError``;
    ``check_metrics=False`` leaves those of the metrics to the caller
    (``invariants.check_values`` on the merged records' metrics).
    """
    if layout.n_towns == 1:
        report = None if on_progress is None else partial(_progress_of_part, on_progress, None, 0)
        return simulate_town(scenario, layout, replication, None, report, check, check_metrics)
    city = CityRecords()
    reported = 0
    for t in range(layout.n_towns):
        report = None if on_progress is None else partial(_progress_of_part, on_progress, (t, layout.n_towns),
                                                            reported)
        rec = simulate_town(scenario, layout, replication, t, report, check, check_metrics)
        reported += len(rec)
        city.add(rec)
        del rec
    return city.records()


def _progress_of_part(on_progress, part, before: int, now_h: float, matters: int) -> None:
    on_progress(now_h, before + matters, part)
