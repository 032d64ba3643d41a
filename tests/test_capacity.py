"""Unknown capacity (issue 13): estimated by kind, designation and beds, overridable per run."""

import pandas as pd
import pytest

from matching.capacity import (
    P75_MAX,
    apply_unknown_capacity,
    estimate_facilities,
    facilities_per_institution,
)
from matching.parameters import MatchParameters, ParameterError


def test_estimates_follow_the_calibration():
    # 75th percentiles of DOMAIN.md by hospital type; ordinary hospitals the median; clinics fewer.
    assert estimate_facilities("hospital", {"zaibyo_kyoka"}, 300) == 16
    assert estimate_facilities("hospital", {"chiiki_houkatsu_ward"}, None) == 12
    assert estimate_facilities("hospital", set(), 400) == 5
    assert estimate_facilities("hospital", {"zaibyo_kyoka"}, 64) == 10   # 愛和病院: 64 beds, not 51 facilities
    assert estimate_facilities("clinic", {"zaishin_kyoka"}, None) == 5
    assert estimate_facilities("clinic", set(), None) == 2
    assert P75_MAX == 16


def test_only_blank_capacities_are_filled():
    inst = pd.DataFrame({"kind": ["hospital", "clinic"], "designations": [frozenset({"zaibyo"}), frozenset()],
                         "beds": [200, None], "capacity_facilities": pd.array([None, 1], dtype="Int64"),
                         "capacity_residents": pd.array([None, None], dtype="Int64")}, index=["H", "C"])
    est = apply_unknown_capacity(inst, "estimate")
    assert est["capacity_facilities"].tolist() == [10, 1] and est["capacity_estimated"].tolist() == [True, False]
    assert apply_unknown_capacity(inst, 3)["capacity_facilities"].tolist() == [3, 1]
    assert apply_unknown_capacity(inst, "unlimited")["capacity_facilities"].isna().tolist() == [True, False]


def test_parameter_and_load_report():
    assert MatchParameters().unknown_capacity == "estimate"
    assert MatchParameters.from_mapping({"unknown_capacity": "7"}).unknown_capacity == 7
    with pytest.raises(ParameterError):
        MatchParameters.from_mapping({"unknown_capacity": "many"})
    props = pd.DataFrame({"facility_id": [f"F{i}" for i in range(20)], "institution_id": ["A"] * 18 + ["B"] * 2})
    load = facilities_per_institution(pd.DataFrame(columns=["facility_id", "institution_id"]), props)
    assert load["max"] == 18 and load["outliers"] == {"A": 18}


def test_estimated_capacity_binds_the_greedy_rule_and_the_verifier_alike(tmp_path):
    """The optimiser, the greedy rule and the verifier read one planning view (Region.as_planned):
    a clinic with blank capacity (在支診: estimate 3) takes at most 3 new facilities in each, and
    four proposals to it are a violation unless the run says unlimited (CI seed 415 found the
    greedy rule and the verifier reading the blank as unlimited)."""
    from matching import match, verify
    from matching.optimise.greedy import greedy_match
    from tests.matchkit import fac, inst, make_region

    facs = [fac(f"F{k}", "gh", k, 0) for k in range(4)]
    region = make_region(tmp_path, facs, [inst("C", "clinic", 0, 1, "zaishin", accepting="true")], [])
    assert pd.isna(region.institutions.at["C", "capacity_facilities"])
    for proposals in (match(region).proposals, greedy_match(region)):
        assert len(proposals) == 3 and set(proposals["institution_id"]) == {"C"}
    unlimited = MatchParameters(unknown_capacity="unlimited")
    four = greedy_match(region, unlimited)
    assert len(four) == 4 and verify(region, four, unlimited) == []
    problems = verify(region, four)
    assert [(p.code, p.institution_id) for p in problems] == [("over_capacity", "C")]
    assert "estimated" in problems[0].message
    # Applying the view twice changes nothing (the estimate stays marked as an estimate).
    once = region.as_planned(MatchParameters()).institutions
    assert once.equals(region.as_planned(MatchParameters()).as_planned(MatchParameters()).institutions)
    assert bool(once.at["C", "capacity_estimated"])
