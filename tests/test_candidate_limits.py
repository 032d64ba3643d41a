"""The candidate lists apply each role's limits — minutes and straight-line km — the same way
with full lists and with the k-d tree's nearest-K lists, including at the edge of 16 km."""

from __future__ import annotations

import pytest

from matching import MatchParameters
from matching.candidates import find_candidates
from matching.status import facility_status
from tests.matchkit import fac, inst, make_region


@pytest.fixture
def region(tmp_path):
    # C1 is 16.06 km north (31 minutes), C2 15.91 km, C3 3 km: all inside 60 minutes.
    return make_region(tmp_path, [fac("F1", "gh", 0, 0)], [
        inst("C1", "clinic", 0, 16.05, "zaishin"),
        inst("C2", "clinic", 0, 15.9, "zaishin"),
        inst("C3", "clinic", 3, 0, "zaishin"),
    ])


@pytest.mark.parametrize("nearest", [None, 1, 2, 3])
def test_16km_rule_decides_inside_the_minutes_limit(region, nearest):
    params = MatchParameters(limits={"consult": {"minutes": 60}, "visit": {"minutes": 60, "km": 16}})
    cand = find_candidates(region, facility_status(region), params, nearest=nearest)
    visit = cand[cand["role"] == "visit"]
    consult = cand[cand["role"] == "consult"]
    # C1 (16.06 km) is never a house-call candidate; the nearest ones are kept.
    assert set(visit["institution_id"]) == {"C2", "C3"}
    assert (visit["km"] <= 16).all()
    # Only two institutions are within 16 km: a list of 2 or more is not cut.
    assert visit["truncated"].all() == (nearest == 1)
    assert set(consult["institution_id"]) == ({"C1", "C2", "C3"} if nearest in (None, 3) else {"C2", "C3"})


def test_nearest_lists_equal_full_lists_when_k_covers_them(region):
    params = MatchParameters(limits={"consult": {"minutes": 60}, "visit": {"minutes": 60, "km": 16}})
    status = facility_status(region)
    full = find_candidates(region, status, params)
    cut = find_candidates(region, status, params, nearest=5)
    cols = ["facility_id", "institution_id", "role"]
    assert sorted(map(tuple, full[cols].to_numpy())) == sorted(map(tuple, cut[cols].to_numpy()))
    assert not cut["truncated"].any()
