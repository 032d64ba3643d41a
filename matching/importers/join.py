"""Joining the 施設基準 list to the hospitals data, and placing what cannot be joined.

The 施設基準 list says *what* an institution filed (designations, beds) but not
*where* it is; the hospitals data (病床機能報告 + 国土数値情報) has coordinates
and the 二次医療圏 but covers only hospitals and bedded clinics.  The join is
conservative — a wrong coordinate is worse than an approximate one:

1. ``name``: the normalised names are equal, within the same municipality;
2. ``name_suffix``: one normalised name ends with the other (a corporation or
   prefix such as 独立行政法人国立病院機構 left on one side), the shorter has at
   least 4 characters, within the same municipality;
3. ``address``: the normalised addresses are equal (the hospitals data has an
   address only where 国土数値情報 was matched), within the same municipality.

Each tier accepts a pair only when it is unique on both sides, and a hospital
record is used once.  What stays unjoined is placed at its municipality's
centroid (:func:`municipality_centroids`) with ``location_approximate=true``.

>>> municipality_from_address("南巨摩郡身延町飯富１６２８", ["身延町", "甲府市"])
'身延町'
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from matching.importers.normalise import PREFECTURE_PATTERN, nfkc, normalise_address, normalise_name

MIN_SUFFIX_LENGTH = 4
JOIN_TIERS = ("name", "name_suffix", "address")


def municipality_from_address(address: str, names: Iterable[str]) -> str | None:
    """The municipality an address starts with (the longest known name wins), or None.

    The prefecture and a 郡 (district) in front are skipped: 「南巨摩郡身延町…」 is 身延町.

    >>> municipality_from_address("山梨県甲府市丸の内１－１", ["甲府市", "甲斐市"])
    '甲府市'
    """
    text = PREFECTURE_PATTERN.sub("", nfkc(address).replace(" ", "").replace("\u3000", ""))
    ordered = sorted(set(names), key=len, reverse=True)
    for candidate in (text, text.split("郡", 1)[1] if "郡" in text else None):
        if candidate:
            for name in ordered:
                if candidate.startswith(name):
                    return name
    return None


def _unique_pairs(left: pd.DataFrame, right: pd.DataFrame, key_left: str, key_right: str) -> dict[int, int]:
    """Pairs (left index → right index) whose (municipality, key) is unique on both sides."""
    lk = left[left[key_left] != ""].groupby(["municipality_name", key_left]).groups
    rk = right[right[key_right] != ""].groupby(["municipality_name", key_right]).groups
    return {li[0]: rk[k][0] for k, li in lk.items() if len(li) == 1 and k in rk and len(rk[k]) == 1}


def _suffix_pairs(left: pd.DataFrame, right: pd.DataFrame) -> dict[int, int]:
    candidates: dict[int, list[int]] = {}
    for li, lrow in left.iterrows():
        for ri, rrow in right[right["municipality_name"] == lrow["municipality_name"]].iterrows():
            a, b = lrow["_name"], rrow["_name"]
            short, long_ = sorted((a, b), key=len)
            if len(short) >= MIN_SUFFIX_LENGTH and long_.endswith(short):
                candidates.setdefault(li, []).append(ri)
    used = pd.Series([r for rs in candidates.values() for r in rs]).value_counts()
    return {li: rs[0] for li, rs in candidates.items() if len(rs) == 1 and used[rs[0]] == 1}


def join_to_hospitals(filings: pd.DataFrame, hospitals: pd.DataFrame) -> pd.DataFrame:
    """Link each institution of the 施設基準 list to at most one hospitals-data record.

    ``filings`` needs name, address and municipality_name; ``hospitals`` needs
    record_id, name, municipality_name and p04_address (as from
    :func:`matching.importers.hospitals.read_hospitals`).  Returns ``filings``
    with two more columns: ``hospital_record_id`` ('' when unjoined) and
    ``join_method`` (name, name_suffix, address or '').

    >>> f = pd.DataFrame({"name": ["医療法人　甲会　甲病院"], "address": ["甲府市1-1"], "municipality_name": ["甲府市"]})
    >>> h = pd.DataFrame({"record_id": ["R1"], "name": ["甲病院"], "municipality_name": ["甲府市"], "p04_address": [""]})
    >>> join_to_hospitals(f, h)[["hospital_record_id", "join_method"]].values.tolist()
    [['R1', 'name']]
    """
    left = filings.assign(_name=filings["name"].map(normalise_name),
                          _addr=filings["address"].map(normalise_address))
    right = hospitals.assign(_name=hospitals["name"].map(normalise_name),
                             _addr=hospitals["p04_address"].map(normalise_address))
    record = pd.Series("", index=left.index, dtype=object)
    method = pd.Series("", index=left.index, dtype=object)
    for tier in JOIN_TIERS:
        lfree, rfree = left[record == ""], right[~right["record_id"].isin(set(record))]
        if tier == "name":
            pairs = _unique_pairs(lfree, rfree, "_name", "_name")
        elif tier == "name_suffix":
            pairs = _suffix_pairs(lfree, rfree)
        else:
            pairs = _unique_pairs(lfree, rfree, "_addr", "_addr")
        for li, ri in pairs.items():
            record[li], method[li] = right.at[ri, "record_id"], tier
    return filings.assign(hospital_record_id=record, join_method=method)


def municipality_centroids(*point_sets: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Mean (lat, lon) per municipality_code, from the first point set that has points there.

    Called as ``municipality_centroids(facilities, hospitals)``: a municipality's
    centroid is the mean of its care facilities' coordinates, or of its hospitals'
    when it has no facility.  Rows without coordinates are ignored.
    """
    centroids: dict[str, tuple[float, float]] = {}
    for points in point_sets:
        located = points.dropna(subset=["lat", "lon"])
        located = located[located["municipality_code"].fillna("") != ""]
        for code, group in located.groupby("municipality_code"):
            centroids.setdefault(str(code), (float(group["lat"].mean()), float(group["lon"].mean())))
    return centroids


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def assign_secondary_areas(municipality_codes: Iterable[str], hospitals: pd.DataFrame,
                           centroids: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """The 二次医療圏 of each municipality.

    The area most of the municipality's hospital records are in (ties: the lowest
    area code); a municipality with no hospital gets the area whose hospitals'
    mean position is nearest to the municipality's centroid.  ``hospitals`` needs
    municipality_code, area_code, area_name, lat, lon.  Returns municipality_code,
    secondary_area_code, secondary_area_name and ``area_method`` (majority,
    nearest or '' when neither was possible).
    """
    names = hospitals.drop_duplicates("area_code").set_index("area_code")["area_name"].to_dict()
    located = hospitals.dropna(subset=["lat", "lon"])
    area_points = {code: (g["lat"].mean(), g["lon"].mean()) for code, g in located.groupby("area_code")}
    rows = []
    for code in municipality_codes:
        here = hospitals[hospitals["municipality_code"] == code]
        if len(here):
            counts = here["area_code"].value_counts()
            area = min(a for a, n in counts.items() if n == counts.max())
            method = "majority"
        elif code in centroids and area_points:
            area = min(area_points, key=lambda a: (distance_km(centroids[code], area_points[a]), a))  # noqa: B023
            method = "nearest"
        else:
            area, method = "", ""
        rows.append({"municipality_code": code, "secondary_area_code": area,
                     "secondary_area_name": names.get(area, ""), "area_method": method})
    return pd.DataFrame(rows, columns=["municipality_code", "secondary_area_code",
                                       "secondary_area_name", "area_method"])
