"""The scenario: a plain, frozen description of one simulated town and its rules.

A scenario is what an analyst configures (the town and its grids, who works
there, how matters are routed, how long work takes) kept apart from the SimPy
objects that are built from it for each replication. Everything here is an
immutable dataclass of plain values, so a scenario can be hashed, compared,
printed and passed to worker processes; nothing here knows about Hydra.

All times are hours. Config keys that carry another unit say so in their name
(``horizon_days``, ``area_km2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .calendar import Calendar

CATEGORIES: tuple[str, ...] = (
    "rural_revitalisation",
    "agriculture",
    "public_order",
    "petitions",
    "urban_management",
    "environmental_protection",
    "health",
    "urban_construction",
    "land",
    "safety",
)
"""The ten functions merged into one network ("many nets into one")."""

COMPLEXITIES: tuple[str, ...] = ("simple", "difficult", "urgent")
"""Simple: handled in the grid; difficult: claimed by a department; urgent:
an enforcement team is sent down."""

STEPS: tuple[str, ...] = ("simple", "triage", "department", "urgent", "feedback")
"""Handling steps whose work content is drawn when a matter is born."""


@dataclass(frozen=True)
class DistSpec:
    """A non-negative duration distribution, in hours.

    Attributes:
        dist: family: ``exponential``, ``lognormal``, ``gamma`` or ``deterministic``.
        mean_h: mean duration in hours.
        cv: coefficient of variation (lognormal and gamma only).
    """

    dist: str
    mean_h: float
    cv: float | None = None


@dataclass(frozen=True)
class UnitSpec:
    """A village or community and how it sits in the town.

    Attributes:
        name: unique name.
        kind: ``village`` or ``community``.
        population: residents.
        area_km2: land area.
        x_km, y_km: position relative to the town seat (the origin).
        difficulty: multiplier on grid workers' handling times in this unit
            (the source adjusts grid sizes "for how hard the area is to work").
        grids: explicit number of grids, or ``None`` to cut the population
            into grids of ``TownSpec.people_per_grid`` people.
        town: index of the administrative town the unit belongs to (0 in a
            one-town area); each town has its own departments, enforcement
            teams and petitions office.
    """

    name: str
    kind: str
    population: int
    area_km2: float
    x_km: float
    y_km: float
    difficulty: float = 1.0
    grids: int | None = None
    town: int = 0


@dataclass(frozen=True)
class TownSpec:
    """The simulated area: one town (a seat and its units), or a city of several.

    Attributes:
        name: label for reports.
        people_per_grid: target residents per grid, used for every unit whose
            grid count is not fixed.
        units: the villages and communities (``UnitSpec.town`` says whose).
        seats_km: position of each town's seat; one town at the origin by default.
    """

    name: str
    people_per_grid: int
    units: tuple[UnitSpec, ...]
    seats_km: tuple[tuple[float, float], ...] = ((0.0, 0.0),)

    @property
    def n_towns(self) -> int:
        return len(self.seats_km)

    @property
    def population(self) -> int:
        return sum(u.population for u in self.units)


@dataclass(frozen=True)
class ProfileSpec:
    """Time-varying arrival rate, generated exactly by thinning (Lewis-Shedler).

    The rate at time t is the base rate times the hour-of-day weight, the
    day-of-week weight (both normalised to mean 1, so the base rate stays the
    long-run daily average) and the multiplier of any period containing t.

    Attributes:
        hour_of_day: 24 relative weights, or ``None`` for flat.
        day_of_week: 7 relative weights (Monday first), or ``None`` for flat.
        periods: ``(start_day, end_day, multiplier)`` surges or lulls.
        thinning_bound: candidate rate over the base rate; ``None`` = the
            profile's own maximum. Fix it (>= every profile's maximum) to keep
            candidates, and so common random numbers, identical across
            profiles.
    """

    hour_of_day: tuple[float, ...] | None = None
    day_of_week: tuple[float, ...] | None = None
    periods: tuple[tuple[float, float, float], ...] = ()
    thinning_bound: float | None = None

    @property
    def is_flat(self) -> bool:
        return self.hour_of_day is None and self.day_of_week is None and not self.periods

    @property
    def candidate_bound(self) -> float:
        """Candidate rate over the base rate (Lewis-Shedler thinning): the
        fixed ``thinning_bound`` if given, flat profile or not (so a flat
        point thins the same candidates as the others), else the profile's
        own maximum."""
        if self.thinning_bound is not None:
            return self.thinning_bound
        return 1.0 if self.is_flat else self.max_multiplier()

    def max_multiplier(self) -> float:
        hod = max(self.hour_of_day) if self.hour_of_day else 1.0
        dow = max(self.day_of_week) if self.day_of_week else 1.0
        # Overlapping periods multiply (sim.arrivals.rate_multiplier), so the
        # largest rate is the largest product over the periods that hold at
        # once; it changes only where a period starts or ends.
        per = 1.0
        for t in {t for start, end, _ in self.periods for t in (start, end)}:
            m = 1.0
            for start, end, mult in self.periods:
                if start <= t < end:
                    m *= mult
            per = max(per, m)
        return hod * dow * per


@dataclass(frozen=True)
class ArrivalSpec:
    """How matters are born.

    Attributes:
        per_1000_people_day: reported matters per 1,000 residents per day.
        categories: share of each of the 10 functions (sums to 1).
        complexity: share of simple / difficult / urgent (sums to 1).
        block_people: residents per arrival block. Matters are generated per
            block of the population and mapped to grids afterwards, so any
            partition of the same population sees the same matters.
    """

    per_1000_people_day: float
    categories: tuple[tuple[str, float], ...]
    complexity: tuple[tuple[str, float], ...]
    block_people: int = 50
    profile: ProfileSpec = field(default_factory=ProfileSpec)
    discovered_per_duty_h: float = 0.0


@dataclass(frozen=True)
class HandlingSpec:
    """Work content of each step, drawn at a matter's birth."""

    simple: DistSpec
    triage: DistSpec
    department: DistSpec
    urgent: DistSpec
    feedback: DistSpec

    def step(self, name: str) -> DistSpec:
        return getattr(self, name)


