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

Why it is fast (issue 17: incremental, exact):

1. Only the facilities the change can reach are looked at: found on the candidate
   graph (facility — institution edges) after the change, starting from the
   facilities that had the institution as a candidate or as a partner.  They are
   the base components the institution belonged to; every other component keeps
   its base result.
2. A *repair* first: the facilities that lost a partner are assigned again by the
   greedy rule within the capacity the rest of the base solution leaves.  If that
   keeps the base's numbers of obligated and effort-type facilities all met, the
   institution costs nothing, exactly — removing an option cannot beat the base
   optimum (:func:`_repaired`).  On the demo this settles half of the institutions.
   When the institution only stops accepting, no agreement ends, so the repair works on
   the base's candidate rows less the institution's — one instance for all institutions,
   nothing rebuilt per institution (a national institution in ~25 ms).
   If the greedy rule falls short, CP-SAT re-decides the facilities that could share an
   institution with those that lost a partner (while that is at most half of the reached rows),
   the rest fixed (:func:`_neighbourhood_repaired`).  A repair whose counts reach the upper
   bounds — the base's, and the facilities the capacity-free cover could still complete — is
   exact (:func:`_at_upper_bound`).
3. Otherwise the reached facilities are solved again for goals 1–2 only (how many
   obligated, then effort-type facilities end all met: roles covered, agreements and
   travel do not change the counts), admitting only solutions better than the best repair:
   none means the repair is the optimum, which CP-SAT proves sooner than it finds and proves an
   optimum (:meth:`_Change._resolved_on_rows`).  A whole component's model is built once per
   process and serves all its institutions, each solve leaving the institution's rows out, and
   the neighbourhood repairs too (:meth:`_Change._component_model`).  Institutions are handed to
   the processes largest component first.  Every re-solve is checked by the
   verifier; repairs are with ``verify_repairs`` (the tests use it).
4. Each facility's capacity-free best plan (time slots) is worked out once and
   remembered (``slots.best_plans``): the re-solves plan the same facilities again.

The counts (``lost_all_met``, ``lost_obligated``) equal a full re-solve's; which
facilities are listed in ``lost_facilities`` may differ where several optima
exist (a re-solve may complete a different facility of equal rank).

>>> table = criticality(region, MatchParameters())                  # doctest: +SKIP
>>> table.head(3)[["institution_id", "name", "lost_all_met", "lost_obligated"]]  # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from matching.candidates import facilities_to_match, find_candidates, uses_slots
from matching.distribute import can_fork
from matching.optimise import slots
from matching.optimise.greedy import greedy_rows
from matching.optimise.instance import Instance, usage
from matching.optimise.model import (
    CooperationModel,
    coverable,
    facility_values,
)
from matching.optimise.run import (
    MatchResult,
    match,
    model_candidates,
    model_inputs,
    proposals_from,
    travel_cost,
)
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
                mode: Mode = "stop_accepting", institutions: list[str] | None = None,
                workers: int | None = None, verify_repairs: bool = False,
                cluster: str | None = None) -> pd.DataFrame:
    """One row per institution considered, ranked (1 = the most facilities lose full coverage).

    ``base`` is the base run (computed and verified if not given); ``institutions``
    restricts the list further (default: every institution that can matter, see above).
    ``workers``: processes for the re-solves (default: up to 2, the cores there are); ``cluster``:
    a running Dask scheduler to send them to instead (:mod:`matching.distribute`); the table does
    not depend on either.  ``verify_repairs`` checks every repaired solution with the
    verifier too (re-solves always are); the tests do, a run need not (about 0.1 s each).
    """
    params = params or MatchParameters()
    if mode not in ("stop_accepting", "withdraw"):
        raise ValueError(f"mode must be 'stop_accepting' or 'withdraw', got {mode!r}")
    if base is None:
        base = match(region, params)
        _verified(region, params, base.proposals, "base")
    considered = set(base.proposals["institution_id"])
    if mode == "withdraw":
        considered |= set(region.partnerships["institution_id"])
    if institutions is not None:
        considered &= set(institutions)

    region = region.as_planned(params)  # the capacities the base run used
    ctx = _Change(region, params, base, mode, verify_repairs)
    in_force = region.partnerships.groupby("institution_id").size()
    proposed = base.proposals.groupby("institution_id").size()
    inst = region.institutions
    rows = []
    if cluster is not None:
        from matching.distribute import run_all

        results = run_all(_after_task, sorted(considered), cluster=cluster, change=ctx)
    else:
        results = _map(ctx, sorted(considered), workers)
    for i, (reached, lost_all_met, lost_obligated, lost) in zip(sorted(considered), results, strict=True):
        rows.append({
            "institution_id": i, "name": inst.at[i, "name"], "kind": inst.at[i, "kind"],
            "municipality_code": inst.at[i, "municipality_code"],
            "agreements_in_force": int(in_force.get(i, 0)), "proposals_in_base": int(proposed.get(i, 0)),
            "facilities_resolved": reached, "lost_all_met": lost_all_met, "lost_obligated": lost_obligated,
            "lost_facilities": lost,
        })
    out = pd.DataFrame(rows, columns=CRITICALITY_COLUMNS[1:])
    # Obligated facilities first, as the model ranks its goals (the obligation is what the
    # transitional period is about): an institution that costs an obligated facility outranks one
    # that costs effort-type facilities only, however many.
    out = out.sort_values(["lost_obligated", "lost_all_met", "institution_id"],
                          ascending=[False, False, True]).reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


