"""One replication of a town: SimPy processes built from a scenario.

The life of a matter: it is born in a grid (its nature already drawn, see
``sim.arrivals``), the routing policy sends it to a pool (its grid worker, a
department, the enforcement teams), each finished step asks the policy again,
and the last step, the worker's feedback visit, closes it. Waiting matters
past their deadline are supervised (``sim.service``); simple matters waiting
too long for their worker are escalated here.

The model never reads files or configs: it takes a ``Scenario``, a ``Layout``
and the ``Arrivals`` of one replication, and returns ``Records``.
"""

from __future__ import annotations

from array import array
from collections import deque

import numpy as np
import simpy

from . import departments, enforcement, workers
from .arrivals import Arrivals, generate
from .records import Records
from .routing import DEPARTMENT, PRIO_NORMAL, RESOLVING_STEPS, SIMPLE, make_policy
from .scenario import COMPLEXITIES, STEPS, Scenario
from .distributions import Duration
from .service import Pool, Server
from .town import Layout

_NAN = float("nan")
RESOLVER_CODES = {"worker": 0, "department": 1, "enforcement": 2}


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

    def __init__(self, scenario: Scenario, layout: Layout, arrivals: Arrivals) -> None:
        self.scenario = scenario
        self.layout = layout
        self.env = simpy.Environment()
        self.horizon_h = scenario.run.horizon_h
        self.warmup_h = scenario.run.warmup_h
        n = len(arrivals)
        self.n = n

        # Per-matter state, in compact arrays indexed by matter id.
        self.report = _farray(arrivals.time_h)
        self.grid = array("i", arrivals.grid.astype(np.int32).tobytes())
        self.category = bytes(arrivals.category.astype(np.uint8))
        self.complexity = bytes(arrivals.complexity.astype(np.uint8))
        self.work = [_farray(arrivals.work_h[:, j]) for j in range(len(STEPS))]
        dl = np.asarray([scenario.routing.deadline(c) for c in COMPLEXITIES])
        self.deadline = _farray(arrivals.time_h + dl[arrivals.complexity])
        self.token = array("l", bytes(8 * n)) if n else array("l")
        self.supervised = bytearray(n)
        self.escalated = bytearray(n)
        self.resolver = bytearray(b"\xff" * n)
        self.t_start, self.t_onsite, self.t_res_in, self.t_hstart = (
            array("d", [_NAN]) * n for _ in range(4)
        )
        self.t_honsite, self.t_handled, self.t_closed = (array("d", [_NAN]) * n for _ in range(3))

        self.has_step = tuple(not Duration(scenario.handling.step(s)).is_zero for s in STEPS)
        self._difficulty = layout.grid_difficulty.tolist()
        self._uniform_difficulty = bool(np.all(layout.grid_difficulty == 1.0))
        self.grid_work_h = np.zeros(layout.n_grids)

        self.policy = make_policy(scenario.routing.policy, scenario.routing.escalate_after_h)
        self.worker_pools, self._grid_pool = workers.build_pools(self)
        self.department_pools, self._category_pool = departments.build_pools(self)
        self.enforcement = enforcement.build_pool(self)
        self.pools: list[Pool] = [*self.worker_pools, *self.department_pools, self.enforcement]

        self._escalations: deque[tuple[float, int, int, Pool]] = deque()
        self._escalator_wake: simpy.Event | None = None
        self.env.process(self._arrivals())
        if self.policy.escalate_after_h is not None and self.has_step[DEPARTMENT]:
            self.env.process(self._escalator())

    # -- lookups used by policies ------------------------------------------
    def worker_pool(self, mid: int) -> Pool:
        return self._grid_pool[self.grid[mid]]

    def department_pool(self, mid: int) -> Pool:
        return self._category_pool[self.category[mid]]

    # -- processes -----------------------------------------------------------
    def _arrivals(self):
        env = self.env
        report = self.report
        for mid in range(self.n):
            delay = report[mid] - env.now
            if delay > 0.0:
                yield env.timeout(delay)
            self.route(mid, None)

    def _escalator(self):
        """Escalate simple matters still waiting for their worker after the threshold.

        Matters enter a worker's queue at their report time and the threshold
        is the same for all, so escalation times arrive in order: one deque
        and one process serve the whole town.
        """
        env = self.env
        dq = self._escalations
        token = self.token
        while True:
            if not dq:
                self._escalator_wake = env.event()
                yield self._escalator_wake
                continue
            t, mid, tok, pool = dq[0]
            if token[mid] != tok:
                dq.popleft()
                continue
            if t > env.now:
                yield env.timeout(t - env.now)
                continue
            dq.popleft()
            pool.withdraw(mid)
            self.escalated[mid] = 1
            self.t_res_in[mid] = env.now
            self.department_pool(mid).submit(mid, DEPARTMENT, PRIO_NORMAL)

    # -- callbacks from pools -----------------------------------------------
    def route(self, mid: int, done: int | None) -> None:
        """Send a matter to its next step, or close it."""
        nxt = self.policy.next_step(self, mid, done)
        if nxt is None:
            self._close(mid)
            return
        pool, step, priority = nxt
        if step in RESOLVING_STEPS:
            self.t_res_in[mid] = self.env.now
        pool.submit(mid, step, priority)

    def on_queued(self, pool: Pool, mid: int, step: int, token: int) -> None:
        """A task had to wait: schedule its escalation check if the rule has one."""
        h = self.policy.escalate_after_h
        if h is None or step != SIMPLE or pool.kind != "worker" or not self.has_step[DEPARTMENT]:
            return
        self._escalations.append((self.report[mid] + h, mid, token, pool))
        wake = self._escalator_wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def start(self, pool: Pool, server: Server, mid: int, step: int, now: float, out_h: float) -> float:
        """A server starts a step: record times, return the step's work in hours."""
        if self.t_start[mid] != self.t_start[mid]:  # NaN: first handler
            self.t_start[mid] = now
            self.t_onsite[mid] = now + out_h
        if step in RESOLVING_STEPS:
            self.t_hstart[mid] = now
            self.t_honsite[mid] = now + out_h
            self.resolver[mid] = RESOLVER_CODES[pool.kind]
        if step == DEPARTMENT and self.escalated[mid]:
            work = self.work[SIMPLE][mid]  # an escalated simple matter keeps its work content
        else:
            work = self.work[step][mid]
        if pool.kind == "worker" and not self._uniform_difficulty:
            work *= self._difficulty[self.grid[mid]]
        return work

    def account(self, pool: Pool, server: Server, mid: int, start: float, busy_h: float) -> None:
        """Add the part of a busy period that falls in the measurement window."""
        overlap = min(start + busy_h, self.horizon_h) - max(start, self.warmup_h)
        if overlap > 0.0:
            pool.busy_h += overlap
            server.busy_h += overlap
            if pool.kind == "worker":
                self.grid_work_h[self.grid[mid]] += overlap

    def done(self, pool: Pool, server: Server, mid: int, step: int) -> None:
        if step in RESOLVING_STEPS:
            self.t_handled[mid] = self.env.now
        self.route(mid, step)

    def _close(self, mid: int) -> None:
        now = self.env.now
        if self.t_start[mid] != self.t_start[mid]:  # closed without any step
            self.t_start[mid] = self.t_onsite[mid] = now
        self.t_closed[mid] = now

    # -- running -------------------------------------------------------------
    def run(self) -> Records:
        """Simulate to the horizon and return the records."""
        self.env.run(until=self.horizon_h)
        return Records.from_model(self)


def run_replication(scenario: Scenario, layout: Layout, replication: int) -> Records:
    """Generate the arrivals of replication ``replication`` and simulate it."""
    return Model(scenario, layout, generate(scenario, layout, replication)).run()
