"""Command line: ``python -m sim [overrides]`` (a Hydra app).

This is the only module that knows about Hydra. It composes the config,
validates it once into a frozen ``Scenario`` (``sim.config``), runs it
(``sim.runner``), prints the summary table and leaves the run folder in
Hydra's output directory. Bad config values end the program with exit status
2 and one line naming the key, the value and what is allowed (set
``GRIDGOV_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, build_job
from .runner import format_table, run


def _fail(message: str) -> None:
    print(f"gridgov: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    """Run one scenario: every replication, then the summary table."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        scenario, options = build_job(container)  # type: ignore[arg-type]
    except ConfigError as exc:
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
        _fail(str(exc))
    except Exception as exc:  # interpolation errors and the like
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
        _fail(f"invalid config: {exc}")
    out_dir = HydraConfig.get().runtime.output_dir
    result = run(scenario, out_dir, container, options)  # type: ignore[arg-type]
    print(format_table(result.summary))
    print(f"\n{scenario.run.replications} replications of {scenario.run.horizon_days:g} days "
          f"in {result.wall_seconds:.1f} s; results in {out_dir}")


if __name__ == "__main__":
    from .preflight import run as preflight

    preflight()  # malformed YAML: one line and exit 2, instead of Hydra's traceback
    main()
