"""Candidate lists (``matching.candidates``) checked row by row, without the solver.

* The full lists equal a plain enumeration of the rules (``tests/test_properties.Brute``: geopy
  distances, its own limit, willingness, forbidden and pinned rules) on the property tests'
  random regions, with every column: minutes, km, agreement in force, pinned, not yet asked.
* Lists cut to the K nearest hold each list's K nearest (plus partners and pins), say
  ``truncated`` exactly where the full list is longer than K, and are the same whether the k-d
  tree finds them (straight-line travel) or the full lists are listed and then cut (any other
  provider) — on larger random regions, with and without time slots.
* The scope, willingness and slot rules, pins and their refusals, and the candidate count.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching import MatchParameters
from matching.candidates import (
    CANDIDATE_COLUMNS,
    count_candidates,
    eligible_institutions,
    facilities_to_match,
    find_candidates,
    in_scope,
    uses_slots,
)
from matching.contract import load_region
from matching.parameters import Pair, ParameterError
from matching.status import facility_status
from matching.travel import GeodesicTravel
from matching.vocabulary import ROLE_ORDER
from tests.matchkit import fac, inst, make_region
from tests.test_properties import NEAREST_SEEDS, SEEDS, case_of

ALL_SEEDS = [*SEEDS, *NEAREST_SEEDS]


def triples(cand: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(cand["facility_id"], cand["institution_id"], cand["role"], strict=True))


def full_lists(region, params) -> pd.DataFrame:
    return find_candidates(region, facility_status(region), params)


# -- full lists against the brute force ---------------------------------------------------

@pytest.mark.parametrize("seed", ALL_SEEDS)
def test_full_lists_equal_the_brute_force(seed):
    case = case_of(seed)
    bf, region, params = case.bf, case.region, case.params
    cand = full_lists(region, params)
    want = {(f, i, r.value) for f, r in bf.slots() for i in bf.options(f, r)}
    assert triples(cand) == want
    assert list(cand.columns) == CANDIDATE_COLUMNS
    # Canonical order: facility, institution, then ①②③.
    order = [(f, i, [r.value for r in ROLE_ORDER].index(r))
             for f, i, r in zip(cand["facility_id"], cand["institution_id"], cand["role"], strict=True)]
    assert order == sorted(order)
    assert list(cand.index) == list(range(len(cand)))
    for row in cand.itertuples(index=False):
        f, i = row.facility_id, row.institution_id
        assert row.minutes == pytest.approx(bf.minutes(f, i), abs=0.01)
        assert row.km == pytest.approx(bf.km(f, i), abs=0.01)
        assert row.existing == ((f, i) in bf.existing)
        assert row.pinned == bf.pins(f, i, row.role)
        assert row.pinned_role == (bf.pins(f, i, row.role) and bf.pinned[(f, i)] is not None)
        assert row.not_yet_asked == pd.isna(region.institutions.at[i, "accepting"])
        assert not row.truncated


def test_the_brute_force_cases_hold_candidates():
    """The comparison above is not vacuous."""
    lists = [full_lists(case_of(s).region, case_of(s).params) for s in ALL_SEEDS]
    assert sum(len(c) for c in lists) >= 100
    assert sum(c["existing"].any() for c in lists) >= 3
    assert sum(c["pinned"].any() for c in lists) >= 3
    assert sum(c["pinned_role"].any() for c in lists) >= 1
    assert sum(c["not_yet_asked"].any() for c in lists) >= 3


@pytest.mark.parametrize("seed", ALL_SEEDS)
@pytest.mark.parametrize("k", [1, 2])
def test_cut_lists_hold_the_k_nearest_and_say_where_they_are_cut(seed, k):
    case = case_of(seed)
    bf, region, params = case.bf, case.region, case.params
    full = full_lists(region, params)
    cut = find_candidates(region, facility_status(region), params, nearest=k)
    want = {(f, i, r.value) for (f, r), kept in bf.nearest_options(k).items() for i in kept}
    assert want <= triples(cut) <= triples(full)
    # A list is cut where more than k candidates (pins aside) are within the limits.
    unpinned = full_lists(region, params.model_copy(update={"pinned": []}))
    longer = {key for key, n in unpinned.groupby(["facility_id", "role"]).size().items() if n > k}
    for (f, r), rows in cut.groupby(["facility_id", "role"]):
        assert rows["truncated"].all() == ((f, r) in longer), (f, r)
        assert rows["truncated"].nunique() == 1
    # The same values as the full lists.
    both = cut.merge(full, on=["facility_id", "institution_id", "role"], suffixes=("", "_full"))
    assert len(both) == len(cut)
    for col in ("minutes", "km"):
        assert np.allclose(both[col].astype(float), both[f"{col}_full"].astype(float))
    for col in ("existing", "pinned", "pinned_role", "not_yet_asked"):
        assert (both[col] == both[f"{col}_full"]).all(), col


# -- the two ways of cutting lists agree --------------------------------------------------

@dataclass(frozen=True)
class Straight:
    """Straight-line travel that is not a ``GeodesicTravel``: lists are listed in full, then cut."""

    inner: GeodesicTravel = GeodesicTravel()
    name: str = "straight"

    def within(self, fac, inst, max_minutes):
        return self.inner.within(fac, inst, max_minutes)

    def between(self, fac, inst, fi, ii):
        return self.inner.between(fac, inst, fi, ii)


SLOT_SETS = ["wd_day", "wd_night;hol_day;hol_night", "wd_day;wd_night", "hol_day;hol_night",
             "wd_day;wd_night;hol_day;hol_night"]


def random_region(folder: Path, seed: int, slots: bool):
    """20 facilities and 40 institutions within ±20 km, agreements in force, part-time slots."""
    rng = np.random.default_rng(seed)
    types = ["tokuyo", "roken", "gh", "tokutei", "keihi"]
    facs = [fac(f"F{k:02d}", str(rng.choice(types)), *rng.uniform(-20, 20, 2).round(3))
            for k in range(20)]
    insts = []
    for k in range(40):
        if rng.random() < 0.5:
            row = inst(f"H{k:02d}", "hospital", *rng.uniform(-20, 20, 2).round(3),
                       str(rng.choice(["zaibyo", "koho_shien", "chiiki_houkatsu_ward"])),
                       accepting=str(rng.choice(["true", "true", "false", ""])))
        else:
            row = inst(f"C{k:02d}", "clinic", *rng.uniform(-20, 20, 2).round(3), "zaishin",
                       accepting=str(rng.choice(["true", "true", "false", ""])))
        insts.append(row)
    partnerships = []
    for f in facs[:6]:
        i = insts[int(rng.integers(len(insts)))]
        partnerships.append((f["facility_id"], i["institution_id"],
                             "consult" if i["kind"] == "clinic" else "admit"))
    make_region(folder, facs, insts, partnerships)
    if slots:
        with (folder / "availability.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["institution_id", "role", "slots"])
            for row in insts:
                if row["kind"] == "clinic" or rng.random() < 0.3:
                    for role in ("consult", "visit"):
                        if rng.random() < 0.8:
                            w.writerow([row["institution_id"], role, str(rng.choice(SLOT_SETS))])
    return load_region(folder)


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    base = tmp_path_factory.mktemp("cand")
    return {slots: random_region(base / str(slots), 7, slots) for slots in (False, True)}


def _forbidden(region, n=6):
    """Pairs near each other, so that skipping them changes who is nearest."""
    fac, ins = region.facilities, region.institutions
    out = []
    for f in fac.index[:n]:
        d = (ins["lat"] - fac.at[f, "lat"]) ** 2 + (ins["lon"] - fac.at[f, "lon"]) ** 2
        out.append(Pair(facility_id=f, institution_id=str(d.idxmin())))
    return out


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("forbid", [False, True])
def test_tree_and_listed_cut_lists_are_the_same(regions, slots, k, forbid):
    region = regions[slots]
    params = MatchParameters(limits={"visit": {"minutes": 40, "km": 16}, "admit": {"minutes": 45}})
    if forbid:
        params = params.model_copy(update={"forbidden": _forbidden(region)})
    status = facility_status(region)
    tree = find_candidates(region, status, params, GeodesicTravel(), nearest=k)
    listed = find_candidates(region, status, params, Straight(), nearest=k)
    cols = ["facility_id", "institution_id", "role", "truncated", "existing", "pinned", "not_yet_asked"]
    assert list(tree.columns) == list(listed.columns)
    pd.testing.assert_frame_equal(tree[cols], listed[cols])
    for col in ("minutes", "km"):
        assert np.allclose(tree[col].astype(float), listed[col].astype(float))
    full = find_candidates(region, status, params, GeodesicTravel())
    assert triples(tree) <= triples(full)
    # A list not marked cut holds its whole full list (one marked cut may get the rows it lost
    # back from the role sets' nearest).
    full_n = full.groupby(["facility_id", "role"]).size()
    for (f, r), rows in tree.groupby(["facility_id", "role"]):
        assert rows["truncated"].all() or len(rows) == full_n[(f, r)], (f, r)
    assert tree["truncated"].any()
    if forbid:
        bad = {(p.facility_id, p.institution_id) for p in params.forbidden}
        assert not {(f, i) for f, i, _ in triples(tree)} & bad


# -- who is matched, who is a candidate ---------------------------------------------------

@pytest.fixture
def small(tmp_path):
    """F1 (group home) and F2 (特養) miss roles; F3 has all it needs; F4 has no annual report."""
    return make_region(tmp_path, [
        fac("F1", "gh", 0, 0), fac("F2", "tokuyo", 1, 0), fac("F3", "gh", 2, 0),
        fac("F4", "gh", 3, 0, reported=False),
    ], [
        inst("C1", "clinic", 0, 1, "zaishin"),
        inst("C2", "clinic", 0, 2, "zaishin", accepting=""),
        inst("C3", "clinic", 0, 3, "zaishin", accepting="false"),
        inst("H1", "hospital", 1, 1, "zaibyo"),
        inst("C4", "clinic", 0, 4),  # offers nothing round the clock
    ], [("F3", "C1", "consult;visit")])


def test_scope_by_type_prefecture_and_report(small):
    status = facility_status(small)
    assert in_scope(status, MatchParameters()).all()
    assert list(status.index[in_scope(status, MatchParameters(facility_types=["gh"]))]) == ["F1", "F3", "F4"]
    assert in_scope(status, MatchParameters(prefectures=["03"])).all()
    assert not in_scope(status, MatchParameters(prefectures=["04", "13"])).any()
    both = MatchParameters(facility_types=["tokuyo"], prefectures=["03"])
    assert list(status.index[in_scope(status, both)]) == ["F2"]
    assert list(facilities_to_match(status, MatchParameters()).index) == ["F1", "F2"]
    assert list(facilities_to_match(status, MatchParameters(include_unreported=True)).index) == ["F1", "F2", "F4"]
    assert list(facilities_to_match(status, MatchParameters(facility_types=["tokuyo"])).index) == ["F2"]
    assert facilities_to_match(status, MatchParameters(prefectures=["04"])).empty


def test_willing_institutions_that_offer_a_role(small):
    assert list(eligible_institutions(small, MatchParameters()).index) == ["C1", "C2", "H1"]
    assert list(eligible_institutions(small, MatchParameters(unknown_accepting=False)).index) == ["C1", "H1"]
    cand = find_candidates(small, facility_status(small), MatchParameters(unknown_accepting=False))
    assert set(cand["institution_id"]) == {"C1", "H1"}
    assert set(cand["facility_id"]) == {"F1", "F2"}


def test_candidate_count_is_the_full_lists_length(regions, small):
    region = regions[False]
    for params in (MatchParameters(), MatchParameters(limits={"visit": {"minutes": 40, "km": 12}}),
                   MatchParameters(limits={"consult": {"minutes": 20}, "admit": {"minutes": 25, "km": 10}})):
        status = facility_status(region)
        # Exact but for pairs at the very edge (the ball is on a sphere, the limit on the ellipsoid).
        n = len(find_candidates(region, status, params))
        assert n > 100 and abs(count_candidates(region, status, params) - n) <= n // 100
    status = facility_status(small)
    assert count_candidates(small, status, MatchParameters()) == len(find_candidates(small, status, MatchParameters()))
    assert count_candidates(small, status, MatchParameters(prefectures=["04"])) == 0
    assert count_candidates(small, status, MatchParameters(facility_types=["gh"], unknown_accepting=False)) == 4


def test_candidate_count_goes_on_past_a_role_nobody_offers(tmp_path):
    """No institution gives ① round the clock here: the count still counts ② (three clinics
    within reach of the one facility), as the full lists do."""
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], [
        inst(f"B{k}", "clinic", 0, k, "zaishin", consult_24h="false", visit_24h="true") for k in range(1, 4)])
    status = facility_status(region)
    cand = find_candidates(region, status, MatchParameters())
    assert set(cand["role"]) == {"visit"} and len(cand) == 3
    assert count_candidates(region, status, MatchParameters()) == 3


# -- time slots ------------------------------------------------------------------------------

def test_slots_are_used_with_more_than_one_partner_per_role(regions):
    assert uses_slots(regions[True], MatchParameters())
    assert uses_slots(regions[True], MatchParameters(max_partners_per_role=2))
    assert not uses_slots(regions[True], MatchParameters(max_partners_per_role=1))
    assert not uses_slots(regions[False], MatchParameters())


# -- pins ------------------------------------------------------------------------------------

def test_pins_beyond_the_limits_and_their_refusals(small):
    status = facility_status(small)

    def run(*pinned, forbidden=()):
        params = MatchParameters(limits={"consult": {"minutes": 1}, "visit": {"minutes": 1}, "admit": {"minutes": 1}},
                                 pinned=list(pinned), forbidden=list(forbidden))
        return find_candidates(small, status, params)

    assert run().empty
    # A pin without roles: every missing role the institution offers; with roles: those only.
    cand = run(Pair(facility_id="F2", institution_id="H1"), Pair(facility_id="F1", institution_id="C2",
                                                                roles=["visit"]))
    assert triples(cand) == {("F1", "C2", "visit"), ("F2", "H1", "consult"), ("F2", "H1", "visit"),
                             ("F2", "H1", "admit")}
    assert cand["pinned"].all()
    assert list(cand["pinned_role"]) == [True, False, False, False]
    assert list(cand["not_yet_asked"]) == [True, False, False, False]
    assert (cand["minutes"] > 1).all() and (cand["km"] > 0.5).all()
    # A pin of a facility that misses nothing is already met.
    assert run(Pair(facility_id="F3", institution_id="C1")).empty
    refusals = [
        (Pair(facility_id="FX", institution_id="C1"), "pinned pair FX–C1: unknown facility_id 'FX'"),
        (Pair(facility_id="F1", institution_id="CX"), "pinned pair F1–CX: unknown institution_id 'CX'"),
        (Pair(facility_id="F1", institution_id="C1", roles=["admit"]),
         "pinned pair F1–C1: institution offers ['consult', 'visit'], facility (認知症対応型共同生活介護) misses "
         "['consult', 'visit']; cannot pin roles ['admit']"),
        (Pair(facility_id="F1", institution_id="C4"),
         "pinned pair F1–C4: institution offers [], facility (認知症対応型共同生活介護) misses ['consult', 'visit']; "
         "cannot pin roles any"),
    ]
    _assert_refused(run, refusals)
    with pytest.raises(ParameterError) as err:
        run(Pair(facility_id="F1", institution_id="C1"), forbidden=[Pair(facility_id="F1", institution_id="C1")])
    assert str(err.value) == "pinned pair F1–C1: the same pair is also forbidden"


def _assert_refused(run, refusals) -> None:
    """Each pin of ``refusals`` is refused by ``run`` with exactly its message."""
    for pin, message in refusals:
        with pytest.raises(ParameterError) as err:
            run(pin)
        assert str(err.value) == message


def test_a_pin_takes_the_roles_both_sides_allow_and_each_pin_is_read(small):
    """A pin without roles takes the roles the facility misses *and* the institution offers, not
    the union; a pin naming a role must have it both offered and missing (either failing refuses
    it); a pin already met by agreements in force is skipped, not the end of the pins."""
    status = facility_status(small)
    far = {"consult": {"minutes": 1}, "visit": {"minutes": 1}, "admit": {"minutes": 1}}

    def run(*pinned):
        return find_candidates(small, status, MatchParameters(limits=far, pinned=list(pinned)))

    # H1 gives ①②③, F1 (group home) misses ①② only.
    assert triples(run(Pair(facility_id="F1", institution_id="H1"))) == {("F1", "H1", "consult"),
                                                                      ("F1", "H1", "visit")}
    # F3 misses nothing (its pin is met); the pin after it still counts.
    cand = run(Pair(facility_id="F3", institution_id="C1"), Pair(facility_id="F1", institution_id="C2",
                                                                 roles=["visit"]))
    assert triples(cand) == {("F1", "C2", "visit")} and cand["pinned_role"].all()
    refusals = [
        # ③ offered by H1 but not missing at F1.
        (Pair(facility_id="F1", institution_id="H1", roles=["admit"]),
         "pinned pair F1–H1: institution offers ['admit', 'consult', 'visit'], facility (認知症対応型共同生活介護) "
         "misses ['consult', 'visit']; cannot pin roles ['admit']"),
        # ③ missing at F2 (特養) but not offered by the clinic C1.
        (Pair(facility_id="F2", institution_id="C1", roles=["admit", "consult"]),
         "pinned pair F2–C1: institution offers ['consult', 'visit'], facility (介護老人福祉施設) misses "
         "['admit', 'consult', 'visit']; cannot pin roles ['admit']"),
    ]
    _assert_refused(run, refusals)


def test_a_pin_outside_the_runs_scope_is_refused_with_the_reason(small):
    """A pinned pair whose facility misses roles but is outside the run — no annual report, a
    facility type or a prefecture the run leaves out — is refused, saying why and how to bring it
    in; it was dropped without a word, and the verifier then failed the whole run on it."""
    status = facility_status(small)

    def run(pin, **scope):
        return find_candidates(small, status, MatchParameters(pinned=[pin], **scope))

    for pin, scope, message in [
        (Pair(facility_id="F4", institution_id="H1"), {},
         "pinned pair F4–H1: 施設の年次報告がないため（集計していない）提案の対象外です（--include-unreported で対象にできます）"
         " / the facility has no annual report on file (not tracked)"),
        (Pair(facility_id="F1", institution_id="H1"), {"facility_types": ["tokuyo"]},
         "pinned pair F1–H1: 施設種別 認知症対応型共同生活介護 はこの実行の対象外です（facility_types に加えてください）"
         " / facility type gh is not in this run's scope"),
        (Pair(facility_id="F1", institution_id="H1"), {"prefectures": ["13"]},
         f"pinned pair F1–H1: 施設の都道府県（{str(status.at['F1', 'municipality_code'])[:2]}）はこの実行の対象外です"
         f"（--prefecture に加えてください） / the facility's prefecture {str(status.at['F1', 'municipality_code'])[:2]}"
         " is not in this run's scope"),
    ]:
        with pytest.raises(ParameterError) as err:
            run(pin, **scope)
        assert str(err.value) == message
    # Brought into the run, the same pins are honoured.
    assert {("F4", "H1", "consult"), ("F4", "H1", "visit")} <= triples(
        run(Pair(facility_id="F4", institution_id="H1"), include_unreported=True))
    assert ("F1", "H1", "consult") in triples(run(Pair(facility_id="F1", institution_id="H1"),
                                                  facility_types=["gh"]))
    # A pin of a facility out of scope that misses nothing is met, not refused.
    assert "F3" not in set(run(Pair(facility_id="F3", institution_id="C1"), facility_types=["tokuyo"])["facility_id"])


@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_cut_lists_keep_a_current_partner_exactly_at_the_limits(tmp_path, travel):
    """The limits are inclusive for current partners too.  P1, 10 km away and beyond the K = 1
    nearest (three clinics 1-3 km), gives F1 (group home) ① and F2 (特養, same place) ②: it stays
    a candidate for F1's ② when ②'s km limit is exactly its km, and for F2's ① when ①'s minutes
    limit is exactly its minutes."""
    from matching.travel import Points, geodesic_km
    clinics = [inst(f"C{k}", "clinic", 0, k, "zaishin") for k in range(1, 4)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "tokuyo", 0, 0)],
                         [*clinics, inst("P1", "clinic", 6, 8, "zaishin")], [("F1", "P1", "consult"), ("F2", "P1", "visit")])
    fp, ip = Points.of(region.facilities.loc[["F1"]]), Points.of(region.institutions.loc[["P1"]])
    km = float(geodesic_km(fp.lat, fp.lon, ip.lat, ip.lon)[0])
    minutes = float(GeodesicTravel().minutes_for_km(km))
    status = facility_status(region)
    at = MatchParameters(limits={"consult": {"minutes": minutes}, "visit": {"minutes": 60, "km": km}})
    cut = find_candidates(region, status, at, travel, nearest=1)
    assert triples(cut) == {("F1", "C1", "visit"), ("F1", "P1", "visit"), ("F2", "C1", "consult"),
                            ("F2", "P1", "consult")}
    assert list(cut["existing"]) == [False, True, False, True]
    below = MatchParameters(limits={"consult": {"minutes": minutes - 1e-9}, "visit": {"minutes": 60, "km": km - 1e-9}})
    assert triples(find_candidates(region, status, below, travel, nearest=1)) == {("F1", "C1", "visit"),
                                                                                 ("F2", "C1", "consult")}


# -- the travel provider ---------------------------------------------------------------------

def _road(path: Path, weight: str, hop: float) -> None:
    """Nodes at 0, 5, 10, 15 km east of the origin, ``hop`` (in the graph's unit) between them."""
    import networkx as nx

    from tests.matchkit import latlon
    g = nx.DiGraph()
    for k in range(4):
        lat, lon = latlon(5 * k, 0)
        g.add_node(str(k), x=lon, y=lat)
    for k in range(3):
        g.add_edge(str(k), str(k + 1), **{weight: hop})
        g.add_edge(str(k + 1), str(k), **{weight: hop})
    nx.write_graphml(g, path)


def test_travel_provider_road_graph_unit_weight_path_and_measured_times(tmp_path, monkeypatch):
    from matching.candidates import travel_provider
    from matching.travel import MatrixOverride, Points, RoadNetworkTravel
    region = make_region(tmp_path / "r", [fac("G1", "gh", 15, 0)], [inst("C1", "clinic", 0, 0, "zaishin")])
    fp, ip = Points.of(region.facilities), Points.of(region.institutions)
    one = np.array([0])

    def minutes(provider):
        return float(provider.between(fp, ip, one, one)[0])

    _road(tmp_path / "r" / "roads.graphml", "secs", 300.0)  # 5 minutes a hop, in seconds
    _road(tmp_path / "mins.graphml", "t", 4.0)               # 4 minutes a hop, in minutes
    relative = MatchParameters.model_validate({"travel": {"road_network": "roads.graphml", "weight": "secs"}})
    road = travel_provider(region, relative)
    assert isinstance(road, RoadNetworkTravel) and minutes(road) == pytest.approx(15.0, abs=0.01)
    absolute = MatchParameters.model_validate(
        {"travel": {"road_network": str(tmp_path / "mins.graphml"), "weight": "t", "weight_unit": "minutes"}})
    assert minutes(travel_provider(region, absolute)) == pytest.approx(12.0, abs=0.01)
    # A region without a folder: a relative graph path is taken from the working directory.
    loose = dataclasses.replace(region, source=None)
    monkeypatch.chdir(tmp_path)
    here = MatchParameters.model_validate({"travel": {"road_network": "mins.graphml", "weight": "t",
                                                      "weight_unit": "minutes"}})
    assert minutes(travel_provider(loose, here)) == pytest.approx(12.0, abs=0.01)
    # Straight line at the run's speed and detour factor: 15 km × 1.5 at 30 km/h.
    line = travel_provider(region, MatchParameters.model_validate({"travel": {"speed_kmh": 30, "circuity": 1.5}}))
    assert isinstance(line, GeodesicTravel) and minutes(line) == pytest.approx(45.2, abs=0.1)
    # Measured minutes override either; an empty table changes nothing.
    measured = make_region(tmp_path / "m", [fac("G1", "gh", 15, 0)], [inst("C1", "clinic", 0, 0, "zaishin")],
                           travel_times=[("G1", "C1", 7.5)])
    over = travel_provider(measured, MatchParameters())
    assert isinstance(over, MatrixOverride) and isinstance(over.base, GeodesicTravel) and minutes(over) == 7.5
    empty = dataclasses.replace(measured, travel_times=measured.travel_times.iloc[:0])
    assert isinstance(travel_provider(empty, MatchParameters()), GeodesicTravel)


# -- time slots: which candidates can help ---------------------------------------------------

def _slot_brute(region, params) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """The slot rules written out: an institution giving the role in at least one slot (all four
    with one partner per role), within the limits, willing, not forbidden; kept while the
    (facility, role) has room for another partner, the institution adds a slot the agreements in
    force do not give, and — for the last partner allowed — all four slots are then given; a pair
    pinned with its roles whatever they add.  Each with (its slots, the slots held, room)."""
    from matching.roles import ALL_SLOTS
    from matching.travel import geodesic_km
    need = facilities_to_match(facility_status(region), params)
    rows = {(i, r): s for i, r, s in region.availability[["institution_id", "role", "slots"]].itertuples(index=False)}
    forbidden = {(p.facility_id, p.institution_id) for p in params.forbidden}
    pinned = {(p.facility_id, p.institution_id, r) for p in params.pinned for r in p.roles or ()}
    fac, ins, part = region.facilities, region.institutions, region.partnerships
    out = {}
    for f in need.index:
        for r in need.at[f, "missing_roles"]:
            partners = {i for g, i, rs in part[["facility_id", "institution_id", "roles"]].itertuples(index=False)
                        if g == f and r in rs}
            have = 0
            for i in partners:  # an agreement without a slot row gives all four
                have |= int(rows.get((i, r.value), ALL_SLOTS))
            room = params.max_partners_per_role - len(partners)
            for i in ins.index:
                s = int(region.slots(r)[i])
                if (f, i, r) in pinned:
                    out[(f, i, r.value)] = (s, have, room)
                    continue
                if s == 0 or (params.max_partners_per_role == 1 and s != ALL_SLOTS) or (f, i) in forbidden:
                    continue
                acc = ins.at[i, "accepting"]
                if not (params.unknown_accepting if pd.isna(acc) else bool(acc)):
                    continue
                km = float(geodesic_km(fac.at[f, "lat"], fac.at[f, "lon"], ins.at[i, "lat"], ins.at[i, "lon"]))
                lim = params.limits[r]
                if km * 1.3 / 40 * 60 > lim.minutes or (lim.km is not None and km > lim.km):
                    continue
                if room <= 0 or s & ~have == 0 or (room == 1 and (s | have) != ALL_SLOTS):
                    continue
                out[(f, i, r.value)] = (s, have, room)
    return out


def slot_region(folder: Path):
    """The random region with time slots, and agreements in force that give part of ① or ②."""
    return random_region(folder, 11, slots=True)


@pytest.mark.parametrize("partners", [1, 2, 3])
def test_slot_candidates_are_those_that_can_help(tmp_path, partners):
    region = slot_region(tmp_path)
    base = MatchParameters(max_partners_per_role=partners,
                           limits={"visit": {"minutes": 40, "km": 16}, "admit": {"minutes": 45}})
    # F04 holds ① from C14 in one slot; pinning ① of that same pair again adds no slot.
    part = region.partnerships.set_index("facility_id")
    assert part.at["F04", "institution_id"] == "C14" and region.slots("consult")["C14"] == 1
    pin = Pair(facility_id="F04", institution_id="C14", roles=["consult"])
    for params in (base, base.model_copy(update={"pinned": [pin]})):
        cand = find_candidates(region, facility_status(region), params)
        want = _slot_brute(region, params)
        assert triples(cand) == set(want)
        assert list(cand.columns) == [*CANDIDATE_COLUMNS, "slots", "have", "room"]
        got = {(f, i, r): (s, h, m) for f, i, r, s, h, m in
               cand[["facility_id", "institution_id", "role", "slots", "have", "room"]].itertuples(index=False)}
        assert got == want
        assert (cand[["slots", "have", "room"]].dtypes == np.int64).all()
        assert cand["pinned_role"].sum() == len(params.pinned)


# -- current partners in cut lists -----------------------------------------------------------

@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_cut_lists_keep_current_partners_within_the_limits(tmp_path, travel):
    """F1 (group home) has ① from P1 (8 km) and P2 (18 km: beyond ②'s 16 km) and ① and ② from
    nobody else; five clinics lie nearer.  ② of a cut list keeps the nearest and P1, never P2;
    a forbidden pair is never kept, partner or not."""
    clinics = [inst(f"C{k}", "clinic", 0, k, "zaishin") for k in range(1, 6)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "gh", 0.5, 0)], [
        *clinics, inst("P1", "clinic", 8, 0, "zaishin"), inst("P2", "clinic", 18, 0, "zaishin"),
    ], [("F1", "P1", "consult"), ("F1", "P2", "consult"), ("F2", "P1", "consult")])
    params = MatchParameters(limits={"visit": {"minutes": 60, "km": 16}})
    status = facility_status(region)
    cut = find_candidates(region, status, params, travel, nearest=1)
    assert triples(cut) == {("F1", "C1", "visit"), ("F1", "P1", "visit"), ("F2", "C1", "visit"),
                            ("F2", "P1", "visit")}
    assert cut["truncated"].all()
    assert list(cut["existing"]) == [False, True, False, True]
    # Within the minutes limit only: P1 at 8 km is 15.6 minutes away.
    short = params.model_copy(update={"limits": {**params.limits, "visit": params.limits["visit"].model_copy(
        update={"minutes": 15})}})
    assert triples(find_candidates(region, status, short, travel, nearest=1)) == {
        ("F1", "C1", "visit"), ("F2", "C1", "visit"), ("F2", "P1", "visit")}
    forbid = params.model_copy(update={"forbidden": [Pair(facility_id="F1", institution_id="P1"),
                                                     Pair(facility_id="F2", institution_id="C1")]})
    assert triples(find_candidates(region, status, forbid, travel, nearest=1)) == {
        ("F1", "C1", "visit"), ("F2", "C2", "visit"), ("F2", "P1", "visit")}


