"""A run's small tables (grids.csv, backlog.csv) and its backlog figure,
written and read without pandas: the same bytes and the same curves as
pandas gives, and a run (a sweep worker) that never loads it."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.output import read_columns_csv, write_columns_csv
from sim.plots import trailing_mean


def _columns(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 60
    floats = rng.normal(size=n) * 10.0 ** rng.integers(-9, 17, n)
    floats[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.1 + 0.2, 1e16, 24.0, 5e-324]
    return {
        "replication": np.repeat(np.arange(3), n // 3),
        "grid": np.arange(n, dtype=np.int64),
        "unit": np.array(["village_1", "a,b", 'say "hi"', "x"] * (n // 4)),
        "value": rng.permutation(floats),
        "count": rng.integers(0, 1000, n).astype(float),
        "flag": rng.random(n) < 0.5,
    }


@pytest.mark.parametrize("float_format", [None, "%.6g"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tables_are_written_as_pandas_writes_them(float_format, seed):
    cols = _columns(seed)
    ours, theirs = io.StringIO(), io.StringIO()
    write_columns_csv(ours, cols, float_format=float_format)
    pd.DataFrame(cols).to_csv(theirs, index=False, float_format=float_format)
    assert ours.getvalue() == theirs.getvalue()


def test_columns_of_unequal_length_are_refused():
    with pytest.raises(ValueError, match="unequal length"):
        write_columns_csv(io.StringIO(), {"a": np.arange(3), "b": np.arange(4)})


def test_a_table_reads_back_as_written(tmp_path):
    cols = _columns(3)
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as fh:
        write_columns_csv(fh, cols)
    back = read_columns_csv(path, ("value", "replication", "count"))
    np.testing.assert_array_equal(back["value"], cols["value"])  # NaN read back from an empty field
    np.testing.assert_array_equal(back["replication"], cols["replication"])
    numbers = read_columns_csv(path, ("grid", "count"))  # no empty field: NumPy's own parser
    np.testing.assert_array_equal(numbers["count"], cols["count"])
    with pytest.raises(ValueError, match="no column backlog"):
        read_columns_csv(path, ("backlog",))
    header_only = tmp_path / "empty.csv"
    with open(header_only, "w", newline="") as fh:
        write_columns_csv(fh, {name: values[:0] for name, values in cols.items()})
    assert read_columns_csv(header_only, ("value",))["value"].size == 0


@pytest.mark.parametrize("window", [1, 2, 7, 50])
def test_the_figures_weekly_average_is_pandas_rolling_mean(window):
    values = np.random.default_rng(window).normal(size=40)
    expected = pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(trailing_mean(values, window), expected, rtol=1e-12, atol=1e-12)


def test_a_run_without_the_event_table_never_loads_pandas(tmp_path):
    # A sweep point writes no event table: its worker then skips pandas' import.
    code = f"""
import json, sys
from sim.compose import load_config
from sim.config import build_job
from sim.runner import run
scenario, options = build_job(load_config(["replications=2", "horizon_days=20", "warmup_days=2", "output.events=false"]))
run(scenario, {str(tmp_path)!r}, {{}}, options)
print(json.dumps({{m: m in sys.modules for m in ("pandas", "pyarrow", "matplotlib")}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"pandas": False, "pyarrow": False, "matplotlib": True}  # matplotlib: backlog.png
    assert {p.name for p in tmp_path.iterdir()} >= {"grids.csv", "backlog.csv", "backlog.png", "summary.json"}
    grids = pd.read_csv(tmp_path / "grids.csv")
    assert list(grids["replication"].unique()) == [0, 1]
    assert list(grids.columns[:3]) == ["replication", "grid", "unit"]
