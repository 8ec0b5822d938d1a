"""Validation of the realism mechanisms against exact queueing models.

Two kinds of tests live here, as in ``test_validation``:

* the exact solvers of ``sim.validation`` (Erlang A, Larson's hypercube)
  checked in isolation against closed forms they must reduce to;
* the model, reduced with ordinary config keys, checked against them over
  independent replications: a 99.9% Student-t interval over replication means
  must cover the theoretical value. Where one test checks a family of values
  (several workers, 24 hour bins) the level is Bonferroni-corrected so that
  the family as a whole fails by chance for about one seed in a thousand.

The simulation tests need mechanisms of issue 4 (neighbour backup, abandonment
to petitions, time-varying arrivals); each is skipped until its mechanism is
registered in the package, and runs as soon as it is.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from stat_checks import assert_all_cover, replicate, stat_seed

from sim import compose, metrics, records, routing
from sim.arrivals import generate
from sim.compose import load_config, load_scenario, mmc_overrides
from sim.town import build_layout
from sim.validation import (
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_c_wait,
    hypercube,
    ring_adjacency,
)

SEED = stat_seed(424242)
replicate = partial(replicate, seed=SEED)


# -- Erlang A in isolation -----------------------------------------------------

@pytest.mark.parametrize("c,lam", [(1, 0.5), (1, 0.9), (3, 2.4), (10, 9.0)])
def test_erlang_a_without_abandonment_is_erlang_c(c, lam):
    a = erlang_a(lam, 1.0, 1e-10, c)
    assert a["p_wait"] == pytest.approx(erlang_c(lam, 1.0, c), rel=1e-6)
    assert a["wait_mean"] == pytest.approx(erlang_c_wait(lam, 1.0, c), rel=1e-6)
    assert a["p_abandon"] < 1e-8


@pytest.mark.parametrize("c", [1, 2, 5])
def test_erlang_a_with_patience_rate_equal_to_service_rate_is_poisson(c):
    """theta = mu makes every customer leave at rate mu: the M/M/infinity chain."""
    lam, mu = 1.7, 0.8
    a = erlang_a(lam, mu, mu, c)
    load = lam / mu
    n = np.arange(200)
    p = np.exp(n * math.log(load) - load - np.array([math.lgamma(k + 1) for k in n]))
    assert a["system_mean"] == pytest.approx(load, rel=1e-10)
    assert a["p_wait"] == pytest.approx(p[c:].sum(), rel=1e-10)
    assert a["queue_mean"] == pytest.approx(float(np.maximum(n - c, 0) @ p), rel=1e-10)


def test_erlang_a_with_many_servers_has_almost_no_abandonment():
    a = erlang_a(10.0, 1.0, 0.5, 40)
    assert a["p_abandon"] < 1e-9 and a["wait_mean"] < 1e-9


@pytest.mark.parametrize("c,lam,theta", [(1, 1.2, 0.5), (3, 3.6, 1.0), (2, 1.0, 2.0)])
def test_erlang_a_flow_balance(c, lam, theta):
    """Served matters = busy servers x mu, and the rest abandon: a check on the solution."""
    a = erlang_a(lam, 1.0, theta, c)
    assert a["busy_mean"] * 1.0 == pytest.approx(lam * (1.0 - a["p_abandon"]), rel=1e-10)
    assert a["system_mean"] == pytest.approx(a["busy_mean"] + a["queue_mean"], rel=1e-12)


def test_erlang_a_is_stable_above_load_one_and_rejects_unstable_input():
    a = erlang_a(2.0, 1.0, 0.25, 1)
    assert 0.5 < a["p_abandon"] < 1.0 and math.isfinite(a["wait_mean"])
    with pytest.raises(ValueError):
        erlang_a(2.0, 1.0, 0.0, 1)


# -- hypercube in isolation ----------------------------------------------------

def test_ring_adjacency_prefers_next_then_previous():
    assert ring_adjacency(2) == [[1], [0]]
    assert ring_adjacency(3) == [[1, 2], [2, 0], [0, 1]]
    assert ring_adjacency(4) == [[1, 3], [2, 0], [3, 1], [0, 2]]


@pytest.mark.parametrize("n,lams", [(2, [0.6, 0.6]), (2, [0.2, 1.1]), (3, [0.5, 0.5, 0.5]), (3, [0.3, 0.9, 0.6])])
def test_hypercube_loss_with_complete_adjacency_is_erlang_b(n, lams):
    """Any free worker takes any matter: the number busy is the M/M/N/N chain."""
    h = hypercube(lams, 1.0, ring_adjacency(n), infinite_queue=False)
    b = erlang_b(sum(lams), n)
    assert h["p_all_busy"] == pytest.approx(b, rel=1e-10)
    assert h["p_lost"] == pytest.approx(b, rel=1e-10)
    assert h["p_blocked"] == pytest.approx(np.full(n, b), rel=1e-10)


@pytest.mark.parametrize("n,lams", [(2, [0.7, 0.7]), (2, [0.3, 1.2]), (3, [0.8, 0.8, 0.8]), (3, [0.2, 1.0, 1.3])])
def test_hypercube_infinite_queue_with_complete_adjacency_is_erlang_c(n, lams):
    h = hypercube(lams, 1.0, ring_adjacency(n), infinite_queue=True)
    lam = sum(lams)
    assert h["p_all_busy"] == pytest.approx(erlang_c(lam, 1.0, n), rel=1e-9)
    assert h["wait_mean"] == pytest.approx(erlang_c_wait(lam, 1.0, n), rel=1e-9)
    assert h["utilisation"].sum() == pytest.approx(lam, rel=1e-9)
    assert h["p_lost"] == 0.0


@pytest.mark.parametrize("queue", [False, True])
def test_hypercube_flow_balance(queue):
    """Busy workers x mu = matters carried, whatever the rates and preferences."""
    lams, mu = [0.4, 0.9, 0.25], 1.3
    h = hypercube(lams, mu, ring_adjacency(3), infinite_queue=queue)
    assert h["utilisation"].sum() * mu == pytest.approx(h["carried"], rel=1e-10)
    lost = np.asarray(lams) @ h["p_blocked"] if not queue else 0.0
    assert h["carried"] == pytest.approx(sum(lams) - lost, rel=1e-10)
    assert h["pi"].sum() == pytest.approx(1.0) and np.all(h["pi"] >= 0)


def test_hypercube_without_neighbours_is_independent_loss_systems():
    lams = np.asarray([0.5, 1.5, 3.0])
    h = hypercube(lams, 1.0, [[], [], []], infinite_queue=False)
    assert h["utilisation"] == pytest.approx(lams / (1 + lams), rel=1e-10)
    assert h["p_blocked"] == pytest.approx(lams / (1 + lams), rel=1e-10)
    assert h["p_all_busy"] == pytest.approx(np.prod(lams / (1 + lams)), rel=1e-10)
    assert h["cross_share"] == 0.0


def test_hypercube_incomplete_ring_loses_more_than_full_pooling():
    """Four grids on a ring: a matter cannot reach the opposite grid's worker."""
    h = hypercube([0.6] * 4, 1.0, ring_adjacency(4), infinite_queue=False)
    assert h["p_lost"] > erlang_b(2.4, 4)
    assert h["p_all_busy"] < h["p_lost"]
    with pytest.raises(ValueError):
        hypercube([0.6] * 4, 1.0, ring_adjacency(4), infinite_queue=True)


