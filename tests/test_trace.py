"""Exact-trace tests: tiny towns, hand-placed matters, expected times by hand.

Town (see conftest.tiny_town_config): grids 0 and 1 of one village 5 km from
the seat; one worker per grid; one department desk; one enforcement team
0.5 h away. Deterministic work: simple 2, triage 0.5, department 4, urgent 1,
feedback 0.5 hours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.arrivals import hand_placed
from sim.config import build_scenario
from sim.model import Model
from sim.records import ROUTES
from sim.town import build_layout

from conftest import tiny_town_config


def simulate(cfg, times, grids, complexity, **kw):
    scenario = build_scenario(cfg)
    layout = build_layout(scenario.town)
    arrivals = hand_placed(times, grids, complexity, scenario=scenario, **kw)
    return Model(scenario, layout, arrivals).run()


def row(rec, i):
    return {k: (None if math.isnan(v[i]) else round(float(v[i]), 9)) for k, v in rec.times.items()} | {
        "route": ROUTES[rec.route[i]], "escalated": bool(rec.escalated[i]), "supervised": bool(rec.supervised[i]),
    }


def test_simple_matter_closed_loop_in_grid():
    rec = simulate(tiny_town_config(), [1.0], [0], ["simple"])
    r = row(rec, 0)
    assert (r["t_start"], r["t_onsite"], r["t_handled"], r["t_closed"]) == (1.0, 1.0, 3.0, 3.5)
    assert r["route"] == "in_grid" and not r["escalated"]


def test_fifo_queue_and_feedback_behind_waiting_work():
    # Worker 0: A 1-3; B (queued 1.5, before A's feedback at 3) 3-5;
    # feedback A 5-5.5; feedback B 5.5-6. Grid 1's worker is independent.
    rec = simulate(tiny_town_config(), [1.0, 1.5, 1.5], [0, 0, 1], ["simple"] * 3)
    assert [row(rec, i)["t_closed"] for i in range(3)] == [5.5, 6.0, 4.0]
    assert row(rec, 1)["t_start"] == 3.0


def test_difficult_matter_triaged_then_claimed_by_department():
    rec = simulate(tiny_town_config(), [0.0], [1], ["difficult"])
    r = row(rec, 0)
    assert (r["t_start"], r["t_res_in"], r["t_handle_start"], r["t_handled"], r["t_closed"]) == (0.0, 0.5, 0.5, 4.5, 5.0)
    assert r["route"] == "department"


def test_urgent_matter_team_travels_from_town_seat():
    # Triage 0-0.5; team leaves at 0.5, on site 1.0, done 2.0, back at base 2.5;
    # feedback 2.0-2.5. A second urgent matter at 0.1 in grid 0 (its own
    # worker) is triaged 0.1-0.6 and waits for the single team until 2.5.
    rec = simulate(tiny_town_config(), [0.0, 0.1], [1, 0], ["urgent", "urgent"])
    a, b = row(rec, 0), row(rec, 1)
    assert (a["t_handle_start"], a["t_handle_onsite"], a["t_handled"], a["t_closed"]) == (0.5, 1.0, 2.0, 2.5)
    assert (b["t_res_in"], b["t_handle_start"], b["t_handle_onsite"], b["t_handled"]) == (0.6, 2.5, 3.0, 4.0)
    assert a["route"] == b["route"] == "enforcement"
    assert rec.pool_busy_h[-1] == pytest.approx(4.0)  # two trips of 0.5 + 1 + 0.5


def test_urgent_triage_jumps_the_worker_queue():
    # Worker 0 busy with S1 0-2; S2 queued at 0.1; urgent U at 0.2 is triaged first.
    rec = simulate(tiny_town_config(), [0.0, 0.1, 0.2], [0, 0, 0], ["simple", "simple", "urgent"])
    assert row(rec, 2)["t_start"] == 2.0
    assert row(rec, 1)["t_start"] == 2.5


def test_escalation_moves_waiting_simple_matter_to_department():
    # A 0-2 on worker 0; B waits from 0.5; escalated at 1.5 to the department,
    # which does B's simple work (2 h) 1.5-3.5; feedbacks: A 2-2.5, B 3.5-4.
    cfg = tiny_town_config(routing__escalate_after_h=1.0)
    rec = simulate(cfg, [0.0, 0.5], [0, 0], ["simple", "simple"])
    a, b = row(rec, 0), row(rec, 1)
    assert a["t_closed"] == 2.5 and not a["escalated"]
    assert b["escalated"] and b["route"] == "escalated"
    assert (b["t_start"], b["t_res_in"], b["t_handled"], b["t_closed"]) == (1.5, 1.5, 3.5, 4.0)


def test_grid_only_never_escalates():
    cfg = tiny_town_config(routing__escalate_after_h=1.0, routing__policy="grid_only")
    rec = simulate(cfg, [0.0, 0.5], [0, 0], ["simple", "simple"])
    assert not rec.escalated.any()
    assert row(rec, 1)["t_start"] == 2.0


def test_overdue_matters_are_supervised_to_the_front():
    # Deadlines 3 h. Worker 0: A 0-2, B 2-4 (queued first). At 4 the queue
    # holds C (reported 1.5, deadline 4.5, not yet due) queued before the
    # feedbacks of A (due 3) and B (due 3.5): supervision serves the overdue
    # feedbacks first, earliest deadline first, then C.
    cfg = tiny_town_config(routing__deadline_h={"simple": 3.0, "difficult": 100.0, "urgent": 100.0})
    rec = simulate(cfg, [0.0, 0.5, 1.5], [0, 0, 0], ["simple"] * 3)
    a, b, c = row(rec, 0), row(rec, 1), row(rec, 2)
    assert (a["t_closed"], b["t_closed"], c["t_start"], c["t_closed"]) == (4.5, 5.0, 5.0, 7.5)
    assert a["supervised"] and b["supervised"] and c["supervised"]
    # without supervision C would have started at 4.0
    from sim import metrics
    assert metrics.overdue(rec).tolist() == [True, True, True]


def test_unit_pooling_lets_the_neighbouring_grid_worker_help():
    cfg = tiny_town_config(staffing__pooling="unit")
    rec = simulate(cfg, [0.0, 0.5], [0, 0], ["simple", "simple"])
    assert row(rec, 1)["t_start"] == 0.5  # grid 1's worker takes it at once


def test_zero_steps_do_not_exist():
    cfg = tiny_town_config()
    cfg["handling"]["triage"] = {"dist": "deterministic", "mean_h": 0.0}
    cfg["handling"]["feedback"] = {"dist": "deterministic", "mean_h": 0.0}
    rec = simulate(cfg, [1.0, 1.0], [0, 1], ["simple", "difficult"])
    s, d = row(rec, 0), row(rec, 1)
    assert s["t_closed"] == 3.0
    assert (d["t_start"], d["t_res_in"], d["t_closed"]) == (1.0, 1.0, 5.0)  # straight to the department


def test_open_matters_stay_in_the_backlog_at_the_horizon():
    cfg = tiny_town_config(horizon_days=0.125)  # 3 h
    rec = simulate(cfg, [0.0, 2.9, 2.95], [0, 0, 0], ["simple"] * 3)
    closed = ~np.isnan(rec.t_closed)
    assert closed.tolist() == [True, False, False]
    from sim import metrics
    m = metrics.compute(rec)
    assert m["backlog_end"] == 2 and m["events_arrived"] == 3 and m["events_closed"] == 1


def test_busy_time_is_clipped_to_the_measurement_window():
    cfg = tiny_town_config(horizon_days=0.25, warmup_days=0.0625)  # window [1.5, 6)
    rec = simulate(cfg, [0.0], [0], ["simple"])
    from sim import metrics
    # worker 0 busy 0-2 (0.5 h in window) and 2-2.5 (feedback); 2 workers x 4.5 h
    assert metrics.compute(rec)["worker_utilization"] == pytest.approx((0.5 + 0.5) / (2 * 4.5))


def test_queue_throughput_and_waited_share_by_hand():
    cfg = tiny_town_config(horizon_days=0.25, warmup_days=0.0625)  # window [1.5, 6)
    # Worker 0: A 0-2, B (waiting 1-2) 2-4, feedback A 4-4.5, feedback B 4.5-5,
    # D 5.5-7.5 (open at the horizon), E waits from 5.8 (not started by 6).
    # Worker 1: C 2-4, feedback 4-4.5.
    rec = simulate(cfg, [0.0, 1.0, 2.0, 5.5, 5.8], [0, 0, 1, 0, 0], ["simple"] * 5)
    from sim import metrics
    m = metrics.compute(rec)
    assert rec.t_closed[:3].tolist() == [4.5, 5.0, 4.5] and np.isnan(rec.t_start[4])
    # waiting for a first handler inside the window: B 1.5-2, E 5.8-6
    assert m["queue_mean"] == pytest.approx((0.5 + 0.2) / 4.5)
    # closures in the window (A, B reported before it, and C), per day of the window
    assert m["throughput_per_day"] == pytest.approx(3 / (4.5 / 24))
    # reported in the window: C and D started at once, E is still waiting
    assert m["waited_rate"] == pytest.approx(1 / 3)


def _feedback_twice(self, model, mid, done):
    """A second feedback visit after the first, then Tiered's rule."""
    from sim import routing

    if done == routing.FEEDBACK:
        self.visits[mid] = self.visits.get(mid, 0) + 1
        if self.visits[mid] == 1:
            return model.worker_pool(mid), routing.FEEDBACK, routing.PRIO_NORMAL
    return routing.Tiered.next_step(self, model, mid, done)


