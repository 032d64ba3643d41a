"""The verifier catches each kind of broken proposal."""

from __future__ import annotations

import pandas as pd
import pytest

from matching import MatchParameters, match, verify
from matching.parameters import Pair
from matching.vocabulary import Role
from tests.matchkit import fac, inst, make_region


@pytest.fixture
def region(tmp_path):
    return make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 1, 0), fac("G1", "gh", 0, 1),
    ], [
        inst("C", "clinic", 1, 1, "zaishin", capacity_facilities=1),
        inst("Z", "hospital", 2, 0, "zaibyo"),
        inst("FAR", "hospital", 40, 0, "zaibyo"),
        inst("NO", "hospital", 1, 0, "zaibyo", accepting="false"),
    ], [("F2", "Z", "consult;visit;admit")])


def codes(region, rows, params=None):
    df = pd.DataFrame(rows, columns=["facility_id", "institution_id", "roles"])
    good = match(region, params or MatchParameters()).proposals.set_index(["facility_id", "institution_id"])
    # Use the true distance/time where the pair was a real proposal, else recompute via a 1-row match.
    from geopy.distance import geodesic
    km, mins = [], []
    for f, i in zip(df["facility_id"], df["institution_id"], strict=True):
        if i not in region.institutions.index:
            km.append(0.0)
            mins.append(0.0)
        elif (f, i) in good.index:
            km.append(good.loc[(f, i), "distance_km"])
            mins.append(good.loc[(f, i), "travel_minutes"])
        else:
            a, b = region.facilities.loc[f], region.institutions.loc[i]
            d = geodesic((a["lat"], a["lon"]), (b["lat"], b["lon"])).km
            km.append(round(d, 2))
            mins.append(round(d * 1.3 / 40 * 60, 1))
    df["distance_km"], df["travel_minutes"] = km, mins
    return {v.code for v in verify(region, df, params)}


def test_optimal_proposals_pass(region):
    result = match(region)
    assert not result.proposals.empty
    assert verify(region, result.proposals) == []


def test_each_violation_is_named(region):
    assert codes(region, [("F1", "C", "admit")]) >= {"role_not_offered", "admit_by_clinic"}
    assert codes(region, [("F1", "FAR", "consult;visit;admit")]) == {"beyond_limit"}
    assert codes(region, [("F1", "NO", "consult;visit;admit")]) == {"not_accepting"}
    assert codes(region, [("F2", "C", "consult")]) == {"role_not_missing"}  # F2 already has all
    assert codes(region, [("F1", "C", "consult;visit"), ("G1", "C", "consult;visit")]) == {"over_capacity"}
    assert codes(region, [("F1", "Z", "admit"), ("F1", "Z", "admit")]) >= {"duplicate_pair", "role_assigned_twice"}
    assert codes(region, [("F1", "Z", "consult;visit;admit")],
                 MatchParameters(forbidden=[Pair(facility_id="F1", institution_id="Z")])) >= {"forbidden_pair"}
    assert codes(region, [("F1", "Z", "")]) == {"bad_roles"}
    assert codes(region, [("F1", "XX", "admit")]) == {"unknown_id"}


def test_wrong_distance_and_missing_pin(region):
    df = match(region).proposals.copy()
    df.loc[0, "distance_km"] += 1.0
    assert "wrong_distance" in {v.code for v in verify(region, df)}
    pinned = MatchParameters(pinned=[Pair(facility_id="F1", institution_id="Z", roles=frozenset({Role.ADMIT}))])
    none = df.iloc[0:0]
    assert {v.code for v in verify(region, none, pinned)} == {"pin_missing"}


def _row(region, f, i, roles):
    from geopy.distance import geodesic
    a, b = region.facilities.loc[f], region.institutions.loc[i]
    km = geodesic((a["lat"], a["lon"]), (b["lat"], b["lon"])).km
    return {"facility_id": f, "institution_id": i, "roles": roles,
            "distance_km": round(km, 2), "travel_minutes": round(km * 1.3 / 40 * 60, 1)}


