"""Shared by the statistical validation tests: replicate a reduced model and
compare replication means with theory inside Student-t intervals.

Replication means are i.i.d., so a Student-t interval over them covers the
true mean with the stated probability whatever the seed; a family of checks
is Bonferroni-corrected so that it fails by chance at ``LEVEL`` as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from sim.arrivals import generate
from sim.compose import load_scenario
from sim.model import Model
from sim.stats import t_interval
from sim.town import build_layout

LEVEL = 0.999

SEED_VARIABLE = "GRIDGOV_TEST_SEED"


def stat_seed(default: int) -> int:
    """The seed of a file of statistical tests: ``default``, or the one the
    environment variable ``GRIDGOV_TEST_SEED`` gives, so that anyone can check
    that the tests hold for another seed (``GRIDGOV_TEST_SEED=7 python -m
    pytest tests/test_validation.py``)."""
    value = os.environ.get(SEED_VARIABLE, "").strip()
    if not value:
        return default
    try:
        seed = int(value)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}={value!r}: expected a non-negative integer seed") from None
    if not 0 <= seed < 2**63:  # what the config's seed key takes
        raise ValueError(f"{SEED_VARIABLE}={value!r}: expected an integer seed from 0 to 2**63 - 1")
    return seed


def replicate(overrides: Sequence[str], reps: int, fn: Callable, *, seed: int) -> np.ndarray:
    """``fn(records)`` of replications 0..reps-1 of the scenario ``overrides`` (and ``seed``) give."""
    scenario = load_scenario([*overrides, f"seed={seed}"])
    layout = build_layout(scenario.town)
    return np.asarray([fn(Model(scenario, layout, generate(scenario, layout, r)).run()) for r in range(reps)],
                      dtype=float)


def assert_covers(values, theory: float, what: str, level: float = LEVEL) -> None:
    """The ``level`` t interval over ``values`` (one per replication) covers ``theory``."""
    mean, lo, hi = t_interval(np.ravel(values).tolist(), level)
    assert lo <= theory <= hi, f"{what}: theory {theory:.5f} outside {level:.3%} CI [{lo:.5f}, {hi:.5f}] (mean {mean:.5f})"


def assert_all_cover(values, theories: Sequence[float], what: str, names: Sequence[str] | None = None) -> None:
    """Column j of ``values`` against ``theories[j]``, Bonferroni-corrected to LEVEL overall."""
    values = np.atleast_2d(values)
    if values.shape[1] != len(theories):
        raise ValueError(f"{values.shape[1]} columns of values but {len(theories)} theoretical values")
    level = 1.0 - (1.0 - LEVEL) / len(theories)
    for j, theory in enumerate(theories):
        name = f"[{j}]" if names is None else f": {names[j]}"
        assert_covers(values[:, j], float(theory), f"{what}{name}", level)
