"""Files written for people: CSV with a BOM (Excel opens UTF-8 only then), names beside ids,
Japanese headers on request, a workbook beside the CSVs, and nothing half-written.

- :func:`write_csv` — every CSV the CLI writes: UTF-8 with BOM, cells neutralised
  (:mod:`matching.safecells`).
- :func:`proposals_table` / :func:`unmatched_table` — the solver's tables with the facility,
  institution, municipality and 二次医療圏 names and the ①②③ labels added.  The solver's own
  columns come first and are unchanged (``matching verify`` reads them back).
- :func:`japanese_headers` — column names from the vocabulary table (``--labels ja``);
  :func:`english_headers` is its inverse, so a file written with Japanese headers verifies.
- :class:`Staging` — outputs go to a temporary folder beside the destination and are moved in
  (``os.replace``, file by file) only when the run passed its checks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from matching import safecells
from matching.vocabulary import ROLE_ORDER, Role, column_label_ja, label_to_column, roles_ja

LABELS = ("en", "ja")


class OutputPathError(ValueError):
    """``--out`` cannot be a folder (a file is in the way): ``ja`` for users."""

    def __init__(self, message: str, ja: str):
        super().__init__(message)
        self.ja = ja


def check_out(out: Path) -> None:
    """Raise :class:`OutputPathError` now, before any work, if ``out`` cannot be a folder."""
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                raise OutputPathError(f"--out {out}: {p} is a file, not a folder",
                                      f"出力先 {out} にはフォルダを指定してください（{p} はファイルです）")
            if not os.access(p, os.W_OK):
                raise OutputPathError(f"--out {out}: {p} is not writable",
                                      f"出力先 {p} に書き込む権限がありません")
            return


class Staging:
    """A temporary folder beside ``out``; :meth:`publish` moves its files into ``out``.

    Used as a context manager: leaving the block without publishing (an error, a failed
    verification) removes the temporary folder and writes nothing.
    """

    def __init__(self, out: Path):
        check_out(out)
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def publish(self, stale: tuple[str, ...] = ()) -> list[Path]:
        """Move every staged file into ``out`` (replacing older ones); remove ``stale`` names there."""
        self.out.mkdir(parents=True, exist_ok=True)
        moved = []
        for f in sorted(p for p in self.path.rglob("*") if p.is_file()):
            dest = self.out / f.relative_to(self.path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dest)
            moved.append(dest)
        for name in stale:
            (self.out / name).unlink(missing_ok=True)
        shutil.rmtree(self.path, ignore_errors=True)
        return moved


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, formulas neutralised."""
    safecells.to_csv(df, path, index=False, encoding="utf-8-sig")


