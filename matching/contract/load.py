"""Load and validate a region folder.

``load_region(path)`` is strict: any problem raises :class:`RegionValidationError`
listing *every* problem found (file, line, column, value).  ``strict=False`` is
lenient: bad rows are left out and each one is listed in ``region.skipped``,
together with rows that had to go because they referred to a skipped row.
Problems with a whole file (missing file or column) are fatal in both modes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from matching.contract import columns as c
from matching.contract import schema
from matching.contract.errors import ErrorLog, RegionValidationError, RowError
from matching.contract.tablefile import TableError, duplicated, open_table
from matching.region import Region, role_column
from matching.vocabulary import DESIGNATIONS, ROLE_ORDER, InstitutionKind, Role, default_roles


def load_region(path: str | Path, *, strict: bool = True) -> Region:
    """Read, validate and type the tables of a region folder.

    Each table is ``<name>.csv`` (UTF-8 with or without BOM, or CP932/Shift_JIS) or
    ``<name>.xlsx`` (first sheet), or a sheet ``<name>`` of ``region.xlsx``; how each file was
    read, and any repair (a restored leading zero), is listed in ``region.notes``.

    >>> region = load_region("data/demo")          # doctest: +SKIP
    >>> region.facilities.loc["F0001", "facility_type"]  # doctest: +SKIP
    'tokuyo'
    """
    folder = Path(path)
    if not folder.is_dir():
        what = "is a file, not a region folder" if folder.exists() else "region folder not found"
        raise RegionValidationError([RowError(str(folder), 0, "", what)])
    notes: list[str] = []
    with _gc_paused():
        raw = {spec.name: _read(folder, spec, notes) for spec in schema.FILES}
    fatal = [e for _, errs in raw.values() for e in errs]
    if fatal:
        raise RegionValidationError(fatal)

    log = ErrorLog()
    tables: dict[str, pd.DataFrame] = {}
    for spec in schema.FILES:
        df = raw[spec.name][0]
        if df is None:
            continue
        tables[spec.name] = _parse(df, spec, log, notes)

    _cross_checks(tables, log, strict=True)
    if strict and log:
        raise RegionValidationError(log.listed, log.omitted)

    if log:
        # Lenient: drop bad rows, then drop what referred to them, and report both.
        _drop_rows(tables, log.lines)
        while True:  # e.g. area → facility → partnership
            found = len(log)
            _cross_checks(tables, log, strict=False)
            if len(log) == found:
                break
            _drop_rows(tables, log.lines)

    region = _build(tables, folder, sorted(set(log.listed)))
    region.notes = notes
    region.skipped_omitted = log.omitted
    return region


def _drop_rows(tables: dict[str, pd.DataFrame], bad_lines: dict[str, set[int]]) -> None:
    """Leave out of ``tables`` every row listed in ``bad_lines`` (one filter per file)."""
    for name, lines in bad_lines.items():
        tables[name] = tables[name][~tables[name]["_line"].isin(lines)]


# -- reading -----------------------------------------------------------------

@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a block runs.

    Reading a national region creates a list per CSV row; each few hundred of them
    would start a collection that walks every live object and finds nothing to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _source(folder: Path, spec: schema.FileSpec) -> tuple[Path, str | None] | None:
    """The file (and sheet) that holds ``spec``'s table, or None."""
    stem = spec.name.removesuffix(".csv")
    for file in (folder / spec.name, folder / f"{stem}.xlsx"):
        if file.exists():
            return file, None
    book = folder / "region.xlsx"
    if book.exists():
        from openpyxl import load_workbook

        try:
            wb = load_workbook(book, read_only=True)
            names = wb.sheetnames
            wb.close()
        except Exception:  # unreadable: reported when it is read
            return book, stem
        if stem in names:
            return book, stem
    return None


def _read(folder: Path, spec: schema.FileSpec, notes: list[str]) -> tuple[pd.DataFrame | None, list[RowError]]:
    source = _source(folder, spec)
    if source is None:
        if spec.required:
            stem = spec.name.removesuffix(".csv")
            return None, [RowError(spec.name, 0, "", "required file is missing",
                                   ja=f"必要なファイル {spec.name}（または {stem}.xlsx）がありません")]
        return None, []
    try:
        df, table = _read_table(*source)
    except TableError as exc:
        detail = str(exc).removeprefix(f"{source[0].name}: ")
        return None, [RowError(spec.name, 0, "", detail, ja=exc.ja)]
    if table.encoding not in ("UTF-8", "UTF-8 (BOM)"):
        notes.append(f"{table.described} として読みました")
    dup = duplicated(table.header)
    if dup:
        return None, [RowError(spec.name, 0, col, "column appears more than once in the header") for col in dup]
    missing = [col.name for col in spec.columns if col.required and col.name not in df.columns]
    if missing:
        return None, [RowError(spec.name, 0, col, "required column is missing") for col in missing]
    return df, []


