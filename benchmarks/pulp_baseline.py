"""The same cooperation model written the straightforward way: PuLP + CBC (or HiGHS).

What an analyst would write with the usual open-source tools: one MILP over the
whole candidate table (no components, no dominance pruning, no closed form), the
same set-partitioning variables w_pS as ``matching/optimise/model.py``, the same
constraints, and the same lexicographic goals as two exactly weighted levels
(coverage 1–3, then agreements 4 and travel 5), solved by CBC one after the other.

>>> from matching.contract import load_region                        # doctest: +SKIP
>>> from matching.optimise.run import match                           # doctest: +SKIP
>>> region = load_region("data/demo"); r = match(region)              # doctest: +SKIP
>>> out = solve_pulp(r.candidates, model_inputs_of(region, r), region.institutions)  # doctest: +SKIP
>>> out.values[:3] == [s.objective for s in r.stages[:3]]             # doctest: +SKIP
True
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp


@dataclass
class PulpResult:
    chosen: pd.DataFrame
    values: list[float]              # the five goals, as in StageResult.objective
    status: list[str]                # CBC status per level
    optimal: bool
    seconds: dict[str, float] = field(default_factory=dict)


def model_inputs_of(region, result) -> pd.DataFrame:
    """The facility table the optimiser used (residents, obligated, number of missing roles)."""
    from matching.candidates import facilities_to_match
    from matching.optimise.run import model_inputs

    return model_inputs(region, facilities_to_match(result.status_before, result.params))


def solve_pulp(cand: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame,
               time_limit: float | None = None, threads: int = 1, solver: str = "cbc") -> PulpResult:
    """``solver``: "cbc" (PuLP's bundled CBC) or "highs" (HiGHS through highspy)."""
    t0 = time.perf_counter()
    cand = cand.reset_index(drop=True)
    fids, iids, roles = (cand[c].to_numpy() for c in ("facility_id", "institution_id", "role"))
    cost = np.rint(cand["cost"].to_numpy(float)).astype(int)
    existing = cand["existing"].to_numpy(bool)
    res = facilities["residents"].astype(int).to_dict()
    obligated = facilities["obligated"].astype(bool).to_dict()
    missing = facilities["missing"].astype(int).to_dict()
    prob = pulp.LpProblem("cooperation", pulp.LpMaximize)

    by_pair: dict[tuple[str, str], list[int]] = {}
    for k, key in enumerate(zip(fids, iids, strict=True)):
        by_pair.setdefault(key, []).append(k)
    covers: list[list] = [[] for _ in range(len(cand))]
    y, w_all, n = {}, [], 0
    for p, ks in by_pair.items():
        ws = []
        for size in range(1, len(ks) + 1):
            for subset in itertools.combinations(ks, size):
                w = prob.add_variable(f"w{n}", cat="Binary")
                n += 1
                ws.append(w)
                w_all.append((w, subset, int(cost[list(subset)].sum())))
                for k in subset:
                    covers[k].append(w)
        prob += pulp.lpSum(ws) <= 1
        y[p] = pulp.lpSum(ws)
    x = [pulp.lpSum(ws) for ws in covers]

    by_fr: dict[tuple[str, str], list[int]] = {}
    for k, key in enumerate(zip(fids, roles, strict=True)):
        by_fr.setdefault(key, []).append(k)
    for ks in by_fr.values():
        prob += pulp.lpSum(x[k] for k in ks) <= 1
    facs = sorted(set(fids))
    z = {f: prob.add_variable(f"z{j}", cat="Binary") for j, f in enumerate(facs)}
    roles_of: dict[str, list] = {}
    for key in by_fr:
        roles_of.setdefault(key[0], []).append(key)
    for f in facs:
        if len(roles_of[f]) < missing[f]:
            prob += z[f] == 0
        for key in roles_of[f]:
            prob += z[f] <= pulp.lpSum(x[k] for k in by_fr[key])
    for k in np.flatnonzero(cand["pinned"].to_numpy(bool)):
        prob += y[(fids[k], iids[k])] == 1
    if "pinned_role" in cand.columns:
        for k in np.flatnonzero(cand["pinned_role"].to_numpy(bool)):
            prob += x[k] == 1

    caps = {col: institutions[col].dropna().astype(int).to_dict() for col in institutions.columns
            if col.startswith("capacity_")}
    new_pairs_of: dict[str, list] = {}
    for p, ks in by_pair.items():
        if not existing[ks[0]]:
            new_pairs_of.setdefault(p[1], []).append(p)
    for i, pairs in new_pairs_of.items():
        if i in caps.get("capacity_facilities", {}):
            prob += pulp.lpSum(y[p] for p in pairs) <= caps["capacity_facilities"][i]
        if i in caps.get("capacity_residents", {}):
            prob += pulp.lpSum(res[p[0]] * y[p] for p in pairs) <= caps["capacity_residents"][i]
    by_ir: dict[tuple[str, str], list[int]] = {}
    for k, key in enumerate(zip(iids, roles, strict=True)):
        by_ir.setdefault(key, []).append(k)
    for (i, r), ks in by_ir.items():
        if i in caps.get(f"capacity_facilities_{r}", {}):
            prob += pulp.lpSum(x[k] for k in ks) <= caps[f"capacity_facilities_{r}"][i]
        if i in caps.get(f"capacity_residents_{r}", {}):
            prob += pulp.lpSum(res[fids[k]] * x[k] for k in ks) <= caps[f"capacity_residents_{r}"][i]

    obl = pulp.lpSum(z[f] for f in facs if obligated[f])
    eff = pulp.lpSum(z[f] for f in facs if not obligated[f])
    covered = pulp.lpSum(len(s) * w for w, s, _ in w_all)
    agreements = pulp.lpSum(y[p] for p, ks in by_pair.items() if not existing[ks[0]])
    travel = pulp.lpSum(c * w for w, _, c in w_all)
    # The same exact weights as the CP-SAT model.
    w_effort = len(by_fr) + 1
    w_obligated = w_effort * (sum(1 for f in facs if not obligated[f]) + 1)
    w_agreements = int(cost.sum()) + 1
    seconds = {"build": time.perf_counter() - t0}

    solver = (pulp.HiGHS(msg=False, timeLimit=time_limit, threads=threads) if solver == "highs"
              else pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=threads))
    status = []
    t1 = time.perf_counter()
    level1 = w_obligated * obl + w_effort * eff + covered
    prob.setObjective(level1)
    prob.sense = pulp.LpMaximize
    prob.solve(solver)
    status.append(pulp.LpStatus[prob.status] + ("" if prob.sol_status == 1 else f" (sol_status {prob.sol_status})"))
    best1 = round(pulp.value(level1) or 0)
    optimal = prob.sol_status == pulp.LpSolutionOptimal
    prob += level1 >= best1
    level2 = w_agreements * agreements + travel
    prob.setObjective(level2)
    prob.sense = pulp.LpMinimize
    prob.solve(solver)
    status.append(pulp.LpStatus[prob.status] + ("" if prob.sol_status == 1 else f" (sol_status {prob.sol_status})"))
    optimal &= prob.sol_status == pulp.LpSolutionOptimal
    seconds["solve"] = time.perf_counter() - t1

    picked = np.zeros(len(cand), bool)
    for w, subset, _ in w_all:
        if (w.value() or 0) > 0.5:
            picked[list(subset)] = True
    values = [float(round(pulp.value(e) or 0)) for e in (obl, eff, covered, agreements, travel)]
    return PulpResult(cand[picked].reset_index(drop=True), values, status, bool(optimal), seconds)
