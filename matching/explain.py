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
from scipy.spatial import cKDTree

from matching.candidates import facilities_to_match
from matching.parameters import MatchParameters
from matching.region import Region, role_column
from matching.travel import GeodesicTravel, Points, TravelTimes, geodesic_km
from matching.travel.geodesic import pairs_within_km, unit_vectors
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
    accepting = inst["accepting"].fillna(params.unknown_accepting).astype(bool).to_numpy()
    pos = {f: k for k, f in enumerate(facs)}
    if isinstance(travel, GeodesicTravel) and len(facs) * len(inst) > 2_000_000:
        # National scale: the dense matrix would be tens of millions of geodesics, so
        # only pairs within the limits (k-d tree) plus each facility's nearest per role.
        minutes, km = _SparseTimes(fp, ip, inst, travel, params, accepting), None
    else:
        # Minutes and km from each such facility to every institution (small: only the unmatched).
        fi = np.repeat(np.arange(len(facs)), len(inst))
        ii = np.tile(np.arange(len(inst)), len(facs))
        minutes = travel.between(fp, ip, fi, ii).reshape(len(facs), len(inst))
        km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii]).reshape(len(facs), len(inst))
    pair_chosen = set(zip(chosen["facility_id"], chosen["institution_id"], strict=True))
    existing = set(zip(region.partnerships["facility_id"], region.partnerships["institution_id"], strict=True))
    role_n = chosen.groupby(["institution_id", "role"]).size().to_dict()
    role_res = (chosen.assign(_n=res.reindex(chosen["facility_id"]).to_numpy())
                .groupby(["institution_id", "role"])["_n"].sum().to_dict())
    inst_pos = {i: k for k, i in enumerate(inst.index)}
    caps = {col: inst[col].to_dict() for col in inst.columns if col.startswith("capacity_")}
    used_f, used_r = used["facilities"].to_dict(), used["residents"].to_dict()

    for f, r in todo:
        lim = params.limits[r]
        k = pos[f]
        offers = inst[role_column(r)].to_numpy(bool)
        missing_txt = roles_ja(still[f])
        role_txt = r.label_ja
        if not offers.any():
            rows.append((f, missing_txt, r.value, "no_provider", REASONS["no_provider"].format(role=role_txt),
                         "地域外の医療機関との広域調整、または新たに担う医療機関の確保が必要", "", ""))
            continue
        if km is None:
            mins_k, km_k, near_idx = minutes.row(k, r, offers)
        else:
            mins_k, km_k, near_idx = minutes[k], km[k], None
        in_range = offers & (mins_k <= lim.minutes)
        if lim.km is not None:
            in_range &= km_k <= lim.km
        if not (in_range & accepting).any():
            pool = offers & accepting if (offers & accepting).any() else offers
            idx = np.flatnonzero(pool) if near_idx is None else near_idx[pool[near_idx]]
            j = idx[np.argmin(mins_k[idx])]
            need_min = float(np.ceil(mins_k[j]))
            need_km = float(np.ceil(km_k[j] * 10) / 10)
            fix = f"最寄りの{names.iloc[j]}（直線{km_k[j]:.1f}km・約{mins_k[j]:.0f}分）"
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
        for i in sorted(eligible):
            extra_fac = extra_res = 0
            new_pair = (f, i) not in pair_chosen and (f, i) not in existing
            if new_pair:
                cap_f, cap_r = caps["capacity_facilities"][i], caps["capacity_residents"][i]
                if not pd.isna(cap_f):
                    extra_fac = max(0, int(used_f[i]) + 1 - int(cap_f))
                if not pd.isna(cap_r):
                    extra_res = max(0, int(used_r[i]) + n_f - int(cap_r))
            cf = caps.get(f"capacity_facilities_{r.value}", {}).get(i, pd.NA)
            cr = caps.get(f"capacity_residents_{r.value}", {}).get(i, pd.NA)
            if not pd.isna(cf):
                extra_fac = max(extra_fac, role_n.get((i, r.value), 0) + 1 - int(cf))
            if not pd.isna(cr):
                extra_res = max(extra_res, int(role_res.get((i, r.value), 0)) + n_f - int(cr))
            key = (extra_fac, extra_res, float(mins_k[inst_pos[i]]), i)
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


class _SparseTimes:
    """Minutes and km from unmatched facilities to the institutions that matter, without
    an all-pairs matrix: every pair within the largest limit (k-d tree), plus the nearest
    few institutions per facility and role (for "the nearest one is N minutes away").

    ``row(k, role, offers)`` gives dense-looking arrays (inf where not computed) and the
    indices computed, so the dense code path reads the same."""

    def __init__(self, fp: Points, ip: Points, inst: pd.DataFrame, travel: GeodesicTravel,
                 params: MatchParameters, accepting: np.ndarray, nearest: int = 8):
        radius = params.limit_minutes() / 60.0 * travel.speed_kmh / travel.circuity
        fi, ii, _ = pairs_within_km(fp.lat, fp.lon, ip.lat, ip.lon, radius)
        extra_f, extra_i = [fi], [ii]
        for role in ROLE_ORDER:
            offers = inst[role_column(role)].to_numpy(bool)
            for pool in (np.flatnonzero(offers & accepting), np.flatnonzero(offers)):
                if len(pool) == 0:
                    continue
                kk = min(nearest, len(pool))
                _, nn = cKDTree(unit_vectors(ip.lat[pool], ip.lon[pool])).query(unit_vectors(fp.lat, fp.lon), k=kk)
                nn = nn.reshape(len(fp), kk)
                extra_f.append(np.repeat(np.arange(len(fp)), kk))
                extra_i.append(pool[nn.ravel()])
        pair = pd.DataFrame({"f": np.concatenate(extra_f), "i": np.concatenate(extra_i)}).drop_duplicates()
        fi, ii = pair["f"].to_numpy(), pair["i"].to_numpy()
        self.km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii])
        self.minutes = travel.between(fp, ip, fi, ii)
        order = np.argsort(fi, kind="stable")
        self.fi, self.ii = fi[order], ii[order]
        self.km, self.minutes = self.km[order], self.minutes[order]
        self.start = np.searchsorted(self.fi, np.arange(len(fp) + 1))
        self.n = len(ip)

    def row(self, k: int, role, offers: np.ndarray):
        sl = slice(self.start[k], self.start[k + 1])
        mins, km = np.full(self.n, np.inf), np.full(self.n, np.inf)
        mins[self.ii[sl]] = self.minutes[sl]
        km[self.ii[sl]] = self.km[sl]
        return mins, km, self.ii[sl]


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