class _Change:
    """What one institution's change does to the base run (:meth:`after`), from the base's
    candidate graph, built once."""

    def __init__(self, region: Region, params: MatchParameters, base: MatchResult, mode: Mode,
                 verify_repairs: bool):
        self.region, self.params, self.base, self.mode, self.verify_repairs = region, params, base, mode, verify_repairs
        self.all_met = base.status_after["status"] == Status.ALL_MET.value
        self.obligated = base.status_after["obligated"].astype(bool)
        cand = self.cand = base.candidates
        # Cut lists (national options) need the full run's list lengthening for an exact re-solve.
        self.whole_lists = not cand["truncated"].any() if "truncated" in cand else True
        self.inputs = model_inputs(region, facilities_to_match(base.status_before, params))
        # The base solution as candidate rows (facility, institution, role): the repair's start.
        chosen = self.chosen = base.proposals.assign(role=base.proposals["roles"].str.split(";")).explode("role")
        self.base_rows = set(zip(chosen["facility_id"], chosen["institution_id"], chosen["role"], strict=True))
        # Coverage must be proven for the base: the repair's shortcut compares with its optimum
        # (with cut lists too: the base coverage is then proven for the full lists).
        self.proven = all(s.optimal for s in base.stages[:2])
        # The candidate graph: facility → institutions, institution → facilities, rows per facility.
        self.by_fac = cand.groupby("facility_id")["institution_id"].agg(set).to_dict()
        self.by_inst = cand.groupby("institution_id")["facility_id"].agg(set).to_dict()
        self.rows_of = cand.groupby("facility_id").indices
        self._effort: dict[int, int] = {}
        pins = cand[cand["pinned"].astype(bool)]
        self.pinned_pairs = set(zip(pins["facility_id"], pins["institution_id"], strict=True))
        # The repair of a change that ends no agreement (stop accepting) works on the base's
        # candidate rows themselves: one instance for every institution, each change a set of rows.
        self.x = None
        if mode == "stop_accepting" and self.proven:
            self.slotted = uses_slots(region, params)
            self.model_cand = model_candidates(cand, self.slotted)
            self.x = Instance.from_frames(self.model_cand, self.inputs.reindex(pd.unique(cand["facility_id"])),
                                          region.institutions)
            keys = zip(cand["facility_id"], cand["institution_id"], cand["role"], strict=True)
            self.base_picked = np.fromiter((k in self.base_rows for k in keys), bool, len(cand))
            # Per facility code of x: all met by agreements in force, all met in the base, obligated.
            fids = self.x.facility_ids
            already = facility_status(region)["status"] == Status.ALL_MET.value
            self.facts = tuple(s.reindex(fids).fillna(False).to_numpy(bool)
                               for s in (already, self.all_met, self.obligated))
            self.cut_points, self.component_of = _graph_structure(cand)
            self._component_codes: dict[int, np.ndarray] = {}
            self._models: dict[int, tuple] = {}  # a component's model for its re-solves, by id of its facilities

    def effort(self, i: str) -> int:
        """The candidate rows the change of ``i`` may have to solve again — its component's, where
        known, else its candidate facilities' — so that :func:`_map` hands out the largest first
        and no long re-solve is left to run alone at the end."""
        facilities = self.component_of.get(i) if self.x is not None else None
        if facilities is None:
            return sum(len(self.rows_of.get(f, ())) for f in self.by_inst.get(i, ()))
        key = id(facilities)  # a component's list of facilities, shared by its institutions
        if key not in self._effort:
            self._effort[key] = sum(len(self.rows_of.get(f, ())) for f in facilities)
        return self._effort[key]

    def outcome(self, i: str) -> tuple[int, int, int, str]:
        """The change of ``i`` in the table's terms: facilities reached, facilities all met lost
        (net), obligated ones lost (net), and the facilities that drop out (``;``-joined).  Small,
        so a worker sends back a few numbers instead of every reached facility."""
        ids, now = self.after(i)
        at = self.all_met.index.get_indexer(ids)
        before = self.all_met.to_numpy(bool)[at]
        ob = self.obligated.to_numpy(bool)[at]
        after = now.to_numpy(bool)
        return (len(ids), int(before.sum() - after.sum()), int((before & ob).sum() - (after & ob).sum()),
                ";".join(np.asarray(ids, object)[before & ~after]))

    def after(self, i: str) -> tuple[list[str], pd.Series]:
        """The facilities the change of ``i`` reaches, and which of them are all met after it."""
        region, params, cand_all = self.region, self.params, self.cand
        # Pins stay when it only stops accepting: pinned pairs are candidates whatever the willingness.
        kept_pins = ({(f, j) for f, j in self.pinned_pairs if j == i} if self.mode == "stop_accepting"
                     else set())
        chosen = self.chosen
        affected = set(chosen.loc[(chosen["institution_id"] == i) & ~chosen["pinned"].astype(bool),
                                  "facility_id"])
        if self.x is not None:  # stop accepting: no agreement ends, the base's rows less i's
            done = self._repaired_on_rows(i, kept_pins, affected)
            if done is not None:
                return done
        changed, partnered = _without(region, i, self.mode)
        seeds = set(self.by_inst.get(i, ())) | partnered
        # Facilities that lose an agreement get their candidates afresh (their status changed).
        fresh = cand_all.iloc[:0]
        inputs = self.inputs
        if partnered:
            sub = changed.subset(sorted(partnered))
            p_sub = _params_for(params, sub)
            sub_status = facility_status(sub)
            fresh = find_candidates(sub, sub_status, p_sub)
            fresh["cost"] = travel_cost(fresh, sub, p_sub)
            inputs = pd.concat([inputs.drop(index=list(partnered), errors="ignore"),
                                model_inputs(sub, facilities_to_match(sub_status, p_sub))])
        replaced = {f: set(fresh.loc[fresh["facility_id"] == f, "institution_id"]) for f in partnered}
        facilities = _reach(self.by_fac, self.by_inst, seeds, i, kept_pins, replaced)
        # Candidates after the change: the base rows of the reached facilities, less the
        # institution's, with the fresh rows of the facilities that lost an agreement.
        at = [self.rows_of[f] for f in sorted(facilities - partnered) if f in self.rows_of]
        cand = cand_all.iloc[np.concatenate(at)] if at else cand_all.iloc[:0]
        keep = (cand["institution_id"] != i).to_numpy()
        if kept_pins:
            keep |= [(f, j) in kept_pins for f, j in zip(cand["facility_id"], cand["institution_id"], strict=True)]
        cand = pd.concat([cand[keep], fresh], ignore_index=True) if partnered else cand[keep]
        ids = sorted(facilities)
        sub = changed.subset(ids)
        p_sub = _params_for(params, sub)
        now = None
        if self.proven and self.x is None:  # (with self.x the repair above did not hold)
            now = self._repaired_on_sub(sub, p_sub, cand, inputs, affected | partnered)
        if now is None:
            now = _resolved(sub, p_sub, cand, inputs, self.whole_lists)
        return ids, now.reindex(ids).fillna(False).astype(bool)

    def _repaired_on_sub(self, sub: Region, params: MatchParameters, cand: pd.DataFrame, inputs: pd.DataFrame,
                         affected: set[str]) -> pd.Series | None:
        """All met per facility of the reached sub-region ``sub`` by a greedy repair on its
        candidate rows after the change ``cand`` (new rows for facilities that lost an
        agreement included), or None if the repair does not settle it."""
        slotted = uses_slots(sub, params)
        model_cand = model_candidates(cand, slotted)
        if model_cand.empty:
            return None
        x = Instance.from_frames(model_cand, inputs.reindex(pd.unique(model_cand["facility_id"])), sub.institutions)
        keys = zip(model_cand["facility_id"], model_cand["institution_id"], model_cand["role"], strict=True)
        base = np.fromiter((k in self.base_rows for k in keys), bool, len(model_cand))
        ix = sub.facilities.index
        already = facility_status(sub)["status"].reindex(ix) == Status.ALL_MET.value
        code, present = _codes(x, ix)
        rows = np.arange(len(x.f))
        already = already.to_numpy(bool)
        repaired = _repaired(x, rows, base, _codes(x, sorted(affected)), code, present, already,
                             self.all_met.reindex(ix).fillna(False).to_numpy(bool),
                             self.obligated.reindex(ix).fillna(False).to_numpy(bool),
                             _capacity_free(x, rows, code, present, already, self.whole_lists))
        if repaired is None or not repaired.exact:
            return None
        if self.verify_repairs:
            _verified(sub, params, proposals_from(model_cand[repaired.picked], slotted), "repair")
        return pd.Series(repaired.now, index=ix)

    def _repaired_on_rows(self, i: str, kept_pins: set[tuple[str, str]],
                          affected: set[str]) -> tuple[list[str], pd.Series] | None:
        """:meth:`after` on the base's candidate rows less ``i``'s (its pinned pairs kept): a
        greedy repair, then a neighbourhood repair, then goals 1–2 solved again on the reached
        facilities' rows (:meth:`_resolved_on_rows`; whole lists only); None if none settles it."""
        x = self.x
        whole_component = i in self.component_of and i not in self.cut_points
        if whole_component:
            ids = self.component_of[i]  # its edges gone, its component still holds together
            code = self._component_codes.get(id(ids))
            if code is None:
                code = self._component_codes[id(ids)] = np.searchsorted(x.facility_ids, np.asarray(ids, object))
        else:
            ids = sorted(_reach(self.by_fac, self.by_inst, set(self.by_inst.get(i, ())), i, kept_pins, {}))
            code = np.searchsorted(x.facility_ids, np.asarray(ids, object))  # reached: all have rows
        member = np.zeros(x.n_facilities, bool)
        member[code] = True
        keep = member[x.f]
        at = np.searchsorted(x.institution_ids, i)
        if at < x.n_institutions and x.institution_ids[at] == i:
            keep &= (x.i != at) | (x.pinned & bool(kept_pins))
        rows = np.flatnonzero(keep)
        present = np.ones(len(code), bool)
        already, before, obligated = (a[code] for a in self.facts)
        lost = _codes(x, sorted(affected))
        capacity_free = _capacity_free(x, rows, code, present, already, self.whole_lists)
        repaired = _repaired(x, rows, self.base_picked, lost, code, present, already, before, obligated,
                             capacity_free)
        if repaired is not None and not repaired.exact:  # the component's model is built only now
            model = self._component_model(ids, member) if whole_component else None
            repaired = _best(obligated, repaired, _neighbourhood_repaired(
                x, rows, self.base_picked, lost, code, present, already, before, obligated, capacity_free,
                self.params.stage_time_limit, model))
        what = "repair"
        if (repaired is None or not repaired.exact) and self.whole_lists and len(rows):
            model = (self._component_model(ids, member) if whole_component
                     else (CooperationModel._formulation(x, rows, x.caps, np.zeros(len(x.f), bool)), rows))
            repaired = self._resolved_on_rows(model, keep, code, already, obligated, repaired)
            what = "re-solve"
        if repaired is None or not repaired.exact:
            return None
        now, picked = repaired.now, repaired.picked
        if self.verify_repairs or what == "re-solve":
            sub = _without(self.region, i, self.mode)[0].subset(ids)
            _verified(sub, _params_for(self.params, sub), proposals_from(self.model_cand[picked], self.slotted),
                      what)
        return ids, pd.Series(now, index=ids)

    def _component_model(self, ids: list[str], member: np.ndarray) -> tuple:
        """The CP-SAT model of a whole component of the candidate graph (its facilities ``ids``,
        ``member`` as a mask over facility codes) on all its rows, and those rows: built once per
        process, for every institution of the component — each solve leaves the institution's rows
        out (:meth:`~matching.optimise.model.ComponentFormulation.solve_all_met`).  On the demo
        about 50 institutions share one 4,500-row component."""
        model = self._models.get(id(ids))
        if model is None:
            x = self.x
            at = np.flatnonzero(member[x.f])
            model = self._models[id(ids)] = (CooperationModel._formulation(x, at, x.caps, np.zeros(len(x.f), bool)),
                                             at)
        return model

    def _resolved_on_rows(self, model: tuple, keep: np.ndarray, code: np.ndarray, already: np.ndarray,
                          obligated: np.ndarray, known: Repair | None) -> Repair | None:
        """Goals 1–2 (facilities all met, obligated first) solved again by CP-SAT on the reached
        facilities' candidate rows ``keep`` (a mask over ``x``: the base's less the institution's),
        with ``model`` (a formulation and the rows it holds, :meth:`_component_model` or one on
        ``keep``'s rows), the rows not kept left out for this solve.  The solver looks only for
        solutions better than the best repair ``known``: if there is none, that repair is the
        optimum (CP-SAT proves it sooner than it finds and proves an optimum: on the demo's
        institutions that cost an obligated facility ~0.04 s instead of ~0.25 s).  An exact
        :class:`Repair`, or None if the optimum is not proven in the stage time limit (the caller
        then solves the reached sub-region)."""
        x = self.x
        f, at = model
        above = None if known is None else known.counts(obligated)
        chosen, optimal = f.solve_all_met(self.params.stage_time_limit, without=~keep[at], better_than=above)
        if not optimal:
            return None
        if chosen is None:  # nothing better than the repair: it is the optimum
            return known._replace(exact=True)
        picked = np.zeros(len(x.f), bool)
        picked[at[f.rows_of(chosen)]] = True
        return Repair(_all_met(x, picked, code, np.ones(len(code), bool), already), picked, True)


