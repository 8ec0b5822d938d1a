"""The report of a sweep: ``sweep_summary.csv``, figures and ``report.md``.

``python -m sim.report SWEEP_DIR`` aggregates a sweep folder: a finished one
(the sweep's Hydra callback does exactly this when the sweep ends), an
interrupted one, or one with failed points. It writes, into the folder:

* ``sweep_summary.csv``: one row per point and metric: ``point``, the swept
  keys, ``metric, mean, ci95_low, ci95_high, replications, status``;
* ``paired_differences.csv``: each point minus the baseline point, per
  metric, from replication-by-replication differences (common random numbers);
* ``metrics.png/.svg`` (and ``heatmap``, ``backlog`` where the study asks);
* ``report.md``, laid out after the STRESS-DES guideline for reporting
  simulation studies: objectives, logic, data and assumptions,
  experimentation, results, implementation, reproduction.

The work comes in two steps that a pool of processes can share:
``prepare_report`` writes the tables and composes the text of ``report.md``,
then ``draw_figure`` draws each figure from the saved tables. Drawing is most
of the time (a figure saved as PNG takes about as long as the same figure
saved as SVG), so ``write_report`` given a pool (the sweep's own worker
processes, see ``sim.callbacks``) draws every format of every figure as a
task of its own; without one it draws each figure once and saves it in
every format. ``report.md`` is written last, once every figure is saved.

The exit status is 0 when a report was written, even if points failed (the
report says which), and 2 when the folder holds no sweep.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError
from .output import atomic_open, remove_stale_temps, stale_temps
from .study import StudySpec

FIGURE_FORMATS = ("png", "svg", "pdf")
"""The file formats a report's figures can be saved in (``--formats``)."""
FIGURE_KINDS = ("metrics", "heatmap", "backlog")
SUMMARY_CSV = "sweep_summary.csv"
DIFF_CSV = "paired_differences.csv"
REPORT_MD = "report.md"

Calls = Callable[[Sequence[tuple[Any, ...]]], list[Any]]
"""Runs calls given as ``(function, *args)`` tuples, perhaps in other
processes, and returns their results in order."""


@dataclass(frozen=True)
class FigureJob:
    """One figure of the report, to be drawn from the sweep's saved tables.

    Attributes:
        kind: ``metrics``, ``heatmap`` or ``backlog``; also the files' name
            (``<kind>.<format>``).
        study: the study (title, swept keys, metrics, the surge).
        formats: the file formats to save it in.
        warmup_days: the warm-up shaded on the backlog figure.
        same_seed: every finished point ran with the same seed (common
            random numbers), as the figures' footnotes then say.
    """

    kind: str
    study: StudySpec
    formats: tuple[str, ...]
    warmup_days: float | None = None
    same_seed: bool = True

    def files(self, sweep_dir: Path) -> list[Path]:
        return [sweep_dir / f"{self.kind}.{fmt}" for fmt in self.formats]


_RATE_UNITS = {"h": "hour", "day": "day", "days": "day", "week": "week"}


def readable_key(key: str) -> str:
    """A label for a config key that no study names: its last part in words,
    what it belongs to in brackets (``departments.comprehensive_governance.staff``
    is "staff (departments › comprehensive governance)")."""
    *context, last = key.split(".")
    tokens = [t for t in last.split("_") if t] or [last]
    if "per" in tokens[:-1] and tokens[-1] in _RATE_UNITS:  # a rate: discovered_per_duty_h, per_1000_people_day
        at = len(tokens) - 1 - tokens[::-1].index("per")
        of = [*tokens[at + 1:-1], _RATE_UNITS[tokens[-1]]]
        if of[0].isdigit():  # per 1,000 people a day; per 1,000 hours
            of = [f"{int(of[0]):,}", *of[1:-1], "a", of[-1]] if len(of) > 2 else [f"{int(of[0]):,}", of[-1] + "s"]
        words = " ".join([*tokens[:at], "per", *of])
    elif tokens[-1] == "h" and len(tokens) > 1:
        words = " ".join(tokens[:-1]) + ", hours"
    else:
        words = " ".join(tokens)
    return f"{words} ({' › '.join(c.replace('_', ' ') for c in context)})" if context else words


