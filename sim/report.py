"""The report of a sweep: ``sweep_summary.csv``, figures and ``report.md``.

``python -m sim.report SWEEP_DIR`` aggregates a sweep folder: a finished one
(the sweep's Hydra callback runs exactly this command when the sweep ends),
an interrupted one, or one with failed points. It writes, into the folder:

* ``sweep_summary.csv``: one row per point and metric: ``point``, the swept
  keys, ``metric, mean, ci95_low, ci95_high, replications, status``;
* ``paired_differences.csv``: each point minus the baseline point, per
  metric, from replication-by-replication differences (common random numbers);
* ``metrics.png/.svg`` (and ``heatmap``, ``backlog`` where the study asks);
* ``report.md``, laid out after the STRESS-DES guideline for reporting
  simulation studies: objectives, logic, data and assumptions,
  experimentation, results, implementation, reproduction.

The exit status is 0 when a report was written, even if points failed (the
report says which), and 2 when the folder holds no sweep.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import figures
from .aggregate import baseline_point, load_points, paired_differences, summary_table, swept_keys
from .output import atomic_open
from .recovery import RECOVERY_CSV, SERIES_CSV, recovery
from .report_md import build_report
from .study import parse_study
from .sweep import read_plan

SUMMARY_CSV = "sweep_summary.csv"
DIFF_CSV = "paired_differences.csv"
REPORT_MD = "report.md"


def write_report(sweep_dir: str | Path) -> Path:
    """Aggregate a sweep folder; return the path of ``report.md``.

    Raises:
        FileNotFoundError: the folder holds no sweep points.
    """
    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir) or {}
    points = load_points(sweep_dir) if sweep_dir.is_dir() else []
    if not points:
        raise FileNotFoundError(f"{sweep_dir}: no sweep points (numbered folders or plan.json) found")
    with_study = [p for p in points if p.status == "finished" and "study" in p.config] + \
                 [p for p in points if "study" in p.config]
    study_cfg = with_study[0].config.get("study") if with_study else None
    study = parse_study(study_cfg, swept_keys(points, plan.get("swept", [])))
    table = summary_table(points, study.keys)
    with atomic_open(sweep_dir / SUMMARY_CSV) as fh:
        table.to_csv(fh, index=False, float_format="%.6g")
    base = baseline_point(points, study)
    diffs = paired_differences(points, study.keys, base)
    with atomic_open(sweep_dir / DIFF_CSV) as fh:
        diffs.to_csv(fh, index=False, float_format="%.6g")

    # Figures read the saved table, as any later reader would.
    saved = pd.read_csv(sweep_dir / SUMMARY_CSV)
    files: list[Path] = []
    if study.keys and "metrics" in study.figures and (saved["status"] == "finished").any():
        files += figures.metrics_figure(saved, study, sweep_dir)
    if len(study.keys) >= 2 and "heatmap" in study.figures and (saved["status"] == "finished").any():
        files += figures.heatmap_figure(saved, study, sweep_dir)
    recovered = None
    if study.transient is not None or "backlog" in study.figures:
        series, recovered = recovery(points, study.keys, study.transient)
        with atomic_open(sweep_dir / SERIES_CSV) as fh:
            series.to_csv(fh, index=False, float_format="%.6g")
        if study.transient is not None:
            with atomic_open(sweep_dir / RECOVERY_CSV) as fh:
                recovered.to_csv(fh, index=False, float_format="%.6g")
        saved_series = pd.read_csv(sweep_dir / SERIES_CSV)
        if "backlog" in study.figures and len(saved_series):
            cfg = next(p.config for p in points if p.status == "finished")
            files += figures.backlog_figure(saved_series, study, sweep_dir, warmup_days=cfg.get("warmup_days"))

    text = build_report(sweep_dir, study, points, table, diffs, base, files, plan, recovered)
    with atomic_open(sweep_dir / REPORT_MD) as fh:
        fh.write(text)
    return sweep_dir / REPORT_MD


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.report SWEEP_DIR``: (re)write a sweep folder's summary, figures and report."""
    parser = argparse.ArgumentParser(prog="python -m sim.report", description=main.__doc__)
    parser.add_argument("sweep_dir", help="a sweep folder (hydra.sweep.dir of a `python -m sim -m ...` run)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.sweep_dir)
    except FileNotFoundError as exc:
        print(f"gridgov: {exc}", file=sys.stderr)
        return 2
    points = load_points(args.sweep_dir)
    done = sum(p.status == "finished" for p in points)
    print(f"sweep report: {done}/{len(points)} points finished; wrote {Path(args.sweep_dir) / SUMMARY_CSV}, "
          f"{Path(args.sweep_dir) / DIFF_CSV} and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
