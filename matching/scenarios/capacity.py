"""The smallest capacity increases that bring every obligated facility to "all met".

An optimisation of its own (OR-Tools CP-SAT), separate from the matching model:

    Sets      O   obligated facilities in scope, with an annual report and missing roles,
                  whose every missing role has at least one candidate (the others are
                  *blocked*: no capacity increase can help them; they are listed with the
                  reason — usually the travel limits)
              C   candidates (f, i, r) of those facilities (the run's rules: accepting,
                  offers the role, within the limits, not declined)
    Variables x_c ∈ {0,1}; y_p ∈ {0,1} for new pairs p = (f, i) ∉ agreements in force;
              d_i, e_i ∈ ℤ≥0  extra spare capacity of i in facilities / residents
              (and d_ir, e_ir for per-role capacities)
    Constraints
              Σ_i x_(f,i,r) = 1                 ∀ f ∈ O, r missing   (every role covered)
              y_p ≥ x_c                          ∀ c ∈ p
              Σ_(p ∋ i) y_p ≤ K_i + d_i,   Σ_(p ∋ i) n_f y_p ≤ R_i + e_i   (finite K_i, R_i only)
              the same per role with x_c
              Σ_(p ∋ i) y_p ≤ L_i   per-institution cap (below)
    Objective, lexicographic
              0. max facilities of O completed (all of them unless the cap binds)
              1. min Σ d  (+ Σ d_ir)   facility slots added
              2. min Σ e  (+ Σ e_ir)   resident places added
              3. min number of institutions asked for more

The per-institution cap keeps the plan plausible: an institution is never asked to take more
new partner facilities than L_i = max(its stated spare capacity, C_i − agreements in force),
where C_i is the capacity calibration's figure for its kind (``matching.capacity``: the 75th
percentile of facilities per hospital by designation, fewer for clinics) or a number given.
Facilities the cap leaves uncovered are listed (``capped``) — the plan says so instead of
asking one clinic for hundreds of residents.  With a cap of ``None`` every facility of O is
completed, however large the increases.

Which institution then takes which role is left to the matching itself (fewest
new agreements, least travel): the plan only decides the increases, and
``assignment`` is one assignment that fits them.

**One role, capacities in facilities only** (③ alone at national scale, hundreds of thousands of
candidate rows): every facility needs one partner, so the plan is a bipartite b-matching and
goal 1 is a maximum flow (source → facility 1 → institution within reach 1 → sink K_i).  Its
deficiency δ = |O| − maxflow is the fewest facility slots to add.  The facilities S reachable
from an unassigned one by alternating paths and the institutions T they reach form Hall's tight
set: N(S) = T, T is full, |S| − Σ_T K_i = δ.  So every optimal plan adds its δ slots in T only
and the facilities outside S keep the flow's assignment; the CP-SAT model above runs on S × T
alone, and its optimum (goals 1 and 3) is the optimum over the full candidate lists
(:func:`_tight_part`).

Effort-type facilities are left out on purpose: the obligation (義務) is what the
transitional period (令和9年3月31日) is about, and the matching model completes
obligated facilities first anyway.  :func:`capacity_plan` then checks the plan by
running the matching on the region with the increases (verified): every
facility in O must come out "all met".

>>> plan = capacity_plan(region, MatchParameters())          # region: the demo
>>> plan.feasible, plan.total_facilities, plan.total_residents, len(plan.increases)
(False, 5, 129, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching.candidates import facilities_to_match, find_candidates, travel_provider
from matching.capacity import estimate_facilities
from matching.explain import explain_unmatched
from matching.optimise.model import boolean_values, set_hint
from matching.optimise.run import MatchResult, match
from matching.parameters import MatchParameters
from matching.region import Region
from matching.roles import ALL_SLOTS
from matching.scenarios.compare import VerificationError
from matching.status import facility_status
from matching.verify import verify
from matching.vocabulary import ROLE_ORDER, Role, Status

INCREASE_COLUMNS = ["institution_id", "name", "kind", "municipality_code", "capacity", "add", "unit"]


@dataclass
class CapacityPlan:
    """The result: increases per institution, facilities no increase can help, and the check."""

    #: Every obligated facility (in scope, reported, missing roles) can be completed.
    feasible: bool
    #: One row per (institution, capacity column) to raise: current spare capacity, how much to add.
    increases: pd.DataFrame
    #: Obligated facilities' roles with no candidate at all (reason and fix from the explainer).
    blocked: pd.DataFrame
    #: The assignment that uses the increased capacity (facility_id, institution_id, role).
    assignment: pd.DataFrame
    total_facilities: int
    total_residents: int
    #: Facilities in O (completable) and how many the confirming run completed.
    completable: list[str]
    optimal: bool
    confirmed: bool | None = None
    confirm_result: MatchResult | None = None
    #: Facilities of O left uncovered by the per-institution cap (facility_id, name, roles missing).
    capped: pd.DataFrame | None = None
    #: The cap per institution used (new partner facilities; absent = none), and how it was set.
    cap: str = "calibration"


def capacity_plan(region: Region, params: MatchParameters | None = None, *,
                  confirm: bool = True, cap: str | int | None = "calibration",
                  roles: frozenset[Role] | None = None, nearest: int | None = None,
                  base: MatchResult | None = None) -> CapacityPlan:
    """Solve for the smallest capacity increases; with ``confirm``, re-run the matching to check.

    ``cap``: new partner facilities one institution may be asked to take — ``"calibration"``
    (the default, see the module docstring), a number of partner facilities in all, or None.
    ``roles``: plan for these roles only (e.g. ③ alone; "completed" then means these roles are
    covered) — the confirming matching run covers every role, so it needs ``confirm=False``.
    ``nearest=K``: only each facility's K nearest candidates per role (national scale): the
    increases then suffice but may not be the fewest over all candidates.  ``base``: the run on
    ``region`` with ``params`` (as :func:`~matching.optimise.run.match` gave it): the check then
    solves again only the components the increases reach, the others re-used from it — the same
    result as a whole new matching run."""
    if roles is not None and confirm:
        raise ValueError("a plan for some roles only cannot be confirmed by a matching run (confirm=False)")
    params = params or MatchParameters()
    region = region.as_planned(params)  # estimated capacities are raised like stated ones
    status = facility_status(region)
    if roles is not None:
        status = status.assign(missing_roles=status["missing_roles"].map(lambda m: m & roles))
    need = facilities_to_match(status, params)
    need = need[need["obligated"].astype(bool)]
    travel = travel_provider(region, params)
    cand = find_candidates(region, status, params, travel, nearest=nearest)
    cand = cand[cand["facility_id"].isin(need.index)].reset_index(drop=True)
    if "slots" in cand.columns:
        # Time slots: the plan counts on institutions that complete a role alone (one partner per
        # role, as this model assumes) — a sufficient plan; part-time partners may need less.
        cand = cand[(cand["slots"] | cand["have"]) == ALL_SLOTS].reset_index(drop=True)

    have = set(zip(cand["facility_id"], cand["role"], strict=True))
    blocked_pairs = [(f, r.value) for f in need.index for r in ROLE_ORDER
                     if r in need.at[f, "missing_roles"] and (f, r.value) not in have]
    blocked_fac = sorted({f for f, _ in blocked_pairs})
    blocked = _blocked_reasons(region, status, cand, params, travel, blocked_pairs)
    completable = sorted(set(need.index) - set(blocked_fac))
    cand = cand[cand["facility_id"].isin(completable)].reset_index(drop=True)

    limits = institution_caps(region, cap)
    tight = _tight_part(region, cand) if limits is None else None
    if tight is None:
        increases, assignment, optimal = _solve(region, need.loc[completable], cand, params.stage_time_limit,
                                                limits)
    else:
        part, settled = tight
        increases, assignment, optimal = _solve(region, need.loc[sorted(set(part["facility_id"]))], part,
                                                params.stage_time_limit)
        assignment = pd.concat([settled, assignment]).sort_values(["facility_id", "role"]).reset_index(drop=True)
    done = set(assignment["facility_id"])
    left = [f for f in completable if f not in done]
    capped = pd.DataFrame({
        "facility_id": left, "name": region.facilities["name"].reindex(left).tolist(),
        "municipality_code": region.facilities["municipality_code"].reindex(left).tolist(),
        "roles": ["".join(r.mark for r in ROLE_ORDER if r in need.at[f, "missing_roles"]) for f in left],
    }, columns=["facility_id", "name", "municipality_code", "roles"])
    plan = CapacityPlan(
        feasible=not blocked_fac and not left, increases=increases, blocked=blocked, assignment=assignment,
        total_facilities=int(increases.loc[increases["unit"] == "facilities", "add"].sum()),
        total_residents=int(increases.loc[increases["unit"] == "residents", "add"].sum()),
        completable=completable, optimal=optimal, capped=capped, cap="none" if cap is None else str(cap))
    if confirm:
        raised = apply_increases(region, increases)
        result = match(raised, params, base.options if base is not None else None,
                       cache=base.cache if base is not None else None)
        problems = verify(raised, result.proposals, params)
        if problems:
            raise VerificationError("capacity plan", problems)
        # As many facilities of O all met as planned (under a cap the matching may complete
        # other facilities of equal rank than the plan's assignment).
        met = int((result.status_after.loc[completable, "status"] == Status.ALL_MET.value).sum())
        plan.confirmed = met >= len(completable) - len(left)
        plan.confirm_result = result
    return plan


def institution_caps(region: Region, cap: str | int | None) -> pd.Series | None:
    """New partner facilities each institution may be asked to take in the plan (None = no cap):
    never below its stated spare capacity, else the calibration's (or the given) total less the
    agreements in force."""
    if cap is None or cap == "none":
        return None
    inst = region.institutions
    if cap == "calibration":
        total = pd.Series([estimate_facilities(k, d, b) for k, d, b in
                           zip(inst["kind"], inst["designations"], inst["beds"], strict=True)], index=inst.index)
    else:
        total = pd.Series(int(cap), index=inst.index)
    in_force = region.partnerships.groupby("institution_id")["facility_id"].nunique().reindex(inst.index).fillna(0)
    stated = inst["capacity_facilities"].astype("Float64").fillna(0).astype(float) \
        if "capacity_facilities" in inst.columns else 0
    return (total - in_force).clip(lower=0).combine(stated, max).astype(int)


def apply_increases(region: Region, increases: pd.DataFrame) -> Region:
    """A copy of the region with the plan's capacity increases added (the input is unchanged)."""
    inst = region.institutions.copy()
    for i, column, add in zip(increases["institution_id"], increases["column"], increases["add"], strict=True):
        inst.loc[i, column] = int(inst.at[i, column]) + int(add)
    return Region(region.areas, region.facilities, inst, region.partnerships, region.travel_times,
                  region.source, list(region.skipped), region.availability, scope=region.scope)


