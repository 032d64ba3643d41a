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

How it is solved, all exact (``reduce.py``, ``closed_form.py``): institutions
whose capacity cannot bind are *free* and couple nobody; pairs a free institution
dominates are dropped; facilities whose capacity-free best pattern uses free
institutions only take it (*settled*).  The facilities left fall apart into
components linked only through institutions that can be full; a component whose
capacity-free optimum fits every capacity takes it without a solver, the others
are solved with CP-SAT, single-threaded with a fixed seed and a deterministic time
limit, possibly in parallel processes (each result lands in its component's
slot), so the same input gives the same output.  Where a component's greedy starting
assignment already covers every role that has a candidate and keeps every rule, that is the
capacity-free bound: coverage is proven without a solve, and goals 4–5 are solved with full
coverage stated as equalities (``ComponentFormulation.covers_all``).  The stage totals are sums over
settled facilities and components, objective and bound alike, so the reported
gap is the global one.

At national scale each facility keeps only its K nearest candidates per role
(``SolveOptions.nearest``).  Coverage is still proven for the *full* lists where
possible: a component whose coverage falls short of the capacity-free bound is
solved once more with a *phantom* per cut list — an institution beyond the cut,
assumed to have room, which relaxes the full lists; if the phantoms add nothing,
the coverage is optimal for the full lists, and if they do, the lists they used
are lengthened and the changed components solved again (``run.match``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model, cp_model_helper

from matching.distribute import can_fork
from matching.optimise import slots
from matching.optimise.closed_form import best_patterns
from matching.optimise.greedy import greedy_rows
from matching.optimise.instance import ROLES, Instance, over, usage
from matching.optimise.options import SolveOptions
from matching.optimise.reduce import Reduction, capacity_free_best, components, reduce
from matching.roles import N_ROLES, POPCOUNT, fr_facility, fr_key, fr_split

STAGES = (
    ("obligated_full", "maximize"),
    ("effort_full", "maximize"),
    ("roles_covered", "maximize"),
    ("new_agreements", "minimize"),
    ("travel_cost", "minimize"),
)

#: The goals as users read them (summaries, warnings, the page).
GOAL_LABELS = {
    "obligated_full": "全要件を満たす義務施設の数",
    "effort_full": "全要件を満たす努力義務施設の数",
    "roles_covered": "充足される役割の数",
    "new_agreements": "新規協定数",
    "travel_cost": "入所者数で重み付けした移動時間",
}


@dataclass
class StageResult:
    name: str
    sense: str
    objective: float = 0.0
    bound: float = 0.0
    optimal: bool = True
    #: Where candidate lists were cut (national options): the proven bound for the lists the run
    #: used, which ``bound`` (for the full lists) may not give for goals 4–5; NaN where not proven.
    lists_bound: float = np.nan

    @property
    def gap(self) -> float:
        """Relative gap between the best solution and the proven bound (0 = proven optimal)."""
        return relative_gap(self.objective, self.bound)


def relative_gap(objective: float, bound: float) -> float:
    """|bound − objective| relative to the larger of the two (at least 1)."""
    return abs(bound - objective) / max(abs(bound), abs(objective), 1.0)


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
    components: int = 0          # components left after the reductions
    closed_components: int = 0   # of which solved in closed form (no solver)
    solved_components: int = 0   # of the others, solved by CP-SAT here (not found in ``cache``)
    settled_facilities: int = 0  # facilities settled by the reductions
    seconds: dict[str, float] = field(default_factory=dict)  # prepare (reductions, closed form) / components
    expand: list[tuple[str, str]] = field(default_factory=list)  # cut (facility, role) lists worth lengthening
    #: Component results by content (give the dict of an earlier solve to re-use what did not change).
    cache: dict = field(default_factory=dict)
    #: False while cut lists may still be lengthened (components that will be solved
    #: again skip goals 4–5).
    final: bool = True
    #: The cost is resident-weighted travel alone (no area-preference penalty), so the
    #: nearest candidates are the cheapest: a travel bound for cut lists holds.
    travel_is_minutes: bool = True
    #: The greedy assignment was returned because the solver's was worse on goals 1–3.
    greedy_floor: bool = False
    #: Solve goals 1–3 only (which facilities and roles can be covered); goals 4–5 are the
    #: coverage solution's values, unproven.  For questions about coverage alone (criticality).
    coverage_only: bool = False
    #: With ``coverage_only``: goals 1–2 only (how many facilities end all met, obligated first);
    #: goal 3 is then the solution's value, unproven.  Criticality needs no more, and CP-SAT
    #: proves two goals faster than three.
    full_only: bool = False
    #: After :meth:`solve`: the chosen rows of ``candidates`` as a mask.
    picked: np.ndarray | None = None

    @classmethod
    def from_frames(cls, candidates: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame,
                    stage_time_limit: float = 20.0, options: SolveOptions | None = None) -> CooperationModel:
        """``candidates``: facility_id, institution_id, role, cost, existing, pinned (the pair must
        be used), pinned_role (this very role must be assigned; optional column), truncated
        (optional: the facility's list for this role was cut to the nearest K);
        ``facilities`` (index facility_id): residents, obligated, missing (number of missing roles);
        ``institutions`` (index institution_id): optional capacity_facilities, capacity_residents,
        capacity_facilities_<role>, capacity_residents_<role> (NA = unlimited)."""
        cand = candidates.reset_index(drop=True)
        return cls(cand, facilities, institutions, stage_time_limit, options or SolveOptions())

    # -- solving -------------------------------------------------------------------
    def solve(self) -> CooperationModel:
        opts = self.options
        self.expand = []
        self.greedy_floor = False
        t0 = time.perf_counter()
        x = self._x = Instance.from_frames(self.candidates, self.facilities, self.institutions)
        n = len(x.f)
        if opts.reduce:
            red = reduce(x)
        else:  # everything through the solver, components over the whole candidate graph
            red = Reduction(np.ones(n, bool), np.zeros(n, bool), np.zeros(x.n_institutions, bool), x.caps)
        self._caps = red.caps
        comps = components(x, np.flatnonzero(red.active), red.free)
        picked = red.settled.copy()
        solver_comps = comps
        # Each facility's capacity-free best pattern: the closed form, and the solver's hint.
        if red.best is not None:
            relaxed, known = red.best, red.known
        else:
            relaxed, known = capacity_free_best(x, np.flatnonzero(red.active))
        if opts.reduce and comps:
            full = over(red.caps, usage(x, relaxed))
            # A facility whose best plan was not worked out (time slots) needs the solver.
            blocked = x.pinned | x.pinned_role | ~known[x.f]
            closed = [not (full[x.i[rows]].any() or blocked[rows].any()) for rows in comps]
            for rows, ok in zip(comps, closed, strict=True):
                if ok:
                    picked[rows] = relaxed[rows]
            solver_comps = [rows for rows, ok in zip(comps, closed, strict=True) if not ok]
        self.components = len(comps)
        self.closed_components = len(comps) - len(solver_comps)
        self.settled_facilities = int(len(np.unique(x.f[red.settled])))
        t1 = time.perf_counter()
        keys = [self._key(rows) for rows in solver_comps]
        # Re-use earlier results of the same content, unless goals 4–5 were skipped and this is the
        # last round (and they are wanted).
        todo = [k for k, key in enumerate(keys)
                if key not in self.cache or self.final and not self.coverage_only and not self.cache[key][3]]
        for k, out in zip(todo, _map_components(self, [solver_comps[k] for k in todo], opts.workers), strict=True):
            self.cache[keys[k]] = out
        self.solved_components = len(todo)
        parts = [self.cache[key] for key in keys]
        self.seconds = {"prepare": t1 - t0, "components": time.perf_counter() - t1}
        for rows, (chosen, _, _, _, floor) in zip(solver_comps, parts, strict=True):
            picked[rows] = chosen
            self.greedy_floor |= floor
        self.stages = self._account(picked, solver_comps, [(p, proof) for _, p, proof, _, _ in parts])
        if not all(s.optimal for s in self.stages[:3]):
            # Coverage not proven: never return less than the greedy rule on the same candidates.
            greedy = _greedy(x)
            values = facility_values(x, greedy).sum(axis=0)
            if _lex_key(values) > _lex_key([s.objective for s in self.stages]):
                picked, self.greedy_floor = greedy, True
                self.stages = _revalue(self.stages, values)
        self.picked = picked
        self.chosen = self.candidates[picked].reset_index(drop=True)
        return self

    def facility_coverage(self) -> pd.DataFrame:
        """After :meth:`solve`: per facility of the model, whether the chosen rows bring it to
        "all met" (``full``), whether it is obligated, and the roles they cover."""
        x = self._x
        values = facility_values(x, self.picked)
        return pd.DataFrame({"full": (values[:, 0] + values[:, 1]) > 0, "obligated": x.obligated.astype(bool),
                             "roles_covered": values[:, 2].astype(int)}, index=pd.Index(x.facility_ids,
                                                                                       name="facility_id"))

    def _account(self, picked: np.ndarray, solver_comps: list[np.ndarray],
                 parts: list[tuple[list[StageResult], tuple[bool, list]]]) -> list[StageResult]:
        """Objective, bound and proof of each goal, summed over facilities and components.

        Where a facility's candidate lists were cut to the nearest K, a bound must hold
        for the *full* lists.  Coverage: proven where :meth:`_cut_proof` says so, else
        the capacity-free bound (the same with or without the cut).  Agreements and
        travel: :meth:`_effort_bounds`."""
        x = self._x
        values = facility_values(x, picked)
        trivial = trivial_values(x)
        cut = np.zeros(x.n_facilities, bool)
        cut[x.f[x.truncated]] = True
        in_model = np.zeros(x.n_facilities, bool)
        in_model[x.f] = True
        objective = values.sum(axis=0)
        bound = objective.astype(float)
        optimal = np.ones(5, bool)
        solved = np.zeros(x.n_facilities, bool)
        uncut_parts = []  # (facilities, goals 4–5 bounds) of solver components with full lists
        # Goals 4–5 for the lists used: the components' own proven bounds (settled and closed-form
        # facilities took their best pattern, optimal for their lists).
        lists_bound = objective.astype(float)
        for rows, (part, (proven, wanted)) in zip(solver_comps, parts, strict=True):
            facs = np.unique(x.f[rows])
            solved[facs] = True
            for k in (3, 4):
                lists_bound[k] += part[k].bound - part[k].objective
            if cut[facs].any():
                self.expand += wanted
                limit = np.array([p.objective for p in part[:3]]) if proven else trivial[facs].sum(axis=0)
                part = _full_set_bounds(part, limit)
            else:
                uncut_parts.append((facs, [part[3].bound, part[4].bound]))
                # No bound from the solver (out of time): capacities ignored, every coverable role.
                part = [StageResult(p.name, p.sense, p.objective, float(trivial[facs, k].sum()), False)
                        if k < 3 and np.isnan(p.bound) else p for k, p in enumerate(part)]
            for k, p in enumerate(part):
                bound[k] += p.bound - p.objective
                optimal[k] &= p.optimal
        # Settled and closed-form facilities took their capacity-free optimum.
        plain = in_model & ~solved & cut
        if plain.any():
            bound[:3] += (trivial[plain, :3] - values[plain, :3]).sum(axis=0)
            optimal[:3] &= bool((values[plain, :3] >= trivial[plain, :3]).all())
        if cut.any():
            covered_all = bool(optimal[:3].all() and (objective[:3] >= trivial[in_model].sum(axis=0)).all())
            bound[3:] = self._effort_bounds(objective, covered_all, uncut_parts)
            optimal[3:] = [objective[3] <= bound[3], objective[3] <= bound[3] and objective[4] <= bound[4]]
        return [StageResult(name, sense, float(objective[k]), float(bound[k]), bool(optimal[k]),
                            float(lists_bound[k]) if cut.any() and k >= 3 else np.nan)
                for k, (name, sense) in enumerate(STAGES)]

    def _effort_bounds(self, objective: np.ndarray, covered_all: bool,
                       uncut_parts: list[tuple[np.ndarray, list[float]]]) -> list[float]:
        """Lower bounds on goals 4–5 (agreements, travel) valid for the *full* candidate lists.

        When every role that has a candidate is covered — coverage proven at its
        capacity-free bound — every optimal solution covers, for every facility, all
        of its coverable roles.  A facility then needs at least the agreements of its
        capacity-free best pattern (``closed_form.best_patterns``), and the cut lists
        hold that pattern: per role set, the nearest institutions able to take it as
        one agreement are never cut (``matching.roles.BLOCKS``).  A solver component with
        full lists contributes its own proven bound where that is higher.  Travel is
        bounded the same way, but only when agreements are at their bound (every part
        at its own), and only when the cost is travel alone: a preference penalty
        (``CooperationModel.travel_is_minutes`` False) may make a farther partner cheaper.

        Otherwise, and with time slots (the best pattern assumes one partner per role), no
        bound is claimed (NaN): the run says so."""
        if not covered_all or self._x.slots is not None:
            return [np.nan, np.nan]
        x = self._x
        best = facility_values(x, best_patterns(x))
        bounds = best[:, 3:].sum(axis=0)
        for facs, part in uncut_parts:
            for k in range(2):
                if not np.isnan(part[k]):
                    bounds[k] += max(0.0, part[k] - best[facs, 3 + k].sum())
        travel = bounds[1] if objective[3] <= bounds[0] and self.travel_is_minutes else np.nan
        return [float(bounds[0]), float(travel)]

    @staticmethod
    def _formulation(x: Instance, *args, **kwargs):
        """One component's CP-SAT model: one partner per role, or by time slots."""
        return (ComponentFormulation if x.slots is None else slots.SlotFormulation)(x, *args, **kwargs)

    def _cut_proof(self, rows: np.ndarray, part: list[StageResult],
                   start: np.ndarray) -> tuple[bool, list[tuple[str, str]]]:
        """Is this component's coverage optimal for the *full* candidate lists?

        Yes if nothing was cut, or the capacity-free bound is met.  Else the phantom
        model decides (every cut list may also reach an institution beyond the cut,
        assumed to have room: a relaxation of the full lists); if its optimum is not
        higher, proven — if it is, the cut (facility, role) lists it used are returned,
        to be lengthened."""
        x = self._x
        if not x.truncated[rows].any():
            return True, []
        _, trivial = coverable(x, rows)
        if all(part[k].objective >= trivial[:, k].sum() for k in range(3)):
            return True, []
        f = self._formulation(x, rows, self._caps, start, phantoms=True)
        bound, wanted = f.phantom_bound(self.stage_time_limit)
        if bound is not None and bound <= f.coverage_value(part):
            return True, []
        return False, [(x.facility_ids[g], ROLES[r]) for g, r in map(fr_split, wanted)]

    def _key(self, rows: np.ndarray) -> bytes:
        """A component's content: same content, same model, same result (solves are deterministic)."""
        x = self._x
        h = hashlib.blake2b(digest_size=16)
        h.update("\0".join(x.facility_ids[x.f[rows]]).encode())
        h.update("\0".join(x.institution_ids[x.i[rows]]).encode())
        for a in (x.role, x.cost, x.existing, x.pinned, x.pinned_role, x.truncated,
                  *((x.slots, x.have, x.room) if x.slots is not None else ())):
            h.update(np.ascontiguousarray(a[rows]).tobytes())
        f = x.f[rows]
        for a in (x.residents[f], x.obligated[f], x.missing[f]):
            h.update(np.ascontiguousarray(a).tobytes())
        i = np.unique(x.i[rows])
        for column in sorted(self._caps):
            h.update(column.encode() + np.ascontiguousarray(self._caps[column][i]).tobytes())
        h.update(repr((self.stage_time_limit, self.options.large_component, self.options.large_time_limit,
                       self.coverage_only and self.full_only)).encode())
        return h.digest()

    def _solve_component(self, rows: np.ndarray):
        """CP-SAT on one component's candidate rows: which of them are chosen, the goals, and
        whether coverage is proven for the full candidate lists (:meth:`_cut_proof`).

        The greedy assignment of the component's rows is the solver's starting point and its floor.
        It is the whole run's greedy assignment there: components share only institutions whose
        capacity cannot bind.  Worked out here, in the worker, for the components solved only."""
        start = _greedy(self._x, rows, self._caps)
        f = self._formulation(self._x, rows, self._caps, start)
        if self.coverage_only and self.full_only:  # weights: one obligated outweighs every effort-type
            _, _, weights = f.levels[0]
            f.levels = (("maximize", (0, 1), (weights[0] // weights[1], 1)), f.levels[1])
            f.hint = None  # without the greedy hint CP-SAT proves goals 1–2 sooner (demo: −23%)
        large = self.options.large_component
        limit = self.options.large_time_limit if large is not None and len(rows) >= large else None
        proof = {}

        def proceed(coverage: list[StageResult]) -> bool:
            # A component whose cut lists will be lengthened is solved again: skip goals 4–5 now.
            proof["coverage"] = self._cut_proof(rows, coverage, start)
            proven, wanted = proof["coverage"]
            return not self.coverage_only and (proven or not wanted or self.final)

        chosen_w, parts = f.solve(self.stage_time_limit if limit is None else limit, self.options.effort_time_limit,
                                  proceed)
        coverage = proof.get("coverage") or self._cut_proof(rows, parts, start)
        complete = not self.coverage_only and (coverage[0] or not coverage[1] or self.final)  # goals 4–5 solved
        chosen = f.rows_of(chosen_w)
        greedy = start[rows]
        floor = False
        if _coverage_key(self._x, rows[greedy]) > _coverage_key(self._x, rows[chosen]):
            # The solver ran out of time below the greedy assignment: the floor holds.
            chosen, parts, floor = greedy, _revalue(parts, self._values(rows, greedy)), True
        return chosen, parts, coverage, complete, floor

    def _values(self, rows: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The five goals' totals when the rows ``rows[local]`` are chosen."""
        picked = np.zeros(len(self._x.f), bool)
        picked[rows[local]] = True
        return facility_values(self._x, picked).sum(axis=0)


class ComponentFormulation:
    """The model of the module docstring for one component, built from arrays.

    Variables: one boolean ``w`` per (pair, role subset); ``z_f`` per facility that
    could be completed.  ``x_c`` and ``y_p`` are sums of ``w`` and never variables.
    """

    #: CP-SAT's ``linearization_level`` per solve (see :func:`_solver`).
    linearization = {"maximize": 2, "minimize": 2}

    def __init__(self, x: Instance, rows: np.ndarray, caps: dict[str, np.ndarray],
                 hint: np.ndarray | None = None, phantoms: bool = False):
        self.order = np.lexsort((x.role[rows], x.pair[rows]))  # pairs together, roles in order
        rows = rows[self.order]
        self.x, self.rows = x, rows
        m = self.m = CpModel()
        pair = x.pair[rows]
        start = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        size = np.diff(np.r_[start, len(rows)])
        # w_pS for every non-empty subset S of each pair's candidate rows (local row offsets).
        w_pair, w_rows = [], []
        for p, (s0, k) in enumerate(zip(start, size, strict=True)):
            for subset in SUBSETS[k]:
                w_pair.append(p)
                w_rows.append([s0 + j for j in subset])
        self.w_rows = w_rows
        w = self.w = [m.new_bool_var("") for _ in w_rows]
        w_pair = np.array(w_pair)
        entry_w = np.repeat(np.arange(len(w)), [len(r) for r in w_rows])  # (w, row) incidences
        entry_row = np.concatenate(w_rows) if w_rows else np.zeros(0, int)
        self.incidence = entry_w, entry_row
        cost = x.cost[rows]
        w_cost = np.bincount(entry_w, weights=cost[entry_row], minlength=len(w)).astype(np.int64)
        w_size = np.bincount(entry_w, minlength=len(w))
        fac, role, inst = x.f[rows], x.role[rows], x.i[rows]
        new_pair = ~x.existing[rows][start]
        res = x.residents[fac]

        for ws in _groups(w_pair, np.arange(len(w))):
            m.add_at_most_one([w[k] for k in ws])          # Σ_S w_pS ≤ 1
        fr = fr_key(fac, role)  # one key per (facility, role)
        by_fr = _groups(fr[entry_row], entry_w)
        fr_keys = np.unique(fr[entry_row])
        # Phantoms (bound only): a (facility, role) whose list was cut may be covered by an
        # institution beyond the cut, assumed to have room — a relaxation of the full lists.
        cut = set(np.unique(fr[x.truncated[rows]]).tolist()) if phantoms else set()
        self.phantom = {int(key): m.new_bool_var("") for key in fr_keys if key in cut}
        covers_fr = []
        for key, ws in zip(fr_keys, by_fr, strict=True):
            vs = [w[k] for k in ws] + ([self.phantom[int(key)]] if int(key) in self.phantom else [])
            covers_fr.append(vs)
            m.add_at_most_one(vs)                          # one institution per (facility, role)
        # z_f ≤ x_(f,r) for every missing role r; a facility with a role nobody can take has no z.
        n_roles = np.bincount(fr_facility(fr_keys), minlength=x.n_facilities)
        facs = np.unique(fac)
        z = {int(g): m.new_bool_var("") for g in facs if n_roles[g] == x.missing[g]}
        for key, vs in zip(fr_keys, covers_fr, strict=True):
            g = int(fr_facility(key))
            if g in z:
                m.add(cp_model.LinearExpr.sum(vs) >= z[g])
        # Pinned pairs and roles.
        self._pins = [np.flatnonzero(w_pair == p) for p in
                      np.unique(np.searchsorted(start, np.flatnonzero(x.pinned[rows]), side="right") - 1)]
        self._pins += [entry_w[entry_row == r] for r in np.flatnonzero(x.pinned_role[rows])]
        for ws in self._pins:
            m.add(cp_model.LinearExpr.sum([w[k] for k in ws]) == 1)
        # Coverage at its capacity-free bound, as constraints (:meth:`_fix_full_coverage`).
        self._by_fr, self._z = (by_fr, list(z.values())) if not self.phantom else (None, None)
        self._caps_added: list[tuple[np.ndarray, np.ndarray, int]] = []
        # Capacities (residual after settled facilities), in new partner facilities and residents.
        w_new = np.flatnonzero(new_pair[w_pair])
        w_inst = inst[start][w_pair]
        w_res = res[start][w_pair]
        self._capacity(caps.get("capacity_facilities"), w_inst[w_new], w_new, np.ones(len(w_new), np.int64))
        self._capacity(caps.get("capacity_residents"), w_inst[w_new], w_new, w_res[w_new])
        for k, r in enumerate(ROLES):
            on = role[entry_row] == k
            self._capacity(caps.get(f"capacity_facilities_{r}"), inst[entry_row[on]], entry_w[on],
                           np.ones(int(on.sum()), np.int64))
            self._capacity(caps.get(f"capacity_residents_{r}"), inst[entry_row[on]], entry_w[on],
                           res[entry_row[on]])

        obligated = x.obligated
        zo = [z[g] for g in z if obligated[g]]
        ze = [z[g] for g in z if not obligated[g]]
        phantom = list(self.phantom.values())
        self.terms = [cp_model.LinearExpr.sum(zo), cp_model.LinearExpr.sum(ze),
                      cp_model.LinearExpr.weighted_sum(w + phantom, w_size.tolist() + [1] * len(phantom)),
                      cp_model.LinearExpr.sum([w[k] for k in w_new]),
                      cp_model.LinearExpr.weighted_sum(w, w_cost.tolist())]
        self.empty = [not zo, not ze, not w, len(w_new) == 0, not w]
        #: Goals 1–3 with capacities ignored: every (facility, role) with a candidate covered.
        self.coverage_bound = [len(zo), len(ze), len(fr_keys)]
        # Exact lexicographic weights: each level outweighs everything below it.
        w_effort = len(fr_keys) + 1  # roles covered ≤ number of (facility, role) pairs
        w_obligated = w_effort * (len(ze) + 1)
        w_agreements = int(cost.sum()) + 1  # travel cost ≤ Σ cost
        self.levels = (("maximize", (0, 1, 2), (w_obligated, w_effort, 1)),
                       ("minimize", (3, 4), (w_agreements, 1)))
        # Each row's pair and bit within it, each w's pair and rows as bits: which w a choice of rows is.
        self._n_pairs = len(start)
        self._row_pair = np.searchsorted(start, np.arange(len(rows)), side="right") - 1
        self._row_bit = 1 << (np.arange(len(rows)) - np.repeat(start, size))
        self._w_pair = w_pair
        self._w_bits = np.array([sum(1 << (j - start[p]) for j in r) for p, r in zip(w_pair, w_rows, strict=True)],
                                np.int64) if w_rows else np.zeros(0, np.int64)
        # Hint: the greedy assignment (feasible, so CP-SAT starts from a solution).
        self.hint = self.w_values((greedy_rows(x, rows, caps) if hint is None else hint)[rows])

    def w_values(self, picked: np.ndarray) -> np.ndarray:
        """The ``w`` that choose the rows ``picked`` (a mask over the component's rows in the
        model's order): per pair, the one ``w`` of exactly its picked rows (none if none)."""
        bits = np.zeros(self._n_pairs, np.int64)
        np.bitwise_or.at(bits, self._row_pair, np.where(picked, self._row_bit, 0))
        return self._w_bits == bits[self._w_pair] if len(self.w) else np.zeros(0, bool)

    def covers_all(self, chosen: np.ndarray) -> bool:
        """Is ``chosen`` (a ``w`` mask) feasible and at the capacity-free coverage bound — every
        (facility, role) with a candidate covered?  Then it is optimal for goals 1–3 without a solve."""
        if self._by_fr is None or chosen is None or len(chosen) != len(self.w):
            return False
        at_most_one = all(np.count_nonzero(chosen[ws]) == 1 for ws in self._by_fr)
        pins = all(np.count_nonzero(chosen[ws]) == 1 for ws in self._pins)
        caps = all(int(coef[chosen[ws]].sum()) <= c for ws, coef, c in self._caps_added)
        return at_most_one and pins and caps

    def _fix_full_coverage(self) -> None:
        """Goals 1–3 at the capacity-free bound, stated as what it means — each (facility, role)
        covered exactly once, every facility that can be completed completed — rather than as one
        weighted sum ≥ its optimum: CP-SAT's presolve and LP use the equalities (national instance:
        the agreements-and-travel solves of the largest components ~2× faster)."""
        for ws in self._by_fr:
            self.m.add_exactly_one([self.w[k] for k in ws])
        for v in self._z:
            self.m.add(v == 1)

    def phantom_bound(self, time_limit: float) -> tuple[int | None, list[int]]:
        """Coverage (goals 1–3 as one weighted sum) of the model with phantoms, and the
        (facility, role) keys (``matching.roles.fr_key``) whose phantom the optimum needs.

        An upper bound on what the *full* candidate lists allow, valid only when proven:
        None if the solver could not prove it in time.  Phantoms are used only where they
        strictly add coverage (each costs one unit below the lowest weight)."""
        m = self.m
        sense, idx, weights = self.levels[0]
        scale = len(self.phantom) + 1
        coverage = cp_model.LinearExpr.weighted_sum([self.terms[k] for k in idx], list(weights))
        m.maximize(scale * coverage - cp_model.LinearExpr.sum(list(self.phantom.values())))
        solver = _solver(time_limit)
        if solver.solve(m) != cp_model.OPTIMAL:
            return None, []
        return int(solver.value(coverage)), [k for k, v in self.phantom.items() if solver.boolean_value(v)]

    def coverage_value(self, parts: list[StageResult]) -> int:
        """Goals 1–3 of a solution as the weighted sum :meth:`phantom_bound` compares with."""
        _, idx, weights = self.levels[0]
        return int(sum(w * parts[k].objective for k, w in zip(idx, weights, strict=True)))

    def _capacity(self, cap: np.ndarray | None, inst: np.ndarray, ws: np.ndarray, coef: np.ndarray) -> None:
        """Σ coef · w ≤ cap_i for every institution i with a stated capacity."""
        if cap is None or len(ws) == 0:
            return
        for i, idx in zip(*_grouped(inst), strict=True):
            c = cap[i]
            if np.isnan(c) or coef[idx].sum() <= c:
                continue  # unlimited, or cannot bind
            self.m.add(cp_model.LinearExpr.weighted_sum([self.w[k] for k in ws[idx]], coef[idx].tolist())
                       <= int(c))
            self._caps_added.append((ws[idx], coef[idx], int(c)))

    def _local(self, chosen_w: np.ndarray) -> np.ndarray:
        local = np.zeros(len(self.rows), bool)
        for k in np.flatnonzero(chosen_w):
            local[self.w_rows[k]] = True
        return local

    def rows_of(self, chosen_w: np.ndarray) -> np.ndarray:
        """Chosen ``w`` → a mask over the component's rows, in the order they were given."""
        out = np.zeros(len(self.rows), bool)
        out[self.order] = self._local(chosen_w)
        return out

    def values(self, chosen_w: np.ndarray) -> list[float]:
        """The five goals' values of a choice of ``w``."""
        picked = np.zeros(len(self.x.f), bool)
        picked[self.rows[self._local(chosen_w)]] = True
        return facility_values(self.x, picked).sum(axis=0).tolist()

    def solve(self, time_limit: float, effort_limit: float | None = None,
              proceed: Callable[[list[StageResult]], bool] | None = None) -> tuple[np.ndarray, list[StageResult]]:
        """Maximise coverage (goals 1–3 as one exactly weighted sum), keep it, then
        minimise agreements and travel (goals 4–5, likewise).  Two solves instead of
        five: the weights make the order exact, and CP-SAT proves each faster.
        ``effort_limit`` caps the second solve (deterministic seconds); ``proceed``, given
        the coverage goals, may skip it (goals 4–5 are then the coverage solution's, unproven).

        If a time-limited solve ends without a solution, the last solution stands,
        valued by :meth:`values`, with the solver's proven bound."""
        m = self.m
        solver = _solver(time_limit)
        values = [0] * 5
        bounds = [0.0] * 5
        optimal = [True] * 5
        chosen = np.zeros(len(self.w), bool)
        hint = self.hint
        for sense, idx, weights in self.levels:
            if sense == "maximize" and self.covers_all(hint):
                # The starting assignment already covers everything coverable: proven, no solve.
                chosen = hint
                for k in idx:
                    values[k] = bounds[k] = self.coverage_bound[k]
                    optimal[k] = True
                self._fix_full_coverage()
                continue
            if sense == "minimize" and proceed is not None and not proceed(self._stages(values, bounds, optimal)[:3]):
                vals = self.values(chosen)
                for k in idx:
                    values[k], bounds[k], optimal[k] = vals[k], np.nan, False
                break
            if all(self.empty[k] for k in idx):
                continue
            expr = cp_model.LinearExpr.weighted_sum([self.terms[k] for k in idx], list(weights))
            set_objective(m, expr, sense == "maximize")
            solver.parameters.linearization_level = self.linearization[sense]
            if sense == "minimize" and effort_limit is not None:
                solver.parameters.max_deterministic_time = min(time_limit, effort_limit)
            set_hint(m, self.w, hint)
            status = solver.solve(m)
            lead = idx[0]
            if status == cp_model.INFEASIBLE:
                raise InfeasibleError(
                    "no feasible assignment: pinned pairs exceed an institution's capacity or conflict")
            if status == cp_model.MODEL_INVALID:
                raise RuntimeError(m.validate())
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                # Out of time before any solution: keep the last one.  No bound is claimed:
                # CP-SAT's objective bound without a solution was seen below a feasible value
                # (the caller falls back to the capacity-free bound for coverage).
                vals = self.values(chosen)
                for k in idx:
                    values[k], bounds[k], optimal[k] = vals[k], np.nan, False
                continue
            obj = round(solver.objective_value)
            chosen = boolean_values(solver, self.w)
            hint = chosen
            is_opt = status == cp_model.OPTIMAL
            for k in idx:
                values[k] = int(solver.value(self.terms[k]))
                bounds[k] = values[k] if is_opt else np.nan
                optimal[k] = is_opt
            if not is_opt:
                # The proven bound of the leading term: the level's weighted sum is within the
                # solver's bound B and the lower terms lie in [0, weight), so the leading goal is at
                # most ⌊B / weight⌋ when maximising and at least ⌊B / weight⌋ when minimising — not
                # ⌈B / weight⌉, which a solution with lower terms above B mod weight stays below.
                bounds[lead] = np.floor(solver.best_objective_bound / weights[0] + 1e-9)
            if sense == "maximize" and is_opt and self.covers_all(chosen):
                self._fix_full_coverage()
            else:
                m.add(expr >= obj) if sense == "maximize" else m.add(expr <= obj)
        return chosen, self._stages(values, bounds, optimal)

    @staticmethod
    def _stages(values, bounds, optimal) -> list[StageResult]:
        return [StageResult(name, sense, float(values[k]), float(bounds[k]), optimal[k])
                for k, (name, sense) in enumerate(STAGES)]

    def solve_all_met(self, time_limit: float, without: np.ndarray | None = None,
                      better_than: tuple[int, int] | None = None, only: np.ndarray | None = None,
                      start: np.ndarray | None = None) -> tuple[np.ndarray | None, bool]:
        """Goals 1–2 only — facilities all met, obligated first, as one exactly weighted sum —
        with the component's rows ``without`` (a mask over :attr:`rows` as given) left out for this
        solve only: the ``w`` that use one are fixed to 0 in the model and set free again after.
        So one model serves every "what if these rows were gone" of a component (criticality),
        built once.  ``only`` (whole facilities' rows, a mask likewise) restricts the solve to
        those rows: every other row keeps its choice in ``start`` (which must not choose a row
        ``without``).  ``better_than`` (facilities all met: obligated, effort-type) admits only
        solutions above it (as the objective's domain).  Returns the chosen ``w`` and whether the
        optimum is proven; None and True if nothing beats ``better_than``; nothing chosen and
        False when no solution is found in ``time_limit``."""
        m = self.m
        entry_w, entry_row = self.incidence
        off = np.zeros(len(self.w), bool)  # fixed to 0
        on = np.zeros(len(self.w), bool)  # fixed to 1
        if without is not None:
            off[entry_w[without[self.order][entry_row]]] = True  # (the model's rows are in its own order)
        if only is not None:
            kept = np.zeros(len(self.w), bool)
            kept[entry_w[~only[self.order][entry_row]]] = True
            chosen = self.w_values(start[self.order])
            on |= kept & chosen
            off |= kept & ~chosen
        _, _, weights = self.levels[0]
        ratio = weights[0] // weights[1]  # one obligated facility outweighs every effort-type one
        expr = cp_model.LinearExpr.weighted_sum([self.terms[0], self.terms[1]], [ratio, 1])
        set_objective(m, expr, True)
        if better_than is not None:  # in the objective CP-SAT minimises, −(ratio·obligated + effort-type)
            most = (ratio + 1) * len(self.w)  # more than any solution's value (a facility has a w)
            m.model_proto.objective.domain.extend([-most, -(ratio * better_than[0] + better_than[1] + 1)])
        set_hint(m, self.w, None)  # without a hint CP-SAT proves goals 1–2 sooner (see _solve_component)
        solver = _solver(time_limit)
        solver.parameters.linearization_level = self.linearization["maximize"]
        # Every linear constraint in the LP from the start, not added lazily when violated: these
        # solves mostly prove that nothing beats a repair, where the whole relaxation pays. Replayed
        # on the same models: the demo's 53 criticality solves 3.5 s instead of 6.4 s, the same
        # answers. Not for the run's goals 4-5: one demo variant's agreements solve went from
        # 0.75 s to its 20 s limit, unproven.
        solver.parameters.add_lp_constraints_lazily = False
        variables = m.model_proto.variables
        fixed = [(variables[self.w[k].index].domain, int(on[k])) for k in np.flatnonzero(off | on)]
        for domain, value in fixed:
            domain[0] = domain[1] = value
        try:
            status = solver.solve(m)
        finally:
            for domain, _ in fixed:
                domain[0], domain[1] = 0, 1
            m.model_proto.objective.domain.clear()
        if status == cp_model.INFEASIBLE:
            if better_than is not None:
                return None, True
            raise InfeasibleError("no feasible assignment: pinned pairs exceed an institution's capacity or conflict")
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return np.zeros(len(self.w), bool), False
        return boolean_values(solver, self.w), status == cp_model.OPTIMAL



class CpModel(cp_model.CpModel):
    """A CP-SAT model without OR-Tools' pre-PEP 8 aliases (``AddBoolOr`` …): setting them up is a
    ``setattr`` per method on every model, 0.4 s over a national run's 600 component models."""

    def _add_pre_pep8_methods(self) -> None:
        pass


#: OR-Tools flattens a linear expression for us (``FlatIntExpr``, recent releases).
_BULK_OBJECTIVE = hasattr(cp_model_helper, "FlatIntExpr")


def set_objective(m: cp_model.CpModel, expr, maximize: bool) -> None:
    """``m.maximize(expr)`` / ``m.minimize(expr)`` for an integer linear ``expr``, written into the
    model's proto in bulk (OR-Tools appends variable by variable: 0.5 s over a national run).
    OR-Tools releases without ``FlatIntExpr`` set it their own way."""
    if not _BULK_OBJECTIVE:
        (m.maximize if maximize else m.minimize)(expr)
        return
    m.clear_objective()
    flat = cp_model_helper.FlatIntExpr(expr)
    sign = -1 if maximize else 1
    objective = m.model_proto.objective
    objective.vars.extend([v.index for v in flat.vars])
    objective.coeffs.extend([sign * c for c in flat.coeffs])
    objective.scaling_factor = float(sign)
    objective.offset = sign * flat.offset


def set_hint(m: cp_model.CpModel, variables: list, values: np.ndarray | None) -> None:
    """``m``'s solution hint: ``variables`` (Boolean, not negated) take ``values`` (None: no hint).
    Written into the model's proto in two calls; ``add_hint`` per variable took seconds on a
    national run."""
    m.clear_hints()
    if values is None:
        return
    hint = m.model_proto.solution_hint
    hint.vars.extend([v.index for v in variables])
    hint.values.extend(np.asarray(values, bool).astype(int).tolist())


def boolean_values(solver: cp_model.CpSolver, variables: list) -> np.ndarray:
    """The solution's values of ``variables`` (Boolean, not negated), read from the response at once."""
    if not variables:  # nothing to read (the solver may not have run)
        return np.zeros(0, bool)
    solution = np.array(list(solver.response_proto.solution), np.int64)
    return solution[[v.index for v in variables]].astype(bool)


def _solver(time_limit: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # single-threaded with a fixed seed: deterministic
    solver.parameters.random_seed = 0
    solver.parameters.linearization_level = 2  # the LP relaxation is tight here; use it fully
    # Probing and symmetry detection cost more than they find on these small set-partitioning
    # models (measured: −20% solve time on the national instance, same optima).
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    # One presolve pass and no in-processing: on the national instance's fifteen largest
    # component models 1.61 s instead of 1.95 s, all components 4.9 s instead of 6.0 s, the same
    # optima (time slots: 15.8 s instead of 19.1 s for the whole match).
    solver.parameters.max_presolve_iterations = 1
    solver.parameters.use_sat_inprocessing = False
    solver.parameters.max_deterministic_time = time_limit
    return solver


class InfeasibleError(RuntimeError):
    """The coordinators' pinned pairs cannot all be honoured."""


#: Non-empty subsets of a pair's 1 … N_ROLES candidate rows (one per role), as local offsets.
SUBSETS = {k: [tuple(j for j in range(k) if s >> j & 1) for s in range(1, 1 << k)] for k in range(N_ROLES + 1)}


def _grouped(keys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct keys and, for each, the positions holding it."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    cut = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, int)
    ends = [*cut[1:].tolist(), len(k)] if len(k) else []
    # Plain slices: np.split costs several times more per group (a national run makes ~100,000).
    return k[cut], [order[a:b] for a, b in zip(cut.tolist(), ends, strict=True)]


def _groups(keys: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """``values`` grouped by ``keys`` (groups in key order)."""
    _, idx = _grouped(keys)
    return [values[i] for i in idx]


def _greedy(x: Instance, rows: np.ndarray | None = None, caps: dict | None = None) -> np.ndarray:
    """The greedy assignment (the solver's hint and floor): one partner per role, or by slots."""
    return greedy_rows(x, rows, caps) if x.slots is None else slots.greedy_rows(x, rows, caps)


def facility_values(x: Instance, picked: np.ndarray) -> np.ndarray:
    """The five goals' values of the chosen rows, one row per facility code."""
    if x.slots is not None:
        return slots.facility_values(x, picked)
    n_f = x.n_facilities
    f = x.f[picked]
    covered = np.bincount(f, minlength=n_f)
    full = covered == x.missing
    new = picked & ~x.existing
    _, first = np.unique(x.pair[new], return_index=True)
    agreements = np.bincount(x.f[np.flatnonzero(new)[first]], minlength=n_f)
    travel = np.bincount(f, weights=x.cost[picked], minlength=n_f)
    return np.stack([full & x.obligated, full & ~x.obligated, covered, agreements, travel], axis=1).astype(float)


def _lex_key(values) -> tuple[float, float, float]:
    """Goals 1–3 (maximised) as a tuple that compares lexicographically."""
    return tuple(float(v) for v in list(values)[:3])


def _coverage_key(x: Instance, picked: np.ndarray) -> tuple[float, float, float]:
    """:func:`_lex_key` of the rows ``picked`` (indices), counted over their facilities only."""
    if x.slots is not None:
        return slots.coverage_key(x, picked)
    facs, covered = np.unique(x.f[picked], return_counts=True)
    full = covered == x.missing[facs]
    return float((full & x.obligated[facs]).sum()), float((full & ~x.obligated[facs]).sum()), float(len(picked))


def _revalue(stages: list[StageResult], values) -> list[StageResult]:
    """``stages`` with the objective of another solution (the bounds stay; proven only if met)."""
    out = []
    for s, v in zip(stages, values, strict=True):
        met = v >= s.bound if s.sense == "maximize" else v <= s.bound
        out.append(StageResult(s.name, s.sense, float(v), s.bound, bool(met)))
    return out


def coverable(x: Instance, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The facilities among ``rows`` and their coverage if capacities were unlimited:
    every role with a candidate covered (goals 1–3, one row per facility)."""
    if x.slots is not None:
        return slots.coverable(x, rows)
    facs, at = np.unique(x.f[rows], return_inverse=True)
    mask = np.zeros(len(facs), np.int64)
    np.bitwise_or.at(mask, at, x.bit[rows])
    roles = POPCOUNT[mask]
    full = roles == x.missing[facs]
    return facs, np.stack([full & x.obligated[facs], full & ~x.obligated[facs], roles], axis=1).astype(float)


def trivial_values(x: Instance) -> np.ndarray:
    """:func:`coverable` for every facility of ``x``, one row per facility code."""
    facs, values = coverable(x, np.arange(len(x.f)))
    out = np.zeros((x.n_facilities, 3))
    out[facs] = values
    return out


def _full_set_bounds(parts: list[StageResult], trivial: np.ndarray) -> list[StageResult]:
    """Bounds valid for the *full* candidate lists of a component whose lists were cut."""
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
    return _ACTIVE._solve_component(rows)


def _map_components(model: CooperationModel, comps: list[np.ndarray], workers: int) -> list:
    """Solve components, in ``workers`` forked processes if asked; results in input order.

    Each component's solve is deterministic on its own, and results are placed by
    position, so the output is the same whatever the scheduling."""
    global _ACTIVE
    big = sum(len(c) for c in comps)
    if workers <= 1 or len(comps) < 2 or big < PARALLEL_MIN_ROWS or not can_fork():
        return [model._solve_component(rows) for rows in comps]
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
