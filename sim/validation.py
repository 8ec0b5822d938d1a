"""Queueing theory the model is validated against (exact formulas).

Used by the statistical tests and the benchmark; kept in the package so that
users can check their own reductions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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


def erlang_c_wait_tail(lam: float, mu: float, c: int, t: float) -> float:
    """P(W > t): the chance that an arrival to an M/M/c FIFO queue waits longer than ``t``.

    An arrival waits only if it finds all c servers busy (probability C, Erlang
    C); while they all stay busy they finish at rate c mu, so its wait beyond
    that is exponential with rate c mu - lam: P(W > t) = C e^{-(c mu - lam) t}
    for t >= 0 (Gross and Harris, Fundamentals of Queueing Theory, 2.3).
    """
    if t < 0:
        return 1.0
    if lam >= c * mu:
        return 1.0
    return erlang_c(lam, mu, c) * math.exp(-(c * mu - lam) * t)


def erlang_c_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The ``q``-quantile of the wait in an M/M/c FIFO queue (inverse of ``erlang_c_wait_tail``):
    0 when at least a share ``q`` of arrivals do not wait, else ln(C / (1 - q)) / (c mu - lam)."""
    if not 0.0 <= q < 1.0:
        raise ValueError(f"quantile level must be in [0, 1), got {q}")
    if lam >= c * mu:
        return math.inf
    p_wait = erlang_c(lam, mu, c)
    if 1.0 - q >= p_wait:
        return 0.0
    return math.log(p_wait / (1.0 - q)) / (c * mu - lam)


def mmc(lam: float, mu: float, c: int) -> dict[str, float]:
    """Steady-state measures of the M/M/c FIFO queue (Erlang C), one name per textbook quantity.

    Returns:
        ``p_wait`` (C: share of arrivals that wait), ``wait_mean`` (W_q),
        ``sojourn_mean`` (W = W_q + 1/mu), ``queue_mean`` (L_q, time-average
        number waiting = lam W_q), ``system_mean`` (L = lam W),
        ``utilisation`` (lam / (c mu), busy share of each server),
        ``throughput`` (lam: departures per unit time).
    """
    if lam <= 0 or mu <= 0 or c < 1:
        raise ValueError("mmc needs lam > 0, mu > 0, c >= 1")
    if lam >= c * mu:
        raise ValueError(f"mmc: lam = {lam} >= c mu = {c * mu} is unstable")
    wq = erlang_c_wait(lam, mu, c)
    return {
        "p_wait": erlang_c(lam, mu, c),
        "wait_mean": wq,
        "sojourn_mean": wq + 1.0 / mu,
        "queue_mean": lam * wq,
        "system_mean": lam * (wq + 1.0 / mu),
        "utilisation": lam / (c * mu),
        "throughput": lam,
    }


def mdc(lam: float, d: float, c: int) -> dict[str, float]:
    """Exact steady state of the M/D/c FIFO queue (every service takes ``d``).

    With a constant service time the customers present at time t - d that are
    in service have all left by t, and nobody who starts later can leave by t
    (Crommelin 1932). So the number in system satisfies, at every t,
    N(t) = max(N(t - d) - c, 0) + A, with A ~ Poisson(lam d) the arrivals in
    (t - d, t]: N's stationary law is that of this Markov chain, solved here
    numerically (truncated where the remaining mass is below 1e-14). Then
    P(wait) = P(N >= c) (by PASTA), L_q = E[N] - lam d (the busy servers
    average lam d) and W_q = L_q / lam (Little). ``c = 1`` is
    Pollaczek-Khinchine's M/D/1.

    Returns:
        as ``mmc``: ``p_wait``, ``wait_mean``, ``sojourn_mean``,
        ``queue_mean``, ``system_mean``, ``utilisation``, ``throughput``;
        and ``n_max`` (truncation state).
    """
    if lam <= 0 or d <= 0 or c < 1:
        raise ValueError("mdc needs lam > 0, d > 0, c >= 1")
    a = lam * d
    if a >= c:
        raise ValueError(f"mdc: lam d = {a} >= c = {c} is unstable")
    # Arrivals in one service time, Poisson(a), up to where the tail is negligible.
    k_max = int(a + 12.0 * math.sqrt(a) + 40)
    log_pk = np.arange(k_max + 1) * math.log(a) - a - np.asarray([math.lgamma(k + 1) for k in range(k_max + 1)])
    pk = np.exp(log_pk)
    # The law of N has a geometric tail z^-n, z > 1 the root of c ln z = a (z - 1):
    # truncate where it is below 1e-14 (times a margin for the tail's constant).
    lo, hi = 1.0, 2.0
    while c * math.log(hi) > a * (hi - 1.0):
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if c * math.log(mid) > a * (mid - 1.0) else (lo, mid)
    n_max = c + k_max + math.ceil(1.5 * math.log(_TAIL) / -math.log(lo))
    if n_max > _MAX_STATES:
        raise ValueError(f"mdc: more than {_MAX_STATES} states needed (load too close to 1)")
    p = _mdc_chain(pk, c, n_max)
    states = np.arange(p.size)
    system = float(states @ p)
    queue = system - a
    return {
        "p_wait": float(p[c:].sum()),
        "wait_mean": queue / lam,
        "sojourn_mean": queue / lam + d,
        "queue_mean": queue,
        "system_mean": system,
        "utilisation": a / c,
        "throughput": lam,
        "n_max": n_max,
    }


