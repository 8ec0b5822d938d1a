"""Parallel efficiency of a study sweep on local cores: ``python -m sim.bench_sweep``.

Runs one study (``grid_size`` by default) as a user runs it,
``python -m sim -m experiment=NAME``, through the joblib launcher, once with
``hydra.launcher.n_jobs=1`` and once with ``n_jobs=2``, with the same
settings (the config's own unless ``--replications``, ``--horizon-days`` or
``--warmup-days`` reduce them), each into its own temporary sweep folder, and prints one JSON line
per round with both wall times and the parallel efficiency
``T1 / (2 * T2)`` (1.0 = the second core halves the time).

The whole command is timed (Hydra start-up, the jobs, the report the sweep
callback writes at the end), because that is what a user waits for. The line
also splits each time into its parts, read from the sweep folder: ``startup``
(command start to ``plan.json``), ``jobs`` (``plan.json`` to the last point's
``summary.json``: worker start-up and every point) and ``report`` (after the
last point). ``jobs_efficiency`` is the efficiency of the jobs part alone,
and ``balance_bound`` the best efficiency the points' own run times allow on
2 workers (longest first) if each ran whole in one job, so a low figure can
be traced to start-up, the serial report, or unbalanced points;
``shared_replications`` counts the replications of the 2-job sweep that a
job with no point left ran for a point still running (``sim.share``), which
can take the figure past that bound.

Another process using the CPU lowers the figure: the line records the load
average before and after each round; compare rounds. It also records the CPU
seconds of each sweep (all its processes), which load barely changes:
``cpu_bound = CPU(1 job) / CPU(2 jobs)`` is the most the efficiency can be
on an idle machine, since 2 cores need at least CPU(2 jobs) / 2 seconds;
what the second job costs in CPU (worker start-up: imports, unpickling the
job, and CPUs that slow each other down) shows up there. Finally
``machine_efficiency`` times one sweep point simulated alone and two at once
in plain worker processes, outside Hydra: the best any launcher can do here.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .output import print_lines_to_reader
from .share import SHARED_LINE
from .sweep import SUMMARY, read_plan


def time_sweep(args: Sequence[str], n_jobs: int, folder: Path) -> dict[str, Any]:
    """Run one sweep with ``n_jobs`` parallel jobs into ``folder``; its wall time and parts (seconds)."""
    cmd = [sys.executable, "-m", "sim", "-m", *args, f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={folder}"]
    cpu0 = _children_cpu()
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    end = time.time()
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    plan = read_plan(folder) or {}
    planned = plan["sessions"][-1]["started"] if plan.get("sessions") else start
    summaries = list(folder.glob(f"*/{SUMMARY}"))
    last = max(p.stat().st_mtime for p in summaries)
    points = [json.loads(p.read_text(encoding="utf-8"))["manifest"]["wall_seconds"] for p in summaries]
    # One line in the helping job's log per replication it ran for another point (sim.share).
    shared = sum(log.read_text(encoding="utf-8", errors="replace").count(SHARED_LINE)
                 for log in folder.glob("*/*.log"))
    return {"wall": end - start, "cpu": cpu, "startup": planned - start, "jobs": last - planned,
            "report": end - last, "points": points, "shared": shared}


def _children_cpu() -> float:
    # CPU seconds of every finished descendant (the sweep, its joblib workers
    # and its report), which, unlike wall time, another user's load barely moves.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def balance_bound(point_seconds: Sequence[float], workers: int = 2) -> float:
    """Best efficiency the points allow on ``workers`` (longest point first to the least busy worker)."""
    loads = [0.0] * workers
    for t in sorted(point_seconds, reverse=True):
        loads[loads.index(min(loads))] += t
    return sum(point_seconds) / (workers * max(loads)) if point_seconds else float("nan")


def _one_point(overrides: Sequence[str]) -> float:
    """Seconds to simulate one sweep point in this process (imports and config paid before timing)."""
    from .compose import load_config
    from .config import build_job
    from .runner import run

    scenario, _ = build_job(load_config(list(overrides)))
    t0 = time.perf_counter()
    run(scenario)
    return time.perf_counter() - t0


def machine_efficiency(point_overrides: Sequence[str]) -> float:
    """How well this machine runs two simulations at once: T(one alone) / T(two together).

    The same point is simulated in one worker process alone, then in two at
    once; 1.0 means two cores really double the throughput. Virtual CPUs that
    share a physical core, or other users' load, bring it down, and no sweep
    machinery can do better than this on the machine.
    """
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_one_point, [point_overrides] * 2))  # start both workers, pay the imports
        alone = pool.submit(_one_point, point_overrides).result()
        t0 = time.perf_counter()
        list(pool.map(_one_point, [point_overrides] * 2))
        together = time.perf_counter() - t0
    return alone / together


def measure(args: Sequence[str], workdir: Path, order: Sequence[int]) -> dict[str, Any]:
    """One round: the sweep with 1 and with 2 jobs (in ``order``), and the efficiency figures."""
    load_before = os.getloadavg()
    times = {n: time_sweep(args, n, workdir / f"n_jobs_{n}") for n in order}
    t1, t2 = times[1], times[2]
    # The sweep's middle point with the same settings, outside Hydra, as the machine's own reference.
    machine = machine_efficiency([a for a in args if not a.startswith(("+", "hydra."))]
                                 + ["town.people_per_grid=1000"])
    return {
        "benchmark": "sweep_parallel_efficiency",
        "args": list(args),
        "points": len(t1["points"]),
        "t1_s": round(t1["wall"], 2),
        "t2_s": round(t2["wall"], 2),
        "efficiency": round(t1["wall"] / (2 * t2["wall"]), 3),
        "cpu_t1_s": round(t1["cpu"], 2),
        "cpu_t2_s": round(t2["cpu"], 2),
        "cpu_bound": round(t1["cpu"] / t2["cpu"], 3),
        "jobs_t1_s": round(t1["jobs"], 2),
        "jobs_t2_s": round(t2["jobs"], 2),
        "jobs_efficiency": round(t1["jobs"] / (2 * t2["jobs"]), 3),
        "balance_bound": round(balance_bound(t1["points"]), 3),
        "shared_replications": t2["shared"],
        "machine_efficiency": round(machine, 3),
        "point_s": [round(p, 2) for p in sorted(t1["points"])],
        "startup_s": [round(t1["startup"], 2), round(t2["startup"], 2)],
        "report_s": [round(t1["report"], 2), round(t2["report"], 2)],
        "order": list(order),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.bench_sweep``: time a study sweep on 1 and 2 cores; print the efficiency (JSON lines)."""
    parser = argparse.ArgumentParser(prog="python -m sim.bench_sweep", description=main.__doc__)
    parser.add_argument("--experiment", default="grid_size", help="the study (configs/experiment/NAME.yaml)")
    # Unset, the study runs with the config's own settings, as a user runs it:
    # shorter points make start-up and report weigh more.
    for flag, kind in (("--replications", int), ("--horizon-days", float), ("--warmup-days", float)):
        parser.add_argument(flag, type=kind, default=None, help="default: the config's value")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measurement rounds; every other round runs n_jobs=2 first, to even out drift in load")
    parser.add_argument("overrides", nargs="*", help="further overrides for both sweeps, e.g. ++output.plot=false")
    opts = parser.parse_args(argv)
    settings = {"replications": opts.replications, "horizon_days": opts.horizon_days, "warmup_days": opts.warmup_days}
    args = [f"experiment={opts.experiment}", *(f"{key}={value:g}" for key, value in settings.items() if value is not None),
            *opts.overrides]
    for r in range(opts.rounds):
        with tempfile.TemporaryDirectory(prefix="gridgov-bench-sweep-") as tmp:
            line = measure(args, Path(tmp), (1, 2) if r % 2 == 0 else (2, 1))
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(print_lines_to_reader(main))
