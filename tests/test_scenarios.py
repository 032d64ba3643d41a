"""Scenarios: parsing (clear errors), applying (pure), comparing (numbers derived by hand),
sweeps, criticality and the capacity plan — on tiny hand-made regions.

Travel on the grid: minutes = km × 1.3 / 40 km/h × 60 = 1.95 min per km, so
① and ② reach about 15.4 km (30 min), ③ about 23 km (45 min).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching import MatchParameters, match, verify
from matching.cli import app
from matching.parameters import ParameterError
from matching.scenarios import (
    Scenario,
    ScenarioError,
    apply_scenario,
    load_scenario,
    scenario_changes,
)
from matching.scenarios.apply import scaled
from matching.scenarios.capacity import apply_increases, capacity_plan
from matching.scenarios.compare import compare, run_scenarios, write_comparison
from matching.scenarios.criticality import criticality
from matching.scenarios.sweep import parse_sweep, set_parameter, sweep
from tests.matchkit import fac, inst, make_region

ROOT = Path(__file__).resolve().parents[1]


def region_a(folder: Path, h2_capacity: int = 5):
    """F1 特養 and F2 老健 (obligated), F3 グループホーム (effort); H1 takes ①②③ (one new
    facility), C1 ①② (unlimited), H2 ③ only.  F2 already has H1 for ①②."""
    return make_region(folder, [
        fac("F1", "tokuyo", 0, 0, residents=50),
        fac("F2", "roken", 2, 0, residents=40),
        fac("F3", "gh", 0, 3, residents=18),
    ], [
        inst("H1", "hospital", 1, 0, "zaibyo", capacity_facilities=1),
        inst("C1", "clinic", 0, 2, "zaishin"),
        inst("H2", "hospital", 10, 0, "chiiki_houkatsu_ward", capacity_facilities=h2_capacity),
        inst("C9", "clinic", 60, 60, "zaishin"),  # far away: never a candidate
    ], [("F2", "H1", "consult;visit")])


def scenario(data: dict, name: str = "s.toml") -> Scenario:
    return Scenario.from_mapping(data, source=name)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- parsing: clear errors naming file and key ------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('[[close]]\nids = ["H1"]\nshare = 1.5\n', "bad.toml: close[0].share: 1 以下にしてください"),
    ('[[close]]\n', "bad.toml: close[0]: 対象の医療機関を ids、kind"),
    ('[[capacity]]\nids = ["H1"]\nfacilities = 2\nfacilities_percent = 10\n',
     "bad.toml: capacity[0]: facilities と facilities_percent はどちらか一方だけ書いてください"),
    ('[[capacity]]\nids = ["H1"]\nfacilities = -1\n',
     "bad.toml: capacity[0].facilities: 0 以上にしてください"),
    ('[[growth]]\nfactor = 0\n', "bad.toml: growth[0].factor: 0 より大きい値にしてください"),
    ('[[growth]]\nfacility_types = ["hospice"]\nfactor = 1.2\n',
     "bad.toml: growth[0].facility_types: 施設種別のコード ['hospice'] はありません"),
    ('clsoe = []\n', "bad.toml: clsoe: この項目は使えません（綴りを確認してください）（使える項目: "),
    ('[[close]]\nkind = "pharmacy"\n', "bad.toml: close[0].kind: 次のいずれかを書いてください: 'hospital' or 'clinic'"),
    ('[[start_accepting]]\ndesignations = ["zaishinn"]\n',
     "bad.toml: start_accepting[0].designations: 届出・指定のコード ['zaishinn'] はありません"),
    ('[[new_institutions]]\nid = "N1"\nname = "x"\nkind = "clinic"\nmunicipality_code = "03201"\n'
     'lat = 39.7\nlon = 141.1\nadmit = true\n',
     "bad.toml: new_institutions[0]: 診療所に admit = true は書けません（③入院受入れは病院のみ）"),
    ('[[new_facilities]]\nid = "N1"\nname = "x"\nfacility_type = "tokuyo"\nmunicipality_code = "3201"\n'
     'lat = 39.7\nlon = 141.1\n', "bad.toml: new_facilities[0].municipality_code: 書き方が違います（形式 "),
    ('[parameters.limits.visit]\nkm = -3\n', "bad.toml: parameters.limits.visit.km: 0 より大きい値にしてください"),
    ('[parameters.limits.house_call]\nkm = 3\n', "役割 'house_call' はありません"),
    ('[parameters]\nfacility_types = ["tokuyo", "hospice"]\n', "施設種別のコード ['hospice'] はありません"),
    ('[parameters]\nspeed = 50\n', "bad.toml: parameters.speed: この項目は使えません"),
    ('name = "x\n', "bad.toml: TOML として読めません"),
])
def test_parse_errors_name_file_and_key(tmp_path, text, expected):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(write(tmp_path, "bad.toml", text))
    assert expected in str(exc.value)
    assert str(tmp_path / "bad.toml") in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="nope.toml: ファイルが見つかりません"):
        load_scenario(tmp_path / "nope.toml")


@pytest.mark.parametrize("data, expected", [
    ({"close": [{"ids": ["H1", "H9"]}]}, "s.toml: close[0].ids: 医療機関ID ['H9'] は地域のデータにありません"),
    ({"growth": [{"ids": ["F1", "F7"], "factor": 1.1}]},
     "s.toml: growth[0].ids: 施設ID ['F7'] は地域のデータにありません"),
    ({"close": [{"ids": ["H1"]}], "capacity": [{"ids": ["H1"], "facilities": 3}]},
     "s.toml: capacity[0].ids: 医療機関 ['H1'] はこのシナリオの close[0] で廃止されています"),
    ({"stop_accepting": [{"municipalities": ["99999"]}]},
     "s.toml: stop_accepting[0].municipalities: 市区町村コード ['99999'] は areas.csv にありません"),
    ({"close": [{"secondary_areas": ["0399"]}]},
     "s.toml: close[0].secondary_areas: 二次医療圏コード ['0399'] は areas.csv にありません"),
    ({"new_institutions": [{"id": "C1", "name": "x", "kind": "clinic", "municipality_code": "03201",
                            "lat": 39.7, "lon": 141.1}]},
     "s.toml: new_institutions[0].id: 医療機関ID 'C1' はすでにあります"),
    ({"new_facilities": [{"id": "F9", "name": "x", "facility_type": "gh", "municipality_code": "04101",
                          "lat": 39.7, "lon": 141.1}]},
     "s.toml: new_facilities[0].municipality_code: 市区町村コード '04101' は areas.csv にありません"),
])
def test_unknown_ids_are_named_when_applied(tmp_path, data, expected):
    region = region_a(tmp_path)
    with pytest.raises(ScenarioError) as exc:
        apply_scenario(region, scenario(data))
    assert str(exc.value) == expected


def test_demo_scenario_files_parse():
    names = {load_scenario(p).name for p in sorted((ROOT / "data/demo/scenarios").glob("*.toml"))}
    assert {"base", "closure", "2040"} <= names


# -- applying: pure, exact -----------------------------------------------------------

def test_apply_is_pure_and_exact(tmp_path):
    region = region_a(tmp_path)
    frames = {k: getattr(region, k).copy() for k in ("facilities", "institutions", "partnerships")}
    s = scenario({
        "close": [{"ids": ["H1"]}],
        "stop_accepting": [{"ids": ["C9"]}],
        "capacity": [{"ids": ["H2"], "facilities_percent": -50, "residents": 100}],
        "new_institutions": [{"id": "N1", "name": "新病院", "kind": "hospital", "municipality_code": "03201",
                              "lat": 39.7, "lon": 141.16, "designations": ["zaibyo"], "capacity_facilities": 2}],
        "growth": [{"facility_types": ["tokuyo"], "factor": 1.62}, {"ids": ["F3"], "factor": 1.5}],
        "new_facilities": [{"id": "F9", "name": "新特養", "facility_type": "tokuyo", "municipality_code": "03201",
                            "lat": 39.71, "lon": 141.15, "residents": 80}],
        "parameters": {"limits": {"visit": {"km": 12}}, "facility_types": ["tokuyo", "roken"]},
    })
    new, params = apply_scenario(region, s)
    for k, before in frames.items():  # the input region is untouched
        pd.testing.assert_frame_equal(getattr(region, k), before)
    assert sorted(new.institutions.index) == ["C1", "C9", "H2", "N1"]
    assert new.partnerships.empty  # F2's agreement with H1 ended with the closure
    assert new.institutions.at["C9", "accepting"] == False  # noqa: E712
    assert new.institutions.at["H2", "capacity_facilities"] == 3  # 5 × 0.5 = 2.5 → 3 (halves up)
    assert new.institutions.at["H2", "capacity_residents"] == 100
    assert new.offered_roles("N1") == frozenset({"consult", "visit", "admit"})
    assert new.facilities.at["F1", "residents"] == 81  # 50 × 1.62 = 81
    assert new.facilities.at["F3", "residents"] == 27  # 18 × 1.5
    assert new.facilities.at["F2", "residents"] == 40
    assert new.facilities.at["F9", "residents"] == 80 and bool(new.facilities.at["F9", "reported"])
    assert params.limits["visit"].km == 12 and params.limits["visit"].minutes == 30
    assert params.facility_types == ["tokuyo", "roken"]
    assert scenario_changes(region, new) == {
        "closed_institutions": 1, "ended_agreements": 1, "new_institutions": 1, "stopped_accepting": 1,
        "started_accepting": 0, "capacity_changed": 1, "new_facilities": 1,
        "residents_before": 108, "residents_after": 81 + 40 + 27 + 80}
    result = match(new, params)
    assert verify(new, result.proposals, params) == []


def test_share_picks_are_stable_and_sized(tmp_path):
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)],
                         [inst(f"C{k}", "clinic", k, 0, "zaishin") for k in range(1, 8)])
    s = scenario({"close": [{"kind": "clinic", "share": 0.5, "seed": 7}]})
    a, _ = apply_scenario(region, s)
    b, _ = apply_scenario(region, s)
    assert len(a.institutions) == 3  # 7 × 0.5 = 3.5 → 4 closed, 3 left
    assert list(a.institutions.index) == list(b.institutions.index)
    assert scaled(7, 0.5) == 4 and scaled(5, 0.2) == 1 and scaled(0, 3.0) == 0


# -- comparing: numbers derived by hand ----------------------------------------------

def test_comparison_numbers(tmp_path):
    """Base: H1 takes ①②③ of F1 (its one free slot: one agreement instead of two), ③ is added to
    F2's agreement with H1 (no slot used), C1 takes ①② of F3.  → 3 proposals, 2 new agreements,
    all three facilities complete, H1 full.

    Closure of H1: F2's agreement ends, so F1 and F2 both need ①②③: C1 ①② + H2 ③ each, C1 ①② for
    F3 → 5 proposals, 5 new agreements; F1 and F2 change partner; H2 (5 slots) uses 2: nobody full."""
    region = region_a(tmp_path)
    runs = run_scenarios(region, [scenario({"label": "現状"}, "base.toml"),
                                  scenario({"label": "H1閉院", "close": [{"ids": ["H1"]}]}, "closure.toml")])
    for run in runs:
        assert verify(run.region, run.result.proposals, run.params) == []
    comp = compare(runs)
    s = comp.summary.set_index("scenario")
    expect = {
        "base": dict(facilities=3, tracked=3, obligated_tracked=2, all_met_before=0, all_met_after=3,
                     obligated_all_met_before=0, obligated_all_met_after=2, obligated_short_after=0,
                     proposals=3, new_agreements=2, unmatched_facilities=0, institutions_full=1,
                     changed_partner=0, closed_institutions=0, ended_agreements=0),
        "closure": dict(facilities=3, tracked=3, obligated_tracked=2, all_met_before=0, all_met_after=3,
                        obligated_all_met_before=0, obligated_all_met_after=2, obligated_short_after=0,
                        proposals=5, new_agreements=5, unmatched_facilities=0, institutions_full=0,
                        changed_partner=2, closed_institutions=1, ended_agreements=1),
    }
    for name, values in expect.items():
        for k, v in values.items():
            assert s.at[name, k] == v, (name, k)
    assert s.at["base", "obligated_share_after"] == 100.0

    props = runs[0].result.proposals.set_index(["facility_id", "institution_id"])["roles"].to_dict()
    assert props == {("F1", "H1"): "consult;visit;admit", ("F2", "H1"): "admit", ("F3", "C1"): "consult;visit"}

    # Travel: base pairs are all ~1 km (2 min); after the closure F1–H2 (10 km, 19.5 min) and
    # F2–H2 (8 km, 15.6 min) fall in 10–20 min.
    t = comp.travel.set_index(["scenario", "minutes"])["proposals"]
    assert t[("base", "0–10分")] == 3 and t[("base", "10–20分")] == 0
    assert t[("closure", "0–10分")] == 3 and t[("closure", "10–20分")] == 2

    assert comp.full_institutions[["scenario", "institution_id"]].values.tolist() == [["base", "H1"]]
    changed = comp.changed_partners.set_index("facility_id")
    assert sorted(changed.index) == ["F1", "F2"]
    assert changed.at["F1", "partners_reference"] == "テスト機関H1（①②③）"
    assert changed.at["F1", "partners_scenario"] == "テスト機関C1（①②）、テスト機関H2（③）"

    cov = comp.coverage.set_index(["scenario", "when", "facility_type"])
    assert cov.loc[("base", "before", "roken"), "some_met"] == 1
    assert cov.loc[("closure", "before", "roken"), "not_designated"] == 1
    assert cov.loc[("closure", "after", "tokuyo"), "all_met"] == 1

    files = write_comparison(comp, tmp_path / "out")
    assert {f.name for f in files} >= {"whatif_summary.csv", "whatif_summary.png", "whatif_travel.csv"}
    assert (tmp_path / "out/whatif_summary.png").read_bytes()[:4] == b"\x89PNG"


def test_scenario_names_must_differ(tmp_path):
    region = region_a(tmp_path)
    with pytest.raises(ValueError, match="repeated: \\['s'\\]"):
        run_scenarios(region, [scenario({}), scenario({})])


# -- sweep -----------------------------------------------------------------------------

def test_parse_sweep():
    assert parse_sweep("limits.visit.km=10:30:5") == ("limits.visit.km", [10, 15, 20, 25, 30])
    assert parse_sweep("travel.circuity=1.1:1.3:0.1") == ("travel.circuity", [1.1, 1.2, 1.3])
    assert parse_sweep("limits.admit.minutes=30,60") == ("limits.admit.minutes", [30, 60])
    for bad, msg in [("limits.visit.km", "expected PATH=START"), ("x=1:2", "expected START:STOP:STEP"),
                     ("x=5:1:1", "STOP ≥ START"), ("x=a,b", "values must be numbers")]:
        with pytest.raises(ParameterError, match=msg):
            parse_sweep(bad)
    with pytest.raises(ParameterError, match="unknown parameter 'limits.visit.kms': no key 'kms' under limits.visit"):
        set_parameter(MatchParameters(), "limits.visit.kms", 3)
    with pytest.raises(ParameterError, match="sweep limits.visit.km=-1: limits.visit.km: 0 より大きい値にしてください"):
        set_parameter(MatchParameters(), "limits.visit.km", -1)


def test_sweep_numbers(tmp_path):
    """With ② limited to 0.5 km nobody is within reach for ②: only F2 (needs ③ alone) completes,
    but the roles that can be covered still are (goal 3): H1 takes ①③ of F1 and C1 ① of F3 —
    two new agreements, as at 5 km, where the base result (3 complete) comes back."""
    region = region_a(tmp_path)
    table = sweep(region, "limits.visit.km", [0.5, 5])
    assert table["all_met_after"].tolist() == [1, 3]
    assert table["obligated_all_met_after"].tolist() == [1, 2]
    assert table["new_agreements"].tolist() == [2, 2]
    assert table["proposals"].tolist() == [3, 3]
    # On a local Dask cluster of 2 workers (issue 17 item 4): the same table.
    assert sweep(region, "limits.visit.km", [0.5, 5], workers=2).equals(table)


# -- criticality ---------------------------------------------------------------------

def test_criticality_ranking(tmp_path):
    """H2 has one slot.  Without H1, F1 and F2 both need ③ from H2: one obligated facility is lost.
    Without C1, F1 takes H1's only slot (obligated first) and F3 (effort) is lost.
    C9 (far away) and H2 (unused) are not considered in stop_accepting mode."""
    region = region_a(tmp_path, h2_capacity=1)
    params = MatchParameters()
    base = match(region, params)
    assert verify(region, base.proposals, params) == []
    for mode in ("stop_accepting", "withdraw"):
        table = criticality(region, params, base, mode=mode)
        rows = table.set_index("institution_id")
        assert table["institution_id"].tolist() == ["H1", "C1"], mode
        assert table["rank"].tolist() == [1, 2]
        assert rows.loc["H1", ["lost_all_met", "lost_obligated"]].tolist() == [1, 1]
        assert rows.loc["C1", ["lost_all_met", "lost_obligated"]].tolist() == [1, 0]
        assert rows.at["C1", "lost_facilities"] == "F3"
        assert rows.at["H1", "agreements_in_force"] == 1 and rows.at["H1", "proposals_in_base"] == 2


def test_criticality_on_a_dask_cluster_is_the_same_table(tmp_path):
    """Issue 17 item 4: the re-solves can go to a running Dask scheduler (--cluster)."""
    from distributed import LocalCluster

    region = region_a(tmp_path, h2_capacity=1)
    params = MatchParameters()
    base = match(region, params)
    local = criticality(region, params, base, mode="withdraw", workers=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = criticality(region, params, base, mode="withdraw", cluster=cluster.scheduler_address)
    assert remote.equals(local)


def test_criticality_matches_a_full_resolve(tmp_path):
    """The component shortcut gives the same counts as solving the whole region again."""
    region = region_a(tmp_path, h2_capacity=1)
    params = MatchParameters()
    base = match(region, params)
    all_met = (base.status_after["status"] == "all_met").sum()
    table = criticality(region, params, base, mode="withdraw").set_index("institution_id")
    for i in table.index:
        s = scenario({"close": [{"ids": [i]}]})
        new, p = apply_scenario(region, s)
        full = match(new, p)
        assert verify(new, full.proposals, p) == []
        assert all_met - (full.status_after["status"] == "all_met").sum() == table.at[i, "lost_all_met"]


def test_criticality_on_the_demo_equals_full_resolves(demo_region):
    """Issue 17: the incremental answer (repair, else a coverage-only re-solve of the reached
    facilities, in 2 processes) gives a full re-solve's counts, on the demo with time slots.
    A sample of the institutions: those with a loss are re-solved, the others mostly repaired
    (every repair checked by the verifier here)."""
    params = MatchParameters()
    base = match(demo_region, params)
    used = sorted(set(base.proposals["institution_id"]))
    sample = used[::6]
    table = criticality(demo_region, params, base, institutions=sample, workers=2,
                        verify_repairs=True).set_index("institution_id")
    assert set(table.index) == set(sample)
    assert (table["lost_all_met"] > 0).any() and (table["lost_all_met"] == 0).any()
    assert table.equals(criticality(demo_region, params, base, institutions=sample, workers=1)
                        .set_index("institution_id"))  # the number of processes changes nothing
    for i in table.index[table["lost_all_met"] > 0].tolist() + table.index[table["lost_all_met"] == 0][:2].tolist():
        new, p = apply_scenario(demo_region, scenario({"stop_accepting": [{"ids": [i]}]}))
        full = match(new, p, coverage_only=True)  # goals 1-3: what the counts are
        assert verify(new, full.proposals, p) == []
        after = full.status_after.set_index("facility_id") if "facility_id" in full.status_after else full.status_after
        lost = base.status_after["status"].eq("all_met") & ~after["status"].eq("all_met")
        gained = ~base.status_after["status"].eq("all_met") & after["status"].eq("all_met")
        ob = base.status_after["obligated"].astype(bool)
        assert int(lost.sum() - gained.sum()) == table.at[i, "lost_all_met"], i
        assert int((lost & ob).sum() - (gained & ob).sum()) == table.at[i, "lost_obligated"], i
    # The other columns: the base's facts, and the facilities named are all met in the base, at least
    # as many as the net loss (a re-solve may complete others instead).
    met = base.status_after["status"].eq("all_met")
    proposed = base.proposals.groupby("institution_id").size()
    in_force = demo_region.partnerships.groupby("institution_id").size()
    for i in table.index:
        named = [f for f in str(table.at[i, "lost_facilities"]).split(";") if f and f != "nan"]
        assert met.reindex(named).fillna(False).all(), i
        assert len(named) >= table.at[i, "lost_all_met"], i
        assert int(base.status_after["obligated"].reindex(named).astype(bool).sum()) >= table.at[i, "lost_obligated"], i
        assert table.at[i, "proposals_in_base"] == proposed.get(i, 0) > 0, i
        assert table.at[i, "agreements_in_force"] == in_force.get(i, 0), i
    # Obligated facilities first, as the model ranks its goals.
    assert table.sort_values("rank")[["lost_obligated", "lost_all_met"]].apply(tuple, axis=1).is_monotonic_decreasing



def test_repair_on_the_base_rows_equals_the_repair_of_the_reached_sub_region(demo_region, monkeypatch):
    """Stopping acceptance ends no agreement, so the repair works on the base's candidate rows less
    the institution's (one instance for all institutions) instead of building the reached
    sub-region per institution: both repairs must settle the same institutions with the same
    facilities all met, on the demo (time slots) and without time slots."""
    from matching.scenarios import criticality as crit

    resolved = []  # the re-solve is not run: only which institutions the repair settles is compared
    monkeypatch.setattr(crit, "_resolved", lambda region, *a: resolved.append(1) or pd.Series(dtype=bool))
    monkeypatch.setattr(crit, "_neighbourhood_repaired", lambda *a: None)  # further steps of the rows path
    monkeypatch.setattr(crit._Change, "_resolved_on_rows", lambda *a: None)
    for params in (MatchParameters(), MatchParameters(max_partners_per_role=1)):
        base = match(demo_region, params)
        region = demo_region.as_planned(params)
        on_rows = crit._Change(region, params, base, "stop_accepting", verify_repairs=True)
        on_sub = crit._Change(region, params, base, "stop_accepting", verify_repairs=True)
        assert on_rows.x is not None
        on_sub.x = None  # the sub-region path
        settled = 0
        for i in sorted(set(base.proposals["institution_id"])):
            resolved.clear()
            ids_rows, now_rows = on_rows.after(i)
            by_rows = not resolved
            resolved.clear()
            ids_sub, now_sub = on_sub.after(i)
            assert ids_rows == ids_sub and by_rows == (not resolved), i
            assert now_rows.equals(now_sub), i
            settled += by_rows
        assert settled >= 20, settled


def test_a_neighbourhood_repair_settles_only_institutions_that_cost_nothing(demo_region, monkeypatch):
    """Where the greedy repair falls short, CP-SAT re-decides the facilities near those that lost
    a partner; what it settles must cost nothing in a full re-solve of the changed region too,
    and its solution passes the verifier (verify_repairs)."""
    from matching.scenarios import criticality as crit

    params = MatchParameters()
    base = match(demo_region, params)
    region = demo_region.as_planned(params)
    settled = []
    real = crit._neighbourhood_repaired

    def spy(*args):
        found = real(*args)
        if found is not None and found.exact:
            settled.append(found)
        return found

    monkeypatch.setattr(crit, "_neighbourhood_repaired", spy)
    change = crit._Change(region, params, base, "stop_accepting", verify_repairs=True)
    by_neighbourhood = []
    for i in sorted(set(base.proposals["institution_id"]))[::2]:
        before = len(settled)
        ids, now = change.after(i)
        if len(settled) > before:
            by_neighbourhood.append(i)
            assert int(change.all_met.reindex(ids).sum()) == int(now.sum()), i
    assert by_neighbourhood, "the demo has institutions only the neighbourhood repair settles"
    for i in by_neighbourhood[:2]:
        new, p = apply_scenario(demo_region, scenario({"stop_accepting": [{"ids": [i]}]}))
        full = match(new, p)
        assert verify(new, full.proposals, p) == []
        assert full.status_after["status"].eq("all_met").sum() == base.status_after["status"].eq("all_met").sum(), i


@pytest.mark.parametrize("partners", [2, 1])
def test_a_re_solve_on_the_component_model_confirms_the_best_repair_or_beats_it(demo_region, monkeypatch, partners):
    """Where no repair reaches the upper bounds, goals 1–2 are solved again on the reached
    component's model (built once, the institution's rows left out), looking only for better than
    the best repair: either nothing is better (the repair is the optimum) or CP-SAT's optimum is.
    Both happen on the demo, with time slots and without (one partner per role); either way the
    count lost equals a full re-solve's, and the re-solve passes the verifier.  Every institution
    with proposals is gone through: without time slots one (I0051) leaves facilities with no
    candidate at all, which no model can re-solve (it crashed one)."""
    from matching.scenarios import criticality as crit

    params = MatchParameters(max_partners_per_role=partners)
    base = match(demo_region, params)
    change = crit._Change(demo_region.as_planned(params), params, base, "stop_accepting", verify_repairs=False)
    outcome = []
    real = crit._Change._resolved_on_rows

    def spy(self, *args):
        known, found = args[-1], real(self, *args)
        outcome.append("repair" if known is not None and found.picked is known.picked else "solver")
        return found

    monkeypatch.setattr(crit._Change, "_resolved_on_rows", spy)
    verified = []
    monkeypatch.setattr(crit, "_verified", lambda region, p, proposals, what: verified.append(what))
    seen: dict[str, list] = {}
    for i in sorted(set(base.proposals["institution_id"])):
        outcome.clear()
        ids, now = change.after(i)
        if outcome and len(seen.setdefault(outcome[0], [])) < 2:
            seen[outcome[0]].append((i, int(change.all_met.reindex(ids).sum() - now.sum())))
            assert verified[-1] == "re-solve", i
    assert {k: len(v) for k, v in seen.items()} == {"repair": 2, "solver": 2}
    met = base.status_after["status"].eq("all_met")
    for i, lost in seen["repair"] + seen["solver"]:
        new, p = apply_scenario(demo_region, scenario({"stop_accepting": [{"ids": [i]}]}))
        # Goals 1-3 only: the count lost is theirs (goals 4-5 would only add solver time).
        full = match(new, p.model_copy(update={"max_partners_per_role": partners}), coverage_only=True)
        assert int(met.sum() - full.status_after["status"].eq("all_met").sum()) == lost, i


@pytest.mark.parametrize("partners", [1, 2])
def test_a_neighbourhood_repair_of_facilities_left_without_candidates_gives_up(demo_region, partners):
    """A facility whose only candidates were the institution's has nothing to be re-decided: the
    neighbourhood repair says so (None) instead of building an empty model (national run without
    time slots, 2026-12-05: IndexError after 8 minutes)."""
    from matching.scenarios import criticality as crit

    params = MatchParameters(max_partners_per_role=partners)
    base = match(demo_region, params)
    change = crit._Change(demo_region.as_planned(params), params, base, "stop_accepting", False)
    x = change.x
    lost = base.proposals["facility_id"].iloc[0]
    code, present = crit._codes(x, [lost])
    rows = np.flatnonzero(x.f != code[0])  # none of its rows left
    ids = sorted(set(x.facility_ids))
    all_code, all_present = crit._codes(x, ids)
    already, before, obligated = (a[all_code] for a in change.facts)
    capacity_free = crit._capacity_free(x, rows, all_code, all_present, already, True)
    assert crit._neighbourhood_repaired(x, rows, change.base_picked, (code, present), all_code, all_present,
                                        already, before, obligated, capacity_free, 5.0) is None


def test_criticality_with_cut_lists_equals_full_resolves(tmp_path, monkeypatch):
    """At prefecture and national scale the base run keeps each facility's 8 nearest candidates per
    role; an institution the repairs cannot settle is then re-solved with its reached facilities'
    lists drawn again and lengthened as the coverage proof needs, goals 1–3 only
    (``match(coverage_only=True)``). On the seeded prefecture, with the repairs turned off so that
    every institution of the sample is re-solved that way, the counts equal a full re-solve's."""
    from matching.contract import load_region
    from matching.demo import national
    from matching.scenarios import criticality as crit

    national.write_tables(tmp_path / "pref", national.prefecture(2027, residents_capacity=False))
    region = load_region(tmp_path / "pref")
    params = MatchParameters()
    base = match(region, params)
    assert base.options.nearest == 8 and all(s.optimal for s in base.stages[:3])
    monkeypatch.setattr(crit, "_repaired", lambda *a: None)
    monkeypatch.setattr(crit, "_neighbourhood_repaired", lambda *a: None)
    coverage_only = []
    real_match = crit.match
    monkeypatch.setattr(crit, "match", lambda *a, **k: coverage_only.append(k.get("coverage_only")) or
                        real_match(*a, **k))
    sample = sorted(set(base.proposals["institution_id"]))[::150]
    table = criticality(region, params, base, institutions=sample, workers=1).set_index("institution_id")
    assert coverage_only == [True] * len(sample)
    met = base.status_after["status"].eq("all_met")
    for i in sample:
        new, p = apply_scenario(region, scenario({"stop_accepting": [{"ids": [i]}]}))
        full = match(new, p)
        assert verify(new, full.proposals, p) == []
        assert int(met.sum() - full.status_after["status"].eq("all_met").sum()) == table.at[i, "lost_all_met"], i