def _mdc_chain(pk: np.ndarray, c: int, n_max: int) -> np.ndarray:
    """Stationary law of N' = max(N - c, 0) + A on 0..n_max, A's law ``pk``
    (jumps beyond n_max are put on n_max, which the caller makes negligible).

    The balance equations p = p T are banded; the one of state 0 is replaced
    by p_0 = 1 (an irreducible chain's other equations then fix p), which
    keeps them banded for a sparse solve, and p is normalised afterwards.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    size = n_max + 1
    rows, cols, vals = [], [], []
    for n in range(size):  # row n of T: from n to max(n - c, 0) + k
        base = max(n - c, 0)
        k = min(pk.size, size - base)
        rows.append(np.full(k + 1, n))
        cols.append(np.append(np.arange(base, base + k), n_max))
        vals.append(np.append(pk[:k], max(0.0, 1.0 - pk[:k].sum())))
    t = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
    a = (t.T - sparse.identity(size)).tolil()
    a[0, :] = 0.0
    a[0, 0] = 1.0
    b = np.zeros(size)
    b[0] = 1.0
    p = np.clip(spsolve(a.tocsc(), b), 0.0, None)
    return p / p.sum()


def cobham_waits(lams: Sequence[float], mu: float, c: int) -> list[float]:
    """Mean waits of non-preemptive priority classes (highest first) in M/M/c
    with one service rate for all: W_k = C / (c mu (1 - s_{k-1}) (1 - s_k)),
    C the Erlang C probability of waiting and s_k the load of classes 1..k
    (Cobham 1954; Gross and Harris, Fundamentals of Queueing Theory, 3.4).
    A class whose load with the classes above it reaches 1 waits without
    bound (``inf``); the classes above it keep finite waits (C = 1 then)."""
    p_wait = erlang_c(sum(lams), mu, c)
    s = np.cumsum([0.0, *lams]) / (c * mu)
    return [math.inf if s[k + 1] >= 1.0 else float(p_wait / (c * mu * (1.0 - s[k]) * (1.0 - s[k + 1])))
            for k in range(len(lams))]


def pk_wait(lam: float, mean_s: float, var_s: float) -> float:
    """Mean wait in queue of an M/G/1 queue (Pollaczek-Khinchine)."""
    rho = lam * mean_s
    if rho >= 1.0:
        return math.inf
    return lam * (var_s + mean_s**2) / (2.0 * (1.0 - rho))


def erlang_b(a: float, c: int) -> float:
    """Blocking probability of an M/M/c/c loss system with offered load ``a`` (Erlang B)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


# -- Erlang A: M/M/c with exponential abandonment ----------------------------

_TAIL = 1e-14
_MAX_STATES = 10**6


