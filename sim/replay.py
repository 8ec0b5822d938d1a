"""Reproduce a run from its saved folder, and check that it is the same.

``python -m sim.replay RUN_DIR`` reads the resolved config saved in
``RUN_DIR/summary.json`` (a single run, or one point of a sweep), validates
it as any config is validated, runs it again into a new folder
(``RUN_DIR/replay``, replaced at each replay, unless ``--out`` names a new
or empty folder) and compares every metric of every replication with the
saved ones, and the saved tables (``grids.csv``, ``backlog.csv``, the event
table) with the new ones. Exit status 0 means identical, 1 means something
differs (it is listed), 2 means the folder cannot be replayed.

Equality is exact: with the same seed, config and code, a run is
deterministic. A difference therefore means the code or the installed
packages changed since the run, or the saved files were edited. The
manifests record the code and versions, and the replay compares them and
says which changed (the source digest, the git commit and its uncommitted
changes, package and Python versions), whether the results differ or not;
a saved config whose digest is not the one recorded at the run, or whose
seed is not the manifest's, is reported as edited.

The Hydra way gives the same run without the check::

    python -m sim --config-path /ABSOLUTE/RUN_DIR/.hydra --config-name config hydra.run.dir=NEW_DIR

``--config-path`` must be absolute (Hydra reads a relative one against the
``sim`` package). Do not use ``--config-dir``: it adds a folder to the search
path and still loads the project's own ``config.yaml``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import math
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError, build_job
from .output import RESULT_TABLES, _clean, config_digest, file_digests
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


def edits(saved: dict[str, Any]) -> list[str]:
    """Signs that a saved summary was edited after its run: a config whose
    digest is not the one recorded then, a manifest seed that is not the
    config's. Empty when there are none (or a run too old to record them)."""
    manifest = saved.get("manifest") or {}
    lines = []
    recorded = manifest.get("config_sha256")
    if recorded and config_digest(saved["config"]) != recorded:
        lines.append("the saved config was edited after the run (its digest is not the one recorded then)")
    seed = saved["config"].get("seed")
    if "seed" in manifest and seed != manifest["seed"]:
        lines.append(f"the saved seeds disagree: manifest seed {manifest['seed']!r}, config seed {seed!r}")
    return lines


def edited_tables(saved: dict[str, Any], run_dir: Path) -> list[str]:
    """Saved tables changed or gone since their run (their SHA-256 is not the
    one the manifest recorded then). Empty when none are, or for a run too
    old to record them."""
    recorded = (saved.get("manifest") or {}).get("files_sha256")
    if not isinstance(recorded, dict):
        return []
    now = file_digests(run_dir, list(recorded))
    return [f"the saved {name} was {'edited' if name in now else 'removed'} after the run (its digest is not the "
            "one recorded then)" for name, digest in recorded.items() if now.get(name) != digest]



def compare_tables(saved_dir: Path, new_dir: Path) -> tuple[list[str], list[str]]:
    """The saved tables that differ from the new run's, and notes on those
    that could not be compared (a file one run wrote and the other did not).
    CSV files are compared byte for byte, the Parquet event table by its
    contents (its file also names the pyarrow that wrote it)."""
    diffs, notes = [], []
    for name in RESULT_TABLES:
        a, b = saved_dir / name, new_dir / name
        if not a.exists() and not b.exists():
            continue
        if not a.exists() or not b.exists():
            notes.append(f"{name}: {'only the new run wrote it' if b.exists() else 'the new run did not write it'}; "
                         "not compared")
            continue
        try:
            same = _same_parquet(a, b) if name.endswith(".parquet") else filecmp.cmp(a, b, shallow=False)
        except Exception as exc:  # noqa: BLE001 - a damaged saved file is a difference, not a crash
            diffs.append(f"{name}: cannot compare ({type(exc).__name__}: {exc})")
            continue
        if not same:
            diffs.append(f"{name}: the new file differs from the saved one")
    return diffs, notes


def _same_parquet(a: Path, b: Path) -> bool:
    import pyarrow.parquet as pq

    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    if fa.schema_arrow != fb.schema_arrow or fa.metadata.num_rows != fb.metadata.num_rows:
        return False
    if fa.num_row_groups == fb.num_row_groups:  # one chunk at a time: memory stays bounded
        return all(fa.read_row_group(i).equals(fb.read_row_group(i)) for i in range(fa.num_row_groups))
    return fa.read().equals(fb.read())


class SavedRunError(ValueError):
    """A run folder whose summary.json cannot be read back as a gridgov run."""


