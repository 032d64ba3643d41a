"""Round-the-clock cover from time slots (issue #16): ``availability.csv`` and up to K partners per role.

The contract and loader, the status engine (partial cover is not met), the model against a
brute-force enumeration on random small regions, the verifier's slot checks (one test per
kind of broken plan), the unmatched explanation, and the demo: one partner per role
reproduces the run without time slots.
"""

from __future__ import annotations

import csv
import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from geopy.distance import geodesic

from matching import MatchParameters, match, verify
from matching.contract import RegionValidationError, load_region
from matching.roles import ALL_SLOTS, SLOT_CODES, format_slots, slot_mask
from matching.status import facility_status
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role
from tests.matchkit import fac, inst, make_region

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def with_slots(folder: Path, region_rows, availability: list[tuple[str, str, str]]):
    """``make_region`` plus an ``availability.csv``; the region loaded again."""
    make_region(folder, *region_rows)
    with (folder / "availability.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["institution_id", "role", "slots"])
        w.writerows(availability)
    return load_region(folder)


DAY, NIGHTS = "wd_day", "wd_night;hol_day;hol_night"
ALL = ";".join(SLOT_CODES)


def day_and_night(tmp_path, partnerships=(), more=(), availability=None):
    """A 特定施設 (①② required) near a daytime clinic and a night/holiday hospital."""
    facs = [fac("F1", "tokutei", 0, 0)]
    insts = [inst("C", "clinic", 1, 0), inst("H", "hospital", 0, 1, "zaibyo"), *more]  # rows override flags
    avail = availability if availability is not None else [
        ("C", "consult", DAY), ("C", "visit", DAY), ("H", "consult", NIGHTS), ("H", "visit", NIGHTS)]
    return with_slots(tmp_path, (facs, insts, list(partnerships)), avail)


# -- contract ---------------------------------------------------------------------------

def test_slot_encoding():
    assert slot_mask(SLOT_CODES) == ALL_SLOTS == 15
    assert format_slots(slot_mask(["hol_night", "wd_day"])) == "wd_day;hol_night"


def test_loader_reads_and_checks_availability(tmp_path):
    region = day_and_night(tmp_path)
    assert region.has_slots
    assert region.slots(Role.VISIT).to_dict() == {"C": 1, "H": 14}
    assert region.slots(Role.ADMIT).to_dict() == {"C": 0, "H": ALL_SLOTS}   # ③ stays yes/no
    bad = [("C", "admit", DAY), ("C", "visit", ""), ("X", "visit", DAY), ("H", "visit", "noon"),
           ("C", "consult", DAY), ("C", "consult", NIGHTS)]
    with pytest.raises(RegionValidationError) as err:
        day_and_night(tmp_path / "bad", availability=bad)
    text = str(err.value)
    for needle in ("role", "at least one time slot", "unknown institution_id", "time slot", "duplicate"):
        assert needle in text


def test_without_the_file_nothing_changes(tmp_path):
    make_region(tmp_path, [fac("F1", "tokutei", 0, 0)], [inst("C", "clinic", 1, 0, "zaishin")])
    region = load_region(tmp_path)
    assert not region.has_slots and region.availability is None
    assert "partial_slots" not in facility_status(region).columns


# -- status -----------------------------------------------------------------------------

def test_partial_cover_is_not_met(tmp_path):
    region = day_and_night(tmp_path, partnerships=[("F1", "C", "consult;visit")])
    st = facility_status(region)
    assert st.at["F1", "status"] == "none_met"      # designated, but no role round the clock
    assert st.at["F1", "partial_slots"] == {"consult": 1, "visit": 1}
    both = day_and_night(tmp_path / "b", partnerships=[("F1", "C", "consult;visit"), ("F1", "H", "consult")])
    st = facility_status(both)
    assert st.at["F1", "status"] == "some_met"      # ① day + night = all four; ② only by day
    assert st.at["F1", "partial_slots"] == {"visit": 1}


# -- model ------------------------------------------------------------------------------

def test_two_partners_give_round_the_clock_cover(tmp_path):
    region = day_and_night(tmp_path)
    result = match(region)
    p = result.proposals.set_index("institution_id")
    assert set(p.index) == {"C", "H"}
    assert p.at["C", "consult_slots"] == p.at["C", "visit_slots"] == DAY
    assert p.at["H", "visit_slots"] == NIGHTS
    assert result.status_after.at["F1", "status"] == "all_met"
    assert verify(region, result.proposals) == []
    one = match(region, MatchParameters(max_partners_per_role=1))
    assert one.proposals.empty and "consult_slots" not in one.proposals.columns


def test_a_pinned_part_time_role_shared_with_another_partner_is_verified(tmp_path):
    """A pinned role (a contacted or hand-made proposal) that a part-time institution gives together
    with another one: the verifier finds the pin among the role's partners (it checked only the last
    one proposed, and the service refused the run)."""
    from matching.parameters import Pair

    region = day_and_night(tmp_path)
    for pinned in ("C", "H"):
        params = MatchParameters(pinned=[Pair(facility_id="F1", institution_id=pinned, roles=frozenset({Role.CONSULT}))])
        result = match(region, params)
        assert set(result.proposals["institution_id"]) == {"C", "H"}
        assert verify(region, result.proposals, params) == []
    # A pin really missing is still found.
    params = MatchParameters(pinned=[Pair(facility_id="F1", institution_id="C", roles=frozenset({Role.CONSULT}))])
    without = match(region).proposals
    assert "pin_missing" in {v.code for v in verify(region, without[without["institution_id"] != "C"], params)}


def test_no_redundant_partner_and_full_cover_preferred(tmp_path):
    # A nearer 24h clinic makes the pair of part-time partners unnecessary.
    region = day_and_night(tmp_path, more=[inst("Z", "clinic", 0.5, 0.5, "zaishin")])
    result = match(region)
    assert result.proposals["institution_id"].tolist() == ["Z"]


def test_agreement_in_force_counts_toward_the_union(tmp_path):
    region = day_and_night(tmp_path, partnerships=[("F1", "C", "consult;visit")])
    result = match(region)
    assert result.proposals[["institution_id", "roles"]].values.tolist() == [["H", "consult;visit"]]
    assert result.status_after.at["F1", "status"] == "all_met"
    # Already at the limit of one partner per role: nothing is added.
    assert match(region, MatchParameters(max_partners_per_role=1)).proposals.empty


# -- verifier: one test per kind of broken slot plan ------------------------------------------

def _proposals(region, rows):
    """Proposals as the CSV says them, with correct distances and minutes."""
    out = []
    for f, i, roles in rows:
        a = region.facilities.loc[f]
        b = region.institutions.loc[i]
        km = geodesic((a["lat"], a["lon"]), (b["lat"], b["lon"])).km
        out.append({"facility_id": f, "institution_id": i, "roles": roles, "distance_km": round(km, 2),
                    "travel_minutes": round(km * 1.3 / 40 * 60, 1)})
    return pd.DataFrame(out)


def _codes(region, rows, params=None):
    return {v.code for v in verify(region, _proposals(region, rows), params)}


def _japanese(region, rows, params=None):
    return [(v.code, v.institution_id, v.message_ja) for v in verify(region, _proposals(region, rows), params)]


def test_verifier_catches_a_missing_slot(tmp_path):
    region = day_and_night(tmp_path)
    assert "slots_missing" in _codes(region, [("F1", "C", "consult;visit")])
    assert _codes(region, [("F1", "C", "consult;visit"), ("F1", "H", "consult;visit")]) == set()
    # Said in Japanese with the slots that stay open, by their names.
    assert _japanese(region, [("F1", "C", "consult;visit")]) == [
        ("slots_missing", "C", "①相談対応（常時）: 平日夜間・休日日中・休日夜間 を担う医療機関がありません（常時になりません）"),
        ("slots_missing", "C", "②診療（往診・常時）: 平日夜間・休日日中・休日夜間 を担う医療機関がありません（常時になりません）")]
    # A slots column edited by hand is checked against what the institution gives.
    df = _proposals(region, [("F1", "C", "consult;visit"), ("F1", "H", "consult;visit")]).assign(
        visit_slots="wd_day;wd_night", consult_slots="wd_day")
    assert [(v.code, v.institution_id, v.message_ja) for v in verify(region, df)] == [
        ("wrong_slots", "C", "②診療（往診・常時） の時間帯が 'wd_day;wd_night' とありますが、医療機関が担うのは 平日日中 です"),
        ("wrong_slots", "H", "①相談対応（常時） の時間帯が 'wd_day' とありますが、医療機関が担うのは 平日夜間・休日日中・休日夜間 です"),
        ("wrong_slots", "H", "②診療（往診・常時） の時間帯が 'wd_day;wd_night' とありますが、医療機関が担うのは 平日夜間・休日日中・休日夜間 です")]



def test_a_slots_column_for_a_role_the_institution_does_not_give_says_it_gives_none(tmp_path):
    """A proposal of ② from a clinic that gives no role at all (no designation, no availability row),
    its slots column saying weekdays by day: the role is not offered, and the slots said are wrong —
    in Japanese the institution gives 「なし」 (none), in English nothing after "gives"."""
    region = day_and_night(tmp_path, more=[inst("N", "clinic", 0.5, 0.5, capacity_facilities=5)])
    df = _proposals(region, [("F1", "N", "visit")]).assign(visit_slots=DAY)
    got = [(v.code, v.message, v.message_ja) for v in verify(region, df)
           if v.code in ("role_not_offered", "wrong_slots")]
    assert got == [
        ("role_not_offered", "institution does not offer visit", "医療機関は ②診療（往診・常時） を担っていません"),
        ("wrong_slots", "visit_slots 'wd_day' but the institution gives ",
         "②診療（往診・常時） の時間帯が 'wd_day' とありますが、医療機関が担うのは なし です")]

def test_verifier_catches_a_redundant_partner(tmp_path):
    region = day_and_night(tmp_path, more=[inst("Z", "clinic", 0.5, 0.5, "zaishin")])
    assert _japanese(region, [("F1", "Z", "consult;visit"), ("F1", "C", "consult;visit")]) == [
        ("redundant_partner", "C", "①相談対応（常時）: ほかの医療機関が担わない時間帯がありません（不要な協定です）"),
        ("redundant_partner", "C", "②診療（往診・常時）: ほかの医療機関が担わない時間帯がありません（不要な協定です）")]


def test_verifier_catches_too_many_partners(tmp_path):
    region = day_and_night(tmp_path, more=[inst("D", "clinic", 0.5, 0.5)],
                           availability=[("C", "visit", "wd_day"), ("D", "visit", "wd_night"),
                                         ("H", "visit", "hol_day;hol_night"), ("C", "consult", "wd_day"),
                                         ("H", "consult", NIGHTS)])
    rows = [("F1", "C", "consult;visit"), ("F1", "D", "visit"), ("F1", "H", "consult;visit")]
    assert _japanese(region, rows) == [
        ("too_many_partners", "H", "②診療（往診・常時）: 医療機関が 3 か所です（1つの役割は 2 か所まで）")]
    assert "too_many_partners" not in _codes(region, rows, MatchParameters(max_partners_per_role=3))
    result = match(region, MatchParameters(max_partners_per_role=3))
    assert result.status_after.at["F1", "status"] == "all_met" and len(result.proposals) == 3
    assert verify(region, result.proposals, MatchParameters(max_partners_per_role=3)) == []
    assert match(region).status_after.at["F1", "status"] != "all_met"  # two per role cannot


def test_verifier_catches_a_partner_beyond_a_roles_limit(tmp_path):
    # The night hospital is 40 km away: fine for nobody (30 min), a broken plan if proposed.
    region = day_and_night(tmp_path, more=[inst("FAR", "hospital", 40, 0)],
                           availability=[("C", "consult", DAY), ("C", "visit", DAY), ("FAR", "visit", NIGHTS)])
    assert "beyond_limit" in _codes(region, [("F1", "C", "visit"), ("F1", "FAR", "visit")])


# -- unmatched ---------------------------------------------------------------------------------

def test_unmatched_names_the_missing_slots_and_who_gives_them(tmp_path):
    region = day_and_night(tmp_path, partnerships=[("F1", "C", "consult;visit")],
                           more=[inst("FAR", "hospital", 40, 0)],
                           availability=[("C", "consult", DAY), ("C", "visit", DAY), ("FAR", "visit", NIGHTS),
                                         ("H", "consult", NIGHTS), ("H", "visit", "wd_night")])
    result = match(region)
    u = result.unmatched.set_index("role")
    assert u.at["visit", "reason_code"] == "slots_missing"
    assert "② 平日夜間・休日日中・休日夜間が未確保" in u.at["visit", "reason"]
    assert u.at["visit", "fix_institution_id"] == "FAR" and "分" in u.at["visit", "fix"]


# -- brute force on random small regions ----------------------------------------------------

TYPES = ["tokuyo", "gh", "keihi", "tokutei"]


def random_slot_region(folder: Path, seed: int):
    rng = np.random.default_rng(seed)
    n_fac, n_inst = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    facs = [fac(f"F{k}", str(rng.choice(TYPES)), *rng.uniform(-7, 7, 2).round(2),
                residents=int(rng.choice([20, 45, 70]))) for k in range(n_fac)]
    insts, avail = [], []
    for k in range(n_inst):
        kind = "hospital" if rng.random() < 0.4 else "clinic"
        desig = str(rng.choice(["", "zaibyo"] if kind == "hospital" else ["", "", "zaishin"]))
        insts.append(inst(f"I{k}", kind, *rng.uniform(-7, 7, 2).round(2), desig,
                          accepting=str(rng.choice(["true", "true", "true", "false", ""])),
                          capacity_facilities=str(rng.choice(["", "", "1", "2"])),
                          capacity_residents=str(rng.choice(["", "", "60"]))))
        for role in ("consult", "visit"):
            if rng.random() < 0.7:
                mask = int(rng.choice([1, 2, 3, 4, 8, 12, 14, 5, 10, 7, 11, 13, 15]))
                avail.append((f"I{k}", role, format_slots(mask)))
    part = []
    if rng.random() < 0.5:
        role = str(rng.choice(["consult", "visit", "consult;visit"]))
        part.append((facs[0]["facility_id"], insts[0]["institution_id"], role))
    return with_slots(folder, (facs, insts, part), avail)


def brute_force(region, params: MatchParameters):
    """Best (obligated_full, effort_full, roles met, -agreements, -travel) over every plan that keeps
    every rule: K partners per role, no redundant partner, limits, capacities."""
    fd, idf = region.facilities, region.institutions
    K = params.max_partners_per_role
    offers = {r: region.slots(r) for r in ROLE_ORDER}
    res = region.residents()
    have: dict[tuple, int] = {}
    count: dict[tuple, int] = {}
    existing = set()
    for f, i, roles in region.partnerships[["facility_id", "institution_id", "roles"]].itertuples(index=False):
        existing.add((f, i))
        for r in roles:
            r = Role(r)
            got = ALL_SLOTS if r is Role.ADMIT else int(region.availability.set_index(["institution_id", "role"])
                                                      ["slots"].get((i, r.value), ALL_SLOTS))
            have[(f, r)] = have.get((f, r), 0) | got
            count[(f, r)] = count.get((f, r), 0) + 1
    keys, options, minutes = [], [], {}
    for f in fd.index:
        for r in FACILITY_TYPES[fd.at[f, "facility_type"]].required_roles:
            h, room = have.get((f, r), 0), K - count.get((f, r), 0)
            if h == ALL_SLOTS:
                continue
            cands = []
            for i in idf.index:
                acc = idf.at[i, "accepting"]
                if (not pd.isna(acc) and not bool(acc)) or not offers[r][i]:
                    continue
                km = geodesic((fd.at[f, "lat"], fd.at[f, "lon"]), (idf.at[i, "lat"], idf.at[i, "lon"])).km
                lim = params.limits[r]
                mins = km * 1.3 / 40 * 60
                if mins > lim.minutes or (lim.km is not None and km > lim.km):
                    continue
                minutes[(f, i)] = mins
                cands.append(i)
            opts = [()]
            for n in range(1, max(0, room) + 1):
                for sub in itertools.combinations(cands, n):
                    s = [int(offers[r][i]) for i in sub]
                    union = h
                    for m in s:
                        union |= m
                    redundant = any((s[k] & ~(h | np.bitwise_or.reduce([s[j] for j in range(n) if j != k] or [0])))
                                    == 0 for k in range(n))
                    if union == ALL_SLOTS and not redundant:
                        opts.append(sub)
            keys.append((f, r))
            options.append(opts)
    if np.prod([len(o) for o in options], dtype=float) > 3e5:
        return None
    best = None
    for choice in itertools.product(*options):
        pairs = {(f, i) for (f, _), sub in zip(keys, choice, strict=True) for i in sub}
        new = pairs - existing
        ok = True
        for i in idf.index:
            mine = [f for f, j in new if j == i]
            cf, cr = idf.at[i, "capacity_facilities"], idf.at[i, "capacity_residents"]
            if (not pd.isna(cf) and len(mine) > int(cf)) or (
                    not pd.isna(cr) and sum(int(res[f]) for f in mine) > int(cr)):
                ok = False
        if not ok:
            continue
        met = {(f, r) for (f, r), sub in zip(keys, choice, strict=True) if sub}
        full = [f for f in {f for f, _ in keys} if all((f, r) in met for g, r in keys if g == f)]
        obligated = sum(FACILITY_TYPES[fd.at[f, "facility_type"]].obligated for f in full)
        travel = sum(np.rint(int(res[f]) * minutes[(f, i)]) for (f, _), sub in zip(keys, choice, strict=True)
                     for i in sub)
        key = (obligated, len(full) - obligated, len(met), -len(new), -travel)
        if best is None or key > best:
            best = key
    return best


@pytest.mark.parametrize("seed", range(48))
def test_slot_model_equals_brute_force(tmp_path, seed):
    # The enumeration reads capacities as given (blank = unlimited), so the run must too.
    params = MatchParameters(max_partners_per_role=1 + seed % 3, unknown_capacity="unlimited")
    region = random_slot_region(tmp_path, seed)
    best = brute_force(region, params)
    if best is None:
        pytest.skip("too many plans to enumerate")
    result = match(region, params)
    assert result.optimal
    assert verify(region, result.proposals, params) == []
    got = tuple(result.stage(s).objective for s in ("obligated_full", "effort_full", "roles_covered"))
    assert got + (-result.stage("new_agreements").objective,) == best[:4]
    assert abs(-result.stage("travel_cost").objective - best[4]) <= 3


@pytest.mark.parametrize("seed", range(0, 48, 3))
def test_cut_lists_prove_coverage_for_the_full_lists(tmp_path, seed):
    """Lists cut to the nearest 1 per slot set (and role set): the coverage the run calls proven
    is the full lists' optimum, and a bound it reports is never below it (brute force)."""
    from matching.optimise.options import SolveOptions

    params = MatchParameters(max_partners_per_role=1 + seed % 3, unknown_capacity="unlimited")
    region = random_slot_region(tmp_path, seed)
    best = brute_force(region, params)
    if best is None:
        pytest.skip("too many plans to enumerate")
    result = match(region, params, SolveOptions(nearest=1, expand_rounds=1))
    assert result.options.nearest == 1
    assert verify(region, result.proposals, params) == []
    stages = [result.stage(s) for s in ("obligated_full", "effort_full", "roles_covered")]
    for stage, full in zip(stages, best[:3], strict=True):
        assert stage.objective <= full <= stage.bound
        if stage.optimal:
            assert stage.objective == full


def test_cut_lists_keep_every_slot_set_of_the_full_lists():
    """Per (facility, role), the slot sets the K nearest give are those of the whole list, and
    the cut lists keep the national coverage bound (capacity-free, at most K partners)."""
    from matching.candidates import find_candidates
    from matching.optimise.instance import Instance
    from matching.optimise.run import model_inputs
    from matching.optimise.slots import coverable

    region = load_region(DEMO)
    params = MatchParameters()
    status = facility_status(region)
    full = find_candidates(region, status, params)
    cut = find_candidates(region, status, params, nearest=2)
    assert len(cut) < len(full) / 2 and cut["truncated"].any()

    def sets(c):
        return c.groupby(["facility_id", "role"])["slots"].agg(lambda v: frozenset(v.tolist()))

    assert sets(cut).equals(sets(full))
    inputs = model_inputs(region, status.loc[full["facility_id"].unique()])

    def bound(c):
        x = Instance.from_frames(c.assign(cost=0), inputs, region.institutions)
        _, values = coverable(x, np.arange(len(x.f)))
        return values.sum(axis=0).tolist()

    assert bound(cut) == bound(full)


def test_remembered_plans_are_the_plans(monkeypatch):
    """slots.best_plans remembers each facility's plan by its rows as data: a later instance that
    holds the same facility's rows at other positions (a re-solve of part of the region, as
    criticality makes) gets the plan at its own rows, and one whose rows changed (an institution
    gone) is planned afresh — the same answer as planning every facility again."""
    from matching.candidates import find_candidates
    from matching.optimise import slots
    from matching.optimise.instance import Instance
    from matching.optimise.run import model_inputs, travel_cost

    region = load_region(DEMO)
    params = MatchParameters()
    status = facility_status(region)
    cand = find_candidates(region, status, params)
    cand["cost"] = travel_cost(cand, region, params)
    inputs = model_inputs(region, status.loc[cand["facility_id"].unique()])
    slots._PLANS.clear()
    first = Instance.from_frames(cand, inputs, region.institutions)
    slots.best_plans(first, np.arange(len(first.f)))
    remembered = len(slots._PLANS)
    assert remembered > 20
    # Every other facility, without the institution most often a candidate: other row positions.
    gone = cand["institution_id"].value_counts().index[0]
    facs = sorted(cand["facility_id"].unique())[1::2]
    part = cand[cand["facility_id"].isin(facs) & (cand["institution_id"] != gone)].reset_index(drop=True)
    x = Instance.from_frames(part, inputs, region.institutions)
    rows = np.arange(len(x.f))
    picked, known = slots.best_plans(x, rows)
    assert 0 < len(slots._PLANS) - remembered < remembered / 2  # some plans re-used, the changed ones new
    monkeypatch.setattr(slots, "_memo_plan", slots._facility_plan)  # every plan worked out again
    again, known_again = slots.best_plans(x, rows)
    assert (picked == again).all() and (known == known_again).all()


# -- the demo ------------------------------------------------------------------------------

def test_demo_with_one_partner_per_role_is_the_run_without_slots(tmp_path):
    """max_partners_per_role = 1 reproduces, byte for byte, the run without availability.csv."""
    plain = tmp_path / "plain"
    shutil.copytree(DEMO, plain)
    (plain / "availability.csv").unlink()
    one = MatchParameters(max_partners_per_role=1)
    a = match(load_region(DEMO), one)
    b = match(load_region(plain), one)
    for name in ("proposals", "unmatched", "alternatives"):
        assert getattr(a, name).to_csv(index=False) == getattr(b, name).to_csv(index=False), name
    assert a.status_before.drop(columns="partial_slots").equals(b.status_before)


def test_demo_files_with_one_partner_per_role_are_those_without_slots(tmp_path):
    """The files ``matching match`` writes, not only the tables: the CSV files byte for byte, the
    workbook cell for cell, the summary but for its timings."""
    import json

    import openpyxl
    from typer.testing import CliRunner

    from matching.cli import app

    plain = tmp_path / "plain"
    shutil.copytree(DEMO, plain)
    (plain / "availability.csv").unlink()
    config = tmp_path / "one.toml"
    config.write_text("max_partners_per_role = 1\n", encoding="utf-8")
    for region, out in ((DEMO, "timed"), (plain, "plain-out")):
        done = CliRunner().invoke(app, ["match", str(region), "--out", str(tmp_path / out), "--config", str(config)])
        assert done.exit_code == 0, done.output
    a, b = tmp_path / "timed", tmp_path / "plain-out"
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in ("proposals.csv", "unmatched.csv", "alternatives.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    wa, wb = openpyxl.load_workbook(a / "proposals.xlsx"), openpyxl.load_workbook(b / "proposals.xlsx")
    assert wa.sheetnames == wb.sheetnames
    for sheet in wa.sheetnames:
        assert [[c.value for c in r] for r in wa[sheet].iter_rows()] == [[c.value for c in r] for r in wb[sheet].iter_rows()]
    sa, sb = (json.loads((d / "summary.json").read_text(encoding="utf-8")) for d in (a, b))
    assert {k: v for k, v in sa.items() if k != "seconds"} == {k: v for k, v in sb.items() if k != "seconds"}


def test_national_generator_can_add_time_slots(tmp_path):
    from matching.demo import national

    plain = national.generate(seed=1, scale=0.5, prefectures={"03"})
    timed = national.generate(seed=1, scale=0.5, prefectures={"03"}, availability=True)
    for name, df in plain.items():  # the other tables stay the same
        assert df.equals(timed[name]), name
    national.write_tables(tmp_path, timed)
    region = load_region(tmp_path)
    assert region.has_slots and len(region.availability) == len(timed["availability"]) > 0


def test_the_cli_writes_the_national_instance_with_time_slots(tmp_path):
    from typer.testing import CliRunner

    from matching.cli import app

    args = ["demo", "national", "--seed", "1", "--scale", "0.02", "--no-residents-capacity"]
    plain = CliRunner().invoke(app, [*args, str(tmp_path / "plain")])
    timed = CliRunner().invoke(app, [*args, "--availability", str(tmp_path / "timed")])
    assert plain.exit_code == 0 and timed.exit_code == 0, (plain.output, timed.output)
    assert not (tmp_path / "plain" / "availability.csv").exists()
    region = load_region(tmp_path / "timed")
    assert region.has_slots
    for name in ("facilities.csv", "institutions.csv", "partnerships.csv"):  # only the slots differ
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "timed" / name).read_bytes(), name
    assert load_region(tmp_path / "plain").institutions["capacity_residents"].isna().all()


def test_every_slot_violation_in_full(tmp_path):
    """Each time-slot check with the exact facility, institution and message it reports: the
    slots no partner gives (named at the role's first proposed partner), too many partners (an
    agreement in force counts, each one; named at the last one proposed), a partner giving nothing the
    others do not (also two round-the-clock partners for one role: each is redundant), and a
    slots column that is not what the institution gives."""
    facs = [fac("F1", "tokutei", 0, 0), fac("F2", "tokutei", 0, 2), fac("F3", "tokutei", 2, 0),
            fac("F4", "tokutei", 2, 2), fac("F5", "tokutei", 3, 0)]
    insts = [inst(i, kind, e, n, d, capacity_facilities=9) for i, kind, e, n, d in
             [("C", "clinic", 1, 0, ""), ("H", "hospital", 0, 1, "zaibyo"), ("D", "clinic", 1, 1, ""),
              ("E", "clinic", 1, 2, ""), ("Y", "clinic", 3, -1, "zaishin"), ("Z", "clinic", 3, 1, "zaishin")]]
    avail = [("C", "consult", DAY), ("C", "visit", DAY), ("H", "consult", NIGHTS), ("H", "visit", NIGHTS),
             ("D", "visit", "wd_night"), ("E", "visit", "hol_day;hol_night")]
    region = with_slots(tmp_path, (facs, insts, [("F3", "C", "visit"), ("F3", "D", "visit")]), avail)
    rows = [("F1", "H", "consult"), ("F1", "C", "consult;visit"),               # ① round the clock: fine
            ("F1", "D", "visit"),                                                # ② misses the holidays
            ("F2", "C", "consult;visit"), ("F2", "D", "visit"), ("F2", "E", "visit"),  # ② by three
            ("F2", "H", "consult"),
            ("F3", "E", "visit"),                                   # ② in force from C and D: E is a third
            ("F4", "C", "consult;visit"), ("F4", "H", "consult;visit"), ("F4", "D", "visit"),  # D adds nothing
            ("F5", "Z", "consult"), ("F5", "Y", "consult")]  # two round-the-clock partners (flags, no rows)
    proposals = _proposals(region, rows)
    got = [(v.code, v.facility_id, v.institution_id, v.message) for v in verify(region, proposals)]
    assert got == [
        ("redundant_partner", "F4", "D", "visit: gives no slot the other partners do not give"),
        ("redundant_partner", "F5", "Y", "consult: gives no slot the other partners do not give"),
        ("redundant_partner", "F5", "Z", "consult: gives no slot the other partners do not give"),
        ("slots_missing", "F1", "C", "visit: slots hol_day;hol_night not given by any partner"),
        ("too_many_partners", "F2", "E", "visit: 3 partners, at most 2"),
        ("too_many_partners", "F3", "E", "visit: 3 partners, at most 2"),
        ("too_many_partners", "F4", "D", "visit: 3 partners, at most 2"),
    ]
    # With three partners allowed, only the partner that adds nothing and the missing slots are left.
    three = MatchParameters(max_partners_per_role=3)
    assert [(v.code, v.facility_id) for v in verify(region, proposals, three)] == [
        ("redundant_partner", "F4"), ("redundant_partner", "F5"), ("redundant_partner", "F5"), ("slots_missing", "F1")]
    # The slots columns are checked against what the institution gives, role by role.
    fixed = {"C": DAY, "H": NIGHTS, "D": "wd_night", "E": "hol_day;hol_night", "Y": ALL, "Z": ALL}
    slots = proposals.assign(
        consult_slots=[fixed[i] if "consult" in r else "" for i, r in zip(proposals["institution_id"],
                                                                         proposals["roles"], strict=True)],
        visit_slots=[fixed[i] if "visit" in r else "" for i, r in zip(proposals["institution_id"],
                                                                     proposals["roles"], strict=True)])
    assert verify(region, slots, three) == verify(region, proposals, three)
    slots.loc[1, "consult_slots"] = "wd_day;hol_day"        # C gives ① on weekdays by day, not on holidays
    slots.loc[0, "consult_slots"] = "wd_night"              # H gives ① on holidays too
    slots.loc[6, "consult_slots"] = "hol_day;wd_night;hol_night"  # F2–H: H's set in another order: fine
    wrong = [(v.code, v.facility_id, v.institution_id, v.message) for v in verify(region, slots, three)
             if v.code == "wrong_slots"]
    assert wrong == [
        ("wrong_slots", "F1", "C", "consult_slots 'wd_day;hol_day' but the institution gives wd_day"),
        ("wrong_slots", "F1", "H", "consult_slots 'wd_night' but the institution gives hol_day;hol_night;wd_night")]


def test_one_availability_row_is_enough_to_check_time_slots(tmp_path):
    """A region whose ``availability.csv`` has a single row (one part-time clinic) is a region
    with time slots: that clinic alone leaves ① uncovered at night and on holidays, and with a
    round-the-clock hospital beside it the clinic is a redundant second partner, not a role
    assigned twice."""
    region = with_slots(tmp_path, ([fac("F1", "tokutei", 0, 0)],
                                   [inst("C", "clinic", 1, 0, "zaishin", capacity_facilities=5),
                                    inst("H", "hospital", 0, 1, "zaibyo", capacity_facilities=5)], []),
                        [("C", "consult", DAY)])
    assert [(v.code, v.institution_id, v.message) for v in verify(region, _proposals(region, [("F1", "C", "consult")]))] \
        == [("slots_missing", "C", "consult: slots hol_day;hol_night;wd_night not given by any partner")]
    both = verify(region, _proposals(region, [("F1", "C", "consult"), ("F1", "H", "consult;visit")]))
    assert [(v.code, v.institution_id) for v in both] == [("redundant_partner", "C")]
    assert verify(region, _proposals(region, [("F1", "H", "consult;visit")])) == []
