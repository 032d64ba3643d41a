"""The main job: ``status``, ``match`` and ``verify``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from matching import safecells
from matching._cli_errors import InputError, fail
from matching.cli._common import (
    app,
    console,
    invalid_option,
    load_or_exit,
    override,
    print_proof,
    print_status,
    print_violations,
)
from matching.outputs import LABELS, Staging, check_out
from matching.parameters import MatchParameters, ParameterError
from matching.status import (
    facility_status,
    japanese_labels,
    missing_slots_text,
    scope_notes,
    status_table,
)
from matching.vocabulary import CLINICS_NOT_LOADED_SHORT_JA, Status


@app.command()
def status(region_dir: Path, out: Path = typer.Option(None, help="write status CSV files here"),
           strict: bool = typer.Option(True, "--strict/--lenient", help="reject or skip bad rows")):
    """Compliance status of every facility (the four MHLW categories plus 'not designated')."""
    if out:
        check_out(out)
    region = load_or_exit(region_dir, strict)
    st = facility_status(region)
    table = status_table(st, region.areas, by="none")
    print_status(f"協力医療機関の定めの状況（{region_dir}）", table)
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

    from matching.optimise.options import NATIONAL, SolveOptions
    from matching.optimise.run import match as run_match
    from matching.optimise.run import summary
    from matching.verify import verify

    for option, value in (("--nearest", nearest), ("--workers", workers)):
        if value is not None and value < 1:
            invalid_option(option, value, "1 以上の整数を指定してください")
    if labels not in LABELS:
        raise InputError(f"--labels には {' か '.join(LABELS)} を指定してください（{labels!r}）",
                         f"--labels must be one of {', '.join(LABELS)}, got {labels!r}")
    check_out(out)  # before the solve, not after it
    clock = {"start": time.perf_counter()}
    region = load_or_exit(region_dir, strict)
    clock["load"] = time.perf_counter()
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
        if include_unreported is not None:
            params = override(params, "--include-unreported/--reported-only", include_unreported=include_unreported)
        if unknown_capacity is not None:
            params = override(params, "--unknown-capacity", unknown_capacity=unknown_capacity)
        if prefecture:
            params = override(params, "--prefecture", prefectures=list(prefecture))
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
    print_status("現状（提案前）", status_table(result.status_before, region.areas, by="none"))
    print_status("提案がすべて合意された場合（提案後）", status_table(result.status_after, region.areas, by="none"))
    s = summ
    # One count, one meaning: facilities with no annual report are not 未充足 (their status is unknown).
    unreported = result.unmatched["reason_code"] == "not_tracked"
    console.print(
        f"対象施設 {s['facilities_to_match']} / 提案 {s['proposals']} 件（新規協定 {s['new_agreements']}）/ "
        f"未充足の施設 {result.unmatched.loc[~unreported, 'facility_id'].nunique()} / "
        f"年次報告なし（集計していない）{result.unmatched.loc[unreported, 'facility_id'].nunique()}\n"
        f"optimal={s['optimal']}  objective={s['objective']}  gap={s['gap']}  "
        f"components={s['components']}  seconds={s['seconds']}")
    print_proof(s)
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

    region = load_or_exit(region_dir, True)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
    except ParameterError as exc:
        fail(f"パラメータの誤り / invalid parameters: {exc}", str(exc))
    table, how = read_proposals(proposals)
    if how.encoding not in ("UTF-8", "UTF-8 (BOM)"):
        print(f"注: {how.described} として読みました", file=sys.stderr)
    problems = verify(region, table, params)
    print_violations(problems)
    if problems:
        raise typer.Exit(1)
    console.print("[green]all constraints hold[/green]")