def prepare_report(sweep_dir: str | Path, changes: dict[str, Any] | None = None,
                   formats: Sequence[str] | None = None) -> tuple[str, list[FigureJob]]:
    """Write the sweep's tables; return the text of ``report.md`` and the figures it shows.

    Args:
        sweep_dir: the sweep folder.
        changes: entries of the ``study`` block to use instead of the saved
            ones (``metrics``, ``baseline``, ``figures``...), to present the
            saved results otherwise without running anything again; targets
            of metrics no longer shown are dropped.
        formats: the figures' file formats (default ``figures.FORMATS``).

    Raises:
        FileNotFoundError: the folder holds no sweep points.
        ConfigError: ``changes`` that are not a valid study block.
    """
    # pandas and matplotlib are imported where the work is done, not with the
    # module: a sweep's main process hands this work to its worker processes,
    # which have them loaded already.
    import pandas as pd

    from .aggregate import (baseline_point, load_points, one_seed, paired_differences, summary_table, swept_keys,
                            value_of)
    from .figures import FORMATS
    from .recovery import RECOVERY_CSV, SERIES_CSV, recovery
    from .report_md import build_report
    from .study import parse_study
    from .sweep import baseline_matches, read_plan

    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir) or {}
    points = load_points(sweep_dir) if sweep_dir.is_dir() else []
    if not points:
        raise FileNotFoundError(f"{sweep_dir}: no sweep points (numbered folders or plan.json) found")
    with_study = [p for p in points if p.status == "finished" and "study" in p.config] + \
                 [p for p in points if "study" in p.config]
    # Runs compared: a run's own study block (a sweep point's) is not the comparison's.
    study_cfg = with_study[0].config.get("study") if with_study and not plan.get("runs") else None
    if plan.get("runs") and plan.get("choices"):
        points = _with_values(points, plan["choices"])
    if study_cfg is None and plan.get("runs"):  # runs compared: keys named in words, not as config paths
        labels = {k: readable_key(k) for k in plan.get("swept") or []}
        study_cfg = {"name": "comparison", "sweep": labels}
        if labels:
            study_cfg["title"] = f"Compared runs: how do the key metrics differ with {' and '.join(labels.values())}?"
        if plan.get("names"):
            points, study_cfg = _named_runs(points, plan["names"], labels)
    if changes:
        saved_baseline = (study_cfg or {}).get("baseline")
        if isinstance(saved_baseline, dict) and isinstance(changes.get("baseline"), dict):
            # --baseline KEY=VALUE for some swept keys: the others keep the saved baseline's values
            changes = {**changes, "baseline": {**saved_baseline, **changes["baseline"]}}
        study_cfg = {**(study_cfg or {}), **changes}
        if "metrics" in changes and isinstance(study_cfg.get("targets"), dict):
            study_cfg["targets"] = {m: v for m, v in study_cfg["targets"].items() if m in changes["metrics"]}
    asked_formats, formats = formats, tuple(formats or FORMATS)  # the rebuild line names only what was asked
    # Runs compared: the keys are those whose resolved values differ (the plan's); the runs' own
    # command-line overrides say nothing about that (one run's default is another's override).
    swept = (list(study_cfg["sweep"]) if plan.get("names") else list(plan.get("swept") or [])) if plan.get("runs") \
        else swept_keys(points, plan.get("swept", []))
    study = parse_study(study_cfg, swept)
    if changes and changes.get("baseline"):  # before writing anything
        if baseline_point(points, study) is None:
            values = {k: sorted({str(value_of(p, k)) for p in points}) for k, _ in study.baseline}
            raise ConfigError("study.baseline", changes["baseline"], "no point has these values; the points have "
                              + "; ".join(f"{k}: {', '.join(v)}" for k, v in values.items()))
        matches, differ = baseline_matches([{k: value_of(p, k) for k in study.keys} for p in points], study.baseline,
                                           list((study_cfg or {}).get("sweep") or study.keys))  # the study's axes
        if differ:
            raise ConfigError("study.baseline", changes["baseline"], f"matches {len(matches)} points, which differ "
                              f"in {', '.join(differ)}: give the baseline's value of each (--baseline KEY=VALUE)")
    table = summary_table(points, study.keys)
    with atomic_open(sweep_dir / SUMMARY_CSV) as fh:
        table.to_csv(fh, index=False, float_format="%.6g")
    base = baseline_point(points, study)
    diffs = paired_differences(points, study.keys, base)
    with atomic_open(sweep_dir / DIFF_CSV) as fh:
        diffs.to_csv(fh, index=False, float_format="%.6g")

    jobs: list[FigureJob] = []
    finished = (table["status"] == "finished").any()
    same_seed = one_seed(points)
    if study.keys and "metrics" in study.figures and finished:
        jobs.append(FigureJob("metrics", study, formats, same_seed=same_seed))
    if len(study.keys) >= 2 and "heatmap" in study.figures and finished:
        jobs.append(FigureJob("heatmap", study, formats))
    recovered = None
    if study.transient is not None or "backlog" in study.figures:
        series, recovered = recovery(points, study.keys, study.transient)
        with atomic_open(sweep_dir / SERIES_CSV) as fh:
            series.to_csv(fh, index=False, float_format="%.6g")
        if study.transient is not None:
            with atomic_open(sweep_dir / RECOVERY_CSV) as fh:
                recovered.to_csv(fh, index=False, float_format="%.6g")
        if "backlog" in study.figures and len(pd.read_csv(sweep_dir / SERIES_CSV)):
            cfg = next(p.config for p in points if p.status == "finished")
            jobs.append(FigureJob("backlog", study, formats, warmup_days=cfg.get("warmup_days")))

    files = [f for job in jobs for f in job.files(sweep_dir)]
    text = build_report(sweep_dir, study, points, table, diffs, base, files, plan, recovered,
                        options=_options_text(changes, asked_formats))
    return text, jobs


