"""Is a replication's backlog settled, or still rising at the end of the run?

When matters arrive faster than the town can close them (load above
capacity), the backlog grows roughly linearly for as long as the run lasts.
Its time average then depends on the horizon, not on the system, and a
confidence interval over replications is meaningless: such a run must be
reported as unstable, not averaged away.

The test works on the backlog path over the measurement window
[warm-up, horizon). The window is cut into ``blocks`` equal blocks and the
time-average backlog of each block is integrated exactly from the records
(batch means). A replication is called unstable when both

* the least-squares trend of the block means is positive and significant
  (one-sided t test on the slope at level ``alpha``; with blocks much longer
  than the queue's relaxation time the block means of a stable queue are
  nearly independent, so the test rarely fires on a stable run), and
* the growth matters in practice: the mean backlog over the last third of the
  window exceeds that over the middle third by at least ``min_growth``
  (relative) and ``min_abs`` matters, so a slow drift of a fraction of a
  matter is not called unstable.

A stable queue started empty also rises at first; the warm-up should cover
that rise, and the middle-versus-last comparison ignores the first third of
the window as a further guard.

What the test cannot tell apart: a queue loaded just below capacity settles
so slowly (an M/M/1 queue's relaxation time is about 1 / (mu (1 - sqrt(rho))^2),
half a year at rho = 0.97 with one-hour services) that its backlog is still
rising over a one-year run, and is called unstable in some replications,
while a queue just above capacity grows so slowly that its trend may not be
significant. Measured on M/M/1, 365 days with 30 days of warm-up, 40
replications each: called unstable in 0 of 40 at load 0.9, 3 of 40 at 0.97,
23 of 40 at 1.02 and 40 of 40 at 1.3. So "unstable" means the backlog was
still rising when the run ended (overloaded, or too close to capacity to
settle within the run: a longer run tells them apart), and "stable" means
no significant growth was found, not a proof of stability; the reason line
of each verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import department_stage, window_average
from .records import Records
from .stats import trend_test


@dataclass(frozen=True)
class StabilityVerdict:
    """Verdict on one backlog path.

    Attributes:
        stable: ``False`` when the backlog is still rising at the end of the window
            (overloaded, or too near capacity to settle: see the module docstring).
        growth_per_day: least-squares trend of the block-mean backlog, matters per day.
        p_value: one-sided p-value of that trend being positive.
        backlog_middle, backlog_last: time-average backlog over the middle and
            last thirds of the window.
        reason: one line for reports.
    """

    stable: bool
    growth_per_day: float
    p_value: float
    backlog_middle: float
    backlog_last: float
    reason: str


def backlog_trend(start: np.ndarray, end: np.ndarray, w: float, h: float, *, blocks: int = 12,
                  alpha: float = 1e-3, min_growth: float = 0.1, min_abs: float = 1.0) -> StabilityVerdict:
    """Stability verdict for the number of open intervals [start, end) over [w, h) (hours).

    Args:
        start, end: when each matter entered and left (NaN end: still open).
        w, h: the measurement window, hours.
        blocks: number of batch-mean blocks (a multiple of 3).
        alpha: level of the one-sided trend test.
        min_growth, min_abs: smallest last-third over middle-third growth
            (relative, and in matters) that counts as unstable.
    """
    if blocks < 6 or blocks % 3:
        raise ValueError(f"blocks={blocks}: expected a multiple of 3, at least 6")
    if not h > w:
        raise ValueError(f"empty window [{w}, {h})")
    edges = np.linspace(w, h, blocks + 1)
    # time_average_count over each block, with the entered matters and their
    # ends (open ones: h, which any block end b < h clips to b, as it would
    # the block's own NaN -> b) selected once, not once per block.
    ok = ~np.isnan(start)
    s = start[ok]
    e = np.fmin(end[ok], h)
    means = np.asarray([window_average(s, e, a, b) for a, b in zip(edges[:-1], edges[1:])])
    third = blocks // 3
    middle = float(means[third:2 * third].mean())
    last = float(means[2 * third:].mean())
    days = (edges[:-1] + edges[1:]) / 2.0 / 24.0
    if np.ptp(means) == 0.0:  # a flat path (often an empty one): no trend at all
        slope, p = 0.0, 1.0
    else:
        slope, p = trend_test(days, means)  # one-sided: the question is growth
    grows = last >= middle * (1.0 + min_growth) + min_abs
    unstable = p < alpha and slope > 0 and grows
    if unstable:
        reason = (f"unstable: backlog still rising at the end of the window, by {slope:.3g} matters/day "
                  f"(one-sided p={p:.2g}); mean {middle:.4g} in the middle third of the window, {last:.4g} in "
                  "the last: overloaded, or too near capacity to settle within the run (a longer run tells)")
    else:
        reason = f"stable: no significant growth of the backlog found (trend {slope:.3g} matters/day, p={p:.2g})"
    return StabilityVerdict(not unstable, slope, p, middle, last, reason)


def assess(rec: Records, **kw: float) -> dict[str, StabilityVerdict]:
    """Stability verdicts of one replication: the whole system and the department stage.

    Keyword arguments are passed to ``backlog_trend``.
    """
    w, h = rec.warmup_h, rec.horizon_h
    dept = department_stage(rec)
    return {
        "system": backlog_trend(rec.t_report, rec.t_closed, w, h, **kw),  # type: ignore[arg-type]
        "department": backlog_trend(rec.t_res_in[dept], rec.t_handled[dept], w, h, **kw),  # type: ignore[arg-type]
    }
