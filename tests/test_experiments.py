"""Studies run end to end through the real sweep path.

Every experiment config runs on a tiny horizon as a user runs it
(``python -m sim -m experiment=NAME``: Hydra's sweeper, the joblib launcher
with 2 jobs, the sweep callback), and the sweep folder must hold the promised
summary, figures and report. Further tests force a point to fail and resume
the sweep, report an interrupted sweep, and reproduce a point from its saved
folder.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.aggregate import SUMMARY_COLUMNS
from sim.compose import CONFIG_DIR
from sim.metrics import METRICS
from sim.replay import main as replay_main
from sim.replay import replay
from sim.report import main as report_main
from sim.recovery import recovery_days
from sim.study import METRIC_INFO, TransientSpec

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
TINY = ["horizon_days=20", "warmup_days=2", "replications=2", "++output.plot=false"]  # per-point backlog plots off: they cost time, not coverage


def sweep(args: list[str], sweep_dir: Path | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    """``python -m sim -m ARGS`` with 2 parallel jobs; check the exit status."""
    cmd = [sys.executable, "-m", "sim", "-m", *args, "hydra.launcher.n_jobs=2"]
    if sweep_dir is not None:
        cmd.append(f"hydra.sweep.dir={sweep_dir}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == expect, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def experiment_card(name: str) -> dict:
    """The experiment's YAML: its sweeper params and study block."""
    return yaml.safe_load((CONFIG_DIR / "experiment" / f"{name}.yaml").read_text(encoding="utf-8"))


def n_points(card: dict) -> int:
    n = 1
    for values in card["hydra"]["sweeper"]["params"].values():
        n *= len(str(values).split(","))
    return n


@pytest.fixture(scope="module")
def experiment_sweep(tmp_path_factory):
    """Tiny sweeps of every experiment, run two at a time in the background.

    A sweep alone keeps a core idle while it starts and while it writes its
    report; two at once keep both busy. ``experiment_sweep(name)`` waits for
    that experiment's sweep and returns its folder.
    """
    root = tmp_path_factory.mktemp("experiments")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {name: pool.submit(sweep, [f"experiment={name}", *TINY], root / name) for name in EXPERIMENTS}

        def get(name: str) -> Path:
            runs[name].result()  # re-raises the sweep's failed assertion here
            return root / name

        yield get


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_sweeps_and_reports(name, experiment_sweep):
    folder = experiment_sweep(name)
    card = experiment_card(name)
    keys = list(card["study"]["sweep"])
    table = pd.read_csv(folder / "sweep_summary.csv")
    assert list(table.columns) == ["point", *keys, *SUMMARY_COLUMNS]
    assert table["point"].nunique() == n_points(card)
    assert set(table["status"]) == {"finished"}
    assert set(table["metric"]) >= set(METRICS)
    assert (table.groupby("metric").size() == n_points(card)).all()
    assert (table.loc[table["metric"] == "events_arrived", "replications"] == 2).all()
    for metric in card["study"]["metrics"]:
        part = table[table["metric"] == metric]
        assert part["mean"].notna().any(), metric
        ok = part.dropna(subset=["ci95_low"])
        assert (ok["ci95_low"] <= ok["mean"] + 1e-12).all() and (ok["mean"] <= ok["ci95_high"] + 1e-12).all()

    figures = ["metrics"] + (["heatmap"] if len(keys) > 1 and "heatmap" in card["study"].get("figures", []) else [])
    for stem in figures:
        for ext in ("png", "svg"):
            assert (folder / f"{stem}.{ext}").stat().st_size > 1000, f"{stem}.{ext}"

    report = (folder / "report.md").read_text(encoding="utf-8")
    assert card["study"]["title"] in report
    assert f"python -m sim -m experiment={name}" in report
    assert "common random numbers" in report and "Paired differences" in report
    assert "hydra-core" in report and "run time" in report and "source SHA-256 `" in report

    # Common random numbers: every point ran with the same seed, so replications pair up.
    seeds = {json.loads((d / "summary.json").read_text())["manifest"]["seed"]
             for d in folder.iterdir() if (d / "summary.json").is_file()}
    assert len(seeds) == 1
    diffs = pd.read_csv(folder / "paired_differences.csv")
    assert diffs["point"].nunique() == n_points(card) - 1
    assert (diffs.loc[diffs["metric"] == "events_arrived", "pairs"] == 2).all()