# -- capacity plan -------------------------------------------------------------------

def test_capacity_plan(tmp_path):
    """F1 needs ③ from H1 or H2, both with no free slot; raising H2 would also need 50 resident
    places, H1 only one slot → +1 facility at H1.  F4 is 100 km from everything: blocked."""
    region = make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0, residents=50),
        fac("F2", "roken", 2, 0, residents=40),
        fac("F3", "gh", 0, 3, residents=18),
        fac("F4", "tokuyo", 100, 0, residents=30),
    ], [
        inst("H1", "hospital", 1, 0, "zaibyo", capacity_facilities=0),
        inst("C1", "clinic", 0, 2, "zaishin"),
        inst("H2", "hospital", 10, 0, "chiiki_houkatsu_ward", capacity_facilities=0, capacity_residents=0),
    ], [("F2", "H1", "consult;visit")])
    plan = capacity_plan(region)
    assert not plan.feasible
    assert plan.completable == ["F1", "F2"]
    assert plan.increases[["institution_id", "column", "capacity", "add"]].values.tolist() == [
        ["H1", "capacity_facilities", 0, 1]]
    assert (plan.total_facilities, plan.total_residents) == (1, 0)
    assert plan.optimal and plan.confirmed
    assert plan.blocked[["facility_id", "reason_code"]].values.tolist() == [["F4", "out_of_range"]] * 3
    assert "広域調整" in plan.blocked["fix"].iloc[0] and "上限を" not in plan.blocked["fix"].iloc[0]  # 100 km
    raised = apply_increases(region, plan.increases)
    assert raised.institutions.at["H1", "capacity_facilities"] == 1
    assert region.institutions.at["H1", "capacity_facilities"] == 0  # input unchanged
    r = plan.confirm_result
    assert verify(raised, r.proposals, r.params) == []


