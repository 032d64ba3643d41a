"""The baseline a coordinator would do by hand: nearest available institution, facility by facility.

Facilities are taken obligated types first, then by id; each missing role (①②③ in
that order) goes to the nearest candidate with spare capacity left (ties by
institution id).  Pinned pairs are honoured first: facilities with pins go before
the others and a pinned institution is tried before the nearest one.  Same
candidates as the optimiser (same limits, same accepting rules), so the
comparison is fair.

The rule is written once, on the integer arrays of :class:`Instance`
(:func:`greedy_rows`); it serves three purposes:

* the baseline the benchmark and the tests compare with (:func:`greedy_match`);
* the solver's starting point — a feasible assignment CP-SAT starts from;
* the floor — a run whose coverage is not proven returns the greedy assignment
  where that is better on goals 1–3 (``CooperationModel.solve``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.optimise.instance import CAPACITY_COLUMNS, ROLES, Instance
from matching.parameters import MatchParameters
from matching.region import Region
from matching.status import facility_status
from matching.vocabulary import Role


def greedy_order(x: Instance, rows: np.ndarray) -> np.ndarray:
    """``rows`` in the order the greedy rule visits them (with or without time slots):
    facilities with pins, then obligated, then by id (codes are in id order); within a facility
    roles ①②③; within a role pinned first, then nearest, ties by institution id."""
    minutes = x.minutes if x.minutes is not None else x.cost
    pin = (x.pinned | x.pinned_role)[rows]
    has_pin = np.zeros(x.n_facilities, bool)
    has_pin[x.f[rows][pin]] = True
    f = x.f[rows]
    return rows[np.lexsort((x.i[rows], minutes[rows], ~pin, x.role[rows], f, ~x.obligated[f], ~has_pin[f]))]


def greedy_rows(x: Instance, rows: np.ndarray | None = None,
                caps: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The rows (a mask over all of ``x``) the greedy rule picks among ``rows``
    (indices; default all) with capacities ``caps`` (default ``x.caps``; NaN = unlimited).

    >>> cand = pd.DataFrame({"facility_id": ["F1", "F2", "F2"], "institution_id": ["H", "H", "K"],
    ...                      "role": ["admit"] * 3, "cost": [5, 5, 9], "minutes": [5, 5, 9],
    ...                      "existing": False, "pinned": False})
    >>> fac = pd.DataFrame({"residents": [50, 80], "obligated": True, "missing": 1}, index=["F1", "F2"])
    >>> x = Instance.from_frames(cand, fac, pd.DataFrame({"capacity_facilities": [1, 1]}, index=["H", "K"]))
    >>> greedy_rows(x).tolist()          # F1 takes H, so F2 goes to K
    [True, False, True]
    """
    rows = np.arange(len(x.f)) if rows is None else np.asarray(rows, np.int64)
    picked = np.zeros(len(x.f), bool)
    if len(rows) == 0:
        return picked
    caps = x.caps if caps is None else caps
    order = greedy_order(x, rows)
    f_of, role_of, i_of = x.f[order].tolist(), x.role[order].tolist(), x.i[order].tolist()
    existing, residents = x.existing[order].tolist(), x.residents[x.f[order]].tolist()
    # Capacity left per (column, institution); None = unlimited.  Only the institutions of
    # ``rows``: a repair of a few facilities within a national instance reads a handful.
    insts = np.unique(x.i[rows])
    ids = insts.tolist()
    left = {c: dict(zip(ids, [None if np.isnan(v) else float(v) for v in caps[c][insts]], strict=True))
            for c in CAPACITY_COLUMNS if c in caps}
    pair_cols = [c for c in ("capacity_facilities", "capacity_residents") if c in left]
    role_cols = [[c for c in (f"capacity_facilities_{r}", f"capacity_residents_{r}") if c in left] for r in ROLES]

    def room(column: str, i: int, need: float) -> bool:
        v = left[column][i]
        return v is None or v >= need

    def take(column: str, i: int, need: float) -> None:
        if left[column][i] is not None:
            left[column][i] -= need

    chosen: list[int] = []
    partners: set[int] = set()
    done: tuple[int, int] = (-1, -1)  # the (facility, role) already given a partner
    current = -1
    for k in range(len(order)):
        fk, rk, i = f_of[k], role_of[k], i_of[k]
        if fk != current:
            current, partners = fk, set()
        if done == (fk, rk):
            continue
        n = residents[k]
        need = {"capacity_facilities": 1, "capacity_residents": n}
        new_pair = not existing[k] and i not in partners
        if new_pair and not all(room(c, i, need[c]) for c in pair_cols):
            continue
        role_need = [(c, 1 if c.startswith("capacity_facilities") else n) for c in role_cols[rk]]
        if not all(room(c, i, v) for c, v in role_need):
            continue
        if new_pair:
            for c in pair_cols:
                take(c, i, need[c])
        for c, v in role_need:
            take(c, i, v)
        partners.add(i)
        chosen.append(k)
        done = (fk, rk)
    picked[order[chosen]] = True
    return picked


def greedy_match(region: Region, params: MatchParameters | None = None,
                 candidates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Proposals (same columns as the optimiser's, without explanations) from the greedy rule.

    >>> from matching.contract import load_region
    >>> greedy_match(load_region("data/demo")).shape
    (153, 10)
    """
    from matching.candidates import facilities_to_match, find_candidates, uses_slots
    from matching.optimise import slots
    from matching.optimise.run import model_candidates, model_inputs, proposals_from

    params = params or MatchParameters()
    region = region.as_planned(params)  # the limits the optimiser and the verifier use
    status = facility_status(region)
    cand = candidates if candidates is not None else find_candidates(region, status, params)
    slotted = uses_slots(region, params)
    cand = model_candidates(cand, slotted)  # without time slots: the one-partner rule
    if cand.empty:
        return proposals_from(cand, slotted)
    x = Instance.from_frames(cand.assign(cost=cand["cost"] if "cost" in cand.columns else 0),
                             model_inputs(region, facilities_to_match(status, params)), region.institutions)
    return proposals_from(cand[greedy_rows(x) if x.slots is None else slots.greedy_rows(x)], slotted)


def coverage(region: Region, proposals: pd.DataFrame) -> dict[str, int]:
    """Facilities brought to 'all met' (obligated / effort / all) and roles covered by proposals."""
    add = proposals.assign(roles=proposals["roles"].map(lambda s: frozenset(Role(x) for x in s.split(";") if x)))
    agreed = pd.concat([region.partnerships[["facility_id", "institution_id", "roles"]],
                        add[["facility_id", "institution_id", "roles"]]], ignore_index=True)
    before = facility_status(region)
    after = facility_status(region, agreed)
    newly = (after["status"] == "all_met") & (before["status"] != "all_met")
    return {
        "obligated_full": int((newly & after["obligated"]).sum()),
        "effort_full": int((newly & ~after["obligated"]).sum()),
        "all_full": int(newly.sum()),
        "roles_covered": int(sum(len(b) - len(a) for a, b in zip(after["missing_roles"], before["missing_roles"], strict=True))),
    }


def lexicographic_key(cov: dict[str, int]) -> tuple[int, int, int]:
    """Goals 1–3 of a :func:`coverage` as a tuple that compares lexicographically."""
    return cov["obligated_full"], cov["effort_full"], cov["roles_covered"]
