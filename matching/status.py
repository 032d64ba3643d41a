"""Compliance status: which roles each facility needs, has and lacks.

The rules come from the vocabulary table: a facility type's ``required_roles``;
roles are covered *jointly* by all of a facility's current partners
(several institutions may share them, e.g. a clinic for ①② and a hospital for ③).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.region import Region
from matching.roles import ALL_SLOTS, BIT_OF_CODE, ROLE_SETS, SLOTTED, mask_of, slots_ja
from matching.vocabulary import (
    CLINICS_NOT_LOADED_SHORT_JA,
    FACILITY_TYPES,
    STATUS_ORDER,
    Role,
    Status,
)

GROUPINGS = {
    "prefecture": ("prefecture_code", None),
    "secondary_area": ("secondary_area_code", "secondary_area_name"),
    "municipality": ("municipality_code", "municipality_name"),
}


def classify(required: frozenset[Role], covered: frozenset[Role], *, reported: bool,
             designated: bool) -> Status:
    """The status of one facility.

    >>> from matching.vocabulary import ALL_ROLES
    >>> classify(ALL_ROLES, frozenset({Role.CONSULT}), reported=True, designated=True).value
    'some_met'
    >>> classify(ALL_ROLES, ALL_ROLES, reported=False, designated=True).value
    'not_tracked'
    """
    if not reported:
        return Status.NOT_TRACKED
    if required <= covered:
        return Status.ALL_MET
    if required & covered:
        return Status.SOME_MET
    return Status.NONE_MET if designated else Status.NOT_DESIGNATED


# Every role set by its mask, and every status by (required, covered, reported, designated):
# tables built once with the rules themselves, so looking up is the same as classifying.
_ROLE_SETS = np.fromiter(ROLE_SETS, dtype=object, count=len(ROLE_SETS))
_STATUS = np.array([[[[classify(req, cov, reported=bool(rep), designated=bool(des)).value
                       for des in (0, 1)] for rep in (0, 1)] for cov in _ROLE_SETS] for req in _ROLE_SETS],
                   dtype=object)


def facility_status(region: Region, partnerships: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per facility: required, covered and missing roles, partners and status.

    ``partnerships`` defaults to the region's agreements in force; pass current
    plus proposed agreements to see the status a proposal would bring.

    Role sets are worked on as masks (one bit per role, ``matching.roles``): a national
    region has tens of thousands of facilities but only eight possible role sets.

    >>> from matching.contract import load_region
    >>> from matching.vocabulary import format_roles
    >>> st = facility_status(load_region("data/demo"))
    >>> st.at["F0001", "status"], format_roles(st.at["F0001", "missing_roles"])
    ('not_designated', 'consult;visit;admit')
    """
    part = region.partnerships if partnerships is None else partnerships
    fac = region.facilities
    # Looked up once per facility type present (FACILITY_TYPES[code] fails on an unknown code).
    type_codes, codes = pd.factorize(fac["facility_type"], use_na_sentinel=False)
    types = [FACILITY_TYPES[code] for code in codes]
    required = np.array([mask_of(t.required_roles) for t in types], dtype=np.int64)[type_codes]
    obligated = np.array([t.obligated for t in types], dtype=bool)[type_codes]

    covered, partners = _partners_per_facility(part, fac.index)
    cover = None
    if region.has_slots:
        # Time slots: a slotted role counts only when its partners' slots together are all four.
        cover = slot_cover(region, part)
        have = np.zeros((len(fac), len(SLOTTED)), np.int64)
        pos = fac.index.get_indexer(cover.index.get_level_values("facility_id"))
        ok = pos >= 0
        col = np.array([SLOTTED.index(r) for r in cover.index.get_level_values("role")], np.int64)
        have[pos[ok], col[ok]] = cover["slots"].to_numpy(np.int64)[ok]
        for k, code in enumerate(SLOTTED):
            covered = np.where(have[:, k] == ALL_SLOTS, covered | BIT_OF_CODE[code], covered & ~BIT_OF_CODE[code])
    designated = np.fromiter(map(bool, partners), dtype=bool, count=len(partners))
    reported = fac["reported"].to_numpy(dtype=bool)
    status = _STATUS[required, covered, reported.astype(np.int64), designated.astype(np.int64)]

    def column(values: np.ndarray, dtype: str | None = None) -> pd.Series:
        return pd.Series(values, index=fac.index, dtype=dtype)

    out = pd.DataFrame({
        "facility_type": fac["facility_type"],
        "municipality_code": fac["municipality_code"],
        "obligated": column(obligated),
        "reported": fac["reported"],
        "required_roles": column(_ROLE_SETS[required]),
        "covered_roles": column(_ROLE_SETS[covered & required]),
        "missing_roles": column(_ROLE_SETS[required & ~covered]),
        "partners": column(partners),
        # Stored as the code string (Status(code) gives the enum and its Japanese label).
        "status": column(status, "str"),
    })
    if cover is not None:
        # Slots already given for each required slotted role that is not met ({role code: mask}).
        need = required & ~covered
        out["partial_slots"] = column(np.array(
            [{code: int(have[n, k]) for k, code in enumerate(SLOTTED) if need[n] & BIT_OF_CODE[code] and have[n, k]}
             for n in range(len(fac))], dtype=object))
    return out


