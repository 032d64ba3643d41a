"""The cooperation model: which institution takes which missing role of which facility.

The formulation, readable as the mathematics it is::

    Sets
      F        facilities with missing roles; M_f ⊆ {①,②,③} the roles f lacks
      C        candidates c = (f, i, r): institution i may take role r for f
      P        pairs p = (f, i) with at least one candidate; E ⊆ P already partners
    Data
      n_f      residents of f;  o_f = 1 if f's type is an obligation (義務)
      K_i, R_i     spare capacity of i, in new partner facilities / their residents
      K_ir, R_ir   the same for one role only (when given)
      t_c      travel cost n_f × minutes (+ minutes if the pair crosses a preferred area)
    Variables
      w_pS ∈ {0,1}  f and i agree (or extend an agreement) on exactly the role set S,
                    S ⊆ the roles p could take;  Σ_S w_pS ≤ 1
      x_c = Σ_(S ∋ r) w_pS      i takes role r for f
      y_p = Σ_S w_pS            f and i make (or extend) an agreement
      z_f ∈ {0,1}   every missing role of f is covered
    Constraints
      Σ_i x_(f,i,r) ≤ 1                       ∀ f, r ∈ M_f   one institution per role
      z_f ≤ Σ_i x_(f,i,r)                     ∀ f, r ∈ M_f
      Σ_(p ∋ i, p ∉ E) y_p ≤ K_i,   Σ_(p ∋ i, p ∉ E) n_f y_p ≤ R_i
      Σ_(c ∋ (i,r)) x_c ≤ K_ir,     Σ_(c ∋ (i,r)) n_f x_c ≤ R_ir
      y_p = 1 (pinned pairs),  x_c = 1 (pinned roles)
    Objective, lexicographic (each stage keeps the optimum of the ones before; 1–3
    and 4–5 are solved as two sums whose integer weights make the order exact)
      1. max Σ o_f z_f          obligated facilities brought to "all met"
      2. max Σ (1 − o_f) z_f    effort-type facilities brought to "all met"
      3. max Σ x_c              missing roles covered
      4. min Σ_(p ∉ E) y_p      new agreements (one institution for several roles = one)
      5. min Σ t_c x_c          resident-weighted travel

Extending an agreement already in force (p ∈ E) uses no facility or resident
capacity: the institution already counts the facility among its partners.

The candidate graph (facilities — institutions) falls apart into independent
connected components; each is solved on its own with CP-SAT, single-threaded with
a fixed seed and a deterministic time limit, so the same input gives the same
output.  Two shortcuts keep that true at national scale (:class:`SolveOptions`):
a component whose capacity-free optimum (``closed_form.py``) fits every capacity
takes it without a solver — exact; and components may be solved in parallel
processes, each result landing in its component's slot, so the output does not
depend on scheduling.  The stage totals are sums over components, objective and
bound alike, so the reported gap is the global one.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matching.optimise.closed_form import best_patterns, over_capacity, repair
from matching.optimise.options import SolveOptions

STAGES = (
    ("obligated_full", "maximize"),
    ("effort_full", "maximize"),
    ("roles_covered", "maximize"),
    ("new_agreements", "minimize"),
    ("travel_cost", "minimize"),
)


@dataclass
class StageResult:
    name: str
    sense: str
    objective: float = 0.0
    bound: float = 0.0
    optimal: bool = True

    @property
    def gap(self) -> float:
        """Relative gap between the best solution and the proven bound (0 = proven optimal)."""
        denom = max(abs(self.bound), abs(self.objective), 1.0)
        return abs(self.bound - self.objective) / denom


@dataclass
class CooperationModel:
    """Assign missing roles to institutions, optimally and lexicographically.

    Build it :meth:`from_frames` (a candidate table plus facility and institution
    tables) and call :meth:`solve`; the chosen candidates are in ``chosen`` and
    the per-stage objective, bound and gap in ``stages``.

    >>> cand = pd.DataFrame({"facility_id": ["F1", "F1", "F2"], "institution_id": ["H", "H", "H"],
    ...                      "role": ["consult", "admit", "admit"], "cost": [10, 10, 5],
    ...                      "existing": False, "pinned": False})
    >>> fac = pd.DataFrame({"residents": [50, 80], "obligated": [True, True],
    ...                     "missing": [3, 1]}, index=["F1", "F2"])
    >>> inst = pd.DataFrame({"capacity_facilities": [1]}, index=["H"])
    >>> m = CooperationModel.from_frames(cand, fac, inst).solve()
    >>> m.chosen[["facility_id", "role"]].values.tolist()   # H cannot complete F1 (③②① missing), but completes F2
    [['F2', 'admit']]
    """

    candidates: pd.DataFrame
    facilities: pd.DataFrame
    institutions: pd.DataFrame
    stage_time_limit: float = 20.0
    options: SolveOptions = field(default_factory=SolveOptions)
    stages: list[StageResult] = field(default_factory=list)
    chosen: pd.DataFrame | None = None
    components: int = 0
    closed_components: int = 0  # solved in closed form (no solver)
    seconds: dict[str, float] = field(default_factory=dict)  # prepare (pruning, closed form) / components

    @classmethod
    def from_frames(cls, candidates: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame,
                    stage_time_limit: float = 20.0, options: SolveOptions | None = None) -> CooperationModel:
        """``candidates``: facility_id, institution_id, role, cost, existing, pinned (the pair must
        be used), pinned_role (this very role must be assigned; optional column);
        ``facilities`` (index facility_id): residents, obligated, missing (number of missing roles);
        ``institutions`` (index institution_id): optional capacity_facilities, capacity_residents,
        capacity_facilities_<role>, capacity_residents_<role> (NA = unlimited)."""
        cand = candidates.reset_index(drop=True)
        if "pinned_role" not in cand.columns:
            cand = cand.assign(pinned_role=False)
        return cls(cand, facilities, institutions, stage_time_limit, options or SolveOptions())

    # -- solving -------------------------------------------------------------------
    def solve(self) -> CooperationModel:
        cand = self.candidates
        opts = self.options
        self.stages = [StageResult(name, sense) for name, sense in STAGES]
        t0 = time.perf_counter()
        self._lookups()
        picked = np.zeros(len(cand), bool)
        keep = np.flatnonzero(~dominated_pairs(cand, self.facilities, self.institutions))
        comps = [keep[rows] for rows in _components(cand.iloc[keep].reset_index(drop=True))]
        self.components = len(comps)
        results: list = [None] * len(comps)
        todo = list(range(len(comps)))
        if opts.closed_form and len(keep):
            todo = self._closed_form(cand, keep, comps, results)
        self.closed_components = len(comps) - len(todo)
        t1 = time.perf_counter()
        for k, out in zip(todo, _map_components(self, [comps[k] for k in todo], opts.workers), strict=True):
            results[k] = out
        self.seconds = {"prepare": t1 - t0, "components": time.perf_counter() - t1}
        truncated = cand["truncated"].to_numpy(bool) if "truncated" in cand.columns else np.zeros(len(cand), bool)
        for rows, (x, parts) in zip(comps, results, strict=True):
            picked[rows] = x
            if truncated[rows].any():
                parts = _full_set_bounds(parts, self._trivial_bounds(cand.iloc[rows]))
            for total, part in zip(self.stages, parts, strict=True):
                total.objective += part.objective
                total.bound += part.bound
                total.optimal &= part.optimal
        self.chosen = cand[picked].reset_index(drop=True)
        return self

    # -- lookups built once (per-row pandas .at in loops is what made large runs slow) ----
    def _lookups(self) -> None:
        fac, inst = self.facilities, self.institutions
        self._missing = fac["missing"].astype(int).to_dict()
        self._obligated = fac["obligated"].astype(bool).to_dict()
        self._residents = fac["residents"].astype(int).to_dict()
        self._caps = {col: {i: int(v) for i, v in inst[col].dropna().items()}
                      for col in inst.columns if col.startswith("capacity_")}

    def _cap(self, i: str, column: str) -> int | None:
        return self._caps.get(column, {}).get(i)

    def _closed_form(self, cand: pd.DataFrame, keep: np.ndarray, comps: list[np.ndarray], results: list) -> list[int]:
        """Fill ``results`` for components whose capacity-free optimum is feasible; return the others."""
        kept = cand.iloc[keep]
        relaxed = np.zeros(len(cand), bool)
        relaxed[keep] = best_patterns(kept)
        over = over_capacity(kept, relaxed[keep], self.facilities["residents"], self.institutions)
        pinned = cand["pinned"].to_numpy(bool) | cand["pinned_role"].to_numpy(bool)
        iids = cand["institution_id"].to_numpy()
        todo = []
        for k, rows in enumerate(comps):
            if pinned[rows].any() or not over.isdisjoint(iids[rows]):
                todo.append(k)
                continue
            values = self._stage_values(cand.iloc[rows], relaxed[rows])
            results[k] = (relaxed[rows], [StageResult(n, sense, float(v), float(v), True)
                                          for (n, sense), v in zip(STAGES, values, strict=True)])
        return todo

    def _stage_values(self, cand: pd.DataFrame, picked: np.ndarray) -> list[int]:
        """The five goals' values of an assignment of this component's candidates."""
        c = cand[picked]
        got = c.groupby("facility_id")["role"].nunique()
        full = [f for f, n in got.items() if n == self._missing[f]]
        pairs = c.drop_duplicates(["facility_id", "institution_id"])
        return [sum(self._obligated[f] for f in full), sum(not self._obligated[f] for f in full), len(c),
                int((~pairs["existing"].to_numpy(bool)).sum()), int(np.rint(c["cost"].to_numpy(float)).sum())]

    def _trivial_bounds(self, cand: pd.DataFrame) -> list[int]:
        """Coverage if capacities were unlimited: every role with a candidate covered."""
        roles = cand.groupby("facility_id")["role"].nunique()
        full = [f for f, n in roles.items() if n == self._missing[f]]
        n_roles = len(cand.drop_duplicates(["facility_id", "role"]))
        return [sum(self._obligated[f] for f in full), sum(not self._obligated[f] for f in full), n_roles]

    def _solve_component(self, cand: pd.DataFrame) -> tuple[np.ndarray, list[StageResult]]:
        m = cp_model.CpModel()
        fids = cand["facility_id"].to_numpy()
        iids = cand["institution_id"].to_numpy()
        roles = cand["role"].to_numpy()
        residents = np.array([self._residents[f] for f in fids], int)
        cost = np.rint(cand["cost"].to_numpy(float)).astype(int)

        # w_(p,S): pair p agrees on exactly the role set S (at most one S per pair).
        # x_c and y_p are sums of w; counting agreements this way gives a tighter
        # relaxation than linking separate x and y variables.
        by_pair: dict[tuple[str, str], list[int]] = {}
        for k, key in enumerate(zip(fids, iids, strict=True)):
            by_pair.setdefault(key, []).append(k)
        covers: list[list] = [[] for _ in range(len(cand))]
        y, w_all, w_cost = {}, [], []
        for p, ks in by_pair.items():
            ws = []
            for size in range(1, len(ks) + 1):
                for subset in itertools.combinations(ks, size):
                    w = m.new_bool_var(f"w_{p[0]}_{p[1]}_{'_'.join(map(str, subset))}")
                    ws.append(w)
                    w_all.append((w, subset))
                    w_cost.append(int(cost[list(subset)].sum()))
                    for k in subset:
                        covers[k].append(w)
            m.add_at_most_one(ws)
            y[p] = sum(ws)
        x = [sum(ws) for ws in covers]
        existing = dict(zip(zip(fids, iids, strict=True), cand["existing"].to_numpy(bool), strict=True))

        # One institution per (facility, role); z_f ≤ each missing role's coverage.
        by_fr: dict[tuple[str, str], list[int]] = {}
        for k, key in enumerate(zip(fids, roles, strict=True)):
            by_fr.setdefault(key, []).append(k)
        for ks in by_fr.values():
            m.add(sum(x[k] for k in ks) <= 1)
        facs = sorted(set(fids))
        z = {f: m.new_bool_var(f"z_{f}") for f in facs}
        roles_of: dict[str, list[tuple[str, str]]] = {}
        for key in by_fr:
            roles_of.setdefault(key[0], []).append(key)
        for f in facs:
            if len(roles_of[f]) < self._missing[f]:
                m.add(z[f] == 0)  # some missing role has no candidate at all
            for key in roles_of[f]:
                m.add(z[f] <= sum(x[k] for k in by_fr[key]))

        for k in np.flatnonzero(cand["pinned"].to_numpy(bool)):
            m.add(y[(fids[k], iids[k])] == 1)
        for k in np.flatnonzero(cand["pinned_role"].to_numpy(bool)):
            m.add(x[k] == 1)

        # Capacities, counted in new partner facilities and their residents.
        new_pairs_of: dict[str, list[tuple[str, str]]] = {}
        for p in by_pair:
            if not existing[p]:
                new_pairs_of.setdefault(p[1], []).append(p)
        res_of = dict(zip(fids, residents, strict=True))
        for i, pairs in new_pairs_of.items():
            cap_f = self._cap(i, "capacity_facilities")
            if cap_f is not None:
                m.add(sum(y[p] for p in pairs) <= cap_f)
            cap_r = self._cap(i, "capacity_residents")
            if cap_r is not None:
                m.add(sum(int(res_of[p[0]]) * y[p] for p in pairs) <= cap_r)
        by_ir: dict[tuple[str, str], list[int]] = {}
        for k, key in enumerate(zip(iids, roles, strict=True)):
            by_ir.setdefault(key, []).append(k)
        for (i, r), ks in by_ir.items():
            cap_f = self._cap(i, f"capacity_facilities_{r}")
            if cap_f is not None:
                m.add(sum(x[k] for k in ks) <= cap_f)
            cap_r = self._cap(i, f"capacity_residents_{r}")
            if cap_r is not None:
                m.add(sum(int(residents[k]) * x[k] for k in ks) <= cap_r)

        obligated = self._obligated
        terms = [
            sum(z[f] for f in facs if obligated[f]),
            sum(z[f] for f in facs if not obligated[f]),
            sum(w for w, subset in w_all for _ in subset),
            sum(y[p] for p in by_pair if not existing[p]),
            sum(c * w for (w, _), c in zip(w_all, w_cost, strict=True)),
        ]
        # Exact lexicographic weights: each level outweighs everything below it.
        w_effort = len(by_fr) + 1  # roles covered ≤ number of (facility, role) pairs
        w_obligated = w_effort * (sum(1 for f in facs if not obligated[f]) + 1)
        w_agreements = int(cost.sum()) + 1  # travel cost ≤ Σ cost
        coverage = (w_obligated, w_effort, 1)
        effort = (w_agreements, 1)
        def rows_of(chosen_w) -> np.ndarray:
            rows = np.zeros(len(cand), bool)
            for (_, subset), on in zip(w_all, chosen_w, strict=True):
                if on:
                    rows[list(subset)] = True
            return rows

        hint = proven = None
        large = self.options.large_component
        if large is not None and len(cand) >= large:
            # A feasible start near the capacity-free optimum; if it already covers all that
            # could be covered, coverage is proven without the first solve.
            hint_rows = repair(cand, best_patterns(cand), self.facilities, self.institutions)
            if not (cand["pinned"].to_numpy(bool) | cand["pinned_role"].to_numpy(bool)).any():
                values = self._stage_values(cand, hint_rows)
                if values[:3] == self._trivial_bounds(cand):
                    proven = values
            on: dict[tuple[str, str], list[int]] = {}
            for k in np.flatnonzero(hint_rows):
                on.setdefault((fids[k], iids[k]), []).append(int(k))
            hint = np.array([on.get((fids[subset[0]], iids[subset[0]])) == list(subset) for _, subset in w_all])
        chosen_w, results = self._solve_two_levels(
            m, [w for w, _ in w_all], terms, coverage, effort, hint=hint, proven=proven,
            evaluate=lambda chosen_w: self._stage_values(cand, rows_of(chosen_w)),
            time_limit=self.options.large_time_limit if hint is not None else None)
        picked = np.zeros(len(cand), bool)
        for (_, subset), on in zip(w_all, chosen_w, strict=True):
            if on:
                picked[list(subset)] = True
        return picked, results

    def _solve_two_levels(self, m: cp_model.CpModel, x, terms, coverage, effort, hint=None, proven=None,
                          evaluate=None, time_limit=None):
        """Maximise coverage (stages 1–3 as one exactly weighted sum), keep it, then
        minimise agreements and travel (stages 4–5, likewise).  Two solves instead of
        five: the weights make the order exact, and CP-SAT proves each faster.

        ``hint`` (a feasible choice of ``x``) seeds both solves; ``proven`` (its five
        goal values, given when its coverage equals the capacity-free bound) skips the
        first solve.  If a time-limited solve ends without a solution, the last solution
        (or the hint) stands, valued by ``evaluate``, with the solver's proven bound."""
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1  # single-threaded with a fixed seed: deterministic
        solver.parameters.random_seed = 0
        solver.parameters.linearization_level = 2  # the LP relaxation is tight here; use it fully
        solver.parameters.max_deterministic_time = time_limit or self.stage_time_limit
        values = [0] * len(terms)
        bounds = [0.0] * len(terms)
        optimal = [True] * len(terms)
        chosen = np.zeros(len(x), bool) if hint is None else np.asarray(hint, bool)
        for level, (sense, idx, weights) in enumerate(
                (("maximize", (0, 1, 2), coverage), ("minimize", (3, 4), effort))):
            expr = sum(w * terms[k] for k, w in zip(idx, weights, strict=True)
                       if not isinstance(terms[k], int))
            if isinstance(expr, int):
                continue
            if level == 0 and proven is not None:
                obj = sum(w * proven[k] for k, w in zip(idx, weights, strict=True))
                for k in idx:
                    values[k] = bounds[k] = proven[k]
                m.add(expr >= obj)
                continue
            (m.maximize if sense == "maximize" else m.minimize)(expr)
            if level or hint is not None:
                m.clear_hints()
                for var, val in zip(x, chosen, strict=True):
                    m.add_hint(var, bool(val))
            status = solver.solve(m)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                if hint is None or status == cp_model.INFEASIBLE:
                    raise InfeasibleError(
                        "no feasible assignment: pinned pairs exceed an institution's capacity or conflict "
                        f"(solver status {solver.status_name(status)})")
                # Out of time before any new solution: keep the last one, with the proven bound.
                vals = evaluate(chosen)
                bound = solver.best_objective_bound
                lead = idx[0]
                for k in idx:
                    values[k] = vals[k]
                    bounds[k] = np.nan
                    optimal[k] = False
                bounds[lead] = np.ceil(bound / weights[0] - 1e-9) if sense == "minimize" else np.floor(bound / weights[0] + 1e-9)
                continue
            obj = round(solver.objective_value)
            chosen = np.array([bool(solver.value(v)) for v in x])
            for k in idx:
                values[k] = 0 if isinstance(terms[k], int) else int(solver.value(terms[k]))
            # Decode the proven bound of the leading term of this level (valid because the
            # lower terms are non-negative and smaller than its weight).
            bound = solver.best_objective_bound
            is_opt = status == cp_model.OPTIMAL
            lead = idx[0]
            bounds[lead] = (np.floor(bound / weights[0] + 1e-9) if sense == "maximize"
                            else np.ceil(bound / weights[0] - 1e-9)) if not is_opt else values[lead]
            for k in idx[1:]:
                bounds[k] = values[k] if is_opt else np.nan
            for k in idx:
                optimal[k] = is_opt
            m.add(expr >= obj) if sense == "maximize" else m.add(expr <= obj)
        results = [StageResult(name, sense, float(values[k]), float(bounds[k]), optimal[k])
                   for k, (name, sense) in enumerate(STAGES)]
        return chosen, results


