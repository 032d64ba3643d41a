"""Load and validate a region folder.

``load_region(path)`` is strict: any problem raises :class:`RegionValidationError`
listing *every* problem found (file, line, column, value).  ``strict=False`` is
lenient: bad rows are left out and each one is listed in ``region.skipped``,
together with rows that had to go because they referred to a skipped row.
Problems with a whole file (missing file or column) are fatal in both modes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from matching.contract import schema
from matching.contract.errors import RegionValidationError, RowError
from matching.region import Region
from matching.vocabulary import DESIGNATIONS, InstitutionKind, Role, default_roles


def load_region(path: str | Path, *, strict: bool = True) -> Region:
    """Read, validate and type the CSV files of a region folder.

    >>> region = load_region("data/demo")          # doctest: +SKIP
    >>> region.facilities.loc["F0001", "facility_type"]  # doctest: +SKIP
    'tokuyo'
    """
    folder = Path(path)
    if not folder.is_dir():
        raise RegionValidationError([RowError(str(folder), 0, "", "region folder not found")])
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
        bad_lines: dict[str, set[int]] = {}
        for e in errors:
            bad_lines.setdefault(e.file, set()).add(e.row)
        for name, df in tables.items():
            tables[name] = df[~df["_line"].isin(bad_lines.get(name, set()))]
        skipped += errors
        while cascade := _cross_checks(tables, strict=False):  # e.g. area → facility → partnership
            for e in cascade:
                tables[e.file] = tables[e.file][tables[e.file]["_line"] != e.row]
            skipped += cascade

    return _build(tables, folder, sorted(set(skipped)))


# -- reading -----------------------------------------------------------------

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
        header, records, lines = None, [], []
        start = 1
        for row in reader:
            if header is None:
                header = [c.strip() for c in row]
            elif any(cell.strip() for cell in row):
                records.append(row)
                lines.append(start)
            start = reader.line_num + 1
    if header is None:
        return None
    width = len(header)
    cells = [len(r) for r in records]
    records = [(r + [""] * width)[:width] for r in records]  # short rows read as blanks
    df = pd.DataFrame(records, columns=header, dtype=object)
    df["_line"] = lines
    df["_cells"] = cells  # long rows are reported by _parse, not cut silently
    return df


def _parse(df: pd.DataFrame, spec: schema.FileSpec) -> tuple[pd.DataFrame, list[RowError]]:
    errors: list[RowError] = []
    width = len(df.columns) - 2
    for line, n in zip(df["_line"], df["_cells"], strict=True):
        if n > width:
            errors.append(RowError(spec.name, int(line), "", f"row has {n} cells but the header has {width} columns"))
    out = df.drop(columns="_cells")
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        parsed = col.parse(df[col.name].astype(str))
        out[col.name] = parsed.values
        for idx in parsed.bad[parsed.bad].index:
            errors.append(RowError(spec.name, int(df.at[idx, "_line"]), col.name, parsed.message,
                                   str(df.at[idx, col.name])))
    key = list(spec.id_columns)
    dup = out.duplicated(key, keep="first") & (out[key] != "").all(axis=1)
    if dup.any():
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
        bad = ~df[column].isin(valid) & (df[column] != "")
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
    if not strict:
        return errors

    # Designations that belong to the other kind (e.g. 在支診 on a hospital).
    # Plain zips, not iterrows: a national file has tens of thousands of rows.
    for kind, desigs, line in zip(inst_df["kind"], inst_df["designations"], inst_df["_line"], strict=True):
        if not isinstance(desigs, frozenset) or not desigs:
            continue
        for code in sorted(desigs):
            d = DESIGNATIONS.get(code)
            if d is not None and d.kind is not None and kind in ("hospital", "clinic") and d.kind.value != kind:
                errors.append(RowError("institutions.csv", int(line), "designations",
                                       f"designation {code} ({d.name_ja}) is for {d.kind.value}s only, "
                                       f"but kind is {kind}", code))
    clinic_admits = (inst_df["kind"] == "clinic") & (inst_df["admit"] == True)  # noqa: E712 (nullable)
    for idx in clinic_admits[clinic_admits.fillna(False)].index:
        errors.append(RowError("institutions.csv", int(inst_df.at[idx, "_line"]), "admit",
                               "a clinic cannot offer admission (③ 入院受入れ is for hospitals only)", "true"))

    part = t["partnerships.csv"]
    kind_of = inst_df.set_index("institution_id")["kind"]
    kind_of = kind_of[~kind_of.index.duplicated()]
    kinds = kind_of.to_dict()
    for roles, iid, line in zip(part["roles"], part["institution_id"], part["_line"], strict=True):
        if not isinstance(roles, frozenset):
            continue
        # Blank roles are allowed: an agreement that meets none of the requirements
        # (status "none met but designated").
        if "admit" in roles and kinds.get(iid) == "clinic":
            errors.append(RowError("partnerships.csv", int(line), "roles",
                                   f"institution {iid} is a clinic and cannot admit "
                                   "(③ is for hospitals only)", "admit"))
    return errors


# -- typed region ----------------------------------------------------------------

def _build(t: dict[str, pd.DataFrame], folder: Path, skipped: list[RowError]) -> Region:
    areas = t["areas.csv"].drop(columns="_line").set_index("municipality_code")
    fac = t["facilities.csv"].drop(columns="_line").set_index("facility_id")
    fac["residents"] = fac["residents"].mask(fac["residents"] == 0)  # 0 means unknown
    fac["reported"] = fac["reported"].astype(bool)

    inst = t["institutions.csv"].drop(columns="_line").set_index("institution_id")
    # Few distinct (kind, designations) combinations: derive each once, not once per row.
    cache: dict = {}
    defaults = [cache[key] if key in cache else cache.setdefault(key, default_roles(InstitutionKind(key[0]), key[1]))
                for key in zip(inst["kind"], inst["designations"], strict=True)]
    for role, column in (("consult", "consult_24h"), ("visit", "visit_24h"), ("admit", "admit")):
        derived = [Role(role) in d for d in defaults]
        inst[column] = inst[column].fillna(pd.Series(derived, index=inst.index, dtype="boolean")).astype(bool)
    for spec_col in schema.INSTITUTIONS.columns:
        if not spec_col.required and spec_col.name not in inst.columns:
            inst[spec_col.name] = pd.Series(pd.NA, index=inst.index, dtype="Int64")

    part = t["partnerships.csv"].drop(columns="_line").reset_index(drop=True)
    part["roles"] = part["roles"].map(lambda rs: frozenset(Role(r) for r in rs))

    tt = t.get("travel_times.csv")
    if tt is not None:
        tt = tt.drop(columns="_line").reset_index(drop=True)
        tt["minutes"] = tt["minutes"].astype(float)
    return Region(areas, fac, inst, part, tt, folder, skipped)
