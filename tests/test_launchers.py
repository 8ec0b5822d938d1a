"""Results do not depend on how a sweep is launched or how its files are written.

A sweep point is a pure function of its config and seed, so the launcher that
runs it (joblib with 1 or 2 jobs, submitit's local executor, Ray), the order
in which points finish and the chunk size of the event stream must not change
a single number. The sweeps here run as a user runs them
(``python -m sim -m experiment=grid_size ...``) on a tiny horizon and three
grid sizes, and are compared with one joblib sweep taken as the reference:
every point's per-replication metrics exactly, its tables byte for byte, and
the aggregated ``sweep_summary.csv`` and ``paired_differences.csv`` value for
value. The SLURM launcher cannot run without a cluster; its test stops at the
batch script submitit hands to ``sbatch`` and checks the resources asked for.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.compose import load_config
from sim.config import build_job
from sim.runner import EVENT_CHUNK_ROWS, CsvEvents, run, write_events
from sim.town import build_layout

# Three points (the smallest, the reference and the largest grids), a tiny
# horizon and no per-point plots: enough to exercise every launcher path.
SWEEP = ["experiment=grid_size", "town.people_per_grid=500,1000,3000", "horizon_days=10", "warmup_days=1",
         "replications=2", "++output.plot=false"]
POINT_FILES = ("grids.csv", "backlog.csv")
"""Per-point tables compared byte for byte (summary.json holds wall times and
the command line, so its metrics and config are compared instead)."""
SWEEP_TABLES = ("sweep_summary.csv", "paired_differences.csv")


def run_sweep(folder: Path, *launcher: str) -> Path:
    """``python -m sim -m SWEEP LAUNCHER...`` into ``folder``; check it succeeded."""
    cmd = [sys.executable, "-m", "sim", "-m", *SWEEP, *launcher, f"hydra.sweep.dir={folder}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder


def point_dirs(folder: Path) -> list[Path]:
    return sorted((d for d in folder.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))


def assert_same_results(folder: Path, reference: Path) -> None:
    """Two sweep folders hold the same results: every number, every table."""
    points, ref_points = point_dirs(folder), point_dirs(reference)
    assert [d.name for d in points] == [d.name for d in ref_points] and len(points) == 3
    for d, ref in zip(points, ref_points):
        got = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        want = json.loads((ref / "summary.json").read_text(encoding="utf-8"))
        # Exact equality of floats read back from JSON (repr round-trips).
        assert got["metrics"] == want["metrics"], d.name
        assert got["config"] == want["config"], d.name
        assert got["manifest"]["seed"] == want["manifest"]["seed"]
        for name in POINT_FILES:
            assert (d / name).read_bytes() == (ref / name).read_bytes(), f"{d.name}/{name}"
    for name in SWEEP_TABLES:
        # Value for value; no column of these tables may legitimately differ
        # (they hold no wall times or paths).
        pd.testing.assert_frame_equal(pd.read_csv(folder / name), pd.read_csv(reference / name), check_exact=True)
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    assert set(pd.read_csv(folder / "sweep_summary.csv")["status"]) == {"finished"}


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory) -> Path:
    """The reference: the joblib launcher with 2 parallel jobs (as the other tests run sweeps)."""
    return run_sweep(tmp_path_factory.mktemp("joblib2") / "sweep", "hydra.launcher.n_jobs=2")


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_parallel_jobs(reference_sweep, tmp_path):
    folder = run_sweep(tmp_path / "sweep", "hydra.launcher.n_jobs=1")
    assert_same_results(folder, reference_sweep)


@pytest.mark.slow
def test_submitit_local_sweep_matches_joblib(reference_sweep, tmp_path):
    folder = run_sweep(tmp_path / "sweep", "hydra/launcher=slurm_local")
    # The points really went through submitit: pickled, run in their own
    # processes, results read back from the submitit folder.
    results = list((folder / ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 3
    multirun = (folder / "multirun.yaml").read_text(encoding="utf-8")
    assert "submitit_launcher.LocalLauncher" in multirun and "joblib" not in multirun
    assert_same_results(folder, reference_sweep)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
                    reason="hydra-ray-launcher not installed (pip install -e '.[ray]')")
def test_ray_sweep_matches_joblib(reference_sweep, tmp_path):  # pragma: no cover - needs the ray extra
    folder = run_sweep(tmp_path / "sweep", "hydra/launcher=ray")
    assert_same_results(folder, reference_sweep)


FAKE_SBATCH = """#!/bin/sh
# Stands in for SLURM's sbatch: keep the batch script, answer like sbatch.
cp "$1" "$GRIDGOV_SBATCH_CAPTURE"
echo "Submitted batch job 4242"
"""


def test_slurm_launcher_asks_for_the_resources_given_on_the_command_line(tmp_path):
    """``hydra/launcher=slurm`` overrides config.yaml's joblib and passes partition, time, cpus, memory to sbatch."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # submitit checks that srun exists before it writes the batch script.
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\nexit 1\n")):
        tool = bin_dir / name
        tool.write_text(text)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    capture = tmp_path / "submitted.sh"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GRIDGOV_SBATCH_CAPTURE": str(capture)}
    cmd = [sys.executable, "-m", "sim", "-m", *SWEEP, "hydra/launcher=slurm", "hydra.launcher.partition=short",
           "hydra.launcher.timeout_min=60", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=4",
           f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    # After submitting, the launcher waits for the (fake) jobs for ever: stop
    # it, and only it, once the batch script has been handed over.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not capture.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        output = proc.communicate()[0].decode(errors="replace")
    assert capture.exists(), output[-3000:]
    script = capture.read_text(encoding="utf-8")
    for flag in ("--partition=short", "--time=60", "--cpus-per-task=1", "--mem=4GB",
                 "--array=0-2", "--job-name=gridgov-grid_size"):
        assert f"#SBATCH {flag}" in script, script


def test_event_stream_does_not_depend_on_the_chunk_size(tmp_path):
    """events.csv is the same file, byte for byte, whatever the chunk size of the stream."""
    config = load_config()
    config.update(horizon_days=10.0, warmup_days=1.0, replications=2)
    config["output"] = {**config["output"], "events": True, "plot": False}
    scenario, options = build_job(config)
    recs = {}
    run(scenario, tmp_path, config, options, on_replication=lambda r, rec: recs.__setitem__(r, rec))
    written = (tmp_path / "events.csv").read_bytes()  # the run's own stream, chunks of EVENT_CHUNK_ROWS
    n = len(recs[0])
    assert n > 1000 and n < EVENT_CHUNK_ROWS  # more than a few chunks below; one chunk in the run
    unit_names = build_layout(scenario.town).unit_names
    for chunk_rows in (1000, 7, n, n + 1):
        fh = io.BytesIO()
        sink = CsvEvents(fh)
        for r, rec in recs.items():
            write_events(sink, rec, scenario, unit_names, r, chunk_rows=chunk_rows)
        assert fh.getvalue() == written, f"chunk_rows={chunk_rows}"


def test_sweep_workers_start_early_and_are_the_launchers_own():
    """When a sweep starts, the callback starts the joblib launcher's workers
    and has them import what a point needs (Hydra's job wrapper, the task
    function, the simulation) while Hydra composes the points' configs. The
    imports succeed in the workers, and a later joblib call with the
    launcher's settings (what the launcher and the report make) gets the
    same loky pool, so the head start is not thrown away."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib.externals.loky import reusable_executor

    from sim.callbacks import _launcher_settings, start_workers, stop_workers, worker_pool
    from sim.compose import CONFIG_DIR

    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="gridgov"):
        one = compose("config", overrides=["hydra.launcher.n_jobs=1"], return_hydra_config=True)
        two = compose("config", overrides=["hydra.launcher.n_jobs=2"], return_hydra_config=True)
    # What the launcher itself passes to joblib (hydra_joblib_launcher._core.launch).
    launcher_cfg = dict(instantiate(two.hydra.launcher).joblib, backend="loky")
    process_joblib_cfg(launcher_cfg)
    assert _launcher_settings(two) == launcher_cfg
    assert start_workers(one) == []  # one job runs in this process: nothing to start
    try:
        assert len(start_workers(two, points=1)) == 1  # no more workers load the model than there are points
        futures = start_workers(two)
        assert len(futures) == 2
        for f in futures:
            f.result(timeout=300)  # raises what a worker's import raised
        executor = reusable_executor._executor
        pids = worker_pool(two)([(os.getpid,)] * 4)
        assert reusable_executor._executor is executor
        assert set(pids) <= set(executor._processes)
    finally:
        stop_workers()


def test_a_job_with_no_point_left_runs_replications_of_a_point_still_running(tmp_path):
    """``sim.share`` on a real sweep: 3 points of 1, 3 and 12 replications on 2
    jobs. Whichever job finishes its points first has none left while another
    point still has replications to run, and runs some of them; the results
    are the same as those of the sweep on 1 job, where no job can help."""
    sweep = ["experiment=grid_size", "town.people_per_grid=1000", "replications=1,3,12", "horizon_days=60",
             "warmup_days=1", "++output.plot=false"]

    def run(folder: Path, jobs: int) -> Path:
        cmd = [sys.executable, "-m", "sim", "-m", *sweep, f"hydra.launcher.n_jobs={jobs}", f"hydra.sweep.dir={folder}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not (folder / ".shared").exists()  # the boards are gone with the sweep
        return folder

    def helped(folder: Path) -> list[str]:
        return [line for d in point_dirs(folder) for line in (d / "__main__.log").read_text().splitlines()
                if "run by another job" in line]

    two, one = run(tmp_path / "two", 2), run(tmp_path / "one", 1)
    assert helped(one) == []
    # The 12-replication point, from its last replication down.
    assert len(helped(two)) == 1 and helped(two)[0].endswith(" 11 (counted from 0, as in summary.json) run by another job of the sweep"), helped(two)
    for d, ref in zip(point_dirs(two), point_dirs(one), strict=True):
        got = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        want = json.loads((ref / "summary.json").read_text(encoding="utf-8"))
        assert got["metrics"] == want["metrics"], d.name
        for name in POINT_FILES:
            assert (d / name).read_bytes() == (ref / name).read_bytes(), f"{d.name}/{name}"
    for name in SWEEP_TABLES:
        assert (two / name).read_bytes() == (one / name).read_bytes(), name


@pytest.mark.parametrize("overrides, shares", [
    (["hydra.launcher.n_jobs=2"], True),
    (["hydra.launcher.n_jobs=1"], False),  # one job: nobody to share with
    (["hydra.launcher.n_jobs=2", "hydra.sweeper.max_batch_size=2"], False),  # a point of the next batch waits
    (["hydra/launcher=slurm_local"], False),  # a cluster job is sized for its own point
    (["hydra.launcher.n_jobs=2", "hydra.launcher.timeout=600"], False),  # helping would count against a point's limit
    (["hydra.launcher.n_jobs=2", "hydra.launcher.batch_size=2"], False),  # a job going back may get no point
    (["hydra.launcher.n_jobs=2", "+resume=/tmp/earlier_sweep"], False),  # joblib's batches grow on skipped points
])
def test_only_joblib_sweeps_of_several_jobs_launched_at_once_share_replications(overrides, shares):
    from hydra import compose, initialize_config_dir

    from sim.callbacks import _shares
    from sim.compose import CONFIG_DIR

    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="gridgov"):
        config = compose("config", overrides=overrides, return_hydra_config=True)
    assert _shares(config) is shares
