"""Why the matcher proposed what it did, and why some roles stay uncovered.

For every (facility, role) left uncovered: a reason code, words a coordinator
can act on (in Japanese), and what would fix it — the nearest institution and
the limit at which it becomes a candidate, or the smallest capacity increase at
a named institution.  For every proposal: the alternatives considered and why
the chosen one won.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.candidates import facilities_to_match
from matching.parameters import MatchParameters
from matching.region import Region, role_column
from matching.travel import Points, TravelTimes, geodesic_km
from matching.vocabulary import ROLE_ORDER, Role, Status, roles_ja

UNMATCHED_COLUMNS = ["facility_id", "missing_roles", "role", "reason_code", "reason", "fix",
                     "fix_institution_id", "fix_amount"]

REASONS = {
    "not_tracked": "年次報告（協力医療機関の届出）が未提出のため状況不明",
    "no_provider": "地域内に{role}を常時提供する医療機関がない",
    "out_of_range": "{role}を常時提供し受入可能な医療機関が移動上限内にない",
    "not_accepting": "上限内の医療機関はいずれも新規の協力を受け入れていない",
    "declined": "上限内の候補はいずれも辞退済み",
    "capacity": "上限内の候補はいずれも空き枠を使い切っている",
    "solver_limit": "計算時間の上限により未割当（最適性未証明）",
}


def _usage(region: Region, chosen: pd.DataFrame) -> pd.DataFrame:
    """Capacity each institution would use: new partner facilities and their residents."""
    new = chosen[~chosen["existing"].astype(bool)].drop_duplicates(["facility_id", "institution_id"])
    res = region.residents()
    used = pd.DataFrame({
        "facilities": new.groupby("institution_id").size(),
        "residents": new.assign(n=res.reindex(new["facility_id"]).to_numpy()).groupby("institution_id")["n"].sum(),
    })
    return used.reindex(region.institutions.index).fillna(0).astype(int)


def _spare(region: Region, used: pd.DataFrame, column: str, unit: str) -> pd.Series:
    cap = region.institutions[column]
    return (cap - used[unit]).astype("Float64")  # <NA> = unlimited


def explain_unmatched(region: Region, before: pd.DataFrame, after: pd.DataFrame, cand: pd.DataFrame,
                      chosen: pd.DataFrame, params: MatchParameters, travel: TravelTimes,
                      optimal: bool = True) -> pd.DataFrame:
    """One row per (facility, role) still missing after the proposals, with reason and fix."""
    rows = []
    # Facilities left out because nobody knows their state.
    if not params.include_unreported:
        scope = before if params.facility_types is None else before[before["facility_type"].isin(params.facility_types)]
        for f in scope.index[scope["status"] == Status.NOT_TRACKED.value]:
            rows.append((f, roles_ja(scope.at[f, "required_roles"]), "", "not_tracked", REASONS["not_tracked"],
                         "施設に協力医療機関の状況を確認し、届出を促す", "", ""))
    need = facilities_to_match(before, params)
    still = after.loc[need.index, "missing_roles"]
    used = _usage(region, chosen)
    inst = region.institutions
    ip = Points.of(inst)
    res = region.residents()
    forbidden = {(p.facility_id, p.institution_id) for p in params.forbidden}
    names = inst["name"]

    todo = [(f, r) for f in still.index for r in ROLE_ORDER if r in still[f]]
    if not todo:
        return pd.DataFrame(rows, columns=UNMATCHED_COLUMNS)
    facs = sorted({f for f, _ in todo})
    fp = Points.of(region.facilities.loc[facs])
    # Minutes and km from each such facility to every institution (small: only the unmatched).
    fi = np.repeat(np.arange(len(facs)), len(inst))
    ii = np.tile(np.arange(len(inst)), len(facs))
    minutes = travel.between(fp, ip, fi, ii).reshape(len(facs), len(inst))
    km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii]).reshape(len(facs), len(inst))
    accepting = inst["accepting"].fillna(params.unknown_accepting).astype(bool).to_numpy()
    pos = {f: k for k, f in enumerate(facs)}

    for f, r in todo:
        lim = params.limits[r]
        k = pos[f]
        offers = inst[role_column(r)].to_numpy(bool)
        in_range = offers & (minutes[k] <= lim.minutes)
        if lim.km is not None:
            in_range &= km[k] <= lim.km
        missing_txt = roles_ja(still[f])
        role_txt = r.label_ja
        if not offers.any():
            rows.append((f, missing_txt, r.value, "no_provider", REASONS["no_provider"].format(role=role_txt),
                         "地域外の医療機関との広域調整、または新たに担う医療機関の確保が必要", "", ""))
            continue
        if not (in_range & accepting).any():
            pool = offers & accepting if (offers & accepting).any() else offers
            idx = np.flatnonzero(pool)
            j = idx[np.argmin(minutes[k, idx])]
            need_min = float(np.ceil(minutes[k, j]))
            need_km = float(np.ceil(km[k, j] * 10) / 10)
            fix = f"最寄りの{names.iloc[j]}（直線{km[k, j]:.1f}km・約{minutes[k, j]:.0f}分）"
            limit_txt = f"{r.mark}の上限を{need_min:.0f}分"
            if lim.km is not None:
                limit_txt += f"・{max(need_km, lim.km):.1f}km"
            fix += f"：{limit_txt}に緩めれば候補になる"
            if not accepting[j]:
                fix += "（ただし新規受入れ不可と回答済み）"
            rows.append((f, missing_txt, r.value, "out_of_range",
                         REASONS["out_of_range"].format(role=role_txt), fix, inst.index[j], need_min))
            continue
        near = np.flatnonzero(in_range & accepting)
        eligible = [inst.index[j] for j in near if (f, inst.index[j]) not in forbidden]
        if not eligible:
            rows.append((f, missing_txt, r.value, "declined", REASONS["declined"],
                         "辞退した機関：" + "、".join(names.loc[i] for i in [inst.index[j] for j in near][:5])
                         + "。上限外の機関または新たな機関に打診する", "", ""))
            continue
        if not optimal:
            rows.append((f, missing_txt, r.value, "solver_limit", REASONS["solver_limit"],
                         "計算時間の上限を延ばして再実行する", "", ""))
            continue
        # Capacity: the smallest increase at one named candidate that lets it take this role.
        best = None
        n_f = int(res[f])
        pair_chosen = set(zip(chosen["facility_id"], chosen["institution_id"], strict=True))
        existing = set(zip(region.partnerships["facility_id"], region.partnerships["institution_id"], strict=True))
        for i in sorted(eligible):
            extra_fac = extra_res = 0
            new_pair = (f, i) not in pair_chosen and (f, i) not in existing
            if new_pair:
                cap_f, cap_r = inst.at[i, "capacity_facilities"], inst.at[i, "capacity_residents"]
                if not pd.isna(cap_f):
                    extra_fac = max(0, int(used.at[i, "facilities"]) + 1 - int(cap_f))
                if not pd.isna(cap_r):
                    extra_res = max(0, int(used.at[i, "residents"]) + n_f - int(cap_r))
            role_used = chosen[(chosen["institution_id"] == i) & (chosen["role"] == r.value)]
            cf, cr = inst.at[i, f"capacity_facilities_{r.value}"], inst.at[i, f"capacity_residents_{r.value}"]
            if not pd.isna(cf):
                extra_fac = max(extra_fac, len(role_used) + 1 - int(cf))
            if not pd.isna(cr):
                extra_res = max(extra_res, int(res.reindex(role_used["facility_id"]).sum()) + n_f - int(cr))
            key = (extra_fac, extra_res, float(minutes[pos[f], inst.index.get_loc(i)]), i)
            if best is None or key < best:
                best = key
        extra_fac, extra_res, mins, i = best
        parts = []
        if extra_fac:
            parts.append(f"施設数+{extra_fac}")
        if extra_res:
            parts.append(f"入所者数+{extra_res}")
        fix = f"{names.loc[i]}（約{mins:.0f}分）の受入枠を{'・'.join(parts) or '調整'}増やせば割当可能"
        cands = "、".join(names.loc[x] for x in eligible[:5])
        rows.append((f, missing_txt, r.value, "capacity", REASONS["capacity"] + f"（{cands}）", fix, i,
                     extra_res if extra_res else extra_fac))
    return pd.DataFrame(rows, columns=UNMATCHED_COLUMNS)


def explain_proposals(region: Region, cand: pd.DataFrame, chosen: pd.DataFrame,
                      proposals: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Alternatives for each chosen (facility, role), and a short note per proposal."""
    used = _usage(region, chosen)
    cap_f = region.institutions["capacity_facilities"]
    full = (cap_f.notna() & (used["facilities"] >= cap_f.fillna(0))).to_dict()
    names = region.institutions["name"]
    picked = chosen.set_index(["facility_id", "role"])["institution_id"].to_dict()
    pick_minutes = chosen.set_index(["facility_id", "role"])["minutes"].to_dict()
    pair_roles = chosen.groupby(["facility_id", "institution_id"]).size().to_dict()

    alts = cand[cand.set_index(["facility_id", "role"]).index.isin(list(picked))].copy()
    notes_alt = []
    for f, i, r, m in zip(alts["facility_id"], alts["institution_id"], alts["role"], alts["minutes"], strict=True):
        win = picked[(f, r)]
        if i == win:
            notes_alt.append("選定")
        elif full.get(i, False):
            notes_alt.append("空き枠を他施設への提案で使用")
        elif pair_roles.get((f, win), 0) > 1 and m <= pick_minutes[(f, r)]:
            notes_alt.append("選定機関が他の役割も担うため協定数が少なくなる")
        elif m > pick_minutes[(f, r)]:
            notes_alt.append("移動時間が長い")
        else:
            notes_alt.append("同等（施設全体の充足と協定数を優先した結果）")
    alts["chosen"] = [picked[(f, r)] == i for f, i, r in
                      zip(alts["facility_id"], alts["institution_id"], alts["role"], strict=True)]
    alts["institution_name"] = names.reindex(alts["institution_id"]).to_numpy()
    alts["note"] = notes_alt
    alts = alts[["facility_id", "role", "institution_id", "institution_name", "minutes", "km", "chosen", "note"]]
    alts = alts.assign(minutes=alts["minutes"].round(1), km=alts["km"].round(2))

    n_alt = alts.groupby(["facility_id", "role"]).size().to_dict()
    notes = {}
    for row in proposals.itertuples(index=False):
        roles = [Role(x) for x in row.roles.split(";")]
        others = max(n_alt.get((row.facility_id, r.value), 1) - 1 for r in roles)
        parts = [f"{roles_ja(roles)}を担う候補（他の候補 最大{others}件）"]
        if len(roles) > 1:
            parts.append("1機関で複数の役割をまとめ協定数を最小化")
        if row.extends_existing:
            parts.append("既存の協力医療機関との協定に役割を追加")
        if row.pinned:
            parts.append("調整済みとして固定")
        if row.not_yet_asked:
            parts.append("医療機関の受入意向は未確認")
        notes[(row.facility_id, row.institution_id)] = "。".join(parts)
    return alts.reset_index(drop=True), notes
