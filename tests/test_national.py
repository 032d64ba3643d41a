"""The national-scale synthetic instance and the paths that make it fast.

Functional, not timed (timings are in benchmarks/): the generator is reproducible
and shaped as intended; the closed-form and parallel paths give the same proposals
as solving every component with CP-SAT in one process; the PuLP + CBC baseline
reaches the same coverage as the optimiser.
"""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import numpy as np
import pytest

from matching import MatchParameters, match, verify
from matching.contract import load_region
from matching.demo import national
from matching.optimise import model as model_module
from matching.optimise.greedy import coverage
from matching.optimise.options import SolveOptions
from matching.status import facility_status
from matching.vocabulary import FACILITY_TYPES

SMALL = 0.02  # ≈ 790 facilities, 460 institutions over the 47 clusters


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("national-small")
    national.write(folder, seed=7, scale=SMALL)
    return folder


def test_generator_is_reproducible(small, tmp_path):
    national.write(tmp_path, seed=7, scale=SMALL)
    for name in ("areas", "facilities", "institutions", "partnerships"):
        assert filecmp.cmp(small / f"{name}.csv", tmp_path / f"{name}.csv", shallow=False), name
    other = tmp_path / "other"
    national.write(other, seed=8, scale=SMALL)
    assert not filecmp.cmp(small / "facilities.csv", other / "facilities.csv", shallow=False)


def test_generator_shape(small):
    region = load_region(small)  # strict
    assert region.skipped == []
    assert region.areas["prefecture_code"].nunique() == 47
    assert 1500 <= len(region.areas) <= 1900
    fac, inst = region.facilities, region.institutions
    for table in (fac, inst):
        assert table["name"].str.startswith("デモ").all()
    # Type proportions as the national counts.
    total = sum(national.FACILITY_COUNTS.values())
    share = fac["facility_type"].value_counts(normalize=True)
    for ftype, n in national.FACILITY_COUNTS.items():
        assert share[ftype] == pytest.approx(n / total, abs=0.01), ftype
    assert len(fac) == pytest.approx(total * SMALL, rel=0.02)
    kinds = inst["kind"].value_counts()
    assert kinds["hospital"] == pytest.approx(national.HOSPITALS * SMALL, rel=0.05)
    assert kinds["clinic"] == pytest.approx(national.CLINICS * SMALL, rel=0.05)
    # 30–40% of reported obligated facilities lack a role, per type.
    st = facility_status(region)
    rep = st[st["reported"]]
    for ftype, t in FACILITY_TYPES.items():
        if t.obligated:
            lacking = (rep[rep["facility_type"] == ftype]["status"] != "all_met").mean()
            assert 0.28 <= lacking <= 0.42, (ftype, lacking)  # quota 31–39%, rounding at small counts
    # Very different densities: the Tokyo-like cluster is far denser than the Hokkaido-like one.
    per_pref = fac["municipality_code"].str[:2].value_counts()
    assert per_pref["13"] > 5 * per_pref["31"]


def test_prefecture_instance_size():
    tables = national.prefecture(seed=1)
    assert 1700 <= len(tables["facilities"]) <= 2300
    assert 900 <= len(tables["institutions"]) <= 1300
    assert set(tables["areas"]["prefecture_code"]) == {national.PREFECTURE_CODE}


def test_fast_paths_give_the_same_proposals(small, monkeypatch):
    region = load_region(small)
    params = MatchParameters()
    plain = match(region, params, SolveOptions(reduce=False, workers=1))
    monkeypatch.setattr(model_module, "PARALLEL_MIN_ROWS", 0)
    fast = match(region, params, SolveOptions(workers=2))
    assert fast.closed_components > 0
    assert plain.optimal and fast.optimal
    assert [s.objective for s in plain.stages] == [s.objective for s in fast.stages]
    assert fast.proposals.equals(plain.proposals)
    assert verify(region, fast.proposals, params) == []


def test_nearest_candidates_report_an_honest_bound(small):
    region = load_region(small)
    params = MatchParameters()
    exact = match(region, params)
    near = match(region, params, SolveOptions(nearest=3, large_component=200, large_time_limit=1.0, workers=2))
    assert verify(region, near.proposals, params) == []
    for e, n in zip(exact.stages[:3], near.stages[:3], strict=True):
        assert n.objective <= e.objective <= n.bound  # the bound holds for the full candidate set
        assert n.bound == e.bound or not n.optimal


def test_lengthened_lists_reach_and_prove_the_full_optimum(tmp_path):
    national.write(tmp_path, seed=3, scale=0.05, prefectures=("13",))  # Tokyo-like: capacity binds
    region = load_region(tmp_path)
    params = MatchParameters()
    exact = match(region, params)  # every candidate
    assert exact.optimal
    short = match(region, params, SolveOptions(nearest=2))
    assert not all(s.optimal for s in short.stages[:3])  # two per role hide coverage, and it says so
    near = match(region, params, SolveOptions(nearest=2, expand_rounds=3))
    for e, n in zip(exact.stages[:3], near.stages[:3], strict=True):
        assert n.optimal and n.objective == n.bound == e.objective, (e, n)
    assert verify(region, near.proposals, params) == []


def test_agreements_bound_for_the_lists_used(tmp_path):
    """With cut lists goals 4–5 may carry no bound for the full lists (at national size they do
    not), so the run also states the one it proved for the lists it used: at most the optimum of
    an exact run on exactly those lists, which is at most what the run proposes."""
    from matching.candidates import facilities_to_match
    from matching.optimise.model import CooperationModel
    from matching.optimise.run import model_candidates, model_inputs, summary

    national.write(tmp_path, seed=3, scale=0.05, prefectures=("13",))
    region = load_region(tmp_path)
    params = MatchParameters()
    near = match(region, params, SolveOptions(nearest=2, expand_rounds=3))
    agreements = near.stage("new_agreements")
    assert np.isfinite(agreements.lists_bound)
    inputs = model_inputs(region, facilities_to_match(near.status_before, params))
    exact = CooperationModel.from_frames(model_candidates(near.candidates, False).drop(columns="truncated"), inputs,
                                         region.institutions).solve()
    assert all(stage.optimal for stage in exact.stages)
    assert agreements.lists_bound <= exact.stages[3].objective <= agreements.objective
    s = summary(near)
    assert s["bound_lists_used"]["new_agreements"] == agreements.lists_bound
    assert np.isnan(match(region, params).stage("new_agreements").lists_bound)  # full lists: one bound


def test_pulp_baseline_reaches_the_same_coverage(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from benchmarks.pulp_baseline import model_inputs_of, solve_pulp

    national.write(tmp_path, seed=3, scale=0.05, prefectures=("13",))  # Tokyo-like: dense, capacity binds
    region = load_region(tmp_path)
    result = match(region)
    assert result.optimal
    p = solve_pulp(result.candidates, model_inputs_of(region, result), region.institutions)
    assert p.optimal
    assert p.values == [s.objective for s in result.stages]
    from matching.optimise.run import proposals_from

    assert coverage(region, proposals_from(p.chosen)) == coverage(region, result.proposals)
