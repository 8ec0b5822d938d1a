"""Property-based tests: any valid configuration runs to its horizon and keeps the invariants.

Hypothesis draws overrides across the config space (town sizes, shares,
distribution families and cvs, steps that do not exist, escalation
thresholds including null and 0, every routing policy, pooling, enforcement
bases, teams and staff) and applies them to the composed default config, a
plain dict, exactly as the command line would. Each drawn configuration is
validated with ``build_scenario``, simulated for a few days and checked with
``sim.invariants.check``, which raises on any violation.

Profiles: ``ci`` (default; bounded, the file runs well under a minute on two
cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough pytest
tests/test_properties.py``).
"""

from __future__ import annotations

import copy
import functools
import math
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sim import metrics
from sim.compose import load_config
from sim.config import build_scenario
from sim.invariants import check
from sim.model import run_replication
from sim.routing import POLICIES
from sim.scenario import CATEGORIES, COMPLEXITIES, STEPS
from sim.town import build_layout

# CI is deterministic (the same examples every run, nothing replayed from a
# local database), so it never flakes; `thorough` explores at random.
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
REALISM = ("calendars", "duties", "travel", "petitions", "assessment")


@functools.lru_cache(maxsize=None)
def _base(town: str) -> dict[str, Any]:
    return load_config([f"town={town}"])


def base_config(town: str) -> dict[str, Any]:
    """The composed config with the given town option, as a fresh plain dict."""
    return copy.deepcopy(_base(town))


