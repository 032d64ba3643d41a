"""Apply a scenario to a region: a new Region and the run's MatchParameters.

Pure functions: the input region is never changed (every frame is copied
before it is edited).  The changes are applied in this order, so that a rule
such as "20 % of the clinics" never picks an institution the same scenario
adds, and growth never scales a facility the scenario adds with its own size:

1. ``close`` — the institutions are removed, with their agreements in force and
   any measured travel times, pinned or forbidden pairs that name them;
2. ``stop_accepting`` / ``start_accepting`` — the ``accepting`` flag;
3. ``capacity`` — spare capacity: set, ``+N``, a percent of the *total* capacity (spare
   + what agreements in force use) or a percent of the spare capacity (blank = unlimited
   stays unlimited; results are rounded to the nearest whole number, halves up);
4. ``new_institutions``;
5. ``growth`` — residents × factor (unknown 定員 = the type's default first);
6. ``new_facilities``.

>>> from matching.scenarios.schema import Scenario
>>> from matching.contract import load_region
>>> region = load_region("data/demo")
>>> s = Scenario.from_mapping({"close": [{"ids": ["I0001"]}]}, source="x")
>>> new_region, params = apply_scenario(region, s)
>>> "I0001" in new_region.institutions.index, "I0001" in region.institutions.index
(False, True)
"""

from __future__ import annotations

import hashlib
import math

import pandas as pd
from pydantic import ValidationError

from matching.parameters import MatchParameters
from matching.region import Region
from matching.roles import column as role_column
from matching.scenarios.schema import (
    FacilitySelector,
    InstitutionSelector,
    Scenario,
    ScenarioError,
)
from matching.tomlfile import validation_lines
from matching.vocabulary import ROLE_ORDER, InstitutionKind, default_roles


def scenario_parameters(scenario: Scenario, base: MatchParameters | None = None) -> MatchParameters:
    """The run parameters of a scenario: ``base`` (default: the defaults) with its overrides.

    >>> s = Scenario.from_mapping({"parameters": {"limits": {"visit": {"km": 20}}}}, source="x")
    >>> p = scenario_parameters(s)
    >>> p.limits["visit"].km, p.limits["visit"].minutes
    (20.0, 30.0)
    """
    base = base or MatchParameters()
    merged = _deep_merge(base.model_dump(mode="json"), scenario.parameters)
    try:
        return MatchParameters.model_validate(merged)
    except ValidationError as exc:
        raise ScenarioError(validation_lines(scenario.source, exc, prefix="parameters.")) from None


