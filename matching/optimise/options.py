"""How a run is computed (not what it computes): the knobs for large instances.

Nobody has to choose them: :func:`for_size` picks them from the size of the
region's candidate lists, and :func:`matching.optimise.run.match` uses it when no
options are given (the CLI, the service, what-if, criticality and reports all
do).  Small regions keep every candidate and every goal is solved exactly;
large ones cut each list to the nearest K (plus, per role set, the nearest
institutions able to take it as one agreement), lengthen the lists a proof
needs, and solve components in parallel — coverage stays proven for the full
lists, and the run reports the gap on agreements and travel.
``SolveOptions()`` is the exact, single-process behaviour (every candidate);
:data:`NATIONAL` is what the benchmark used for the 40,000-facility instance.

>>> SolveOptions().nearest is None
True
>>> for_size(3_301).nearest is None, for_size(185_000).nearest
(True, 8)
"""

from __future__ import annotations

import os
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


#: Rounds of lengthening at national scale.  Lengthening the lists one component's phantoms asked
#: for can change the component, whose phantoms then ask for others: the national instance with
#: capacities in residents needs three rounds to prove its coverage (one left 2 facilities
#: unproven).  A round that nothing asks for is not run.
EXPAND_ROUNDS = 3

NATIONAL = SolveOptions(nearest=8, workers=2, large_component=3000, large_time_limit=1.0,
                        expand_rounds=EXPAND_ROUNDS)


#: Up to this many candidate rows (full lists) every list is kept whole and all five
#: goals are solved exactly.  Measured on this project's 2-core machine: a seeded
#: prefecture cluster at 37,000 rows solves in about 4 s with full lists; the
#: prefecture-size region (185,000 rows) does not finish its first goal in 60 s,
#: but with cut lists proves its coverage in under a second.
FULL_LISTS_MAX_ROWS = 40_000


def for_size(candidate_rows: int, cpus: int | None = None) -> SolveOptions:
    """The options a region of ``candidate_rows`` (full lists, see
    :func:`matching.candidates.count_candidates`) is run with by default."""
    if candidate_rows <= FULL_LISTS_MAX_ROWS:
        return SolveOptions()
    workers = max(1, min(2, cpus if cpus is not None else (os.cpu_count() or 1)))
    return SolveOptions(nearest=8, workers=workers, large_component=3000, large_time_limit=1.0,
                        expand_rounds=EXPAND_ROUNDS)
