"""Queueing theory the model is validated against (exact formulas).

Used by the statistical tests and the benchmark; kept in the package so that
users can check their own reductions.
"""

from __future__ import annotations

import math


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    if rho >= 1.0:
        return 1.0
    # Stable recursion for Erlang B, then C from B.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - rho * (1.0 - b))


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue."""
    rho = lam / (c * mu)
    if rho >= 1.0:
        return math.inf
    return erlang_c(lam, mu, c) / (c * mu - lam)


def pk_wait(lam: float, mean_s: float, var_s: float) -> float:
    """Mean wait in queue of an M/G/1 queue (Pollaczek-Khinchine)."""
    rho = lam * mean_s
    if rho >= 1.0:
        return math.inf
    return lam * (var_s + mean_s**2) / (2.0 * (1.0 - rho))