def _without(region: Region, i: str, mode: Mode) -> tuple[Region, set[str]]:
    """The region without institution ``i`` (per mode) and the facilities that lose an agreement."""
    if mode == "stop_accepting":
        inst = region.institutions.copy()
        inst.loc[i, "accepting"] = False
        return Region(region.areas, region.facilities, inst, region.partnerships, region.travel_times,
                      region.source, region.skipped, region.availability, scope=region.scope), set()
    part = region.partnerships
    partnered = set(part.loc[part["institution_id"] == i, "facility_id"])
    tt = region.travel_times
    if tt is not None:
        tt = tt[tt["institution_id"] != i]
    return Region(region.areas, region.facilities, region.institutions.drop(index=i),
                  part[part["institution_id"] != i].reset_index(drop=True), tt, region.source,
                  region.skipped, region.availability, scope=region.scope), partnered


class Repair(NamedTuple):
    """A solution after the change found from the base's: all met per facility reached (``now``),
    the rows it picks (a mask over the instance) and whether its counts are the optimum's
    (``exact``: at the upper bounds of :func:`_at_upper_bound`)."""

    now: np.ndarray
    picked: np.ndarray
    exact: bool

    def counts(self, obligated: np.ndarray) -> tuple[int, int]:
        return _counts(self.now, obligated)