RUN_KEY = "run"
"""The compared runs' own axis when they are named (``--names``)."""


def _named_runs(points: list, names: Sequence[str], labels: Mapping[str, str]) -> tuple[list, dict[str, Any]]:
    """Compared runs shown by name: each point gets the value ``run=NAME``,
    the only axis of the comparison, and the report lists what each run sets
    for the keys that differ (``labels``)."""
    from .aggregate import value_of
    from .figures import fmt_value

    named = _with_values(points, [{RUN_KEY: name} for name in names])
    settings = [f"{name}: " + ("; ".join(f"{label} = {fmt_value(value_of(p, k))}" for k, label in labels.items())
                               or "the same settings as the others")
                for p, name in zip(points, names)]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    title = f"Compared runs: how do the key metrics differ between {listed}?"
    return named, {"name": "comparison", "sweep": {RUN_KEY: "compared run"}, "title": title,
                   "assumptions": ["What each run sets, where they differ: " + " | ".join(settings)]}


def _options_text(changes: dict[str, Any] | None, formats: Sequence[str] | None) -> str:
    """The ``python -m sim.report`` options that ask for ``changes`` and ``formats``."""
    import shlex

    from .figures import fmt_value  # a value as the config spells it: YAML reads it back

    args: list[str] = []
    changes = changes or {}
    if "metrics" in changes:
        args += ["--metrics", ",".join(changes["metrics"])]
    for k, v in (changes.get("baseline") or {}).items():
        args += ["--baseline", f"{k}={v if k == RUN_KEY else fmt_value(v)}"]
    if formats:
        args += ["--formats", ",".join(formats)]
    return "".join(" " + shlex.quote(a) for a in args)


def draw_figure(sweep_dir: str | Path, job: FigureJob) -> list[Path]:
    """Draw one figure of the report from the saved tables; return its files."""
    import pandas as pd  # as in prepare_report: where the work is done

    from . import figures
    from .recovery import SERIES_CSV

    sweep_dir = Path(sweep_dir)
    # Figures read the saved tables, as any later reader would.
    if job.kind == "backlog":
        series = pd.read_csv(sweep_dir / SERIES_CSV)
        files = figures.backlog_figure(series, job.study, sweep_dir, warmup_days=job.warmup_days,
                                       formats=job.formats)
    else:
        table = pd.read_csv(sweep_dir / SUMMARY_CSV)
        if RUN_KEY in table:  # compared runs' names are text, whatever they look like (1, 01, null, 1e3)
            table[RUN_KEY] = pd.read_csv(sweep_dir / SUMMARY_CSV, usecols=[RUN_KEY], dtype=str,
                                         keep_default_na=False)[RUN_KEY]
        if job.kind == "metrics":
            files = figures.metrics_figure(table, job.study, sweep_dir, formats=job.formats, same_seed=job.same_seed)
        else:
            files = figures.heatmap_figure(table, job.study, sweep_dir, formats=job.formats)
    if files != job.files(sweep_dir):  # report.md links the files by these names
        raise RuntimeError(f"figure {job} wrote {files}, not the files report.md links to")
    return files


def load_report_modules() -> None:
    """Load what the report's steps use (pandas, the aggregation, matplotlib)
    ahead of them, in a worker that would otherwise wait idle; a worker that
    cannot fails where the step needs it, with the step's own error."""
    with contextlib.suppress(Exception):
        for name in ("pandas", f"{__package__}.aggregate", f"{__package__}.recovery", f"{__package__}.report_md"):
            importlib.import_module(name)
        from .figures import pyplot

        pyplot()


