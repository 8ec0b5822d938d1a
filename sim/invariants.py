"""Invariants every replication must satisfy: a violated one is a bug, never a warning.

After each replication the runner hands the records to ``check``, which
raises ``InvariantError`` naming the invariant, the first offending matter
(with its whole row) and the configuration. The checks are exact (orders
of recorded times, counts and capacities), apart from a tolerance of a few
units in the last place of the horizon where a clock time is compared for
equality with a time computed from the records (an escalation at report +
threshold): SimPy moves its clock to ``now + delay``, which can round one ulp
away from the target the delay was computed from. An order is never relaxed:
a matter started one ulp before its report is still started before it.

What is checked:

* ``columns``: every per-matter column has one entry per matter;
* ``report_time``: every matter has a finite report time in [0, horizon);
* ``non_negative``: no time is negative or infinite; busy hours are >= 0;
* ``within_horizon``: nothing starts, is handled or closes after the horizon;
* ``presence``: a stage reached implies the stages before it (start with
  on-site, handling start with handling on-site, handled with handling start,
  handling start with queue entry, closed with start) and the resolver code
  is set exactly when handling started;
* ``order``: report <= start <= on site; report <= queue entry <= handling
  start <= handling on site <= handled <= closed; start <= handling start;
* ``route`` (for the policies in ``ROUTE_RULES``): each complexity takes its
  route, skips the steps that do not exist, is resolved by the right kind of
  server, and a matter whose last step is done is closed at that moment (none
  lost, none left half-closed);
* ``escalation``: only simple matters under an escalating rule are escalated,
  exactly at report + threshold, and no simple matter waits for its worker
  past the threshold without being escalated;
* ``deadline`` and ``supervision``: deadlines are report + the complexity's
  deadline; only matters whose deadline passed are supervised;
* ``conservation``: closed + open == arrived, and the backlog metrics agree;
* ``capacity`` and ``work_conservation``: a department (of each town) never
  serves more matters than it has staff, never idles a desk while a matter
  waits for it; a town's teams never have more matters on site than teams;
* ``utilisation``: every pool is busy between 0 and 100% of the window;
  worker hours per grid add up to the worker pools' busy hours;
* ``rates``: every rate, share and utilisation metric is in [0, 1];
* ``littles_law``: for the whole system, each department (queue and stage)
  and the enforcement stage, the time-average number present over
  [warm-up, horizon), integrated from the count path, equals the sum of
  sojourns clipped to the window divided by its length. The two sides are
  computed by independent code paths and must agree to relative 1e-9 (or
  the floating-point rounding bound of the path integral, if larger).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import metrics
from .distributions import Duration
from .records import TIME_COLUMNS, Records
from .routing import POLICIES, Tiered, make_policy
from .scenario import COMPLEXITIES, STEPS, Scenario


LITTLE_RTOL = 1e-9
_EPS = float(np.finfo(float).eps)
_SIMPLE, _TRIAGE, _DEPARTMENT, _URGENT, _FEEDBACK = (STEPS.index(s) for s in
                                                   ("simple", "triage", "department", "urgent", "feedback"))
_CX_SIMPLE, _CX_DIFFICULT, _CX_URGENT = (COMPLEXITIES.index(c) for c in ("simple", "difficult", "urgent"))
_RATE_METRICS = ("overdue_rate", "escalation_rate", "in_grid_rate", "supervised_rate", "waited_rate",
                 "worker_utilization", "department_utilization", "enforcement_utilization")


class InvariantError(RuntimeError):
    """An invariant of the model does not hold: a bug, reported with its evidence.

    Attributes:
        invariant: name of the violated invariant.
        matter: id of the first offending matter, or ``None`` for a
            whole-run invariant.
    """

    def __init__(self, invariant: str, message: str, matter: int | None = None) -> None:
        self.invariant = invariant
        self.matter = matter
        super().__init__(message)

    def __reduce__(self):  # raised in a worker process (jobs > 1), re-raised in the parent
        return (InvariantError, (self.invariant, str(self), self.matter))


def describe(scenario: Scenario, replication: int | None = None) -> str:
    """A short identification of the configuration, for error messages."""
    s = scenario
    esc = "null" if s.routing.escalate_after_h is None else f"{s.routing.escalate_after_h:g}"
    rep = "" if replication is None else f" replication={replication}"
    return (f"town={s.town.name} (population {s.town.population}, people_per_grid={s.town.people_per_grid}), "
            f"routing.policy={s.routing.policy} escalate_after_h={esc}, "
            f"staffing={s.staffing.workers_per_grid}/grid pooling={s.staffing.pooling}, "
            f"enforcement.teams={s.enforcement.teams}, "
            f"seed={s.run.seed}{rep} horizon_days={s.run.horizon_days:g} warmup_days={s.run.warmup_days:g}")


def matter_row(rec: Records, mid: int) -> dict[str, object]:
    """Everything recorded about one matter, for error messages."""
    row: dict[str, object] = {
        "grid": int(rec.grid[mid]), "unit": int(rec.unit[mid]), "town": int(rec.town[mid]),
        "category": int(rec.category[mid]), "complexity": COMPLEXITIES[int(rec.complexity[mid])]
        if 0 <= int(rec.complexity[mid]) < len(COMPLEXITIES) else int(rec.complexity[mid]),
        "resolver": int(rec.resolver[mid]), "escalated": bool(rec.escalated[mid]),
        "supervised": bool(rec.supervised[mid]),
    }
    for name in TIME_COLUMNS:
        row[name] = float(rec.times[name][mid])
    return row


class _Checker:
    """Runs the checks of one replication; ``fail`` builds the error message."""

    def __init__(self, rec: Records, scenario: Scenario, replication: int | None) -> None:
        self.rec = rec
        self.scenario = scenario
        self.replication = replication
        self.h = float(rec.horizon_h)
        self.w = float(rec.warmup_h)
        # Clock-versus-stored-time slack (see the module docstring).
        self.tol = 8.0 * _EPS * max(self.h, 1.0)
        self.has = tuple(not Duration(scenario.handling.step(s)).is_zero for s in STEPS)
        # Matters whose residents petitioned (realism mechanism; absent = never).
        t_pet = rec.times.get("t_petition")
        self.petitioned = np.zeros(len(rec), bool) if t_pet is None else ~np.isnan(t_pet)
        policy = POLICIES.get(scenario.routing.policy)
        # Route checks describe Tiered.next_step; a policy with its own
        # next_step gets the generic checks only.
        self.known_route = policy is not None and issubclass(policy, Tiered) and policy.next_step is Tiered.next_step
        self.escalate_after_h = (make_policy(scenario.routing.policy, scenario.routing.escalate_after_h).escalate_after_h
                                 if policy is not None else None)
        calendars = getattr(scenario, "calendars", None)
        # Desks off shift may leave matters waiting: work conservation then
        # holds only around the clock.
        self.departments_always_on = getattr(calendars, "departments", None) is None

    def fail(self, invariant: str, detail: str, mask: np.ndarray | None = None) -> None:
        mid = None
        where = ""
        if mask is not None:
            bad = np.flatnonzero(mask)
            if bad.size == 0:
                return
            mid = int(bad[0])
            where = (f"; matter {mid} ({bad.size} matter{'s' if bad.size > 1 else ''} in all): "
                     f"{matter_row(self.rec, mid)}")
        raise InvariantError(invariant, f"invariant '{invariant}' violated: {detail}{where}; "
                                        f"config: {describe(self.scenario, self.replication)}", mid)

    def col(self, name: str) -> np.ndarray:
        return self.rec.times[name]

    # -- per-matter checks ----------------------------------------------------
    def columns(self) -> None:
        n = len(self.rec)
        r = self.rec
        for name, c in [*r.times.items(), ("unit", r.unit), ("category", r.category), ("complexity", r.complexity),
                        ("resolver", r.resolver), ("escalated", r.escalated), ("supervised", r.supervised)]:
            if c.shape != (n,):
                self.fail("columns", f"column {name} has shape {c.shape}, expected ({n},)")
        if set(r.times) != set(TIME_COLUMNS):
            self.fail("columns", f"time columns {sorted(r.times)} differ from {sorted(TIME_COLUMNS)}")
        bad_cx = (r.complexity < 0) | (r.complexity >= len(COMPLEXITIES))
        self.fail("columns", "complexity code out of range", bad_cx)
        self.fail("columns", "resolver code not in {-1, 0, 1, 2, 3}", (r.resolver < -1) | (r.resolver > 3))

    def times(self) -> None:
        t0 = self.col("t_report")
        self.fail("report_time", f"report time not finite or outside [0, horizon={self.h:g})",
                  ~np.isfinite(t0) | (t0 < 0.0) | (t0 >= self.h))
        for name in TIME_COLUMNS:
            c = self.col(name)
            self.fail("non_negative", f"{name} is negative or infinite", np.isinf(c) | (c < 0.0))
        for name in ("t_start", "t_res_in", "t_handle_start", "t_handled", "t_closed"):
            self.fail("within_horizon", f"{name} after the horizon ({self.h:g} h)", self.col(name) > self.h)

    def presence(self) -> None:
        p = {name: ~np.isnan(self.col(name)) for name in TIME_COLUMNS}
        pairs = (
            ("t_onsite", "t_start"), ("t_start", "t_onsite"),
            ("t_handle_onsite", "t_handle_start"), ("t_handle_start", "t_handle_onsite"),
            ("t_handled", "t_handle_start"), ("t_handle_start", "t_res_in"),
            ("t_handle_start", "t_start"), ("t_closed", "t_start"),
        )
        for later, earlier in pairs:
            self.fail("presence", f"{later} is set but {earlier} is not", p[later] & ~p[earlier])
        self.fail("presence", "t_deadline missing", ~p["t_deadline"])
        started = p["t_handle_start"]
        self.fail("presence", "resolver set without handling start, or handling start without resolver",
                  started != (self.rec.resolver >= 0))

    def order(self) -> None:
        chains = (
            ("t_report", "t_start"), ("t_start", "t_onsite"),
            ("t_report", "t_res_in"), ("t_res_in", "t_handle_start"), ("t_handle_start", "t_handle_onsite"),
            ("t_handle_onsite", "t_handled"), ("t_handled", "t_closed"),
            ("t_start", "t_handle_start"), ("t_start", "t_closed"), ("t_onsite", "t_closed"),
            ("t_report", "t_closed"),
        )
        for a, b in chains:
            # Exact: NaN compares False, so only pairs where both are present count.
            self.fail("order", f"{a} > {b}", self.col(a) > self.col(b))

    def route(self) -> None:
        """Routes of ``sim.routing.Tiered`` and the policies that share its ``next_step``."""
        if not self.known_route:
            return
        r = self.rec
        has = self.has
        cx = r.complexity
        esc = r.escalated
        pet = self.petitioned
        resolving = np.select([cx == _CX_SIMPLE, cx == _CX_DIFFICULT], [has[_SIMPLE], has[_DEPARTMENT]], has[_URGENT])
        res_in = self.col("t_res_in")
        handled = ~np.isnan(self.col("t_handled"))
        closed = ~np.isnan(self.col("t_closed"))
        self.fail("route", "a matter whose complexity has no resolving step entered a resolving queue",
                  ~pet & ~resolving & ~np.isnan(res_in))
        self.fail("route", "closed without its resolving step being handled", closed & (resolving | pet) & ~handled)
        expected = np.select([pet, esc, cx == _CX_SIMPLE, cx == _CX_DIFFICULT], [3, 1, 0, 1], 2)
        self.fail("route", "resolved by the wrong kind of server (0 worker, 1 department, 2 enforcement, 3 petitions)",
                  (r.resolver >= 0) & (r.resolver != expected))
        # A simple matter is submitted to its worker at its report time, and a
        # difficult or urgent one skips triage when there is none.
        direct = (cx == _CX_SIMPLE) | (not has[_TRIAGE])
        self.fail("route", "queue entry differs from report time although the route starts there",
                  direct & ~esc & ~pet & ~np.isnan(res_in) & (np.abs(res_in - self.col("t_report")) > self.tol))
        # None lost: without a feedback visit the matter closes the moment its
        # resolving step is done; with no step at all, at its report time.
        if not has[_FEEDBACK]:
            self.fail("route", "resolving step done but the matter was not closed at that moment (no feedback step)",
                      handled & (self.col("t_closed") != self.col("t_handled")))
            no_step = ~resolving & ((cx == _CX_SIMPLE) | (not has[_TRIAGE]))
            self.fail("route", "a matter with no steps was not closed at its report time",
                      no_step & ~(np.abs(self.col("t_closed") - self.col("t_report")) <= self.tol))

    def petitions(self) -> None:
        """A petition is a matter nobody had started when its resident's patience ran out."""
        r = self.rec
        pet = self.petitioned
        if "t_petition" not in r.times:
            self.fail("petition", "resolved by the petitions office without a petition time", r.resolver == 3)
            return
        t_pet = self.col("t_petition")
        self.fail("petition", "resolved by the petitions office without a petition", ~pet & (r.resolver == 3))
        self.fail("petition", "petition time differs from its entry into the petitions queue",
                  pet & (self.col("t_res_in") != t_pet))
        self.fail("petition", "someone had started on the matter before its petition",
                  pet & (self.col("t_start") < t_pet - self.tol))
        self.fail("petition", "petition before the report or after the horizon",
                  pet & ((t_pet < self.col("t_report") - self.tol) | (t_pet > self.h)))
        if getattr(getattr(self.scenario, "petitions", None), "patience_mean_h", None) is None:
            self.fail("petition", "a petition although petitions are off", pet)

    def escalation(self) -> None:
        if not self.known_route:
            return
        r = self.rec
        esc = r.escalated
        h_esc = self.escalate_after_h
        active = h_esc is not None and self.has[_SIMPLE] and self.has[_DEPARTMENT]
        if not active:
            self.fail("escalation", "escalated although the rule never escalates", esc)
            return
        t0 = self.col("t_report")
        pet = self.petitioned  # a petition overwrites the queue entry time and ends the wait
        self.fail("escalation", "escalated a matter that is not simple", esc & (r.complexity != _CX_SIMPLE))
        self.fail("escalation", f"escalated at a time other than report + {h_esc:g} h",
                  esc & ~pet & ~(np.abs(self.col("t_res_in") - (t0 + h_esc)) <= self.tol))
        hs = self.col("t_handle_start")
        self.fail("escalation", "an escalated matter was started by its worker before the department",
                  esc & ~pet & ~np.isnan(hs) & (self.col("t_start") != hs))
        # A simple matter still waiting for its worker at report + threshold
        # must have been escalated (the escalation timer and the worker may tie).
        simple = (r.complexity == _CX_SIMPLE) & ~esc & ~pet
        due = t0 + h_esc
        waited = np.where(np.isnan(hs), self.h, hs)
        self.fail("escalation", f"a simple matter waited for its worker more than {h_esc:g} h without escalation",
                  simple & (due < self.h - self.tol) & (waited > due + self.tol))

    def deadlines(self) -> None:
        r = self.rec
        dl = np.asarray([self.scenario.routing.deadline(c) for c in COMPLEXITIES])
        expected = self.col("t_report") + dl[r.complexity.astype(np.intp)]
        self.fail("deadline", "t_deadline differs from report + deadline_h of its complexity",
                  self.col("t_deadline") != expected)
        self.fail("supervision", "supervised although its deadline had not passed by the horizon",
                  r.supervised & (self.col("t_deadline") > self.h))

    # -- whole-run checks -------------------------------------------------------
    def conservation(self, m: Mapping[str, float]) -> None:
        closed = ~np.isnan(self.col("t_closed"))
        n = len(self.rec)
        n_closed, n_open = int(closed.sum()), int(np.isnan(self.col("t_closed")).sum())
        if n_closed + n_open != n:
            self.fail("conservation", f"closed {n_closed} + open {n_open} != arrived {n}")
        if m["backlog_end"] != n_open:
            self.fail("conservation", f"backlog_end={m['backlog_end']} but {n_open} matters are open at the horizon")
        if m["events_closed"] > m["events_arrived"]:
            self.fail("conservation", f"events_closed={m['events_closed']} > events_arrived={m['events_arrived']}")
        if not m["backlog_max"] >= m["backlog_end"] - 0.0:
            self.fail("conservation", f"backlog_max={m['backlog_max']} < backlog_end={m['backlog_end']}")

    def utilisation(self) -> None:
        r = self.rec
        span = self.h - self.w
        busy, servers = r.pool_busy_h, r.pool_servers
        duty = getattr(r, "pool_duty_h", None)
        duty = np.zeros_like(busy) if duty is None else duty
        for i, name in enumerate(r.pool_name):
            cap = servers[i] * span
            if not (0.0 <= busy[i] and 0.0 <= duty[i] and busy[i] + duty[i] <= cap * (1.0 + 1e-12)):
                self.fail("utilisation", f"pool {r.pool_kind[i]}:{name} busy {busy[i]!r} h on matters and "
                                         f"{duty[i]!r} h on duties: outside [0, {cap!r}] "
                                         f"({servers[i]} servers x {span:g} h)")
        if np.any(r.grid_work_h < 0.0) or not np.all(np.isfinite(r.grid_work_h)):
            self.fail("utilisation", "negative or non-finite worker hours on a grid")
        worker = np.asarray([k == "worker" for k in r.pool_kind], dtype=bool)
        a, b = math.fsum(r.grid_work_h), math.fsum(busy[worker])
        if abs(a - b) > 1e-9 * max(abs(a), abs(b), 1.0):
            self.fail("utilisation", f"worker hours per grid sum to {a!r} but worker pools were busy {b!r} h")

    def rates(self, m: Mapping[str, float]) -> None:
        for name in _RATE_METRICS:
            v = m[name]
            if not (math.isnan(v) or 0.0 <= v <= 1.0 + 1e-12):
                self.fail("rates", f"metric {name}={v!r} outside [0, 1]")
        for name, v in m.items():
            if not math.isnan(v) and v < 0.0:
                self.fail("rates", f"metric {name}={v!r} is negative")

    def departments(self) -> None:
        """Capacity, work conservation and Little's law per department; enforcement stage."""
        r = self.rec
        cats = [c for c, _ in self.scenario.arrivals.categories]
        # Not metrics.department_stage: a petitioned matter is in the petitions office.
        stage = ((r.complexity == _CX_DIFFICULT) | r.escalated) & ~np.isnan(self.col("t_res_in")) & ~self.petitioned
        res_in, hs, hd = self.col("t_res_in"), self.col("t_handle_start"), self.col("t_handled")
        urgent = (r.complexity == _CX_URGENT) & ~np.isnan(res_in) & ~self.petitioned
        n_towns = self.scenario.town.n_towns
        towns = np.unique(r.town).tolist() if n_towns > 1 else [0]  # the towns these records hold
        for town in towns:  # every town has its own offices and teams
            here = r.town == town if n_towns > 1 else np.ones(len(r), dtype=bool)
            prefix = f"town {town} " if n_towns > 1 else ""
            for dept in self.scenario.departments:
                codes = [cats.index(c) for c in dept.categories]
                sel = here & stage & np.isin(r.category, codes)
                label = f"{prefix}department {dept.name}"
                _service_checks(self, label, dept.staff, res_in, hs, hd, sel, conserving=self.departments_always_on)
                littles_law(self, f"{label} (queue)", res_in, hs, sel)
                littles_law(self, f"{label} (stage)", res_in, hd, sel)
            pet = here & self.petitioned
            if pet.any():
                staff = self.scenario.petitions.staff  # type: ignore[attr-defined]
                _service_checks(self, f"{prefix}petitions office", staff, res_in, hs, hd, pet,
                                conserving=self.departments_always_on)
                littles_law(self, f"{prefix}petitions office (stage)", res_in, hd, pet)
            sel = here & urgent
            _service_checks(self, f"{prefix}enforcement", self.scenario.enforcement.teams, res_in, hs, hd, sel,
                            conserving=False)
            littles_law(self, f"{prefix}enforcement (stage)", res_in, hd, sel)


