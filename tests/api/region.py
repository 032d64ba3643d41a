"""A small region over two prefectures for the service tests.

岩手 (03): 盛岡市 03201 and 滝沢市 03216; 秋田 (05): 秋田市 05201.
"""

from __future__ import annotations

from pathlib import Path

from tests import matchkit
from tests.matchkit import _write, fac, inst

AREAS = [a for a in matchkit.AREAS if a["municipality_code"] in ("03201", "03216")] + [
    {"municipality_code": "05201", "municipality_name": "秋田市", "secondary_area_code": "0501",
     "secondary_area_name": "秋田周辺", "prefecture_code": "05"},
]

FACILITIES = [
    fac("F1", "tokuyo", 0, 0, municipality="03201"),            # lacks everything
    fac("F2", "roken", 1, 0, municipality="03201"),             # lacks ③ (has a clinic for ①②)
    fac("F3", "gh", 0, 2, municipality="03201", residents=18),  # lacks ①②
    fac("W1", "tokuyo", -3, 4, municipality="03216"),           # 滝沢: lacks everything
    {**fac("A1", "tokuyo", 0, 0), "municipality_code": "05201", "lat": 39.72, "lon": 140.10},
]

INSTITUTIONS = [
    inst("Z1", "hospital", 2, 0, "zaibyo", capacity_facilities=1, municipality="03201"),
    inst("Z2", "hospital", 4, 1, "zaibyo", capacity_facilities=3, municipality="03201"),
    inst("C1", "clinic", 0, 1, "zaishin", capacity_facilities=2, municipality="03201"),
    inst("H3", "hospital", -2, 3, "chiiki_houkatsu_ward", municipality="03216"),
    {**inst("AZ", "hospital", 0, 0, "zaibyo"), "municipality_code": "05201", "lat": 39.73, "lon": 140.11},
]

PARTNERSHIPS = [{"facility_id": "F2", "institution_id": "C1", "roles": "consult;visit"}]


def write_two_prefectures(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "areas.csv", AREAS, list(AREAS[0]))
    _write(folder / "facilities.csv", FACILITIES, list(FACILITIES[0]))
    _write(folder / "institutions.csv", INSTITUTIONS, list(INSTITUTIONS[0]))
    _write(folder / "partnerships.csv", PARTNERSHIPS, ["facility_id", "institution_id", "roles"])
    return folder