@pytest.mark.parametrize("nearest", [None, 1, 3])
@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_no_facility_or_no_institution_gives_empty_lists(small, nearest, travel):
    status = facility_status(small)
    for params in (MatchParameters(prefectures=["04"]), MatchParameters(facility_types=["yogo"]),
                   MatchParameters(limits={"consult": {"minutes": 0.1}, "visit": {"minutes": 0.1},
                                           "admit": {"minutes": 0.1}})):
        cand = find_candidates(small, status, params, travel, nearest=nearest)
        assert cand.empty and list(cand.columns) == CANDIDATE_COLUMNS
    assert count_candidates(small, status, MatchParameters(facility_types=["yogo"])) == 0
    # Every institution has declined: nobody to ask.
    none = dataclasses.replace(small, institutions=small.institutions.assign(accepting=False))
    assert find_candidates(none, status, MatchParameters(), travel, nearest=nearest).empty
    assert count_candidates(none, status, MatchParameters()) == 0


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """F1 amid 24 clinics 5.00-5.23 km away (the tree's chord order and the ellipsoid's may
    differ, and the K-th is never safely nearer than the farthest asked for); F2, 60 km east,
    with one clinic at 10 km, eight just beyond the 30-minute limit (15.40-15.47 km, inside the
    tree's 1 % margin) and four at 25 km."""
    import math
    insts = []
    for j in range(24):
        r, a = 5 + 0.01 * j, math.radians(15 * j)
        insts.append(inst(f"R{j:02d}", "clinic", round(r * math.cos(a), 4), round(r * math.sin(a), 4), "zaishin"))
    insts.append(inst("E00", "clinic", 60, 10, "zaishin"))
    for j in range(8):
        a = math.radians(200 + 10 * j)
        r = 15.40 + 0.01 * j
        insts.append(inst(f"E{j + 1:02d}", "clinic", round(60 + r * math.cos(a), 4), round(r * math.sin(a), 4),
                          "zaishin"))
    insts += [inst(f"X{j}", "clinic", 60 + dx, dy, "zaishin") for j, (dx, dy) in enumerate(
        [(25, 0), (-25, 0), (0, 25), (0, -25)])]
    return make_region(tmp_path_factory.mktemp("crowded"), [fac("F1", "gh", 0, 0), fac("F2", "gh", 60, 0)], insts)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 12, 30])
