"""A sweep point's replications run by another job are the ones it would have run.

``sim.share`` lets a job with nothing left to do take replications of a point
still running. These tests drive a point's replications (``sim.parallel``)
with a board and a helper in this process, in a fixed order, so every case
is reached without relying on timing: a helper that takes all but the
first replication, one that died holding a claim, one whose replication
fails, and one that must wait because a point has not started.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import sim.model
from sim import share
from sim.config import build_job
from sim.parallel import replications
from sim.town import build_layout

REPS = 4


@pytest.fixture(autouse=True)
def no_endless_wait(monkeypatch):
    """A wait that would never end (a claim never given back) fails the test instead of hanging it."""
    sleep, calls = share.time.sleep, []

    def counted(seconds):
        calls.append(seconds)
        assert len(calls) < 500, "still waiting after 500 polls"
        sleep(seconds)

    monkeypatch.setattr(share.time, "sleep", counted)


@pytest.fixture
def point(tmp_path, tiny_config):
    """A tiny town of ``REPS`` replications, its layout, and an open sweep folder of one point."""
    scenario, _ = build_job(tiny_config(replications=REPS, horizon_days=20.0))
    share.open_sweep(tmp_path)
    return scenario, build_layout(scenario.town), tmp_path


def same_records(a, b) -> bool:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, dict):
            if x.keys() != y.keys() or not all(np.array_equal(x[k], y[k], equal_nan=True) for k in x):
                return False
        elif isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif x != y:
            return False
    return True


def alone(scenario, layout):
    """The replications of one process, no board: what every shared run must reproduce."""
    return [rec for _, rec in replications(scenario, layout)]


def under_way(scenario, layout, sweep):
    """Point 0 under way (its board up, replication 0 run) and point 1 started,
    whose job has just finished it; point 0's replications and the first."""
    share.point_started(sweep, 0)
    run = replications(scenario, layout, share=share.board_dir(sweep, 0))
    first = next(run)
    assert first[0] == 0
    share.point_started(sweep, 1)
    return run, first


def test_replications_a_helper_ran_are_the_same_as_the_points_own(point, caplog):
    scenario, layout, sweep = point
    run, first = under_way(scenario, layout, sweep)
    board = share.board_dir(sweep, 0)
    with caplog.at_level(logging.INFO, logger="gridgov.sweep"):
        helped = share.help_others(sweep, 1, total=2)
        assert (board / "done-1.pkl").is_file()
        second = next(run)
        assert not (board / "done-1.pkl").exists()  # the point holds it now, not the disk
        got = [first, second, *run]
    # The helper takes the last replications first, every one the point had not claimed.
    assert helped == [("point-0", r) for r in range(REPS - 1, 0, -1)]
    assert [r for r, _ in got] == list(range(REPS))
    assert all(same_records(a, b) for (_, a), b in zip(got, alone(scenario, layout)))
    assert "replication(s) 1, 2, 3 (counted from 0, as in summary.json) run by another job" in caplog.text
    assert not share.board_dir(sweep, 0).exists()  # taken down once the point has them all


def test_a_job_goes_back_for_a_point_still_to_start_unless_another_has_promised_to(point):
    scenario, layout, sweep = point
    run, first = under_way(scenario, layout, sweep)
    # Point 2 is still to start and no job has promised to take it: this one
    # goes back to the launcher for it, at once, and says so with a ticket.
    t0 = time.monotonic()
    assert share.help_others(sweep, 1, total=3) == []
    assert time.monotonic() - t0 < share.WAIT_S / 2
    assert sorted(p.name for p in share.board_dir(sweep, 0).glob("claim-*")) == ["claim-0"]
    assert (sweep / share.ROOT / "tickets" / "2").is_file()
    # A second job finishing now finds point 2 promised: it stays, and helps once point 2 has started.
    started = sweep / share.ROOT / "started"

    def start_point_2():  # as the job with the ticket does, a moment later (one replication: no board)
        (started / "2").write_text(f"{socket.gethostname()} {os.getppid()}")
        (sweep / share.ROOT / "settled" / "2").write_text("")

    timer = threading.Timer(0.3, start_point_2)
    t0 = time.monotonic()
    timer.start()
    helped = share.help_others(sweep, 1, total=3)
    assert time.monotonic() - t0 >= 0.3 and helped == [("point-0", r) for r in range(REPS - 1, 0, -1)]
    got = [first, *run]
    assert all(same_records(a, b) for (_, a), b in zip(got, alone(scenario, layout)))
    assert not share.board_dir(sweep, 0).exists()