def erlang_a(lam: float, mu: float, theta: float, c: int, n_max: int | None = None) -> dict[str, float]:
    """Exact steady state of the M/M/c+M queue (Palm's Erlang A).

    The model: Poisson arrivals at rate ``lam``; ``c`` servers with
    exponential service at rate ``mu``; each customer has an exponential
    patience at rate ``theta`` (mean ``1/theta``) that runs only while it waits
    in the queue: if it has not reached a server by then it abandons. Nothing
    abandons once in service. The number in system is then a birth-death
    chain with birth rate ``lam`` and death rate ``min(n, c) mu + max(n - c, 0)
    theta`` in state ``n``, stable for any load when ``theta > 0``.

    The chain is solved exactly (in logarithms, so large ``c`` does not
    overflow) and truncated where the remaining tail mass is below 1e-14: once
    the birth/death ratio ``r`` of successive states is below 1 it only falls,
    so the tail after state ``n`` is at most ``p_n r / (1 - r)``.

    Args:
        lam: arrival rate.
        mu: service rate per server.
        theta: abandonment rate per waiting customer (0: Erlang C, needs
            ``lam < c mu``).
        c: number of servers.
        n_max: truncate at this state instead of by the tail bound.

    Returns:
        ``p_abandon`` (fraction of arrivals that abandon, ``theta E[Q] / lam``),
        ``wait_mean`` (mean time in queue over all arrivals: the waits of the
        served and the time to abandonment of the others, ``E[Q] / lam`` by
        Little's law), ``p_wait`` (fraction of arrivals that find all servers
        busy, by PASTA), ``queue_mean`` (``E[Q]``), ``system_mean`` (``E[N]``),
        ``busy_mean`` (mean busy servers), ``n_max`` (truncation state).
    """
    if lam <= 0 or mu <= 0 or theta < 0 or c < 1:
        raise ValueError("erlang_a needs lam > 0, mu > 0, theta >= 0, c >= 1")
    if theta == 0 and lam >= c * mu:
        raise ValueError("erlang_a: theta = 0 and lam >= c mu is unstable")
    log_p = [0.0]
    log_total = 0.0
    n = 0
    log_tail_bound = math.log(_TAIL)
    while True:
        death = min(n + 1, c) * mu + max(n + 1 - c, 0) * theta
        log_p.append(log_p[-1] + math.log(lam / death))
        log_total = float(np.logaddexp(log_total, log_p[-1]))
        n += 1
        if n_max is not None:
            if n >= n_max:
                break
            continue
        r_next = lam / (min(n + 1, c) * mu + max(n + 1 - c, 0) * theta)
        if n >= c and r_next < 1.0:
            if log_p[-1] + math.log(r_next / (1.0 - r_next)) - log_total < log_tail_bound:
                break
        if n > _MAX_STATES:
            raise ValueError(f"erlang_a: more than {_MAX_STATES} states needed; pass n_max")
    lp = np.asarray(log_p)
    p = np.exp(lp - np.logaddexp.reduce(lp))
    states = np.arange(p.size)
    queue = np.maximum(states - c, 0)
    q_mean = float(queue @ p)
    return {
        "p_abandon": theta * q_mean / lam,
        "wait_mean": q_mean / lam,
        "p_wait": float(p[c:].sum()),
        "queue_mean": q_mean,
        "system_mean": float(states @ p),
        "busy_mean": float(np.minimum(states, c) @ p),
        "n_max": int(p.size - 1),
    }


# -- M/M/c with a deterministic patience: escalation after a fixed wait -----

