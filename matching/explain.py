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

from matching.candidates import facilities_to_match, in_scope, uses_slots
from matching.parameters import MatchParameters
from matching.region import Region, approximate_points
from matching.roles import ALL_SLOTS, SLOTTED, slots_ja
from matching.roles import column as role_column
from matching.travel import GeodesicTravel, Points, TravelTimes, geodesic_km
from matching.travel.geodesic import pairs_within_km, unit_vectors
from matching.vocabulary import (
    CLINICS_NOT_LOADED,
    CLINICS_NOT_LOADED_JA,
    ROLE_ORDER,
    Role,
    Status,
    roles_ja,
)

UNMATCHED_COLUMNS = ["facility_id", "missing_roles", "role", "reason_code", "reason", "fix",
                     "fix_institution_id", "fix_amount", "location_uncertain"]

#: A relaxed travel limit is advised only up to this multiple of the limit in force: a facility
#: whose nearest provider is farther needs 広域調整 or a new provider, not a different rule
#: (issue 13: no explanation may advise a limit beyond what any real trip needs).
ADVISE_LIMIT_FACTOR = 2

REASONS = {
    "not_tracked": "年次報告（協力医療機関の届出）が未提出のため状況不明",
    "no_provider": "地域内に{role}を常時提供する医療機関がない",
    "out_of_range": "{role}を常時提供し受入可能な医療機関が移動上限内にない",
    "not_accepting": "上限内の医療機関はいずれも新規の協力を受け入れていない",
    "declined": "上限内の候補はいずれも辞退済み",
    "capacity": "上限内の候補はいずれも空き枠を使い切っている",
    "solver_limit": "計算時間の上限により未割当（最適性未証明）",
    "slots_missing": "{slots}が未確保",
    CLINICS_NOT_LOADED: CLINICS_NOT_LOADED_JA,
}

#: Roles a clinic can give: in a region without clinics their gaps are "clinics not loaded".
CLINIC_ROLES = (Role.CONSULT, Role.VISIT)


# Why each alternative of a chosen (facility, role) lost, in the order the rules are tried.
ALTERNATIVE_NOTES = (
    "選定",
    "空き枠を他施設への提案で使用",
    "選定機関が他の役割も担うため協定数が少なくなる",
    "移動時間が長い",
    "同等（施設全体の充足と協定数を優先した結果）",
)


def _usage(region: Region, chosen: pd.DataFrame, res: pd.Series | None = None) -> pd.DataFrame:
    """Capacity each institution would use: new partner facilities and their residents."""
    new = chosen[~chosen["existing"].astype(bool)].drop_duplicates(["facility_id", "institution_id"])
    res = region.residents() if res is None else res
    used = pd.DataFrame({
        "facilities": new.groupby("institution_id").size(),
        "residents": new.assign(n=res.reindex(new["facility_id"]).to_numpy()).groupby("institution_id")["n"].sum(),
    })
    return used.reindex(region.institutions.index).fillna(0).astype(int)


def _roles_texts(role_sets) -> list[str]:
    """``roles_ja`` of many role sets, computed once per distinct set (there are at most eight)."""
    cache: dict = {}
    out = []
    for roles in role_sets:
        try:
            text = cache.get(roles)
            if text is None:
                text = cache[roles] = roles_ja(roles)
        except TypeError:  # an unhashable collection: just compute it
            text = roles_ja(roles)
        out.append(text)
    return out


def _round(values: pd.Series, decimals: int) -> pd.Series:
    """Exactly ``values.round(decimals)``, but vectorised for object columns of Python floats.

    pandas rounds an object column element by element with Python's ``round``
    (correctly rounded), which is slow on national candidate lists.  Scaling,
    ``rint`` and dividing gives the same double unless the scaled value lies within
    rounding error of a half (or is huge or not finite); only those elements go
    through Python's ``round``.  The result is again an object column of floats.
    """
    raw = values.to_numpy()
    if values.dtype != object or len(raw) == 0 or set(map(type, raw)) != {float}:
        return values.round(decimals)
    x = raw.astype(float)
    scale = 10.0 ** decimals
    scaled = x * scale
    out = (np.rint(scaled) / scale).astype(object)
    with np.errstate(invalid="ignore"):
        near_half = ~((np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6) & (np.abs(scaled) < 2.0 ** 30))
    out[near_half] = [round(v, decimals) for v in raw[near_half]]
    return pd.Series(out, index=values.index, name=values.name, dtype=object)


