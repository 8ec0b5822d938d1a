"""A corpus of invalid configurations: each fails before simulating, with one clear line.

Most cases are overrides exactly as typed on the command line, composed with
Hydra's compose API and validated in-process (``build_job``): they must raise
``ConfigError`` whose message names the key, the bad value and what is
allowed. Cases that cannot be written as an override (an empty town) edit the
composed plain dict. A representative subset, including Hydra's own failures
(unknown group option, unknown experiment, malformed YAML, a missing config
file), runs through the real command line: non-zero exit, no traceback, the
key named on stderr, and no ``summary.json`` written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sim.compose import load_config
from sim.config import ConfigError, build_job
from sim.scenario import ProfileSpec
from sim.study import parse_study

# (id, overrides, key named in the error, text of the bad value in the message)
BAD_OVERRIDES: list[tuple[str, list[str], str, str]] = [
    ("seed negative", ["seed=-1"], "seed", "-1"),
    ("seed not a number", ["seed=abc"], "seed", "abc"),
    ("seed fractional", ["seed=1.5"], "seed", "1.5"),
    ("zero replications", ["replications=0"], "replications", "0"),
    ("replications boolean", ["replications=true"], "replications", "True"),
    ("zero horizon", ["horizon_days=0"], "horizon_days", "0"),
    ("negative horizon", ["horizon_days=-5"], "horizon_days", "-5"),
    ("NaN horizon", ["horizon_days=nan"], "horizon_days", "nan"),
    ("infinite horizon", ["horizon_days=inf"], "horizon_days", "inf"),
    ("warm-up longer than horizon", ["horizon_days=10", "warmup_days=20"], "warmup_days", "20"),
    ("warm-up equal to horizon", ["horizon_days=10", "warmup_days=10"], "warmup_days", "10"),
    ("negative warm-up", ["warmup_days=-1"], "warmup_days", "-1"),
    ("negative arrival rate", ["arrivals.per_1000_people_day=-1"], "arrivals.per_1000_people_day", "-1"),
    ("NaN arrival rate", ["arrivals.per_1000_people_day=nan"], "arrivals.per_1000_people_day", "nan"),
    ("arrival rate text", ["arrivals.per_1000_people_day=lots"], "arrivals.per_1000_people_day", "lots"),
    ("complexity shares not summing to 1", ["arrivals.complexity.simple=0.5"], "arrivals.complexity", "0.5"),
    ("category shares not summing to 1", ["arrivals.categories.land=0.5"], "arrivals.categories", "0.5"),
    ("negative share", ["arrivals.complexity.urgent=-0.02", "arrivals.complexity.simple=0.82"],
     "arrivals.complexity.urgent", "-0.02"),
    ("unknown category", ["+arrivals.categories.tourism=0.1"], "arrivals.categories.tourism", "0.1"),
    ("zero block", ["arrivals.block_people=0"], "arrivals.block_people", "0"),
    ("unknown distribution", ["handling.simple.dist=weibull"], "handling.simple.dist", "weibull"),
    ("negative mean", ["handling.simple.mean_h=-1"], "handling.simple.mean_h", "-1"),
    ("zero mean for a random step", ["handling.department.mean_h=0"], "handling.department.mean_h", "0"),
    ("negative cv", ["handling.simple.cv=-0.5"], "handling.simple.cv", "-0.5"),
    ("denormal cv", ["handling.feedback.cv=1e-200"], "handling.feedback.cv", "1e-200"),
    ("NaN mean", ["handling.triage.mean_h=nan"], "handling.triage.mean_h", "nan"),
    ("zero workers with grid pooling", ["staffing.workers_per_grid=0", "staffing.pooling=grid"],
     "staffing.workers_per_grid", "0"),
    ("fractional workers", ["staffing.workers_per_grid=1.5"], "staffing.workers_per_grid", "1.5"),
    ("unknown pooling", ["staffing.pooling=village"], "staffing.pooling", "village"),
    ("unknown staffing key", ["+staffing.foo=1"], "staffing.foo", "1"),
    ("staffing not a mapping", ["staffing=3"], "staffing", "3"),
    ("unknown routing policy", ["routing.policy=foo"], "routing.policy", "foo"),
    ("negative escalation threshold", ["routing.escalate_after_h=-1"], "routing.escalate_after_h", "-1"),
    ("infinite escalation threshold", ["routing.escalate_after_h=inf"], "routing.escalate_after_h", "inf"),
    ("zero deadline", ["routing.deadline_h.simple=0"], "routing.deadline_h.simple", "0"),
    ("negative deadline", ["routing.deadline_h.urgent=-3"], "routing.deadline_h.urgent", "-3"),
    ("zero department staff", ["departments.health.staff=0"], "departments.health.staff", "0"),
    ("category claimed twice", ["departments.health.categories=[land,health]"], "departments.land.categories", "land"),
    ("unknown category in a department", ["departments.health.categories=[tourism]"],
     "departments.health.categories", "tourism"),
    ("category claimed by no department", ["~departments.safety"], "departments", "safety"),
    ("no department at all", ["departments={}", "~departments"], "departments", "None"),
    ("zero teams with urgent matters", ["enforcement.teams=0"], "enforcement.teams", "0"),
    ("negative teams", ["enforcement.teams=-1"], "enforcement.teams", "-1"),
    ("unknown enforcement base", ["enforcement.base=moon"], "enforcement.base", "moon"),
    ("zero travel speed", ["enforcement.speed_kmh=0"], "enforcement.speed_kmh", "0"),
    ("road factor below 1", ["enforcement.road_factor=0.5"], "enforcement.road_factor", "0.5"),
    ("non-boolean flag", ["enforcement.return_to_base=maybe"], "enforcement.return_to_base", "maybe"),
    ("zero people per grid", ["town.people_per_grid=0"], "town.people_per_grid", "0"),
    ("empty synthetic town", ["town=synthetic", "town.population=0"], "town.population", "0"),
    ("zero people per town", ["town=synthetic", "town.people_per_town=0"], "town.people_per_town", "0"),
    ("fractional people per town", ["town=synthetic", "town.people_per_town=0.5"], "town.people_per_town", "0.5"),
    ("negative unit population", ["town.units.village_1.population=-5"], "town.units.village_1.population", "-5"),
    ("unknown unit kind", ["town.units.community_1.kind=city"], "town.units.community_1.kind", "city"),
    ("zero grids in a unit", ["+town.units.community_1.grids=0"], "town.units.community_1.grids", "0"),
    ("zero unit area", ["town.units.village_1.area_km2=0"], "town.units.village_1.area_km2", "0"),
    ("zero difficulty", ["+town.units.village_1.difficulty=0"], "town.units.village_1.difficulty", "0"),
    ("unknown town kind", ["town.kind=city"], "town.kind", "city"),
    ("too many grids", ["town=synthetic", "town.population=10000000", "town.people_per_grid=1"],
     "town.people_per_grid", "1"),
    ("zero backlog step", ["output.backlog_step_h=0"], "output.backlog_step_h", "0"),
    ("a backlog step that asks for 10^8 rows", ["output.backlog_step_h=1e-6"], "output.backlog_step_h", ">= 0.1"),
    ("a duty block that never ends the run", ["duties.block_h=1e-300"], "duties.block_h", ">= 0.1"),
    ("an assessment every instant", ["assessment.period_days=1e-300"], "assessment.period_days", ">= 1"),
    ("non-boolean progress", ["progress=maybe"], "progress", "maybe"),
    ("zero jobs", ["jobs=0"], "jobs", "0"),
    ("fractional jobs", ["jobs=1.5"], "jobs", "1.5"),
    ("unknown top-level key", ["+foo=1"], "foo", "1"),
    # Found in review: huge values that passed validation and then overflowed, hung or exhausted memory.
    ("huge seed shown as typed", ["seed=1e308"], "seed", "1e+308"),
    ("huge population", ["town=synthetic", "town.population=1e308"], "town.population", "1e+308"),
    ("a town per resident", ["town=synthetic", "town.population=2000000000", "town.people_per_town=1"], "town.people_per_town", "1"),
    ("a village per resident", ["town=synthetic", "town.population=1000000", "town.unit_population=1"], "town.unit_population", "1"),
    ("synthetic kind over a town of units", ["town.kind=synthetic"], "town.kind", "synthetic"),
    ("units kind over a synthetic town", ["town=synthetic", "town.kind=units"], "town.kind", "units"),
    ("huge grid count of a unit", ["+town.units.village_1.grids=1e308"], "town.units.village_1.grids", "1e+308"),
    ("huge unit population", ["town.units.village_1.population=1e308"], "town.units.village_1.population", "1e+308"),
    ("unit position off the Earth", ["town.units.village_1.x_km=1e308"], "town.units.village_1.x_km", "1e+308"),
    ("area larger than the Earth", ["town=synthetic", "town.area_km2=1e308"], "town.area_km2", "1e+308"),
    ("huge arrival rate", ["arrivals.per_1000_people_day=1e308"], "arrivals.per_1000_people_day", "1e+308"),
    ("arrival rate beyond memory", ["arrivals.per_1000_people_day=1e6"], "arrivals.per_1000_people_day", "1000000.0"),
    ("huge rate found on duty", ["arrivals.discovered_per_duty_h=1e308"], "arrivals.discovered_per_duty_h", "1e+308"),
    ("huge thinning bound", ["arrivals.profile.thinning_bound=1e308"], "arrivals.profile.thinning_bound", "1e+308"),
    ("overlapping surges beyond memory", ["arrivals.profile.hour_of_day=null", "arrivals.profile.day_of_week=null",
     "arrivals.profile.periods=[{start_day:1,end_day:9,multiplier:1000},{start_day:2,end_day:9,multiplier:1000},"
     "{start_day:3,end_day:9,multiplier:1000}]"], "arrivals.profile", "1000000000.0"),
    ("thinning bound below overlapping surges", ["arrivals.profile.hour_of_day=null", "arrivals.profile.day_of_week=null",
     "arrivals.profile.periods=[{start_day:1,end_day:9,multiplier:2},{start_day:5,end_day:9,multiplier:3}]",
     "arrivals.profile.thinning_bound=4"], "arrivals.profile.thinning_bound", "4"),
    ("huge block", ["arrivals.block_people=1e308"], "arrivals.block_people", "1e+308"),
    ("surge name not text", ["arrivals.profile.periods=[{name:[1],start_day:1,end_day:2,multiplier:2}]"],
     "arrivals.profile.periods[0].name", "[1]"),
    ("surge after forever", ["arrivals.profile.periods=[{start_day:1e300,end_day:1e301,multiplier:2}]"],
     "arrivals.profile.periods[0].start_day", "1e+300"),
    ("huge mean duration", ["handling.simple.mean_h=1e308"], "handling.simple.mean_h", "1e+308"),
    ("huge escalation threshold", ["routing.escalate_after_h=1e308"], "routing.escalate_after_h", "1e+308"),
    ("huge deadline", ["routing.deadline_h.simple=1e308"], "routing.deadline_h.simple", "1e+308"),
    ("duties not a mapping", ["duties=3"], "duties", "3"),
    ("travel not a mapping", ["travel=3"], "travel", "3"),
    ("petitions not a mapping", ["petitions=3"], "petitions", "3"),
    # A false value in place of a section or list was taken for "none" (only null is).
    ("petitions false", ["petitions=false"], "petitions", "False"),
    ("calendars zero", ["calendars=0"], "calendars", "0"),
    ("output false", ["output=false"], "output", "False"),
    ("surges zero", ["arrivals.profile.periods=0"], "arrivals.profile.periods", "0"),
    ("surges empty text", ["arrivals.profile.periods=''"], "arrivals.profile.periods", "''"),
    ("satisfaction not a mapping", ["satisfaction=3"], "satisfaction", "3"),
    ("assessment not a mapping", ["assessment=3"], "assessment", "3"),
    ("endless duty block", ["duties.block_h=1e308"], "duties.block_h", "1e+308"),
    ("worker slower than a crawl", ["travel.worker_speed_kmh=1e-300"], "travel.worker_speed_kmh", "1e-300"),
    ("team slower than a crawl", ["enforcement.speed_kmh=1e-300"], "enforcement.speed_kmh", "1e-300"),
    ("huge road factor", ["enforcement.road_factor=1e308"], "enforcement.road_factor", "1e+308"),
    ("huge patience", ["petitions.patience_mean_h=1e308"], "petitions.patience_mean_h", "1e+308"),
    ("huge petitions office", ["petitions.staff=1e308"], "petitions.staff", "1e+308"),
    ("huge number of teams", ["enforcement.teams=1e308"], "enforcement.teams", "1e+308"),
    ("a department beyond memory", ["departments.health.staff=10000000"], "departments.health.staff", "10000000"),
    ("huge workers per grid", ["staffing.workers_per_grid=1e308"], "staffing.workers_per_grid", "1e+308"),
    ("grid workers beyond memory", ["staffing.workers_per_grid=100000"], "staffing.workers_per_grid", "100000"),
    ("huge vacancy", ["assessment.vacancy_days=1e308"], "assessment.vacancy_days", "1e+308"),
    ("huge assessment period", ["assessment.period_days=1e308"], "assessment.period_days", "1e+308"),
    ("huge learning period", ["assessment.learning_days=1e308"], "assessment.learning_days", "1e+308"),
    ("huge satisfaction decay", ["satisfaction.decay_h=1e308"], "satisfaction.decay_h", "1e+308"),
    ("huge backlog step", ["output.backlog_step_h=1e308"], "output.backlog_step_h", "1e+308"),
]

# Large or odd values that are valid and must keep working (the limits above are far from them).
VALID_EXTREMES: list[list[str]] = [
    ["routing.deadline_h.simple=1e9"],  # "no supervision" in the queueing validations
    ["routing.escalate_after_h=0"], ["handling.simple.cv=0"], ["town.units.village_1.x_km=-20000"],
    ["town.people_per_grid=2000000000"], ["arrivals.block_people=1000000000"],
    ["arrivals.profile.hour_of_day=[1e308,1e308,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"],  # relative weights
    ["town=synthetic", "town.population=3000000", "replications=1"],
    ["arrivals.profile.periods=[{start_day:10,end_day:20,multiplier:2},{start_day:15,end_day:25,multiplier:0.5}]"],
    ["calendars.workers.start_h=8", "calendars.workers.end_h=8.000001"],
]


@pytest.mark.parametrize("overrides", VALID_EXTREMES, ids=[" ".join(o) for o in VALID_EXTREMES])
def test_valid_extremes_are_accepted(overrides):
    build_job(load_config(overrides))


def test_overlapping_periods_multiply_in_the_thinning_bound():
    """Overlapping surges multiply (sim.arrivals.rate_multiplier); the bound
    took only the largest one, so thinning cut the overlap down to it (days
    15-19 below got 3 times the rate instead of 6) without a word."""
    def peak(*periods: tuple[float, float, float]) -> float:
        return ProfileSpec(periods=periods).max_multiplier()
    assert peak((10, 20, 2.0), (15, 25, 3.0)) == 6.0
    assert peak((10, 20, 2.0), (20, 25, 3.0)) == 3.0  # touching, not overlapping
    assert peak((10, 20, 4.0), (15, 25, 0.5)) == 4.0  # a lull inside a surge
    assert peak((10, 20, 0.5)) == 1.0 and peak() == 1.0


def _empty_town(cfg: dict[str, Any]) -> None:
    cfg["town"]["units"] = {}


def _unit_not_mapping(cfg: dict[str, Any]) -> None:
    cfg["town"]["units"]["village_1"] = 7


def _no_categories(cfg: dict[str, Any]) -> None:
    cfg["departments"]["health"]["categories"] = []


# Cases an override cannot express: (id, edit of the composed dict, key, value text).
BAD_EDITS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("empty town", _empty_town, "town.units", "{}"),
    ("unit not a mapping", _unit_not_mapping, "town.units.village_1", "7"),
    ("department with no categories", _no_categories, "departments.health.categories", "[]"),
]


# The study block of a sweep (here the surge experiment's), checked when the sweep starts:
# (id, overrides, key named in the error, text of the bad value in the message).
SURGE_SWEPT = ["arrivals.profile.periods.0.multiplier", "staffing.workers_per_grid"]
BAD_STUDIES: list[tuple[str, list[str], str, str]] = [
    ("NaN target (the report failed after every point ran)", ["+study.targets.backlog_max=nan"],
     "study.targets.backlog_max", "nan"),
    ("NaN hold (a bare ValueError)", ["study.transient.hold_days=nan"], "study.transient.hold_days", "nan"),
    ("fractional hold, silently cut", ["study.transient.hold_days=2.5"], "study.transient.hold_days", "2.5"),
    ("infinite surge start, blamed on end_day", ["study.transient.start_day=inf"], "study.transient.start_day", "inf"),
    ("NaN surge end", ["study.transient.end_day=nan"], "study.transient.end_day", "nan"),
    ("recovered share above 1", ["study.transient.recovered_share=1.5"], "study.transient.recovered_share", "1.5"),
    ("study name that leaves the sweeps folder", ["study.name=../../elsewhere"], "study.name", "../../elsewhere"),
    ("targets false, taken for none", ["+study.targets=false"], "study.targets", "False"),
    ("baseline zero, taken for the first point", ["study.baseline=0"], "study.baseline", "0"),
]


@pytest.mark.parametrize("case_id,overrides,key,value", BAD_STUDIES, ids=[c[0] for c in BAD_STUDIES])
def test_bad_study_fails_validation(case_id, overrides, key, value):
    cfg = load_config(["experiment=surge", *overrides])
    with pytest.raises(ConfigError) as err:
        parse_study(cfg["study"], SURGE_SWEPT)
    _assert_clear(err.value, key, value)


def _assert_clear(exc: ConfigError, key: str, value: str) -> None:
    msg = str(exc)
    assert exc.key == key, msg
    assert key in msg and value in msg, msg
    assert exc.allowed and len(msg.splitlines()) == 1, msg


def test_corpus_is_large_enough():
    assert len(BAD_OVERRIDES) + len(BAD_EDITS) >= 35


def test_the_default_config_is_valid():
    # Otherwise every case below would fail for the wrong reason.
    build_job(load_config())


@pytest.mark.parametrize("case_id,overrides,key,value", BAD_OVERRIDES, ids=[c[0] for c in BAD_OVERRIDES])
def test_bad_override_fails_validation(case_id, overrides, key, value):
    cfg = load_config(overrides)
    with pytest.raises(ConfigError) as err:
        build_job(cfg)
    _assert_clear(err.value, key, value)


@pytest.mark.parametrize("case_id,edit,key,value", BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_bad_edit_fails_validation(case_id, edit, key, value):
    cfg = load_config()
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        build_job(cfg)
    _assert_clear(err.value, key, value)


# -- the real command line ------------------------------------------------------
MALFORMED = "seed: [1, 2\nfoo: : bar\n"
EXPERIMENT_MALFORMED = "# @package _global_\nhorizon_days: 30\n  warmup_days: 3\n"


def _cli_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """id -> (command-line arguments, text that must appear on stderr)."""
    user = tmp / "user_configs"
    user.mkdir()
    (user / "mine.yaml").write_text(MALFORMED)
    extra = tmp / "extra_configs" / "experiment"
    extra.mkdir(parents=True)
    (extra / "broken.yaml").write_text(EXPERIMENT_MALFORMED)
    return {
        "unknown policy value": (["routing.policy=foo"], "routing.policy"),
        "unknown routing option": (["routing=foo"], "routing"),
        "unknown experiment": (["experiment=nope"], "experiment"),
        "unknown key": (["+staffing.foo=1"], "staffing.foo"),
        "warm-up longer than horizon": (["horizon_days=5", "warmup_days=9"], "warmup_days"),
        "zero workers": (["staffing.workers_per_grid=0"], "staffing.workers_per_grid"),
        "shares not summing to 1": (["arrivals.complexity.simple=0.5"], "arrivals.complexity"),
        "NaN horizon": (["horizon_days=nan"], "horizon_days"),
        "unresolvable interpolation": (["seed=${oc.env:GRIDGOV_TEST_UNSET_VARIABLE}"], "seed='${oc.env:"),
        "section not a mapping": (["duties=3"], "duties=3"),
        "huge arrival rate": (["arrivals.per_1000_people_day=1e308"], "arrivals.per_1000_people_day=1e+308"),
        "malformed user config": ([f"--config-path={user}", "--config-name=mine"], "mine.yaml"),
        "malformed experiment file": ([f"--config-dir={tmp / 'extra_configs'}", "experiment=broken"], "broken.yaml"),
        "missing config file": ([f"--config-path={tmp / 'extra_configs'}", "--config-name=missing"], "missing"),
        "missing config directory": ([f"--config-path={tmp / 'nowhere'}", "--config-name=x"], "nowhere"),
    }


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path, str]]:
    """Run every command-line case at once (they are independent processes)."""
    tmp = tmp_path_factory.mktemp("bad_cli")
    env = {k: v for k, v in os.environ.items() if k not in ("GRIDGOV_DEBUG", "HYDRA_FULL_ERROR")}
    procs = {}
    for i, (case, (args, needle)) in enumerate(_cli_cases(tmp).items()):
        run_dir = tmp / f"run{i}"
        cmd = [sys.executable, "-m", "sim", *args, f"hydra.run.dir={run_dir}", "progress=false",
               "horizon_days=2" if not any(a.startswith("horizon_days") for a in args) else "replications=1",
               "warmup_days=0" if not any(a.startswith(("warmup_days", "horizon_days")) for a in args) else "seed=1"]
        procs[case] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env, cwd=tmp), run_dir, needle, cmd)
    out = {}
    for case, (p, run_dir, needle, cmd) in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[case] = (subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr), run_dir, needle)
    return out


CLI_CASES = ["unknown policy value", "unknown routing option", "unknown experiment", "unknown key",
             "warm-up longer than horizon", "zero workers", "shares not summing to 1", "NaN horizon",
             "unresolvable interpolation", "section not a mapping", "huge arrival rate",
             "malformed user config", "malformed experiment file", "missing config file",
             "missing config directory"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_fails_cleanly(cli_results, case):
    result, run_dir, needle = cli_results[case]
    err = result.stderr
    assert result.returncode != 0, (result.args, err)
    assert "Traceback" not in err, err
    assert needle in err, err
    assert not list(run_dir.rglob("summary.json")) and not list(run_dir.parent.rglob(f"{run_dir.name}/**/*.csv"))
    # Nor a folder without results beside the real runs (Hydra makes it before the config is checked).
    assert not run_dir.exists(), sorted(p.name for p in run_dir.rglob("*"))
    # One clear line of our own, or Hydra's message plus its hint; never a wall of text.
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if err.startswith("gridgov:"):
        assert len(lines) == 1, err
    else:
        assert len(lines) <= 12 and "HYDRA_FULL_ERROR" in err, err


def test_a_refused_config_leaves_a_folder_holding_anything_else_as_it_was(tmp_path):
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("kept", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "sim", "staffing.pooling=village", f"hydra.run.dir={run_dir}"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert (run_dir / "notes.txt").read_text(encoding="utf-8") == "kept" and (run_dir / ".hydra").is_dir()


def test_a_refused_config_in_the_default_layout_leaves_no_run_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sim", "staffing.pooling=village"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert list((tmp_path / "results" / "runs").iterdir()) == []  # neither the run's nor the date's folder


def test_a_run_folder_that_cannot_be_made_fails_cleanly(tmp_path):
    """Hydra makes hydra.run.dir before the job and printed a traceback when it could not."""
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "sim", f"hydra.run.dir={tmp_path / 'a_file' / 'run'}",
                             "horizon_days=2", "warmup_days=0"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("gridgov: invalid config: hydra.run.dir=") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("run_dir", [None, "blocked/run_${now:%H-%M-%S}"])
def test_a_run_folder_with_an_interpolation_that_cannot_be_made_fails_cleanly(tmp_path, run_dir):
    """The default run folder (results/runs/${now:...}) in a folder where
    `results` is a file, and a named one with an interpolation: a traceback
    from Hydra (exit 1) before, because only literal paths were checked."""
    (tmp_path / ("results" if run_dir is None else "blocked")).write_text("a file", encoding="utf-8")
    extra = [] if run_dir is None else [f"hydra.run.dir={run_dir}"]
    result = subprocess.run([sys.executable, "-m", "sim", *extra, "horizon_days=2", "warmup_days=0"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("gridgov: invalid config: hydra.run.dir=") and result.stderr.count("\n") == 1
    assert "cannot make the run folder there" in result.stderr


def test_the_run_folder_checked_is_the_one_hydra_makes(tmp_path, monkeypatch):
    """Hydra does not expand ~ in hydra.run.dir (it runs in ./~/run); the
    check made (and left empty) a folder in the home folder instead. The
    folders the check makes are removed again (Hydra makes them)."""
    from sim.preflight import run_dir_problem

    home = tmp_path / "home"
    home.mkdir()
    (home / "run").write_text("a file where ~/run would be: that folder cannot be made", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert run_dir_problem(["hydra.run.dir='~/run'", "horizon_days=2"]) is None  # ./~/run can be made
    assert not (tmp_path / "~").exists()
    assert run_dir_problem([f"hydra.run.dir={home / 'run' / 'x'}"]) is not None  # the file is in the way


# Sweep-level mistakes that stop the sweep before any point runs: (id, arguments after -m, text on stderr).
BAD_SWEEPS: list[tuple[str, list[str], str]] = [
    ("surge periods emptied after the swept multiplier", ["experiment=surge", "arrivals.profile.periods=[]"],
     "arrivals.profile.periods.0.multiplier=1.0: swept, but arrivals.profile.periods=[] takes the value away"),
    ("surge profile removed", ["experiment=surge", "~arrivals.profile"],
     "arrivals.profile.periods.0.multiplier=1.0: swept, but ~arrivals.profile takes the value away"),
    ("transient reference matching no point", ["experiment=surge", "study.transient.reference=5"],
     "study.transient.reference=5: matches no point"),
    ("NaN target", ["experiment=escalation", "+study.targets.overdue_rate=nan"], "study.targets.overdue_rate=nan"),
    ("study name outside the sweeps folder", ["experiment=escalation", "study.name=../x"], "study.name='../x'"),
    ("a swept key set again later", ["staffing.workers_per_grid=1,2", "staffing.workers_per_grid=3"],
     "staffing.workers_per_grid=1,2: swept, but staffing.workers_per_grid=3 later on the command line replaces"),
    ("a study's swept key set twice (the baseline check spoke first)",
     ["experiment=escalation", "routing.escalate_after_h=24,72", "routing.escalate_after_h=48"],
     "routing.escalate_after_h=24,72: swept, but routing.escalate_after_h=48 later on the command line replaces"),
    # A value every point shares (not swept) ran and failed every point; in a study the
    # baseline check spoke first, of a baseline matching no point.
    ("a bad value every point shares", ["staffing.workers_per_grid=1,2", "staffing.pooling=village"],
     "staffing.pooling='village': expected one of: grid, unit (each of the 2 points of this sweep is refused"),
    # A value typed as a section, refused in a sub-key, at every point.
    ("a bad surge every point shares", ["staffing.workers_per_grid=1,2",
                                        "arrivals.profile.periods=[{start_day:5,end_day:2,multiplier:2}]"],
     "arrivals.profile.periods[0].end_day=2.0: must be after start_day"),
    # A check combining keys that fails at the first and last points only.
    ("not every point refused: workers x grids", ["town=synthetic", "staffing.workers_per_grid=8000",
                                                  "town.people_per_grid=500,3000,400", "hydra.launcher.n_jobs=0"],
     "hydra.launcher.n_jobs=0: expected"),
    ("a study's swept key given one bad value", ["experiment=escalation", "routing.escalate_after_h=-5"],
     "routing.escalate_after_h=-5.0: expected a number >= 0"),
    # Not stopped by the check above: a check combining keys fails at the first and the last
    # point only (the matters of a town), so the sweep reaches its next check.
    ("not a shared bad value: the middle point is valid",
     ["town=synthetic", "town.people_per_town=null", "town.population=60000000,67000,62000000",
      "arrivals.per_1000_people_day=1000", "hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs=0: expected"),
    # A misspelt key among the study's axis labels became an axis of its own, null everywhere.
    ("a misspelt labelled key", ["experiment=escalation", "+study.sweep={staffing.worker_per_grid:workers}"],
     "study.sweep: 'staffing.worker_per_grid': not a key of the config"),
    # The first matching point became the baseline, whichever it was (a study with no axis labels:
    # every swept key is an axis).
    ("a baseline matching several points, no labels", ["staffing.workers_per_grid=1,2", "staffing.pooling=grid,unit",
                                                       "+study={baseline:{staffing.workers_per_grid:1}}"],
     "study.baseline: staffing.workers_per_grid=1: matches 2 points of this sweep, which differ in staffing.pooling"),
    ("a baseline matching several points", ["staffing.workers_per_grid=1,2", "staffing.pooling=grid,unit",
                                            "+study={sweep:{staffing.workers_per_grid:workers,staffing.pooling:pooling},"
                                            "baseline:{staffing.workers_per_grid:1}}"],
     "study.baseline: staffing.workers_per_grid=1: matches 2 points of this sweep, which differ in staffing.pooling"),
]


@pytest.mark.parametrize("case_id,args,needle", BAD_SWEEPS, ids=[c[0] for c in BAD_SWEEPS])
def test_bad_sweep_stops_before_any_point(tmp_path, case_id, args, needle):
    folder = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "sim", "-m", *args, "horizon_days=2", "warmup_days=0",
                             "replications=1", f"hydra.sweep.dir={folder}"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"gridgov: invalid config: {needle}" in result.stderr, result.stderr[-2000:]
    assert not folder.exists() and not (tmp_path / "results").exists()


def test_a_misspelt_swept_key_in_a_study_gets_hydras_message_not_the_baselines(tmp_path):
    """A typo in a swept key of a study was reported as a baseline matching
    no point (its value: None): Hydra's own message names the key."""
    folder = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "sim", "-m", "experiment=staffing", "staffing.workers_per_gird=1,2",
                             f"hydra.sweep.dir={folder}"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 1 and "Could not override 'staffing.workers_per_gird'" in result.stderr, result.stderr
    assert "study.baseline" not in result.stderr and not folder.exists()