def test_a_point_whose_board_is_taken_from_under_it_runs_the_rest_itself(point):
    scenario, layout, sweep = point
    run, first = under_way(scenario, layout, sweep)
    assert share.help_others(sweep, 1, total=2)  # a helper has left replications on the board
    share.close_sweep(sweep)  # the sweep's main process ended while this point still runs
    got = [first, *run]
    assert all(same_records(a, b) for (_, a), b in zip(got, alone(scenario, layout)))


def test_a_helper_stops_when_the_point_ends_and_never_claims_on_a_board_coming_down(point, monkeypatch):
    scenario, layout, sweep = point
    run, _ = under_way(scenario, layout, sweep)
    board, settled = share.board_dir(sweep, 0), sweep / share.ROOT / "settled" / "0"
    weeks = []
    real = sim.model.run_replication

    def point_fails_meanwhile(*args, on_progress=None, **kwargs):
        settled.write_text("")  # the point ends (it failed) while the helper runs its replication

        def counted(*a):
            weeks.append(a)
            on_progress(*a)
        return real(*args, on_progress=counted, **kwargs)

    monkeypatch.setattr(sim.model, "run_replication", point_fails_meanwhile)
    assert share.help_others(sweep, 1, total=2) == []
    assert len(weeks) == 1  # stopped at its first simulated week, not at the end of the run
    assert sorted(p.name for p in board.glob("claim-*")) == ["claim-0"]  # its claim given back
    assert not list(board.glob("done-*"))
    run.close()
    assert not board.exists()
    assert share.help_others(sweep, 1, total=2) == []  # nothing to claim once the board is down


def test_a_replication_claimed_by_a_process_that_died_is_run_by_the_point(point):
    scenario, layout, sweep = point
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = replications(scenario, layout, share=share.board_dir(sweep, 0))
    first = next(run)
    (share.board_dir(sweep, 0) / f"claim-{REPS - 1}").write_text(f"{socket.gethostname()} {int(dead.stdout)}")
    got = [first, *run]
    assert all(same_records(a, b) for (_, a), b in zip(got, alone(scenario, layout)))


def test_a_helper_whose_replication_fails_gives_it_back(point, monkeypatch, caplog):
    scenario, layout, sweep = point
    run, first = under_way(scenario, layout, sweep)

    def broken(*args, **kwargs):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(sim.model, "run_replication", broken)
    with caplog.at_level(logging.WARNING, logger="gridgov.sweep"):
        assert share.help_others(sweep, 1, total=2) == []  # it stops helping; never raises
    assert f"replication {REPS - 1} (counted from 0) of point-0, run to help it, failed (no memory left)" in caplog.text
    assert not (share.board_dir(sweep, 0) / f"claim-{REPS - 1}").exists()
    # Another helper does not try that one again (the point will, and record
    # the error): it takes the next one down.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gridgov.sweep"):
        assert share.help_others(sweep, 1, total=2) == []
    assert f"replication {REPS - 2} (counted from 0) of point-0, run to help it, failed" in caplog.text
    assert f"replication {REPS - 1} (counted from 0) of" not in caplog.text
    monkeypatch.undo()
    got = [first, *run]
    assert all(same_records(a, b) for (_, a), b in zip(got, alone(scenario, layout)))


def test_runs_that_already_use_several_processes_or_one_replication_offer_no_board(point, tiny_config):
    scenario, layout, sweep = point
    one, _ = build_job(tiny_config(replications=1))
    assert share.Board.offer(share.board_dir(sweep, 0), one, build_layout(one.town), True) is None
    assert share.Board.offer(None, scenario, layout, True) is None  # the sweep does not share
    # A run with jobs > 1 shares nothing, and helpers need not wait for its board.
    assert share.Board.offer(share.board_dir(sweep, 3), scenario, layout, True, alone=False) is None
    assert (sweep / share.ROOT / "settled" / "3").is_file() and not share.board_dir(sweep, 3).exists()
    share.close_sweep(sweep)
    assert share.board_dir(sweep, 0) is None


def test_a_job_waits_for_the_report_only_while_every_point_has_started_and_one_still_runs(tmp_path):
    # The job then loads the report's modules, which the report uses in these workers.
    assert not share.idle_until_report(tmp_path, 2)  # sharing off (a cluster job): it just ends
    share.open_sweep(tmp_path)
    share.point_started(tmp_path, 0)
    assert not share.idle_until_report(tmp_path, 2)  # point 1 has yet to start: a job will run it
    share.point_started(tmp_path, 1)
    share.point_settled(tmp_path, 0)
    assert share.idle_until_report(tmp_path, 2)  # point 1 runs: this job waits for the report
    assert not share.idle_until_report(tmp_path, None)  # no plan: nothing is known
    share.point_settled(tmp_path, 1)
    assert not share.idle_until_report(tmp_path, 2)  # the last point ended: the report comes now
