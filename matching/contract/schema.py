"""The data contract: which files a region folder holds and what each column means.

A region is a folder of UTF-8 CSV files with a header row.  This module is the
single description of those files; ``docs/data-contract.md`` is written from it.
Optional extra columns are allowed and kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.contract import columns as c
from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, InstitutionKind, Role


@dataclass(frozen=True)
class Column:
    name: str
    parse: c.Parser
    doc: str
    required: bool = True  # the column must be present (cells may still be blank)


@dataclass(frozen=True)
class FileSpec:
    name: str
    id_columns: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = True
    doc: str = ""


KINDS = {k.value for k in InstitutionKind}

AREAS = FileSpec(
    "areas.csv", ("municipality_code",),
    (
        Column("municipality_code", c.digits(5), "5-digit municipality code (e.g. 03201 盛岡市)"),
        Column("municipality_name", c.text(max_length=100), "市区町村名"),
        Column("secondary_area_code", c.text(max_length=20), "二次医療圏 code"),
        Column("secondary_area_name", c.text(max_length=100), "二次医療圏名"),
        Column("prefecture_code", c.digits(2), "2-digit prefecture code (03 = 岩手県)"),
    ),
    doc="Planning areas: municipalities with their secondary medical area.",
)

FACILITIES = FileSpec(
    "facilities.csv", ("facility_id",),
    (
        Column("facility_id", c.text(max_length=c.ID_MAX), "unique id (at most 64 characters)"),
        Column("name", c.text(max_length=c.NAME_MAX), "施設名 (at most 200 characters)"),
        Column("facility_type", c.one_of(FACILITY_TYPES, "facility type"),
               "code from the vocabulary table: " + ", ".join(FACILITY_TYPES)),
        Column("municipality_code", c.digits(5), "municipality (must be in areas.csv)"),
        Column("lat", c.latitude, "latitude (WGS84)"),
        Column("lon", c.longitude, "longitude (WGS84)"),
        Column("residents", c.number(integer=True, minimum=0, required=False),
               "定員; blank or 0 = unknown (the type's default is used in matching)"),
        Column("reported", c.boolean(), "false = no annual report on file (status 集計していない)"),
    ),
    doc="Elderly-care facilities (高齢者施設等).",
)

_ROLE_CAPS = tuple(
    Column(f"capacity_{unit}_{role.value}", c.number(integer=True, minimum=0, required=False),
           f"spare capacity in {unit} for role {role.value} only (blank = no per-role limit)",
           required=False)
    for role in Role for unit in ("facilities", "residents")
)

INSTITUTIONS = FileSpec(
    "institutions.csv", ("institution_id",),
    (
        Column("institution_id", c.text(max_length=c.ID_MAX), "unique id (at most 64 characters)"),
        Column("name", c.text(max_length=c.NAME_MAX), "医療機関名 (at most 200 characters)"),
        Column("kind", c.one_of(KINDS, "institution kind"), "hospital | clinic"),
        Column("municipality_code", c.digits(5), "municipality (must be in areas.csv)"),
        Column("lat", c.latitude, "latitude (WGS84)"),
        Column("lon", c.longitude, "longitude (WGS84)"),
        Column("beds", c.number(integer=True, minimum=0, required=False), "病床数 (blank = unknown)"),
        Column("designations", c.code_list(DESIGNATIONS, "designation"),
               "';'-separated designation codes: " + ", ".join(DESIGNATIONS)),
        Column("consult_24h", c.boolean(required=False), "offers ① around the clock (blank = from designations)"),
        Column("visit_24h", c.boolean(required=False), "offers ② around the clock (blank = from designations)"),
        Column("admit", c.boolean(required=False), "offers ③ (blank = from designations; never for a clinic)"),
        Column("accepting", c.boolean(required=False),
               "takes new partner facilities (blank = not yet asked)"),
        Column("capacity_facilities", c.number(integer=True, minimum=0, required=False),
               "spare capacity in new partner facilities (blank = unlimited)"),
        Column("capacity_residents", c.number(integer=True, minimum=0, required=False),
               "spare capacity in residents of new partner facilities (blank = unlimited)"),
    ) + _ROLE_CAPS,
    doc="Hospitals and clinics that could be cooperating institutions (協力医療機関).",
)

PARTNERSHIPS = FileSpec(
    "partnerships.csv", ("facility_id", "institution_id"),
    (
        Column("facility_id", c.text(max_length=c.ID_MAX), "facility (must be in facilities.csv)"),
        Column("institution_id", c.text(max_length=c.ID_MAX), "institution (must be in institutions.csv)"),
        Column("roles", c.code_list({r.value for r in Role}, "role"),
               "';'-separated subset of consult, visit, admit that the agreement secures around the clock "
               "(blank = an agreement that meets none of them)"),
    ),
    doc="Agreements already in force (from the annual reports).",
)

TRAVEL_TIMES = FileSpec(
    "travel_times.csv", ("facility_id", "institution_id"),
    (
        Column("facility_id", c.text(), "facility"),
        Column("institution_id", c.text(), "institution"),
        Column("minutes", c.number(integer=False, minimum=0), "travel time in minutes"),
    ),
    required=False,
    doc="Optional measured travel times; they override the travel-time provider pair by pair.",
)

FILES: tuple[FileSpec, ...] = (AREAS, FACILITIES, INSTITUTIONS, PARTNERSHIPS, TRAVEL_TIMES)


def markdown() -> str:
    """The contract as Markdown (``docs/data-contract.md`` is this text; a test keeps them equal)."""
    from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, roles_ja

    out = ["# The data contract", "",
           "A region is a folder of UTF-8 CSV files with a header row (a BOM is accepted). "
           "Optional extra columns are allowed and kept. Booleans are `true`/`false` "
           "(also `1`/`0`, `yes`/`no`). Generated from `matching/contract/schema.py`.", "",
           "Loading is strict by default: any problem stops the load and *every* problem is "
           "listed with file, line (as a spreadsheet shows it), column and value. Lenient mode "
           "(`--lenient`, `load_region(path, strict=False)`) skips bad rows, and the rows that "
           "referred to them, and lists each one.", ""]
    for spec in FILES:
        out += [f"## `{spec.name}`" + ("" if spec.required else " (optional)"), "", spec.doc, "",
                "| column | meaning |", "|---|---|"]
        out += [f"| `{c.name}`{'' if c.required else ' (optional)'} | {c.doc} |" for c in spec.columns]
        out.append("")
    out += ["## Codes", "", "Facility types:", "", "| code | 種別 | roles | strength |", "|---|---|---|---|"]
    out += [f"| `{t.code}` | {t.name_ja} | {roles_ja(t.required_roles)} | {t.strength.label_ja} |"
            for t in FACILITY_TYPES.values()]
    out += ["", "Designations and the roles they give by default (blank role columns are derived from "
            "them; an explicit `true`/`false` overrides; ③ is never given to a clinic):", "",
            "| code | 名称 | kind | default roles |", "|---|---|---|---|"]
    out += [f"| `{d.code}` | {d.name_ja} | {d.kind.value if d.kind else 'either'} | {roles_ja(d.default_roles)} |"
            for d in DESIGNATIONS.values()]
    out += ["", "Roles: `consult` ①, `visit` ②, `admit` ③ (hospitals only).", ""]
    return "\n".join(out)
