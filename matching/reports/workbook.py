"""The Excel workbook for a regional meeting (地域医療構想調整会議), ready to print.

Sheets (Japanese names; every table has a bold header row, filters and frozen panes; every
sheet prints landscape, fit to the page width, with the header row repeated on each page and
page numbers in the footer; shares are percent cells, counts integer cells):

* 表紙 — title, region, 作成日, data date, run parameters and limits, the 2027-03-31 deadline
* 概要 — headline numbers, the 二次医療圏 table and map, the status per facility type
* 現状（二次医療圏×種別） / 提案後（二次医療圏×種別） — per 二次医療圏 × type, with subtotals
* 現状（市区町村×種別） / 提案後（市区町村×種別） — per 市区町村 × type, 二次医療圏 subtotals
* 提案 — proposals with facility and institution names, roles as ①②③
* 未充足 — roles left uncovered (reported facilities only), with the reason and the fix
* 年次報告なし — facilities with no annual report (集計していない): their own list
* シナリオ比較 — the what-if comparison, by type and by 二次医療圏 (else the base run alone)
* シナリオの変更内容 — what each scenario changed (closures, capacities before/after)
* one sheet per scenario — its status per 二次医療圏 × type after the proposals
* 重要な医療機関 — institutions whose loss changes something (when given)
* 受入枠の拡大案 — the smallest capacity increases (when a plan is given)

The file is reproducible: the document timestamps and the zip entries carry the report's
creation date (:func:`matching.reports.context.run_date`), so the same input and date write the
same bytes.

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
from matching.reports.context import CREDIT_BOUNDARIES, ReportContext
from matching.reports.tables import (
    affecting,
    area_shares,
    area_summary,
    cap_text,
    capped_table,
    comparison_table,
    coverage_by_area,
    coverage_by_type,
    criticality_table,
    increases_table,
    omitted_note,
    plan_verdict,
    proposals_table,
    status_by_type,
    status_with_subtotals,
    summary_numbers,
    unmatched_table,
    unreported_table,
)

SHEETS = {
    "cover": "表紙",
    "summary": "概要",
    "area_before": "現状（二次医療圏×種別）",
    "area_after": "提案後（二次医療圏×種別）",
    "status_before": "現状（市区町村×種別）",
    "status_after": "提案後（市区町村×種別）",
    "proposals": "提案",
    "unmatched": "未充足",
    "unreported": "年次報告なし",
    "comparison": "シナリオ比較",
    "changes": "シナリオの変更内容",
    "criticality": "重要な医療機関",
    "capacity": "受入枠の拡大案",
}

HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
SUBTOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
PERCENT = "0.0%"
INTEGER = "#,##0"
DECIMAL = "#,##0.0"


def write_workbook(path: str | Path, region: Region, result: MatchResult, runs=None, criticality=None,
                   capacity_plan=None, title: str | None = None, created=None, data_as_of=None,
                   context: ReportContext | None = None) -> Path:
    """Write the meeting workbook.  ``runs``: a list of :class:`ScenarioRun` to compare
    (the first is the reference); ``criticality``: a table from :func:`criticality`;
    ``capacity_plan``: a :class:`CapacityPlan`; ``created``: the 作成日 (default: the run
    date, see :func:`~matching.reports.context.run_date`)."""
    path = Path(path)
    ctx = context or ReportContext.build(region, result.params, title=title, created=created,
                                         data_as_of=data_as_of)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS["cover"]
    _cover_sheet(ws, ctx, runs)
    ws = wb.create_sheet(SHEETS["summary"])
    _summary_sheet(ws, region, result, ctx)

    for key, st, note in (
            ("before", result.status_before, "年次報告に基づく現状"),
            ("after", result.status_after,
             "提案がすべて合意された場合（提案は候補であり、協定は施設と医療機関が合意して結ぶ）")):
        ws = wb.create_sheet(SHEETS[f"area_{key}"])
        row = _title(ws, f"{SHEETS[f'area_{key}']}：{note}")
        _table(ws, status_with_subtotals(st, region.areas, by="secondary_area"), row)
    for key, st, note in (
            ("status_before", result.status_before, "年次報告に基づく現状"),
            ("status_after", result.status_after, "提案がすべて合意された場合")):
        ws = wb.create_sheet(SHEETS[key])
        row = _title(ws, f"{SHEETS[key]}：{note}（二次医療圏ごとに小計）")
        _table(ws, status_with_subtotals(st, region.areas, by="municipality"), row)

    ws = wb.create_sheet(SHEETS["proposals"])
    _table(ws, proposals_table(region, result), _title(ws, "協力医療機関の提案（役割：①相談対応 ②診療 ③入院受入れ）"))
    ws = wb.create_sheet(SHEETS["unmatched"])
    _table(ws, unmatched_table(region, result),
           _title(ws, "提案後も満たされない要件と理由・対応案（年次報告のない施設は「年次報告なし」シート）"))
    ws = wb.create_sheet(SHEETS["unreported"])
    _table(ws, unreported_table(region, result),
           _title(ws, "年次報告のない施設（集計していない）：状況が分からないため未充足には数えない"))

    ws = wb.create_sheet(SHEETS["comparison"])
    _comparison_sheet(ws, region, result, runs)
    if runs:
        ws = wb.create_sheet(SHEETS["changes"])
        _changes_sheet(ws, runs)
        used = set(wb.sheetnames)
        for k, run in enumerate(runs, start=1):
            ws = wb.create_sheet(_sheet_name(f"S{k} {run.scenario.title}", used))
            row = _title(ws, f"シナリオ「{run.scenario.title}」：二次医療圏×種別の状況（提案後）")
            ws.cell(2, 1, run.scenario.description or "")
            _table(ws, status_with_subtotals(run.result.status_after, run.region.areas), row)

    if criticality is not None:
        ws = wb.create_sheet(SHEETS["criticality"])
        _criticality_sheet(ws, region, criticality)
    if capacity_plan is not None:
        ws = wb.create_sheet(SHEETS["capacity"])
        _capacity_sheet(ws, region, capacity_plan)
    for ws in wb.worksheets:
        _print_setup(ws, ctx)
    return _save(wb, path, ctx)


# -- sheets ----------------------------------------------------------------------

def _cover_sheet(ws, ctx: ReportContext, runs) -> None:
    ws.cell(1, 1, ctx.title).font = Font(bold=True, size=18)
    ws.cell(2, 1, "地域医療構想調整会議 資料（協力医療機関の確保：令和6年度介護報酬改定）")
    row = 4
    for label, value in ctx.lines():
        ws.cell(row, 1, label).font = BOLD
        ws.cell(row, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
        row += 1
    if runs:
        ws.cell(row, 1, "シナリオ").font = BOLD
        ws.cell(row, 2, "、".join(r.scenario.title for r in runs))
        row += 1
    ws.cell(row + 1, 1, "提案は候補です。協定は施設と医療機関が話し合って結びます（人が決め、ツールは提案する）。")
    ws.cell(row + 2, 1, "年次報告のない施設（集計していない）は状況が分からないため、未充足には数えず別に示します。")
    ws.cell(row + 3, 1, CREDIT_BOUNDARIES + "（二次医療圏の地図）")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 90


def _summary_sheet(ws, region: Region, result: MatchResult, ctx: ReportContext) -> None:
    row = _title(ws, ctx.title)
    ws.cell(2, 1, f"作成日 {ctx.lines()[2][1]}　義務化の期限 {ctx.deadline_text}")
    numbers = summary_numbers(region, result)
    _table(ws, pd.DataFrame(numbers, columns=["項目", "値"]), row, filters=False)
    row += len(numbers) + 3
    ws.cell(row, 1, "二次医療圏ごとの状況（義務施設の全要件充足率は年次報告のある義務施設に占める割合）").font = BOLD
    areas = area_summary(region, result)
    _table(ws, areas, row + 1, filters=False, freeze=False, total_rows={len(areas)})
    row += len(areas) + 4
    image_row = row
    row = _area_map(ws, region, result, row)
    if row != image_row:
        row += 2
    ws.cell(row, 1, "施設種別ごとの状況（現状）").font = BOLD
    before = status_by_type(result.status_before, region.areas)
    _table(ws, before, row + 1, filters=False, freeze=False)
    row += len(before) + 4
    ws.cell(row, 1, "施設種別ごとの状況（提案後）").font = BOLD
    _table(ws, status_by_type(result.status_after, region.areas), row + 1, filters=False, freeze=False)


def _area_map(ws, region: Region, result: MatchResult, row: int) -> int:
    """The 二次医療圏 map (PNG) at ``row``; returns the next free row (unchanged if no map)."""
    from matching.reports.areamap import area_map_figure, area_shapes

    shapes = area_shapes(region)
    if not shapes:
        return row
    try:
        from openpyxl.drawing.image import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return row
    fig = area_map_figure(shapes, area_shares(region, result, "after"),
                          "二次医療圏別 義務施設の全要件充足率（提案後）")
    row = _figure(ws, fig, row, Image)
    ws.cell(row, 1, CREDIT_BOUNDARIES)
    return row + 1


def _figure(ws, fig, row: int, image_class) -> int:
    """A matplotlib figure as a PNG at ``row``; returns the first row below it."""
    from matching.scenarios.plots import japanese_font

    buf = io.BytesIO()
    with japanese_font():
        fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    buf.seek(0)
    img = image_class(buf)
    ws.add_image(img, f"A{row}")
    return row + int(img.height / 20) + 2  # default row height 15 pt = 20 px


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
    try:
        from openpyxl.drawing.image import Image

        from matching.scenarios.plots import comparison_figure

        row = _figure(ws, comparison_figure(comp.summary), row, Image) + 1
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        pass
    ws.cell(row, 1, "二次医療圏ごとの義務施設の全要件充足数（提案後）").font = BOLD
    by_area = coverage_by_area(comp.coverage, labels, region.areas)
    _table(ws, by_area, row + 1, filters=False, freeze=False, total_rows={len(by_area)})
    row += len(by_area) + 4
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


def _changes_sheet(ws, runs) -> None:
    from matching.scenarios.apply import change_log_ja

    row = _title(ws, "各シナリオが実際に変えた内容（閉院・受入意向・受入枠の前後・新設・入所者数）")
    frames = []
    for run in runs:
        log = change_log_ja(run.log) if run.log is not None else pd.DataFrame()
        if log.empty:
            log = pd.DataFrame([{"区分": "変更なし"}])
        log.insert(0, "シナリオ", run.scenario.title)
        frames.append(log)
    _table(ws, pd.concat(frames, ignore_index=True), row)


def _criticality_sheet(ws, region: Region, table: pd.DataFrame) -> None:
    row = _title(ws, "新規受入れを止めた場合（または協力をやめた場合）に全要件充足を失う施設がある医療機関")
    shown = affecting(table)
    ws.cell(2, 1, omitted_note(len(table), len(shown)) + "省略しています。")
    if shown.empty:
        ws.cell(row, 1, "どの医療機関が受入れを止めても、全要件充足を失う施設はありません。")
        return
    _table(ws, criticality_table(shown, region.areas), row)


def _capacity_sheet(ws, region: Region, plan) -> None:
    row = _title(ws, "義務施設の全要件充足に必要な最小の受入枠拡大")
    ws.cell(row, 1, plan_verdict(plan))
    ws.cell(row + 1, 1, f"拡大の合計：施設数 +{plan.total_facilities}、入所者数 +{plan.total_residents}"
                        f"（最適性の証明：{'あり' if plan.optimal else 'なし'}；"
                        f"再計算による確認：{'済' if plan.confirmed else '未' if plan.confirmed is None else '不一致'}）")
    row += 3
    inc = increases_table(plan.increases)
    _table(ws, inc, row, filters=False)
    row += len(inc) + 3
    capped = plan.capped if plan.capped is not None else pd.DataFrame()
    if len(capped):
        ws.cell(row, 1, f"1機関あたりの上限（{cap_text(plan.cap)}）のため計画に含めなかった義務施設"
                        f"{len(capped)}").font = BOLD
        shown = capped_table(capped, region.areas)
        _table(ws, shown, row + 1, filters=False, freeze=False)
        row += len(shown) + 3
    if len(plan.blocked):
        ws.cell(row, 1, "受入枠の拡大では満たせない施設と役割").font = BOLD
        _table(ws, plan.blocked.rename(columns={"facility_id": "施設ID", "role": "役割", "reason_code": "理由区分",
                                                "reason": "理由", "fix": "対応案"}), row + 1,
               filters=False, freeze=False)


# -- helpers ---------------------------------------------------------------------

def _title(ws, text: str) -> int:
    ws.cell(1, 1, text).font = TITLE_FONT
    return 3


def _is_percent(name) -> bool:
    return "率" in str(name) or "%" in str(name)


def _table(ws, df: pd.DataFrame, row: int, filters: bool = True, freeze: bool = True,
           total_rows: set[int] | None = None) -> None:
    """Write a frame at ``row`` (header bold and shaded); widen columns to fit; number formats:
    shares (headers with 率 or %) as percent cells, whole numbers with thousands separators.
    Rows whose text says 小計/合計 (or listed in ``total_rows``, 1-based) are bold and shaded."""
    cols = list(df.columns)
    for j, name in enumerate(cols, start=1):
        c = ws.cell(row, j, str(name))
        c.font = BOLD
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")
    percent = [_is_percent(name) for name in cols]
    for k, values in enumerate(df.itertuples(index=False), start=1):
        subtotal = (total_rows and k in total_rows) or any(
            isinstance(v, str) and (v == "小計" or v.startswith("合計")) for v in values)
        for j, v in enumerate(values, start=1):
            v = _cell(v)
            if percent[j - 1] and isinstance(v, (int, float)) and not isinstance(v, bool):
                c = ws.cell(row + k, j, round(v / 100, 4))
                c.number_format = PERCENT
            else:
                c = ws.cell(row + k, j, v)
                if isinstance(v, bool):
                    pass
                elif isinstance(v, int):
                    c.number_format = INTEGER
                elif isinstance(v, float):
                    c.number_format = DECIMAL
            if subtotal:
                c.font = BOLD
                c.fill = SUBTOTAL_FILL
    for j, name in enumerate(cols, start=1):
        letter = get_column_letter(j)
        width = max([_width(name) // 2 + 2] + [_width(v) for v in df.iloc[:200, j - 1]]) if len(df) \
            else _width(name)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0,
                                                 min(50, max(8, width + 2)))
    if filters and len(df):
        ws.auto_filter.ref = f"A{row}:{get_column_letter(len(cols))}{row + len(df)}"
    if freeze:
        ws.freeze_panes = ws.cell(row + 1, 1)
    if not ws.print_title_rows:
        ws.print_title_rows = f"{row}:{row}"  # the first table's header repeats on every page


def _print_setup(ws, ctx: ReportContext) -> None:
    """Landscape A4, fit to the page width (any number of pages tall), header and page numbers."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddHeader.left.text = ctx.title
    ws.oddHeader.left.size = 9
    ws.oddHeader.right.text = f"作成日 {ctx.created.isoformat()}"
    ws.oddHeader.right.size = 9
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.left.size = 9
    ws.oddFooter.center.text = "&P / &N ページ"
    ws.oddFooter.center.size = 9


def _sheet_name(text: str, used: set[str]) -> str:
    """A valid, unused sheet name (at most 31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "・", text)[:31]
    name, k = base, 2
    while name in used:
        name = f"{base[:28]}({k})"
        k += 1
    used.add(name)
    return name


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


def _save(wb: Workbook, path: Path, ctx: ReportContext) -> Path:
    """Save with the creation date as every timestamp (document properties and zip entries)."""
    safecells.workbook(wb)  # no text cell becomes a formula (OWASP CSV injection)
    wb.properties.title = ctx.title
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = ctx.created
    stamp = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T00:00:00Z"
    date_time = (max(d.year, 1980), d.month, d.day, 0, 0, 0)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data)
            out = zipfile.ZipInfo(info.filename, date_time=date_time)
            out.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(out, data)
    return path
