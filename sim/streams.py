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
