"""The committed demo prefecture (data/demo): valid, fictitious, calibrated, reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest

from matching.contract import load_region
from matching.demo.iwate import write
from matching.status import facility_status
from matching.vocabulary import FACILITY_TYPES, Status

DEMO = Path(__file__).parents[1] / "data" / "demo"

# FY2025 survey (preliminary), share with all of ①②③ met (DOMAIN.md, 003).
FY2025_ALL_MET = {
    ("tokuyo", "chiiki_tokuyo"): 67.9,  # 介護老人福祉施設 incl. 地域密着型
    ("tokuyo",): 67.9,
    ("chiiki_tokuyo",): 67.9,
    ("roken",): 83.3,
    ("iryoin",): 84.9,
    ("yogo",): 60.4,
}
TOLERANCE = 5.0  # percentage points


@pytest.fixture(scope="module")
def region():
    return load_region(DEMO)  # strict


@pytest.fixture(scope="module")
def status(region):
    return facility_status(region)


def test_demo_loads_strictly_without_problems(region):
    assert region.skipped == []
    assert len(region.facilities) > 400
    assert len(region.institutions) > 200
    assert len(region.partnerships) > 300


def test_demo_geography_is_iwate(region):
    areas = region.areas
    assert len(areas) == 33
    assert areas.index.is_unique
    assert areas["secondary_area_code"].nunique() == 9
    assert set(areas["prefecture_code"]) == {"03"}
    assert areas.loc["03201", "municipality_name"] == "盛岡市"
    assert all(code.startswith("03") and len(code) == 5 for code in areas.index)


def test_every_name_is_marked_fictitious(region):
    for table in (region.facilities, region.institutions):
        names = table["name"]
        bad = names[~names.str.startswith("デモ")]
        assert bad.empty, bad.head().tolist()


def test_every_facility_type_is_present(region):
    assert set(region.facilities["facility_type"]) == set(FACILITY_TYPES)


def test_no_clinic_admits(region):
    clinics = region.institutions["kind"] == "clinic"
    assert not region.institutions.loc[clinics, "admit"].any()


def _all_met_share(status, types) -> float:
    tracked = status[status["facility_type"].isin(types) & status["reported"]]
    assert len(tracked) > 0
    return 100 * (tracked["status"] == Status.ALL_MET.value).mean()


@pytest.mark.parametrize("types", list(FY2025_ALL_MET), ids=lambda t: "+".join(t))
def test_all_met_share_matches_fy2025_survey(status, types):
    target = FY2025_ALL_MET[types]
    share = _all_met_share(status, list(types))
    assert abs(share - target) <= TOLERANCE, f"{types}: {share:.1f}% vs {target}%"


def test_every_obligated_type_is_calibrated():
    """The calibration table covers every obligated type (a new one would need a target)."""
    covered = {t for types in FY2025_ALL_MET for t in types}
    assert covered == {code for code, t in FACILITY_TYPES.items() if t.obligated}


@pytest.mark.parametrize("ftype", list(FACILITY_TYPES))
def test_not_tracked_share_in_survey_range(region, status, ftype):
    st = status[status["facility_type"] == ftype]
    assert len(st) > 0
    # not tracked ⇔ no annual report on file
    assert ((st["status"] == Status.NOT_TRACKED.value) == ~st["reported"]).all()
    if len(st) >= 10:  # too few facilities for a share to mean much otherwise
        share = 100 * (st["status"] == Status.NOT_TRACKED.value).mean()
        assert 10 <= share <= 30, f"{ftype}: {share:.1f}% not tracked"


def test_regenerating_gives_the_committed_files(tmp_path):
    counts = write(tmp_path, 2027)
    committed = sorted(p.name for p in DEMO.glob("*.csv"))
    regenerated = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert regenerated == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
    assert counts["facilities"] == len((DEMO / "facilities.csv").read_text(
        encoding="utf-8").splitlines()) - 1
