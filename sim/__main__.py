"""Command line: ``python -m sim [overrides]`` (a Hydra app).

Together with ``sim.compose`` (tests, notebooks) and ``sim.callbacks`` (the
end-of-sweep hook), this is the only code that knows about Hydra; the model
never does. It composes the config,
validates it once into a frozen ``Scenario`` (``sim.config``), runs it
(``sim.runner``), prints the summary table and leaves the run folder in
Hydra's output directory. Bad config values end the program with exit status
2 and one line naming the key, the value and what is allowed (set
``GRIDGOV_DEBUG=1`` for the traceback).

``python -m sim -m experiment=NAME`` runs a sweep: each point is one job
(``sim.sweep.run_point``), which records a failure in the point's own folder
instead of ending the sweep, so the other points and the aggregated report
(``sim.callbacks``) survive it.

Ctrl-C stops the command cleanly; a second Ctrl-C while it does stops it at
once (``sim.interrupt``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, build_job
from .preflight import fail
from .share import help_others, idle_until_report, point_settled, point_started
from .sweep import SUMMARY, read_plan, record_failure, run_point, sweep_control


def _sweep_point(cfg: DictConfig) -> None:
    """One point of a sweep: run it, or record why it could not run."""
    hc = HydraConfig.get()
    out_dir, sweep_dir, num = hc.runtime.output_dir, hc.sweep.dir, int(hc.job.num)
    point_started(sweep_dir, num)
    try:
        # As typed: iterating the ListConfig would resolve an interpolation in an
        # override's text, and its error would end the whole sweep.
        overrides = [str(o) for o in OmegaConf.to_container(hc.overrides.task, resolve=False)]  # type: ignore[union-attr]
        try:
            container = OmegaConf.to_container(cfg, resolve=True)
        except Exception as exc:  # noqa: BLE001 - an interpolation error fails this point only
            record_failure(Path(out_dir), exc, overrides)
            print(f"gridgov: point {num} failed: {_unresolved(cfg, exc)}", file=sys.stderr)
        else:
            run_point(container, out_dir, sweep_dir, num, overrides)  # type: ignore[arg-type]
    finally:
        point_settled(sweep_dir, num)
    # Nothing left for this job: take on replications of the points still running (sim.share).
    total = (read_plan(sweep_dir) or {}).get("total")
    help_others(sweep_dir, num, total)
    if idle_until_report(sweep_dir, total):  # meanwhile, load what the report will need here
        from .report import load_report_modules

        load_report_modules()


def _unresolved(cfg: DictConfig, exc: Exception) -> str:
    """One line for a config that cannot be resolved (``${oc.env:NAME}`` of an unset variable...).

    OmegaConf's own message spreads the key and the node's type over more lines.
    """
    key = getattr(exc, "full_key", None)
    msg = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if not key:
        return f"invalid config: {msg}"
    try:
        raw: object = OmegaConf.to_container(cfg, resolve=False)
        for part in str(key).replace("[", ".").replace("]", "").split("."):
            raw = raw[int(part)] if isinstance(raw, list) else raw[part]  # type: ignore[index]
    except (KeyError, IndexError, ValueError, TypeError):
        return f"invalid config: {key}: {msg}"
    return f"invalid config: {key}={raw!r}: cannot be resolved ({msg})"


_run_dir: str | None = None
"""The folder of the single run under way (None in a sweep's main process)."""


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    """Run one scenario (every replication, then the summary table), or one sweep point."""
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        _sweep_point(cfg)
        return
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        container, resume = sweep_control(container)  # type: ignore[arg-type]
        if resume is not None:
            print(f"gridgov: resume={resume} only applies to sweeps (python -m sim -m ...); ignored",
                  file=sys.stderr)
        scenario, options = build_job(container)
    except Exception as exc:  # ConfigError, or an interpolation error and the like
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
        _drop_unused_run_dir(HydraConfig.get().runtime.output_dir)
        fail(str(exc) if isinstance(exc, ConfigError) else _unresolved(cfg, exc))
    from .runner import format_table, run  # not at the top: a sweep's main process never simulates

    global _run_dir
    out_dir = _run_dir = HydraConfig.get().runtime.output_dir
    _to_log_file(f"started: python -m sim {' '.join(sys.argv[1:])}")
    result = run(scenario, out_dir, container, options)
    n = scenario.run.replications
    lines = [format_table(result.summary)]
    if result.unstable:
        lines.append(f"\nWARNING: {result.stability['verdict']} (see summary.json 'stability')")
    lines.append(f"\n{n} replication{'s' if n != 1 else ''} of {scenario.run.horizon_days:g} days "
                 f"in {result.wall_seconds:.1f} s; results in {out_dir}")
    for line in lines:
        print(line)
    _to_log_file("\n".join(lines))


def _to_log_file(text: str) -> None:
    """Write ``text`` to the run's log file (``__main__.log``) only, not again to the terminal.

    Hydra's logging sends a record both to the terminal and to the log file;
    a single run prints its table itself, and the log keeps a copy of it, so
    that the run folder holds what the terminal showed.
    """
    record = logging.LogRecord("gridgov.run", logging.INFO, __file__, 0, text, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


_HYDRA_RECORD = {"config.yaml", "hydra.yaml", "overrides.yaml"}


def _drop_unused_run_dir(run_dir: str) -> None:
    """Remove the folder Hydra made for a run whose config was refused.

    Hydra makes the run folder (its ``.hydra`` record and an empty log)
    before the config is checked, so every refused command would leave a
    folder without results beside the real ones. Only a folder holding
    exactly those files, the log still empty, is removed, and then its date
    folder (``results/runs/DATE``) if that is left empty. A folder named with
    ``hydra.run.dir`` that holds anything else is left as it is.
    """
    folder = Path(run_dir)
    record = folder / ".hydra"
    try:
        if {p.name for p in folder.iterdir()} - {".hydra", "__main__.log"} or \
                {p.name for p in record.iterdir()} - _HYDRA_RECORD or \
                any(p.stat().st_size for p in folder.glob("*.log")):
            return
        for p in record.iterdir():
            p.unlink()
        record.rmdir()
        for p in folder.glob("*.log"):
            p.unlink()
        folder.rmdir()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", folder.parent.name):  # the default layout's date folder
            folder.parent.rmdir()  # if no other run is in it (else OSError)
    except OSError:
        return  # already gone, not empty, or open elsewhere (Windows): leave the rest


def _interrupted_run(run_dir: str | None) -> str | None:
    """What to say when Ctrl-C stopped a single run (a sweep says it itself)."""
    if run_dir is None:
        return None
    if (Path(run_dir) / SUMMARY).is_file():  # written last: the run had finished
        return f"gridgov: interrupted (Ctrl-C) after the run had finished; results in {run_dir}"
    return f"gridgov: run interrupted (Ctrl-C); {run_dir} holds no summary.json: no finished results"


if __name__ == "__main__":
    from .interrupt import install
    from .preflight import run as preflight

    preflight()  # malformed YAML: one line and exit 2, instead of Hydra's traceback
    # After Ctrl-C, loky's resource tracker (a process started later, with
    # this environment) lists the locks and folders of the killed workers as
    # it cleans them up: expected then, and it would bury the line saying how
    # to resume. No other warning is hidden.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"),
                                                          "ignore:resource_tracker:UserWarning")))
    install()  # a second Ctrl-C stops the command at once (sim.interrupt)
    interrupted = False
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback (GRIDGOV_DEBUG=1 keeps it)
        interrupted = True
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
    finally:  # a sweep's workers and a sweep that did not reach its end (Hydra exits without telling the callback)
        if "sim.callbacks" in sys.modules:
            sys.modules["sim.callbacks"].end_of_command(
                interrupted=interrupted or isinstance(sys.exc_info()[1], KeyboardInterrupt))
    if interrupted:
        from .interrupt import end_by_sigint, kill_descendants

        kill_descendants()  # none is left to outlive the command (a run's process pool, say)
        end_by_sigint(_interrupted_run(_run_dir))

