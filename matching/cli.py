"""The ``matching`` command: a thin layer over the library."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matching import safecells
from matching._cli_errors import InputError, fail, install
from matching.contract import RegionValidationError, load_region
from matching.outputs import LABELS, Staging, check_out
from matching.parameters import MatchParameters, ParameterError
from matching.status import (
    facility_status,
    japanese_labels,
    missing_slots_text,
    scope_notes,
    status_table,
)
from matching.tomlfile import problem_ja
from matching.vocabulary import CLINICS_NOT_LOADED_SHORT_JA, FACILITY_TYPES, STATUS_ORDER, Status

app = typer.Typer(help="協力医療機関マッチング: status and matching of elderly-care facilities "
                       "with cooperating medical institutions.", no_args_is_help=True)
demo_app = typer.Typer(help="The bundled demo prefecture.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
import_app = typer.Typer(help="Build a region folder from official open data.", no_args_is_help=True)
app.add_typer(import_app, name="import")
# The service's commands live with the service (api/cli.py); the CLI only lists them.
from api.cli import db_app, serve, token_app  # noqa: E402

app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.command("serve")(serve)
console = Console(width=120)


def _load(region_dir: Path, strict: bool):
    """The region, or exit 2 with every problem listed on stderr (at most 100 per file)."""
    try:
        region = load_region(region_dir, strict=strict)
    except RegionValidationError as exc:
        files = [e for e in exc.errors if e.row == 0 and e.ja]
        if len(exc.errors) == 1 and files:  # a whole file: one line says it
            fail(files[0].ja, str(files[0]))
        print(f"エラー: {exc.heading_ja} / invalid region data", file=sys.stderr)
        for line in exc.lines_ja(limit=None):  # every listed problem (at most 100 per file)
            print(f"  {line}", file=sys.stderr)
        raise typer.Exit(2) from None
    for note in region.notes:
        print(f"注: {note}", file=sys.stderr)
    for e in region.skipped:
        print(f"skipped {e}", file=sys.stderr)
    for file, n in sorted(region.skipped_omitted.items()):
        print(f"skipped {file}: 他 {n} 件 ({n} more not listed)", file=sys.stderr)
    if region.skipped:
        n = len(region.skipped) + sum(region.skipped_omitted.values())
        print(f"{n} problem(s): their rows skipped (lenient mode)", file=sys.stderr)
    return region


def _rewrite_region(region: Path, out: Path, files: dict[str, pd.DataFrame], review_name: str,
                    review: pd.DataFrame | None) -> None:
    """``files`` (CSV) and the review sheet written over a copy of the region folder, the copy
    loaded under the data contract, and only then moved into ``out``: nothing is replaced unless
    the whole new region holds.  Without rows to review, an older review sheet is removed."""
    import shutil

    from matching.outputs import write_csv, write_tables_workbook

    with Staging(out) as stage:
        for f in region.iterdir():
            if f.is_file() and f.name not in (*files, review_name):
                shutil.copy2(f, stage / f.name)
        for name, df in files.items():
            write_csv(df, stage / name)
        if review is not None:
            write_tables_workbook(stage / review_name, {"確認": review})
        load_region(stage.path, strict=True)
        stage.publish(stale=() if review is not None else (review_name,))


def _invalid_option(option: str, value, problem: str) -> None:
    """Stop the command: the option and its value, in Japanese, on stderr (no traceback)."""
    print(f"オプション {option} の値 {value!r} は使えません: {problem}", file=sys.stderr)
    raise typer.Exit(2)


def _override(params: MatchParameters, option: str, **update) -> MatchParameters:
    """``params`` with a command-line override applied *and validated*
    (``model_copy(update=…)`` would skip validation); an invalid value stops the command."""
    try:
        return MatchParameters.model_validate({**dict(params), **update})
    except ValidationError as exc:
        _invalid_option(option, next(iter(update.values())), "; ".join(problem_ja(e) for e in exc.errors()))


def _print_violations(problems, prefix: str = "") -> None:
    """Violations in Japanese with their codes (``[beyond_limit]`` …), printed literally, not read as Rich markup."""
    for p in problems:
        console.print(f"[red]{prefix}{escape(p.text_ja())}[/red]", soft_wrap=True)


def _print_proof(summary: dict) -> None:
    """Warnings (coverage not proven) on stderr, notes (agreements/travel gap) on stdout; literal text."""
    for text in summary.get("warnings", []):
        print(f"警告: {text}", file=sys.stderr)
    for text in summary.get("notes", []):
        print(f"注: {text}")


def _print_status(title: str, table: pd.DataFrame) -> None:
    t = Table(title=title, show_lines=False)
    t.add_column("施設種別")
    for s in STATUS_ORDER:
        t.add_column(s.short_ja, justify="right")
    t.add_column("合計", justify="right")
    t.add_column("充足率%", justify="right")
    for row in table.itertuples(index=False):
        r = row._asdict()
        t.add_row(FACILITY_TYPES[r["facility_type"]].short_ja,
                  *(str(r[s.value]) for s in STATUS_ORDER), str(r["total"]),
                  "" if pd.isna(r["all_met_share"]) else f"{r['all_met_share']:.1f}")
    console.print(t)


@app.command()
def status(region_dir: Path, out: Path = typer.Option(None, help="write status CSV files here"),
           strict: bool = typer.Option(True, "--strict/--lenient", help="reject or skip bad rows")):
    """Compliance status of every facility (the four MHLW categories plus 'not designated')."""
    if out:
        check_out(out)
    region = _load(region_dir, strict)
    st = facility_status(region)
    table = status_table(st, region.areas, by="none")
    _print_status(f"協力医療機関の定めの状況（{region_dir}）", table)
    if not region.scope.clinics_loaded:
        print(f"注: 診療所が取り込まれていない地域です。①②の不足は「{CLINICS_NOT_LOADED_SHORT_JA}」であり、"
              "担える医療機関がないことを示すものではありません（status_facilities.csv の備考）", file=sys.stderr)
    if out:
        with Staging(out) as stage:
            for level in ("prefecture", "secondary_area", "municipality"):
                safecells.to_csv(japanese_labels(status_table(st, region.areas, by=level)),
                                 stage / f"status_by_{level}.csv", index=False, encoding="utf-8-sig")
            safecells.to_csv(_facility_csv(st, region), stage / "status_facilities.csv", index=False,
                             encoding="utf-8-sig")
            stage.publish()
        console.print(f"written: {out}/status_by_*.csv, status_facilities.csv")


def _facility_csv(st: pd.DataFrame, region) -> pd.DataFrame:
    from matching.vocabulary import format_roles

    out = pd.DataFrame({
        "facility_id": st.index, "name": region.facilities["name"].reindex(st.index).to_numpy(),
        "facility_type": st["facility_type"].to_numpy(), "municipality_code": st["municipality_code"].to_numpy(),
        "required_roles": st["required_roles"].map(format_roles).to_numpy(),
        "covered_roles": st["covered_roles"].map(format_roles).to_numpy(),
        "missing_roles": st["missing_roles"].map(format_roles).to_numpy(),
        "partners": st["partners"].map(";".join).to_numpy(),
        "status": st["status"].to_numpy(),
        "status_ja": st["status"].map(lambda s: Status(s).label_ja).to_numpy(),
    })
    if "partial_slots" in st.columns:  # time slots: which slots a partly covered role still lacks
        out["missing_slots"] = st["partial_slots"].map(missing_slots_text).to_numpy()
    if not region.scope.clinics_loaded:  # ①② gaps of a region without clinics are not proven
        out["note"] = scope_notes(region, st).to_numpy()
    return out


@app.command()
def match(region_dir: Path, out: Path = typer.Option(Path("out"), help="folder for proposals.csv etc."),
          config: Path = typer.Option(None, help="TOML file with run parameters"),
          strict: bool = typer.Option(True, "--strict/--lenient"),
          include_unreported: bool = typer.Option(
              None, "--include-unreported/--reported-only",
              help="also propose for facilities with no annual report on file (default from config: no)"),
          verify_result: bool = typer.Option(True, "--verify/--no-verify",
                                             help="check the proposals with the independent verifier"),
          nearest: int = typer.Option(None, help="keep the K nearest candidates per facility and role (K ≥ 1; "
                                      "lengthened where the coverage proof needs it); for national-size runs"),
          workers: int = typer.Option(None, help="processes for the components left to the solver (≥ 1)"),
          unknown_capacity: str = typer.Option(
              None, "--unknown-capacity", help="institutions with no capacity set: estimate (default), "
              "unlimited, or N facilities each"),
          labels: str = typer.Option("en", help="column headers of the CSV and xlsx files: en or ja "
                                     "(Japanese, from the vocabulary table)"),
          profile: bool = typer.Option(False, "--profile", help="print where the time went (whole process)"),
          prefecture: list[str] = typer.Option(None, "--prefecture", help="match only this prefecture's facilities "
                                               "(2-digit code; repeatable); institutions of the whole region, "
                                               "neighbours included, stay candidates (広域)")):
    """Propose cooperating institutions for facilities with missing roles."""
    import dataclasses
    import time

    from matching.optimise.options import NATIONAL, SolveOptions
    from matching.optimise.run import match as run_match
    from matching.optimise.run import summary
    from matching.verify import verify

    for option, value in (("--nearest", nearest), ("--workers", workers)):
        if value is not None and value < 1:
            _invalid_option(option, value, "1 以上の整数を指定してください")
    if labels not in LABELS:
        raise InputError(f"--labels には {' か '.join(LABELS)} を指定してください（{labels!r}）",
                         f"--labels must be one of {', '.join(LABELS)}, got {labels!r}")
    check_out(out)  # before the solve, not after it
    clock = {"start": time.perf_counter()}
    region = _load(region_dir, strict)
    clock["load"] = time.perf_counter()
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
        if include_unreported is not None:
            params = _override(params, "--include-unreported/--reported-only", include_unreported=include_unreported)
        if unknown_capacity is not None:
            params = _override(params, "--unknown-capacity", unknown_capacity=unknown_capacity)
        if prefecture:
            params = _override(params, "--prefecture", prefectures=list(prefecture))
        # No option: chosen by the region's size (options.for_size); flags are for experts.
        options = (dataclasses.replace(NATIONAL, nearest=nearest, workers=workers or NATIONAL.workers)
                   if nearest else SolveOptions(workers=workers) if workers else None)
        result = run_match(region, params, options)
    except ParameterError as exc:
        console.print(f"[red]パラメータの誤り / invalid parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    clock["match"] = time.perf_counter()
    summ = summary(result)

    unreported = int((~region.facilities["reported"]).sum())
    if unreported and not params.include_unreported:
        console.print(
            f"[yellow]年次報告のない施設が {unreported} 件あります（状況は「集計していない」）。これらは提案の対象外です。"
            f"対象にするには --include-unreported を付けて実行するか、年次報告（partnerships.csv と"
            f" facilities.csv の reported=true）を読み込んでください。[/yellow]")
    _print_status("現状（提案前）", status_table(result.status_before, region.areas, by="none"))
    _print_status("提案がすべて合意された場合（提案後）", status_table(result.status_after, region.areas, by="none"))
    s = summ
    # One count, one meaning: facilities with no annual report are not 未充足 (their status is unknown).
    unreported = result.unmatched["reason_code"] == "not_tracked"
    console.print(
        f"対象施設 {s['facilities_to_match']} / 提案 {s['proposals']} 件（新規協定 {s['new_agreements']}）/ "
        f"未充足の施設 {result.unmatched.loc[~unreported, 'facility_id'].nunique()} / "
        f"年次報告なし（集計していない）{result.unmatched.loc[unreported, 'facility_id'].nunique()}\n"
        f"optimal={s['optimal']}  objective={s['objective']}  gap={s['gap']}  "
        f"components={s['components']}  seconds={s['seconds']}")
    _print_proof(s)
    load = s.get("facilities_per_institution") or {}
    if load.get("institutions"):
        console.print(f"医療機関あたりの施設数（既存の協定＋提案）: 最大 {load['max']}、90パーセンタイル {load['p90']:.1f}"
                      f"（実態調査の75パーセンタイル 10〜{load['calibration_p75_max']:g}）；"
                      f"受入枠を推定した医療機関 {load['capacity_estimated']}（--unknown-capacity {load['unknown_capacity']}）")
        for inst_id, n in list(load["outliers"].items())[:10]:
            console.print(f"[yellow]注意: {inst_id} は {n} 施設（実態調査の75パーセンタイルを超えています）[/yellow]")
    from matching.outputs import for_people, violations_table, write_atomic_csv, write_match_outputs

    # Written to a temporary folder, verified there, and moved into --out only if it holds.
    clock["report"] = time.perf_counter()
    with Staging(out) as stage:
        # A large run's workbook is written in a second process while the verifier reads the CSV.
        written, workbook = write_match_outputs(stage.path, region, result, summ, labels)
        clock["write"] = time.perf_counter()
        if verify_result:
            problems = verify(region, stage / "proposals.csv", params)
            if problems:
                workbook.wait()  # before the staging folder is removed under it
                for p in problems:
                    print(f"検証 {p.text_ja()}", file=sys.stderr)
                write_atomic_csv(for_people(violations_table(problems, region), labels), out / "violations.csv")
                fail(f"検証で {len(problems)} 件の違反が見つかりました。提案は書き出していません"
                     f"（違反の一覧: {out / 'violations.csv'}）", "verifier found violations", code=1)
            console.print("[green]verifier: all constraints hold[/green]")
        clock["verify"] = time.perf_counter()
        workbook.wait()
        clock["workbook"] = time.perf_counter()
        stage.publish(stale=("violations.csv",))
    console.print(f"written: {out}/{', '.join(written)}")
    if profile:
        _print_profile(clock, result.seconds)


def _print_profile(clock: dict[str, float], inner: dict[str, float]) -> None:
    """``--profile``: the whole process by phase, the run's inner steps beside it."""
    import time

    labels = {"load": "読込・検証（load）", "match": "マッチング（match）", "report": "集計・表示（status tables）",
              "write": "書出し（write: CSV）", "verify": "検証（verify）",
              "workbook": "ブック書出しの残り（proposals.xlsx, 検証と並行）"}
    t = Table(title="処理時間（秒）")
    t.add_column("段階")
    t.add_column("秒", justify="right")
    started = _process_seconds()
    if started is not None:
        t.add_row("起動・ライブラリ読込（Python start, imports）", f"{started - (time.perf_counter() - clock['start']):.2f}")
    prev = clock["start"]
    for key in ("load", "match", "report", "write", "verify", "workbook"):
        if key in clock:
            t.add_row(labels[key], f"{clock[key] - prev:.2f}")
            if key == "match":
                for step, sec in inner.items():
                    t.add_row(f"  └ {step}", f"{sec:.2f}")
            prev = clock[key]
    if started is not None:
        t.add_row("合計（プロセス全体）", f"{started:.2f}")
    console.print(t)


