"""The matching core on hand-made regions whose optimum is known by hand.

Geometry: the default travel model is 1.3 × straight line at 40 km/h, i.e.
1.95 minutes per straight-line km; 30 minutes ≈ 15.4 km, 45 minutes ≈ 23.1 km.
Every solve is checked by the independent verifier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching import MatchParameters, match, verify
from matching.optimise.greedy import greedy_match
from matching.optimise.run import proposals_from
from matching.parameters import Pair, ParameterError
from matching.vocabulary import Role
from tests.matchkit import fac, inst, make_region, pairs


def solve(region, params=None):
    params = params or MatchParameters()
    result = match(region, params)
    assert verify(region, result.proposals, params) == []
    assert result.optimal
    return result


def test_capacity_contention_is_resolved_optimally(tmp_path):
    # F1 and F2 lack only ③.  H1 (one slot) is the only hospital F2 can reach;
    # F1 can also reach H2.  Nearest-first would give H1 to F1 and strand F2.
    region = make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 20, 0),
    ], [
        inst("C", "clinic", 5, 0, "zaishin"),
        inst("H1", "hospital", 5, 0, "chiiki_houkatsu_ward", capacity_facilities=1),
        inst("H2", "hospital", -20, 0, "chiiki_houkatsu_ward"),
    ], [("F1", "C", "consult;visit"), ("F2", "C", "consult;visit")])
    result = solve(region)
    assert pairs(result) == {("F1", "H2", "admit"), ("F2", "H1", "admit")}
    assert result.unmatched[result.unmatched["reason_code"] != "not_tracked"].empty
    greedy = greedy_match(region, MatchParameters())
    assert set(zip(greedy["facility_id"], greedy["institution_id"], strict=False)) == {("F1", "H1")}


def test_joint_coverage_by_clinic_and_hospital(tmp_path):
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [
        inst("C", "clinic", 1, 0, "zaishin"),
        inst("H", "hospital", 2, 0, "chiiki_houkatsu_ward"),  # admits, no 24h consult/visit
    ])
    result = solve(region)
    assert pairs(result) == {("F1", "C", "consult;visit"), ("F1", "H", "admit")}
    assert result.status_after.at["F1", "status"] == "all_met"


def test_one_agreement_beats_shorter_travel(tmp_path):
    # A 在支病 further away covers ①②③ in one agreement: fewer agreements win over travel.
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [
        inst("C", "clinic", 1, 0, "zaishin"),
        inst("H", "hospital", 2, 0, "chiiki_houkatsu_ward"),
        inst("Z", "hospital", 8, 0, "zaibyo"),
    ])
    result = solve(region)
    assert pairs(result) == {("F1", "Z", "consult;visit;admit")}
    assert result.stage("new_agreements").objective == 1


def test_house_call_16km_rule(tmp_path):
    # The clinic is 18 km away: consult is allowed (60-minute limit here), a house
    # call is not (16 km straight line), until the km limit is raised.
    region = make_region(tmp_path, [fac("G1", "gh", 0, 0)], [inst("C", "clinic", 18, 0, "zaishin")])
    loose = {"limits": {"consult": {"minutes": 60}, "visit": {"minutes": 60}}}
    result = solve(region, MatchParameters.model_validate(loose))
    assert pairs(result) == {("G1", "C", "consult")}
    row = result.unmatched.set_index("role").loc["visit"]
    assert row["reason_code"] == "out_of_range"
    assert "18.1km" in row["fix"] or "18.0km" in row["fix"]
    wider = MatchParameters.model_validate({"limits": {**loose["limits"], "visit": {"minutes": 60, "km": 20}}})
    assert pairs(solve(region, wider)) == {("G1", "C", "consult;visit")}


def test_no_limit_is_advised_beyond_twice_the_limit(tmp_path):
    """Issue 13: a wrong coordinate once had the explanation advise a ① limit of 534 minutes.
    A relaxed limit is advised up to twice the limit in force; farther, 広域調整 is the fix."""
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "gh", 50, 0)],
                         [inst("C", "clinic", 90, 0, "zaishin")])
    params = MatchParameters.model_validate({"limits": {"consult": {"minutes": 60}, "visit": {"minutes": 60}}})
    rows = solve(region, params).unmatched.set_index(["facility_id", "role"])
    near, far = rows.loc[("F2", "consult")], rows.loc[("F1", "consult")]
    assert near["reason_code"] == far["reason_code"] == "out_of_range"
    assert "上限を" in near["fix"] and near["fix_amount"] <= 120  # 40 km: about 78 minutes, within 2×
    assert "上限を" not in far["fix"] and "広域調整" in far["fix"] and far["fix_amount"] == ""  # 90 km
    assert far["fix_institution_id"] == "C"                                # the nearest is still named


def test_unmatched_roles_of_approximate_points_are_flagged(tmp_path):
    """Issue 13 item 3: "nobody in range" is uncertain when a point is only its municipal office
    and the distance less the uncertainty radius is within reach; the fix says to check it."""
    approx = {**fac("F1", "gh", 0, 0), "location_source": "office", "location_radius_km": 8}
    exact = fac("F2", "gh", 0, -30)
    region = make_region(tmp_path, [approx, exact], [inst("C", "clinic", 20, 0, "zaishin")])
    params = MatchParameters.model_validate({"limits": {"consult": {"minutes": 30}, "visit": {"minutes": 30}}})
    rows = solve(region, params).unmatched.set_index(["facility_id", "role"])
    f1, f2 = rows.loc[("F1", "consult")], rows.loc[("F2", "consult")]
    assert f1["reason_code"] == f2["reason_code"] == "out_of_range"
    assert bool(f1["location_uncertain"]) and "位置の確認" in f1["fix"] and "市区町村役場" in f1["fix"]
    assert not bool(f2["location_uncertain"]) and "位置の確認" not in f2["fix"]


def test_a_prefecture_run_takes_partners_across_the_border(tmp_path):
    """Issue 13 item 8 (広域): a region built from two prefectures, a run for one of them
    (``prefectures``, ``matching match --prefecture 03``) matches only its facilities, with the
    neighbour's institutions as candidates; the verifier holds the scope."""
    from matching.contract import load_region
    from tests.matchkit import AREAS, _write

    folder = tmp_path / "two"
    folder.mkdir()
    areas = AREAS + [{"municipality_code": "05201", "municipality_name": "秋田市", "secondary_area_code": "0501",
                      "secondary_area_name": "秋田周辺", "prefecture_code": "05"}]
    _write(folder / "areas.csv", areas, list(AREAS[0]))
    facs = [fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 3, 0, municipality="05201")]
    _write(folder / "facilities.csv", facs, list(facs[0]))
    insts = [inst("Z", "hospital", 2, 0, "zaibyo", municipality="05201")]
    _write(folder / "institutions.csv", insts, list(insts[0]))
    _write(folder / "partnerships.csv", [], ["facility_id", "institution_id", "roles"])
    region = load_region(folder)
    iwate = MatchParameters(prefectures=["03"])
    result = solve(region, iwate)
    assert pairs(result) == {("F1", "Z", "consult;visit;admit")}       # the partner is in 秋田県
    assert set(result.unmatched["facility_id"]) <= {"F1"}                # F2 is out of this run's scope
    both = solve(region)
    assert {f for f, _, _ in pairs(both)} == {"F1", "F2"}
    problems = verify(region, both.proposals, iwate)
    assert [(p.code, p.facility_id) for p in problems] == [("out_of_scope", "F2")]
    with pytest.raises(ValueError):
        MatchParameters(prefectures=["3"])


