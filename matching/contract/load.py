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
from matching.contract.scope import SCOPE_FILE, RegionScope
from matching.contract.tablefile import TableError, duplicated, open_table
from matching.region import Region, role_column
from matching.roles import slot_mask
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
        ja = "地域フォルダではなくファイルです" if folder.exists() else "地域フォルダが見つかりません"
        raise RegionValidationError([RowError(str(folder), 0, "", what, ja=f"{ja}: {folder}")])
    notes: list[str] = []
    log = ErrorLog()
    fatal: list[RowError] = []
    try:
        scope = RegionScope.read(folder)
    except ValueError as exc:
        raise RegionValidationError([RowError(SCOPE_FILE, 0, "", str(exc), ja=f"{SCOPE_FILE} を読めません: {exc}")]) \
            from None
    tables: dict[str, pd.DataFrame] = {}
    with _gc_paused():
        for spec in schema.FILES:
            df, errs = _read(folder, spec, notes, log, strict)
            fatal += errs
            if df is not None:
                tables[spec.name] = df
    if fatal:
        raise RegionValidationError(fatal)
    stopped = [e for e in log.listed if e.row == 0]
    if stopped:  # a file with too many problems was not read to its end: cross-checks would be noise
        raise RegionValidationError(log.listed, log.omitted)

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
    region.scope = scope
    if scope.note:
        notes.insert(0, scope.note)
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


#: Rows read, typed and checked at a time: a file is streamed, and in strict mode reading stops
#: once a chunk has taken its file past the listed errors (junk is answered after one chunk).
CHUNK_ROWS = 50_000


def _read(folder: Path, spec: schema.FileSpec, notes: list[str], log: ErrorLog,
          strict: bool) -> tuple[pd.DataFrame | None, list[RowError]]:
    """The typed table of ``spec`` (row errors in ``log``), or the file-level errors."""
    source = _source(folder, spec)
    if source is None:
        if spec.required:
            stem = spec.name.removesuffix(".csv")
            return None, [RowError(spec.name, 0, "", "required file is missing",
                                   ja=f"必要なファイル {spec.name}（または {stem}.xlsx）がありません")]
        return None, []
    try:
        table = open_table(*source)
        errors = _header_errors(spec, table.header)
        if errors:
            table.close()
            return None, errors
        if table.encoding not in ("UTF-8", "UTF-8 (BOM)"):
            notes.append(f"{table.described} として読みました")
        return _parse_stream(table, spec, log, notes, strict), []
    except TableError as exc:
        detail = str(exc).removeprefix(f"{source[0].name}: ")
        return None, [RowError(spec.name, 0, "", detail, ja=exc.ja)]


def _header_errors(spec: schema.FileSpec, header: list[str]) -> list[RowError]:
    """Repeated or missing columns: checked before any row is read."""
    dup = duplicated(header)
    if dup:
        return [RowError(spec.name, 0, col, "column appears more than once in the header",
                         ja=f"{spec.name} の見出しに同じ列名 {col} が複数あります") for col in dup]
    missing = [col.name for col in spec.columns if col.required and col.name not in header]
    return [RowError(spec.name, 0, col, "required column is missing",
                     ja=f"{spec.name} に必要な列 {col} がありません（見出し行を確認してください）")
            for col in missing]


def _parse_stream(table, spec: schema.FileSpec, log: ErrorLog, notes: list[str], strict: bool) -> pd.DataFrame:
    """Read, type and check ``table`` chunk by chunk; duplicate ids are checked on the whole."""
    from itertools import islice

    chunks: list[pd.DataFrame] = []
    fixed: dict[str, list] = {}  # column -> [count, first line, value before, value after, note]
    while True:
        part = list(islice(table.rows, CHUNK_ROWS))
        df = _frame(table.header, part, table.encoding == "xlsx")
        chunks.append(_parse(df, spec, log, fixed))
        if len(part) < CHUNK_ROWS:
            break
        if strict and log.count.get(spec.name, 0) > log.limit:
            last = int(df["_line"].iloc[-1]) if len(df) else 0
            log.listed.append(RowError(spec.name, 0, "", f"too many problems: reading stopped after line {last}",
                                       ja=f"{spec.name} は誤りが多いため {last} 行目までで確認を打ち切りました"))
            table.close()
            break
    for col, (n, line, before, after, note) in fixed.items():
        notes.append(f"{spec.name} の {col}: {note}（{n} 件、{line} 行目 {before} → {after} など）")
    out = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    _duplicates(out, spec, log)
    return out