def test_paired_difference_is_the_difference_of_the_replications(experiment_sweep):
    folder = experiment_sweep("grid_size")
    diffs = pd.read_csv(folder / "paired_differences.csv")
    row = diffs[diffs["metric"] == "workers"].iloc[0]
    point = json.loads((folder / str(int(row["point"])) / "summary.json").read_text())
    base = json.loads((folder / str(int(row["baseline_point"])) / "summary.json").read_text())
    expected = [a - b for a, b in zip(point["metrics"]["workers"]["per_replication"],
                                      base["metrics"]["workers"]["per_replication"])]
    assert math.isclose(row["diff_mean"], sum(expected) / len(expected))


def test_recovery_is_counted_from_the_end_of_the_surge():
    spec = TransientSpec(key="k", reference=1.0, start_day=10, end_day=15, recovered_share=0.1, hold_days=3)
    day = np.arange(30.0)
    excess = np.where(day < 10, 0.0, np.where(day <= 15, 20.0 * (day - 10), 100.0 - 10.0 * (day - 15)))
    assert recovery_days(day, np.clip(excess, 0, None), spec) == (100.0, 9.0)
    peak, days = recovery_days(day, np.where(day >= 10, 50.0, 0.0), spec)
    assert peak == 50.0 and math.isnan(days)  # never clears before the horizon


def test_every_metric_has_a_label_and_unit():
    assert [m for m in METRICS if m not in METRIC_INFO] == []


