"""Reproduce a run from its saved folder, and check that it is the same.

``python -m sim.replay RUN_DIR`` reads the resolved config saved in
``RUN_DIR/summary.json`` (a single run, or one point of a sweep), validates
it as any config is validated, runs it again into a new folder
(``RUN_DIR/replay`` unless ``--out`` says otherwise) and compares every
metric of every replication with the saved ones. Exit status 0 means
identical, 1 means some value differs (they are listed), 2 means the folder
cannot be replayed.

Equality is exact: with the same seed, config and code, a run is
deterministic. A difference therefore means the code or the installed
packages changed since the run (the saved manifest records both).

The Hydra way gives the same run without the check::

    python -m sim --config-path /ABSOLUTE/RUN_DIR/.hydra --config-name config hydra.run.dir=NEW_DIR

``--config-path`` must be absolute (Hydra reads a relative one against the
``sim`` package). Do not use ``--config-dir``: it adds a folder to the search
path and still loads the project's own ``config.yaml``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError, build_job
from .output import _clean
from .runner import run
from .sweep import sweep_control


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return float(a) == float(b) or (math.isnan(float(a)) and math.isnan(float(b)))


def compare(saved: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every (metric, replication) whose value differs between two summaries' metrics."""
    diffs = []
    for name in sorted(set(saved) | set(new)):
        a = (saved.get(name) or {}).get("per_replication")
        b = (new.get(name) or {}).get("per_replication")
        if a is None or b is None or len(a) != len(b):
            diffs.append(f"{name}: saved {a!r}, new {b!r}")
            continue
        for r, (x, y) in enumerate(zip(a, b)):
            if not _same(x, y):
                diffs.append(f"{name} replication {r}: saved {x!r}, new {y!r}")
    return diffs


class SavedRunError(ValueError):
    """A run folder whose summary.json cannot be read back as a gridgov run."""


def replay(run_dir: str | Path, out_dir: str | Path | None = None) -> list[str]:
    """Run a saved run again into ``out_dir``; return the differences (empty: identical).

    Raises:
        FileNotFoundError: no ``summary.json`` in ``run_dir``.
        SavedRunError: a ``summary.json`` that is not a gridgov run's.
        ConfigError: the saved config is not valid for this code version.
    """
    run_dir = Path(run_dir)
    with open(run_dir / "summary.json", encoding="utf-8") as fh:
        try:
            saved = json.load(fh)
        except json.JSONDecodeError as exc:
            raise SavedRunError(f"{run_dir / 'summary.json'} is not valid JSON ({exc}); truncated or edited?") from exc
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict) or "metrics" not in saved:
        raise SavedRunError(f"{run_dir / 'summary.json'} holds no saved config and metrics: not a gridgov run's summary")
    config, _ = sweep_control(saved["config"])
    scenario, options = build_job(config)
    out = Path(out_dir) if out_dir is not None else run_dir / "replay"
    result = run(scenario, out, config, options)
    return compare(saved["metrics"], _clean(result.summary))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.replay RUN_DIR [--out DIR]``: re-run a saved run and check it is identical."""
    parser = argparse.ArgumentParser(prog="python -m sim.replay", description=main.__doc__)
    parser.add_argument("run_dir", help="a run folder, or one point folder of a sweep (holds summary.json)")
    parser.add_argument("--out", help="folder for the new run (default: RUN_DIR/replay)")
    args = parser.parse_args(argv)
    try:
        diffs = replay(args.run_dir, args.out)
    except (OSError, SavedRunError) as exc:  # no summary.json, a file for a folder, an unwritable --out, ...
        print(f"gridgov: cannot replay: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"gridgov: cannot replay: the saved config is not valid for this code: {exc}", file=sys.stderr)
        return 2
    out = args.out or str(Path(args.run_dir) / "replay")
    if diffs:
        print(f"NOT reproduced: {len(diffs)} values differ (new run in {out}):", file=sys.stderr)
        for d in diffs[:50]:
            print(f"  {d}", file=sys.stderr)
        return 1
    print(f"reproduced: every metric of every replication is identical (new run in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
