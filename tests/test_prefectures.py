"""Yamanashi (19) and Nagano (20) imported from the real open data in ``../shared/data/open``.

Each prefecture is imported once per test session (about 10 s each); every test here is
skipped, with the reason, when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from matching.boundaries import TOLERANCE_KM, MunicipalBoundaries
from matching.contract import load_region
from matching.importers.hospitals import read_hospitals
from matching.importers.shisetsu_kijun import parse_shisetsu_kijun

OPEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "open"
PREFECTURES = {"19": "19_yamanashi.xlsx", "20": "20_nagano.xlsx"}

pytestmark = pytest.mark.skipif(not OPEN.is_dir(),
                                reason=f"../shared/data/open not present: the real open data is expected at {OPEN}")


@pytest.fixture(scope="session")
def imported(tmp_path_factory):
    """{pref: (report, region, folder)} for both prefectures, imported once."""
    from matching.importers.region import build_region

    out = {}
    for pref, xlsx in PREFECTURES.items():
        folder = tmp_path_factory.mktemp(f"pref{pref}")
        report = build_region(pref, sorted((OPEN / "kaigo").glob("*.csv")), OPEN / "hospitals",
                              [OPEN / "shisetsu_kijun" / xlsx], folder)
        out[pref] = (report, load_region(folder, strict=True), folder)
    return out


@pytest.fixture(params=sorted(PREFECTURES))
def pref(request):
    return request.param


def _institutions(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "institutions.csv", dtype=str, keep_default_na=False)


def test_no_hospital_record_lost(imported, pref):
    report, _, folder = imported[pref]
    inst = _institutions(folder)
    records = set(read_hospitals(OPEN / "hospitals", pref)["record_id"])
    assert records <= set(inst["hospital_record_id"])
    assert report.join["hospital_records_lost"] == 0
    # A record joined to a filing carries the filing's designations.
    joined = inst[(inst["hospital_record_id"] != "") & (inst["join_method"] != "")]
    assert (joined["designation_source"] == "施設基準").all()


def test_filings_placed_in_a_municipality(imported, pref):
    report, region, folder = imported[pref]
    filings, _ = parse_shisetsu_kijun([OPEN / "shisetsu_kijun" / PREFECTURES[pref]])
    inst = _institutions(folder)
    placed = filings[filings["institution_number"].isin(set(inst["institution_number"]))]
    assert placed["filings"].sum() / filings["filings"].sum() >= 0.99
    assert report.join["filing_placement_rate"] >= 0.99


def test_secondary_areas_equal_the_official_table(imported, pref):
    _, region, _ = imported[pref]
    official = pd.read_csv(OPEN / "areas" / "municipality_to_iryoken2.csv", dtype=str).set_index("muni_code")
    areas = region.areas
    assert (areas["secondary_area_code"] == official.loc[areas.index, "area_code"]).all()
    # Every municipality of the prefecture with a facility or an institution, villages included.
    assert len(areas) == (official["pref_code"] == pref).sum()


def test_tokuyo_present(imported, pref):
    report, _, _ = imported[pref]
    assert report.facilities_by_type.get("tokuyo", 0) > 50


def test_no_point_outside_its_municipality(imported, pref):
    _, region, _ = imported[pref]
    bounds = MunicipalBoundaries.from_geojson(*sorted((OPEN / "boundaries").glob(f"geojson_s0010_N03-21_{pref}_*")))
    for table in (region.facilities, region.institutions):
        off = [bounds.outside_km(m, la, lo) for m, la, lo in
               zip(table["municipality_code"], table["lat"], table["lon"], strict=True)]
        bad = [(i, o) for i, o in zip(table.index, off, strict=True) if o is None or o > TOLERANCE_KM]
        assert not bad, bad[:5]
    # Every point says where it comes from and how uncertain it is.
    for table in (region.facilities, region.institutions):
        assert set(table["location_source"]) <= {"source", "joined", "office", "other"}
        assert table["location_radius_km"].notna().all()


def test_known_losses_of_issue_13_are_fixed(imported):
    _, nagano, nfolder = imported["20"]
    inst = _institutions(nfolder).set_index("name")
    # 駒ケ根市 in the 施設基準 list is 駒ヶ根市 in the official list.
    assert "chiiki_houkatsu_ward" in inst.loc["昭和伊南総合病院", "designations"]
    assert inst.loc["昭和伊南総合病院", "municipality_code"] == "20210"
    # Towns whose name contains 県 stay in their city; villages the kaigo data does not name are placed.
    names = set(nagano.areas["municipality_name"])
    assert {"南相木村", "北相木村", "売木村", "平谷村", "大鹿村", "王滝村", "小谷村", "小川村"} <= names
    _, yamanashi, _ = imported["19"]
    assert {"道志村", "小菅村", "丹波山村"} <= set(yamanashi.areas["municipality_name"])
    # Wrong source coordinates (上田市 in Tokyo, 小諸市 in Hyogo) are moved to the office and listed.
    report = imported["20"][0]
    assert len(report.relocated) >= 2
    fac = nagano.facilities
    assert (fac.loc[[i.record for i in report.relocated if i.record in fac.index], "location_source"]
            == "office").all()


def test_region_folder_carries_its_boundaries_and_the_page_serves_them(imported, pref, tmp_path):
    """The importer writes the region's municipal boundaries into its folder (issue 15 item 1):
    every municipality of areas.csv, with the credit, the same shapes as the source (to ~1 m);
    ``matching serve --region`` adds them to the service, whose offline base map then draws them."""
    import json

    from fastapi.testclient import TestClient

    from api.cli import create_token, with_region_boundaries
    from api.main import create_app
    from api.settings import Settings
    from api.store import import_region
    from matching.boundaries import CREDIT, REGION_FILE

    _, region, folder = imported[pref]
    data = json.loads((folder / REGION_FILE).read_text(encoding="utf-8"))
    assert data["credit"] == CREDIT
    assert {f["properties"]["N03_007"] for f in data["features"]} == set(region.areas.index)
    own = MunicipalBoundaries.from_geojson(folder / REGION_FILE)
    source = MunicipalBoundaries.from_geojson(*sorted((OPEN / "boundaries").glob(f"geojson_s0010_N03-21_{pref}_*")))
    for code, poly in own.polygons.items():
        assert poly.symmetric_difference(source.polygons[code]).area < 1e-3 * source.polygons[code].area, code

    settings = with_region_boundaries(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"), folder)
    assert settings.municipal_boundaries[-1] == folder / REGION_FILE
    assert with_region_boundaries(settings, folder) == settings  # once
    app = create_app(settings)
    with app.state.sessions() as session:
        import_region(session, folder)
        session.commit()
    token = create_token(app.state.sessions, "県", "prefecture", pref, None)
    got = TestClient(app).get("/areas/boundaries", headers={"Authorization": f"Bearer {token}"}).json()
    assert {f["properties"]["municipality_code"] for f in got["features"]} == set(region.areas.index)
    assert got["credit"] == CREDIT