def test_hypercube_two_grids_by_hand():
    """N = 2, loss: the four-state chain solved on paper."""
    l1, l2 = 0.3, 0.8
    h = hypercube([l1, l2], 1.0, [[1], [0]], infinite_queue=False)
    # states 00, 10 (worker 0 busy), 01, 11; the number busy is M/M/2/2
    lam = l1 + l2
    p0 = 1 / (1 + lam + lam**2 / 2)
    p11 = p0 * lam**2 / 2
    # balance of state "worker 0 only busy": in from 00 at l1, from 11 at mu; out at mu + lam
    # together with p(10) + p(01) = p0 * lam
    p10 = (l1 * p0 + p11) / (1 + lam)
    assert h["pi"][[0, 1, 3]] == pytest.approx([p0, p10, p11], rel=1e-10)
    p01 = p0 * lam - p10
    # cross-grid: a matter of grid 0 while only worker 0 is busy, or of grid 1 while only worker 1 is
    assert h["cross_share"] == pytest.approx((l1 * p10 + l2 * p01) / (lam * (1 - p11)), rel=1e-10)


# -- simulation helpers --------------------------------------------------------

def _config_has(path: str) -> bool:
    node = load_config()
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


HAS_BACKUP = "neighbour_backup" in routing.POLICIES
HAS_PETITIONS = "petition" in records.ROUTES and _config_has("petitions.patience_mean_h")
HAS_PROFILE = _config_has("arrivals.profile")

# Realism mechanisms on by default are switched off (``mmc_overrides`` does it
# too), so that the reductions below are the textbook queues; a test then
# switches on the one mechanism it validates.
REALISM_OFF: list[str] = list(getattr(compose, "REALISM_OFF", ()))