def test_forbidden_and_pinned_pairs(tmp_path):
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [
        inst("Z1", "hospital", 2, 0, "zaibyo"), inst("Z2", "hospital", 6, 0, "zaibyo"),
    ])
    assert pairs(solve(region)) == {("F1", "Z1", "consult;visit;admit")}
    declined = MatchParameters(forbidden=[Pair(facility_id="F1", institution_id="Z1")])
    assert pairs(solve(region, declined)) == {("F1", "Z2", "consult;visit;admit")}
    pinned = MatchParameters(pinned=[Pair(facility_id="F1", institution_id="Z2", roles=frozenset({Role.ADMIT}))])
    result = solve(region, pinned)
    # ③ is pinned to Z2; ①② then go to Z2 too (one agreement rather than two).
    assert pairs(result) == {("F1", "Z2", "consult;visit;admit")}
    assert result.proposals["pinned"].all()


def test_pinned_pair_beyond_the_limit_is_kept(tmp_path):
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [
        inst("Z1", "hospital", 2, 0, "zaibyo"), inst("Z9", "hospital", 40, 0, "zaibyo", accepting="false"),
    ])
    params = MatchParameters(pinned=[Pair(facility_id="F1", institution_id="Z9")])
    assert pairs(solve(region, params)) == {("F1", "Z9", "consult;visit;admit")}