def test_the_16km_rule_binds_inside_the_minutes_limit(tmp_path):
    """A house call 20 km away is 39 minutes: inside a 60-minute limit, beyond 16 km."""
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)], [inst("C", "clinic", 0, 20, "zaishin")])
    params = MatchParameters(limits={"consult": {"minutes": 60}, "visit": {"minutes": 60, "km": 16}})
    visit = pd.DataFrame([_row(region, "F1", "C", "consult;visit")])
    found = verify(region, visit, params)
    assert [(v.code, v.message) for v in found] == [("beyond_limit", "visit: 20.01 km exceeds the 16 km limit")]
    assert verify(region, pd.DataFrame([_row(region, "F1", "C", "consult")]), params) == []
    # No km limit for the role: only minutes count.
    assert verify(region, visit, MatchParameters(limits={"consult": {"minutes": 60},
                                                         "visit": {"minutes": 60, "km": 25}})) == []
    # A coordinator's pin overrides the distance rules.
    pinned = params.model_copy(update={"pinned": [Pair(facility_id="F1", institution_id="C")]})
    assert verify(region, visit, pinned) == []


def test_admission_from_a_clinic_is_named_as_such(tmp_path):
    """③ from a clinic is refused twice over: the clinic does not offer it, and ③ is for hospitals."""
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [inst("C", "clinic", 0, 1, "zaishin")])
    found = verify(region, pd.DataFrame([_row(region, "F1", "C", "admit")]))
    assert sorted(v.code for v in found) == ["admit_by_clinic", "role_not_offered"]
    assert verify(region, pd.DataFrame([_row(region, "F1", "C", "consult;visit")])) == []


def _road(path, *, multi=True, unit="seconds", gap=False):
    """Four vertices 5 km apart on an east-west road, 5 minutes per hop; ``gap``: no road 1–2."""
    import networkx as nx

    from tests.matchkit import latlon
    g = nx.MultiDiGraph() if multi else nx.DiGraph()
    for k in range(4):
        lat, lon = latlon(5 * k, 0)
        g.add_node(str(k), x=lon, y=lat)
    hop = 300.0 if unit == "seconds" else 5.0
    for k in range(3):
        if gap and k == 1:
            continue
        g.add_edge(str(k), str(k + 1), travel_time=hop)
        g.add_edge(str(k + 1), str(k), travel_time=hop)
    nx.write_graphml(g, path)


@pytest.mark.parametrize("multi", [True, False])
def test_verifier_road_times_relative_path_minutes_and_access(tmp_path, multi):
    """The road graph named relative to the region's folder, weights in minutes, the facility 2 km
    and the clinic 1 km off the road (reached at 20 km/h: 6 and 3 minutes) plus 10 minutes of road:
    the verifier recomputes what the run proposed."""
    region = make_region(tmp_path, [fac("G1", "gh", 15, 2)], [inst("C2", "clinic", 5, -1, "zaishin")])
    _road(tmp_path / "roads.graphml", multi=multi, unit="minutes")
    params = MatchParameters.model_validate(
        {"travel": {"road_network": "roads.graphml", "weight_unit": "minutes"}})
    result = match(region, params)
    assert abs(result.proposals["travel_minutes"].iloc[0] - 19.0) < 0.06
    assert verify(region, result.proposals, params) == []
    off = result.proposals.assign(travel_minutes=result.proposals["travel_minutes"] + 0.1)
    assert {v.code for v in verify(region, off, params)} == {"wrong_minutes"}