def _read_table(file: Path, sheet: str | None = None):
    """All cells as strings, with ``_line`` = the line each record starts on; and the table read.

    The csv module (not pandas) so that line numbers stay true across blank lines
    and quoted cells that span lines — errors must point where a spreadsheet does.
    """
    table = open_table(file, sheet)
    header = table.header
    width = len(header)
    starts, body = [], []
    for start, row in table.rows:  # keep this loop bare: it runs once per line of a national file
        starts.append(start)
        body.append(row)
    starts = np.array(starts, dtype=np.int64)
    # Blank lines (every cell blank) are not records; map() keeps these per-row steps in C.
    kept = np.flatnonzero(list(map(bool, map(str.strip, map("".join, body)))))
    if len(kept) < len(body):
        body = [body[i] for i in kept]
    cells = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    for i in np.flatnonzero(cells != width):
        # short rows read as blanks, long ones are cut (and reported by _parse, not cut silently)...
        row = body[i][:width]
        if len(row) < width:
            row = row + [""] * (width - len(row))
        if table.encoding == "xlsx":  # ...but empty cells right of the header are no cells at all
            cells[i] = len(body[i]) - len(_trailing_blanks(body[i]))
        body[i] = row
    if len(set(header)) < len(header):  # reported by the caller; a frame needs unique names
        header = [f"{h}\x00{k}" for k, h in enumerate(header)]
    df = pd.DataFrame(body, columns=header, dtype=object)
    df["_line"] = starts[kept]
    df["_cells"] = cells
    return df, table


def _trailing_blanks(row: list[str]) -> list[str]:
    out = []
    for cell in reversed(row):
        if cell.strip():
            break
        out.append(cell)
    return out


def _read_csv_with_lines(file: Path) -> pd.DataFrame | None:
    """The table of ``file`` as :func:`_read_table` reads it (None for an empty file)."""
    try:
        return _read_table(file)[0]
    except TableError:
        return None


def _parse(df: pd.DataFrame, spec: schema.FileSpec, log: ErrorLog, notes: list[str]) -> pd.DataFrame:
    """Type every column of one file; every bad cell, long row and duplicate id goes to ``log``."""
    width = len(df.columns) - 2
    long = df[df["_cells"] > width]
    if len(long):
        first = long.iloc[: log.limit]
        for line, n in zip(first["_line"], first["_cells"], strict=True):
            log.add(RowError(spec.name, int(line), "", f"row has {n} cells but the header has {width} columns"))
        log.add_cells(spec.name, long["_line"].iloc[log.limit:], "", "row has more cells than the header",
                      long["_line"].iloc[log.limit:])
    out = df.drop(columns="_cells")
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        parsed = c.parse_distinct(col.parse, df[col.name].astype(str))
        out[col.name] = parsed.values
        bad = parsed.bad.to_numpy(dtype=bool)
        if bad.any():
            log.add_cells(spec.name, df["_line"].to_numpy()[bad], col.name, parsed.message,
                          df[col.name].to_numpy()[bad])
        if parsed.fixed is not None:
            fixed = parsed.fixed.to_numpy(dtype=bool)
            if fixed.any():
                before, after = df[col.name].to_numpy()[fixed][0], parsed.values.to_numpy()[fixed][0]
                lines = df["_line"].to_numpy()[fixed]
                notes.append(f"{spec.name} の {col.name}: {parsed.note}（{int(fixed.sum())} 件、"
                             f"{int(lines[0])} 行目 {str(before).strip()} → {after} など）")
    key = list(spec.id_columns)
    dup = out.duplicated(key, keep="first")
    if dup.any():
        dup &= (out[key] != "").all(axis=1)  # blank ids are reported as blank, not as repeats
        first_line = out.drop_duplicates(key).set_index(key)["_line"]
        idxs = dup[dup].index
        for idx in idxs[: log.limit]:
            k = tuple(out.loc[idx, key]) if len(key) > 1 else out.at[idx, key[0]]
            log.add(RowError(spec.name, int(out.at[idx, "_line"]), "/".join(key),
                             f"duplicate {'/'.join(key)}, first seen on line {int(first_line.loc[k])}",
                             str(k if len(key) == 1 else "/".join(k))))
        rest = idxs[log.limit:]
        log.add_cells(spec.name, out.loc[rest, "_line"], "/".join(key), f"duplicate {'/'.join(key)}",
                      out.loc[rest, key[0]].to_numpy())
    return out


# -- rules that span columns or files ------------------------------------------