def _frame(header: list[str], part: list[tuple[int, list[str]]], xlsx: bool) -> pd.DataFrame:
    """All cells as strings, with ``_line`` = the line each record starts on and ``_cells``.

    Line numbers come from the reader (csv module, not pandas), so they stay true across blank
    lines and quoted cells that span lines — errors must point where a spreadsheet does.
    """
    width = len(header)
    starts = np.fromiter((start for start, _ in part), dtype=np.int64, count=len(part))
    body = [row for _, row in part]
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
        if xlsx:  # ...but empty cells right of the header are no cells at all
            cells[i] = len(body[i]) - len(_trailing_blanks(body[i]))
        body[i] = row
    df = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(
        {h: pd.Series(dtype=object) for h in header})
    df["_line"] = starts[kept]
    df["_cells"] = cells
    return df


def _read_table(file: Path, sheet: str | None = None):
    """The raw cells of a whole table (as :func:`_frame` gives them) and the table read."""
    table = open_table(file, sheet)
    header = table.header
    if len(set(header)) < len(header):  # a frame needs unique names
        header = [f"{h}\x00{k}" for k, h in enumerate(header)]
    return _frame(header, list(table.rows), table.encoding == "xlsx"), table


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


def _parse(df: pd.DataFrame, spec: schema.FileSpec, log: ErrorLog, fixed: dict[str, list]) -> pd.DataFrame:
    """Type every column of one chunk; every bad cell and long row goes to ``log``."""
    width = len(df.columns) - 2
    long = df[df["_cells"] > width]
    if len(long):
        first = long.iloc[: log.limit]
        for line, n in zip(first["_line"], first["_cells"], strict=True):
            log.add(RowError.located(spec.name, int(line), "", f"row has {n} cells but the header has {width} columns",
                                     "", f"セルが {n} 個あり、見出しの {width} 列より多くなっています"
                                     "（区切りのずれ・余分なカンマ）"))
        log.add_cells(spec.name, long["_line"].iloc[log.limit:], "", "row has more cells than the header",
                      long["_line"].iloc[log.limit:], ja="セルが見出しの列数より多くなっています")
    out = df.drop(columns="_cells")
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        parsed = c.parse_distinct(col.parse, df[col.name].astype(str))
        out[col.name] = parsed.values
        bad = parsed.bad.to_numpy(dtype=bool)
        if bad.any():
            log.add_cells(spec.name, df["_line"].to_numpy()[bad], col.name, parsed.message,
                          df[col.name].to_numpy()[bad], ja=parsed.message_ja, label=col.label_ja)
        if parsed.fixed is not None:
            mask = parsed.fixed.to_numpy(dtype=bool)
            if mask.any():
                seen = fixed.setdefault(col.name, [0, int(df["_line"].to_numpy()[mask][0]),
                                                   str(df[col.name].to_numpy()[mask][0]).strip(),
                                                   parsed.values.to_numpy()[mask][0], parsed.note])
                seen[0] += int(mask.sum())
    return out


def _duplicates(out: pd.DataFrame, spec: schema.FileSpec, log: ErrorLog) -> None:
    """Every repeated id of a whole table goes to ``log``."""
    key = list(spec.id_columns)
    dup = out.duplicated(key, keep="first")
    if dup.any():
        dup &= (out[key] != "").all(axis=1)  # blank ids are reported as blank, not as repeats
        first_line = out.drop_duplicates(key).set_index(key)["_line"]
        idxs = dup[dup].index
        for idx in idxs[: log.limit]:
            k = tuple(out.loc[idx, key]) if len(key) > 1 else out.at[idx, key[0]]
            line, first, value = int(out.at[idx, "_line"]), int(first_line.loc[k]), str(k if len(key) == 1 else "/".join(k))
            log.add(RowError.located(spec.name, line, "/".join(key),
                                     f"duplicate {'/'.join(key)}, first seen on line {first}", value,
                                     f"{'/'.join(key)} が重複しています（最初は {first} 行目）"))
        rest = idxs[log.limit:]
        log.add_cells(spec.name, out.loc[rest, "_line"], "/".join(key), f"duplicate {'/'.join(key)}",
                      out.loc[rest, key[0]].to_numpy(), ja=f"{'/'.join(key)} が重複しています")


# -- rules that span columns or files ------------------------------------------