def test_tree_asks_again_until_the_k_nearest_are_certain(crowded, k):
    status = facility_status(crowded)
    params = MatchParameters()
    tree = find_candidates(crowded, status, params, GeodesicTravel(), nearest=k)
    listed = find_candidates(crowded, status, params, Straight(), nearest=k)
    cols = ["facility_id", "institution_id", "role", "truncated"]
    if k == 1:
        # F2's one candidate, E00, and four fringe clinics fill the tree's first answer: it
        # cannot tell that no candidate lies beyond without asking again, so it says "cut" (the
        # safe side); listing finds the list whole.
        f2 = tree["facility_id"] == "F2"
        assert tree.loc[f2, "truncated"].all() and not listed.loc[listed["facility_id"] == "F2", "truncated"].any()
        tree, listed = tree[~f2].reset_index(drop=True), listed[listed["facility_id"] != "F2"].reset_index(drop=True)
    pd.testing.assert_frame_equal(tree[cols], listed[cols])
    full = find_candidates(crowded, status, params)
    assert set(full.loc[full["facility_id"] == "F2", "institution_id"]) == {"E00"}
    assert len(full[full["facility_id"] == "F1"]) == 48
    f1 = tree[(tree["facility_id"] == "F1") & (tree["role"] == "consult")]
    nearest = sorted(full.loc[(full["facility_id"] == "F1") & (full["role"] == "consult")]
                     .sort_values(["minutes", "institution_id"])["institution_id"][:max(k, 2)])
    assert sorted(f1["institution_id"]) == nearest  # with ①② together, at least the two nearest
    assert f1["truncated"].all() == (k < 24)