def test_verifier_road_graph_of_a_region_without_a_folder(tmp_path, monkeypatch):
    """A region built in memory (no source folder): the graph path is taken as given."""
    import dataclasses
    region = make_region(tmp_path / "r", [fac("G1", "gh", 15, 0)], [inst("C2", "clinic", 5, 0, "zaishin")])
    _road(tmp_path / "roads.graphml")
    params = MatchParameters.model_validate({"travel": {"road_network": str(tmp_path / "roads.graphml")}})
    proposals = match(region, params).proposals
    loose = dataclasses.replace(region, source=None)
    assert verify(loose, proposals, params) == []
    monkeypatch.chdir(tmp_path)
    relative = MatchParameters.model_validate({"travel": {"road_network": "roads.graphml"}})
    assert verify(loose, proposals, relative) == []


def test_verifier_road_without_a_path_is_beyond_every_limit(tmp_path):
    region = make_region(tmp_path, [fac("G1", "gh", 15, 0)], [inst("C0", "clinic", 0, 0, "zaishin")])
    _road(tmp_path / "roads.graphml", gap=True)
    params = MatchParameters.model_validate({"travel": {"road_network": str(tmp_path / "roads.graphml")}})
    row = _row(region, "G1", "C0", "consult")
    found = verify(region, pd.DataFrame([row]), params)
    assert sorted(v.code for v in found) == ["beyond_limit", "wrong_minutes"]
    assert "recomputed inf" in next(v.message for v in found if v.code == "wrong_minutes")


def test_verifier_reads_a_proposals_file_with_ids_as_text(tmp_path):
    region = make_region(tmp_path / "r", [fac("0012", "gh", 0, 0)], [inst("0040", "clinic", 1, 0, "zaishin")])
    result = match(region)
    assert list(result.proposals["facility_id"]) == ["0012"]
    path = tmp_path / "proposals.csv"
    result.proposals.to_csv(path, index=False)
    assert verify(region, path) == []
    assert verify(region, str(path)) == []
    # A blank roles cell stays blank (not read as NaN): named as a proposal without roles.
    result.proposals.assign(roles="").to_csv(path, index=False)
    assert [v.message for v in verify(region, path)] == ["a proposal must carry at least one role"]


