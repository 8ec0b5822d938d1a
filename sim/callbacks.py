"""Hydra callback that plans a sweep before it starts and reports when it ends.

Registered in ``configs/config.yaml`` under ``hydra.callbacks``, so every
``python -m sim -m ...`` sweep gets it:

* ``on_multirun_start`` locks the sweep folder for as long as the command
  runs (a second sweep there, such as a resume started too early, is
  refused: the two would overwrite each other's points), writes
  ``plan.json`` (every point's overrides, the
  swept keys, the command, the default config) so that jobs can report
  "[3/6] point 2 ... about 2 min left" and the report knows points that never ran,
  starts the joblib launcher's workers (``start_workers``) so that they
  load while Hydra composes the points' configs, and has the basic sweeper
  compose one point of each shape of overrides instead of every point
  (``override_shapes``) to check that all of them compose;
* ``on_multirun_end`` aggregates the sweep folder with ``sim.report`` (what
  ``python -m sim.report SWEEP`` does by hand on an interrupted sweep). If
  any point failed, the command then exits with status 1 (the report and
  every other point's results are written first).

With the joblib launcher on more than one core, ``on_multirun_end`` hands
the report to the launcher's own worker processes (``worker_pool``), which
have matplotlib loaded already (a point draws its backlog plot), and pandas
if they waited idle for the last points (``sim.share.idle_until_report``);
one of them prepares the tables while the others load what they lack, and
they draw its figures one file format each: the main
process alone would leave the other cores idle while it imports them and
draws. The main process itself never imports pandas, scipy or matplotlib
then.

Hydra calls ``on_multirun_end`` only when no job raised; ``sim.sweep`` makes
sure a failing point is recorded instead of raised.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.plugins.sweeper import Sweeper
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from . import share
from .config import ConfigError
from .preflight import fail
from .report import Calls, write_report
from .study import StudySpec, parse_study
from .output import hold_lock, let_go
from .sweep import (FAILED, LOCK, PLAN, RESUME_KEY, baseline_matches, override_key, override_value, same_value,
                    sweep_control, write_plan)

log = logging.getLogger("gridgov.sweep")


def planned_points(config: DictConfig) -> tuple[list[list[str]] | None, list[str]]:
    """The overrides of every point, as the basic sweeper will expand them.

    Returns:
        the points in job order (``None`` for a sweeper other than the basic
        one, which decides its points as it goes) and the keys that take more
        than one value.
    """
    if "BasicSweeper" not in str(config.hydra.sweeper.get("_target_", "")):
        return None, []
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))  # type: ignore[arg-type]
    parsed = OverridesParser.create().parse_overrides(arguments)
    swept = [o.get_key_element() for o in parsed if o.is_sweep_override()]
    # The sweeper's own expansion (a private Hydra module, pinned by hydra-core<1.4), so
    # that point n of the plan is exactly the job Hydra numbers n.
    batches = BasicSweeper.split_arguments(parsed, None)
    # A key swept by the study and again on the command line (which wins) is one axis.
    return [list(p) for batch in batches for p in batch], list(dict.fromkeys(override_key(k) for k in swept))


def default_config(config_name: str | None) -> dict[str, Any] | None:
    """The project's default config (no overrides), composed by the running Hydra.

    The report lists every value of the study that differs from it; taking it
    when the sweep starts records the defaults the sweep was run against.
    """
    try:
        hydra = GlobalHydra.instance().hydra
        assert hydra is not None
        cfg = hydra.compose_config(config_name=config_name, overrides=[], run_mode=RunMode.RUN)
        with open_dict(cfg):
            cfg.pop("hydra")  # its run-time fields are not filled in outside a run
        container = OmegaConf.to_container(cfg, resolve=True)
    except Exception as exc:  # noqa: BLE001 - the report then composes the defaults itself
        log.warning(f"could not compose the default config for the report: {exc}")
        return None
    assert isinstance(container, dict)
    return container


def _is_joblib(config: DictConfig) -> bool:
    return "JoblibLauncher" in str(config.hydra.launcher.get("_target_", ""))


def _launcher_settings(config: DictConfig) -> dict[str, Any] | None:
    """The joblib launcher's ``Parallel`` settings, as the launcher builds them
    (``hydra_joblib_launcher._core.launch``); ``None`` for another launcher or
    when joblib runs the jobs one at a time in this process (``n_jobs=1``)."""
    if not _is_joblib(config):
        return None
    launcher = config.hydra.launcher
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import effective_n_jobs

    settings = OmegaConf.to_container(launcher, resolve=True)
    assert isinstance(settings, dict)
    settings.pop("_target_", None)
    settings["backend"] = "loky"  # what the launcher does with them
    process_joblib_cfg(settings)
    if effective_n_jobs(settings.get("n_jobs")) == 1:
        return None
    return settings


def _shares(config: DictConfig) -> bool:
    """Whether the sweep's jobs share replications (``sim.share``): joblib with
    several jobs, all points launched at once (in batches, a job could wait
    for a point of the next batch, which starts only once this one has ended),
    one point per task, no time limit per task, and not a resume."""
    try:
        settings = _launcher_settings(config)
        return (settings is not None and config.hydra.sweeper.get("max_batch_size") is None
                # A job that helps runs longer than its point: joblib's timeout would count that against it.
                and settings.get("timeout") is None
                # Points that joblib hands out several at a time (its automatic batches grow on
                # the quick points a resume skips) break the rule that a job going back gets the next one.
                and settings.get("batch_size", "auto") in (1, "auto") and config.get(RESUME_KEY) is None)
    except Exception:  # noqa: BLE001 - another version of the joblib plugin: no sharing, nothing else lost
        return False


def worker_pool(config: DictConfig) -> Calls | None:
    """The joblib launcher's worker processes, to run ``(function, *args)`` calls in.

    A joblib call made with exactly the launcher's settings gets the same
    loky processes that ran the points: loky keeps its pool alive between
    calls (idle workers quit after 5 minutes) and reuses it when the settings
    match. ``None`` for a launcher other than joblib, or when joblib runs the
    jobs one at a time in this process (``n_jobs=1``).
    """
    settings = _launcher_settings(config)
    if settings is None:
        return None
    from joblib import Parallel, delayed

    def run(calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        return Parallel(**settings)(delayed(fn)(*args) for fn, *args in calls)

    return run


def _warm() -> None:
    """What a sweep worker imports before its first point can start: the
    launcher's job wrapper and the sweep point's code with the simulation.
    (loky has already run the task function's module as ``__mp_main__``.)"""
    for name in ("hydra.core.utils", "hydra_plugins.hydra_joblib_launcher._core",
                 f"{__package__}.sweep", f"{__package__}.runner"):
        importlib.import_module(name)


def start_workers(config: DictConfig, points: int | None = None) -> list[Future]:
    """Start the joblib launcher's worker processes now, importing what a point needs.

    Called first thing when a sweep starts. This process then checks the
    sweep (composing a point), composes the default config for the plan, and
    Hydra composes the points' configs (one of each shape, about 0.1 s each)
    before the launcher starts its workers, and
    each worker imports Hydra, scipy and the model before its first
    point: the other cores idle all that time. Started here, the workers
    load while this process composes. They are the
    launcher's own (the same settings give the same loky pool), so this only
    moves their start earlier; it never changes what runs where. Only as
    many workers as there are ``points`` (when known) import the model: the
    others would hold its memory for nothing. With more jobs than cores
    none is started here: they would take the cores from this process's
    checks, and a refused sweep would wait for them (more than twice as long
    with 6 jobs on 2 cores). ``sim.__main__`` stops them
    however the command ends (also when Hydra then rejects a point's config
    and the sweep ends before its first job), so that the exit never waits
    for their imports.

    Returns:
        the imports' futures, not waited for (none for a launcher other
        than joblib, for ``n_jobs=1``, or if joblib's internals differ).
    """
    futures: list[Future] = []
    with contextlib.suppress(Exception):  # only ever a head start: the launcher starts them anyway
        settings = _launcher_settings(config)
        if settings is None:
            return futures
        from joblib import Parallel, cpu_count, effective_n_jobs

        workers = effective_n_jobs(settings.get("n_jobs"))
        if workers > cpu_count():  # more jobs than cores: they would only slow this process's checks
            return futures
        with _ctrl_c_ignored_by_children(), Parallel(**settings) as parallel:  # the launcher's loky pool
            executor = parallel._backend._workers  # (joblib internals)
            for _ in range(workers if points is None else min(workers, points)):
                futures.append(executor.submit(_warm))
    return futures


@contextlib.contextmanager
def _ctrl_c_ignored_by_children():
    """Start processes that ignore Ctrl-C: a child inherits an ignored SIGINT
    and Python leaves it ignored. The terminal sends Ctrl-C to every process
    of the command, and a worker still importing printed a traceback of the
    import it was in; this process stops the workers itself (``sim.interrupt``,
    ``end_of_command``). A Ctrl-C pressed in the moment the workers are
    spawned (milliseconds) is lost; a worker loky starts later (in place of a
    dead one) keeps the default and may print a traceback on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def stop_workers() -> None:
    """Stop the joblib launcher's worker processes now, at the end of a sweep.

    Left alone, they are stopped when this process exits, and each first
    takes about half a second to unload pandas, scipy and matplotlib, while
    the user waits. Idle, with every point and figure written, they hold
    nothing worth that: they are killed.
    """
    with contextlib.suppress(Exception):  # a courtesy at exit: never hide the report's own outcome
        reusable_executor = sys.modules.get("joblib.externals.loky.reusable_executor")
        executor = getattr(reusable_executor, "_executor", None)  # the pool the launcher used, if any
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)


def _check_labelled_keys(study: StudySpec, config: DictConfig, swept: Sequence[str]) -> None:
    """A key the study labels (``study.sweep``) must be a config key: a
    misspelt one became an axis of its own, null at every point."""
    for key in study.keys:
        if key in swept or OmegaConf.select(config, key, default=_ABSENT) is not _ABSENT:
            continue
        close = difflib.get_close_matches(key, list(swept), n=1)
        fail(f"invalid config: study.sweep: {key!r}: not a key of the config"
             + (f" (did you mean {close[0]}?)" if close else "")
             + f"; swept keys: {', '.join(swept) or 'none'}")


_ABSENT = object()


def _labelled(study_cfg: Any) -> list[str]:
    """The keys a study block names as its axes (``study.sweep``)."""
    sweep = study_cfg.get("sweep") if isinstance(study_cfg, dict) else None
    return [str(k) for k in sweep] if isinstance(sweep, (dict, list)) else []


def _check_baseline(study: StudySpec, points: Sequence[Sequence[str]] | None, labelled: Sequence[str] = ()) -> None:
    """The study's baseline must be one of the sweep's points (paired differences are taken against it),
    and only one as far as the study's own axes (``labelled``) go: a key swept besides them on the
    command line (``replications=1,3,12``) takes its first value at the baseline."""
    if points is None or not study.baseline:
        return
    planned = [{override_key(o): override_value(o) for o in p if "=" in o} for p in points]
    matches, differ = baseline_matches(planned, study.baseline, labelled)
    given = ", ".join(f"{k}={v!r}" for k, v in study.baseline)
    if differ:
        named = ",".join(f"{k}:VALUE" for k, _ in study.baseline)
        fail(f"invalid config: study.baseline: {given}: matches {len(matches)} points of this sweep, which differ "
             f"in {', '.join(differ)}; give the baseline's value of each: 'study.baseline={{{named},"
             + ",".join(f"{k}:VALUE" for k in differ) + "}'")
    if matches:
        return
    values = "; ".join(f"{k}: " + ", ".join(dict.fromkeys(str(p.get(k)) for p in planned)) for k, _ in study.baseline)
    hint = "'study.baseline={" + ",".join(f"{k}:VALUE" for k, _ in study.baseline) + "}'"
    fail(f"invalid config: study.baseline: {given}: matches no point of this sweep (its values: {values}); "
         f"to run these points, compare them with one of them: add {hint}")


def _check_reference(study: StudySpec, points: Sequence[Sequence[str]] | None) -> None:
    """A transient's reference must be a value its key takes at some point (recovery is measured against it)."""
    spec = study.transient
    if points is None or spec is None:
        return
    values = [override_value(o) for p in points for o in p if "=" in o and override_key(o) == spec.key]
    if not values or any(same_value(v, spec.reference) for v in values):
        return  # not swept on the command line at all: the report says so
    fail(f"invalid config: study.transient.reference={spec.reference!r}: matches no point of this sweep "
         f"(values of {spec.key}: {', '.join(dict.fromkeys(str(v) for v in values))})")


def _check_swept_once(config: DictConfig) -> None:
    """A key swept on the command line and set again later on it: Hydra keeps
    the last and the sweep silently shrinks (``a=1,2 a=3`` runs one point).
    A study's sweep narrowed on the command line is not this: that is one
    override there."""
    task = [str(o) for o in OmegaConf.to_container(config.hydra.overrides.task, resolve=False)]  # type: ignore[union-attr]
    parsed = OverridesParser.create().parse_overrides(task)
    for i, o in enumerate(parsed):
        key = override_key(o.get_key_element())
        later = [task[j] for j, p in enumerate(parsed) if j > i and override_key(p.get_key_element()) == key]
        if o.is_sweep_override() and later:
            fail(f"invalid config: {task[i]}: swept, but {later[-1]} later on the command line replaces the sweep "
                 "(give the key once)")


def _check_not_replaced(config_name: str | None, points: Sequence[Sequence[str]] | None, swept: Sequence[str]) -> None:
    """Every swept value must reach the point's config.

    Hydra applies a point's overrides in order, so a later override of a key
    that holds a swept one (``arrivals.profile.periods=[]`` after
    ``arrivals.profile.periods.0.multiplier=2``) silently takes the swept value
    away at every point. The first point is composed as Hydra will compose it,
    and each swept value looked up in it.
    """
    if not points or not swept:
        return
    point = list(points[0])
    if not any(_later_overrides(point, i) for i, text in enumerate(point) if override_key(text) in swept):
        return  # nothing later sets a swept key or a key holding it: no need to compose (0.1 s before the workers start)
    try:
        hydra = GlobalHydra.instance().hydra
        assert hydra is not None
        cfg = hydra.compose_config(config_name=config_name, overrides=point, run_mode=RunMode.RUN)
        parsed = OverridesParser.create().parse_overrides(point)
    except Exception:  # noqa: BLE001 - Hydra reports its own errors when it composes the point
        return
    missing = object()
    for i, (text, override) in enumerate(zip(point, parsed)):
        key = override_key(text)
        value = override.value()
        if key not in swept or override.is_delete() or "${" in text or _is_group(hydra.config_loader, key):
            continue  # a config group's option (routing=grid_only) names a file, not a value
        got = OmegaConf.select(cfg, key, default=missing, throw_on_resolution_failure=False)
        if isinstance(got, (DictConfig, ListConfig)):
            got = OmegaConf.to_container(got, resolve=True)
            value = OmegaConf.to_container(OmegaConf.create({"v": value}), resolve=True)["v"]  # type: ignore[index]
            same = got == value
        else:
            same = got is not missing and same_value(got, value)
        if not same:
            later = _later_overrides(point, i)
            fail(f"invalid config: {key}={value!r}: swept, but {' '.join(later) or 'a later override'} takes the "
                 f"value away at every point; set {override_key(later[0]) if later else 'that key'} in an experiment "
                 "file, or sweep it itself")


def _later_overrides(point: Sequence[str], i: int) -> list[str]:
    """The overrides after the ``i``-th that set its key or a key holding it (deletions as ``~key``)."""
    key = override_key(point[i])
    return [o.split("=")[0] if o.startswith("~") else o
            for o in point[i + 1:] if key == override_key(o) or key.startswith(override_key(o) + ".")]


def _is_group(config_loader: Any, key: str) -> bool:
    """Whether ``key`` (``routing``, ``hydra/launcher`` or ``hydra.launcher``) is a config group."""
    parent, _, name = key.replace(".", "/").rpartition("/")
    try:
        return name in config_loader.list_groups(parent)
    except Exception:  # noqa: BLE001 - no such parent group
        return False


def override_shapes(config_loader: Any, points: Sequence[Sequence[str]]) -> list[tuple]:
    """Each point's overrides with every plain value replaced by its type.

    Two points of the same shape compose alike: Hydra applies a value to a
    key of a config without a schema whatever the value, so composing one
    of them tells whether all of them compose. Whatever composition can
    depend on is kept whole: config group choices (they choose files),
    deletions (``~key=value`` checks the value), keys under ``hydra`` (they
    have a schema that checks values), packages, and values that are not a
    plain string, number or bool (a dict merges into a node, a list or
    ``null`` replaces it).
    """
    parser = OverridesParser.create()
    groups: dict[str, bool] = {}

    def shape(override: Any) -> Any:
        key, value = override.key_or_group, override.value()
        if key not in groups:
            groups[key] = _is_group(config_loader, key)
        if (override.is_delete() or override.package is not None or groups[key] or key.split(".")[0] == "hydra"
                or type(value) not in (str, int, float, bool)):
            return override.input_line
        return override.type, key, type(value)

    return [tuple(shape(o) for o in parser.parse_overrides(list(point))) for point in points]


def _validate_each_shape_once(sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
    """``Sweeper.validate_batch_is_legal`` on one point of each shape (``override_shapes``).

    Hydra composes every point of a sweep in the main process before the
    launcher starts any, to catch a point that cannot compose (about 0.1 s a
    point: 30 s of one core for a 300-point sweep, while the other cores
    wait). Points of one shape compose alike, so one of each is composed.
    """
    loader = sweeper.hydra_context.config_loader
    first: dict[tuple, Sequence[str]] = {}
    done: set[tuple] = set()  # shapes of which a point composed already (_refuse_a_bad_value_every_point_shares)
    for point, shape in zip(batch, override_shapes(loader, batch)):
        first.setdefault(shape, point)
        if tuple(point) in _composed:
            done.add(shape)
    Sweeper.validate_batch_is_legal(sweeper, [point for shape, point in first.items() if shape not in done])


_composed: set[tuple[str, ...]] = set()
"""Points whose config this sweep's main process has composed (their overrides)."""


def _refuse_a_bad_value_every_point_shares(master: DictConfig, batch: Sequence[Sequence[str]] | None) -> None:
    """Stop the sweep before any point runs when every point's config is
    refused: none would run (``staffing.pooling=village`` given once for a
    whole study launched and failed every point).

    The points are composed and validated (``sim.config.build_job``,
    nothing simulated) one by one until one is valid, which ends the check:
    then the points decide for themselves, and a bad one fails alone. So a
    valid sweep costs one composition (about 0.1 s), and only a sweep whose
    first points fail costs more. This runs before the study's own checks,
    whose messages would hide the real mistake (a baseline matching no point
    because a value was typed wrong, say); a point that Hydra cannot compose
    (a misspelt key) ends the command with Hydra's message, as a single
    run's does.
    """
    from .config import build_job

    if not batch:
        return
    hydra = GlobalHydra.instance().hydra
    if hydra is None:
        return
    first: ConfigError | None = None
    for overrides in batch:
        try:
            cfg = hydra.config_loader.load_sweep_config(master_config=master, sweep_overrides=list(overrides))
        except Exception as exc:  # noqa: BLE001 - a misspelt key: Hydra's own message, and its exit status
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            sys.exit(1)
        _composed.add(tuple(overrides))
        try:
            with open_dict(cfg):
                del cfg["hydra"]  # its job fields are set only in the point's own process
            build_job(sweep_control(OmegaConf.to_container(cfg, resolve=True))[0])  # type: ignore[arg-type]
            return  # a point is valid: the points decide for themselves
        except ConfigError as exc:
            first = first or exc
        except Exception:  # noqa: BLE001 - an interpolation error and the like: a point's own failure
            return
    assert first is not None
    every = "this sweep's only point" if len(batch) == 1 else f"each of the {len(batch)} points of this sweep"
    fail(f"{first} ({every} is refused, this one first, so none would run)")


def _compose_each_shape_once() -> None:
    """Have the basic sweeper validate a batch with ``_validate_each_shape_once``."""
    # The class Hydra instantiates: its plugin scan runs the module again,
    # so the class imported at the top of this module may be an older one.
    current = importlib.import_module(BasicSweeper.__module__).BasicSweeper
    current.validate_batch_is_legal = _validate_each_shape_once


_open_sweep: Path | None = None
"""The folder of a sweep that started in this process and has not reached its end."""

_reporting_sweep: Path | None = None
"""The folder of a sweep whose points have all run, while its report is written."""

_sweep_lock: int | None = None
"""The lock this process holds on its sweep's folder (``LOCK``), from the start until the command ends."""


def end_of_command(interrupted: bool) -> None:
    """What ``python -m sim`` does last, however it ends: stop a sweep's
    workers, and report a sweep that stopped before its end.

    Hydra ends a sweep whose launcher fails (a worker process killed, for
    instance for memory) without calling ``on_multirun_end``: the points
    that finished are then reported here, in this process, so that they are
    not lost behind the error. After Ctrl-C only the way to report is shown.
    """
    stop_workers()
    drop_shared()
    global _sweep_lock
    try:
        _tell_how_to_finish(interrupted)
    finally:  # the sweep's folder is free for a resume only now
        if _sweep_lock is not None:
            let_go(_sweep_lock)
            _sweep_lock = None
            drop_unplanned_sweep()


def drop_unplanned_sweep() -> None:
    """Remove the folder of a sweep stopped before its plan was written, if
    it holds nothing but its lock (it cannot be reported or resumed)."""
    folder = _open_sweep
    if folder is None or (folder / PLAN).exists():
        return
    with contextlib.suppress(OSError):
        if {p.name for p in folder.iterdir()} <= {LOCK}:
            (folder / LOCK).unlink(missing_ok=True)
            folder.rmdir()


def drop_shared() -> None:
    """Remove the unfinished sweep's ``.shared`` folder (``sim.share``), once its jobs are stopped."""
    if _open_sweep is not None:
        share.close_sweep(_open_sweep)


def finish_hint() -> str | None:
    """How to finish the sweep this command leaves unfinished (after Ctrl-C,
    once or twice), or ``None`` when it leaves none."""
    if _open_sweep is not None:
        if not (_open_sweep / PLAN).is_file():  # stopped before its plan: nothing to report or resume
            return "it stopped before any point was planned: run the same command again"
        return (f"report what finished with `python -m sim.report {_open_sweep}`, or resume with "
                f"`+resume={_open_sweep}` added to the same command")
    if _reporting_sweep is not None:
        return f"every point had run: write the sweep's report with `python -m sim.report {_reporting_sweep}`"
    return None


def _tell_how_to_finish(interrupted: bool) -> None:
    """After a sweep that did not reach its end: report it, or say how to."""
    sweep_dir = _open_sweep
    if sweep_dir is None and interrupted and _reporting_sweep is not None:
        print(f"gridgov: sweep report interrupted (every point had run); write it with "
              f"`python -m sim.report {_reporting_sweep}`", file=sys.stderr)
        return
    if sweep_dir is None:
        return
    if interrupted:  # also before any point started: the sweep's folder and plan are there to resume
        print(f"gridgov: sweep interrupted; {finish_hint()}", file=sys.stderr)
        return
    if not any(sweep_dir.glob("*/.hydra")):
        return  # no point started: Hydra rejected a point's config, and its error says it all
    retry = f"resume with `+resume={sweep_dir}` added to the same command"
    print(f"gridgov: the sweep stopped before its end (see the error above); reporting the points that "
          f"finished, then {retry}", file=sys.stderr)
    try:
        path = write_report(sweep_dir)
    except Exception as exc:  # noqa: BLE001 - the sweep's own error stays the one that counts
        print(f"gridgov: the report failed too ({exc}); retry with: python -m sim.report {sweep_dir}", file=sys.stderr)
    else:
        print(f"gridgov: sweep report: {path}", file=sys.stderr)


def _sweep_folder(config: DictConfig) -> Path:
    """The sweep folder, made if needed; a resume path must be an earlier sweep's folder."""
    resume = config.get(RESUME_KEY)
    if resume is not None and not (Path(str(resume)) / PLAN).is_file():
        fail(f"invalid config: {RESUME_KEY}={resume!r}: expected the folder of an earlier sweep (it holds {PLAN}); "
              "to name a new sweep's folder, set hydra.sweep.dir")
    sweep_dir = Path(str(config.hydra.sweep.dir))
    named = f"{RESUME_KEY}={resume!r}" if resume is not None else f"hydra.sweep.dir={str(sweep_dir)!r}"
    global _sweep_lock
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        _sweep_lock = hold_lock(sweep_dir / LOCK)
    except BlockingIOError:  # two sweeps in one folder would overwrite each other's points
        fail(f"{named}: another sweep is still running in this folder; "
             "wait for it to end (or stop it), then resume it")
    except OSError as exc:
        fail(f"invalid config: {named}: cannot make the sweep folder there ({exc.strerror})")
    return sweep_dir


class SweepReport(Callback):
    """Write the sweep plan at the start and the aggregated report at the end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        points, swept = planned_points(config)
        swept = [k for k in swept if k != RESUME_KEY]
        _composed.clear()  # points composed by an earlier sweep in this process (notebooks, tests) prove nothing here
        # The workers load while this process checks and composes (a refused
        # sweep stops them on exit, see start_workers).
        start_workers(config, None if points is None else len(points))
        # A typo in the study block fails here, before any point runs, as a
        # single run's bad config does: one line, exit 2. (Hydra turns a
        # callback's exception into a warning and would run every point.)
        try:
            study_cfg = OmegaConf.to_container(config.study, resolve=True) if "study" in config else None
            study = parse_study(study_cfg, swept)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - ConfigError, or an interpolation error in the block
            fail(str(exc) if isinstance(exc, ConfigError) else f"invalid config: study: {exc}")
        # The command line's own mistakes first: the study's checks would report their effect
        # (a baseline matching no point) instead.
        _check_swept_once(config)
        _check_not_replaced(kwargs.get("config_name"), points, swept)
        _refuse_a_bad_value_every_point_shares(config, points)
        _check_labelled_keys(study, config, swept)
        _check_baseline(study, points, labelled=_labelled(study_cfg) or study.keys)
        _check_reference(study, points)
        if points is not None:  # the basic sweeper: it composes one point of each shape, not every point
            _compose_each_shape_once()
        if _is_joblib(config) and config.hydra.launcher.get("n_jobs") == 0:  # joblib would print a traceback
            fail("invalid config: hydra.launcher.n_jobs=0: expected the number of parallel jobs, >= 1, "
                  "or -1 for every core (-2 for all but one, ...)")
        sweep_dir = _sweep_folder(config)  # made only once the sweep's settings are known to be good
        global _open_sweep
        _open_sweep = sweep_dir
        write_plan(sweep_dir, points, swept, sys.argv, study.name, default_config(kwargs.get("config_name")))
        # The last points may share their replications with idle jobs: on this
        # machine's joblib workers only (a cluster job is sized for its own point).
        share.open_sweep(sweep_dir, enabled=_shares(config))
        total = "?" if points is None else len(points)
        log.info(f"sweep '{study.name}': {total} points of {', '.join(swept) or 'no swept key'}; folder {sweep_dir}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global _open_sweep, _reporting_sweep
        _open_sweep = None  # reached the end: the report is written here
        sweep_dir = _reporting_sweep = Path(str(config.hydra.sweep.dir))
        share.close_sweep(sweep_dir)
        try:
            pool = worker_pool(config)
        except Exception:  # noqa: BLE001 - e.g. another version of the joblib plugin: report in this process
            log.warning("the launcher's workers cannot be reused for the report; writing it in this process",
                        exc_info=True)
            pool = None
        try:
            path = write_report(sweep_dir, pool)
        except Exception:
            _reporting_sweep = None
            log.exception(f"the sweep report failed; retry with: python -m sim.report {sweep_dir}")
            # Hydra turns an exception raised by a callback into a warning
            # and exits with 0; a failed report must not look like success.
            sys.exit(1)
        finally:
            if pool is not None:
                stop_workers()
        _reporting_sweep = None  # left set if Ctrl-C stopped the report: end_of_command says how to finish it
        log.info(f"sweep report: {path} (with sweep_summary.csv and figures)")
        failed = sorted((p.parent.name for p in sweep_dir.glob(f"*/{FAILED}")), key=lambda n: (len(n), n))  # 2 before 10
        if failed:
            log.error(f"{len(failed)} point(s) failed: {', '.join(failed)} (see {sweep_dir / 'report.md'})")
            sys.exit(1)