def _counts(all_met: np.ndarray, obligated: np.ndarray) -> tuple[int, int]:
    """Facilities all met: obligated, effort-type (the order goals 1–2 rank them in)."""
    return int((all_met & obligated).sum()), int((all_met & ~obligated).sum())


def _best(obligated: np.ndarray, *found: Repair | None) -> Repair | None:
    """The repair with the most facilities all met, obligated first (the first of equals)."""
    found = [r for r in found if r is not None]
    return max(found, key=lambda r: r.counts(obligated)) if found else None


def _repaired(x: Instance, rows: np.ndarray, base: np.ndarray, affected: tuple[np.ndarray, np.ndarray],
              code: np.ndarray, present: np.ndarray, already: np.ndarray, before: np.ndarray,
              obligated: np.ndarray, capacity_free: np.ndarray) -> Repair | None:
    """A *repair* of the base solution (:class:`Repair`; None without candidate rows): exact if
    its counts show that the change loses nothing it cannot show is lost.

    The facilities reached are given by their codes in ``x`` (``code``, where ``present``: a
    facility without candidate rows has none; see :func:`_codes`), and per facility ``already``
    (all met by agreements in force), ``before`` (all met in the base), ``obligated``.
    ``rows``: the candidate rows after the change (indices into ``x``); ``base``: the base
    solution (a mask over ``x``).  The facilities that lost a partner (``affected``: their codes,
    as :func:`_codes` gives them) are assigned again by the greedy rule within the capacity the
    other facilities' base assignments leave.  If that reaches the upper bounds of
    :func:`_at_upper_bound` (``capacity_free``: :func:`_capacity_free`), it is the answer,
    exactly: the change only removes options, so no solution does better than the base optimum
    on goal 1, nor (at that value) on goal 2, and none completes a facility the capacity-free
    cover cannot.  (Withdrawal: a solution after it, less the roles the withdrawn
    agreements gave, is one before it with at least as many facilities all met.)  Which
    facilities are all met may differ from a re-solve's choice among equal optima; the counts
    may not."""
    if len(rows) == 0:
        return None
    in_rows = np.zeros(len(x.f), bool)
    in_rows[rows] = True
    kept = base & in_rows
    best = None
    rule = slots.greedy_rows if x.slots is not None else greedy_rows
    unmet = present & ~before & ~already
    wanted = np.zeros(x.n_facilities, bool)
    a_code, a_present = affected
    wanted[a_code[a_present]] = True
    for step in range(2):  # then also let the others use what was freed
        if step:
            wanted[code[unmet]] = True
        redo = in_rows & wanted[x.f]
        used = usage(x, kept & ~redo)
        residual = {c: cap - used[c] for c, cap in x.caps.items()}  # NaN (unlimited) stays NaN
        picked = (kept & ~redo) | rule(x, np.flatnonzero(redo), residual)
        now = _all_met(x, picked, code, present, already)
        best = _best(obligated, best, Repair(now, picked, _at_upper_bound(now, before, capacity_free, obligated)))
        if best.exact or not unmet.any():
            break
    return best


