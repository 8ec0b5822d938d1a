"""Random streams keyed by purpose and index (common random numbers).

Replication ``r`` of a run with seed ``s`` uses ``SeedSequence(s).spawn`` child
``r``, i.e. ``SeedSequence(s, spawn_key=(r,))``. Inside it every purpose and
every index (an arrival block, a grid) gets its own stream, keyed rather than
counted: ``SeedSequence(s, spawn_key=(r, PURPOSE, index))``. Adding a grid, a
policy or a purpose therefore never shifts any other stream, and two
configurations run with the same seed see the same arrivals.
"""

from __future__ import annotations

import numpy as np

# Purposes. Never renumber: that would change every published result.
ARRIVALS = 0
"""Arrival times and everything drawn at a matter's birth, per block."""
ROUTING = 1
"""Random choices made by routing policies, per grid."""
ASSESSMENT = 2
"""Reserved: assessment draws, per grid."""
DISCOVERY = 3
"""Matters found by workers on duty, per grid."""


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: the r-th child of ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def stream(seed: int, replication: int, purpose: int, index: int = 0) -> np.random.Generator:
    """An independent generator for one purpose and index within a replication."""
    ss = np.random.SeedSequence(seed, spawn_key=(replication, purpose, index))
    return np.random.Generator(np.random.PCG64(ss))


# -- many keyed streams at once ------------------------------------------------
# A city-year draws from ~60,000 block streams. Building each one as
# ``stream`` does costs ~14 us, most of it NumPy's per-object overhead in
# SeedSequence and PCG64; the arithmetic itself is a few dozen 32-bit
# operations. ``keyed`` below runs SeedSequence's algorithm (O'Neill's
# seed_seq, which NumPy's stream-compatibility policy keeps fixed) on all keys
# at once and sets one PCG64's state per key: the same generators, bit for
# bit. ``_fast_path_agrees`` compares both routes once per process and falls
# back to ``stream`` if they ever differ.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_MASK32, _MASK128 = (1 << 32) - 1, (1 << 128) - 1
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341  # PCG_DEFAULT_MULTIPLIER_128


def _words(x: int) -> list[int]:
    """A non-negative int as little-endian 32-bit words (as SeedSequence coerces it)."""
    if x < 0:
        raise ValueError(f"expected a non-negative integer, got {x}")
    out = [x & _MASK32]
    x >>= 32
    while x:
        out.append(x & _MASK32)
        x >>= 32
    return out


def _hashmix(value: np.ndarray, hash_const: list[int], mult: int = _MULT_A) -> np.ndarray:
    """SeedSequence's hash step (``hashmix``; with ``_MULT_B`` the step of ``generate_state``)."""
    value = value ^ np.uint32(hash_const[0])
    hash_const[0] = (hash_const[0] * mult) & _MASK32
    value = value * np.uint32(hash_const[0])
    return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
    return result ^ (result >> np.uint32(16))


def _pcg64_states(seed: int, spawn_prefix: tuple[int, ...], keys: np.ndarray) -> list[tuple[int, int]]:
    """PCG64 (state, inc) of ``PCG64(SeedSequence(seed, spawn_key=(*spawn_prefix, key)))`` per key < 2**32."""
    run = _words(seed)
    run += [0] * (_POOL - len(run))  # SeedSequence pads the entropy to the pool size when spawned
    fixed = run + [w for k in spawn_prefix for w in _words(k)]
    n = keys.size
    entropy = [np.full(n, w, dtype=np.uint32) for w in fixed] + [keys.astype(np.uint32)]
    with np.errstate(over="ignore"):
        hc = [_INIT_A]
        mixer = [_hashmix(entropy[i] if i < len(entropy) else np.zeros(n, np.uint32), hc) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    mixer[dst] = _mix(mixer[dst], _hashmix(mixer[src], hc))
        for src in range(_POOL, len(entropy)):
            for dst in range(_POOL):
                mixer[dst] = _mix(mixer[dst], _hashmix(entropy[src], hc))
        # generate_state(4, uint64): 8 words cycling over the pool, paired little-endian.
        hb = [_INIT_B]
        words = [_hashmix(mixer[i % _POOL], hb, _MULT_B).astype(np.uint64) for i in range(8)]
    w64 = [(words[2 * j] | (words[2 * j + 1] << np.uint64(32))).tolist() for j in range(4)]
    out = []
    for s_hi, s_lo, i_hi, i_lo in zip(*w64):
        # pcg_setseq_128_srandom_r(initstate = s, initseq = i)
        inc = ((((i_hi << 64) | i_lo) << 1) | 1) & _MASK128
        state = (inc + ((s_hi << 64) | s_lo)) & _MASK128  # state 0 stepped once, plus initstate
        state = (state * _PCG_MULT + inc) & _MASK128
        out.append((state, inc))
    return out


def keyed(seed: int, replication: int, purpose: int, keys):
    """Yield ``(key, generator)`` with generator equal to ``stream(seed,
    replication, purpose, key)`` for each key, in order.

    The generator yielded is one object, re-seeded for each key: use it
    before asking for the next key (``list(keyed(...))`` would hold one
    generator many times), and do not spawn from it (its ``seed_seq`` is not
    the key's). Keys, seed, replication and purpose outside what the
    vectorised seeding covers (negative, not integers, keys of more than 32
    bits) go through ``stream``, which accepts or rejects them as before.
    """
    keys = list(keys)  # any iterable, as a loop calling ``stream`` would take it
    if not keys:
        return
    as_array = np.asarray(keys)
    fast = (as_array.dtype.kind in "iu" and as_array.min() >= 0 and as_array.max() <= _MASK32
            and min(seed, replication, purpose) >= 0 and _fast_path_agrees())
    if not fast:  # what the fast route does not cover: NumPy's own seeding (and its errors)
        for key in keys:
            yield key, stream(seed, replication, purpose, key)
        return
    keys = as_array.astype(np.int64)
    bitgen = np.random.PCG64(0)
    rng = np.random.Generator(bitgen)
    value = {"bit_generator": "PCG64", "state": {"state": 0, "inc": 0}, "has_uint32": 0, "uinteger": 0}
    inner = value["state"]
    for key, (state, inc) in zip(keys.tolist(), _pcg64_states(seed, (replication, purpose), keys)):
        inner["state"], inner["inc"] = state, inc
        bitgen.state = value
        yield key, rng


_AGREES: bool | None = None


def _fast_path_agrees() -> bool:
    """Whether ``_pcg64_states`` matches NumPy's own seeding here (checked once)."""
    global _AGREES
    if _AGREES is None:
        cases = [(0, (0, 0), 0), (12345, (3, 1), 987), ((1 << 40) + 7, (2, 0), (1 << 32) - 1)]
        try:
            _AGREES = all(
                _pcg64_states(s, pre, np.asarray([k]))[0] == tuple(
                    np.random.PCG64(np.random.SeedSequence(s, spawn_key=(*pre, k))).state["state"][f]
                    for f in ("state", "inc"))
                for s, pre, k in cases)
        except Exception:  # noqa: BLE001 - a NumPy that rejects the arithmetic: use its own seeding
            _AGREES = False
    return _AGREES