def _feedback_twice_policies():
    """The same rule given to a Tiered subclass three ways: its own method, a mixin, a method set later."""
    from sim import routing

    class Base(routing.Tiered):
        name = "feedback_twice"

        def prepare(self, model):
            self.visits = {}

    own = type("Own", (Base,), {"next_step": _feedback_twice})
    mixin = type("Mixed", (type("Mixin", (), {"next_step": _feedback_twice}), Base), {})
    later = type("Later", (Base,), {})
    later.next_step = _feedback_twice
    return {"own method": own, "mixin": mixin, "set later": later}


@pytest.mark.parametrize("how", ["own method", "mixin", "set later"])
def test_a_policy_with_its_own_next_step_decides_after_the_feedback_visit(monkeypatch, how):
    # The model closes a matter at the end of the step its policy declares
    # final (closes_after) without asking the policy. A subclass of Tiered
    # whose next_step is not Tiered's, here one asking for a second feedback
    # visit, must not inherit Tiered's answer: the matter closes after both.
    from sim import routing

    policy = _feedback_twice_policies()[how]
    assert routing.closing_step(routing.Tiered(None)) == routing.FEEDBACK
    assert routing.closing_step(policy(None)) is None
    monkeypatch.setitem(routing.POLICIES, "feedback_twice", policy)
    cfg = tiny_town_config()
    cfg["routing"]["policy"] = "feedback_twice"
    rec = simulate(cfg, [1.0], [0], ["simple"])
    r = row(rec, 0)
    assert (r["t_start"], r["t_handled"], r["t_closed"]) == (1.0, 3.0, 4.0)  # simple 1-3, feedback 3-3.5 and 3.5-4
