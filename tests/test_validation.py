"""Statistical validation against queueing theory, over many replications.

The model is reduced with ordinary config keys only (``sim.compose.mmc_overrides``):
one grid of c workers, every matter simple, exponential (or deterministic)
work, no triage, no feedback, no escalation. Its queue is then M/M/c (or
M/D/1), and the mean wait must match Erlang C (or Pollaczek-Khinchine).
Two more reductions check the routing: urgent matters triaged ahead of simple
ones (non-preemptive priority, Cobham's formula), and difficult matters
triaged by the worker then claimed by their category's department (a tandem
Jackson network: each department an M/M/c queue of its own). Escalation after
a fixed wait makes the worker's queue M/M/c+D (``erlang_d_patience``).

Tolerances come from confidence intervals: replication means are i.i.d., so a
Student-t interval over replications covers the true mean with the stated
probability. We use a 99.9% interval, so each check fails by chance for about
one seed in a thousand, whatever the seed; the warm-up is many relaxation
times long, so start-up bias is negligible against the interval width.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from stat_checks import assert_all_cover, assert_covers, replicate, stat_seed

from sim import metrics, streams
from sim.compose import REALISM_OFF, load_scenario, mmc_overrides
from sim.scenario import COMPLEXITIES
from sim.validation import cobham_waits, erlang_b, erlang_c, erlang_c_wait, erlang_d_patience, pk_wait

SEED = stat_seed(12345)
replicate = partial(replicate, seed=SEED)


# Deadlines too long for supervision to reorder a queue (the textbook disciplines).
NO_SUPERVISION = [f"routing.deadline_h.{c}=1e9" for c in COMPLEXITIES]


def wait_and_pwait(rec):
    win = metrics.in_window(rec) & ~np.isnan(rec.t_start)
    w = (rec.t_start - rec.t_report)[win]
    return w.mean(), (w > 1e-12).mean()


@pytest.mark.parametrize("c,load", [(1, 0.7), (2, 0.8), (3, 0.9), (5, 0.7)])
def test_mmc_mean_wait_matches_erlang_c(c, load):
    days = 250 if load < 0.85 else 600
    res = replicate(mmc_overrides(c, load, horizon_days=days, warmup_days=days / 10), 24, wait_and_pwait)
    lam = load * c
    assert_covers(res[:, 0], erlang_c_wait(lam, 1.0, c), f"M/M/{c} mean wait at load {load}")
    assert_covers(res[:, 1], erlang_c(lam, 1.0, c), f"M/M/{c} P(wait) at load {load}")


def test_md1_mean_wait_matches_pollaczek_khinchine():
    res = replicate(mmc_overrides(1, 0.7, dist="deterministic", horizon_days=250, warmup_days=25), 24, wait_and_pwait)
    assert_covers(res[:, 0], pk_wait(0.7, 1.0, 0.0), "M/D/1 mean wait")


@pytest.mark.parametrize("dist,cv", [("gamma", 0.5), ("lognormal", 1.0), ("lognormal", 0.5)])
def test_mg1_mean_wait_matches_pollaczek_khinchine(dist, cv):
    """Gamma and lognormal work (the default's family) with mean 1 h and the
    configured cv: the variance is cv^2, whatever the parameterisation."""
    over = mmc_overrides(1, 0.6, dist=dist, horizon_days=250, warmup_days=25) + [f"handling.simple.cv={cv!r}"]
    res = replicate(over, 24, wait_and_pwait)
    assert_covers(res[:, 0], pk_wait(0.6, 1.0, cv**2), f"M/G/1 ({dist}, cv {cv}) mean wait")


@pytest.mark.parametrize("c,load", [(1, 0.7), (3, 0.8)])
def test_littles_law_time_average_backlog_matches_lambda_w(c, load):
    """The time-average backlog, integrated from the recorded report and close
    times, equals lambda * W with W = Erlang C wait + service (Little's law).

    The finite-window identity (time-average count = clipped sojourns / T) is
    checked exactly on every run by ``sim.invariants``; here the backlog path
    is checked against theory, independently of the per-matter wait metric.
    """
    lam = load * c
    res = replicate(mmc_overrides(c, load, horizon_days=250, warmup_days=25), 24,
                    lambda rec: metrics.compute(rec)["backlog_mean"])
    assert_covers(res, lam * (erlang_c_wait(lam, 1.0, c) + 1.0), f"M/M/{c} time-average number in system")


def test_poisson_arrival_count_matches_rate():
    def count(rec):
        return metrics.compute(rec)["events_arrived"]

    flat = ["horizon_days=60", "warmup_days=0", *REALISM_OFF]
    scenario = load_scenario(flat)
    expected = scenario.arrivals.per_1000_people_day * scenario.town.population / 1000 * 60
    counts = replicate(flat, 12, count)
    assert_covers(counts, expected, "matters per replication")


def test_replication_streams_are_spawned_children_of_the_seed():
    child = np.random.SeedSequence(7).spawn(3)[2]
    assert streams.replication_seed(7, 2).generate_state(4).tolist() == child.generate_state(4).tolist()


# -- priority classes: urgent matters jump the worker's queue ------------------

def priority_overrides(c: int, load: float, urgent: float, days: float) -> list[str]:
    """One grid of ``c`` workers whose queue has two classes with the same work.

    Urgent matters are triaged by the worker ahead of the rest (non-preemptive
    priority) and need nothing more (no team step, no feedback); the rest are
    simple matters. Triage and simple work are both exponential with mean 1 h,
    and deadlines are too long for supervision to reorder the queue, so the
    queue is M/M/c with two non-preemptive priority classes.
    """
    return [
        *mmc_overrides(c, load, horizon_days=days, warmup_days=days / 10),
        f"arrivals.complexity.simple={1.0 - urgent!r}", f"arrivals.complexity.urgent={urgent!r}",
        "handling.triage.dist=exponential", "handling.triage.mean_h=1.0",
        "handling.urgent.dist=deterministic", "handling.urgent.mean_h=0",
        *NO_SUPERVISION,
    ]


@pytest.mark.parametrize("c,load,urgent", [(1, 0.8, 0.3), (2, 0.85, 0.2), (3, 0.8, 0.5)])
def test_urgent_priority_waits_match_cobham(c, load, urgent):
    lam = load * c

    def waits(rec):
        win = metrics.in_window(rec) & ~np.isnan(rec.t_start)
        w = rec.t_start - rec.t_report
        return [w[win & (rec.complexity == COMPLEXITIES.index(k))].mean() for k in ("urgent", "simple")]

    res = replicate(priority_overrides(c, load, urgent, days=300), 24, waits)
    theory = cobham_waits([lam * urgent, lam * (1.0 - urgent)], 1.0, c)
    assert_all_cover(res, theory, f"M/M/{c} priority, load {load}", ("urgent mean wait", "simple mean wait"))
    assert res[:, 0].mean() < res[:, 1].mean()


# -- a tandem network: worker triage, then the department of the category --------

def test_department_waits_after_triage_match_erlang_c_per_department():
    """All matters difficult: triaged by one worker (M/M/1), then claimed by the
    department of their category. By Burke's theorem the worker's departures
    are Poisson, and splitting them by category (independent of everything
    else) keeps each department's arrivals Poisson: every department is an
    M/M/c queue of its own staff, with the arrival rate of its categories
    (a Jackson network). Checks the category -> department routing and the
    departments' queues together."""
    scenario = load_scenario([])
    shares = dict(scenario.arrivals.categories)
    depts = [(d.name, sum(shares[k] for k in d.categories), d.staff) for d in scenario.departments]
    lam, triage_h, desk_h = 1.2, 0.6, 10.0  # per hour; the busiest department is ~70% busy
    days = 400
    over = [
        *mmc_overrides(1, lam * triage_h, service_h=triage_h, horizon_days=days, warmup_days=days / 10),
        "arrivals.complexity.simple=0", "arrivals.complexity.difficult=1.0",
        "handling.triage.dist=exponential", f"handling.triage.mean_h={triage_h!r}",
        "handling.department.dist=exponential", f"handling.department.mean_h={desk_h!r}",
        *NO_SUPERVISION,
    ]
    # category code (its place in arrivals.categories) -> its department's place in depts
    dept_of = np.asarray([next(i for i, d in enumerate(scenario.departments) if k in d.categories)
                          for k, _ in scenario.arrivals.categories])

    def waits(rec):
        win = metrics.in_window(rec) & ~np.isnan(rec.t_handle_start) & (rec.resolver == 1)
        w = rec.t_handle_start - rec.t_res_in
        d = dept_of[rec.category]
        return [w[win & (d == i)].mean() for i in range(len(depts))]

    res = replicate(over, 24, waits)
    assert_all_cover(res, [erlang_c_wait(lam * share, 1.0 / desk_h, staff) for _, share, staff in depts],
                     "Erlang C per department",
                     [f"department {name} ({staff} desks, {lam * share:.3f}/h) mean wait" for name, share, staff in depts])


# -- escalation after a fixed wait: M/M/c+D ------------------------------------

def test_erlang_d_patience_limits():
    """tau = 0 is Erlang's loss system; a long tau is Erlang C; continuous at lam = c mu."""
    for lam, c in [(0.9, 1), (2.5, 4), (7.0, 3)]:
        assert erlang_d_patience(lam, 1.0, c, 0.0)["p_abandon"] == pytest.approx(erlang_b(lam, c), rel=1e-12)
    long = erlang_d_patience(2.5, 1.0, 4, 500.0)
    assert long["p_abandon"] < 1e-100
    assert long["p_wait"] == pytest.approx(erlang_c(2.5, 1.0, 4), rel=1e-12)
    assert long["wait_mean"] == pytest.approx(erlang_c_wait(2.5, 1.0, 4), rel=1e-12)
    at, near = erlang_d_patience(4.0, 1.0, 4, 1.0), erlang_d_patience(4.0 + 1e-5, 1.0, 4, 1.0)
    for key in at:
        assert at[key] == pytest.approx(near[key], rel=1e-4)
    with pytest.raises(ValueError):
        erlang_d_patience(1.0, 1.0, 1, float("inf"))


@pytest.mark.parametrize("c,load,tau", [(1, 0.9, 2.0), (2, 1.2, 1.5)])
def test_escalation_after_a_fixed_wait_matches_mmc_plus_d(c, load, tau):
    """Simple matters still waiting for their worker ``tau`` hours after the
    report go to a department: the worker's queue is M/M/c+D (stable even
    above load 1). P(escalated), the mean time to a start or an escalation,
    and P(wait > 0) over matters whose fate is known at the horizon."""
    over = [*mmc_overrides(c, load, horizon_days=200, warmup_days=20),
            "routing=tiered", f"routing.escalate_after_h={tau!r}",
            *NO_SUPERVISION]

    def fate(rec):
        esc = rec.escalated.astype(bool)
        known = metrics.in_window(rec) & (esc | ~np.isnan(rec.t_start))
        # an escalated matter's wait ends at its escalation (t_res_in), the others' at their start
        wait = np.where(esc, rec.t_res_in, rec.t_start)[known] - rec.t_report[known]
        return [esc[known].mean(), wait.mean(), (wait > 1e-12).mean()]

    res = replicate(over, 24, fate)
    theory = erlang_d_patience(load * c, 1.0, c, tau)
    keys = ("p_abandon", "wait_mean", "p_wait")
    assert_all_cover(res, [theory[k] for k in keys], f"M/M/{c}+D load {load} tau {tau}", keys)


# -- pooled workers: the grids of a unit share one queue -----------------------

@pytest.mark.parametrize("grids,per_grid,load", [(3, 1, 0.8), (2, 2, 0.85), (4, 1, 0.7)])
def test_unit_pooling_is_one_mmc_queue_of_all_the_units_workers(grids, per_grid, load):
    """With ``staffing.pooling=unit`` the workers of every grid of a village
    serve its whole population from one queue: M/M/c with c = grids x workers
    per grid and the village's arrival rate."""
    c = grids * per_grid
    over = [*mmc_overrides(per_grid, load, horizon_days=250, warmup_days=25),
            f"town.population={grids * 1000}", f"town.unit_population={grids * 1000}", "staffing.pooling=unit"]

    def measure(rec):
        assert sum(k == "worker" for k in rec.pool_kind) == 1, "one pooled queue per unit"
        return wait_and_pwait(rec)

    res = replicate(over, 24, measure)
    lam = load * c
    assert_all_cover(res, [erlang_c_wait(lam, 1.0, c), erlang_c(lam, 1.0, c)],
                     f"{grids} grids x {per_grid} pooled, Erlang C", ("mean wait", "P(wait)"))
