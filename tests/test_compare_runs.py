"""Separate runs compared in one report (``python -m sim.report OUT --runs A B``).

A planner runs two scenarios one after the other and wants them in one
table and one figure: the runs become the points of a comparison, the keys
compared are the scenario values that differ between their saved configs,
and the paired differences hold only when the runs share their seed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.config import build_job
from sim.output import OutputOptions
from sim.report import main as report_main
from sim.report_md import differing_keys
from sim.runner import run
from sim.study import DEFAULT_METRICS

QUIET = OutputOptions(events=False, plot=False, progress=False)


@pytest.fixture
def make_run(tiny_config, tmp_path):
    """A finished run folder of the tiny town, two replications of two days."""
    def make(name: str, **changes) -> Path:
        cfg = tiny_config(**{"replications": 2, "arrivals__per_1000_people_day": 20.0, **changes})
        cfg["output"] = {"events": False, "plot": False}
        scenario, _ = build_job(cfg)
        run(scenario, tmp_path / name, cfg, QUIET)
        return tmp_path / name
    return make


def test_two_runs_one_after_the_other_in_one_table_figure_and_report(make_run, tmp_path, capsys):
    a = make_run("a")
    b = make_run("b", staffing__workers_per_grid=2, jobs=2)  # jobs changes no result: not a compared key
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b)]) == 0
    assert "comparison of 2 runs" in capsys.readouterr().out
    table = pd.read_csv(out / "sweep_summary.csv")
    assert list(table.columns[:2]) == ["point", "staffing.workers_per_grid"]
    assert table.drop_duplicates("point")["staffing.workers_per_grid"].tolist() == [1, 2]
    diffs = pd.read_csv(out / "paired_differences.csv")
    assert set(diffs["point"]) == {1} and (diffs["baseline_point"] == 0).all()
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "metrics.svg").is_file()
    svg = (out / "metrics.svg").read_text(encoding="utf-8")  # the first run, the differences' baseline, is ringed
    assert svg.count('id="baseline') == len(DEFAULT_METRICS)  # one ring per panel
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Study `comparison`: 2 of 2 points finished" in report and "Paired differences" in report
    # The compared setting in words, as a planner would write it, not as a config path.
    assert "| point | workers per grid (staffing) | status |" in report
    assert "how do the key metrics differ with workers per grid (staffing)?" in report
    assert f"python -m sim.replay {a.resolve()}" in report and "+resume=" not in report
    assert (a / "summary.json").is_file() and not (a / "sweep_summary.csv").exists()  # the runs are only read


def test_only_the_values_that_differ_are_compared_not_the_overrides_typed(make_run, tmp_path):
    """A run made with `routing.escalate_after_h=72` typed (the default) and
    one with `staffing.workers_per_grid=2` typed: the report listed the
    escalation threshold as compared (the overrides differ, the values do
    not), and a heatmap row per phantom key."""
    import yaml

    a = make_run("a")
    b = make_run("b", staffing__workers_per_grid=2)
    for run_dir, typed in ((a, ["routing.escalate_after_h=72", "town.population=2000"]),
                           (b, ["staffing.workers_per_grid=2"])):
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(typed))
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b)]) == 0
    table = pd.read_csv(out / "sweep_summary.csv")
    assert list(table.columns[:3]) == ["point", "staffing.workers_per_grid", "metric"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "escalate" not in report.split("## 4.")[0].split("Swept parameters:")[1].split("Every other value")[0]
    assert "town.population" not in report.split("Swept parameters:")[1].split("Every other value")[0]


def test_runs_are_shown_by_the_names_given(make_run, tmp_path, capsys):
    """A planner's report says "status quo" and "two workers", not the
    config values that tell the runs apart (those are listed once)."""
    a = make_run("a")
    b = make_run("b", staffing__workers_per_grid=2, staffing__pooling="unit")
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b), "--names", "status quo", "two workers"]) == 0
    table = pd.read_csv(out / "sweep_summary.csv")
    assert list(table.columns[:2]) == ["point", "run"]
    assert table.drop_duplicates("point")["run"].tolist() == ["status quo", "two workers"]
    assert pd.read_csv(out / "paired_differences.csv")["run"].unique().tolist() == ["two workers"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "# Compared runs: how do the key metrics differ between status quo and two workers?" in report
    assert "| point | compared run | status |" in report and "| 0 | status quo | finished (baseline)" in report
    assert ("status quo: pooling (staffing) = grid; workers per grid (staffing) = 1 | two workers: pooling "
            "(staffing) = unit; workers per grid (staffing) = 2") in report
    svg = (out / "metrics.svg").read_text(encoding="utf-8")
    assert "status quo" in svg and "two workers" in svg  # the figures' axis
    assert f"rebuild this report: `python -m sim.report {out}`" in report  # the names are kept with the comparison
    assert f"--runs {a.resolve()} {b.resolve()} --names 'status quo' 'two workers'`" in report
    # One name per run, distinct; --names only with --runs.
    for bad, message in ((["--names", "only one"], "expected 2 distinct names, one per run folder"),
                         (["--names", "same", "same"], "expected 2 distinct names")):
        capsys.readouterr()
        assert report_main([str(tmp_path / "c2"), "--runs", str(a), str(b), *bad]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "c2").exists()
    assert report_main([str(out), "--names", "x"]) == 2
    assert "--names names the runs of --runs" in capsys.readouterr().err


def test_runs_of_different_towns_compare_the_town_chosen_not_each_of_its_keys(make_run, tmp_path):
    """Runs of town=xiaji and town=synthetic: the report had a column per
    key of the town's config, one holding the whole mapping of its units."""
    import yaml

    a = make_run("a")
    b = make_run("b", town__name="other", staffing__workers_per_grid=2)
    for run_dir, town in ((a, "tiny"), (b, "other")):
        (run_dir / ".hydra").mkdir()
        choices = {"town": town, "routing": "tiered", "experiment": None, "hydra/launcher": "joblib"}
        (run_dir / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}))
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b)]) == 0
    table = pd.read_csv(out / "sweep_summary.csv")
    assert list(table.columns[:4]) == ["point", "town", "staffing.workers_per_grid", "metric"]
    assert table.drop_duplicates("point")["town"].tolist() == ["tiny", "other"]
    assert "| point | town | workers per grid (staffing) | status |" in (out / "report.md").read_text(encoding="utf-8")
    # A key inside the group that a run set on its command line is compared too.
    (b / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["town.name=other"]))
    assert report_main([str(tmp_path / "typed"), "--runs", str(a), str(b)]) == 0
    table = pd.read_csv(tmp_path / "typed" / "sweep_summary.csv")
    assert list(table.columns[:4]) == ["point", "town", "staffing.workers_per_grid", "town.name"]


