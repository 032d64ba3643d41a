"""The exact reductions (``matching.optimise.reduce``): later rounds look only at what changed.

``reduce`` re-examines, after its first round, only the facilities with rows at an institution
whose freedom changed.  The reference here re-examines every facility every round, as the
module docstring states the reductions; both must give the same rows left, settled and best,
the same free institutions and the same capacities left — without and with time slots, with
capacities in facilities and in residents, with cut lists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matching import MatchParameters
from matching.candidates import facilities_to_match, find_candidates, uses_slots
from matching.contract import load_region
from matching.demo import national
from matching.optimise.instance import Instance
from matching.optimise.reduce import (
    Reduction,
    capacity_free_best,
    components,
    dominated_pairs,
    free_institutions,
    reduce,
    settle_facilities,
    settling,
)
from matching.optimise.run import model_candidates, model_inputs, travel_cost
from matching.status import facility_status

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def every_round_in_full(x: Instance, settle: bool = True) -> Reduction:
    """The reductions applied to every facility's rows in every round (the reference): the same
    rules (dominance, capacity-free best, who settles), but no facility is ever left unexamined."""
    active = np.ones(len(x.f), bool)
    settled = np.zeros(len(x.f), bool)
    caps = {k: v.copy() for k, v in x.caps.items()}
    rounds, best, known = 0, None, None
    while True:
        rounds += 1
        rows = np.flatnonzero(active)
        free = free_institutions(x, rows, caps)
        dropped = dominated_pairs(x, rows, free)
        active &= ~dropped
        if not settle:
            if not dropped.any():
                break
            continue
        rows = np.flatnonzero(active)
        best, known = capacity_free_best(x, rows, None if best is None else (best, known))
        settles = settling(x, rows, best, known, free)
        if not settles.any() and not dropped.any():
            break
        settle_facilities(x, settles, best, settled, active, caps)
    if best is not None:
        best &= active
    return Reduction(active, settled, free, caps, rounds, best, known)


def instance_of(folder: Path, nearest: int | None = None) -> Instance:
    region = load_region(folder)
    params = MatchParameters()
    region = region.as_planned(params)
    status = facility_status(region)
    cand = find_candidates(region, status, params, nearest=nearest)
    cand["cost"] = travel_cost(cand, region, params)
    return Instance.from_frames(model_candidates(cand, uses_slots(region, params)), model_inputs(region, facilities_to_match(status, params)),
                                region.institutions)


def assert_same(a: Reduction, b: Reduction) -> None:
    for name in ("active", "settled", "free"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.best is None) == (b.best is None)
    if b.best is not None:
        assert np.array_equal(a.best, b.best) and np.array_equal(a.known, b.known)
    assert a.caps.keys() == b.caps.keys()
    for column in b.caps:
        assert np.array_equal(a.caps[column], b.caps[column], equal_nan=True), column
    assert a.rounds == b.rounds


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A Tokyo-like seeded region (capacity binds, many rounds), capacities in residents too."""
    folder = tmp_path_factory.mktemp("tokyo")
    national.write(folder, seed=3, scale=0.05, prefectures=("13",))
    return folder


def test_demo_with_time_slots(demo_region):
    x = instance_of(DEMO)
    assert x.slots is not None  # the demo states time slots (availability.csv)
    for settle in (True, False):
        assert_same(reduce(x, settle), every_round_in_full(x, settle))


@pytest.mark.parametrize("nearest", [None, 4])
def test_seeded_region_full_and_cut_lists(seeded, nearest):
    x = instance_of(seeded, nearest)
    full = every_round_in_full(x)
    assert full.rounds >= 3 and full.settled.any()  # several rounds, so later ones are looked at
    assert_same(reduce(x), full)


def test_seeded_region_with_time_slots(tmp_path):
    national.write(tmp_path, seed=5, scale=0.03, availability=True)
    x = instance_of(tmp_path)
    assert x.slots is not None
    full = every_round_in_full(x)
    assert full.rounds >= 2
    assert_same(reduce(x), full)


def _two_facilities(pinned: str = ""):
    """F1 can go to A (free, cheapest) or K; F2 only to K, whose room is one facility.  Round 1:
    F1's pair with K is dominated by A and F1 settles at A; K, asked by F2 alone, is then free.
    Round 2 looks at F2 only because K's freedom changed (every row of F2 is at K): it settles."""
    import pandas as pd

    cand = pd.DataFrame({"facility_id": ["F1", "F1", "F2"], "institution_id": ["A", "K", "K"],
                         "role": ["admit"] * 3, "cost": [1, 5, 5], "existing": False,
                         "pinned": [pinned == "pair", False, False], "pinned_role": [pinned == "role", False, False]})
    fac = pd.DataFrame({"residents": [50, 80], "obligated": True, "missing": 1}, index=["F1", "F2"])
    inst = pd.DataFrame({"capacity_facilities": pd.array([None, 1], dtype="Float64")}, index=["A", "K"])
    return Instance.from_frames(cand, fac, inst)


