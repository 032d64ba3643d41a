"""Region data: the demo, imports from open data and from offices' files, combining regions,
and the forms sent out (``demo``, ``import``, ``combine``, ``template``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import typer

from matching._cli_errors import InputError, fail
from matching.cli._common import (
    app,
    console,
    demo_app,
    import_app,
    load_or_exit,
    rewrite_region,
    template_app,
)
from matching.contract import RegionValidationError
from matching.outputs import Staging, check_out


@demo_app.command("generate")
def demo_generate(folder: Path = typer.Argument(Path("data/demo")), seed: int = 2027):
    """Regenerate the demo prefecture's CSV files (fictitious, on Iwate's map)."""
    from matching.demo.iwate import write

    counts = write(folder, seed)
    console.print(f"written {folder}: {counts}")


@demo_app.command("national")
def demo_national(folder: Path = typer.Argument(..., help="folder to write (created)"), seed: int = 2027,
                  scale: float = typer.Option(1.0, help="multiplies every count (1 = about 40,000 facilities)"),
                  availability: bool = typer.Option(False, help="add availability.csv (time slots, issue 16)"),
                  residents_capacity: bool = typer.Option(True, help="hospitals also state capacity in residents")):
    """Write the synthetic national-scale region (fictitious; for benchmarks)."""
    from matching.demo.national import write

    counts = write(folder, seed, scale, residents_capacity=residents_capacity, availability=availability)
    console.print(f"written {folder}: {counts}")


def _csv_files(paths: list[Path], pattern: str) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob(pattern)) if p.is_dir() else [p]
    return files


@import_app.command("region")
def import_region(
    prefecture_code: list[str] = typer.Argument(..., help="2-digit prefecture code, e.g. 19 (山梨県); several "
                                                "(19 20 or 19,20) or all: one folder each under --out plus national/"),
    kaigo: list[Path] = typer.Option(..., help="介護サービス情報公表 CSV files or a folder of them"),
    hospitals: Path = typer.Option(None, help="folder with facility_basic/functions/geo_linkage.csv"),
    shisetsu_kijun: list[Path] = typer.Option([], "--shisetsu-kijun",
                                              help="厚生局 届出受理医療機関名簿 xlsx (one prefecture only; without it: "
                                              "hospitals of the 病床機能報告 only, clinics not loaded)"),
    out: Path = typer.Option(..., help="region folder to write (several prefectures: the parent folder)"),
    strict: bool = typer.Option(False, "--strict/--lenient", help="stop on any bad row (default: skip and report)"),
    municipality: list[str] = typer.Option([], help="extra NAME=CODE tried before the official list"),
    areas: Path = typer.Option(None, help="folder with localgovjp-utf8.csv and municipality_to_iryoken2.csv "
                               "(default: areas/ beside --hospitals)"),
    boundaries: list[Path] = typer.Option(None, help="N03 GeoJSON municipal boundaries "
                                          "(default: boundaries/geojson_s0010_N03-21_{pref}_*.json beside --hospitals, "
                                          "else the national TopoJSON there)"),
):
    """Import prefectures from the MHLW / 厚生局 open data into region folders."""
    from matching.importers import ImportInputError, ImportValidationError, build_region
    from matching.importers.country import build_country, parse_codes

    check_out(out)
    for p in [*kaigo, *shisetsu_kijun, *([hospitals] if hospitals else [])]:
        if not p.exists():
            fail(f"ファイルまたはフォルダが見つかりません: {p}", f"not found: {p}")
    extra = {}
    for item in municipality:
        name, _, code = item.partition("=")
        if not code:
            fail(f"--municipality は 名称=コード の形で指定してください（{item!r}）", f"expected NAME=CODE, got {item!r}")
        extra[name] = code
    try:
        codes = parse_codes(prefecture_code)
        several = len(codes) > 1 or any(nfkc_lower(c) == "all" for c in prefecture_code)
        if several:
            if shisetsu_kijun or extra or boundaries:
                fail("複数の都道府県（all など）の取込みでは --shisetsu-kijun・--municipality・--boundaries は使えません"
                     "（全国は病床機能報告の病院のみで作ります。施設基準の名簿は都道府県ごとに取り込んでください）",
                     "--shisetsu-kijun/--municipality/--boundaries need a single prefecture")
            if hospitals is None:
                fail("複数の都道府県の取込みには --hospitals（病床機能報告のフォルダ）が必要です", "--hospitals required")
            start = time.perf_counter()

            def progress(report):
                n_fac = sum(report.facilities_by_type.values())
                n_hosp = report.institutions_by_kind.get("hospital", 0)
                print(f"{report.prefecture_code}: 施設 {n_fac}、病院 {n_hosp}", file=sys.stderr)

            summary = build_country(codes, _csv_files(kaigo, "*.csv"), hospitals, out, strict=strict,
                                    areas_dir=areas, progress=progress)
            console.print(f"{len(codes)} 都道府県: 施設 {int(summary['facilities'].sum())}、"
                          f"病院 {int(summary['hospitals'].sum())}（診療所は未取込）、"
                          f"{time.perf_counter() - start:.1f} 秒", markup=False)
            console.print(f"written: {out}/<都道府県コード>/ (each with import_report.json), "
                          f"{out}/national/ (+ import_summary.csv)")
            return
        report = build_region(codes[0], _csv_files(kaigo, "*.csv"), hospitals,
                              _csv_files(shisetsu_kijun, "*.xlsx"), out, strict=strict,
                              municipalities=extra or None, areas_dir=areas, boundaries=boundaries or None)
    except (ImportValidationError, ImportInputError) as exc:
        print(f"エラー: 取込みを中止しました（何も書き込んでいません）/ import stopped\n{exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    console.print(report.summary_ja(), markup=False)
    console.print(f"written: {out} (+ import_report.json, import_unmatched.csv)")


@app.command()
def combine(region_dirs: list[Path] = typer.Argument(..., help="region folders (two or more)"),
            out: Path = typer.Option(..., help="the combined region folder to write")):
    """Put several region folders together (e.g. two prefectures, each imported with its 施設基準
    list), so a run for one of them takes partners across the border: matching match OUT --prefecture 19."""
    from matching.combine import combine as combine_regions

    check_out(out)
    for d in region_dirs:
        if not d.is_dir():
            fail(f"地域フォルダが見つかりません: {d}", f"not a folder: {d}")
    try:
        combine_regions(region_dirs, out)
    except (ValueError, RegionValidationError) as exc:
        fail(f"地域を結合できません（何も書き込んでいません）: {exc}", str(exc))
    console.print(f"written: {out} ({len(region_dirs)} 地域を結合)")


def nfkc_lower(text: str) -> str:
    from matching.importers.normalise import nfkc

    return nfkc(text).strip().lower()


def _office_file(region: Path, out: Path, review: Path | None, read_review, read, file: Path):
    """An office's file read against the region (``read``: the annual reports or the survey), with
    the decisions of a filled-in review sheet; says how a non-UTF-8 file was read."""
    check_out(out)
    reg = load_or_exit(region, True)
    result = read(file, reg, read_review(review) if review else None)
    if result.read_as:
        print(f"注: {result.read_as} として読みました", file=sys.stderr)
    return reg, result


@import_app.command("reports")
def import_reports_cmd(
    report_file: Path = typer.Argument(..., help="annual reports: CSV (UTF-8 or Shift_JIS) or xlsx[#sheet]"),
    region: Path = typer.Option(..., help="region folder the facilities and institutions are in"),
    review: Path = typer.Option(None, help="the review sheet, filled in (決定した医療機関ID)"),
    out: Path = typer.Option(None, help="folder for partnerships.csv and facilities.csv (default: the region)"),
):
    """Load the facilities' annual reports: partnerships.csv, facilities marked as reported."""
    from matching.annual_reports import import_reports, read_review, review_table

    out = out or region
    reg, result = _office_file(region, out, review, read_review, import_reports, report_file)
    from matching.contract import schema

    facilities, table = load_table_text(region, schema.FACILITIES)
    facilities.loc[facilities["facility_id"].isin(result.reported), "reported"] = "true"
    rewrite_region(region, out, {"facilities.csv": facilities, "partnerships.csv": result.partnerships},
                    "reports_review.xlsx", review_table(result) if result.review else None)
    c = result.counts()
    console.print(f"年次報告 {len(result.rows)} 行: 番号で特定 {c.get('id', 0)}、名称で特定 {c.get('name', 0)}、"
                  f"類似名称で特定 {c.get('similar', 0)}、確認結果 {c.get('review decision', 0)}、"
                  f"協力医療機関なし {c.get('no partner', 0)}、未記入 {c.get('not filled', 0)}、"
                  f"要確認 {c.get('review', 0)}")
    for r in result.rows:
        if r.how.startswith("similar"):
            console.print(f"  {r.line} 行目: 「{r.given['institution_name']}」→ {r.institution_id} "
                          f"{reg.institutions.at[r.institution_id, 'name']}（{r.how}）", markup=False)
    console.print(f"報告済みにした施設 {len(result.reported)}、協定 {len(result.partnerships)} 件 → {out}/partnerships.csv")
    if result.review:
        print(f"注: {len(result.review)} 行は確認が必要です（{out / 'reports_review.xlsx'}）。"
              f"「{'決定した医療機関ID'}」を記入し --review で再度取り込んでください", file=sys.stderr)
    if table != "csv":
        print("注: facilities.csv を CSV（UTF-8）で書き出しました", file=sys.stderr)