def _here(calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    return [fn(*args) for fn, *args in calls]


def write_report(sweep_dir: str | Path, pool: Calls | None = None, changes: dict[str, Any] | None = None,
                 formats: Sequence[str] | None = None) -> Path:
    """Aggregate a sweep folder; return the path of ``report.md``.

    Args:
        sweep_dir: the sweep folder.
        pool: runs the steps in other processes (``Calls``), each format of
            each figure in a task of its own; ``None``: all in this process,
            each figure drawn once.
        changes, formats: as for ``prepare_report``.

    Raises:
        FileNotFoundError: the folder holds no sweep points.
    """
    sweep_dir = Path(sweep_dir)
    # report.md is written last, once everything it links to is: an old one
    # must not stand beside tables and figures this call fails to finish.
    (sweep_dir / REPORT_MD).unlink(missing_ok=True)
    # The hidden temporary files of an earlier report killed while writing
    # (in the points' folders the points' own runs remove them).
    remove_stale_temps(sweep_dir)
    if pool is None:
        text, jobs = prepare_report(sweep_dir, changes, formats)
        _here([(draw_figure, sweep_dir, job) for job in jobs])
    else:
        # The report's imports (pandas, matplotlib) overlap the tables: any
        # worker not preparing them loads them, and so does the preparing one
        # if it finishes first, so every worker is ready to draw.
        steps = [(prepare_report, sweep_dir, changes, formats), (load_report_modules,), (load_report_modules,)]
        text, jobs = pool(steps)[0]
        pool([(draw_figure, sweep_dir, dataclasses.replace(job, formats=(fmt,)))
              for job in jobs for fmt in job.formats])
    # Figures of an earlier report that this one does not draw (another
    # format, a figure no longer asked for) go: the folder shows what report.md shows.
    drawn = {f for job in jobs for f in job.files(sweep_dir)}
    for kind in FIGURE_KINDS:
        for fmt in FIGURE_FORMATS:
            if sweep_dir / f"{kind}.{fmt}" not in drawn:
                (sweep_dir / f"{kind}.{fmt}").unlink(missing_ok=True)
    with atomic_open(sweep_dir / REPORT_MD) as fh:
        fh.write(text)
    return sweep_dir / REPORT_MD


class NotARunError(ValueError):
    """A run folder given to ``compare_runs`` whose ``summary.json`` is not a run's."""


def compare_runs(out_dir: str | Path, runs: Sequence[str | Path], pool: Calls | None = None,
                 changes: dict[str, Any] | None = None, formats: Sequence[str] | None = None,
                 names: Sequence[str] | None = None) -> Path:
    """Report separate finished runs side by side, as the points of one sweep.

    ``out_dir`` (new, or empty) gets a link ``<i>`` to the i-th run folder and
    a ``plan.json`` naming the runs and the scenario keys whose values differ
    between them; then the sweep report is written there: ``sweep_summary.csv``,
    ``paired_differences.csv`` (each run minus the first, paired by
    replication when their seeds agree), the figures and ``report.md``. The
    run folders are only read. With ``names`` (one per run: "status quo",
    "two workers"...), the runs are shown by name: the figures' axis and the
    tables' first column are the names, and the report says what each run
    sets for the keys that differ.

    Raises:
        FileNotFoundError: a run folder without ``summary.json``.
        NotARunError: a ``summary.json`` that is not a run's (unreadable JSON, no config).
        ValueError: ``names`` not one per run, or not distinct non-empty words.
        FileExistsError: ``out_dir`` holds files already.
        OSError: a link cannot be made (Windows without the right to make symbolic links, say).
    """
    from .sweep import PLAN, SUMMARY

    folders = [Path(r).resolve() for r in runs]
    if names is not None:
        names = [str(n).strip() for n in names]
        if len(names) != len(folders) or not all(names) or len(set(names)) != len(names):
            raise ValueError(f"--names {', '.join(map(repr, names))}: expected {len(folders)} distinct names, "
                             "one per run folder, in the same order")
    configs = []
    for folder in folders:
        try:
            with open(folder / SUMMARY, encoding="utf-8") as fh:
                saved = json.load(fh)
        except FileNotFoundError:
            raise FileNotFoundError(f"{folder}: no {SUMMARY}: not the folder of a finished run") from None
        except ValueError as exc:  # cut short, or not JSON
            raise NotARunError(f"{folder / SUMMARY}: not readable as JSON ({exc})") from None
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise NotARunError(f"{folder / SUMMARY}: not a gridgov run's summary (it has no config)")
        configs.append(saved["config"])
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: give a new folder for the comparison")
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _write_comparison(out, folders, configs, names, pool, changes, formats)
    except BaseException:  # a refused --baseline, say: leave OUT as it was, so the corrected command can run
        for i in range(len(folders)):
            with contextlib.suppress(OSError):
                (out / str(i)).unlink()
        with contextlib.suppress(OSError):
            (out / PLAN).unlink()
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _write_comparison(out: Path, folders: Sequence[Path], configs: Sequence[Mapping[str, Any]],
                      names: Sequence[str] | None, pool: Calls | None, changes: dict[str, Any] | None,
                      formats: Sequence[str] | None) -> Path:
    """``compare_runs`` once its arguments are checked: the links, the plan and the report."""
    from .aggregate import lookup, saved_overrides
    from .report_md import differing_keys
    from .sweep import PLAN, override_key

    for i, folder in enumerate(folders):
        (out / str(i)).symlink_to(folder, target_is_directory=True)
    from .output import write_json

    # A config group chosen differently (town=xiaji vs town=synthetic) is one compared key, the
    # group, valued by its choice: not every key of the group's config, one of them a whole mapping.
    # Keys inside such a group stay when a run set them on its command line (town.population=30000).
    # A key whose value is a whole mapping (town.units of another town) is no axis: it is dropped.
    chosen = [_group_choices(folder, config) for folder, config in zip(folders, configs)]
    groups = [g for g in chosen[0] if all(g in c for c in chosen) and len({c[g] for c in chosen}) > 1]
    typed = {override_key(o) for folder in folders for o in (saved_overrides(folder) or [])}
    swept = [*groups, *(k for k in differing_keys(configs)
                        if (k.split(".")[0] not in groups or k in typed)
                        and not any(isinstance(lookup(c, k)[1], Mapping) for c in configs))]
    write_json(out / PLAN, {"study": "comparison", "points": None, "total": len(folders),
                            "swept": swept, "sessions": [], "runs": [str(f) for f in folders],
                            **({"choices": [{g: c[g] for g in groups} for c in chosen]} if groups else {}),
                            **({"names": list(names)} if names else {})})
    return write_report(out, pool, changes, formats)


def _group_choices(run_dir: Path, config: Mapping[str, Any]) -> dict[str, str]:
    """The config groups a run chose (``town: xiaji``), from its ``.hydra/hydra.yaml``;
    only groups whose config is a section of the run's config (not ``hydra/*``)."""
    import yaml

    try:
        saved = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text(encoding="utf-8"))
        choices = saved["hydra"]["runtime"]["choices"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {}
    return {str(g): str(c) for g, c in (choices or {}).items()
            if c is not None and "/" not in str(g) and isinstance(config.get(g), Mapping)}


def _with_values(points: list, values: Sequence[Mapping[str, str]]) -> list:
    """Compared runs given values of keys their configs do not hold as one
    value (``town=xiaji``, ``run=status quo``), as overrides: ``value_of``
    reads them there, as text (JSON-quoted, so ``no`` or ``1`` stay text)."""
    return [dataclasses.replace(p, overrides=(*p.overrides, *(f"{k}={json.dumps(v)}" for k, v in given.items())))
            for p, given in zip(points, values)]


def _presentation(args: argparse.Namespace) -> tuple[dict[str, Any], tuple[str, ...] | None]:
    """The study entries and figure formats asked for on the command line.

    Raises:
        ValueError: a ``--baseline`` without ``=``, an unknown format.
    """
    import yaml

    changes: dict[str, Any] = {}
    if args.metrics is not None:
        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        changes["metrics"] = list(dict.fromkeys(names))  # a metric named twice is shown once
    if args.baseline:
        baseline = {}
        for item in args.baseline:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"--baseline {item!r}: expected KEY=VALUE, a swept key and its value at the baseline")
            if key in baseline:
                raise ValueError(f"--baseline {item!r}: {key} is given twice")
            if key == RUN_KEY:  # a compared run's name is text, whatever it looks like (no, 1, null)
                baseline[key] = value.strip()
                continue
            try:  # as on Hydra's command line: 2 is a number, null is None, grid is text
                baseline[key] = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                raise ValueError(f"--baseline {item!r}: {value!r} is not a value (a number, text, true/false "
                                 "or null)") from None
        changes["baseline"] = baseline
    formats = None
    if args.formats is not None:
        formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
        bad = [f for f in formats if f not in FIGURE_FORMATS]
        if bad or not formats:
            raise ValueError(f"--formats {args.formats!r}: expected a comma-separated list of "
                             f"{', '.join(FIGURE_FORMATS)}")
    return changes, formats


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.report SWEEP_DIR``: (re)write a sweep folder's summary, figures and report,
    from its saved results (``--metrics``, ``--baseline``, ``--formats`` present them otherwise)."""
    from .aggregate import load_points

    parser = argparse.ArgumentParser(prog="python -m sim.report", description=main.__doc__)
    parser.add_argument("sweep_dir", help="a sweep folder (hydra.sweep.dir of a `python -m sim -m ...` run); "
                                          "with --runs, a new folder for the comparison")
    parser.add_argument("--runs", nargs="+", metavar="RUN_DIR",
                        help="compare these finished run folders (the first is the baseline) in one report, "
                             "table and figure, written into SWEEP_DIR")
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="with --runs: a name for each run, in the same order (\"status quo\" \"two workers\"), "
                             "shown in the figures and tables instead of the settings that differ")
    parser.add_argument("--metrics", metavar="M1,M2,...",
                        help="the key metrics to tabulate and plot, instead of the study's (names as in summary.json)")
    parser.add_argument("--baseline", action="append", metavar="KEY=VALUE",
                        help="the baseline point, by the value of a swept key (repeat for several keys), "
                             "instead of the study's")
    parser.add_argument("--formats", metavar="F1,F2", default=None,
                        help=f"figure file formats, of {', '.join(FIGURE_FORMATS)} (default: png,svg)")
    args = parser.parse_args(argv)
    try:
        changes, formats = _presentation(args)
    except ValueError as exc:
        print(f"gridgov: {exc}", file=sys.stderr)
        return 2
    if args.names and not args.runs:
        print("gridgov: --names names the runs of --runs; without --runs there are none", file=sys.stderr)
        return 2
    if args.runs:
        if len(args.runs) < 2:
            print("gridgov: --runs needs at least two run folders to compare", file=sys.stderr)
            return 2
        try:
            path = compare_runs(args.sweep_dir, args.runs, changes=changes, formats=formats, names=args.names)
        except (OSError, ValueError) as exc:  # FileExistsError, a link refused; NotARunError, a bad --baseline
            print(f"gridgov: cannot compare: {exc}", file=sys.stderr)
            return 2
        print(f"comparison of {len(args.runs)} runs: wrote {Path(args.sweep_dir) / SUMMARY_CSV}, "
              f"{Path(args.sweep_dir) / DIFF_CSV} and {path}")
        return 0
    if not Path(args.sweep_dir).is_dir():
        print(f"gridgov: {args.sweep_dir} is not a folder (expected a sweep folder: hydra.sweep.dir of a "
              "`python -m sim -m ...` run)", file=sys.stderr)
        return 2
    for tmp in remove_stale_temps(args.sweep_dir):  # write_report would too, silently
        print(f"gridgov: removed {tmp}, left by an earlier report killed while writing it", file=sys.stderr)
    try:
        path = write_report(args.sweep_dir, changes=changes, formats=formats)
    except FileNotFoundError as exc:
        print(f"gridgov: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:  # --metrics or --baseline the study cannot take
        print(f"gridgov: cannot report {args.sweep_dir}: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:  # plan.json edited or damaged by hand (it is written atomically)
        print(f"gridgov: cannot report {args.sweep_dir}: a JSON file of the sweep is not valid JSON ({exc})",
              file=sys.stderr)
        return 2
    points = load_points(args.sweep_dir)
    done = sum(p.status == "finished" for p in points)
    print(f"sweep report: {done}/{len(points)} points finished; wrote {Path(args.sweep_dir) / SUMMARY_CSV}, "
          f"{Path(args.sweep_dir) / DIFF_CSV} and {path}")
    # A point's run removes them when it starts again; here they may still be written.
    left = [p.folder.name for p in points if p.status != "finished" and stale_temps(p.folder)]
    if left:
        print(f"gridgov: unfinished point(s) {', '.join(left)} hold hidden temporary files (.*.gridgov-*.tmp) "
              f"of writes not finished: still running, or left by a killed process; resuming the sweep "
              f"(`+resume={args.sweep_dir}`) removes those left behind", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
