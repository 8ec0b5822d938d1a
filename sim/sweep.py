"""A sweep: the points of one study, each run as a separate job.

``python -m sim -m experiment=NAME`` lets Hydra's sweeper expand the
experiment's swept keys into points and its launcher run them in parallel;
each point is one ordinary run (every replication, same seed at every point,
so the points share common random numbers) written to its own numbered
folder under the sweep folder::

    SWEEP/plan.json              the planned points and the command (written first)
    SWEEP/.gridgov-sweep.lock    locked while a sweep runs in the folder (a second one is refused)
    SWEEP/multirun.yaml          Hydra's record of the sweep
    SWEEP/<n>/summary.json       a finished point (written last, atomically)
    SWEEP/<n>/failed.json        a point that raised: the error, instead of results
    SWEEP/<n>/.hydra/            Hydra's record of the point's config and overrides
    SWEEP/sweep_summary.csv ...  the aggregation (``sim.report``)

This module is the job side, in plain Python (the Hydra glue is in
``sim.__main__`` and ``sim.callbacks``): it runs one point, records a failure
instead of raising (Hydra skips ``on_multirun_end`` when a job raised, which
would lose the summary of every other point), prints progress with an
estimate of the time left, and on resume skips a point that already finished
with the same resolved config.
"""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .config import build_job
from .output import write_json
from .share import board_dir

log = logging.getLogger("gridgov.sweep")

PLAN = "plan.json"
SUMMARY = "summary.json"
FAILED = "failed.json"
LOCK = ".gridgov-sweep.lock"
RESUME_KEY = "resume"
"""Top-level config key naming a sweep folder to resume (``+resume=PATH``);
it steers Hydra's sweep folder and is not part of the scenario."""


def sweep_control(config: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Split the sweep-control key off a composed config.

    Returns:
        the config without ``resume`` (what is validated, run and saved) and
        the resume path, or ``None``.
    """
    config = dict(config)
    resume = config.pop(RESUME_KEY, None)
    return config, None if resume is None else str(resume)


def override_key(override: str) -> str:
    """The config key an override string sets (``+a.b=1`` → ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


def override_value(override: str) -> Any:
    """The value an override string sets, read as YAML (``a=24`` → 24), else its text."""
    text = override.split("=", 1)[1] if "=" in override else ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def same_value(a: Any, b: Any) -> bool:
    """Equality of swept values, 24 == 24.0 and null == NaN; lists item by item."""
    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):  # a list-valued key (day_of_week)
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12)
    return str(a) == str(b)


def baseline_matches(points: Sequence[Mapping[str, Any]], baseline: Sequence[tuple[str, Any]],
                     axes: Sequence[str]) -> tuple[list[int], list[str]]:
    """The points (swept values by key) a baseline matches, and the ``axes``
    (the study's own swept keys) whose values differ among those matches:
    with any, the baseline is ambiguous (it names too few keys) and paired
    differences would be taken against whichever matching point comes first.
    A key swept besides the axes takes its first value at the baseline."""
    matches = [i for i, values in enumerate(points)
               if all(k in values and same_value(values[k], v) for k, v in baseline)]
    differ = [k for k in axes if any(not same_value(points[i].get(k), points[matches[0]].get(k)) for i in matches)]
    return matches, differ


