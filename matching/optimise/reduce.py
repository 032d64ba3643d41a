"""Exact reductions: what can be settled before any solver runs, and what stays coupled.

Three facts, each keeping the optimum of all five goals:

* **Free institutions.**  An institution whose every capacity covers all the
  candidates it still has can never be full; its capacity constraints are
  redundant, so it couples nobody.
* **Dominance.**  Pair (f, j) can be dropped when a free institution i can take
  every role j could take for f, each at no more travel cost (ties by id), and
  choosing i never needs an agreement that j would not.  Any solution using j
  for f can switch to i and lose nothing on any goal.
* **Settled facilities.**  A facility whose best pattern (capacities ignored,
  ``closed_form.best_patterns``) uses free institutions only takes that pattern:
  it is the best the facility can do on every goal, and it uses no capacity
  anyone else could want.

Applied until nothing changes, then the facilities left are split into
components linked only through institutions that can still be full — far
smaller than the components of the whole candidate graph, because in a city
most institutions link facilities without constraining them.

With time slots (``matching.optimise.slots``) the same three hold with two
conditions more: the dominating institution gives each role in at least the
slots of the dominated one (so it can stand in for it in any partner set), and a
facility's best pattern is its best plan of partners by time slots
(``slots.best_plans``; a facility with too many plans to compare never settles).

>>> import pandas as pd
>>> from matching.optimise.instance import Instance
>>> cand = pd.DataFrame({"facility_id": ["F1", "F2", "F2"], "institution_id": ["H", "H", "K"],
...                      "role": ["admit"] * 3, "cost": [5, 5, 9], "existing": False, "pinned": False})
>>> fac = pd.DataFrame({"residents": [50, 80], "obligated": True, "missing": 1}, index=["F1", "F2"])
>>> x = Instance.from_frames(cand, fac, pd.DataFrame({"capacity_facilities": [1, 1]}, index=["H", "K"]))
>>> r = reduce(x)
>>> r.settled.tolist(), r.active.tolist()     # K is free and F2's only other option is H: nothing settles
([False, False, False], [True, True, True])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.optimise import slots
from matching.optimise.closed_form import best_patterns, pair_masks
from matching.optimise.instance import Instance, usage
from matching.roles import N_ROLES


@dataclass
class Reduction:
    active: np.ndarray    # rows left to the components (mask)
    settled: np.ndarray   # rows chosen for settled facilities (mask)
    free: np.ndarray      # per institution: capacity cannot bind (for the active rows, residual caps)
    caps: dict[str, np.ndarray]  # capacities left after the settled facilities
    rounds: int = 0
    #: The capacity-free best rows of the facilities left (a mask; None = not worked out), and per
    #: facility code whether its best is known (time slots: see ``slots.best_plans``).
    best: np.ndarray | None = None
    known: np.ndarray | None = None


def free_institutions(x: Instance, rows: np.ndarray, caps: dict[str, np.ndarray]) -> np.ndarray:
    """Per institution: every capacity covers everything its candidates among ``rows`` could ask."""
    demand = usage(x, rows)
    free = np.ones(x.n_institutions, bool)
    for column, cap in caps.items():
        free &= np.isnan(cap) | (cap >= demand[column])
    return free


def dominated_pairs(x: Instance, rows: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Rows (a mask over all of ``x``) among ``rows`` whose pair a free institution dominates.

    Compared pair against pair within each facility, all facilities at once.
    Pinned pairs are never dropped.
    """
    out = np.zeros(len(x.f), bool)
    if len(rows) == 0:
        return out
    pm = pair_masks(x, rows)
    order = np.argsort(pm["f"], kind="stable")
    f = pm["f"][order]
    start = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    size = np.diff(np.r_[start, len(f)])
    # Every ordered (dominator a, dominated b) within a facility.
    n_of = np.repeat(size, size)                       # for each b: its facility's pair count
    b = np.repeat(np.arange(len(f)), n_of)
    first = np.repeat(np.repeat(start, size), n_of)
    a = first + (np.arange(len(b)) - np.repeat(np.cumsum(n_of) - n_of, n_of))
    a, b = order[a], order[b]
    ia, ib = pm["i"][a], pm["i"][b]
    ok = free[ia] & (a != b) & ~pm["pinned"][b] & ((pm["mask"][a] & pm["mask"][b]) == pm["mask"][b])
    ok &= pm["existing"][a] | ~pm["existing"][b]
    for role in range(N_ROLES):  # every role b takes, a takes at no more cost (ties by id), in its slots
        takes = (pm["mask"][b] >> role & 1).astype(bool)
        ca, cb = pm["cost"][a, role], pm["cost"][b, role]
        ok &= ~takes | (ca < cb) | ((ca == cb) & (ia < ib))
        sa, sb = pm["slots"][a, role], pm["slots"][b, role]
        ok &= ~takes | ((sa & sb) == sb)
    gone = np.zeros(len(pm["pair"]), bool)
    gone[b[ok]] = True
    out[rows] = np.isin(x.pair[rows], pm["pair"][gone])
    return out


