"""The Excel workbook for a regional meeting (地域医療構想調整会議).

Sheets (Japanese names; every table has a bold header row, filters and frozen panes):

* 概要 — headline numbers and the prefecture-wide status per facility type, before and after
* 現状（市区町村×種別） / 提案後（市区町村×種別） — facilities per MHLW status category
* 提案 — proposals with facility and institution names, roles as ①②③
* 未充足 — roles left uncovered, with the reason and what would fix it
* シナリオ比較 — the what-if comparison (when runs are given; else the base run alone)
* 重要な医療機関 — the criticality ranking (when given)
* 受入枠の拡大案 — the smallest capacity increases (when a plan is given)

The file is reproducible: the document timestamps and the zip entries carry a
fixed date, so the same input writes the same bytes.

>>> write_workbook("out/meeting.xlsx", region, result)            # doctest: +SKIP
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from matching import safecells
from matching.optimise.run import MatchResult
from matching.region import Region
from matching.reports.tables import (
    comparison_table,
    coverage_by_type,
    criticality_table,
    increases_table,
    proposals_table,
    status_by_area,
    status_by_type,
    summary_numbers,
    unmatched_table,
)

SHEETS = {
    "summary": "概要",
    "status_before": "現状（市区町村×種別）",
    "status_after": "提案後（市区町村×種別）",
    "proposals": "提案",
    "unmatched": "未充足",
    "comparison": "シナリオ比較",
    "criticality": "重要な医療機関",
    "capacity": "受入枠の拡大案",
}

FIXED_DATE = (2024, 4, 1, 0, 0, 0)  # 令和6年度介護報酬改定 — any fixed date keeps the bytes stable
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)


def write_workbook(path: str | Path, region: Region, result: MatchResult, runs=None, criticality=None,
                   capacity_plan=None, title: str | None = None) -> Path:
    """Write the meeting workbook.  ``runs``: a list of :class:`ScenarioRun` to compare
    (the first is the reference); ``criticality``: a table from :func:`criticality`;
    ``capacity_plan``: a :class:`CapacityPlan`."""
    path = Path(path)
    title = title or f"協力医療機関の確保状況とマッチング提案（{_region_name(region)}）"
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS["summary"]
    _summary_sheet(ws, region, result, title)

    for key, st in (("status_before", result.status_before), ("status_after", result.status_after)):
        ws = wb.create_sheet(SHEETS[key])
        note = ("年次報告に基づく現状" if key == "status_before"
                else "提案がすべて合意された場合（提案は候補であり、協定は施設と医療機関が合意して結ぶ）")
        row = _title(ws, f"{SHEETS[key]}：{note}")
        _table(ws, status_by_area(st, region.areas, by="municipality"), row)

    ws = wb.create_sheet(SHEETS["proposals"])
    _table(ws, proposals_table(region, result), _title(ws, "協力医療機関の提案（役割：①相談対応 ②診療 ③入院受入れ）"))
    ws = wb.create_sheet(SHEETS["unmatched"])
    _table(ws, unmatched_table(region, result), _title(ws, "提案後も満たされない要件と理由・対応案"))

    ws = wb.create_sheet(SHEETS["comparison"])
    _comparison_sheet(ws, region, result, runs)

    if criticality is not None:
        ws = wb.create_sheet(SHEETS["criticality"])
        row = _title(ws, "新規受入れを止めた場合（または協力をやめた場合）に全要件充足を失う施設数の多い医療機関")
        _table(ws, criticality_table(criticality, region.areas), row)
    if capacity_plan is not None:
        ws = wb.create_sheet(SHEETS["capacity"])
        _capacity_sheet(ws, capacity_plan)
    return _save(wb, path)


# -- sheets ----------------------------------------------------------------------

def _summary_sheet(ws, region: Region, result: MatchResult, title: str) -> None:
    row = _title(ws, title)
    ws.cell(row, 1, "提案は候補です。協定は施設と医療機関が話し合って結びます（人が決め、ツールは提案する）。")
    row += 2
    _table(ws, pd.DataFrame(summary_numbers(region, result), columns=["項目", "値"]), row, filters=False)
    row += len(summary_numbers(region, result)) + 3
    ws.cell(row, 1, "施設種別ごとの状況（現状）").font = BOLD
    before = status_by_type(result.status_before, region.areas)
    _table(ws, before, row + 1, filters=False, freeze=False)
    row += len(before) + 4
    ws.cell(row, 1, "施設種別ごとの状況（提案後）").font = BOLD
    _table(ws, status_by_type(result.status_after, region.areas), row + 1, filters=False, freeze=False)


def _comparison_sheet(ws, region: Region, result: MatchResult, runs) -> None:
    from matching.scenarios.compare import compare, travel_labels

    row = _title(ws, "シナリオ比較（提案がすべて合意された場合）")
    if not runs:
        ws.cell(row, 1, "シナリオの指定がないため、現状の実行結果のみを示します。")
        row += 2
        _table(ws, pd.DataFrame(summary_numbers(region, result), columns=["項目", "現状"]), row,
               filters=False)
        return
    comp = compare(runs)
    labels = dict(zip(comp.summary["scenario"], comp.summary["label"], strict=True))
    for run in runs:
        ws.cell(row, 1, f"{run.scenario.title}：{run.scenario.description or '（説明なし）'}")
        row += 1
    row += 1
    table = comparison_table(comp.summary)
    _table(ws, table, row, filters=False)
    row += len(table) + 3
    ws.cell(row, 1, "施設種別ごとの全要件充足施設数（提案後）").font = BOLD
    by_type = coverage_by_type(comp.coverage, labels)
    _table(ws, by_type, row + 1, filters=False, freeze=False)
    row += len(by_type) + 4
    ws.cell(row, 1, "提案の移動時間の分布（件数）").font = BOLD
    travel = comp.travel.pivot(index="minutes", columns="scenario", values="proposals")
    travel = travel.reindex(travel_labels())[list(labels)].rename(columns=labels)
    travel.index.name = "移動時間"
    _table(ws, travel.reset_index(), row + 1, filters=False, freeze=False)
    row += len(travel) + 4
    ws.cell(row, 1, f"基準（{runs[0].scenario.title}）と比べて協力医療機関が変わる施設").font = BOLD
    changed = comp.changed_partners.assign(scenario=lambda d: d["scenario"].map(labels)).rename(columns={
        "scenario": "シナリオ", "facility_id": "施設ID", "name": "施設名", "facility_type": "施設種別",
        "partners_reference": "基準の協力医療機関", "partners_scenario": "シナリオの協力医療機関"})
    from matching.vocabulary import FACILITY_TYPES
    changed["施設種別"] = changed["施設種別"].map(lambda t: FACILITY_TYPES[t].name_ja)
    _table(ws, changed, row + 1, filters=False, freeze=False)


def _capacity_sheet(ws, plan) -> None:
    row = _title(ws, "義務施設の全要件充足に必要な最小の受入枠拡大")
    if plan.feasible:
        verdict = "受入枠の拡大だけで、集計対象の義務施設すべてを全要件充足にできます。"
    else:
        verdict = (f"移動上限などの理由で候補がなく、受入枠の拡大では満たせない施設が"
                   f"{plan.blocked['facility_id'].nunique()}あります（下表）。それ以外の義務施設についての拡大案です。")
    ws.cell(row, 1, verdict)
    ws.cell(row + 1, 1, f"拡大の合計：施設数 +{plan.total_facilities}、入所者数 +{plan.total_residents}"
                        f"（最適性の証明：{'あり' if plan.optimal else 'なし'}；"
                        f"再計算による確認：{'済' if plan.confirmed else '未' if plan.confirmed is None else '不一致'}）")
    row += 3
    inc = increases_table(plan.increases)
    _table(ws, inc, row, filters=False)
    row += len(inc) + 3
    if len(plan.blocked):
        ws.cell(row, 1, "受入枠の拡大では満たせない施設と役割").font = BOLD
        _table(ws, plan.blocked.rename(columns={"facility_id": "施設ID", "role": "役割", "reason_code": "理由区分",
                                                "reason": "理由", "fix": "対応案"}), row + 1,
               filters=False, freeze=False)


# -- helpers ---------------------------------------------------------------------

def _title(ws, text: str) -> int:
    ws.cell(1, 1, text).font = TITLE_FONT
    return 3


def _table(ws, df: pd.DataFrame, row: int, filters: bool = True, freeze: bool = True) -> None:
    """Write a frame at ``row`` (header bold and shaded); widen columns to fit."""
    cols = list(df.columns)
    for j, name in enumerate(cols, start=1):
        c = ws.cell(row, j, str(name))
        c.font = BOLD
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")
    for k, values in enumerate(df.itertuples(index=False), start=1):
        for j, v in enumerate(values, start=1):
            ws.cell(row + k, j, _cell(v))
    for j, name in enumerate(cols, start=1):
        letter = get_column_letter(j)
        width = max([_width(name)] + [_width(v) for v in df.iloc[:200, j - 1]]) if len(df) else _width(name)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, min(60, width + 2))
    if filters and len(df):
        ws.auto_filter.ref = f"A{row}:{get_column_letter(len(cols))}{row + len(df)}"
    if freeze:
        ws.freeze_panes = ws.cell(row + 1, 1)


def _cell(v):
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if hasattr(v, "item"):
        return v.item()  # numpy scalars → Python
    return v


def _width(v) -> int:
    s = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
    # East Asian characters take about two columns.
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)


def _region_name(region: Region) -> str:
    return region.source.name if region.source is not None else "地域"


def _save(wb: Workbook, path: Path) -> Path:
    """Save with fixed timestamps (document properties and zip entries)."""
    safecells.workbook(wb)  # no text cell becomes a formula (OWASP CSV injection)
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    y, mo, d, h, mi, sec = FIXED_DATE
    stamp = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}Z"
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data)
            out = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE)
            out.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(out, data)
    return path