def test_every_violation_in_full(tmp_path):
    """Each check once, with the exact facility, institution and message it reports; a row with
    an unknown id does not stop the rows after it."""
    region = make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 1, 0), fac("G1", "gh", 0, 1),
        fac("U1", "gh", 0, 2, reported=False), fac("F3", "tokuyo", 2, 1),
    ], [
        inst("C", "clinic", 1, 1, "zaishin", capacity_facilities=1, capacity_residents=60,
             capacity_facilities_consult=1),
        inst("Z", "hospital", 2, 0, "zaibyo"), inst("FAR", "hospital", 40, 0, "zaibyo"),
        inst("NO", "hospital", 1, 0, "zaibyo", accepting="false"), inst("Q", "hospital", 3, 0, "zaibyo", accepting=""),
    ], [("F2", "Z", "consult;visit;admit")])
    rows = [("F1", "XX", "admit"), ("F1", "C", "admit"), ("F1", "C", "consult"), ("G1", "C", "consult;visit"),
            ("F1", "FAR", "visit"), ("F1", "NO", "admit"), ("F2", "Z", "consult"), ("F1", "Z", "bogus"),
            ("F1", "Z", ""), ("U1", "Z", "consult"), ("F1", "Q", "visit"), ("F1", "C", "consult"),
            ("F3", "Z", "consult")]
    df = pd.DataFrame([_row(region, f, i, r) if i != "XX" else
                       {"facility_id": f, "institution_id": i, "roles": r, "distance_km": 0, "travel_minutes": 0}
                       for f, i, r in rows])
    params = MatchParameters(
        unknown_accepting=False, facility_types=["tokuyo"],
        forbidden=[Pair(facility_id="F1", institution_id="NO")],
        pinned=[Pair(facility_id="G1", institution_id="Z", roles=frozenset({Role.VISIT})),
                Pair(facility_id="F1", institution_id="Z"),
                Pair(facility_id="F2", institution_id="C"),  # F2 lacks nothing: the pin is moot
                Pair(facility_id="F3", institution_id="Z", roles=frozenset({Role.ADMIT}))])
    # Each finding in English and in Japanese (for the people who arrange the agreements).
    got = [(v.code, v.facility_id, v.institution_id, v.message, v.message_ja) for v in verify(region, df, params)]
    assert got == [
        ('admit_by_clinic', 'F1', 'C',
         'admission (③) is for hospitals only',
         '③入院受入れは病院に限られます（診療所は担えません）'),
        ('bad_roles', 'F1', 'Z',
         'a proposal must carry at least one role',
         '役割が空です（提案には役割が1つ以上必要です）'),
        ('bad_roles', 'F1', 'Z',
         "unreadable roles 'bogus'",
         "役割 'bogus' を読めません（consult・visit・admit を ; で区切ってください）"),
        ('beyond_limit', 'F1', 'FAR',
         'visit: 40.19 km exceeds the 16 km limit',
         '②診療（往診・常時）: 距離 40.19 km が上限 16 km を超えています'),
        ('beyond_limit', 'F1', 'FAR',
         'visit: 78.4 min exceeds the 30 min limit',
         '②診療（往診・常時）: 移動時間 78.4 分が上限 30 分を超えています'),
        ('duplicate_pair', 'F1', 'C',
         'the same pair appears twice',
         '同じ施設と医療機関の組が2回あります'),
        ('duplicate_pair', 'F1', 'C',
         'the same pair appears twice',
         '同じ施設と医療機関の組が2回あります'),
        ('duplicate_pair', 'F1', 'Z',
         'the same pair appears twice',
         '同じ施設と医療機関の組が2回あります'),
        ('forbidden_pair', 'F1', 'NO',
         'the pair was declined (forbidden)',
         'この組は断られています（除外の指定）'),
        ('not_accepting', 'F1', 'NO',
         'institution does not accept new partners',
         '医療機関が新たな協定を受け入れていません'),
        ('not_accepting', 'F1', 'Q',
         'institution does not accept new partners',
         '医療機関が新たな協定を受け入れていません'),
        ('out_of_scope', 'G1', 'C',
         "facility type gh is not in this run's scope",
         '施設種別 認知症対応型共同生活介護 はこの実行の対象外です'),
        ('out_of_scope', 'U1', 'Z',
         'facility has no annual report on file (not tracked)',
         '施設の年次報告がありません（集計していない施設は提案の対象外です）'),
        ('out_of_scope', 'U1', 'Z',
         "facility type gh is not in this run's scope",
         '施設種別 認知症対応型共同生活介護 はこの実行の対象外です'),
        ('over_capacity', '*', 'C',
         'capacity_facilities 1 but 4 proposed',
         '受入枠（施設数）1 施設に対し、提案は 4 施設です'),
        ('over_capacity', '*', 'C',
         'capacity_facilities_consult 1 but 3 proposed',
         '①相談対応（常時） の受入枠（施設数）1 施設に対し、提案は 3 施設です'),
        ('over_capacity', '*', 'C',
         'capacity_residents 60 but 200 proposed',
         '受入枠（入所者数）60 人に対し、提案は 200 人です'),
        ('pin_missing', 'F3', 'Z',
         'pinned role admit not proposed from it',
         '固定と指定した ③入院受入れ がこの医療機関から提案されていません'),
        ('pin_missing', 'G1', 'Z',
         'pinned pair is not in the proposals',
         '固定（必ず使う）と指定した組が提案にありません'),
        ('role_assigned_twice', 'F1', 'C',
         'consult already proposed from C',
         '①相談対応（常時） は C からも提案されています（1つの役割に1医療機関）'),
        ('role_assigned_twice', 'F1', 'NO',
         'admit already proposed from C',
         '③入院受入れ は C からも提案されています（1つの役割に1医療機関）'),
        ('role_assigned_twice', 'F1', 'Q',
         'visit already proposed from FAR',
         '②診療（往診・常時） は FAR からも提案されています（1つの役割に1医療機関）'),
        ('role_not_missing', 'F2', 'Z',
         "role consult is not missing (required ['admit', 'consult', 'visit'], already covered or not required)",
         '①相談対応（常時） は不足していません（既存の協定で確保済みか、介護老人福祉施設 には求められていません）'),
        ('role_not_offered', 'F1', 'C',
         'institution does not offer admit',
         '医療機関は ③入院受入れ を担っていません'),
        ('unknown_id', 'F1', 'XX',
         'facility or institution not in the region',
         '施設または医療機関がこの地域のデータにありません'),
    ]
    assert str(verify(region, df.iloc[:1])[0]) == "[unknown_id] F1–XX: facility or institution not in the region"
    assert all(v.message_ja and v.text_ja().startswith(f"[{v.code}] ") for v in verify(region, df, params))


