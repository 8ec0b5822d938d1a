"""Run all replications of a scenario and write the run folder.

This is the non-Hydra core of ``python -m sim``: it takes a validated
``Scenario`` and the resolved config (for the record), runs the replications,
and writes ``summary.json``, ``events.csv``, ``grids.csv``, ``backlog.csv`` and
``backlog.png``. Every file is written atomically; ``summary.json`` is written
last, so its presence means the run finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import invariants, metrics, stability
from .parallel import replications
from .output import (OutputOptions, atomic_open, code_version, config_digest, file_digests, manifest,
                     remove_stale_temps, write_columns_csv, write_json)
from .records import ROUTES, Records, resident_digest
from .scenario import COMPLEXITIES, Scenario
from .stats import summarise
from .town import build_layout

log = logging.getLogger("gridgov.run")


@dataclass(frozen=True)
class RunResult:
    """Metrics of every replication and their summary."""

    per_replication: dict[str, list[float]]
    summary: dict[str, dict]
    wall_seconds: float
    stability: dict[str, Any]

    @property
    def unstable(self) -> bool:
        """True when any replication's backlog was still rising at its end (see ``sim.stability``)."""
        return bool(self.stability["unstable_replications"])


EVENT_CHUNK_ROWS = 200_000
"""Rows per chunk when streaming the per-matter table (bounds memory at city scale)."""


def events_table(rec: Records, scenario: Scenario, unit_names: tuple[str, ...], replication: int,
                 rows: slice = slice(None), route: np.ndarray | None = None,
                 overdue: np.ndarray | None = None):
    """One row per matter (of the given slice), with names instead of codes,
    as a ``pyarrow.Table`` built straight from the record columns (names are
    looked up in C++: no Python object per row).

    ``route`` and ``overdue`` are whole-replication columns; pass them when
    writing many slices so they are derived once, not once per slice.
    """
    import pyarrow as pa

    route = rec.route if route is None else route
    overdue = metrics.overdue(rec) if overdue is None else overdue
    idx = np.arange(len(rec))[rows]

    def named(names, codes: np.ndarray):
        return pa.array(list(names), pa.string()).take(pa.array(codes))

    cols = {
        "replication": pa.array(np.full(idx.size, replication, dtype=np.int64)),
        "matter": pa.array(idx),
        "grid": pa.array(rec.grid[rows]),
        "unit": named(unit_names, rec.unit[rows]),
        "category": named((c for c, _ in scenario.arrivals.categories), rec.category[rows]),
        "complexity": named(COMPLEXITIES, rec.complexity[rows]),
        "route": named(ROUTES, route[rows]),
        "discovered": pa.array(rec.discovered[rows]),
    }
    for name, col in rec.times.items():
        cols[name] = pa.array(col[rows], from_pandas=True)  # NaN (not reached) becomes null
    cols["escalated"] = pa.array(rec.escalated[rows])
    cols["supervised"] = pa.array(rec.supervised[rows])
    cols["overdue"] = pa.array(overdue[rows])
    cols["satisfied"] = pa.array(rec.satisfied[rows])
    return pa.table(cols)


class ParquetEvents:
    """Writes event chunks as row groups of one Parquet file.

    Parquet keeps full float precision and is several times faster to write
    and read than CSV at city scale.
    """

    def __init__(self, fh) -> None:
        import pyarrow.parquet as pq

        self._pq, self._fh = pq, fh
        self._writer = None
        self._empty = None

    def write_table(self, table) -> None:
        if not table.num_rows:  # no rows: keep only to give an empty file its columns
            self._empty = self._empty or table
            return
        if self._writer is None:
            self._writer = self._open(table.schema)
        self._writer.write_table(table.cast(self._writer.schema))

    def _open(self, schema):
        import pyarrow as pa

        # Dictionary-encode the name columns only: trying it on every float
        # column (the default) doubles the write time for nothing.
        names = [f.name for f in schema if pa.types.is_string(f.type)]
        return self._pq.ParquetWriter(self._fh, schema, use_dictionary=names)

    def close(self) -> None:
        if self._writer is None and self._empty is not None:
            self._writer = self._open(self._empty.schema)
        if self._writer is not None:
            self._writer.close()


