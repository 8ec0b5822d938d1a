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

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

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


def test_a_second_sweep_in_a_running_sweeps_folder_is_refused(tmp_path):
    """A resume started while the sweep still runs (or a new sweep given the
    same folder) would run its points again and overwrite each other's
    files: it is refused before any point, naming the folder; once the sweep
    has ended, the folder is free again."""
    from sim.output import hold_lock, let_go
    from sim.sweep import LOCK, PLAN

    folder = tmp_path / "sweep"
    first = sweep(folder, "horizon_days=120")
    try:
        deadline = time.monotonic() + 120
        while not (folder / PLAN).is_file() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None and not finished_points(folder), "the sweep ended before it could be tested"
        with pytest.raises(BlockingIOError):  # the running sweep holds its folder
            hold_lock(folder / LOCK)
        for extra in ([f"+resume={folder}"], []):
            second = sweep(folder, "horizon_days=120", *extra)
            out, _ = second.communicate(timeout=120)
            assert second.returncode == 2, out
            named = f"resume='{folder}'" if extra else f"hydra.sweep.dir='{folder}'"
            assert f"{named}: another sweep is still running in this folder" in out, out
            assert "Traceback" not in out
        assert first.poll() is None, "the first sweep ended while the others were refused: make it longer"
        out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, out
    assert len(finished_points(folder)) == 6
    fd = hold_lock(folder / LOCK)  # free once the sweep has ended
    if fd is not None:
        let_go(fd)


def test_ctrl_c_during_the_sweep_report_says_how_to_write_it(tmp_path, monkeypatch, capsys):
    """Every point has run when the report starts: Ctrl-C there ends the
    command with the one command that finishes the job."""
    from omegaconf import OmegaConf

    from sim import callbacks

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "write_report", interrupted)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "launcher": {"_target_": "other"}}})
    try:
        with pytest.raises(KeyboardInterrupt):
            callbacks.SweepReport().on_multirun_end(config)
        assert callbacks._reporting_sweep == tmp_path  # what the second Ctrl-C's message reads too
        callbacks.end_of_command(interrupted=True)
    finally:
        callbacks._reporting_sweep = None
    err = capsys.readouterr().err
    assert f"sweep report interrupted (every point had run); write it with `python -m sim.report {tmp_path}`" in err


