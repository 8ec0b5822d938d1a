"""Every config composes and runs briefly; the command line works as a Hydra app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim import metrics
from sim.arrivals import generate
from sim.compose import CONFIG_DIR, load_config, load_scenario
from sim.config import build_job
from sim.model import Model
from sim.runner import OutputOptions, run
from sim.town import build_layout

SHORT = ["horizon_days=6", "warmup_days=1", "replications=1"]


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("option", group_options("town"))
def test_every_town_composes_and_runs(option):
    scenario = load_scenario([f"town={option}", *SHORT])
    result = run(scenario, None, options=OutputOptions(plot=False))
    assert result.summary["events_arrived"]["mean"] > 0


@pytest.mark.parametrize("option", group_options("routing"))
def test_every_routing_policy_composes_and_runs(option):
    scenario = load_scenario([f"routing={option}", *SHORT])
    assert scenario.routing.policy == option
    assert run(scenario, None, options=OutputOptions(plot=False)).summary["events_closed"]["mean"] > 0


@pytest.mark.parametrize("option", group_options("experiment"))
def test_every_experiment_composes_and_runs_its_base_point(option):
    cfg = load_config([f"experiment={option}", *SHORT])
    scenario, options = build_job(cfg)
    assert run(scenario, None, options=OutputOptions(plot=False)).summary["events_arrived"]["mean"] >= 0


def test_xiaji_reproduces_the_source_partition():
    layout = build_layout(load_scenario().town)
    kinds = [u.kind for u in load_scenario().town.units]
    per_unit = np.bincount(layout.grid_unit)
    assert layout.n_grids == 67
    assert sum(n for n, k in zip(per_unit, kinds) if k == "community") == 10
    assert sum(n for n, k in zip(per_unit, kinds) if k == "village") == 57
    assert kinds.count("village") == 9 and kinds.count("community") == 2


def test_grid_size_partitions_see_the_same_matters():
    """Common random numbers across partitions: arrivals are per resident block."""
    a = load_scenario(["town=synthetic", "town.people_per_grid=500", "horizon_days=20", "warmup_days=2"])
    b = load_scenario(["town=synthetic", "town.people_per_grid=2000", "horizon_days=20", "warmup_days=2"])
    la, lb = build_layout(a.town), build_layout(b.town)
    assert la.n_grids == 4 * lb.n_grids
    xa, xb = generate(a, la, 3), generate(b, lb, 3)
    ra, rb = ~xa.discovered, ~xb.discovered  # residents' reports; finds on duty depend on the workers
    assert ra.sum() > 0 and xa.discovered.sum() > xb.discovered.sum()  # more workers find more
    np.testing.assert_array_equal(xa.time_h[ra], xb.time_h[rb])
    np.testing.assert_array_equal(xa.work_h[ra], xb.work_h[rb])
    np.testing.assert_array_equal(la.grid_unit[xa.grid[ra]], lb.grid_unit[xb.grid[rb]])  # same village


def test_staffing_changes_do_not_shift_arrivals():
    a = load_scenario(["horizon_days=20", "warmup_days=2"])
    b = load_scenario(["horizon_days=20", "warmup_days=2", "staffing.workers_per_grid=2", "routing.escalate_after_h=2"])
    layout = build_layout(a.town)
    xa, xb = generate(a, layout, 0), generate(b, layout, 0)
    np.testing.assert_array_equal(xa.time_h[~xa.discovered], xb.time_h[~xb.discovered])


def test_same_seed_same_results_and_other_seed_differs():
    def once(seed):
        s = load_scenario(["horizon_days=30", "warmup_days=5", f"seed={seed}"])
        layout = build_layout(s.town)
        return metrics.compute(Model(s, layout, generate(s, layout, 0)).run())

    assert once(1) == once(1)
    assert once(1) != once(2)


def run_cli(args, tmp_path, check=True):
    proc = subprocess.run([sys.executable, "-m", "sim", *args, f"hydra.run.dir={tmp_path}"],
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_help_and_cfg_job(tmp_path):
    helped = run_cli(["--help"], tmp_path)
    assert f"town: {', '.join(group_options('town'))}" in helped.stdout
    assert f"routing: {', '.join(group_options('routing'))}" in helped.stdout
    job = run_cli(["--cfg", "job", "staffing.workers_per_grid=2", "routing.escalate_after_h=48"], tmp_path)
    assert "workers_per_grid: 2" in job.stdout and "escalate_after_h: 48" in job.stdout


def test_cli_run_writes_the_run_folder(tmp_path):
    proc = run_cli(["horizon_days=20", "warmup_days=2", "replications=2", "progress=false"], tmp_path)
    assert "resolution_h_p90" in proc.stdout and "95% CI" in proc.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    for name in metrics.METRICS:
        entry = summary["metrics"][name]
        assert set(entry) == {"mean", "ci95_low", "ci95_high", "per_replication"}
        assert len(entry["per_replication"]) == 2
    assert summary["config"]["staffing"]["workers_per_grid"] == 1
    manifest = summary["manifest"]
    assert manifest["seed"] == summary["config"]["seed"] and manifest["packages"]["simpy"]
    assert "commit" in manifest["git"] and manifest["wall_seconds"] > 0
    for name in ("events.csv", "grids.csv", "backlog.csv", "backlog.png", ".hydra/config.yaml"):
        assert (tmp_path / name).exists(), name
    import pandas as pd

    events = pd.read_csv(tmp_path / "events.csv")
    assert set(events["replication"]) == {0, 1}
    assert {"grid", "unit", "category", "complexity", "route", "t_report", "t_start", "t_onsite",
            "t_closed", "escalated", "overdue"} <= set(events.columns)
    per_rep = summary["metrics"]["events_arrived"]["per_replication"]
    in_window = events[(events.t_report >= 48) & (events.t_report < 480)]
    assert in_window.groupby("replication").size().tolist() == per_rep
    grids = pd.read_csv(tmp_path / "grids.csv")
    assert len(grids) == 2 * 67
    assert not list(Path(tmp_path).glob(".*.tmp"))  # no temporary files left behind
    # The run's log holds the command and what the terminal showed, once.
    log = (tmp_path / "__main__.log").read_text(encoding="utf-8")
    assert "started: python -m sim horizon_days=20" in log
    final = proc.stdout.strip().splitlines()[-1]
    assert final.startswith("2 replications of 20 days in ") and log.count(final) == 1
    assert proc.stdout.count(final) == 1 and "resolution_h_p90" in log


def test_parquet_events_hold_the_same_rows_as_csv(tmp_path):
    import pandas as pd

    scenario = load_scenario(["horizon_days=10", "warmup_days=1", "replications=2"])
    run(scenario, tmp_path / "p", options=OutputOptions(progress=False, plot=False, events_format="parquet"))
    run(scenario, tmp_path / "c", options=OutputOptions(progress=False, plot=False))
    a = pd.read_parquet(tmp_path / "p" / "events.parquet")
    b = pd.read_csv(tmp_path / "c" / "events.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a, b, check_dtype=False, atol=1e-6, rtol=0)  # CSV keeps 6 decimals


def test_auto_event_format_is_csv_for_a_town_and_parquet_for_a_city():
    from sim.runner import AUTO_PARQUET_ROWS, events_format_for

    town = load_scenario([])
    city = load_scenario(["town=synthetic", "town.population=3000000", "replications=1"])
    assert events_format_for("auto", town) == "csv" and events_format_for("auto", city) == "parquet"
    assert events_format_for("csv", city) == "csv" and events_format_for("parquet", town) == "parquet"
    # the threshold is on expected rows: residents' reports over all replications
    rows = city.town.population / 1000 * city.arrivals.per_1000_people_day * city.run.horizon_days
    assert rows > AUTO_PARQUET_ROWS > 5 * town.town.population / 1000 * town.arrivals.per_1000_people_day * 365
