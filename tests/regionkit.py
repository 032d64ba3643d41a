"""Build small region folders for tests from Python lists of dicts.

A table is a list of rows; a row is a dict ``column -> cell text``.  The columns
of a written file are the union of the rows' keys in order of first appearance,
and a cell a row does not mention is written blank.

>>> folder = write_region(tmp_path)                                   # doctest: +SKIP
>>> folder = write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, 0, lat="10"))  # doctest: +SKIP

The default region is valid.  Its layout (line numbers are CSV lines: header = 1):

* areas.csv: 03201 盛岡市 (secondary area 0301 盛岡) and 03202 宮古市 (0307 宮古), prefecture 03.
* facilities.csv: line 2 F1 tokuyo 03201 (80 residents, reported), line 3 F2 gh 03201
  (18, reported), line 4 F3 roken 03202 (residents blank, reported), line 5 F4 keihi
  03202 (residents 0, not reported).
* institutions.csv: line 2 H1 hospital 03201 zaibyo, role flags blank (→ ①②③);
  line 3 C1 clinic 03201 zaishin, flags blank (→ ①②); line 4 H2 plain hospital 03202 with
  admit=true only; line 5 C2 plain clinic 03202 with consult=true, visit=false.
* partnerships.csv: line 2 F1–C1 consult;visit, line 3 F1–H1 admit, line 4 F2–C1
  consult;visit, line 5 F3–H2 admit.
* travel_times.csv: not written by default (the file is optional); pass
  ``travel_times=DEFAULT_TRAVEL_TIMES`` to write one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

Row = dict[str, str]
Table = list[Row]

#: Pass as a table to leave that file out of the folder (e.g. to test a missing file).
OMIT = object()

DEFAULT_AREAS: Table = [
    {"municipality_code": "03201", "municipality_name": "盛岡市",
     "secondary_area_code": "0301", "secondary_area_name": "盛岡", "prefecture_code": "03"},
    {"municipality_code": "03202", "municipality_name": "宮古市",
     "secondary_area_code": "0307", "secondary_area_name": "宮古", "prefecture_code": "03"},
]


def facility(facility_id: str, facility_type: str, municipality_code: str = "03201", *,
             residents: str = "", reported: str = "true", name: str | None = None,
             lat: str = "39.70", lon: str = "141.15", **extra: str) -> Row:
    """One facilities.csv row with sensible defaults."""
    return {"facility_id": facility_id, "name": name or f"テスト施設{facility_id}",
            "facility_type": facility_type, "municipality_code": municipality_code,
            "lat": lat, "lon": lon, "residents": residents, "reported": reported, **extra}


def institution(institution_id: str, kind: str, municipality_code: str = "03201", *,
                designations: str = "", consult_24h: str = "", visit_24h: str = "",
                admit: str = "", accepting: str = "", beds: str = "",
                capacity_facilities: str = "", capacity_residents: str = "",
                name: str | None = None, lat: str = "39.70", lon: str = "141.15",
                **extra: str) -> Row:
    """One institutions.csv row with sensible defaults (role flags blank = from designations)."""
    return {"institution_id": institution_id, "name": name or f"テスト医療機関{institution_id}",
            "kind": kind, "municipality_code": municipality_code, "lat": lat, "lon": lon,
            "beds": beds, "designations": designations, "consult_24h": consult_24h,
            "visit_24h": visit_24h, "admit": admit, "accepting": accepting,
            "capacity_facilities": capacity_facilities,
            "capacity_residents": capacity_residents, **extra}


def partnership(facility_id: str, institution_id: str, roles: str = "") -> Row:
    return {"facility_id": facility_id, "institution_id": institution_id, "roles": roles}


DEFAULT_FACILITIES: Table = [
    facility("F1", "tokuyo", "03201", residents="80", lat="39.70", lon="141.15"),
    facility("F2", "gh", "03201", residents="18", lat="39.71", lon="141.16"),
    facility("F3", "roken", "03202", residents="", lat="39.64", lon="141.95"),
    facility("F4", "keihi", "03202", residents="0", reported="false", lat="39.65", lon="141.94"),
]

DEFAULT_INSTITUTIONS: Table = [
    institution("H1", "hospital", "03201", beds="200", designations="zaibyo", accepting="true",
                capacity_facilities="5", lat="39.70", lon="141.14"),
    institution("C1", "clinic", "03201", designations="zaishin", accepting="true",
                capacity_residents="60", lat="39.71", lon="141.15"),
    institution("H2", "hospital", "03202", beds="120", admit="true", accepting="false",
                lat="39.64", lon="141.96"),
    institution("C2", "clinic", "03202", consult_24h="true", visit_24h="false",
                lat="39.65", lon="141.95"),
]

DEFAULT_PARTNERSHIPS: Table = [
    partnership("F1", "C1", "consult;visit"),
    partnership("F1", "H1", "admit"),
    partnership("F2", "C1", "consult;visit"),
    partnership("F3", "H2", "admit"),
]

DEFAULT_TRAVEL_TIMES: Table = [
    {"facility_id": "F1", "institution_id": "H1", "minutes": "7.5"},
    {"facility_id": "F3", "institution_id": "H2", "minutes": "12"},
]

_DEFAULTS = {
    "areas": DEFAULT_AREAS, "facilities": DEFAULT_FACILITIES,
    "institutions": DEFAULT_INSTITUTIONS, "partnerships": DEFAULT_PARTNERSHIPS,
    "travel_times": DEFAULT_TRAVEL_TIMES,
}

FILE_NAMES = {
    "areas": "areas.csv",
    "facilities": "facilities.csv",
    "institutions": "institutions.csv",
    "partnerships": "partnerships.csv",
    "travel_times": "travel_times.csv",
}


# -- editing tables (always returning new lists; the defaults are never mutated) ----------

def edit(table: Table, index: int, **cells: str) -> Table:
    """A copy of ``table`` with some cells of row ``index`` replaced (or added)."""
    out = [dict(r) for r in table]
    out[index].update(cells)
    return out


def append(table: Table, *rows: Mapping[str, str]) -> Table:
    """A copy of ``table`` with rows added at the end."""
    return [dict(r) for r in table] + [dict(r) for r in rows]


def drop_column(table: Table, column: str) -> Table:
    """A copy of ``table`` without one column."""
    return [{k: v for k, v in r.items() if k != column} for r in table]


def line_of(index: int) -> int:
    """CSV line number of row ``index`` of a table (the header is line 1)."""
    return index + 2


# -- writing -------------------------------------------------------------------------------

def write_csv(path: Path, rows: Iterable[Mapping[str, str]], *, columns: list[str] | None = None,
              bom: bool = False) -> Path:
    """Write rows as a UTF-8 CSV file with a header (``\\n`` line ends)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([r.get(c, "") for c in columns])
    return path


def write_region(folder: str | Path, areas: Table | None = None, facilities: Table | None = None,
                 institutions: Table | None = None, partnerships: Table | None = None,
                 travel_times: Table | None = None) -> Path:
    """Write a region folder; ``None`` means the default valid table.

    ``travel_times=None`` writes no travel_times.csv (the file is optional).  Pass
    :data:`OMIT` for any table to leave its file out.  Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "areas": DEFAULT_AREAS if areas is None else areas,
        "facilities": DEFAULT_FACILITIES if facilities is None else facilities,
        "institutions": DEFAULT_INSTITUTIONS if institutions is None else institutions,
        "partnerships": DEFAULT_PARTNERSHIPS if partnerships is None else partnerships,
        "travel_times": OMIT if travel_times is None else travel_times,
    }
    for key, rows in tables.items():
        if rows is OMIT:
            continue
        # An empty table still gets its header (the columns of the default table).
        columns = None if rows else list(_DEFAULTS[key][0])
        write_csv(folder / FILE_NAMES[key], rows, columns=columns)
    return folder
