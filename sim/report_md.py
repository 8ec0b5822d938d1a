"""The text of a sweep's ``report.md``, laid out after the STRESS-DES guideline.

STRESS-DES (Strengthening the Reporting of Empirical Simulation Studies,
discrete-event simulation) asks a report to give: objectives, model logic,
data and assumptions, experimentation (run length, warm-up, replications,
random numbers), results, implementation (software, run time) and how to
reproduce the study. ``build_report`` writes one section for each, from what
the sweep folder holds.
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import figures
from .aggregate import NOT_SCENARIO, Point, one_seed, pairing_problem, same_resident_reports, seed_of, value_of
from .recovery import MEASURES, RECOVERY_CSV
from .study import StudySpec, metric_info



_num = figures.fmt_number


def _ci(mean: Any, lo: Any, hi: Any) -> str:
    if lo is None or (isinstance(lo, float) and not math.isfinite(lo)):  # one replication: a value, no interval
        return _num(mean) if _num(mean) == "n/a" else f"{_num(mean)} (no CI)"
    return f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def _within(metric: str, low: Any, high: Any) -> tuple[Any, Any]:
    """A metric's confidence interval cut to the values it can take (as the figures draw it)."""
    floor, ceiling = metric_info(metric).bounds
    def finite(x: Any) -> bool:
        return x is not None and math.isfinite(float(x))
    return (max(float(low), floor) if finite(low) else low, min(float(high), ceiling) if finite(high) else high)


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