def _process_seconds() -> float | None:
    """Seconds since this process started (Linux /proc), None elsewhere."""
    import os

    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError):
        return None


@app.command("verify")
def verify_cmd(region_dir: Path, proposals: Path = typer.Argument(..., help="proposals.csv (UTF-8 or "
                                                                       "Shift_JIS) or .xlsx[#sheet]"),
               config: Path = typer.Option(None)):
    """Check a proposals.csv against a region and the run parameters."""
    from matching.verify import read_proposals, verify

    region = _load(region_dir, True)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
    except ParameterError as exc:
        fail(f"パラメータの誤り / invalid parameters: {exc}", str(exc))
    table, how = read_proposals(proposals)
    if how.encoding not in ("UTF-8", "UTF-8 (BOM)"):
        print(f"注: {how.described} として読みました", file=sys.stderr)
    problems = verify(region, table, params)
    _print_violations(problems)
    if problems:
        raise typer.Exit(1)
    console.print("[green]all constraints hold[/green]")


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
    from matching.contract import RegionValidationError

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


@app.command()
def admission(
    region_dir: Path,
    out: Path = typer.Option(Path("out/admission"), help="folder for the tables, admission.xlsx and the map"),
    config: Path = typer.Option(None, help="run parameters (TOML): limits.admit.minutes, travel"),
    nearest: int = typer.Option(3, help="admitting hospitals listed per facility (≥ 1)"),
    plan: bool = typer.Option(True, "--plan/--no-plan", help="the smallest capacity increases for ③"),
    plan_nearest: int = typer.Option(0, help="candidates per facility in the capacity plan: 0 = every "
                                     "hospital within the limit (exact, the default), K = the K nearest"),
    boundaries: Path = typer.Option(None, help="prefecture outlines (GeoJSON) for admission_map.html "
                                    "(default: the one recorded by `import region all`)"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
):
    """③ admission for a whole region (national): facilities with no admitting hospital within the
    limit, per prefecture and 二次医療圏, and the smallest hospital capacity increases."""
    import json

    from matching.admission import admission_analysis, write_outputs

    if nearest < 1:
        _invalid_option("--nearest", nearest, "1 以上を指定してください")
    if plan_nearest < 0:
        _invalid_option("--plan-nearest", plan_nearest, "0（全候補）以上を指定してください")
    if boundaries is not None and not boundaries.is_file():
        fail(f"境界ファイルが見つかりません: {boundaries}", f"not found: {boundaries}")
    check_out(out)
    params = MatchParameters()
    if config:
        try:
            params = MatchParameters.from_toml(config)
        except ParameterError as exc:
            fail(f"パラメータファイルに誤りがあります: {exc}", str(exc))
    region = _load(region_dir, strict)
    if boundaries is None and (region_dir / "import_sources.json").exists():
        recorded = json.loads((region_dir / "import_sources.json").read_text(encoding="utf-8"))
        path = Path(recorded.get("prefecture_boundaries") or "")
        boundaries = path if path.name and path.is_file() else None
    start = time.perf_counter()
    result = admission_analysis(region, params, nearest=nearest, plan=plan, plan_nearest=plan_nearest or None)
    st = facility_status(region)
    by_pref = japanese_labels(status_table(st, region.areas, by="prefecture"))
    with Staging(out) as stage:
        written = write_outputs(result, stage.path, status_by_prefecture=by_pref, boundaries=boundaries,
                                region=region)
        stage.publish()
    fac = result.facilities
    t = Table(title=f"③入院受入れ（移動上限 {result.minutes:g} 分）: 受入病院がない施設の多い都道府県")
    for c in ("都道府県", "③が必要な施設", "受入病院なし", "割合%", "入院受入病院", "受入可能施設数（推計）"):
        t.add_column(c, justify="right")
    from matching.importers.municipalities import PREFECTURE_CODES

    worst = result.by_prefecture.sort_values(["without_admitting", "prefecture_code"], ascending=[False, True])
    for r in worst.head(10).itertuples(index=False):
        t.add_row(PREFECTURE_CODES.get(r.prefecture_code, r.prefecture_code), str(r.facilities),
                  str(r.without_admitting), f"{r.share_without_pct:.1f}", str(r.admitting_hospitals),
                  str(r.admitting_capacity))
    console.print(t)
    console.print(f"③が必要な施設 {len(fac)}、上限内に入院受入病院がない施設 {int((~fac['covered']).sum())}"
                  f"（{time.perf_counter() - start:.1f} 秒）", markup=False)
    if result.plan_note:
        console.print(result.plan_note, markup=False)
    if boundaries is None:
        print("注: 都道府県の境界ファイルがないため地図は作っていません（--boundaries）", file=sys.stderr)
    console.print(f"written: {out}/" + ", ".join(written), markup=False)


# ==== issue 6: what-if runs, criticality and meeting reports (地域医療構想調整会議) ====
# Everything below is one block: `matching whatif`, `matching critical`, `matching report`.
# The work is done by matching.scenarios and matching.reports; these commands only parse,
# print and write files.  Every run is checked by the verifier before anything is written.

def _whatif_inputs(region_dir: Path, strict: bool, config: Path | None, scenario_files: list[Path]):
    from matching.scenarios import ScenarioError, load_scenario

    region = _load(region_dir, strict)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
        scenarios = [load_scenario(p) for p in scenario_files]
    except (ParameterError, ScenarioError) as exc:
        console.print(f"[red]シナリオまたはパラメータの誤り / invalid scenario or parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    return region, params, scenarios


def _print_frame(title: str, df: pd.DataFrame) -> None:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c), justify="left" if df[c].dtype == object else "right")
    for row in df.itertuples(index=False):
        t.add_row(*("" if (not isinstance(v, str) and pd.isna(v)) else str(v) for v in row))
    console.print(t)


