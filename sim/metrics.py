"""Metrics: pure functions of one replication's records.

Definitions (all times in hours, the measurement window is [warm-up, horizon)):

* per-matter statistics count the matters reported inside the window; a
  statistic that a matter has not reached by the horizon (a wait for a matter
  nobody has started yet, a resolution for an open matter) is not observed
  and left out, which the ``backlog_*`` metrics make visible;
* wait = report → first handler starts work on it; response = report → first
  handler on site (wait plus travel); resolution = report → closed after the
  feedback visit;
* time averages (backlog, queue, utilisation) integrate over the window
  exactly, including matters reported before the warm-up that are still open
  in it; so does the throughput (closures in the window, whenever reported);
* whether a matter waited at all is known at the horizon even if its wait is
  not: a matter nobody has started on by then has waited;
* a matter is overdue when it is closed after its deadline, or still open at
  the horizon with its deadline passed.
"""

from __future__ import annotations

import numpy as np

from .records import Records

METRICS: tuple[str, ...] = (
    "events_arrived",
    "events_closed",
    "backlog_end",
    "backlog_mean",
    "backlog_max",
    "queue_mean",
    "department_backlog_mean",
    "throughput_per_day",
    "wait_h_mean",
    "wait_h_p90",
    "waited_rate",
    "response_h_mean",
    "response_h_p90",
    "urgent_response_h_mean",
    "urgent_response_h_p90",
    "resolution_h_mean",
    "resolution_h_p50",
    "resolution_h_p90",
    "resolution_h_p95",
    "overdue_rate",
    "escalation_rate",
    "in_grid_rate",
    "supervised_rate",
    "worker_utilization",
    "department_utilization",
    "enforcement_utilization",
    "workers",
    "satisfaction_rate",
    "replacements",
    "petition_rate",
    "discovered_share",
    "worker_duty_share",
)
"""Every scalar metric computed for a replication, in report order."""

