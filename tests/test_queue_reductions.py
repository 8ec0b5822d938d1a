"""The reductions a user checks through the reported metrics (README, "Reducing
the model to a textbook queue").

``test_validation.py`` checks the mean wait and P(wait) of each reduction from
the records; here every metric a user reads in ``summary.json`` is compared
with its textbook value: the fraction that waits, the time-average numbers in
queue and in system, utilisation, throughput, time in system, the waiting-time
distribution P(W > t) and its 90th percentile; M/M/c at c = 1 (load 0.95,
with the warm-up the README prescribes), 5 and 10; the exact M/D/c; M/G/1 at
cv 2; Erlang A and M/M/c+D through ``petition_rate`` and ``escalation_rate``.
The formulas added for these checks (``mmc``, ``erlang_c_wait_tail``,
``erlang_c_wait_quantile``, ``mdc``, ``cobham_waits``) are first checked by
hand.

Tolerances are 99.9% Student-t intervals over replications, Bonferroni-corrected
over the metrics of a test (``stat_checks``): a check fails by chance for about
one seed in a thousand, whatever the seed.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from stat_checks import assert_all_cover, replicate, stat_seed

from sim import metrics
from sim.compose import mmc_overrides
from sim.validation import (
    cobham_waits,
    erlang_a,
    erlang_c_wait,
    erlang_c_wait_quantile,
    erlang_c_wait_tail,
    erlang_d_patience,
    mdc,
    mmc,
    pk_wait,
)

SEED = stat_seed(20240611)
replicate = partial(replicate, seed=SEED)


# -- the formulas, by hand -------------------------------------------------------

def test_mmc_measures_by_hand():
    # M/M/1, lam 0.8, mu 1: C = rho = 0.8, W_q = rho / (mu - lam) = 4, L_q = lam W_q.
    m1 = mmc(0.8, 1.0, 1)
    expected = {"p_wait": 0.8, "wait_mean": 4.0, "sojourn_mean": 5.0, "queue_mean": 3.2, "system_mean": 4.0,
                "utilisation": 0.8, "throughput": 0.8}
    assert m1 == pytest.approx(expected, rel=1e-12)
    # M/M/2, lam = mu = 1: p0 = 1 / (1 + a + a^2 / (2 (1 - rho))) = 1/3, C = 1/3, W_q = C / (2 - 1).
    m2 = mmc(1.0, 1.0, 2)
    assert (m2["p_wait"], m2["wait_mean"], m2["system_mean"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3 + 1), rel=1e-12)
    with pytest.raises(ValueError):
        mmc(2.0, 1.0, 2)


def test_mmc_waiting_time_tail_and_quantiles_by_hand():
    # M/M/1, lam 0.8: P(W > t) = 0.8 e^{-0.2 t}; the 0.9 quantile solves it = 0.1.
    assert erlang_c_wait_tail(0.8, 1.0, 1, 0.0) == pytest.approx(0.8, rel=1e-12)
    assert erlang_c_wait_tail(0.8, 1.0, 1, 5.0) == pytest.approx(0.8 * math.exp(-1.0), rel=1e-12)
    assert erlang_c_wait_tail(0.8, 1.0, 1, -1.0) == 1.0
    assert erlang_c_wait_quantile(0.8, 1.0, 1, 0.9) == pytest.approx(math.log(8.0) / 0.2, rel=1e-12)
    assert erlang_c_wait_quantile(0.8, 1.0, 1, 0.2) == 0.0  # 20% do not wait: the 0.2 quantile is 0
    # M/M/2, lam = mu = 1: C = 1/3, rate c mu - lam = 1.
    assert erlang_c_wait_tail(1.0, 1.0, 2, 2.0) == pytest.approx(math.exp(-2.0) / 3, rel=1e-12)
    # the tail integrates to the mean wait; the quantile inverts the tail
    for lam, c in [(0.5, 1), (4.2, 5), (8.0, 10)]:
        ts = np.linspace(0.0, 60.0 / (c - lam), 20001)
        tail = np.asarray([erlang_c_wait_tail(lam, 1.0, c, t) for t in ts])
        area = float(np.sum((tail[1:] + tail[:-1]) / 2 * np.diff(ts)))
        assert area == pytest.approx(erlang_c_wait(lam, 1.0, c), rel=1e-5)
        t95 = erlang_c_wait_quantile(lam, 1.0, c, 0.95)
        assert erlang_c_wait_tail(lam, 1.0, c, t95) == pytest.approx(0.05, rel=1e-12)
    with pytest.raises(ValueError):
        erlang_c_wait_quantile(0.5, 1.0, 1, 1.0)


@pytest.mark.parametrize("rho", [0.3, 0.7, 0.95])
def test_mdc_with_one_server_is_pollaczek_khinchine(rho):
    # M/D/1 with d = 2: W_q = lam d^2 / (2 (1 - rho)), P(wait) = rho.
    d = 2.0
    m = mdc(rho / d, d, 1)
    assert m["wait_mean"] == pytest.approx(pk_wait(rho / d, d, 0.0), rel=1e-9)
    assert m["p_wait"] == pytest.approx(rho, rel=1e-9)
    assert m["system_mean"] == pytest.approx(m["queue_mean"] + rho, rel=1e-12)


def test_mdc_lies_between_nothing_and_half_of_erlang_c_and_tends_to_half_in_heavy_traffic():
    """Constant service halves the second moment: in heavy traffic the wait is
    half the M/M/c wait (Kingman); below it, deterministic service waits less
    than half as long as exponential service at c = 1, and less than M/M/c."""
    for c in (2, 5, 10):
        for rho in (0.5, 0.8, 0.9):
            w_d, w_m = mdc(rho * c, 1.0, c)["wait_mean"], erlang_c_wait(rho * c, 1.0, c)
            assert 0.0 < w_d < w_m
        heavy = mdc(0.99 * c, 1.0, c)["wait_mean"] / erlang_c_wait(0.99 * c, 1.0, c)
        assert heavy == pytest.approx(0.5, abs=0.005)
    with pytest.raises(ValueError):
        mdc(2.0, 1.0, 2)


def test_cobham_by_hand_and_the_conservation_law():
    # M/M/1, lam 0.2 + 0.5, mu 1: C = 0.7; W_1 = C / (1 - 0.2), W_2 = C / ((1 - 0.2)(1 - 0.7)).
    w1, w2 = cobham_waits([0.2, 0.5], 1.0, 1)
    assert (w1, w2) == pytest.approx((0.7 / 0.8, 0.7 / (0.8 * 0.3)), rel=1e-12)
    # work-conserving, same service: the mean over all matters is the FIFO (Erlang C) wait
    lams = [0.9, 1.4, 0.6]
    waits = cobham_waits(lams, 1.0, 4)
    assert float(np.dot(lams, waits) / sum(lams)) == pytest.approx(erlang_c_wait(sum(lams), 1.0, 4), rel=1e-12)



def test_cobham_when_the_lower_classes_overload_the_servers():
    # Total load 1.2 on one server: the first class still waits C / (mu (1 - 0.5)) with C = 1 (the
    # server is always busy); the second waits without bound, not the -10 h the formula gives.
    assert cobham_waits([0.5, 0.7], 1.0, 1) == [pytest.approx(2.0), math.inf]
    assert cobham_waits([0.5, 0.5], 1.0, 1)[1] == math.inf  # exactly full: no division by zero
    assert cobham_waits([1.0, 2.0, 1.5], 1.0, 4)[2] == math.inf


# -- M/M/c: every reported metric, and the waiting-time distribution ----------------

REPORTED = ("wait_h_mean", "waited_rate", "wait_h_p90", "queue_mean", "backlog_mean", "worker_utilization",
            "throughput_per_day", "resolution_h_mean")
TAIL_AT = (0.5, 1.0, 2.0)  # P(W > t) at t = k / (c mu - lam)


def mmc_theory(lam: float, c: int) -> list[float]:
    """The REPORTED metrics and the tail points for M/M/c with mu = 1 (per hour)."""
    m = mmc(lam, 1.0, c)
    return [m["wait_mean"], m["p_wait"], erlang_c_wait_quantile(lam, 1.0, c, 0.9), m["queue_mean"],
            m["system_mean"], m["utilisation"], 24.0 * m["throughput"], m["sojourn_mean"],
            *[erlang_c_wait_tail(lam, 1.0, c, k / (c - lam)) for k in TAIL_AT]]


MMC_CASES = [
    # load 0.95: the empty start takes ~1/(mu (1 - sqrt(rho))^2) = 65 days to forget;
    # the README asks for a warm-up of 3 such times
    pytest.param(1, 0.95, 1200, 200, id="c1-load0.95"),
    pytest.param(5, 0.9, 300, 30, id="c5-load0.9"),
    pytest.param(10, 0.7, 150, 15, id="c10-load0.7"),
]


@pytest.mark.parametrize("c,load,days,warmup", MMC_CASES)
def test_mmc_reported_metrics_and_wait_distribution_match_erlang_c(c, load, days, warmup):
    lam = load * c

    def measure(rec):
        m = metrics.compute(rec)
        started = metrics.in_window(rec) & ~np.isnan(rec.t_start)
        wait = (rec.t_start - rec.t_report)[started]
        return [m[k] for k in REPORTED] + [(wait > k / (c - lam)).mean() for k in TAIL_AT]

    res = replicate(mmc_overrides(c, load, horizon_days=days, warmup_days=warmup), 20, measure)
    assert_all_cover(res, mmc_theory(lam, c), f"M/M/{c} load {load}",
                     [*REPORTED, *[f"P(W > {k}/(c mu - lam))" for k in TAIL_AT]])


# -- M/D/c exactly, M/G/1 at a high cv -------------------------------------------------

QUEUE_METRICS = ("wait_h_mean", "waited_rate", "queue_mean", "backlog_mean")


@pytest.mark.parametrize("c,load", [(2, 0.8), (5, 0.9)])
def test_mdc_reported_metrics_match_the_exact_m_d_c(c, load):
    res = replicate(mmc_overrides(c, load, dist="deterministic", horizon_days=200, warmup_days=20), 20,
                    lambda rec: [metrics.compute(rec)[k] for k in QUEUE_METRICS])
    theory = mdc(load * c, 1.0, c)
    assert_all_cover(res, [theory[k] for k in ("wait_mean", "p_wait", "queue_mean", "system_mean")],
                     f"M/D/{c} load {load}", QUEUE_METRICS)


@pytest.mark.parametrize("dist,cv,load", [("gamma", 2.0, 0.7), ("lognormal", 2.0, 0.6)])
def test_mg1_at_high_cv_matches_pollaczek_khinchine(dist, cv, load):
    over = [*mmc_overrides(1, load, dist=dist, horizon_days=500, warmup_days=50), f"handling.simple.cv={cv!r}"]
    keys = ("wait_h_mean", "waited_rate", "queue_mean", "backlog_mean")
    res = replicate(over, 24, lambda rec: [metrics.compute(rec)[k] for k in keys])
    wq = pk_wait(load, 1.0, cv**2)
    assert_all_cover(res, [wq, load, load * wq, load * (wq + 1.0)], f"M/G/1 {dist} cv {cv} load {load}", keys)


# -- abandonment and escalation through the reported rates ----------------------------

def test_erlang_a_through_the_reported_metrics():
    """Petitions with a petitions office that starts every petition at once
    (``petitions.staff`` large): the worker's queue is M/M/c+M, and
    ``petition_rate``, ``wait_h_mean`` (for a petition: until its resident
    petitions), ``queue_mean``, ``waited_rate`` and ``worker_utilization`` are
    Erlang A's P(abandon), mean wait, L_q, P(wait) and busy share."""
    c, load, patience_h = 5, 1.1, 3.0
    over = [*mmc_overrides(c, load, horizon_days=100, warmup_days=10),
            f"petitions.patience_mean_h={patience_h!r}", "petitions.staff=100"]
    keys = ("petition_rate", "wait_h_mean", "queue_mean", "waited_rate", "worker_utilization")
    res = replicate(over, 20, lambda rec: [metrics.compute(rec)[k] for k in keys])
    a = erlang_a(load * c, 1.0, 1.0 / patience_h, c)
    assert_all_cover(res, [a["p_abandon"], a["wait_mean"], a["queue_mean"], a["p_wait"], a["busy_mean"] / c],
                     f"M/M/{c}+M load {load} patience {patience_h} h", keys)


def test_escalation_after_a_fixed_wait_through_the_reported_metrics():
    """``escalation_rate`` is M/M/c+D's P(abandon); the workers serve only the
    matters not escalated (utilisation rho (1 - P(abandon))); P(wait) is the
    share that found every worker busy."""
    c, load, tau = 3, 0.95, 1.0
    over = [*mmc_overrides(c, load, horizon_days=120, warmup_days=12),
            "routing=tiered", f"routing.escalate_after_h={tau!r}",
            *[f"routing.deadline_h.{k}=1e9" for k in ("simple", "difficult", "urgent")]]
    keys = ("escalation_rate", "worker_utilization", "waited_rate")
    res = replicate(over, 20, lambda rec: [metrics.compute(rec)[k] for k in keys])
    d = erlang_d_patience(load * c, 1.0, c, tau)
    assert_all_cover(res, [d["p_abandon"], load * (1.0 - d["p_abandon"]), d["p_wait"]],
                     f"M/M/{c}+D load {load} tau {tau} h", keys)
