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
    #: Settle before any solver what can be settled exactly (``reduce.py``: free
    #: institutions, dominance, settled facilities, components linked only through
    #: institutions that can be full) and solve components whose capacity-free optimum
    #: fits every capacity in closed form.  False = every component by CP-SAT.
    reduce: bool = True
    #: Processes for the components left to CP-SAT (results do not depend on it).
    workers: int = 1
    #: Components with at least this many candidate rows stop at ``large_time_limit``
    #: (deterministic seconds per level) instead of the run's stage time limit.
    large_component: int | None = None
    large_time_limit: float = 2.0
    #: Cap on the second solve (agreements and travel, goals 4–5) per component, in
    #: deterministic seconds; None = the stage limit.  Coverage is never capped by it.
    effort_time_limit: float | None = None
    #: With ``nearest``: rounds in which the cut lists the coverage proof needs (the
    #: model's ``expand``) are lengthened ``expand_factor`` times and the changed
    #: components solved again.
    expand_rounds: int = 0
    expand_factor: int = 4


NATIONAL = SolveOptions(nearest=8, workers=2, large_component=3000, large_time_limit=1.0, expand_rounds=1)