def _not_tracked_rows(before: pd.DataFrame, params: MatchParameters) -> list[tuple]:
    """Facilities left out because nobody knows their state (no annual report)."""
    scope = before[in_scope(before, params)]
    required = scope.loc[scope["status"] == Status.NOT_TRACKED.value, "required_roles"]
    return [(f, text, "", "not_tracked", REASONS["not_tracked"], "施設に協力医療機関の状況を確認し、届出を促す", "", "")
            for f, text in zip(required.index, _roles_texts(required), strict=True)]


def explain_unmatched(region: Region, before: pd.DataFrame, after: pd.DataFrame, cand: pd.DataFrame,
                      chosen: pd.DataFrame, params: MatchParameters, travel: TravelTimes,
                      optimal: bool = True) -> pd.DataFrame:
    """One row per (facility, role) still missing after the proposals, with reason and fix."""
    rows = _not_tracked_rows(before, params) if not params.include_unreported else []
    need = facilities_to_match(before, params)
    still = after.loc[need.index, "missing_roles"]
    todo = [(f, r, missing) for f, missing in zip(still.index, still, strict=True)
            for r in ROLE_ORDER if r in missing]
    if todo:
        explainer = _RoleExplainer(region, chosen, params, travel, sorted({f for f, _, _ in todo}), optimal)
        if "partial_slots" in after.columns:
            explainer.partial = after["partial_slots"]
        missing_texts = _roles_texts(missing for _, _, missing in todo)
        rows += [explainer.explain(f, r, text) for (f, r, _), text in zip(todo, missing_texts, strict=True)]
    out = pd.DataFrame(rows, columns=UNMATCHED_COLUMNS[:-1])
    return _location_uncertain(region, out, params)


def _location_uncertain(region: Region, unmatched: pd.DataFrame, params: MatchParameters) -> pd.DataFrame:
    """``unmatched`` with ``location_uncertain``: "nobody in range" may be wrong because the
    facility's or the nearest provider's point is only a municipal office (issue 13) — the
    distance less both uncertainty radii is within the role's straight-line reach.  The fix
    then says so in Japanese (位置は市区町村役場で近似)."""
    from matching.contract.schema import LOCATION_SOURCES

    out = unmatched.assign(location_uncertain=False)
    rows = out["reason_code"].isin(["out_of_range", "slots_missing"]) & out["fix_institution_id"].ne("")
    if not rows.any():
        return out
    fac, inst = region.facilities, region.institutions
    sel = out[rows]
    f_ids, i_ids = sel["facility_id"].to_numpy(), sel["fix_institution_id"].to_numpy()
    af, rf = approximate_points(fac, f_ids)
    ai, ri = approximate_points(inst, i_ids)
    km = geodesic_km(fac["lat"].reindex(f_ids).to_numpy(float), fac["lon"].reindex(f_ids).to_numpy(float),
                     inst["lat"].reindex(i_ids).to_numpy(float), inst["lon"].reindex(i_ids).to_numpy(float))
    uncertain = (af | ai) & (km - rf - ri <= sel["role"].map(params.reach_km).to_numpy(float))
    out.loc[sel.index[uncertain], "location_uncertain"] = True
    office = LOCATION_SOURCES["office"]
    notes = [("施設" if f else "") + ("・" if f and i else "") + ("医療機関" if i else "")
             for f, i in zip(af[uncertain], ai[uncertain], strict=True)]
    out.loc[sel.index[uncertain], "fix"] = [
        f"{fix}。{who}の位置は{office}のため、実際は上限内の可能性あり（位置の確認が必要）"
        for fix, who in zip(out.loc[sel.index[uncertain], "fix"], notes, strict=True)]
    return out


