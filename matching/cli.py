"""The ``matching`` command: a thin layer over the library."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from matching.contract import RegionValidationError, load_region
from matching.parameters import MatchParameters, ParameterError
from matching.status import facility_status, japanese_labels, status_table
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
        console.print(f"[red]入力データに誤りがあります / invalid region data[/red]\n{exc}")
        raise typer.Exit(2) from None
    for e in region.skipped:
        console.print(f"[yellow]skipped[/yellow] {e}")
    if region.skipped:
        console.print(f"[yellow]{len(region.skipped)} row(s) skipped (lenient mode)[/yellow]")
    return region


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
            japanese_labels(status_table(st, region.areas, by=level)).to_csv(
                out / f"status_by_{level}.csv", index=False, encoding="utf-8-sig")
        _facility_csv(st, region).to_csv(out / "status_facilities.csv", index=False, encoding="utf-8-sig")
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
    return out


@app.command()
def match(region_dir: Path, out: Path = typer.Option(Path("out"), help="folder for proposals.csv etc."),
          config: Path = typer.Option(None, help="TOML file with run parameters"),
          strict: bool = typer.Option(True, "--strict/--lenient"),
          include_unreported: bool = typer.Option(
              None, "--include-unreported/--reported-only",
              help="also propose for facilities with no annual report on file (default from config: no)"),
          verify_result: bool = typer.Option(True, "--verify/--no-verify",
                                             help="check the proposals with the independent verifier")):
    """Propose cooperating institutions for facilities with missing roles."""
    from matching.optimise.run import match as run_match
    from matching.optimise.run import summary
    from matching.verify import verify

    region = _load(region_dir, strict)
    try:
        params = MatchParameters.from_toml(config) if config else MatchParameters()
        if include_unreported is not None:
            params = params.model_copy(update={"include_unreported": include_unreported})
        result = run_match(region, params)
    except ParameterError as exc:
        console.print(f"[red]パラメータの誤り / invalid parameters[/red]\n{exc}")
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    result.proposals.to_csv(out / "proposals.csv", index=False, encoding="utf-8")
    result.unmatched.to_csv(out / "unmatched.csv", index=False, encoding="utf-8")
    result.alternatives.to_csv(out / "alternatives.csv", index=False, encoding="utf-8")
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
    if verify_result:
        problems = verify(region, out / "proposals.csv", params)
        if problems:
            for p in problems:
                console.print(f"[red]verifier[/red] {p}")
            raise typer.Exit(1)
        console.print("[green]verifier: all constraints hold[/green]")
    console.print(f"written: {out}/proposals.csv, unmatched.csv, alternatives.csv, summary.json")


@app.command("verify")
def verify_cmd(region_dir: Path, proposals: Path, config: Path = typer.Option(None)):
    """Check a proposals.csv against a region and the run parameters."""
    from matching.verify import verify

    region = _load(region_dir, True)
    params = MatchParameters.from_toml(config) if config else MatchParameters()
    problems = verify(region, proposals, params)
    for p in problems:
        console.print(f"[red]{p}[/red]")
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
        console.print(f"[red]取込みを中止しました（何も書き込んでいません）/ import stopped[/red]\n{exc}")
        raise typer.Exit(2) from None
    console.print(report.summary())
    console.print(f"written: {out} (+ import_report.json, import_unmatched.csv)")


if __name__ == "__main__":
    app()
