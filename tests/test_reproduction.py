"""What a run records about the code that made it, and what a replay says about it.

A researcher reproduces a run from its folder (``python -m sim.replay``);
the manifest must name the code that ran (git commit only when the ``sim``
package is that checkout's, and a digest of the source everywhere), and the
replay must say whether the code and the package versions are the saved
run's, whether or not the numbers agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.config import build_job
from sim.output import OutputOptions, source_digest
from sim.replay import main as replay_main
from sim.runner import run

SIM = Path(__file__).resolve().parents[1] / "sim"
QUIET = OutputOptions(events=False, plot=False, progress=False)


@pytest.fixture
def saved_run(tiny_config, tmp_path) -> Path:
    """A finished run folder of the tiny town (two replications of two days)."""
    cfg = tiny_config(replications=2)
    cfg["output"] = {"events": False, "plot": False}
    scenario, options = build_job(cfg)
    run(scenario, tmp_path / "run", cfg, QUIET)
    return tmp_path / "run"


def _edit_manifest(folder: Path, edit) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    edit(summary["manifest"])
    (folder / "summary.json").write_text(json.dumps(summary))


def test_a_copy_inside_another_checkout_records_no_commit_but_its_source(tmp_path):
    """The package installed into an ignored folder of some other git
    checkout (a virtual environment inside a project): that project's commit
    is not this code's version; the source digest still identifies it."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("lib/\n")
    subprocess.run([*git, "add", ".gitignore"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "other project"], cwd=project, check=True)
    shutil.copytree(SIM, project / "lib" / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import json; from sim.output import git_revision, source_digest; "
            "print(json.dumps([git_revision(), source_digest()]))")
    env = {**os.environ, "PYTHONPATH": str(project / "lib")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    revision, digest = json.loads(out.stdout)
    assert revision == {"commit": None, "dirty": None}
    assert digest["sha256"] == source_digest()["sha256"] and digest["path"] == str(project / "lib" / "sim")


def test_the_source_digest_changes_with_any_source_file(tmp_path):
    copy = tmp_path / "sim"
    shutil.copytree(SIM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = "from sim.output import source_digest; print(source_digest()['sha256'])"

    def digest() -> str:
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60, check=True).stdout.strip()

    assert digest() == source_digest()["sha256"]
    with open(copy / "model.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    assert digest() != source_digest()["sha256"]


def test_a_run_records_its_source_and_its_own_version(saved_run):
    manifest = json.loads((saved_run / "summary.json").read_text())["manifest"]
    assert manifest["source"]["sha256"] == source_digest()["sha256"]
    import sim

    assert manifest["packages"]["gridgov"] == sim.__version__ and manifest["packages"]["pyarrow"]


def test_replay_says_the_code_is_the_same(saved_run, tmp_path, capsys):
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reproduced:") and "same code (source sha256 " in out and "differ" not in out


def test_replay_says_the_code_and_packages_changed_even_when_the_numbers_agree(saved_run, tmp_path, capsys):
    def older(manifest):
        manifest["source"]["sha256"] = "0" * 64
        manifest["git"] = {"commit": "1" * 40, "dirty": True}
        manifest["packages"]["numpy"] = "1.0.0"

    _edit_manifest(saved_run, older)
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert "reproduced:" in out and "the code or the versions differ from the saved run's" in out
    assert "code: saved run source sha256 000000000000, git commit 111111111111 with uncommitted changes; now" in out
    assert "package numpy: saved run 1.0.0, now " in out


def test_replay_of_a_run_without_a_source_digest_cannot_tell(saved_run, tmp_path, capsys):
    """A run recorded before the digest, from a dirty tree of this very
    commit: the commit alone cannot tell."""
    def old(manifest):
        del manifest["source"]
        manifest["git"]["dirty"] = True

    _edit_manifest(saved_run, old)
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert "cannot tell whether the code is the saved run's" in out and "no source digest (older run)" in out


def test_replay_with_the_same_code_and_different_numbers_is_reported_as_a_bug(saved_run, tmp_path, capsys):
    summary = json.loads((saved_run / "summary.json").read_text())
    summary["metrics"]["events_arrived"]["per_replication"][1] += 1
    (saved_run / "summary.json").write_text(json.dumps(summary))
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 1
    err = capsys.readouterr().err
    assert "NOT reproduced: 1 difference in the metrics or tables" in err and "please report it" in err
    assert "events_arrived replication 1" in err


def test_replay_of_a_sweep_folder_names_a_point_to_replay(saved_run, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    for num in (10, 2):
        shutil.copytree(saved_run, sweep / str(num))
    assert replay_main([str(sweep)]) == 2
    err = capsys.readouterr().err
    assert "is a sweep folder" in err and f"python -m sim.replay {sweep / '2'}" in err
    assert not (sweep / "replay").exists()


def test_the_code_version_is_read_before_the_run_simulates(tiny_config, tmp_path, monkeypatch):
    """An edit (or a checkout) made while a run goes is not the code that
    ran: the manifest recorded the digest and commit read when the run
    ended, so a replay then blamed the code for the run's own numbers."""
    import sim.model
    import sim.output

    tree = {"sha256": "before"}
    monkeypatch.setattr(sim.output, "_CODE_VERSION", None)  # as in a new process
    monkeypatch.setattr(sim.output, "source_digest", lambda: dict(tree))
    simulate = sim.model.Model.run

    def edited_meanwhile(self):
        tree["sha256"] = "after"
        return simulate(self)

    monkeypatch.setattr(sim.model.Model, "run", edited_meanwhile)
    cfg = tiny_config()
    scenario, _ = build_job(cfg)
    run(scenario, tmp_path / "run", cfg, QUIET)
    manifest = json.loads((tmp_path / "run" / "summary.json").read_text())["manifest"]
    assert tree["sha256"] == "after" and manifest["source"]["sha256"] == "before"


def test_replay_refuses_to_write_over_a_saved_run(saved_run, tmp_path, capsys):
    """``--out`` naming the saved folder overwrote the run it was to be
    compared with (and then compared the new manifest with itself)."""
    before = {p.name: p.read_bytes() for p in saved_run.iterdir() if p.is_file()}
    assert replay_main([str(saved_run), "--out", str(saved_run)]) == 2
    assert "is the saved run's own folder" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(saved_run, other)
    assert replay_main([str(saved_run), "--out", str(other)]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in saved_run.iterdir() if p.is_file()} == before
    assert replay_main([str(saved_run)]) == 0 and replay_main([str(saved_run)]) == 0  # RUN_DIR/replay: replaced
    capsys.readouterr()


def test_replay_compares_the_saved_tables_too(saved_run, tmp_path, capsys):
    grids = saved_run / "grids.csv"
    lines = grids.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",9", 1)
    grids.write_text("".join(lines))
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 1
    err = capsys.readouterr().err
    assert "NOT reproduced: 1 difference" in err and "grids.csv: the new file differs from the saved one" in err
    # The manifest's digest of each table tells an edit from a difference of the code.
    assert "the saved grids.csv was edited after the run" in err and "please report it" not in err
    assert "backlog.csv was" not in err


def test_replay_says_when_the_saved_config_was_edited(saved_run, tmp_path, capsys):
    """A config edited after the run gives other numbers: the replay says the
    files were edited, and does not ask for a bug report."""
    summary = json.loads((saved_run / "summary.json").read_text())
    summary["config"]["horizon_days"] = 3.0
    summary["manifest"]["seed"] += 1
    (saved_run / "summary.json").write_text(json.dumps(summary))
    assert replay_main([str(saved_run), "--out", str(tmp_path / "again")]) == 1
    err = capsys.readouterr().err
    assert "the saved files were edited after the run" in err and "please report it" not in err
    assert "the saved config was edited after the run" in err and "the saved seeds disagree" in err


def test_replay_of_a_failed_point_says_so(saved_run, capsys):
    summary = json.loads((saved_run / "summary.json").read_text())
    (saved_run / "summary.json").unlink()
    (saved_run / "failed.json").write_text(json.dumps({"error": "boom", "type": "RuntimeError",
                                                       "config": summary["config"]}))
    assert replay_main([str(saved_run)]) == 2
    err = capsys.readouterr().err
    assert "is a sweep point that failed (RuntimeError: boom)" in err and "--config-path" in err


def test_replay_of_a_damaged_event_table_is_a_difference_not_a_crash(tiny_config, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    cfg = tiny_config()
    cfg["output"] = {"events": True, "events_format": "parquet", "plot": False}
    scenario, options = build_job(cfg)
    run(scenario, tmp_path / "run", cfg, options)
    (tmp_path / "run" / "events.parquet").write_bytes(b"not parquet")
    assert replay_main([str(tmp_path / "run"), "--out", str(tmp_path / "again")]) == 1
    assert "events.parquet: cannot compare (" in capsys.readouterr().err


def test_replay_keeps_a_replay_folder_it_did_not_write(saved_run, capsys):
    (saved_run / "replay").mkdir()
    (saved_run / "replay" / "notes.txt").write_text("mine")
    assert replay_main([str(saved_run)]) == 2
    assert "holds files but no replay's summary.json" in capsys.readouterr().err
    assert (saved_run / "replay" / "notes.txt").read_text() == "mine"
