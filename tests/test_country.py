"""The whole country without 施設基準 lists (issue 20): hospitals only, clinics said to be absent.

The first tests run on the small fixtures under tests/fixtures/open/ (always); the others import
a few real prefectures from ``../shared/data/open`` once per session and are skipped, with the
reason, when that folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.cli import app
from matching.contract import load_region
from matching.importers.hospitals import read_hospitals
from matching.importers.kaigo import EXCLUDED_SERVICES, read_kaigo_csv
from matching.importers.region import build_region
from matching.parameters import MatchParameters
from matching.vocabulary import CLINICS_NOT_LOADED, Role

FIXTURES = Path(__file__).parent / "fixtures" / "open"
OPEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "open"
#: 北海道 (the largest municipalities), 東京 (政令市 wards absent, 23 特別区), 山梨, 沖縄 (islands).
PREFECTURES = ["01", "13", "19", "47"]

needs_open = pytest.mark.skipif(not OPEN.is_dir(),
                                reason=f"../shared/data/open not present: the real open data is expected at {OPEN}")


# -- on the fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hospitals_only(tmp_path_factory):
    out = tmp_path_factory.mktemp("hosp19")
    kaigo = [FIXTURES / "kaigo" / f"jigyosho_{c}.csv" for c in ("332", "520", "530", "550", "551")]
    report = build_region("19", kaigo, FIXTURES / "hospitals", [], out)
    return report, out


def test_import_without_shisetsu_kijun_has_hospitals_only_and_says_so(hospitals_only):
    report, out = hospitals_only
    region = load_region(out)
    assert not report.clinics_loaded and not region.scope.clinics_loaded
    assert set(region.institutions["kind"]) == {"hospital"}
    assert json.loads((out / "region_scope.json").read_text(encoding="utf-8"))["clinics_loaded"] is False
    assert any("診療所は未取込" in n for n in region.notes)
    assert "診療所: 未取込" in report.summary_ja()
    # Bedded clinics of the 病床機能報告 are listed as left out, not dropped silently.
    info = [i for i in report.issues if i.severity == "info" and "bedded clinic" in i.problem]
    hosp = read_hospitals(FIXTURES / "hospitals", "19")
    assert len(info) == (hosp["kind"] == "clinic").sum()


def test_designations_and_admission_from_the_flags(hospitals_only):
    _, out = hospitals_only
    inst = pd.read_csv(out / "institutions.csv", dtype=str, keep_default_na=False).set_index("institution_id")
    region = load_region(out)
    for iid, row in inst.iterrows():
        flags = row["functions"].split(";")
        assert ("zaibyo" in row["designations"]) == ("在宅療養支援" in flags)
        emergency = any(f in flags for f in ("二次救急", "三次救急", "地域支援"))
        assert row["admit"] == ("true" if emergency else "")
        assert bool(region.institutions.at[iid, "admit"]) == (emergency or "在宅療養支援" in flags)


def test_a_complete_region_has_no_scope_file(tmp_path, hospitals_only):
    from matching.contract.scope import RegionScope

    RegionScope().write(tmp_path)
    assert not (tmp_path / "region_scope.json").exists()
    (tmp_path / "region_scope.json").write_text('{"clinics_loaded": "no"}', encoding="utf-8")
    with pytest.raises(ValueError, match="clinics_loaded"):
        RegionScope.read(tmp_path)


def test_uncovered_consult_and_visit_are_clinics_not_loaded(hospitals_only):
    from matching.optimise.run import match

    _, out = hospitals_only
    region = load_region(out)
    # Limits so tight that no hospital gives ①② (the fixture's hospitals are close to everyone).
    params = MatchParameters(include_unreported=True,
                             limits={"consult": {"minutes": 0.1}, "visit": {"minutes": 0.1}})
    result = match(region, params)
    u = result.unmatched
    clinic_roles = u[u["role"].isin(["consult", "visit"])]
    assert len(clinic_roles) and (clinic_roles["reason_code"] == CLINICS_NOT_LOADED).all()
    assert clinic_roles["reason"].str.contains("診療所が未取込").all()
    # ③ keeps its ordinary reasons: hospitals are complete.
    assert CLINICS_NOT_LOADED not in set(u.loc[u["role"] == "admit", "reason_code"])


def test_status_marks_consult_and_visit_as_clinics_not_loaded(hospitals_only, tmp_path):
    _, out = hospitals_only
    r = CliRunner().invoke(app, ["status", str(out), "--out", str(tmp_path / "st")])
    assert r.exit_code == 0, r.output
    st = pd.read_csv(tmp_path / "st" / "status_facilities.csv", dtype=str, keep_default_na=False)
    assert st["note"].str.contains("診療所未取込").all()


def test_cli_refuses_bad_code_lists(tmp_path):
    kaigo, hosp = str(FIXTURES / "kaigo" / "jigyosho_520.csv"), str(FIXTURES / "hospitals")
    r = CliRunner().invoke(app, ["import", "region", "19,99", "--kaigo", kaigo, "--hospitals", hosp,
                                 "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "都道府県コード" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["import", "region", "all", "--kaigo", kaigo, "--hospitals", hosp,
                                 "--shisetsu-kijun", kaigo, "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "--shisetsu-kijun" in r.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- on the real national files -----------------------------------------------------------------

@pytest.fixture(scope="module")
def country(tmp_path_factory):
    from matching.importers.country import build_country

    out = tmp_path_factory.mktemp("country")
    summary = build_country(PREFECTURES, sorted((OPEN / "kaigo").glob("*.csv")), OPEN / "hospitals", out)
    return summary.set_index("prefecture_code"), out


@pytest.fixture(params=PREFECTURES)
def pref(request):
    return request.param


@needs_open
def test_every_hospital_with_coordinates_is_placed(country, pref):
    _, out = country
    inst = pd.read_csv(out / pref / "institutions.csv", dtype=str, keep_default_na=False)
    hosp = read_hospitals(OPEN / "hospitals", pref)
    located = hosp[(hosp["kind"] == "hospital") & hosp["lat"].notna()]
    assert set(located["record_id"]) <= set(inst["hospital_record_id"])
    placed = inst.set_index("hospital_record_id").loc[located["record_id"]]
    # At its own coordinates, unless they lie outside its municipality (then at the office, listed).
    assert (placed["location_source"] == "source").mean() >= 0.99
    assert set(inst["kind"]) == {"hospital"}


@needs_open
def test_every_facility_is_in_its_prefecture(country, pref):
    _, out = country
    region = load_region(out / pref)
    fac = region.facilities
    assert (fac["municipality_code"].str[:2] == pref).all()
    assert (region.areas["prefecture_code"] == pref).all()
    assert (region.institutions["municipality_code"].str[:2] == pref).all()
    assert not region.scope.clinics_loaded


@needs_open
def test_counts_equal_the_source_files(country, pref):
    summary, out = country
    report = json.loads((out / pref / "import_report.json").read_text(encoding="utf-8"))
    # Facilities: the source rows of the prefecture, less the services that are not one of the
    # nine types, the rows skipped (listed) and the duplicates merged (listed).
    rows = 0
    for f in sorted((OPEN / "kaigo").glob("*.csv")):
        if f.stem.split("_")[-1] in EXCLUDED_SERVICES:
            continue
        df = read_kaigo_csv(f)
        rows += int(df["都道府県コード又は市町村コード"].str.startswith(pref).sum())
    kaigo_errors = sum(1 for i in report["issues"] if i["severity"] == "error" and i["source"].startswith("jigyosho_"))
    merged = sum(1 for i in report["issues"] if i["severity"] == "info" and "duplicate" in i["problem"])
    facilities = len(pd.read_csv(out / pref / "facilities.csv", dtype=str))
    assert facilities == rows - kaigo_errors - merged == summary.at[pref, "facilities"]
    # Hospitals: every hospital record of the prefecture, less those skipped (listed).
    hosp = read_hospitals(OPEN / "hospitals", pref)
    hosp_errors = sum(1 for i in report["issues"] if i["severity"] == "error" and i["source"] == "facility_basic.csv")
    institutions = len(pd.read_csv(out / pref / "institutions.csv", dtype=str))
    assert institutions == (hosp["kind"] == "hospital").sum() - hosp_errors == summary.at[pref, "hospitals"]
    assert hosp_errors <= 5


@needs_open
def test_national_folder_is_the_sum(country):
    summary, out = country
    national = load_region(out / "national")
    assert len(national.facilities) == summary["facilities"].sum()
    assert len(national.institutions) == summary["hospitals"].sum()
    assert not national.scope.clinics_loaded
    assert sorted(national.facilities["municipality_code"].str[:2].unique()) == PREFECTURES
    written = pd.read_csv(out / "national" / "import_summary.csv", dtype={"prefecture_code": str})
    assert written["prefecture_code"].tolist() == PREFECTURES


def test_admission_analysis_on_the_fixtures(hospitals_only, tmp_path):
    from matching.admission import admission_analysis

    _, out = hospitals_only
    region = load_region(out)
    a = admission_analysis(region)
    # Only the types that must secure ③, every one of them listed once.
    assert set(a.facilities["facility_type"]) <= {"tokuyo", "chiiki_tokuyo", "roken", "iryoin"}
    assert a.facilities["facility_id"].is_unique
    assert a.by_prefecture["facilities"].sum() == len(a.facilities)
    assert (a.facilities["covered"] == (a.facilities["admitting_in_reach"] > 0)).all()
    # A tight limit leaves facilities without any admitting hospital; no capacity can help them.
    tight = admission_analysis(region, MatchParameters(limits={"admit": {"minutes": 0.1}}))
    assert not tight.facilities["covered"].any() and tight.increases.empty
    r = CliRunner().invoke(app, ["admission", str(out), "--out", str(tmp_path / "adm")])
    assert r.exit_code == 0, r.output
    assert {"admission.xlsx", "admission_by_area.csv", "admission_facilities.csv"} <= \
        {p.name for p in (tmp_path / "adm").iterdir()}
    r = CliRunner().invoke(app, ["admission", str(out), "--nearest", "0", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "Traceback" not in r.output


@needs_open
def test_admission_on_real_prefectures(country, tmp_path):
    from matching.admission import admission_analysis

    _, out = country
    region = load_region(out / "national")
    a = admission_analysis(region)
    fac = a.facilities
    assert len(fac) == region.facilities["facility_type"].isin(["tokuyo", "chiiki_tokuyo", "roken", "iryoin"]).sum()
    # Every facility in reach of an admitting hospital, per the candidate search, is covered.
    assert (fac.loc[fac["covered"], "nearest_in_reach"] != "").all()
    assert (fac.loc[~fac["covered"], "nearest_admitting_minutes"] > 45).all()
    assert a.by_area["without_admitting"].sum() == (~fac["covered"]).sum()


@needs_open
def test_admission_plan_is_exact_and_drawn(country, tmp_path):
    """The ③ plan over every hospital in reach (not the nearest few): proven optimal, every
    facility with a hospital in reach assigned once within the raised capacities; the offline map
    draws every facility without a hospital and every hospital asked for more."""
    import re

    from matching.admission import ADMIT, _admission_params, admission_analysis, write_outputs
    from matching.scenarios.capacity import capacity_plan

    _, out = country
    region = load_region(out / "national")
    params = _admission_params(None)
    plan = capacity_plan(region, params, confirm=False, roles=ADMIT, cap=None)
    assert plan.optimal and "全候補" in admission_analysis(region).plan_note
    planned = region.as_planned(params)
    added = dict(zip(plan.increases["institution_id"], plan.increases["add"], strict=True))
    loads = plan.assignment.groupby("institution_id").size()
    cap = planned.institutions["capacity_facilities"].reindex(loads.index).astype(int)
    assert (loads <= cap + loads.index.map(lambda i: added.get(i, 0))).all()
    assert sorted(plan.assignment["facility_id"]) == plan.completable
    assert (plan.assignment["minutes"] <= params.limits[Role.ADMIT].minutes).all()
    # Nearest-K lists can only ask for as much or more.
    cut = capacity_plan(region, params, confirm=False, roles=ADMIT, cap=None, nearest=2)
    assert (cut.total_facilities, len(cut.increases)) >= (plan.total_facilities, len(plan.increases))

    a = admission_analysis(region)
    write_outputs(a, tmp_path, boundaries=OPEN / "boundaries" / "geojson_s0001_prefectures.json", region=region)
    html = (tmp_path / "admission_map.html").read_text(encoding="utf-8")
    assert len(re.findall(r'class="uncovered"', html)) == int((~a.facilities["covered"]).sum())
    assert len(re.findall(r'class="increase"', html)) == len(a.increases)
