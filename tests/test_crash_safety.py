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