def _all_met(x: Instance, picked: np.ndarray, code: np.ndarray, present: np.ndarray,
             already: np.ndarray) -> np.ndarray:
    """Per facility reached (``code``, where ``present``): all met with the rows ``picked`` (a mask
    over ``x``) — those all met already stay so."""
    values = facility_values(x, picked)
    return already | (present & ((values[:, 0] + values[:, 1]) > 0)[code])


def _capacity_free(x: Instance, rows: np.ndarray, code: np.ndarray, present: np.ndarray, already: np.ndarray,
                   whole_lists: bool) -> np.ndarray:
    """Per facility reached: can it end all met on ``rows`` with every capacity ignored?  No
    solution after the change completes a facility this says no to.  From cut lists every
    facility may (the capacity-free cover of cut lists bounds those lists only)."""
    if not whole_lists:
        return np.ones(len(code), bool)
    facs, free = coverable(x, rows)
    full_free = np.zeros(x.n_facilities, bool)
    full_free[facs] = (free[:, 0] + free[:, 1]) > 0
    return already | (present & full_free[code])


def _at_upper_bound(now: np.ndarray, before: np.ndarray, capacity_free: np.ndarray, obligated: np.ndarray) -> bool:
    """Do the facilities all met in ``now`` reach what no solution after the change can beat —
    then they are the optimum's counts (goals 1–2, obligated first)?  Upper bounds: the base
    optimum (the change only removes options) and the capacity-free cover.  Obligated facilities
    at most the smaller of the two; effort-type ones at most the capacity-free count, and the
    base's too when the obligated count is the base's (the goals are lexicographic)."""
    (got_o, got_e), (base_o, base_e), (free_o, free_e) = (_counts(m, obligated) for m in (now, before, capacity_free))
    if got_o < min(base_o, free_o):
        return False
    return got_e >= (min(free_e, base_e) if got_o == base_o else free_e)


