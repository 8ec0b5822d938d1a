"""Keyed random streams: the fast seeding of many streams equals NumPy's own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**70),
    replication=st.integers(0, 2**33),
    purpose=st.integers(0, 3),
    keys=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
)
def test_keyed_equals_stream(seed: int, replication: int, purpose: int, keys: list[int]) -> None:
    """Every generator ``keyed`` yields draws what ``stream`` draws for that key."""
    got = [(k, rng.random(4).tolist(), int(rng.integers(0, 2**63))) for k, rng in
           streams.keyed(seed, replication, purpose, keys)]
    want = []
    for k in keys:
        rng = streams.stream(seed, replication, purpose, k)
        want.append((k, rng.random(4).tolist(), int(rng.integers(0, 2**63))))
    assert got == want


def test_keyed_state_is_numpys() -> None:
    """The PCG64 state itself, not only a few draws, is NumPy's for SeedSequence(seed, spawn_key)."""
    keys = np.arange(0, 70_000, 997)
    for key, rng in streams.keyed(20260101, 4, streams.ARRIVALS, keys):
        ref = np.random.PCG64(np.random.SeedSequence(20260101, spawn_key=(4, streams.ARRIVALS, int(key))))
        assert rng.bit_generator.state == ref.state


@pytest.mark.parametrize("keys", [[2**32], [2**63 + 5], [2**70], (k for k in (4, 2**32 + 1, 7))])
def test_keys_outside_one_word_take_numpys_route(keys) -> None:
    """Keys the vectorised seeding does not cover (more than 32 bits, any
    iterable) give what ``stream`` gives."""
    keys = list(keys)
    got = [(k, rng.random(3).tolist()) for k, rng in streams.keyed(1, 0, 0, iter(keys))]
    assert got == [(k, streams.stream(1, 0, 0, k).random(3).tolist()) for k in keys]


@pytest.mark.parametrize("args", [(1, 0, 0, [-1]), (1, -1, 0, [3]), (1, 0, -2, [3]), (-5, 0, 0, [3]), (1, 0, 0, [1.5])])
def test_bad_keys_fail_as_numpy_does(args) -> None:
    """Negative or non-integer seeds, replications, purposes and keys raise
    NumPy's own error, as ``stream`` does (never a hang or a silent cast)."""
    with pytest.raises((ValueError, TypeError)) as via_keyed:
        list(streams.keyed(*args))
    with pytest.raises((ValueError, TypeError)) as via_stream:
        streams.stream(*args[:3], args[3][0])
    assert via_keyed.type is via_stream.type


def test_fast_path_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised seeding agrees with this NumPy, so it is the route taken
    (the tests above would also pass on the slow fallback)."""
    assert streams._fast_path_agrees()

    def slow(*args):
        raise AssertionError("keyed fell back to one SeedSequence per key")

    monkeypatch.setattr(streams, "stream", slow)
    assert len(list(streams.keyed(5, 1, 0, range(100)))) == 100


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**64),
    keys=st.lists(st.integers(0, 5_000), min_size=1, max_size=8, unique=True).map(sorted),
    mean=st.floats(0.0, 40.0),
    horizon=st.floats(1.0, 9_000.0),
)
def test_candidates_are_each_keys_documented_draws(seed: int, keys: list[int], mean: float, horizon: float) -> None:
    """A key's matters are what its own stream draws, in this order: a
    Poisson count n, n report times uniform on [0, horizon) (sorted), then an
    n x N_UNIFORMS block of uniforms. The model draws them in one call per
    key; this is the plain reading of that definition, call by call."""
    from sim.arrivals import N_UNIFORMS, _candidates

    times, rows, owners = [], [], []
    for k in keys:
        rng = streams.stream(seed, 2, streams.ARRIVALS, k)
        n = rng.poisson(mean)
        t = np.sort(rng.uniform(0.0, horizon, n))
        times.append(t)
        rows.append(rng.random((n, N_UNIFORMS)))
        owners += [k] * n
    got = _candidates(seed, 2, streams.ARRIVALS, keys, lambda _: mean, horizon)
    if not owners:
        assert got is None
        return
    t, u, owner = got
    assert np.array_equal(t, np.concatenate(times))
    assert np.array_equal(u, np.concatenate(rows))
    assert owner.tolist() == owners


@pytest.mark.parametrize("horizon", [-1.0, float("inf"), float("nan")])
def test_candidates_refuse_a_horizon_uniform_would_refuse(horizon: float) -> None:
    """Times are drawn as horizon x U(0, 1): a negative, infinite or NaN
    horizon is refused, as ``uniform(0, horizon)`` refused it, not turned into
    times in reverse order or infinite ones."""
    from sim.arrivals import _candidates

    with pytest.raises(ValueError, match="horizon"):
        _candidates(1, 0, streams.ARRIVALS, [0, 1], lambda _: 5.0, horizon)