def slot_cover(region: Region, partnerships: pd.DataFrame) -> pd.DataFrame:
    """Per (facility, slotted role) with at least one agreement for it: ``slots``, the union of the
    slots its partners give (an institution's ``availability.csv`` row, else all four: an agreement
    in force without a row secures the role around the clock, as without time slots), and
    ``partners``, how many institutions give it.  Index (facility_id, role)."""
    part = partnerships[["facility_id", "institution_id", "roles"]]
    frames = []
    for code in SLOTTED:
        rows = part[np.fromiter((code in rs for rs in part["roles"]), bool, count=len(part))]
        given = region.availability[region.availability["role"] == code].set_index("institution_id")["slots"]
        slots = rows["institution_id"].map(given).fillna(ALL_SLOTS).astype(np.int64)
        frames.append(pd.DataFrame({"facility_id": rows["facility_id"].to_numpy(object), "role": code,
                                    "institution_id": rows["institution_id"].to_numpy(object),
                                    "slots": slots.to_numpy(np.int64)}))
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["facility_id", "role", "institution_id"])
    df = df.sort_values(["facility_id", "role"], kind="stable")
    key = df["facility_id"].to_numpy(object) + "\0" + df["role"].to_numpy(object)
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(df) else np.zeros(0, int)
    index = pd.MultiIndex.from_arrays([df["facility_id"].to_numpy(object)[start], df["role"].to_numpy(object)[start]],
                                      names=["facility_id", "role"])
    union = np.bitwise_or.reduceat(df["slots"].to_numpy(np.int64), start) if len(df) else np.zeros(0, np.int64)
    return pd.DataFrame({"slots": union, "partners": np.diff(np.r_[start, len(df)])}, index=index).astype(np.int64)