@app.command()
def whatif(
    region_dir: Path,
    scenario_files: list[Path] = typer.Argument(None, help="scenario TOML files; the first is the reference"),
    out: Path = typer.Option(Path("out/whatif"), help="folder for CSV, PNG and xlsx"),
    sweep_spec: str = typer.Option(None, "--sweep", help="one parameter over a range: PATH=START:STOP:STEP "
                                   "or PATH=V1,V2 (e.g. limits.visit.km=10:30:5)"),
    config: Path = typer.Option(None, help="base run parameters (TOML) under every scenario"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
    title: str = typer.Option(None, help="title of whatif.xlsx (default: from the region)"),
    date: str = typer.Option(None, help="作成日 YYYY-MM-DD (default: SOURCE_DATE_EPOCH or today)"),
    workers: int = typer.Option(1, help="--sweep: local processes (Dask distributed); results do not depend on it"),
    cluster: str = typer.Option(None, help="--sweep: a running Dask scheduler, e.g. tcp://10.0.0.5:8786"),
):
    """What-if: run scenarios and compare them, or sweep one parameter (地域医療構想調整会議向け)."""
    from matching.scenarios import ScenarioError
    from matching.scenarios.compare import (
        VerificationError,
        compare,
        run_scenarios,
        write_comparison,
    )
    from matching.scenarios.plots import save_png, sweep_figure
    from matching.scenarios.sweep import SWEEP_SHORT_JA, binding_note, parse_sweep, sweep

    scenario_files = scenario_files or []
    if not scenario_files and not sweep_spec:
        console.print("[red]give scenario files, --sweep, or both[/red]")
        raise typer.Exit(2)
    if workers < 1:
        _invalid_option("--workers", workers, "1 以上の整数を指定してください")
    check_out(out)
    region, params, scenarios = _whatif_inputs(region_dir, strict, config, scenario_files)
    stage = Staging(out)  # moved into --out when every run passed the verifier
    try:
        if sweep_spec:
            path, values = parse_sweep(sweep_spec)
            table = sweep(region, path, values, scenarios[0] if scenarios else None, params,
                          workers=workers, cluster=cluster)
            safecells.to_csv(table, stage / "sweep.csv", index=False, encoding="utf-8-sig")
            save_png(sweep_figure(table, path), stage / "sweep.png")
            shown = table.drop(columns=["parameter"]).rename(columns={**SWEEP_SHORT_JA, "value": path})
            _print_frame(f"感度分析：{path}" + (f"（{scenarios[0].title}）" if scenarios else ""),
                         shown.map(lambda v: ("はい" if v else "いいえ") if isinstance(v, bool) else v))
            note = binding_note(params, path)
            if note:
                console.print(note)
            console.print(f"written: {out}/sweep.csv, sweep.png")
        if scenarios and not (sweep_spec and len(scenarios) == 1):
            runs = run_scenarios(region, scenarios, params)
            comp = compare(runs)
            write_comparison(comp, stage.path)
            from matching.reports import write_workbook
            from matching.scenarios.compare import write_by_area, write_changes

            write_changes(runs, stage.path)
            write_by_area(comp, runs[0].region.areas, stage.path)
            write_workbook(stage / "whatif.xlsx", runs[0].region, runs[0].result, runs=runs, title=title,
                           created=_report_date(date), data_as_of=None)
            from matching.reports.tables import comparison_table

            _print_frame("シナリオ比較（提案がすべて合意された場合）", comparison_table(comp.summary))
            _print_changes(runs)
            console.print(f"written: {out}/whatif_*.csv (whatif_by_area.csv: 二次医療圏別, "
                          "whatif_changes.csv: シナリオの変更内容), whatif_summary.png, whatif.xlsx")
    except (ParameterError, ScenarioError, ValueError) as exc:
        if isinstance(exc, VerificationError):
            raise
        console.print(f"[red]シナリオまたはパラメータの誤り / invalid scenario or parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    else:
        stage.publish()
    finally:
        stage.__exit__()


def _report_date(text: str | None):
    from matching.reports.context import run_date

    try:
        return run_date(text)
    except ValueError:
        console.print(f"[red]--date expects YYYY-MM-DD, got {text!r}[/red]")
        raise typer.Exit(2) from None


def _print_changes(runs) -> None:
    """What each scenario changed, counted (the rows are in whatif_changes.csv)."""
    from matching.scenarios.apply import CHANGE_KINDS_JA

    for run in runs:
        log = run.log
        if log is None or log.empty:
            console.print(f"{run.scenario.title}：変更なし")
            continue
        counts = log["kind"].value_counts()
        parts = [f"{CHANGE_KINDS_JA[k]} {counts[k]}" for k in CHANGE_KINDS_JA if k in counts and k != "residents"]
        res = log[log["kind"] == "residents"]
        if len(res):
            parts.append(f"入所者数 {res['before'].iloc[0]}→{res['after'].iloc[0]}")
        console.print(f"{run.scenario.title}：" + "、".join(parts))


@app.command()
def critical(
    region_dir: Path,
    out: Path = typer.Option(Path("out/critical"), help="folder for criticality.csv, capacity_plan.csv"),
    mode: str = typer.Option("stop-accepting", help="stop-accepting (keeps its agreements) or withdraw "
                             "(its agreements end too)"),
    config: Path = typer.Option(None, help="run parameters (TOML)"),
    top: int = typer.Option(15, help="rows to print"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
    plan_cap: str = typer.Option("calibration", help="capacity plan: new partner facilities one institution may "
                                 "be asked to take — calibration (75th percentile by kind), none, or a number"),
    cluster: str = typer.Option(None, help="criticality's re-solves on a running Dask scheduler, e.g. "
                                "tcp://10.0.0.5:8786 (default: this machine's cores)"),
):
    """Which institutions matter, and the smallest capacity increases for full coverage of obligated facilities."""
    from matching.optimise.run import match as run_match
    from matching.reports.tables import criticality_table
    from matching.scenarios.capacity import capacity_plan
    from matching.scenarios.criticality import criticality

    check_out(out)
    region, params, _ = _whatif_inputs(region_dir, strict, config, [])
    modes = {"stop-accepting": "stop_accepting", "withdraw": "withdraw"}
    if mode not in modes:
        console.print(f"[red]--mode must be stop-accepting or withdraw, got {mode!r}[/red]")
        raise typer.Exit(2)
    if plan_cap not in ("calibration", "none") and not (plan_cap.isdigit() and int(plan_cap) > 0):
        fail(f"--plan-cap は calibration、none、または正の整数で指定してください（{plan_cap!r}）",
             f"invalid --plan-cap {plan_cap!r}")
    base = run_match(region, params)
    table = criticality(region, params, base, mode=modes[mode], cluster=cluster)
    # The plan draws on the candidate lists the base run used: at national scale each facility's
    # K nearest per role (full lists there took 7.8 GB and did not finish in 10 minutes).
    nearest = base.options.nearest
    plan = capacity_plan(region, params, cap=None if plan_cap == "none" else
                         plan_cap if plan_cap == "calibration" else int(plan_cap), nearest=nearest, base=base)
    with Staging(out) as stage:
        safecells.to_csv(table, stage / "criticality.csv", index=False, encoding="utf-8-sig")
        safecells.to_csv(plan.increases, stage / "capacity_plan.csv", index=False, encoding="utf-8-sig")
        safecells.to_csv(plan.blocked, stage / "capacity_blocked.csv", index=False, encoding="utf-8-sig")
        safecells.to_csv(plan.capped, stage / "capacity_capped.csv", index=False, encoding="utf-8-sig")
        stage.publish()
    what = "新規受入れを止めた場合" if mode == "stop-accepting" else "協力をやめた場合（既存協定も解消）"
    from matching.reports.tables import affecting, omitted_note

    matter = affecting(table)
    shown = criticality_table(matter.head(top), region.areas).drop(columns=["全要件充足を失う施設", "医療機関ID"])
    _print_frame(f"重要な医療機関：{what}に全要件充足を失う施設数（上位{top}）", shown)
    console.print(omitted_note(len(table), len(matter)) + "表に含めていません（criticality.csv にはすべて）。")
    from matching.reports.tables import plan_verdict

    console.print(plan_verdict(plan) if plan.feasible else f"[yellow]{plan_verdict(plan)}[/yellow]")
    console.print(f"最小の受入枠拡大：施設数 +{plan.total_facilities}、入所者数 +{plan.total_residents}"
                  f"（{len(plan.increases)}件、最適={plan.optimal}、再計算で確認={plan.confirmed}）")
    if nearest is not None:
        console.print(f"受入枠の拡大案は各施設・役割の近い{nearest}候補で求めました（十分な増枠。"
                      "全候補での最小とは限りません）。")
    if len(plan.increases):
        from matching.reports.tables import increases_table

        _print_frame("受入枠の拡大案", increases_table(plan.increases))
    console.print(f"written: {out}/criticality.csv, capacity_plan.csv, capacity_blocked.csv, capacity_capped.csv")


@app.command()
def montecarlo(
    region_dir: Path,
    out: Path = typer.Option(Path("out/montecarlo"), help="folder for montecarlo_draws.csv, montecarlo_facilities.csv"),
    draws: int = typer.Option(20, help="number of seeded draws"),
    seed: int = typer.Option(2027, help="random seed (same seed, same answer)"),
    probability: float = typer.Option(0.7, help="probability that an institution asked accepts (default)"),
    probabilities: Path = typer.Option(None, help="CSV key,probability: key = institution id or designation "
                                       "code (an institution's own value first, else its designations' highest)"),
    workers: int = typer.Option(1, help="local processes (Dask distributed); results do not depend on it"),
    cluster: str = typer.Option(None, help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786"),
    config: Path = typer.Option(None, help="run parameters (TOML)"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
):
    """What if only some institutions accept: expected all-met counts and, per facility, the probability
    of ending all met — the facilities a liaison hub should call about first."""
    from matching.scenarios.montecarlo import acceptance_analysis

    check_out(out)
    for option, value in (("--draws", draws), ("--workers", workers)):
        if value < 1:
            _invalid_option(option, value, "1 以上の整数を指定してください")
    by_key = {}
    if probabilities is not None:
        from matching.contract.tablefile import read_frame

        table, _ = read_frame(probabilities)
        if not {"key", "probability"} <= set(table.columns):
            raise InputError(f"{probabilities}: 列 key と probability が必要です",
                             f"{probabilities}: columns key and probability are required")
        try:
            by_key = {str(k).strip(): float(v) for k, v in zip(table["key"], table["probability"], strict=True)}
        except ValueError as exc:
            raise InputError(f"{probabilities}: probability は 0〜1 の数で指定してください", str(exc)) from None
    region, params, _ = _whatif_inputs(region_dir, strict, config, [])
    try:
        analysis = acceptance_analysis(region, params, draws=draws, seed=seed, default=probability, by_key=by_key,
                                       workers=workers, cluster=cluster)
    except ValueError as exc:
        raise InputError(str(exc), str(exc)) from None
    with Staging(out) as stage:
        analysis.write(stage.path)
        stage.publish()
    s = analysis.summary
    console.print(f"試行 {draws} 回（seed {seed}）: 全要件充足の施設 平均 {s['all_met']['mean']}"
                  f"（95%信頼区間 {s['all_met']['ci95'][0]}〜{s['all_met']['ci95'][1]}）、"
                  f"うち義務施設 平均 {s['obligated_all_met']['mean']}；提案どおりなら {s['base_all_met']}")
    first = analysis.facilities[analysis.facilities["all_met_in_base"]].head(10)
    _print_frame("先に連絡すべき施設（提案どおりなら全要件充足、充足となる確率が低い順）",
                 first.reset_index()[["facility_id", "name", "municipality_name", "probability_all_met"]]
                 .rename(columns={"facility_id": "施設ID", "name": "施設名", "municipality_name": "市区町村",
                                  "probability_all_met": "確率"}))
    console.print(f"written: {out}/montecarlo_draws.csv, montecarlo_facilities.csv")


@app.command()
def report(
    region_dir: Path,
    out: Path = typer.Option(Path("out/report"), help="folder for report.xlsx and report.html"),
    scenario: list[Path] = typer.Option([], "--scenario", help="scenario TOML to compare (repeatable)"),
    config: Path = typer.Option(None, help="run parameters (TOML)"),
    with_critical: bool = typer.Option(False, "--critical/--no-critical",
                                       help="add the criticality ranking and capacity plan (slower)"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
    title: str = typer.Option(None, help="report title (default: 協力医療機関の確保状況とマッチング提案（地域名）)"),
    date: str = typer.Option(None, help="作成日 YYYY-MM-DD (default: SOURCE_DATE_EPOCH or today)"),
    data_date: str = typer.Option(None, "--data-date",
                                  help="データの時点 YYYY-MM-DD (default: the region's files)"),
):
    """The regional-meeting workbook (xlsx) and a self-contained HTML report with a map."""
    from matching.reports import write_html, write_workbook
    from matching.scenarios import Scenario
    from matching.scenarios.compare import run_scenario, run_scenarios

    check_out(out)
    region, params, scenarios = _whatif_inputs(region_dir, strict, config, scenario)
    base_scenario = Scenario.from_mapping({"label": "現状", "description": "年次報告に基づく現状のまま"},
                                          source="base")
    # The report's main run is the scenario named "base" if one is given, else the region as it is.
    runs = run_scenarios(region, scenarios, params) if scenarios else []
    base_run = next((r for r in runs if r.name == "base"), None)
    if base_run is None:
        base_run = run_scenario(region, base_scenario, params)
        runs = [base_run] + runs if runs else []
    crit = plan = None
    if with_critical:
        from matching.scenarios.capacity import capacity_plan
        from matching.scenarios.criticality import criticality

        crit = criticality(base_run.region, base_run.params, base_run.result)
        plan = capacity_plan(base_run.region, base_run.params, base=base_run.result)
    from matching.reports.context import ReportContext

    created = _report_date(date)
    try:
        ctx = ReportContext.build(region, base_run.params, title=title, created=created, data_as_of=data_date)
    except ValueError:
        fail(f"--data-date は YYYY-MM-DD の形式で指定してください（{data_date!r}）",
             f"--data-date expects YYYY-MM-DD, got {data_date!r}")
    with Staging(out) as stage:
        write_workbook(stage / "report.xlsx", base_run.region, base_run.result, runs=runs or None,
                       criticality=crit, capacity_plan=plan, context=ctx)
        write_html(stage / "report.html", base_run.region, base_run.result, runs=runs or None, criticality=crit,
                   context=ctx)
        written = ["report.xlsx", "report.html"]
        from matching.reports.areamap import area_map_figure, area_shapes
        from matching.reports.tables import area_shares

        shapes = area_shapes(base_run.region)
        if shapes:
            from matching.scenarios.plots import save_png

            for when, label in (("before", "現状"), ("after", "提案後")):
                save_png(area_map_figure(shapes, area_shares(base_run.region, base_run.result, when),
                                         f"二次医療圏別 義務施設の全要件充足率（{label}）"),
                         stage / f"area_map_{when}.png")
            written += ["area_map_before.png", "area_map_after.png"]
        if runs:
            from matching.scenarios.compare import write_changes

            write_changes(runs, stage.path)
            written.append("whatif_changes.csv")
        stage.publish()
    console.print(f"written: {out}/" + f", {out}/".join(written))

# ==== end of issue 6 block ====


# ==== issue 14: the facilities' annual reports (年次報告) ====
template_app = typer.Typer(help="Forms to send out (xlsx).", no_args_is_help=True)
app.add_typer(template_app, name="template")


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
    check_out(out)
    reg = _load(region, True)
    decisions = read_review(review) if review else None
    result = import_reports(report_file, reg, decisions)
    if result.read_as:
        print(f"注: {result.read_as} として読みました", file=sys.stderr)
    from matching.contract import schema

    facilities, table = load_table_text(region, schema.FACILITIES)
    facilities.loc[facilities["facility_id"].isin(result.reported), "reported"] = "true"
    _rewrite_region(region, out, {"facilities.csv": facilities, "partnerships.csv": result.partnerships},
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
    reg = _load(region_dir, True)
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
    check_out(out)
    reg = _load(region, True)
    decisions = read_review(review) if review else None
    result = import_survey(survey_file, reg, decisions)
    if result.read_as:
        print(f"注: {result.read_as} として読みました", file=sys.stderr)
    institutions, table = load_table_text(region, schema.INSTITUTIONS)
    institutions, changes = apply(result, institutions, reg)
    _rewrite_region(region, out, {"institutions.csv": institutions, CHANGES_FILE: changes},
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

# ==== end of issue 14 block ====


install(app)  # every command: no traceback, a Japanese line on stderr, exit 2 (input) or 1 (bug)

if __name__ == "__main__":
    app()
