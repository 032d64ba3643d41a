"""③ admission for a whole region (national): the role only hospitals can take.

Hospitals are complete in the 病床機能報告, so even a region without clinics (``matching import
region all``) can answer: which facilities that must secure ③ have no hospital that could admit
their residents within the limit (45 minutes by default), and how many more facilities the
hospitals there would have to take.

* per facility — the nearest admitting hospitals within the limit (the ordinary candidate search,
  :func:`matching.candidates.find_candidates`, with ③ as the only missing role; agreements in
  force are ignored: the question is where ③ *could* come from), how many there are, and the
  nearest admitting hospital at any distance;
* per prefecture and 二次医療圏 — facilities needing ③, those without any admitting hospital in
  reach, admitting hospitals and their estimated capacity (:mod:`matching.capacity`);
* the smallest set of hospital capacity increases (:func:`matching.scenarios.capacity.capacity_plan`
  for ③ alone, over every hospital within the limit — exact, by the maximum-flow reduction
  described there) that lets every facility with a hospital in reach be assigned one; facilities
  with none in reach cannot be helped by capacity and are listed.

"Admitting hospital" = a hospital whose ``admit`` is true (in an imported national region:
在宅療養支援, 二次救急, 三次救急 or 地域支援 in the 病床機能報告, see docs/importers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from matching.boundaries import CREDIT
from matching.candidates import eligible_institutions, find_candidates, travel_provider
from matching.capacity import estimate_facilities
from matching.parameters import MatchParameters
from matching.region import Region
from matching.roles import column as role_column
from matching.status import facility_status
from matching.travel import GeodesicTravel
from matching.travel.geodesic import geodesic_km, unit_vectors
from matching.vocabulary import FACILITY_TYPES, Role

ADMIT = frozenset({Role.ADMIT})


@dataclass
class AdmissionAnalysis:
    facilities: pd.DataFrame
    by_area: pd.DataFrame
    by_prefecture: pd.DataFrame
    increases: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Facilities with a hospital in reach that the plan leaves uncovered (cap) — normally none.
    capped: pd.DataFrame = field(default_factory=pd.DataFrame)
    plan_note: str = ""
    minutes: float = 45.0
    nearest: int = 3


def _admission_params(params: MatchParameters | None) -> MatchParameters:
    params = params or MatchParameters()
    # Every facility counts (no annual reports nationally), and only the types that must secure ③.
    types = [t.code for t in FACILITY_TYPES.values() if Role.ADMIT in t.required_roles]
    return params.model_copy(update={"include_unreported": True, "facility_types": types})


def admission_analysis(region: Region, params: MatchParameters | None = None, *, nearest: int = 3,
                       plan: bool = True, plan_nearest: int | None = None) -> AdmissionAnalysis:
    """The ③ analysis of ``region`` (see the module docstring); ``plan_nearest=K`` plans on each
    facility's K nearest hospitals only (then the increases suffice but are not proven fewest)."""
    params = _admission_params(params)
    planned = region.as_planned(params)
    limit = params.limits[Role.ADMIT].minutes
    # Where ③ could come from: every facility of a ③ type, as if it had no partner yet.
    status = facility_status(planned, planned.partnerships.iloc[0:0])
    status = status[status["facility_type"].isin(params.facility_types)]
    status = status.assign(missing_roles=[ADMIT] * len(status))
    travel = travel_provider(planned, params)
    cand = find_candidates(planned, status, params, travel, nearest=nearest)
    cand = cand[cand["role"] == Role.ADMIT.value].sort_values(["facility_id", "minutes", "institution_id"])
    inst = planned.institutions
    names = inst["name"]

    fac = planned.facility_area().loc[status.index]
    per = cand.groupby("facility_id")
    top = {f: g.head(nearest) for f, g in per}
    rows = []
    for f in fac.index:
        g = top.get(f)
        ids = [] if g is None else g["institution_id"].tolist()
        mins = [] if g is None else g["minutes"].round(1).tolist()
        rows.append({"hospitals_in_reach": ";".join(ids),
                     "hospital_names": "、".join(names.reindex(ids).fillna("").tolist()),
                     "minutes": ";".join(f"{m:g}" for m in mins),
                     "nearest_minutes": mins[0] if mins else np.nan})
    near = pd.DataFrame(rows, index=fac.index)
    count_in_reach = _count_within(planned, fac, params, travel, limit)
    any_id, any_min = _nearest_any(planned, fac, params, travel)

    out = pd.DataFrame({
        "facility_id": fac.index, "name": fac["name"].to_numpy(), "facility_type": fac["facility_type"].to_numpy(),
        "facility_type_ja": fac["facility_type"].map(lambda t: FACILITY_TYPES[t].name_ja).to_numpy(),
        "prefecture_code": fac["prefecture_code"].to_numpy(),
        "secondary_area_code": fac["secondary_area_code"].to_numpy(),
        "secondary_area_name": fac["secondary_area_name"].to_numpy(),
        "municipality_code": fac["municipality_code"].to_numpy(),
        "municipality_name": fac["municipality_name"].to_numpy(),
        "residents": planned.residents().reindex(fac.index).to_numpy(),
        "location_source": fac["location_source"].to_numpy() if "location_source" in fac else "",
        "admitting_in_reach": count_in_reach,
        "covered": count_in_reach > 0,
        "nearest_in_reach": near["hospital_names"].to_numpy(),
        "nearest_in_reach_ids": near["hospitals_in_reach"].to_numpy(),
        "nearest_in_reach_minutes": near["minutes"].to_numpy(),
        "nearest_admitting_id": any_id,
        "nearest_admitting_name": names.reindex(any_id).fillna("").to_numpy(),
        "nearest_admitting_minutes": np.round(any_min, 1),
    })
    by_area = _by(out, planned, params, ["prefecture_code", "secondary_area_code", "secondary_area_name"])
    by_pref = _by(out, planned, params, ["prefecture_code"])
    result = AdmissionAnalysis(out.reset_index(drop=True), by_area, by_pref, minutes=limit, nearest=nearest)
    if plan:
        _plan(result, region, params, plan_nearest)
    return result