class _RoleExplainer:
    """Reason and fix for one uncovered (facility, role); what does not depend on the
    facility (offers, acceptance, travel times, capacity in use) is worked out once."""

    def __init__(self, region: Region, chosen: pd.DataFrame, params: MatchParameters, travel: TravelTimes,
                 facs: list[str], optimal: bool):
        inst = region.institutions
        self.region, self.chosen, self.params, self.optimal = region, chosen, params, optimal
        self.ids = inst.index.to_numpy()
        self.names = inst["name"].to_numpy()
        self.accepting = inst["accepting"].fillna(params.unknown_accepting).astype(bool).to_numpy()
        self.offers = {r: inst[role_column(r)].to_numpy(bool) for r in ROLE_ORDER}
        self.partial = None  # with time slots: the slots given per facility and unmet role
        if region.has_slots:
            # With time slots an institution is a provider in the slots it gives (in all four
            # when a role may have only one partner).
            need = 1 if uses_slots(region, params) else ALL_SLOTS
            self.slot_masks = {r: region.slots(r).to_numpy(np.int64) for r in ROLE_ORDER}
            self.offers = {r: self.slot_masks[r] >= need for r in ROLE_ORDER}
        # Where "the nearest one" is looked for: accepting providers if there are any, else all providers.
        self.pool = {}
        for r, offers in self.offers.items():
            open_ = offers & self.accepting
            self.pool[r] = open_ if open_.any() else offers
        self.declined: dict[str, set[str]] = {}
        for p in params.forbidden:
            self.declined.setdefault(p.facility_id, set()).add(p.institution_id)
        self.pos = {f: k for k, f in enumerate(facs)}
        fp, ip = Points.of(region.facilities.loc[facs]), Points.of(inst)
        if isinstance(travel, GeodesicTravel) and len(facs) * len(inst) > 2_000_000:
            # National scale: the dense matrix would be tens of millions of geodesics, so
            # only pairs within the limits (k-d tree) plus each facility's nearest per role.
            self.times = _SparseTimes(fp, ip, inst, travel, params, self.accepting)
        else:
            self.times = _DenseTimes(fp, ip, travel)
        self._headroom = None  # built on the first capacity explanation

    def explain(self, f: str, r: Role, missing_txt: str) -> tuple:
        """The output row for facility ``f``'s uncovered role ``r``.

        In a region without clinics (``region.scope.clinics_loaded`` false) an uncovered ① or ②
        is never called proven missing: the reason is ``clinics_not_loaded``, whatever the
        hospitals alone would have said (that reason is kept in the fix text)."""
        row = self._explain(f, r, missing_txt)
        if self.region.scope.clinics_loaded or r not in CLINIC_ROLES or row[3] in ("declined", "solver_limit"):
            return row
        fix = "診療所を取り込んで再実行する（施設基準の届出受理医療機関名簿: --shisetsu-kijun）"
        if row[3] != "no_provider":
            fix += f"。病院のみでは：{row[5]}"
        return (f, missing_txt, r.value, CLINICS_NOT_LOADED, REASONS[CLINICS_NOT_LOADED].format(role=r.label_ja),
                fix, row[6], row[7])

    def _explain(self, f: str, r: Role, missing_txt: str) -> tuple:
        lim = self.params.limits[r]
        offers = self.offers[r]
        if not offers.any():
            return (f, missing_txt, r.value, "no_provider", REASONS["no_provider"].format(role=r.label_ja),
                    "地域外の医療機関との広域調整、または新たに担う医療機関の確保が必要", "", "")
        cols, mins, km = self.times.row(self.pos[f])
        in_range = offers[cols] & (mins <= lim.minutes)
        if lim.km is not None:
            in_range &= km <= lim.km
        open_ = in_range & self.accepting[cols]
        if self.partial is not None and r.value in SLOTTED:
            row = self._slots(f, r, missing_txt, cols, mins, km, open_)
            if row is not None:
                return row
        if not open_.any():
            return self._out_of_range(f, r, missing_txt, cols, mins, km)
        # Institutions in range and accepting, in institution order (as a dense row would list them).
        order = np.argsort(cols[open_], kind="stable")
        near, near_mins = cols[open_][order], mins[open_][order]
        eligible, eligible_mins = near, near_mins
        if f in self.declined:
            keep = np.array([i not in self.declined[f] for i in self.ids[near]], bool)
            eligible, eligible_mins = near[keep], near_mins[keep]
        if len(eligible) == 0:
            return (f, missing_txt, r.value, "declined", REASONS["declined"],
                    "辞退した機関：" + "、".join(self.names[near[:5]]) + "。上限外の機関または新たな機関に打診する",
                    "", "")
        if not self.optimal:
            return (f, missing_txt, r.value, "solver_limit", REASONS["solver_limit"],
                    "計算時間の上限を延ばして再実行する", "", "")
        return self._capacity(f, r, missing_txt, eligible, eligible_mins)

    def _slots(self, f, r, missing_txt, cols, mins, km, open_) -> tuple | None:
        """With time slots: a role given in part of the week, or whose missing slots nobody in
        range gives, says which slots are missing and names the nearest institution giving them."""
        have = int(self.partial.get(f, {}).get(r.value, 0)) if isinstance(self.partial.get(f), dict) else 0
        if f in self.declined:
            open_ = open_ & np.array([i not in self.declined[f] for i in self.ids[cols]], bool)
        reach = int(np.bitwise_or.reduce(self.slot_masks[r][cols[open_]])) if open_.any() else 0
        if not have and reach in (0, ALL_SLOTS):
            return None  # an ordinary case: nobody in range, capacity, declined, solver limit
        missing = ALL_SLOTS & ~have
        target = ALL_SLOTS & ~(reach | have) or missing  # slots nobody in range gives, else all missing
        gives = self.slot_masks[r][cols]
        reason = REASONS["slots_missing"].format(slots=f"{r.mark} {slots_ja(missing)}")
        if (reach | have) != ALL_SLOTS:
            reason += f"（{slots_ja(target)}を担う受入可能な医療機関が移動上限内にない）"
        pool = self.pool[r][cols] | (gives > 0) & self.accepting[cols]
        for want in (lambda g: (g & target) == target, lambda g: (g & target) != 0):
            idx = np.flatnonzero(pool & want(gives))
            if len(idx):
                best = idx[np.argmin(mins[idx])]
                j, m, d = cols[best], mins[best], km[best]
                fix = (f"{slots_ja(target)}を担う最寄りの{self.names[j]}（{slots_ja(int(gives[best]))}・"
                       f"直線{d:.1f}km・約{m:.0f}分）")
                if not self.accepting[j]:
                    fix += "（ただし新規受入れ不可と回答済み）"
                return (f, missing_txt, r.value, "slots_missing", reason, fix, self.ids[j], float(np.ceil(m)))
        return (f, missing_txt, r.value, "slots_missing", reason,
                f"{slots_ja(target)}を担う医療機関が地域内にない：広域調整が必要", "", "")

    def _out_of_range(self, f, r, missing_txt, cols, mins, km) -> tuple:
        """Nobody in range: name the nearest provider and the limit at which it becomes a candidate."""
        lim = self.params.limits[r]
        idx = np.flatnonzero(self.pool[r][cols])
        best = idx[np.argmin(mins[idx])]
        j, m, d = cols[best], mins[best], km[best]
        need_min = float(np.ceil(m))
        need_km = float(np.ceil(d * 10) / 10)
        fix = f"最寄りの{self.names[j]}（直線{d:.1f}km・約{m:.0f}分）"
        if need_min > ADVISE_LIMIT_FACTOR * lim.minutes or (lim.km is not None
                                                            and need_km > ADVISE_LIMIT_FACTOR * lim.km):
            # No limit is advised that no ordinary trip needs (a bad coordinate once gave 534 minutes).
            fix += f"は上限の{ADVISE_LIMIT_FACTOR}倍より遠い：地域外の医療機関との広域調整、または新たに担う医療機関の確保が必要"
            return (f, missing_txt, r.value, "out_of_range", REASONS["out_of_range"].format(role=r.label_ja), fix,
                    self.ids[j], "")
        limit_txt = f"{r.mark}の上限を{need_min:.0f}分"
        if lim.km is not None:
            limit_txt += f"・{max(need_km, lim.km):.1f}km"
        fix += f"：{limit_txt}に緩めれば候補になる"
        if not self.accepting[j]:
            fix += "（ただし新規受入れ不可と回答済み）"
        return (f, missing_txt, r.value, "out_of_range", REASONS["out_of_range"].format(role=r.label_ja), fix,
                self.ids[j], need_min)

    def _capacity(self, f, r, missing_txt, eligible: np.ndarray, eligible_mins: np.ndarray) -> tuple:
        """Capacity: the smallest increase at one named candidate that lets it take this role."""
        if self._headroom is None:
            self._headroom = _Headroom(self.region, self.chosen)
        fac, res = self._headroom.lacking(f, r, eligible)
        # Fewest facility slots, then resident places, then minutes, then institution id.
        best = np.flatnonzero(fac == fac.min())
        best = best[res[best] == res[best].min()]
        best = best[eligible_mins[best] == eligible_mins[best].min()]
        k = min(best, key=lambda b: self.ids[eligible[b]])
        j, extra_fac, extra_res, mins = eligible[k], int(fac[k]), int(res[k]), float(eligible_mins[k])
        parts = []
        if extra_fac:
            parts.append(f"施設数+{extra_fac}")
        if extra_res:
            parts.append(f"入所者数+{extra_res}")
        fix = f"{self.names[j]}（約{mins:.0f}分）の受入枠を{'・'.join(parts) or '調整'}増やせば割当可能"
        cands = "、".join(self.names[eligible[:5]])
        return (f, missing_txt, r.value, "capacity", REASONS["capacity"] + f"（{cands}）", fix, self.ids[j],
                extra_res if extra_res else extra_fac)


