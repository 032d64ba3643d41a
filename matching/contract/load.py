"""Load and validate a region folder.

``load_region(path)`` is strict: any problem raises :class:`RegionValidationError`
listing *every* problem found (file, line, column, value).  ``strict=False`` is
lenient: bad rows are left out and each one is listed in ``region.skipped``,
together with rows that had to go because they referred to a skipped row.
Problems with a whole file (missing file or column) are fatal in both modes.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from matching.contract import columns as c
from matching.contract import schema
from matching.contract.errors import RegionValidationError, RowError
from matching.region import Region, role_column
from matching.roles import slot_mask
from matching.vocabulary import DESIGNATIONS, ROLE_ORDER, InstitutionKind, Role, default_roles


def load_region(path: str | Path, *, strict: bool = True) -> Region:
    """Read, validate and type the CSV files of a region folder.

    >>> region = load_region("data/demo")          # doctest: +SKIP
    >>> region.facilities.loc["F0001", "facility_type"]  # doctest: +SKIP
    'tokuyo'
    """
    folder = Path(path)
    if not folder.is_dir():
        raise RegionValidationError([RowError(str(folder), 0, "", "region folder not found")])
    with _gc_paused():
        raw = {spec.name: _read(folder, spec) for spec in schema.FILES}
    fatal = [e for _, errs in raw.values() for e in errs]
    if fatal:
        raise RegionValidationError(fatal)

    errors: list[RowError] = []
    tables: dict[str, pd.DataFrame] = {}
    for spec in schema.FILES:
        df = raw[spec.name][0]
        if df is None:
            continue
        typed, errs = _parse(df, spec)
        tables[spec.name] = typed
        errors += errs

    errors += _cross_checks(tables, strict=True)
    if strict and errors:
        raise RegionValidationError(errors)

    skipped: list[RowError] = []
    if errors:
        # Lenient: drop bad rows, then drop what referred to them, and report both.
        _drop_rows(tables, errors)
        skipped += errors
        while cascade := _cross_checks(tables, strict=False):  # e.g. area → facility → partnership
            _drop_rows(tables, cascade)
            skipped += cascade

    return _build(tables, folder, sorted(set(skipped)))


def _drop_rows(tables: dict[str, pd.DataFrame], errors: list[RowError]) -> None:
    """Leave out of ``tables`` every row an error points at (one filter per file)."""
    bad_lines: dict[str, set[int]] = {}
    for e in errors:
        bad_lines.setdefault(e.file, set()).add(e.row)
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


def _read(folder: Path, spec: schema.FileSpec) -> tuple[pd.DataFrame | None, list[RowError]]:
    file = folder / spec.name
    if not file.exists():
        if spec.required:
            return None, [RowError(spec.name, 0, "", "required file is missing")]
        return None, []
    try:
        df = _read_csv_with_lines(file)
    except UnicodeDecodeError as exc:
        return None, [RowError(spec.name, 0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except csv.Error as exc:
        return None, [RowError(spec.name, 0, "", f"not a readable CSV file: {exc}")]
    if df is None:
        return None, [RowError(spec.name, 0, "", "file is empty (a header row is required)")]
    missing = [col.name for col in spec.columns if col.required and col.name not in df.columns]
    if missing:
        return None, [RowError(spec.name, 0, col, "required column is missing") for col in missing]
    return df, []


def _read_csv_with_lines(file: Path) -> pd.DataFrame | None:
    """All cells as strings, with ``_line`` = the line each record starts on.

    The csv module (not pandas) so that line numbers stay true across blank lines
    and quoted cells that span lines — errors must point where a spreadsheet does.
    """
    with file.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        rows, ends = [], []
        for row in reader:  # keep this loop bare: it runs once per line of a national file
            rows.append(row)
            ends.append(reader.line_num)
    if not rows:
        return None
    header = [cell.strip() for cell in rows[0]]
    width = len(header)
    body = rows[1:]
    # A record starts on the line after the previous one ended (header and blank lines count).
    starts = np.array(ends[:-1], dtype=np.int64) + 1
    # Blank lines (every cell blank) are not records; map() keeps these per-row steps in C.
    kept = np.flatnonzero(list(map(bool, map(str.strip, map("".join, body)))))
    if len(kept) < len(body):
        body = [body[i] for i in kept]
    cells = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    for i in np.flatnonzero(cells != width):
        body[i] = (body[i] + [""] * width)[:width]  # short rows read as blanks, long ones are cut...
    df = pd.DataFrame(body, columns=header, dtype=object)
    df["_line"] = starts[kept]
    df["_cells"] = cells  # ...and reported by _parse, not cut silently
    return df


def _parse(df: pd.DataFrame, spec: schema.FileSpec) -> tuple[pd.DataFrame, list[RowError]]:
    """Type every column of one file; every bad cell, long row and duplicate id is a RowError."""
    errors: list[RowError] = []
    width = len(df.columns) - 2
    long = df[df["_cells"] > width]
    for line, n in zip(long["_line"], long["_cells"], strict=True):
        errors.append(RowError(spec.name, int(line), "", f"row has {n} cells but the header has {width} columns"))
    out = df.drop(columns="_cells")
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        parsed = c.parse_distinct(col.parse, df[col.name].astype(str))
        out[col.name] = parsed.values
        for idx in parsed.bad[parsed.bad].index:
            errors.append(RowError(spec.name, int(df.at[idx, "_line"]), col.name, parsed.message,
                                   str(df.at[idx, col.name])))
    key = list(spec.id_columns)
    dup = out.duplicated(key, keep="first")
    if dup.any():
        dup &= (out[key] != "").all(axis=1)  # blank ids are reported as blank, not as repeats
        first_line = out.drop_duplicates(key).set_index(key)["_line"]
        for idx in dup[dup].index:
            k = tuple(out.loc[idx, key]) if len(key) > 1 else out.at[idx, key[0]]
            errors.append(RowError(spec.name, int(out.at[idx, "_line"]), "/".join(key),
                                   f"duplicate {'/'.join(key)}, first seen on line {int(first_line.loc[k])}",
                                   str(k if len(key) == 1 else "/".join(k))))
    return out, errors


# -- rules that span columns or files ------------------------------------------

def _cross_checks(t: dict[str, pd.DataFrame], *, strict: bool) -> list[RowError]:
    """Errors that involve more than one cell.

    With ``strict=False`` this runs on already-cleaned tables and only finds rows
    whose reference was skipped; the message then says so.
    """
    errors: list[RowError] = []
    skipped_note = "" if strict else " (that row was skipped)"

    def refs(name: str, column: str, valid: pd.Index, what: str):
        df = t.get(name)
        if df is None:
            return
        bad = ~df[column].isin(valid)
        if bad.any():
            bad &= df[column] != ""  # a blank reference is reported by its own column's rule
        for idx in bad[bad].index:
            errors.append(RowError(name, int(df.at[idx, "_line"]), column,
                                   f"unknown {what}{skipped_note}", str(df.at[idx, column])))

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
    refs("availability.csv", "institution_id", inst, "institution_id (not in institutions.csv)")
    if not strict:
        return errors
    avail = t.get("availability.csv")
    if avail is not None:  # a row says when the role is offered: at least one slot
        for idx in avail.index[avail["slots"].map(lambda s: isinstance(s, frozenset) and not s)]:
            errors.append(RowError("availability.csv", int(avail.at[idx, "_line"]), "slots",
                                   "at least one time slot is required (leave the row out for none)", ""))

    # Designations that belong to the other kind (e.g. 在支診 on a hospital).
    # Worked out once per distinct designation set, then matched to the rows' kind.
    for kind, other in ((InstitutionKind.HOSPITAL, InstitutionKind.CLINIC),
                        (InstitutionKind.CLINIC, InstitutionKind.HOSPITAL)):
        foreign = c.map_distinct(inst_df["designations"], partial(_codes_only_for, other))
        hits = (inst_df["kind"] == kind.value) & foreign.astype(bool)
        for line, codes in zip(inst_df.loc[hits, "_line"], foreign[hits], strict=True):
            for code in codes:
                errors.append(RowError("institutions.csv", int(line), "designations",
                                       f"designation {code} ({DESIGNATIONS[code].name_ja}) is for "
                                       f"{other.value}s only, but kind is {kind.value}", code))
    clinic_admits = (inst_df["kind"] == "clinic") & (inst_df["admit"] == True)  # noqa: E712 (nullable)
    for idx in clinic_admits[clinic_admits.fillna(False)].index:
        errors.append(RowError("institutions.csv", int(inst_df.at[idx, "_line"]), "admit",
                               "a clinic cannot offer admission (③ 入院受入れ is for hospitals only)", "true"))

    # Blank roles are allowed: an agreement that meets none of the requirements
    # (status "none met but designated").  Admission from a clinic is not.
    part = t["partnerships.csv"]
    kind_of = inst_df.set_index("institution_id")["kind"]
    kind_of = kind_of[~kind_of.index.duplicated()]
    admits = c.map_distinct(part["roles"], lambda rs: isinstance(rs, frozenset) and "admit" in rs).astype(bool)
    hits = admits & (part["institution_id"].map(kind_of) == "clinic")
    for iid, line in zip(part.loc[hits, "institution_id"], part.loc[hits, "_line"], strict=True):
        errors.append(RowError("partnerships.csv", int(line), "roles",
                               f"institution {iid} is a clinic and cannot admit "
                               "(③ is for hospitals only)", "admit"))
    return errors


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
    avail = t.get("availability.csv")
    if avail is not None:
        avail = avail.drop(columns="_line").reset_index(drop=True)
        avail["slots"] = avail["slots"].map(slot_mask).astype(np.int64)
    return Region(areas, fac, inst, part, tt, folder, skipped, avail)
