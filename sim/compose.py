"""Compose the project's config without the command line (tests, benchmarks, notebooks).

Like ``sim.__main__`` this is an entry point and may use Hydra; the model
never does. ``load_config(["staffing.workers_per_grid=2"])`` gives the same
plain dict that ``python -m sim staffing.workers_per_grid=2`` validates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from .config import build_scenario
from .scenario import Scenario

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def load_config(overrides: Sequence[str] = (), config_name: str = "config") -> dict[str, Any]:
    """The composed config as plain dicts, without the ``hydra`` section."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="gridgov"):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def load_scenario(overrides: Sequence[str] = ()) -> Scenario:
    """Compose and validate: the scenario ``python -m sim OVERRIDES`` would run."""
    return build_scenario(load_config(overrides))


REALISM_OFF: tuple[str, ...] = (
    "calendars.workers=null", "calendars.departments=null", "calendars.enforcement=null",
    "duties.share=0", "travel.worker_speed_kmh=null", "petitions.patience_mean_h=null",
    "arrivals.profile.hour_of_day=null", "arrivals.profile.day_of_week=null", "arrivals.profile.periods=[]",
    "arrivals.discovered_per_duty_h=0", "assessment.period_days=null",
)
"""Overrides that switch every realism mechanism off (the foundation's queueing model)."""


def mmc_overrides(c: int, load: float, service_h: float = 1.0, dist: str = "exponential",
                  horizon_days: float = 400.0, warmup_days: float = 40.0) -> list[str]:
    """Overrides that reduce the model to an M/G/c queue with ordinary config keys.

    One grid of ``c`` workers, all matters simple, no triage, no feedback, no
    escalation: the grid's queue is then M/M/c (exponential) or M/D/c
    (deterministic) with arrival rate ``load * c / service_h`` per hour.
    """
    per_day = load * c / service_h * 24.0  # the grid has 1,000 residents
    return [
        "town=synthetic", "town.population=1000", "town.people_per_grid=1000",
        "town.unit_population=1000", "routing=grid_only",
        f"staffing.workers_per_grid={c}", "staffing.pooling=grid",
        f"arrivals.per_1000_people_day={per_day!r}",
        "arrivals.complexity.simple=1.0", "arrivals.complexity.difficult=0.0",
        "arrivals.complexity.urgent=0.0",
        f"handling.simple.dist={dist}", f"handling.simple.mean_h={service_h!r}",
        "handling.triage.dist=deterministic", "handling.triage.mean_h=0",
        "handling.feedback.dist=deterministic", "handling.feedback.mean_h=0",
        f"horizon_days={horizon_days!r}", f"warmup_days={warmup_days!r}",
        *REALISM_OFF,
    ]
