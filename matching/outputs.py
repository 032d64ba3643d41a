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

import numpy as np
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
    short_ja = {t: ft.short_ja for t, ft in FACILITY_TYPES.items()}
    out["facility_type_ja"] = f.map(fac["facility_type"]).map(short_ja).fillna("").to_numpy()
    code = f.map(fac["municipality_code"])
    out["municipality_code"] = code.to_numpy()
    out["municipality_name"] = code.map(region.areas["municipality_name"]).to_numpy()
    out["secondary_area_name"] = code.map(region.areas["secondary_area_name"]).to_numpy()
    return out


def proposals_table(proposals: pd.DataFrame, region) -> pd.DataFrame:
    """``proposals`` (unchanged, first) with ①②③ and the names people look for."""
    out = proposals.copy()
    codes = out["roles"].astype(str)
    out["roles_ja"] = codes.map({c: roles_ja({Role(x) for x in c.split(";") if x}) for c in codes.unique()})
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
        ids = out["fix_institution_id"]
        out["fix_institution_name"] = ids.where(ids.map(lambda x: isinstance(x, str))).map(region.institutions["name"]).fillna("")
    return out


# -- labels -------------------------------------------------------------------------------

def _bool_text(df: pd.DataFrame, yes: str, no: str) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == bool or str(s.dtype) == "boolean":
            text = np.where(s.fillna(False).to_numpy(bool), yes, no).astype(object)
            text[s.isna().to_numpy()] = ""
            out[col] = pd.Series(text, index=out.index, dtype=object)
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


def violations_table(problems, region) -> pd.DataFrame:
    """The verifier's findings for people: the pair with its names, what is wrong in Japanese,
    and the English beside it (``violations.csv``)."""
    fac_name = region.facilities["name"].to_dict()
    inst_name = region.institutions["name"].to_dict()
    return pd.DataFrame([{"code": p.code, "facility_id": p.facility_id, "facility_name": fac_name.get(p.facility_id, ""),
                          "institution_id": p.institution_id,
                          "institution_name": inst_name.get(p.institution_id, ""),
                          "message_ja": p.message_ja, "message": p.message} for p in problems],
                        columns=["code", "facility_id", "facility_name", "institution_id", "institution_name",
                                 "message_ja", "message"])


# -- the proposals workbook ------------------------------------------------------------------

#: Above this many alternatives the workbook points to alternatives.csv instead of copying them.
WORKBOOK_MAX_ALTERNATIVES = 20_000

def write_tables_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """One sheet per table: header row bold, filters on, header frozen, cells neutralised.

    Written with XlsxWriter in its streaming mode (``constant_memory``): rows go to disk as they
    come, and XlsxWriter is about 1.5× quicker per cell than openpyxl's write-only mode.  Text is
    written as text (never read as a formula, a number or a link)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
        "strings_to_urls": False, "default_date_format": "yyyy-mm-dd"})
    header = wb.add_format({"bold": True, "bg_color": "#DCE6F1"})
    try:
        for title, df in sheets.items():
            ws = wb.add_worksheet(title[:31])
            for k, col in enumerate(df.columns):
                longest = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
                ws.set_column(k, k, min(max(8, longest * 1.6), 60))
            ws.freeze_panes(1, 0)
            if len(df.columns):
                ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
            ws.write_row(0, 0, [safecells.neutralise(str(c)) for c in df.columns], header)
            clean = safecells.neutralise_frame(df).astype(object)
            clean = clean.where(clean.notna(), None)
            for r, row in enumerate(clean.itertuples(index=False, name=None), start=1):
                ws.write_row(r, 0, [v.item() if hasattr(v, "item") else v for v in row])
    finally:
        wb.close()


class Pending:
    """``write(*args)``, in a forked child while this process goes on (``background``; the data are
    inherited, not copied through a pipe), else now.  Call :meth:`wait` before using the file.
    Where this process may not fork (a Dask worker), it writes now."""

    def __init__(self, write, args: tuple, background: bool = True):
        from matching.distribute import can_fork

        self._write, self._args, self._child = write, args, None
        if background and can_fork():
            import multiprocessing

            self._child = multiprocessing.get_context("fork").Process(target=write, args=args, daemon=True)
            self._child.start()
        else:
            write(*args)

    def wait(self) -> None:
        """Return when the file is written.  If the child failed, write it here, so the error (a full
        disk, say) is raised in this process with its own message."""
        if self._child is None:
            return
        self._child.join()
        if self._child.exitcode != 0:
            self._write(*self._args)
        self._child = None


#: From this many proposals the workbook is written beside the verifier (two processes): a
#: national run's 13,000 proposals take seconds to write, as long as the verifier takes.
BACKGROUND_WORKBOOK_ROWS = 2_000


def write_match_outputs(folder: Path, region, result, summary: dict, labels: str = "en") -> tuple[list[str], Pending]:
    """``matching match``'s files into ``folder``: the three CSVs, summary.json and proposals.xlsx.

    The workbook may still be being written when this returns (large runs, see
    :data:`BACKGROUND_WORKBOOK_ROWS`): call ``.wait()`` on the second value before using it."""
    import json

    tables = {
        "proposals.csv": for_people(proposals_table(result.proposals, region), labels),
        "unmatched.csv": for_people(unmatched_table(result.unmatched, region), labels),
        "alternatives.csv": for_people(result.alternatives, labels),
    }
    sheets = dict(zip(("提案", "未充足", "代替候補"), tables.values(), strict=True))
    if len(sheets["代替候補"]) > WORKBOOK_MAX_ALTERNATIVES:
        # A national run has ~180,000 alternatives: the CSV holds them; the workbook stays quick to
        # write and to open, and says where they are.
        sheets["代替候補"] = pd.DataFrame({"注": [
            f"代替候補は {len(sheets['代替候補']):,} 行あるため、alternatives.csv を参照してください"]})
    workbook = Pending(write_tables_workbook, (folder / "proposals.xlsx", sheets),
                       background=len(result.proposals) >= BACKGROUND_WORKBOOK_ROWS)
    for name, df in tables.items():
        write_csv(df, folder / name)
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return [*tables, "summary.json", "proposals.xlsx"], workbook