def _cross_checks(t: dict[str, pd.DataFrame], log: ErrorLog, *, strict: bool) -> None:
    """Errors that involve more than one cell.

    With ``strict=False`` this runs on already-cleaned tables and only finds rows
    whose reference was skipped; the message then says so.
    """
    skipped_note = "" if strict else " (that row was skipped)"
    skipped_ja = "" if strict else "（参照先の行は誤りのため読み飛ばしました）"

    def refs(name: str, column: str, valid: pd.Index, target: str):
        """Cells of ``name``.``column`` that are not ids of ``target``."""
        df = t.get(name)
        if df is None:
            return
        bad = ~df[column].isin(valid)
        if bad.any():
            bad &= df[column] != ""  # a blank reference is reported by its own column's rule
        if bad.any():
            spec = next(f for f in schema.FILES if f.name == name)
            log.add_cells(name, df.loc[bad, "_line"].to_numpy(), column,
                          f"unknown {column} (not in {target}){skipped_note}", df.loc[bad, column].to_numpy(),
                          ja=f"{target} にない値です{skipped_ja}", label=schema.column(spec, column).label_ja)

    areas = pd.Index(t["areas.csv"]["municipality_code"])
    fac = pd.Index(t["facilities.csv"]["facility_id"])
    inst_df = t["institutions.csv"]
    inst = pd.Index(inst_df["institution_id"])
    refs("facilities.csv", "municipality_code", areas, "areas.csv")
    refs("institutions.csv", "municipality_code", areas, "areas.csv")
    refs("partnerships.csv", "facility_id", fac, "facilities.csv")
    refs("partnerships.csv", "institution_id", inst, "institutions.csv")
    refs("travel_times.csv", "facility_id", fac, "facilities.csv")
    refs("travel_times.csv", "institution_id", inst, "institutions.csv")
    refs("availability.csv", "institution_id", inst, "institutions.csv")
    if not strict:
        return
    avail = t.get("availability.csv")
    if avail is not None:  # a row says when the role is offered: at least one slot
        empty = avail["slots"].map(lambda s: isinstance(s, frozenset) and not s)
        if empty.any():
            log.add_cells("availability.csv", avail.loc[empty, "_line"].to_numpy(), "slots",
                          "at least one time slot is required (leave the row out for none)",
                          avail.loc[empty, "slots"].map(lambda s: "").to_numpy(),
                          ja="時間帯を 1 つ以上書いてください（提供しない役割は行ごと省きます）")

    # Designations that belong to the other kind (e.g. 在支診 on a hospital).
    # Worked out once per distinct designation set, then matched to the rows' kind.
    for kind, other in ((InstitutionKind.HOSPITAL, InstitutionKind.CLINIC),
                        (InstitutionKind.CLINIC, InstitutionKind.HOSPITAL)):
        foreign = c.map_distinct(inst_df["designations"], partial(_codes_only_for, other))
        hits = (inst_df["kind"] == kind.value) & foreign.astype(bool)
        for line, codes in zip(inst_df.loc[hits, "_line"], foreign[hits], strict=True):
            for code in codes:
                log.add(RowError.located("institutions.csv", int(line), "designations",
                                         f"designation {code} ({DESIGNATIONS[code].name_ja}) is for "
                                         f"{other.value}s only, but kind is {kind.value}", code,
                                         f"{DESIGNATIONS[code].name_ja}（{code}）は{other.label_ja}の届出ですが、"
                                         f"種別（kind）が{kind.label_ja}です"))
    clinic_admits = (inst_df["kind"] == "clinic") & (inst_df["admit"] == True)  # noqa: E712 (nullable)
    for idx in clinic_admits[clinic_admits.fillna(False)].index:
        log.add(RowError.located("institutions.csv", int(inst_df.at[idx, "_line"]), "admit",
                                 "a clinic cannot offer admission (③ 入院受入れ is for hospitals only)", "true",
                                 "診療所は③入院受入れを提供できません（病院のみ）"))

    # Blank roles are allowed: an agreement that meets none of the requirements
    # (status "none met but designated").  Admission from a clinic is not.
    part = t["partnerships.csv"]
    kind_of = inst_df.set_index("institution_id")["kind"]
    kind_of = kind_of[~kind_of.index.duplicated()]
    admits = c.map_distinct(part["roles"], lambda rs: isinstance(rs, frozenset) and "admit" in rs).astype(bool)
    hits = admits & (part["institution_id"].map(kind_of) == "clinic")
    for iid, line in zip(part.loc[hits, "institution_id"], part.loc[hits, "_line"], strict=True):
        log.add(RowError.located("partnerships.csv", int(line), "roles",
                                 f"institution {iid} is a clinic and cannot admit (③ is for hospitals only)", "admit",
                                 f"{iid} は診療所のため③入院受入れの協定にはできません（病院のみ）"))


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
    for spec, table in ((schema.INSTITUTIONS, inst), (schema.FACILITIES, fac)):
        for spec_col in spec.columns:  # optional columns a file leaves out: blank
            if not spec_col.required and spec_col.name not in table.columns:
                blank_text = spec_col.type.kind == "text"
                table[spec_col.name] = pd.Series("" if blank_text else pd.NA, index=table.index,
                                                 dtype=object if blank_text else
                                                 "Float64" if spec_col.type.kind == "float" else "Int64")

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