def test_capacity_plan_check_re_solves_only_what_the_increases_reach(tmp_path):
    """Issue 17 item 2: given the base run, the plan's confirming run solves again only the
    components the increases reach and re-uses the others — the same proposals, unmatched roles
    and goals as a whole new run.  Here the plan raises H1 (near F1); 50 km away two group homes
    compete for C2's one free slot (a component of its own, solved in the base run only)."""
    region = make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0, residents=50), fac("F2", "roken", 2, 0, residents=40),
        fac("G1", "gh", 50, 0), fac("G2", "gh", 50.5, 0),
    ], [
        inst("H1", "hospital", 1, 0, "zaibyo", capacity_facilities=0),
        inst("C1", "clinic", 0, 2, "zaishin"),
        inst("C2", "clinic", 50.2, 0.2, "zaishin", capacity_facilities=1),
        inst("C3", "clinic", 50.3, 1.5, "zaishin", capacity_facilities=1),
    ], [("F2", "H1", "consult;visit")])
    params = MatchParameters()
    base = match(region, params)
    assert base.solved_components == 2
    whole = capacity_plan(region, params)
    again = capacity_plan(region, params, base=base)
    assert again.increases.equals(whole.increases) and again.confirmed and whole.confirmed
    a, b = whole.confirm_result, again.confirm_result
    assert b.proposals.equals(a.proposals) and b.unmatched.equals(a.unmatched)
    assert [(s.objective, s.bound) for s in b.stages] == [(s.objective, s.bound) for s in a.stages]
    # Raised, H1's component is settled in closed form; G1/G2's is the base run's, re-used.
    assert (a.solved_components, b.solved_components) == (1, 0)
    assert len(base.cache) == 2  # the base run's own results are left as they were


