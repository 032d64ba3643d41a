"""Which institutions matter: how many facilities lose full coverage without each one.

For every institution considered, the region is changed and the matching is
solved again; the institution's **criticality** is the number of facilities that
would have all requirements met after the base proposals but not after the
re-solve (net: the optimum counts are compared, so a re-solve that swaps which
facilities get completed counts the difference, and ``lost_facilities`` lists
the ones that drop out).  Ranked by facilities lost, then obligated facilities
lost, then institution id.

Two modes:

* ``stop_accepting`` — the institution takes no new partners (its agreements in
  force stay).  Only institutions used in the base proposals are considered: for
  any other, the base proposals remain feasible and optimal, so nothing is lost.
* ``withdraw`` — the institution stops being a cooperating institution at all
  (closure, retirement): its agreements in force end too.  Institutions used in
  the base proposals *or* in agreements in force are considered; for any other,
  nothing changes.

Why it is fast: only the facilities the change can reach are solved again.
They are found on the candidate graph (facility — institution edges) after the
change, starting from the facilities that had the institution as a candidate or
as a partner; every other component of that graph is unchanged, and the model
solves components independently, so their result is the base result.  Every
re-solve is checked by the verifier.

>>> table = criticality(region, MatchParameters())                  # doctest: +SKIP
>>> table.head(3)[["institution_id", "name", "lost_all_met", "lost_obligated"]]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from matching.candidates import find_candidates
from matching.optimise.run import MatchResult, match
from matching.parameters import MatchParameters
from matching.region import Region
from matching.scenarios.compare import VerificationError
from matching.status import facility_status
from matching.verify import verify
from matching.vocabulary import Status

Mode = Literal["stop_accepting", "withdraw"]

CRITICALITY_COLUMNS = ["rank", "institution_id", "name", "kind", "municipality_code", "agreements_in_force",
                       "proposals_in_base", "facilities_resolved", "lost_all_met", "lost_obligated",
                       "lost_facilities"]


def criticality(region: Region, params: MatchParameters | None = None, base: MatchResult | None = None,
                mode: Mode = "stop_accepting", institutions: list[str] | None = None) -> pd.DataFrame:
    """One row per institution considered, ranked (1 = the most facilities lose full coverage).

    ``base`` is the base run (computed and verified if not given); ``institutions``
    restricts the list further (default: every institution that can matter, see above).
    """
    params = params or MatchParameters()
    if mode not in ("stop_accepting", "withdraw"):
        raise ValueError(f"mode must be 'stop_accepting' or 'withdraw', got {mode!r}")
    if base is None:
        base = match(region, params)
        _check(region, base, params, "base")
    considered = set(base.proposals["institution_id"])
    if mode == "withdraw":
        considered |= set(region.partnerships["institution_id"])
    if institutions is not None:
        considered &= set(institutions)

    all_met = base.status_after["status"] == Status.ALL_MET.value
    obligated = base.status_after["obligated"].astype(bool)
    edges = base.candidates[["facility_id", "institution_id", "pinned"]]
    in_force = region.partnerships.groupby("institution_id").size()
    proposed = base.proposals.groupby("institution_id").size()
    inst = region.institutions

    rows = []
    for i in sorted(considered):
        changed, partnered = _without(region, i, mode)
        seeds = set(edges.loc[edges["institution_id"] == i, "facility_id"]) | partnered
        # Candidate edges after the change: the base edges, less the institution's (pins stay
        # when it only stops accepting: pinned pairs are candidates whatever the willingness),
        # with the edges of facilities whose status changed computed afresh.
        keep = (edges["institution_id"] != i) | (edges["pinned"] & (mode == "stop_accepting"))
        new_edges = edges[keep & ~edges["facility_id"].isin(partnered)]
        if partnered:
            sub = changed.subset(sorted(partnered))
            p_sub = _params_for(params, sub)
            fresh = find_candidates(sub, facility_status(sub), p_sub)
            new_edges = pd.concat([new_edges, fresh[["facility_id", "institution_id", "pinned"]]])
        facilities = _reach(new_edges, seeds)
        sub = changed.subset(sorted(facilities))
        p_sub = _params_for(params, sub)
        result = match(sub, p_sub)
        _check(sub, result, p_sub, f"without {i}")
        after = result.status_after["status"] == Status.ALL_MET.value
        ids = sorted(facilities)
        before = all_met.reindex(ids)
        now = after.reindex(ids).fillna(False).astype(bool)
        rows.append({
            "institution_id": i, "name": inst.at[i, "name"], "kind": inst.at[i, "kind"],
            "municipality_code": inst.at[i, "municipality_code"],
            "agreements_in_force": int(in_force.get(i, 0)), "proposals_in_base": int(proposed.get(i, 0)),
            "facilities_resolved": len(ids),
            "lost_all_met": int(before.sum() - now.sum()),
            "lost_obligated": int((before & obligated.reindex(ids)).sum()
                                  - (now & obligated.reindex(ids)).sum()),
            "lost_facilities": ";".join(f for f in ids if before[f] and not now[f]),
        })
    out = pd.DataFrame(rows, columns=CRITICALITY_COLUMNS[1:])
    out = out.sort_values(["lost_all_met", "lost_obligated", "institution_id"],
                          ascending=[False, False, True]).reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def _without(region: Region, i: str, mode: Mode) -> tuple[Region, set[str]]:
    """The region without institution ``i`` (per mode) and the facilities that lose an agreement."""
    if mode == "stop_accepting":
        inst = region.institutions.copy()
        inst.loc[i, "accepting"] = False
        return Region(region.areas, region.facilities, inst, region.partnerships, region.travel_times,
                      region.source, region.skipped, region.availability), set()
    part = region.partnerships
    partnered = set(part.loc[part["institution_id"] == i, "facility_id"])
    tt = region.travel_times
    if tt is not None:
        tt = tt[tt["institution_id"] != i]
    return Region(region.areas, region.facilities, region.institutions.drop(index=i),
                  part[part["institution_id"] != i].reset_index(drop=True), tt, region.source,
                  region.skipped, region.availability), partnered


def _reach(edges: pd.DataFrame, seeds: set[str]) -> set[str]:
    """Facilities connected to ``seeds`` on the bipartite facility — institution graph."""
    by_fac = edges.groupby("facility_id")["institution_id"].agg(set).to_dict()
    by_inst = edges.groupby("institution_id")["facility_id"].agg(set).to_dict()
    seen_f, seen_i = set(seeds), set()
    todo = list(seeds)
    while todo:
        f = todo.pop()
        for i in by_fac.get(f, ()):
            if i in seen_i:
                continue
            seen_i.add(i)
            for g in by_inst[i]:
                if g not in seen_f:
                    seen_f.add(g)
                    todo.append(g)
    return seen_f


def _params_for(params: MatchParameters, region: Region) -> MatchParameters:
    """Pins and declines that concern the region's facilities and institutions only."""
    keep = set(region.facilities.index)
    insts = set(region.institutions.index)
    return params.model_copy(update={
        "pinned": [p for p in params.pinned if p.facility_id in keep and p.institution_id in insts],
        "forbidden": [p for p in params.forbidden if p.facility_id in keep],
    })


def _check(region: Region, result: MatchResult, params: MatchParameters, what: str) -> None:
    problems = verify(region, result.proposals, params)
    if problems:
        raise VerificationError(what, problems)