HOURLY_PREFIX = "response_h_mean_hour_"
"""Per-hour-of-day response profile: ``response_h_mean_hour_00`` ... ``_23``
(mean response of matters reported in that hour of the day)."""
HOURLY_METRICS: tuple[str, ...] = tuple(f"{HOURLY_PREFIX}{h:02d}" for h in range(24))


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def _pcts(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Several percentiles of one sample: one partition instead of one per
    percentile (each value is the one ``_pct`` gives: same indices, same
    interpolation)."""
    return [float(v) for v in np.percentile(x, qs)] if x.size else [float("nan")] * len(qs)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def in_window(rec: Records) -> np.ndarray:
    """Mask of matters reported inside the measurement window."""
    return times_in_window(rec.t_report, rec)


def times_in_window(times: np.ndarray, rec: Records) -> np.ndarray:
    """Which of ``times`` fall in the measurement window [warm-up, horizon)."""
    return (times >= rec.warmup_h) & (times < rec.horizon_h)


def time_in_window(start: np.ndarray, end: np.ndarray, w: float, h: float) -> np.ndarray:
    """Overlap of each interval [start, end) with [w, h); NaN ends mean 'still open'."""
    # fmin takes h where the end is NaN: min(NaN -> h, h) in one pass.
    x = np.fmin(end, h) - np.maximum(start, w)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return np.clip(x, 0.0, None, out=x)  # in place: x is ours
    return np.clip(x, 0.0, None)  # scalars, integers


def time_average_count(start: np.ndarray, end: np.ndarray, w: float, h: float) -> float:
    """Time-average number of intervals open over [w, h)."""
    ok = ~np.isnan(start)
    return window_average(start[ok], end[ok], w, h)


def window_average(start: np.ndarray, end: np.ndarray, w: float, h: float) -> float:
    """``time_average_count`` of intervals that all started (no NaN start)."""
    if h <= w:
        return float("nan")
    return float(time_in_window(start, end, w, h).sum() / (h - w))


def count_path(start: np.ndarray, end: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Number of intervals open at each of ``times`` (start <= t < end)."""
    s = np.sort(start[~np.isnan(start)])
    e = np.sort(end[~np.isnan(end)])
    return np.searchsorted(s, times, side="right") - np.searchsorted(e, times, side="right")


def max_count(start: np.ndarray, end: np.ndarray, w: float, h: float) -> float:
    """Largest number of intervals open at once during [w, h)."""
    s = start[~np.isnan(start)]
    inside = s[(s >= w) & (s < h)]
    candidates = np.concatenate([[w], inside])
    if candidates.size == 0:
        return 0.0
    return float(count_path(start, end, candidates).max())


def overdue(rec: Records) -> np.ndarray:
    """Mask of overdue matters (closed late, or open at the horizon past the deadline)."""
    closed = ~np.isnan(rec.t_closed)
    late = closed & (rec.t_closed > rec.t_deadline)
    return late | (~closed & (rec.horizon_h > rec.t_deadline))


def department_stage(rec: Records) -> np.ndarray:
    """Mask of matters that entered a department queue (petitions excluded:
    they are at the petitions office, which ``t_res_in`` then refers to)."""
    return ((rec.complexity == 1) | rec.escalated) & ~np.isnan(rec.t_res_in) & np.isnan(rec.t_petition)


def utilization(rec: Records, kind: str) -> float:
    """Busy share of the servers of one kind over the window."""
    sel = np.asarray([k == kind for k in rec.pool_kind], dtype=bool)
    capacity = rec.pool_servers[sel].sum() * (rec.horizon_h - rec.warmup_h)
    return _ratio(rec.pool_busy_h[sel].sum(), capacity)


def compute(rec: Records) -> dict[str, float]:
    """All ``METRICS`` for one replication."""
    w, h = rec.warmup_h, rec.horizon_h
    win = in_window(rec)
    arrived = int(win.sum())
    closed = win & ~np.isnan(rec.t_closed)
    n_closed = int(closed.sum())
    t0 = rec.t_report
    wait = (rec.t_start - t0)[win & ~np.isnan(rec.t_start)]
    response = (rec.t_onsite - t0)[win & ~np.isnan(rec.t_onsite)]
    urgent = win & (rec.complexity == 2) & ~np.isnan(rec.t_handle_onsite)
    urgent_resp = (rec.t_handle_onsite - t0)[urgent]
    resolution = (rec.t_closed - t0)[closed]
    dept = department_stage(rec)
    dept_end = rec.t_handled[dept]
    res_p50, res_p90, res_p95 = _pcts(resolution, (50, 90, 95))
    return {
        "events_arrived": float(arrived),
        "events_closed": float(n_closed),
        "backlog_end": float(np.isnan(rec.t_closed).sum()),
        "backlog_mean": time_average_count(t0, rec.t_closed, w, h),
        "backlog_max": max_count(t0, rec.t_closed, w, h),
        "queue_mean": window_average(t0, rec.t_start, w, h),
        "department_backlog_mean": time_average_count(rec.t_res_in[dept], dept_end, w, h),
        "throughput_per_day": _ratio(((rec.t_closed >= w) & (rec.t_closed < h)).sum(), (h - w) / 24.0),
        "wait_h_mean": _mean(wait),
        "wait_h_p90": _pct(wait, 90),
        # NaN > t is False: a matter not started by the horizon is counted by isnan
        "waited_rate": _ratio((win & ((rec.t_start > t0) | np.isnan(rec.t_start))).sum(), arrived),
        "response_h_mean": _mean(response),
        "response_h_p90": _pct(response, 90),
        "urgent_response_h_mean": _mean(urgent_resp),
        "urgent_response_h_p90": _pct(urgent_resp, 90),
        "resolution_h_mean": _mean(resolution),
        "resolution_h_p50": res_p50,
        "resolution_h_p90": res_p90,
        "resolution_h_p95": res_p95,
        "overdue_rate": _ratio((overdue(rec) & win).sum(), arrived),
        "escalation_rate": _ratio((rec.escalated & win).sum(), arrived),
        "in_grid_rate": _ratio((closed & (rec.resolver == 0)).sum(), n_closed),
        "supervised_rate": _ratio((rec.supervised & win).sum(), arrived),
        "worker_utilization": utilization(rec, "worker"),
        "department_utilization": utilization(rec, "department"),
        "enforcement_utilization": utilization(rec, "enforcement"),
        "workers": float(sum(n for k, n in zip(rec.pool_kind, rec.pool_servers) if k == "worker")),
        "satisfaction_rate": _ratio((rec.satisfied[closed] == 1).sum(), n_closed),
        "replacements": float(times_in_window(rec.replacement_times, rec).sum()),
        "petition_rate": _ratio((win & ~np.isnan(rec.t_petition)).sum(), arrived),
        "discovered_share": _ratio((win & rec.discovered).sum(), arrived),
        "worker_duty_share": duty_share(rec),
        **hourly_response(rec, win),
    }


def duty_share(rec: Records) -> float:
    """Share of the grid workers' window spent on routine duties."""
    sel = np.asarray([k == "worker" for k in rec.pool_kind], dtype=bool)
    return _ratio(rec.pool_duty_h[sel].sum(), rec.pool_servers[sel].sum() * (rec.horizon_h - rec.warmup_h))


def hourly_response(rec: Records, win: np.ndarray) -> dict[str, float]:
    """Mean response by hour of the day of the report (time 0 is midnight)."""
    ok = win & ~np.isnan(rec.t_onsite)
    hour = (np.floor(rec.t_report[ok]) % 24).astype(np.int64)
    resp = (rec.t_onsite - rec.t_report)[ok]
    tot = np.bincount(hour, weights=resp, minlength=24)
    cnt = np.bincount(hour, minlength=24)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return {name: float(v) for name, v in zip(HOURLY_METRICS, means)}


def backlog_series(rec: Records, step_h: float) -> dict[str, np.ndarray]:
    """Backlog sampled every ``step_h`` hours from 0 to the horizon."""
    times = np.arange(0.0, rec.horizon_h + 1e-9, step_h)
    dept = department_stage(rec)
    return {
        "time_h": times,
        "backlog": count_path(rec.t_report, rec.t_closed, times),
        "department_backlog": count_path(rec.t_res_in[dept], rec.t_handled[dept], times),
    }


def grid_table(rec: Records, grid_population: np.ndarray, workers_per_grid: np.ndarray) -> dict[str, np.ndarray]:
    """One row per grid: load, outcomes and worker time."""
    n = grid_population.size
    win = in_window(rec)
    closed = win & ~np.isnan(rec.t_closed)
    g = rec.grid

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(g[mask], minlength=n).astype(float)

    def mean_of(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        tot = np.bincount(g[mask], weights=values[mask], minlength=n)
        cnt = count(mask)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)

    arrived = count(win)
    window = rec.horizon_h - rec.warmup_h
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "grid": np.arange(n),
            "population": grid_population.astype(float),
            "events_arrived": arrived,
            "events_closed": count(closed),
            "backlog_end": count(np.isnan(rec.t_closed)),
            "response_h_mean": mean_of(rec.t_onsite - rec.t_report, win & ~np.isnan(rec.t_onsite)),
            "resolution_h_mean": mean_of(rec.t_closed - rec.t_report, closed),
            "overdue_rate": np.where(arrived > 0, count(overdue(rec) & win) / np.maximum(arrived, 1), np.nan),
            "in_grid_rate": np.where(count(closed) > 0, count(closed & (rec.resolver == 0)) / np.maximum(count(closed), 1), np.nan),
            "satisfaction_rate": np.where(count(closed) > 0, count(closed & (rec.satisfied == 1)) / np.maximum(count(closed), 1), np.nan),
            "petitions": count(win & ~np.isnan(rec.t_petition)),
            "replacements": np.bincount(rec.replacement_grids[times_in_window(rec.replacement_times, rec)],
                                        minlength=n).astype(float),
            "worker_hours": rec.grid_work_h,
            "worker_load": rec.grid_work_h / (workers_per_grid * window),
        }
