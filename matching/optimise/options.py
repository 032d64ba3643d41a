"""How a run is computed (not what it computes): the knobs for large instances.

The defaults reproduce the exact, single-process behaviour the project always had
(every candidate, every component by CP-SAT).  :data:`NATIONAL` is what the
benchmark uses for the 40,000-facility instance.

>>> SolveOptions().nearest is None
True
>>> NATIONAL.workers
2
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SolveOptions:
    #: Keep only the K nearest candidates per facility and role (plus current partners and
    #: pinned pairs).  None = all.  Coverage is then proven against the *full* candidate
    #: set only where the bound allows it; the run reports the gap either way.
    nearest: int | None = None
    #: Solve components whose capacity-free optimum fits every capacity in closed form
    #: (exact: a relaxation's optimum that is feasible is optimal).
    closed_form: bool = True
    #: Processes for the components left to CP-SAT (results do not depend on it).
    workers: int = 1
    #: Components with at least this many candidate rows get a repaired closed-form
    #: solution as a hint, skip the coverage solve when that hint meets the coverage
    #: bound, and stop at ``large_time_limit`` (deterministic seconds per level).
    large_component: int | None = None
    large_time_limit: float = 2.0


NATIONAL = SolveOptions(nearest=8, closed_form=True, workers=2, large_component=3000, large_time_limit=1.0)
