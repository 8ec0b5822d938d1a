"""Summaries over independent replications: means and 95% confidence intervals.

Replications are independent (separate seed streams), so the replication
means of a metric are i.i.d. and a Student-t interval is exact for normal data
and a good approximation otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special


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
    # scipy.stats.t.ppf is special.stdtrit; scipy.stats itself takes ~0.7 s to
    # import (in every run and sweep worker), scipy.special ~0.3 s, and the
    # model's distributions import it anyway.
    half = float(special.stdtrit(x.size - 1, 0.5 + level / 2.0) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def trend_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and the one-sided p-value of a
    positive slope (t test with n - 2 degrees of freedom): what
    ``scipy.stats.linregress(x, y, alternative="greater")`` gives, by its
    formulas, without importing scipy.stats. A constant ``y`` has no trend
    (slope 0, p = 1); ``x`` must not be constant."""
    n = len(x)
    if n < 3:
        raise ValueError(f"a trend test needs at least 3 points, got {n}")
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=True).flat
    if ssxm == 0.0:
        raise ValueError("a trend test needs x values that are not all equal")
    slope = float(ssxym / ssxm)
    if ssym == 0.0:
        return slope, 1.0
    r = min(1.0, max(-1.0, float(ssxym / np.sqrt(ssxm * ssym))))
    df = n - 2
    t = r * math.sqrt(df / ((1.0 - r + 1e-20) * (1.0 + r + 1e-20)))
    return slope, float(special.stdtr(df, -t))  # P(T >= t)


def summarise(per_replication: dict[str, list[float]]) -> dict[str, dict]:
    """``{metric: {mean, ci95_low, ci95_high, per_replication}}``."""
    out = {}
    for name, values in per_replication.items():
        mean, lo, hi = t_interval(values)
        out[name] = {"mean": mean, "ci95_low": lo, "ci95_high": hi, "per_replication": list(values)}
    return out
