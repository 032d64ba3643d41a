"""What every command shares: the app and its command groups, the console, loading a region,
and printing options, violations, proofs and status tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matching._cli_errors import fail
from matching.contract import RegionValidationError, load_region
from matching.outputs import Staging
from matching.parameters import MatchParameters
from matching.tomlfile import problem_ja
from matching.vocabulary import FACILITY_TYPES, STATUS_ORDER

app = typer.Typer(help="協力医療機関マッチング: status and matching of elderly-care facilities "
                       "with cooperating medical institutions.", no_args_is_help=True)
demo_app = typer.Typer(help="The bundled demo prefecture.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
import_app = typer.Typer(help="Build a region folder from official open data.", no_args_is_help=True)
app.add_typer(import_app, name="import")
template_app = typer.Typer(help="Forms to send out (xlsx).", no_args_is_help=True)
app.add_typer(template_app, name="template")
# The service's commands live with the service (api/cli.py); the CLI only lists them.
from api.cli import db_app, serve, token_app  # noqa: E402

app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.command("serve")(serve)
console = Console(width=120)


def load_or_exit(region_dir: Path, strict: bool):
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


def rewrite_region(region: Path, out: Path, files: dict[str, pd.DataFrame], review_name: str,
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


def invalid_option(option: str, value, problem: str) -> None:
    """Stop the command: the option and its value, in Japanese, on stderr (no traceback)."""
    print(f"オプション {option} の値 {value!r} は使えません: {problem}", file=sys.stderr)
    raise typer.Exit(2)


def override(params: MatchParameters, option: str, **update) -> MatchParameters:
    """``params`` with a command-line override applied *and validated*
    (``model_copy(update=…)`` would skip validation); an invalid value stops the command."""
    try:
        return MatchParameters.model_validate({**dict(params), **update})
    except ValidationError as exc:
        invalid_option(option, next(iter(update.values())), "; ".join(problem_ja(e) for e in exc.errors()))


def print_violations(problems, prefix: str = "") -> None:
    """Violations in Japanese with their codes (``[beyond_limit]`` …), printed literally, not read as Rich markup."""
    for p in problems:
        console.print(f"[red]{prefix}{escape(p.text_ja())}[/red]", soft_wrap=True)


def print_proof(summary: dict) -> None:
    """Warnings (coverage not proven) on stderr, notes (agreements/travel gap) on stdout; literal text."""
    for text in summary.get("warnings", []):
        print(f"警告: {text}", file=sys.stderr)
    for text in summary.get("notes", []):
        print(f"注: {text}")


def print_status(title: str, table: pd.DataFrame) -> None:
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
