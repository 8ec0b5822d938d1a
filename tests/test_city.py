"""A city is several towns, each with its own departments, teams and petitions office."""

from __future__ import annotations

import numpy as np
import pytest

from sim import invariants
from sim.compose import load_scenario
from sim.model import run_replication
from sim.town import build_layout, synthetic_city, synthetic_units


def test_a_one_town_area_is_the_plain_synthetic_town():
    """people_per_town >= population (or null) changes nothing: same units, same places."""
    plain = synthetic_units(67_000, 6_000, 120.0)
    for per_town in (None, 67_000, 100_000):
        units, seats = synthetic_city(67_000, 6_000, 120.0, per_town)
        assert units == plain and seats == ((0.0, 0.0),)


@pytest.mark.parametrize("towns", [3, 4, 5])
def test_towns_split_the_population_and_keep_their_villages_inside(towns):
    """Each town is a square of its share of the area; squares do not overlap
    and every village lies inside its own town's square."""
    units, seats = synthetic_city(100_000 * towns, 6_000, 100.0 * towns, 100_000)
    assert len(seats) == towns
    pops = [sum(u.population for u in units if u.town == t) for t in range(towns)]
    assert pops == [100_000] * towns
    cell = 10.0  # sqrt(100 km2)
    for i, a in enumerate(seats):
        for b in seats[i + 1:]:
            assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= cell - 1e-9, (a, b)
    for u in units:
        sx, sy = seats[u.town]
        assert abs(u.x_km - sx) < cell / 2 and abs(u.y_km - sy) < cell / 2, u
    assert len({u.name for u in units}) == len(units)


def _city(extra: list[str]):
    scenario = load_scenario(["town=synthetic", "town.population=24000", "town.people_per_town=8000",
                              "town.unit_population=4000", "horizon_days=60", "warmup_days=5", *extra])
    layout = build_layout(scenario.town)
    return scenario, layout, run_replication(scenario, layout, 0)


def test_every_town_has_its_own_offices_and_teams():
    scenario, layout, rec = _city([])
    assert layout.n_towns == 3 and scenario.town.n_towns == 3
    depts = [name for kind, name in zip(rec.pool_kind, rec.pool_name) if kind == "department"]
    assert len(depts) == 3 * len(scenario.departments) == len(set(depts))
    teams = rec.pool_servers[np.asarray(rec.pool_kind) == "enforcement"]
    assert teams.tolist() == [scenario.enforcement.teams] * 3
    assert (np.asarray(rec.pool_kind) == "petitions").sum() == 3
    np.testing.assert_array_equal(rec.town, layout.grid_town[rec.grid])


@pytest.mark.parametrize("base", ["town", "units"])
def test_a_town_never_borrows_another_towns_desks(base):
    """One desk per department and one team per town, under load: if a matter
    could reach another town's desk or team, some town would have two of its
    matters in service at once, and the per-town capacity invariant fails."""
    scenario, layout, rec = _city(["arrivals.per_1000_people_day=6", f"enforcement.base={base}",
                                   "enforcement.teams=1", "arrivals.complexity.urgent=0.1",
                                   "arrivals.complexity.simple=0.7",
                                   *[f"departments.{d.name}.staff=1" for d in load_scenario([]).departments]])
    invariants.check(rec, scenario, replication=0)
    for town in range(3):  # every town's offices did work
        busy = [b for n, b in zip(rec.pool_name, rec.pool_busy_h) if n.startswith(f"town{town:03d}/")]
        assert len(busy) > 0 and all(b > 0 for b in busy)


def test_capacity_invariant_is_per_town():
    """The per-town check catches a matter served by another town's desk."""
    scenario, layout, rec = _city(["arrivals.per_1000_people_day=6",
                                   *[f"departments.{d.name}.staff=1" for d in load_scenario([]).departments]])
    moved = rec.town.copy()
    dept = np.flatnonzero((rec.resolver == 1) & (rec.town == 1))
    moved[dept] = 0  # pretend town 1's department matters were served in town 0
    from dataclasses import replace
    with pytest.raises(invariants.InvariantError):
        invariants.check(replace(rec, town=moved), scenario, replication=0)


