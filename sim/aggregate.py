"""Aggregation of a sweep folder: one tidy table over all points, and paired differences.

Reads only what the points saved (``summary.json``, ``failed.json``, Hydra's
``.hydra/`` record, the sweep's ``plan.json``), so it works on a finished
sweep, on one that was interrupted, and on one with failed points. Each point
has a status:

* ``finished``: ``summary.json`` is there (it is written last, atomically);
* ``failed``: the point raised; ``failed.json`` holds the error;
* ``incomplete``: the folder exists without either (running, or killed);
* ``not run``: planned, but no folder (the sweep was stopped before it).

Paired differences: every point runs replication r with the same seed stream
(common random numbers: the same matters are born at every point), so the
r-th replications of two points form a pair. The difference of a metric
between a point and the baseline is estimated from the per-replication
differences, with a Student-t interval on them; the positive correlation
between paired replications makes it much narrower than the two separate
intervals suggest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .metrics import METRICS
from .stats import t_interval
from .study import StudySpec
from .sweep import FAILED, RESUME_KEY, SUMMARY, override_key, override_value, read_plan, same_value

SUMMARY_COLUMNS = ("metric", "mean", "ci95_low", "ci95_high", "replications", "status", "unstable_replications")
"""Columns of ``sweep_summary.csv`` after ``point`` and the swept keys. ``unstable_replications``
counts replications whose backlog was still rising at their end (``sim.stability``:
overloaded, or too near capacity to settle): their means depend on the horizon and
understate the backlog."""
NOT_SCENARIO = ("study", "progress", "output", "jobs", RESUME_KEY)
"""Top-level keys that do not change the simulated scenario (``jobs`` changes
where it runs, never its results)."""
DIFF_COLUMNS = ("metric", "baseline_point", "baseline_mean", "mean", "diff_mean", "diff_ci95_low",
                "diff_ci95_high", "pairs")
"""Columns of ``paired_differences.csv`` after ``point`` and the swept keys."""


@dataclass(frozen=True)
class Point:
    """What one point of a sweep left behind.

    Attributes:
        num: job number (the point's folder name).
        folder: the point's folder.
        status: ``finished``, ``failed``, ``incomplete`` or ``not run``.
        overrides: the point's Hydra overrides.
        config: its resolved config (empty if unknown).
        metrics: ``summary.json``'s metrics (finished points only).
        manifest: ``summary.json``'s manifest (finished points only).
        stability: ``summary.json``'s stability verdicts (finished points only).
        error: the error of a failed point.
    """

    num: int
    folder: Path
    status: str
    overrides: tuple[str, ...]
    config: dict[str, Any]
    metrics: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    stability: dict[str, Any] | None = None
    error: str | None = None

    @property
    def unstable(self) -> int | None:
        """Replications whose backlog was still rising at their end (``None``: not assessed)."""
        if not self.stability or "unstable_replications" not in self.stability:
            return None
        return len(self.stability["unstable_replications"])

    def per_replication(self, metric: str) -> list[float]:
        """The metric's value in each replication (NaN where not observed)."""
        if not self.metrics or metric not in self.metrics:
            return []
        return [math.nan if v is None else float(v) for v in self.metrics[metric]["per_replication"]]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def saved_overrides(folder: Path) -> list[str] | None:
    """The overrides Hydra recorded for a point (``.hydra/overrides.yaml``)."""
    path = folder / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    return [str(o) for o in (yaml.safe_load(path.read_text(encoding="utf-8")) or [])]


def _hydra_config(folder: Path) -> dict[str, Any]:
    """The config Hydra recorded for a point, resolved if possible (empty if none)."""
    from omegaconf import OmegaConf  # the record is OmegaConf YAML (may hold interpolations)

    path = folder / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    loaded = OmegaConf.load(path)
    try:
        return OmegaConf.to_container(loaded, resolve=True)  # type: ignore[return-value]
    except Exception:  # noqa: BLE001 - an unresolvable record is still worth showing
        return OmegaConf.to_container(loaded, resolve=False)  # type: ignore[return-value]


def load_point(folder: Path, num: int, planned: Sequence[str] | None = None) -> Point:
    """Read one point folder (which may not exist)."""
    overrides = saved_overrides(folder)
    overrides = overrides if overrides is not None else list(planned or [])
    summary = _read_json(folder / SUMMARY)
    if summary is not None:
        return Point(num, folder, "finished", tuple(overrides), summary.get("config") or _hydra_config(folder),
                     summary.get("metrics"), summary.get("manifest"), summary.get("stability"))
    failed = _read_json(folder / FAILED)
    if failed is not None:
        return Point(num, folder, "failed", tuple(overrides), failed.get("config") or _hydra_config(folder),
                     error=f"{failed.get('type', 'Error')}: {failed.get('error', '')}")
    return Point(num, folder, "incomplete" if folder.is_dir() else "not run", tuple(overrides), _hydra_config(folder))


def load_points(sweep_dir: str | Path) -> list[Point]:
    """Every point of a sweep: the planned ones, else every numbered folder."""
    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir) or {}
    planned = plan.get("points")
    if planned is not None:
        return [load_point(sweep_dir / str(i), i, p) for i, p in enumerate(planned)]
    nums = sorted(int(d.name) for d in sweep_dir.iterdir() if d.is_dir() and d.name.isdigit())
    return [load_point(sweep_dir / str(i), i) for i in nums]