def _cross_checks(t: dict[str, pd.DataFrame], log: ErrorLog, *, strict: bool) -> None:
    """Errors that involve more than one cell.

    With ``strict=False`` this runs on already-cleaned tables and only finds rows
    whose reference was skipped; the message then says so.
    """
    skipped_note = "" if strict else " (that row was skipped)"

    def refs(name: str, column: str, valid: pd.Index, what: str):
        df = t.get(name)
        if df is None:
            return
        bad = ~df[column].isin(valid)
        if bad.any():
            bad &= df[column] != ""  # a blank reference is reported by its own column's rule
        if bad.any():
            log.add_cells(name, df.loc[bad, "_line"].to_numpy(), column, f"unknown {what}{skipped_note}",
                          df.loc[bad, column].to_numpy())

    areas = pd.Index(t["areas.csv"]["municipality_code"])
    fac = pd.Index(t["facilities.csv"]["facility_id"])
    inst_df = t["institutions.csv"]
    inst = pd.Index(inst_df["institution_id"])
    refs("facilities.csv", "municipality_code", areas, "municipality_code (not in areas.csv)")
    refs("institutions.csv", "municipality_code", areas, "municipality_code (not in areas.csv)")
    refs("partnerships.csv", "facility_id", fac, "facility_id (not in facilities.csv)")
    refs("partnerships.csv", "institution_id", inst, "institution_id (not in institutions.csv)")
    refs("travel_times.csv", "facility_id", fac, "facility_id (not in facilities.csv)")
    refs("travel_times.csv", "institution_id", inst, "institution_id (not in institutions.csv)")
    if not strict:
        return

    # Designations that belong to the other kind (e.g. 在支診 on a hospital).
    # Worked out once per distinct designation set, then matched to the rows' kind.
    for kind, other in ((InstitutionKind.HOSPITAL, InstitutionKind.CLINIC),
                        (InstitutionKind.CLINIC, InstitutionKind.HOSPITAL)):
        foreign = c.map_distinct(inst_df["designations"], partial(_codes_only_for, other))
        hits = (inst_df["kind"] == kind.value) & foreign.astype(bool)
        for line, codes in zip(inst_df.loc[hits, "_line"], foreign[hits], strict=True):
            for code in codes:
                log.add(RowError("institutions.csv", int(line), "designations",
                                       f"designation {code} ({DESIGNATIONS[code].name_ja}) is for "
                                       f"{other.value}s only, but kind is {kind.value}", code))
    clinic_admits = (inst_df["kind"] == "clinic") & (inst_df["admit"] == True)  # noqa: E712 (nullable)
    for idx in clinic_admits[clinic_admits.fillna(False)].index:
        log.add(RowError("institutions.csv", int(inst_df.at[idx, "_line"]), "admit",
                               "a clinic cannot offer admission (③ 入院受入れ is for hospitals only)", "true"))

    # Blank roles are allowed: an agreement that meets none of the requirements
    # (status "none met but designated").  Admission from a clinic is not.
    part = t["partnerships.csv"]
    kind_of = inst_df.set_index("institution_id")["kind"]
    kind_of = kind_of[~kind_of.index.duplicated()]
    admits = c.map_distinct(part["roles"], lambda rs: isinstance(rs, frozenset) and "admit" in rs).astype(bool)
    hits = admits & (part["institution_id"].map(kind_of) == "clinic")
    for iid, line in zip(part.loc[hits, "institution_id"], part.loc[hits, "_line"], strict=True):
        log.add(RowError("partnerships.csv", int(line), "roles",
                               f"institution {iid} is a clinic and cannot admit "
                               "(③ is for hospitals only)", "admit"))


def _codes_only_for(kind: InstitutionKind, designations: object) -> tuple[str, ...]:
    """The codes in a designation set that only an institution of ``kind`` may hold, sorted."""
    if not isinstance(designations, frozenset):
        return ()
    return tuple(code for code in sorted(designations)
                 if (d := DESIGNATIONS.get(code)) is not None and d.kind is kind)


# -- typed region ----------------------------------------------------------------

def _build(t: dict[str, pd.DataFrame], folder: Path, skipped: list[RowError]) -> Region:
    areas = t["areas.csv"].drop(columns="_line").set_index("municipality_code")
    fac = t["facilities.csv"].drop(columns="_line").set_index("facility_id")
    fac["residents"] = fac["residents"].mask(fac["residents"] == 0)  # 0 means unknown
    fac["reported"] = fac["reported"].astype(bool)

    inst = t["institutions.csv"].drop(columns="_line").set_index("institution_id")
    # Blank role flags come from the designations.  Few distinct (kind, designations)
    # combinations: derive each once, not once per row.
    pairs = pd.Series(list(zip(inst["kind"].tolist(), inst["designations"].tolist(), strict=True)),
                      index=inst.index, dtype=object)
    defaults = c.map_distinct(pairs, lambda pair: default_roles(InstitutionKind(pair[0]), pair[1]))
    for role in ROLE_ORDER:
        derived = pd.Series([role in d for d in defaults], index=inst.index, dtype="boolean")
        column = role_column(role)
        inst[column] = inst[column].fillna(derived).astype(bool)
    for spec_col in schema.INSTITUTIONS.columns:
        if not spec_col.required and spec_col.name not in inst.columns:
            inst[spec_col.name] = pd.Series(pd.NA, index=inst.index, dtype="Int64")

    part = t["partnerships.csv"].drop(columns="_line").reset_index(drop=True)
    part["roles"] = c.map_distinct(part["roles"], lambda rs: frozenset(Role(r) for r in rs))

    tt = t.get("travel_times.csv")
    if tt is not None:
        tt = tt.drop(columns="_line").reset_index(drop=True)
        tt["minutes"] = tt["minutes"].astype(float)
    return Region(areas, fac, inst, part, tt, folder, skipped)