def test_bad_pins_are_reported(tmp_path):
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [inst("C", "clinic", 1, 0, "zaishin")])
    with pytest.raises(ParameterError, match="unknown institution_id 'NOPE'"):
        match(region, MatchParameters(pinned=[Pair(facility_id="F1", institution_id="NOPE")]))
    with pytest.raises(ParameterError, match="cannot pin roles"):
        match(region, MatchParameters(pinned=[Pair(facility_id="F1", institution_id="C",
                                                   roles=frozenset({Role.ADMIT}))]))


def test_per_role_capacity(tmp_path):
    # Z takes at most one new ③; H admits only.  F1 is nearer H, so F1 gets ③ from H.
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 4, 0)], [
        inst("Z", "hospital", 2, 0, "zaibyo", capacity_facilities_admit=1),
        inst("H", "hospital", -3, 0, "chiiki_houkatsu_ward"),
    ])
    result = solve(region)
    assert pairs(result) == {("F1", "Z", "consult;visit"), ("F1", "H", "admit"),
                             ("F2", "Z", "consult;visit;admit")}


def test_capacity_counted_in_residents(tmp_path):
    # 100 residents of spare capacity: G2 + G3 (95) fit, G1 (60) cannot join either.
    region = make_region(tmp_path, [
        fac("G1", "gh", 0, 0, residents=60), fac("G2", "gh", 1, 0, residents=50),
        fac("G3", "gh", 2, 0, residents=45),
    ], [inst("C", "clinic", 1, 1, "zaishin", capacity_residents=100)])
    result = solve(region)
    assert pairs(result) == {("G2", "C", "consult;visit"), ("G3", "C", "consult;visit")}
    un = result.unmatched.set_index("role")
    assert set(result.unmatched["facility_id"]) == {"G1"}
    assert un.loc["visit", "reason_code"] == "capacity"
    assert un.loc["visit", "fix_institution_id"] == "C"
    assert un.loc["visit", "fix_amount"] == 55  # 95 + 60 − 100
    assert "入所者数+55" in un.loc["visit", "fix"]


def test_obligated_types_come_first(tmp_path):
    # One slot: the 特養 (obligation) gets it, not the nearer group home (effort).
    region = make_region(tmp_path, [fac("G1", "gh", 1, 0), fac("F1", "tokuyo", 10, 0)], [
        inst("Z", "hospital", 0, 0, "zaibyo", capacity_facilities=1),
    ])
    result = solve(region)
    assert pairs(result) == {("F1", "Z", "consult;visit;admit")}
    assert result.unmatched.set_index("role").loc["consult", "reason_code"] == "capacity"


def test_existing_partnership_is_extended_not_dropped(tmp_path):
    # Z is full for new partners but already partners F1 (① only): it can add ②③.
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [
        inst("Z", "hospital", 3, 0, "zaibyo", capacity_facilities=0),
        inst("Z2", "hospital", 1, 0, "zaibyo"),
    ], [("F1", "Z", "consult")])
    result = solve(region)
    assert pairs(result) == {("F1", "Z", "visit;admit")}
    assert bool(result.proposals["extends_existing"].iloc[0])
    assert result.stage("new_agreements").objective == 0


def test_not_accepting_and_unreported(tmp_path):
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 1, 0, reported=False)], [
        inst("Z", "hospital", 2, 0, "zaibyo", accepting="false"),
    ])
    result = solve(region)
    assert result.proposals.empty
    codes = dict(zip(result.unmatched["facility_id"] + "/" + result.unmatched["role"],
                     result.unmatched["reason_code"], strict=True))
    assert codes["F1/admit"] == "out_of_range"  # nobody accepting within range
    assert codes["F2/"] == "not_tracked"


def test_not_yet_asked_institutions_are_optional(tmp_path):
    region = make_region(tmp_path, [fac("G1", "gh", 0, 0)], [inst("C", "clinic", 1, 0, "zaishin", accepting="")])
    result = solve(region)
    assert pairs(result) == {("G1", "C", "consult;visit")}
    assert bool(result.proposals["not_yet_asked"].iloc[0])
    assert solve(region, MatchParameters(unknown_accepting=False)).proposals.empty


def test_same_input_same_output(tmp_path, demo_region):
    a = match(demo_region)
    b = match(demo_region)
    assert a.proposals.equals(b.proposals)
    assert a.unmatched.equals(b.unmatched)


