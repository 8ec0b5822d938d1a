"""Recovery from a surge: the excess backlog it leaves, and how long it takes to clear.

A surge study sweeps the size of a temporary rise in reported matters (a
flood season, a campaign), including a point without one (the reference).
Every point uses the same random numbers, and with a fixed thinning bound the
matters of the reference run are a subset of those of a surge run, so the
two backlog paths of replication r differ only by what the surge added. For
each surge point, replication by replication:

* excess backlog(t) = backlog of the surge run(t) − backlog of its reference
  twin(t) (same other swept values, same replication);
* peak excess backlog = its largest value from the surge's start;
* recovery (days) = from the surge's end to the first sample from which the
  excess stays at or below ``recovered_share`` of its peak (and at least 1
  matter) for ``hold_days``; not observed if that never happens before the
  horizon (counted in ``not_recovered``).

Reads only the points' saved ``backlog.csv``; writes ``backlog_by_point.csv``
(the mean paths the figure draws) and ``recovery.csv`` (one row per surge
point and measure, with a 95% t interval over replications).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .aggregate import Point, same_value, value_of
from .stats import t_interval
from .study import TransientSpec

SERIES_CSV = "backlog_by_point.csv"
RECOVERY_CSV = "recovery.csv"
MEASURES = {
    "peak_excess_backlog": "peak excess backlog (open matters)",
    "recovery_days": "days from the end of the surge until the excess backlog has cleared",
}


def daily_backlog(point: Point) -> pd.DataFrame | None:
    """A finished point's backlog path: columns replication, day, backlog."""
    path = point.folder / "backlog.csv"
    if point.status != "finished" or not path.is_file():
        return None
    df = pd.read_csv(path, usecols=["replication", "time_h", "backlog"])
    df["day"] = df["time_h"] / 24.0
    return df[["replication", "day", "backlog"]]


def twin(point: Point, points: Sequence[Point], keys: Sequence[str], spec: TransientSpec) -> Point | None:
    """The finished reference point with the same other swept values."""
    others = [k for k in keys if k != spec.key]
    for q in points:
        if q.status == "finished" and same_value(value_of(q, spec.key), spec.reference) and \
                all(same_value(value_of(q, k), value_of(point, k)) for k in others):
            return q
    return None


def recovery_days(day: np.ndarray, excess: np.ndarray, spec: TransientSpec) -> tuple[float, float]:
    """Peak excess backlog and days to recover, for one replication's paths."""
    during = day >= spec.start_day
    peak = float(excess[during].max()) if during.any() else 0.0
    if peak <= 0.0:
        return peak, 0.0
    low = excess <= max(spec.recovered_share * peak, 1.0)
    for i in np.flatnonzero(day >= spec.end_day):
        window = (day >= day[i]) & (day < day[i] + spec.hold_days)
        if day[i] + spec.hold_days > day[-1]:
            break  # too close to the horizon to see it hold
        if low[window].all():
            return peak, float(day[i] - spec.end_day)
    return peak, math.nan


def recovery(points: Sequence[Point], keys: Sequence[str],
             spec: TransientSpec | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean backlog paths of every point, and the recovery table of the surge points.

    Without a surge (``spec`` is ``None``) only the paths are computed.

    Returns:
        ``(series, table)``: ``series`` has point, the swept keys, day, backlog
        and excess_backlog (mean over replications; NaN for reference points);
        ``table`` has point, the swept keys, measure, mean, ci95_low,
        ci95_high, replications, not_recovered.
    """
    series, rows = [], []
    for p in points:
        own = daily_backlog(p)
        if own is None:
            continue
        params = {k: value_of(p, k) for k in keys}
        mean = own.groupby("day", as_index=False)["backlog"].mean()
        mean["excess_backlog"] = math.nan
        ref = None
        if spec is not None and not same_value(value_of(p, spec.key), spec.reference):
            ref = twin(p, points, keys, spec)
        ref_paths = daily_backlog(ref) if ref is not None else None
        if ref_paths is not None and spec is not None:
            both = own.merge(ref_paths, on=["replication", "day"], suffixes=("", "_ref"))
            both["excess"] = both["backlog"] - both["backlog_ref"]
            mean = mean.merge(both.groupby("day", as_index=False)["excess"].mean(), on="day", how="left")
            mean["excess_backlog"] = mean.pop("excess")
            peaks, days = [], []
            for _, rep in both.groupby("replication"):
                rep = rep.sort_values("day")
                peak, rec = recovery_days(rep["day"].to_numpy(), rep["excess"].to_numpy(), spec)
                peaks.append(peak)
                days.append(rec)
            for measure, values in (("peak_excess_backlog", peaks), ("recovery_days", days)):
                m, lo, hi = t_interval(values)
                rows.append({"point": p.num, **params, "measure": measure, "mean": m, "ci95_low": lo,
                             "ci95_high": hi, "replications": int(np.isfinite(values).sum()),
                             "not_recovered": int(np.isnan(values).sum()), "reference_point": ref.num})
        for col, value in reversed(list(params.items())):
            mean.insert(0, col, value)
        mean.insert(0, "point", p.num)
        series.append(mean)
    series_df = pd.concat(series, ignore_index=True) if series else pd.DataFrame(
        columns=["point", *keys, "day", "backlog", "excess_backlog"])
    table = pd.DataFrame(rows, columns=["point", *keys, "measure", "mean", "ci95_low", "ci95_high", "replications",
                                        "not_recovered", "reference_point"])
    return series_df, table
