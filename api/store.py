"""Moving regions between the data contract (CSV folders) and the database.

Import is all-or-nothing: the folder is validated with the contract's loader
first (every bad row reported), then written in one transaction.  Export writes
a region folder the library can load, so matching runs in the service use
exactly the same code path as the CLI.

Both go column by column through the data contract (``matching/contract/schema.py``):
every column of a record is imported and exported, with no list of columns here.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import audit
from api.capacity import COLUMNS as CAPACITY_COLUMNS
from api.capacity import held, shortfalls
from api.models import (
    Area,
    Availability,
    Facility,
    ForbiddenPair,
    Institution,
    Partnership,
    Proposal,
)
from matching.contract import load_region
from matching.contract.load import _read_csv_with_lines
from matching.contract.schema import (
    AREAS,
    AVAILABILITY,
    CAPACITY_UNITS,
    FACILITIES,
    INSTITUTIONS,
    PARTNERSHIPS,
    Column,
    FileSpec,
    capacity_column,
)
from matching.contract.schema import (
    column as contract_column,
)
from matching.parameters import Pair
from matching.region import Region
from matching.roles import slots_of
from matching.vocabulary import ROLE_ORDER, Role

log = logging.getLogger("api.store")


class ScopeError(PermissionError):
    """Rows of the folder lie outside the importing user's prefecture; ``rows`` lists every one."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        super().__init__(f"{len(rows)} row(s) outside your prefecture: "
                         + "; ".join(f"{r['file']} line {r['row']} {r['column']}={r['value']}" for r in rows[:10]))


