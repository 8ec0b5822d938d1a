"""A study: the question a sweep answers, and how its answer is shown.

An experiment config (``configs/experiment/NAME.yaml``) sweeps some config
keys and carries a ``study:`` block saying what the sweep is for: the
question, which keys are swept (with axis labels), the baseline point the
other points are compared with, the key metrics to plot, and the assumptions
a reader must know. The report (``sim.report``) and the figures
(``sim.figures``) read it; the model never does. A sweep without a study
block (an ad-hoc ``python -m sim -m KEY=A,B``) gets a generic one.

Example::

    study:
      name: grid_size
      title: "How do service and cost change with grid size?"
      question: "If the same 67,000 residents are cut into grids of ..."
      sweep: {town.people_per_grid: "residents per grid (people)"}
      baseline: {town.people_per_grid: 1000}
      metrics: [response_h_p90, resolution_h_p90, backlog_mean]
      assumptions: ["..."]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigError
from .config_fields import or_empty
from .metrics import HOURLY_PREFIX, METRICS


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is named on an axis: a label, its unit, and which way is
    better for residents (``lower``, ``higher``, or ``""`` where neither is:
    a count of matters, staff, utilisation)."""

    label: str
    unit: str
    better: str = ""

    @property
    def title(self) -> str:
        """The label, saying which way is better where one is."""
        return f"{self.label} ({self.better} is better)" if self.better else self.label

    @property
    def axis(self) -> str:
        return f"{self.label} ({self.unit})"

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take: every metric is at least 0, a share
        at most 1. Figures and report tables cut confidence intervals to them
        (a Student-t interval on few replications can reach past them); the
        saved tables keep the intervals as computed."""
        return (0.0, 1.0) if self.unit.startswith("share") else (0.0, math.inf)


METRIC_INFO: dict[str, MetricInfo] = {
    "events_arrived": MetricInfo("matters reported in the window", "matters"),
    "events_closed": MetricInfo("matters reported in the window, closed by the horizon", "matters"),
    "backlog_end": MetricInfo("open matters at the horizon", "matters", "lower"),
    "backlog_mean": MetricInfo("backlog, time average", "open matters", "lower"),
    "backlog_max": MetricInfo("backlog, peak", "open matters", "lower"),
    "queue_mean": MetricInfo("matters waiting for a first handler, time average", "matters", "lower"),
    "department_backlog_mean": MetricInfo("department backlog, time average", "open matters", "lower"),
    "throughput_per_day": MetricInfo("matters closed", "per day"),
    "wait_h_mean": MetricInfo("wait for first handler, mean", "hours", "lower"),
    "wait_h_p90": MetricInfo("wait for first handler, 90th percentile", "hours", "lower"),
    "waited_rate": MetricInfo("matters that waited for a first handler", "share of matters", "lower"),
    "response_h_mean": MetricInfo("response time, mean", "hours", "lower"),
    "response_h_p90": MetricInfo("response time, 90th percentile", "hours", "lower"),
    "urgent_response_h_mean": MetricInfo("urgent response (team on site), mean", "hours", "lower"),
    "urgent_response_h_p90": MetricInfo("urgent response (team on site), 90th percentile", "hours", "lower"),
    "resolution_h_mean": MetricInfo("resolution time, mean", "hours", "lower"),
    "resolution_h_p50": MetricInfo("resolution time, median", "hours", "lower"),
    "resolution_h_p90": MetricInfo("resolution time, 90th percentile", "hours", "lower"),
    "resolution_h_p95": MetricInfo("resolution time, 95th percentile", "hours", "lower"),
    "overdue_rate": MetricInfo("overdue matters", "share of matters", "lower"),
    "escalation_rate": MetricInfo("escalated matters", "share of matters"),
    "in_grid_rate": MetricInfo("closed inside the grid", "share of closed matters", "higher"),
    "supervised_rate": MetricInfo("supervised matters", "share of matters", "lower"),
    # Busy time over all hours of the window, office hours or not.
    "worker_utilization": MetricInfo("grid worker utilisation", "share of all hours (24/7) busy"),
    "department_utilization": MetricInfo("department utilisation", "share of all hours (24/7) busy"),
    "enforcement_utilization": MetricInfo("enforcement team utilisation", "share of all hours (24/7) busy"),
    # A year-long run: the count of full-time posts is the worker-years per year
    # (a post left vacant after a replacement still counts).
    "workers": MetricInfo("grid worker posts", "worker-years per year"),
    "satisfaction_rate": MetricInfo("residents satisfied", "share of closed matters", "higher"),
    "replacements": MetricInfo("grid workers replaced after failed assessments", "workers", "lower"),
    "petition_rate": MetricInfo("matters taken over the grid's head (petitions)", "share of matters", "lower"),
    "discovered_share": MetricInfo("matters found by workers on duty rounds", "share of matters"),
    "worker_duty_share": MetricInfo("grid worker time on routine duties", "share of all hours"),
}
"""Axis label and unit of every metric in ``sim.metrics.METRICS``."""


def metric_info(name: str) -> MetricInfo:
    """Label and unit of a metric, including the hour-of-day response profile."""
    if name in METRIC_INFO:
        return METRIC_INFO[name]
    if name.startswith(HOURLY_PREFIX):
        return MetricInfo(f"response time, mean, reports at {name[len(HOURLY_PREFIX):]}:00-:59", "hours", "lower")
    return MetricInfo(name.replace("_", " "), "see sim/metrics.py")

DEFAULT_METRICS: tuple[str, ...] = (
    "response_h_p90", "resolution_h_p90", "backlog_mean", "overdue_rate", "in_grid_rate", "worker_utilization",
)
"""Key metrics of a sweep whose study block does not name any."""

STUDY_KEYS = ("name", "title", "question", "sweep", "baseline", "metrics", "targets", "assumptions", "null_label",
              "figures", "transient")
FIGURES = ("metrics", "heatmap", "backlog")


@dataclass(frozen=True)
class TransientSpec:
    """A temporary disturbance (a surge) and how recovery from it is measured.

    Each point where ``key`` is not ``reference`` is compared with the point
    that has ``key`` = ``reference`` and the same other swept values: the
    excess backlog is the difference of their backlogs, day by day and
    replication by replication (common random numbers make the no-surge
    matters a subset of the surge's). The point has recovered on the first
    day after ``end_day`` from which the excess stays at or below
    ``recovered_share`` of its peak (and at least 1 matter) for ``hold_days``.

    Attributes:
        key: swept key that sets the size of the disturbance.
        reference: its value without a disturbance.
        start_day, end_day: when the disturbance lasts (days from the start).
        recovered_share: excess backlog, as a share of its peak, counted as recovered.
        hold_days: how long the excess must stay that low.
    """

    key: str
    reference: Any
    start_day: float
    end_day: float
    recovered_share: float = 0.1
    hold_days: int = 7


@dataclass(frozen=True)
class StudySpec:
    """What a sweep is for and how its results are presented.

    Attributes:
        name: short name (the experiment's file name); names the sweep folder.
        title: one line stating the question, used as the figures' title.
        question: the question in full, for the report.
        sweep: swept config keys with their axis labels (unit in brackets), in
            plot order: the first is the x axis, the second the line colour or
            the heatmap's rows.
        baseline: value of each swept key at the point the others are compared
            with (paired differences).
        metrics: key metrics, plotted and tabulated in the report.
        targets: a service target per metric (e.g. urgent matters reached
            within 2 h), drawn as a line on that metric's panel.
        assumptions: what a reader must know about the scenario besides the
            project defaults (each a sentence).
        null_label: how a swept value of ``null`` is shown (e.g. ``never``).
        figures: which figures to draw: ``metrics`` (key metrics against the
            swept key), ``heatmap`` (two swept keys), ``backlog`` (backlog over
            time per point, read from each point's ``backlog.csv``).
        transient: a surge whose recovery the report measures, or ``None``.
    """

    name: str
    title: str
    question: str
    sweep: tuple[tuple[str, str], ...]
    baseline: tuple[tuple[str, Any], ...] = ()
    metrics: tuple[str, ...] = DEFAULT_METRICS
    targets: tuple[tuple[str, float], ...] = ()
    assumptions: tuple[str, ...] = ()
    null_label: str = "null"
    figures: tuple[str, ...] = field(default=("metrics", "heatmap"))
    transient: TransientSpec | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.sweep)

    def label(self, key: str) -> str:
        return dict(self.sweep).get(key, key)


def _text(section: Mapping, key: str, default: str | None = None) -> str:
    value = section.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"study.{key}", value, "expected a non-empty string")
    return value.strip()


def _strings(section: Mapping, key: str, default: Sequence[str]) -> tuple[str, ...]:
    value = section.get(key, default)
    if value is None:
        return tuple(default)
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"study.{key}", value, "expected a list of strings")
    return tuple(value)


def parse_study(section: Mapping | None, swept: Sequence[str] = ()) -> StudySpec:
    """Validate a ``study:`` block; fill in a generic study for ad-hoc sweeps.

    Args:
        section: the ``study`` mapping of the config, or ``None``.
        swept: keys found to vary between the sweep's points; any not named
            in the study block are added after its own keys.

    Raises:
        ConfigError: a key, metric or figure that does not exist.
    """
    section = or_empty(section, {})
    if not isinstance(section, Mapping):
        raise ConfigError("study", section, f"expected a mapping of: {', '.join(STUDY_KEYS)}")
    section = dict(section)
    for key in section:
        if key not in STUDY_KEYS:
            raise ConfigError(f"study.{key}", section[key], f"unknown key; allowed keys here: {', '.join(STUDY_KEYS)}")
    sweep_in = or_empty(section.get("sweep"), {})
    if isinstance(sweep_in, Sequence) and not isinstance(sweep_in, str):
        sweep_in = {k: k for k in sweep_in}
    if not isinstance(sweep_in, Mapping):
        raise ConfigError("study.sweep", sweep_in, "expected a mapping of swept config keys to axis labels")
    sweep = [(str(k), str(v)) for k, v in sweep_in.items()]
    sweep += [(k, k) for k in swept if k not in sweep_in]
    keys = [k for k, _ in sweep]
    default_title = f"How do the key metrics change with {' and '.join(keys) or 'the swept keys'}?"
    metrics = _strings(section, "metrics", DEFAULT_METRICS)
    if not metrics:
        raise ConfigError("study.metrics", [], f"expected at least one metric of: {', '.join(METRICS)}")
    for m in metrics:
        if m not in METRICS:
            raise ConfigError("study.metrics", m, f"unknown metric; expected one of: {', '.join(METRICS)}")
    figures = _strings(section, "figures", ("metrics", "heatmap"))
    for f in figures:
        if f not in FIGURES:
            raise ConfigError("study.figures", f, f"expected one of: {', '.join(FIGURES)}")
    targets = or_empty(section.get("targets"), {})
    if not isinstance(targets, Mapping):
        raise ConfigError("study.targets", targets, "expected a mapping of metrics to target values")
    for m, v in targets.items():
        if m not in metrics:
            raise ConfigError("study.targets", m, f"not a key metric of the study; key metrics: {', '.join(metrics)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"study.targets.{m}", v, "expected a finite number")
    baseline = or_empty(section.get("baseline"), {})
    if not isinstance(baseline, Mapping):
        raise ConfigError("study.baseline", baseline, "expected a mapping of swept keys to their baseline values")
    for k, v in baseline.items():
        if k not in keys:
            raise ConfigError("study.baseline", k, f"not a swept key; swept keys: {', '.join(keys)}")
        if isinstance(v, Mapping) or (isinstance(v, (list, tuple)) and any(isinstance(x, (Mapping, list, tuple))
                                                                          for x in v)):
            raise ConfigError(f"study.baseline.{k}", v, "expected one value of the swept key (a number, a string, "
                              "true/false, null, or a list of those for a list-valued key)")
    transient = _transient(section.get("transient"), keys)
    name = _text(section, "name", "sweep")
    if any(c in name for c in "/\\") or name in (".", ".."):
        raise ConfigError("study.name", name, "expected a folder name (no / or \\): it names the sweep's folder")
    return StudySpec(
        name=name,
        title=_text(section, "title", default_title),
        question=_text(section, "question", section.get("title") or default_title),
        sweep=tuple(sweep),
        baseline=tuple((str(k), v) for k, v in baseline.items()),
        metrics=metrics,
        targets=tuple((str(m), float(v)) for m, v in targets.items()),
        assumptions=_strings(section, "assumptions", ()),
        null_label=_text(section, "null_label", "null"),
        figures=figures,
        transient=transient,
    )


def _transient(section: Any, keys: Sequence[str]) -> TransientSpec | None:
    if section is None:
        return None
    allowed = ("key", "reference", "start_day", "end_day", "recovered_share", "hold_days")
    if not isinstance(section, Mapping):
        raise ConfigError("study.transient", section, f"expected a mapping with {', '.join(allowed)}")
    for k in section:
        if k not in allowed:
            raise ConfigError(f"study.transient.{k}", section[k], f"unknown key; allowed keys here: {', '.join(allowed)}")
    key = section.get("key")
    if key not in keys:
        raise ConfigError("study.transient.key", key, f"expected a swept key: {', '.join(keys)}")
    numbers = {}
    for k, default, hi in (("start_day", None, None), ("end_day", None, None), ("recovered_share", 0.1, 1.0),
                           ("hold_days", 7, None)):
        v = section.get(k, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (
                hi is not None and v > hi):
            raise ConfigError(f"study.transient.{k}", v, "expected a finite number >= 0" + (f" and <= {hi:g}" if hi else ""))
        if k == "hold_days" and not float(v).is_integer():
            raise ConfigError(f"study.transient.{k}", v, "expected a whole number of days >= 0")
        numbers[k] = v
    if numbers["end_day"] <= numbers["start_day"]:
        raise ConfigError("study.transient.end_day", numbers["end_day"], f"must be after start_day ({numbers['start_day']:g})")
    return TransientSpec(key=str(key), reference=section.get("reference"), start_day=float(numbers["start_day"]),
                         end_day=float(numbers["end_day"]), recovered_share=float(numbers["recovered_share"]),
                         hold_days=int(numbers["hold_days"]))