def test_capacity_plan_cap_per_institution(tmp_path):
    """Issue 21 item 4: six 特養 near one 在支診 with no spare capacity (C1, agreements with two
    others in force).  Uncapped, the plan asks C1 for +6 facilities; with the calibration (在支診:
    3 partner facilities in all) at most 1 more, and the other 5 facilities are listed as left out
    by the cap; a number caps the same way.  The confirming run completes what the plan covers."""
    facs = [fac(f"F{k}", "tokuyo", k * 0.3, 0, residents=40) for k in range(6)]
    facs += [fac("G1", "gh", 0, 5), fac("G2", "gh", 0, 5.5)]
    region = make_region(tmp_path, facs, [inst("C1", "clinic", 0, 1, "zaishin", capacity_facilities=0),
                                          inst("H1", "hospital", 1, 1, "", admit="true", capacity_facilities=10)],
                         [("G1", "C1", "consult;visit"), ("G2", "C1", "consult;visit")])
    loose = capacity_plan(region, cap=None)
    assert loose.feasible and loose.increases[["institution_id", "add"]].values.tolist() == [["C1", 6]]
    assert loose.capped.empty and loose.cap == "none"
    plan = capacity_plan(region)  # the calibration
    assert plan.cap == "calibration" and not plan.feasible and plan.blocked.empty
    assert plan.increases[["institution_id", "add"]].values.tolist() == [["C1", 1]]
    completed = set(plan.assignment["facility_id"])
    assert len(completed) == 1 and plan.capped["facility_id"].tolist() == sorted({f"F{k}" for k in range(6)} - completed)
    assert plan.capped["roles"].tolist() == ["①②③"] * 5  # the roles the facility still lacks
    assert plan.confirmed and plan.optimal
    assert capacity_plan(region, cap=4).increases["add"].tolist() == [2]
    from matching.reports.tables import plan_verdict
    assert "上限" in plan_verdict(plan) and "5" in plan_verdict(plan)


