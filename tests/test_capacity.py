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