def _service_checks(ck: _Checker, label: str, servers: int, q_in: np.ndarray, s_in: np.ndarray,
                    s_out: np.ndarray, sel: np.ndarray, *, conserving: bool) -> None:
    """No more matters in service than servers; no idle server while one waits.

    Counts are evaluated strictly between consecutive distinct event times,
    where the state is constant, so ties between a finish and the next start
    at the same instant do not matter.
    """
    ids = np.flatnonzero(sel)
    if ids.size == 0:
        return
    h = ck.h
    qi, si, so = q_in[ids], s_in[ids], s_out[ids]
    started = ~np.isnan(si)
    si_s, so_s = si[started], np.where(np.isnan(so[started]), np.inf, so[started])
    events = np.unique(np.concatenate([qi, si_s, so_s[np.isfinite(so_s)], [0.0, h]]))
    events = events[(events >= 0.0) & (events <= h)]
    mid = (events[:-1] + events[1:]) / 2.0
    keep = (mid > events[:-1]) & (mid < events[1:])  # gaps of one ulp have no inside
    mid, left = mid[keep], events[:-1][keep]
    sorted_q, sorted_si, sorted_so = np.sort(qi), np.sort(si_s), np.sort(so_s)
    in_service = np.searchsorted(sorted_si, mid, "right") - np.searchsorted(sorted_so, mid, "right")
    waiting = np.searchsorted(sorted_q, mid, "right") - np.searchsorted(sorted_si, mid, "right")
    over = np.flatnonzero(in_service > servers)
    if over.size:
        t = left[over[0]]
        busy_now = ids[started][(si_s <= t) & (so_s > t)]
        ck.fail("capacity", f"{label}: {in_service[over[0]]} matters in service after t={t!r} h but only "
                            f"{servers} servers", np.isin(np.arange(len(ck.rec)), busy_now[:1]))
    if np.any(waiting < 0):
        ck.fail("capacity", f"{label}: more handling starts than queue entries before t={left[waiting < 0][0]!r} h")
    if conserving:
        idle = np.flatnonzero((waiting > 0) & (in_service < servers))
        if idle.size:
            t = left[idle[0]]
            waiter = ids[(qi <= t) & ~(si <= t)]
            ck.fail("work_conservation", f"{label}: a matter waits after t={t!r} h while only "
                                         f"{in_service[idle[0]]} of {servers} servers are busy",
                    np.isin(np.arange(len(ck.rec)), waiter[:1]))