def swept_keys(points: Sequence[Point], plan_swept: Sequence[str] = ()) -> list[str]:
    """Keys swept by the plan, then any other scenario key whose override differs between points.

    A seed, or a key that does not change the scenario (``jobs``), set
    differently on some points is no axis to plot against unless the plan
    sweeps it (the report says when seeds differ).
    """
    keys = [k for k in plan_swept if k != RESUME_KEY]
    values: dict[str, set[str]] = {}
    for p in points:
        for o in p.overrides:
            values.setdefault(override_key(o), set()).add(o.split("=", 1)[1] if "=" in o else "")
    for p in points:  # a key missing from some points' overrides also differs
        for k in values:
            if not any(override_key(o) == k for o in p.overrides):
                values[k].add("<default>")
    keys += [k for k, v in values.items()
             if len(v) > 1 and k not in keys and k != "seed" and k.split(".")[0] not in NOT_SCENARIO]
    return keys


def lookup(config: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """Whether a dotted key is in a config, and its value there (None if not)."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def value_of(point: Point, key: str) -> Any:
    """A point's value of a swept key: from its resolved config, else its override."""
    found, value = lookup(point.config, key)
    if found and not isinstance(value, (Mapping, list)):
        return value
    for o in point.overrides:
        if override_key(o) == key and "=" in o:
            return override_value(o)
    return value if found else None


def baseline_point(points: Sequence[Point], study: StudySpec) -> Point | None:
    """The point matching the study's baseline values (the first point if none are given)."""
    if not points:
        return None
    if not study.baseline:
        return points[0]
    for p in points:
        if all(same_value(value_of(p, k), v) for k, v in study.baseline):
            return p
    return None


def metric_names(points: Sequence[Point]) -> list[str]:
    """Every metric of the sweep: ``sim.metrics.METRICS`` first, then any other a point saved."""
    names = list(METRICS)
    for p in points:
        names += [m for m in (p.metrics or {}) if m not in names]
    return names


def summary_table(points: Sequence[Point], keys: Sequence[str]) -> pd.DataFrame:
    """``sweep_summary.csv``: one row per point and metric (NaN for points without results)."""
    rows = []
    names = metric_names(points)
    for p in points:
        params = {k: value_of(p, k) for k in keys}
        for metric in names:
            row: dict[str, Any] = {"point": p.num, **params, "metric": metric}
            if p.metrics and metric in p.metrics:
                s = p.metrics[metric]
                row.update(mean=s["mean"], ci95_low=s["ci95_low"], ci95_high=s["ci95_high"],
                           replications=int(np.isfinite(p.per_replication(metric)).sum()))
            else:
                row.update(mean=math.nan, ci95_low=math.nan, ci95_high=math.nan, replications=0)
            row["status"] = p.status
            row["unstable_replications"] = p.unstable
            rows.append(row)
    columns = ["point", *keys, *SUMMARY_COLUMNS]
    return pd.DataFrame(rows, columns=columns).astype({"mean": float, "ci95_low": float, "ci95_high": float,
                                                       "unstable_replications": "Int64"})


def seed_of(point: Point) -> Any:
    """The seed a point ran with: its manifest's, else its config's."""
    return (point.manifest or {}).get("seed", point.config.get("seed"))


def one_seed(points: Sequence[Point]) -> bool:
    """Whether every finished point ran with the same seed (common random numbers)."""
    return len({seed_of(p) for p in points if p.status == "finished"}) <= 1


def same_resident_reports(points: Sequence[Point]) -> bool | None:
    """Whether every finished point saw the same resident reports, replication
    by replication (``sim.records.resident_digest``); ``None`` when a point's
    results predate the fingerprints (or there are no finished points)."""
    digests = [(p.manifest or {}).get("resident_reports_digest") for p in points if p.status == "finished"]
    if not digests or any(not isinstance(d, list) for d in digests):
        return None
    n = min(len(d) for d in digests)
    return all(d[:n] == digests[0][:n] for d in digests)


def pairing_problem(point: Point, base: Point) -> str | None:
    """Why two finished points cannot be paired replication by replication, or ``None``."""
    seeds = [seed_of(p) for p in (point, base)]
    if seeds[0] != seeds[1]:
        return f"different seeds ({seeds[0]} vs {seeds[1]})"
    return None


def paired_differences(points: Sequence[Point], keys: Sequence[str], base: Point | None) -> pd.DataFrame:
    """``paired_differences.csv``: each finished point minus the baseline, per metric.

    Replication r of a point is paired with replication r of the baseline;
    pairs where either value is not observed (NaN) are left out.
    """
    rows = []
    if base is not None and base.status == "finished":
        for p in points:
            if p.status != "finished" or p.num == base.num or pairing_problem(p, base):
                continue
            params = {k: value_of(p, k) for k in keys}
            for metric in metric_names([p, base]):
                a, b = np.asarray(p.per_replication(metric)), np.asarray(base.per_replication(metric))
                n = min(a.size, b.size)
                d = a[:n] - b[:n]
                d = d[np.isfinite(d)]
                mean, lo, hi = t_interval(d.tolist())
                rows.append({"point": p.num, **params, "metric": metric, "baseline_point": base.num,
                             "baseline_mean": (base.metrics or {}).get(metric, {}).get("mean", math.nan),
                             "mean": (p.metrics or {}).get(metric, {}).get("mean", math.nan),
                             "diff_mean": mean, "diff_ci95_low": lo, "diff_ci95_high": hi, "pairs": int(d.size)})
    columns = ["point", *keys, *DIFF_COLUMNS]
    return pd.DataFrame(rows, columns=columns)