class InfeasibleError(RuntimeError):
    """The coordinators' pinned pairs cannot all be honoured."""


def _full_set_bounds(parts: list[StageResult], trivial: list[int]) -> list[StageResult]:
    """Bounds valid for the *full* candidate set of a component whose lists were cut.

    Coverage: the capacity-free bound (the same with or without the cut, as long as
    one candidate per role is kept) — met means proven.  Agreements and travel: the
    cut model's bound says nothing about the full set, so none is claimed."""
    out = []
    for k, p in enumerate(parts):
        if k < 3:
            met = p.objective >= trivial[k]
            out.append(StageResult(p.name, p.sense, p.objective, float(trivial[k]), p.optimal and met))
        else:
            out.append(StageResult(p.name, p.sense, p.objective, np.nan, False))
    return out


_ACTIVE: CooperationModel | None = None  # the model a forked worker solves components of
#: Below this many candidate rows left to CP-SAT, forking costs more than it saves.
PARALLEL_MIN_ROWS = 5000


def _solve_rows_in_child(rows: np.ndarray):
    return _ACTIVE._solve_component(_ACTIVE.candidates.iloc[rows])


def _map_components(model: CooperationModel, comps: list[np.ndarray], workers: int) -> list:
    """Solve components, in ``workers`` forked processes if asked; results in input order.

    Each component's solve is deterministic on its own, and results are placed by
    position, so the output is the same whatever the scheduling."""
    global _ACTIVE
    big = sum(len(c) for c in comps)
    if workers <= 1 or len(comps) < 2 or big < PARALLEL_MIN_ROWS or "fork" not in multiprocessing.get_all_start_methods():
        return [model._solve_component(model.candidates.iloc[rows]) for rows in comps]
    order = sorted(range(len(comps)), key=lambda k: -len(comps[k]))  # largest first balances the load
    _ACTIVE = model
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            solved = pool.map(_solve_rows_in_child, [comps[k] for k in order], chunksize=1)
    finally:
        _ACTIVE = None
    out: list = [None] * len(comps)
    for k, res in zip(order, solved, strict=True):
        out[k] = res
    return out


