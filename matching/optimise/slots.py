"""Roles assembled from time slots (issue #16): the general formulation.

With ``availability.csv`` and ``max_partners_per_role`` K > 1, a facility's ① or ② is
met when the slots of its partners for that role — agreements in force (``have``) and
proposals — are together all four, with at most K partners (``room`` = K minus those in
force).  The exact reductions run as without slots, with slot conditions
(``reduce.py``: a dominating institution gives at least the dominated one's slots; a
facility's capacity-free best is :func:`best_plans`); every component left (linked only
through institutions whose capacity can bind) is solved with this model::

    Variables
      x_c ∈ {0,1}   institution i gives role r to f (candidate c = (f, i, r), slots S_c)
      y_p ∈ {0,1}   the pair p = (f, i) is used:  x_c ≤ y_p ≤ Σ_(c ∈ p) x_c
      m_k ∈ {0,1}   role k = (f, r) is met
      z_f ∈ {0,1}   every missing role of f is met
    Constraints
      m_k ≤ Σ_(c ∈ k, s ∈ S_c) x_c         ∀ k, every slot s not in have_k
      x_c ≤ m_k                             a partner is proposed only where the role is met
      Σ_(c ∈ k) x_c ≤ room_k
      z_f ≤ m_k  ∀ k of f;  capacities as the one-partner model (pairs once, roles per (pair, role))
    Objective: the same five goals, lexicographic (goal 3 = roles met).

No redundant partner (each gives a slot no other partner of the role gives): the solution is
pruned (:func:`prune`), which keeps every goal at least as good, so the optimum is that of
plans without redundant partners.

At national scale the candidate lists are cut to the nearest K per slot set
(``candidates.slot_groups``), which keeps every slot set of a (facility, role)'s full list:
the capacity-free coverage with at most K partners (:func:`coverable`) is then the same for
cut and full lists, and is the bound coverage is proven against; where it is not met, the
model with *phantoms* (each cut list may also have a partner beyond the cut giving every slot,
with room, not counted toward K — a relaxation of the full lists) proves it or names the lists
to lengthen, as without slots.  No bound on agreements and travel is claimed for cut lists.

Without slots in the data every partner gives all four and K plays no part: the
one-partner model and its fast paths run, unchanged.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from matching.optimise.greedy import greedy_order
from matching.optimise.instance import ROLES, Instance
from matching.roles import ALL_SLOTS, N_SLOTS, fr_facility, fr_key


def _keys(x: Instance, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (facility, role) keys of ``rows`` and, per row, the position of its key."""
    return np.unique(fr_key(x.f[rows], x.role[rows]), return_inverse=True)


