"""Turn a composed config (plain nested dicts) into a validated ``Scenario``.

This is the one place where user input is checked. Every check raises
``ConfigError`` naming the key, the bad value and what is allowed, before any
simulation work starts. The input is plain Python (``OmegaConf.to_container``
of the Hydra config, or a dict written by hand), so this module does not
import Hydra either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .distributions import FAMILIES, FAMILIES_WITH_CV
from .routing import POLICIES
from .calendar import Calendar
from .config_fields import (
    ConfigError,
    or_empty,
    _bool,
    _choice,
    _integer,
    _known,
    _number,
    _section,
    _shares,
    _string,
)
from .scenario import (
    CATEGORIES,
    COMPLEXITIES,
    STEPS,
    ArrivalSpec,
    AssessmentSpec,
    CalendarsSpec,
    DutySpec,
    PetitionSpec,
    ProfileSpec,
    SatisfactionSpec,
    TravelSpec,
    DepartmentSpec,
    DistSpec,
    EnforcementSpec,
    HandlingSpec,
    RoutingSpec,
    RunSpec,
    Scenario,
    StaffingSpec,
    TownSpec,
    UnitSpec,
)
from .output import OutputOptions
from .town import grids_in_unit, synthetic_city, synthetic_counts

TOWN_KINDS = ("units", "synthetic")
UNIT_KINDS = ("village", "community")
POOLINGS = ("grid", "unit")
BASES = ("town", "units")
MAX_GRIDS = 200_000
MIN_CV = 1e-6  # below this a duration is constant to double precision
# Sizes beyond any real town or run. Above them a value is a typo (1e308, an
# extra zero) that would exhaust memory, overflow a float (an infinite time,
# an arrival count NumPy refuses) or hang, after the simulation has started.
MAX_PEOPLE = 2_000_000_000  # more residents than any country has
MAX_STAFF = 100_000  # desks of one department, teams or petitions desks of one town
MAX_WORKERS = 1_000_000  # grid workers in all
MAX_MATTERS = 100_000_000  # expected matters of one town in one replication (~30 GB of records)
MAX_HOURS = 1e10  # any duration or time limit: over a million years, "never" within the longest horizon
MAX_DAYS = 1e8  # the same for keys in days (about 270,000 years)
MAX_KM = 20_000.0  # a position: half the Earth's circumference from the town seat
MAX_AREA_KM2 = 5.1e8  # the Earth's surface
MIN_SPEED_KMH = 0.1  # a crawl; slower makes trips longer than any horizon
MAX_ROAD_FACTOR = 100.0


# -- sections -----------------------------------------------------------------

def _dist(cfg: Mapping, key: str, path: str) -> DistSpec:
    section = _section(cfg, key, path)
    full = f"{path}.{key}"
    _known(section, full, ("dist", "mean_h", "cv"))
    dist = _choice(section, "dist", full, FAMILIES)
    mean = _number(section, "mean_h", full, lo=0.0, hi=MAX_HOURS)
    cv = None
    if dist in FAMILIES_WITH_CV:
        cv = _number(section, "cv", full, lo=0.0, hi=10.0)
        if cv is None:
            raise ConfigError(f"{full}.cv", None, f"required for dist={dist}")
        if 0.0 < cv < MIN_CV:
            # A gamma of shape 1/cv^2 overflows for cv below ~1e-155 (NaN or
            # ZeroDivisionError in sim.distributions); such a cv is a constant anyway.
            raise ConfigError(f"{full}.cv", cv, f"expected 0 (no variation) or a number >= {MIN_CV:g} and <= 10")
    elif section.get("cv") is not None:
        # exponential (cv 1) and deterministic (cv 0) have no free cv: a cv left
        # over from the default family is ignored, so `handling.X.dist=exponential`
        # works as an override on its own; a non-number is still an error.
        _number(section, "cv", full, lo=0.0)
    if mean == 0.0 and dist != "deterministic":
        raise ConfigError(f"{full}.mean_h", mean, f"expected > 0 for dist={dist} (use dist=deterministic, mean_h=0 for 'no such step')")
    return DistSpec(dist=dist, mean_h=mean, cv=cv)


def _town(cfg: Mapping) -> TownSpec:
    t = _section(cfg, "town", "")
    kind = _choice(t, "kind", "town", TOWN_KINDS)
    other = "synthetic" if kind == "units" else "units"
    if kind == "units" and "units" not in t and "population" in t or kind == "synthetic" and "units" in t:
        # town.kind=X typed over the other kind's keys: the kind goes with them.
        raise ConfigError("town.kind", kind, f"this town's keys are those of kind={other}; choose another town "
                          "with town=NAME (e.g. town=synthetic, town=xiaji), not town.kind")
    name = _string(t, "name", "town", kind)
    ppg = _integer(t, "people_per_grid", "town", lo=1, hi=MAX_PEOPLE)
    if kind == "synthetic":
        _known(t, "town", ("kind", "name", "people_per_grid", "population", "unit_population", "area_km2",
                           "people_per_town"))
        pop = _integer(t, "population", "town", lo=1, hi=MAX_PEOPLE)
        unit_pop = _integer(t, "unit_population", "town", lo=1, hi=MAX_PEOPLE)
        area = _number(t, "area_km2", "town", lo=0.0, lo_open=True, hi=MAX_AREA_KM2)
        per_town = None if t.get("people_per_town") is None else _integer(t, "people_per_town", "town", lo=1, hi=MAX_PEOPLE)
        # Counted before the units are built: a city of 10^9 villages would not fit in memory.
        n_towns, n_units = synthetic_counts(pop, unit_pop, per_town)
        if n_towns > MAX_GRIDS:
            raise ConfigError("town.people_per_town", per_town, f"gives {n_towns} towns; at most {MAX_GRIDS} are supported")
        if n_units > MAX_GRIDS:
            raise ConfigError("town.unit_population", unit_pop,
                              f"gives {n_units} villages (each at least one grid); at most {MAX_GRIDS} are supported")
        units, seats = synthetic_city(pop, unit_pop, area, per_town)
    else:
        _known(t, "town", ("kind", "name", "people_per_grid", "units"))
        section = _section(t, "units", "town")
        if not section:
            raise ConfigError("town.units", {}, "a town needs at least one unit (village or community)")
        units_list = []
        for uname, u in section.items():
            path = f"town.units.{uname}"
            if not isinstance(u, Mapping):
                raise ConfigError(path, u, "expected a mapping with kind, population, area_km2, x_km, y_km")
            _known(u, path, ("kind", "population", "area_km2", "x_km", "y_km", "difficulty", "grids"))
            grids = u.get("grids")
            units_list.append(UnitSpec(
                name=str(uname),
                kind=_choice(u, "kind", path, UNIT_KINDS, default="village"),
                population=_integer(u, "population", path, lo=1, hi=MAX_PEOPLE),
                area_km2=_number(u, "area_km2", path, lo=0.0, lo_open=True, hi=MAX_AREA_KM2),
                x_km=_number(u, "x_km", path, lo=-MAX_KM, hi=MAX_KM),
                y_km=_number(u, "y_km", path, lo=-MAX_KM, hi=MAX_KM),
                difficulty=_number(u, "difficulty", path, lo=0.0, lo_open=True, hi=100.0, default=1.0),
                grids=None if grids is None else _integer(u, "grids", path, lo=1, hi=MAX_GRIDS),
            ))
        units = tuple(units_list)
        seats = ((0.0, 0.0),)
    spec = TownSpec(name=name, people_per_grid=ppg, units=units, seats_km=seats)
    for u in units:
        if grids_in_unit(u, ppg) > u.population:
            raise ConfigError(f"town.units.{u.name}.grids", u.grids, f"more grids than residents ({u.population})")
    n_grids = sum(grids_in_unit(u, ppg) for u in units)
    if n_grids > MAX_GRIDS:
        raise ConfigError("town.people_per_grid", ppg, f"gives {n_grids} grids; at most {MAX_GRIDS} are supported")
    return spec


def _weights(cfg: Mapping, key: str, path: str, n: int) -> tuple[float, ...] | None:
    full = f"{path}.{key}"
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ConfigError(full, value, f"expected a list of {n} non-negative weights, or null for flat")
    out = []
    for i, w in enumerate(value):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ConfigError(f"{full}[{i}]", w, "expected a finite number >= 0")
        out.append(float(w))
    if not math.isfinite(sum(out)):  # relative weights too large to add up: scale them first
        top = max(out)
        out = [w / top for w in out]
    mean = sum(out) / n
    if mean <= 0:
        raise ConfigError(full, value, "at least one weight must be > 0")
    return tuple(w / mean for w in out)  # normalised to mean 1: the base rate stays the average


def _profile(a: Mapping) -> ProfileSpec:
    p = a.get("profile")
    if p is None:
        return ProfileSpec()
    if not isinstance(p, Mapping):
        raise ConfigError("arrivals.profile", p, "expected a mapping (hour_of_day, day_of_week, periods, thinning_bound) or null")
    path = "arrivals.profile"
    _known(p, path, ("hour_of_day", "day_of_week", "periods", "thinning_bound"))
    periods = []
    raw = or_empty(p.get("periods"), [])
    if not isinstance(raw, (list, tuple)):
        raise ConfigError(f"{path}.periods", raw, "expected a list of {start_day, end_day, multiplier}")
    for i, per in enumerate(raw):
        ppath = f"{path}.periods[{i}]"
        if not isinstance(per, Mapping):
            raise ConfigError(ppath, per, "expected a mapping with start_day, end_day, multiplier")
        _known(per, ppath, ("start_day", "end_day", "multiplier", "name"))
        if "name" in per:
            _string(per, "name", ppath, "")
        start = _number(per, "start_day", ppath, lo=0.0, hi=MAX_DAYS)
        end = _number(per, "end_day", ppath, lo=0.0, hi=MAX_DAYS)
        if end <= start:
            raise ConfigError(f"{ppath}.end_day", end, f"must be after start_day ({start:g})")
        periods.append((start, end, _number(per, "multiplier", ppath, lo=0.0, hi=1000.0)))
    spec = ProfileSpec(
        hour_of_day=_weights(p, "hour_of_day", path, 24),
        day_of_week=_weights(p, "day_of_week", path, 7),
        periods=tuple(periods),
        thinning_bound=_number(p, "thinning_bound", path, lo=0.0, lo_open=True, optional=True, default=None),
    )
    if spec.thinning_bound is not None and spec.thinning_bound < spec.max_multiplier() - 1e-12:
        raise ConfigError(f"{path}.thinning_bound", spec.thinning_bound,
                          f"must be >= the profile's largest rate multiplier ({spec.max_multiplier():.4g})")
    return spec


def _arrivals(cfg: Mapping) -> ArrivalSpec:
    a = _section(cfg, "arrivals", "")
    _known(a, "arrivals", ("per_1000_people_day", "categories", "complexity", "block_people", "profile",
                           "discovered_per_duty_h"))
    return ArrivalSpec(
        per_1000_people_day=_number(a, "per_1000_people_day", "arrivals", lo=0.0),
        categories=_shares(a, "categories", "arrivals", CATEGORIES),
        complexity=_shares(a, "complexity", "arrivals", COMPLEXITIES),
        block_people=_integer(a, "block_people", "arrivals", lo=1, hi=MAX_PEOPLE, default=50),
        profile=_profile(a),
        discovered_per_duty_h=_number(a, "discovered_per_duty_h", "arrivals", lo=0.0, default=0.0),
    )


def _calendar(c: Mapping, key: str, path: str) -> Calendar | None:
    full = f"{path}.{key}"
    value = c.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(full, value, "expected {days: [0-6...], start_h, end_h} or null for around the clock")
    _known(value, full, ("days", "start_h", "end_h"))
    days = value.get("days")
    if not isinstance(days, (list, tuple)) or not days or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ConfigError(f"{full}.days", days, "expected a non-empty list of weekdays 0 (Monday) to 6 (Sunday)")
    start = _number(value, "start_h", full, lo=0.0, hi=24.0)
    end = _number(value, "end_h", full, lo=0.0, hi=24.0)
    if end <= start:
        raise ConfigError(f"{full}.end_h", end, f"must be after {full}.start_h={start:g} (a shift ends the day it starts: night shifts are not supported)")
    return Calendar(days=tuple(sorted(set(days))), start_h=start, end_h=end)


def _realism(cfg: Mapping) -> dict[str, Any]:
    """The optional realism sections; each missing section means 'off'."""
    out: dict[str, Any] = {}
    c = or_empty(cfg.get("calendars"), {})
    if not isinstance(c, Mapping):
        raise ConfigError("calendars", c, "expected a mapping (workers, departments, enforcement)")
    _known(c, "calendars", ("workers", "departments", "enforcement"))
    out["calendars"] = CalendarsSpec(**{k: _calendar(c, k, "calendars") for k in ("workers", "departments", "enforcement")})

    d = _optional_section(cfg, "duties", ("share", "block_h"))
    out["duties"] = DutySpec(share=_number(d, "share", "duties", lo=0.0, hi=0.95, default=0.0),
                             block_h=_number(d, "block_h", "duties", lo=0.1, hi=MAX_HOURS, default=1.0))  # >= 6 min: finer blocks only multiply events

    t = _optional_section(cfg, "travel", ("worker_speed_kmh", "road_factor"))
    out["travel"] = TravelSpec(
        worker_speed_kmh=_number(t, "worker_speed_kmh", "travel", lo=MIN_SPEED_KMH, optional=True, default=None),
        road_factor=_number(t, "road_factor", "travel", lo=1.0, hi=MAX_ROAD_FACTOR, default=1.0))

    p = _optional_section(cfg, "petitions", ("patience_mean_h", "staff"))
    out["petitions"] = PetitionSpec(
        patience_mean_h=_number(p, "patience_mean_h", "petitions", lo=0.0, lo_open=True, hi=MAX_HOURS, optional=True,
                                default=None),
        staff=_integer(p, "staff", "petitions", lo=1, hi=MAX_STAFF, default=1))

    s = _optional_section(cfg, "satisfaction", ("on_time", "floor", "decay_h", "no_feedback_penalty"))
    on_time = _number(s, "on_time", "satisfaction", lo=0.0, hi=1.0, default=0.95)
    floor = _number(s, "floor", "satisfaction", lo=0.0, hi=1.0, default=0.4)
    if floor > on_time:
        raise ConfigError("satisfaction.floor", floor, f"must be <= satisfaction.on_time ({on_time:g})")
    out["satisfaction"] = SatisfactionSpec(
        on_time=on_time, floor=floor,
        decay_h=_number(s, "decay_h", "satisfaction", lo=0.0, lo_open=True, hi=MAX_HOURS, default=72.0),
        no_feedback_penalty=_number(s, "no_feedback_penalty", "satisfaction", lo=0.0, hi=1.0, default=0.15))

    path = "assessment"
    a = _optional_section(cfg, path, ("period_days", "threshold", "min_matters", "fails_to_replace", "vacancy_days",
                                      "learning_days", "learning_factor"))
    out["assessment"] = AssessmentSpec(
        period_days=_number(a, "period_days", path, lo=1.0, hi=MAX_DAYS, optional=True, default=None),  # at most daily
        threshold=_number(a, "threshold", path, lo=0.0, hi=1.0, default=0.8),
        min_matters=_integer(a, "min_matters", path, lo=0, default=5),
        fails_to_replace=_integer(a, "fails_to_replace", path, lo=1, default=2),
        vacancy_days=_number(a, "vacancy_days", path, lo=0.0, hi=MAX_DAYS, default=30.0),
        learning_days=_number(a, "learning_days", path, lo=0.0, hi=MAX_DAYS, default=90.0),
        learning_factor=_number(a, "learning_factor", path, lo=0.0, lo_open=True, hi=100.0, default=1.5))
    return out


def _optional_section(cfg: Mapping, key: str, allowed: tuple[str, ...]) -> Mapping:
    """A realism section: missing or null means 'off' (every key at its default)."""
    section = or_empty(cfg.get(key), {})
    if not isinstance(section, Mapping):
        raise ConfigError(key, section, f"expected a mapping ({', '.join(allowed)}) or null")
    _known(section, key, allowed)
    return section


def _handling(cfg: Mapping) -> HandlingSpec:
    h = _section(cfg, "handling", "")
    _known(h, "handling", STEPS)
    return HandlingSpec(**{step: _dist(h, step, "handling") for step in STEPS})


def _routing(cfg: Mapping) -> RoutingSpec:
    r = _section(cfg, "routing", "")
    _known(r, "routing", ("policy", "escalate_after_h", "deadline_h"))
    policy = _choice(r, "policy", "routing", tuple(POLICIES))
    esc = _number(r, "escalate_after_h", "routing", lo=0.0, hi=MAX_HOURS, optional=True, default=None)
    dl = _section(r, "deadline_h", "routing")
    _known(dl, "routing.deadline_h", COMPLEXITIES)
    deadlines = tuple((c, _number(dl, c, "routing.deadline_h", lo=0.0, lo_open=True, hi=MAX_HOURS)) for c in COMPLEXITIES)
    return RoutingSpec(policy=policy, escalate_after_h=esc, deadline_h=deadlines)


def _departments(cfg: Mapping) -> tuple[DepartmentSpec, ...]:
    d = _section(cfg, "departments", "")
    if not d:
        raise ConfigError("departments", {}, "at least one department is needed to claim difficult matters")
    claimed: dict[str, str] = {}
    out = []
    for name, dept in d.items():
        path = f"departments.{name}"
        if not isinstance(dept, Mapping):
            raise ConfigError(path, dept, "expected a mapping with categories and staff")
        _known(dept, path, ("categories", "staff"))
        cats = dept.get("categories")
        if not isinstance(cats, (list, tuple)) or not cats:
            raise ConfigError(f"{path}.categories", cats, f"expected a non-empty list of categories from: {', '.join(CATEGORIES)}")
        for c in cats:
            if c not in CATEGORIES:
                raise ConfigError(f"{path}.categories", c, f"unknown category; expected one of: {', '.join(CATEGORIES)}")
            if c in claimed:
                raise ConfigError(f"{path}.categories", c, f"already claimed by department {claimed[c]!r}; each category belongs to one department")
            claimed[c] = str(name)
        out.append(DepartmentSpec(name=str(name), categories=tuple(cats), staff=_integer(dept, "staff", path, lo=1, hi=MAX_STAFF)))
    missing = [c for c in CATEGORIES if c not in claimed]
    if missing:
        raise ConfigError("departments", sorted(claimed), f"every category must be claimed by a department; unclaimed: {', '.join(missing)}")
    return tuple(out)


def _enforcement(cfg: Mapping) -> EnforcementSpec:
    e = _section(cfg, "enforcement", "")
    _known(e, "enforcement", ("teams", "base", "speed_kmh", "road_factor", "return_to_base"))
    return EnforcementSpec(
        teams=_integer(e, "teams", "enforcement", lo=0, hi=MAX_STAFF),
        base=_choice(e, "base", "enforcement", BASES),
        speed_kmh=_number(e, "speed_kmh", "enforcement", lo=MIN_SPEED_KMH),
        road_factor=_number(e, "road_factor", "enforcement", lo=1.0, hi=MAX_ROAD_FACTOR, default=1.0),
        return_to_base=_bool(e, "return_to_base", "enforcement", True),
    )


def _run(cfg: Mapping) -> RunSpec:
    seed = _integer(cfg, "seed", "", lo=0, hi=2**63 - 1)
    reps = _integer(cfg, "replications", "", lo=1, hi=100_000)
    horizon = _number(cfg, "horizon_days", "", lo=0.0, lo_open=True, hi=365.0 * 200)
    warmup = _number(cfg, "warmup_days", "", lo=0.0)
    if warmup >= horizon:
        raise ConfigError("warmup_days", warmup, f"must be shorter than horizon_days ({horizon:g}); lower warmup_days or raise horizon_days")
    return RunSpec(seed=seed, replications=reps, horizon_days=horizon, warmup_days=warmup)


SCENARIO_KEYS = ("town", "arrivals", "handling", "staffing", "routing", "departments", "enforcement",
                 "calendars", "duties", "travel", "petitions", "satisfaction", "assessment")
RUN_KEYS = ("seed", "replications", "horizon_days", "warmup_days")


def build_scenario(cfg: Mapping) -> Scenario:
    """Validate a plain config mapping and build the frozen scenario.

    Raises:
        ConfigError: the first invalid value found, naming key, value and what is allowed.
    """
    run = _run(cfg)
    town = _town(cfg)
    arrivals = _arrivals(cfg)
    handling = _handling(cfg)
    s = _section(cfg, "staffing", "")
    _known(s, "staffing", ("workers_per_grid", "pooling"))
    pooling = _choice(s, "pooling", "staffing", POOLINGS)
    staffing = StaffingSpec(
        workers_per_grid=_integer(s, "workers_per_grid", "staffing", lo=1, hi=MAX_WORKERS),
        pooling=pooling,
    )
    routing = _routing(cfg)
    departments = _departments(cfg)
    enforcement = _enforcement(cfg)
    urgent_share = dict(arrivals.complexity)["urgent"]
    if enforcement.teams == 0 and urgent_share > 0 and not (handling.urgent.dist == "deterministic" and handling.urgent.mean_h == 0):
        raise ConfigError("enforcement.teams", 0, f"at least 1 team is needed when arrivals.complexity.urgent > 0 (it is {urgent_share:g})")
    realism = _realism(cfg)
    scenario = Scenario(
        town=town, arrivals=arrivals, handling=handling, staffing=staffing, routing=routing,
        departments=departments, enforcement=enforcement, run=run, **realism,
    )
    _check_size(scenario)
    return scenario


def _check_size(scenario: Scenario) -> None:
    """Values valid one by one whose product (workers, matters) no run could hold."""
    town, arrivals = scenario.town, scenario.arrivals
    grids = [0] * town.n_towns
    people = [0] * town.n_towns
    for u in town.units:
        grids[u.town] += grids_in_unit(u, town.people_per_grid)
        people[u.town] += u.population
    wpg = scenario.staffing.workers_per_grid
    if sum(grids) * wpg > MAX_WORKERS:
        raise ConfigError("staffing.workers_per_grid", wpg,
                          f"gives {sum(grids) * wpg} grid workers in {sum(grids)} grids; at most {MAX_WORKERS} are supported")
    # Candidate matters of the largest town in one replication, as sim.arrivals draws them.
    hours = scenario.run.horizon_h
    profile = arrivals.profile
    bound = profile.candidate_bound
    per_person = arrivals.per_1000_people_day / 1000.0 / 24.0 * hours
    reported = per_person * bound * max(people)
    if reported > MAX_MATTERS:
        flat = per_person * max(people)
        key, value = "arrivals.per_1000_people_day", arrivals.per_1000_people_day
        if profile.thinning_bound is not None and flat * profile.max_multiplier() <= MAX_MATTERS:
            key, value = "arrivals.profile.thinning_bound", profile.thinning_bound
        elif flat <= MAX_MATTERS:  # the profile's peak: hour x weekday x the periods that overlap
            key, value = "arrivals.profile", profile.max_multiplier()
        raise ConfigError(key, value, f"{'the largest rate multiplier ' if key == 'arrivals.profile' else ''}"
                          f"gives about {reported:.3g} reported matters per town in one replication "
                          f"({max(people)} residents, {scenario.run.horizon_days:g} days); at most {MAX_MATTERS:.0e} are supported")
    found = arrivals.discovered_per_duty_h * scenario.duties.share * wpg * max(grids) * hours
    if found > MAX_MATTERS:
        raise ConfigError("arrivals.discovered_per_duty_h", arrivals.discovered_per_duty_h,
                          f"gives about {found:.3g} matters found on duty per town in one replication "
                          f"({max(grids)} grids, {scenario.run.horizon_days:g} days); at most {MAX_MATTERS:.0e} are supported")


TOP_KEYS = (*RUN_KEYS, *SCENARIO_KEYS, "progress", "jobs", "output", "study")


def build_options(cfg: Mapping) -> OutputOptions:
    """Validate the top-level keys and the output options."""
    _known(cfg, "", TOP_KEYS)
    o = or_empty(cfg.get("output"), {})
    if not isinstance(o, Mapping):
        raise ConfigError("output", o, "expected a mapping")
    _known(o, "output", ("events", "events_format", "backlog_step_h", "plot"))
    events_format = _choice(o, "events_format", "output", ("auto", "csv", "parquet"), default="auto")
    return OutputOptions(
        events=_bool(o, "events", "output", True),
        events_format=events_format,
        backlog_step_h=_number(o, "backlog_step_h", "output", lo=0.1, hi=MAX_HOURS, default=24.0),  # a row per 6 min at most
        plot=_bool(o, "plot", "output", True),
        progress=_bool(cfg, "progress", "", True),
        jobs=_jobs(cfg),
    )


def _jobs(cfg: Mapping) -> int:
    """``jobs``: processes for one run's independent parts; -1 = every core."""
    value = cfg.get("jobs", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not (value == -1 or value >= 1):
        raise ConfigError("jobs", value, "expected a whole number >= 1, or -1 for every core")
    return value


def build_job(cfg: Mapping) -> tuple[Scenario, OutputOptions]:
    """Validate a whole composed config: the scenario and the output options."""
    options = build_options(cfg)
    return build_scenario(cfg), options
