"""The report tables with Japanese headers, shared by the workbook and the HTML report.

Labels come from the vocabulary table (facility types, statuses, roles as ①②③);
identifiers stay in their own columns so a row can be traced back to the data.

>>> proposals_table(region, result).columns[:3].tolist()   # region, result: the demo and its run
['施設ID', '施設名', '施設種別']
"""

from __future__ import annotations

import pandas as pd

from matching.optimise.run import MatchResult
from matching.region import Region
from matching.status import japanese_labels, status_table
from matching.vocabulary import (
    CLINICS_NOT_LOADED,
    CLINICS_NOT_LOADED_SHORT_JA,
    FACILITY_TYPES,
    STATUS_ORDER,
    InstitutionKind,
    Role,
    Status,
    roles_ja,
)

REASON_SHORT_JA = {
    "not_tracked": "年次報告なし",
    "no_provider": "提供機関なし",
    "out_of_range": "移動上限外",
    "not_accepting": "新規受入れ不可",
    "declined": "辞退済み",
    "capacity": "受入枠不足",
    "solver_limit": "計算時間上限",
    CLINICS_NOT_LOADED: CLINICS_NOT_LOADED_SHORT_JA,
}

MARK = "○"  # a yes in a Japanese table; blank = no


def status_by_area(status: pd.DataFrame, areas: pd.DataFrame, by: str = "municipality") -> pd.DataFrame:
    """Facilities per status (the MHLW categories) per area × facility type, Japanese headers."""
    table = japanese_labels(status_table(status, areas, by=by))
    return table.drop(columns=["施設種別コード"])


