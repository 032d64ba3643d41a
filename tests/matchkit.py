"""Tiny hand-made regions for matching tests, placed on a local grid.

Positions are given in km east/north of a point in Morioka, so a test reads like
a sketch: ``fac("F1", "tokuyo", 0, 0)``, ``inst("H1", "hospital", 3, 0, "zaibyo")``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from matching.contract import load_region
from matching.region import Region

ORIGIN = (39.70, 141.15)
KM_PER_DEG_LAT = 110.95


def latlon(east_km: float, north_km: float) -> tuple[float, float]:
    lat = ORIGIN[0] + north_km / KM_PER_DEG_LAT
    lon = ORIGIN[1] + east_km / (KM_PER_DEG_LAT * math.cos(math.radians(ORIGIN[0])))
    return round(lat, 6), round(lon, 6)


def fac(fid: str, ftype: str, east: float, north: float, residents: int | str = 50,
        reported: bool = True, municipality: str = "03201") -> dict:
    lat, lon = latlon(east, north)
    return {"facility_id": fid, "name": f"テスト施設{fid}", "facility_type": ftype,
            "municipality_code": municipality, "lat": lat, "lon": lon, "residents": residents,
            "reported": "true" if reported else "false"}


def inst(iid: str, kind: str, east: float, north: float, designations: str = "", *,
         accepting: str = "true", capacity_facilities: int | str = "", capacity_residents: int | str = "",
         municipality: str = "03201", **extra) -> dict:
    lat, lon = latlon(east, north)
    row = {"institution_id": iid, "name": f"テスト機関{iid}", "kind": kind, "municipality_code": municipality,
           "lat": lat, "lon": lon, "beds": 100 if kind == "hospital" else "", "designations": designations,
           "consult_24h": "", "visit_24h": "", "admit": "", "accepting": accepting,
           "capacity_facilities": capacity_facilities, "capacity_residents": capacity_residents}
    row.update({k: v for k, v in extra.items()})
    return row


AREAS = [
    {"municipality_code": "03201", "municipality_name": "盛岡市", "secondary_area_code": "0301",
     "secondary_area_name": "盛岡", "prefecture_code": "03"},
    {"municipality_code": "03216", "municipality_name": "滝沢市", "secondary_area_code": "0301",
     "secondary_area_name": "盛岡", "prefecture_code": "03"},
    {"municipality_code": "03206", "municipality_name": "北上市", "secondary_area_code": "0302",
     "secondary_area_name": "岩手中部", "prefecture_code": "03"},
]


def _write(path: Path, rows: list[dict], columns: list[str]) -> None:
    cols = list(columns)
    for r in rows:
        cols += [k for k in r if k not in cols]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})


def make_region(folder: Path, facilities: list[dict], institutions: list[dict],
                partnerships: list[tuple[str, str, str]] = (), travel_times=None) -> Region:
    """Write the region's CSV files into ``folder`` and load them strictly."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "areas.csv", AREAS, list(AREAS[0]))
    _write(folder / "facilities.csv", facilities, list(fac("x", "gh", 0, 0)))
    _write(folder / "institutions.csv", institutions, list(inst("x", "clinic", 0, 0)))
    _write(folder / "partnerships.csv",
           [{"facility_id": f, "institution_id": i, "roles": r} for f, i, r in partnerships],
           ["facility_id", "institution_id", "roles"])
    if travel_times is not None:
        _write(folder / "travel_times.csv",
               [{"facility_id": f, "institution_id": i, "minutes": m} for f, i, m in travel_times],
               ["facility_id", "institution_id", "minutes"])
    return load_region(folder)


def pairs(result) -> set[tuple[str, str, str]]:
    """Proposals as a set of (facility, institution, roles) for exact assertions."""
    p = result.proposals
    return set(zip(p["facility_id"], p["institution_id"], p["roles"], strict=True))
