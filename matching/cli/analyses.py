"""Analyses for regional meetings: ``admission``, ``whatif``, ``critical``, ``montecarlo``, ``report``."""

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
from matching.cli._common import app, console, invalid_option, load_or_exit
from matching.outputs import Staging, check_out
from matching.parameters import MatchParameters, ParameterError
from matching.status import (
    facility_status,
    japanese_labels,
    status_table,
)


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
        invalid_option("--nearest", nearest, "1 以上を指定してください")
    if plan_nearest < 0:
        invalid_option("--plan-nearest", plan_nearest, "0（全候補）以上を指定してください")
    if boundaries is not None and not boundaries.is_file():
        fail(f"境界ファイルが見つかりません: {boundaries}", f"not found: {boundaries}")
    check_out(out)
    params = MatchParameters()
    if config:
        try:
            params = MatchParameters.from_toml(config)
        except ParameterError as exc:
            fail(f"パラメータファイルに誤りがあります: {exc}", str(exc))
    region = load_or_exit(region_dir, strict)
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


# Everything below is one block: `matching whatif`, `matching critical`, `matching report`.
# The work is done by matching.scenarios and matching.reports; these commands only parse,
# print and write files.  Every run is checked by the verifier before anything is written.

def _whatif_inputs(region_dir: Path, strict: bool, config: Path | None, scenario_files: list[Path]):
    from matching.scenarios import ScenarioError, load_scenario

    region = load_or_exit(region_dir, strict)
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
        invalid_option("--workers", workers, "1 以上の整数を指定してください")
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
            invalid_option(option, value, "1 以上の整数を指定してください")
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
