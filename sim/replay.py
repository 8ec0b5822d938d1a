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
packages changed since the run. Both are recorded in the manifests, and the
replay compares them and says which changed (the source digest, the git
commit and its uncommitted changes, package and Python versions), whether
the results differ or not.

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


def _short(digest: Any) -> str:
    return "unknown" if not digest else str(digest)[:12]


def _code_label(manifest: dict[str, Any]) -> str:
    git = manifest.get("git") or {}
    source = (manifest.get("source") or {}).get("sha256")
    parts = [f"source sha256 {_short(source)}" if source else "no source digest (older run)"]
    if git.get("commit"):
        parts.append(f"git commit {_short(git['commit'])}" + (" with uncommitted changes" if git.get("dirty") else ""))
    else:
        parts.append("not run from a git checkout")
    return ", ".join(parts)


def code_changes(saved: dict[str, Any], new: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """Whether two manifests ran the same code, and every version that changed.

    Returns:
        ``True`` (same source digest, or the same clean git commit when the
        saved run has no digest), ``False`` (different), or ``None`` (cannot
        tell); and one line per difference in code, package or Python version.
    """
    lines = []
    a, b = (saved.get("source") or {}).get("sha256"), (new.get("source") or {}).get("sha256")
    ga, gb = saved.get("git") or {}, new.get("git") or {}
    if a and b:
        same: bool | None = a == b
    elif ga.get("commit") and gb.get("commit"):
        same = False if ga["commit"] != gb["commit"] else (True if not ga.get("dirty") and not gb.get("dirty") else None)
    else:
        same = None
    if same is not True:
        lines.append(f"code: saved run {_code_label(saved)}; now {_code_label(new)}")
    pa, pb = saved.get("packages") or {}, new.get("packages") or {}
    def version(versions: dict[str, Any], name: str) -> str:
        if name not in versions:
            return "not recorded"
        return versions[name] or "not installed"

    for name in sorted(set(pa) | set(pb)):
        if name not in pa or name not in pb or pa[name] != pb[name]:
            lines.append(f"package {name}: saved run {version(pa, name)}, now {version(pb, name)}")
    if saved.get("python") != new.get("python"):
        lines.append(f"Python: saved run {saved.get('python')}, now {new.get('python')}")
    return same, lines


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
    points = sorted(Path(args.run_dir).glob("*/summary.json"), key=lambda p: (len(p.parent.name), p.parent.name))
    if not (Path(args.run_dir) / "summary.json").exists() and points:  # a sweep's folder, not a point's
        print(f"gridgov: cannot replay: {args.run_dir} is a sweep folder; replay one of its points, "
              f"e.g. python -m sim.replay {points[0].parent}", file=sys.stderr)
        return 2
    try:
        diffs = replay(args.run_dir, args.out)
    except (OSError, SavedRunError) as exc:  # no summary.json, a file for a folder, an unwritable --out, ...
        print(f"gridgov: cannot replay: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"gridgov: cannot replay: the saved config is not valid for this code: {exc}", file=sys.stderr)
        return 2
    out = args.out or str(Path(args.run_dir) / "replay")
    now = _manifest(Path(out))
    same, changes = code_changes(_manifest(Path(args.run_dir)), now)
    if same is True and not changes:
        versions = f"same code ({_code_label(now)}) and package versions as the saved run"
    elif same is None:
        versions = "cannot tell whether the code is the saved run's"
    else:
        versions = "the code or the versions differ from the saved run's"
    if diffs:
        print(f"NOT reproduced: {len(diffs)} values differ (new run in {out}); {versions}"
              + (": a run should be deterministic, please report it" if same is True and not changes else ""),
              file=sys.stderr)
        for d in diffs[:50]:
            print(f"  {d}", file=sys.stderr)
        for c in changes:
            print(f"  {c}", file=sys.stderr)
        return 1
    print(f"reproduced: every metric of every replication is identical (new run in {out}); {versions}")
    for c in changes:
        print(f"  {c}")
    return 0


def _manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest in ``run_dir/summary.json`` (empty if there is none)."""
    try:
        with open(run_dir / "summary.json", encoding="utf-8") as fh:
            return json.load(fh).get("manifest") or {}
    except (OSError, ValueError, AttributeError):
        return {}


if __name__ == "__main__":
    sys.exit(main())