def _admitting(region: Region, params: MatchParameters) -> pd.DataFrame:
    inst = eligible_institutions(region, params)
    return inst[inst[role_column(Role.ADMIT)].astype(bool)]


def _count_within(region, fac, params, travel, limit) -> np.ndarray:
    """Admitting hospitals within the limit of each facility (all of them, not only the nearest)."""
    adm = _admitting(region, params)
    if not len(adm) or not len(fac):
        return np.zeros(len(fac), int)
    if isinstance(travel, GeodesicTravel):
        radius_km = limit / 60.0 * travel.speed_kmh / travel.circuity
        chord = 2 * np.sin(radius_km / 6371.0 / 2)
        tree = cKDTree(unit_vectors(adm["lat"].to_numpy(float), adm["lon"].to_numpy(float)))
        pts = unit_vectors(fac["lat"].to_numpy(float), fac["lon"].to_numpy(float))
        return np.array([len(x) for x in tree.query_ball_point(pts, chord)], int)
    from matching.travel import Points

    fi, _, mins = travel.within(Points.of(fac), Points.of(adm), limit)
    return np.bincount(fi[mins <= limit], minlength=len(fac))


def _nearest_any(region, fac, params, travel) -> tuple[np.ndarray, np.ndarray]:
    """The nearest admitting hospital of each facility at any distance (straight line × circuity)."""
    adm = _admitting(region, params)
    if not len(adm):
        return np.array([""] * len(fac), object), np.full(len(fac), np.nan)
    tree = cKDTree(unit_vectors(adm["lat"].to_numpy(float), adm["lon"].to_numpy(float)))
    _, idx = tree.query(unit_vectors(fac["lat"].to_numpy(float), fac["lon"].to_numpy(float)))
    km = geodesic_km(fac["lat"].to_numpy(float), fac["lon"].to_numpy(float),
                     adm["lat"].to_numpy(float)[idx], adm["lon"].to_numpy(float)[idx])
    t = params.travel
    return adm.index.to_numpy(object)[idx], np.asarray(km) * t.circuity / t.speed_kmh * 60.0