def test_names_that_look_like_numbers_or_yaml_stay_names(make_run, tmp_path, capsys, monkeypatch):
    """Names 1, 01 and N/A were drawn at one x (or as null) on the figure;
    `--baseline run=no` was read as false; a refused --baseline left the new
    folder half-written, so the corrected command was refused too."""
    a, b, c = make_run("a"), make_run("b", staffing__workers_per_grid=2), make_run("c", staffing__workers_per_grid=3)
    out = tmp_path / "compare x"
    assert report_main([str(out), "--runs", str(a), str(b), str(c), "--names", "no", "01", "N/A",
                        "--baseline", "run=nope"]) == 2
    assert "no point has these values" in capsys.readouterr().err and not out.exists()
    assert report_main([str(out), "--runs", str(a), str(b), str(c), "--names", "no", "01", "N/A",
                        "--baseline", "run=01"]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| 1 | 01 | finished (baseline)" in report
    assert f"rebuild this report: `python -m sim.report '{out}' --baseline run=01`" in report  # quoted path
    table = pd.read_csv(out / "sweep_summary.csv", dtype={"run": str}, keep_default_na=False)
    assert table.drop_duplicates("point")["run"].tolist() == ["no", "01", "N/A"]
    # The figure reads the names back as text: three categories in run order, not 1 twice and a null.
    from sim import figures, report
    from sim.figures import _axis_values
    from sim.study import parse_study

    seen = {}
    def capture(table, study, folder, **kw):
        seen["runs"] = list(dict.fromkeys(table[report.RUN_KEY]))
        return []
    monkeypatch.setattr(figures, "metrics_figure", capture)
    job = report.FigureJob("metrics", parse_study({"sweep": {"run": "compared run"}}, ["run"]), ("png",))
    with pytest.raises(RuntimeError):  # the capture drew no file
        report.draw_figure(out, job)
    assert seen["runs"] == ["no", "01", "N/A"] and _axis_values(seen["runs"]) == (["no", "01", "N/A"], False)


def test_runs_with_different_seeds_are_not_paired_and_the_report_says_so(make_run, tmp_path):
    a = make_run("a")
    b = make_run("b", staffing__workers_per_grid=2, seed=7)
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b)]) == 0
    table = pd.read_csv(out / "sweep_summary.csv")
    assert "seed" not in table.columns  # a seed is not a setting to plot against
    assert pd.read_csv(out / "paired_differences.csv").empty
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "the points ran with different seeds" in report and "**common random numbers**" not in report
    assert "No paired differences for point(s) 1: a different seed" in report