def erlang_d_patience(lam: float, mu: float, c: int, tau: float) -> dict[str, float]:
    """Exact steady state of the M/M/c+D queue: every customer leaves the
    queue after waiting ``tau`` (the model's escalation of a simple matter
    still waiting for its worker ``escalate_after_h`` after its report).

    With first-come first-served service, an arrival's wait is the virtual
    waiting time V it finds (later arrivals cannot overtake it), and it
    leaves unserved exactly when V > tau. While all c servers are busy V
    falls at rate 1 and jumps by an Exp(c mu) amount at each arrival that
    finds V <= tau. Level crossing gives V's density f(x) = lam p e^{-b x}
    for 0 < x <= tau and f(tau) e^{-c mu (x - tau)} beyond, with b = c mu -
    lam and p the probability of c - 1 busy servers; below c busy servers
    the chain is the Erlang loss chain, so the probability of fewer than c
    busy is p / B(a, c - 1) with B Erlang's loss formula and a = lam / mu
    (Baccelli and Hebuterne 1981 for c = 1). Stable for any load with a
    finite ``tau``; ``tau = 0`` is the Erlang loss system, ``tau`` -> infinity
    Erlang C.

    Returns:
        ``p_abandon`` (fraction of arrivals that leave unserved, P(V > tau)
        by PASTA), ``wait_mean`` (mean of min(V, tau): the waits of the
        served and the ``tau`` of the others), ``p_wait`` (P(V > 0), arrivals
        that find every server busy).
    """
    if lam <= 0 or mu <= 0 or c < 1 or not tau >= 0 or math.isinf(tau):
        raise ValueError("erlang_d_patience needs lam > 0, mu > 0, c >= 1 and a finite tau >= 0")
    x = (c * mu - lam) * tau  # b tau
    if abs(x) < 1e-6:  # the b -> 0 limits, from the Taylor series in x
        g_in = lam * tau * (1.0 - x / 2.0)  # lam (1 - e^{-x}) / b
        m_in = lam * tau**2 * (0.5 - x / 3.0)  # lam (1 - e^{-x} (1 + x)) / b^2
    else:
        b = c * mu - lam
        g_in = -lam * math.expm1(-x) / b
        m_in = lam * (-math.expm1(-x) - x * math.exp(-x)) / b**2
    g_out = lam * math.exp(-x) / (c * mu)  # mass of V beyond tau, relative to p
    norm = 1.0 / erlang_b(lam / mu, c - 1) + g_in + g_out
    return {
        "p_abandon": g_out / norm,
        "wait_mean": (m_in + tau * g_out) / norm,
        "p_wait": (g_in + g_out) / norm,
    }


# -- Larson's hypercube: one worker per grid, neighbours back each other up --

def ring_adjacency(n: int) -> list[list[int]]:
    """Preference lists of ``n`` grids on a ring: next grid (k+1), then previous (k-1).

    For two grids each is the other's only neighbour; for three every pair is
    adjacent.
    """
    out = []
    for k in range(n):
        pref = []
        for j in ((k + 1) % n, (k - 1) % n):
            if j != k and j not in pref:
                pref.append(j)
        out.append(pref)
    return out


