"""The annual reports (issue 14): the form, the import with name resolution, the review round."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook
from typer.testing import CliRunner

from matching.annual_reports import AUTO_SCORE, REVIEW_ID
from matching.cli import app
from matching.contract import load_region
from matching.status import facility_status
from tests.regionkit import write_region

runner = CliRunner()


def _fill(form, rows):
    """Write ``rows`` (lists under the template's headers) below the header of the form's first sheet."""
    wb = load_workbook(form)
    ws = wb["年次報告"]
    ws.delete_rows(2, ws.max_row)
    for row in rows:
        ws.append(row)
    wb.save(form)


def test_template_lists_every_facility_with_drop_downs(tmp_path):
    region = write_region(tmp_path / "region")
    form = tmp_path / "form.xlsx"
    res = runner.invoke(app, ["template", "reports", "--region", str(region), "--out", str(form)])
    assert res.exit_code == 0, res.output
    ws = load_workbook(form)["年次報告"]
    assert [c.value for c in ws[1]][:5] == ["事業所番号", "施設名", "市区町村", "協力医療機関名", "医療機関番号"]
    assert [ws.cell(r, 1).value for r in range(2, 6)] == ["F1", "F2", "F3", "F4"]
    assert ws.cell(2, 3).value == "盛岡市"
    formulas = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"○,×"' in formulas
    assert ws.freeze_panes == "A2"


def test_import_resolves_by_number_name_and_similar_name_and_sends_the_rest_to_review(tmp_path):
    region = write_region(tmp_path / "region")
    form = tmp_path / "form.xlsx"
    assert runner.invoke(app, ["template", "reports", "--region", str(region), "--out", str(form)]).exit_code == 0
    _fill(form, [
        # F4 had no report: its partner by number, ①②③ met.
        ["F4", "テスト施設F4", "宮古市", "", "H2", "○", "○", "○", "2025-04-01"],
        # F3 by name only (full-width letters, a space): exact after normalisation.
        ["F3", "テスト施設F3", "宮古市", "テスト医療機関 Ｃ２", "", "○", "×", "×", "2025/05/10"],
        # F2: a name nobody has, similar to two institutions → review, nothing guessed.
        ["F2", "テスト施設F2", "盛岡市", "テスト医療機閑", "", "○", "○", "×", ""],
        # F1: untouched pre-filled row → not a report.
        ["F1", "テスト施設F1", "盛岡市", "", "", "", "", "", ""],
    ])
    res = runner.invoke(app, ["import", "reports", str(form), "--region", str(region)])
    assert res.exit_code == 0, res.output
    assert "要確認 1" in res.output and "未記入 1" in res.output
    part = pd.read_csv(region / "partnerships.csv", dtype=str, keep_default_na=False)
    pairs = {(r.facility_id, r.institution_id): r.roles for r in part.itertuples()}
    assert pairs[("F4", "H2")] == "consult;visit;admit"
    assert pairs[("F3", "C2")] == "consult"
    assert ("F3", "H2") not in pairs  # F3's report replaces what was on file
    assert pairs[("F2", "C1")] == "consult;visit"  # F2 is waiting for review: kept as it was
    assert set(part.loc[part.facility_id == "F4", "confirmed_on"]) == {"2025-04-01"}
    reg = load_region(region)
    assert bool(reg.facilities.at["F4", "reported"])
    assert facility_status(reg).at["F4", "status"] != "not_tracked"

    review = region / "reports_review.xlsx"
    sheet = pd.read_excel(review, dtype=str).fillna("")
    assert list(sheet["行"]) == ["4"] and sheet.at[0, "施設名"] == "テスト施設F2"
    assert sheet.at[0, "候補1 ID"] in ("H1", "H2", "C1", "C2")
    assert float(sheet.at[0, "候補1 スコア"]) < AUTO_SCORE

    # The coordinator decides, and imports again with the filled-in sheet.
    wb = load_workbook(review)
    ws = wb.active
    col = [c.value for c in ws[1]].index(REVIEW_ID) + 1
    ws.cell(2, col).value = "C1"
    wb.save(review)
    res = runner.invoke(app, ["import", "reports", str(form), "--region", str(region), "--review", str(review)])
    assert res.exit_code == 0, res.output
    assert "要確認 0" in res.output and "確認結果 1" in res.output
    assert not review.exists()  # nothing left to review
    part = pd.read_csv(region / "partnerships.csv", dtype=str, keep_default_na=False)
    assert {(r.facility_id, r.institution_id, r.roles) for r in part.itertuples() if r.facility_id == "F2"} == {
        ("F2", "C1", "consult;visit")}


def test_a_clinic_reported_for_admission_goes_to_review(tmp_path):
    region = write_region(tmp_path / "region")
    report = tmp_path / "reports.csv"
    report.write_text("事業所番号,医療機関番号,満たす要件\nF4,C2,①②③\n", encoding="cp932")  # as Excel saves it
    res = runner.invoke(app, ["import", "reports", str(report), "--region", str(region), "--out",
                              str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "CP932" in res.stderr
    sheet = pd.read_excel(tmp_path / "out" / "reports_review.xlsx", dtype=str)
    assert "③入院受入れは病院に限られます" in sheet.at[0, "問題"]
    assert not bool(load_region(tmp_path / "out").facilities.at["F4", "reported"])


def test_a_report_without_facility_columns_is_refused(tmp_path):
    region = write_region(tmp_path / "region")
    report = tmp_path / "reports.csv"
    report.write_text("a,b\n1,2\n", encoding="utf-8")
    before = (region / "partnerships.csv").read_bytes()
    res = runner.invoke(app, ["import", "reports", str(report), "--region", str(region)])
    assert res.exit_code == 2 and "施設の列" in res.stderr and "Traceback" not in res.output
    assert (region / "partnerships.csv").read_bytes() == before