def write_atomic_csv(df: pd.DataFrame, path: Path) -> None:
    """One CSV written beside ``path`` and renamed over it."""
    check_out(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write_csv(df, Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# -- names beside ids ---------------------------------------------------------------------

def _names(region, df: pd.DataFrame) -> pd.DataFrame:
    from matching.vocabulary import FACILITY_TYPES

    fac = region.facilities
    f = df["facility_id"].astype(str)
    out = pd.DataFrame(index=df.index)
    out["facility_name"] = f.map(fac["name"]).to_numpy()
    out["facility_type_ja"] = f.map(fac["facility_type"]).map(
        lambda t: FACILITY_TYPES[t].short_ja if t in FACILITY_TYPES else "").to_numpy()
    code = f.map(fac["municipality_code"])
    out["municipality_code"] = code.to_numpy()
    out["municipality_name"] = code.map(region.areas["municipality_name"]).to_numpy()
    out["secondary_area_name"] = code.map(region.areas["secondary_area_name"]).to_numpy()
    return out


def proposals_table(proposals: pd.DataFrame, region) -> pd.DataFrame:
    """``proposals`` (unchanged, first) with ①②③ and the names people look for."""
    out = proposals.copy()
    out["roles_ja"] = out["roles"].map(lambda s: roles_ja({Role(x) for x in str(s).split(";") if x}))
    names = _names(region, out)
    for col in names.columns:
        out[col] = names[col]
    inst = region.institutions
    i = out["institution_id"].astype(str)
    out["institution_name"] = i.map(inst["name"]).to_numpy()
    out["institution_kind_ja"] = i.map(inst["kind"]).map({"hospital": "病院", "clinic": "診療所"}).to_numpy()
    return out


def unmatched_table(unmatched: pd.DataFrame, region) -> pd.DataFrame:
    """``unmatched`` (unchanged, first) with names, the role's mark and the suggested institution's name."""
    out = unmatched.copy()
    if "role" in out.columns:
        marks = {r.value: r.mark for r in ROLE_ORDER}
        out["role_ja"] = out["role"].map(lambda r: marks.get(r, "") if isinstance(r, str) else "")
    names = _names(region, out)
    for col in names.columns:
        if col not in out.columns:
            out[col] = names[col]
    if "fix_institution_id" in out.columns:
        out["fix_institution_name"] = out["fix_institution_id"].map(
            lambda x: region.institutions["name"].get(x, "") if isinstance(x, str) and x else "")
    return out


# -- labels -------------------------------------------------------------------------------

def _bool_text(df: pd.DataFrame, yes: str, no: str) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == bool or str(out[col].dtype) == "boolean":
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else (yes if v else no)).astype(object)
    return out


def for_people(df: pd.DataFrame, labels: str = "en") -> pd.DataFrame:
    """Booleans as true/false (はい/いいえ with ``ja``) and headers in ``labels``."""
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {labels!r}")
    if labels == "ja":
        return japanese_headers(_bool_text(df, "はい", "いいえ"))
    return _bool_text(df, "true", "false")


def japanese_headers(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={c: column_label_ja(c) for c in df.columns})


def english_headers(df: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`japanese_headers` (unknown headers unchanged)."""
    return df.rename(columns={c: label_to_column(c) for c in df.columns})


# -- the proposals workbook ------------------------------------------------------------------

#: Above this many alternatives the workbook points to alternatives.csv instead of copying them.
WORKBOOK_MAX_ALTERNATIVES = 20_000

def write_tables_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """One sheet per table: header row bold, filters on, header frozen, cells neutralised.

    Written in openpyxl's write-only (streaming) mode: a national run's 200,000 rows take seconds,
    not the half-minute of building every cell object first."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DCE6F1")
    for title, df in sheets.items():
        ws = wb.create_sheet(title[:31])
        for k, col in enumerate(df.columns, start=1):
            longest = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
            ws.column_dimensions[get_column_letter(k)].width = min(max(8, longest * 1.6), 60)
        ws.freeze_panes = "A2"
        if len(df.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(len(df), 1) + 1}"
        header = []
        for c in df.columns:
            cell = WriteOnlyCell(ws, value=str(c))
            cell.font, cell.fill = bold, fill
            header.append(cell)
        ws.append(header)
        clean = safecells.neutralise_frame(df).astype(object)
        clean = clean.where(clean.notna(), None)
        for row in clean.itertuples(index=False, name=None):
            ws.append([v.item() if hasattr(v, "item") else v for v in row])
    wb.save(path)


def write_match_outputs(folder: Path, region, result, summary: dict, labels: str = "en") -> list[str]:
    """``matching match``'s files into ``folder``: the three CSVs, summary.json and proposals.xlsx."""
    import json

    tables = {
        "proposals.csv": for_people(proposals_table(result.proposals, region), labels),
        "unmatched.csv": for_people(unmatched_table(result.unmatched, region), labels),
        "alternatives.csv": for_people(result.alternatives, labels),
    }
    for name, df in tables.items():
        write_csv(df, folder / name)
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    sheets = dict(zip(("提案", "未充足", "代替候補"), tables.values(), strict=True))
    if len(sheets["代替候補"]) > WORKBOOK_MAX_ALTERNATIVES:
        # A national run has ~180,000 alternatives: the CSV holds them; the workbook stays quick to
        # write and to open, and says where they are.
        sheets["代替候補"] = pd.DataFrame({"注": [
            f"代替候補は {len(sheets['代替候補']):,} 行あるため、alternatives.csv を参照してください"]})
    write_tables_workbook(folder / "proposals.xlsx", sheets)
    return [*tables, "summary.json", "proposals.xlsx"]