def test_config_groups_and_a_narrowed_study_still_sweep(tmp_path):
    """What the check of swept values must let through: a config group's
    options (``routing=tiered,grid_only`` names files, not values: the group's
    node is a mapping) and a study narrowed to one value on the command line."""
    for i, args in enumerate((["routing=tiered,grid_only", "town=xiaji,synthetic"],
                              ["experiment=grid_size", "town.people_per_grid=1000"],
                              ["experiment=grid_size", "town.people_per_grid=500,1000"])):
        folder = tmp_path / str(i)
        result = subprocess.run([sys.executable, "-m", "sim", "-m", *args, "horizon_days=2", "warmup_days=0",
                                 "replications=1", "output.events=false", "output.plot=false",
                                 f"hydra.sweep.dir={folder}"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(list(folder.glob("*/summary.json"))) == [4, 1, 2][i]
        if i == 2:  # swept by the study and again on the command line: one axis, named once
            assert "2 points of town.people_per_grid; folder" in result.stdout + result.stderr
            assert json.loads((folder / "plan.json").read_text())["swept"] == ["town.people_per_grid"]


def test_a_point_that_cannot_be_resolved_fails_alone(tmp_path):
    """An interpolation in one point's override that cannot be resolved ended
    the whole sweep with a traceback (Hydra's list of the point's overrides
    was read resolved), leaving the point without a failure record."""
    folder = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "sim", "-m", "seed=1,${oc.env:GRIDGOV_TEST_UNSET_VARIABLE}",
                             "horizon_days=1", "warmup_days=0", "replications=1", "output.events=false",
                             "output.plot=false", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={folder}"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "gridgov: point 1 failed: invalid config: seed='${oc.env:GRIDGOV_TEST_UNSET_VARIABLE}'" in result.stderr
    assert (folder / "0" / "summary.json").is_file() and (folder / "1" / "failed.json").is_file()
    assert (folder / "report.md").is_file()


def test_cli_our_errors_exit_2_and_hydras_exit_1(cli_results):
    assert cli_results["unknown policy value"][0].returncode == 2
    assert cli_results["malformed user config"][0].returncode == 2
    assert cli_results["unknown routing option"][0].returncode == 1


def test_debug_flag_shows_the_traceback(tmp_path):
    env = dict(os.environ, GRIDGOV_DEBUG="1")
    result = subprocess.run([sys.executable, "-m", "sim", "routing.policy=foo", f"hydra.run.dir={tmp_path}",
                             "progress=false"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_errors_survive_a_trip_between_processes():
    """Errors raised in a worker process (a sweep report's or a city's towns
    with jobs > 1) are pickled back to the parent: they must arrive whole,
    not as an unpickling failure that hides them."""
    import pickle

    from sim.invariants import InvariantError

    err = pickle.loads(pickle.dumps(ConfigError("study.metrics", "bogus", "unknown metric")))
    assert (type(err), err.key, err.value, err.allowed, str(err)) == (
        ConfigError, "study.metrics", "bogus", "unknown metric", "invalid config: study.metrics='bogus': unknown metric")
    inv = pickle.loads(pickle.dumps(InvariantError("little", "L != lambda W", matter=7)))
    assert (type(inv), inv.invariant, str(inv), inv.matter) == (InvariantError, "little", "L != lambda W", 7)


def test_a_list_valued_swept_key_can_be_a_baseline():
    """A sweep of `arrivals.profile.day_of_week` ran, but no study could name
    its baseline: a list was refused as 'one value'. Lists now compare item
    by item (1.0 == 1), and only a nested list or a mapping is refused."""
    from sim.sweep import same_value

    key = "arrivals.profile.day_of_week"
    study = parse_study({"baseline": {key: [1.0, 1, 1, 1, 1, 1, 1]}}, [key])
    assert same_value(dict(study.baseline)[key], [1, 1, 1, 1, 1, 1, 1])
    assert not same_value([1, 1], [1, 1, 1]) and not same_value([1, 2], [1, 3]) and not same_value([1], 1)
    with pytest.raises(ConfigError) as err:
        parse_study({"baseline": {key: [[1], [2]]}}, [key])
    _assert_clear(err.value, f"study.baseline.{key}", "[[1], [2]]")