def _daytime_clinics_and_hospitals(tmp_path):
    """F1 (特定施設: ①②), eight weekday-daytime clinics 1-8 km north (``availability.csv``) and
    eight round-the-clock hospitals 10-17 km south."""
    clinics = [inst(f"C{j}", "clinic", 0, j, "zaishin") for j in range(1, 9)]
    hospitals = [inst(f"H{j}", "hospital", 0, -9 - j, "zaibyo") for j in range(1, 9)]
    make_region(tmp_path, [fac("F1", "tokutei", 0, 0)], clinics + hospitals)
    with (tmp_path / "availability.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["institution_id", "role", "slots"])
        w.writerows([(c["institution_id"], role, "wd_day") for c in clinics for role in ("consult", "visit")])
    return load_region(tmp_path)


@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_cut_lists_keep_a_quarter_as_many_of_a_part_time_slot_set(tmp_path, travel):
    """F1 (特定施設: ①②) has eight weekday-daytime clinics 1-8 km north and eight round-the-clock
    hospitals 10-17 km south.  A list cut to K keeps the K nearest hospitals and K // 4 (at
    least one) of the clinics; with one partner per role, only the hospitals count."""
    region = _daytime_clinics_and_hospitals(tmp_path)
    status = facility_status(region)
    params = MatchParameters(limits={"consult": {"minutes": 60}, "visit": {"minutes": 60, "km": 20}})
    for k, n_clinics in ((1, 1), (3, 1), (4, 1), (8, 2), (12, 3), (40, 8)):
        cand = find_candidates(region, status, params, travel, nearest=k)
        for role in ("consult", "visit"):
            ids = cand.loc[cand["role"] == role, "institution_id"]
            assert sorted(ids[ids.str.startswith("C")]) == [f"C{j}" for j in range(1, n_clinics + 1)], (k, role)
            assert sorted(ids[ids.str.startswith("H")]) == [f"H{j}" for j in range(1, min(max(k, 2), 8) + 1)]
            assert cand.loc[cand["role"] == role, "truncated"].all() == (k < 32)
        one = find_candidates(region, status, params.model_copy(update={"max_partners_per_role": 1}), travel,
                              nearest=k)
        assert set(one["institution_id"]) == {f"H{j}" for j in range(1, min(max(k, 2), 8) + 1)}


@pytest.mark.parametrize("nearest", [None, 1])
@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_limits_are_inclusive(tmp_path, nearest, travel):
    """A clinic exactly at the minutes limit (①) or exactly at the km limit (②) is a candidate."""
    from matching.travel import Points, geodesic_km
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], [inst("C1", "clinic", 7, 9, "zaishin")])
    fp, ip = Points.of(region.facilities), Points.of(region.institutions)
    km = float(geodesic_km(fp.lat, fp.lon, ip.lat, ip.lon)[0])
    minutes = float(GeodesicTravel().minutes_for_km(km))
    status = facility_status(region)
    at = MatchParameters(limits={"consult": {"minutes": minutes}, "visit": {"minutes": 60, "km": km}})
    assert triples(find_candidates(region, status, at, travel, nearest=nearest)) == {
        ("F1", "C1", "consult"), ("F1", "C1", "visit")}
    below = MatchParameters(limits={"consult": {"minutes": minutes - 1e-9}, "visit": {"minutes": 60, "km": km - 1e-9}})
    assert find_candidates(region, status, below, travel, nearest=nearest).empty