def _by(out: pd.DataFrame, region: Region, params: MatchParameters, keys: list[str]) -> pd.DataFrame:
    """Facilities needing ③, without any admitting hospital in reach, and the hospitals' capacity."""
    g = out.groupby(keys, sort=True)
    table = pd.DataFrame({
        "facilities": g.size(),
        "without_admitting": g["covered"].agg(lambda c: int((~c).sum())),
        "residents_without": g.apply(lambda d: int(d.loc[~d["covered"], "residents"].sum()), include_groups=False),
    })
    table["share_without_pct"] = (100 * table["without_admitting"] / table["facilities"]).round(1)
    adm = _admitting(region, params).join(region.areas, on="municipality_code")
    cap = pd.Series([estimate_facilities(k, d, b) for k, d, b in
                     zip(adm["kind"], adm["designations"], adm["beds"], strict=True)], index=adm.index)
    if "capacity_facilities" in adm.columns:  # a stated capacity wins over the estimate
        cap = adm["capacity_facilities"].astype("Float64").fillna(cap.astype(float)).astype(float)
    adm = adm.assign(_cap=cap)
    h = adm.groupby(keys, sort=True)
    table["admitting_hospitals"] = h.size().reindex(table.index).fillna(0).astype(int)
    table["admitting_capacity"] = h["_cap"].sum().reindex(table.index).fillna(0).astype(int)
    table["capacity_minus_facilities"] = table["admitting_capacity"] - table["facilities"]
    return table.reset_index()


def _plan(result: AdmissionAnalysis, region: Region, params: MatchParameters, k: int | None) -> None:
    from matching.scenarios.capacity import capacity_plan

    plan = capacity_plan(region, params.model_copy(update={"facility_types": params.facility_types}),
                         confirm=False, roles=ADMIT, nearest=k, cap=None)
    inc = plan.increases.copy()
    if len(inc):
        inc = inc.join(region.areas, on="municipality_code")
    result.increases = inc.reset_index(drop=True)
    result.capped = plan.capped if plan.capped is not None else pd.DataFrame()
    scope = "上限内の全候補で求めた最小の増枠" if k is None else \
        f"各施設の近い{k}候補で求めた増枠（十分条件。全候補での最小とは限らない）"
    proof = ("（最適性証明済み：増やす施設数の合計、次に病院数）" if k is None else "（最適性証明済み）") \
        if plan.optimal else "（計算時間の上限により最適性未証明）"
    result.plan_note = f"③のみ、{scope}：{len(inc)} 病院で計 {plan.total_facilities} 施設分{proof}"


# -- files people open -----------------------------------------------------------------------------

#: Japanese headers of the analysis tables (CSV with BOM and the workbook).
LABELS_JA = {
    "facility_id": "施設ID", "name": "施設名", "facility_type": "施設種別コード", "facility_type_ja": "施設種別",
    "prefecture_code": "都道府県コード", "prefecture_name": "都道府県",
    "secondary_area_code": "二次医療圏コード", "secondary_area_name": "二次医療圏",
    "municipality_code": "市区町村コード", "municipality_name": "市区町村", "residents": "定員（不明は既定値）",
    "location_source": "位置の出典", "admitting_in_reach": "上限内の入院受入病院数", "covered": "上限内に受入病院あり",
    "nearest_in_reach": "近い受入病院（上限内）", "nearest_in_reach_ids": "近い受入病院ID",
    "nearest_in_reach_minutes": "移動時間（分）", "nearest_admitting_id": "最寄りの受入病院ID",
    "nearest_admitting_name": "最寄りの受入病院（距離問わず）", "nearest_admitting_minutes": "最寄りまでの移動時間（分）",
    "facilities": "③が必要な施設数", "without_admitting": "上限内に受入病院がない施設数",
    "residents_without": "その定員計", "share_without_pct": "割合（%）", "admitting_hospitals": "入院受入病院数",
    "admitting_capacity": "受入可能施設数（推計）", "capacity_minus_facilities": "受入可能施設数−施設数",
    "institution_id": "医療機関ID", "kind": "種別", "capacity": "現在の受入枠（推計）", "add": "増やす施設数",
    "unit": "単位", "column": "列", "roles": "役割",
}


