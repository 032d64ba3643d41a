"""The ``matching`` command: a thin layer over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matching import safecells
from matching.contract import RegionValidationError, load_region
from matching.parameters import MatchParameters, ParameterError
from matching.status import facility_status, japanese_labels, missing_slots_text, status_table
from matching.vocabulary import FACILITY_TYPES, STATUS_ORDER, Status

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
    try:
        region = load_region(region_dir, strict=strict)
    except RegionValidationError as exc:
        console.print(f"[red]入力データに誤りがあります / invalid region data[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    for e in region.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(str(e))}")
    if region.skipped:
        console.print(f"[yellow]{len(region.skipped)} row(s) skipped (lenient mode)[/yellow]")
    return region


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
        _invalid_option(option, next(iter(update.values())), "; ".join(e["msg"] for e in exc.errors()))


def _print_violations(problems, prefix: str = "") -> None:
    """Violations with their codes (``[beyond_limit]`` …) printed literally, not read as Rich markup."""
    for p in problems:
        console.print(f"[red]{prefix}{escape(str(p))}[/red]", soft_wrap=True)


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
    region = _load(region_dir, strict)
    st = facility_status(region)
    table = status_table(st, region.areas, by="none")
    _print_status(f"協力医療機関の定めの状況（{region_dir}）", table)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for level in ("prefecture", "secondary_area", "municipality"):
            safecells.to_csv(japanese_labels(status_table(st, region.areas, by=level)),
                             out / f"status_by_{level}.csv", index=False, encoding="utf-8-sig")
        safecells.to_csv(_facility_csv(st, region), out / "status_facilities.csv", index=False, encoding="utf-8-sig")
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
          workers: int = typer.Option(None, help="processes for the components left to the solver (≥ 1)")):
    """Propose cooperating institutions for facilities with missing roles."""
    import dataclasses

    from matching.optimise.options import NATIONAL, SolveOptions
    from matching.optimise.run import match as run_match
    from matching.optimise.run import summary
    from matching.verify import verify

    for option, value in (("--nearest", nearest), ("--workers", workers)):
        if value is not None and value < 1:
            _invalid_option(option, value, "1 以上の整数を指定してください")
    region = _load(region_dir, strict)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
        if include_unreported is not None:
            params = _override(params, "--include-unreported/--reported-only", include_unreported=include_unreported)
        # No option: chosen by the region's size (options.for_size); flags are for experts.
        options = (dataclasses.replace(NATIONAL, nearest=nearest, workers=workers or NATIONAL.workers)
                   if nearest else SolveOptions(workers=workers) if workers else None)
        result = run_match(region, params, options)
    except ParameterError as exc:
        console.print(f"[red]パラメータの誤り / invalid parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    safecells.to_csv(result.proposals, out / "proposals.csv", index=False, encoding="utf-8")
    safecells.to_csv(result.unmatched, out / "unmatched.csv", index=False, encoding="utf-8")
    safecells.to_csv(result.alternatives, out / "alternatives.csv", index=False, encoding="utf-8")
    summ = summary(result)
    (out / "summary.json").write_text(json.dumps(summ, ensure_ascii=False, indent=2), encoding="utf-8")

    _print_status("現状（提案前）", status_table(result.status_before, region.areas, by="none"))
    _print_status("提案がすべて合意された場合（提案後）", status_table(result.status_after, region.areas, by="none"))
    s = summ
    console.print(
        f"対象施設 {s['facilities_to_match']} / 提案 {s['proposals']} 件（新規協定 {s['new_agreements']}）/ "
        f"未充足の施設 {s['unmatched_facilities']}\n"
        f"optimal={s['optimal']}  objective={s['objective']}  gap={s['gap']}  "
        f"components={s['components']}  seconds={s['seconds']}")
    _print_proof(s)
    if verify_result:
        problems = verify(region, out / "proposals.csv", params)
        if problems:
            _print_violations(problems, "verifier ")
            raise typer.Exit(1)
        console.print("[green]verifier: all constraints hold[/green]")
    console.print(f"written: {out}/proposals.csv, unmatched.csv, alternatives.csv, summary.json")


@app.command("verify")
def verify_cmd(region_dir: Path, proposals: Path, config: Path = typer.Option(None)):
    """Check a proposals.csv against a region and the run parameters."""
    from matching.verify import verify

    region = _load(region_dir, True)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
    except ParameterError as exc:
        console.print(f"[red]パラメータの誤り / invalid parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    problems = verify(region, proposals, params)
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


def _csv_files(paths: list[Path], pattern: str) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob(pattern)) if p.is_dir() else [p]
    return files


@import_app.command("region")
def import_region(
    prefecture_code: str = typer.Argument(..., help="2-digit prefecture code, e.g. 19 (山梨県)"),
    kaigo: list[Path] = typer.Option(..., help="介護サービス情報公表 CSV files or a folder of them"),
    hospitals: Path = typer.Option(None, help="folder with facility_basic/functions/geo_linkage.csv"),
    shisetsu_kijun: list[Path] = typer.Option(..., "--shisetsu-kijun", help="厚生局 届出受理医療機関名簿 xlsx"),
    out: Path = typer.Option(..., help="region folder to write"),
    strict: bool = typer.Option(False, "--strict/--lenient", help="stop on any bad row (default: skip and report)"),
    municipality: list[str] = typer.Option([], help="extra NAME=CODE for places the kaigo data does not name"),
):
    """Import one prefecture from the MHLW / 厚生局 open data into a region folder."""
    from matching.importers import ImportValidationError, build_region

    extra = {}
    for item in municipality:
        name, _, code = item.partition("=")
        if not code:
            console.print(f"[red]--municipality expects NAME=CODE, got {item!r}[/red]")
            raise typer.Exit(2)
        extra[name] = code
    try:
        report = build_region(prefecture_code, _csv_files(kaigo, "*.csv"), hospitals,
                              _csv_files(shisetsu_kijun, "*.xlsx"), out, strict=strict,
                              municipalities=extra or None)
    except ImportValidationError as exc:
        console.print(f"[red]取込みを中止しました（何も書き込んでいません）/ import stopped[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(report.summary())
    console.print(f"written: {out} (+ import_report.json, import_unmatched.csv)")


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
    region, params, scenarios = _whatif_inputs(region_dir, strict, config, scenario_files)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if sweep_spec:
            path, values = parse_sweep(sweep_spec)
            table = sweep(region, path, values, scenarios[0] if scenarios else None, params)
            safecells.to_csv(table, out / "sweep.csv", index=False, encoding="utf-8-sig")
            save_png(sweep_figure(table, path), out / "sweep.png")
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
            write_comparison(comp, out)
            from matching.reports import write_workbook

            write_workbook(out / "whatif.xlsx", runs[0].region, runs[0].result, runs=runs)
            from matching.reports.tables import comparison_table

            _print_frame("シナリオ比較（提案がすべて合意された場合）", comparison_table(comp.summary))
            console.print(f"written: {out}/whatif_*.csv, whatif_summary.png, whatif.xlsx")
    except (ParameterError, ScenarioError, ValueError) as exc:
        if isinstance(exc, VerificationError):
            raise
        console.print(f"[red]シナリオまたはパラメータの誤り / invalid scenario or parameters[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def critical(
    region_dir: Path,
    out: Path = typer.Option(Path("out/critical"), help="folder for criticality.csv, capacity_plan.csv"),
    mode: str = typer.Option("stop-accepting", help="stop-accepting (keeps its agreements) or withdraw "
                             "(its agreements end too)"),
    config: Path = typer.Option(None, help="run parameters (TOML)"),
    top: int = typer.Option(15, help="rows to print"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
):
    """Which institutions matter, and the smallest capacity increases for full coverage of obligated facilities."""
    from matching.optimise.run import match as run_match
    from matching.reports.tables import criticality_table
    from matching.scenarios.capacity import capacity_plan
    from matching.scenarios.criticality import criticality

    region, params, _ = _whatif_inputs(region_dir, strict, config, [])
    modes = {"stop-accepting": "stop_accepting", "withdraw": "withdraw"}
    if mode not in modes:
        console.print(f"[red]--mode must be stop-accepting or withdraw, got {mode!r}[/red]")
        raise typer.Exit(2)
    base = run_match(region, params)
    table = criticality(region, params, base, mode=modes[mode])
    plan = capacity_plan(region, params)
    out.mkdir(parents=True, exist_ok=True)
    safecells.to_csv(table, out / "criticality.csv", index=False, encoding="utf-8-sig")
    safecells.to_csv(plan.increases, out / "capacity_plan.csv", index=False, encoding="utf-8-sig")
    safecells.to_csv(plan.blocked, out / "capacity_blocked.csv", index=False, encoding="utf-8-sig")
    what = "新規受入れを止めた場合" if mode == "stop-accepting" else "協力をやめた場合（既存協定も解消）"
    shown = criticality_table(table.head(top), region.areas).drop(columns=["全要件充足を失う施設", "医療機関ID"])
    _print_frame(f"重要な医療機関：{what}に全要件充足を失う施設数（上位{top}）", shown)
    if plan.feasible:
        console.print("受入枠の拡大だけで、集計対象の義務施設すべてを全要件充足にできます。")
    else:
        console.print(f"[yellow]受入枠を拡大しても満たせない義務施設が {plan.blocked['facility_id'].nunique()} "
                      "あります（移動上限内に候補がない等：capacity_blocked.csv）。[/yellow]")
    console.print(f"最小の受入枠拡大：施設数 +{plan.total_facilities}、入所者数 +{plan.total_residents}"
                  f"（{len(plan.increases)}件、最適={plan.optimal}、再計算で確認={plan.confirmed}）")
    if len(plan.increases):
        from matching.reports.tables import increases_table

        _print_frame("受入枠の拡大案", increases_table(plan.increases))
    console.print(f"written: {out}/criticality.csv, capacity_plan.csv, capacity_blocked.csv")


@app.command()
def report(
    region_dir: Path,
    out: Path = typer.Option(Path("out/report"), help="folder for report.xlsx and report.html"),
    scenario: list[Path] = typer.Option([], "--scenario", help="scenario TOML to compare (repeatable)"),
    config: Path = typer.Option(None, help="run parameters (TOML)"),
    with_critical: bool = typer.Option(False, "--critical/--no-critical",
                                       help="add the criticality ranking and capacity plan (slower)"),
    strict: bool = typer.Option(True, "--strict/--lenient"),
):
    """The regional-meeting workbook (xlsx) and a self-contained HTML report with a map."""
    from matching.reports import write_html, write_workbook
    from matching.scenarios import Scenario
    from matching.scenarios.compare import run_scenario, run_scenarios

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
        plan = capacity_plan(base_run.region, base_run.params)
    out.mkdir(parents=True, exist_ok=True)
    write_workbook(out / "report.xlsx", base_run.region, base_run.result, runs=runs or None,
                   criticality=crit, capacity_plan=plan)
    write_html(out / "report.html", base_run.region, base_run.result, runs=runs or None, criticality=crit)
    console.print(f"written: {out}/report.xlsx, report.html")

# ==== end of issue 6 block ====


if __name__ == "__main__":
    app()