def little_sides(start: np.ndarray, end: np.ndarray, w: float, h: float) -> tuple[float, float, float]:
    """Both sides of Little's law over [w, h) for the intervals [start, end).

    Returns ``(path, sojourns, rounding)``: the time-average number present,
    integrated from the count path built from the sorted event times; the sum
    of sojourns clipped to the window divided by its length; and a bound on
    the floating-point rounding of the path integral. NaN starts are ignored
    (never entered); NaN ends mean still present at ``h``.

    Raises:
        ValueError: the count path goes negative (more departures than arrivals).
    """
    present = ~np.isnan(start)
    s, e = start[present], end[present]
    span = h - w
    ends = e[~np.isnan(e)]
    t = np.concatenate([s, ends])
    d = np.concatenate([np.ones(s.size), -np.ones(ends.size)])
    # At equal times arrivals go first (they come first in ``t`` and the sort
    # is stable): the integral does not depend on the order, and the count
    # never dips below zero in between.
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    count = np.cumsum(d)
    if np.any(count < 0):
        raise ValueError(f"more departures than arrivals by t={t[np.argmax(count < 0)]!r} h")
    nxt = np.append(t[1:], h)
    seg = np.clip(np.minimum(nxt, h) - np.maximum(t, w), 0.0, None)
    # Sums of non-negative terms: NumPy's pairwise summation is off by at
    # most about log2(n) ulps of the total, far inside LITTLE_RTOL.
    path = float(np.sum(count * seg)) / span
    e_open = np.where(np.isnan(e), h, e)
    sojourn = np.clip(np.minimum(e_open, h) - np.maximum(s, w), 0.0, None)
    direct = float(np.sum(sojourn)) / span
    # Each segment length is off by at most about one ulp of the horizon,
    # weighted by the count over it: the bound that matters for tiny sojourns
    # on long horizons.
    rounding = 4.0 * _EPS * h * float(np.sum(count * (seg > 0))) / span
    return path, direct, rounding