def _ja(df: pd.DataFrame) -> pd.DataFrame:
    from matching.importers.municipalities import PREFECTURE_CODES

    out = df.copy()
    if "prefecture_code" in out.columns and "prefecture_name" not in out.columns:
        out.insert(out.columns.get_loc("prefecture_code") + 1, "prefecture_name",
                   out["prefecture_code"].map(PREFECTURE_CODES).fillna(""))
    if "covered" in out.columns:
        out["covered"] = out["covered"].map({True: "○", False: "×"})
    return out.drop(columns=[c for c in ("column",) if c in out.columns]).rename(columns=LABELS_JA)


def write_outputs(result: AdmissionAnalysis, out_dir, *, status_by_prefecture: pd.DataFrame | None = None,
                  boundaries=None, region: Region | None = None, title: str = "③入院受入れの分析") -> list[str]:
    """admission_facilities.csv, admission_by_area.csv, admission_by_prefecture.csv,
    admission_increases.csv (BOM, Japanese headers), admission.xlsx and, with ``boundaries``
    (a GeoJSON of prefectures) and ``region``, the offline map admission_map.html."""
    from pathlib import Path

    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from matching import safecells

    out = Path(out_dir)
    tables = {
        "admission_by_prefecture": ("都道府県別", result.by_prefecture),
        "admission_by_area": ("二次医療圏別", result.by_area),
        "admission_uncovered": ("受入病院なしの施設", result.facilities[~result.facilities["covered"]]),
        "admission_facilities": ("施設別", result.facilities),
        "admission_increases": ("増枠案", result.increases),
    }
    written = []
    for stem, (_, df) in tables.items():
        safecells.to_csv(_ja(df), out / f"{stem}.csv", index=False, encoding="utf-8-sig")
        written.append(f"{stem}.csv")
    wb = Workbook()
    ws = wb.active
    ws.title = "概要"
    fac = result.facilities
    lines = [title,
             f"③（入院受入れ）が必要な施設: {len(fac)}（特養・地域密着型特養・老健・介護医療院）",
             f"移動上限 {result.minutes:g} 分以内に入院受入病院がない施設: {int((~fac['covered']).sum())}",
             result.plan_note,
             "入院受入病院 = admit が true の病院（病床機能報告の在宅療養支援・二次救急・三次救急・地域支援）。"
             "受入可能施設数は実態調査の分布による推計で、各病院の意向は未確認。",
             "協定の状況（年次報告）は含まない：どこから③を得られるかの分析。"]
    for i, text in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=text)
    sheets = [(name, _ja(df)) for name, df in tables.values()]
    if status_by_prefecture is not None:
        sheets.insert(0, ("状況（都道府県×種別）", status_by_prefecture))
    for name, df in sheets:
        ws = wb.create_sheet(name[:31])
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append([None if (isinstance(v, float) and np.isnan(v)) else
                       (v.item() if hasattr(v, "item") else v) for v in row])
        for k, col in enumerate(df.columns, start=1):
            ws.column_dimensions[get_column_letter(k)].width = min(40, max(8, len(str(col)) * 2))
        ws.freeze_panes = "A2"
    safecells.workbook(wb)
    wb.save(out / "admission.xlsx")
    written.append("admission.xlsx")
    if boundaries is not None and region is not None:
        (out / "admission_map.html").write_text(map_html(result, region, boundaries, title), encoding="utf-8")
        written.append("admission_map.html")
    return written


