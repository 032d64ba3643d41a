"""Compliance status: which roles each facility needs, has and lacks.

The rules come from the vocabulary table: a facility type's ``required_roles``;
roles are covered *jointly* by all of a facility's current partners
(several institutions may share them, e.g. a clinic for ①② and a hospital for ③).
"""

from __future__ import annotations

import pandas as pd

from matching.region import Region
from matching.vocabulary import (
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


def facility_status(region: Region, partnerships: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per facility: required, covered and missing roles, partners and status.

    ``partnerships`` defaults to the region's agreements in force; pass current
    plus proposed agreements to see the status a proposal would bring.

    >>> from matching.contract import load_region
    >>> st = facility_status(load_region("data/demo"))            # doctest: +SKIP
    >>> st.loc["F0001", ["status", "missing_roles"]].tolist()     # doctest: +SKIP
    """
    part = region.partnerships if partnerships is None else partnerships
    fac = region.facilities
    covered = (
        part.groupby("facility_id")["roles"].agg(lambda rs: frozenset().union(*rs))
        if len(part) else pd.Series(dtype=object)
    )
    partners = (
        part.groupby("facility_id")["institution_id"].agg(lambda ids: tuple(sorted(ids)))
        if len(part) else pd.Series(dtype=object)
    )
    required = fac["facility_type"].map(lambda t: FACILITY_TYPES[t].required_roles)
    cov = pd.Series([covered.get(f, frozenset()) for f in fac.index], index=fac.index)
    par = pd.Series([partners.get(f, ()) for f in fac.index], index=fac.index)
    out = pd.DataFrame({
        "facility_type": fac["facility_type"],
        "municipality_code": fac["municipality_code"],
        "obligated": fac["facility_type"].map(lambda t: FACILITY_TYPES[t].obligated),
        "reported": fac["reported"],
        "required_roles": required,
        "covered_roles": [c & r for c, r in zip(cov, required, strict=True)],
        "missing_roles": [r - c for c, r in zip(cov, required, strict=True)],
        "partners": par,
    })
    # Stored as the code string (Status(code) gives the enum and its Japanese label).
    out["status"] = [
        classify(r, c, reported=rep, designated=bool(p)).value
        for r, c, rep, p in zip(out["required_roles"], cov, out["reported"], par, strict=True)
    ]
    return out


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