def test_a_failed_run_leaves_no_earlier_summary_in_its_folder(tmp_path, monkeypatch):
    """summary.json marks a run folder complete: a run that fails in a folder
    holding an earlier run's summary removes it, so that the earlier summary
    never stands beside this run's partial files."""
    from sim import runner
    from sim.compose import load_config
    from sim.config import build_job

    (tmp_path / "summary.json").write_text('{"seed": 1}', encoding="utf-8")
    config = load_config(["horizon_days=5", "warmup_days=0", "replications=1"])
    scenario, options = build_job(config)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")
        yield  # pragma: no cover - a generator, as replications is

    monkeypatch.setattr(runner, "replications", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.run(scenario, tmp_path, config, options)
    assert not (tmp_path / "summary.json").exists()


def test_runs_started_in_the_same_second_get_their_own_folders():
    """Run and sweep folders are named to the microsecond: two commands
    started in the same second must not write into (and mix) one folder."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from sim.compose import CONFIG_DIR

    dirs = []
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="gridgov"):
        for _ in range(2):  # composed as two commands would be, well within one second
            cfg = compose("config", return_hydra_config=True)
            dirs.append((OmegaConf.select(cfg, "hydra.run.dir"), OmegaConf.select(cfg, "hydra.sweep.dir")))
    (run_a, sweep_a), (run_b, sweep_b) = dirs
    assert run_a != run_b and sweep_a != sweep_b


def patch_on_import(module: str, doc: str, patch: str) -> str:
    """Source of a ``sitecustomize.py`` that, in every process of a command
    (its joblib workers included), runs ``patch`` on ``module`` right after
    the module is first executed; ``patch`` refers to it as ``module``."""
    body = textwrap.indent(textwrap.dedent(patch), " " * 12)
    return f'''
import importlib.abc, importlib.util, os, sys

class _PatchOnImport(importlib.abc.MetaPathFinder):
    """{doc}"""

    def find_spec(self, name, path=None, target=None):
        if name != {module!r}:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
{body}
        spec.loader.exec_module = patched
        return spec

sys.meta_path.insert(0, _PatchOnImport())
'''


KILL_POINT_1 = patch_on_import(
    "sim.sweep", "In a sweep's worker process, point 1 dies as if killed for memory, while writing a file.", '''
    real = module.run_point

    def run_point(config, point_dir, sweep_dir, num, overrides):
        if num == 1:  # once point 0 has finished in the other worker
            import pathlib, time
            done = pathlib.Path(sweep_dir) / "0" / "summary.json"
            for _ in range(600):
                if done.is_file():
                    break
                time.sleep(0.1)
            import signal
            from sim.output import atomic_open
            with atomic_open(pathlib.Path(point_dir) / "events.csv", "wb") as fh:  # killed mid-write
                fh.write(b"replication,matter\\n")
                fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return real(config, point_dir, sweep_dir, num, overrides)

    module.run_point = run_point
''')


def test_a_sweep_whose_worker_dies_still_reports_what_finished(tmp_path):
    """A worker process killed mid-sweep (the operating system's memory
    killer, say) ends the sweep with an error, but the points that finished
    are reported, and the command says how to resume. The hidden temporary
    file the killed worker was writing stays behind until the point runs
    again: the resumed sweep removes it."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_POINT_1, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    folder = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2,3", "horizon_days=5",
           "warmup_days=0", "replications=1", "output.events=false", "++output.plot=false",
           "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={folder}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0
    assert f"+resume={folder}" in proc.stderr
    assert (folder / "report.md").is_file() and (folder / "sweep_summary.csv").is_file()
    status = pd.read_csv(folder / "sweep_summary.csv").drop_duplicates("point").set_index("point")["status"]
    assert status[0] == "finished" and status[1] != "finished"
    left = list((folder / "1").glob(".events.csv.*.tmp"))
    assert len(left) == 1 and not (folder / "1" / "events.csv").exists()

    report = subprocess.run([sys.executable, "-m", "sim.report", str(folder)], capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0 and left[0].exists()  # the report leaves a point's files to the point
    # Point 2 may have been killed mid-write too (its worker ends with the sweep): it may be named as well.
    named = re.search(r"unfinished point\(s\) ([\d, ]+) hold hidden temporary files", report.stderr)
    assert named and "1" in named.group(1).split(", "), report.stderr

    resumed = subprocess.run([*cmd, f"+resume={folder}"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not list(folder.rglob("*.tmp"))
    assert ".events.csv." in (folder / "1" / "__main__.log").read_text(encoding="utf-8")  # and says so
    status = pd.read_csv(folder / "sweep_summary.csv").drop_duplicates("point").set_index("point")["status"]
    assert (status == "finished").all()


WRITER = """
import os, signal, sys
from sim.output import atomic_open
with atomic_open(sys.argv[1]) as fh:
    fh.write("first half,")
    fh.flush()
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    sys.stdin.readline()
    fh.write("second half")
"""


def writer(path: Path, how: str) -> subprocess.Popen:
    """Another process in the middle of an atomic write of ``path``."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), how], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    if how == "die":
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.stdout.readline() == "writing\n"
    return proc


def test_only_the_temporary_files_of_killed_writers_are_removed(tmp_path):
    """A run starting in a folder removes the temporary files that killed
    writers left there, and only those: not the file a live process is still
    writing (which then completes), nor files that merely look like them."""
    from sim import runner
    from sim.compose import load_config
    from sim.config import build_job
    from sim.output import remove_stale_temps

    live = writer(tmp_path / "live.csv", "live")
    writer(tmp_path / "dead.csv", "die")
    mine = [".notes.tmp", ".dead.csv.abcd1234.tmp", "dead.csv.gridgov-abcd1234.tmp", ".x.gridgov-ab.tmp"]
    for name in mine:
        (tmp_path / name).write_text("the user's", encoding="utf-8")
    (tmp_path / ".sub.gridgov-abcd1234.tmp").mkdir()
    dead, live_tmp = ([p for p in tmp_path.glob(f".{name}.csv.*.tmp") if p.name not in mine]
                      for name in ("dead", "live"))
    assert len(dead) == 1 and len(live_tmp) == 1

    config = load_config(["horizon_days=2", "warmup_days=0", "replications=1", "output.events=false",
                          "++output.plot=false", "progress=false"])
    scenario, options = build_job(config)
    runner.run(scenario, tmp_path, config, options)
    assert not dead[0].exists() and live_tmp[0].exists()
    assert remove_stale_temps(tmp_path) == []  # still being written

    live.communicate("go on\n", timeout=60)
    assert live.returncode == 0
    assert (tmp_path / "live.csv").read_text(encoding="utf-8") == "first half,second half"
    assert not (tmp_path / "dead.csv").exists()
    for name in mine:
        assert (tmp_path / name).read_text(encoding="utf-8") == "the user's"
    assert (tmp_path / ".sub.gridgov-abcd1234.tmp").is_dir()
    assert (tmp_path / "summary.json").is_file()


ORPHANS = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from sim.output import atomic_open

def pid(_):
    return os.getpid()

with atomic_open(sys.argv[1]) as fh:  # a run writing its events while its pool works
    fh.write("first half,")
    fh.flush()
    with ProcessPoolExecutor(2) as pool:  # forked (Linux) while the file is open and locked
        print(*set(pool.map(pid, range(8))), flush=True)
        list(pool.map(time.sleep, [60, 60]))
"""


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forked process pools (POSIX)")
def test_workers_that_outlive_a_killed_run_do_not_keep_its_file_locked(tmp_path):
    """A run killed while its process pool works (the memory killer takes the
    largest process): the forked workers live on for a while, and must not
    hold the dead run's temporary file locked, or it is never removed."""
    from sim.output import remove_stale_temps

    run = subprocess.Popen([sys.executable, "-c", ORPHANS, str(tmp_path / "events.csv")], stdout=subprocess.PIPE,
                           text=True)
    workers = [int(p) for p in run.stdout.readline().split()]
    try:
        assert workers
        run.kill()
        run.wait(timeout=60)
        for p in workers:
            os.kill(p, 0)  # still alive (raises if not)
        left = list(tmp_path.glob(".events.csv.*.tmp"))
        assert len(left) == 1
        assert remove_stale_temps(tmp_path) == left
    finally:
        for p in workers:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def test_stale_files_are_removed_where_locks_need_a_descriptor_open_for_writing(tmp_path, monkeypatch):
    """On NFS, flock is emulated by record locks: an exclusive lock on a
    descriptor opened read-only fails (EBADF). The cleaner must still tell a
    killed writer's file from a live one there."""
    import errno
    import fcntl

    from sim.output import remove_stale_temps

    real = fcntl.flock

    def nfs_flock(fd, op):
        if op & fcntl.LOCK_EX and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", nfs_flock)
    writer(tmp_path / "dead.csv", "die")
    live = writer(tmp_path / "live.csv", "live")
    dead, live_tmp = (list(tmp_path.glob(f".{name}.csv.*.tmp")) for name in ("dead", "live"))
    assert remove_stale_temps(tmp_path) == dead and live_tmp[0].exists()
    live.communicate("go on\n", timeout=60)
    assert (tmp_path / "live.csv").read_text(encoding="utf-8") == "first half,second half"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files from /proc (Linux)")
def test_without_locks_a_file_is_renamed_once_closed(tmp_path, monkeypatch):
    """Where nothing can be locked (a file system without flock; Windows,
    which cannot rename an open file), the file is closed before it takes
    its final name, and written whole."""
    from sim import output

    monkeypatch.setattr(output, "_lock", lambda fd, wait: None)
    real = os.replace

    def replace(src, dst):
        src = os.path.realpath(src)
        held = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")]
        assert src not in held, "renamed while still open"
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", replace)
    with output.atomic_open(tmp_path / "a.csv") as fh:
        fh.write("whole")
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "whole"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_temporary_file_removed_before_its_writer_locks_it_is_replaced(tmp_path, monkeypatch):
    """Between creating its temporary file and locking it, a writer can lose
    the file to a cleaner (it is not locked yet): it then writes another."""
    from sim import output

    real_lock = output._lock
    removed: list = []
    cleaned = False

    def late_lock(fd, wait):
        nonlocal cleaned
        if not cleaned:  # the writer's first lock: the cleaner comes first
            cleaned = True
            removed.extend(output.remove_stale_temps(tmp_path))
        return real_lock(fd, wait)

    monkeypatch.setattr(output, "_lock", late_lock)
    with output.atomic_open(tmp_path / "a.csv") as fh:
        fh.write("whole")
    assert len(removed) == 1 and not removed[0].exists()
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "whole"
    assert not list(tmp_path.glob(".*.tmp"))


SLOW_PGREP = patch_on_import(
    "joblib.externals.loky.backend.utils",
    "loky kills each worker's process tree after asking `pgrep -P PID` for its children; here pgrep takes 2 s, "
    "as on a loaded machine, so that a second Ctrl-C lands while it runs (it is in the command's process group).", '''
    import subprocess, types

    def check_output(cmd, *args, **kwargs):
        if cmd and cmd[0] == "pgrep":
            cmd = ["sh", "-c", 'sleep 2; exec pgrep "$@"', "sh", *cmd[1:]]
        return subprocess.check_output(cmd, *args, **kwargs)

    module.subprocess = types.SimpleNamespace(**{**vars(subprocess), "check_output": check_output})
''')


def living_in_group(pgid: int) -> list[str]:
    """The processes of a process group that are still running (not zombies)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
                out.append(stat[:stat.rfind(b")") + 3].decode(errors="replace"))  # pid (name) state
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc (Linux)")
def test_a_second_ctrl_c_stops_a_sweep_at_once(tmp_path):
    """Ctrl-C twice during a joblib sweep (the second while the first is
    shutting the workers down) ends the command at once, by SIGINT (status
    130 in a shell), says how to resume, and leaves no process running and
    no half-written file under a final name. It used to hang: the second
    SIGINT also killed the pgrep of loky's shutdown, whose fallback failed,
    and Python then waited at exit for workers that were never stopped."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_PGREP, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    folder = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2,3,4",
                             "horizon_days=200", "warmup_days=0", "replications=2", "hydra.launcher.n_jobs=2",
                             f"hydra.sweep.dir={folder}"], env=env, start_new_session=True,
                            preexec_fn=as_in_a_terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("*/.hydra"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)  # the shutdown is under way (its pgrep alone takes 2 s)
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 15 s after the second Ctrl-C: {living_in_group(proc.pid)}") \
                from None
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == -signal.SIGINT, err[-3000:]
    assert "second Ctrl-C" in err and f"+resume={folder}" in err, err[-3000:]
    assert_none_left(proc.pid)
    for summary in folder.glob("*/summary.json"):  # whatever finished is whole
        json.loads(summary.read_text(encoding="utf-8"))
    assert not (folder / "sweep_summary.csv").exists() and not (folder / "report.md").exists()
    assert not (folder / ".shared").exists()  # the replications' boards (sim.share) went with the workers


def as_in_a_terminal() -> None:
    """In the child, before it starts: Ctrl-C acts as in a terminal's foreground command.

    A child inherits an ignored SIGINT, and Python then leaves it ignored:
    the suite run in the background of a non-interactive shell (``bash
    .ci/run &``, which ignores SIGINT for it) would otherwise see every
    command run to its end through the test's Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when(cmd: list[str], ready, settle: float) -> tuple[subprocess.Popen, str]:
    """Start ``cmd`` in its own process group, press Ctrl-C once ``ready()``
    (and ``settle`` seconds more), and return it ended, with its error stream."""
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=as_in_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready(proc) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(settle)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc, err


def assert_none_left(pgid: int) -> None:
    deadline = time.monotonic() + 10  # killed processes take a moment to go
    while living_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not living_in_group(pgid)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc (Linux)")
def test_ctrl_c_stops_a_parallel_run_with_one_line_and_no_process_left(tmp_path):
    """Ctrl-C during a run whose towns run in parallel (``jobs=2``): one line
    saying the folder holds no finished results, no traceback (from the
    command or its workers), the command ends by SIGINT, and none of its
    worker processes outlives it."""
    proc, err = interrupt_when([sys.executable, "-m", "sim", "town=synthetic", "town.population=400000", "jobs=2",
                                f"hydra.run.dir={tmp_path}"],
                               lambda p: len(living_in_group(p.pid)) >= 3, 0.5)  # the command and its two workers
    assert proc.returncode == -signal.SIGINT, err[-3000:]
    assert err.strip() == f"gridgov: run interrupted (Ctrl-C); {tmp_path} holds no summary.json: no finished results"
    assert not (tmp_path / "summary.json").exists()
    assert_none_left(proc.pid)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc (Linux)")
def test_ctrl_c_stops_a_parallel_sweep_with_only_the_way_to_resume(tmp_path):
    """Ctrl-C during a 2-job sweep: the error stream holds the one line
    saying how to report or resume, no traceback and no warning of loky's
    resource tracker about the killed workers' locks (which it cleans up),
    the command ends by SIGINT and none of its processes outlives it."""
    folder = tmp_path / "sweep"
    proc, err = interrupt_when([sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2,3,4",
                                "horizon_days=200", "warmup_days=0", "replications=2", "hydra.launcher.n_jobs=2",
                                f"hydra.sweep.dir={folder}"],
                               lambda p: len(list(folder.glob("*/.hydra"))) >= 2, 0.3)
    assert proc.returncode == -signal.SIGINT, err[-3000:]
    assert err.strip() == (f"gridgov: sweep interrupted; report what finished with `python -m sim.report {folder}`, "
                           f"or resume with `+resume={folder}` added to the same command"), err[-3000:]
    assert_none_left(proc.pid)
    assert not (folder / ".shared").exists()  # the replications' boards (sim.share) went with the sweep


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc (Linux)")
def test_ctrl_c_before_any_point_starts_still_says_how_to_resume(tmp_path):
    """Ctrl-C in the seconds between the sweep's plan and its first point
    (workers still loading) ended the command without a word of ours, though
    the sweep's folder was made and can be resumed, and with the traceback
    of each worker's interrupted imports."""
    folder = tmp_path / "sweep"
    proc, err = interrupt_when([sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2",
                                "horizon_days=20", "warmup_days=0", "replications=1", "hydra.launcher.n_jobs=2",
                                f"hydra.sweep.dir={folder}"],
                               lambda p: (folder / "plan.json").is_file(), 0.0)
    if any(folder.glob("*/.hydra")):  # a slow moment: the first point won the race
        pytest.skip("a point had started before Ctrl-C reached the command: this test needs Ctrl-C before any")
    assert proc.returncode == -signal.SIGINT, err[-3000:]
    # The one line, and no traceback of a worker interrupted in its imports.
    assert err.strip() == (f"gridgov: sweep interrupted; report what finished with `python -m sim.report {folder}`, "
                           f"or resume with `+resume={folder}` added to the same command"), err[-3000:]
    assert_none_left(proc.pid)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_kill_of_a_sweep_kills_its_workers_and_says_how_to_resume(tmp_path, signame):
    """``kill PID`` of a 2-job sweep (or its terminal closed): the command
    died without a word, and its launcher's workers ran on, orphaned, wrote
    points after it, then idled for minutes. Now it ends as after a second
    Ctrl-C, by the same signal, with no process left."""
    signum = getattr(signal, signame)
    folder = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "-m", "staffing.workers_per_grid=1,2,3,4",
                             "horizon_days=200", "warmup_days=0", "replications=2", "hydra.launcher.n_jobs=2",
                             f"hydra.sweep.dir={folder}"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("*/.hydra"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signum)  # the command only, as `kill PID` does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == -signum, err[-3000:]
    assert err.strip().endswith(f"gridgov: stopped by {signame}; every worker process was killed; report what "
                                f"finished with `python -m sim.report {folder}`, or resume with `+resume={folder}` "
                                "added to the same command"), err[-3000:]
    assert_none_left(proc.pid)
    for summary in folder.glob("*/summary.json"):  # whatever finished is whole
        json.loads(summary.read_text(encoding="utf-8"))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_sigterm_ends_the_command_even_when_its_message_cannot_be_written(tmp_path):
    """A closed terminal: the message of SIGTERM or SIGHUP cannot be written
    (EIO on a hung-up terminal; here ENOSPC on /dev/full). The error escaped
    the handler, the command ran on, and it ignored every later SIGTERM."""
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([sys.executable, "-m", "sim", "town=synthetic", "town.population=400000",
                                 "replications=2", "progress=false", f"hydra.run.dir={tmp_path}"],
                                stdout=subprocess.DEVNULL, stderr=full, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "__main__.log").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # into the simulation
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGTERM


def test_ending_by_sigint_keeps_what_was_printed():
    """The signal that ends the command after Ctrl-C skips Python's exit: a
    run's table printed to a file or pipe just before was lost."""
    code = "print('the table'); from sim.interrupt import end_by_sigint; end_by_sigint('gridgov: interrupted')"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as in a pipe
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == -signal.SIGINT
    assert result.stdout == "the table\n" and result.stderr == "gridgov: interrupted\n"


def test_a_sweep_stopped_before_its_plan_is_not_offered_for_resume(tmp_path, monkeypatch):
    """Ctrl-C in the second between the sweep's folder and its plan: the
    hint offered `sim.report` and `+resume=` for a folder holding only the
    lock, and both refuse it. Now it says to run the command again, and the
    empty folder goes."""
    from sim import callbacks

    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / callbacks.LOCK).write_text("")
    monkeypatch.setattr(callbacks, "_open_sweep", folder)
    assert callbacks.finish_hint() == "it stopped before any point was planned: run the same command again"
    callbacks.drop_unplanned_sweep()
    assert not folder.exists()
    # A planned sweep keeps its folder and is offered for resume.
    folder.mkdir()
    (folder / callbacks.PLAN).write_text("{}")
    assert f"+resume={folder}" in callbacks.finish_hint()
    callbacks.drop_unplanned_sweep()
    assert (folder / callbacks.PLAN).exists()