@dataclass(frozen=True)
class StaffingSpec:
    """Grid workers.

    Attributes:
        workers_per_grid: workers per grid.
        pooling: ``grid`` (a worker serves only its own grid) or ``unit``
            (the workers of a village serve all its grids).
    """

    workers_per_grid: int
    pooling: str


@dataclass(frozen=True)
class RoutingSpec:
    """Routing and escalation rule.

    Attributes:
        policy: registered policy name (see ``sim.routing.POLICIES``).
        escalate_after_h: a simple matter still waiting for its grid worker
            this long after its report is escalated to its department;
            ``None`` means never.
        deadline_h: deadline from report to closure, per complexity.
    """

    policy: str
    escalate_after_h: float | None
    deadline_h: tuple[tuple[str, float], ...]

    def deadline(self, complexity: str) -> float:
        return dict(self.deadline_h)[complexity]


@dataclass(frozen=True)
class DepartmentSpec:
    """A town department that claims difficult matters of some categories."""

    name: str
    categories: tuple[str, ...]
    staff: int


@dataclass(frozen=True)
class EnforcementSpec:
    """Professional forces sent down for urgent matters (a joint pool of teams).

    Attributes:
        teams: number of teams.
        base: ``town`` (all at the town seat) or ``units`` (stationed in the
            villages chosen to cover the town, one team per chosen unit).
        speed_kmh: travel speed.
        road_factor: road distance over straight-line distance.
        return_to_base: whether the trip back keeps the team busy.
    """

    teams: int
    base: str
    speed_kmh: float
    road_factor: float
    return_to_base: bool


@dataclass(frozen=True)
class CalendarsSpec:
    """Who works when (``None`` = around the clock)."""

    workers: Calendar | None = None
    departments: Calendar | None = None
    enforcement: Calendar | None = None


@dataclass(frozen=True)
class DutySpec:
    """The "eight duties": routine work that takes a share of a worker's shift.

    Duties fill a worker's idle time on shift; when matters have kept the
    worker from them, the worker catches up in blocks of ``block_h`` hours
    that a waiting matter cannot interrupt.

    Attributes:
        share: share of on-shift time owed to duties (0 = off).
        block_h: length of a catch-up block.
    """

    share: float = 0.0
    block_h: float = 1.0


@dataclass(frozen=True)
class TravelSpec:
    """Grid workers' travel to the matter (``worker_speed_kmh=None``: no travel)."""

    worker_speed_kmh: float | None = None
    road_factor: float = 1.0


@dataclass(frozen=True)
class PetitionSpec:
    """Abandonment to petitions (``patience_mean_h=None``: off).

    A resident whose matter is still waiting for its first handler when their
    patience (exponential) runs out goes over the grid's head: the matter
    becomes a petition handled by the petitions office.
    """

    patience_mean_h: float | None = None
    staff: int = 1


@dataclass(frozen=True)
class SatisfactionSpec:
    """Chance that a closed matter leaves its resident satisfied.

    p = floor + (on_time - floor) * exp(-hours_late / decay_h), minus
    ``no_feedback_penalty`` when there was no feedback visit.
    """

    on_time: float = 0.95
    floor: float = 0.4
    decay_h: float = 72.0
    no_feedback_penalty: float = 0.15


@dataclass(frozen=True)
class AssessmentSpec:
    """Periodic assessment of grid workers on their grid's satisfaction.

    Attributes:
        period_days: assessment period (``None`` = no assessment).
        threshold: a grid whose satisfaction over the period is below this fails.
        min_matters: fewer closed matters than this in a period: a pass.
        fails_to_replace: consecutive failures that get a worker replaced.
        vacancy_days: days before the replacement starts (the unit covers).
        learning_days, learning_factor: the new worker's handling times are
            multiplied by the factor for this long.
    """

    period_days: float | None = None
    threshold: float = 0.8
    min_matters: int = 5
    fails_to_replace: int = 2
    vacancy_days: float = 30.0
    learning_days: float = 90.0
    learning_factor: float = 1.5


@dataclass(frozen=True)
class RunSpec:
    """Length and randomness of a run."""

    seed: int
    replications: int
    horizon_days: float
    warmup_days: float

    @property
    def horizon_h(self) -> float:
        return self.horizon_days * 24.0

    @property
    def warmup_h(self) -> float:
        return self.warmup_days * 24.0


@dataclass(frozen=True)
class Scenario:
    """Everything one simulation run needs, as plain frozen values."""

    town: TownSpec
    arrivals: ArrivalSpec
    handling: HandlingSpec
    staffing: StaffingSpec
    routing: RoutingSpec
    departments: tuple[DepartmentSpec, ...]
    enforcement: EnforcementSpec
    run: RunSpec
    calendars: CalendarsSpec = field(default_factory=CalendarsSpec)
    duties: DutySpec = field(default_factory=DutySpec)
    travel: TravelSpec = field(default_factory=TravelSpec)
    petitions: PetitionSpec = field(default_factory=PetitionSpec)
    satisfaction: SatisfactionSpec = field(default_factory=SatisfactionSpec)
    assessment: AssessmentSpec = field(default_factory=AssessmentSpec)
