"""The invariant checker: real runs pass it, and each kind of corruption trips its invariant.

The records of one busy little town (queues at workers, departments and the
enforcement team, escalations, supervision) are checked as they come out of
the model, then corrupted one way at a time; each corruption must raise
``InvariantError`` naming the expected invariant. Whatever the random stream,
the corruptions are chosen from the records themselves (the first matter with
the needed property), so the tests do not depend on one stream's numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from sim import invariants, metrics, runner
from sim.compose import load_config, load_scenario
from sim.config import build_scenario
from sim.invariants import InvariantError, check, little_sides
from sim.records import Records
from sim.scenario import Scenario
from sim.town import build_layout
from sim.model import run_replication

BUSY_TOWN = [
    "town=synthetic", "town.population=4000", "town.unit_population=2000", "town.people_per_grid=1000",
    "arrivals.per_1000_people_day=30", "handling.department.mean_h=30", "handling.simple.mean_h=1.5",
    "routing.escalate_after_h=6", "enforcement.teams=1", "arrivals.complexity.simple=0.7",
    "arrivals.complexity.difficult=0.25", "arrivals.complexity.urgent=0.05",
    "horizon_days=8", "warmup_days=1", "replications=1",
]


REALISM = ("calendars", "duties", "travel", "petitions", "assessment")


def busy_scenario(realism: bool) -> Scenario:
    """The busy town, with the realism mechanisms as configured or all off."""
    cfg = load_config(BUSY_TOWN)
    if not realism:
        for key in REALISM:
            cfg.pop(key, None)  # the scenario's defaults switch every mechanism off
        if isinstance(cfg["arrivals"].get("profile"), dict):
            cfg["arrivals"]["profile"] = None
        cfg["arrivals"].pop("discovered_per_duty_h", None)
    return build_scenario(cfg)


@pytest.fixture(scope="module")
def busy() -> tuple[Records, Scenario]:
    """Queueing only: every invariant applies, work conservation included."""
    scenario = busy_scenario(realism=False)
    rec = run_replication(scenario, build_layout(scenario.town), 0)
    return rec, scenario


@pytest.fixture(scope="module")
def realistic() -> tuple[Records, Scenario]:
    """The same town with the default realism mechanisms (shifts, petitions...)."""
    scenario = busy_scenario(realism=True)
    rec = run_replication(scenario, build_layout(scenario.town), 0)
    return rec, scenario


def with_times(rec: Records, **changes: Callable[[np.ndarray], None]) -> Records:
    """A copy of the records with some time columns changed in place by callables."""
    times = {k: v.copy() for k, v in rec.times.items()}
    for name, fn in changes.items():
        fn(times[name])
    return dataclasses.replace(rec, times=times)


def first(mask: np.ndarray) -> int:
    idx = np.flatnonzero(mask)
    assert idx.size, "the busy town should produce such a matter"
    return int(idx[0])


def expect(invariant: str, rec: Records, scenario: Scenario, **kw) -> InvariantError:
    with pytest.raises(InvariantError) as err:
        check(rec, scenario, **kw)
    assert err.value.invariant == invariant, str(err.value)
    assert f"invariant '{invariant}'" in str(err.value)
    assert f"seed={scenario.run.seed}" in str(err.value) and "routing.policy=" in str(err.value)
    return err.value


def test_real_runs_pass_and_exercise_the_checked_mechanisms(busy):
    rec, scenario = busy
    check(rec, scenario, replication=0)
    # The fixture must exercise what the corruption tests rely on.
    assert rec.escalated.any() and rec.supervised.any()
    dept_wait = rec.t_handle_start - rec.t_res_in
    assert np.nanmax(dept_wait[rec.resolver == 1]) > 0, "departments should queue"
    assert np.isnan(rec.t_closed).any(), "some matters should be open at the horizon"


def test_realistic_run_passes(realistic):
    rec, scenario = realistic
    check(rec, scenario, replication=0)


def test_petition_corruptions_are_caught(realistic):
    rec, scenario = realistic
    if "t_petition" not in rec.times or not (~np.isnan(rec.t_petition)).any():
        pytest.skip("no petitions mechanism, or no petition in this run")
    mid = first(~np.isnan(rec.t_petition))
    expect("petition", with_times(rec, t_res_in=lambda c: c.__setitem__(mid, c[mid] - 1e-3)), scenario)
    other = first(np.isnan(rec.t_petition) & (rec.resolver >= 0))
    expect("petition", dataclasses.replace(rec, resolver=_set(rec.resolver, other, 3)), scenario)


@pytest.mark.parametrize("overrides", [
    [],
    ["routing=grid_only", "staffing.pooling=unit", "enforcement.base=units"],
    ["handling.feedback.dist=deterministic", "handling.feedback.mean_h=0",
     "handling.triage.dist=deterministic", "handling.triage.mean_h=0", "routing.escalate_after_h=0"],
])
def test_default_town_variants_pass(overrides):
    scenario = load_scenario([*overrides, "horizon_days=10", "warmup_days=2"])
    check(run_replication(scenario, build_layout(scenario.town), 0), scenario)


def test_message_names_invariant_matter_row_and_config(busy):
    rec, scenario = busy
    mid = first(~np.isnan(rec.t_closed) & (rec.t_report > 1.0))
    bad = with_times(rec, t_closed=lambda c: c.__setitem__(mid, rec.t_report[mid] - 0.5))
    err = expect("order", bad, scenario, replication=3)
    assert err.matter == mid
    msg = str(err)
    assert f"matter {mid}" in msg and "'t_report':" in msg and "replication=3" in msg


CORRUPTIONS: dict[str, tuple[str, Callable[[Records], Records]]] = {
    "negative start": ("non_negative", lambda r: with_times(
        r, t_start=lambda c: c.__setitem__(first(~np.isnan(c)), -1.0))),
    "infinite closing": ("non_negative", lambda r: with_times(
        r, t_closed=lambda c: c.__setitem__(first(~np.isnan(c)), math.inf))),
    "report after horizon": ("report_time", lambda r: with_times(
        r, t_report=lambda c: c.__setitem__(len(c) - 1, r.horizon_h))),
    "closed after horizon": ("within_horizon", lambda r: with_times(
        r, t_closed=lambda c: c.__setitem__(first(~np.isnan(c)), r.horizon_h + 1.0))),
    "handled without start": ("presence", lambda r: with_times(
        r, t_handle_start=lambda c: c.__setitem__(first(~np.isnan(r.t_handled)), np.nan))),
    "closed without handling (lost step)": ("route", lambda r: dataclasses.replace(with_times(
        r, t_handled=lambda c: c.__setitem__(first(~np.isnan(r.t_closed) & (r.complexity == 0)), np.nan),
        t_handle_start=lambda c: c.__setitem__(first(~np.isnan(r.t_closed) & (r.complexity == 0)), np.nan),
        t_handle_onsite=lambda c: c.__setitem__(first(~np.isnan(r.t_closed) & (r.complexity == 0)), np.nan),
        t_res_in=lambda c: c.__setitem__(first(~np.isnan(r.t_closed) & (r.complexity == 0)), np.nan)),
        resolver=_set(r.resolver, first(~np.isnan(r.t_closed) & (r.complexity == 0)), -1))),
    "wrong resolver": ("route", lambda r: dataclasses.replace(
        r, resolver=_set(r.resolver, first((r.complexity == 2) & (r.resolver == 2)), 0))),
    "escalated difficult matter": ("escalation", lambda r: dataclasses.replace(
        r, escalated=_set(r.escalated, first((r.complexity == 1) & (r.resolver == 1)), True),
        resolver=r.resolver)),
    "deadline moved": ("deadline", lambda r: with_times(
        r, t_deadline=lambda c: c.__setitem__(0, c[0] + 1.0))),
    "supervised before its deadline": ("supervision", lambda r: dataclasses.replace(
        r, supervised=_set(r.supervised, first(r.t_deadline > r.horizon_h), True))),
    "pool busier than its servers": ("utilisation", lambda r: dataclasses.replace(
        r, pool_busy_h=_set(r.pool_busy_h, 0, r.pool_servers[0] * (r.horizon_h - r.warmup_h) * 1.01))),
    "grid hours disagree with pools": ("utilisation", lambda r: dataclasses.replace(
        r, grid_work_h=r.grid_work_h * 0.5)),
}


def _set(a: np.ndarray, i: int, value) -> np.ndarray:
    out = a.copy()
    out[i] = value
    return out


def _closed_before_handled(r: Records) -> Records:
    mid = first(~np.isnan(r.t_closed) & ~np.isnan(r.t_handled) & (r.t_handled > r.t_handle_start))
    return with_times(r, t_closed=lambda c: c.__setitem__(mid, r.t_handled[mid] - 1e-3))


CORRUPTIONS["closed before handled"] = ("order", _closed_before_handled)


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corruption_is_caught(busy, case):
    rec, scenario = busy
    invariant, corrupt = CORRUPTIONS[case]
    expect(invariant, corrupt(rec), scenario)


def test_waiting_past_the_threshold_without_escalation_is_caught(busy):
    rec, scenario = busy
    # Unstart a simple matter handled by its worker long before the horizon:
    # it then looks as if it waited to the horizon and was never escalated.
    mid = first((rec.complexity == 0) & (rec.resolver == 0) & (rec.t_report < rec.horizon_h - 48))
    cols = ("t_start", "t_onsite", "t_handle_start", "t_handle_onsite", "t_handled", "t_closed")
    bad = with_times(rec, **{c: (lambda col: col.__setitem__(mid, np.nan)) for c in cols})
    bad = dataclasses.replace(bad, resolver=_set(rec.resolver, mid, -1))
    err = expect("escalation", bad, scenario)
    assert err.matter == mid


def test_department_capacity_and_work_conservation(busy):
    rec, scenario = busy
    depts = scenario.departments
    # Claim fewer desks than the department used at once: capacity.
    fewer = tuple(dataclasses.replace(d, staff=1) if d.staff > 1 else d for d in depts)
    if fewer != depts:
        with pytest.raises(InvariantError) as err:
            check(rec, dataclasses.replace(scenario, departments=fewer))
        assert err.value.invariant in ("capacity", "work_conservation")
    # Claim more desks than it had while matters waited: a desk would have idled.
    more = tuple(dataclasses.replace(d, staff=d.staff + 5) for d in depts)
    expect("work_conservation", rec, dataclasses.replace(scenario, departments=more))


def test_rates_outside_unit_interval_are_caught(busy):
    rec, scenario = busy
    values = metrics.compute(rec)
    values["overdue_rate"] = 1.5
    expect("rates", rec, scenario, values=values)


def test_time_in_window_by_hand():
    # [w, h) = [1, 4): [0, 2) overlaps 1 h, [2, open) 2 h, [5, 6) none, [2, 3) 1 h.
    start, end = np.array([0.0, 2.0, 5.0, 2.0]), np.array([2.0, np.nan, 6.0, 3.0])
    assert metrics.time_in_window(start, end, 1.0, 4.0).tolist() == [1.0, 2.0, 0.0, 1.0]
    assert end[1] != end[1] and start.tolist() == [0.0, 2.0, 5.0, 2.0]  # the inputs are left as they were
    # Integers and scalars, as the plain formula takes them.
    assert metrics.time_in_window(np.array([0, 2, 5]), np.array([2, 9, 6]), 1, 4).tolist() == [1, 2, 0]
    assert float(metrics.time_in_window(0.0, float("nan"), 1.0, 4.0)) == 3.0
    assert metrics.time_average_count(start, end, 1.0, 4.0) == pytest.approx(4.0 / 3.0, rel=1e-15)


def test_little_sides_by_hand():
    # [0, 2) and [1, open) on the window [0, 4): 1 + 2 + 1 + 1 = 5 matter-hours.
    path, direct, _ = little_sides(np.array([0.0, 1.0]), np.array([2.0, np.nan]), 0.0, 4.0)
    assert path == pytest.approx(5 / 4, rel=1e-15) and direct == pytest.approx(5 / 4, rel=1e-15)
    # Clipped to [1, 3): [0, 2) gives 1, [1, open) gives 2.
    path, direct, _ = little_sides(np.array([0.0, 1.0]), np.array([2.0, np.nan]), 1.0, 3.0)
    assert path == pytest.approx(3 / 2) and direct == pytest.approx(3 / 2)
    # A departure before its arrival breaks the count path.
    with pytest.raises(ValueError):
        little_sides(np.array([2.0]), np.array([1.0]), 0.0, 4.0)


def test_little_law_catches_a_negative_sojourn():
    # A sojourn ending before it starts: the path integral counts -1 h, the
    # clipped sum counts 0; the two sides disagree.
    ck = invariants._Checker.__new__(invariants._Checker)
    ck.w, ck.h = 0.0, 10.0
    ck.rec, ck.scenario, ck.replication = None, load_scenario(["horizon_days=1", "warmup_days=0"]), None
    with pytest.raises(InvariantError) as err:
        invariants.littles_law(ck, "test", np.array([0.0, 5.0]), np.array([6.0, 4.0]))
    assert err.value.invariant == "littles_law"


@pytest.mark.parametrize("town", [[], ["town=synthetic", "town.population=9000", "town.people_per_town=3000",
                                        "town.unit_population=1500"]])
def test_runner_raises_on_a_violation(monkeypatch, tmp_path, town):
    """Whatever the model records is checked before anything is written (per town in a city)."""
    from sim.model import Model

    scenario = load_scenario(["horizon_days=2", "warmup_days=0", "replications=1", *town])
    honest = Model.run

    def corrupted(self):
        rec = honest(self)
        return with_times(rec, t_start=lambda c: c.__setitem__(first(~np.isnan(c)), -1.0))

    monkeypatch.setattr(Model, "run", corrupted)
    with pytest.raises(InvariantError) as info:
        runner.run(scenario, tmp_path / "run")
    assert not (tmp_path / "run" / "summary.json").exists()
    if town:  # a city's records are checked per town: the message says which
        assert str(info.value).startswith("town 0 ")


@pytest.mark.parametrize("town", [[], ["town=synthetic", "town.population=9000", "town.people_per_town=3000",
                                        "town.unit_population=1500"]])
@pytest.mark.parametrize("corrupt", [False, True])
def test_runner_checks_the_metrics_it_reports(monkeypatch, tmp_path, town, corrupt):
    """The metrics of each replication (a whole city's, merged from its
    towns) are computed once and checked there, before anything is written."""
    scenario = load_scenario(["horizon_days=2", "warmup_days=0", "replications=2", *town])
    honest = metrics.compute
    calls = []

    def counted(rec):
        calls.append(len(rec))
        return {**honest(rec), "overdue_rate": 1.5} if corrupt else honest(rec)

    monkeypatch.setattr(metrics, "compute", counted)
    if corrupt:
        with pytest.raises(InvariantError) as info:
            runner.run(scenario, tmp_path / "run")
        assert info.value.invariant == "rates" and not (tmp_path / "run" / "summary.json").exists()
        assert len(calls) == 1
    else:
        result = runner.run(scenario, tmp_path / "run")
        # once per replication, on all its matters (no warm-up: every matter arrived in the window)
        assert calls == [int(n) for n in result.per_replication["events_arrived"]] and len(calls) == 2


def test_model_clock_lands_exactly_on_report_times():
    # Regression: the arrival loop used to route a matter when SimPy's clock
    # (now + (report - now)) had rounded one ulp below its report time.
    # Two matters reported at t1 < t2 chosen so that t1 + (t2 - t1) rounds
    # below t2 in binary floating point; no step exists, so each closes the
    # moment it arrives. Its closing time must not precede its report.
    from sim import arrivals as arrivals_mod
    from sim.model import Model
    cfg = load_config(["horizon_days=1", "warmup_days=0", "routing=grid_only", "enforcement.teams=0"])
    for step in ("simple", "triage", "department", "urgent", "feedback"):
        cfg["handling"][step] = {"dist": "deterministic", "mean_h": 0}
    scenario = build_scenario(cfg)
    layout = build_layout(scenario.town)
    full = arrivals_mod.generate(scenario, layout, 0)
    two = dataclasses.replace(full, **{f.name: getattr(full, f.name)[:2] for f in dataclasses.fields(full)})
    t1, t2 = 0.07945364671191701, 1.3404388552033557
    assert t1 + (t2 - t1) < t2  # the premise: this pair rounds down
    two = dataclasses.replace(two, time_h=np.array([t1, t2]))
    rec = Model(scenario, layout, two).run()
    assert rec.t_closed[1] >= rec.t_report[1], (rec.t_report[1], rec.t_closed[1])
