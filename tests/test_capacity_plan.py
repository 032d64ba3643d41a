"""The capacity plan's exact reduction for one role (matching.scenarios.capacity._tight_part).

With one role to plan and capacities in facilities only, the plan is a b-matching: the maximum
flow gives the fewest facility slots to add, and the CP-SAT model runs on Hall's tight set
alone.  These tests hold the reduced plan to the full model (the reduction switched off) and
to a brute-force enumeration of every assignment, on random small regions.
"""

from __future__ import annotations

import itertools
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.candidates import find_candidates, travel_provider
from matching.parameters import MatchParameters
from matching.scenarios import capacity as capacity_module
from matching.scenarios.capacity import _tight_part, capacity_plan
from matching.status import facility_status
from matching.vocabulary import Role
from tests.matchkit import fac, inst, make_region

ADMIT = frozenset({Role.ADMIT})


def _plan(region, *, reduce: bool, nearest=None):
    if reduce:
        return capacity_plan(region, confirm=False, roles=ADMIT, cap=None, nearest=nearest)
    with mock.patch.object(capacity_module, "_tight_part", lambda *a: None):
        return capacity_plan(region, confirm=False, roles=ADMIT, cap=None, nearest=nearest)


def _check_assignment(region, plan):
    """Every completable facility once, to a hospital within reach, loads within capacity + add."""
    a = plan.assignment
    assert sorted(a["facility_id"]) == plan.completable
    added = dict(zip(plan.increases["institution_id"], plan.increases["add"], strict=True))
    cap = region.institutions["capacity_facilities"]
    for i, n in a.groupby("institution_id").size().items():
        assert n <= int(cap[i]) + added.get(i, 0), i
    assert (a["minutes"] <= 45).all()


def test_cut_lists_overpay_and_the_exact_plan_does_not(tmp_path):
    """F1 and F2 both have H1 nearest (one free slot) and H2 (one free slot) a little further.
    On each facility's nearest hospital only, the plan must raise H1; over every hospital in reach
    nothing is needed — and the reduction finds that from the maximum flow alone."""
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 0.5, 0)],
                         [inst("H1", "hospital", 0.2, 0, admit="true", capacity_facilities=1),
                          inst("H2", "hospital", 3, 0, admit="true", capacity_facilities=1)])
    assert _plan(region, reduce=True, nearest=1).total_facilities == 1
    exact = _plan(region, reduce=True)
    assert exact.total_facilities == 0 and exact.increases.empty and exact.optimal
    _check_assignment(region, exact)


def test_tight_set_is_where_the_slots_go(tmp_path):
    """Four facilities around H1 (no slot), one of them also near H2 (full too), and H3 with room
    far away serving only F5: the deficiency is 4, all of it in {H1, H2}; the fewest hospitals
    asked is one (H1 takes +4, or H1 +3 and H2 +1 would ask two)."""
    facs = [fac(f"F{k}", "tokuyo", k * 0.3, 0) for k in range(1, 5)] + [fac("F5", "roken", 40, 0)]
    region = make_region(tmp_path, facs, [
        inst("H1", "hospital", 0.5, 0, admit="true", capacity_facilities=0),
        inst("H2", "hospital", 1.5, 0, admit="true", capacity_facilities=0),
        inst("H3", "hospital", 40.5, 0, admit="true", capacity_facilities=3)])
    part, settled = _tight_part(region, _admit_candidates(region))
    assert sorted(set(part["facility_id"])) == ["F1", "F2", "F3", "F4"]
    assert sorted(set(part["institution_id"])) == ["H1", "H2"]
    assert settled[["facility_id", "institution_id"]].values.tolist() == [["F5", "H3"]]
    plan = _plan(region, reduce=True)
    assert plan.total_facilities == 4 and len(plan.increases) == 1 and plan.optimal
    _check_assignment(region, plan)


def _admit_candidates(region):
    """Every candidate for ③ of every facility (full lists), as the plan sees them."""
    params = MatchParameters()
    status = facility_status(region)
    status = status.assign(missing_roles=status["missing_roles"].map(lambda m: m & ADMIT))
    cand = find_candidates(region, status, params, travel_provider(region, params))
    return cand[cand["role"] == Role.ADMIT.value].reset_index(drop=True)


def _brute_force(region, plan):
    """(facility slots added, hospitals asked) minimised lexicographically over every assignment
    of the completable facilities to their candidates."""
    planned = region.as_planned(MatchParameters())
    c = _admit_candidates(planned)
    c = c[c["facility_id"].isin(plan.completable)]
    options = [sorted(g["institution_id"]) for _, g in c.groupby("facility_id", sort=True)]
    cap = planned.institutions["capacity_facilities"]
    best = None
    for choice in itertools.product(*options):
        load = {i: choice.count(i) for i in set(choice)}
        over = {i: n - int(cap[i]) for i, n in load.items() if n > int(cap[i])}
        key = (sum(over.values()), len(over))
        best = key if best is None or key < best else best
    return best or (0, 0)


@st.composite
def _regions(draw):
    n_f = draw(st.integers(1, 5))
    n_h = draw(st.integers(1, 4))
    at = st.floats(-30, 30, allow_nan=False).map(lambda v: round(v, 1))
    facs = [fac(f"F{k}", draw(st.sampled_from(["tokuyo", "roken", "iryoin"])), draw(at), draw(at))
            for k in range(n_f)]
    hosp = [inst(f"H{k}", "hospital", draw(at), draw(at), admit="true",
                 capacity_facilities=draw(st.integers(0, 2))) for k in range(n_h)]
    return facs, hosp


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_regions())
def test_reduced_plan_equals_full_model_and_brute_force(tmp_path_factory, data):
    facs, hosp = data
    region = make_region(tmp_path_factory.mktemp("r"), facs, hosp)
    fast, full = _plan(region, reduce=True), _plan(region, reduce=False)
    assert fast.optimal and full.optimal
    assert fast.completable == full.completable
    assert (fast.total_facilities, len(fast.increases)) == (full.total_facilities, len(full.increases))
    assert (fast.total_facilities, len(fast.increases)) == _brute_force(region, fast)
    _check_assignment(region, fast)


def test_reduction_steps_aside_where_it_does_not_hold(tmp_path):
    """Several roles per facility, or capacities in residents: the full model runs."""
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)],
                         [inst("H1", "hospital", 0.2, 0, "zaibyo", capacity_facilities=0)])
    params = MatchParameters()
    cand = find_candidates(region, facility_status(region), params, travel_provider(region, params))
    assert _tight_part(region, cand) is None  # ①②③ from one facility
    region = make_region(tmp_path / "r", [fac("F1", "tokuyo", 0, 0)],
                         [inst("H1", "hospital", 0.2, 0, admit="true", capacity_facilities=0,
                               capacity_residents=10)])
    assert _tight_part(region, _admit_candidates(region)) is None