def test_tree_does_not_trust_the_sphere_near_its_last_neighbour(tmp_path):
    """The tree ranks by chord on a sphere, the limits are on the ellipsoid: at 39.7° N the sphere
    makes north-south distances ~0.2 % longer and east-west ones ~0.2 % shorter.  N1 lies
    5.004 km north of F1, five clinics 5.006-5.010 km east (4.985-4.989 on the test grid): by chord the five come first, so the
    tree's first answer (K + 4 = 5 neighbours) holds only them — it must ask again to find N1,
    the nearest."""
    import math
    only_consult = {"consult_24h": "true", "visit_24h": "false"}  # ① only: no ①② role set to fill the gap
    east = [inst(f"E{j}", "clinic", round((4.985 + 0.001 * j) * math.cos(math.radians(j - 2)), 4),
                 round((4.985 + 0.001 * j) * math.sin(math.radians(j - 2)), 4), "zaishin", **only_consult)
            for j in range(5)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)],
                         [inst("N1", "clinic", 0, 5.0, "zaishin", **only_consult), *east])
    status = facility_status(region)
    full = find_candidates(region, status, MatchParameters())
    consult = full[full["role"] == "consult"].sort_values("km")
    assert consult["institution_id"].iloc[0] == "N1"
    from matching.travel import Points
    from matching.travel.geodesic import unit_vectors
    fp, ip = Points.of(region.facilities), Points.of(region.institutions)
    chord = np.linalg.norm(unit_vectors(ip.lat, ip.lon) - unit_vectors(fp.lat, fp.lon), axis=1)
    assert np.argmax(chord) == list(ip.ids).index("N1")  # the chord puts N1 last
    for k in (1, 2, 3):
        tree = find_candidates(region, status, MatchParameters(), GeodesicTravel(), nearest=k)
        listed = find_candidates(region, status, MatchParameters(), Straight(), nearest=k)
        pd.testing.assert_frame_equal(tree[["facility_id", "institution_id", "role", "truncated"]],
                                      listed[["facility_id", "institution_id", "role", "truncated"]])
        assert "N1" in set(tree.loc[tree["role"] == "consult", "institution_id"])


