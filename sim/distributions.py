"""Duration distributions that carry their analytic mean and variance.

Every duration is drawn by inverting the distribution function at a uniform
random number (inverse transform). That costs a little speed but buys strong
common random numbers: when a sweep changes a mean or a coefficient of
variation, each matter keeps its own uniform and its duration moves smoothly,
instead of the whole stream being reshuffled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .scenario import DistSpec

FAMILIES: tuple[str, ...] = ("exponential", "lognormal", "gamma", "deterministic")
FAMILIES_WITH_CV: tuple[str, ...] = ("lognormal", "gamma")


@dataclass(frozen=True)
class Duration:
    """A duration distribution built from a ``DistSpec``."""

    spec: DistSpec

    @property
    def mean(self) -> float:
        return float(self.spec.mean_h)

    @property
    def variance(self) -> float:
        s = self.spec
        if s.dist == "deterministic":
            return 0.0
        if s.dist == "exponential":
            return s.mean_h**2
        return (s.cv * s.mean_h) ** 2  # type: ignore[operator]

    @property
    def is_zero(self) -> bool:
        """A deterministic 0 means the step does not exist."""
        return self.spec.dist == "deterministic" and self.spec.mean_h == 0.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Durations for uniforms ``u`` in [0, 1) (inverse transform)."""
        s = self.spec
        m = float(s.mean_h)
        if s.dist == "deterministic" or m == 0.0:
            return np.full(np.shape(u), m)
        if s.dist == "exponential":
            return -m * np.log1p(-u)
        cv = float(s.cv)  # type: ignore[arg-type]
        if cv == 0.0:
            return np.full(np.shape(u), m)
        # Imported here, not with the module: the config validation imports
        # this module for its family names, and a sweep's main process, which
        # validates but never draws, need not pay scipy's 0.3 s start-up.
        from scipy import special

        if s.dist == "lognormal":
            sigma2 = math.log1p(cv * cv)
            mu = math.log(m) - sigma2 / 2.0
            # Guard u == 0 (probability 2**-53): ndtri(0) = -inf gives exp(-inf) = 0.
            return np.exp(mu + math.sqrt(sigma2) * special.ndtri(u))
        if s.dist == "gamma":
            shape = 1.0 / (cv * cv)
            return special.gammaincinv(shape, u) * (m / shape)
        raise ValueError(f"unknown distribution family {s.dist!r}")