def busy_fraction_all(rec, n: int) -> float:
    """Time-average fraction of the window in which all ``n`` grid workers are busy.

    Exact event sweep over the handling intervals of worker-resolved matters
    (the only work the workers do in these reductions).
    """
    w, h = rec.warmup_h, rec.horizon_h
    sel = (rec.resolver == 0) & ~np.isnan(rec.t_handle_start)
    s = rec.t_handle_start[sel]
    e = np.where(np.isnan(rec.t_handled[sel]), h, rec.t_handled[sel])
    t = np.concatenate([s, e])
    d = np.concatenate([np.ones(s.size), -np.ones(e.size)])
    order = np.lexsort((d, t))  # at a tie, the end comes first
    t, busy = t[order], np.cumsum(d[order])
    assert busy.max(initial=0) <= n, "more workers busy than exist"
    seg = np.clip(np.minimum(np.append(t[1:], h), h) - np.maximum(t, w), 0.0, None)
    return float(seg[busy == n].sum() / (h - w))


def worker_utilisation(rec) -> np.ndarray:
    """Busy share of each grid's worker over the window, in grid order."""
    idx = [i for i, k in enumerate(rec.pool_kind) if k == "worker"]
    assert all(rec.pool_servers[i] == 1 for i in idx), "expects one worker per pool"
    return rec.pool_busy_h[idx] / (rec.horizon_h - rec.warmup_h)


# -- neighbour backup against the hypercube -------------------------------------

def backup_overrides(n: int, load: float, queue: bool, days: float) -> list[str]:
    """``n`` grids of one village, one worker each, ``load`` matters per worker-hour per grid."""
    return [
        *mmc_overrides(1, load, horizon_days=days, warmup_days=days / 10),
        f"town.population={n * 1000}", f"town.unit_population={n * 1000}",
        "routing=neighbour_backup",
        f"routing.escalate_after_h={'null' if queue else 0}",
        *REALISM_OFF,
    ]


HYPERCUBE_CASES = [
    pytest.param(2, 0.8, False, 200, 20, id="N2-loss"),
    pytest.param(3, 0.7, False, 150, 20, id="N3-loss"),
    pytest.param(2, 0.7, True, 300, 20, id="N2-queue"),
    pytest.param(3, 0.75, True, 300, 20, id="N3-queue", marks=pytest.mark.slow),
]


@pytest.mark.skipif(not HAS_BACKUP, reason="routing policy neighbour_backup not registered yet")
@pytest.mark.parametrize("n,load,queue,days,reps", HYPERCUBE_CASES)
def test_neighbour_backup_matches_hypercube(n, load, queue, days, reps):
    theory = hypercube([load] * n, 1.0, ring_adjacency(n), infinite_queue=queue)

    def measure(rec):
        assert sum(k == "worker" for k in rec.pool_kind) == n
        win = metrics.in_window(rec)
        lost = rec.escalated[win].mean()  # sent to a department: no worker was free
        return [*worker_utilisation(rec), busy_fraction_all(rec, n), lost]

    res = replicate(backup_overrides(n, load, queue, days), reps, measure)
    assert_all_cover(res, [*theory["utilisation"], theory["p_all_busy"], theory["p_lost"]],
                     f"N={n} load {load} {'queue' if queue else 'loss'}: utilisation..., P(all busy), P(lost)")


# -- abandonment to petitions against Erlang A ---------------------------------

def abandonment(rec):
    """P(petition), mean wait and P(wait > 0) over matters whose fate is known at the horizon."""
    win = metrics.in_window(rec)
    pet = ~np.isnan(rec.t_petition)
    served = ~pet & ~np.isnan(rec.t_start)
    known = win & (pet | served)
    route = rec.route
    assert np.all(pet[route == records.ROUTES.index("petition")]), "petition route without t_petition"
    wait = np.where(pet, rec.t_petition - rec.t_report, rec.t_start - rec.t_report)[known]
    return pet[known].mean(), wait.mean(), (wait > 1e-12).mean()


ERLANG_A_CASES = [
    pytest.param(1, 0.9, 4.0, 120, 20, id="c1-load0.9"),
    pytest.param(1, 1.2, 2.0, 100, 20, id="c1-load1.2"),
    pytest.param(3, 1.0, 2.0, 80, 20, id="c3-load1.0"),
    pytest.param(3, 1.2, 1.0, 80, 20, id="c3-load1.2", marks=pytest.mark.slow),
]


@pytest.mark.skipif(not HAS_PETITIONS, reason="abandonment to petitions not implemented yet")
@pytest.mark.parametrize("c,load,patience_h,days,reps", ERLANG_A_CASES)
def test_abandonment_matches_erlang_a(c, load, patience_h, days, reps):
    over = [*mmc_overrides(c, load, horizon_days=days, warmup_days=days / 10),
            f"petitions.patience_mean_h={patience_h!r}"]  # after the realism-off keys
    theory = erlang_a(load * c, 1.0, 1.0 / patience_h, c)
    res = replicate(over, reps, abandonment)
    assert_all_cover(res, [theory["p_abandon"], theory["wait_mean"], theory["p_wait"]],
                     f"M/M/{c}+M load {load} patience {patience_h} h: P(abandon), mean wait, P(wait)")