class _Limit:
    """One capacity column by institution position: the limit (0 where none) and whether there is one."""

    def __init__(self, inst: pd.DataFrame, column: str):
        values = inst[column] if column in inst.columns else pd.Series(pd.NA, index=inst.index, dtype="Int64")
        self.limited = values.notna().to_numpy(bool)
        self.value = values.fillna(0).astype("int64").to_numpy()


class _Headroom:
    """Capacity the proposals already use at each institution (by position), in total and per role."""

    def __init__(self, region: Region, chosen: pd.DataFrame):
        inst = region.institutions
        self.residents = region.residents()
        used = _usage(region, chosen, self.residents)
        self.used_f, self.used_r = used["facilities"].to_numpy(), used["residents"].to_numpy()
        self.cap_f, self.cap_r = _Limit(inst, "capacity_facilities"), _Limit(inst, "capacity_residents")
        # Pairs that already have (or are proposed) an agreement take no new partner slot.
        pairs = pd.concat([chosen[["facility_id", "institution_id"]],
                           region.partnerships[["facility_id", "institution_id"]]], ignore_index=True)
        where = inst.index.get_indexer(pairs["institution_id"])
        self.paired = {f: where[rows] for f, rows in pairs.groupby("facility_id").indices.items()}
        n = self.residents.reindex(chosen["facility_id"]).fillna(0).to_numpy()
        self.role_f, self.role_r, self.role_cap_f, self.role_cap_r = {}, {}, {}, {}
        for r in ROLE_ORDER:
            mine = (chosen["role"] == r.value).to_numpy(bool)
            by_inst = pd.DataFrame({"i": chosen["institution_id"].to_numpy()[mine], "n": n[mine]}).groupby("i")["n"]
            self.role_f[r] = by_inst.size().reindex(inst.index, fill_value=0).to_numpy()
            self.role_r[r] = by_inst.sum().reindex(inst.index, fill_value=0).to_numpy()
            self.role_cap_f[r] = _Limit(inst, f"capacity_facilities_{r.value}")
            self.role_cap_r[r] = _Limit(inst, f"capacity_residents_{r.value}")

    def lacking(self, f: str, r: Role, js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Facility slots and resident places each institution in ``js`` lacks to take ``f``'s role ``r``."""
        n_f = int(self.residents[f])
        new = ~np.isin(js, self.paired.get(f, []))
        fac = np.where(new & self.cap_f.limited[js], np.maximum(0, self.used_f[js] + 1 - self.cap_f.value[js]), 0)
        res = np.where(new & self.cap_r.limited[js], np.maximum(0, self.used_r[js] + n_f - self.cap_r.value[js]), 0)
        role_f, role_r = self.role_cap_f[r], self.role_cap_r[r]
        fac = np.where(role_f.limited[js], np.maximum(fac, self.role_f[r][js] + 1 - role_f.value[js]), fac)
        res = np.where(role_r.limited[js], np.maximum(res, self.role_r[r][js] + n_f - role_r.value[js]), res)
        return fac, res


class _DenseTimes:
    """Minutes and km from each unmatched facility to every institution (small regions)."""

    def __init__(self, fp: Points, ip: Points, travel: TravelTimes):
        fi = np.repeat(np.arange(len(fp)), len(ip))
        ii = np.tile(np.arange(len(ip)), len(fp))
        self.minutes = travel.between(fp, ip, fi, ii).reshape(len(fp), len(ip))
        self.km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii]).reshape(len(fp), len(ip))
        self.cols = np.arange(len(ip))

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Institution positions, minutes and km for facility ``k``."""
        return self.cols, self.minutes[k], self.km[k]


class _SparseTimes:
    """Minutes and km from unmatched facilities to the institutions that matter, without
    an all-pairs matrix: every pair within the largest limit (k-d tree), plus the nearest
    few institutions per facility and role (for "the nearest one is N minutes away").

    ``row(k)`` gives the institutions computed for facility ``k`` with their minutes and
    km, like :class:`_DenseTimes` but with only those institutions."""

    def __init__(self, fp: Points, ip: Points, inst: pd.DataFrame, travel: GeodesicTravel,
                 params: MatchParameters, accepting: np.ndarray, nearest: int = 8):
        radius = params.limit_minutes() / 60.0 * travel.speed_kmh / travel.circuity
        fi, ii, km = pairs_within_km(fp.lat, fp.lon, ip.lat, ip.lon, radius)
        extra_f, extra_i, extra_km = [fi], [ii], [km]
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
                extra_km.append(np.full(len(fp) * kk, np.nan))
        fi, ii, km = np.concatenate(extra_f), np.concatenate(extra_i), np.concatenate(extra_km)
        first = _first_occurrence(fi * len(ip) + ii, len(extra_f[0]))
        fi, ii, self.km = fi[first], ii[first], km[first]
        # Pairs within the radius come with their km; only the nearest-few beyond it need a geodesic.
        todo = np.isnan(self.km)
        self.km[todo] = geodesic_km(fp.lat[fi[todo]], fp.lon[fi[todo]], ip.lat[ii[todo]], ip.lon[ii[todo]])
        self.minutes = travel.minutes_for_km(self.km)  # what travel.between gives, without a second geodesic
        order = np.argsort(fi, kind="stable")
        self.fi, self.ii = fi[order], ii[order]
        self.km, self.minutes = self.km[order], self.minutes[order]
        self.start = np.searchsorted(self.fi, np.arange(len(fp) + 1))

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Institution positions, minutes and km for facility ``k`` (only the pairs computed)."""
        sl = slice(self.start[k], self.start[k + 1])
        return self.ii[sl], self.minutes[sl], self.km[sl]


