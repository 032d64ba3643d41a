"""The data contract: which files a region folder holds and what each column means.

A region is a folder of UTF-8 CSV files with a header row.  This module is the
single description of those files *and of each record* (area, facility,
institution, partnership): every layer that holds a record is derived from the
:class:`Column` lists below, so adding a column is one change here (plus an
Alembic migration for the service's database):

- the CSV loader and its validation (:mod:`matching.contract.load`);
- ``docs/data-contract.md`` (:func:`markdown`; a test keeps the file equal);
- the service's database columns (``api/models.py``, via :func:`api.models.contract_columns`);
- the service's request/response bodies (``api/schemas.py``) and the scenario models
  (``matching/scenarios/schema.py``), both via :func:`matching.contract.models.record_fields`;
- the service's CSV import and export (``api/store.py``);
- the page's column labels (``label_ja``, served by ``GET /vocabulary``).

Optional extra columns are allowed and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matching.contract import columns as c
from matching.roles import SLOT_CODES, SLOT_LABELS_JA, SLOTTED
from matching.vocabulary import (
    DESIGNATIONS,
    FACILITY_TYPES,
    ROLE_LABELS_JA,
    ROLE_ORDER,
    InstitutionKind,
    Role,
)


@dataclass(frozen=True)
class Column:
    """One column of a contract file, i.e. one field of a record, for every layer that holds it."""

    name: str
    parse: c.Parser
    doc: str
    required: bool = True  # the column must be present (cells may still be blank)
    #: What users see (the page's labels, served by ``GET /vocabulary``).
    label_ja: str = ""
    #: ``"file.column"`` this column refers to (a foreign key in the service's database).
    references: str | None = None
    #: Width of a code or text column in the service's database (default: the parser's max length).
    db_length: int | None = None
    #: A new record created through the API must match this (ids: ASCII letters, digits, ``_.-``);
    #: CSV imports keep any id within the length limit.
    api_pattern: str | None = None
    #: The value a record written without this field gets (API bodies, scenario files);
    #: ``None`` = required unless blank is allowed (then blank).
    default: Any = None

    @property
    def type(self) -> c.ValueType:
        return c.value_type(self.parse)


@dataclass(frozen=True)
class FileSpec:
    name: str
    id_columns: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = True
    doc: str = ""


KINDS = tuple(k.value for k in InstitutionKind)
_ROLE_JA = {r.value: r.label_ja for r in ROLE_ORDER}
ROLES = tuple(r.value for r in ROLE_ORDER)

#: Largest counts the service stores (the same limits as its API): beds, residents, facilities.
COUNT_MAX = 100_000
#: Largest spare capacity in residents.
RESIDENTS_MAX = 10_000_000

_ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"
#: A date field of an API body: ISO or blank (the CSV loader also checks the calendar).
_DATE_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"
#: Longest contact person's name and phone number the service stores (a name as the proposals'
#: contact log allows; a phone number with an extension and a note such as 「内線123」).
CONTACT_MAX = 100
PHONE_MAX = 40

#: Where a record's point comes from (``location_source``), with the Japanese wording outputs use.
LOCATION_SOURCES: dict[str, str] = {
    "source": "元データの座標",
    "joined": "突合した記録の座標",
    "office": "市区町村役場で近似",
    "other": "その他（ジオコーディング等）",
}


#: Longest address stored (the open data's longest is about 60 characters).
ADDRESS_MAX = 200


def _location_columns(what: str) -> tuple[Column, ...]:
    return (
        Column("address", c.text(required=False, max_length=ADDRESS_MAX),
               f"the {what}'s street address (所在地; blank = not known), for the people who call or visit",
               required=False, label_ja="所在地", default=""),
        Column("location_source", c.text(required=False, max_length=16),
               f"where the {what}'s point comes from: " + ", ".join(
                   f"{k} ({v})" for k, v in LOCATION_SOURCES.items()) + " (blank = source)",
               required=False, label_ja="位置の出典", default=""),
        Column("location_radius_km", c.number(integer=False, minimum=0, maximum=1000, required=False),
               "uncertainty radius of the point in km (blank = exact enough)", required=False,
               label_ja="位置の誤差半径（km）"),
    )
_MUNICIPALITY = "areas.csv.municipality_code"
#: Where a facility or an institution is: its municipality and point.
_PLACE = (
    Column("municipality_code", c.digits(5), "municipality (must be in areas.csv)", label_ja="市区町村",
           references=_MUNICIPALITY),
    Column("lat", c.latitude, "latitude (WGS84)", label_ja="緯度"),
    Column("lon", c.longitude, "longitude (WGS84)", label_ja="経度"),
)

AREAS = FileSpec(
    "areas.csv", ("municipality_code",),
    (
        Column("municipality_code", c.digits(5), "5-digit municipality code (e.g. 03201 盛岡市)",
               label_ja="市区町村コード"),
        Column("municipality_name", c.text(max_length=100), "市区町村名", label_ja="市区町村名"),
        Column("secondary_area_code", c.text(max_length=20), "二次医療圏 code", label_ja="二次医療圏コード"),
        Column("secondary_area_name", c.text(max_length=100), "二次医療圏名", label_ja="二次医療圏名"),
        Column("prefecture_code", c.digits(2), "2-digit prefecture code (03 = 岩手県)", label_ja="都道府県コード"),
    ),
    doc="Planning areas: municipalities with their secondary medical area.",
)

FACILITIES = FileSpec(
    "facilities.csv", ("facility_id",),
    (
        Column("facility_id", c.text(max_length=c.ID_MAX), "unique id (at most 64 characters)",
               label_ja="施設ID", api_pattern=_ID_PATTERN),
        Column("name", c.text(max_length=c.NAME_MAX), "施設名 (at most 200 characters)", label_ja="施設名"),
        Column("facility_type", c.one_of(FACILITY_TYPES, "facility type", {k: t.name_ja for k, t in FACILITY_TYPES.items()}),
               "code from the vocabulary table: " + ", ".join(FACILITY_TYPES), label_ja="施設種別", db_length=32),
        *_PLACE,
        Column("residents", c.number(integer=True, minimum=0, maximum=COUNT_MAX, required=False),
               "定員; blank or 0 = unknown (the type's default is used in matching)", label_ja="入所者数"),
        Column("reported", c.boolean(), "false = no annual report on file (status 集計していない)",
               label_ja="年次報告", default=True),
    ) + _location_columns("facility"),
    doc="Elderly-care facilities (高齢者施設等).",
)

_UNITS = {"facilities": (COUNT_MAX, "施設"), "residents": (RESIDENTS_MAX, "入所者数")}
#: The units spare capacity is counted in.
CAPACITY_UNITS: tuple[str, ...] = tuple(_UNITS)


def capacity_column(unit: str, role: Role | str | None = None) -> str:
    """The institutions.csv column of spare capacity in ``unit``, for one ``role`` or for all.

    >>> capacity_column("facilities"), capacity_column("residents", Role.VISIT)
    ('capacity_facilities', 'capacity_residents_visit')
    """
    return f"capacity_{unit}" if role is None else f"capacity_{unit}_{Role(role).value}"


_ROLE_CAPS = tuple(
    Column(capacity_column(unit, role), c.number(integer=True, minimum=0, maximum=_UNITS[unit][0],
                                                      required=False),
           f"spare capacity in {unit} for role {role.value} only (blank = no per-role limit)",
           required=False, label_ja=f"受入枠（{_UNITS[unit][1]}・{role.mark}のみ）")
    for role in Role for unit in _UNITS
)

INSTITUTIONS = FileSpec(
    "institutions.csv", ("institution_id",),
    (
        Column("institution_id", c.text(max_length=c.ID_MAX), "unique id (at most 64 characters)",
               label_ja="医療機関ID", api_pattern=_ID_PATTERN),
        Column("name", c.text(max_length=c.NAME_MAX), "医療機関名 (at most 200 characters)", label_ja="名称"),
        Column("kind", c.one_of(KINDS, "institution kind", {k.value: k.label_ja for k in InstitutionKind}), "hospital | clinic", label_ja="種別", db_length=16),
        *_PLACE,
        Column("beds", c.number(integer=True, minimum=0, maximum=COUNT_MAX, required=False),
               "病床数 (blank = unknown)", label_ja="病床数"),
        # Code lists are stored (service, exports) in the order of their choices: alphabetical here.
        Column("designations", c.code_list(sorted(DESIGNATIONS), "designation", {k: d.name_ja for k, d in DESIGNATIONS.items()}),
               "';'-separated designation codes: " + ", ".join(DESIGNATIONS), label_ja="指定・届出", db_length=200),
        Column("consult_24h", c.boolean(required=False), "offers ① around the clock (blank = from designations)",
               label_ja=ROLE_LABELS_JA[Role.CONSULT]),
        Column("visit_24h", c.boolean(required=False), "offers ② around the clock (blank = from designations)",
               label_ja=ROLE_LABELS_JA[Role.VISIT]),
        Column("admit", c.boolean(required=False), "offers ③ (blank = from designations; never for a clinic)",
               label_ja=ROLE_LABELS_JA[Role.ADMIT]),
        Column("accepting", c.boolean(required=False),
               "takes new partner facilities (blank = not yet asked)", label_ja="受入意向"),
        Column("capacity_facilities", c.number(integer=True, minimum=0, maximum=COUNT_MAX, required=False),
               "spare capacity in new partner facilities (blank = unlimited)", label_ja="受入枠（施設）"),
        Column("capacity_residents", c.number(integer=True, minimum=0, maximum=RESIDENTS_MAX, required=False),
               "spare capacity in residents of new partner facilities (blank = unlimited)",
               label_ja="受入枠（入所者数）"),
    ) + _ROLE_CAPS + _location_columns("institution") + (
        # From the institutions' intention survey (matching.survey): whom a coordinator calls.
        Column("contact_name", c.text(required=False, max_length=CONTACT_MAX),
               "contact person for partnership requests (blank = not known)", required=False,
               label_ja="担当者名", default=""),
        Column("contact_phone", c.text(required=False, max_length=PHONE_MAX),
               "contact person's phone number (blank = not known)", required=False,
               label_ja="担当者の電話番号", default=""),
        Column("survey_date", c.iso_date(), "date of the institution's last answer to the intention survey "
               "(意向調査), YYYY-MM-DD (blank = not surveyed)", required=False, label_ja="意向調査の回答日",
               default="", api_pattern=_DATE_PATTERN),
    ),
    doc="Hospitals and clinics that could be cooperating institutions (協力医療機関).",
)

PARTNERSHIPS = FileSpec(
    "partnerships.csv", ("facility_id", "institution_id"),
    (
        Column("facility_id", c.text(max_length=c.ID_MAX), "facility (must be in facilities.csv)",
               label_ja="施設ID", references="facilities.csv.facility_id"),
        Column("institution_id", c.text(max_length=c.ID_MAX), "institution (must be in institutions.csv)",
               label_ja="医療機関ID", references="institutions.csv.institution_id"),
        Column("roles", c.code_list(ROLES, "role", _ROLE_JA),
               "';'-separated subset of consult, visit, admit that the agreement secures around the clock "
               "(blank = an agreement that meets none of them)", label_ja="協定で確保している役割", db_length=40),
    ),
    doc="Agreements already in force (from the annual reports).",
)

TRAVEL_TIMES = FileSpec(
    "travel_times.csv", ("facility_id", "institution_id"),
    (
        Column("facility_id", c.text(), "facility", label_ja="施設ID"),
        Column("institution_id", c.text(), "institution", label_ja="医療機関ID"),
        Column("minutes", c.number(integer=False, minimum=0), "travel time in minutes", label_ja="移動時間（分）"),
    ),
    required=False,
    doc="Optional measured travel times; they override the travel-time provider pair by pair.",
)

AVAILABILITY = FileSpec(
    "availability.csv", ("institution_id", "role"),
    (
        Column("institution_id", c.text(max_length=c.ID_MAX), "institution (must be in institutions.csv)",
               label_ja="医療機関ID", references="institutions.csv.institution_id"),
        Column("role", c.one_of(SLOTTED, "role", _ROLE_JA), "consult (①) or visit (②); ③ stays yes/no",
               label_ja="役割", db_length=16),
        Column("slots", c.code_list(SLOT_CODES, "time slot", SLOT_LABELS_JA),
               "';'-separated non-empty subset of " + ", ".join(SLOT_CODES)
               + " (平日日中, 平日夜間, 休日日中, 休日夜間): the institution offers the role in these slots only; "
               "an institution without a row keeps its flag (true = all four slots, false = none)",
               label_ja="対応できる時間帯", db_length=40),
    ),
    required=False,
    doc="Optional time slots of ① and ②. A facility's role is met when the slots its partners give for "
        "it (agreements in force and proposals) together are all four; at most `max_partners_per_role` "
        "institutions give one role of one facility.",
)

FILES: tuple[FileSpec, ...] = (AREAS, FACILITIES, INSTITUTIONS, PARTNERSHIPS, TRAVEL_TIMES, AVAILABILITY)

#: The records the service stores, by the name its API and tables use.
RECORDS: dict[str, FileSpec] = {"areas": AREAS, "facilities": FACILITIES, "institutions": INSTITUTIONS,
                                "partnerships": PARTNERSHIPS, "availability": AVAILABILITY}


def column(spec: FileSpec, name: str) -> Column:
    """The column ``name`` of ``spec`` (KeyError naming the file otherwise)."""
    for col in spec.columns:
        if col.name == name:
            return col
    raise KeyError(f"{spec.name} has no column {name!r}")


def markdown() -> str:
    """The contract as Markdown (``docs/data-contract.md`` is this text; a test keeps them equal)."""
    from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, roles_ja

    out = ["# The data contract", "",
           "A region is a folder of tables with a header row: CSV files in UTF-8 (a BOM is accepted) "
           "or CP932/Shift_JIS (what Excel's plain \"CSV\" writes on a Japanese PC; detected and "
           "said on the console), or `<name>.xlsx` workbooks (first sheet), or one `region.xlsx` "
           "with a sheet per table (`areas`, `facilities`, …). "
           "Optional extra columns are allowed and kept. Booleans are `true`/`false` "
           "(also Excel's `TRUE`/`FALSE`, `1`/`0`, `yes`/`no`, `○`/`×`, `有`/`無`, `はい`/`いいえ`). "
           "A code one digit short (Excel dropped its leading zero: `3201`) is restored "
           "(`03201`) with a note. Generated from `matching/contract/schema.py`.", "",
           "Loading is strict by default: any problem stops the load and *every* problem is "
           "listed with file, line (as a spreadsheet shows it), column and value. Lenient mode "
           "(`--lenient`, `load_region(path, strict=False)`) skips bad rows, and the rows that "
           "referred to them, and lists each one (at most 100 per file; the rest are counted).", ""]
    for spec in FILES:
        out += [f"## `{spec.name}`" + ("" if spec.required else " (optional)"), "", spec.doc, "",
                "| column | 項目 | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}`{'' if c.required else ' (optional)'} | {c.label_ja} | {c.doc} |"
                for c in spec.columns]
        out.append("")
    out += ["## `region_scope.json` (optional)", "",
            "What the region covers. Without the file a region is complete. A region imported without "
            "the 施設基準 list (`matching import region` without `--shisetsu-kijun`, or `all`) has the "
            "hospitals of the 病床機能報告 and no clinics, and says so: "
            "`{\"clinics_loaded\": false, \"note\": \"…\"}`. Every command that loads it says the note "
            "(注: …); `matching status` marks the facilities' missing ①② as 診療所未取込 "
            "(status_facilities.csv, `note`), and `matching match` gives an uncovered ① or ② the "
            "reason `clinics_not_loaded`, never a proven gap (`no_provider`, `out_of_range`, …). "
            "③ (hospitals only) is unaffected.", "",
            "| key | meaning |", "|---|---|",
            "| `clinics_loaded` | `false`: the region's institutions include no clinic (default `true`) |",
            "| `note` | a sentence for people, in Japanese |", ""]
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
