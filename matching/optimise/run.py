"""One matching run: status → candidates → model → proposals → explanations.

Each step is a function of its own (``facility_status``, ``find_candidates``,
``CooperationModel``, ``proposals_from``, ``explain``); :func:`match` chains them
and records what each step took.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.candidates import (
    count_candidates,
    facilities_to_match,
    find_candidates,
    sort_candidates,
    travel_provider,
    uses_slots,
)
from matching.capacity import facilities_per_institution
from matching.explain import explain_proposals, explain_unmatched
from matching.optimise.model import GOAL_LABELS, CooperationModel, StageResult, relative_gap
from matching.optimise.options import SolveOptions, for_size
from matching.parameters import MatchParameters
from matching.region import Region, approximate_points
from matching.roles import (
    ALL_SLOTS,
    BIT_OF_CODE,
    N_MASKS,
    ROLE_SETS,
    SLOTTED,
    format_slots,
    slot_mask,
    slots_ja,
)
from matching.status import facility_status
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role, format_roles

PROPOSAL_COLUMNS = ["facility_id", "institution_id", "roles", "distance_km", "travel_minutes",
                    "extends_existing", "not_yet_asked", "pinned", "location_uncertain", "explanation"]
#: With time slots (``availability.csv``, several partners per role): the slots each proposed
#: partner gives for ① and ② (``;``-separated codes, blank = not that role).
SLOT_COLUMNS = [f"{code}_slots" for code in SLOTTED]


def location_notes(region: Region, proposals: pd.DataFrame, params: MatchParameters) -> tuple[pd.Series, pd.Series]:
    """Per proposal: whether its travel limit holds only for part of the points' uncertainty
    (``location_uncertain``), and a Japanese note on approximate locations.

    A point at a municipal office (``location_source=office``) may be anywhere within its
    ``location_radius_km``; the pair is uncertain when the distance plus both radii exceeds the
    straight-line reach of its tightest role limit (km, or minutes at the travel speed).
    """
    from matching.contract.schema import LOCATION_SOURCES

    if proposals.empty:
        return pd.Series(dtype=bool), pd.Series(dtype=object)
    approx_f, f_rad = approximate_points(region.facilities, proposals["facility_id"])
    approx_i, i_rad = approximate_points(region.institutions, proposals["institution_id"])

    def reach(roles: str) -> float:
        return min((params.reach_km(role) for role in params.limits if role.mark in roles or role.value in roles),
                   default=math.inf)

    limit = proposals["roles"].map({roles: reach(roles) for roles in proposals["roles"].unique()}).to_numpy(float)
    uncertain = pd.Series((proposals["distance_km"].to_numpy(float) + f_rad + i_rad > limit) & (approx_f | approx_i),
                          index=proposals.index)
    notes = []
    for af, ai, rf, ri, unc in zip(approx_f, approx_i, f_rad, i_rad, uncertain, strict=True):
        parts = []
        if ai:
            parts.append(f"医療機関の位置は{LOCATION_SOURCES['office']}（誤差 約{ri:g} km）")
        if af:
            parts.append(f"施設の位置は{LOCATION_SOURCES['office']}（誤差 約{rf:g} km）")
        if unc:
            parts.append("距離の条件を満たすかは位置の確認が必要")
        notes.append("、".join(parts) + ("。" if parts else ""))
    return uncertain.astype(bool), pd.Series(notes, index=proposals.index)



@dataclass
class MatchResult:
    """What a run produced; ``proposals`` and ``unmatched`` are what coordinators act on."""

    params: MatchParameters
    status_before: pd.DataFrame
    status_after: pd.DataFrame
    candidates: pd.DataFrame
    proposals: pd.DataFrame
    unmatched: pd.DataFrame
    alternatives: pd.DataFrame
    stages: list[StageResult]
    components: int
    seconds: dict[str, float] = field(default_factory=dict)
    closed_components: int = 0   # components solved in closed form (no solver)
    settled_facilities: int = 0  # facilities settled by the exact reductions (no solver)
    options: SolveOptions = field(default_factory=SolveOptions)  # how it was computed
    greedy_floor: bool = False   # the greedy assignment was returned (the solver's was worse)
    #: facilities per institution after the run, against the calibration (matching.capacity).
    load: dict = field(default_factory=dict)
    #: The components' results by content (``CooperationModel.cache``): give it to a later run of
    #: a changed region (``match(..., cache=)``) and only the components the change reaches are
    #: solved again — the same answer as solving everything (solves are deterministic).
    cache: dict = field(default_factory=dict, repr=False)
    #: Components solved by CP-SAT in this run, all rounds (the others were closed-form or re-used).
    solved_components: int = 0

    @property
    def optimal(self) -> bool:
        return all(s.optimal for s in self.stages)

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.name == name)


def travel_cost(cand: pd.DataFrame, region: Region, params: MatchParameters) -> np.ndarray:
    """Resident-weighted minutes, plus the preference penalty for pairs crossing the preferred area."""
    residents = region.residents().reindex(cand["facility_id"]).to_numpy(float)
    minutes = cand["minutes"].to_numpy(float)
    if params.prefer_same is not None:
        column = "municipality_code" if params.prefer_same == "municipality" else "secondary_area_code"
        fac_area = region.facility_area()[column]
        inst_area = region.institutions.join(region.areas, on="municipality_code")[column]
        differs = (fac_area.reindex(cand["facility_id"]).to_numpy()
                   != inst_area.reindex(cand["institution_id"]).to_numpy())
        minutes = minutes + differs * params.preference_minutes
    return np.rint(residents * minutes)


def model_inputs(region: Region, need: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "residents": region.residents().reindex(need.index),
        "obligated": need["obligated"],
        "missing": need["missing_roles"].map(len),
    })


def proposals_from(chosen: pd.DataFrame, slotted: bool = False) -> pd.DataFrame:
    """One row per facility–institution pair, sorted by facility and institution: the roles it
    would take, distance and time (and, with time slots, the slots it gives per role:
    ``consult_slots``, ``visit_slots``).  Arrays, not a pandas groupby: criticality builds one per
    re-solve it verifies (demo: 1.5 ms instead of 11 ms a call; national 27 ms instead of 104)."""
    if chosen.empty:
        return pd.DataFrame(columns=PROPOSAL_COLUMNS[:-1] + (SLOT_COLUMNS if slotted else []))
    f_code, f_ids = pd.factorize(chosen["facility_id"], sort=True)
    i_code, i_ids = pd.factorize(chosen["institution_id"], sort=True)
    pair = f_code.astype(np.int64) * len(i_ids) + i_code
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    new_pair = np.r_[True, pair[1:] != pair[:-1]]
    first = np.flatnonzero(new_pair)  # each pair's rows start here (in ``order``)
    at = order[first]  # a pair's distance and time are the same on each of its rows
    bit = chosen["role"].map(BIT_OF_CODE).to_numpy(np.int64)[order]  # roles as a mask (matching.roles)
    out = pd.DataFrame({
        "facility_id": np.asarray(f_ids, object)[f_code[at]],
        "institution_id": np.asarray(i_ids, object)[i_code[at]],
        "roles": _ROLES_TEXT[np.add.reduceat(bit, first)],
        "distance_km": pd.Series(chosen["km"].to_numpy()[at]).round(2),
        "travel_minutes": pd.Series(chosen["minutes"].to_numpy()[at]).round(1),
        "extends_existing": chosen["existing"].to_numpy()[at],
        "not_yet_asked": chosen["not_yet_asked"].to_numpy()[at],
        # (``eq(True)``: a blank flag is not pinned, as pandas' ``any`` skipped it)
        "pinned": np.logical_or.reduceat(chosen["pinned"].eq(True).to_numpy(bool)[order], first),
    })
    if slotted:
        pair_of_row = np.cumsum(new_pair) - 1
        role = chosen["role"].to_numpy(object)[order]
        slots = chosen["slots"].to_numpy(np.int64)[order]
        for code, column in zip(SLOTTED, SLOT_COLUMNS, strict=True):
            given = np.full(len(first), "", object)  # blank: the pair does not take that role
            is_role = role == code
            given[pair_of_row[is_role]] = _SLOTS_TEXT[slots[is_role]]
            out[column] = given
    return out


#: Every role mask and slot mask as the files write it.
_ROLES_TEXT = np.array([format_roles(ROLE_SETS[m]) for m in range(N_MASKS)], object)
_SLOTS_TEXT = np.array([format_slots(m) for m in range(ALL_SLOTS + 1)], object)


def _part_time_note(slot_texts) -> str:
    """``。②は平日日中のみ担当（他の協力医療機関と合わせて常時）`` for the roles a partner gives
    in part of the week; blank when it gives every proposed role around the clock."""
    out = []
    for code, text in zip(SLOTTED, slot_texts, strict=True):
        mask = slot_mask(text.split(";")) if text else 0
        if mask and mask != ALL_SLOTS:
            out.append(f"{Role(code).mark}は{slots_ja(mask)}のみ担当")
    return "。" + "、".join(out) + "（他の協力医療機関と合わせて常時）" if out else ""


def lengthen(region: Region, status: pd.DataFrame, params: MatchParameters, travel,
             cand: pd.DataFrame, wanted: list[tuple[str, str]], nearest: int) -> pd.DataFrame:
    """``cand`` with the lists of the facilities in ``wanted`` re-drawn to the ``nearest`` K."""
    facilities = sorted({f for f, _ in wanted})
    more = find_candidates(region, status.loc[facilities], params, travel, nearest=nearest)
    more["cost"] = travel_cost(more, region, params)
    return sort_candidates(pd.concat([cand[~cand["facility_id"].isin(facilities)], more], ignore_index=True))


def model_candidates(cand: pd.DataFrame, slotted: bool) -> pd.DataFrame:
    """The candidate rows as the model reads them: without time slots every partner gives all four
    slots, so the slot columns are dropped (the one-partner model)."""
    return (cand if slotted else cand.drop(columns=["slots", "have", "room"], errors="ignore")
            ).reset_index(drop=True)


def match(region: Region, params: MatchParameters | None = None,
          options: SolveOptions | None = None, *, coverage_only: bool = False,
          cache: dict | None = None) -> MatchResult:
    """Propose cooperating institutions for every facility with missing roles.

    ``options`` says how to compute at scale (:data:`matching.optimise.options.NATIONAL`):
    the K nearest candidates per facility and role, lengthened where the coverage
    proof needs it (the model's ``expand``; unchanged components are not solved
    again), and components solved in parallel.  The default is every candidate.
    ``coverage_only``: goals 1–3 only (which facilities and roles can be covered, proven for the
    full lists as usual); goals 4–5 are then the coverage solution's, unproven — for questions
    about coverage alone (criticality's re-solves of regions whose lists were cut).
    ``cache``: an earlier run's :attr:`MatchResult.cache` (same parameters): the components
    it already solved with the same content are not solved again (the capacity plan's check).

    >>> from matching.contract import load_region
    >>> result = match(load_region("data/demo"))
    >>> result.optimal, len(result.proposals)
    (True, 156)
    """
    params = params or MatchParameters()
    # Unreported facilities (if asked) matched as reported, in the status tables before and after
    # as well; blank capacity is not unlimited unless asked for (matching.capacity).
    region = region.as_planned(params)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    before = facility_status(region)
    need = facilities_to_match(before, params)
    seconds["status"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if options is None:  # chosen by the data: exact on small regions, cut lists on large ones
        options = for_size(count_candidates(region, before, params))
    slotted = uses_slots(region, params)
    travel = travel_provider(region, params)
    cand = find_candidates(region, before, params, travel, nearest=options.nearest)
    cand["cost"] = travel_cost(cand, region, params)
    seconds["candidates"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    inputs = model_inputs(region, need)
    rounds = options.expand_rounds if options.nearest is not None else 0
    model = CooperationModel.from_frames(model_candidates(cand, slotted), inputs, region.institutions,
                                         stage_time_limit=params.stage_time_limit, options=options)
    model.cache = dict(cache) if cache else {}  # a copy: the earlier run's stays as it was
    model.final = rounds == 0
    model.travel_is_minutes = params.prefer_same is None
    model.coverage_only = coverage_only
    model.solve()
    solved = model.solved_components
    seconds["solve"] = time.perf_counter() - t0
    seconds.update({f"solve_{k}": v for k, v in model.seconds.items()})
    for k in range(rounds):
        if not model.expand:
            break
        # Lengthen the cut lists the coverage proof needs; unchanged components come from the cache.
        t0 = time.perf_counter()
        cand = lengthen(region, before, params, travel, cand, model.expand,
                        options.nearest * options.expand_factor ** (k + 1))
        model = CooperationModel(cand, inputs, region.institutions, params.stage_time_limit, options,
                                 cache=model.cache, final=k == rounds - 1,
                                 travel_is_minutes=params.prefer_same is None, coverage_only=coverage_only).solve()
        solved += model.solved_components
        seconds["solve"] += time.perf_counter() - t0
        seconds["expand"] = seconds.get("expand", 0.0) + time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen = model.chosen
    proposals = proposals_from(chosen, slotted)
    alternatives, notes = explain_proposals(region, cand, chosen, proposals)
    proposals["explanation"] = [notes.get((f, i), "") for f, i in
                                zip(proposals["facility_id"], proposals["institution_id"], strict=True)]
    uncertain, loc_notes = location_notes(region, proposals, params)
    estimated = region.institutions["capacity_estimated"].reindex(proposals["institution_id"]).fillna(False)
    caps = region.institutions["capacity_facilities"].reindex(proposals["institution_id"])
    loc_notes = pd.Series([f"{n}受入枠は推定値（{int(c)}施設）。" if e else n for n, e, c in
                           zip(loc_notes.reindex(proposals.index).fillna(""), estimated.to_numpy(), caps.to_numpy(),
                               strict=True)], index=proposals.index, dtype=object)
    proposals["location_uncertain"] = uncertain.reindex(proposals.index).fillna(False).astype(bool)
    proposals["explanation"] = [f"{n} {e}".strip() if n else e for n, e in
                                zip(loc_notes.reindex(proposals.index).fillna(""), proposals["explanation"],
                                    strict=True)]
    if slotted:  # a part-time partner says which slots it gives and that others give the rest
        part = [_part_time_note(row) for row in proposals[SLOT_COLUMNS].itertuples(index=False)]
        proposals["explanation"] = [n + p if p else n for n, p in zip(proposals["explanation"], part, strict=True)]
    proposals = proposals[PROPOSAL_COLUMNS + (SLOT_COLUMNS if slotted else [])]
    agreed = pd.concat([region.partnerships[["facility_id", "institution_id", "roles"]],
                        chosen.assign(roles=chosen["role"].map({r.value: frozenset({r}) for r in ROLE_ORDER}))
                        [["facility_id", "institution_id", "roles"]]], ignore_index=True)
    after = facility_status(region, agreed)
    # Whether an uncovered role can be blamed on capacity depends on coverage (goals 1–3)
    # being proven, not on agreements or travel.
    unmatched = explain_unmatched(region, before, after, cand, chosen, params, travel, optimal=all(
        s.optimal for s in model.stages[:3]))
    seconds["explain"] = time.perf_counter() - t0
    result = MatchResult(params, before, after, cand, proposals, unmatched, alternatives,
                         model.stages, model.components, seconds, model.closed_components,
                         model.settled_facilities, options, model.greedy_floor)
    result.load = {**facilities_per_institution(region.partnerships, proposals),
                   "capacity_estimated": int(region.institutions["capacity_estimated"].sum()),
                   "unknown_capacity": params.unknown_capacity}
    result.cache, result.solved_components = model.cache, solved
    return result


def summary(result: MatchResult) -> dict:
    """Counts before/after by status and type, objective, bound, gap and timings (summary.json)."""
    def counts(st: pd.DataFrame) -> dict:
        table = st.groupby(["facility_type", "status"], observed=True).size()
        out: dict[str, dict[str, int]] = {}
        for (t, s), n in table.items():
            out.setdefault(t, {})[s] = int(n)
        return {t: out.get(t, {}) for t in FACILITY_TYPES if t in out}

    return {
        "facilities": int(len(result.status_before)),
        "facilities_to_match": int(len(facilities_to_match(result.status_before, result.params))),
        "proposals": int(len(result.proposals)),
        "new_agreements": int((~result.proposals["extends_existing"].astype(bool)).sum()),
        "unmatched_facilities": int(result.unmatched["facility_id"].nunique()),
        "status_before": counts(result.status_before),
        "status_after": counts(result.status_after),
        # No bound (NaN) is written as null: JSON has no NaN, and "unknown" is what it means.
        "objective": {s.name: s.objective for s in result.stages},
        "bound": {s.name: s.bound if np.isfinite(s.bound) else None for s in result.stages},
        "gap": {s.name: round(s.gap, 6) if np.isfinite(s.gap) else None for s in result.stages},
        # Cut lists: goals 4–5's proven bound for the lists the run used (null where not proven).
        "bound_lists_used": {s.name: s.lists_bound if np.isfinite(s.lists_bound) else None
                             for s in result.stages[3:]} if result.options.nearest is not None else None,
        "optimal": result.optimal,
        "proof": {
            "coverage_proven": all(s.optimal for s in result.stages[:3]),
            "all_goals_proven": result.optimal,
            "greedy_floor": result.greedy_floor,
            "candidate_lists": "full" if result.options.nearest is None else f"nearest {result.options.nearest}",
        },
        "warnings": proof_warnings(result),
        "notes": proof_notes(result),
        "components": result.components,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "parameters": result.params.model_dump(mode="json"),
        # Facilities per institution after the run against the calibration (matching.capacity).
        "facilities_per_institution": result.load,
    }


def _gap_text(stage: StageResult) -> str:
    return f"{GOAL_LABELS[stage.name]}: 提案 {stage.objective:,.0f}、証明済みの限界 {stage.bound:,.0f}（差 {stage.gap:.1%}）"


def proof_warnings(result: MatchResult) -> list[str]:
    """What a user must know before relying on the run, in Japanese (empty when coverage is proven).

    A gap on goals 1–3 means more facilities might be brought to "all met" than proposed."""
    out = []
    short = [s for s in result.stages[:3] if not s.optimal]
    if short:
        out.append("カバー（目標1〜3）が最適と証明されていません — "
                   + "、".join(_gap_text(s) if np.isfinite(s.bound) else f"{GOAL_LABELS[s.name]}: 限界不明"
                              for s in short)
                   + "。提案はそのまま使えますが、さらに多くの施設を充足できる可能性があります。"
                   "対処: 実行パラメータ stage_time_limit を延ばす、--nearest を大きくする、"
                   "または二次医療圏ごとに分けて実行してください。")
    if result.greedy_floor:
        out.append("ソルバーが制限時間内に、最寄り順の割当て（貪欲法）より良い解を見つけられませんでした。"
                   "貪欲法の割当てを提案しています。")
    return out


def proof_notes(result: MatchResult) -> list[str]:
    """Goals 4–5 (agreements, travel) where not proven: the remaining gap, in Japanese."""
    agreements = result.stage("new_agreements")
    travel = result.stage("travel_cost")
    if agreements.optimal and travel.optimal:
        return []
    if not np.isfinite(agreements.bound):
        out = ["新規協定数（目標4）と移動時間（目標5）は最小と証明されていません（候補を各役割の近い順に絞ったため、"
               "全候補に対する下限を示せません）。協定数はさらに減らせる可能性があります。"]
        used = [s for s in (agreements, travel) if np.isfinite(s.lists_bound)]
        if used:  # what is proven for the lists the run used
            out.append("使った候補の範囲では — " + "、".join(
                f"{GOAL_LABELS[s.name]}: 提案 {s.objective:,.0f}（最小と証明済み）" if s.objective <= s.lists_bound else
                f"{GOAL_LABELS[s.name]}: 提案 {s.objective:,.0f}、証明済みの限界 {s.lists_bound:,.0f}"
                f"（差 {relative_gap(s.objective, s.lists_bound):.2%}）" for s in used)
                + ("" if len(used) == 2 else f"、{GOAL_LABELS['travel_cost']}: 限界不明") + "。")
        return out
    out = [] if agreements.optimal else [_gap_text(agreements) + "。"]
    if not travel.optimal:
        out.append(_gap_text(travel) + "。" if np.isfinite(travel.bound)
                   else f"{GOAL_LABELS['travel_cost']}（目標5）は最小と証明されていません。")
    return out
