"""Travel-time providers: how many minutes from an institution to a facility.

Three implementations share one small interface:

* :class:`GeodesicTravel` (default, offline): geodesic km × circuity ÷ speed;
* :class:`RoadNetworkTravel`: shortest paths on a networkx road graph (GraphML, as
  saved by osmnx), points snapped to the nearest vertex;
* :class:`MatrixOverride`: minutes measured by the user (``travel_times.csv``)
  replace another provider's, pair by pair.

``within`` finds the pairs reachable within a time budget *without* an all-pairs
loop (k-d tree for straight lines, bounded Dijkstra for roads); ``between``
gives minutes for pairs already chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from matching.travel.geodesic import geodesic_km, pairs_within_km, unit_vectors

if TYPE_CHECKING:  # networkx is imported where a road graph is read (a quarter second at start-up)
    import networkx as nx


@dataclass(frozen=True)
class Points:
    """Ids and WGS84 coordinates of facilities or institutions."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Points:
        return cls(frame.index.to_numpy(), frame["lat"].to_numpy(float), frame["lon"].to_numpy(float))

    def __len__(self) -> int:
        return len(self.ids)


class TravelTimes(Protocol):
    name: str

    def within(self, fac: Points, inst: Points, max_minutes: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(facility index, institution index, minutes) of pairs within ``max_minutes``, sorted."""

    def between(self, fac: Points, inst: Points, fi: np.ndarray, ii: np.ndarray) -> np.ndarray:
        """Minutes for the given index pairs (inf where unreachable)."""


@dataclass(frozen=True)
class GeodesicTravel:
    """Straight-line distance × circuity at an average speed (offline default).

    Defaults: circuity 1.3 (roads are ~30% longer than the straight line in
    rural Japan) and 40 km/h door to door, so 30 minutes ≈ 15 km straight line.

    >>> t = GeodesicTravel()
    >>> f = Points(np.array(["F1"]), np.array([39.70]), np.array([141.15]))
    >>> i = Points(np.array(["I1"]), np.array([39.79]), np.array([141.15]))
    >>> round(float(t.between(f, i, np.array([0]), np.array([0]))[0]), 1)
    19.5
    """

    speed_kmh: float = 40.0
    circuity: float = 1.3
    name: str = "geodesic"

    def minutes_for_km(self, km):
        return np.asarray(km) * self.circuity / self.speed_kmh * 60.0

    def within(self, fac, inst, max_minutes):
        radius = max_minutes / 60.0 * self.speed_kmh / self.circuity
        fi, ii, km = pairs_within_km(fac.lat, fac.lon, inst.lat, inst.lon, radius)
        return fi, ii, self.minutes_for_km(km)

    def between(self, fac, inst, fi, ii):
        return self.minutes_for_km(geodesic_km(fac.lat[fi], fac.lon[fi], inst.lat[ii], inst.lon[ii]))


class RoadNetworkTravel:
    """Shortest travel time on a road graph, institution → facility.

    ``graph`` nodes carry ``x`` (longitude) and ``y`` (latitude), edges a travel
    time attribute (``weight``, in seconds as osmnx writes it, or minutes).  Each
    point is snapped to its nearest vertex; the leg to that vertex is added at
    ``access_speed_kmh`` over the straight line.  Unreachable pairs are ``inf``.

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_node(0, x=141.15, y=39.70); g.add_node(1, x=141.25, y=39.70)
    >>> g.add_edge(1, 0, travel_time=600.0)
    >>> t = RoadNetworkTravel(g)
    >>> f = Points(np.array(["F"]), np.array([39.70]), np.array([141.15]))
    >>> i = Points(np.array(["I"]), np.array([39.70]), np.array([141.25]))
    >>> float(t.between(f, i, np.array([0]), np.array([0]))[0])
    10.0
    """

    name = "road_network"

    def __init__(self, graph: nx.Graph, weight: str = "travel_time", unit: str = "seconds",
                 access_speed_kmh: float = 20.0, batch: int = 256):
        if unit not in ("seconds", "minutes"):
            raise ValueError(f"unit must be 'seconds' or 'minutes', not {unit!r}")
        self.nodes = list(graph.nodes)
        index = {n: k for k, n in enumerate(self.nodes)}
        try:
            self.node_lat = np.array([float(graph.nodes[n]["y"]) for n in self.nodes])
            self.node_lon = np.array([float(graph.nodes[n]["x"]) for n in self.nodes])
        except KeyError as exc:
            raise ValueError(f"road graph nodes need 'x' (lon) and 'y' (lat) attributes; missing {exc}") from None
        scale = 1 / 60.0 if unit == "seconds" else 1.0
        rows, cols, mins = [], [], []
        for u, v, data in graph.edges(data=True):
            if weight not in data:
                raise ValueError(f"road graph edge {u}→{v} has no {weight!r} attribute")
            w = float(data[weight]) * scale
            for a, b in ((u, v),) if graph.is_directed() else ((u, v), (v, u)):
                rows.append(index[a])
                cols.append(index[b])
                mins.append(w)
        n = len(self.nodes)
        # Parallel edges (MultiDiGraph): keep the fastest.
        order = np.lexsort((np.array(mins), np.array(cols), np.array(rows))) if mins else np.array([], int)
        r, c, m = (np.array(x)[order] for x in (rows, cols, mins))
        first = np.ones(len(r), bool)
        if len(r):
            first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
        # Zero-time edges would vanish from a sparse matrix; give them a tiny weight.
        self.matrix = csr_matrix((np.maximum(m[first], 1e-9), (r[first], c[first])), shape=(n, n))
        self.tree = cKDTree(unit_vectors(self.node_lat, self.node_lon))
        self.access_speed_kmh = access_speed_kmh
        self.batch = batch

    @classmethod
    def from_graphml(cls, path: str | Path, **kwargs) -> RoadNetworkTravel:
        import networkx as nx

        return cls(nx.read_graphml(path), **kwargs)

    def _snap(self, pts: Points) -> tuple[np.ndarray, np.ndarray]:
        _, node = self.tree.query(unit_vectors(pts.lat, pts.lon))
        km = geodesic_km(pts.lat, pts.lon, self.node_lat[node], self.node_lon[node])
        return node, km / self.access_speed_kmh * 60.0

    def _times(self, fac, inst, limit):
        """Dense (institutions × facilities) minutes, computed in batches of sources."""
        fnode, faccess = self._snap(fac)
        inode, iaccess = self._snap(inst)
        out = np.full((len(inst), len(fac)), np.inf)
        for start in range(0, len(inst), self.batch):
            sl = slice(start, start + self.batch)
            d = dijkstra(self.matrix, directed=True, indices=inode[sl], limit=limit)
            out[sl] = d[:, fnode] + iaccess[sl, None] + faccess[None, :]
        return out

    def within(self, fac, inst, max_minutes):
        t = self._times(fac, inst, max_minutes)
        ii, fi = np.nonzero(t <= max_minutes)
        order = np.lexsort((ii, fi))
        return fi[order], ii[order], t[ii[order], fi[order]]

    def between(self, fac, inst, fi, ii):
        t = self._times(fac, inst, np.inf)
        return t[ii, fi]


class MatrixOverride:
    """Measured minutes (facility_id, institution_id, minutes) replace ``base`` pair by pair."""

    def __init__(self, base: TravelTimes, table: pd.DataFrame):
        self.base = base
        self.name = f"matrix+{base.name}"
        self.table = table.drop_duplicates(["facility_id", "institution_id"], keep="last")
        self._lookup = self.table.set_index(["facility_id", "institution_id"])["minutes"]

    def _override(self, fac, inst, fi, ii, minutes):
        if len(fi) == 0 or self._lookup.empty:
            return minutes
        keys = pd.MultiIndex.from_arrays([fac.ids[fi], inst.ids[ii]])
        measured = self._lookup.reindex(keys).to_numpy(float)
        return np.where(np.isnan(measured), minutes, measured)

    def within(self, fac, inst, max_minutes):
        fi, ii, m = self.base.within(fac, inst, max_minutes)
        m = self._override(fac, inst, fi, ii, m)
        # Measured pairs the base provider did not find (e.g. a ferry, a tunnel).
        fpos = pd.Series(np.arange(len(fac)), index=fac.ids)
        ipos = pd.Series(np.arange(len(inst)), index=inst.ids)
        t = self.table[self.table["facility_id"].isin(fpos.index) & self.table["institution_id"].isin(ipos.index)]
        t = t[t["minutes"] <= max_minutes]
        efi = fpos.reindex(t["facility_id"]).to_numpy(int)
        eii = ipos.reindex(t["institution_id"]).to_numpy(int)
        fi, ii, m = np.concatenate([fi, efi]), np.concatenate([ii, eii]), np.concatenate([m, t["minutes"].to_numpy(float)])
        pair = pd.DataFrame({"fi": fi, "ii": ii, "m": m}).drop_duplicates(["fi", "ii"], keep="first")
        pair = pair[pair["m"] <= max_minutes].sort_values(["fi", "ii"])
        return pair["fi"].to_numpy(int), pair["ii"].to_numpy(int), pair["m"].to_numpy(float)

    def between(self, fac, inst, fi, ii):
        return self._override(fac, inst, fi, ii, self.base.between(fac, inst, fi, ii))
