"""The timer queue (``sim.timers.TimerQueue``) against one SimPy event per timer.

Escalation and patience timers share a queue that keeps only the nearest
day's timers in a heap and drops timers that have become moot without firing
them. Whatever the times (bucket boundaries, ties, timers set while others
fire), a timer must fire at exactly its time, in the order one SimPy event
per timer would give, and only while it still matters; a moot timer never
comes back.
"""

from __future__ import annotations

import math

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.timers import TimerQueue

# A script step: wait until gap/2 h after the previous step (steps fall at
# 1/16 h past a half hour), then set a timer on the quarter-hour grid, delay/4
# h after the next quarter hour, or make the kill-th live timer moot. Timers
# (and the timers they set) stay on the quarter-hour grid, so no timer ties
# with a step: at a tie, which of two events goes first depends on when each
# was scheduled, which is not what this test is about.
STEP = st.tuples(st.integers(0, 120), st.booleans(), st.integers(0, 400), st.integers(0, 50))


def _play(script, make_queue) -> list[tuple[float, int]]:
    """Run ``script``; return (time, timer) of every timer that fired while it mattered.

    ``make_queue(env, fire, live)`` returns ``add(t, timer)``. A timer whose
    number is a multiple of 3 sets another timer when it fires (as an
    escalation queues the matter again), ``number % 5`` quarter-hours later.
    """
    env = simpy.Environment()
    alive: set[int] = set()
    due: dict[int, float] = {}
    fired: list[tuple[float, int]] = []
    count = [0]

    def new_timer(t: float) -> None:
        count[0] += 1
        alive.add(count[0])
        due[count[0]] = t
        add(t, count[0])

    def fire(timer: int) -> None:
        if timer in alive:  # the model's callbacks ignore moot timers too
            assert env.now == due[timer], "a timer fired before or after its time"
            alive.discard(timer)
            fired.append((env.now, timer))
            if timer % 3 == 0:
                new_timer(env.now + (timer % 5) / 4)

    def live(entries):
        return [e for e in entries if e[2] in alive]

    add = make_queue(env, fire, live)

    def driver():
        yield env.timeout(1 / 16)
        for gap, set_timer, delay, kill in script:
            yield env.timeout(gap / 2)
            if set_timer:
                new_timer((math.floor(env.now * 4) + 1 + delay) / 4)
            elif alive:
                alive.discard(sorted(alive)[kill % len(alive)])

    env.process(driver())
    env.run()
    return fired


def _timer_queue(env, fire, live):
    return TimerQueue(env, fire, live).add


def _one_event_each(env, fire, live):
    def add(t: float, timer: int) -> None:
        env.timeout(t - env.now).callbacks.append(lambda _event: fire(timer))
    return add


@settings(max_examples=200, deadline=None)
@given(st.lists(STEP, max_size=80))
def test_timers_fire_at_their_time_in_order_and_only_while_they_matter(script):
    assert _play(script, _timer_queue) == _play(script, _one_event_each)


def test_a_script_across_many_days_fires_the_same_timers():
    """A fixed long script: hundreds of timers over several day buckets, most made moot."""
    script = [((7 * i) % 97, i % 4 != 3, (37 * i) % 400, (11 * i) % 50) for i in range(600)]
    expected = _play(script, _one_event_each)
    assert len(expected) > 100
    assert _play(script, _timer_queue) == expected