def test_verifier_edges_of_capacities_limits_pins_and_partners(tmp_path):
    """Capacities used exactly, per-role residents, extending an agreement in force (uses no
    capacity), a facility of unknown size, limits met exactly or missed by half a unit, a pin kept."""
    import dataclasses

    from geopy.distance import geodesic
    region = make_region(tmp_path, [
        fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 0, 2, residents=""), fac("F3", "gh", 1, 1),
        fac("F4", "gh", 0, -1),
    ], [
        inst("C", "clinic", 1, 0, "zaishin", capacity_residents_consult=100, capacity_facilities_consult=2),
        inst("Z", "hospital", 2, 0, "zaibyo", capacity_facilities=0, capacity_residents=0),
        inst("H", "hospital", 3, 0, "zaibyo"),
    ], [("F3", "Z", "consult")], travel_times=[("F1", "C", 30.0)])

    def check(rows, params=None, reg=region):
        df = pd.DataFrame([_row(reg, f, i, r) for f, i, r in rows])
        df.loc[(df["facility_id"] == "F1") & (df["institution_id"] == "C"), "travel_minutes"] = \
            float(reg.travel_times["minutes"].iloc[0])
        return [(v.code, v.institution_id, v.message) for v in verify(reg, df, params)]

    assert check([("F3", "Z", "visit")]) == []  # an agreement in force grows: no new partner
    assert check([("F1", "C", "consult"), ("F4", "C", "consult")]) == []  # 100 residents, 2 facilities: exactly
    tight = dataclasses.replace(region, institutions=region.institutions.assign(
        capacity_residents_consult=region.institutions["capacity_residents_consult"].where(
            region.institutions.index != "C", 99)))
    assert check([("F1", "C", "consult"), ("F4", "C", "consult")], reg=tight) == [
        ("over_capacity", "C", "capacity_residents_consult 99 but 100 proposed")]
    assert check([("F2", "C", "consult")]) == []  # 定員 unknown: the type's default
    pin = MatchParameters(pinned=[Pair(facility_id="F1", institution_id="H", roles=frozenset({Role.ADMIT}))])
    assert check([("F1", "H", "admit")], pin) == []
    # Minutes: 30.0 measured is within 30; 30.5 is not.
    assert check([("F1", "C", "consult")]) == []
    slow = dataclasses.replace(region, travel_times=region.travel_times.assign(minutes=30.5))
    assert check([("F1", "C", "consult")], reg=slow) == [
        ("beyond_limit", "C", "consult: 30.5 min exceeds the 30 min limit")]
    # Kilometres: a limit equal to the distance holds; half a km less does not.
    f, i = region.facilities.loc["F1"], region.institutions.loc["C"]
    km = geodesic((f["lat"], f["lon"]), (i["lat"], i["lon"])).km
    assert check([("F1", "C", "visit")], MatchParameters(limits={"visit": {"km": km}})) == []
    assert check([("F1", "C", "visit")], MatchParameters(limits={"visit": {"km": km - 0.5}})) == [
        ("beyond_limit", "C", f"visit: {km:.2f} km exceeds the {km - 0.5:g} km limit")]
    # A distance off by more than the rounding is named with the geodesic.
    df = pd.DataFrame([_row(region, "F4", "H", "consult")])
    df["distance_km"] += 0.5
    f, i = region.facilities.loc["F4"], region.institutions.loc["H"]
    km = geodesic((f["lat"], f["lon"]), (i["lat"], i["lon"])).km
    assert [v.message for v in verify(region, df)] == [
        f"distance_km {df['distance_km'].iloc[0]} but the geodesic is {km:.3f} km"]


