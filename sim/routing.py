"""Routing and escalation policies: where a matter goes next.

The source's rule: "simple matters are discussed and handled within the grid;
difficult matters are claimed by departments; overdue matters are supervised
and given a deadline". A policy is a small class with one method,
``next_step(model, mid, done)``, that returns the pool and step a matter goes
to after finishing step ``done`` (``None`` for a newborn matter), or ``None``
when the matter is closed. Every matter ends with the grid worker's feedback
visit (the closed loop). Steps whose work content is a deterministic 0 do not
exist and are skipped.

Adding a policy means adding one class here, registering it in ``POLICIES``
and adding one YAML file under ``configs/routing/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model
    from .service import Pool

# Step codes (the column order of ``Arrivals.work_h``).
SIMPLE, TRIAGE, DEPARTMENT, URGENT, FEEDBACK = 0, 1, 2, 3, 4
RESOLVING_STEPS = frozenset({SIMPLE, DEPARTMENT, URGENT})
# Complexity codes.
CX_SIMPLE, CX_DIFFICULT, CX_URGENT = 0, 1, 2
# Queue priority classes: the triage of an urgent matter comes first.
PRIO_URGENT, PRIO_NORMAL = 0, 1


class RoutingPolicy(Protocol):
    """Decides a matter's next step."""

    name: str
    escalate_after_h: float | None
    # A step after which next_step always closes the matter (None: none).
    # The model then closes it without asking the policy.
    closes_after: int | None

    def prepare(self, model: "Model") -> None:
        """Adjust the model's pools before the run (e.g. link neighbours)."""

    def next_step(self, model: "Model", mid: int, done: int | None) -> tuple["Pool", int, int] | None:
        """Return ``(pool, step, priority)`` for the next step, or ``None`` to close."""


class Tiered:
    """The source's rule: grid, then department or enforcement, escalation by time.

    Simple matters are handled by the grid worker; a simple matter still
    waiting for its worker ``escalate_after_h`` hours after its report is
    escalated to the department of its category. Difficult matters are
    triaged by the worker and claimed by their department; urgent matters are
    triaged and an enforcement team is sent down.
    """

    name = "tiered"
    closes_after = FEEDBACK  # next_step(model, mid, FEEDBACK) is None


    def __init__(self, escalate_after_h: float | None) -> None:
        self.escalate_after_h = escalate_after_h

    def prepare(self, model: "Model") -> None:
        pass

    def next_step(self, model: "Model", mid: int, done: int | None) -> tuple["Pool", int, int] | None:
        # Runs for every step of every matter: model.worker_pool(mid) and
        # _feedback are inlined here as model._grid_pool[model.grid[mid]].
        has = model.has_step
        cx = model.complexity[mid]
        if done is None:
            if cx == CX_SIMPLE:
                if has[SIMPLE]:
                    return model._grid_pool[model.grid[mid]], SIMPLE, PRIO_NORMAL
                return self._feedback(model, mid)
            if has[TRIAGE]:
                pool = model._grid_pool[model.grid[mid]]
                if cx != CX_URGENT:
                    return pool, TRIAGE, PRIO_NORMAL
                # Urgent matters are still reported out of hours: with the
                # worker off shift the platform dispatches a team directly.
                if pool.on_shift():
                    return pool, TRIAGE, PRIO_URGENT
            done = TRIAGE
        if done == TRIAGE:
            if cx == CX_URGENT and has[URGENT]:
                return model.enforcement_pool(mid), URGENT, PRIO_URGENT
            if cx == CX_DIFFICULT and has[DEPARTMENT]:
                return model.department_pool(mid), DEPARTMENT, PRIO_NORMAL
            return self._feedback(model, mid)
        if done == FEEDBACK:
            return None
        if has[FEEDBACK]:
            return model._grid_pool[model.grid[mid]], FEEDBACK, PRIO_NORMAL
        return None

    @staticmethod
    def _feedback(model: "Model", mid: int) -> tuple["Pool", int, int] | None:
        if model.has_step[FEEDBACK]:
            return model.worker_pool(mid), FEEDBACK, PRIO_NORMAL
        return None


class GridOnly(Tiered):
    """No escalation: a simple matter stays with its grid worker however long it waits.

    Difficult and urgent matters are beyond a grid worker's powers and still
    go to departments and enforcement teams after triage.
    """

    name = "grid_only"

    def __init__(self, escalate_after_h: float | None = None) -> None:
        super().__init__(None)


class NeighbourBackup(Tiered):
    """The tiered rule plus cooperation between adjacent grids.

    When every worker of a grid is busy and a worker of an adjacent grid is
    free, that worker takes the matter; a worker with nothing of its own takes
    the oldest waiting work of its neighbours (the cooperation that Larson's
    hypercube queueing model describes). The grids of a village form a ring:
    grid k's neighbours are k+1 then k-1 (its preference order). Only with
    ``staffing.pooling = grid``: pooled workers already serve the whole unit.
    """

    name = "neighbour_backup"

    def prepare(self, model: "Model") -> None:
        if model.scenario.staffing.pooling != "grid":
            return
        layout = model.layout
        for unit in model.units:
            grids = layout.grids_of_unit(unit).tolist()
            k = len(grids)
            for i, g in enumerate(grids):
                order = []
                for j in (i + 1, i - 1):
                    nb = grids[j % k]
                    if nb != g and nb not in order:
                        order.append(nb)
                model._grid_pool[g].neighbours = [model._grid_pool[nb] for nb in order]


POLICIES: dict[str, type[Tiered]] = {"tiered": Tiered, "grid_only": GridOnly, "neighbour_backup": NeighbourBackup}
"""Registered routing policies, by the name used in ``routing.policy``."""


def closing_step(policy: object) -> int | None:
    """The step after which ``policy`` always closes a matter (its
    ``closes_after``), when that answer belongs to the ``next_step`` it
    uses; otherwise ``None`` (the model then asks the policy after every step).

    ``closes_after`` describes one ``next_step``: a policy that gets its
    ``next_step`` from a class (or instance) nearer than the one declaring
    ``closes_after`` (a subclass of ``Tiered`` with its own rule, a mixin, a
    method set later) does not inherit that answer.
    """
    def owner(name: str) -> int | None:  # 0: the instance, i: the i-th class of the MRO
        if name in getattr(policy, "__dict__", {}):
            return 0
        for i, cls in enumerate(type(policy).__mro__, start=1):
            if name in vars(cls):
                return i
        return None

    step = getattr(policy, "closes_after", None)
    declared, rule = owner("closes_after"), owner("next_step")
    if step is None or declared is None or rule is None or declared > rule:
        return None
    return step


def make_policy(name: str, escalate_after_h: float | None) -> RoutingPolicy:
    """Build the policy registered under ``name``."""
    return POLICIES[name](escalate_after_h)
