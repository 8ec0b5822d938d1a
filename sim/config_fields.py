"""Typed readers for config values: each names the key, the bad value and what is allowed.

Used by ``sim.config`` to validate the composed config before any simulation
work. ``ConfigError`` is the one exception a user ever sees for bad input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SHARE_TOLERANCE = 1e-6


class ConfigError(ValueError):
    """A config value is not allowed. The message names key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"invalid config: {key}={value!r}: {allowed}")

    def __reduce__(self):  # rebuilt from its fields (e.g. raised in a worker process): not from the message
        return type(self), (self.key, self.value, self.allowed)


# -- small typed readers ------------------------------------------------------
def or_empty(value: Any, empty: Any) -> Any:
    """A section or list that may be left out: absent or null means ``empty``.
    Any other value is checked as given (``0``, ``false`` or ``''`` in place
    of a mapping or list is a mistake, not "nothing")."""
    return empty if value is None else value


def _section(cfg: Mapping, key: str, path: str) -> Mapping:
    full = f"{path}.{key}" if path else key
    if key not in cfg:
        raise ConfigError(full, None, "this key is required")
    value = cfg[key]
    if not isinstance(value, Mapping):
        raise ConfigError(full, value, "expected a mapping of keys to values")
    return value


def _known(cfg: Mapping, path: str, allowed: tuple[str, ...]) -> None:
    for key in cfg:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}" if path else str(key), cfg[key], f"unknown key; allowed keys here: {', '.join(allowed)}")


def _full(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _missing(full: str, default: Any) -> Any:
    """The default of a missing key, or an error when it has none."""
    if default is ...:
        raise ConfigError(full, None, "this key is required")
    return default


def _number(cfg: Mapping, key: str, path: str, *, lo: float | None = None, lo_open: bool = False,
            hi: float | None = None, default: Any = ..., optional: bool = False) -> float | None:
    full = _full(path, key)
    if key not in cfg:
        return _missing(full, default)
    value = cfg[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(full, value, "expected a number" + (" or null" if optional else ""))
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(full, value, "expected a finite number" + (" (use null for never)" if optional else ""))
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ConfigError(full, value, f"expected a number {'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi is not None else ""))
    if hi is not None and value > hi:
        raise ConfigError(full, value, f"expected a number <= {hi:g}")
    return value


def _integer(cfg: Mapping, key: str, path: str, *, lo: int, hi: int | None = None, default: Any = ...) -> int:
    full = _full(path, key)
    if key not in cfg:
        return _missing(full, default)
    value = cfg[key]
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        raise ConfigError(full, value, f"expected a whole number >= {lo}")
    if value < lo or (hi is not None and value > hi):
        # The value as given (1e+308, not its 309 digits as an integer).
        raise ConfigError(full, value, f"expected a whole number >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    return int(value)


def _choice(cfg: Mapping, key: str, path: str, allowed: tuple[str, ...], default: Any = ...) -> str:
    full = f"{path}.{key}" if path else key
    if key not in cfg:
        if default is ...:
            raise ConfigError(full, None, f"this key is required; one of: {', '.join(allowed)}")
        return default
    value = cfg[key]
    if value not in allowed:
        raise ConfigError(full, value, f"expected one of: {', '.join(allowed)}")
    return str(value)


def _bool(cfg: Mapping, key: str, path: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}.{key}" if path else key, value, "expected true or false")
    return value


def _string(cfg: Mapping, key: str, path: str, default: str) -> str:
    value = cfg.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}.{key}" if path else key, value, "expected a non-empty string")
    return value


def _shares(cfg: Mapping, key: str, path: str, names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    section = _section(cfg, key, path)
    full = f"{path}.{key}"
    _known(section, full, names)
    out = []
    for name in names:
        out.append((name, _number(section, name, full, lo=0.0, hi=1.0, default=0.0)))
    total = sum(s for _, s in out)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ConfigError(full, dict(section), f"shares must sum to 1 (they sum to {total:.6g})")
    return tuple(out)