# -- the command line ----------------------------------------------------------------

def test_cli_whatif_sweep_and_critical(tmp_path):
    region_a(tmp_path / "region")
    base = write(tmp_path, "base.toml", 'name = "base"\nlabel = "現状"\n')
    closure = write(tmp_path, "closure.toml", 'name = "closure"\nlabel = "H1閉院"\n[[close]]\nids = ["H1"]\n')
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["whatif", str(tmp_path / "region"), str(base), str(closure), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "新規協定数" in r.output and "H1閉院" in r.output
    assert (out / "whatif.xlsx").exists() and (out / "whatif_summary.png").exists()
    summary = pd.read_csv(out / "whatif_summary.csv", encoding="utf-8-sig")
    assert summary["new_agreements"].tolist() == [2, 5]

    r = runner.invoke(app, ["whatif", str(tmp_path / "region"), "--sweep", "limits.visit.km=0.5,5",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out / "sweep.csv", encoding="utf-8-sig")["all_met_after"].tolist() == [1, 3]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"

    bad = write(tmp_path, "bad.toml", '[[close]]\nids = ["H7"]\n')
    r = runner.invoke(app, ["whatif", str(tmp_path / "region"), str(bad), "--out", str(out)])
    assert r.exit_code == 2
    assert "医療機関ID ['H7']" in r.output and "地域のデータにありません" in r.output

    r = runner.invoke(app, ["critical", str(tmp_path / "region"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    crit = pd.read_csv(out / "criticality.csv", encoding="utf-8-sig")
    assert crit["institution_id"].tolist() == ["C1", "H1"]  # H2 has 5 slots here: only C1 matters
    assert crit["lost_all_met"].tolist() == [1, 0]



def test_cli_critical_plans_capacity_on_the_lists_the_base_run_used(tmp_path, monkeypatch):
    """At national (and prefecture) scale the base run keeps each facility's 8 nearest candidates
    per role; the capacity plan of `matching critical` must use the same lists (on full lists the
    national plan took 7.8 GB and did not finish in 10 minutes), and says so."""
    from matching.optimise import options
    from matching.scenarios import capacity

    region_a(tmp_path / "region")
    seen = []
    real = capacity.capacity_plan
    monkeypatch.setattr(capacity, "capacity_plan", lambda *a, **k: seen.append(k.get("nearest")) or real(*a, **k))
    monkeypatch.setattr(options, "FULL_LISTS_MAX_ROWS", 0)  # this small region run as a large one
    r = CliRunner().invoke(app, ["critical", str(tmp_path / "region"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert seen == [8]
    assert "近い8候補で求めました" in r.output

# -- issue 21: scenarios a prefecture can write and trust ---------------------------

@pytest.mark.parametrize("text, valid", [
    ('[[close]]\nid = ["H1"]\n', "close[0].id: この項目は使えません（綴りを確認してください）（使える項目: ids, kind,"),
    ('clsoe = []\n', "（使える項目: name, label, description, parameters, close,"),
    ('[[capacity]]\nids = ["H1"]\nfacility_add = 1\n', "facilities_add, residents_add, facilities_total_percent"),
])
def test_unknown_key_lists_the_valid_ones(tmp_path, text, valid):
    with pytest.raises(ScenarioError) as err:
        load_scenario(write(tmp_path, "bad.toml", text))
    assert valid in str(err.value)


def test_capacity_absolute_add_and_total_percent(tmp_path):
    """H1 has 1 spare facility and one agreement in force (F2): total 2.  C1 is unlimited."""
    region = region_a(tmp_path / "r")
    def cap(change):
        new, _ = apply_scenario(region, scenario({"capacity": [{"ids": ["H1", "C1"], **change}]}))
        return new.institutions.loc["H1", "capacity_facilities"], new.institutions.loc["C1", "capacity_facilities"]
    assert cap({"facilities_add": 3})[0] == 4
    assert pd.isna(cap({"facilities_add": 3})[1])                      # unlimited stays unlimited
    assert cap({"facilities_add": -5})[0] == 0                         # never below 0
    assert cap({"facilities_total_percent": 50})[0] == 2               # 1 + 50 % of (1 spare + 1 in force)
    assert cap({"facilities_percent": 50})[0] == 2                     # 1 × 1.5 = 1.5 → 2 (spare only)
    assert cap({"facilities_total_percent": 100})[0] == 3              # 1 + 2
    assert cap({"facilities_percent": 100})[0] == 2                    # 1 × 2
    # Residents: total = spare 100 + F2's 40 residents.
    new, _ = apply_scenario(region, scenario({"capacity": [{"ids": ["H1"], "residents": 100}]}))
    new2, _ = apply_scenario(new, scenario({"capacity": [{"ids": ["H1"], "residents_total_percent": 50}]}))
    assert new2.institutions.loc["H1", "capacity_residents"] == 100 + 70
    with pytest.raises(ScenarioError, match="facilities_add と facilities_total_percent はどちらか一方だけ"):
        scenario({"capacity": [{"ids": ["H1"], "facilities_add": 1, "facilities_total_percent": 5}]})


def test_zero_spare_grows_only_with_total_percent(tmp_path):
    """The flaw of 'spare +50 %': an institution with 0 spare and partners in force stays at 0."""
    from tests.matchkit import fac, inst, make_region

    region = make_region(tmp_path / "r", [fac("F1", "tokuyo", 0, 0), fac("F2", "roken", 1, 0)],
                         [inst("H1", "hospital", 1, 0, "zaibyo", capacity_facilities=0)],
                         [("F1", "H1", "admit"), ("F2", "H1", "admit")])
    spare, _ = apply_scenario(region, scenario({"capacity": [{"ids": ["H1"], "facilities_percent": 50}]}))
    total, _ = apply_scenario(region, scenario({"capacity": [{"ids": ["H1"], "facilities_total_percent": 50}]}))
    assert spare.institutions.loc["H1", "capacity_facilities"] == 0
    assert total.institutions.loc["H1", "capacity_facilities"] == 1


def test_extends_layers_another_file(tmp_path):
    write(tmp_path, "base.toml", 'name = "b"\nlabel = "基準"\n[[close]]\nids = ["C9"]\n'
                                 '[parameters.limits.visit]\nkm = 20\n')
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub", "more.toml", 'extends = "../base.toml"\n[[close]]\nids = ["C1"]\n'
                                                 '[parameters.limits.visit]\nminutes = 40\n')
    s = load_scenario(child)
    assert s.name == "more" and s.label == "more"            # own keys are not inherited
    assert [c.ids for c in s.close] == [["C9"], ["C1"]]      # parent's changes first
    assert s.parameters == {"limits": {"visit": {"km": 20, "minutes": 40}}}
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")
    with pytest.raises(ScenarioError, match="no such scenario file 'nope.toml'"):
        load_scenario(write(tmp_path, "c.toml", 'extends = "nope.toml"\n'))


def test_every_run_says_what_it_changed(tmp_path):
    from matching.scenarios.compare import run_scenario, write_changes

    region = region_a(tmp_path / "r")
    run = run_scenario(region, scenario({"label": "変更", "close": [{"ids": ["C9"]}],
                                         "capacity": [{"ids": ["H1", "H2"], "facilities_total_percent": 50}],
                                         "stop_accepting": [{"ids": ["C1"]}]}))
    log = run.log.set_index(["kind", "id"])
    assert log.loc[("closed", "C9"), "after"] == 0
    assert log.loc[("stopped_accepting", "C1"), ["before", "after"]].tolist() == ["受入可", "受入不可"]
    assert log.loc[("capacity", "H1"), ["before", "after"]].tolist() == [1, 2]
    assert log.loc[("capacity", "H2"), ["before", "after"]].tolist() == [5, 8]   # 5 + round(2.5)
    path = write_changes([run], tmp_path)
    text = path.read_text(encoding="utf-8-sig")
    assert "受入枠（空き枠）の変更" in text and "テスト機関H2" in text and "閉院" in text


def test_scenario_doc_is_current_and_complete():
    from matching.scenarios.docs import KEY_DOCS, TABLES, documented_keys, markdown

    for name, model, _, _ in TABLES:
        for key in documented_keys(model):
            if name == "CapacityChange" and key in documented_keys(TABLES[1][1]):
                continue
            assert (name, key) in KEY_DOCS, f"document {name}.{key} in matching/scenarios/docs.py"
    doc = ROOT / "docs" / "scenarios.md"
    assert doc.read_text(encoding="utf-8") == markdown(), \
        "regenerate: python -m matching.scenarios.docs > docs/scenarios.md"


def test_demo_2040_response_extends_2040_and_grows_total_capacity():
    s = load_scenario(ROOT / "data/demo/scenarios/2040_response.toml")
    base = load_scenario(ROOT / "data/demo/scenarios/2040.toml")
    assert s.extends == "2040.toml" and s.name == "2040_response"
    assert s.growth == base.growth and s.close == base.close and s.new_facilities == base.new_facilities
    assert s.capacity[0].facilities_total_percent == 50 and s.capacity[0].facilities_percent is None


@pytest.mark.parametrize("text, expected", [
    ("limits = 3\n", "limits: limits は役割ごとの表で書いてください"),
    ("[limits]\nvisit = 30\n", "limits: limits.visit は表で書いてください"),
    ('[travel]\nspeed_kmh = "fast"\n', "travel.speed_kmh: 数値で書いてください"),
    ("stage_time_limit = 0\n", "stage_time_limit: 0 より大きい値にしてください"),
    ('unknown_capacity = "maybe"\n', "unknown_capacity: "),
])
def test_bad_parameter_files_are_japanese_and_never_internal_errors(tmp_path, text, expected):
    """A parameter file of the wrong shape (a number where a table belongs) used to escape as an
    AttributeError, i.e. 内部エラー; every one is a ParameterError naming file and key, in Japanese."""
    path = write(tmp_path, "p.toml", text)
    with pytest.raises(ParameterError) as exc:
        MatchParameters.from_toml(path)
    assert f"{path}: {expected}" in str(exc.value)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", str(exc.value).split(": ", 2)[2])
    res = CliRunner().invoke(app, ["match", "data/demo", "--config", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "内部エラー" not in res.output and expected.split(": ")[0] in res.output
