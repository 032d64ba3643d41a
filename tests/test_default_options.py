"""Any region with default settings: options chosen by the data, the greedy floor,
bounds for cut candidate lists, and honest warnings (issue: "Any region, default settings")."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from matching import MatchParameters, match, verify
from matching.candidates import count_candidates, find_candidates
from matching.contract import load_region
from matching.demo import national
from matching.optimise.greedy import coverage, greedy_match, lexicographic_key
from matching.optimise.options import FULL_LISTS_MAX_ROWS, NATIONAL, SolveOptions, for_size
from matching.optimise.run import summary
from matching.status import facility_status
from tests.matchkit import fac, inst, make_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prefecture(tmp_path_factory) -> Path:
    """The benchmark's seeded prefecture-size region (1,961 facilities, capacities in facilities)."""
    folder = tmp_path_factory.mktemp("pref") / "pref"
    national.write_tables(folder, national.prefecture(2027, residents_capacity=False))
    return folder


@pytest.fixture(scope="module")
def prefecture_run(prefecture):
    region = load_region(prefecture)
    return region, match(region)


def test_options_follow_the_size_of_the_lists(demo_region):
    rows = count_candidates(demo_region, facility_status(demo_region), MatchParameters())
    found = len(find_candidates(demo_region, facility_status(demo_region), MatchParameters()))
    assert abs(rows - found) <= 0.01 * found  # the ball count is the straight-line count
    assert for_size(rows) == SolveOptions()   # small: every candidate, every goal exact
    big = for_size(FULL_LISTS_MAX_ROWS + 1, cpus=8)
    assert big.nearest is not None and big.expand_rounds >= 1 and big.workers == 2
    assert for_size(FULL_LISTS_MAX_ROWS + 1, cpus=1).workers == 1


def test_prefecture_with_default_options_is_proven_and_beats_greedy(prefecture_run):
    region, result = prefecture_run
    assert result.options.nearest is not None  # chosen by the data, nobody passed it
    assert verify(region, result.proposals, result.params) == []
    assert all(s.optimal for s in result.stages[:3])  # coverage proven for the full lists
    ours = coverage(region, result.proposals)
    greedy = coverage(region, greedy_match(region, result.params))
    assert lexicographic_key(ours) >= lexicographic_key(greedy)
    assert ours["all_full"] == 679  # every facility that can be completed is (the figure)
    agreements = result.stage("new_agreements")
    assert np.isfinite(agreements.bound) and agreements.bound <= agreements.objective
    assert agreements.gap <= 0.02
    s = summary(result)
    assert s["warnings"] == [] and s["proof"]["coverage_proven"]
    assert any("新規協定数" in n for n in s["notes"]) or agreements.optimal
    json.dumps(s, allow_nan=False)  # no NaN in what the service stores


def test_cut_lists_keep_the_partner_that_saves_an_agreement(prefecture):
    """Per role set, the nearest institutions able to take it are kept: the capacity-free
    best patterns of the cut lists are those of the full lists (the agreements bound rests on it)."""
    from matching.candidates import facilities_to_match
    from matching.optimise.closed_form import best_patterns
    from matching.optimise.instance import Instance
    from matching.optimise.model import facility_values
    from matching.optimise.run import model_inputs, travel_cost

    region = load_region(prefecture)
    status, params = facility_status(region), MatchParameters()
    inputs = model_inputs(region, facilities_to_match(status, params))
    totals = []
    for k in (None, 8):
        cand = find_candidates(region, status, params, nearest=k)
        cand["cost"] = travel_cost(cand, region, params)
        x = Instance.from_frames(cand, inputs, region.institutions)
        totals.append(facility_values(x, best_patterns(x)).sum(axis=0).tolist())
    assert totals[0] == totals[1]


def _random_region(folder: Path, seed: int, n_fac: int, n_inst: int):
    rng = np.random.default_rng(seed)
    facs = [fac(f"F{k:02d}", str(rng.choice(["tokuyo", "roken", "gh", "keihi"])), *rng.uniform(-14, 14, 2).round(2),
                residents=int(rng.choice([20, 45, 70]))) for k in range(n_fac)]
    insts = []
    for k in range(n_inst):
        hospital = rng.random() < 0.5
        insts.append(inst(f"I{k:02d}", "hospital" if hospital else "clinic", *rng.uniform(-14, 14, 2).round(2),
                          str(rng.choice(["zaibyo", "koho_shien"] if hospital else ["zaishin", "zaishin_kyoka"])),
                          accepting=str(rng.choice(["true", "true", ""])),
                          capacity_facilities=str(rng.choice(["", "1", "2", "3"]))))
    return make_region(folder, facs, insts, [])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
@example(seed=415)  # CI: the greedy rule read blank capacity as unlimited, the optimiser as estimated
def test_random_regions_never_below_greedy_and_cut_bounds_hold(seed):
    with tempfile.TemporaryDirectory() as tmp:
        region = _random_region(Path(tmp), seed, 8, 9)
        params = MatchParameters(limits={"consult": {"minutes": 40}, "admit": {"minutes": 50}})
        exact = match(region, params)  # default options: small, so every list whole
        assert exact.options == SolveOptions() and exact.optimal
        greedy = greedy_match(region, params)
        assert verify(region, greedy, params) == []
        assert lexicographic_key(coverage(region, exact.proposals)) >= lexicographic_key(coverage(region, greedy))
        # The same region with lists cut to 1: coverage still proven, bounds valid for the full lists.
        cut = match(region, params, dataclasses.replace(NATIONAL, nearest=1, workers=1))
        assert verify(region, cut.proposals, params) == []
        full_values = [s.objective for s in exact.stages]
        assert [s.objective for s in cut.stages[:3]] <= full_values[:3]  # lexicographically
        for k, s in enumerate(cut.stages):
            if np.isfinite(s.bound):
                assert s.bound <= full_values[k] + 1e-9 if s.sense == "minimize" else s.bound >= full_values[k]
            if s.optimal:
                assert s.objective == full_values[k]


def test_time_limit_falls_back_to_greedy_and_says_so(demo_region):
    params = MatchParameters(stage_time_limit=1e-4)
    result = match(demo_region, params)
    assert verify(demo_region, result.proposals, params) == []
    greedy = greedy_match(demo_region, params)
    assert lexicographic_key(coverage(demo_region, result.proposals)) >= lexicographic_key(coverage(demo_region, greedy))
    s = summary(result)
    assert not s["proof"]["coverage_proven"] and s["proof"]["greedy_floor"]
    assert s["warnings"] and "最適と証明されていません" in s["warnings"][0]
    assert any("貪欲法" in w for w in s["warnings"])
    json.dumps(s, allow_nan=False)
    # What is claimed as proven still holds: the bounds enclose the exact optimum.
    exact = match(demo_region, MatchParameters())
    assert exact.optimal
    for hurried, best in zip(result.stages, exact.stages, strict=True):
        if np.isfinite(hurried.bound):
            assert (hurried.bound >= best.objective if hurried.sense == "maximize"
                    else hurried.bound <= best.objective), hurried


def test_cli_warns_on_stderr_when_coverage_is_not_proven(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("stage_time_limit = 0.0001\n", encoding="utf-8")
    proc = subprocess.run([str(Path(sys.executable).parent / "matching"), "match", str(ROOT / "data" / "demo"),
                           "--config", str(config), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "警告: カバー（目標1〜3）が最適と証明されていません" in proc.stderr
    written = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert written["warnings"] and written["proof"]["coverage_proven"] is False
