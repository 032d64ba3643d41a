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
    FACILITY_TYPES,
    STATUS_ORDER,
    InstitutionKind,
    Role,
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
    """One row per facility and role left uncovered, with the reason and what would fix it."""
    u = result.unmatched
    fac = region.facility_area()
    names = region.institutions["name"]
    f = u["facility_id"]
    return pd.DataFrame({
        "施設ID": f,
        "施設名": fac["name"].reindex(f).to_numpy(),
        "施設種別": fac["facility_type"].reindex(f).map(lambda t: FACILITY_TYPES[t].name_ja).to_numpy(),
        "市区町村": fac["municipality_name"].reindex(f).to_numpy(),
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


def status_colors() -> dict[str, str]:
    """Map colours per status (colour-blind-safe order: green → amber → orange → red → grey)."""
    return dict(zip([s.value for s in STATUS_ORDER],
                    ["#2e7d32", "#f2b701", "#e8710a", "#c62828", "#9e9e9e"], strict=True))