def test_a_failing_point_is_recorded_the_others_survive_and_resume_reruns_it(tmp_path):
    folder = tmp_path / "sweep"
    proc = sweep(["staffing.pooling=grid,bogus", *TINY, "output.events=false"], folder, expect=1)
    assert "failed" in proc.stderr + proc.stdout
    assert (folder / "0" / "summary.json").is_file() and not (folder / "0" / "failed.json").exists()
    failed = json.loads((folder / "1" / "failed.json").read_text())
    assert "staffing.pooling" in failed["error"] and failed["type"] == "ConfigError"
    table = pd.read_csv(folder / "sweep_summary.csv")
    status = table.drop_duplicates("point").set_index("staffing.pooling")["status"]
    assert status.to_dict() == {"grid": "finished", "bogus": "failed"}
    assert table.loc[table["status"] == "failed", "mean"].isna().all()
    assert table.loc[table["status"] == "finished", "mean"].notna().any()
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "1 failed" in report and "staffing.pooling='bogus'" in report
    assert (folder / "metrics.png").is_file()

    # Resume with the bad value fixed: the finished point is kept, the other
    # one (its config changed) runs and its failure record goes.
    kept = (folder / "0" / "summary.json").stat().st_mtime_ns
    sweep(["staffing.pooling=grid,unit", *TINY, "output.events=false", f"+resume={folder}"])
    assert (folder / "0" / "summary.json").stat().st_mtime_ns == kept
    assert (folder / "1" / "summary.json").is_file() and not (folder / "1" / "failed.json").exists()
    saved = json.loads((folder / "1" / "summary.json").read_text())["config"]
    assert saved["staffing"]["pooling"] == "unit" and "resume" not in saved
    assert set(pd.read_csv(folder / "sweep_summary.csv")["status"]) == {"finished"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_report_fails_the_command(tmp_path, jobs):
    """A sweep whose report cannot be written exits non-zero (Hydra would
    turn the callback's exception into a warning and exit 0), says how to
    retry, and leaves no report.md from an earlier session beside it."""
    folder = tmp_path / "sweep"
    (folder / "sweep_summary.csv").mkdir(parents=True)  # the report cannot write its table there
    (folder / "report.md").write_text("an earlier session's report", encoding="utf-8")
    cmd = [sys.executable, "-m", "sim", "-m", "town.people_per_grid=1000,2000", *TINY, "output.events=false",
           f"hydra.launcher.n_jobs={jobs}", f"hydra.sweep.dir={folder}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "python -m sim.report" in proc.stderr + proc.stdout
    assert not (folder / "report.md").exists()
    assert all((folder / p / "summary.json").is_file() for p in ("0", "1"))  # the points are kept


@pytest.mark.parametrize("override,needle", [
    ("study.metrics=[bogus_metric]", "study.metrics='bogus_metric'"),
    ("study.metrics=[]", "study.metrics=[]"),
    ("study.baseline={town.people_per_grid:777}", "study.baseline: town.people_per_grid=777: matches no point of "
     "this sweep (its values: town.people_per_grid: 500, 750, 1000, 1500, 2000, 3000); to run these points, compare "
     "them with one of them: add 'study.baseline={town.people_per_grid:VALUE}'"),
    ("study.baseline={town.people_per_grid:abc}", "study.baseline: town.people_per_grid='abc': matches no point"),
    ("study.baseline={town.people_per_grid:[1,2]}", "study.baseline: town.people_per_grid=[1, 2]: matches no point"),
    ("hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs=0"),
    ("+resume=", "resume='': expected the folder of an earlier sweep"),
    ("+resume={tmp}/never_ran", "resume='{tmp}/never_ran': expected the folder of an earlier sweep"),
    ("hydra.sweep.dir={tmp}/a_file", "hydra.sweep.dir='{tmp}/a_file': cannot make the sweep folder there"),
])
def test_a_bad_sweep_setting_stops_the_sweep_before_any_point(tmp_path, override, needle):
    """A bad value in the study block, the launcher's job count, a resume
    path or the sweep folder ends the sweep when it starts, with one line
    naming the key and exit status 2, as a single run's bad config does
    (Hydra would warn and run every point for a report that cannot be
    written, or print a traceback; an empty resume path swept into the
    current folder)."""
    folder = tmp_path / "sweep"
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    override, needle = (text.replace("{tmp}", str(tmp_path)) for text in (override, needle))
    jobs = [] if "n_jobs" in override else ["hydra.launcher.n_jobs=2"]
    where = [] if "sweep.dir" in override else [f"hydra.sweep.dir={folder}"]
    cmd = [sys.executable, "-m", "sim", "-m", "experiment=grid_size", *TINY, *jobs, override, *where]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"gridgov: invalid config: {needle}" in proc.stderr
    assert not list(folder.glob("*/summary.json")) and not list(folder.glob("*/.hydra"))


@pytest.mark.parametrize("swept,needle", [
    ("routing=tiered,no_such_routing", "Could not find 'routing/no_such_routing'"),  # a group's option names a file
    ("~warmup_days=30,31", "The value of 'warmup_days' is 30 and not 31"),  # a deletion checks the value
])
def test_a_later_point_that_cannot_compose_stops_the_sweep_before_any_point(tmp_path, swept, needle):
    """Hydra composes one point of each shape of overrides before any runs
    (not every point); a point whose group choice or deletion differs has a
    shape of its own, so a bad one fails the sweep before the first point."""
    folder = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sim", "-m", swept, "horizon_days=40", "replications=1", "++output.plot=false",
           "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={folder}"]  # one job: the good first point would finish
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and needle in proc.stderr, proc.stderr[-2000:]
    assert not list(folder.glob("*/summary.json")) and not list(folder.glob("*/.hydra"))


def test_points_of_one_shape_are_composed_once(monkeypatch):
    """Values of plain keys do not change the shape; group choices,
    deletions, ``hydra`` keys, other value types, containers and null do."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.plugins.sweeper import Sweeper

    from sim import callbacks
    from sim.compose import CONFIG_DIR

    base = ["experiment=grid_size", "replications=2"]
    points = [[f"town.people_per_grid={v}", *base] for v in (500, 750, 1000)]
    kinds = [["town.people_per_grid=abc", *base],          # another type
             ["town.people_per_grid=null", *base],         # null replaces
             ["town.people_per_grid=[1,2]", *base],        # a list replaces
             ["town.people_per_grid={a:1}", *base],        # a dict merges
             ["town.people_per_grid=500", "experiment=staffing", "replications=2"],  # a group's option
             ["+town.people_per_grid=500", *base],         # append, not change
             ["town.people_per_grid=500", "~replications=2"],  # a deletion's value counts
             ["town.people_per_grid=500", "~replications=3"],
             ["town.people_per_grid=500", *base, "hydra.job.chdir=false"],  # hydra's keys have a schema
             ["town.people_per_grid=500", *base, "hydra.job.chdir=true"]]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):  # the config loader a sweep has
        loader = GlobalHydra.instance().hydra.config_loader
        shapes = callbacks.override_shapes(loader, points + kinds)
        composed = []
        monkeypatch.setattr(Sweeper, "validate_batch_is_legal", lambda self, batch: composed.extend(batch))
        sweeper = type("S", (), {"hydra_context": type("C", (), {"config_loader": loader})()})()
        monkeypatch.setattr(callbacks, "_composed", set())
        callbacks._validate_each_shape_once(sweeper, points + kinds + points)
        assert composed == [points[0], *kinds]  # the first point of each shape, in order
        # A shape of which a point was composed already (the sweep's first check) is not composed again.
        composed.clear()
        monkeypatch.setattr(callbacks, "_composed", {tuple(points[1]), tuple(kinds[0])})
        callbacks._validate_each_shape_once(sweeper, points + kinds + points)
        assert composed == kinds[1:]
    assert len(set(shapes[:3])) == 1 and len(set(shapes)) == 1 + len(kinds)


def test_single_run_still_fails_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "staffing.pooling=bogus", f"hydra.run.dir={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "staffing.pooling" in proc.stderr


def test_an_interrupted_sweep_is_still_reported(experiment_sweep, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(experiment_sweep("grid_size"), folder)
    # Point 2 was killed before writing its summary; the sweep never got to its report.
    (folder / "2" / "summary.json").unlink()
    for name in ("sweep_summary.csv", "paired_differences.csv", "report.md", "metrics.png"):
        (folder / name).unlink()
    assert report_main([str(folder)]) == 0
    status = pd.read_csv(folder / "sweep_summary.csv").drop_duplicates("point").set_index("point")["status"]
    assert status[2] == "incomplete" and (status.drop(2) == "finished").all()
    assert "not finished" in (folder / "report.md").read_text(encoding="utf-8")
    assert (folder / "metrics.png").is_file()


def test_a_point_is_reproduced_exactly_from_its_folder(experiment_sweep, tmp_path):
    point = experiment_sweep("grid_size") / "0"
    saved = json.loads((point / "summary.json").read_text())["metrics"]

    assert replay(point, tmp_path / "replay") == []

    # The Hydra way: the point's own saved config as the primary config.
    proc = subprocess.run([sys.executable, "-m", "sim", "--config-path", str((point / ".hydra").resolve()),
                           "--config-name", "config", f"hydra.run.dir={tmp_path / 'hydra'}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "hydra" / "summary.json").read_text())["metrics"]
    assert {k: v["per_replication"] for k, v in again.items()} == {k: v["per_replication"] for k, v in saved.items()}


def test_replay_detects_a_difference(experiment_sweep, tmp_path, capsys):
    point = tmp_path / "point"
    shutil.copytree(experiment_sweep("grid_size") / "0", point)
    summary = json.loads((point / "summary.json").read_text())
    summary["metrics"]["events_arrived"]["per_replication"][0] += 1
    (point / "summary.json").write_text(json.dumps(summary))
    assert replay_main([str(point)]) == 1
    assert "events_arrived replication 0" in capsys.readouterr().err


@pytest.mark.parametrize("content", ['{"con', "[1, 2]", '{"metrics": {}}', None])
def test_replay_of_an_unreadable_run_says_so_in_one_line(tmp_path, capsys, content):
    """A damaged or foreign summary.json, or a file given for the run folder,
    is 'cannot replay' (exit 2), never a traceback or exit 1 ('values differ')."""
    if content is None:
        target = tmp_path / "a_file"
        target.write_text("x", encoding="utf-8")
    else:
        target = tmp_path / "run"
        target.mkdir()
        (target / "summary.json").write_text(content, encoding="utf-8")
    assert replay_main([str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gridgov: cannot replay:") and "\n" not in err


def test_report_of_a_file_or_a_damaged_plan_says_so_in_one_line(experiment_sweep, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    assert report_main([str(a_file)]) == 2
    folder = tmp_path / "sweep"
    shutil.copytree(experiment_sweep("grid_size"), folder)
    (folder / "plan.json").write_text("{bad", encoding="utf-8")
    assert report_main([str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("gridgov: ") for line in err)


def test_a_sweep_does_not_trust_the_points_an_earlier_sweep_composed(monkeypatch):
    """Points composed by an earlier sweep in the same process (a notebook,
    tests) prove nothing for this one: its config may differ, and a point of
    theirs must be composed again here."""
    from hydra import compose, initialize_config_dir

    from sim import callbacks
    from sim.compose import CONFIG_DIR

    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("config", overrides=["experiment=grid_size", "study.metrics=[no_such_metric]"],
                      return_hydra_config=True)
    monkeypatch.setattr(callbacks, "_composed", {("town.people_per_grid=500",)})
    with pytest.raises(SystemExit):  # the bad study block ends this sweep's start, after the slate is wiped
        callbacks.SweepReport().on_multirun_start(cfg)
    assert callbacks._composed == set()