def littles_law(ck: _Checker, label: str, start: np.ndarray, end: np.ndarray, sel: np.ndarray | None = None) -> None:
    """Require Little's law over the checker's window for the intervals of ``sel``."""
    s = start if sel is None else start[sel]
    e = end if sel is None else end[sel]
    try:
        path, direct, rounding = little_sides(s, e, ck.w, ck.h)
    except ValueError as exc:
        ck.fail("littles_law", f"{label}: {exc}")
        return
    if not abs(path - direct) <= max(LITTLE_RTOL * max(abs(path), abs(direct)), rounding):
        ck.fail("littles_law", f"{label}: time-average number present {path!r} (count path) != "
                               f"clipped sojourns / window {direct!r}")


def check(records: Records, scenario: Scenario, *, replication: int | None = None,
          values: Mapping[str, float] | None = None, metrics_checks: bool = True) -> None:
    """Check every invariant of one replication's records.

    Args:
        records: the records of the replication.
        scenario: the scenario it ran.
        replication: its index, for the message.
        values: its ``metrics.compute`` output, if already computed.
        metrics_checks: ``False`` leaves the checks of the metrics
            (``conservation``, ``rates``) to a caller that computes the
            metrics anyway and hands them to ``check_values`` (the runner:
            a city's towns are then checked on their records, and the
            city's metrics once), so they are not computed twice.

    Raises:
        InvariantError: the first violated invariant, naming it, the first
            offending matter with its row, and the configuration.
    """
    ck = _Checker(records, scenario, replication)
    ck.columns()
    ck.times()
    ck.presence()
    ck.order()
    ck.petitions()
    ck.route()
    ck.escalation()
    ck.deadlines()
    ck.utilisation()
    littles_law(ck, "system", ck.col("t_report"), ck.col("t_closed"))
    ck.departments()
    if metrics_checks:
        _check_values(ck, metrics.compute(records) if values is None else values)


def check_values(records: Records, scenario: Scenario, values: Mapping[str, float], *,
                 replication: int | None = None) -> None:
    """The invariants of a replication's metrics (``values``, from ``metrics.compute(records)``):
    conservation of matters, and every rate in [0, 1] and every metric >= 0.

    Raises:
        InvariantError: as ``check``.
    """
    _check_values(_Checker(records, scenario, replication), values)


def _check_values(ck: _Checker, values: Mapping[str, float]) -> None:
    ck.conservation(values)
    ck.rates(values)