def apply(cfg: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a plain config dict (what ``key=value`` does on the command line)."""
    for dotted, value in overrides.items():
        node = cfg
        *path, last = dotted.split(".")
        for k in path:
            node = node[k]
        node[last] = value
    return cfg


# -- strategies ---------------------------------------------------------------
def shares(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, float]]:
    """Shares over ``names`` that sum to 1, zeros included (small integer weights)."""
    weights = st.lists(st.integers(0, 6), min_size=len(names), max_size=len(names))
    # All-zero weights are not shares: put the weight on the first name then.
    weights = weights.map(lambda w: w if any(w) else [1, *w[1:]])
    return weights.map(lambda w: {n: x / sum(w) for n, x in zip(names, w)})


means = st.floats(0.05, 12.0, allow_nan=False)
cvs = st.one_of(st.just(0.0), st.floats(1e-6, 3.0))  # sim.config.MIN_CV
step_dist = st.one_of(
    st.just({"dist": "deterministic", "mean_h": 0}),  # no such step
    st.builds(lambda m: {"dist": "deterministic", "mean_h": m}, means),
    st.builds(lambda m: {"dist": "exponential", "mean_h": m}, means),
    st.builds(lambda m, c: {"dist": "lognormal", "mean_h": m, "cv": c}, means, cvs),
    st.builds(lambda m, c: {"dist": "gamma", "mean_h": m, "cv": c}, means, cvs),
)


@st.composite
def _calendar(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.floats(0.0, 23.9))
    return {"days": draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)),
            "start_h": start, "end_h": draw(st.floats(start, 24.0, exclude_min=True))}


calendars = st.one_of(st.none(), _calendar())


@st.composite
def town_overrides(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A small synthetic town, or Xiaji with another grid size or a hard village."""
    if draw(st.booleans()):
        return "synthetic", {
            "town.population": draw(st.integers(1, 15_000)),
            "town.people_per_grid": draw(st.integers(50, 6_000)),
            "town.unit_population": draw(st.integers(200, 8_000)),
            "town.area_km2": draw(st.floats(0.5, 400.0)),
            "town.people_per_town": draw(st.one_of(st.none(), st.integers(300, 20_000))),  # a city of towns
        }
    out: dict[str, Any] = {"town.people_per_grid": draw(st.sampled_from([500, 1000, 2000, 7000]))}
    if draw(st.booleans()):
        out["town.units.village_3.difficulty"] = draw(st.floats(0.2, 5.0))
    if draw(st.booleans()):
        out["town.units.community_1.grids"] = draw(st.integers(1, 12))
    return "xiaji", out


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid plain config dict, short horizon."""
    town, ov = draw(town_overrides())
    horizon = draw(st.floats(0.25, 4.0))
    ov.update({
        "seed": draw(st.integers(0, 2**63 - 1)),
        "replications": 1,
        "horizon_days": horizon,
        "warmup_days": draw(st.floats(0.0, 0.9)) * horizon,
        "arrivals.per_1000_people_day": draw(st.one_of(st.just(0.0), st.floats(0.01, 12.0))),
        "arrivals.complexity": draw(shares(COMPLEXITIES)),
        "arrivals.categories": draw(shares(CATEGORIES)),
        "arrivals.block_people": draw(st.integers(20, 400)),
        "staffing.workers_per_grid": draw(st.integers(1, 3)),
        "staffing.pooling": draw(st.sampled_from(["grid", "unit"])),
        "routing.policy": draw(st.sampled_from(sorted(POLICIES))),
        "routing.escalate_after_h": draw(st.one_of(st.none(), st.just(0.0), st.floats(0.0, 48.0))),
        "routing.deadline_h": {c: draw(st.floats(0.1, 400.0)) for c in COMPLEXITIES},
        "enforcement.base": draw(st.sampled_from(["town", "units"])),
        "enforcement.speed_kmh": draw(st.floats(2.0, 80.0)),
        "enforcement.road_factor": draw(st.floats(1.0, 2.5)),
        "enforcement.return_to_base": draw(st.booleans()),
    })
    for step in STEPS:
        ov[f"handling.{step}"] = draw(step_dist)
    if draw(st.booleans()):
        ov["departments"] = {"all": {"categories": list(CATEGORIES), "staff": draw(st.integers(1, 4))}}
    else:
        cfg = _base(town)
        ov["departments"] = {name: {"categories": list(d["categories"]), "staff": draw(st.integers(1, 4))}
                             for name, d in cfg["departments"].items()}
    teams = draw(st.integers(0, 4))
    urgent_step = ov["handling.urgent"] != {"dist": "deterministic", "mean_h": 0}
    if teams == 0 and ov["arrivals.complexity"]["urgent"] > 0 and urgent_step:
        teams = 1  # zero teams is only valid when no urgent matter needs one
    ov["enforcement.teams"] = teams
    cfg = apply(base_config(town), ov)
    # Realism mechanisms (issue 4), each on as configured or off; absent keys
    # are skipped so the strategy works before and after they exist.
    off = []
    for key in REALISM:
        if key in cfg and draw(st.booleans()):
            cfg.pop(key)  # the scenario default switches the mechanism off
            off.append(key)
    if isinstance(cfg.get("calendars"), dict) and draw(st.booleans()):
        for who in ("workers", "departments", "enforcement"):  # any shift, not only whole and half hours
            cfg["calendars"][who] = draw(calendars)
    if isinstance(cfg.get("petitions"), dict) and draw(st.booleans()):
        cfg["petitions"]["patience_mean_h"] = draw(st.floats(0.5, 100.0))  # petitions actually happen
    if isinstance(cfg["arrivals"].get("profile"), dict) and draw(st.booleans()):
        cfg["arrivals"]["profile"] = None
        off.append("arrivals.profile")
    if "discovered_per_duty_h" in cfg["arrivals"] and draw(st.booleans()):
        cfg["arrivals"]["discovered_per_duty_h"] = 0.0
        off.append("arrivals.discovered_per_duty_h")
    note(f"town={town} overrides={ov} off={off}")
    return cfg


# -- properties ---------------------------------------------------------------
@settings(PROFILE)
@given(cfg=configs(), replication=st.integers(0, 3))
def test_any_valid_config_runs_and_keeps_the_invariants(cfg: dict[str, Any], replication: int) -> None:
    scenario = build_scenario(cfg)
    layout = build_layout(scenario.town)
    rec = run_replication(scenario, layout, replication)
    check(rec, scenario, replication=replication)
    values = metrics.compute(rec)
    assert set(metrics.METRICS) <= set(values)
    # The run reached its horizon: every matter was reported before it, and
    # the counts are whole numbers that add up.
    assert rec.horizon_h == scenario.run.horizon_h
    assert values["events_arrived"] <= len(rec)
    assert values["backlog_end"] + (~np.isnan(rec.t_closed)).sum() == len(rec)
    assert all(isinstance(v, float) and not math.isinf(v) for v in values.values())


@settings(PROFILE, max_examples=max(5, PROFILE.max_examples // 3))
@given(cfg=configs())
def test_a_scenario_is_independent_of_the_order_it_runs_in(cfg: dict[str, Any]) -> None:
    # Replication r's records depend on (seed, r) only: running r=1 before or
    # after r=0 gives identical columns (no hidden state between runs).
    scenario = build_scenario(cfg)
    layout = build_layout(scenario.town)
    a1 = run_replication(scenario, layout, 1)
    run_replication(scenario, layout, 0)
    b1 = run_replication(scenario, layout, 1)
    for name in a1.times:
        np.testing.assert_array_equal(a1.times[name], b1.times[name], err_msg=name)
    np.testing.assert_array_equal(a1.pool_busy_h, b1.pool_busy_h)
