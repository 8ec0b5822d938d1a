"""Summaries over independent replications: means and 95% confidence intervals.

Replications are independent (separate seed streams), so the replication
means of a metric are i.i.d. and a Student-t interval is exact for normal data
and a good approximation otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval, ignoring NaN values.

    With fewer than two finite values the interval is (NaN, NaN).
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    from scipy import stats  # imported on first use: it is slow to import in every sweep worker

    half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def summarise(per_replication: dict[str, list[float]]) -> dict[str, dict]:
    """``{metric: {mean, ci95_low, ci95_high, per_replication}}``."""
    out = {}
    for name, values in per_replication.items():
        mean, lo, hi = t_interval(values)
        out[name] = {"mean": mean, "ci95_low": lo, "ci95_high": hi, "per_replication": list(values)}
    return out