# -- the plan -------------------------------------------------------------------
def write_plan(sweep_dir: str | Path, points: Sequence[Sequence[str]] | None, swept: Sequence[str],
               argv: Sequence[str], study: str | None, default_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Record the planned points before any runs; keep earlier sessions' commands.

    Args:
        sweep_dir: the sweep folder.
        points: the overrides of every point in job order, or ``None`` if the
            sweeper cannot say in advance.
        swept: keys that take more than one value.
        argv: the command line of this session.
        study: the study's name.
        default_config: the project's default config, which the report
            compares the study's scenario with.
    """
    path = Path(sweep_dir) / PLAN
    old = read_plan(sweep_dir) or {}
    session = {"argv": list(argv), "started": time.time(),
               "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    plan = {
        "study": study,
        "points": None if points is None else [list(p) for p in points],
        "total": None if points is None else len(points),
        "swept": list(swept),
        "sessions": [*old.get("sessions", []), session],
        "default_config": default_config if default_config is not None else old.get("default_config"),
    }
    write_json(path, plan)
    return plan


def read_plan(sweep_dir: str | Path) -> dict[str, Any] | None:
    """The plan of a sweep folder, or ``None`` if there is none."""
    path = Path(sweep_dir) / PLAN
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# -- one point ------------------------------------------------------------------
def _normalised(config: Mapping[str, Any]) -> Any:
    # What summary.json holds after a JSON round trip (tuples become lists).
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def finished_with(point_dir: Path, config: Mapping[str, Any]) -> bool:
    """Whether the point folder holds a finished run of exactly this resolved config."""
    path = point_dir / SUMMARY
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            saved = json.load(fh).get("config")
    except (OSError, ValueError):
        return False
    return saved == _normalised(config)


def describe(overrides: Sequence[str], swept: Sequence[str]) -> str:
    """The swept part of a point's overrides, e.g. ``town.people_per_grid=500``."""
    parts = [o for o in overrides if override_key(o) in set(swept)]
    return " ".join(parts) if parts else " ".join(o for o in overrides if override_key(o) != RESUME_KEY)


class Progress:
    """Progress lines of one point, with the sweep's count and time left.

    The time left is (time since this session started / points finished in
    this session) × points still to finish: with n parallel jobs it already
    accounts for the parallelism.
    """

    REPLICATION_LINE_S = 30.0
    """Least time between two replication lines of one point."""

    def __init__(self, sweep_dir: Path, num: int, overrides: Sequence[str]) -> None:
        self.sweep_dir = sweep_dir
        plan = read_plan(sweep_dir) or {}
        self.total: int | None = plan.get("total")
        sessions = plan.get("sessions") or [{}]
        self.session_start: float = sessions[-1].get("started", time.time())
        # "[3/6] point 2": the count for people, the folder name for finding it.
        self.name = (f"[{num + 1}/{self.total}] " if self.total else "") + f"point {num}"
        self.what = describe(overrides, plan.get("swept", []))
        self._last_line = time.monotonic()

    def _counts(self) -> tuple[int, int]:
        done_all = done_now = 0
        for d in self.sweep_dir.iterdir():
            if not d.is_dir():
                continue
            for name in (SUMMARY, FAILED):
                f = d / name
                if f.is_file():
                    done_all += 1
                    done_now += f.stat().st_mtime >= self.session_start
                    break
        return done_all, done_now

    def eta(self) -> str:
        done_all, done_now = self._counts()
        if not self.total:
            return f"{done_all} points done"
        text = f"{done_all}/{self.total} points done"
        left = self.total - done_all
        if left > 0 and done_now > 0:
            per_point = (time.time() - self.session_start) / done_now
            text += f", about {_duration(per_point * left)} left"
        return text

    def info(self, message: str) -> None:
        log.info(f"{self.name} [{self.what}] {message}")

    def replication_done(self, replication: int, total: int) -> None:
        """A line per finished replication, but only for points slow enough to need one."""
        now = time.monotonic()
        if now - self._last_line >= self.REPLICATION_LINE_S:
            self._last_line = now
            self.info(f"replication {replication + 1}/{total} done")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def record_failure(point_dir: Path, exc: BaseException, overrides: Sequence[str],
                   config: Mapping[str, Any] | None = None) -> None:
    """Write ``failed.json``: what went wrong at this point, in place of results."""
    write_json(point_dir / FAILED, {
        "error": str(exc),
        "type": type(exc).__name__,
        "traceback": traceback.format_exception(exc),
        "overrides": list(overrides),
        "config": dict(config) if config is not None else None,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })


def run_point(config: dict[str, Any], point_dir: str | Path, sweep_dir: str | Path, num: int,
              overrides: Sequence[str]) -> str:
    """Run one sweep point; never raise for a bad point.

    Args:
        config: the point's composed config as plain dicts (may hold ``resume``).
        point_dir: the point's folder (Hydra's job output folder).
        sweep_dir: the sweep folder (holds ``plan.json``).
        num: the point's job number.
        overrides: the point's overrides, for the record and progress lines.

    Returns:
        ``finished``, ``skipped`` (resume: already finished with the same
        config) or ``failed`` (the error is in ``failed.json``).
    """
    point_dir, sweep_dir = Path(point_dir), Path(sweep_dir)
    config, resume = sweep_control(config)
    progress = Progress(sweep_dir, num, overrides)
    if resume is not None and finished_with(point_dir, config):
        progress.info("already finished with the same config: skipped")
        return "skipped"
    # A fresh run of this point: earlier results here are for another config
    # or another code version, and must not be mistaken for this run's.
    for name in (FAILED, SUMMARY):
        (point_dir / name).unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        from .runner import run  # the simulation's imports (scipy, the model) only where points run

        scenario, options = build_job(config)
        reps = scenario.run.replications
        progress.info(f"started: {reps} replication{'s' if reps != 1 else ''} of {scenario.run.horizon_days:g} days")
        run(scenario, point_dir, config, options, on_replication=lambda r, _: progress.replication_done(r, reps),
            share=board_dir(sweep_dir, num))
    except Exception as exc:  # noqa: BLE001 - any failure of one point is recorded, not raised
        record_failure(point_dir, exc, overrides, config)
        log.error(f"{progress.name} [{progress.what}] FAILED: {exc}; {progress.eta()}")
        return "failed"
    progress.info(f"finished in {_duration(time.perf_counter() - t0)}; {progress.eta()}")
    return "finished"
