"""Unstable runs are called unstable: the backlog trend test on clear cases and on theory.

An M/M/c reduction at load 0.5 must be called stable and at load 1.3
unstable in every replication (at load 0.5 the queue settles within hours,
so its 12 block means are nearly independent: the trend test's level is
1e-3, and the practical-growth guard makes a false call rarer still; at load
1.3 the trend's p-value is below 1e-10). Near capacity the verdict is not
reliable either way, and the module and README say so. Above capacity the backlog
grows at the fluid rate lambda - c*mu; the mean measured growth over
replications must match it within four standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from stat_checks import stat_seed

from sim.compose import load_scenario, mmc_overrides
from sim.model import run_replication
from sim.stability import assess, backlog_trend
from sim.town import build_layout

REPS = 8
C = 2
SEED = stat_seed(20231030)  # the default config's seed unless GRIDGOV_TEST_SEED gives another


def verdicts(load: float) -> list:
    scenario = load_scenario([*mmc_overrides(C, load, horizon_days=200.0, warmup_days=20.0), f"seed={SEED}"])
    layout = build_layout(scenario.town)
    return [assess(run_replication(scenario, layout, r))["system"] for r in range(REPS)]


def test_half_load_is_stable():
    out = verdicts(0.5)
    assert all(v.stable for v in out), [v.reason for v in out]


def test_overload_is_unstable_and_grows_at_the_fluid_rate():
    load = 1.3
    out = verdicts(load)
    assert not any(v.stable for v in out), [v.reason for v in out]
    assert all(v.reason.startswith("unstable") for v in out)
    growth = np.asarray([v.growth_per_day for v in out])
    fluid = (load - 1.0) * C * 24.0  # (lambda - c mu) per day with mu = 1 per hour
    se = growth.std(ddof=1) / np.sqrt(REPS)
    assert abs(growth.mean() - fluid) <= 4.0 * se + 0.02 * fluid, (growth, fluid)


def test_empty_and_constant_paths_are_stable():
    v = backlog_trend(np.empty(0), np.empty(0), 0.0, 240.0)
    assert v.stable and v.growth_per_day == 0.0
    # Two matters open through the whole window: a flat backlog of 2.
    v = backlog_trend(np.array([0.0, 0.0]), np.array([np.nan, np.nan]), 24.0, 240.0)
    assert v.stable and v.backlog_last == pytest.approx(2.0)


def test_a_path_growing_by_one_matter_an_hour_is_unstable_at_that_rate():
    starts = np.arange(0.0, 480.0, 1.0)  # one matter an hour, none ever closed
    v = backlog_trend(starts, np.full(starts.size, np.nan), 48.0, 480.0)
    assert not v.stable
    assert v.growth_per_day == pytest.approx(24.0, rel=1e-3)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        backlog_trend(np.empty(0), np.empty(0), 0.0, 10.0, blocks=7)
    with pytest.raises(ValueError):
        backlog_trend(np.empty(0), np.empty(0), 10.0, 10.0)


def test_trend_test_is_scipys_one_sided_linregress():
    """stats.trend_test avoids importing scipy.stats; it must give what linregress gives."""
    from scipy import stats as scipy_stats

    from sim.stats import t_interval, trend_test

    rng = np.random.default_rng(7)
    for _ in range(300):
        x = np.arange(12.0) + rng.random()
        y = rng.normal(size=12) * rng.exponential() + rng.normal() * x
        slope, p = trend_test(x, y)
        fit = scipy_stats.linregress(x, y, alternative="greater")
        assert slope == pytest.approx(fit.slope, rel=1e-12, abs=1e-12)
        assert p == pytest.approx(fit.pvalue, rel=1e-9, abs=1e-15)
    values = rng.normal(size=5)
    mean, lo, hi = t_interval(values)
    half = scipy_stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert (lo, hi) == pytest.approx((mean - half, mean + half), rel=1e-12)
