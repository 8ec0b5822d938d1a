"""Memory stays bounded: it grows with the horizon only through compact per-matter arrays.

Each run happens in a fresh process, so its peak resident memory is its own.
The baseline (interpreter, numpy, pandas, simpy, the layout) is measured in
the same process before the run and subtracted.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, resource, sys, tempfile
from sim.compose import load_scenario
from sim.runner import OutputOptions, run
days = float(sys.argv[1])
scenario = load_scenario(["town=synthetic", "town.population=300000", "replications=1",
                          f"horizon_days={days}", "warmup_days=5"])
import matplotlib.pyplot  # imported by the plots anyway: part of the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with tempfile.TemporaryDirectory() as out:
    result = run(scenario, out, {}, OutputOptions(progress=False, plot=False))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "matters": result.summary["events_arrived"]["mean"]}))
"""


def measure(days: float) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(days)], capture_output=True, text=True,
                          timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_memory_grows_at_most_linearly_with_the_horizon():
    short, long = measure(45), measure(90)  # 300 grids; ~23k and ~46k matters
    grow_short = max(short["peak_kb"] - short["base_kb"], 0)
    grow_long = max(long["peak_kb"] - long["base_kb"], 0)
    slack_kb = 30 * 1024  # allocator and pandas chunk noise
    assert grow_long <= 2 * grow_short + slack_kb, (short, long)
    # and what grows is compact: well under 2 KB per matter (arrays, records, chunked CSV)
    assert grow_long / long["matters"] < 2048, (long, grow_long / long["matters"])