def _partners_per_facility(part: pd.DataFrame, facilities: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Covered-role bitmask and sorted tuple of partner ids for each facility.

    Roles are OR-ed over all of a facility's agreements (an agreement with no role
    still makes it a partner).  Facilities without agreements get 0 and ``()``;
    agreements of facilities not in ``facilities`` are ignored.
    """
    fac_codes, fac_ids = pd.factorize(part["facility_id"])  # a missing id is -1: left out, like groupby
    rows = fac_codes >= 0
    fac_codes = fac_codes[rows]
    bits = _role_bits_per_row(part["roles"])[rows]
    covered = np.zeros(len(fac_ids) + 1, dtype=np.int64)  # one extra slot for "no agreement"
    np.bitwise_or.at(covered, fac_codes, bits)

    # Sort agreements by facility, then institution id, and cut them into one tuple per facility
    # (factorize numbers facilities 0..n-1 in order of appearance, each at least once).
    ids = part["institution_id"].to_numpy(dtype=object)[rows]
    id_rank = pd.factorize(ids, sort=True)[0]  # the order sorted() would give the ids
    sorted_ids = ids[np.lexsort((id_rank, fac_codes))].tolist()
    counts = np.bincount(fac_codes, minlength=len(fac_ids))
    ends = np.cumsum(counts)
    partners = np.empty(len(fac_ids) + 1, dtype=object)
    partners[-1] = ()
    for i, (start, end) in enumerate(zip((ends - counts).tolist(), ends.tolist(), strict=True)):
        partners[i] = tuple(sorted_ids[start:end])

    # get_indexer gives -1 for a facility without agreements: the extra last slot.
    where = pd.Index(fac_ids).get_indexer(facilities)
    return covered[where], partners[where]


def _role_bits_per_row(roles: pd.Series) -> np.ndarray:
    """The role bitmask of each agreement, computed once per distinct role set."""
    try:
        codes, distinct = pd.factorize(roles, use_na_sentinel=False)
    except TypeError:  # mutable sets: make them hashable first
        codes, distinct = pd.factorize(roles.map(frozenset), use_na_sentinel=False)
    return np.array([mask_of(rs) for rs in distinct], dtype=np.int64)[codes]


def status_table(status: pd.DataFrame, areas: pd.DataFrame, by: str = "prefecture",
                 by_type: bool = True) -> pd.DataFrame:
    """Counts of facilities per status, grouped by area level (and facility type).

    ``by`` is ``prefecture``, ``secondary_area``, ``municipality`` or ``none``.
    Columns are the five statuses (codes), ``total``, and ``all_met_share`` — the
    share of *tracked* facilities with all requirements met, the base the MHLW
    survey figures use (facilities that answered).
    """
    df = status.join(areas, on="municipality_code")
    keys: list[str] = []
    if by != "none":
        code, name = GROUPINGS[by]
        keys += [code] + ([name] if name else [])
    if by_type:
        keys.append("facility_type")
    counts = (
        df.groupby(keys + ["status"], observed=True).size().unstack("status", fill_value=0)
        if keys else df.groupby("status").size().to_frame().T
    )
    codes = [s.value for s in STATUS_ORDER]
    for s in codes:
        if s not in counts.columns:
            counts[s] = 0
    counts = counts[codes]
    counts.columns = codes
    counts["total"] = counts.sum(axis=1)
    tracked = counts["total"] - counts[Status.NOT_TRACKED.value]
    counts["all_met_share"] = (100 * counts[Status.ALL_MET.value] / tracked.where(tracked > 0)).round(1)
    if by_type:
        order = {code: i for i, code in enumerate(FACILITY_TYPES)}
        counts = counts.reset_index().sort_values(
            keys[:-1] + ["facility_type"], key=lambda s: s.map(order) if s.name == "facility_type" else s
        ).reset_index(drop=True)
    else:
        counts = counts.reset_index(drop=not keys)
    return counts


def japanese_labels(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with the official Japanese labels as headers and type names."""
    out = table.copy()
    if "facility_type" in out.columns:
        out.insert(out.columns.get_loc("facility_type") + 1, "施設種別",
                   out["facility_type"].map(lambda t: FACILITY_TYPES[t].name_ja))
    rename = {s.value: s.label_ja for s in STATUS_ORDER}
    rename.update({"total": "合計", "all_met_share": "全要件充足率（集計対象に占める%）",
                   "municipality_code": "市区町村コード", "municipality_name": "市区町村名",
                   "secondary_area_code": "二次医療圏コード", "secondary_area_name": "二次医療圏名",
                   "prefecture_code": "都道府県コード", "facility_type": "施設種別コード"})
    return out.rename(columns=rename)


def scope_notes(region: Region, status: pd.DataFrame) -> pd.Series:
    """Per facility, what its missing roles cannot prove: in a region without clinics
    (``region.scope.clinics_loaded`` false) a missing ① or ② is "診療所未取込", not a proven gap.
    Blank elsewhere.

    >>> from matching.contract import load_region
    >>> region = load_region("data/demo")
    >>> bool(scope_notes(region, facility_status(region)).eq("").all())
    True
    """
    if region.scope.clinics_loaded:
        return pd.Series("", index=status.index, dtype=object)
    clinic_roles = frozenset({Role.CONSULT, Role.VISIT})
    cache: dict = {}

    def note(missing) -> str:
        if missing not in cache:
            roles = "".join(r.mark for r in (Role.CONSULT, Role.VISIT) if r in missing & clinic_roles)
            cache[missing] = f"{roles}: {CLINICS_NOT_LOADED_SHORT_JA}（未確認）" if roles else ""
        return cache[missing]

    return status["missing_roles"].map(note)


def missing_slots_text(partial) -> str:
    """The slots still missing of each role given in part of the week, in Japanese
    (``② 休日夜間が未確保``); blank when no role is partly covered.

    >>> missing_slots_text({"visit": 7})
    '② 休日夜間が未確保'
    """
    if not isinstance(partial, dict):
        return ""
    return "、".join(f"{Role(code).mark} {slots_ja(ALL_SLOTS & ~have)}が未確保" for code, have in partial.items())
