"""Municipal boundaries: is a place inside the municipality it claims?

A facility's coordinates decide which institutions are within reach, so a facility placed in
another town takes that town's capacity.  :class:`MunicipalBoundaries` reads the 国土数値情報
行政区域 (N03) polygons as GeoJSON — one feature per polygon, the 5-digit municipality code in
``N03_007`` — and tells, for a code and a point, how far outside that municipality the point
lies (0 inside).  The simplified files (1 %) move borders by a few hundred metres, hence a
tolerance.  A municipality the files do not cover cannot be checked (``None``), and says so.

>>> b = MunicipalBoundaries.from_geojson(BUNDLED[0])
>>> b.outside_km("03201", 39.7036, 141.1527)   # 盛岡市役所
0.0
>>> b.outside_km("03203", 39.7036, 141.1527) > 50  # 大船渡市 is on the coast
True
>>> b.outside_km("13101", 35.69, 139.75) is None   # not in the file: cannot be checked
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.ops import unary_union

REPO = Path(__file__).resolve().parents[1]
#: Bundled with the project: the demo prefecture's (岩手) boundaries, see ``data/boundaries/README.md``.
BUNDLED = (REPO / "data" / "boundaries" / "iwate_N03-21_s0010.geojson",)
#: The file ``matching import region`` writes into a region folder: that region's municipal boundaries.
REGION_FILE = "boundaries.geojson"
#: The credit the 国土数値情報 terms require wherever the boundaries are shown (data/boundaries/README.md).
CREDIT = "国土数値情報（行政区域データ）（国土交通省）を加工して作成"
#: Default tolerance for the 1 % simplified files (km).
TOLERANCE_KM = 1.0
#: Tolerance for the national 0.1 % simplified TopoJSON (borders move by up to a few km).
TOPOJSON_TOLERANCE_KM = 3.0
_KM_PER_DEG_LAT = 111.32


class MunicipalBoundaries:
    def __init__(self, polygons: dict[str, object]):
        self.polygons = polygons
        self._codes = list(polygons)
        self._tree = STRtree([polygons[c] for c in self._codes])

    @classmethod
    def from_geojson(cls, *paths: Path | str) -> MunicipalBoundaries:
        parts: dict[str, list] = {}
        for path in paths:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            for feature in data.get("features", []):
                code = (feature.get("properties") or {}).get("N03_007")
                if code and feature.get("geometry"):
                    parts.setdefault(str(code).zfill(5), []).append(shape(feature["geometry"]))
        return cls({code: unary_union(p) for code, p in parts.items()})

    @classmethod
    def from_topojson(cls, path: Path | str, prefix: str = "") -> MunicipalBoundaries:
        """The municipalities of a TopoJSON file (N03 properties, quantised arcs) whose code
        starts with ``prefix`` — e.g. the national 0.1 % file for a prefecture without its own
        GeoJSON (coarser: use :data:`TOPOJSON_TOLERANCE_KM`)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        t = data.get("transform")
        arcs = []
        for arc in data["arcs"]:
            if t:  # delta-encoded, quantised positions
                x = y = 0
                points = []
                for dx, dy in arc:
                    x, y = x + dx, y + dy
                    points.append((x * t["scale"][0] + t["translate"][0], y * t["scale"][1] + t["translate"][1]))
                arcs.append(points)
            else:
                arcs.append([tuple(p) for p in arc])

        def ring(indices: list[int]) -> list[tuple[float, float]]:
            out: list[tuple[float, float]] = []
            for i in indices:
                pts = arcs[i] if i >= 0 else arcs[~i][::-1]
                out.extend(pts[1:] if out else pts)
            return out

        parts: dict[str, list] = {}
        for obj in data["objects"].values():
            for g in obj.get("geometries", []):
                code = str((g.get("properties") or {}).get("N03_007") or "").zfill(5)
                if not code.strip("0") or not code.startswith(prefix):
                    continue
                polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"] if g["type"] == "MultiPolygon" else []
                for rings in polys:
                    coords = [ring(r) for r in rings]
                    if coords and len(coords[0]) >= 4:
                        poly = shape({"type": "Polygon", "coordinates": [c for c in coords if len(c) >= 4]})
                        parts.setdefault(code, []).append(poly if poly.is_valid else poly.buffer(0))
        return cls({code: unary_union(p) for code, p in parts.items()})

    @classmethod
    def from_paths(cls, paths: Iterable[Path | str]) -> MunicipalBoundaries:
        return cls.from_geojson(*paths)

    def write_geojson(self, path: Path | str, names: dict[str, str]) -> None:
        """The municipalities of ``names`` (code → name) as an N03-style GeoJSON file that
        :meth:`from_geojson` reads back (``N03_007`` code, ``N03_004`` name), coordinates to
        5 decimals (about 1 m, finer than the simplified source)."""
        import numpy as np
        from shapely import transform
        from shapely.geometry import mapping

        features = [{"type": "Feature", "properties": {"N03_007": code, "N03_004": name},
                     "geometry": mapping(transform(self.polygons[code], lambda xy: np.round(xy, 5)))}
                    for code, name in sorted(names.items()) if code in self.polygons]
        Path(path).write_text(json.dumps({"type": "FeatureCollection", "credit": CREDIT, "features": features},
                                         ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    def covers(self, municipality_code: str) -> bool:
        return municipality_code in self.polygons

    def outside_km(self, municipality_code: str, lat: float, lon: float) -> float | None:
        """Distance (km) from the point to the municipality, 0 inside; ``None`` if not covered."""
        poly = self.polygons.get(municipality_code)
        if poly is None:
            return None
        point = Point(lon, lat)
        if poly.contains(point):
            return 0.0
        # Degrees to km at this latitude (east-west degrees shrink with cos(lat)); an
        # approximation good to a few per cent over the few km that matter here.
        sx = math.cos(math.radians(lat))
        nearest = poly.boundary.interpolate(poly.boundary.project(point))
        dx, dy = (nearest.x - lon) * sx, nearest.y - lat
        return math.hypot(dx, dy) * _KM_PER_DEG_LAT

    def municipality_at(self, lat: float, lon: float) -> str | None:
        """The municipality whose polygon contains the point, if any."""
        point = Point(lon, lat)
        for i in self._tree.query(point, predicate="within"):
            return self._codes[int(i)]
        return None


def place_problem(boundaries: MunicipalBoundaries, municipality_code: str, lat: float, lon: float,
                  municipality_name: str = "", tolerance_km: float = TOLERANCE_KM) -> str | None:
    """A Japanese sentence saying why the point is not in the municipality, or ``None`` if it is
    (within the tolerance) or cannot be checked."""
    off = boundaries.outside_km(municipality_code, lat, lon)
    if off is None or off <= tolerance_km:
        return None
    other = boundaries.municipality_at(lat, lon)
    where = f"（市区町村コード {other} の区域内）" if other else ""
    name = municipality_name or municipality_code
    return f"座標 ({lat:.5f}, {lon:.5f}) が{name}の区域から {off:.1f} km 外れています{where}"