@pytest.mark.parametrize("extra", [
    [],
    ["routing=neighbour_backup", "assessment.threshold=0.99", "assessment.period_days=20"],
    ["staffing.pooling=unit", "enforcement.base=units", "enforcement.teams=2", "petitions.patience_mean_h=48"],
])
def test_a_city_simulated_town_by_town_equals_one_simulation_of_all_towns(extra):
    """run_replication simulates a city one town at a time; towns share nothing,
    so every matter must meet exactly what it meets in one joint simulation."""
    from sim.arrivals import generate
    from sim.model import Model
    from sim.records import MATTER_COLUMNS

    scenario, layout, by_town = _city(["arrivals.per_1000_people_day=4", *extra])
    joint = Model(scenario, layout, generate(scenario, layout, 0)).run()
    for name in MATTER_COLUMNS:
        np.testing.assert_array_equal(getattr(by_town, name), getattr(joint, name), err_msg=name)
    for name, col in joint.times.items():
        np.testing.assert_array_equal(by_town.times[name], col, err_msg=name)
    assert dict(zip(by_town.pool_name, by_town.pool_busy_h)) == dict(zip(joint.pool_name, joint.pool_busy_h))
    np.testing.assert_array_equal(by_town.grid_work_h, joint.grid_work_h)
    np.testing.assert_array_equal(by_town.replacement_times, joint.replacement_times)
    np.testing.assert_array_equal(by_town.replacement_grids, joint.replacement_grids)
    if "assessment.threshold=0.99" in extra:
        assert by_town.replacement_times.size > 0  # the merge of replacements is exercised


@pytest.mark.parametrize("town", [[], ["town=synthetic", "town.population=24000", "town.people_per_town=8000",
                                        "town.unit_population=4000"]])
def test_jobs_do_not_change_any_output(tmp_path, town):
    """jobs=2 runs the replications of a town, or the towns of a city, in other
    processes: every file must be byte for byte what one process writes."""
    from sim.runner import OutputOptions, run

    scenario = load_scenario(["horizon_days=40", "warmup_days=5", "replications=3", *town])
    for jobs in (1, 2):
        run(scenario, tmp_path / str(jobs), options=OutputOptions(progress=False, plot=False, jobs=jobs))
    for name in ("events.csv", "grids.csv", "backlog.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
    import json
    one, two = (json.loads((tmp_path / j / "summary.json").read_text()) for j in ("1", "2"))
    assert one["metrics"] == two["metrics"] and one["stability"] == two["stability"]


@pytest.mark.skipif(__import__("multiprocessing").get_start_method() != "fork",
                    reason="the corrupted model reaches the workers only when they are forked")
def test_an_invariant_broken_in_a_worker_process_reaches_the_caller(monkeypatch, tmp_path):
    from sim.invariants import InvariantError
    from sim.model import Model
    from sim.runner import OutputOptions, run

    honest = Model.run

    def corrupted(self):
        rec = honest(self)
        rec.times["t_closed"][:] = -1.0  # closed before reported: breaks the order invariant
        return rec

    monkeypatch.setattr(Model, "run", corrupted)
    scenario = load_scenario(["horizon_days=10", "warmup_days=1", "replications=2"])
    with pytest.raises(InvariantError) as info:
        run(scenario, tmp_path / "run", options=OutputOptions(progress=False, plot=False, jobs=2))
    assert info.value.invariant and info.value.matter is not None
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("town,parts", [([], 2), (["town=synthetic", "town.population=16000",
                                                    "town.people_per_town=8000", "town.unit_population=4000"], 2)])
def test_no_more_processes_than_parts(monkeypatch, town, parts):
    """jobs=16 for two replications of a town (or a city of two towns) starts
    two processes, not sixteen idle ones."""
    import sim.parallel as parallel
    from sim.town import build_layout

    started = []

    class Recording(parallel.ProcessPoolExecutor):
        def __init__(self, max_workers, **options):  # options: the workers' initializer
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **options)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Recording)
    scenario = load_scenario(["horizon_days=3", "warmup_days=0", f"replications={2 if not town else 1}", *town])
    list(parallel.replications(scenario, build_layout(scenario.town), jobs=16))
    assert started == [parts]
