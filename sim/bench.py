"""Benchmark: the model's M/M/c reduction against a bare SimPy loop, same process.

``python -m sim.bench`` prints JSON lines:

* ``mmc``: the model configured (with ordinary config keys) as one grid of
  c=3 workers at load 0.9 with ~200,000 matters, against a textbook SimPy
  ``Resource`` loop of the same queue (one process per customer) run in the
  same process, and their throughput ratio (matters per second, higher is
  better for the model). The model's time includes generating arrivals,
  simulating and recording; metrics are timed separately. Each repeat draws
  its own matters (seeds 1, 2, ...), and the line reports the fastest
  repeat's, so ``matters`` and the mean waits may differ from one run of the
  command to the next.
* ``default``: one replication-year of the default Xiaji scenario, in seconds
  and matters per second.
* ``--scale``: the command line for 300, 1,000 and 3,000-grid synthetic
  cities, one year each: wall time, peak memory, growth exponents, and the
  bare SimPy loop's speed at that moment as a reference.
* ``--long YEARS``: the default town for YEARS years, time and memory per year.
* ``--profile N``: cProfile of the M/M/c model run and of one default
  replication-year (arrivals, simulation, records and metrics), each's top N
  functions by own time, printed to stderr (the JSON lines stay on stdout).

Timings belong here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import simpy

from . import metrics
from .arrivals import generate
from .compose import load_scenario, mmc_overrides
from .model import Model
from .output import print_lines_to_reader
from .town import build_layout


def bare_simpy_mmc(n: int, c: int, lam: float, mu: float, seed: int) -> tuple[float, float]:
    """Textbook SimPy M/M/c: a process per customer requesting a Resource.

    Returns (seconds, mean wait) so the two queues can be checked to agree.
    """
    rng = np.random.default_rng(seed)
    inter = rng.exponential(1.0 / lam, n).tolist()
    service = rng.exponential(1.0 / mu, n).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    waits: list[float] = []

    def customer(i: int):
        arrive = env.now
        with server.request() as req:
            yield req
            waits.append(env.now - arrive)
            yield env.timeout(service[i])

    def source():
        for i in range(n):
            yield env.timeout(inter[i])
            env.process(customer(i))

    t0 = time.perf_counter()
    env.process(source())
    env.run()
    return time.perf_counter() - t0, float(np.mean(waits))


def model_mmc(c: int, load: float, n: int, seed: int) -> dict[str, float]:
    lam = load * c  # service mean 1 h
    horizon_days = n / lam / 24.0
    scenario = load_scenario([*mmc_overrides(c, load, horizon_days=horizon_days, warmup_days=0.0),
                              f"seed={seed}"])
    layout = build_layout(scenario.town)
    t0 = time.perf_counter()
    arrivals = generate(scenario, layout, 0)
    t1 = time.perf_counter()
    rec = Model(scenario, layout, arrivals).run()
    t2 = time.perf_counter()
    m = metrics.compute(rec)
    t3 = time.perf_counter()
    return {"matters": len(arrivals), "seconds": t2 - t0, "generate_s": t1 - t0,
            "simulate_s": t2 - t1, "metrics_s": t3 - t2, "wait_h_mean": m["wait_h_mean"]}


def bench_mmc(c: int = 3, load: float = 0.9, n: int = 200_000, seed: int = 1, repeats: int = 3) -> dict:
    """Best of ``repeats`` for each side, interleaved so both see the same machine state.

    A small untimed run of each side comes first: the model's first run pays
    one-time costs (the lazy imports of drawing arrivals, about 0.25 s) that
    are not throughput, and would decide the figure when ``repeats`` is 1.
    """
    model_mmc(c, load, 1_000, seed)
    bare_simpy_mmc(1_000, c, load * c, 1.0, seed)
    best_model, best_bare, bare_wait = None, float("inf"), float("nan")
    for r in range(repeats):
        res = model_mmc(c, load, n, seed + r)
        if best_model is None or res["seconds"] < best_model["seconds"]:
            best_model = res
        secs, bare_wait = bare_simpy_mmc(n, c, load * c, 1.0, seed + r)
        best_bare = min(best_bare, secs)
    assert best_model is not None
    model_tp = best_model["matters"] / best_model["seconds"]
    bare_tp = n / best_bare
    from .validation import erlang_c_wait
    return {
        "bench": "mmc", "c": c, "load": load, "matters": best_model["matters"],
        "model_matters_per_s": round(model_tp), "bare_simpy_matters_per_s": round(bare_tp),
        "ratio": round(model_tp / bare_tp, 3),
        "model_generate_s": round(best_model["generate_s"], 3),
        "model_simulate_s": round(best_model["simulate_s"], 3),
        "model_metrics_s": round(best_model["metrics_s"], 3),
        "wait_h_mean_model": round(best_model["wait_h_mean"], 4),
        "wait_h_mean_bare": round(bare_wait, 4),
        "wait_h_mean_theory": round(erlang_c_wait(load * c, 1.0, c), 4),
    }


def _default_year(scenario, layout, r: int):
    """Replication ``r`` of the scenario with its metrics: what ``bench_default`` times."""
    rec = Model(scenario, layout, generate(scenario, layout, r)).run()
    metrics.compute(rec)
    return rec


def bench_default(repeats: int = 3) -> dict:
    """One replication-year of the default scenario (every default mechanism on)."""
    scenario = load_scenario([])
    layout = build_layout(scenario.town)
    generate(scenario, layout, 0)  # untimed: the first draw pays lazy imports (scipy.special), as in bench_mmc
    best, n = float("inf"), 0
    for r in range(repeats):
        t0 = time.perf_counter()
        rec = _default_year(scenario, layout, r)
        best = min(best, time.perf_counter() - t0)
        n = len(rec)
    return {"bench": "default", "grids": layout.n_grids, "horizon_days": scenario.run.horizon_days,
            "matters": n, "seconds_per_replication": round(best, 3), "matters_per_s": round(n / best)}


def bench_scale(populations: tuple[int, ...] = (300_000, 1_000_000, 3_000_000)) -> list[dict]:
    """City scale: ``python -m sim town=synthetic town.population=N replications=1``
    as a user runs it (one year, every default mechanism, full metrics, events
    written, the plot drawn), each in its own process, timed from start to
    exit with that process's peak memory. Before each size the bare SimPy
    M/M/3 loop is timed in this process: the machine's speed at that moment,
    so figures from different machines (or a busy one) can be compared
    through ``ratio`` (the city's matters per second over the reference's).
    Also reports growth exponents (1.0 = linear in the number of grids)."""
    import math
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    rows = []
    for pop in populations:
        reference = 100_000 / bare_simpy_mmc(100_000, 3, 0.9 * 3, 1.0, seed=1)[0]  # matters per second
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            with open(Path(tmp) / "stderr.txt", "wb") as err:  # a file, not a pipe nobody reads while it runs
                proc = subprocess.Popen([sys.executable, "-m", "sim", "town=synthetic", f"town.population={pop}",
                                         "replications=1", "progress=false", f"hydra.run.dir={tmp}/run"],
                                        stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                tail = (Path(tmp) / "stderr.txt").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"population={pop}: exit {proc.returncode}: {tail}")
            summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
            events = next((Path(tmp) / "run").glob("events.*"))
            matters = summary["metrics"]["events_arrived"]["mean"]
            rows.append({
                "bench": "scale", "grids": summary["manifest"]["grids"], "population": pop,
                "matters_in_window": matters, "seconds": round(seconds, 2),
                "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                "events_file": f"{events.name} ({events.stat().st_size / 2**20:.0f} MB)",
                "unstable": bool(summary["stability"]["unstable_replications"]),
                "bare_simpy_matters_per_s": round(reference),
                "ratio": round(matters / seconds / reference, 3),
            })
    for a, b in zip(rows, rows[1:]):
        k = math.log(b["grids"] / a["grids"])
        b["time_exponent_vs_previous"] = round(math.log(b["seconds"] / a["seconds"]) / k, 3)
        b["memory_exponent_vs_previous"] = round(math.log(b["peak_rss_mb"] / a["peak_rss_mb"]) / k, 3)
    return rows


def bench_long(years: int = 10) -> list[dict]:
    """A long run of the default town: wall time and resident memory per
    simulated year must not drift (no leak, no slow-down as the run ages)."""
    import resource

    scenario = load_scenario([f"horizon_days={365 * years}", "warmup_days=30"])
    layout = build_layout(scenario.town)
    rows: list[dict] = []
    state = {"t": time.perf_counter(), "year": 1}

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    def on_progress(now_h: float, matters: int) -> None:
        if now_h >= state["year"] * 8760.0:
            now = time.perf_counter()
            rows.append({"bench": "long", "year": state["year"], "seconds": round(now - state["t"], 3),
                         "matters_so_far": matters, "rss_mb": round(rss_mb(), 1)})
            state["t"], state["year"] = now, state["year"] + 1

    model = Model(scenario, layout, generate(scenario, layout, 0), on_progress=on_progress,
                  progress_step_h=24.0)
    model.run()
    on_progress(years * 8760.0, model.n)  # the last year ends with the run
    return rows


def profile(top: int = 15, n: int = 200_000, out=None) -> None:
    """Print cProfile's top ``top`` functions by own time for the M/M/c run
    (as ``bench_mmc`` times it) and for one default replication-year, to ``out``
    (stderr by default): where a matter's time goes, to read before optimising."""
    import cProfile
    import io
    import pstats
    import sys

    out = sys.stderr if out is None else out

    scenario = load_scenario([])
    layout = build_layout(scenario.town)
    for label, run in ((f"mmc (c=3, load 0.9, {n:,} matters)", lambda: model_mmc(3, 0.9, n, 1)),
                       ("default (one replication-year)", lambda: _default_year(scenario, layout, 0))):
        prof = cProfile.Profile()
        prof.runcall(run)
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
        print(f"== profile: {label}", file=out)
        print(text.getvalue().strip(), file=out, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--matters", type=int, default=200_000, help="matters in the M/M/c run")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--scale", action="store_true", help="also time 300, 1,000 and 3,000-grid towns")
    parser.add_argument("--long", type=int, default=0, metavar="YEARS",
                        help="also run the default town for YEARS years, reporting each year")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print cProfile's top N functions of the M/M/c run and a default year to stderr")
    args = parser.parse_args(argv)
    print(json.dumps(bench_mmc(n=args.matters, repeats=args.repeats)), flush=True)
    print(json.dumps(bench_default(repeats=args.repeats)), flush=True)
    if args.scale:
        for row in bench_scale():
            print(json.dumps(row), flush=True)
    if args.long:
        for row in bench_long(args.long):
            print(json.dumps(row), flush=True)
    if args.profile:
        profile(args.profile, n=args.matters)


if __name__ == "__main__":
    print_lines_to_reader(main)