def differing_keys(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The scenario keys whose values are not the same in every config, in order.

    A subtree some configs do not have (another town's units, say) is one
    key: its shortest parent missing from one of them. The seed is not one:
    it is no setting to compare (the report says when seeds differ).
    """
    flats = [_flatten({k: v for k, v in c.items() if k not in (*NOT_SCENARIO, "seed")}) for c in configs]
    keys: list[str] = []
    for key in sorted({k for f in flats for k in f}, key=lambda k: (k.split(".")[0], k)):
        if any(key == k or key.startswith(k + ".") for k in keys):
            continue
        parts = key.split(".")
        parent = next((".".join(parts[:i]) for i in range(1, len(parts))
                       if not all(any(k == ".".join(parts[:i]) or k.startswith(".".join(parts[:i]) + ".") for k in f)
                                  for f in flats)), None)
        if parent is not None:
            keys.append(parent)
        elif not all(key in f for f in flats) or any(f[key] != flats[0][key] for f in flats):
            keys.append(key)
    return keys


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


def _command(plan: Mapping[str, Any]) -> list[str]:
    lines = []
    for s in plan.get("sessions", []):
        argv = s.get("argv") or []
        if argv:
            lines.append(f"python -m sim {shlex.join(argv[1:])}   # started {s.get('started_utc', '?')}")
    return lines


def _target_is_floor(metric: str) -> bool:
    """A target is a floor where higher is better (satisfaction), else a ceiling."""
    return metric_info(metric).better == "higher"


def target_verdict(metric: str, target: float, mean: Any, lo: Any, hi: Any) -> str:
    """Whether a point meets a study's target for ``metric``: ``met`` when its
    whole 95% CI is on the target's side, ``missed`` when the whole CI is on
    the other side, ``uncertain`` when the CI holds the target (more
    replications decide). The target is a ceiling unless higher is better
    for the metric (satisfaction, say): then a floor. Without an interval
    (one replication) the mean decides, and the verdict says so."""
    floor = _target_is_floor(metric)
    def ok(x: float) -> bool:
        return x >= target if floor else x <= target
    if mean is None or not math.isfinite(float(mean)):
        return "n/a"
    if lo is None or not math.isfinite(float(lo)) or hi is None or not math.isfinite(float(hi)):
        return ("met" if ok(float(mean)) else "missed") + " (one replication, no CI)"
    worst, best = (float(lo), float(hi)) if floor else (float(hi), float(lo))
    return "met" if ok(worst) else "missed" if not ok(best) else "uncertain"


def _targets_section(points: Sequence[Point], study: StudySpec) -> list[str]:
    """Each point against the study's targets."""
    targets = dict(study.targets)
    def kind(m: str) -> str:
        return "at least" if _target_is_floor(m) else "at most"
    out = ["Targets: " + "; ".join(f"{metric_info(m).label} {kind(m)} {_num(t)} {metric_info(m).unit}"
                                   for m, t in targets.items())
           + ". A point **meets** a target when its whole 95% CI is on the target's side, **misses** it when the "
           "whole CI is on the other side, and is **uncertain** when the CI holds the target (more replications "
           "decide):", ""]
    header = ["point", *map(study.label, study.keys),
              *[f"{metric_info(m).label} {kind(m)} {_num(t)} {metric_info(m).unit}" for m, t in targets.items()]]
    rows, all_met = [], []
    for p in points:
        cells = _point_cells(p, study)
        verdicts = []
        for m, t in targets.items():
            s = (p.metrics or {}).get(m) if p.status == "finished" else None
            if not s:
                cells.append("—")
                verdicts.append("n/a")
                continue
            lo, hi = _within(m, s["ci95_low"], s["ci95_high"])
            verdicts.append(target_verdict(m, t, s["mean"], lo, hi))
            cells.append(f"**{verdicts[-1]}**: {_ci(s['mean'], lo, hi)}" if verdicts[-1] != "n/a" else "n/a")
        rows.append(cells)
        if all(v.startswith("met") for v in verdicts):
            all_met.append(str(p.num))
    return out + [_md_table(header, rows), "",
                  f"Points meeting every target: {', '.join(all_met)}." if all_met else "No point meets every target.",
                  ""]


def _recovery_section(recovered: pd.DataFrame, points: Sequence[Point], study: StudySpec) -> list[str]:
    spec = study.transient
    assert spec is not None
    out = [f"Recovery from the surge (days {spec.start_day:g} to {spec.end_day:g}), against the point without it "
           f"(`{spec.key}={figures.fmt_value(spec.reference, study.null_label)}`, same other values, paired "
           f"replications). Recovered: the excess backlog stays at or below {spec.recovered_share:.0%} of its "
           f"peak (and at least 1 matter) for {spec.hold_days} days. Mean [95% CI] over replications "
           f"(also in `{RECOVERY_CSV}`):", ""]
    if not len(recovered):
        return out + ["(no surge point has both its own and its reference's results)", ""]
    rows = _point_rows(recovered, "measure", MEASURES, points, study, _recovery_cell)
    header = ["point", *map(study.label, study.keys), *MEASURES.values()]
    return out + [_md_table(header, rows), ""]


def _recovery_cell(measure: str, r: Mapping[str, Any]) -> str:
    """A recovery table cell: mean [95% CI], saying how many replications had
    not recovered by the horizon (those left out of the mean)."""
    text = _ci(r["mean"], r["ci95_low"], r["ci95_high"])
    missing = int(r["not_recovered"]) if measure == "recovery_days" else 0
    if missing:  # censored: the mean of those that recovered understates the recovery time
        n = int(r["replications"])
        if n == 0:
            return f"none of {missing} replications recovered by the horizon"
        text = (f"{missing} of {n + missing} replications not recovered by the horizon; the {n} that did: "
                f"{text} (a lower bound for the mean of all)")
    return text


def _point_rows(table: pd.DataFrame, column: str, items, points: list[Point], study: StudySpec,
                cell) -> list[list[str]]:
    """A table row per point of ``table``: its number, its swept values, then
    ``cell(item, row)`` for each of ``items`` (``row``: the point's row whose
    ``column`` is the item)."""
    rows = []
    for num, part in table.groupby("point", sort=True):
        p = next(q for q in points if q.num == num)
        cells = _point_cells(p, study)
        cells += [cell(item, part[part[column] == item].iloc[0]) for item in items]
        rows.append(cells)
    return rows


def _point_cells(p: Point, study: StudySpec) -> list[str]:
    """A table row's first cells: the point's number and its swept values."""
    return [str(p.num), *[figures.fmt_value(value_of(p, k), study.null_label) for k in study.keys]]


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


def _finds_matters_on_duty(points) -> bool:
    """Whether any point's workers find matters on duty (``arrivals.discovered_per_duty_h``
    and ``duties.share`` both above 0): those matters vary with staffing."""
    for p in points:
        cfg = p.config or {}
        rate = (cfg.get("arrivals") or {}).get("discovered_per_duty_h") or 0.0
        share = (cfg.get("duties") or {}).get("share") or 0.0
        if rate > 0 and share > 0:
            return True
    return False


def build_report(sweep_dir: Path, study: StudySpec, points: Sequence[Point], table: pd.DataFrame,
                 diffs: pd.DataFrame, base: Point | None, figure_files: Sequence[Path],
                 plan: Mapping[str, Any], recovered: pd.DataFrame | None = None, options: str = "") -> str:
    """The text of ``report.md`` (``options``: those ``python -m sim.report`` was given, for its rebuild line)."""
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
            "sees the same matters reported by residents), and grid workers on duty find more of them, at a "
            "rate per worker on duty; their category, complexity and work content are drawn at report time. "
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
    default = plan.get("default_config") or _default_config()
    if default is not None and cfg:
        rows = differences_from_default(cfg, default, study.keys)
        when = "when the sweep started" if plan.get("default_config") else "when this report was written"
        out += [f"Every other value that differs from the project's default config (`configs/config.yaml`, "
                f"composed {when}):", ""]
        out += [_md_table(["key", "default", "this study"], [(f"`{k}`", d, s) for k, d, s in rows])
                if rows else "(none: all other values are the defaults)", ""]
    if study.assumptions:
        out += ["Assumptions of this study:", ""] + [f"- {a}" for a in study.assumptions] + [""]
    out += ["All other values are the project defaults; values the source article does not give are "
            "marked ASSUMPTION, with their reasoning, in `configs/config.yaml`. The full resolved config "
            "of every point is in its `summary.json` and `.hydra/config.yaml`.", ""]

    out += ["## 4. Experimentation", ""]
    seeds = {p.num: seed_of(p) for p in finished}
    same_seed = one_seed(finished)
    if cfg:
        seed_text = f"seed {cfg.get('seed')}" if same_seed else "seeds " + ", ".join(
            f"{seed} (point {num})" for num, seed in seeds.items())
        out += [f"- run length: {cfg.get('horizon_days')} days, of which the first {cfg.get('warmup_days')} "
                "days are warm-up (the town starts empty; per-matter statistics leave out matters reported in "
                "the warm-up; time averages, the throughput and `backlog_end` also count those still open, or "
                "closed, in the window)",
                f"- replications: {cfg.get('replications')} per point; {seed_text}"]
    found = _finds_matters_on_duty(finished)
    if same_seed:
        same = same_resident_reports(finished)
        if same:
            reports = ("so all points see the same matters reported by residents (checked: the times, categories "
                       "and complexities of their reports agree, replication by replication): **common random "
                       "numbers**")
        elif same is False:
            reports = ("so the points share their random numbers (**common random numbers**), but a swept setting "
                       "changes the resident reports themselves "
                       "(the horizon, the arrival rate, the population, the rate profile or the shares of categories "
                       "and complexities: the times, categories or complexities of the reports differ between points), so the points do not see exactly the same matters. Differences are still "
                       "paired by replication, which keeps the intervals valid but narrows them less")
        else:
            reports = ("so the points share their random numbers (**common random numbers**): points that differ "
                       "only in grids, staffing, routing or "
                       "escalation see the same matters reported by residents (these results predate the "
                       "fingerprint of the reports that lets the report check it)")
        out += ["- random numbers: replication r of every point uses the same seed stream "
                "(`SeedSequence(seed, spawn_key=(r, purpose, index))`, streams keyed by purpose and by arrival "
                "block or grid), " + reports
                + ("; matters found by workers on duty come at a rate per worker on duty, so "
                   "points with more workers, more duty time or other grids see more of them "
                   "(compare `events_arrived` and `discovered_share`), and a share of matters "
                   "is a share of a different total there" if found else ""),
                "- intervals: 95% Student-t confidence intervals over replications; differences to the baseline "
                "are paired by replication (the t interval of the r-by-r differences)", ""]
    else:
        out += ["- random numbers: **the points ran with different seeds**, so they do not see the same "
                "reported matters: differences between them include chance, and only points with the "
                "baseline's seed are paired with it",
                "- intervals: 95% Student-t confidence intervals over replications", ""]

    out += ["## 5. Results", ""]
    by_figure: dict[str, list[Path]] = {}
    for f in figure_files:
        by_figure.setdefault(f.stem, []).append(f)
    for stem, files in by_figure.items():  # one image per figure (PNG, else SVG); a PDF only linked
        shown = next((f for suffix in (".png", ".svg") for f in files if f.suffix == suffix), None)
        out += [f"![{stem}]({shown.name})" if shown else f"{stem}: [{files[0].name}]({files[0].name})", ""]
    metrics = list(study.metrics)
    header = ["point", *map(study.label, study.keys), "status",
              *[f"{metric_info(m).label} ({metric_info(m).unit})" for m in metrics]]
    rows = []
    for p in points:
        status = p.status + (" (baseline)" if base is not None and p.num == base.num else "")
        if p.unstable:
            status += f", **unstable** in {p.unstable} of {len(p.per_replication('events_arrived'))} replications"
        cells = [*_point_cells(p, study), status]
        for m in metrics:
            s = (p.metrics or {}).get(m)
            cells.append(_ci(s["mean"], *_within(m, s["ci95_low"], s["ci95_high"])) if s else "—")
        rows.append(cells)
    out += ["Mean [95% CI] of the key metrics at each point, intervals cut at 0 and shares at 1 (every metric, "
            "with its interval as computed, is in `sweep_summary.csv`):", "",
            _md_table(header, rows), ""]
    if study.targets:
        out += _targets_section(points, study)
    unstable = [p for p in points if p.unstable]
    if unstable:
        out += [f"**Unstable points** ({', '.join(str(p.num) for p in unstable)}): the backlog was still rising "
                "at the end of the run (a significant upward trend in at least one replication; see `stability` "
                "in the point's `summary.json`): matters arrive faster than they are closed, or the load is so "
                "near capacity that the queue had not settled within the run; a longer run (`horizon_days`, "
                "`warmup_days`) tells them apart. Their means depend on the run length and understate the "
                "backlog; read them as 'overloaded or nearly so', not as steady-state values.", ""]
    unpaired = [p for p in finished if base is not None and p.num != base.num and pairing_problem(p, base)]
    if base is None or base.status != "finished":
        out += ["No paired differences: the baseline point has no results.", ""]
    elif unpaired:
        out += [f"No paired differences for point(s) {', '.join(str(p.num) for p in unpaired)}: a different seed "
                f"from the baseline's ({seeds.get(base.num)}), so their replications are not pairs. Compare "
                "their intervals above instead, or run them again with the same seed.", ""]
    if base is not None and base.status == "finished" and len(diffs):
        out += [f"Paired differences against the baseline (point {base.num}: {_point_label(base, study)}): "
                "mean difference [95% CI] over replication pairs; `*` marks an interval that excludes 0 "
                "(each interval on its own: where there is no real difference, about 1 interval in 20 excludes 0 "
                "by chance, so in a large table some stars are expected by chance; every metric is in "
                "`paired_differences.csv`):", ""]
        header = ["point", *map(study.label, study.keys),
                  *[f"Δ {metric_info(m).label} ({metric_info(m).unit})" for m in metrics]]
        def cell(m: str, r) -> str:
            star = "*" if math.isfinite(r.diff_ci95_low) and (r.diff_ci95_low > 0 or r.diff_ci95_high < 0) else ""
            return _ci(r.diff_mean, r.diff_ci95_low, r.diff_ci95_high) + star

        rows = _point_rows(diffs, "metric", metrics, points, study, cell)
        out += [_md_table(header, rows), ""]
    if recovered is not None and study.transient is not None:
        out += _recovery_section(recovered, points, study)
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
        source = (man.get("source") or {}).get("sha256")
        commits = {((p.manifest or {}).get("git") or {}).get("commit") for p in finished}
        sources = {((p.manifest or {}).get("source") or {}).get("sha256") for p in finished}
        code = [f"git commit `{git['commit']}`" + (" with uncommitted changes" if git.get("dirty") else "")
                if git.get("commit") else "not run from a git checkout"]
        if source:
            code.append(f"source SHA-256 `{source}`")
        spread = [f"{len(commits)} different commits" if len(commits) > 1 else "",
                  f"{len(sources)} different sources" if len(sources) > 1 else ""]
        spread = [s for s in spread if s]
        out.append("- code: " + "; ".join(code) + (f" (points ran on {' and '.join(spread)})" if spread else ""))
    out.append("")

    out += ["## 7. Reproduce", ""]
    if plan.get("runs"):  # a comparison of separate runs (python -m sim.report OUT --runs ...)
        names = f" --names {' '.join(shlex.quote(n) for n in plan['names'])}" if plan.get("names") else ""
        folder = shlex.quote(str(sweep_dir))
        out += ["The points are separate runs, compared with "
                f"`python -m sim.report {folder} --runs {' '.join(shlex.quote(r) for r in plan['runs'])}{names}`; "
                f"rebuild this report: `python -m sim.report {folder}{options}`:", ""]
        out += [f"- point {i}: `{run}`; re-run it and check its metrics and tables are identical: "
                f"`python -m sim.replay {run}`" for i, run in enumerate(plan["runs"])]
        return "\n".join(out + [""])
    cmds = _command(plan)
    if cmds:
        out += ["The sweep was run with (from the project folder):", "", "```", *cmds, "```", ""]
    out += ["- resume an interrupted sweep (finished points with the same config are skipped): "
            f"the same command with `+resume={sweep_dir}`",
            f"- rebuild this report: `python -m sim.report {sweep_dir}{options}`",
            f"- re-run one point from its saved config and check its metrics and tables are identical: "
            f"`python -m sim.replay {sweep_dir}/<point>`", ""]
    return "\n".join(out)