def apply_scenario(region: Region, scenario: Scenario,
                   base_params: MatchParameters | None = None) -> tuple[Region, MatchParameters]:
    """The region as the scenario would make it, and the parameters to match it with."""
    params = scenario_parameters(scenario, base_params)
    src = scenario.source
    inst = region.institutions.copy()
    fac = region.facilities.copy()
    part = region.partnerships.copy()
    tt = None if region.travel_times is None else region.travel_times.copy()

    # 1. Closures.
    closed: dict[str, str] = {}
    for k, sel in enumerate(scenario.close):
        for i in select_institutions(region.areas, inst, sel, f"{src}: close[{k}]"):
            closed.setdefault(i, f"close[{k}]")
    inst = inst.drop(index=list(closed))
    part = part[~part["institution_id"].isin(closed)].reset_index(drop=True)
    if tt is not None:
        tt = tt[~tt["institution_id"].isin(closed)].reset_index(drop=True)
    params = params.model_copy(update={
        "pinned": [p for p in params.pinned if p.institution_id not in closed],
        "forbidden": [p for p in params.forbidden if p.institution_id not in closed],
    })

    def pick(sel: InstitutionSelector, key: str) -> list[str]:
        gone = sorted(set(sel.ids or ()) & set(closed))
        if gone:
            raise ScenarioError(f"{src}: {key}.ids: 医療機関 {gone} はこのシナリオの {closed[gone[0]]} で"
                                "廃止されています")
        return select_institutions(region.areas, inst, sel, f"{src}: {key}", known=region.institutions.index)

    # 2. Willingness.
    if scenario.stop_accepting or scenario.start_accepting:
        accepting = inst["accepting"].copy()
        for name, value in (("stop_accepting", False), ("start_accepting", True)):
            for k, sel in enumerate(getattr(scenario, name)):
                accepting.loc[pick(sel, f"{name}[{k}]")] = value
        inst["accepting"] = accepting

    # 3. Capacity.
    in_use = None
    for k, change in enumerate(scenario.capacity):
        ids = pick(change, f"capacity[{k}]")
        for unit in ("facilities", "residents"):
            column = f"capacity_{unit}"
            absolute, add = getattr(change, unit), getattr(change, f"{unit}_add")
            total_pct, percent = getattr(change, f"{unit}_total_percent"), getattr(change, f"{unit}_percent")
            if absolute is not None:
                inst.loc[ids, column] = absolute
            elif add is not None:
                inst.loc[ids, column] = inst.loc[ids, column].map(
                    lambda c, a=add: pd.NA if pd.isna(c) else max(0, int(c) + a))
            elif total_pct is not None:
                if in_use is None:
                    in_use = capacity_in_use(region.residents(), part)
                used = in_use[unit].reindex(ids, fill_value=0)
                inst.loc[ids, column] = [
                    pd.NA if pd.isna(c) else max(0, int(c) + scaled(int(c) + int(u), total_pct / 100)
                                                 if total_pct >= 0
                                                 else int(c) - scaled(int(c) + int(u), -total_pct / 100))
                    for c, u in zip(inst.loc[ids, column], used, strict=True)]
            elif percent is not None:
                inst.loc[ids, column] = inst.loc[ids, column].map(
                    lambda c, p=percent: pd.NA if pd.isna(c) else scaled(int(c), 1 + p / 100))
        inst = inst.astype({"capacity_facilities": "Int64", "capacity_residents": "Int64"})

    # 4. New institutions.
    if scenario.new_institutions:
        rows = []
        for k, n in enumerate(scenario.new_institutions):
            key = f"{src}: new_institutions[{k}]"
            if n.id in region.institutions.index or n.id in [r["institution_id"] for r in rows]:
                raise ScenarioError(f"{key}.id: 医療機関ID {n.id!r} はすでにあります")
            if n.municipality_code not in region.areas.index:
                raise ScenarioError(f"{key}.municipality_code: 市区町村コード {n.municipality_code!r} は "
                                    "areas.csv にありません")
            roles = default_roles(InstitutionKind(n.kind), set(n.designations))
            # Every column of the contract (the model is built from it), ``id`` as institution_id.
            row = {"institution_id": n.id, **n.model_dump(exclude={"id"}),
                   "designations": frozenset(n.designations)}
            for role in ROLE_ORDER:
                explicit = getattr(n, role_column(role))
                row[role_column(role)] = bool(role in roles if explicit is None else explicit)
            rows.append(row)
        inst = _append(inst, pd.DataFrame(rows).set_index("institution_id"))

    # 5. Demand growth (several entries compound).
    if scenario.growth:
        residents = region.residents().astype("Int64")
        touched: set[str] = set()
        for k, g in enumerate(scenario.growth):
            ids = select_facilities(region.areas, fac, g, f"{src}: growth[{k}]")
            residents.loc[ids] = [scaled(int(n), g.factor) for n in residents.loc[ids]]
            touched.update(ids)
        # Facilities the growth did not touch keep an unknown 定員 unknown.
        fac["residents"] = fac["residents"].mask(fac.index.isin(sorted(touched)), residents).astype("Int64")

    # 6. New facilities.
    if scenario.new_facilities:
        rows = []
        for k, n in enumerate(scenario.new_facilities):
            key = f"{src}: new_facilities[{k}]"
            if n.id in region.facilities.index or n.id in [r["facility_id"] for r in rows]:
                raise ScenarioError(f"{key}.id: 施設ID {n.id!r} はすでにあります")
            if n.municipality_code not in region.areas.index:
                raise ScenarioError(f"{key}.municipality_code: 市区町村コード {n.municipality_code!r} は "
                                    "areas.csv にありません")
            rows.append({"facility_id": n.id, **n.model_dump(exclude={"id"}),
                         "residents": n.residents if n.residents else pd.NA})
        fac = _append(fac, pd.DataFrame(rows).set_index("facility_id"))

    new = Region(region.areas.copy(), fac, inst, part, tt, region.source, list(region.skipped), region.availability,
                 scope=region.scope)
    return new, params


