"""Compliance status of each facility, and the status tables of 003 別紙1."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from matching.contract import load_region
from matching.status import (
    facility_status,
    japanese_labels,
    missing_slots_text,
    scope_notes,
    slot_cover,
    status_table,
)
from matching.vocabulary import FACILITY_TYPES, STATUS_LABELS_JA, STATUS_ORDER, Role, Status
from tests.regionkit import facility, institution, partnership, write_region

C, V, A = Role.CONSULT, Role.VISIT, Role.ADMIT
CODES = [s.value for s in STATUS_ORDER]

# -- one facility at a time ---------------------------------------------------------------------

INSTITUTIONS = [
    institution("H1", "hospital", designations="zaibyo"),
    institution("H2", "hospital", admit="true"),
    institution("C1", "clinic", designations="zaishin"),
    institution("C2", "clinic", consult_24h="true", visit_24h="true"),
]

# facility id → (type, reported, [(institution, roles)], expected status, covered, missing)
CASES = {
    "joint": ("tokuyo", "true", [("C1", "consult;visit"), ("H1", "admit")],
              Status.ALL_MET, {C, V, A}, set()),
    "single": ("tokuyo", "true", [("H1", "consult;visit;admit")],
               Status.ALL_MET, {C, V, A}, set()),
    "two_hospitals": ("roken", "true", [("H1", "consult;visit"), ("H2", "admit")],
                      Status.ALL_MET, {C, V, A}, set()),
    "three_partners": ("yogo", "true", [("C1", "consult"), ("C2", "visit"), ("H2", "admit")],
                       Status.ALL_MET, {C, V, A}, set()),
    "clinic_only": ("tokuyo", "true", [("C1", "consult;visit")],
                    Status.SOME_MET, {C, V}, {A}),
    "admit_only": ("iryoin", "true", [("H2", "admit")], Status.SOME_MET, {A}, {C, V}),
    "blank_roles": ("chiiki_tokuyo", "true", [("H2", "")], Status.NONE_MET, set(), {C, V, A}),
    "no_partner": ("tokuyo", "true", [], Status.NOT_DESIGNATED, set(), {C, V, A}),
    "unreported_but_met": ("tokuyo", "false", [("H1", "consult;visit;admit")],
                           Status.NOT_TRACKED, {C, V, A}, set()),
    "unreported_none": ("roken", "false", [], Status.NOT_TRACKED, set(), {C, V, A}),
    # Effort types need ①② only.
    "gh_consult_visit": ("gh", "true", [("C1", "consult;visit")], Status.ALL_MET, {C, V}, set()),
    "keihi_joint": ("keihi", "true", [("C2", "consult"), ("C1", "visit")],
                    Status.ALL_MET, {C, V}, set()),
    "gh_consult": ("gh", "true", [("C2", "consult")], Status.SOME_MET, {C}, {V}),
    # Admission is not among a group home's requirements: the agreement meets none of them.
    "gh_admit": ("gh", "true", [("H2", "admit")], Status.NONE_MET, set(), {C, V}),
    "tokutei_none": ("tokutei", "true", [], Status.NOT_DESIGNATED, set(), {C, V}),
}


@pytest.fixture(scope="module")
def statuses(tmp_path_factory):
    folder = tmp_path_factory.mktemp("status")
    facs = [facility(fid, ftype, reported=rep) for fid, (ftype, rep, *_) in CASES.items()]
    parts = [partnership(fid, iid, roles) for fid, (_, _, ps, *_) in CASES.items()
             for iid, roles in ps]
    region = load_region(write_region(folder, facilities=facs, institutions=INSTITUTIONS,
                                      partnerships=parts))
    return region, facility_status(region)


@pytest.mark.parametrize("fid", list(CASES))
def test_facility_status(statuses, fid):
    ftype, reported, parts, status, covered, missing = CASES[fid]
    row = statuses[1].loc[fid]
    assert row["status"] == status.value
    assert row["facility_type"] == ftype
    assert row["required_roles"] == FACILITY_TYPES[ftype].required_roles
    assert row["covered_roles"] == frozenset(covered)
    assert row["missing_roles"] == frozenset(missing)
    assert row["partners"] == tuple(sorted(i for i, _ in parts))
    assert bool(row["reported"]) is (reported == "true")
    assert bool(row["obligated"]) is FACILITY_TYPES[ftype].obligated


def test_every_status_occurs(statuses):
    assert set(statuses[1]["status"]) == set(CODES)
    assert list(statuses[1].index) == list(CASES)


def test_status_codes_convert_to_the_enum(statuses):
    assert Status(statuses[1].loc["joint", "status"]).label_ja == \
        "全ての要件を満たした協力医療機関を定めている"


def test_proposed_partnerships_change_the_status(statuses):
    region, before = statuses
    assert before.loc["clinic_only", "status"] == Status.SOME_MET.value
    proposal = pd.DataFrame({"facility_id": ["clinic_only", "no_partner"],
                             "institution_id": ["H2", "C1"],
                             "roles": [frozenset({A}), frozenset({C, V})]})
    after = facility_status(region, pd.concat([region.partnerships, proposal],
                                              ignore_index=True))
    assert after.loc["clinic_only", "status"] == Status.ALL_MET.value
    assert after.loc["no_partner", "status"] == Status.SOME_MET.value
    assert after.loc["no_partner", "missing_roles"] == frozenset({A})
    unchanged = after.index.difference(["clinic_only", "no_partner"])
    assert (after.loc[unchanged, "status"] == before.loc[unchanged, "status"]).all()


def test_facility_status_without_any_partnership(statuses):
    region, _ = statuses
    st = facility_status(region, region.partnerships.iloc[0:0])
    reported = st["reported"]
    assert set(st.loc[reported, "status"]) == {Status.NOT_DESIGNATED.value}
    assert set(st.loc[~reported, "status"]) == {Status.NOT_TRACKED.value}


# -- tables with known numbers -------------------------------------------------------------------

AREAS = [
    {"municipality_code": code, "municipality_name": name, "secondary_area_code": sa,
     "secondary_area_name": sa_name, "prefecture_code": pref}
    for code, name, sa, sa_name, pref in (
        ("03201", "盛岡市", "0301", "盛岡", "03"),
        ("03216", "滝沢市", "0301", "盛岡", "03"),
        ("03202", "宮古市", "0307", "宮古", "03"),
        ("03203", "大船渡市", "0305", "気仙", "03"),
        ("04100", "仙台市", "0401", "仙台", "04"),
    )
]
FULL = "consult;visit;admit"
# id, type, municipality, reported, partnerships → status
TABLE_FACILITIES = [
    ("A", "tokuyo", "03201", "true", [("H1", FULL)]),  # all_met
    ("B", "tokuyo", "03201", "true", [("C1", "consult;visit")]),  # some_met
    ("C", "tokuyo", "03201", "false", [("H1", FULL)]),  # not_tracked
    ("D", "gh", "03201", "true", [("C1", "consult;visit")]),  # all_met
    ("E", "tokuyo", "03216", "true", [("H1", "")]),  # none_met
    ("F", "gh", "03216", "true", []),  # not_designated
    ("G", "tokuyo", "03202", "true", [("H1", FULL)]),  # all_met
    ("H", "gh", "03202", "false", []),  # not_tracked
    ("J", "gh", "03203", "false", []),  # not_tracked
    ("I", "tokuyo", "04100", "true", [("H1", FULL)]),  # all_met
]
NAN = float("nan")


@pytest.fixture(scope="module")
def table_region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    facs = [facility(fid, t, m, reported=rep) for fid, t, m, rep, _ in TABLE_FACILITIES]
    parts = [partnership(fid, iid, roles) for fid, *_, ps in TABLE_FACILITIES
             for iid, roles in ps]
    insts = [institution("H1", "hospital", designations="zaibyo"),
             institution("C1", "clinic", designations="zaishin")]
    region = load_region(write_region(folder, areas=AREAS, facilities=facs, institutions=insts,
                                      partnerships=parts))
    return region, facility_status(region)


def rows_of(table: pd.DataFrame, keys: list[str]) -> dict:
    """{group key: ([five status counts], total, share)}."""
    out = {}
    for _, r in table.iterrows():
        k = tuple(r[c] for c in keys)
        out[k[0] if len(k) == 1 else k] = ([int(r[c]) for c in CODES], int(r["total"]),
                                          float(r["all_met_share"]))
    return out


def assert_rows(actual: dict, expected: dict):
    assert set(actual) == set(expected)
    for key, (counts, total, share) in expected.items():
        a_counts, a_total, a_share = actual[key]
        assert (key, a_counts, a_total) == (key, counts, total)
        if math.isnan(share):
            assert math.isnan(a_share), key
        else:
            assert a_share == pytest.approx(share), key


def test_table_statuses_are_as_designed(table_region):
    st = table_region[1]["status"].to_dict()
    assert st == {"A": "all_met", "B": "some_met", "C": "not_tracked", "D": "all_met",
                  "E": "none_met", "F": "not_designated", "G": "all_met", "H": "not_tracked",
                  "J": "not_tracked", "I": "all_met"}


def test_status_table_by_municipality(table_region):
    region, st = table_region
    t = status_table(st, region.areas, by="municipality", by_type=False)
    assert list(t.columns) == ["municipality_code", "municipality_name", *CODES, "total",
                               "all_met_share"]
    assert list(t["municipality_name"]) == ["盛岡市", "宮古市", "大船渡市", "滝沢市", "仙台市"]
    assert_rows(rows_of(t, ["municipality_code"]), {
        "03201": ([2, 1, 0, 0, 1], 4, 66.7),
        "03216": ([0, 0, 1, 1, 0], 2, 0.0),
        "03202": ([1, 0, 0, 0, 1], 2, 100.0),
        "03203": ([0, 0, 0, 0, 1], 1, NAN),  # nobody tracked: no share, not 0
        "04100": ([1, 0, 0, 0, 0], 1, 100.0),
    })


def test_status_table_by_municipality_and_type(table_region):
    region, st = table_region
    t = status_table(st, region.areas, by="municipality")
    keys = ["municipality_code", "facility_type"]
    # Types in the vocabulary's order (tokuyo before gh), not alphabetical.
    assert list(zip(t["municipality_code"], t["facility_type"], strict=True)) == [
        ("03201", "tokuyo"), ("03201", "gh"), ("03202", "tokuyo"), ("03202", "gh"),
        ("03203", "gh"), ("03216", "tokuyo"), ("03216", "gh"), ("04100", "tokuyo"),
    ]
    assert_rows(rows_of(t, keys), {
        ("03201", "tokuyo"): ([1, 1, 0, 0, 1], 3, 50.0),
        ("03201", "gh"): ([1, 0, 0, 0, 0], 1, 100.0),
        ("03202", "tokuyo"): ([1, 0, 0, 0, 0], 1, 100.0),
        ("03202", "gh"): ([0, 0, 0, 0, 1], 1, NAN),
        ("03203", "gh"): ([0, 0, 0, 0, 1], 1, NAN),
        ("03216", "tokuyo"): ([0, 0, 1, 0, 0], 1, 0.0),
        ("03216", "gh"): ([0, 0, 0, 1, 0], 1, 0.0),
        ("04100", "tokuyo"): ([1, 0, 0, 0, 0], 1, 100.0),
    })


def test_status_table_by_secondary_area(table_region):
    region, st = table_region
    t = status_table(st, region.areas, by="secondary_area", by_type=False)
    assert list(t.columns[:2]) == ["secondary_area_code", "secondary_area_name"]
    assert dict(zip(t["secondary_area_code"], t["secondary_area_name"], strict=True)) == \
        {"0301": "盛岡", "0305": "気仙", "0307": "宮古", "0401": "仙台"}
    assert_rows(rows_of(t, ["secondary_area_code"]), {
        "0301": ([2, 1, 1, 1, 1], 6, 40.0),
        "0305": ([0, 0, 0, 0, 1], 1, NAN),
        "0307": ([1, 0, 0, 0, 1], 2, 100.0),
        "0401": ([1, 0, 0, 0, 0], 1, 100.0),
    })


def test_status_table_by_prefecture(table_region):
    region, st = table_region
    t = status_table(st, region.areas, by="prefecture", by_type=False)
    assert list(t.columns) == ["prefecture_code", *CODES, "total", "all_met_share"]
    assert_rows(rows_of(t, ["prefecture_code"]), {
        "03": ([3, 1, 1, 1, 3], 9, 50.0),
        "04": ([1, 0, 0, 0, 0], 1, 100.0),
    })
    # by="prefecture" with types is the default.
    t2 = status_table(st, region.areas)
    assert_rows(rows_of(t2, ["prefecture_code", "facility_type"]), {
        ("03", "tokuyo"): ([2, 1, 1, 0, 1], 5, 50.0),
        ("03", "gh"): ([1, 0, 0, 1, 2], 4, 50.0),
        ("04", "tokuyo"): ([1, 0, 0, 0, 0], 1, 100.0),
    })


def test_status_table_by_none(table_region):
    region, st = table_region
    by_type = status_table(st, region.areas, by="none")
    assert list(by_type["facility_type"]) == ["tokuyo", "gh"]
    assert_rows(rows_of(by_type, ["facility_type"]), {
        "tokuyo": ([3, 1, 1, 0, 1], 6, 60.0),
        "gh": ([1, 0, 0, 1, 2], 4, 50.0),
    })
    overall = status_table(st, region.areas, by="none", by_type=False)
    assert len(overall) == 1
    row = overall.iloc[0]
    assert [int(row[c]) for c in CODES] == [4, 1, 1, 1, 3]
    assert int(row["total"]) == 10
    # Share among the 7 tracked facilities, not among all 10.
    assert row["all_met_share"] == pytest.approx(57.1)


def test_status_table_totals_add_up(table_region):
    region, st = table_region
    for by in ("municipality", "secondary_area", "prefecture", "none"):
        for by_type in (True, False):
            t = status_table(st, region.areas, by=by, by_type=by_type)
            assert (t[CODES].sum(axis=1) == t["total"]).all()
            assert int(t["total"].sum()) == len(st), (by, by_type)


def test_unknown_grouping_is_an_error(table_region):
    region, st = table_region
    with pytest.raises(KeyError):
        status_table(st, region.areas, by="ward")


def test_japanese_labels(table_region):
    region, st = table_region
    t = status_table(st, region.areas, by="municipality")
    ja = japanese_labels(t)
    for s in STATUS_ORDER:
        assert s.value not in ja.columns
        assert STATUS_LABELS_JA[s] in ja.columns
        assert list(ja[STATUS_LABELS_JA[s]]) == list(t[s.value])
    assert "全ての要件を満たした協力医療機関を定めている" in ja.columns
    assert "集計していない" in ja.columns
    assert list(ja["合計"]) == list(t["total"])
    assert "市区町村名" in ja.columns and "市区町村コード" in ja.columns
    # Type names in Japanese right after the type code.
    cols = list(ja.columns)
    assert cols[cols.index("施設種別コード") + 1] == "施設種別"
    assert list(ja["施設種別"][:2]) == ["介護老人福祉施設", "認知症対応型共同生活介護"]
    # The input table is left as it was.
    assert "all_met" in t.columns and "施設種別" not in t.columns


def test_classify_every_combination():
    """classify() itself (the lookup table is built from it at import), against the four
    statuses of 別紙1 written out: all met, some met, none met but designated, not designated."""
    from itertools import combinations

    from matching.status import classify
    from matching.vocabulary import ROLE_ORDER, Status
    sets = [frozenset(c) for k in range(4) for c in combinations(ROLE_ORDER, k)]
    for req in sets:
        for cov in sets:
            for reported in (False, True):
                for designated in (False, True):
                    got = classify(req, cov, reported=reported, designated=designated)
                    if not reported:
                        want = Status.NOT_TRACKED
                    elif all(r in cov for r in req):
                        want = Status.ALL_MET
                    elif any(r in cov for r in req):
                        want = Status.SOME_MET
                    else:
                        want = Status.NONE_MET if designated else Status.NOT_DESIGNATED
                    assert got is want, (req, cov, reported, designated)


def test_japanese_labels_name_every_column(table_region):
    region, st = table_region
    for by, names in (("municipality", ["市区町村コード", "市区町村名"]),
                      ("secondary_area", ["二次医療圏コード", "二次医療圏名"]),
                      ("prefecture", ["都道府県コード"])):
        t = status_table(st, region.areas, by=by)
        ja = japanese_labels(t)
        assert list(ja.columns) == names + ["施設種別コード", "施設種別"] + [STATUS_LABELS_JA[s] for s in STATUS_ORDER] \
            + ["合計", "全要件充足率（集計対象に占める%）"]
    flat = japanese_labels(status_table(st, region.areas, by="none", by_type=False))
    assert "施設種別" not in flat.columns and "施設種別コード" not in flat.columns


def test_status_from_agreements_with_mutable_role_sets(tmp_path):
    """Proposed agreements may carry plain ``set`` roles (unhashable): the same statuses."""
    from matching.vocabulary import Role
    from tests.matchkit import fac, inst, make_region
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0), fac("G1", "gh", 1, 0)],
                         [inst("H", "hospital", 1, 1, "zaibyo")])
    agreed = pd.DataFrame({"facility_id": ["F1", "G1"], "institution_id": ["H", "H"],
                           "roles": [{Role.CONSULT, Role.VISIT}, {Role.CONSULT, Role.VISIT}]})
    st = facility_status(region, agreed)
    assert st["status"].tolist() == ["some_met", "all_met"]
    assert st.loc["F1", "missing_roles"] == frozenset({Role.ADMIT})


def test_status_table_orders_prefectures_and_flat_table_columns():
    status = pd.DataFrame({"facility_type": ["tokuyo", "gh", "gh"], "municipality_code": ["05201", "03201", "03201"],
                           "status": ["all_met", "not_tracked", "some_met"]})
    areas = pd.DataFrame({"municipality_code": ["03201", "05201"], "prefecture_code": ["03", "05"],
                          "secondary_area_code": ["0301", "0501"], "secondary_area_name": ["盛岡", "秋田周辺"],
                          "municipality_name": ["盛岡市", "秋田市"]}).set_index("municipality_code")
    t = status_table(status, areas, by="prefecture")
    # By prefecture first, then facility type in the vocabulary's order.
    assert t[["prefecture_code", "facility_type"]].values.tolist() == [["03", "gh"], ["05", "tokuyo"]]
    assert t["none_met"].tolist() == [0, 0]  # a status nobody has is a column of zeros
    flat = status_table(status, areas, by="none", by_type=False)
    assert list(flat.columns) == CODES + ["total", "all_met_share"]
    assert flat[CODES + ["total"]].values.tolist() == [[1, 1, 0, 0, 1, 3]]


# -- time slots (availability.csv) ----------------------------------------------------------------

DAY, NIGHTS = "wd_day", "wd_night;hol_day;hol_night"  # masks 1 and 14
# Institutions: a clinic by day and a hospital by night and on holidays (①② each), a clinic round
# the clock by its flags (no availability row: all four), a hospital visiting on holiday nights only.
SLOT_INSTITUTIONS = [
    institution("CD", "clinic"),
    institution("HN", "hospital", designations="zaibyo"),
    institution("K", "clinic", designations="zaishin"),
    institution("HV", "hospital", admit="true"),
]
SLOT_AVAILABILITY = [("CD", "consult", DAY), ("CD", "visit", DAY), ("HN", "consult", NIGHTS),
                     ("HN", "visit", NIGHTS), ("HV", "visit", "hol_night")]
# facility id → (type, [(institution, roles)], status, covered, missing, partial slots).  P0 comes
# first: its slots are found at position 0 of the facilities.
SLOT_CASES = {
    # ① by day and by night from two partners: all four; ② by day only.
    "P0": ("tokutei", [("CD", "consult;visit"), ("HN", "consult")], Status.SOME_MET, {C}, {V}, {"visit": 1}),
    # A partner without availability rows gives all four; ③ is not a slotted role.
    "P1": ("tokuyo", [("K", "consult;visit"), ("HN", "admit")], Status.ALL_MET, {C, V, A}, set(), {}),
    # Designated, but no role round the clock: what each role has so far.
    "P2": ("tokuyo", [("CD", "consult"), ("HV", "visit")], Status.NONE_MET, set(), {C, V, A},
           {"consult": 1, "visit": 8}),
    "P3": ("gh", [], Status.NOT_DESIGNATED, set(), {C, V}, {}),
    # Two partners each giving part of ① and ②: both round the clock.
    "P4": ("tokutei", [("HN", "consult;visit"), ("CD", "consult;visit")], Status.ALL_MET, {C, V}, set(), {}),
    # An agreement with no role: designated, nothing given.
    "P5": ("tokuyo", [("HN", "")], Status.NONE_MET, set(), {C, V, A}, {}),
}


def slot_region(folder, clinics_loaded: bool = True):
    facs = [facility(fid, ftype) for fid, (ftype, *_) in SLOT_CASES.items()]
    # Written out of order: the cover is sorted by facility and role.
    parts = [partnership(fid, iid, roles) for fid, (_, ps, *_) in reversed(SLOT_CASES.items()) for iid, roles in ps]
    write_region(folder, facilities=facs, institutions=SLOT_INSTITUTIONS, partnerships=parts)
    pd.DataFrame(SLOT_AVAILABILITY, columns=["institution_id", "role", "slots"]).to_csv(
        folder / "availability.csv", index=False)
    if not clinics_loaded:
        (folder / "region_scope.json").write_text('{"clinics_loaded": false, "note": "診療所は未取込"}',
                                                  encoding="utf-8")
    return load_region(folder)


def test_a_slotted_role_is_met_only_when_its_partners_give_all_four_slots(tmp_path):
    region = slot_region(tmp_path)
    assert region.has_slots
    st = facility_status(region)
    assert list(st.index) == list(SLOT_CASES)
    for fid, (ftype, parts, status, covered, missing, partial) in SLOT_CASES.items():
        row = st.loc[fid]
        assert row["required_roles"] == FACILITY_TYPES[ftype].required_roles
        assert (fid, row["status"]) == (fid, status.value)
        assert (fid, row["covered_roles"], row["missing_roles"]) == (fid, frozenset(covered), frozenset(missing))
        assert (fid, row["partial_slots"]) == (fid, partial)
        assert row["partners"] == tuple(sorted(i for i, _ in parts))
    assert set(map(type, st["partial_slots"])) == {dict}


def test_proposed_agreements_complete_the_slots_and_agreements_of_others_are_ignored(tmp_path):
    region = slot_region(tmp_path)
    before = facility_status(region)
    proposal = pd.DataFrame({"facility_id": ["P0", "P0", "ZZ"], "institution_id": ["HN", "CD", "K"],
                             "roles": [frozenset({V}), frozenset({C}), frozenset({C, V})]})
    after = facility_status(region, pd.concat([region.partnerships, proposal], ignore_index=True))
    # ② by night from the partner already giving ① by night: P0 is complete.
    assert after.loc["P0", "status"] == Status.ALL_MET.value
    assert after.loc["P0", "partial_slots"] == {}
    # An agreement of a facility not in the region changes nobody (not the last facility either).
    others = after.index.drop("P0")
    pd.testing.assert_frame_equal(after.loc[others], before.loc[others])


def test_slot_cover_is_the_union_of_the_partners_slots_per_facility_and_role(tmp_path):
    region = slot_region(tmp_path)
    want = {("P0", "consult"): (15, 2), ("P0", "visit"): (1, 1), ("P1", "consult"): (15, 1),
            ("P1", "visit"): (15, 1), ("P2", "consult"): (1, 1), ("P2", "visit"): (8, 1),
            ("P4", "consult"): (15, 2), ("P4", "visit"): (15, 2)}
    expected = pd.DataFrame({"slots": [s for s, _ in want.values()], "partners": [n for _, n in want.values()]},
                            index=pd.MultiIndex.from_tuples(list(want), names=["facility_id", "role"]),
                            dtype="int64")
    pd.testing.assert_frame_equal(slot_cover(region, region.partnerships), expected)
    # The same agreement twice (in force, and proposed again with one more role) is one partner.
    again = pd.DataFrame({"facility_id": ["P0"], "institution_id": ["HN"], "roles": [frozenset({C, V})]})
    cover = slot_cover(region, pd.concat([region.partnerships, again], ignore_index=True))
    assert cover.loc[("P0", "consult")].tolist() == [15, 2]
    assert cover.loc[("P0", "visit")].tolist() == [15, 2]
    # No agreement: an empty cover with the same columns and index levels.
    empty = slot_cover(region, region.partnerships.iloc[0:0])
    assert len(empty) == 0 and list(empty.index.names) == ["facility_id", "role"]
    assert empty.dtypes.to_dict() == {"slots": "int64", "partners": "int64"}


def test_without_clinics_a_missing_consult_or_visit_is_not_proven(tmp_path):
    region = slot_region(tmp_path, clinics_loaded=False)
    st = facility_status(region)
    notes = scope_notes(region, st)
    assert notes.to_dict() == {"P0": "②: 診療所未取込（未確認）", "P1": "", "P2": "①②: 診療所未取込（未確認）",
                               "P3": "①②: 診療所未取込（未確認）", "P4": "", "P5": "①②: 診療所未取込（未確認）"}
    # A facility missing only ③ has nothing a clinic could give; with clinics loaded there is no note.
    only_admit = st.assign(missing_roles=[frozenset({A}), frozenset({C, A}), frozenset(), frozenset({V}),
                                          frozenset({C, V}), frozenset({A})])
    assert scope_notes(region, only_admit).tolist() == ["", "①: 診療所未取込（未確認）", "",
                                                         "②: 診療所未取込（未確認）", "①②: 診療所未取込（未確認）", ""]
    loaded = slot_region(tmp_path / "loaded")
    blank = scope_notes(loaded, facility_status(loaded))
    assert blank.tolist() == [""] * len(SLOT_CASES) and list(blank.index) == list(SLOT_CASES)


def test_missing_slots_are_said_per_role_in_japanese():
    assert missing_slots_text({"visit": 7}) == "② 休日夜間が未確保"
    assert missing_slots_text({"consult": 1, "visit": 14}) == "① 平日夜間・休日日中・休日夜間が未確保、② 平日日中が未確保"
    assert missing_slots_text({}) == ""
    assert missing_slots_text(float("nan")) == "" and missing_slots_text(None) == ""


def test_a_region_without_facilities_or_agreements_has_an_empty_status_of_the_usual_types(tmp_path, statuses):
    """No facility (a region being set up): an empty table with the columns and types of a full
    one.  With time slots and no agreement in force: every facility not designated, nothing given."""
    empty = load_region(write_region(tmp_path / "none", facilities=[], partnerships=[]))
    st = facility_status(empty)
    assert len(st) == 0
    assert st.dtypes.to_dict() == statuses[1].dtypes.to_dict()
    region = slot_region(tmp_path / "slots")
    no_facility = facility_status(region, region.partnerships.iloc[0:0]).iloc[0:0]
    (tmp_path / "slots" / "facilities.csv").write_text("facility_id,name,facility_type,municipality_code,lat,lon,"
                                                     "residents,reported\n", encoding="utf-8")
    (tmp_path / "slots" / "partnerships.csv").write_text("facility_id,institution_id,roles\n", encoding="utf-8")
    assert facility_status(load_region(tmp_path / "slots")).dtypes.to_dict() == no_facility.dtypes.to_dict()
    region = slot_region(tmp_path / "slots")
    st = facility_status(region, region.partnerships.iloc[0:0])
    assert set(st["status"]) == {Status.NOT_DESIGNATED.value}
    assert st["partial_slots"].tolist() == [{}] * len(SLOT_CASES)
    assert (st["missing_roles"] == st["required_roles"]).all()