# -- time-varying arrivals by thinning -----------------------------------------

HOUR_WEIGHTS = [0.2] * 6 + [0.6, 1.2, 2.0, 2.5, 2.5, 1.8, 1.0, 1.5, 2.2, 2.4, 2.0, 1.6, 1.2, 1.0, 0.8, 0.6, 0.4, 0.3]
DAY_WEIGHTS = [1.2, 1.1, 1.0, 1.0, 1.1, 0.7, 0.5]
SURGE = {"start_day": 10, "end_day": 17, "multiplier": 3.0}


def target_rate_per_h(t_h: np.ndarray, base_per_h: float) -> np.ndarray:
    """The rate the profile asks for (weights relative to their mean; day 0 is the first day of the week)."""
    hour = np.floor(t_h % 24).astype(int)
    day = np.floor(t_h / 24).astype(int)
    hw = np.asarray(HOUR_WEIGHTS) / np.mean(HOUR_WEIGHTS)
    dw = np.asarray(DAY_WEIGHTS) / np.mean(DAY_WEIGHTS)
    surge = np.where((day >= SURGE["start_day"]) & (day < SURGE["end_day"]), SURGE["multiplier"], 1.0)
    return base_per_h * hw[hour] * dw[day % 7] * surge


def test_a_fixed_thinning_bound_thins_the_same_candidates_with_a_flat_profile():
    """Common random numbers across profiles: with the same fixed bound, a
    flat profile (no weights at all) and one whose weights are all equal
    describe the same arrivals and must draw the same matters. The bound was
    ignored for a flat profile, which then drew other matters."""
    common = [*REALISM_OFF, "town=synthetic", "town.population=2000", "town.people_per_grid=1000",
              "town.unit_population=2000", "arrivals.per_1000_people_day=24", "horizon_days=20", "warmup_days=0",
              "arrivals.profile.thinning_bound=3", f"seed={SEED}"]
    flat = load_scenario(common)
    assert flat.arrivals.profile.is_flat
    even = load_scenario([*common, f"arrivals.profile.hour_of_day={[1.0] * 24}"])
    layout = build_layout(flat.town)
    a, b = generate(flat, layout, 0), generate(even, layout, 0)
    assert len(a) > 100 and np.array_equal(a.time_h, b.time_h) and np.array_equal(a.work_h, b.work_h)
    # Without the bound, the flat profile draws every candidate (no thinning): other matters.
    unbounded = load_scenario([c for c in common if "thinning_bound" not in c])
    assert not np.array_equal(generate(unbounded, layout, 0).time_h[:10], a.time_h[:10])


@pytest.mark.skipif(not HAS_PROFILE, reason="time-varying arrival profiles not implemented yet")
def test_thinning_reproduces_the_rate_profile():
    days, reps = 28, 30
    scenario = load_scenario([
        *REALISM_OFF, "town=synthetic", "town.population=2000", "town.people_per_grid=1000", "town.unit_population=2000",
        "arrivals.per_1000_people_day=24", f"horizon_days={days}", "warmup_days=0",
        f"arrivals.profile.hour_of_day={HOUR_WEIGHTS}", f"arrivals.profile.day_of_week={DAY_WEIGHTS}",
        f"arrivals.profile.periods=[{{start_day:{SURGE['start_day']},end_day:{SURGE['end_day']},"
        f"multiplier:{SURGE['multiplier']}}}]",
        f"seed={SEED}",
    ])
    layout = build_layout(scenario.town)
    base = 24.0 * 2 / 24.0  # matters per hour at weight 1
    hours = np.arange(days * 24) + 0.5
    expected_hourly = target_rate_per_h(hours, base)  # piecewise constant: mid-hour value = hourly mean
    expected_bins = np.bincount(np.arange(days * 24) % 24, weights=expected_hourly, minlength=24)
    expected_days = np.bincount((np.arange(days * 24) // 24) % 7, weights=expected_hourly, minlength=7)
    surge_hours = (hours >= SURGE["start_day"] * 24) & (hours < SURGE["end_day"] * 24)
    expected_surge = expected_hourly[surge_hours].sum()
    counts = []
    for r in range(reps):
        t = generate(scenario, layout, r).time_h
        in_surge = (t >= SURGE["start_day"] * 24) & (t < SURGE["end_day"] * 24)
        counts.append([*np.bincount(np.floor(t % 24).astype(int), minlength=24),
                       *np.bincount(np.floor(t / 24).astype(int) % 7, minlength=7), in_surge.sum(), t.size])
    counts = np.asarray(counts, dtype=float)
    assert_all_cover(counts, [*expected_bins, *expected_days, expected_surge, expected_hourly.sum()],
                     "arrivals per hour-of-day bin, per day-of-week bin, in the surge, in total")
