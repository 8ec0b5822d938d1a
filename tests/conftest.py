"""Shared helpers: tiny towns built from the real config with ordinary overrides."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.compose import load_config

_BASE: dict[str, Any] | None = None


def base_config() -> dict[str, Any]:
    """The default composed config (composed once per session, copied per use)."""
    global _BASE
    if _BASE is None:
        _BASE = load_config()
    return copy.deepcopy(_BASE)


def tiny_town_config(**changes: Any) -> dict[str, Any]:
    """Two grids of 1,000 people in one village 5 km from the town seat.

    Deterministic handling (simple 2 h, triage 0.5 h, department 4 h, urgent
    1 h, feedback 0.5 h), one enforcement team at the town seat driving at
    10 km/h on straight roads (0.5 h each way), generous deadlines.
    """
    cfg = base_config()
    cfg["town"] = {
        "kind": "units", "name": "tiny", "people_per_grid": 1000,
        "units": {"v": {"kind": "village", "population": 2000, "area_km2": 4.0, "x_km": 3.0, "y_km": 4.0}},
    }
    for step, mean in {"simple": 2.0, "triage": 0.5, "department": 4.0, "urgent": 1.0, "feedback": 0.5}.items():
        cfg["handling"][step] = {"dist": "deterministic", "mean_h": mean}
    cfg["routing"] = {"policy": "tiered", "escalate_after_h": None,
                      "deadline_h": {"simple": 100.0, "difficult": 100.0, "urgent": 100.0}}
    cfg["enforcement"] = {"teams": 1, "base": "town", "speed_kmh": 10.0, "road_factor": 1.0, "return_to_base": True}
    cfg["departments"] = {"all": {"categories": list(cfg["arrivals"]["categories"]), "staff": 1}}
    cfg.update(horizon_days=2.0, warmup_days=0.0, replications=1)
    for key in ("calendars", "duties", "travel", "petitions", "assessment"):
        cfg.pop(key, None)  # every realism mechanism off unless a test turns it on
    cfg["arrivals"]["profile"] = None
    cfg["arrivals"]["discovered_per_duty_h"] = 0.0
    for dotted, value in changes.items():
        node = cfg
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return cfg


@pytest.fixture
def tiny_config():
    return tiny_town_config
