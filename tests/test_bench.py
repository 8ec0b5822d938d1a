"""The benchmark command runs and prints what it documents (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim import bench


def test_bench_prints_its_json_lines_and_the_profile_on_stderr(capsys):
    bench.main(["--matters", "3000", "--repeats", "1", "--profile", "4"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]  # stdout holds nothing but JSON lines
    assert [row["bench"] for row in lines] == ["mmc", "default"]
    mmc, default = lines
    # the printed throughputs are rounded to whole matters per second, the ratio to 3 decimals
    assert mmc["ratio"] == pytest.approx(mmc["model_matters_per_s"] / mmc["bare_simpy_matters_per_s"], rel=1e-2)
    assert 0 < mmc["matters"] and mmc["model_matters_per_s"] > 0 and mmc["bare_simpy_matters_per_s"] > 0
    assert default["grids"] > 0 and default["matters"] > 0 and default["seconds_per_replication"] > 0
    # One profile per run, each limited to the 4 functions with the most own time.
    assert err.count("== profile: ") == 2
    assert "== profile: mmc (c=3, load 0.9, 3,000 matters)" in err
    assert err.count("due to restriction <4>") == 2
    assert "sim/service.py" in err.replace("\\", "/")  # the model's own functions are in the top lines


def test_a_reader_that_stops_reading_ends_the_benchmark_quietly():
    # `python -m sim.bench | head -1`: the second line meets a closed pipe.
    proc = subprocess.Popen([sys.executable, "-m", "sim.bench", "--matters", "2000", "--repeats", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert json.loads(first)["bench"] == "mmc"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