def reduce(x: Instance, settle: bool = True) -> Reduction:
    """Apply the three reductions until nothing changes (see the module docstring).

    After the first round only the facilities with rows at an institution whose freedom changed
    are looked at again: for the others nothing can change.  An institution that is free stays
    free (a settled facility uses no more of its capacity than its rows asked, and its rows go),
    their pairs were compared against the same free institutions already (dominance is
    transitive), and their best patterns read only their own rows.  A national run went through
    twelve rounds over ~75,000 rows each; the later ones now read a few hundred."""
    active = np.ones(len(x.f), bool)
    settled = np.zeros(len(x.f), bool)
    caps = {k: v.copy() for k, v in x.caps.items()}
    rounds = 0
    best = known = None
    free_before = None
    while True:
        rounds += 1
        rows = np.flatnonzero(active)
        free = free_institutions(x, rows, caps)
        if free_before is not None:  # only facilities with rows at an institution that changed
            look = np.zeros(x.n_facilities, bool)
            look[x.f[rows[(free != free_before)[x.i[rows]]]]] = True
            rows = rows[look[x.f[rows]]]
        free_before = free
        dropped = dominated_pairs(x, rows, free)
        active &= ~dropped
        if not settle:
            if not dropped.any():
                break
            continue
        rows = rows[active[rows]]
        now_best, now_known = capacity_free_best(x, rows, None if best is None else (best, known))
        if best is None:
            best, known = now_best, now_known
        else:  # the facilities looked at take their new best; the others keep theirs
            these = np.zeros(x.n_facilities, bool)
            these[x.f[rows]] = True
            on = these[x.f]
            best[on] = now_best[on]
            known[these] = now_known[these]
        settles = settling(x, rows, best, known, free)
        if not settles.any() and not dropped.any():
            break
        settle_facilities(x, settles, best, settled, active, caps)
    if best is not None:
        best &= active
        if x.slots is not None:  # known only for facilities with rows left, as best_plans says
            left = np.zeros(x.n_facilities, bool)
            left[x.f[active]] = True
            known &= left
    return Reduction(active, settled, free, caps, rounds, best, known)  # nothing changed since ``free``


def capacity_free_best(x: Instance, rows: np.ndarray,
                       earlier: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each facility's best among ``rows`` with capacities ignored (a mask over all of ``x``), and
    per facility code whether it was worked out: ``closed_form.best_patterns`` (always), or with
    time slots ``slots.best_plans`` (``earlier``: an earlier answer it may re-use)."""
    if x.slots is None:
        return best_patterns(x, rows), np.ones(x.n_facilities, bool)
    return slots.best_plans(x, rows, earlier)


def settling(x: Instance, rows: np.ndarray, best: np.ndarray, known: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Per facility code: the facilities among ``rows`` that settle — their best is known, none of
    its rows needs an institution that can be full, and they have no pin."""
    needs_bound = np.zeros(x.n_facilities, bool)
    needs_bound[x.f[rows[best[rows] & ~free[x.i[rows]]]]] = True
    has_rows = np.zeros(x.n_facilities, bool)
    has_rows[x.f[rows]] = True
    pinned = np.zeros(x.n_facilities, bool)
    pinned[x.f[x.pinned | x.pinned_role]] = True
    return has_rows & ~needs_bound & ~pinned & known


def settle_facilities(x: Instance, settles: np.ndarray, best: np.ndarray, settled: np.ndarray, active: np.ndarray,
           caps: dict[str, np.ndarray]) -> None:
    """The facilities ``settles`` (per facility code) take their best rows, in place: those rows
    join ``settled``, every row of theirs leaves ``active``, and ``caps`` lose what they use."""
    now = best & settles[x.f]
    settled |= now
    active &= ~settles[x.f]
    used = usage(x, now)
    for column in caps:
        caps[column] = caps[column] - used[column]  # NaN (unlimited) stays NaN


def components(x: Instance, rows: np.ndarray, free: np.ndarray) -> list[np.ndarray]:
    """Row indices of each group of facilities linked through institutions that can be full.

    Facilities sharing only free institutions are independent.  Components come in
    the order of their smallest facility id; rows within one keep their order.
    """
    rows = np.asarray(rows)
    if len(rows) == 0:
        return []
    n_f = x.n_facilities
    edge = rows[~free[x.i[rows]]]
    g = coo_matrix((np.ones(len(edge)), (x.f[edge], n_f + x.i[edge])),
                   shape=(n_f + x.n_institutions,) * 2)
    _, label = connected_components(g, directed=False)
    comp = label[x.f[rows]]
    # Relabel by first appearance in facility order, so the order does not depend on scipy.
    _, first = np.unique(comp, return_index=True)
    rank = np.empty(comp.max() + 1, np.int64)
    rank[comp[np.sort(first)]] = np.arange(len(first))
    comp = rank[comp]
    order = np.argsort(comp, kind="stable")
    splits = np.flatnonzero(np.diff(comp[order])) + 1
    return np.split(rows[order], splits)