def _neighbourhood_repaired(x: Instance, rows: np.ndarray, base: np.ndarray,
                            affected: tuple[np.ndarray, np.ndarray], code: np.ndarray, present: np.ndarray,
                            already: np.ndarray, before: np.ndarray, obligated: np.ndarray,
                            capacity_free: np.ndarray, time_limit: float, model: tuple | None = None) -> Repair | None:
    """Like :func:`_repaired`, but the facilities that lost a partner and every facility that could
    share an institution with them are assigned again by CP-SAT (goals 1–2: facilities all met,
    obligated first), within the capacity the rest of the base solution leaves; the rest keeps
    its base assignment.  A solution at the upper bounds of :func:`_at_upper_bound` is the
    answer (the base optimum and the capacity-free cover bound every solution after the change),
    so the neighbourhood only needs to be large enough to find one.  The best solution found, or
    None if the neighbourhood is empty or too large to be worth it (the caller then solves the
    reached facilities again, from the best solution it knows)."""
    a_code, a_present = affected
    if len(rows) == 0 or not a_present.any():
        return None
    in_rows = np.zeros(len(x.f), bool)
    in_rows[rows] = True
    near_f = np.zeros(x.n_facilities, bool)
    near_f[a_code[a_present]] = True
    best = None
    for _ in range(NEIGHBOURHOOD_HOPS):
        near_i = np.zeros(x.n_institutions, bool)
        near_i[x.i[in_rows & near_f[x.f]]] = True
        near_f[x.f[in_rows & near_i[x.i]]] = True
        free = in_rows & near_f[x.f]
        if not free.any() or free.sum() > min(NEIGHBOURHOOD_ROWS, NEIGHBOURHOOD_SHARE * len(rows)):
            break  # nobody else could take their roles, or the re-solve costs about as much
        best = _best(obligated, best, _solve_neighbourhood(x, in_rows, free, base, code, present, already, before,
                                                           obligated, capacity_free, time_limit, model))
        if best.exact:
            break
    return best


