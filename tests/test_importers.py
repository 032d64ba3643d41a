"""Importers of the official open data (issue 8).

Fixtures under tests/fixtures/open/ are small hand-written files in the published
formats (fictitious names; real 山梨県 municipality codes so the check digits are
real).  The 施設基準 xlsx is written here with openpyxl, in the real layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from matching.contract import load_region
from matching.importers.hospitals import kind_from_record, read_hospitals
from matching.importers.join import join_to_hospitals, municipality_from_address
from matching.importers.kaigo import (
    SERVICE_TO_TYPE,
    check_digit,
    municipality_code_5,
    parse_capacity,
    parse_kaigo,
)
from matching.importers.normalise import kanji_to_int, normalise_address, normalise_name
from matching.importers.region import build_region
from matching.importers.report import ImportValidationError
from matching.importers.shisetsu_kijun import (
    designation_from_kigo,
    institution_kind,
    parse_beds,
    parse_shisetsu_kijun,
    read_shisetsu_kijun,
)
from matching.status import facility_status

FIXTURES = Path(__file__).parent / "fixtures" / "open"
KAIGO = FIXTURES / "kaigo"
HOSPITALS = FIXTURES / "hospitals"
CLEAN_KAIGO = [KAIGO / f"jigyosho_{c}.csv" for c in ("332", "520", "530", "550", "551")]
BAD_KAIGO = [KAIGO / "jigyosho_540.csv", KAIGO / "jigyosho_999.csv"]
SHARED_OPEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "open"

# The real header of the 関東信越厚生局 list (row 4; row 1 empty, row 2 a title, row 3 blank).
XLSX_HEADER = ["項番", "都道府県コード", "都道府県名", "区分", "医療機関番号", "併設医療機関番号",
               "医療機関記号番号", "医療機関名称", "医療機関所在地（郵便番号）", "医療機関所在地（住所）",
               "電話番号", "FAX番号", "病床数", "受理届出名称", "受理記号", "受理番号", "算定開始年月日",
               "個別有効開始年月日", "備考（見出し）", "備考（データ）", "市町村コード", "市町村名",
               "種別コード", "種別"]

# (医療機関番号, 名称, 住所, 病床数, [(受理届出名称, 受理記号), …]): one xlsx row per filing.
FILINGS = [
    ("0100001", "テスト中央病院", "甲府市テスト町９－９", "一般　一般　300／精神　　50",
     [("地域包括ケア病棟入院料１及び地域包括ケア入院医療管理料１", "地包ケア１"),
      ("在宅療養後方支援病院", "在後病"), ("ニコチン依存症管理料", "ニコ")]),
    ("0100002", "医療法人社団あおば会　あおば病院", "甲府市テスト町八丁目８番", "一般　　55／療養　　56",
     [("別添１の「第14の２」の１の(１)に規定する在宅療養支援病院", "支援病１"), ("時間外対応加算１", "時間外１")]),
    ("0100003", "独立行政法人テスト機構　みどり病院", "甲斐市テスト７", "一般　120", [("入院基本料", "一般入院")]),
    ("0100004", "ひかりクリニック", "甲斐市竜王一丁目２番３号", "一般　19",
     [("別添１の「第９」の１の(２)に規定する在宅療養支援診療所", "支援診２")]),
    ("0100005", "すずき内科医院", "甲府市テスト町１－１", "",
     [("別添１の「第９」の１の(３)に規定する在宅療養支援診療所", "支援診3")]),  # half-width digit
    ("0100006", "よつば医院", "中巨摩郡昭和町テスト２", "",
     [("別添１の「第14の２」の１の(３)に規定する在宅療養支援病院", "支援病３")]),
    ("0100007", "たなか整形外科", "南都留郡テスト村１", "", [("時間外対応加算３", "時間外３")]),
]


def write_xlsx(path: Path, filings=FILINGS) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["A2"] = "[令和７年９月１日 現在 ]令和７年１０月２日作成 全医療機関出力"
    for col, name in enumerate(XLSX_HEADER, start=1):
        ws.cell(row=4, column=col, value=name)
    row = 5
    for item, (number, name, address, beds, rows) in enumerate(filings, start=1):
        for filing, kigo in rows:
            values = {"項番": str(item), "都道府県コード": "19", "都道府県名": "山梨県", "区分": "医科",
                      "医療機関番号": number, "医療機関名称": name, "医療機関所在地（住所）": address,
                      "病床数": beds, "受理届出名称": filing, "受理記号": kigo}
            for col, header in enumerate(XLSX_HEADER, start=1):
                ws.cell(row=row, column=col, value=values.get(header, ""))
            row += 1
    wb.save(path)
    return path


# -- parsing -------------------------------------------------------------------------

def test_municipality_code_check_digit():
    assert check_digit("19201") == 5
    assert check_digit("03201") == 8   # 032018 盛岡市
    assert municipality_code_5("192015") == "19201"
    assert municipality_code_5("１９２０１５") == "19201"   # full-width digits
    with pytest.raises(ValueError, match="check digit"):
        municipality_code_5("192016")
    with pytest.raises(ValueError, match="6 digits"):
        municipality_code_5("19201")


def test_capacity_zero_or_blank_is_unknown():
    assert parse_capacity("29") == 29
    assert parse_capacity("２９") == 29
    assert parse_capacity("0") is None
    assert parse_capacity("") is None
    assert parse_capacity("不明") is None


def test_beds_strings():
    assert parse_beds("一般　55／療養　56") == 111
    assert parse_beds("一般　一般　622／一般（感染）　感染　2／結核　　16／精神　　4") == 644
    assert parse_beds("一般　　/療養　　200") == 200
    assert parse_beds("精神　　258") == 258
    assert parse_beds("") is None
    with pytest.raises(ValueError):
        parse_beds("一般　5x5")


def test_juri_kigo_full_and_half_width():
    assert designation_from_kigo("支援診１") == "zaishin_kyoka"
    assert designation_from_kigo("支援診２") == "zaishin_kyoka"
    assert designation_from_kigo("支援診３") == "zaishin"
    assert designation_from_kigo("支援診3") == "zaishin"
    assert designation_from_kigo("支援病２") == "zaibyo_kyoka"
    assert designation_from_kigo("支援病３") == "zaibyo"
    assert designation_from_kigo("在後病") == "koho_shien"
    assert designation_from_kigo("地包ケア１") == "chiiki_houkatsu_ward"
    assert designation_from_kigo("地包ケア2") == "chiiki_houkatsu_ward"
    assert designation_from_kigo("時間外１") is None


def test_institution_kind_rule():
    assert institution_kind(20, ()) == "hospital"
    assert institution_kind(19, {"zaishin"}) == "clinic"
    assert institution_kind(None, {"zaibyo"}) == "hospital"   # hospital-only designation
    assert institution_kind(None, ()) == "clinic"
    assert kind_from_record("1", "山田医院") == "hospital"
    assert kind_from_record("", "山田病院") == "hospital"


def test_service_codes_follow_the_vocabulary():
    assert SERVICE_TO_TYPE["520"] == "roken"
    assert SERVICE_TO_TYPE["540"] == "chiiki_tokuyo"
    assert SERVICE_TO_TYPE["550"] == SERVICE_TO_TYPE["551"] == "iryoin"
    assert SERVICE_TO_TYPE["331"] == SERVICE_TO_TYPE["334"] == "tokutei"
    # A 軽費老人ホーム with a (地域密着型) 特定施設 designation counts only as 軽費 (003 別紙1).
    assert SERVICE_TO_TYPE["332"] == SERVICE_TO_TYPE["362"] == "keihi"
    assert {SERVICE_TO_TYPE[c] for c in ("361", "364")} == {"chiiki_tokutei"}
    assert "530" not in SERVICE_TO_TYPE


def test_normalisation():
    assert normalise_name("医療法人社団　あおば会　あおば病院") == "あおば病院"
    assert normalise_name("社会福祉法人ＡＢＣ会") == "abc会"
    assert normalise_name("株式会社　テスト") == "テスト"
    assert normalise_name("東ヶ丘病院") == normalise_name("東ケ丘病院")
    assert kanji_to_int("十五") == 15
    assert normalise_address("山梨県甲府市湯村三丁目１番８号") == "甲府市湯村3-1-8"
    assert normalise_address("甲府市湯村3-1-8") == "甲府市湯村3-1-8"
    assert normalise_address("甲斐市竜王３０９１番地１") == "甲斐市竜王3091-1"
    assert normalise_address("甲府市丸の内二丁目１－１０　テストビル３階") == "甲府市丸の内2-1-10"
    assert municipality_from_address("南巨摩郡身延町飯富１", ["身延町", "甲府市"]) == "身延町"
    assert municipality_from_address("中央市成島１", ["中央市", "中央区"]) == "中央市"
    assert municipality_from_address("テスト村１", ["甲府市"]) is None


# -- kaigo --------------------------------------------------------------------------------

def test_kaigo_as_published():
    fac, mun, issues = parse_kaigo(CLEAN_KAIGO + BAD_KAIGO, "19")
    by_name = fac.set_index("name")
    # BOM: the first column is read by its Japanese name; only prefecture 19 is kept.
    assert set(mun["municipality_code"]) == {"19201", "19210", "19384"}
    assert "他県の老健" not in by_name.index
    assert by_name.loc["テスト老健あおば", "residents"] == 100
    assert pd.isna(by_name.loc["テスト老健みどり", "residents"])      # 定員 0
    assert pd.isna(by_name.loc["テスト老健ひかり", "residents"])      # 定員 blank
    assert by_name.loc["テスト介護医療院", "residents"] == 40          # full-width 定員
    assert by_name.loc["テストケアハウス", "facility_type"] == "keihi"
    assert not fac["reported"].any()
    # 550 and 551 with one 事業所番号: one facility, reported.
    assert (fac["jigyosho_number"] == "19B0000001").sum() == 1
    info = {(i.record, i.problem.split(" ")[0]) for i in issues if i.severity == "info"}
    assert ("19B0000001", "duplicate") in info
    # One 事業所番号 for a 老健 and a ケアハウス: both kept, ids made distinct.
    assert {"1950000001-roken", "1950000001-keihi"} <= set(fac["facility_id"])
    # 530 is reported and left out.
    assert any(i.record == "1910000009" and i.action == "not imported" for i in issues)
    errors = {i.name: i.problem for i in issues if i.severity == "error"}
    assert set(errors) == {"チェックディジット誤り", "五桁コード", "座標なし", "未知のサービス"}
    assert "check digit" in errors["チェックディジット誤り"]


def test_kaigo_strict_lists_every_bad_row():
    with pytest.raises(ImportValidationError) as exc:
        parse_kaigo(CLEAN_KAIGO + BAD_KAIGO, "19", strict=True)
    assert len(exc.value.issues) == 4
    parse_kaigo(CLEAN_KAIGO, "19", strict=True)   # clean files pass


# -- 施設基準 -------------------------------------------------------------------------------

def test_shisetsu_kijun_one_row_per_filing(tmp_path):
    path = write_xlsx(tmp_path / "19_test.xlsx")
    raw = read_shisetsu_kijun(path)
    assert raw["_row"].iloc[0] == 5                      # header found on row 4
    assert len(raw) == sum(len(f[4]) for f in FILINGS)
    inst, issues = parse_shisetsu_kijun([path])
    assert not issues
    assert len(inst) == len(FILINGS)
    rows = inst.set_index("institution_number")
    assert rows.loc["0100001", "filings"] == 3
    assert rows.loc["0100001", "designations"] == {"chiiki_houkatsu_ward", "koho_shien"}
    assert rows.loc["0100001", "beds"] == 350
    assert rows.loc["0100002", "beds"] == 111
    assert rows.loc["0100004", ["kind", "designations"]].tolist() == ["clinic", {"zaishin_kyoka"}]
    assert rows.loc["0100005", "designations"] == {"zaishin"}
    assert rows.loc["0100006", "kind"] == "hospital"    # 支援病 without beds → hospital


def test_shisetsu_kijun_bad_row(tmp_path):
    bad = FILINGS[:1] + [("01X", "番号不正", "甲府市１", "", [("x", "y")])]
    path = write_xlsx(tmp_path / "bad.xlsx", bad)
    inst, issues = parse_shisetsu_kijun([path])
    assert len(inst) == 1 and [i.name for i in issues] == ["番号不正"]
    with pytest.raises(ImportValidationError):
        parse_shisetsu_kijun([path], strict=True)


# -- joining ------------------------------------------------------------------------------

def test_join_tiers():
    hosp = read_hospitals(HOSPITALS, "19")
    assert len(hosp) == 6 and hosp["lat"].notna().sum() == 4
    filings = pd.DataFrame({
        "name": ["テスト中央病院", "医療法人社団あおば会　あおば病院", "独立行政法人テスト機構　みどり病院",
                 "ひかりクリニック", "すずき内科医院"],
        "address": ["甲府市テスト町９－９", "", "", "甲斐市竜王一丁目２番３号", "甲府市テスト町１－１"],
        "municipality_name": ["甲府市", "甲府市", "甲斐市", "甲斐市", "甲府市"],
    })
    joined = join_to_hospitals(filings, hosp)
    assert joined["join_method"].tolist() == ["name", "name", "name_suffix", "address", ""]
    assert joined["hospital_record_id"].tolist()[:4] == ["R7-1901-14", "R7-1901-15", "R7-1901-16", "R7-1901-17"]
    # Same name in another municipality does not join.
    other = join_to_hospitals(filings.assign(municipality_name="笛吹市"), hosp)
    assert (other["join_method"] == "").all()


# -- the whole region ---------------------------------------------------------------------

def test_build_region_fixture(tmp_path):
    out = tmp_path / "region"
    report = build_region("19", CLEAN_KAIGO + BAD_KAIGO, HOSPITALS, [write_xlsx(tmp_path / "19.xlsx")], out)
    region = load_region(out, strict=True)

    assert report.facilities_by_type == {"iryoin": 1, "keihi": 2, "roken": 3}
    assert len(region.facilities) == 6 and not region.facilities["reported"].any()
    assert report.join["filing_institutions"] == 7
    assert report.join["matched"] == 4
    assert report.join["match_rate"] == round(4 / 7, 4)
    assert {report.join[f"matched_by_{t}"] for t in ("name", "name_suffix", "address")} <= {1, 2}

    inst = pd.read_csv(out / "institutions.csv", dtype=str, keep_default_na=False).set_index("institution_id")
    # Joined: exact coordinates; the 医療機関コード is pref + 1 + 医療機関番号.
    assert inst.loc["1910100001", ["location_approximate", "lat"]].tolist() == ["false", "35.6610000"]
    assert inst.loc["1910100001", "designations"] == "chiiki_houkatsu_ward;koho_shien"
    assert inst.loc["1910100001", "beds"] == "350"
    # Unjoined clinic: at the centroid of 甲府市's care facilities, flagged.
    assert inst.loc["1910100005", "location_approximate"] == "true"
    fac = region.facilities
    kofu = fac[fac["municipality_code"] == "19201"]
    assert float(inst.loc["1910100005", "lat"]) == pytest.approx(kofu["lat"].mean())
    # A hospitals-data record without a filing: a hospital, 在宅療養支援 → zaibyo, at a centroid.
    assert inst.loc["R7-1902-14", ["kind", "designations", "designation_source", "location_approximate"]].tolist() \
        == ["hospital", "zaibyo", "病床機能報告", "true"]
    # Unknown facts stay unknown.
    for column in ("consult_24h", "visit_24h", "admit", "accepting", "capacity_facilities", "capacity_residents"):
        assert (inst[column] == "").all(), column
    # Role flags derived by the contract from designations.
    assert bool(region.institutions.loc["1910100002", "admit"]) is True
    assert bool(region.institutions.loc["1910100004", "admit"]) is False

    # Areas: 甲斐市 has two records in 1901 and one in 1902 → 1901; 昭和町 has none → nearest.
    areas = region.areas
    assert areas.loc["19210", "secondary_area_code"] == "1901"
    assert areas.loc["19384", "secondary_area_code"] == "1901"
    assert report.secondary_areas == {"19201": "majority", "19210": "majority", "19384": "nearest"}

    # Nothing silently dropped: skipped rows and unmatched records are in the report files.
    assert len(region.partnerships) == 0
    assert (out / "partnerships.csv").read_text().strip() == "facility_id,institution_id,roles"
    unmatched = pd.read_csv(out / "import_unmatched.csv", dtype=str)
    assert {"たなか整形外科", "テスト村立病院", "座標なし", "未知のサービス", "すずき内科医院"} <= set(unmatched["name"])
    data = json.loads((out / "import_report.json").read_text(encoding="utf-8"))
    assert data["issue_counts"]["error"] == len(report.skipped) == 6
    assert facility_status(region)["status"].eq("not_tracked").all()


def test_build_region_strict_is_all_or_nothing(tmp_path):
    out = tmp_path / "strict"
    with pytest.raises(ImportValidationError) as exc:
        build_region("19", CLEAN_KAIGO + BAD_KAIGO, HOSPITALS, [write_xlsx(tmp_path / "19.xlsx")], out, strict=True)
    names = {i.name for i in exc.value.issues}
    assert {"チェックディジット誤り", "座標なし", "たなか整形外科", "テスト村立病院"} <= names
    assert not out.exists()
    # Clean sources (without the clinic and hospital in テスト村, which has no code) import strictly.
    clean = write_xlsx(tmp_path / "clean.xlsx", FILINGS[:-1])
    hospitals = tmp_path / "hospitals"
    hospitals.mkdir()
    for name in ("facility_basic.csv", "facility_functions.csv", "facility_geo_linkage.csv"):
        text = (HOSPITALS / name).read_text(encoding="utf-8")
        (hospitals / name).write_text("\n".join(line for line in text.splitlines() if "テスト村" not in line) + "\n",
                                      encoding="utf-8")
    report = build_region("19", CLEAN_KAIGO, hospitals, [clean], out, strict=True)
    assert not report.skipped
    load_region(out, strict=True)


# -- the real open data ----------------------------------------------------------------

def test_yamanashi_from_shared_open_data(tmp_path):
    if not SHARED_OPEN.is_dir():
        pytest.skip(f"../shared/data/open not present: the real open data is expected at {SHARED_OPEN}")
    out = tmp_path / "yamanashi"
    report = build_region("19", sorted((SHARED_OPEN / "kaigo").glob("*.csv")), SHARED_OPEN / "hospitals",
                          [SHARED_OPEN / "shisetsu_kijun" / "19_yamanashi.xlsx"], out)
    region = load_region(out, strict=True)

    assert len(region.facilities) > 90
    assert report.facilities_by_type["chiiki_tokuyo"] > 40 and report.facilities_by_type["roken"] > 25
    assert (region.institutions["kind"] == "hospital").sum() > 40
    assert len(region.institutions) > 500
    assert report.institutions_by_designation["zaishin"] > 40
    # Measured on the October 2025 list: 51 of 60 hospitals and 78 of 79 hospitals-data records join.
    assert report.join["hospital_match_rate"] >= 0.8
    assert report.join["hospital_records_joined"] >= 75
    assert report.join["match_rate"] > 0.1
    assert len(report.unmatched) > 0 and all(i.action for i in report.issues)
    assert set(region.areas["secondary_area_code"]) == {"1901", "1902", "1903", "1904"}
    assert facility_status(region)["status"].eq("not_tracked").all()
