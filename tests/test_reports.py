"""The meeting workbook and the self-contained HTML report, on a tiny hand-made region."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    assert wb.sheetnames == ["概要", "現状（市区町村×種別）", "提案後（市区町村×種別）", "提案", "未充足",
                             "シナリオ比較", "重要な医療機関", "受入枠の拡大案"]
    assert wb.sheetnames[:6] == [SHEETS[k] for k in ("summary", "status_before", "status_after", "proposals",
                                                      "unmatched", "comparison")]

    summary = wb["概要"]
    assert "協力医療機関" in summary["A1"].value
    assert find_row(summary, "提案件数")[1] == 3
    assert find_row(summary, "うち新規協定")[1] == 2

    # Status per municipality × type, with the MHLW category labels from the vocabulary.
    st = rows(wb["提案後（市区町村×種別）"])
    header = st[2]
    assert header[:4] == ["市区町村コード", "市区町村名", "施設種別", "全ての要件を満たした協力医療機関を定めている"]
    assert "集計していない" in header and "合計" in header
    tokuyo = next(r for r in st[3:] if r[2] == "介護老人福祉施設")
    assert tokuyo[:4] == ["03201", "盛岡市", "介護老人福祉施設", 1]
    before = next(r for r in rows(wb["現状（市区町村×種別）"])[3:] if r[2] == "介護老人保健施設")
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
    static = Path(__file__).resolve().parents[1] / "matching/reports/static"
    assert "Leaflet 1.9.4" in (static / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert (static / "leaflet.css").exists()
    assert "BSD" in (static / "LEAFLET-LICENSE").read_text(encoding="utf-8") or \
        "Redistribution" in (static / "LEAFLET-LICENSE").read_text(encoding="utf-8")


def test_report_on_a_plain_match(tmp_path):
    region = region_a(tmp_path / "r")
    result = match(region)
    assert verify(region, result.proposals) == []
    html = render_html(region, result)
    assert "提案（3件）" in html and "シナリオ比較" not in html