#: The neighbourhood grows by facilities that could share an institution this many times at most,
#: and stays below this many candidate rows and this share of the reached facilities' rows (beyond,
#: the reached facilities are solved again).  Measured (benchmarks, one process): 3 steps and no
#: share cost the demo 20.4 s, where most re-solved institutions do lose a facility and every
#: step was tried in vain; 1 step and half the rows 9.7 s; the national sample 17.4 s against 19.8 s.
NEIGHBOURHOOD_HOPS = 1
NEIGHBOURHOOD_ROWS = 20_000
NEIGHBOURHOOD_SHARE = 0.5


def _solve_neighbourhood(x: Instance, in_rows: np.ndarray, free: np.ndarray, base: np.ndarray, code: np.ndarray,
                         present: np.ndarray, already: np.ndarray, before: np.ndarray, obligated: np.ndarray,
                         capacity_free: np.ndarray, time_limit: float, model: tuple | None = None) -> Repair:
    """One try of :func:`_neighbourhood_repaired`: the rows ``free`` decided again — on ``model``
    (the component's, :meth:`_Change._component_model`) with every other row fixed, or on a model
    of the rows ``free`` alone within the capacity the others leave."""
    kept = base & in_rows & ~free
    if model is not None:
        f, at = model
        chosen, _ = f.solve_all_met(time_limit, without=~in_rows[at], only=free[at], start=kept[at])
        picked = np.zeros(len(x.f), bool)
        picked[at[f.rows_of(chosen)]] = True
    else:
        used = usage(x, kept)
        residual = {c: cap - used[c] for c, cap in x.caps.items()}  # NaN (unlimited) stays NaN
        local = np.flatnonzero(free)
        f = CooperationModel._formulation(x, local, residual, np.zeros(len(x.f), bool))  # (no greedy start)
        chosen, _ = f.solve_all_met(time_limit)
        picked = kept.copy()
        picked[local[f.rows_of(chosen)]] = True
    now = _all_met(x, picked, code, present, already)
    return Repair(now, picked, _at_upper_bound(now, before, capacity_free, obligated))


