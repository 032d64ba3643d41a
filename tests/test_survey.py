"""The institutions' intention survey (issue 14 item 4): the form, the import, the review round."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook
from typer.testing import CliRunner

from matching._resolve import AUTO_SCORE, REVIEW_ID
from matching.cli import app
from matching.contract import load_region
from tests.regionkit import DEFAULT_INSTITUTIONS, append, institution, write_region

runner = CliRunner()

#: Names to resolve: a corporate prefix, a long name (one typo stays above AUTO_SCORE), and one
#: name two municipalities share.
NAMED = append(
    DEFAULT_INSTITUTIONS,
    institution("I1", "clinic", "03201", name="医療法人社団 盛岡会 みなみ内科クリニック", lat="39.72"),
    institution("I2", "hospital", "03201", name="盛岡市立さくら台リハビリテーション記念総合病院", lat="39.73"),
    institution("I3", "clinic", "03201", name="あおば診療所", lat="39.74"),
    institution("I4", "clinic", "03202", name="あおば診療所", lat="39.66", lon="141.93"),
)
HEADER = "医療機関番号,医療機関名,市区町村,新規受入の意向,受入可能施設数,受入可能入所者数,①相談対応,②診療（往診）," \
         "③入院受入れ,①24時間対応,②24時間対応,担当者名,電話番号,回答日"


def _institutions(region) -> pd.DataFrame:
    return pd.read_csv(region / "institutions.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig").set_index("institution_id")


def _changes(folder) -> pd.DataFrame:
    path = folder / "survey_changes.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _import(*args: str):
    return runner.invoke(app, ["import", "survey", *map(str, args)])


def test_template_lists_every_institution_with_drop_downs(tmp_path):
    region = write_region(tmp_path / "region")
    form = tmp_path / "form.xlsx"
    res = runner.invoke(app, ["template", "survey", "--region", str(region), "--out", str(form)])
    assert res.exit_code == 0, res.output
    ws = load_workbook(form)["意向調査"]
    assert [c.value for c in ws[1]] == HEADER.split(",")
    assert [ws.cell(r, 1).value for r in range(2, 6)] == ["C1", "C2", "H1", "H2"]
    assert ws.cell(2, 2).value == "テスト医療機関C1" and ws.cell(2, 3).value == "盛岡市"
    formulas = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert {'"はい,いいえ,未定"', '"○,×"'} <= formulas
    assert ws.cell(2, 13).number_format == "@"  # 電話番号 as text: its leading 0 stays


def test_the_filled_template_round_trips_into_institutions_csv(tmp_path):
    region = write_region(tmp_path / "region")
    form = tmp_path / "form.xlsx"
    assert runner.invoke(app, ["template", "survey", "--region", str(region), "--out", str(form)]).exit_code == 0
    wb = load_workbook(form)
    ws = wb["意向調査"]
    answers = {  # by the template's row order: C1, C2, H1, H2
        2: ["いいえ", None, None, "○", "○", "×", "×", "○", "佐藤 花子", "019-123-4567", "2025-06-01"],
        4: ["はい", 8, "制限なし", "○", "○", "○", "○", "○", "山田 太郎", "０１９－６５１－４１１１ 内線 12", "2025/6/2"],
        5: ["未定", None, None, None, None, None, None, None, None, None, "2025年6月3日"],
    }  # row 3 (C2) is left as sent: not an answer
    for r, values in answers.items():
        for k, v in enumerate(values, start=4):
            ws.cell(r, k).value = v
    wb.save(form)
    res = _import(form, "--region", region)
    assert res.exit_code == 0, res.output
    assert "番号で特定 3" in res.output and "未記入 1" in res.output and "要確認 0" in res.output
    reg = load_region(region)
    inst = reg.institutions
    assert not pd.isna(inst.at["C1", "accepting"]) and not inst.at["C1", "accepting"]
    assert not inst.at["C1", "consult_24h"] and bool(inst.at["C1", "visit_24h"])  # ① not around the clock
    assert bool(inst.at["H1", "accepting"]) and inst.at["H1", "capacity_facilities"] == 8
    assert pd.isna(inst.at["H1", "capacity_residents"])  # 制限なし
    assert inst.at["H1", "contact_name"] == "山田 太郎"
    assert inst.at["H1", "contact_phone"] == "019-651-4111 内線 12"  # full-width made ASCII
    assert inst.at["H1", "survey_date"] == "2025-06-02"
    assert pd.isna(inst.at["H2", "accepting"]) and inst.at["H2", "survey_date"] == "2025-06-03"  # 未定: blank
    file = _institutions(region)
    assert file.at["C2", "contact_name"] == "" and file.at["C2", "consult_24h"] == "true"  # untouched
    assert file.at["H1", "admit"] == "true"  # said by the institution: written, not left to designations
    changes = _changes(region)
    c1 = changes[changes["医療機関ID"] == "C1"].set_index("列")
    assert c1.at["accepting", "変更前"] == "はい" and c1.at["accepting", "変更後"] == "いいえ"
    assert "24時間対応ではない" in c1.at["consult_24h", "備考"]
    h2 = changes[changes["医療機関ID"] == "H2"].set_index("列")
    assert h2.at["accepting", "変更後"] == "（空欄：未確認）"
    assert set(changes["医療機関ID"]) == {"C1", "H1", "H2"}
    # The same answers again change nothing.
    res = _import(form, "--region", region)
    assert res.exit_code == 0, res.output
    assert _changes(region).empty


def test_names_resolve_exactly_or_by_a_clear_similar_name_and_the_rest_go_to_review(tmp_path):
    region = write_region(tmp_path / "region", institutions=NAMED)
    survey = tmp_path / "survey.csv"
    survey.write_text(HEADER + "\n" + "\n".join([
        # exact after normalisation (no corporate prefix, full-width space)
        ",みなみ内科クリニック　,盛岡市,はい,2,,,,,,,,,2025-06-01",
        # one character off a long name: taken, and said
        ",盛岡市立さくら台リハビリテーション記念総合病陰,,はい,4,,,,,,,,,2025-06-01",
        # two municipalities have this name and none is given: review
        ",あおば診療所,,いいえ,,,,,,,,,,2025-06-01",
        # nobody has this name: review with candidates
        ",テスト医療機閑,,はい,1,,,,,,,,,2025-06-01",
    ]) + "\n", encoding="utf-8")
    res = _import(survey, "--region", region)
    assert res.exit_code == 0, res.output
    assert "名称で特定 1" in res.output and "類似名称で特定 1" in res.output and "要確認 2" in res.output
    assert "I2" in res.output  # the similar name is listed with the id it was taken as
    file = _institutions(region)
    assert file.at["I1", "capacity_facilities"] == "2" and file.at["I2", "capacity_facilities"] == "4"
    assert file.at["I3", "accepting"] == "" and file.at["I4", "accepting"] == ""  # nothing guessed
    sheet = pd.read_excel(region / "survey_review.xlsx", dtype=str).fillna("")
    assert list(sheet["行"]) == ["4", "5"]
    assert "同じ名称の医療機関が複数あります" in sheet.at[0, "問題"]
    assert {sheet.at[0, "候補1 ID"], sheet.at[0, "候補2 ID"]} == {"I3", "I4"}
    assert float(sheet.at[1, "候補1 スコア"]) < AUTO_SCORE

    # The coordinator decides row 4 (I4) and leaves row 5 open; the import is run again.
    wb = load_workbook(region / "survey_review.xlsx")
    ws = wb.active
    col = [c.value for c in ws[1]].index(REVIEW_ID) + 1
    ws.cell(2, col).value = "I4"
    wb.save(region / "survey_review.xlsx")
    res = _import(survey, "--region", region, "--review", region / "survey_review.xlsx")
    assert res.exit_code == 0, res.output
    assert "確認結果 1" in res.output and "要確認 1" in res.output
    file = _institutions(region)
    assert file.at["I4", "accepting"] == "false" and file.at["I3", "accepting"] == ""
    assert list(_changes(region)["医療機関ID"].unique()) == ["I4"]  # the others did not change again


def test_unreadable_answers_are_listed_with_file_line_and_column_and_nothing_is_written(tmp_path):
    region = write_region(tmp_path / "region")
    before = {p.name: p.read_bytes() for p in region.iterdir()}
    survey = tmp_path / "survey.csv"
    survey.write_text(HEADER + "\n" + "\n".join([
        "H1,,,たぶん,三,,,,,,,,,2025-06-01",
        "C1,,,はい,,-1,×,,,○,,,12-34,2025-13-01",
        "H2,,,はい,,,,,,,,,,",
        "H2,,,いいえ,,,,,,,,,,",
    ]) + "\n", encoding="utf-8")
    res = _import(survey, "--region", region)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    err = res.stderr
    for fragment in ("survey.csv 2 行目「新規受入の意向」", "survey.csv 2 行目「受入可能施設数」",
                     "survey.csv 3 行目「受入可能入所者数」", "survey.csv 3 行目「①24時間対応」",
                     "survey.csv 3 行目「電話番号」", "survey.csv 3 行目「回答日」", "5 行目", "4 行目にもあります"):
        assert fragment in err, (fragment, err)
    assert "何も書き込んでいません" in err
    assert {p.name: p.read_bytes() for p in region.iterdir()} == before


def test_a_cp932_csv_as_excel_saves_it_is_read_and_said(tmp_path):
    region = write_region(tmp_path / "region")
    survey = tmp_path / "survey.csv"
    survey.write_text("医療機関番号,新規受入の意向,担当者名,電話番号\nH2,はい,髙橋 一郎,0193-62-2111\n", encoding="cp932")
    res = _import(survey, "--region", region, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "CP932" in res.stderr and "取込日を回答日" in res.stderr
    inst = load_region(tmp_path / "out").institutions
    assert bool(inst.at["H2", "accepting"]) and inst.at["H2", "contact_name"] == "髙橋 一郎"
    assert inst.at["H2", "survey_date"] != ""  # the date of the import, said on stderr
    assert _institutions(region).at["H2", "accepting"] == "false"  # --out: the region is left as it was


def test_a_clinic_offering_admission_goes_to_review(tmp_path):
    region = write_region(tmp_path / "region")
    survey = tmp_path / "survey.csv"
    survey.write_text("医療機関番号,③入院受入れ,回答日\nC2,○,2025-06-01\nH2,×,2025-06-01\n", encoding="utf-8")
    res = _import(survey, "--region", region)
    assert res.exit_code == 0, res.output
    sheet = pd.read_excel(region / "survey_review.xlsx", dtype=str)
    assert "③入院受入れは病院に限られます" in sheet.at[0, "問題"]
    file = _institutions(region)
    assert file.at["C2", "admit"] == "" and file.at["H2", "admit"] == "false"


def test_a_region_without_the_contact_columns_loads_as_before(tmp_path):
    region = write_region(tmp_path / "region")
    assert "contact_name" not in (region / "institutions.csv").read_text(encoding="utf-8")
    inst = load_region(region).institutions
    assert (inst[["contact_name", "contact_phone", "survey_date"]] == "").all().all()
