"""What a planner reads in a sweep's figures and report.md, on a hand-made sweep folder.

Two swept keys (workers per grid 1, 2; pooling grid, unit), two
replications, saved summaries written by hand: the report is built from
the saved files only, as after any sweep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import base_config, tiny_town_config

from sim.config import build_job
from sim.metrics import METRICS
from sim.report import write_report
from sim.runner import backlog_title
from sim.study import METRIC_INFO

STUDY = {"name": "t", "title": "Test study", "question": "Which staffing?",
         "sweep": {"staffing.workers_per_grid": "workers per grid", "staffing.pooling": "pooling of workers"},
         "baseline": {"staffing.workers_per_grid": 1, "staffing.pooling": "grid"},
         "metrics": ["overdue_rate", "response_h_p90"], "figures": ["metrics", "heatmap"]}


@pytest.fixture
def sweep_folder(tmp_path) -> Path:
    for num, (workers, pooling) in enumerate([(1, "grid"), (1, "unit"), (2, "grid"), (2, "unit")]):
        cfg = base_config()
        cfg["staffing"] = {"workers_per_grid": workers, "pooling": pooling}
        cfg["study"] = STUDY
        metrics = {m: {"mean": 1.0, "ci95_low": 0.5, "ci95_high": 1.5, "per_replication": [0.5, 1.5]}
                   for m in METRICS}
        # Two replications of a rare event: the t interval reaches below 0 and above 1.
        metrics["overdue_rate"] = {"mean": 0.5 - 0.1 * num, "ci95_low": -0.4, "ci95_high": 1.3,
                                   "per_replication": [0.1, 0.9 - 0.2 * num]}
        folder = tmp_path / str(num)
        folder.mkdir()
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "overrides.yaml").write_text(
            f"- staffing.workers_per_grid={workers}\n- staffing.pooling={pooling}\n")
        (folder / "summary.json").write_text(json.dumps({"metrics": metrics, "config": cfg,
                                                         "manifest": {"seed": cfg["seed"]}}))
    return tmp_path


def test_report_tables_cut_intervals_to_what_a_metric_can_take(sweep_folder):
    report = (write_report(sweep_folder)).read_text(encoding="utf-8")
    assert "0.5 [0, 1]" in report  # overdue share at the baseline: not [-0.4, 1.3]
    assert "-0.4" not in report.split("Paired differences")[0]
    assert "overdue matters (share of matters)" in report and "response time, 90th percentile (hours)" in report
    assert "| point | workers per grid | pooling of workers | status |" in report  # the study's labels, not keys
    saved = pd.read_csv(sweep_folder / "sweep_summary.csv")  # the saved table keeps the interval as computed
    assert saved.loc[(saved.point == 0) & (saved.metric == "overdue_rate"), "ci95_low"].item() == -0.4


def test_figures_mark_the_baseline_point_itself(sweep_folder):
    write_report(sweep_folder)
    # The ring (line figure) and the outline (heatmap) carry the id "baseline" in the SVG files.
    for name in ("metrics.svg", "heatmap.svg"):
        svg = (sweep_folder / name).read_text(encoding="utf-8")
        assert svg.count('id="baseline') == len(STUDY["metrics"]), name


@pytest.mark.parametrize("baseline", [{"staffing.workers_per_grid": 2}, {"staffing.pooling": "unit"}])
def test_a_baseline_naming_one_of_two_swept_keys_is_marked(sweep_folder, baseline):
    """Results saved by a study whose baseline names some swept keys only
    (the first point matching them is the baseline; a sweep now refuses such
    a baseline when it starts): it was marked in neither figure."""
    for summary in sweep_folder.glob("*/summary.json"):
        data = json.loads(summary.read_text())
        data["config"]["study"] = {**STUDY, "baseline": baseline}
        summary.write_text(json.dumps(data))
    write_report(sweep_folder)
    for name in ("metrics.svg", "heatmap.svg"):
        svg = (sweep_folder / name).read_text(encoding="utf-8")
        assert svg.count('id="baseline') == len(STUDY["metrics"]), name


def test_time_metrics_say_hours_and_shares_are_bounded():
    for name, info in METRIC_INFO.items():
        assert info.unit != "h", name
        assert info.bounds == ((0.0, 1.0) if info.unit.startswith("share") else (0.0, float("inf"))), name


def test_a_runs_backlog_figure_is_titled_with_what_tells_two_runs_apart():
    one, _ = build_job(tiny_town_config())
    two, _ = build_job(tiny_town_config(staffing__workers_per_grid=2, staffing__pooling="unit"))
    assert "1 worker(s) per grid each serving their own grid" in backlog_title(one, 2)
    assert "2 worker(s) per grid pooled per unit" in backlog_title(two, 2)


def test_heatmap_cells_without_a_value_say_why(sweep_folder):
    """A combination that is no point of the sweep (two runs compared, some
    combinations swept) is not a failed point, and a failed point is not a
    missing one: each cell says which."""
    shutil.rmtree(sweep_folder / "3")  # (2, unit): not a point at all
    summary = sweep_folder / "1" / "summary.json"  # (1, unit): failed
    data = json.loads(summary.read_text())
    summary.unlink()
    (sweep_folder / "1" / "failed.json").write_text(json.dumps({"error": "boom", "type": "RuntimeError",
                                                                "config": data["config"]}))
    write_report(sweep_folder)
    svg = (sweep_folder / "heatmap.svg").read_text(encoding="utf-8")
    n = len(STUDY["metrics"])
    assert svg.count('id="cell failed') == n and svg.count('id="cell -') == n
    assert svg.count('id="cell value') == 2 * n and 'id="cell n/a' not in svg


def test_three_swept_keys_give_every_point_its_own_line_and_cell(tmp_path):
    """With three swept keys (or three settings told apart in compared runs)
    the figures drew the first two only: two points differing in the third
    shared a heatmap cell (one value hidden, the baseline outline on the
    other's value) and were joined by a vertical line in the line figure.
    Every key after the first is now one axis: a line and a row per
    combination of their values."""
    study = {**STUDY, "sweep": {**STUDY["sweep"], "routing.policy": "routing"},
             "baseline": {"staffing.workers_per_grid": 1, "staffing.pooling": "grid", "routing.policy": "tiered"}}
    points = [(1, "grid", "tiered"), (1, "grid", "grid_only"), (2, "unit", "tiered")]
    for num, (workers, pooling, policy) in enumerate(points):
        cfg = base_config()
        cfg["staffing"] = {"workers_per_grid": workers, "pooling": pooling}
        cfg["routing"]["policy"] = policy
        cfg["study"] = study
        mean = 0.2 + 0.1 * num
        metrics = {m: {"mean": mean, "ci95_low": mean - 0.05, "ci95_high": mean + 0.05,
                       "per_replication": [mean - 0.01, mean + 0.01]} for m in METRICS}
        folder = tmp_path / str(num)
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(
            f"- staffing.workers_per_grid={workers}\n- staffing.pooling={pooling}\n- routing.policy={policy}\n")
        (folder / "summary.json").write_text(json.dumps({"metrics": metrics, "config": cfg,
                                                         "manifest": {"seed": cfg["seed"]}}))
    write_report(tmp_path)
    n = len(study["metrics"])
    heatmap = (tmp_path / "heatmap.svg").read_text(encoding="utf-8")
    # Rows: (grid, tiered), (grid, grid_only), (unit, tiered); columns: 1, 2 workers.
    assert heatmap.count('id="cell value') == 3 * n and heatmap.count('id="cell -') == 3 * n
    assert heatmap.count('id="baseline') == n
    line = (tmp_path / "metrics.svg").read_text(encoding="utf-8")
    assert line.count('id="series ') == 3 * n and line.count('id="baseline') == n


def test_a_report_is_redrawn_with_other_metrics_baseline_and_formats_without_running(sweep_folder, capsys):
    """A planner re-presents saved results (other key metrics, another
    baseline, PDF for a report) with ``python -m sim.report``: nothing runs
    again, and the figures of the earlier report in other formats go."""
    from sim.report import main as report_main

    write_report(sweep_folder)
    assert (sweep_folder / "metrics.svg").exists()
    # A report drawn with the defaults: its rebuild line asks for nothing else.
    assert f"rebuild this report: `python -m sim.report {sweep_folder}`" in \
        (sweep_folder / "report.md").read_text(encoding="utf-8")
    summaries = {p: p.stat().st_mtime_ns for p in sweep_folder.glob("*/summary.json")}
    assert report_main([str(sweep_folder), "--metrics", "response_h_p90",
                        "--baseline", "staffing.workers_per_grid=2", "--baseline", "staffing.pooling=unit",
                        "--formats", "pdf"]) == 0
    report = (sweep_folder / "report.md").read_text(encoding="utf-8")
    assert "response time, 90th percentile" in report and "overdue matters" not in report.split("## 6")[0]
    assert "| 3 | 2 | unit | finished (baseline) |" in report
    assert (f"`python -m sim.report {sweep_folder} --metrics response_h_p90 --baseline staffing.workers_per_grid=2 "
            "--baseline staffing.pooling=unit --formats pdf`") in report  # its rebuild line gives this report
    assert (sweep_folder / "metrics.pdf").read_bytes().startswith(b"%PDF")
    assert not (sweep_folder / "metrics.svg").exists() and not (sweep_folder / "metrics.png").exists()
    assert {p: p.stat().st_mtime_ns for p in sweep_folder.glob("*/summary.json")} == summaries
    diffs = (sweep_folder / "paired_differences.csv").read_bytes()
    for bad, message in ((["--metrics", "nope"], "study.metrics='nope': unknown metric"),
                         (["--baseline", "seed=1"], "study.baseline='seed': not a swept key"),
                         (["--baseline", "staffing.pooling"], "expected KEY=VALUE"),
                         (["--baseline", "staffing.pooling=[1"], "'[1' is not a value"),
                         (["--baseline", "staffing.pooling=grid", "--baseline", "staffing.pooling=unit"],
                          "staffing.pooling is given twice"),
                         (["--baseline", "staffing.workers_per_grid=3"],
                          "no point has these values; the points have staffing.workers_per_grid: 1, 2"),
                         (["--formats", "jpg"], "expected a comma-separated list of png, svg, pdf")):
        capsys.readouterr()
        assert report_main([str(sweep_folder), *bad]) == 2, bad
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (bad, err)
    assert (sweep_folder / "paired_differences.csv").read_bytes() == diffs  # a refused report writes nothing
    # --baseline for one swept key keeps the saved baseline's value of the other
    # (it took the first point matching the one key given).
    assert report_main([str(sweep_folder), "--baseline", "staffing.pooling=unit"]) == 0
    assert "| 1 | 1 | unit | finished (baseline) |" in (sweep_folder / "report.md").read_text(encoding="utf-8")
    for summary in sweep_folder.glob("*/summary.json"):  # results of a study with no baseline of its own
        data = json.loads(summary.read_text())
        del data["config"]["study"]["baseline"]
        summary.write_text(json.dumps(data))
    capsys.readouterr()
    assert report_main([str(sweep_folder), "--baseline", "staffing.pooling=unit"]) == 2
    err = capsys.readouterr().err
    assert "matches 2 points, which differ in staffing.workers_per_grid" in err and len(err.strip().splitlines()) == 1
    # A metric named twice is shown once; a report without PNG embeds the SVG.
    assert report_main([str(sweep_folder), "--metrics", "overdue_rate, overdue_rate", "--formats", "svg"]) == 0
    report = (sweep_folder / "report.md").read_text(encoding="utf-8")
    assert report.count("| overdue matters (share of matters)") == 1 and "![metrics](metrics.svg)" in report


def test_small_numbers_in_report_tables_are_written_out():
    """A planner pastes report.md tables into a report: a small difference
    of shares read 5.15e-05 [-5.9e-05, 0.000162]."""
    from sim.report_md import _ci

    assert _ci(5.15e-05, -5.9e-05, 0.000162) == "0.0000515 [-0.000059, 0.000162]"
    assert _ci(999.7, 999.4, 1000.2) == "1,000 [999, 1,000]"  # not 1e+03
    assert _ci(0.0074, 0.0061, 0.0087) == "0.0074 [0.0061, 0.0087]" and _ci(35891.2, 35630, 36153) == "35,891 [35,630, 36,153]"
    # One replication: a value without an interval, under a "Mean [95% CI]" heading, says so.
    assert _ci(12.5, None, None) == "12.5 (no CI)" and _ci(12.5, float("nan"), float("nan")) == "12.5 (no CI)"
    assert _ci(float("nan"), None, None) == "n/a"


def test_the_terminal_table_writes_numbers_out_with_units_and_relative_precision():
    """The table a run prints read 3.811e+04 [3.785e+04, 3.838e+04] with no
    unit, and left a user to work out from the CI whether 5 replications
    were enough."""
    from sim.runner import format_table

    summary = {
        "events_arrived": {"mean": 38111.2, "ci95_low": 37847.0, "ci95_high": 38375.4},
        "escalation_rate": {"mean": 0.0000515, "ci95_low": 0.0000415, "ci95_high": 0.0000615},
        "wait_h_mean": {"mean": 15.6186, "ci95_low": 15.4006, "ci95_high": 15.8366},
        "replacements": {"mean": 0.0, "ci95_low": 0.0, "ci95_high": 0.0},
        "workers": {"mean": 67.0, "ci95_low": float("nan"), "ci95_high": float("nan")},
        "urgent_response_h_mean": {"mean": 1.247, "ci95_low": -7.846, "ci95_high": 10.34},  # 2 replications
    }
    table = format_table(summary)
    rows = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert "e+0" not in table and "e-0" not in table
    assert rows["events_arrived"].split()[1:] == ["38,111", "[37,847,", "38,375]", "±0.69%", "matters"]
    assert rows["escalation_rate"].split()[1:5] == ["0.0000515", "[0.0000415,", "0.0000615]", "±19%"]
    assert rows["wait_h_mean"].split()[1:] == ["15.62", "[15.4,", "15.84]", "±1.4%", "hours"]
    assert rows["replacements"].split()[1:4] == ["0", "[0,", "0]"] and "n/a" in rows["replacements"]  # no share of 0
    assert rows["workers"].split()[1:] == ["67", "n/a", "n/a", "worker-years", "per", "year"]  # one replication
    assert rows["urgent_response_h_mean"].split()[4] == "±729%"  # not ±7.3e+02%
    assert table.splitlines()[-1].startswith("± of mean: half the 95% CI")
    assert "half the 95% CI" not in format_table({"workers": summary["workers"]})  # no interval, no note


def test_panels_say_which_way_is_better_where_one_is():
    """A heatmap's colours (yellow high) read as good for overdue matters:
    times, backlogs and shares of bad outcomes say lower is better, and
    their heatmap panels put the better end in yellow."""
    for name, info in METRIC_INFO.items():
        if info.unit in ("hours", "open matters") or name in ("overdue_rate", "petition_rate"):
            assert info.better == "lower" and info.title.endswith("(lower is better)"), name
    assert METRIC_INFO["satisfaction_rate"].better == "higher"
    assert METRIC_INFO["workers"].better == "" and METRIC_INFO["workers"].title == "grid worker posts"


def test_swept_keys_no_study_names_read_as_words():
    """Compared runs are labelled from their keys: a rate per duty hour read
    "discovered per duty, hours", as if it were a duration."""
    from sim.report import readable_key

    assert readable_key("arrivals.discovered_per_duty_h") == "discovered per duty hour (arrivals)"
    assert readable_key("arrivals.per_1000_people_day") == "per 1,000 people a day (arrivals)"
    assert readable_key("x.y_per_1000_h") == "y per 1,000 hours (x)"
    assert readable_key("routing.escalate_after_h") == "escalate after, hours (routing)"
    assert readable_key("departments.comprehensive_governance.staff") == "staff (departments › comprehensive governance)"
    assert readable_key("seed") == "seed" and readable_key("horizon_days") == "horizon days"


def test_recovery_days_say_how_many_replications_never_recovered():
    """The mean recovery time left out the replications that had not
    recovered by the horizon, under a plain "Mean [95% CI]" heading: it
    reads as the mean of all, and understates it."""
    from sim.report_md import _recovery_cell

    row = {"mean": 12.0, "ci95_low": 9.0, "ci95_high": 15.0, "replications": 3, "not_recovered": 2}
    assert _recovery_cell("recovery_days", row) == (
        "2 of 5 replications not recovered by the horizon; the 3 that did: 12 [9, 15] (a lower bound for the mean of all)")
    assert _recovery_cell("peak_excess_backlog", row) == "12 [9, 15]"  # every replication has a peak
    assert _recovery_cell("recovery_days", {**row, "not_recovered": 0}) == "12 [9, 15]"
    none = {"mean": float("nan"), "ci95_low": None, "ci95_high": None, "replications": 0, "not_recovered": 4}
    assert _recovery_cell("recovery_days", none) == "none of 4 replications recovered by the horizon"


def test_targets_are_judged_point_by_point_in_the_report(sweep_folder):
    """A study's targets were only dashed lines in a figure: report.md never
    said which points meet them, which is the question a planner asks."""
    from sim.report_md import target_verdict

    # A ceiling (lower is better): the whole interval decides.
    assert target_verdict("response_h_p90", 48.0, 40.0, 38.0, 42.0) == "met"
    assert target_verdict("response_h_p90", 48.0, 50.0, 49.0, 51.0) == "missed"
    assert target_verdict("response_h_p90", 48.0, 47.0, 45.0, 49.0) == "uncertain"
    # A floor where higher is better.
    assert target_verdict("satisfaction_rate", 0.9, 0.95, 0.93, 0.97) == "met"
    assert target_verdict("satisfaction_rate", 0.9, 0.85, 0.83, 0.87) == "missed"
    assert target_verdict("response_h_p90", 48.0, 40.0, None, None) == "met (one replication, no CI)"
    for summary in sweep_folder.glob("*/summary.json"):
        data = json.loads(summary.read_text())
        data["config"]["study"] = {**STUDY, "targets": {"overdue_rate": 0.45, "response_h_p90": 2.0}}
        if summary.parent.name == "3":  # overdue 0.2 [0.1, 0.3]: under the ceiling of 0.45
            data["metrics"]["overdue_rate"] = {"mean": 0.2, "ci95_low": 0.1, "ci95_high": 0.3,
                                               "per_replication": [0.1, 0.3]}
        summary.write_text(json.dumps(data))
    write_report(sweep_folder)
    report = (sweep_folder / "report.md").read_text(encoding="utf-8")
    assert "Targets: overdue matters at most 0.45 share of matters; response time, 90th percentile at most 2 hours" \
        in report
    assert "| 3 | 2 | unit | **met**: 0.2 [0.1, 0.3] | **met**: 1 [0.5, 1.5] |" in report
    assert "| 0 | 1 | grid | **uncertain**: 0.5 [0, 1] | **met**: 1 [0.5, 1.5] |" in report
    assert "Points meeting every target: 3." in report