def load_table_text(region: Path, spec) -> tuple[pd.DataFrame, str]:
    """A region table as the file holds it (all text), and its format, to write back with few changes."""
    from matching.contract.load import _read_table, _source

    file, sheet = _source(region, spec)
    df, table = _read_table(file, sheet)
    return df.drop(columns=["_line", "_cells"]), "xlsx" if table.encoding == "xlsx" else "csv"


def _template_out(out: Path) -> None:
    """Stop before any work unless ``out`` can be a form: an .xlsx file name in a writable folder."""
    if out.suffix.lower() != ".xlsx":
        raise InputError(f"--out には .xlsx のファイル名を指定してください（{out}）", f"--out must end in .xlsx: {out}")
    if out.is_dir():
        raise InputError(f"--out にはファイル名を指定してください（{out} はフォルダです）", f"{out} is a folder")
    check_out(out.parent)


def _write_form(region_dir: Path, out: Path, write):
    """A form (``write(region, path)``) for the region's records, written whole or not at all."""
    _template_out(out)
    reg = load_or_exit(region_dir, True)
    with Staging(out.parent) as stage:
        write(reg, stage / out.name)
        stage.publish()
    return reg


@template_app.command("reports")
def template_reports(region: Path = typer.Option(..., help="region folder (its facilities are pre-filled)"),
                     out: Path = typer.Option(..., help="the form to write (.xlsx)")):
    """The annual-report form for facilities: pre-filled facility list, drop-downs for ①②③."""
    from matching.annual_reports import write_template

    reg = _write_form(region, out, write_template)
    console.print(f"written: {out}（{len(reg.facilities)} 施設）")