def test_demo_is_proven_optimal_and_beats_greedy(demo_region):
    params = MatchParameters()
    result = match(demo_region, params)
    assert result.optimal
    assert all(s.gap == 0 for s in result.stages)
    assert verify(demo_region, result.proposals, params) == []
    greedy = greedy_match(demo_region, params)
    assert verify(demo_region, greedy, params) == []
    from matching.optimise.greedy import coverage
    opt_cov, greedy_cov = coverage(demo_region, result.proposals), coverage(demo_region, greedy)
    assert opt_cov["obligated_full"] >= greedy_cov["obligated_full"]
    assert opt_cov["all_full"] > greedy_cov["all_full"]


def test_preference_for_the_same_area_breaks_ties(tmp_path):
    # Two equivalent clinics, the one across the municipal border slightly nearer.
    region = make_region(tmp_path, [fac("G1", "gh", 0, 0, municipality="03201")], [
        inst("C1", "clinic", 2.0, 0, "zaishin", municipality="03216"),
        inst("C2", "clinic", -2.5, 0, "zaishin", municipality="03201"),
    ])
    assert pairs(solve(region)) == {("G1", "C1", "consult;visit")}
    same = MatchParameters(prefer_same="municipality")
    assert pairs(solve(region, same)) == {("G1", "C2", "consult;visit")}
    # A secondary-area preference does not separate them: both are in 盛岡 (0301).
    assert pairs(solve(region, MatchParameters(prefer_same="secondary_area"))) == {("G1", "C1", "consult;visit")}


def test_grouped_gives_each_key_its_positions_in_order():
    from matching.optimise.model import _grouped

    keys = np.array([3, 1, 3, 0, 1, 3])
    distinct, positions = _grouped(keys)
    assert distinct.tolist() == [0, 1, 3]
    assert [p.tolist() for p in positions] == [[3], [1, 4], [0, 2, 5]]
    distinct, positions = _grouped(np.zeros(0, int))
    assert len(distinct) == 0 and positions == []


def test_proposals_gather_each_pairs_rows_in_order_of_facility_and_institution():
    """``proposals_from``: one row per (facility, institution) pair whatever the order of the chosen
    candidate rows — its roles joined, its distance and time rounded as the files show them, pinned
    when any of its rows is, and with time slots the slots it gives per role (blank for a role it
    does not take)."""
    cols = ["facility_id", "institution_id", "role", "km", "minutes", "existing", "pinned",
            "not_yet_asked", "slots"]
    chosen = pd.DataFrame([
        ("F2", "I1", "visit", 3.456, 6.74, False, False, True, 0b0011),
        ("F10", "I2", "admit", 12.0, 23.45, True, False, False, 0b1111),
        ("F2", "I1", "consult", 3.456, 6.74, False, True, True, 0b1111),
        ("F10", "I1", "consult", 1.0, 2.0, False, False, False, 0b1100),
        ("F2", "I10", "admit", 7.0, 14.0, False, False, False, 0b1111),
    ], columns=cols)
    got = proposals_from(chosen, slotted=True)
    assert got[["facility_id", "institution_id"]].to_numpy().tolist() == [
        ["F10", "I1"], ["F10", "I2"], ["F2", "I1"], ["F2", "I10"]]
    assert got["roles"].tolist() == ["consult", "admit", "consult;visit", "admit"]
    assert got["distance_km"].tolist() == [1.0, 12.0, 3.46, 7.0]
    assert got["travel_minutes"].tolist() == [2.0, 23.4, 6.7, 14.0]
    assert got["extends_existing"].tolist() == [False, True, False, False]
    assert got["not_yet_asked"].tolist() == [False, False, True, False]
    assert got["pinned"].tolist() == [False, False, True, False]
    assert got["consult_slots"].tolist() == ["hol_day;hol_night", "", "wd_day;wd_night;hol_day;hol_night", ""]
    assert got["visit_slots"].tolist() == ["", "", "wd_day;wd_night", ""]
    # The same rows in another order give the same proposals; without time slots no slot columns.
    pd.testing.assert_frame_equal(proposals_from(chosen.iloc[::-1].reset_index(drop=True), slotted=True), got)
    plain = proposals_from(chosen.drop(columns="slots"))
    assert "consult_slots" not in plain and plain["roles"].tolist() == got["roles"].tolist()
    assert proposals_from(chosen.iloc[:0]).empty
    # A blank pinned flag (rows concatenated from frames without it) is not pinned.
    blank = chosen.assign(pinned=pd.Series([np.nan, np.nan, True, np.nan, np.nan], dtype=object))
    assert proposals_from(blank, slotted=True)["pinned"].tolist() == [False, False, True, False]