def _codes(x: Instance, ids) -> tuple[np.ndarray, np.ndarray]:
    """The facility codes of ``ids`` in ``x`` and whether each is there (codes of absent ids: 0)."""
    ids = np.asarray(list(ids), object)
    if x.n_facilities == 0 or len(ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    code = np.minimum(np.searchsorted(x.facility_ids, ids), x.n_facilities - 1)
    present = x.facility_ids[code] == ids
    return np.where(present, code, 0), present


def _resolved(region: Region, params: MatchParameters, cand: pd.DataFrame, inputs: pd.DataFrame,
              whole_lists: bool) -> pd.Series:
    """All met per facility after the change, by a re-solve (coverage goals only, or the whole
    run where candidate lists were cut)."""
    if whole_lists:
        return _coverage_after(region, params, cand, inputs)
    # Cut lists: the reached facilities' candidates drawn again and their lists lengthened as the
    # coverage proof needs, goals 1–3 only.
    result = match(region, params, coverage_only=True)
    _verified(region, params, result.proposals, "re-solve")
    return result.status_after["status"] == Status.ALL_MET.value


_ACTIVE: _Change | None = None  # the change a forked worker computes with


def _after_task(i: str, change: _Change):
    """One institution's change on a Dask worker (the change is sent to each worker once)."""
    return change.outcome(i)


def _after_in_child(i: str):
    return _ACTIVE.outcome(i)


def _map(change: _Change, institutions: list[str], workers: int | None) -> list:
    """:meth:`_Change.outcome` for every institution, in forked processes when there are several;
    results in input order (each is deterministic on its own, so scheduling changes nothing)."""
    global _ACTIVE
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers <= 1 or len(institutions) < 2 or not can_fork():
        return [change.outcome(i) for i in institutions]
    _ACTIVE = change
    order = sorted(range(len(institutions)), key=lambda k: (-change.effort(institutions[k]), k))
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            done = pool.map(_after_in_child, [institutions[k] for k in order], chunksize=1)
    finally:
        _ACTIVE = None
    results = [None] * len(institutions)
    for k, out in zip(order, done, strict=True):
        results[k] = out
    return results


def _coverage_after(region: Region, params: MatchParameters, cand: pd.DataFrame,
                    inputs: pd.DataFrame) -> pd.Series:
    """Per facility of ``region`` (the reached facilities after the change): all met once goals
    1–2 (facilities all met, obligated first) are solved again on ``cand``.  Goals 3–5 (roles,
    agreements, travel) do not change the counts, so they are not solved; the solution is still
    checked by the verifier.
    Falls back to the whole run when coverage is not proven in the time limit."""
    slotted = uses_slots(region, params)
    model = CooperationModel.from_frames(model_candidates(cand, slotted), inputs.reindex(pd.unique(cand["facility_id"])),
                                         region.institutions, stage_time_limit=params.stage_time_limit)
    model.coverage_only = model.full_only = True
    model.solve()
    if not all(s.optimal for s in model.stages[:2]):
        result = match(region, params)
        _verified(region, params, result.proposals, "re-solve")
        return result.status_after["status"] == Status.ALL_MET.value
    _verified(region, params, proposals_from(model.chosen, slotted), "re-solve")
    ids = region.facilities.index
    full = model.facility_coverage()["full"].reindex(ids).fillna(False).astype(bool)
    # Facilities all met by their agreements in force need nothing from the model.
    already = facility_status(region)["status"].reindex(ids) == Status.ALL_MET.value
    return already | full


def _graph_structure(cand: pd.DataFrame) -> tuple[set[str], dict[str, list[str]]]:
    """On the facility — institution candidate graph: the institutions whose removal splits their
    component (articulation points), and each institution's component as its sorted facilities.
    Removing any other institution's edges reaches its whole component (national: all but 58 of
    8,520 institutions with proposals, 0.4 s once instead of ~10 ms of search per institution)."""
    import networkx as nx

    pairs = cand[["facility_id", "institution_id"]].drop_duplicates()
    graph = nx.Graph()
    facilities = [("f", f) for f in pairs["facility_id"]]
    institutions = [("i", i) for i in pairs["institution_id"]]
    graph.add_edges_from(zip(facilities, institutions, strict=True))
    cut = {name for kind, name in nx.articulation_points(graph) if kind == "i"}
    component_of = {}
    for nodes in nx.connected_components(graph):
        facilities = sorted(name for kind, name in nodes if kind == "f")
        component_of.update({name: facilities for kind, name in nodes if kind == "i"})
    return cut, component_of


def _reach(by_fac: dict, by_inst: dict, seeds: set[str], dropped: str, kept_pins: set[tuple[str, str]],
           replaced: dict[str, set[str]]) -> set[str]:
    """Facilities connected to ``seeds`` on the bipartite facility — institution candidate graph
    after the change: without the edges of institution ``dropped`` (except the pairs in
    ``kept_pins``), and with the facilities in ``replaced`` linked to their new institutions only."""
    def linked(f: str, j: str) -> bool:
        if j == dropped and (f, j) not in kept_pins:
            return False
        return f not in replaced or j in replaced[f]

    seen_f, seen_i = set(seeds), set()
    todo = list(seeds)
    while todo:
        f = todo.pop()
        for j in replaced.get(f, by_fac.get(f, ())):
            if j in seen_i or not linked(f, j):
                continue
            seen_i.add(j)
            for g in by_inst.get(j, ()):
                if g not in seen_f and linked(g, j):
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


def _verified(region: Region, params: MatchParameters, proposals: pd.DataFrame, what: str) -> None:
    """The verifier on ``proposals``; a violation stops the table (``what`` says which step)."""
    problems = verify(region, proposals, params)
    if problems:
        raise VerificationError(what, problems)