def select_institutions(areas: pd.DataFrame, inst: pd.DataFrame, sel: InstitutionSelector, key: str,
                        known: pd.Index | None = None) -> list[str]:
    """Ids of the institutions a selector names, sorted.  ``key`` prefixes error messages.

    ``known`` (default: ``inst.index``) is the set explicit ids are checked against.
    """
    known = inst.index if known is None else known
    mask = pd.Series(True, index=inst.index)
    if sel.ids is not None:
        unknown = [i for i in sel.ids if i not in known]
        if unknown:
            raise ScenarioError(f"{key}.ids: 医療機関ID {unknown} は地域のデータにありません")
        mask &= inst.index.isin(sel.ids)
    if sel.kind is not None:
        mask &= inst["kind"] == sel.kind
    mask &= _area_mask(areas, inst, sel.municipalities, sel.secondary_areas, key)
    if sel.designations is not None:
        want = set(sel.designations)
        mask &= inst["designations"].map(lambda d: bool(set(d) & want) if want else not d)
    ids = sorted(inst.index[mask.to_numpy()])
    if sel.share < 1:
        n = scaled(len(ids), sel.share)
        ids = sorted(sorted(ids, key=lambda i: hashlib.sha256(f"{sel.seed}:{i}".encode()).hexdigest())[:n])
    return ids


def select_facilities(areas: pd.DataFrame, fac: pd.DataFrame, sel: FacilitySelector, key: str) -> list[str]:
    """Ids of the facilities a selector names, sorted (nothing given = all)."""
    mask = pd.Series(True, index=fac.index)
    if sel.ids is not None:
        unknown = [f for f in sel.ids if f not in fac.index]
        if unknown:
            raise ScenarioError(f"{key}.ids: 施設ID {unknown} は地域のデータにありません")
        mask &= fac.index.isin(sel.ids)
    if sel.facility_types is not None:
        mask &= fac["facility_type"].isin(sel.facility_types)
    mask &= _area_mask(areas, fac, sel.municipalities, sel.secondary_areas, key)
    return sorted(fac.index[mask.to_numpy()])


def scaled(n: int, factor: float) -> int:
    """``n × factor`` rounded to the nearest whole number, halves up (never below 0).

    >>> scaled(50, 1.62), scaled(1, 1.5), scaled(3, 0.5)
    (81, 2, 2)
    """
    # The small epsilon keeps 0.5-boundaries stable against binary floating-point error.
    return max(0, math.floor(n * factor + 0.5 + 1e-9))


def capacity_in_use(residents: pd.Series, partnerships: pd.DataFrame) -> pd.DataFrame:
    """Per institution, what its agreements in force use: partner facilities and their residents."""
    pairs = partnerships[["facility_id", "institution_id"]].drop_duplicates()
    n = residents.reindex(pairs["facility_id"]).fillna(0).astype(int).to_numpy()
    g = pairs.assign(residents=n).groupby("institution_id")
    return pd.DataFrame({"facilities": g.size(), "residents": g["residents"].sum()}).astype(int)


#: Japanese labels of the change log's kinds.
CHANGE_KINDS_JA = {
    "closed": "閉院（既存協定も解消）",
    "stopped_accepting": "新規受入れを停止",
    "started_accepting": "新規受入れに応じる",
    "capacity": "受入枠（空き枠）の変更",
    "new_institution": "医療機関の新設",
    "new_facility": "施設の新設",
    "residents": "入所者数（定員）の変化",
}


def change_log(before: Region, after: Region) -> pd.DataFrame:
    """What a scenario actually changed, one row per institution or item: ``kind`` (see
    :data:`CHANGE_KINDS_JA`), ``id``, ``name``, ``item``, ``before``, ``after``.

    Capacity rows show the spare capacity before and after (blank = unlimited), so "+50 %"
    that leaves an institution at 0 is visible."""
    bi, ai = before.institutions, after.institutions
    rows = []
    for i in bi.index.difference(ai.index):
        n = int((before.partnerships["institution_id"] == i).sum())
        rows.append(("closed", i, bi.at[i, "name"], "既存の協定数", n, 0))
    common = bi.index.intersection(ai.index)
    for i in common:
        b, a = bi.at[i, "accepting"], ai.at[i, "accepting"]
        b = None if pd.isna(b) else bool(b)
        a = None if pd.isna(a) else bool(a)
        label = {None: "未確認", True: "受入可", False: "受入不可"}
        if a is False and b is not False:
            rows.append(("stopped_accepting", i, ai.at[i, "name"], "新規受入れ", label[b], label[a]))
        elif a is True and b is not True:
            rows.append(("started_accepting", i, ai.at[i, "name"], "新規受入れ", label[b], label[a]))
        for unit, item in (("facilities", "空き枠（施設数）"), ("residents", "空き枠（入所者数）")):
            column = f"capacity_{unit}"
            cb, ca = bi.at[i, column], ai.at[i, column]
            if (pd.isna(cb) and pd.isna(ca)) or (not pd.isna(cb) and not pd.isna(ca) and int(cb) == int(ca)):
                continue
            rows.append(("capacity", i, ai.at[i, "name"], item,
                         "制限なし" if pd.isna(cb) else int(cb), "制限なし" if pd.isna(ca) else int(ca)))
    for i in ai.index.difference(bi.index):
        cap = ai.at[i, "capacity_facilities"]
        rows.append(("new_institution", i, ai.at[i, "name"], "空き枠（施設数）", "",
                     "制限なし" if pd.isna(cap) else int(cap)))
    bf, af = before.facilities, after.facilities
    for f in af.index.difference(bf.index):
        rows.append(("new_facility", f, af.at[f, "name"], "入所者数（定員）", "", int(after.residents()[f])))
    rb, ra = int(before.residents().sum()), int(after.residents().sum())
    if rb != ra:
        rows.append(("residents", "", "全施設", "入所者数（定員）合計", rb, ra))
    return pd.DataFrame(rows, columns=["kind", "id", "name", "item", "before", "after"])