def test_the_report_says_whether_the_runs_saw_the_same_resident_reports(make_run, tmp_path):
    """The report said every point sees the same matters whenever the seeds
    agree; another horizon or arrival rate redraws the resident reports."""
    import json

    a = make_run("a")
    same = make_run("staffing", staffing__workers_per_grid=2)
    other = make_run("rate", arrivals__per_1000_people_day=25.0)
    # The same report times, other complexities: not the same matters either.
    mix = make_run("mix", arrivals__complexity={"simple": 0.5, "difficult": 0.48, "urgent": 0.02})
    digests = [json.loads((f / "summary.json").read_text())["manifest"]["resident_reports_digest"]
               for f in (a, same, other, mix)]
    assert len(digests[0]) == 2 and digests[0] == digests[1] and digests[2][0] != digests[0][0]
    assert digests[3][0] != digests[0][0]
    for name, run_dir, agree in (("c_same", same, True), ("c_other", other, False)):
        assert report_main([str(tmp_path / name), "--runs", str(a), str(run_dir)]) == 0
        report = (tmp_path / name / "report.md").read_text(encoding="utf-8")
        assert ("checked: the times, categories and complexities of their reports agree" in report) is agree, name
        assert ("so the points do not see exactly the same matters" in report) is not agree, name
        assert "**common random numbers**" in report  # the same seed streams either way
    # Results saved before the fingerprint: the report cannot check, and says so.
    summary = json.loads((other / "summary.json").read_text())
    del summary["manifest"]["resident_reports_digest"]
    (other / "summary.json").write_text(json.dumps(summary))
    assert report_main([str(tmp_path / "c_old"), "--runs", str(a), str(other)]) == 0
    assert "predate the fingerprint" in (tmp_path / "c_old" / "report.md").read_text(encoding="utf-8")


def test_comparing_needs_finished_runs_and_a_new_folder(make_run, tmp_path, capsys):
    a = make_run("a")
    assert report_main([str(tmp_path / "c1"), "--runs", str(a)]) == 2
    assert report_main([str(tmp_path / "c2"), "--runs", str(a), str(tmp_path / "missing")]) == 2
    assert "no summary.json: not the folder of a finished run" in capsys.readouterr().err
    assert report_main([str(a.parent), "--runs", str(a), str(a)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err


def test_a_run_folder_with_a_damaged_summary_is_one_line(make_run, tmp_path, capsys, monkeypatch):
    """A summary.json cut short or of another program ended in a traceback;
    so did a link the file system refuses (Windows without the right to make one)."""
    a = make_run("a")
    for i, text in enumerate(('{"metrics": ', "[1]", '{"metrics": {}}')):
        other = tmp_path / f"other{i}"
        other.mkdir()
        (other / "summary.json").write_text(text)
        assert report_main([str(tmp_path / f"c{i}"), "--runs", str(a), str(other)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"gridgov: cannot compare: {other.resolve() / 'summary.json'}: ") and err.count("\n") == 1

    def refused(*_args, **_kwargs):
        raise OSError(1314, "A required privilege is not held by the client")
    monkeypatch.setattr(Path, "symlink_to", refused)
    assert report_main([str(tmp_path / "c9"), "--runs", str(a), str(a)]) == 2
    assert "gridgov: cannot compare: " in capsys.readouterr().err


def test_differing_keys():
    base = {"seed": 1, "jobs": 1, "staffing": {"workers_per_grid": 1, "pooling": "grid"},
            "town": {"name": "x", "units": {"v": {"population": 1}}}}
    other = {"seed": 2, "jobs": 2, "staffing": {"workers_per_grid": 1, "pooling": "unit"},
             "town": {"name": "x", "population": 5}}
    assert differing_keys([base, other]) == ["staffing.pooling", "town.population", "town.units"]
    assert differing_keys([base, base]) == []


def test_a_sweep_points_own_study_is_not_the_comparisons(make_run, tmp_path):
    """A run compared with a sweep point: the point's study block named its
    sweep's keys, which then showed as compared though both runs had the
    same values."""
    a = make_run("a")
    b = make_run("b", routing__escalate_after_h=24.0,
                 study={"name": "s", "sweep": {"staffing.workers_per_grid": "workers per grid",
                                               "staffing.pooling": "pooling"}})
    out = tmp_path / "compare"
    assert report_main([str(out), "--runs", str(a), str(b)]) == 0
    table = pd.read_csv(out / "sweep_summary.csv")
    assert list(table.columns[:2]) == ["point", "routing.escalate_after_h"] and "staffing.pooling" not in table