def map_html(result: AdmissionAnalysis, region: Region, boundaries, title: str) -> str:
    """One offline HTML file: prefecture outlines (GeoJSON), admitting hospitals (blue) and the
    facilities with none within the limit (red circles, with name and the nearest hospital on hover)
    and the hospitals the plan asks for more (orange squares, with the increase)."""
    import json
    from html import escape
    from pathlib import Path

    data = json.loads(Path(boundaries).read_text(encoding="utf-8"))
    fac = result.facilities
    adm = _admitting(region, _admission_params(None))
    lats = np.concatenate([fac["facility_id"].map(region.facilities["lat"]).to_numpy(float),
                           adm["lat"].to_numpy(float)])
    lons = np.concatenate([fac["facility_id"].map(region.facilities["lon"]).to_numpy(float),
                           adm["lon"].to_numpy(float)])
    lat0, lat1, lon0, lon1 = lats.min() - 0.3, lats.max() + 0.3, lons.min() - 0.3, lons.max() + 0.3
    kx = np.cos(np.radians((lat0 + lat1) / 2))
    width = 900
    scale = width / ((lon1 - lon0) * kx)
    height = int((lat1 - lat0) * scale) + 1

    def xy(lon, lat):
        return (lon - lon0) * kx * scale, (lat1 - lat) * scale

    paths = []
    for feat in data.get("features", []):
        geom = feat.get("geometry") or {}
        polys = [geom["coordinates"]] if geom.get("type") == "Polygon" else geom.get("coordinates", []) \
            if geom.get("type") == "MultiPolygon" else []
        d = []
        for poly in polys:
            for ring in poly:
                pts = [xy(x, y) for x, y in ring]
                if pts:
                    d.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in pts) + "Z")
        if d:
            paths.append(f'<path d="{"".join(d)}" fill="#f4f4f0" stroke="#999" stroke-width="0.5"/>')
    dots = []
    for lat, lon in zip(adm["lat"], adm["lon"], strict=True):
        x, y = xy(lon, lat)
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.2" fill="#3a6fb0" opacity="0.6"/>')
    lost = fac[~fac["covered"]]
    for rec in lost.itertuples(index=False):
        lat, lon = region.facilities.at[rec.facility_id, "lat"], region.facilities.at[rec.facility_id, "lon"]
        x, y = xy(lon, lat)
        tip = (f"{rec.name}（{rec.facility_type_ja}・{rec.municipality_name}）: 最寄りの受入病院 "
               f"{rec.nearest_admitting_name} 約{rec.nearest_admitting_minutes:.0f}分")
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#d62728" stroke="#fff" stroke-width="0.8" '
                    'class="uncovered">'
                    f'<title>{escape(tip)}</title></circle>')
    for rec in result.increases.itertuples(index=False):  # the plan's hospitals: squares, not only colour
        x, y = xy(region.institutions.at[rec.institution_id, "lon"], region.institutions.at[rec.institution_id, "lat"])
        tip = f"{rec.name}: 受入枠 {rec.capacity} → {rec.capacity + rec.add}（+{rec.add} 施設）"
        dots.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#f5a623" stroke="#000" '
                    f'stroke-width="0.8" class="increase"><title>{escape(tip)}</title></rect>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">{"".join(paths)}{"".join(dots)}</svg>')
    rows = "".join(f"<tr><td>{escape(str(r.name))}</td><td>{escape(str(r.facility_type_ja))}</td>"
                   f"<td>{escape(str(r.municipality_name))}</td><td>{escape(str(r.nearest_admitting_name))}</td>"
                   f"<td>{r.nearest_admitting_minutes:.0f}</td></tr>" for r in lost.itertuples(index=False))
    return (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            '<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}'
            'td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head><body>'
            f'<h1>{escape(title)}</h1><p>赤い丸: 移動上限 {result.minutes:g} 分以内に入院受入病院がない施設'
            f'（{len(lost)}）、青い点: 入院受入病院（{len(adm)}）、橙の四角: 受入枠を増やす病院'
            f'（{len(result.increases)}）。{escape(result.plan_note)}</p>{svg}'
            '<table><tr><th>施設</th><th>種別</th><th>市区町村</th><th>最寄りの受入病院</th><th>分</th></tr>'
            f'{rows}</table><p>境界: {CREDIT}</p></body></html>')