@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_cut_lists_keep_the_nearest_half_k_that_take_both_roles(tmp_path, travel):
    """F1 (group home) has eight ①-only and eight ②-only clinics within 1-4 km, and five clinics
    giving both 6-10 km away: a list cut to K keeps max(2, K // 2) of those five, so one
    agreement can still cover ①②."""
    one = [inst(f"A{j}", "clinic", 0, 0.5 * j, "zaishin", consult_24h="true", visit_24h="false") for j in range(1, 9)]
    two = [inst(f"B{j}", "clinic", 0.5 * j, 0, "zaishin", consult_24h="false", visit_24h="true") for j in range(1, 9)]
    both = [inst(f"W{j}", "clinic", 0, -5 - j, "zaishin") for j in range(1, 6)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], one + two + both)
    status = facility_status(region)
    for k in range(1, 11):
        cand = find_candidates(region, status, MatchParameters(), travel, nearest=k)
        for role in ("consult", "visit"):
            ids = set(cand.loc[cand["role"] == role, "institution_id"])
            assert {i for i in ids if i.startswith("W")} == {f"W{j}" for j in range(1, min(max(2, k // 2), 5) + 1)}, k


def test_a_facility_is_asked_again_whatever_the_others_in_its_query_found(tmp_path):
    """As above, F1's first answer hides N1, its nearest; F2, 60 km east, needs ① too and has a
    single clinic in range, so its own first answer is not full.  The two are asked in one tree
    query: F1 must still be asked again (whether an answer may hide more is per facility)."""
    import math
    only_consult = {"consult_24h": "true", "visit_24h": "false"}
    east = [inst(f"E{j}", "clinic", round((4.985 + 0.001 * j) * math.cos(math.radians(j - 2)), 4),
                 round((4.985 + 0.001 * j) * math.sin(math.radians(j - 2)), 4), "zaishin", **only_consult)
            for j in range(5)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "gh", 60, 0)],
                         [inst("N1", "clinic", 0, 5.0, "zaishin", **only_consult), *east,
                          inst("G1", "clinic", 62, 0, "zaishin", **only_consult)])
    status = facility_status(region)
    cols = ["facility_id", "institution_id", "role", "truncated"]
    for k in (1, 2, 3):
        tree = find_candidates(region, status, MatchParameters(), GeodesicTravel(), nearest=k)
        listed = find_candidates(region, status, MatchParameters(), Straight(), nearest=k)
        pd.testing.assert_frame_equal(tree[cols], listed[cols])
        assert "N1" in set(tree.loc[tree["facility_id"] == "F1", "institution_id"])
        assert tree.loc[tree["facility_id"] == "F2", cols].values.tolist() == [["F2", "G1", "consult", False]]


@pytest.mark.parametrize(("k", "fringe"), [(1, 3), (1, 4), (10, 4), (10, 5)])
def test_the_tree_says_cut_only_when_its_first_answer_is_filled(tmp_path, k, fringe):
    """F1 has exactly K clinics in range (2, 3, … km north), ``fringe`` clinics just beyond ①'s
    30 minutes (15.40 km on, inside the tree's 1 % margin) and two beyond the margin (25 km).  The
    tree's first answer holds K + max(4, K // 2) neighbours: while the clinics in range and on the
    fringe do not fill it, the answer is not full and the list is whole, as listing every pair
    finds; once they fill it, the tree cannot tell that nothing in range lies beyond without asking
    again and says cut (the safe side).  Either way it keeps the same K clinics."""
    import math
    only_consult = {"consult_24h": "true", "visit_24h": "false"}  # ① only: one tree query per facility
    near = [inst(f"N{j:02d}", "clinic", 0, 1 + j, "zaishin", **only_consult) for j in range(1, k + 1)]
    edge = [inst(f"E{j}", "clinic", round((15.40 + 0.01 * j) * math.cos(math.radians(200 + 10 * j)), 4),
                 round((15.40 + 0.01 * j) * math.sin(math.radians(200 + 10 * j)), 4), "zaishin", **only_consult)
            for j in range(fringe)]
    far = [inst(f"X{j}", "clinic", dx, dy, "zaishin", **only_consult) for j, (dx, dy) in enumerate([(25, 0), (-25, 0)])]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], near + edge + far)
    status = facility_status(region)
    full = find_candidates(region, status, MatchParameters())
    assert sorted(full["institution_id"]) == [r["institution_id"] for r in near]  # the fringe is out of range
    tree = find_candidates(region, status, MatchParameters(), GeodesicTravel(), nearest=k)
    listed = find_candidates(region, status, MatchParameters(), Straight(), nearest=k)
    cols = ["facility_id", "institution_id", "role"]
    pd.testing.assert_frame_equal(tree[cols], listed[cols])
    assert sorted(tree["institution_id"]) == [r["institution_id"] for r in near]
    assert not listed["truncated"].any()
    assert tree["truncated"].tolist() == [k + fringe >= k + max(4, k // 2)] * k


def test_the_tree_says_whole_when_the_answer_it_stops_at_holds_every_institution(tmp_path):
    """F1's one candidate V lies 15.30 km east, within 1 % of ①'s 30 minutes (15.38 km); nine clinics
    just beyond the limit (15.40-15.45 km) lie within 1 % of V, five more (15.51-15.54 km) inside the
    tree's margin, two far away.  The first answers (5, then 10 neighbours) cannot tell that V is the
    nearest; the next asks for 20, more than the 17 institutions of the pool, so it holds every one
    in reach: V is kept and its list is whole, as listing every pair finds, not marked cut."""
    import math
    only_consult = {"consult_24h": "true", "visit_24h": "false"}

    def at(name, r, degrees):  # km on the test grid (15.228 there is 15.30 km on the ellipsoid)
        a = math.radians(degrees)
        return inst(name, "clinic", round(r * math.cos(a), 4), round(r * math.sin(a), 4), "zaishin", **only_consult)

    insts = [at("V", 15.228, 0), *(at(f"B{j}", 15.33 + 0.006 * j, -12 + 3 * j) for j in range(9)),
             *(at(f"C{j}", 15.45 + 0.008 * j, 15 + 2 * j) for j in range(5)),
             inst("X0", "clinic", 0, 25, "zaishin", **only_consult), inst("X1", "clinic", 0, -25, "zaishin", **only_consult)]
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], insts)
    status = facility_status(region)
    full = find_candidates(region, status, MatchParameters())
    assert full["institution_id"].tolist() == ["V"]
    cols = ["facility_id", "institution_id", "role", "truncated"]
    tree = find_candidates(region, status, MatchParameters(), GeodesicTravel(), nearest=1)
    listed = find_candidates(region, status, MatchParameters(), Straight(), nearest=1)
    assert tree[cols].values.tolist() == listed[cols].values.tolist() == [["F1", "V", "consult", False]]


@pytest.mark.parametrize("travel", [GeodesicTravel(), Straight()], ids=["tree", "listed"])
def test_with_one_partner_per_role_a_part_time_institution_is_not_eligible(tmp_path, travel):
    """The layout above with one partner per role: a role must come round the clock from one
    institution, so the weekday-daytime clinics are not eligible — not counted, not in any list, and
    a list of the eight hospitals cut to K = 8 is whole (the clinics beyond K // 4 cut nothing)."""
    region = _daytime_clinics_and_hospitals(tmp_path)
    status = facility_status(region)
    params = MatchParameters(max_partners_per_role=1,
                             limits={"consult": {"minutes": 60}, "visit": {"minutes": 60, "km": 20}})
    assert sorted(eligible_institutions(region, params).index) == [f"H{j}" for j in range(1, 9)]
    assert count_candidates(region, status, params) == len(find_candidates(region, status, params)) == 16
    cut = find_candidates(region, status, params, travel, nearest=8)
    assert sorted(set(cut["institution_id"])) == [f"H{j}" for j in range(1, 9)]
    assert not cut["truncated"].any()