def _first_occurrence(keys: np.ndarray, n_head: int) -> np.ndarray:
    """Mask keeping each key where it first appears (as ``drop_duplicates``), when the first
    ``n_head`` keys are already sorted and distinct (the k-d tree pairs) and the rest are few:
    hashing millions of pairs would cost more than looking the few up in the sorted head."""
    head, tail = keys[:n_head], keys[n_head:]
    if not (np.diff(head) > 0).all():
        return ~pd.Index(keys).duplicated()
    at = np.minimum(np.searchsorted(head, tail), max(n_head - 1, 0))
    in_head = (head[at] == tail) if n_head else np.zeros(len(tail), bool)
    return np.concatenate([np.ones(n_head, bool), ~in_head & ~pd.Index(tail).duplicated()])


def _pick_rows(chosen: pd.DataFrame, facility_ids, roles) -> np.ndarray:
    """Position in ``chosen`` of the pick for each (facility, role), -1 where none.

    Should a (facility, role) be chosen twice, the last row counts (as a dict would)."""
    last = ~chosen.duplicated(["facility_id", "role"], keep="last").to_numpy()
    keys = pd.MultiIndex.from_arrays([chosen["facility_id"].to_numpy()[last], chosen["role"].to_numpy()[last]])
    found = keys.get_indexer(pd.MultiIndex.from_arrays([np.asarray(facility_ids), np.asarray(roles)]))
    pick = np.full(len(found), -1)
    pick[found >= 0] = np.flatnonzero(last)[found[found >= 0]]
    return pick