# ---- the institutions' intention survey (意向調査, issue 14 item 4) ----

@import_app.command("survey")
def import_survey_cmd(
    survey_file: Path = typer.Argument(..., help="survey answers: CSV (UTF-8 or Shift_JIS) or xlsx[#sheet]"),
    region: Path = typer.Option(..., help="region folder the institutions are in"),
    review: Path = typer.Option(None, help="the review sheet, filled in (決定した医療機関ID)"),
    out: Path = typer.Option(None, help="folder for institutions.csv and survey_changes.csv (default: the region)"),
):
    """Load the institutions' intention survey into institutions.csv (accepting, capacity, roles, contact)."""

    from matching.contract import schema
    from matching.survey import (
        CHANGES_FILE,
        REVIEW_SHEET,
        apply,
        import_survey,
        read_review,
        review_table,
    )

    out = out or region
    reg, result = _office_file(region, out, review, read_review, import_survey, survey_file)
    institutions, table = load_table_text(region, schema.INSTITUTIONS)
    institutions, changes = apply(result, institutions, reg)
    rewrite_region(region, out, {"institutions.csv": institutions, CHANGES_FILE: changes},
                    REVIEW_SHEET, review_table(result) if result.review else None)
    c = result.counts()
    console.print(f"意向調査 {len(result.rows)} 行: 番号で特定 {c.get('id', 0)}、名称で特定 {c.get('name', 0)}、"
                  f"類似名称で特定 {c.get('similar', 0)}、確認結果 {c.get('review decision', 0)}、"
                  f"未記入 {c.get('not filled', 0)}、要確認 {c.get('review', 0)}")
    for r in result.rows:
        if r.how.startswith("similar"):
            console.print(f"  {r.line} 行目: 「{r.given['institution_name']}」→ {r.institution_id} "
                          f"{reg.institutions.at[r.institution_id, 'name']}（{r.how}）", markup=False)
    changed = changes["医療機関ID"].nunique() if len(changes) else 0
    console.print(f"変更 {len(changes)} 項目（{changed} 機関）→ {out}/institutions.csv、"
                  f"変更内容 → {out}/{CHANGES_FILE}", markup=False)
    dated = [r.line for r in result.applied if r.dated_today]
    if dated:
        print(f"注: 回答日が空欄の {len(dated)} 行（{', '.join(map(str, dated[:10]))}"
              f"{' …' if len(dated) > 10 else ''} 行目）は取込日を回答日としました", file=sys.stderr)
    if result.review:
        print(f"注: {len(result.review)} 行は確認が必要です（{out / REVIEW_SHEET}）。"
              f"「決定した医療機関ID」を記入し --review で再度取り込んでください", file=sys.stderr)
    if table != "csv":
        print("注: institutions.csv を CSV（UTF-8）で書き出しました", file=sys.stderr)


@template_app.command("survey")
def template_survey(region: Path = typer.Option(..., help="region folder (its institutions are pre-filled)"),
                    out: Path = typer.Option(..., help="the form to write (.xlsx)")):
    """The intention-survey form for institutions: pre-filled institution list, drop-downs for the answers."""
    from matching.survey import write_template

    reg = _write_form(region, out, write_template)
    console.print(f"written: {out}（{len(reg.institutions)} 医療機関）")
