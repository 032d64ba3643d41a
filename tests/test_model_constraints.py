"""The CP-SAT formulation's constraints, checked against a brute-force enumeration.

``ComponentFormulation`` is built directly on small random candidate tables (no reduction,
no closed form, no greedy floor in between), so every constraint it adds must hold in what it
returns and no optimum may be cut off: one partner per (facility, role), a pair's agreement
counted once, the whole-institution capacities in new partner facilities and residents
(agreements in force use none), the per-role capacities (every assigned role counts), pinned
pairs and roles, and the lexicographic order of the five goals.  The enumeration shares
nothing with the formulation but the candidate table.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from matching.optimise.instance import CAPACITY_COLUMNS, ROLES, Instance
from matching.optimise.model import ComponentFormulation, InfeasibleError, StageResult

SEEDS = range(40)


def _table(seed: int):
    """A random candidate table (≤ 3 facilities × 3 institutions), facilities, institutions."""
    rng = np.random.default_rng([22, seed])
    n_fac, n_inst = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    fids, iids = [f"F{k}" for k in range(n_fac)], [f"I{k}" for k in range(n_inst)]
    rows, missing = [], {}
    for f in fids:
        lacks = [r for r in ROLES if rng.random() < 0.6] or [str(rng.choice(ROLES))]
        missing[f] = len(lacks)
        for i in iids:
            existing, pinned = bool(rng.random() < 0.2), bool(rng.random() < 0.08)
            for r in lacks:
                if rng.random() < 0.55:
                    rows.append({"facility_id": f, "institution_id": i, "role": r,
                                 "cost": int(rng.integers(1, 90)), "existing": existing, "pinned": pinned,
                                 "pinned_role": bool(rng.random() < 0.04)})
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing", "pinned",
                                       "pinned_role"])
    if cand.empty:
        return None
    used = sorted(set(cand["facility_id"]))
    fac = pd.DataFrame({"residents": rng.choice([20, 45, 70], n_fac), "obligated": rng.random(n_fac) < 0.5,
                        "missing": [missing[f] for f in fids]}, index=fids).loc[used]
    caps = {}
    for column in CAPACITY_COLUMNS:
        values = [np.nan] * 3 + ([0, 1, 2] if "facilities" in column else [50, 100])
        caps[column] = pd.array([values[int(rng.integers(len(values)))] for _ in iids], dtype="Float64")
    inst = pd.DataFrame(caps, index=iids)
    return cand, fac, inst


class Brute:
    """Every assignment of at most one candidate row per (facility, role), judged by hand
    (plain Python over the table's rows: no arrays shared with the formulation)."""

    def __init__(self, cand: pd.DataFrame, fac: pd.DataFrame, inst: pd.DataFrame, rows: list[int],
                 phantom: frozenset = frozenset()):
        self.r = {k: cand.loc[k].to_dict() for k in rows}
        self.residents = {f: int(v) for f, v in fac["residents"].items()}
        self.missing = {f: int(v) for f, v in fac["missing"].items()}
        self.obligated = {f: bool(v) for f, v in fac["obligated"].items()}
        self.caps = {(iid, col): float(v) for iid, row in inst.iterrows() for col, v in row.items()
                     if col in CAPACITY_COLUMNS and pd.notna(v)}
        self.groups: dict[tuple, list[int]] = {}
        for k in rows:
            self.groups.setdefault((self.r[k]["facility_id"], self.r[k]["role"]), []).append(k)
        self.pinned_pairs = {(r["facility_id"], r["institution_id"]) for r in self.r.values() if r["pinned"]}
        self.pinned_rows = {k for k, r in self.r.items() if r["pinned_role"]}
        self.phantom = phantom  # (facility, role) keys a phantom institution may also cover

    def feasible(self, chosen: list[int]) -> bool:
        rs = [self.r[k] for k in chosen]
        if len({(r["facility_id"], r["role"]) for r in rs}) < len(rs):
            return False
        used: dict[tuple, float] = {}
        new = {(r["facility_id"], r["institution_id"]) for r in rs if not r["existing"]}
        for f, i in new:  # an agreement counts once, however many roles it covers
            used[i, "capacity_facilities"] = used.get((i, "capacity_facilities"), 0) + 1
            used[i, "capacity_residents"] = used.get((i, "capacity_residents"), 0) + self.residents[f]
        for r in rs:  # per role: every assigned role counts, agreement in force or not
            i, f = r["institution_id"], r["facility_id"]
            used[i, f"capacity_facilities_{r['role']}"] = used.get((i, f"capacity_facilities_{r['role']}"), 0) + 1
            used[i, f"capacity_residents_{r['role']}"] = (used.get((i, f"capacity_residents_{r['role']}"), 0)
                                                          + self.residents[f])
        if any(n > self.caps.get(key, np.inf) for key, n in used.items()):
            return False
        pairs = {(r["facility_id"], r["institution_id"]) for r in rs}
        return self.pinned_pairs <= pairs and self.pinned_rows <= set(chosen)

    def value(self, chosen: list[int], phantoms: tuple = ()) -> tuple:
        """(obligated full, effort full, roles covered, new agreements, travel) of a choice."""
        rs = [self.r[k] for k in chosen]
        covered: dict[str, int] = {}
        for f in [r["facility_id"] for r in rs] + [f for f, _ in phantoms]:
            covered[f] = covered.get(f, 0) + 1
        full = [f for f, n in covered.items() if n == self.missing[f]]
        ob = sum(self.obligated[f] for f in full)
        new = {(r["facility_id"], r["institution_id"]) for r in rs if not r["existing"]}
        return ob, len(full) - ob, len(rs) + len(phantoms), len(new), int(sum(r["cost"] for r in rs))

    def choices(self):
        keys = list(self.groups)
        options = [[None] + self.groups[k] + (["phantom"] if k in self.phantom else []) for k in keys]
        for pick in itertools.product(*options):
            chosen = [k for k in pick if k not in (None, "phantom")]
            phantoms = tuple(key for key, k in zip(keys, pick, strict=True) if k == "phantom")
            if self.feasible(chosen):
                yield chosen, phantoms

    def best(self) -> tuple | None:
        """The lexicographic optimum (maximise goals 1–3, minimise 4–5), None if infeasible."""
        keyed = [(v[0], v[1], v[2], -v[3], -v[4]) for v in (self.value(ch) for ch, _ in self.choices())]
        return max(keyed) if keyed else None


def _case(seed: int):
    table = _table(seed)
    if table is None:
        pytest.skip("no candidate drawn")
    cand, fac, inst = table
    rng = np.random.default_rng([23, seed])
    # The component's rows in any order, sometimes leaving rows out: the formulation must index
    # by the rows it is given, not by position in the table.
    rows = rng.permutation(len(cand))
    if seed % 3 == 0 and len(rows) > 1:
        rows = rows[: len(rows) - 1]
    return cand, fac, inst, np.sort(rows) if seed % 2 else rows


def _drawn_cases():
    """Every seed whose table is drawn: the seed, the instance, the component's rows (as
    :func:`_case` gives them) and the brute force on those rows."""
    for seed in SEEDS:
        if _table(seed) is None:
            continue
        cand, fac, inst, rows = _case(seed)
        yield seed, Instance.from_frames(cand, fac, inst), rows, Brute(cand, fac, inst, rows.tolist())


def _solvable_models():
    """The drawn cases that have a feasible assignment, each with its enumerated best and a model
    built on its rows: the seed, the rows, the brute force, its best, the model."""
    for seed, x, rows, brute in _drawn_cases():
        best = brute.best()
        if best is not None:
            yield seed, rows, brute, best, ComponentFormulation(x, rows, x.caps)


def _first_of_each_role(x: Instance, rows: np.ndarray) -> np.ndarray:
    """A starting assignment that covers every (facility, role) with a candidate by its first
    row among ``rows`` — capacities and pins ignored (a mask over all of ``x``)."""
    hint = np.zeros(len(x.f), bool)
    _, first = np.unique(x.f[rows] * 3 + x.role[rows], return_index=True)
    hint[rows[first]] = True
    return hint


@pytest.mark.parametrize("start", ["greedy", "first of each role"])
@pytest.mark.parametrize("seed", SEEDS)
def test_formulation_equals_brute_force(seed, start):
    """Also from a starting assignment that covers every role but may break a capacity or a
    pin: one that covers everything is taken as the coverage optimum without a solve only when
    it keeps every rule (``ComponentFormulation.covers_all``)."""
    cand, fac, inst, rows = _case(seed)
    x = Instance.from_frames(cand, fac, inst)
    hint = None if start == "greedy" else _first_of_each_role(x, rows)
    brute = Brute(cand, fac, inst, rows.tolist())
    best = brute.best()
    if best is None:  # the pins cannot all be honoured within the capacities
        with pytest.raises(InfeasibleError, match="^no feasible assignment: pinned pairs exceed an institution's "
                                                   "capacity or conflict$"):
            ComponentFormulation(x, rows, x.caps, hint).solve(10.0)
        return
    model = ComponentFormulation(x, rows, x.caps, hint)
    chosen_w, stages = model.solve(10.0)
    picked = rows[model.rows_of(chosen_w)].tolist()
    assert brute.feasible(picked), "the formulation broke a constraint"
    got = brute.value(picked)
    assert (got[0], got[1], got[2], -got[3], -got[4]) == best
    assert [s.objective for s in stages] == list(got)  # the reported goals are the chosen rows'
    assert all(s.optimal for s in stages)
    assert [s.bound for s in stages] == [s.objective for s in stages]  # proven: the bound is the value


def test_the_cases_exercise_every_rule():
    """The seeds are not vacuous: capacities bind, pins and agreements in force are drawn."""
    binding, pins, existing, infeasible, shared = 0, 0, 0, 0, 0
    for seed in SEEDS:
        table = _table(seed)
        if table is None:
            continue
        cand, fac, inst = table
        brute = Brute(cand, fac, inst, list(range(len(cand))))
        free = Brute(cand, fac, inst.iloc[:, :0], list(range(len(cand))))
        best, unlimited = brute.best(), free.best()
        infeasible += best is None
        binding += best is not None and best != unlimited
        pins += bool(cand["pinned"].any() or cand["pinned_role"].any())
        existing += bool(cand["existing"].any())
        shared += bool(cand.groupby(["facility_id", "institution_id"]).size().gt(1).any())
    assert binding >= 10 and pins >= 5 and existing >= 10 and shared >= 10
    assert 1 <= infeasible <= 8


@pytest.mark.parametrize("seed", [s for s in SEEDS if s % 4 == 1])
def test_phantoms_relax_the_cut_lists(seed):
    """A cut (facility, role) list may also be covered by an institution beyond the cut that
    has room: the phantom bound is the brute force's best coverage with such phantoms, and the
    phantoms it reports are as few as that coverage needs."""
    cand, fac, inst, rows = _case(seed)
    rng = np.random.default_rng([24, seed])
    cand = cand.assign(truncated=rng.random(len(cand)) < 0.5, pinned=False, pinned_role=False)
    x = Instance.from_frames(cand, fac, inst)
    cut = frozenset((cand.at[k, "facility_id"], cand.at[k, "role"]) for k in rows if cand.at[k, "truncated"])
    brute = Brute(cand, fac, inst, rows.tolist(), phantom=cut)
    best = max(((v[0], v[1], v[2]), -len(ph)) for ch, ph in brute.choices() for v in [brute.value(ch, ph)])
    model = ComponentFormulation(x, rows, x.caps, phantoms=True)
    assert len(model.phantom) == len(cut)
    if cut:  # a start never proves coverage of lists that phantoms lengthen
        assert not model.covers_all(model.hint)
    bound, wanted = model.phantom_bound(10.0)
    parts = [StageResult("", "", float(v)) for v in best[0]] + [StageResult("", "")] * 2
    assert bound == model.coverage_value(parts)
    assert len(wanted) == -best[1]
    fr = {(x.facility_ids[k // 3], ROLES[k % 3]) for k in wanted}
    assert fr <= cut


def _covers_every_role(brute: Brute, chosen: list[int]) -> bool:
    return {(brute.r[k]["facility_id"], brute.r[k]["role"]) for k in chosen} == set(brute.groups)


def test_a_start_proves_coverage_exactly_when_it_covers_every_role_and_keeps_every_rule():
    """``covers_all`` against the brute force's rules: a starting assignment (greedy, or the first
    row of each role, which may break a capacity or a pin) is a coverage proof exactly when it
    covers every (facility, role) with a candidate and is feasible; no start (None) proves nothing."""
    proofs, refusals = 0, 0
    for seed, x, rows, brute in _drawn_cases():
        for hint in (None, _first_of_each_role(x, rows)):
            model = ComponentFormulation(x, rows, x.caps, hint)
            start = rows[model.rows_of(model.hint)].tolist()
            proof = _covers_every_role(brute, start) and brute.feasible(start)
            assert model.covers_all(model.hint) == proof, seed
            assert not model.covers_all(None)
            proofs += proof
            refusals += _covers_every_role(brute, start) and not proof
    assert proofs >= 10 and refusals >= 5  # both answers are exercised, refusals by a rule broken


def _objectives_set(monkeypatch) -> list[bool]:
    """The senses of the objectives the formulation's solves are given (True: maximise)."""
    import matching.optimise.model as model_module

    senses: list[bool] = []
    set_objective = model_module.set_objective

    def recording(m, expr, maximize):
        senses.append(maximize)
        set_objective(m, expr, maximize)

    monkeypatch.setattr(model_module, "set_objective", recording)
    return senses


def test_a_start_that_proves_coverage_spares_the_coverage_solve(monkeypatch):
    """Where the start covers every role and keeps every rule, goals 1–3 are its values, proven,
    without a coverage solve; goals 4–5 are still solved (to the brute force's optimum, checked in
    ``test_formulation_equals_brute_force``).  Any other start leaves the coverage solve to run."""
    senses = _objectives_set(monkeypatch)
    spared, solved = 0, 0
    for seed, x, rows, brute in _drawn_cases():
        if brute.best() is None:
            continue
        for hint in (None, _first_of_each_role(x, rows)):
            model = ComponentFormulation(x, rows, x.caps, hint)
            start = rows[model.rows_of(model.hint)].tolist()
            senses.clear()
            _, stages = model.solve(10.0)
            if _covers_every_role(brute, start) and brute.feasible(start):
                assert True not in senses, seed
                assert False in senses or not any(s.objective for s in stages[3:])
                assert [s.objective for s in stages[:3]] == list(brute.value(start)[:3])
                spared += 1
            else:
                assert senses[0] is True, seed
                solved += 1
    assert spared >= 10 and solved >= 10


def test_a_proving_start_stands_when_goals_4_and_5_are_skipped():
    """``proceed`` declining goals 4–5 (as criticality's re-solves do) after a start proved
    coverage: the start itself is returned, goals 1–3 proven at its values, 4–5 its own, unproven."""
    checked = 0
    for _seed, x, rows, brute in _drawn_cases():
        model = ComponentFormulation(x, rows, x.caps, _first_of_each_role(x, rows))
        if not model.covers_all(model.hint):
            continue
        start = rows[model.rows_of(model.hint)].tolist()
        asked = []
        chosen_w, stages = model.solve(10.0, proceed=lambda coverage, asked=asked: asked.append(coverage) and False)
        assert rows[model.rows_of(chosen_w)].tolist() == start
        assert [s.objective for s in stages] == list(brute.value(start))
        assert [s.optimal for s in stages] == [True] * 3 + [False] * 2
        assert [s.bound for s in stages[:3]] == list(brute.value(start)[:3])
        assert [s.objective for s in asked[0]] == list(brute.value(start)[:3])
        checked += 1
    assert checked >= 5


def test_the_effort_limit_caps_the_agreements_and_travel_solve_only():
    """``effort_limit`` (deterministic seconds) caps the goals 4–5 solve alone: at 0 the coverage
    is still solved to its proven optimum (or proven by the start), while agreements and travel
    are left unproven, valued as the rows returned."""
    solved = 0
    for seed, rows, brute, best, model in _solvable_models():
        solved += not model.covers_all(model.hint)
        chosen_w, stages = model.solve(10.0, effort_limit=0.0)
        picked = rows[model.rows_of(chosen_w)].tolist()
        assert brute.feasible(picked)
        assert [s.objective for s in stages] == list(brute.value(picked))
        assert [s.objective for s in stages[:3]] == list(best[:3])
        assert [s.optimal for s in stages] == [True] * 3 + [False] * 2, seed
    assert solved >= 5  # coverage solved (not proven by the start) under the limit too


def test_each_solve_starts_from_the_start_then_from_the_coverage_solution(monkeypatch):
    """CP-SAT is given a solution to start from: the formulation's start (the greedy assignment)
    for the coverage solve, the coverage optimum for the agreements-and-travel solve."""
    import matching.optimise.model as model_module

    given = []
    set_hint = model_module.set_hint

    def recording(m, variables, values):
        given.append(None if values is None else np.array(values))
        set_hint(m, variables, values)

    monkeypatch.setattr(model_module, "set_hint", recording)
    checked = 0
    for _seed, _rows, _brute, _best, model in _solvable_models():
        if model.covers_all(model.hint):
            continue
        given.clear()
        _, stages = model.solve(10.0)
        assert len(given) == 2 and given[0] is not None and given[1] is not None
        assert given[0].tolist() == model.hint.tolist()
        assert model.values(given[1])[:3] == [s.objective for s in stages[:3]]  # at the coverage optimum
        checked += 1
    assert checked >= 5


def test_a_solve_out_of_time_before_any_solution_claims_nothing():
    """At no time at all CP-SAT finds no solution: every goal a solve was needed for is unproven
    (no bound), valued as the rows returned — the start where it proved coverage, else nothing
    (the caller's greedy floor then takes over); goals 1–3 proven by the start stay proven."""
    unproven = 0
    for seed, rows, brute, _best, model in _solvable_models():
        proven = model.covers_all(model.hint)
        chosen_w, stages = model.solve(0.0)
        picked = rows[model.rows_of(chosen_w)].tolist()
        assert picked == (rows[model.rows_of(model.hint)].tolist() if proven else [])
        assert [s.objective for s in stages] == list(brute.value(picked))
        solved = stages[3:] if proven else stages
        assert not any(s.optimal for s in solved), seed
        assert all(np.isnan(s.bound) for s in solved), seed
        unproven += not proven
    assert unproven >= 5


def test_a_solve_cut_short_with_a_solution_claims_a_bound_for_its_leading_goal_only():
    """Goals 4–5 cut short by tiny effort limits (deterministic): where CP-SAT stops with a solution
    it has not proven, the goals are that solution's, unproven; the leading goal (agreements) gets
    the solver's proven bound — a whole number no higher than the brute force's optimum — and
    travel none."""
    found = 0
    for limit in (1e-6, 3e-6, 1e-5, 3e-5, 1e-4):
        for _seed, rows, brute, best, model in _solvable_models():
            chosen_w, stages = model.solve(10.0, effort_limit=limit)
            agreements, travel = stages[3], stages[4]
            if agreements.optimal or np.isnan(agreements.bound):
                continue
            found += 1
            picked = rows[model.rows_of(chosen_w)].tolist()
            assert brute.feasible(picked)
            assert [s.objective for s in stages] == list(brute.value(picked))
            assert agreements.bound == int(agreements.bound) and 0 <= agreements.bound <= -best[3]
            assert not travel.optimal and np.isnan(travel.bound)
    assert found >= 1


def test_goals_with_nothing_to_solve_are_zero_and_proven():
    """The model's coverage-only run (and criticality's re-solves) solve goals 1–2 alone, without a
    start.  F1 lacks two roles and has a candidate for one: no facility can be completed, so there
    is nothing to solve for goals 1–2 — they are 0 and proven — and with goals 4–5 declined nothing
    is chosen (an all-false ``w`` mask), its agreements and travel 0, unproven."""
    rows = [("F1", "I", "consult", 5, False)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing"]).assign(
        pinned=False, pinned_role=False)
    fac = pd.DataFrame({"residents": [50], "obligated": [True], "missing": [2]}, index=["F1"])
    x = Instance.from_frames(cand, fac, pd.DataFrame(index=["I"]))
    model = ComponentFormulation(x, np.arange(1), x.caps)
    _, _, weights = model.levels[0]
    model.levels = (("maximize", (0, 1), (weights[0] // weights[1], 1)), model.levels[1])
    model.hint = None
    chosen_w, stages = model.solve(10.0, proceed=lambda coverage: False)
    assert chosen_w.dtype == bool and chosen_w.tolist() == [False] * len(model.w)
    assert [(s.objective, s.bound, s.optimal) for s in stages[:2]] == [(0, 0, True)] * 2
    assert [s.objective for s in stages] == [0] * 5
    assert [s.optimal for s in stages[3:]] == [False] * 2


def test_a_start_that_covers_everything_but_ignores_a_pin_is_no_proof():
    """F1 is pinned to J, whose room is one facility; F2 has only J.  Starting from F1 ← I,
    F2 ← J covers every role within the capacity but leaves the pin out: the coverage optimum
    is one role (F1 ← J), not both, and the solve must say so rather than give up."""
    rows = [("F1", "I", "consult", 5, False, False), ("F1", "J", "consult", 9, False, True),
            ("F2", "J", "consult", 5, False, False)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing", "pinned"]).assign(
        pinned_role=False)
    fac = pd.DataFrame({"residents": [50, 50], "obligated": True, "missing": [1, 1]}, index=["F1", "F2"])
    inst = pd.DataFrame({"capacity_facilities": pd.array([None, 1], dtype="Float64")}, index=["I", "J"])
    x = Instance.from_frames(cand, fac, inst)
    start = np.array([True, False, True])
    model = ComponentFormulation(x, np.arange(3), x.caps, start)
    assert not model.covers_all(model.hint)
    chosen_w, stages = model.solve(10.0)
    assert model.rows_of(chosen_w).tolist() == [False, True, False]
    assert [s.objective for s in stages[:3]] == [1, 0, 1] and all(s.optimal for s in stages)


def test_one_agreement_fewer_outweighs_all_the_travel():
    """Goal 4 before goal 5 even against the whole travel cost: the partner already in force
    (travel 5) beats a new one at no travel at all (a facility next door: cost 0)."""
    rows = [("F1", "I", "consult", 5, True), ("F1", "J", "consult", 0, False)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing"]).assign(
        pinned=False, pinned_role=False)
    fac = pd.DataFrame({"residents": [50], "obligated": [True], "missing": [1]}, index=["F1"])
    x = Instance.from_frames(cand, fac, pd.DataFrame(index=["I", "J"]))
    model = ComponentFormulation(x, np.arange(2), x.caps)
    chosen_w, stages = model.solve(10.0)
    assert model.rows_of(chosen_w).tolist() == [True, False]
    assert [s.objective for s in stages] == [1, 0, 1, 0, 5]


def test_a_facility_brought_to_all_met_outweighs_any_number_of_roles():
    """Goal 2 before goal 3 even against every other role of the component: 70 residents of room
    go to F1 (one role missing, made all met), not to F2–F4 (six roles, none of them all met)."""
    rows = [("F1", "I", "consult", 10, False)] + [(f, "I", r, 10, False) for f in ("F2", "F3", "F4")
                                                  for r in ("consult", "visit")]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing"]).assign(
        pinned=False, pinned_role=False)
    fac = pd.DataFrame({"residents": [70, 20, 20, 20], "obligated": False, "missing": [1, 3, 3, 3]},
                       index=["F1", "F2", "F3", "F4"])
    inst = pd.DataFrame({"capacity_residents": pd.array([70], dtype="Float64")}, index=["I"])
    x = Instance.from_frames(cand, fac, inst)
    model = ComponentFormulation(x, np.arange(len(cand)), x.caps)
    chosen_w, stages = model.solve(10.0)
    assert model.rows_of(chosen_w).tolist() == [True] + [False] * 6
    assert [s.objective for s in stages] == [0, 1, 1, 1, 10]


def test_the_solver_starts_from_the_greedy_assignment_of_its_own_rows_and_capacities():
    """The hint (CP-SAT's first solution) is the greedy assignment of the component's rows under
    the residual capacities it is given — or the assignment passed in — as one ``w`` per pair."""
    from matching.optimise.greedy import greedy_rows

    differs = 0
    for seed in SEEDS:
        table = _table(seed)
        if table is None:
            continue
        cand, fac, inst, rows = _case(seed)
        x = Instance.from_frames(cand.assign(pinned=False, pinned_role=False), fac, inst)
        # Residual capacities, as after settled facilities: nobody takes a new partner facility.
        residual = {**x.caps, "capacity_facilities": np.zeros(x.n_institutions)}
        for caps in (x.caps, residual):
            model = ComponentFormulation(x, rows, caps)
            want = greedy_rows(x, rows, caps)[rows]
            assert model.rows_of(model.hint).tolist() == want.tolist(), seed
            hinted = [x.pair[model.rows[model.w_rows[k][0]]] for k in np.flatnonzero(model.hint)]
            assert len(hinted) == len(set(hinted))  # one role set per pair
        differs += want.tolist() != greedy_rows(x, None, x.caps)[rows].tolist()
        given = np.zeros(len(x.f), bool)
        given[rows[-1]] = True
        model = ComponentFormulation(x, rows, residual, hint=given)
        assert model.rows_of(model.hint).tolist() == given[rows].tolist()
    assert differs >= 5


@pytest.mark.parametrize("maximize", [True, False])
def test_objectives_written_in_bulk_are_or_tools_own(maximize, monkeypatch):
    """``set_objective`` writes the same objective into the model as OR-Tools' ``maximize`` /
    ``minimize`` (variables, coefficients, sign, offset), and falls back to them where OR-Tools has
    no ``FlatIntExpr``."""
    from ortools.sat.python import cp_model

    from matching.optimise import model as model_module
    from matching.optimise.model import set_objective

    def objective(write) -> tuple:
        m = cp_model.CpModel()
        a, b, c = (m.new_bool_var("") for _ in range(3))
        expr = cp_model.LinearExpr.weighted_sum([a, b, c], [3, 5, 7]) + 2
        write(m, expr)
        o = m.model_proto.objective
        return list(o.vars), list(o.coeffs), o.scaling_factor, o.offset

    own = objective(lambda m, e: (m.maximize if maximize else m.minimize)(e))
    assert objective(lambda m, e: set_objective(m, e, maximize)) == own
    monkeypatch.setattr(model_module, "_BULK_OBJECTIVE", False)
    assert objective(lambda m, e: set_objective(m, e, maximize)) == own


@pytest.mark.parametrize("seed", SEEDS)
def test_goals_1_and_2_without_some_rows_equal_brute_force_and_leave_the_model_as_it_was(seed):
    """``solve_all_met`` (criticality's re-solve on a component's model built once): with rows left
    out for one solve, facilities all met (obligated, then effort-type) are the enumeration's
    optimum on the rows kept; asked for better than that optimum it proves there is none, asked
    for better than one below it it finds the optimum; afterwards the model is the one built
    (the whole lexicographic solve on every row equals the enumeration)."""
    cand, fac, inst, rows = _case(seed)
    x = Instance.from_frames(cand, fac, inst)
    pinned = (x.pinned | x.pinned_role)[rows]  # pins stay, as when an institution stops accepting
    without = (np.random.default_rng([29, seed]).random(len(rows)) < 0.4) & ~pinned
    model = ComponentFormulation(x, rows, x.caps)
    best = Brute(cand, fac, inst, rows[~without].tolist()).best()
    if best is None:
        with pytest.raises(InfeasibleError, match="^no feasible assignment: pinned pairs exceed an institution's "
                                                   "capacity or conflict$"):
            model.solve_all_met(10.0, without)
    else:
        chosen, optimal = model.solve_all_met(10.0, without)
        picked = rows[model.rows_of(chosen)]
        brute = Brute(cand, fac, inst, rows[~without].tolist())
        assert optimal and set(picked) <= set(rows[~without]) and brute.feasible(picked.tolist())
        assert brute.value(picked.tolist())[:2] == best[:2]
        assert model.solve_all_met(10.0, without, better_than=best[:2]) == (None, True)
        if best[:2] != (0, 0):
            below = (best[0], best[1] - 1) if best[1] else (best[0] - 1, best[1])
            chosen, optimal = model.solve_all_met(10.0, without, better_than=below)
            assert optimal and brute.value(rows[model.rows_of(chosen)].tolist())[:2] == best[:2]
    whole = Brute(cand, fac, inst, rows.tolist()).best()
    if whole is not None:
        chosen_w, _ = model.solve(10.0)
        got = Brute(cand, fac, inst, rows.tolist()).value(rows[model.rows_of(chosen_w)].tolist())
        assert (got[0], got[1], got[2], -got[3], -got[4]) == whole


def test_rows_left_out_are_exercised():
    """The seeds above leave out rows that decide: on some the optimum without them is lower."""
    lower = 0
    for seed, x, rows, brute in _drawn_cases():
        pinned = (x.pinned | x.pinned_role)[rows]
        without = (np.random.default_rng([29, seed]).random(len(rows)) < 0.4) & ~pinned
        cand, fac, inst, _ = _case(seed)
        kept = Brute(cand, fac, inst, rows[~without].tolist()).best()
        lower += kept is not None and brute.best() is not None and kept[:2] < brute.best()[:2]
    assert lower >= 5


@pytest.mark.parametrize("seed", SEEDS)
def test_goals_1_and_2_on_some_facilities_only_equal_brute_force(seed):
    """``solve_all_met(only=…, start=…)`` (criticality's neighbourhood repair on a component's
    model): the facilities outside ``only`` keep their rows of a feasible ``start`` (with rows
    left out, as before), the others are decided again; facilities all met are the enumeration's
    best over exactly those assignments, and the kept facilities' rows are unchanged."""
    cand, fac, inst, rows = _case(seed)
    x = Instance.from_frames(cand, fac, inst)
    rng = np.random.default_rng([31, seed])
    pinned = (x.pinned | x.pinned_role)[rows]
    without = (rng.random(len(rows)) < 0.3) & ~pinned
    brute = Brute(cand, fac, inst, rows[~without].tolist())
    starts = [ch for ch, _ in brute.choices()]
    if not starts:
        pytest.skip("the pins cannot be honoured")
    start_rows = starts[int(rng.integers(len(starts)))]  # any feasible assignment
    facilities = sorted(set(x.f[rows]))
    free_f = {f for f in facilities if rng.random() < 0.5}
    only = np.isin(x.f[rows], list(free_f))
    fixed = {int(k) for k in start_rows if x.f[k] not in free_f}
    fixed_rows = {int(k) for k in rows[~only]}
    best = max(brute.value(ch)[:2] for ch in starts if set(ch) & fixed_rows == fixed)
    start = np.zeros(len(x.f), bool)
    start[start_rows] = True
    model = ComponentFormulation(x, rows, x.caps)
    domains = [list(v.domain) for v in model.m.model_proto.variables]
    chosen, optimal = model.solve_all_met(10.0, without, only=only, start=start[rows])
    picked = rows[model.rows_of(chosen)].tolist()
    assert optimal and brute.feasible(picked) and set(picked) & fixed_rows == fixed
    assert brute.value(picked)[:2] == best
    # Afterwards the model is the one built: every row free again (the rows kept at 1 too).
    assert [list(v.domain) for v in model.m.model_proto.variables] == domains
    whole = Brute(cand, fac, inst, rows.tolist()).best()
    if whole is not None:
        chosen, optimal = model.solve_all_met(10.0)
        assert optimal and Brute(cand, fac, inst, rows.tolist()).value(rows[model.rows_of(chosen)].tolist())[:2] \
            == whole[:2]


def _recording_solver(monkeypatch, first_solution: bool) -> list[tuple]:
    """The formulation's solver, recording each solve's status and the objective bound it proved;
    with ``first_solution`` it stops at its first solution (CP-SAT's ``stop_after_first_solution``,
    single-threaded: deterministic), so a solve may end with a solution it has not proven."""
    from ortools.sat.python import cp_model

    import matching.optimise.model as model_module

    solves: list[tuple] = []
    make = model_module._solver

    class Recording(cp_model.CpSolver):
        def solve(self, model, *args, **kwargs):
            status = super().solve(model, *args, **kwargs)
            solves.append((status, self.best_objective_bound))
            return status

    def solver(time_limit: float):
        recording = Recording()
        recording.parameters.copy_from(make(time_limit).parameters)
        recording.parameters.stop_after_first_solution = first_solution
        return recording

    monkeypatch.setattr(model_module, "_solver", solver)
    return solves


def test_a_solve_stopped_at_its_first_solution_claims_the_whole_bound_its_solver_proved(monkeypatch):
    """A solve that ends with a solution it has not proven (CP-SAT stopped at its first one) claims a
    bound for its leading goal only. The solver proved the level's weighted sum within B, and the goals
    below weigh between 0 and less than the leading goal's weight w, so the leading goal is at most
    ⌊B / w⌋ facilities when maximising (coverage) and at least ⌊B / w⌋ agreements when minimising —
    exactly that whole number, not one less or more. (It was ⌈B / w⌉ when minimising: on seed 73 a
    solution with one new agreement and 60 of travel, B = 218, w = 200, was said to need two.) The
    goals below get no bound, and a level proven optimal has its values as bounds. On these seeds the
    coverage solve (all six) or the agreements solve (64, 73, 86, 127; B = 0 on 86 and
    127) stops so."""
    from ortools.sat.python import cp_model

    solves = _recording_solver(monkeypatch, first_solution=True)
    cut: dict[str, list[int]] = {"maximize": [], "minimize": []}
    for seed in (25, 37, 64, 73, 86, 127):
        cand, fac, inst, rows = _case(seed)
        x = Instance.from_frames(cand, fac, inst)
        brute = Brute(cand, fac, inst, rows.tolist())
        model = ComponentFormulation(x, rows, x.caps)
        solved = [level for level in model.levels if level[0] == "minimize" or not model.covers_all(model.hint)]
        solves.clear()
        chosen_w, stages = model.solve(10.0)
        picked = rows[model.rows_of(chosen_w)].tolist()
        # (Goals 4–5 are the rows': an unproven coverage solution's goals 1–2 are its z, see docs/mutation.md.)
        assert brute.feasible(picked) and [s.objective for s in stages[3:]] == list(brute.value(picked)[3:])
        for (sense, idx, weights), (status, bound) in zip(solved, solves, strict=True):
            if status == cp_model.OPTIMAL:
                assert all(stages[k].optimal and stages[k].bound == stages[k].objective for k in idx), seed
                continue
            assert status == cp_model.FEASIBLE and bound == int(bound)
            cut[sense].append(seed)
            lead, proven, w = stages[idx[0]], int(bound), weights[0]
            assert lead.bound == proven // w, seed
            if sense == "maximize":  # the optimum has no more obligated facilities all met
                assert lead.bound >= brute.best()[0], seed
            else:  # the solution found has no fewer new agreements
                assert 0 <= lead.bound <= lead.objective, seed
            assert not any(stages[k].optimal for k in idx)
            assert all(np.isnan(stages[k].bound) for k in idx[1:])
    assert cut == {"maximize": [25, 37, 64, 73, 86, 127], "minimize": [64, 73, 86, 127]}


def test_a_model_cp_sat_finds_invalid_is_refused_with_its_reason():
    """Were the model ever invalid (here a constraint on a variable that does not exist, added by
    hand), the solve stops with CP-SAT's own reason rather than reading a solution that is not there:
    at the coverage solve (a start that covers nothing), or at the agreements-and-travel solve after
    the start proved coverage."""
    rows = [("F1", "I", "consult", 5, False)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing"]).assign(
        pinned=False, pinned_role=False)
    fac = pd.DataFrame({"residents": [50], "obligated": [True], "missing": [1]}, index=["F1"])
    x = Instance.from_frames(cand, fac, pd.DataFrame(index=["I"]))
    for start in (np.zeros(1, bool), None):
        model = ComponentFormulation(x, np.arange(1), x.caps, start)
        assert model.covers_all(model.hint) is (start is None)
        constraint = model.m.model_proto.constraints.add()
        constraint.linear.vars.append(len(model.m.model_proto.variables))
        constraint.linear.coeffs.append(1)
        constraint.linear.domain.extend([0, 1])
        reason = model.m.validate()
        assert reason.startswith("Out of bound integer variable")
        with pytest.raises(RuntimeError) as err:
            model.solve(10.0)
        assert type(err.value) is RuntimeError and str(err.value) == reason


def test_goals_1_and_2_out_of_time_claim_nothing():
    """``solve_all_met`` at no time at all finds no solution: nothing chosen (an all-false ``w`` mask,
    as criticality reads it) and nothing proven; the model is then solved as before."""
    checked = 0
    for seed, rows, brute, best, model in _solvable_models():
        chosen, optimal = model.solve_all_met(0.0)
        assert chosen.dtype == bool and chosen.tolist() == [False] * len(model.w) and optimal is False, seed
        chosen, optimal = model.solve_all_met(10.0)
        assert optimal and brute.value(rows[model.rows_of(chosen)].tolist())[:2] == best[:2], seed
        checked += 1
    assert checked >= 20


def test_goals_1_and_2_put_an_obligated_facility_before_any_number_of_effort_type_ones_even_at_no_travel():
    """``solve_all_met``: 70 residents of room go to the obligated facility O (one role missing), not
    to the two effort-type facilities E1 and E2 (35 residents each) it would complete instead — one
    obligated facility outweighs every effort-type one whatever the travel costs (here nothing at all,
    so no weight may be taken from the travel); asked for better than the two, O is; better than O,
    nothing."""
    rows = [("O", "I", "consult", 0, False), ("E1", "I", "consult", 0, False), ("E2", "I", "consult", 0, False)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost", "existing"]).assign(
        pinned=False, pinned_role=False)
    fac = pd.DataFrame({"residents": [70, 35, 35], "obligated": [True, False, False], "missing": [1, 1, 1]},
                       index=["O", "E1", "E2"])
    inst = pd.DataFrame({"capacity_residents": pd.array([70], dtype="Float64")}, index=["I"])
    x = Instance.from_frames(cand, fac, inst)
    model = ComponentFormulation(x, np.arange(3), x.caps)
    chosen, optimal = model.solve_all_met(10.0)
    assert optimal and model.rows_of(chosen).tolist() == [True, False, False]
    chosen, optimal = model.solve_all_met(10.0, better_than=(0, 2))
    assert optimal and model.rows_of(chosen).tolist() == [True, False, False]
    assert model.solve_all_met(10.0, better_than=(1, 0)) == (None, True)