def free_institutions(cand: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame) -> set[str]:
    """Institutions whose capacities cannot bind: every limit covers all their candidates."""
    residents = facilities["residents"].reindex(cand["facility_id"]).to_numpy(int)
    c = cand.assign(_n=residents)
    new = c[~c["existing"].astype(bool)].drop_duplicates(["facility_id", "institution_id"])
    need = {
        "capacity_facilities": new.groupby("institution_id").size(),
        "capacity_residents": new.groupby("institution_id")["_n"].sum(),
    }
    for role, g in c.groupby("role"):
        need[f"capacity_facilities_{role}"] = g.groupby("institution_id").size()
        need[f"capacity_residents_{role}"] = g.groupby("institution_id")["_n"].sum()
    binding = pd.Series(False, index=pd.Index(cand["institution_id"].unique()))
    for column, demand in need.items():
        if column not in institutions.columns:
            continue
        cap = institutions[column].reindex(binding.index).astype("Float64")
        binding |= (cap.notna() & (cap < demand.reindex(binding.index).fillna(0))).fillna(False).to_numpy(bool)
    return set(binding.index[~binding])


def dominated_pairs(cand: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame) -> np.ndarray:
    """Rows whose facility–institution pair can be dropped without changing the optimum.

    Pair (f, j) is dominated by (f, i) when i's capacities cannot bind, i can take
    every role j could take for f, each at no more travel cost, and choosing i
    never needs an agreement that j would not (j is not already a partner unless
    i is too).  Any solution using j for f can switch those roles to i and lose
    nothing on any of the five goals, so the pruned model has the same optimum.
    Pinned pairs are never dropped.  Ties are broken by institution id.
    """
    if cand.empty:
        return np.zeros(0, bool)
    free = free_institutions(cand, facilities, institutions)
    out = np.zeros(len(cand), bool)
    for _, g in cand.groupby("facility_id", sort=False):
        pairs = {}
        for k, i, r, cost, ex, pin in zip(g.index, g["institution_id"], g["role"], g["cost"],
                                          g["existing"], g["pinned"], strict=True):
            p = pairs.setdefault(i, {"rows": [], "cost": {}, "existing": bool(ex), "pinned": bool(pin)})
            p["rows"].append(k)
            p["cost"][r] = cost
            p["pinned"] |= bool(pin)
        dominators = [i for i in pairs if i in free]
        if not dominators:
            continue
        for j, pj in pairs.items():
            if pj["pinned"]:
                continue
            for i in dominators:
                if i == j:
                    continue
                pi = pairs[i]
                if not (pi["existing"] or not pj["existing"]):
                    continue
                if not all(r in pi["cost"] and (pi["cost"][r], i) < (c, j) for r, c in pj["cost"].items()):
                    continue
                out[pj["rows"]] = True
                break
    return out


def _components(cand: pd.DataFrame) -> list[np.ndarray]:
    """Row indices of each connected component of the facility–institution graph, in a stable order."""
    if cand.empty:
        return []
    g = nx.Graph()
    g.add_edges_from(zip("f:" + cand["facility_id"], "i:" + cand["institution_id"], strict=True))
    label = {}
    comps = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: c[0])
    for k, comp in enumerate(comps):
        for node in comp:
            label[node] = k
    comp_of_row = ("f:" + cand["facility_id"]).map(label).to_numpy()
    order = np.argsort(comp_of_row, kind="stable")
    splits = np.flatnonzero(np.diff(comp_of_row[order])) + 1
    return np.split(order, splits)
