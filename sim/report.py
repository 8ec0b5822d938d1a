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
import math
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import figures
from .aggregate import Point, baseline_point, load_points, paired_differences, summary_table, swept_keys, value_of
from .output import atomic_open
from .study import METRIC_INFO, StudySpec, parse_study
from .sweep import RESUME_KEY, read_plan

SUMMARY_CSV = "sweep_summary.csv"
DIFF_CSV = "paired_differences.csv"
REPORT_MD = "report.md"
NOT_SCENARIO = ("study", "progress", "output", RESUME_KEY)
"""Top-level keys that do not change the simulated scenario."""


# -- numbers and tables -----------------------------------------------------------
def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.3g}" if abs(x) >= 1000 else f"{x:.3g}"


def _ci(mean: Any, lo: Any, hi: Any) -> str:
    if lo is None or (isinstance(lo, float) and not math.isfinite(lo)):
        return _num(mean)
    return f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _short(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def differences_from_default(config: Mapping[str, Any], default: Mapping[str, Any],
                             swept: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(key, default, this study)`` for every scenario value that differs from the default.

    Swept keys are left out (they are listed with their values); a whole
    subtree present on one side only (a different town layout) is one row.
    """
    cfg = {k: v for k, v in config.items() if k not in NOT_SCENARIO}
    dft = {k: v for k, v in default.items() if k not in NOT_SCENARIO}
    a, b = _flatten(dft), _flatten(cfg)
    rows: list[tuple[str, str, str]] = []
    collapsed: set[str] = set()

    def subtree(key: str, flat: dict[str, Any], other: dict[str, Any]) -> str | None:
        # The shortest parent of `key` that exists on one side only.
        parts = key.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if not any(k == parent or k.startswith(parent + ".") for k in other):
                return parent
        return None

    for key in sorted(set(a) | set(b), key=lambda k: (k.split(".")[0], k)):
        if any(key == s or key.startswith(s + ".") for s in swept):
            continue
        if key in a and key in b:
            if a[key] != b[key]:
                rows.append((key, _short(a[key]), _short(b[key])))
            continue
        side, other = (a, b) if key in a else (b, a)
        parent = subtree(key, side, other) or key
        if parent in collapsed:
            continue
        collapsed.add(parent)
        n = sum(1 for k in side if k == parent or k.startswith(parent + "."))
        desc = f"({n} values)" if n > 1 else _short(side[key])
        rows.append((parent, desc, "(absent)") if side is a else (parent, "(absent)", desc))
    return rows


# -- the report -------------------------------------------------------------------
def _command(plan: Mapping[str, Any]) -> list[str]:
    lines = []
    for s in plan.get("sessions", []):
        argv = s.get("argv") or []
        if argv:
            lines.append(f"python -m sim {shlex.join(argv[1:])}   # started {s.get('started_utc', '?')}")
    return lines


def _point_label(p: Point, study: StudySpec) -> str:
    return ", ".join(f"{k}={figures.fmt_value(value_of(p, k), study.null_label)}" for k in study.keys) or f"point {p.num}"


def _default_config() -> dict[str, Any] | None:
    try:
        from .compose import load_config

        return load_config()
    except Exception:  # noqa: BLE001 - the report is still useful without this table
        return None


def _run_time(points: Sequence[Point], plan: Mapping[str, Any]) -> tuple[float, float | None]:
    """Compute time summed over finished points, and the sweep's elapsed time."""
    compute = sum(float((p.manifest or {}).get("wall_seconds") or 0.0) for p in points if p.status == "finished")
    sessions = plan.get("sessions") or []
    ends = [(p.folder / "summary.json").stat().st_mtime for p in points if p.status == "finished"]
    if not sessions or not ends:
        return compute, None
    return compute, max(ends) - float(sessions[-1]["started"]) if len(sessions) == 1 else None


def build_report(sweep_dir: Path, study: StudySpec, points: Sequence[Point], table: pd.DataFrame,
                 diffs: pd.DataFrame, base: Point | None, figure_files: Sequence[Path],
                 plan: Mapping[str, Any]) -> str:
    """The text of ``report.md``."""
    finished = [p for p in points if p.status == "finished"]
    ref = base if base is not None and base.status == "finished" else (finished[0] if finished else None)
    cfg = ref.config if ref is not None else (points[0].config if points else {})
    out: list[str] = [f"# {study.title}", ""]
    n_fail = sum(p.status == "failed" for p in points)
    n_other = len(points) - len(finished) - n_fail
    status = f"{len(finished)} of {len(points)} points finished"
    if n_fail:
        status += f", **{n_fail} failed**"
    if n_other:
        status += f", **{n_other} not finished** (interrupted or not run)"
    out += [f"Study `{study.name}`: {status}. Report written "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from `{sweep_dir}`.", ""]

    out += ["## 1. Objective", "", study.question, ""]
    out += ["## 2. Model logic", "",
            "A discrete-event simulation (SimPy) of grid-based governance. Matters are reported in grids "
            "(Poisson arrivals generated per block of residents, so every partition of the population "
            "sees the same matters); their category, complexity and work content are drawn at report time. "
            "Simple matters are handled by the grid worker; difficult matters are triaged by the worker and "
            "claimed by the department of their category; urgent matters are triaged and an enforcement "
            "team travels from its base. A simple matter still waiting for its worker `routing.escalate_after_h` "
            "hours after its report is escalated to its department; a matter open past its deadline is "
            "supervised (counted overdue, moved to the front of its queue). Every matter closes with the "
            "grid worker's feedback visit.", ""]
    if cfg:
        out += [f"Routing policy `{cfg.get('routing', {}).get('policy')}`, staffing "
                f"`{cfg.get('staffing', {}).get('workers_per_grid')}` worker(s) per grid pooled per "
                f"`{cfg.get('staffing', {}).get('pooling')}` at the baseline point.", ""]

    out += ["## 3. Scenario: data and assumptions", "", "Swept parameters:", ""]
    for key in study.keys:
        values = []
        for p in points:
            v = figures.fmt_value(value_of(p, key), study.null_label)
            if v not in values:
                values.append(v)
        out.append(f"- `{key}` ({study.label(key)}): {', '.join(values)}")
    if study.baseline:
        out.append("- baseline point: " + ", ".join(f"`{k}={figures.fmt_value(v, study.null_label)}`"
                                                    for k, v in study.baseline)
                   + ("" if base is not None else " (**not found among the points**)"))
    out.append("")
    default = _default_config()
    if default is not None and cfg:
        rows = differences_from_default(cfg, default, study.keys)
        out += ["Every other value that differs from the project's default config (`configs/config.yaml`, "
                "composed when this report was written):", ""]
        out += [_md_table(["key", "default", "this study"], [(f"`{k}`", d, s) for k, d, s in rows])
                if rows else "(none: all other values are the defaults)", ""]
    if study.assumptions:
        out += ["Assumptions of this study:", ""] + [f"- {a}" for a in study.assumptions] + [""]
    out += ["All other values are the project defaults; values the source article does not give are "
            "marked ASSUMPTION, with their reasoning, in `configs/config.yaml`. The full resolved config "
            "of every point is in its `summary.json` and `.hydra/config.yaml`.", ""]

    out += ["## 4. Experimentation", ""]
    if cfg:
        out += [f"- run length: {cfg.get('horizon_days')} days, of which the first {cfg.get('warmup_days')} "
                "days are warm-up (the town starts empty; matters reported in the warm-up are not measured)",
                f"- replications: {cfg.get('replications')} per point; seed {cfg.get('seed')}"]
    out += ["- random numbers: replication r of every point uses the same seed stream "
            "(`SeedSequence(seed, spawn_key=(r, purpose, index))`, streams keyed by purpose and by arrival "
            "block or grid), so all points see the same reported matters: **common random numbers**",
            "- intervals: 95% Student-t confidence intervals over replications; differences to the baseline "
            "are paired by replication (the t interval of the r-by-r differences)", ""]

    out += ["## 5. Results", ""]
    for f in figure_files:
        if f.suffix == ".png":
            out += [f"![{f.stem}]({f.name})", ""]
    metrics = list(study.metrics)
    header = ["point", *study.keys, "status", *[f"{METRIC_INFO[m].label} ({METRIC_INFO[m].unit})" for m in metrics]]
    rows = []
    for p in points:
        cells = [str(p.num), *[figures.fmt_value(value_of(p, k), study.null_label) for k in study.keys],
                 p.status + (" (baseline)" if base is not None and p.num == base.num else "")]
        for m in metrics:
            s = (p.metrics or {}).get(m)
            cells.append(_ci(s["mean"], s["ci95_low"], s["ci95_high"]) if s else "—")
        rows.append(cells)
    out += ["Mean [95% CI] of the key metrics at each point (every metric is in `sweep_summary.csv`):", "",
            _md_table(header, rows), ""]
    if base is None or base.status != "finished":
        out += ["No paired differences: the baseline point has no results.", ""]
    elif len(diffs):
        out += [f"Paired differences against the baseline (point {base.num}: {_point_label(base, study)}): "
                "mean difference [95% CI] over replication pairs; `*` marks an interval that excludes 0 "
                "(every metric is in `paired_differences.csv`):", ""]
        header = ["point", *study.keys, *[f"Δ {METRIC_INFO[m].label} ({METRIC_INFO[m].unit})" for m in metrics]]
        rows = []
        for num, part in diffs.groupby("point", sort=True):
            p = next(q for q in points if q.num == num)
            cells = [str(num), *[figures.fmt_value(value_of(p, k), study.null_label) for k in study.keys]]
            for m in metrics:
                r = part[part["metric"] == m].iloc[0]
                star = "*" if math.isfinite(r.diff_ci95_low) and (r.diff_ci95_low > 0 or r.diff_ci95_high < 0) else ""
                cells.append(_ci(r.diff_mean, r.diff_ci95_low, r.diff_ci95_high) + star)
            rows.append(cells)
        out += [_md_table(header, rows), ""]
    problems = [p for p in points if p.status != "finished"]
    if problems:
        out += ["Points without results:", ""]
        out += [f"- point {p.num} ({_point_label(p, study)}): **{p.status}**" + (f": {p.error}" if p.error else "")
                for p in problems]
        out += ["", "Re-run the same command with `+resume=" + str(sweep_dir) + "` to run only these.", ""]

    out += ["## 6. Implementation", ""]
    compute, elapsed = _run_time(points, plan)
    n_jobs = None
    mr = sweep_dir / "multirun.yaml"
    if mr.is_file():
        import yaml

        n_jobs = ((yaml.safe_load(mr.read_text(encoding="utf-8")) or {}).get("hydra", {}).get("launcher") or {}).get("n_jobs")
    out.append(f"- run time: {compute:.1f} s of simulation summed over finished points"
               + (f"; {elapsed:.1f} s elapsed for the sweep" if elapsed is not None else "")
               + (f" with `n_jobs={n_jobs}` parallel jobs" if n_jobs is not None else ""))
    man = (ref.manifest if ref is not None else None) or {}
    if man:
        pk = man.get("packages") or {}
        out.append(f"- Python {man.get('python')} on {man.get('platform')}")
        out.append("- packages: " + ", ".join(f"{k} {v}" for k, v in pk.items() if v))
        git = man.get("git") or {}
        commits = {((p.manifest or {}).get("git") or {}).get("commit") for p in finished}
        out.append(f"- code: git commit `{git.get('commit')}`" + (" with uncommitted changes" if git.get("dirty") else "")
                   + (f" (points ran on {len(commits)} different commits)" if len(commits) > 1 else ""))
    out.append("")

    out += ["## 7. Reproduce", ""]
    cmds = _command(plan)
    if cmds:
        out += ["The sweep was run with (from the project folder):", "", "```", *cmds, "```", ""]
    out += ["- resume an interrupted sweep (finished points with the same config are skipped): "
            f"the same command with `+resume={sweep_dir}`",
            f"- rebuild this report: `python -m sim.report {sweep_dir}`",
            f"- re-run one point from its saved config and check the metrics are identical: "
            f"`python -m sim.replay {sweep_dir}/<point>`", ""]
    return "\n".join(out)


def _backlog_series(points: Sequence[Point], study: StudySpec) -> pd.DataFrame:
    parts = []
    for p in points:
        path = p.folder / "backlog.csv"
        if p.status != "finished" or not path.is_file():
            continue
        df = pd.read_csv(path)
        mean = df.groupby("time_h", as_index=False)["backlog"].mean()
        mean["day"] = mean["time_h"] / 24.0
        mean["label"] = _point_label(p, study)
        parts.append(mean)
    return pd.concat(parts) if parts else pd.DataFrame(columns=["label", "day", "backlog"])


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
    if "backlog" in study.figures:
        series = _backlog_series(points, study)
        if len(series):
            cfg = next(p.config for p in points if p.status == "finished")
            files += figures.backlog_figure(series, study, sweep_dir, warmup_days=cfg.get("warmup_days"))

    text = build_report(sweep_dir, study, points, table, diffs, base, files, plan)
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
