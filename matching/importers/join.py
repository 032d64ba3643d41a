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
municipal office (see :mod:`matching.importers.region`).

>>> municipality_from_address("南巨摩郡身延町飯富１６２８", ["身延町", "甲府市"])
'身延町'
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from matching.importers.normalise import (
    japanese_key,
    normalise_address,
    normalise_name,
    strip_prefecture,
)

MIN_SUFFIX_LENGTH = 4
JOIN_TIERS = ("name", "name_suffix", "address")


def municipality_from_address(address: str, names: Iterable[str]) -> str | None:
    """The municipality an address starts with (the longest known name wins), or None.

    The prefecture and a 郡 (district) in front are skipped: 「南巨摩郡身延町…」 is 身延町.

    >>> municipality_from_address("山梨県甲府市丸の内１－１", ["甲府市", "甲斐市"])
    '甲府市'
    """
    text = strip_prefecture(japanese_key(address).replace(" ", ""))
    ordered = sorted({japanese_key(n): n for n in names}.items(), key=lambda kv: len(kv[0]), reverse=True)
    for candidate in (text, text.split("郡", 1)[1] if "郡" in text else None):
        if candidate:
            for key, name in ordered:
                if candidate.startswith(key):
                    return name
    return None


def _unique_pairs(left: pd.DataFrame, right: pd.DataFrame, key_left: str, key_right: str) -> dict[int, int]:
    """Pairs (left index → right index) whose (municipality, key) is unique on both sides."""
    lk = left[left[key_left] != ""].groupby(["_muni", key_left]).groups
    rk = right[right[key_right] != ""].groupby(["_muni", key_right]).groups
    return {li[0]: rk[k][0] for k, li in lk.items() if len(li) == 1 and k in rk and len(rk[k]) == 1}


def _suffix_pairs(left: pd.DataFrame, right: pd.DataFrame) -> dict[int, int]:
    candidates: dict[int, list[int]] = {}
    for li, lrow in left.iterrows():
        for ri, rrow in right[right["_muni"] == lrow["_muni"]].iterrows():
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
    def muni(df: pd.DataFrame) -> pd.Series:
        # The municipality code when both sides have one (resolved against the official list),
        # else the name.
        if "municipality_code" in filings and "municipality_code" in hospitals:
            return df["municipality_code"].fillna("")
        return df["municipality_name"].fillna("")

    left = filings.assign(_name=filings["name"].map(normalise_name),
                          _addr=filings["address"].map(normalise_address), _muni=muni(filings))
    right = hospitals.assign(_name=hospitals["name"].map(normalise_name),
                             _addr=hospitals["p04_address"].map(normalise_address), _muni=muni(hospitals))
    left, right = left[left["_muni"] != ""], right[right["_muni"] != ""]
    record = pd.Series("", index=filings.index, dtype=object)
    method = pd.Series("", index=filings.index, dtype=object)
    for tier in JOIN_TIERS:
        lfree, rfree = left[record[left.index] == ""], right[~right["record_id"].isin(set(record))]
        if tier == "name":
            pairs = _unique_pairs(lfree, rfree, "_name", "_name")
        elif tier == "name_suffix":
            pairs = _suffix_pairs(lfree, rfree)
        else:
            pairs = _unique_pairs(lfree, rfree, "_addr", "_addr")
        for li, ri in pairs.items():
            record[li], method[li] = right.at[ri, "record_id"], tier
    return filings.assign(hospital_record_id=record, join_method=method)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