def _stationary(q: np.ndarray) -> np.ndarray:
    """Solve ``pi Q = 0``, ``sum(pi) = 1`` for an irreducible generator ``Q``."""
    a = q.T.copy()
    a[-1, :] = 1.0  # replace one (redundant) balance equation by normalisation
    b = np.zeros(q.shape[0])
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def hypercube(
    lams: Sequence[float],
    mu: float,
    adjacency: Sequence[Sequence[int]],
    infinite_queue: bool,
    q_max: int | None = None,
) -> dict[str, object]:
    """Exact steady state of Larson's hypercube model, one worker per grid.

    The model: ``N`` grids, grid ``i`` with Poisson arrivals at rate
    ``lams[i]`` and one worker ``i``; every matter's work is exponential with
    rate ``mu`` whoever does it. A matter born in grid ``i`` goes to worker
    ``i`` if free, else to the first free worker in ``adjacency[i]`` (grid
    ``i``'s neighbours in order of preference). If none of them is free:

    * ``infinite_queue=False`` (loss): the matter is lost to the workers
      (escalated, served elsewhere);
    * ``infinite_queue=True``: it waits in one queue, and a worker who
      finishes takes a waiting matter at once. This is exact only when every
      grid is adjacent to every other (then "no preferred worker free" means
      "all busy" and any freed worker can take the matter), which is checked.
      Beyond "all busy" the number waiting is a birth-death chain with birth
      ``sum(lams)`` and death ``N mu``, truncated at ``q_max`` (default: where
      the geometric tail is below 1e-14; needs ``sum(lams) < N mu``).

    State ``b`` (``0 <= b < 2**N``) has bit ``j`` set when worker ``j`` is
    busy; states ``2**N - 1 + k`` are "all busy, ``k`` waiting". The generator
    is built and ``pi Q = 0`` solved directly.

    Returns:
        ``utilisation`` (array, P(worker j busy)), ``p_all_busy``,
        ``p_blocked`` (array, P(no worker in grid i's list is free): the
        fraction of grid i's matters lost, or that wait), ``p_lost`` (overall
        fraction lost; 0 with a queue), ``cross_share`` (fraction of matters
        served that are served by a worker not of their grid; with a queue it
        assumes a freed worker takes the oldest waiting matter, so a queued
        matter goes to its own worker with probability 1/N), ``queue_mean``,
        ``wait_mean`` (over all matters), ``carried`` (matters served per
        hour), ``pi`` (the state probabilities).
    """
    lams = np.asarray(lams, dtype=float)
    n = lams.size
    if n < 1 or len(adjacency) != n or mu <= 0 or np.any(lams < 0):
        raise ValueError("hypercube needs one adjacency list per grid, mu > 0, lams >= 0")
    prefs = []
    for i in range(n):
        pref = [i] + [int(j) for j in adjacency[i] if int(j) != i]
        if len(set(pref)) != len(pref) or not all(0 <= j < n for j in pref):
            raise ValueError(f"hypercube: bad adjacency list for grid {i}: {adjacency[i]}")
        prefs.append(pref)
    total = float(lams.sum())
    full = (1 << n) - 1
    if infinite_queue:
        if any(len(p) != n for p in prefs):
            raise ValueError("hypercube with a queue is exact only for complete adjacency")
        r = total / (n * mu)
        if r >= 1.0:
            raise ValueError("hypercube with a queue needs sum(lams) < N mu")
        if q_max is None:
            q_max = 0 if r == 0 else max(1, math.ceil(math.log(_TAIL * (1 - r)) / math.log(r)))
    else:
        q_max = 0
    size = full + 1 + q_max
    q = np.zeros((size, size))
    # where an arrival in grid i goes from each busy/free state (-1: nowhere)
    dest = np.full((full + 1, n), -1, dtype=int)
    for b in range(full + 1):
        for i in range(n):
            for j in prefs[i]:
                if not b >> j & 1:
                    dest[b, i] = j
                    break
            if dest[b, i] >= 0:
                q[b, b | 1 << dest[b, i]] += lams[i]
            elif infinite_queue:  # then b == full
                q[b, full + 1] += lams[i]
        for j in range(n):
            if b >> j & 1:
                q[b, b & ~(1 << j)] += mu
    for k in range(1, q_max + 1):
        s = full + k
        q[s, s - 1] += n * mu  # a freed worker takes a waiting matter: still all busy
        if k < q_max:
            q[s, s + 1] += total
    np.fill_diagonal(q, 0.0)
    np.fill_diagonal(q, -q.sum(axis=1))
    pi = _stationary(q)

    p_hc = pi[: full + 1]
    p_queue = pi[full + 1:]
    busy = np.asarray([[b >> j & 1 for j in range(n)] for b in range(full + 1)], dtype=float)
    util = p_hc @ busy + p_queue.sum()
    blocked = np.asarray([p_hc[dest[:, i] < 0].sum() for i in range(n)]) + p_queue.sum()
    p_all = float(p_hc[full] + p_queue.sum())
    queue_mean = float(np.arange(1, q_max + 1) @ p_queue) if q_max else 0.0
    # matters dispatched at once to a neighbour (own worker busy, another free)
    own_busy = np.asarray([[dest[b, i] >= 0 and dest[b, i] != i for i in range(n)]
                           for b in range(full + 1)], dtype=float)
    cross_now = float((p_hc @ own_busy) @ lams)
    if infinite_queue:
        carried = total
        waited = float(blocked @ lams)  # = total * P(all busy)
        cross = (cross_now + waited * (n - 1) / n) / carried if carried > 0 else 0.0
        p_lost = 0.0
    else:
        lost = float(blocked @ lams)
        carried = total - lost
        cross = cross_now / carried if carried > 0 else 0.0
        p_lost = lost / total if total > 0 else 0.0
    return {
        "utilisation": util,
        "p_all_busy": p_all,
        "p_blocked": blocked,
        "p_lost": p_lost,
        "cross_share": cross,
        "queue_mean": queue_mean,
        "wait_mean": queue_mean / total if total > 0 else 0.0,
        "carried": carried,
        "pi": pi,
    }
