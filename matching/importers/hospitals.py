"""Hospitals and bedded clinics of the 病床機能報告, with coordinates from 国土数値情報 P04.

Three published CSV files joined on ``record_id``:

* ``facility_basic.csv`` — name, municipality (name only, no code), 二次医療圏
  (``area_code``, ``area_name``);
* ``facility_functions.csv`` — one row per function flag (特定機能, 地域支援,
  三次救急, 二次救急, 在宅療養支援); a missing row means "not known", not "no";
* ``facility_geo_linkage.csv`` — ``latitude``/``longitude`` when
  ``match_status`` is ``matched`` (otherwise no coordinates), the P04 category
  (1 = hospital, 2 = clinic) and address.

>>> kind_from_record("2", "山田医院")
'clinic'
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from matching.importers.normalise import nfkc

HOSPITAL_COLUMNS = ["record_id", "name", "municipality_name", "area_code", "area_name", "lat", "lon",
                    "match_status", "p04_address", "kind", "functions", "beds"]


def kind_from_record(p04_category: str, name: str) -> str:
    """hospital or clinic: the P04 category when known (1 = 病院, 2 = 診療所), else the name.

    The 病床機能報告 lists hospitals and bedded clinics (有床診療所) without saying
    which; a name containing 病院 is a hospital (a clinic may not call itself 病院,
    医療法 Art. 3).

    >>> kind_from_record("", "峡南病院"), kind_from_record("", "宮下医院")
    ('hospital', 'clinic')
    """
    category = nfkc(p04_category)
    if category == "1":
        return "hospital"
    if category == "2":
        return "clinic"
    return "hospital" if "病院" in nfkc(name) else "clinic"


def read_hospitals(hospital_dir: str | Path, prefecture_code: str | None = None) -> pd.DataFrame:
    """The hospitals data of one prefecture (all when None), one row per record_id.

    Columns: record_id, name, municipality_name, area_code, area_name, lat and lon
    (NaN unless match_status is matched), match_status, p04_address, kind,
    functions (';'-separated function names, e.g. '二次救急;在宅療養支援') and beds
    (P04's 病床数 of the matched point, blank otherwise).  The three files are read once per
    process and kept (a national import reads them for every prefecture).

    >>> hosp = read_hospitals("/work/shared/data/open/hospitals", "19")  # doctest: +SKIP
    """
    folder = Path(hospital_dir)
    key = tuple((str((folder / n).resolve()), *_stamp(folder / n)) for n in FILES)
    out = _read_all(key)
    if prefecture_code is not None:
        # area_code is the 4-digit 二次医療圏 code; its first two digits are the prefecture.
        out = out[out["area_code"].str.startswith(prefecture_code)]
    return out.reset_index(drop=True).copy()


FILES = ("facility_basic.csv", "facility_geo_linkage.csv", "facility_functions.csv")


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=2)
def _read_all(key: tuple) -> pd.DataFrame:
    basic_path, geo_path, functions_path = (Path(k[0]) for k in key)

    def read(path: Path) -> pd.DataFrame:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        df.columns = [nfkc(c) for c in df.columns]
        return df

    basic = read(basic_path)
    geo = read(geo_path).set_index("record_id")
    functions = read(functions_path).groupby("record_id")["function_name"].agg(
        lambda names: ";".join(sorted(set(names))))

    out = pd.DataFrame({
        "record_id": basic["record_id"],
        "name": basic["facility_name"].map(nfkc),
        "municipality_name": basic["municipality"].map(nfkc),
        "area_code": basic["area_code"],
        "area_name": basic["area_name"].map(nfkc),
    }).reset_index(drop=True)
    g = geo.reindex(out["record_id"])
    matched = (g["match_status"] == "matched").to_numpy()
    out["lat"] = pd.to_numeric(g["latitude"], errors="coerce").where(matched).to_numpy()
    out["lon"] = pd.to_numeric(g["longitude"], errors="coerce").where(matched).to_numpy()
    out["match_status"] = g["match_status"].fillna("").to_numpy()
    out["p04_address"] = g["p04_address"].fillna("").map(nfkc).to_numpy()
    out["kind"] = [kind_from_record(c, n) for c, n in zip(g["p04_category"].fillna(""), out["name"], strict=True)]
    out["functions"] = out["record_id"].map(functions).fillna("")
    # Beds of the matched 国土数値情報 P04 point (blank when not matched or not stated).
    beds = pd.to_numeric(g["p04_beds"], errors="coerce").where(matched) if "p04_beds" in g else None
    out["beds"] = (pd.Series(beds.to_numpy(), dtype="Float64").round().astype("Int64") if beds is not None
                   else pd.Series(pd.NA, index=out.index, dtype="Int64"))
    out.loc[(out["beds"] <= 0).fillna(False), "beds"] = pd.NA
    return out[HOSPITAL_COLUMNS]