def change_log_ja(log: pd.DataFrame) -> pd.DataFrame:
    """The change log with Japanese headers and kinds."""
    return pd.DataFrame({
        "区分": log["kind"].map(CHANGE_KINDS_JA),
        "ID": log["id"], "名称": log["name"], "項目": log["item"],
        "変更前": log["before"].astype(str), "変更後": log["after"].astype(str),
    })


def scenario_changes(before: Region, after: Region) -> dict[str, int]:
    """What a scenario changed, counted (for reports): closures, new rows, capacity, residents.

    >>> scenario_changes(region, region)["closed_institutions"]      # region: the demo
    0
    """
    bi, ai = before.institutions, after.institutions
    common = bi.index.intersection(ai.index)

    def differs(column: str) -> pd.Series:
        b, a = bi.loc[common, column], ai.loc[common, column]
        same = (b == a).fillna(False).astype(bool) | (b.isna() & a.isna())
        return ~same

    b_acc = bi.loc[common, "accepting"].astype(object)
    a_acc = ai.loc[common, "accepting"].astype(object)
    return {
        "closed_institutions": int(len(bi.index.difference(ai.index))),
        "ended_agreements": int((~before.partnerships["institution_id"].isin(ai.index)).sum()),
        "new_institutions": int(len(ai.index.difference(bi.index))),
        # Blank = not yet asked; a change to an explicit answer counts.
        "stopped_accepting": int(sum(b is not False and a is False for b, a in zip(b_acc, a_acc, strict=True))),
        "started_accepting": int(sum(b is not True and a is True for b, a in zip(b_acc, a_acc, strict=True))),
        "capacity_changed": int((differs("capacity_facilities") | differs("capacity_residents")).sum()),
        "new_facilities": int(len(after.facilities.index.difference(before.facilities.index))),
        "residents_before": int(before.residents().sum()),
        "residents_after": int(after.residents().sum()),
    }


# -- helpers -------------------------------------------------------------------

def _area_mask(areas: pd.DataFrame, frame: pd.DataFrame, municipalities, secondary_areas, key: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    if municipalities is not None:
        unknown = [m for m in municipalities if m not in areas.index]
        if unknown:
            raise ScenarioError(f"{key}.municipalities: 市区町村コード {unknown} は areas.csv にありません")
        mask &= frame["municipality_code"].isin(municipalities)
    if secondary_areas is not None:
        known = set(areas["secondary_area_code"])
        unknown = [a for a in secondary_areas if a not in known]
        if unknown:
            raise ScenarioError(f"{key}.secondary_areas: 二次医療圏コード {unknown} は areas.csv にありません")
        codes = areas.index[areas["secondary_area_code"].isin(secondary_areas)]
        mask &= frame["municipality_code"].isin(codes)
    return mask


def _append(frame: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Rows added to a typed frame, keeping its columns and dtypes (missing cells = NA)."""
    rows = rows.reindex(columns=frame.columns)
    out = pd.concat([frame, rows])
    for column, dtype in frame.dtypes.items():
        if str(dtype) != "object":  # designations (frozensets) stay as they are
            out[column] = out[column].astype(dtype)
    out.index.name = frame.index.name
    return out


def _deep_merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for k, v in patch.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
