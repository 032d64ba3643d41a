"""The meeting workbook and the self-contained HTML report, on a tiny hand-made region."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from matching import MatchParameters, match, verify
from matching.cli import app
from matching.reports import SHEETS, render_html, write_html, write_workbook
from matching.scenarios import Scenario
from matching.scenarios.capacity import capacity_plan
from matching.scenarios.compare import run_scenarios
from matching.scenarios.criticality import criticality
from tests.test_scenarios import region_a


@pytest.fixture()
def runs(tmp_path):
    region = region_a(tmp_path / "region")
    out = run_scenarios(region, [
        Scenario.from_mapping({"label": "現状", "description": "そのまま"}, source="base.toml"),
        Scenario.from_mapping({"label": "H1閉院", "close": [{"ids": ["H1"]}]}, source="closure.toml"),
    ])
    for run in out:
        assert verify(run.region, run.result.proposals, run.params) == []
    return out


def rows(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def find_row(ws, first: str) -> list:
    return next(r for r in rows(ws) if r and r[0] == first)


def test_workbook_sheets_and_cells(tmp_path, runs):
    base = runs[0]
    params = MatchParameters()
    crit = criticality(base.region, params, base.result)
    plan = capacity_plan(base.region, params)
    path = write_workbook(tmp_path / "meeting.xlsx", base.region, base.result, runs=runs, criticality=crit,
                          capacity_plan=plan)
    wb = load_workbook(path)
    assert wb.sheetnames == ["表紙", "概要", "現状（二次医療圏×種別）", "提案後（二次医療圏×種別）",
                             "現状（市区町村×種別）", "提案後（市区町村×種別）", "提案", "未充足", "年次報告なし",
                             "シナリオ比較", "シナリオの変更内容", "S1 現状", "S2 H1閉院",
                             "重要な医療機関", "受入枠の拡大案"]
    assert wb.sheetnames[:11] == [SHEETS[k] for k in (
        "cover", "summary", "area_before", "area_after", "status_before", "status_after", "proposals",
        "unmatched", "unreported", "comparison", "changes")]

    summary = wb["概要"]
    assert "協力医療機関" in summary["A1"].value
    assert find_row(summary, "提案件数")[1] == 3
    assert find_row(summary, "うち新規協定")[1] == 2

    # Status per municipality × type, with the MHLW category labels from the vocabulary.
    st = rows(wb["提案後（市区町村×種別）"])
    header = st[2]
    assert header[:6] == ["二次医療圏コード", "二次医療圏名", "市区町村コード", "市区町村名", "施設種別",
                          "全ての要件を満たした協力医療機関を定めている"]
    assert "集計していない" in header and "合計" in header
    tokuyo = next(r for r in st[3:] if r[4] == "介護老人福祉施設")
    assert tokuyo[2:6] == ["03201", "盛岡市", "介護老人福祉施設", 1]
    before = next(r for r in rows(wb["現状（市区町村×種別）"])[3:] if r[4] == "介護老人保健施設")
    assert before[header.index("要件の一部を満たした協力医療機関を定めている")] == 1

    prop = rows(wb["提案"])
    assert prop[2][:3] == ["施設ID", "施設名", "施設種別"]
    col = {name: k for k, name in enumerate(prop[2])}
    f1 = next(r for r in prop[3:] if r[0] == "F1")
    assert f1[col["医療機関名"]] == "テスト機関H1"
    assert f1[col["役割"]] == "①②③"
    assert f1[col["施設種別"]] == "介護老人福祉施設"
    f2 = next(r for r in prop[3:] if r[0] == "F2")
    assert f2[col["役割"]] == "③" and f2[col["既存協定に役割を追加"]] == "○"

    assert rows(wb["未充足"])[2][:3] == ["施設ID", "施設名", "施設種別"]

    comp = rows(wb["シナリオ比較"])
    header = next(r for r in comp if r[0] == "項目")
    assert header[1:3] == ["現状", "H1閉院"]
    assert find_row(wb["シナリオ比較"], "新規協定数")[1:3] == [2, 5]
    assert find_row(wb["シナリオ比較"], "協力医療機関が変わる施設数")[1:3] == [0, 2]
    # The scenario chart is in the workbook too (issue 21 item 6), below the table.
    assert len(wb["シナリオ比較"]._images) == 1

    crit_rows = rows(wb["重要な医療機関"])
    assert crit_rows[2][:3] == ["順位", "医療機関ID", "医療機関名"]
    assert crit_rows[3][:2] == [1, "C1"]

    cap = rows(wb["受入枠の拡大案"])
    assert "受入枠の拡大だけで" in cap[2][0]


def test_workbook_is_reproducible(tmp_path, runs):
    base = runs[0]
    a = write_workbook(tmp_path / "a.xlsx", base.region, base.result, runs=runs).read_bytes()
    b = write_workbook(tmp_path / "b.xlsx", base.region, base.result, runs=runs).read_bytes()
    assert a == b


def test_workbook_without_scenarios(tmp_path, runs):
    base = runs[0]
    wb = load_workbook(write_workbook(tmp_path / "m.xlsx", base.region, base.result))
    assert wb.sheetnames[-1] == "シナリオ比較"
    assert "シナリオの指定がない" in wb["シナリオ比較"]["A3"].value


def test_html_is_self_contained_with_map_and_data(tmp_path, runs):
    base = runs[0]
    path = write_html(tmp_path / "report.html", base.region, base.result, runs=runs)
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ja">' in html
    # Leaflet is inlined, nothing is loaded from elsewhere at run time.
    assert "Leaflet 1.9.4" in html and ".leaflet-container" in html
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+stylesheet", html)
    assert "unpkg.com" not in html and "cdn" not in html.lower().replace("cdnjs", "")
    assert 'L.map("map"' in html and "L.circleMarker" in html and "L.polyline" in html
    # The embedded data: facilities, institutions, proposals.
    payload = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    data = json.loads(payload)
    assert [f["id"] for f in data["facilities"]] == ["F1", "F2", "F3"]
    assert {(p["f"], p["i"], p["roles"]) for p in data["proposals"]} == {
        ("F1", "H1", "①②③"), ("F2", "H1", "③"), ("F3", "C1", "①②")}
    h1 = next(i for i in data["institutions"] if i["id"] == "H1")
    assert (h1["capacity"], h1["spare"], h1["used"]) == (1, 0, 1)
    c1 = next(i for i in data["institutions"] if i["id"] == "C1")
    assert c1["spare"] is None  # unlimited
    assert data["statusLabels"]["all_met"] == "全ての要件を満たした協力医療機関を定めている"
    # Charts (inline SVG) and tables in Japanese.
    assert html.count("<svg") >= 4
    assert "施設種別ごとの状況（現状）" in html and "シナリオ比較" in html and "テスト施設F1" in html
    # The tile background is optional and off by default (only offered in the layer switch).
    assert "tile.openstreetmap.org" in html and "tiles).addTo" not in html
    assert render_html(base.region, base.result, runs=runs) == html  # deterministic


def test_html_escapes_names(tmp_path, runs):
    base = runs[0]
    region = base.region
    region.facilities.loc["F1", "name"] = "</script><b>x</b>"
    html = render_html(region, base.result)
    assert "</script><b>" not in html


def test_cli_report(tmp_path):
    region_a(tmp_path / "region")
    closure = tmp_path / "closure.toml"
    closure.write_text('label = "H1閉院"\n[[close]]\nids = ["H1"]\n', encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["report", str(tmp_path / "region"), "--out", str(out), "--scenario", str(closure),
                                 "--critical"])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out / "report.xlsx")
    assert "シナリオ比較" in wb.sheetnames and "重要な医療機関" in wb.sheetnames
    assert find_row(wb["シナリオ比較"], "項目")[1:3] == ["現状", "H1閉院"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Leaflet 1.9.4" in html and "H1閉院" in html


def test_leaflet_is_vendored_with_its_license():
    """One copy, in matching/vendor/, used by the HTML report and served to the web page."""
    repo = Path(__file__).resolve().parents[1]
    static = repo / "matching/vendor/leaflet"
    assert "Leaflet 1.9.4" in (static / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert (static / "leaflet.css").exists()
    assert "BSD" in (static / "LICENSE").read_text(encoding="utf-8") or \
        "Redistribution" in (static / "LICENSE").read_text(encoding="utf-8")
    cluster = repo / "matching/vendor/leaflet.markercluster"
    assert "MIT" in (cluster / "MIT-LICENCE.txt").read_text(encoding="utf-8")
    copies = [p for p in repo.glob("**/leaflet.js") if not {".venv", "node_modules", "mutants"} & set(p.parts)]
    assert copies == [static / "leaflet.js"], copies


def test_report_on_a_plain_match(tmp_path):
    region = region_a(tmp_path / "r")
    result = match(region)
    assert verify(region, result.proposals) == []
    html = render_html(region, result)
    assert "提案（3件）" in html and "シナリオ比較" not in html


# -- the regional-meeting pack (issue 21) ------------------------------------------

def region_b(folder: Path):
    """Two 二次医療圏: 盛岡 (F1 特養, F2 老健, U1 unreported 特養) and 岩手中部 (F4 特養 in 北上市)."""
    from tests.matchkit import fac, inst, make_region

    return make_region(folder, [
        fac("F1", "tokuyo", 0, 0, residents=50),
        fac("F2", "roken", 2, 0, residents=40),
        fac("U1", "tokuyo", 1, 1, residents=30, reported=False),
        fac("F4", "tokuyo", 4, 0, residents=60, municipality="03206"),
    ], [
        inst("H1", "hospital", 1, 0, "zaibyo"),
        inst("C1", "clinic", 0, 2, "zaishin"),
    ], [("F2", "H1", "consult;visit")])


@pytest.fixture()
def run_b(tmp_path):
    region = region_b(tmp_path / "b")
    result = match(region)
    assert verify(region, result.proposals) == []
    return region, result


def test_status_by_secondary_area_has_subtotals_and_a_total(run_b):
    from matching.reports.tables import status_with_subtotals

    region, result = run_b
    t = status_with_subtotals(result.status_before, region.areas)
    assert list(t.columns[:3]) == ["二次医療圏コード", "二次医療圏名", "施設種別"]
    sub = t[t["施設種別"] == "小計"].set_index("二次医療圏名")
    assert sub.loc["盛岡", "合計"] == 3 and sub.loc["岩手中部", "合計"] == 1
    assert sub.loc["盛岡", "集計していない"] == 1
    total = t[t["二次医療圏名"] == "合計（全域）"].iloc[0]
    assert total["合計"] == 4 and total["集計していない"] == 1
    # Detail rows add up to the subtotal, subtotals to the total.
    detail = t[~t["施設種別"].isin(["小計", ""])]
    assert detail["合計"].sum() == sub["合計"].sum() == total["合計"]
    by_muni = status_with_subtotals(result.status_after, region.areas, by="municipality")
    assert list(by_muni.columns[:5]) == ["二次医療圏コード", "二次医療圏名", "市区町村コード", "市区町村名", "施設種別"]
    assert (by_muni["施設種別"] == "小計").sum() == 2


def test_area_summary_counts_unreported_apart(run_b):
    from matching.reports.tables import area_shares, area_summary

    region, result = run_b
    s = area_summary(region, result).set_index("二次医療圏名")
    assert s.loc["盛岡", "年次報告なし（集計していない）"] == 1
    assert s.loc["盛岡", "義務施設（集計対象）"] == 2       # U1 is not counted: its status is unknown
    assert s.loc["合計（全域）", "施設数"] == 4
    after = area_shares(region, result, "after")
    assert set(after) == {"0301", "0302"}
    assert after["0301"] == pytest.approx(100 * s.loc["盛岡", "義務施設の全要件充足（提案後）"] / 2, abs=0.1)


def test_unreported_facilities_are_their_own_list_never_unmatched(run_b):
    from matching.reports.tables import summary_numbers, unmatched_table, unreported_table

    region, result = run_b
    assert "U1" in set(result.unmatched["facility_id"])     # the run lists it (reason not_tracked) ...
    assert "U1" not in set(unmatched_table(region, result)["施設ID"])   # ... the report does not call it 未充足
    assert list(unreported_table(region, result)["施設ID"]) == ["U1"]
    numbers = dict(summary_numbers(region, result))
    assert numbers["年次報告なしの施設（集計していない：未充足に数えない）"] == 1


def test_workbook_prints_landscape_fit_to_width_with_headers_and_page_numbers(tmp_path, run_b):
    region, result = run_b
    wb = load_workbook(write_workbook(tmp_path / "m.xlsx", region, result, created="2026-03-31"))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text, ws.title
    ws = wb["提案後（二次医療圏×種別）"]
    assert ws.print_title_rows == "$3:$3" and ws["A3"].value == "二次医療圏コード"
    header = [c.value for c in ws[3]]
    share = header.index("全要件充足率（集計対象に占める%）") + 1
    total_col = header.index("合計") + 1
    cell = ws.cell(4, share)
    assert cell.number_format == "0.0%" and 0 <= cell.value <= 1
    assert ws.cell(4, total_col).number_format == "#,##0"
    assert all((ws.column_dimensions[c].width or 0) >= 8 for c in "ABC")


def test_cover_sheet_has_dates_parameters_and_the_deadline(tmp_path, run_b):
    region, result = run_b
    wb = load_workbook(write_workbook(tmp_path / "m.xlsx", region, result, title="令和8年度 第2回 調整会議",
                                      created="2026-03-31", data_as_of="2026-02-01"))
    assert wb.sheetnames[0] == "表紙"
    cover = {r[0]: r[1] for r in rows(wb["表紙"]) if r and r[0]}
    assert cover["表題"] == "令和8年度 第2回 調整会議" and wb["表紙"]["A1"].value == "令和8年度 第2回 調整会議"
    assert cover["地域"] == "岩手県"
    assert cover["作成日"] == "2026年3月31日" and cover["データの時点"] == "2026年2月1日"
    assert cover["義務化の期限"] == "2027年3月31日（経過措置の終了まで残り365日）"
    assert cover["移動上限 ②診療（往診・常時）"] == "移動30分以内かつ直線16km以内"
    assert wb.properties.created.date().isoformat() == "2026-03-31"


def test_run_date_is_today_or_source_date_epoch(tmp_path, run_b, monkeypatch):
    import datetime as dt

    from matching.reports.context import run_date

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert run_date() == dt.date.today()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    assert run_date() == dt.date(2026, 1, 1)
    region, result = run_b
    a = write_workbook(tmp_path / "a.xlsx", region, result).read_bytes()
    assert a == write_workbook(tmp_path / "b.xlsx", region, result).read_bytes()
    assert load_workbook(tmp_path / "a.xlsx").properties.created.date() == dt.date(2026, 1, 1)
    other = write_workbook(tmp_path / "c.xlsx", region, result, created="2026-01-02").read_bytes()
    assert other != a


def test_html_prints_every_row_and_has_area_views(tmp_path, run_b):
    region, result = run_b
    html = render_html(region, result, created="2026-03-31", title="調整会議資料")
    assert "<title>調整会議資料</title>" in html
    assert "作成日 2026年3月31日" in html and "残り365日" in html
    css = html[html.index("@media print"):]
    assert re.search(r"\.tablewrap\s*\{[^}]*max-height:\s*none[^}]*overflow:\s*visible", css)
    assert "table-header-group" in css and "landscape" in html
    # The 二次医療圏 section: maps (inline SVG, credited) and the table with a total row.
    assert 'id="areas"' in html and "国土数値情報（行政区域データ）（国土交通省）を加工して作成" in html
    assert html.count("義務施設の全要件充足率（") >= 2 and "合計（全域）" in html
    assert 'class="sub"' in html          # subtotal rows are marked
    assert 'id="unreported"' in html and "テスト施設U1" in html
    unmatched = html[html.index('id="unmatched"'):html.index('id="unreported"')]
    assert "テスト施設U1" not in unmatched


def test_area_map_svg_shades_each_area(run_b):
    from matching.reports.areamap import area_map_svg, area_shapes, share_color

    region, _ = run_b
    shapes = area_shapes(region)
    assert set(shapes) == {"0301", "0302"}
    svg = area_map_svg(shapes, {"0301": 96.0, "0302": 40.0}, "テスト")
    assert svg.count("<path") == 2
    assert share_color(96.0) in svg and share_color(40.0) in svg and share_color(96.0) != share_color(40.0)
    assert "盛岡 96.0%" in svg and "国土数値情報" in svg


def test_criticality_lists_only_institutions_that_matter(tmp_path, runs):
    from matching.reports.tables import affecting

    base = runs[0]
    crit = criticality(base.region, MatchParameters(), base.result)
    crit = pd.concat([crit, crit.iloc[[0]].assign(institution_id="ZZ", name="影響なし機関", lost_all_met=0,
                                                   lost_obligated=0, lost_facilities="")], ignore_index=True)
    # An institution whose loss costs an obligated facility matters even where the best run
    # without it completes more facilities in all (net counts, obligated first).
    crit = pd.concat([crit, crit.iloc[[0]].assign(institution_id="ZY", name="義務を失う機関", lost_all_met=-1,
                                                   lost_obligated=1, lost_facilities="F1;F2")], ignore_index=True)
    assert "ZZ" not in set(affecting(crit)["institution_id"])
    assert "ZY" in set(affecting(crit)["institution_id"])
    wb = load_workbook(write_workbook(tmp_path / "m.xlsx", base.region, base.result, criticality=crit))
    ws = wb["重要な医療機関"]
    names = [r[2] for r in rows(ws)]
    assert "影響なし機関" not in names and "義務を失う機関" in names
    skipped = int(((crit["lost_all_met"] == 0) & (crit["lost_obligated"] == 0)).sum())
    assert skipped >= 1 and f"調べた{len(crit)}機関のうち" in ws["A2"].value
    assert f"変わらない{skipped}機関は省略" in ws["A2"].value
    assert len(rows(ws)) - 3 == len(crit) - skipped


def test_cli_report_title_and_date(tmp_path):
    region_a(tmp_path / "region")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["report", str(tmp_path / "region"), "--out", str(out), "--title", "第3回会議",
                                 "--date", "2026-10-01"])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out / "report.xlsx")
    assert wb["表紙"]["A1"].value == "第3回会議"
    cover = {r[0]: r[1] for r in rows(wb["表紙"]) if r and r[0]}
    assert cover["作成日"] == "2026年10月1日"
    assert "<title>第3回会議</title>" in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "area_map_after.png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "region"), "--out", str(out), "--date", "2026/10/01"])
    assert bad.exit_code == 2