@pytest.mark.parametrize("a, b", [((39.702, 141.154), (38.934, 141.126)), ((35.68, 139.77), (34.69, 135.50)),
                                  ((43.06, 141.35), (26.21, 127.68)), ((39.7, 141.1), (39.7, 141.1))])
def test_the_verifiers_geodesic_is_geopys(a, b):
    from geopy.distance import geodesic

    from matching.verify import _geodesic, geodesic_km

    assert _geodesic(a, b).km == pytest.approx(geodesic(a, b).km, abs=1e-9)
    assert geodesic_km(*a, *b) == pytest.approx(geodesic(a, b).km, abs=1e-9)


def test_numbers_read_back_are_named_in_japanese(tmp_path):
    """A coordinator's edited file: a distance or travel time that does not match, or is not a
    number, is said in Japanese with both values."""
    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0)], [inst("H", "hospital", 3, 0, "zaibyo")])
    good = _row(region, "F1", "H", "admit")
    far = {**good, "distance_km": good["distance_km"] + 1.0, "travel_minutes": good["travel_minutes"] + 2.0}
    ja = {(v.code, v.message_ja) for v in verify(region, pd.DataFrame([far]))}
    assert ja == {("wrong_distance", "距離が 4.01 km とありますが、座標から求めると 3.014 km です"),
                  ("wrong_minutes", "移動時間が 7.9 分とありますが、求め直すと 5.88 分です")}
    text = {**good, "distance_km": "約3"}
    (v,) = verify(region, pd.DataFrame([text]))
    assert (v.code, v.message_ja) == ("bad_number", f"距離 '約3' または移動時間 {good['travel_minutes']!r} が数値ではありません")


def test_a_file_that_is_not_a_proposals_file_is_refused_with_the_columns_it_lacks(tmp_path):
    """A table without the proposal columns (here a facilities list) is refused in both languages,
    naming the file and each missing column, before any row is checked."""
    from matching.contract.tablefile import TableError

    region = make_region(tmp_path / "r", [fac("F1", "gh", 0, 0)], [inst("C", "clinic", 1, 0, "zaishin")])
    path = tmp_path / "facilities.csv"
    pd.DataFrame({"facility_id": ["F1"], "institution_id": ["C"], "roles": ["consult"]}).to_csv(path, index=False)
    with pytest.raises(TableError) as err:
        verify(region, path)
    assert str(err.value) == "facilities.csv: not a proposals file (missing column(s) distance_km, travel_minutes)"
    assert err.value.ja == ("facilities.csv は提案ファイル（proposals.csv）ではありません"
                            "（列 distance_km、travel_minutes がありません）")


def test_a_facility_outside_the_runs_prefectures_is_out_of_scope(tmp_path):
    """A run for some prefectures (``--prefecture``): a proposal for a facility of another one is
    out of scope, named once per row; a facility of a prefecture in the run is not."""
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "gh", 0, 1)],
                         [inst("C", "clinic", 1, 0, "zaishin", capacity_facilities=5)])
    df = pd.DataFrame([_row(region, "F1", "C", "consult;visit"), _row(region, "F2", "C", "consult;visit")])
    assert verify(region, df, MatchParameters(prefectures=["03"])) == []
    assert verify(region, df, MatchParameters(prefectures=["02", "03"])) == []
    got = [(v.code, v.facility_id, v.institution_id, v.message, v.text_ja())
           for v in verify(region, df, MatchParameters(prefectures=["04"]))]
    assert got == [("out_of_scope", f, "C", "facility's prefecture is not in this run's scope",
                    f"[out_of_scope] {f}–C: 施設の都道府県はこの実行の対象外です") for f in ("F1", "F2")]