def load_saved(run_dir: Path) -> dict[str, Any]:
    """The saved ``summary.json`` of a run folder.

    Raises:
        FileNotFoundError: no ``summary.json`` (a failed sweep point is named as such).
        SavedRunError: a ``summary.json`` that is not a gridgov run's.
    """
    path = run_dir / "summary.json"
    if not path.exists() and (run_dir / "failed.json").exists():
        try:
            failure = json.loads((run_dir / "failed.json").read_text(encoding="utf-8"))
            what = f" ({failure.get('type')}: {failure.get('error')})"
        except (OSError, ValueError, AttributeError):
            what = ""
        raise FileNotFoundError(
            f"{run_dir} is a sweep point that failed{what}: it saved no results to compare with. "
            f"To run its config again: python -m sim --config-path {(run_dir / '.hydra').resolve()} "
            f"--config-name config hydra.run.dir=NEW_FOLDER")
    with open(path, encoding="utf-8") as fh:
        try:
            saved = json.load(fh)
        except json.JSONDecodeError as exc:
            raise SavedRunError(f"{path} is not valid JSON ({exc}); truncated or edited?") from exc
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict) or "metrics" not in saved:
        raise SavedRunError(f"{path} holds no saved config and metrics: not a gridgov run's summary")
    return saved


def replay_folder(run_dir: Path, out_dir: str | Path | None) -> Path:
    """Where the new run goes: ``out_dir``, which must be a new or empty
    folder outside the saved run's files, or by default ``RUN_DIR/replay``
    (the replay's own, replaced each time).

    Raises:
        FileExistsError: ``out_dir`` is the saved folder, or holds files.
    """
    if out_dir is None:
        out = run_dir / "replay"
        if out.is_dir() and any(out.iterdir()) and not (out / "summary.json").is_file():
            raise FileExistsError(f"{out} holds files but no replay's summary.json: move them, or give --out "
                                  "a new or empty folder")
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        return out
    out = Path(out_dir)
    if out.resolve() == run_dir.resolve():
        raise FileExistsError(f"--out {out_dir} is the saved run's own folder: the replay would overwrite "
                              "what it is compared with; give a new or empty folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out_dir} exists and is not an empty folder: give a new or empty folder "
                              "(the default, RUN_DIR/replay, is replaced at each replay)")
    return out


def replay(run_dir: str | Path, out_dir: str | Path | None = None) -> list[str]:
    """Run a saved run again into ``out_dir``; return the differences (empty: identical).

    Raises:
        FileNotFoundError: no ``summary.json`` in ``run_dir``.
        FileExistsError: an ``out_dir`` that is the saved folder or holds files.
        SavedRunError: a ``summary.json`` that is not a gridgov run's.
        ConfigError: the saved config is not valid for this code version.
    """
    return _replay(Path(run_dir), out_dir)[0]


def _replay(run_dir: Path, out_dir: str | Path | None,
            saved: dict[str, Any] | None = None) -> tuple[list[str], list[str], Path]:
    """``replay``, with the notes on tables not compared, and the new run's
    folder (``saved``: the run's summary, if read already)."""
    saved = load_saved(run_dir) if saved is None else saved
    config, _ = sweep_control(saved["config"])
    scenario, options = build_job(config)
    out = replay_folder(run_dir, out_dir)
    result = run(scenario, out, config, options)
    diffs = compare(saved["metrics"], _clean(result.summary))
    table_diffs, notes = compare_tables(run_dir, out)
    return diffs + table_diffs, notes, out


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
    run_dir = Path(args.run_dir)
    try:
        saved = load_saved(run_dir)  # read before the replay writes anything
        diffs, notes, out = _replay(run_dir, args.out, saved)
    except (OSError, SavedRunError) as exc:  # no summary.json, a file for a folder, an unwritable --out, ...
        print(f"gridgov: cannot replay: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"gridgov: cannot replay: the saved config is not valid for this code: {exc}", file=sys.stderr)
        return 2
    now = _manifest(out)
    same, changes = code_changes(saved.get("manifest") or {}, now)
    edited = edits(saved) + edited_tables(saved, run_dir)
    if edited:
        versions = "the saved files were edited after the run"
    elif same is True and not changes:
        versions = f"same code ({_code_label(now)}) and package versions as the saved run"
    elif same is None:
        versions = "cannot tell whether the code is the saved run's"
    else:
        versions = "the code or the versions differ from the saved run's"
    if diffs:
        print(f"NOT reproduced: {len(diffs)} difference{'s' if len(diffs) != 1 else ''} in the metrics or tables "
              f"(new run in {out}); {versions}"
              + (": a run should be deterministic, please report it" if same is True and not changes and not edited
                 else ""), file=sys.stderr)
        for line in [*diffs[:50], *edited, *changes, *notes]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"reproduced: every metric of every replication and every saved table is identical "
          f"(new run in {out}); {versions}")
    for line in [*edited, *changes, *notes]:
        print(f"  {line}")
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