class CapacityConflict(ValueError):
    """Rows would set an institution's spare capacity below what accepted proposals reserved."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        super().__init__("; ".join(r["message"] for r in rows[:10]))


_CHUNK = 900  # ids per IN (...) query: below SQLite's variable limit


def _existing(session: Session, model, key, ids: list[str]) -> dict:
    out = {}
    for k in range(0, len(ids), _CHUNK):
        for obj in session.scalars(select(model).where(key.in_(ids[k:k + _CHUNK]))):
            out[getattr(obj, key.key)] = obj
    return out


def _lines(folder: Path, name: str, key: str | tuple[str, ...]) -> dict:
    """The line of each record's ``key`` in ``name`` (as a spreadsheet counts: header = 1); a
    tuple of columns (``availability.csv``: institution and role) gives tuples of values."""
    df = _read_csv_with_lines(folder / name)
    columns = (key,) if isinstance(key, str) else key
    if df is None or any(c not in df.columns for c in columns):
        return {}
    keys = zip(*(df[c].map(lambda v: str(v).strip()) for c in columns), strict=True)
    return {(k if isinstance(key, tuple) else k[0]): int(line) for k, line in zip(keys, df["_line"], strict=True)}


def _scope_violations(session: Session, folder: Path, region: Region, prefecture_code: str,
                      areas: dict, facilities: dict, institutions: dict) -> list[dict]:
    """Every row that would write outside ``prefecture_code`` (empty when the import is in scope)."""
    bad: list[tuple] = []  # file, key column(s), id, column, value, message
    for code, a in region.areas.iterrows():
        if a["prefecture_code"] != prefecture_code:
            bad.append(("areas.csv", "municipality_code", code, "prefecture_code", a["prefecture_code"],
                        f"市区町村 {code} は担当都道府県 {prefecture_code} のものではありません"))
        elif code in areas and areas[code].prefecture_code != prefecture_code:
            bad.append(("areas.csv", "municipality_code", code, "municipality_code", code,
                        f"市区町村 {code} は既に都道府県 {areas[code].prefecture_code} に登録されています"
                        "（他の都道府県の区域は変更できません）"))
    own = set(session.scalars(select(Area.municipality_code).where(Area.prefecture_code == prefecture_code)))
    own |= {c for c, a in region.areas.iterrows() if a["prefecture_code"] == prefecture_code and c not in areas}
    for name, table, existing, key, what in (
            ("facilities.csv", region.facilities, facilities, "facility_id", "施設"),
            ("institutions.csv", region.institutions, institutions, "institution_id", "医療機関")):
        for obj_id, code in table["municipality_code"].items():
            if code not in own:
                bad.append((name, key, obj_id, "municipality_code", code,
                            f"{what} {obj_id} の市区町村 {code} は担当都道府県 {prefecture_code} の区域外です"))
            old = existing.get(obj_id)
            if old is not None and old.municipality_code not in own:
                bad.append((name, key, obj_id, key, obj_id,
                            f"{what} ID {obj_id} は担当区域外（市区町村 {old.municipality_code}）に既に存在します"))
    # A time slot is a fact about its institution: a row of an institution outside the prefecture is
    # refused like the institution's own row (listed too, so every offending line is named).
    outside = {obj_id for file, _, obj_id, *_ in bad if file == "institutions.csv"}
    if region.availability is not None:
        for iid, role in region.availability[["institution_id", "role"]].itertuples(index=False):
            if iid in outside:
                bad.append((AVAILABILITY.name, ("institution_id", "role"), (iid, role), "institution_id", iid,
                            f"医療機関 {iid} は担当区域外のため、{Role(role).mark}の対応時間帯は取り込めません"))
    rows = []
    lines: dict[str, dict[str, int]] = {}
    for file, key, obj_id, column, value, message in bad:
        if file not in lines:
            lines[file] = _lines(folder, file, key)
        at = obj_id if isinstance(obj_id, tuple) else str(obj_id)
        rows.append({"file": file, "row": lines[file].get(at, 0), "column": column,
                     "value": str(value), "message": message})
    return sorted(rows, key=lambda r: (r["file"], r["row"], r["column"]))


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _to_db(col: Column, v):
    """A loaded cell as the database holds it (blank → None; code lists as ``;``-separated text
    in the order of the contract's choices)."""
    vt = col.type
    if vt.kind == "codes":
        return ";".join(code for code in vt.choices if code in v)
    if pd.isna(v):
        return None
    return {"int": int, "float": float, "bool": bool}.get(vt.kind, str)(_plain(v))


def _record(spec: FileSpec, row) -> dict:
    """The database values of one loaded row: every contract column but the ids."""
    return {col.name: _to_db(col, row[col.name]) for col in spec.columns if col.name not in spec.id_columns}


def _given_columns(folder: Path, spec: FileSpec) -> set[str] | None:
    """The columns the uploaded file has (``None``: not known, treat every column as given)."""
    from matching.contract.load import _source
    from matching.contract.tablefile import open_table

    found = _source(folder, spec)
    if found is None:
        return None
    try:
        table = open_table(*found)
    except Exception:  # unreadable: the loader has already said why
        return None
    try:
        return {str(c).strip() for c in table.header}
    finally:
        table.close()


def _upsert(session: Session, model, existing: dict, key: str, rows: dict[str, dict],
            created: list, changed: dict, given: set[str] | None = None, **defaults) -> None:
    """Create or update ``rows`` (id → column values); note the ids created and the changed columns.

    An existing row keeps the columns the file does not have (``given``): an older file without,
    say, the per-role capacities does not blank them."""
    for obj_id, values in rows.items():
        values = {k: _plain(v) for k, v in values.items()}
        old = existing.get(obj_id)
        if old is None:
            session.add(model(**{key: obj_id}, **values, **defaults))
            created.append(obj_id)
            continue
        if given is not None:
            values = {k: v for k, v in values.items() if k in given}
        diff = {k: v for k, v in values.items() if getattr(old, k) != v}
        if diff:
            changed[obj_id] = {"before": {k: getattr(old, k) for k in diff}, "after": diff}
            for k, v in diff.items():
                setattr(old, k, v)


def import_region(session: Session, folder: str | Path, user_id: int | None = None,
                  prefecture_code: str | None = None, source: str | None = None) -> dict[str, int]:
    """Validate ``folder`` strictly and upsert it; the caller commits (or rolls back).

    Raises :class:`matching.contract.RegionValidationError` with every bad row, or
    :class:`ScopeError` when ``prefecture_code`` is given and any row would write outside
    that prefecture: an area of another prefecture (or an existing one registered there),
    a facility or institution in a municipality outside it, or an id that already exists
    outside it.  Nothing is written then.  The audit entry names every id created and
    every column changed (before/after).
    """
    folder = Path(folder)
    region = load_region(folder, strict=True)
    areas = _existing(session, Area, Area.municipality_code, list(region.areas.index))
    facilities = _existing(session, Facility, Facility.facility_id, list(region.facilities.index))
    institutions = _existing(session, Institution, Institution.institution_id, list(region.institutions.index))
    if prefecture_code is not None:
        rows = _scope_violations(session, folder, region, prefecture_code, areas, facilities, institutions)
        if rows:
            raise ScopeError(rows)
    conflicts = []
    for iid, i in region.institutions.iterrows():
        old = institutions.get(iid)
        if old is not None:  # capacity below what accepted proposals hold (in total or per role)
            capacities = {name: None if pd.isna(i.get(name)) else int(i[name]) for name in CAPACITY_COLUMNS}
            conflicts += [{"file": "institutions.csv", "institution_id": iid, "column": c["column"],
                           "value": str(c["value"]), "message": c["message"]}
                          for c in shortfalls(iid, capacities, held(session, old))]
    if conflicts:
        lines = _lines(folder, "institutions.csv", "institution_id")
        raise CapacityConflict([{"row": lines.get(r["institution_id"], 0), **r} for r in conflicts])
    created: dict[str, list] = {"areas": [], "facilities": [], "institutions": [], "partnerships": [],
                                "availability": []}
    changed: dict[str, dict] = {"areas": {}, "facilities": {}, "institutions": {}, "partnerships": {},
                                "availability": {}}
    _upsert(session, Area, areas, "municipality_code",
            {code: _record(AREAS, a) for code, a in region.areas.iterrows()},
            created["areas"], changed["areas"], _given_columns(folder, AREAS))
    session.flush()
    _upsert(session, Facility, facilities, "facility_id",
            {fid: _record(FACILITIES, f) for fid, f in region.facilities.iterrows()},
            created["facilities"], changed["facilities"], _given_columns(folder, FACILITIES))
    _upsert(session, Institution, institutions, "institution_id",
            {iid: _record(INSTITUTIONS, i) for iid, i in region.institutions.iterrows()},
            created["institutions"], changed["institutions"], _given_columns(folder, INSTITUTIONS),
            reserved_facilities=0, reserved_residents=0)
    session.flush()
    fac_ids = sorted(set(region.partnerships["facility_id"]))
    current = {}
    for k in range(0, len(fac_ids), _CHUNK):
        for row in session.scalars(select(Partnership).where(Partnership.facility_id.in_(fac_ids[k:k + _CHUNK]))):
            current[(row.facility_id, row.institution_id)] = row
    for p in region.partnerships.itertuples(index=False):
        values = _record(PARTNERSHIPS, p._asdict())
        row = current.get((p.facility_id, p.institution_id))
        pair = f"{p.facility_id}|{p.institution_id}"
        if row is None:
            row = Partnership(facility_id=p.facility_id, institution_id=p.institution_id, **values)
            session.add(row)
            current[(p.facility_id, p.institution_id)] = row
            created["partnerships"].append(pair)
            continue
        diff = {k: v for k, v in values.items() if getattr(row, k) != v}
        if diff:
            changed["partnerships"][pair] = {"before": {k: getattr(row, k) for k in diff}, "after": diff}
            for k, v in diff.items():
                setattr(row, k, v)
    counts = {"areas": len(region.areas), "facilities": len(region.facilities),
              "institutions": len(region.institutions), "partnerships": len(region.partnerships),
              "availability": 0}
    removed: dict[str, list] = {"availability": []}
    if region.availability is not None:
        counts["availability"] = len(region.availability)
        _import_availability(session, region, created, changed, removed)
    audit.record(session, user_id, "import", "import", source or str(folder), None,
                 {"counts": counts, "created": created, "changed": changed, "removed": removed})
    session.flush()
    return counts


def _import_availability(session: Session, region: Region, created: list, changed: dict,
                         removed: dict) -> None:
    """Store ``availability.csv``: it states the time slots of every institution of the import's
    ``institutions.csv`` — a row is created or changed, and a stored row of such an institution
    that the file no longer has is removed (the institution keeps its yes/no flag again), so the
    service holds what the folder says and its runs match the CLI's on the same files.  Institutions
    not in the import keep their rows; an import without the file changes no time slot."""
    ids = list(region.institutions.index)
    stored: dict[tuple[str, str], Availability] = {}
    for k in range(0, len(ids), _CHUNK):
        for row in session.scalars(select(Availability).where(Availability.institution_id.in_(ids[k:k + _CHUNK]))):
            stored[(row.institution_id, row.role)] = row
    given = set()
    for a in region.availability.itertuples(index=False):
        key = (a.institution_id, a.role)
        given.add(key)
        slots = _to_db(contract_column(AVAILABILITY, "slots"), slots_of(a.slots))
        row, name = stored.get(key), f"{a.institution_id}|{a.role}"
        if row is None:
            session.add(Availability(institution_id=a.institution_id, role=a.role, slots=slots))
            created["availability"].append(name)
        elif row.slots != slots:
            changed["availability"][name] = {"before": {"slots": row.slots}, "after": {"slots": slots}}
            row.slots = slots
    for key in sorted(set(stored) - given):
        session.delete(stored[key])
        removed["availability"].append(f"{key[0]}|{key[1]}")


def _cell(col: Column, v) -> object:
    """A database value as a contract CSV cell (None → blank; a count never below its minimum,
    so a read does not fail on one bad number)."""
    if v is None:
        return ""
    vt = col.type
    if vt.kind == "bool":
        return "true" if v else "false"
    if vt.kind == "int" and vt.minimum is not None:
        return max(int(vt.minimum), v)
    return v


def _rows(spec: FileSpec, objects, adjust=None) -> list[list]:
    """One CSV row per database object, every column of the contract in its order."""
    rows = []
    for obj in objects:
        values = {col.name: getattr(obj, col.name) for col in spec.columns}
        if adjust is not None:
            adjust(obj, values)
        rows.append([_cell(col, values[col.name]) for col in spec.columns])
    return rows


def export_region(session: Session, folder: str | Path, prefecture_code: str | None = None,
                  for_matching: bool = False) -> list[tuple[str, str]]:
    """Write the region (one prefecture, or everything) as a contract folder.

    With ``for_matching``: spare capacity is what is left after accepted proposals'
    reservations, and accepted proposals count as agreements (their roles are no
    longer missing, and they are kept — the coordinators' decisions are pinned).
    Returns the forbidden (declined) pairs for the run's parameters.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    q = select(Area)
    if prefecture_code:
        q = q.where(Area.prefecture_code == prefecture_code)
    areas = session.scalars(q.order_by(Area.municipality_code)).all()
    codes = {a.municipality_code for a in areas}
    # Facilities waiting for a prefecture's confirmation are not matched (api.placement).
    facilities = [f for f in session.scalars(select(Facility).order_by(Facility.facility_id))
                  if f.municipality_code in codes and (f.confirmed or not for_matching)]
    institutions = [i for i in session.scalars(select(Institution).order_by(Institution.institution_id))
                    if i.municipality_code in codes]
    fac_ids = {f.facility_id for f in facilities}
    inst_ids = {i.institution_id for i in institutions}
    agreements: dict[tuple[str, str], set[Role]] = {}
    signed: dict[tuple[str, str], Partnership] = {}
    for p in session.scalars(select(Partnership).order_by(Partnership.id)):
        if p.facility_id in fac_ids and p.institution_id in inst_ids:
            signed[(p.facility_id, p.institution_id)] = p
            agreements.setdefault((p.facility_id, p.institution_id), set()).update(
                Role(r) for r in p.roles.split(";") if r)
    if for_matching:
        for p in session.scalars(select(Proposal).where(Proposal.state == "accepted")):
            if p.facility_id in fac_ids and p.institution_id in inst_ids:
                agreements.setdefault((p.facility_id, p.institution_id), set()).update(
                    Role(r) for r in p.roles.split(";") if r)

    # For matching: spare capacity is what accepted proposals have not reserved — in all (the
    # institution's counters) and per role (the accepted proposals that include the role).
    reserved: dict[tuple[str, str], int] = {}
    if for_matching:
        for p in session.scalars(select(Proposal).where(Proposal.state == "accepted")):
            if p.institution_id in inst_ids:
                for r in {Role(r) for r in p.roles.split(";") if r}:
                    for unit, amount in (("facilities", int(p.reserved_facility)), ("residents", p.reserved_residents)):
                        key = (p.institution_id, capacity_column(unit, r))
                        reserved[key] = reserved.get(key, 0) + amount

    def spare(i: Institution, values: dict) -> None:
        for unit in CAPACITY_UNITS:
            total = capacity_column(unit)
            if values[total] is not None:
                values[total] = max(0, values[total]) - getattr(i, f"reserved_{unit}")
            for role in ROLE_ORDER:
                column = capacity_column(unit, role)
                if values[column] is not None:
                    values[column] = max(0, values[column]) - reserved.get((i.institution_id, column), 0)

    header = lambda spec: [c.name for c in spec.columns]  # noqa: E731
    _write(folder / AREAS.name, header(AREAS), _rows(AREAS, areas))
    _write(folder / FACILITIES.name, header(FACILITIES), _rows(FACILITIES, facilities))
    _write(folder / INSTITUTIONS.name, header(INSTITUTIONS),
           _rows(INSTITUTIONS, institutions, spare if for_matching else None))
    # Partnerships: the agreements (and, for matching, the accepted proposals) merged per pair.
    roles = contract_column(PARTNERSHIPS, "roles")
    pairs = []
    for (f, i), r in sorted(agreements.items()):
        row = signed.get((f, i))
        values = {c.name: None if row is None else getattr(row, c.name) for c in PARTNERSHIPS.columns}
        pairs.append(SimpleNamespace(**{**values, "facility_id": f, "institution_id": i, "roles": _to_db(roles, r)}))
    _write(folder / PARTNERSHIPS.name, header(PARTNERSHIPS), _rows(PARTNERSHIPS, pairs))
    # Time slots of the institutions written (left out when there are none: the region then has
    # no availability.csv, as a folder without time slots).
    slots = [a for a in session.scalars(select(Availability).order_by(Availability.institution_id, Availability.role))
             if a.institution_id in inst_ids]
    if slots:
        _write(folder / AVAILABILITY.name, header(AVAILABILITY), _rows(AVAILABILITY, slots))
    forbidden = [(p.facility_id, p.institution_id) for p in
                 session.scalars(select(ForbiddenPair).order_by(ForbiddenPair.id))
                 if p.facility_id in fac_ids and p.institution_id in inst_ids]
    return forbidden


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def load_from_db(session: Session, prefecture_code: str | None = None,
                 for_matching: bool = False) -> tuple[Region, list[Pair]]:
    """The database's region (one prefecture, or everything) as the library loads it, through the
    data contract (same validation and typing as the CLI), and the declined pairs as ``Pair``s."""
    with tempfile.TemporaryDirectory() as tmp:
        forbidden = export_region(session, tmp, prefecture_code, for_matching=for_matching)
        # Lenient: a row the contract would refuse (whatever got into the database) is left out
        # and logged — a read never fails because of one bad row.
        region = load_region(tmp, strict=False)
    if region.skipped:
        log.warning("rows left out of the region read from the database: %s",
                    "; ".join(map(str, region.skipped[:20])))
    return region, [Pair(facility_id=f, institution_id=i) for f, i in forbidden]