def test_a_row_whose_distance_or_minutes_is_not_a_number_is_named_and_the_rows_after_it_checked(tmp_path):
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0), fac("F2", "gh", 0, 1)],
                         [inst("C", "clinic", 1, 0, "zaishin", capacity_facilities=5)])
    rows = [_row(region, "F1", "C", "consult;visit"), _row(region, "F2", "C", "consult;visit")]
    rows[0]["distance_km"] = "about 1 km"
    rows[1]["distance_km"] += 1.0
    got = [(v.code, v.facility_id, v.message) for v in verify(region, pd.DataFrame(rows))]
    assert got == [
        ("bad_number", "F1", f"distance_km 'about 1 km' or travel_minutes {rows[0]['travel_minutes']!r} is not a number"),
        ("wrong_distance", "F2", next(v.message for v in verify(region, pd.DataFrame(rows[1:])))),
    ]
    assert got[1][2].startswith(f"distance_km {rows[1]['distance_km']!r} but the geodesic is ")


def test_an_estimated_capacity_is_named_as_such_when_it_is_exceeded(tmp_path):
    """A clinic with every capacity blank gets an estimated number of facilities (default
    ``--unknown-capacity estimate``: 3 for a home-care support clinic): going over it names the estimate; a stated
    capacity is named without the note, and ``unlimited`` leaves the blank clinic unlimited."""
    region = make_region(tmp_path, [fac(f"F{k}", "gh", 0, k) for k in range(4)],
                         [inst("C", "clinic", 1, 0, "zaishin"),
                          inst("S", "clinic", 1, 1, "zaishin", capacity_facilities=3)])
    for clinic in ("C", "S"):
        df = pd.DataFrame([_row(region, f"F{k}", clinic, "consult;visit") for k in range(4)])
        got = [(v.code, v.facility_id, v.institution_id, v.message, v.message_ja) for v in verify(region, df)]
        note = " (estimated: blank in institutions.csv, --unknown-capacity)" if clinic == "C" else ""
        note_ja = "（推定値: institutions.csv が空欄、--unknown-capacity）" if clinic == "C" else ""
        assert got == [("over_capacity", "*", clinic, f"capacity_facilities 3{note} but 4 proposed",
                        f"受入枠（施設数）3 施設{note_ja}に対し、提案は 4 施設です")]
    df = pd.DataFrame([_row(region, f"F{k}", "C", "consult;visit") for k in range(4)])
    assert verify(region, df, MatchParameters(unknown_capacity="unlimited")) == []
    got = [v.message for v in verify(region, df, MatchParameters(unknown_capacity=1))]
    assert got == ["capacity_facilities 1 (estimated: blank in institutions.csv, --unknown-capacity) but 4 proposed"]


def test_an_institution_not_yet_asked_is_accepting_unless_the_run_says_otherwise(tmp_path):
    """A blank ``accepting`` (not yet asked) counts as accepting by default
    (``unknown_accepting``), as not accepting when the run turns that off, and a pin overrides it."""
    region = make_region(tmp_path, [fac("F1", "gh", 0, 0)],
                         [inst("Q", "clinic", 1, 0, "zaishin", accepting="", capacity_facilities=5)])
    df = pd.DataFrame([_row(region, "F1", "Q", "consult;visit")])
    assert verify(region, df) == []
    strict = MatchParameters(unknown_accepting=False)
    assert [(v.code, v.message) for v in verify(region, df, strict)] == [
        ("not_accepting", "institution does not accept new partners")]
    pinned = strict.model_copy(update={"pinned": [Pair(facility_id="F1", institution_id="Q")]})
    assert verify(region, df, pinned) == []