def _alternative_notes(alts: pd.DataFrame, chosen: pd.DataFrame, pick: np.ndarray,
                       full: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Whether each alternative was chosen, and why it lost otherwise (first rule that applies)."""
    winner = chosen["institution_id"].to_numpy()[pick]
    pick_minutes = chosen["minutes"].to_numpy(float)[pick]
    minutes = alts["minutes"].to_numpy(float)
    is_winner = alts["institution_id"].to_numpy() == winner
    # The winner takes another role of the same facility too (fewer agreements).
    shared = chosen.duplicated(["facility_id", "institution_id"], keep=False).to_numpy()[pick]
    rule = np.select(
        [is_winner,
         full.reindex(alts["institution_id"], fill_value=False).to_numpy(bool),
         shared & (minutes <= pick_minutes),
         minutes > pick_minutes],
        [0, 1, 2, 3], default=4)
    return is_winner, np.array(ALTERNATIVE_NOTES, dtype=object)[rule].tolist()


def _proposal_notes(alts: pd.DataFrame, proposals: pd.DataFrame) -> dict:
    """A short note per proposal: roles, how many other candidates, and what kind of agreement."""
    # Few distinct role lists (at most seven): parse and label each once.
    codes, texts = pd.factorize(proposals["roles"].to_numpy())
    role_lists = [[Role(x) for x in text.split(";")] for text in texts]
    heads = [f"{roles_ja(roles)}を担う候補" for roles in role_lists]
    # Other candidates: alternatives of the (facility, role) minus the pick, the most over the roles.
    others = np.full(len(proposals), -1)
    for r in ROLE_ORDER:
        count = alts.loc[(alts["role"] == r.value).to_numpy(bool), "facility_id"].value_counts()
        n = count.reindex(proposals["facility_id"], fill_value=1).to_numpy()
        has = np.array([r in roles for roles in role_lists], bool)[codes]
        others = np.where(has, np.maximum(others, n - 1), others)
    notes = {}
    for f, i, code, n, extends, pinned, not_asked in zip(
            proposals["facility_id"].tolist(), proposals["institution_id"].tolist(), codes.tolist(),
            others.tolist(), proposals["extends_existing"].tolist(), proposals["pinned"].tolist(),
            proposals["not_yet_asked"].tolist(), strict=True):
        # "other candidates: at most 0" reads as nonsense: say there is no other candidate.
        parts = [f"{heads[code]}（他の候補 最大{n}件）" if n > 0 else f"{heads[code]}（他に候補なし）"]
        if len(role_lists[code]) > 1:
            parts.append("1機関で複数の役割をまとめ協定数を最小化")
        if extends:
            parts.append("既存の協力医療機関との協定に役割を追加")
        if pinned:
            parts.append("調整済みとして固定")
        if not_asked:
            parts.append("医療機関の受入意向は未確認")
        notes[(f, i)] = "。".join(parts)
    return notes


def explain_proposals(region: Region, cand: pd.DataFrame, chosen: pd.DataFrame,
                      proposals: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Alternatives for each chosen (facility, role), and a short note per proposal."""
    used = _usage(region, chosen)
    cap_f = region.institutions["capacity_facilities"]
    full = cap_f.notna() & (used["facilities"] >= cap_f.fillna(0))
    names = region.institutions["name"]

    pick = _pick_rows(chosen, cand["facility_id"], cand["role"])
    alts = cand.loc[pick >= 0, ["facility_id", "role", "institution_id", "minutes", "km"]]
    is_winner, notes_alt = _alternative_notes(alts, chosen, pick[pick >= 0], full)
    # Lists, so the columns are inferred exactly as before (also when empty).
    alts["chosen"] = is_winner.tolist()
    alts["institution_name"] = names.reindex(alts["institution_id"]).to_numpy()
    alts["note"] = notes_alt
    alts = alts[["facility_id", "role", "institution_id", "institution_name", "minutes", "km", "chosen", "note"]]
    alts = alts.assign(minutes=_round(alts["minutes"], 1), km=_round(alts["km"], 2))
    return alts.reset_index(drop=True), _proposal_notes(alts, proposals)