class CsvEvents:
    """Writes event chunks to one CSV file (opened in binary mode).

    pyarrow's CSV writer formats numbers in C++, about ten times faster than
    pandas' ``to_csv``. Times are rounded to 6 decimals (below a millisecond)
    and written in their shortest form; missing times are empty; flags are
    ``true``/``false``. The header is written with the first chunk only.
    """

    def __init__(self, fh) -> None:
        import pyarrow.compute as pc
        import pyarrow.csv as csv

        self._pc, self._csv, self._fh = pc, csv, fh
        self._header = True

    def write_table(self, table) -> None:
        import pyarrow as pa

        for i, field in enumerate(table.schema):
            if pa.types.is_floating(field.type):
                table = table.set_column(i, field.name, self._pc.round(table.column(i), 6))
        options = self._csv.WriteOptions(include_header=self._header, quoting_style="needed")
        self._csv.write_csv(table, self._fh, options)
        self._header = False

    def close(self) -> None:
        pass


EVENT_WRITERS = {"csv": CsvEvents, "parquet": ParquetEvents}
"""Event table writers by ``output.events_format``; the file is ``events.<format>``."""

AUTO_PARQUET_ROWS = 1_000_000
"""``events_format=auto`` writes Parquet when a run expects more rows than this
(a city-year of 3,000 grids is 1.8 million rows: 270 MB of CSV that takes
three times as long to write as Parquet), CSV otherwise."""


def events_format_for(requested: str, scenario: Scenario) -> str:
    """The event table format of a run: ``requested``, or for ``auto`` CSV up to
    ``AUTO_PARQUET_ROWS`` expected matters (residents' reports over all
    replications), Parquet above."""
    if requested != "auto":
        return requested
    expected = (scenario.town.population / 1000.0 * scenario.arrivals.per_1000_people_day
                * scenario.run.horizon_days * scenario.run.replications)
    return "parquet" if expected > AUTO_PARQUET_ROWS else "csv"


def write_events(sink: CsvEvents | ParquetEvents, rec: Records, scenario: Scenario, unit_names: tuple[str, ...],
                 replication: int, chunk_rows: int = EVENT_CHUNK_ROWS) -> None:
    """Append a replication's matters to an event writer, ``chunk_rows`` at a
    time, so memory does not grow with the number of matters."""
    n = len(rec)
    route, overdue = rec.route, metrics.overdue(rec)
    for lo in range(0, max(n, 1), chunk_rows):
        sink.write_table(events_table(rec, scenario, unit_names, replication, slice(lo, min(lo + chunk_rows, n)),
                                      route, overdue))


