"""The official list of municipalities: codes, office coordinates and 二次医療圏.

Two published tables, read as they are (``../shared/data/open/areas/``):

* ``localgovjp-utf8.csv`` — every municipal office (all 1,916 市区町村 and 政令市の区) with its
  6-digit code (``lgcode``, check digit included) and coordinates (国土地理院 / J-LIS, CC0);
* ``municipality_to_iryoken2.csv`` — 市区町村 → 二次医療圏 (5-digit ``muni_code``, 4-digit
  ``area_code``), the official areas (国土数値情報 A38).

Addresses and names are resolved against the *whole* list by the longest matching name, after
the normalisation of :func:`matching.importers.normalise.japanese_key` (駒ケ根市 = 駒ヶ根市): a
prefecture is removed only when it is one of the 47, a 郡 only when a municipality's name
follows it, so 長野市県町 is 長野市 and 北佐久郡立科町 is 立科町.

>>> table = MunicipalTable(pd.DataFrame({"code": ["20201", "20210", "20324"],
...     "name": ["長野市", "駒ヶ根市", "立科町"], "prefecture": ["長野県"] * 3,
...     "lat": [36.6, 35.7, 36.3], "lon": [138.2, 137.9, 138.3]}))
>>> table.code_of_address("長野県長野市大字県町５９３"), table.code_of_address("駒ケ根市赤穂1")
('20201', '20210')
>>> table.code_of_address("北佐久郡立科町芦田2532")
'20324'
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from matching.importers.normalise import PREFECTURES, japanese_key, nfkc, strip_prefecture

OFFICES_FILE = "localgovjp-utf8.csv"
AREAS_FILE = "municipality_to_iryoken2.csv"

#: Prefecture code (2 digits) → name, in JIS X 0401 order.
PREFECTURE_CODES: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(PREFECTURES, start=1)}


def _key(name: str) -> str:
    return japanese_key(name).replace(" ", "")


class MunicipalTable:
    """Municipalities (code, name, prefecture, office lat/lon, 二次医療圏) and name resolution."""

    def __init__(self, offices: pd.DataFrame, areas: pd.DataFrame | None = None):
        self.offices = offices.assign(key=offices["name"].map(_key)).set_index("code", drop=False)
        self.areas = (areas.set_index("code", drop=False) if areas is not None
                      else pd.DataFrame(columns=["code", "area_code", "area_name"]).set_index("code", drop=False))
        self._by_length = sorted(zip(self.offices["key"], self.offices["code"], strict=True),
                                 key=lambda kv: len(kv[0]), reverse=True)

    @classmethod
    def read(cls, folder: str | Path) -> MunicipalTable:
        """Both tables from a folder (the areas table is optional: without it no 二次医療圏 is known)."""
        folder = Path(folder)
        stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
                      for f in (folder / OFFICES_FILE, folder / AREAS_FILE))
        return _read_table(str(folder.resolve()), stamp)

    def __len__(self) -> int:
        return len(self.offices)

    @classmethod
    def _read(cls, folder: Path) -> MunicipalTable:
        raw = pd.read_csv(folder / OFFICES_FILE, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        offices = pd.DataFrame({
            "code": raw["lgcode"].str.zfill(6).str[:5], "name": raw["city"].map(nfkc),
            "prefecture": raw["pref"].map(nfkc),
            "lat": pd.to_numeric(raw["lat"], errors="coerce"), "lon": pd.to_numeric(raw["lng"], errors="coerce"),
        })
        areas = None
        if (folder / AREAS_FILE).exists():
            a = pd.read_csv(folder / AREAS_FILE, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            areas = pd.DataFrame({"code": a["muni_code"].str.zfill(5), "area_code": a["area_code"],
                                  "area_name": a["area_name"].map(nfkc)})
        return cls(offices, areas)

    def codes(self, prefecture_code: str) -> list[str]:
        return sorted(c for c in self.offices["code"] if c.startswith(prefecture_code))

    def name(self, code: str) -> str:
        return str(self.offices.at[code, "name"]).replace(" ", "") if code in self.offices.index else ""

    def office(self, code: str) -> tuple[float, float] | None:
        if code not in self.offices.index:
            return None
        lat, lon = self.offices.at[code, "lat"], self.offices.at[code, "lon"]
        return None if pd.isna(lat) or pd.isna(lon) else (float(lat), float(lon))

    def secondary_area(self, code: str) -> tuple[str, str] | None:
        if code not in self.areas.index:
            return None
        return str(self.areas.at[code, "area_code"]), str(self.areas.at[code, "area_name"])

    def _longest(self, text: str, prefecture_code: str | None) -> str | None:
        for key, code in self._by_length:
            if (prefecture_code is None or code.startswith(prefecture_code)) and text.startswith(key):
                return code
        return None

    def code_of_address(self, address: object, prefecture_code: str | None = None) -> str | None:
        """The municipality an address starts with (longest official name), or None.

        The prefecture (one of the 47) and a 郡 in front of the municipality are skipped.
        """
        # A building name sometimes comes first (「レインボーテラス内　長野市大字吉…」): the parts
        # after a space are tried in turn.
        parts = nfkc(address).split()
        for start in range(len(parts)):
            text = strip_prefecture(_key("".join(parts[start:])))
            found = self._longest(text, prefecture_code)
            if found:
                return found
            # 「南巨摩郡身延町…」: a 郡 followed by a municipality's name.
            for i, ch in enumerate(text[:8]):
                if ch == "郡" and i > 0:
                    found = self._longest(text[i + 1:], prefecture_code)
                    if found:
                        return found
        return None

    def code_of_name(self, name: object, prefecture_code: str | None = None) -> str | None:
        """The municipality called exactly ``name`` (after normalisation), else by address rules."""
        key = strip_prefecture(_key(str(name)))
        hits = [c for k, c in self._by_length if k == key and (prefecture_code is None or c.startswith(prefecture_code))]
        if len(hits) == 1:
            return hits[0]
        return self.code_of_address(name, prefecture_code)


@functools.lru_cache(maxsize=4)
def _read_table(folder: str, _stamp: tuple) -> MunicipalTable:
    """The tables of a folder, read once per process while the files are unchanged (read-only use)."""
    return MunicipalTable._read(Path(folder))
