"""A sweep killed by a real signal loses nothing, and resuming it gives the same results.

The sweep runs in its own process group (joblib's workers included) and is
killed with SIGKILL once its first point has finished: no handler runs, so
whatever is on disk is what atomic writes guarantee. Resuming with
``+resume=PATH`` then runs only the unfinished points, and the final
``sweep_summary.csv`` must equal that of an uninterrupted sweep of the same
config (common random numbers make every point's numbers independent of
which process ran it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SWEEP = ["-m", "experiment=staffing", "town=synthetic", "town.population=6000",
         "town.unit_population=3000", "horizon_days=40", "warmup_days=2", "replications=2",
         "hydra.launcher.n_jobs=1", "progress=false"]


def sweep(folder: Path, *extra: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *SWEEP, f"hydra.sweep.dir={folder}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finished_points(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.glob("*/summary.json"))


def test_killed_sweep_resumes_to_the_same_summary(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    ref = sweep(whole)
    out, _ = ref.communicate(timeout=600)
    assert ref.returncode == 0, out

    proc = sweep(broken, start_new_session=True)
    deadline = time.monotonic() + 300
    while not finished_points(broken) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed: make its points longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    done_before = finished_points(broken)
    assert 1 <= len(done_before) < 6

    # What the kill left on disk: every summary parses (no half-written file
    # under a final name), and no sweep summary claims the sweep is complete.
    for point in done_before:
        json.loads((point / "summary.json").read_text())
    assert not (broken / "sweep_summary.csv").exists()
    mtimes = {p: (p / "summary.json").stat().st_mtime_ns for p in done_before}

    resumed = sweep(broken, f"+resume={broken}")
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out
    assert len(finished_points(broken)) == 6
    for point, mtime in mtimes.items():  # finished points were not run again
        assert (point / "summary.json").stat().st_mtime_ns == mtime

    a = pd.read_csv(whole / "sweep_summary.csv")
    b = pd.read_csv(broken / "sweep_summary.csv")
    keep = [c for c in a.columns if c not in ("wall_seconds", "path", "folder")]
    order = ["point", "metric"]
    pd.testing.assert_frame_equal(a[keep].sort_values(order).reset_index(drop=True),
                                  b[keep].sort_values(order).reset_index(drop=True))


def test_a_failed_run_leaves_no_earlier_summary_in_its_folder(tmp_path, monkeypatch):
    """summary.json marks a run folder complete: a run that fails in a folder
    holding an earlier run's summary removes it, so that the earlier summary
    never stands beside this run's partial files."""
    import pytest

    from sim import runner
    from sim.compose import load_config
    from sim.config import build_job

    (tmp_path / "summary.json").write_text('{"seed": 1}', encoding="utf-8")
    config = load_config(["horizon_days=5", "warmup_days=0", "replications=1"])
    scenario, options = build_job(config)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")
        yield  # pragma: no cover - a generator, as replications is

    monkeypatch.setattr(runner, "replications", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.run(scenario, tmp_path, config, options)
    assert not (tmp_path / "summary.json").exists()


def test_runs_started_in_the_same_second_get_their_own_folders():
    """Run and sweep folders are named to the microsecond: two commands
    started in the same second must not write into (and mix) one folder."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from sim.compose import CONFIG_DIR

    dirs = []
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="gridgov"):
        for _ in range(2):  # composed as two commands would be, well within one second
            cfg = compose("config", return_hydra_config=True)
            dirs.append((OmegaConf.select(cfg, "hydra.run.dir"), OmegaConf.select(cfg, "hydra.sweep.dir")))
    (run_a, sweep_a), (run_b, sweep_b) = dirs
    assert run_a != run_b and sweep_a != sweep_b


KILL_POINT_1 = '''
import importlib.abc, importlib.util, os, sys

class _KillPointOne(importlib.abc.MetaPathFinder):
    """In a sweep's worker process, point 1 dies as if killed for memory."""

    def find_spec(self, name, path=None, target=None):
        if name != "sim.sweep":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            real = module.run_point

            def run_point(config, point_dir, sweep_dir, num, overrides):
                if num == 1:  # once point 0 has finished in the other worker
                    import pathlib, time
                    done = pathlib.Path(sweep_dir) / "0" / "summary.json"
                    for _ in range(600):
                        if done.is_file():
                            break
                        time.sleep(0.1)
                    os._exit(9)
                return real(config, point_dir, sweep_dir, num, overrides)

            module.run_point = run_point

        spec.loader.exec_module = patched
        return spec

sys.meta_path.insert(0, _KillPointOne())
'''


def test_a_sweep_whose_worker_dies_still_reports_what_finished(tmp_path):
    """A worker process killed mid-sweep (the operating system's memory
    killer, say) ends the sweep with an error, but the points that finished
    are reported, and the command says how to resume."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_POINT_1, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    folder = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2,3", "horizon_days=5",
                           "warmup_days=0", "replications=1", "output.events=false", "++output.plot=false",
                           "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={folder}"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0
    assert f"+resume={folder}" in proc.stderr
    assert (folder / "report.md").is_file() and (folder / "sweep_summary.csv").is_file()
    status = pd.read_csv(folder / "sweep_summary.csv").drop_duplicates("point").set_index("point")["status"]
    assert status[0] == "finished" and status[1] != "finished"
