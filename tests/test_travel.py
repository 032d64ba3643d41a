"""Travel times: geodesic against geopy, the spatial index against brute force,
the road-network provider and the measured-matrix override."""

from __future__ import annotations

import networkx as nx
import numpy as np
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import MatchParameters, match, verify
from matching.travel import (
    GeodesicTravel,
    MatrixOverride,
    Points,
    RoadNetworkTravel,
    geodesic_km,
    pairs_within_km,
)
from tests.matchkit import fac, inst, latlon, make_region, pairs

lat_st = st.floats(24.0, 45.5)
lon_st = st.floats(123.0, 153.0)


@settings(max_examples=60, deadline=None)
@given(lat_st, lon_st, lat_st, lon_st)
def test_geodesic_matches_geopy(lat1, lon1, lat2, lon2):
    ours = float(geodesic_km(lat1, lon1, lat2, lon2))
    ref = geodesic((lat1, lon1), (lat2, lon2)).km
    assert abs(ours - ref) <= 1e-6 * max(ref, 1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1.0, 60.0))
def test_spatial_index_finds_exactly_the_pairs_within_radius(seed, radius):
    rng = np.random.default_rng(seed)
    a = rng.uniform([39.0, 140.8], [40.4, 142.0], size=(30, 2))
    b = rng.uniform([39.0, 140.8], [40.4, 142.0], size=(20, 2))
    i, j, km = pairs_within_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1], radius)
    brute = {(p, q) for p in range(30) for q in range(20)
             if geodesic(tuple(a[p]), tuple(b[q])).km <= radius}
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == brute
    assert np.all(km <= radius)


def test_geodesic_provider_minutes():
    t = GeodesicTravel(speed_kmh=30, circuity=1.5)
    f = Points(np.array(["F"]), np.array([39.70]), np.array([141.15]))
    i = Points(np.array(["I"]), np.array([39.80]), np.array([141.15]))
    km = geodesic((39.70, 141.15), (39.80, 141.15)).km
    assert np.isclose(t.between(f, i, np.array([0]), np.array([0]))[0], km * 1.5 / 30 * 60)
    fi, ii, m = t.within(f, i, max_minutes=km * 1.5 / 30 * 60 - 0.01)
    assert len(fi) == 0


def _line_graph():
    """Four vertices 5 km apart on an east-west road, 5 minutes per hop (seconds, as osmnx writes)."""
    g = nx.MultiDiGraph()
    for k in range(4):
        lat, lon = latlon(5 * k, 0)
        g.add_node(str(k), x=lon, y=lat)
    for k in range(3):
        g.add_edge(str(k), str(k + 1), travel_time=300.0)
        g.add_edge(str(k + 1), str(k), travel_time=300.0)
    g.add_edge("0", "1", travel_time=900.0)  # a slower parallel road is ignored
    return g


def test_road_network_provider_shortest_paths():
    t = RoadNetworkTravel(_line_graph())
    fl, fo = zip(*[latlon(0, 0), latlon(15, 0)], strict=True)
    il, io = zip(*[latlon(5, 0)], strict=True)
    f = Points(np.array(["A", "B"]), np.array(fl), np.array(fo))
    i = Points(np.array(["I"]), np.array(il), np.array(io))
    got = t.between(f, i, np.array([0, 1]), np.array([0, 0]))
    assert np.allclose(got, [5.0, 10.0], atol=0.01)
    fi, ii, m = t.within(f, i, 7.0)
    assert fi.tolist() == [0] and np.allclose(m, [5.0], atol=0.01)


def test_road_network_in_a_run_and_verifier_agree(tmp_path):
    g = _line_graph()
    nx.write_graphml(g, tmp_path / "roads.graphml")
    region = make_region(tmp_path / "r", [fac("G1", "gh", 15, 0)], [
        inst("C1", "clinic", 0, 0, "zaishin"), inst("C2", "clinic", 5, 0, "zaishin"),
    ])
    params = MatchParameters.model_validate({"travel": {"road_network": str(tmp_path / "roads.graphml")}})
    result = match(region, params)
    # 10 minutes by road (the straight-line model would say 19.5)
    assert pairs(result) == {("G1", "C2", "consult;visit")}
    assert abs(result.proposals["travel_minutes"].iloc[0] - 10.0) < 0.05
    assert verify(region, result.proposals, params) == []


def test_measured_minutes_override_pair_by_pair(tmp_path):
    # C1 is nearer in a straight line, but a measured 50 minutes (a river, no bridge)
    # puts it beyond the limit; C2's measured 12 minutes wins.
    region = make_region(tmp_path, [fac("G1", "gh", 0, 0)], [
        inst("C1", "clinic", 2, 0, "zaishin"), inst("C2", "clinic", 8, 0, "zaishin"),
    ], travel_times=[("G1", "C1", 50), ("G1", "C2", 12)])
    result = match(region)
    assert pairs(result) == {("G1", "C2", "consult;visit")}
    assert result.proposals["travel_minutes"].iloc[0] == 12
    assert verify(region, result.proposals) == []


def test_matrix_override_adds_pairs_the_base_misses():
    base = GeodesicTravel()
    f = Points(np.array(["F"]), *map(np.array, zip(latlon(0, 0), strict=True)))
    i = Points(np.array(["I"]), *map(np.array, zip(latlon(100, 0), strict=True)))
    import pandas as pd

    table = pd.DataFrame({"facility_id": ["F"], "institution_id": ["I"], "minutes": [20.0]})
    fi, ii, m = MatrixOverride(base, table).within(f, i, 30)
    assert fi.tolist() == [0] and m.tolist() == [20.0]
    assert len(base.within(f, i, 30)[0]) == 0