def met_roles(x: Instance, rows: np.ndarray, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The keys of ``rows`` and whether each is met when ``rows[picked]`` are chosen."""
    keys, at = _keys(x, rows)
    union = np.zeros(len(keys), np.int64)
    np.bitwise_or.at(union, at[picked], x.slots[rows][picked])
    have = np.zeros(len(keys), np.int64)
    have[at] = x.have[rows]
    return keys, (union != 0) & ((union | have) == ALL_SLOTS)


def facility_values(x: Instance, picked: np.ndarray) -> np.ndarray:
    """The five goals' values of the chosen rows (a mask over all rows), one row per facility code.
    Only a (facility, role) with a chosen row can be met: the chosen rows are all it reads."""
    n_f = x.n_facilities
    rows = np.flatnonzero(picked)
    keys, met = met_roles(x, rows, np.ones(len(rows), bool))
    covered = np.bincount(fr_facility(keys[met]), minlength=n_f)
    full = covered == x.missing
    new = picked & ~x.existing
    _, first = np.unique(x.pair[new], return_index=True)
    agreements = np.bincount(x.f[np.flatnonzero(new)[first]], minlength=n_f)
    travel = np.bincount(x.f[picked], weights=x.cost[picked], minlength=n_f)
    return np.stack([full & x.obligated, full & ~x.obligated, covered, agreements, travel], axis=1).astype(float)


def partners_needed(x: Instance, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (facility, role) keys of ``rows`` and, per key, the fewest of its candidates whose
    slots, with those in force, make all four (``N_SLOTS + 1`` = none do).

    Reads only which slot sets the candidates give (a bitset over the 2**N_SLOTS sets per key),
    so it is the same for a cut list that keeps every slot set of the full one
    (``candidates.slot_groups``)."""
    keys, at = _keys(x, rows)
    sets = np.zeros(len(keys), np.int64)
    np.bitwise_or.at(sets, at, np.left_shift(1, x.slots[rows]))
    have = np.zeros(len(keys), np.int64)
    have[at] = x.have[rows]
    needed = np.full(len(keys), N_SLOTS + 1, np.int64)
    reach = sets  # unions of j candidates' slot sets, as a bitset
    for j in range(1, N_SLOTS + 1):
        done = np.zeros(len(keys), bool)
        for u in range(ALL_SLOTS + 1):
            done |= ((reach >> u) & 1).astype(bool) & ((u | have) == ALL_SLOTS)
        needed[done & (needed > N_SLOTS)] = j
        nxt = reach.copy()
        for u in range(ALL_SLOTS + 1):
            on = (reach >> u) & 1
            for m in range(1, ALL_SLOTS + 1):
                nxt |= (on & (sets >> m) & 1) << (u | m)
        reach = nxt
    return keys, needed


def coverable(x: Instance, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The facilities among ``rows`` and their coverage if capacities were unlimited: every
    role some at most ``room`` of its candidates cover, with the slots in force
    (:func:`partners_needed`) — the same for cut lists as for the full lists."""
    keys, needed = partners_needed(x, rows)
    room = np.zeros(len(keys), np.int64)
    k_at = np.searchsorted(keys, fr_key(x.f[rows], x.role[rows]))
    room[k_at] = x.room[rows]
    met = needed <= room
    facs = np.unique(x.f[rows])
    covered = np.bincount(fr_facility(keys[met]), minlength=x.n_facilities)[facs]
    full = covered == x.missing[facs]
    return facs, np.stack([full & x.obligated[facs], full & ~x.obligated[facs], covered], axis=1).astype(float)


def coverage_key(x: Instance, picked: np.ndarray) -> tuple[float, float, float]:
    """Goals 1–3 of the rows ``picked`` (indices)."""
    keys, met = met_roles(x, picked, np.ones(len(picked), bool))
    facs, covered = np.unique(fr_facility(keys[met]), return_counts=True)
    full = covered == x.missing[facs]
    return float((full & x.obligated[facs]).sum()), float((full & ~x.obligated[facs]).sum()), float(met.sum())


#: A facility whose plans take more comparisons than this is left to the solver.
PLAN_LIMIT = 4096


def best_plans(x: Instance, rows: np.ndarray,
               earlier: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows (a mask over all of ``x``) chosen when every facility among ``rows`` takes its best
    plan, capacities ignored, and per facility code whether it was worked out (``known``).

    The best plan: every role some at most ``room`` candidates cover (all four slots with those
    in force) covered, then fewest new agreements, then least travel, then the smallest
    institution codes.  A facility whose candidates all give their role alone takes
    ``closed_form.best_patterns`` (one partner per role is then the best); the others are
    enumerated (:func:`_facility_plan`) — those with too many plans are not ``known``.
    ``earlier`` (an earlier answer, over more rows): facilities whose plan was known and lies
    within ``rows`` keep it (a plan best over more candidates is best over fewer)."""
    from matching.optimise.closed_form import best_patterns

    rows = np.asarray(rows)
    picked = np.zeros(len(x.f), bool)
    known = np.zeros(x.n_facilities, bool)
    if len(rows) == 0:
        return picked, known
    part = np.zeros(x.n_facilities, bool)
    part[x.f[rows[(x.slots[rows] | x.have[rows]) != ALL_SLOTS]]] = True
    simple = rows[~part[x.f[rows]]]
    picked |= best_patterns(x, simple)
    known[x.f[simple]] = True
    rest = rows[part[x.f[rows]]]
    if earlier is not None:
        before, was_known = earlier
        inside = np.zeros(len(x.f), bool)
        inside[rows] = True
        lost = np.zeros(x.n_facilities, bool)
        lost[x.f[before & ~inside]] = True
        kept = was_known & ~lost & part
        picked[rest[kept[x.f[rest]]]] = before[rest[kept[x.f[rest]]]]
        known |= kept
        rest = rest[~kept[x.f[rest]]]
    rest = rest[np.lexsort((rest, x.f[rest]))]
    cut = np.flatnonzero(np.r_[True, x.f[rest][1:] != x.f[rest][:-1]]) if len(rest) else []
    for group in np.split(rest, cut[1:]) if len(rest) else []:
        plan = _memo_plan(x, group)
        if plan is not None:
            picked[plan] = True
            known[x.f[group[0]]] = True
    return picked, known


#: Plans already worked out, by the facility's candidate rows as data (:func:`_memo_plan`).
_PLANS: dict[tuple, tuple[int, ...] | None] = {}
_PLANS_MAX = 200_000


def _memo_plan(x: Instance, rows: np.ndarray) -> list[int] | None:
    """:func:`_facility_plan`, remembered by what it reads: the rows' institutions (by id: codes
    are ids in sorted order), roles, slots, costs, agreements in force, slots in force and room,
    in row order.  The same facility is planned again and again — every reduction round, every
    re-solve of a what-if or a criticality table — with the same rows; the answer is a pure
    function of them, so remembering it changes no result."""
    key = (tuple(x.institution_ids[x.i[rows]].tolist()), x.role[rows].tobytes(), x.slots[rows].tobytes(),
           x.cost[rows].tobytes(), x.existing[rows].tobytes(), x.have[rows].tobytes(), x.room[rows].tobytes())
    local = _PLANS.get(key, False)
    if local is False:
        plan = _facility_plan(x, rows)
        local = None if plan is None else tuple(np.searchsorted(rows, plan).tolist())
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[key] = local
    return None if local is None else rows[list(local)].tolist()


def _facility_plan(x: Instance, rows: np.ndarray) -> list[int] | None:
    """One facility's best plan (:func:`best_plans`), capacities ignored; None if too many plans.

    Per role, every cover by at most ``room`` candidates without a redundant one; a cover is
    dropped when another costs no more, uses no more new institutions of its own and, of the
    institutions the facility's other roles could use, only some of its own — swapping it in
    never adds an agreement.  Then every combination of the roles' covers."""
    from itertools import combinations, product

    ids = rows.tolist()
    inst, role, given = x.i[rows].tolist(), x.role[rows].tolist(), x.slots[rows].tolist()
    cost, existing = x.cost[rows].tolist(), x.existing[rows].tolist()
    have, room = x.have[rows].tolist(), x.room[rows].tolist()
    local = {i: k for k, i in enumerate(sorted(set(inst)))}
    bit = [1 << local[i] for i in inst]
    new_mask = 0
    for b, e in zip(bit, existing, strict=True):
        if not e:
            new_mask |= b
    by_role: dict[int, list[int]] = {}
    for j, r in enumerate(role):
        by_role.setdefault(r, []).append(j)
    role_insts = {k: _union([bit[j] for j in js]) for k, js in by_role.items()}
    options = []
    for k, js in sorted(by_role.items()):
        h, q = have[js[0]], room[js[0]]
        foreign = _union([m for k2, m in role_insts.items() if k2 != k])
        plans = []
        for n in range(1, min(q, N_SLOTS, len(js)) + 1):
            subsets = list(combinations(js, n))
            if len(subsets) > PLAN_LIMIT:
                return None
            for sub in subsets:
                g = [given[j] for j in sub]
                if h | _union(g) != ALL_SLOTS or any(
                        g[t] & ~(h | _union(g[:t] + g[t + 1:])) == 0 for t in range(n)):
                    continue
                plans.append((sum(cost[j] for j in sub), _union([bit[j] for j in sub]), sub))
        if not plans:
            continue  # not coverable
        plans.sort(key=lambda p: (p[0], p[1].bit_count(), p[1]))
        kept: list = []
        for c, mask, sub in plans:
            own = (mask & ~foreign & new_mask).bit_count()
            shared = mask & foreign
            if not any(c2 <= c and m2 & ~shared == 0 and o2 <= own for c2, m2, o2, _ in kept):
                kept.append((c, shared, own, sub))
        options.append([(c, _union([bit[j] for j in sub]), sub) for c, _, _, sub in kept])
    total = 1
    for o in options:
        total *= len(o)
    if total > PLAN_LIMIT:
        return None
    best = None
    for combo in product(*options):
        mask = 0
        c = 0.0
        for c1, m, _ in combo:
            mask |= m
            c += c1
        key = ((mask & new_mask).bit_count(), c, mask)
        if best is None or key < best[0]:
            best = (key, combo)
    return [] if best is None else [ids[j] for p in best[1] for j in p[2]]


def _union(masks: list[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def greedy_rows(x: Instance, rows: np.ndarray | None = None,
                caps: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The greedy rule with time slots (a mask over all rows): facilities with pins, then
    obligated, then by id; roles ①②③; each role goes to the nearest candidate that gives all
    its missing slots alone, else is assembled nearest first from candidates that add a slot,
    within its room; a role that cannot be met within capacity takes nobody.  Redundant
    partners are dropped (:func:`prune`)."""
    rows = np.arange(len(x.f)) if rows is None else np.asarray(rows, np.int64)
    caps = x.caps if caps is None else caps
    out = np.zeros(len(x.f), bool)
    if len(rows) == 0:
        return out
    order = greedy_order(x, rows)  # the same visiting order as without slots
    left = {c: np.where(np.isnan(v), np.inf, v).astype(float) for c, v in caps.items()}
    partners: dict[int, set[int]] = {}  # facility -> institutions it has a new or existing pair with
    key = fr_key(x.f[order], x.role[order])
    cut = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    for group in np.split(order, cut[1:]):
        g = int(x.f[group[0]])
        have, room = int(x.have[group[0]]), int(x.room[group[0]])
        mine = partners.setdefault(g, set())
        alone = [c for c in group if (int(x.slots[c]) | have) == ALL_SLOTS]
        plans = [[c] for c in alone]
        union, took = have, []
        for c in group:  # assembled nearest first
            if union == ALL_SLOTS or len(took) >= room:
                break
            if int(x.slots[c]) & ~union:
                took.append(c)
                union |= int(x.slots[c])
        if union == ALL_SLOTS:
            plans.append(took)
        for plan in plans:
            need: dict[str, dict[int, float]] = {}
            new_here: set[int] = set()
            for c in plan:
                i, r, n = int(x.i[c]), ROLES[x.role[c]], float(x.residents[g])
                for unit, amount in (("facilities", 1.0), ("residents", n)):
                    need.setdefault(f"capacity_{unit}_{r}", {}).setdefault(i, 0.0)
                    need[f"capacity_{unit}_{r}"][i] += amount
                    if not x.existing[c] and i not in mine and i not in new_here:
                        need.setdefault(f"capacity_{unit}", {}).setdefault(i, 0.0)
                        need[f"capacity_{unit}"][i] += amount
                if not x.existing[c]:
                    new_here.add(i)
            if all(left[col][i] >= v for col, d in need.items() if col in left for i, v in d.items()):
                for col, d in need.items():
                    if col in left:
                        for i, v in d.items():
                            left[col][i] -= v
                mine |= {int(x.i[c]) for c in plan}
                out[plan] = True
                break
    out[rows] = prune(x, rows, out[rows])
    return out


def prune(x: Instance, rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """``chosen`` (a mask over ``rows``) without redundant partners: a partner whose slots the
    role's other partners (in force and chosen) give anyway is dropped, the most expensive first.
    The roles met stay the same; agreements and travel can only fall.  Pinned rows stay.

    The model leaves redundancy out of its constraints (they slowed it fivefold): an optimum
    with a redundant partner prunes to one without, no worse on any goal, so the optimum over
    plans without redundant partners is the same."""
    out = np.asarray(chosen, bool).copy()
    picked = np.flatnonzero(out)
    if len(picked) == 0:
        return out
    keys = fr_key(x.f[rows[picked]], x.role[rows[picked]])
    for key in np.unique(keys):
        mine = picked[keys == key]
        mine = mine[np.lexsort((-x.i[rows[mine]], -x.cost[rows[mine]]))]
        for j in mine:
            r = rows[j]
            if x.pinned[r] or x.pinned_role[r]:
                continue
            others = int(x.have[r])
            for j2 in mine:
                if j2 != j and out[j2]:
                    others |= int(x.slots[rows[j2]])
            if (int(x.slots[r]) & ~others) == 0:
                out[j] = False
    return out


class SlotFormulation:
    """The model of the module docstring for one component.  Duck-types
    :class:`matching.optimise.model.ComponentFormulation` (one ``w`` per candidate row)."""

    #: Candidate rows from which the coverage solve drops CP-SAT's LP relaxation: on the national
    #: instance's largest component (15,303 rows) 0.5 s instead of 2.8 s, same proven optimum; on
    #: the demo's components (up to 5,400 rows) the LP is what proves coverage quickly — without
    #: it the demo's what-if scenarios took 2–4× longer (2040_response: 9.9 s instead of 2.5 s).
    LP_FREE_COVERAGE_ROWS = 10_000

    def __init__(self, x: Instance, rows: np.ndarray, caps: dict[str, np.ndarray],
                 hint: np.ndarray | None = None, phantoms: bool = False):
        from matching.optimise.model import ComponentFormulation, CpModel, _grouped

        self._base = ComponentFormulation
        self.order = np.lexsort((x.role[rows], x.pair[rows]))
        rows = rows[self.order]
        self.x, self.rows = x, rows
        n = len(rows)
        # CP-SAT's linearization_level per solve; agreements and travel always with the LP (without
        # it, not proven in time).
        self.linearization = {"maximize": 0 if n >= self.LP_FREE_COVERAGE_ROWS else 2, "minimize": 2}
        self.w_rows = [[j] for j in range(n)]
        self.incidence = np.arange(n), np.arange(n)  # (w, row): one w per row
        m = self.m = CpModel()
        xv = self.w = [m.new_bool_var("") for _ in range(n)]
        pair, fac, inst = x.pair[rows], x.f[rows], x.i[rows]
        res = x.residents[fac]
        slots, have, room = x.slots[rows], x.have[rows], x.room[rows]
        keys, at = np.unique(fr_key(fac, x.role[rows]), return_inverse=True)
        # Pairs.
        pairs, p_at = np.unique(pair, return_inverse=True)
        y = [m.new_bool_var("") for _ in pairs]
        for p, idx in zip(*_grouped(p_at), strict=True):
            for j in idx:
                m.add_implication(xv[j], y[p])
            m.add(cp_model.LinearExpr.sum([xv[j] for j in idx]) >= y[p])
        # Phantoms (bound only): a (facility, role) whose list was cut may also have a partner
        # beyond the cut, assumed to give every slot, to have room and not to count toward K.
        cut = set(np.unique(at[x.truncated[rows]]).tolist()) if phantoms else set()
        self.phantom = {int(keys[k]): m.new_bool_var("") for k in sorted(cut)}
        # Roles met, room.
        met = [m.new_bool_var("") for _ in keys]
        for k, idx in zip(*_grouped(at), strict=True):
            hk = int(have[idx[0]])
            extra = [self.phantom[int(keys[k])]] if int(keys[k]) in self.phantom else []
            for s in range(N_SLOTS):
                bit = 1 << s
                if hk & bit:
                    continue
                givers = [xv[j] for j in idx if slots[j] & bit] + extra
                m.add(cp_model.LinearExpr.sum(givers) >= met[k]) if givers else m.add(met[k] == 0)
            for j in idx:
                m.add_implication(xv[j], met[k])
            if len(idx) > int(room[idx[0]]):
                m.add(cp_model.LinearExpr.sum([xv[j] for j in idx]) <= int(room[idx[0]]))
        # Facilities all met.
        key_fac = fr_facility(keys)
        n_keys = np.bincount(key_fac, minlength=x.n_facilities)
        z = {}
        for g in np.unique(fac):
            if n_keys[g] == x.missing[g]:
                z[int(g)] = m.new_bool_var("")
                for k in np.flatnonzero(key_fac == g):
                    m.add_implication(z[int(g)], met[k])
        # Pins.
        for j in np.flatnonzero(x.pinned[rows]):
            m.add(y[p_at[j]] == 1)
        for j in np.flatnonzero(x.pinned_role[rows]):
            m.add(xv[j] == 1)
        # Capacities: new pairs once, roles per (pair, role).
        first = np.unique(p_at, return_index=True)[1]
        new_p = np.flatnonzero(~x.existing[rows][first])
        self._capacity(caps.get("capacity_facilities"), inst[first][new_p], [y[p] for p in new_p],
                       np.ones(len(new_p), np.int64))
        self._capacity(caps.get("capacity_residents"), inst[first][new_p], [y[p] for p in new_p],
                       res[first][new_p])
        for k, r in enumerate(ROLES):
            on = np.flatnonzero(x.role[rows] == k)
            self._capacity(caps.get(f"capacity_facilities_{r}"), inst[on], [xv[j] for j in on],
                           np.ones(len(on), np.int64))
            self._capacity(caps.get(f"capacity_residents_{r}"), inst[on], [xv[j] for j in on], res[on])

        obligated = x.obligated
        zo = [v for g, v in z.items() if obligated[g]]
        ze = [v for g, v in z.items() if not obligated[g]]
        cost = x.cost[rows].astype(np.int64)
        y_new = [y[p] for p in new_p]
        self.terms = [cp_model.LinearExpr.sum(zo), cp_model.LinearExpr.sum(ze), cp_model.LinearExpr.sum(met),
                      cp_model.LinearExpr.sum(y_new), cp_model.LinearExpr.weighted_sum(xv, cost.tolist())]
        self.empty = [not zo, not ze, not met, not y_new, not xv]
        w_effort = len(keys) + 1
        w_obligated = w_effort * (len(ze) + 1)
        w_agreements = int(cost.sum()) + 1
        self.levels = (("maximize", (0, 1, 2), (w_obligated, w_effort, 1)),
                       ("minimize", (3, 4), (w_agreements, 1)))
        best = greedy_rows(x, rows, caps) if hint is None else hint
        self.hint = best[rows]

    def covers_all(self, chosen: np.ndarray | None) -> bool:
        """Never: with time slots the coverage solve always runs (no shortcut from the start)."""
        return False

    def phantom_bound(self, time_limit: float) -> tuple[int | None, list[int]]:
        """As :meth:`matching.optimise.model.ComponentFormulation.phantom_bound`."""
        return self._base.phantom_bound(self, time_limit)

    def coverage_value(self, parts) -> int:
        return self._base.coverage_value(self, parts)

    def w_values(self, picked: np.ndarray) -> np.ndarray:
        """One ``w`` per row: the rows ``picked`` themselves."""
        return np.asarray(picked, bool).copy()

    def solve_all_met(self, time_limit: float, without: np.ndarray | None = None,
                      better_than: tuple[int, int] | None = None, only: np.ndarray | None = None,
                      start: np.ndarray | None = None) -> tuple[np.ndarray | None, bool]:
        """As :meth:`matching.optimise.model.ComponentFormulation.solve_all_met`, then :func:`prune`
        (which keeps every role met)."""
        chosen, optimal = self._base.solve_all_met(self, time_limit, without, better_than, only, start)
        return (None if chosen is None else prune(self.x, self.rows, chosen)), optimal

    def _capacity(self, cap, inst, vs, coef) -> None:
        from matching.optimise.model import _grouped

        if cap is None or len(vs) == 0:
            return
        for i, idx in zip(*_grouped(np.asarray(inst)), strict=True):
            c = cap[i]
            if np.isnan(c) or coef[idx].sum() <= c:
                continue
            self.m.add(cp_model.LinearExpr.weighted_sum([vs[k] for k in idx], coef[idx].tolist()) <= int(c))

    def _local(self, chosen_w: np.ndarray) -> np.ndarray:
        return np.asarray(chosen_w, bool)

    def rows_of(self, chosen_w: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.rows), bool)
        out[self.order] = self._local(chosen_w)
        return out

    def values(self, chosen_w: np.ndarray) -> list[float]:
        picked = np.zeros(len(self.x.f), bool)
        picked[self.rows[self._local(chosen_w)]] = True
        return facility_values(self.x, picked).sum(axis=0).tolist()

    def solve(self, time_limit, effort_limit=None, proceed=None):
        """The one-partner model's two lexicographic solves, then :func:`prune`."""
        chosen, parts = self._base.solve(self, time_limit, effort_limit, proceed)
        pruned = prune(self.x, self.rows, chosen)
        if (pruned != chosen).any():  # only when not proven optimal: goals 4–5 improve
            vals = self.values(pruned)
            parts = [type(p)(p.name, p.sense, float(v), p.bound, p.optimal) for p, v in zip(parts, vals, strict=True)]
        return pruned, parts

    @staticmethod
    def _stages(values, bounds, optimal):
        from matching.optimise.model import ComponentFormulation

        return ComponentFormulation._stages(values, bounds, optimal)