def test_a_facility_whose_every_row_is_at_an_institution_freed_is_looked_at_again():
    x = _two_facilities()
    r = reduce(x)
    assert r.settled.tolist() == [True, False, True] and not r.active.any()  # F1 ← A, then F2 ← K
    assert r.rounds >= 2
    assert_same(r, every_round_in_full(x))


@pytest.mark.parametrize("pinned", ["pair", "role"])
def test_a_pinned_facility_never_settles(pinned):
    """F1 pinned (its pair with A, or that role of it) stays for the solver with its pinned row;
    its pair with K is still dominated and goes, so F2 still settles at K once K is free."""
    x = _two_facilities(pinned)
    r = reduce(x)
    assert r.active.tolist() == [True, False, False]
    assert r.settled.tolist() == [False, False, True]
    assert_same(r, every_round_in_full(x))


def test_later_rounds_look_only_at_facilities_at_an_institution_whose_freedom_changed(seeded, monkeypatch):
    """What ``reduce`` re-examines after its first round, recorded from the rows it hands to
    ``dominated_pairs``: exactly the active rows of the facilities with a row (active before the
    round) at an institution whose freedom changed since the round before."""
    import matching.optimise.reduce as module

    x = instance_of(seeded)
    rounds = []  # per round: the active rows at its start, its free institutions, the rows examined
    real_free, real_dominated = module.free_institutions, module.dominated_pairs

    def free_institutions(x, rows, caps):
        free = real_free(x, rows, caps)
        rounds.append([rows.copy(), free.copy(), None])
        return free

    def dominated_pairs(x, rows, free):
        rounds[-1][2] = np.asarray(rows).copy()
        return real_dominated(x, rows, free)

    monkeypatch.setattr(module, "free_institutions", free_institutions)
    monkeypatch.setattr(module, "dominated_pairs", dominated_pairs)
    r = reduce(x)
    assert len(rounds) == r.rounds >= 3
    assert np.array_equal(rounds[0][2], rounds[0][0])  # the first round looks at everything
    narrower = 0
    for (_, before, _), (active, free, examined) in zip(rounds, rounds[1:], strict=False):
        changed = free != before
        looked = np.zeros(x.n_facilities, bool)
        looked[x.f[active[changed[x.i[active]]]]] = True
        assert np.array_equal(examined, active[looked[x.f[active]]])
        narrower += len(examined) < len(active)
    assert narrower >= 1  # the seeded region has later rounds that skip facilities


def test_components_link_facilities_only_through_institutions_that_can_be_full():
    """F1 and F3 share A, F2 and F5 share B (both can be full); C and D are free, so F1, F2 and F4
    meeting at C are not linked by it.  Components come in the order of their smallest facility
    (the rows are in facility order, as the model's candidates are), rows within one in their order."""
    import pandas as pd

    cand = pd.DataFrame({"facility_id": ["F1", "F1", "F2", "F2", "F3", "F4", "F4", "F5"],
                         "institution_id": ["A", "C", "B", "C", "A", "C", "D", "B"],
                         "role": "admit", "cost": 1, "existing": False, "pinned": False})
    fac = pd.DataFrame({"residents": 50, "obligated": True, "missing": 1}, index=["F1", "F2", "F3", "F4", "F5"])
    x = Instance.from_frames(cand, fac, pd.DataFrame({"capacity_facilities": [1, 1, 9, 9]}, index=list("ABCD")))
    free = np.array([False, False, True, True])  # A, B can be full; C, D cannot

    def groups(rows, free):
        return [part.tolist() for part in components(x, rows, free)]

    assert groups(np.arange(8), free) == [[0, 1, 4], [2, 3, 7], [5, 6]]
    assert groups([1, 2, 3, 4, 5, 6, 7], free) == [[1], [2, 3, 7], [4], [5, 6]]  # F1 no longer at A
    assert groups(np.arange(8), np.ones(4, bool)) == [[0, 1], [2, 3], [4], [5, 6], [7]]  # one per facility
    assert groups(np.arange(8), np.zeros(4, bool)) == [list(range(8))]  # C links F1, F2 and F4, D adds F4
    only_d = np.array([True, True, True, False])  # D, at F4 only, links nobody else
    assert groups(np.arange(8), only_d) == [[0, 1], [2, 3], [4], [5, 6], [7]]
    assert groups(np.arange(0), free) == []
    # Forty facilities, one row each, taking turns at P and Q (both can be full): two components whose
    # rows interleave, each keeping its rows in their order.
    many = pd.DataFrame({"facility_id": [f"G{k:02d}" for k in range(40)], "institution_id": ["P", "Q"] * 20,
                         "role": "admit", "cost": 1, "existing": False, "pinned": False})
    y = Instance.from_frames(many, pd.DataFrame({"residents": 50, "obligated": True, "missing": 1},
                                                index=many["facility_id"]),
                             pd.DataFrame({"capacity_facilities": [1, 1]}, index=["P", "Q"]))
    assert [part.tolist() for part in components(y, np.arange(40), np.zeros(2, bool))] == [
        list(range(0, 40, 2)), list(range(1, 40, 2))]