def _tight_part(region: Region, cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The candidates of Hall's tight set S × T and the assignment of every other facility (see
    the module docstring), or None where the plan is not a b-matching: a facility with several
    roles to plan, pins, agreements in force, or capacities in residents or per role."""
    if not len(cand) or cand["pinned"].astype(bool).any() or cand["existing"].astype(bool).any():
        return None
    if cand.groupby("facility_id")["role"].nunique().max() > 1:
        return None
    inst = region.institutions.loc[sorted(set(cand["institution_id"]))]
    other = [c for c in inst.columns if c.startswith("capacity_") and c != "capacity_facilities"
             and c != "capacity_estimated" and inst[c].notna().any()]
    if other:
        return None
    from ortools.graph.python import max_flow

    fac = np.array(sorted(set(cand["facility_id"])), dtype=object)
    ins = inst.index.to_numpy(object)
    fi = np.searchsorted(fac, cand["facility_id"].to_numpy(object))
    ii = pd.Index(ins).get_indexer(cand["institution_id"])
    n_f, n_i = len(fac), len(ins)
    source, sink = n_f + n_i, n_f + n_i + 1
    cap = inst["capacity_facilities"].astype("Float64").fillna(n_f).astype(int).clip(lower=0).to_numpy()
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(np.full(n_f, source), np.arange(n_f), np.ones(n_f, np.int64))
    pair_arcs = flow.add_arcs_with_capacity(fi, n_f + ii, np.ones(len(cand), np.int64))
    flow.add_arcs_with_capacity(n_f + np.arange(n_i), np.full(n_i, sink), cap)
    if flow.solve(source, sink) != flow.OPTIMAL:
        return None
    reached = np.zeros(n_f + n_i + 2, bool)
    reached[flow.get_source_side_min_cut()] = True
    in_s = reached[fi]
    part = cand[in_s & reached[n_f + ii]].reset_index(drop=True)
    used = (flow.flows(pair_arcs) > 0) & ~in_s
    settled = cand.loc[used, ["facility_id", "institution_id", "role", "minutes", "km", "existing"]]
    return part, settled.reset_index(drop=True)


def _solve(region: Region, need: pd.DataFrame, cand: pd.DataFrame, time_limit: float,
           limits: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    inst = region.institutions
    residents = region.residents()
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{k}") for k in range(len(cand))]
    fids, iids, roles = (cand[c].to_numpy() for c in ("facility_id", "institution_id", "role"))
    n_res = {f: int(residents[f]) for f in need.index}

    by_fr: dict[tuple[str, str], list[int]] = {}
    by_pair: dict[tuple[str, str], list[int]] = {}
    for k, (f, i, r) in enumerate(zip(fids, iids, roles, strict=True)):
        by_fr.setdefault((f, r), []).append(k)
        by_pair.setdefault((f, i), []).append(k)
    # c_f: facility f is completed (every missing role once); all of them unless a cap binds.
    done = {f: m.new_bool_var(f"c_{f}") for f in need.index}
    for (f, _), ks in by_fr.items():
        m.add(sum(x[k] for k in ks) == done[f])
    for k in cand.index[cand["pinned_role"].astype(bool)]:
        m.add(x[k] == 1)

    existing = dict(zip(zip(fids, iids, strict=True), cand["existing"].astype(bool), strict=True))
    y: dict[tuple[str, str], cp_model.IntVar] = {}
    for p, ks in by_pair.items():
        if existing[p]:
            continue  # extending an agreement in force uses no spare capacity
        y[p] = m.new_bool_var(f"y_{p[0]}_{p[1]}")
        for k in ks:
            m.add_implication(x[k], y[p])
    pinned = cand["pinned"].to_numpy(bool)
    pinned_new: dict[str, int] = {}
    for p, ks in by_pair.items():
        if pinned[ks].any():
            m.add(sum(x[k] for k in ks) >= 1)
            if not existing[p]:
                pinned_new[p[1]] = pinned_new.get(p[1], 0) + 1
    if limits is not None:
        by_inst: dict[str, list] = {}
        for p, v in y.items():
            by_inst.setdefault(p[1], []).append(v)
        for i, vs in sorted(by_inst.items()):
            limit = max(int(limits.get(i, 0)), pinned_new.get(i, 0))  # pins are never refused
            if len(vs) > limit:
                m.add(sum(vs) <= limit)

    add_vars: list[tuple[str, str, str, int, cp_model.IntVar]] = []  # (i, column, unit, capacity, var)
    upper: dict[str, int] = {}  # variable name → its upper bound
    pairs_of: dict[str, list[tuple[str, str]]] = {}
    for p in y:
        pairs_of.setdefault(p[1], []).append(p)
    for i, ps in sorted(pairs_of.items()):
        for column, weight in (("capacity_facilities", None), ("capacity_residents", "residents")):
            cap = inst.at[i, column]
            if pd.isna(cap):
                continue
            load = [(1 if weight is None else n_res[f]) for f, _ in ps]
            v = m.new_int_var(0, sum(load), f"add_{i}_{column}")
            upper[v.name] = sum(load)
            m.add(sum(c * y[p] for c, p in zip(load, ps, strict=True)) <= int(cap) + v)
            add_vars.append((i, column, "facilities" if weight is None else "residents", int(cap), v))
    for role in ROLE_ORDER:
        for unit in ("facilities", "residents"):
            column = f"capacity_{unit}_{role.value}"
            if column not in inst.columns:
                continue
            for i in sorted(set(iids[roles == role.value])):
                cap = inst.at[i, column]
                if pd.isna(cap):
                    continue
                ks = [k for k in range(len(cand)) if iids[k] == i and roles[k] == role.value]
                load = [1 if unit == "facilities" else n_res[fids[k]] for k in ks]
                v = m.new_int_var(0, sum(load), f"add_{i}_{column}")
                upper[v.name] = sum(load)
                m.add(sum(c * x[k] for c, k in zip(load, ks, strict=True)) <= int(cap) + v)
                add_vars.append((i, column, unit, int(cap), v))

    touched = {}
    for i in sorted({a[0] for a in add_vars}):
        b = m.new_bool_var(f"asked_{i}")
        for *_, v in (a for a in add_vars if a[0] == i):
            # v ≤ UB·b: linear, so the relaxation stays tight (an enforced "== 0" is much weaker).
            m.add(v <= upper[v.name] * b)
        touched[i] = b
    # Goals 2 and 3 in one solve: the weight (institutions + 1) on residents makes the order exact.
    goals = [
        -sum(done.values()),  # most facilities completed (minimised as a negative)
        sum(a[4] for a in add_vars if a[2] == "facilities"),
        (len(touched) + 1) * sum(a[4] for a in add_vars if a[2] == "residents") + sum(touched.values()),
    ]
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # deterministic
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = time_limit
    optimal = True
    for g in goals:
        if isinstance(g, int):  # an empty sum: nothing to optimise
            continue
        m.minimize(g)
        st = solver.solve(m)
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RuntimeError("capacity plan: no assignment found (every blocked role is excluded, "
                               "so this should not happen)")
        optimal &= st == cp_model.OPTIMAL
        value = int(round(solver.objective_value))
        set_hint(m, x, boolean_values(solver, x))
        # Keep this goal's optimum while the next ones are optimised.
        m.add(g <= value)

    rows = [(i, inst.at[i, "name"], inst.at[i, "kind"], inst.at[i, "municipality_code"], cap,
             int(solver.value(v)), unit, column)
            for i, column, unit, cap, v in add_vars if solver.value(v) > 0]
    increases = pd.DataFrame(rows, columns=INCREASE_COLUMNS + ["column"])
    chosen = np.flatnonzero(boolean_values(solver, x)).tolist()
    assignment = cand.loc[chosen, ["facility_id", "institution_id", "role", "minutes", "km", "existing"]]
    return increases, assignment.reset_index(drop=True), optimal


def _blocked_reasons(region: Region, status: pd.DataFrame, cand: pd.DataFrame, params: MatchParameters,
                     travel, blocked_pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """The explainer's reason and fix for each blocked (facility, role)."""
    cols = ["facility_id", "role", "reason_code", "reason", "fix"]
    if not blocked_pairs:
        return pd.DataFrame(columns=cols)
    facs = sorted({f for f, _ in blocked_pairs})
    nothing = pd.DataFrame(columns=["facility_id", "institution_id", "role", "minutes", "km", "existing"])
    scoped = params.model_copy(update={"include_unreported": True})  # not_tracked rows are not wanted here
    why = explain_unmatched(region, status.loc[facs], status.loc[facs], cand.iloc[0:0], nothing, scoped, travel)
    why = why.set_index(["facility_id", "role"])
    rows = [(f, Role(r).label_ja, why.at[(f, r), "reason_code"], why.at[(f, r), "reason"], why.at[(f, r), "fix"])
            for f, r in blocked_pairs]
    return pd.DataFrame(rows, columns=cols)