class Progress:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, enabled: bool, replications: int, horizon_days: float) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.replications = replications
        self.horizon_days = horizon_days
        self.t0 = time.perf_counter()
        self.rep = 0
        self.rep_t0 = self.t0

    def start_replication(self, r: int) -> None:
        self.rep = r
        self.rep_t0 = time.perf_counter()

    def update(self, now_h: float, matters: int, part: tuple[int, int] | None = None) -> None:
        """Called by the model every simulated week (``part``: town and towns of a city)."""
        if not self.enabled:
            return
        wall = time.perf_counter() - self.rep_t0
        town, towns = part if part is not None else (0, 1)
        done = (self.rep + (town + now_h / 24.0 / self.horizon_days) / towns) / self.replications
        total_wall = time.perf_counter() - self.t0
        left = total_wall / done - total_wall if done > 0 else float("nan")
        rate = matters / wall if wall > 0 else 0.0
        where = f"town {town + 1}/{towns}, " if part is not None else ""
        print(f"\rreplication {self.rep + 1}/{self.replications}: {where}day {now_h / 24.0:,.0f} of "
              f"{self.horizon_days:,.0f}, {rate:,.0f} matters/s, about {left:,.0f} s left   ",
              end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(f"\r{self.replications} replications done in {time.perf_counter() - self.t0:.1f} s"
                  + " " * 40, file=sys.stderr, flush=True)


def run(
    scenario: Scenario,
    out_dir: str | os.PathLike | None = None,
    resolved_config: dict[str, Any] | None = None,
    options: OutputOptions = OutputOptions(),
    on_replication: Callable[[int, Records], None] | None = None,
    share: Path | None = None,
) -> RunResult:
    """Run every replication; write the run folder if ``out_dir`` is given
    (``share``: a sweep point's board, see ``sim.share``)."""
    t0 = time.perf_counter()
    if out_dir is not None:
        code_version()  # the code that runs, read before it does (see there)
    layout = build_layout(scenario.town)
    out = Path(out_dir) if out_dir is not None else None
    per_rep: dict[str, list[float]] = {name: [] for name in (*metrics.METRICS, *metrics.HOURLY_METRICS)}
    grid_rows, backlog_rows = [], []
    verdicts: list[dict[str, Any]] = []
    digests: list[str] = []  # replication by replication: which resident reports it saw
    progress = Progress(options.progress, scenario.run.replications, scenario.run.horizon_days)
    workers = _workers_per_grid(scenario, layout)
    events_format = None  # written: csv or parquet
    with contextlib.ExitStack() as stack:
        events_fh = None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            # summary.json is written last and marks the folder complete: one
            # from an earlier run here must not stand beside this run's files.
            (out / "summary.json").unlink(missing_ok=True)
            # Nor the hidden temporary files of an earlier run here that was
            # killed while writing (a resumed sweep point, say).
            removed = remove_stale_temps(out)
            if removed:
                log.info(f"removed {len(removed)} temporary file(s) left in {out} by an earlier run killed "
                         f"while writing: {', '.join(p.name for p in removed)}")
            if options.events:  # renamed into place only if every replication succeeds
                events_format = events_format_for(options.events_format, scenario)
                raw = stack.enter_context(atomic_open(out / f"events.{events_format}", "wb"))
                events_fh = EVENT_WRITERS[events_format](raw)
                stack.callback(events_fh.close)  # runs before atomic_open renames the file (or, on failure, deletes it)
        # Invariants are checked as each town or replication is simulated,
        # those of the metrics here, on the metrics reported (computed once):
        # a violation is a bug, raised, never warned.
        for r, rec in replications(scenario, layout, options.jobs, progress if progress.enabled else None,
                                   check_metrics=False, share=share):
            values = metrics.compute(rec)
            invariants.check_values(rec, scenario, values, replication=r)
            for name, value in values.items():
                per_rep[name].append(value)
            verdicts.append({stage: dataclasses.asdict(v) for stage, v in stability.assess(rec).items()})
            digests.append(resident_digest(rec))
            if on_replication is not None:
                on_replication(r, rec)
            if out is not None:
                g = metrics.grid_table(rec, layout.grid_population, workers)
                grid_rows.append({"replication": np.full(layout.n_grids, r), "grid": g.pop("grid"),
                                  "unit": np.asarray(layout.unit_names)[layout.grid_unit], **g})
                b = metrics.backlog_series(rec, options.backlog_step_h)
                backlog_rows.append({"replication": np.full(len(b["time_h"]), r), **b})
                if events_fh is not None:
                    write_events(events_fh, rec, scenario, layout.unit_names, r)
            del rec
    progress.close()
    wall = time.perf_counter() - t0
    unstable = [r for r, v in enumerate(verdicts) if not v["system"]["stable"] or not v["department"]["stable"]]
    stab = {
        "unstable_replications": unstable,
        "verdict": "UNSTABLE: the backlog was still rising at the end of replications "
                   f"{unstable} (overloaded, or too near capacity to settle within the run; a longer "
                   "run tells them apart); means over the window understate it" if unstable else "stable",
        "per_replication": verdicts,
    }
    result = RunResult(per_rep, summarise(per_rep), wall, stab)
    if out is not None:
        with atomic_open(out / "grids.csv") as fh:
            write_columns_csv(fh, _stacked(grid_rows), float_format="%.6g")
        with atomic_open(out / "backlog.csv") as fh:
            write_columns_csv(fh, _stacked(backlog_rows))
        if options.plot:
            from .plots import backlog_plot  # matplotlib only when a figure is drawn: sweep workers start faster

            backlog_plot(out / "backlog.csv", out / "backlog.png", title=backlog_title(scenario, layout.n_grids),
                         warmup_days=scenario.run.warmup_days)
        write_json(out / "summary.json", {
            "metrics": result.summary,
            "stability": stab,
            "config": resolved_config or {},
            "manifest": manifest(scenario.run.seed, wall, {
                "replications": scenario.run.replications,
                "grids": layout.n_grids,
                "towns": layout.n_towns,
                "events_file": None if events_format is None else f"events.{events_format}",
                "jobs": options.jobs,
                "random_numbers": "replication r uses SeedSequence(seed).spawn child r; "
                                  "streams keyed (r, purpose, index); arrivals per block of residents",
                "config_sha256": config_digest(resolved_config or {}),
                "resident_reports_digest": digests,
                "files_sha256": file_digests(out),  # the tables as written: a replay tells an edit from the code
            }),
        })
    return result


def _stacked(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The replications' tables one under the other (same columns in each)."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def backlog_title(scenario: Scenario, n_grids: int) -> str:
    """The title of a run's ``backlog.png``: enough of the scenario to tell
    the figures of two runs (or two sweep points) apart."""
    s = scenario.staffing
    pooled = "each serving their own grid" if s.pooling == "grid" else f"pooled per {s.pooling}"
    return (f"Backlog over time: {scenario.town.name}, {n_grids} grids, {s.workers_per_grid:g} worker(s) per grid "
            f"{pooled},\n{scenario.routing.policy} routing, "
            f"{scenario.arrivals.per_1000_people_day:g} reports per 1,000 people a day")


def _workers_per_grid(scenario: Scenario, layout) -> np.ndarray:
    return np.full(layout.n_grids, float(scenario.staffing.workers_per_grid))


def format_table(summary: dict[str, dict]) -> str:
    """A readable table: metric, mean, 95% CI, the CI's half-width relative
    to the mean, and the unit; numbers as reports write them (no 3.8e+04)."""
    from .figures import fmt_number
    from .study import metric_info

    def num(x: Any) -> str:
        return fmt_number(x, digits=4)

    rows = []
    for name, s in summary.items():
        if name.startswith(metrics.HOURLY_PREFIX):
            continue  # the hour-of-day profile is in summary.json, not on screen
        mean, lo, hi = s["mean"], s["ci95_low"], s["ci95_high"]
        has_ci = lo is not None and np.isfinite(lo) and hi is not None and np.isfinite(hi)
        ci = f"[{num(lo)}, {num(hi)}]" if has_ci else "n/a"
        rel = "n/a"
        if has_ci and mean is not None and np.isfinite(mean) and mean != 0:
            rel = "±" + fmt_number(100.0 * (hi - lo) / 2.0 / abs(mean), digits=2) + "%"
        rows.append((name, num(mean), ci, rel, metric_info(name).unit))
    header = ("metric", "mean", "95% CI", "± of mean", "unit")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]

    def line(r: tuple[str, ...]) -> str:
        return (f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}  {r[4]}")

    lines = [line(header), "-" * (sum(widths) + 8 + max(len(r[4]) for r in (header, *rows)))]
    lines += [line(r) for r in rows]
    if any(r[3] != "n/a" for r in rows):
        lines.append("± of mean: half the 95% CI as a share of the mean (4 times the replications about halve it)")
    return "\n".join(lines)