def test_a_pair_is_dropped_only_when_a_free_institution_does_all_it_does_at_no_more_cost():
    """``dominated_pairs`` pair by pair: A is free, the others can be full.  Dropped: F1–B (A takes ①
    for less), F5–Z (the same cost, A's id first) and F7–1 (A takes ① for less, and ② too, which 1
    does not: only the roles 1 takes are compared).  Kept: F1–A and F1–C (C is nearer than A, but
    can be full: it dominates nobody), F2–D (A does not take ②), F3–E (pinned), F4–G (an agreement
    in force, A is not), F6–0 (the same cost, its id first), F8–K (A's ① costs less, its ② more)."""
    import pandas as pd

    rows = [("F1", "A", "consult", 2), ("F1", "B", "consult", 3), ("F1", "C", "consult", 1),
            ("F2", "A", "consult", 1), ("F2", "D", "consult", 3), ("F2", "D", "visit", 3),
            ("F3", "A", "consult", 1), ("F3", "E", "consult", 5),
            ("F4", "A", "consult", 1), ("F4", "G", "consult", 5),
            ("F5", "A", "consult", 2), ("F5", "Z", "consult", 2),
            ("F6", "A", "consult", 2), ("F6", "0", "consult", 2),
            ("F7", "A", "consult", 1), ("F7", "A", "visit", 1), ("F7", "1", "consult", 2),
            ("F8", "A", "consult", 1), ("F8", "A", "visit", 5), ("F8", "K", "consult", 2), ("F8", "K", "visit", 2)]
    cand = pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "cost"])
    cand["existing"] = cand["institution_id"] == "G"
    cand["pinned"] = cand["institution_id"] == "E"
    fac = pd.DataFrame({"residents": 50, "obligated": True, "missing": 3}, index=[f"F{k}" for k in range(1, 9)])
    x = Instance.from_frames(cand, fac, pd.DataFrame(index=sorted(set(cand["institution_id"]))))
    free = x.institution_ids == "A"
    dropped = dominated_pairs(x, np.arange(len(x.f)), free)
    assert sorted({(x.facility_ids[x.f[k]], x.institution_ids[x.i[k]]) for k in np.flatnonzero(dropped)}) == [
        ("F1", "B"), ("F5", "Z"), ("F7", "1")]
    # Only the rows given are looked at, and a mask over all of ``x`` comes back.
    assert dominated_pairs(x, np.flatnonzero(cand["facility_id"] == "F5"), free).tolist() == [
        False] * 10 + [False, True] + [False] * 9
    assert not dominated_pairs(x, np.arange(len(x.f)), np.zeros(x.n_institutions, bool)).any()


def test_with_time_slots_a_pair_is_dropped_only_for_one_giving_each_role_in_all_its_slots():
    """With time slots the free A must also give each role in every slot the other gives it: F1–B (①
    on weekdays by day; A gives it on weekdays day and night, for less) is dropped, F2–C (① on weekdays
    day and night; A only by day) is kept, and so is F2–A (C costs more)."""
    import pandas as pd

    cand = pd.DataFrame({"facility_id": ["F1", "F1", "F2", "F2"], "institution_id": ["A", "B", "A", "C"],
                         "role": "consult", "cost": [1, 2, 1, 2], "existing": False, "pinned": False,
                         "slots": [0b0011, 0b0001, 0b0001, 0b0011], "have": 0, "room": 2})
    fac = pd.DataFrame({"residents": 50, "obligated": True, "missing": 1}, index=["F1", "F2"])
    x = Instance.from_frames(cand, fac, pd.DataFrame(index=["A", "B", "C"]))
    assert x.slots is not None
    assert dominated_pairs(x, np.arange(4), x.institution_ids == "A").tolist() == [False, True, False, False]