def status_by_type(status: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """The prefecture-wide table (one row per facility type), Japanese headers."""
    return status_by_area(status, areas, by="none")


def proposals_table(region: Region, result: MatchResult) -> pd.DataFrame:
    """One row per proposal with facility and institution names, roles as ①②③."""
    p = result.proposals
    fac = region.facility_area()
    inst = region.institutions
    f, i = p["facility_id"], p["institution_id"]
    return pd.DataFrame({
        "施設ID": f,
        "施設名": fac["name"].reindex(f).to_numpy(),
        "施設種別": fac["facility_type"].reindex(f).map(lambda t: FACILITY_TYPES[t].name_ja).to_numpy(),
        "市区町村": fac["municipality_name"].reindex(f).to_numpy(),
        "二次医療圏": fac["secondary_area_name"].reindex(f).to_numpy(),
        "医療機関ID": i,
        "医療機関名": inst["name"].reindex(i).to_numpy(),
        "病院・診療所": inst["kind"].reindex(i).map(lambda k: InstitutionKind(k).label_ja).to_numpy(),
        "役割": p["roles"].map(lambda r: roles_ja({Role(x) for x in str(r).split(";") if x})),
        "直線距離（km）": p["distance_km"].astype(float),
        "移動時間（分）": p["travel_minutes"].astype(float),
        "既存協定に役割を追加": p["extends_existing"].map(lambda b: MARK if b else ""),
        "受入意向未確認": p["not_yet_asked"].map(lambda b: MARK if b else ""),
        "調整済み（固定）": p["pinned"].map(lambda b: MARK if b else ""),
        "説明": p["explanation"],
    }).reset_index(drop=True)


def unmatched_table(region: Region, result: MatchResult) -> pd.DataFrame:
    """One row per facility and role left uncovered, with the reason and what would fix it.

    Facilities with no annual report (集計していない) are not 未充足: they are listed apart
    (:func:`unreported_table`)."""
    u = result.unmatched
    u = u[u["reason_code"] != "not_tracked"]
    fac = region.facility_area()
    names = region.institutions["name"]
    f = u["facility_id"]
    return pd.DataFrame({
        "施設ID": f,
        "施設名": fac["name"].reindex(f).to_numpy(),
        "施設種別": fac["facility_type"].reindex(f).map(lambda t: FACILITY_TYPES[t].name_ja).to_numpy(),
        "市区町村": fac["municipality_name"].reindex(f).to_numpy(),
        "二次医療圏": fac["secondary_area_name"].reindex(f).to_numpy(),
        "不足する役割（提案後）": u["missing_roles"],
        "役割": u["role"].map(lambda r: Role(r).label_ja if r else "（全体）"),
        "理由区分": u["reason_code"].map(lambda c: REASON_SHORT_JA.get(c, c)),
        "理由": u["reason"],
        "対応案": u["fix"],
        "対応先の医療機関": u["fix_institution_id"].map(lambda i: names.get(i, "") if i else ""),
    }).reset_index(drop=True)


def summary_numbers(region: Region, result: MatchResult) -> list[tuple[str, object]]:
    """The headline numbers of a run as (label, value) pairs."""
    before, after = result.status_before, result.status_after
    obligated = after["obligated"].astype(bool)
    tracked = after["reported"].astype(bool)
    all_met = "all_met"
    p = result.proposals
    return [
        ("高齢者施設等", len(region.facilities)),
        ("うち義務施設（①②③が必要）", int(obligated.sum())),
        ("医療機関（病院・診療所）", len(region.institutions)),
        ("既存の協定", len(region.partnerships)),
        ("全要件充足の施設（現状）", int((before["status"] == all_met).sum())),
        ("全要件充足の施設（提案後）", int((after["status"] == all_met).sum())),
        ("義務施設の全要件充足（現状）", int(((before["status"] == all_met) & obligated).sum())),
        ("義務施設の全要件充足（提案後）", int(((after["status"] == all_met) & obligated).sum())),
        ("義務施設（集計対象）", int((obligated & tracked).sum())),
        ("提案件数", len(p)),
        ("うち新規協定", int((~p["extends_existing"].astype(bool)).sum())),
        ("うち既存協定への役割追加", int(p["extends_existing"].astype(bool).sum())),
        ("年次報告なしの施設（集計していない：未充足に数えない）", int((~tracked).sum())),
        ("未充足が残る施設（年次報告なしを除く）",
         int(result.unmatched.loc[result.unmatched["reason_code"] != "not_tracked", "facility_id"].nunique())),
        ("最適性の証明", "あり（全目標でギャップ0）" if result.optimal else "なし（計算時間の上限）"),
    ]


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The scenario summary transposed for a meeting: one row per figure, one column per scenario."""
    from matching.scenarios.compare import SUMMARY_LABELS_JA

    keys = [k for k in SUMMARY_LABELS_JA if k in summary.columns and k not in ("scenario", "label")]
    out = summary.set_index("label")[keys].T
    out.index = [SUMMARY_LABELS_JA[k] for k in keys]
    out.index.name = "項目"
    out = out.map(lambda v: ("はい" if v else "いいえ") if isinstance(v, bool) else v)
    return out.reset_index()


def coverage_by_type(coverage: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """From a comparison's coverage table: facilities with all requirements met after the
    proposals, per facility type (rows) and scenario (columns), summed over areas."""
    after = coverage[coverage["when"] == "after"]
    t = after.groupby(["facility_type", "scenario"], sort=False)["all_met"].sum().unstack("scenario")
    t = t.reindex([c for c in FACILITY_TYPES if c in t.index])
    t = t[[s for s in labels if s in t.columns]]
    t.columns = [labels[s] for s in t.columns]
    t.insert(0, "施設種別", [FACILITY_TYPES[c].name_ja for c in t.index])
    return t.reset_index(drop=True)


def criticality_table(table: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """The criticality ranking with Japanese headers."""
    return pd.DataFrame({
        "順位": table["rank"],
        "医療機関ID": table["institution_id"],
        "医療機関名": table["name"],
        "病院・診療所": table["kind"].map(lambda k: InstitutionKind(k).label_ja),
        "市区町村": table["municipality_code"].map(areas["municipality_name"]),
        "既存の協定数": table["agreements_in_force"],
        "提案件数（基準）": table["proposals_in_base"],
        "全要件充足を失う施設数": table["lost_all_met"],
        "うち義務施設": table["lost_obligated"],
        "全要件充足を失う施設": table["lost_facilities"],
    })


def increases_table(increases: pd.DataFrame) -> pd.DataFrame:
    """A capacity plan's increases with Japanese headers."""
    return pd.DataFrame({
        "医療機関ID": increases["institution_id"],
        "医療機関名": increases["name"],
        "病院・診療所": increases["kind"].map(lambda k: InstitutionKind(k).label_ja),
        "市区町村コード": increases["municipality_code"],
        "単位": increases["unit"].map({"facilities": "施設数", "residents": "入所者数"}),
        "現在の空き枠": increases["capacity"],
        "拡大幅": increases["add"],
    })


def plan_verdict(plan) -> str:
    """What a capacity plan achieves, in one or two sentences (CLI, workbook)."""
    if plan.feasible:
        return "受入枠の拡大だけで、集計対象の義務施設すべてを全要件充足にできます。"
    out = []
    blocked = plan.blocked["facility_id"].nunique()
    if blocked:
        out.append(f"移動上限などの理由で候補がなく、受入枠の拡大では満たせない義務施設が{blocked}あります"
                   "（capacity_blocked.csv）。")
    capped = 0 if plan.capped is None else len(plan.capped)
    if capped:
        out.append(f"1機関あたりの上限（{cap_text(plan.cap)}）を超えないと満たせない義務施設が{capped}あり、"
                   "計画に含めていません（capacity_capped.csv）。")
    return "".join(out) + "それ以外の義務施設についての拡大案です。"


def cap_text(cap: str) -> str:
    """The capacity plan's per-institution cap as people read it."""
    if cap == "calibration":
        return "協力施設数の実績の75パーセンタイル"
    return "上限なし" if cap == "none" else f"協力施設{cap}施設"


def capped_table(capped: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """A capacity plan's facilities left uncovered by the per-institution cap, for people."""
    names = areas["municipality_name"].reindex(capped["municipality_code"]).to_numpy()
    return pd.DataFrame({"施設ID": capped["facility_id"], "施設名": capped["name"],
                         "市区町村": names, "未確保の役割": capped["roles"]})


def status_colors() -> dict[str, str]:
    """Map colours per status (colour-blind-safe order: green → amber → orange → red → grey)."""
    return dict(zip([s.value for s in STATUS_ORDER],
                    ["#2e7d32", "#f2b701", "#e8710a", "#c62828", "#9e9e9e"], strict=True))


# -- 二次医療圏 views ---------------------------------------------------------------

SUBTOTAL = "小計"
TOTAL = "合計（全域）"


def _status_cols() -> list[str]:
    return [s.value for s in STATUS_ORDER] + ["total", "all_met_share"]


def status_with_subtotals(status: pd.DataFrame, areas: pd.DataFrame, by: str = "secondary_area") -> pd.DataFrame:
    """Facilities per status per area × facility type, with a subtotal row after each
    二次医療圏 and a grand total at the end; Japanese headers.

    ``by`` is ``secondary_area`` (rows: 二次医療圏 × type) or ``municipality`` (rows:
    二次医療圏, 市区町村 × type; the subtotals are still per 二次医療圏)."""
    cols = _status_cols()
    keys = ["secondary_area_code", "secondary_area_name"]
    if by == "municipality":
        keys += ["municipality_code", "municipality_name"]
        detail = status_table(status, areas, by="municipality")
        detail = detail.join(areas[["secondary_area_code", "secondary_area_name"]], on="municipality_code")
    else:
        detail = status_table(status, areas, by="secondary_area")
    sub = status_table(status, areas, by="secondary_area", by_type=False)
    total = status_table(status, areas, by="none", by_type=False)
    order = {code: i for i, code in enumerate(FACILITY_TYPES)}
    detail = detail.assign(_t=detail["facility_type"].map(order))
    detail = detail.sort_values(keys + ["_t"]).drop(columns="_t")
    parts = []
    for code, group in detail.groupby("secondary_area_code", sort=True):
        g = group.assign(施設種別=group["facility_type"].map(lambda t: FACILITY_TYPES[t].name_ja))
        parts.append(g[keys + ["施設種別"] + cols])
        s = sub[sub["secondary_area_code"] == code].iloc[0]
        row = {k: "" for k in keys} | {"secondary_area_code": code,
                                       "secondary_area_name": s["secondary_area_name"], "施設種別": SUBTOTAL}
        parts.append(pd.DataFrame([row | {c: s[c] for c in cols}]))
    t = total.iloc[0]
    parts.append(pd.DataFrame([{k: "" for k in keys} | {"secondary_area_name": TOTAL, "施設種別": ""}
                               | {c: t[c] for c in cols}]))
    out = pd.concat(parts, ignore_index=True)
    for c in cols[:-1]:
        out[c] = out[c].astype(int)
    return japanese_labels(out)


def area_summary(region: Region, result: MatchResult) -> pd.DataFrame:
    """One row per 二次医療圏 (and a total): facilities, unreported, obligated, all met before and after,
    and the share of reported obligated facilities with all requirements met."""
    before, after = result.status_before, result.status_after
    areas = region.areas
    code = after["municipality_code"].map(areas["secondary_area_code"])
    all_met = Status.ALL_MET.value
    frame = pd.DataFrame({
        "area": code,
        "facilities": 1,
        "unreported": ~after["reported"].astype(bool),
        "obligated": after["obligated"].astype(bool) & after["reported"].astype(bool),
        "met_before": (before["status"] == all_met).reindex(after.index, fill_value=False),
        "met_after": after["status"] == all_met,
    })
    frame["obl_before"] = frame["met_before"] & frame["obligated"]
    frame["obl_after"] = frame["met_after"] & frame["obligated"]
    g = frame.groupby("area").sum(numeric_only=True)
    g.loc[TOTAL] = g.sum()
    names = areas.drop_duplicates("secondary_area_code").set_index("secondary_area_code")["secondary_area_name"]
    out = pd.DataFrame({
        "二次医療圏コード": [c if c != TOTAL else "" for c in g.index],
        "二次医療圏名": [names.get(c, c) for c in g.index],
        "施設数": g["facilities"].astype(int).to_numpy(),
        "年次報告なし（集計していない）": g["unreported"].astype(int).to_numpy(),
        "義務施設（集計対象）": g["obligated"].astype(int).to_numpy(),
        "義務施設の全要件充足（現状）": g["obl_before"].astype(int).to_numpy(),
        "義務施設の全要件充足（提案後）": g["obl_after"].astype(int).to_numpy(),
        "義務施設の全要件充足率%（現状）": _share(g["obl_before"], g["obligated"]),
        "義務施設の全要件充足率%（提案後）": _share(g["obl_after"], g["obligated"]),
        "義務施設の未充足（提案後）": (g["obligated"] - g["obl_after"]).astype(int).to_numpy(),
    })
    return out


def _share(part: pd.Series, whole: pd.Series):
    return (100 * part / whole.where(whole > 0)).round(1).to_numpy()


def area_shares(region: Region, result: MatchResult, when: str = "after") -> dict[str, float]:
    """Share (%) of reported obligated facilities with all requirements met, per 二次医療圏 code."""
    s = area_summary(region, result)
    s = s[s["二次医療圏コード"] != ""]
    col = "義務施設の全要件充足率%（提案後）" if when == "after" else "義務施設の全要件充足率%（現状）"
    return {c: (None if pd.isna(v) else float(v)) for c, v in zip(s["二次医療圏コード"], s[col], strict=True)}


def coverage_by_area(coverage: pd.DataFrame, labels: dict[str, str], areas: pd.DataFrame) -> pd.DataFrame:
    """From a comparison's coverage table (by secondary area): obligated facilities with all
    requirements met after the proposals, per 二次医療圏 (rows) and scenario (columns), with a total."""
    after = coverage[(coverage["when"] == "after")
                     & coverage["facility_type"].map(lambda t: FACILITY_TYPES[t].obligated)]
    t = after.groupby(["secondary_area_code", "scenario"], sort=True)[Status.ALL_MET.value].sum()
    t = t.unstack("scenario").fillna(0).astype(int)
    t = t[[s for s in labels if s in t.columns]]
    t.loc[TOTAL] = t.sum()
    names = areas.drop_duplicates("secondary_area_code").set_index("secondary_area_code")["secondary_area_name"]
    t.columns = [labels[s] for s in t.columns]
    t.insert(0, "二次医療圏名", [names.get(c, c) for c in t.index])
    t.insert(0, "二次医療圏コード", [c if c != TOTAL else "" for c in t.index])
    return t.reset_index(drop=True)


def unreported_table(region: Region, result: MatchResult) -> pd.DataFrame:
    """Facilities with no annual report on file (集計していない): their own list, never 未充足."""
    st = result.status_before
    ids = st.index[~st["reported"].astype(bool)]
    fac = region.facility_area()
    return pd.DataFrame({
        "施設ID": ids,
        "施設名": fac["name"].reindex(ids).to_numpy(),
        "施設種別": fac["facility_type"].reindex(ids).map(lambda t: FACILITY_TYPES[t].name_ja).to_numpy(),
        "市区町村": fac["municipality_name"].reindex(ids).to_numpy(),
        "二次医療圏": fac["secondary_area_name"].reindex(ids).to_numpy(),
        "義務／努力義務": fac["facility_type"].reindex(ids).map(
            lambda t: "義務" if FACILITY_TYPES[t].obligated else "努力義務").to_numpy(),
        "対応": "年次報告（協力医療機関の届出）を求め、状況を確認する",
    }).reset_index(drop=True)


def omitted_note(considered: int, shown: int) -> str:
    """The sentence that says how many institutions the criticality lists leave out, and why
    (the CLI, the workbook and the HTML report finish it their own way)."""
    return (f"調べた{considered}機関のうち、失っても全要件充足の施設数（義務施設の数も）が変わらない"
            f"{considered - shown}機関は")


def affecting(criticality: pd.DataFrame) -> pd.DataFrame:
    """The criticality rows whose loss changes something: fewer facilities all met, or fewer
    obligated ones.  The counts are net and follow the model's order (obligated first), so an
    institution may cost an obligated facility while the best run without it completes more
    effort-type ones (``lost_all_met`` below zero): it matters all the same."""
    return criticality[(criticality["lost_all_met"] != 0) | (criticality["lost_obligated"] != 0)]
