"""Build a region folder (the data contract) from the open data of one prefecture.

>>> report = build_region("19", sorted(Path("../shared/data/open/kaigo").glob("*.csv")),
...                       "../shared/data/open/hospitals",
...                       ["../shared/data/open/shisetsu_kijun/19_yamanashi.xlsx"], "out/yamanashi")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from matching import safecells
from matching.contract import load_region
from matching.contract.schema import INSTITUTIONS, PARTNERSHIPS
from matching.importers.hospitals import HOSPITAL_COLUMNS, read_hospitals
from matching.importers.join import (
    JOIN_TIERS,
    assign_secondary_areas,
    join_to_hospitals,
    municipality_centroids,
    municipality_from_address,
)
from matching.importers.kaigo import parse_kaigo
from matching.importers.normalise import nfkc
from matching.importers.report import ImportReport, Issue, raise_if_strict
from matching.importers.shisetsu_kijun import parse_shisetsu_kijun

#: Function flag of the 病床機能報告 → designation, for hospitals-data records with no filing.
#: The flag does not say whether the institution is 機能強化型, so the basic designation is used.
FUNCTION_DESIGNATIONS = {"在宅療養支援": {"hospital": "zaibyo", "clinic": "zaishin"}}

#: Secondary area given when no hospitals data can place a municipality (reported as info).
UNKNOWN_AREA_NAME = "二次医療圏不明"

Geocoder = Callable[[str], "tuple[float, float] | None"]


def build_region(prefecture_code: str, kaigo_files: Iterable[str | Path], hospital_dir: str | Path | None,
                 shisetsu_files: Iterable[str | Path], out_dir: str | Path, *, strict: bool = False,
                 municipalities: Mapping[str, str] | None = None,
                 geocode: Geocoder | None = None) -> ImportReport:
    """Import one prefecture's open data and write a region folder that loads strictly.

    Writes areas.csv, facilities.csv, institutions.csv, partnerships.csv (header
    only: partnership data is not public), import_report.json and
    import_unmatched.csv into ``out_dir``, and checks the folder with
    ``load_region(out_dir)``.

    * ``prefecture_code`` — 2 digits, e.g. "19" (山梨県); rows of other prefectures are ignored.
    * ``kaigo_files`` — 介護サービス情報公表 CSV files (any prefectures; national files are fine).
    * ``hospital_dir`` — folder with facility_basic.csv, facility_functions.csv and
      facility_geo_linkage.csv (None: no hospitals data, every institution is placed at a centroid).
    * ``shisetsu_files`` — 届出受理医療機関名簿 xlsx files of the prefecture.
    * ``strict`` — any bad row stops the import (nothing is written) with
      :class:`ImportValidationError` listing all of them; lenient (default) skips
      bad rows and lists them in the report.
    * ``municipalities`` — extra {municipality name: 5-digit code} for places the
      kaigo data does not name (the hospitals data and the 施設基準 list carry names only).
    * ``geocode`` — optional function address → (lat, lon) tried before the
      centroid for institutions that could not be joined, e.g. a geopy geocoder
      wrapped by the caller.  Off by default: the import works offline.

    Every facility gets ``reported=false`` (no annual report on file), every
    institution blank role flags (derived from designations), blank
    ``accepting`` and blank capacities: unknown facts stay unknown.
    """
    pref = nfkc(prefecture_code).zfill(2)
    out = Path(out_dir)
    kaigo_files, shisetsu_files = [Path(f) for f in kaigo_files], [Path(f) for f in shisetsu_files]
    issues: list[Issue] = []

    facilities, kaigo_municipalities, kaigo_issues = parse_kaigo(kaigo_files, pref)
    issues += kaigo_issues
    hospitals = (read_hospitals(hospital_dir, pref) if hospital_dir is not None
                 else pd.DataFrame(columns=HOSPITAL_COLUMNS))
    filings, filing_issues = parse_shisetsu_kijun(shisetsu_files)
    issues += filing_issues

    # Municipality name → code: the kaigo data is the only published source of codes here.
    code_of = dict(zip(kaigo_municipalities["municipality_name"], kaigo_municipalities["municipality_code"],
                       strict=True))
    code_of.update({nfkc(name): nfkc(code) for name, code in (municipalities or {}).items()})
    name_of = {code: name for name, code in code_of.items()}

    filings["municipality_name"] = [municipality_from_address(a, code_of) or "" for a in filings["address"]]
    hospitals = hospitals.assign(municipality_code=hospitals["municipality_name"].map(code_of).fillna(""))

    filings = join_to_hospitals(filings, hospitals)
    centroids = municipality_centroids(facilities, hospitals)
    institutions, inst_issues = _institutions(pref, filings, hospitals, code_of, centroids, geocode)
    issues += inst_issues

    used = sorted(set(facilities["municipality_code"]) | set(institutions["municipality_code"]))
    areas = assign_secondary_areas(used, hospitals, centroids)
    unknown = areas["secondary_area_code"] == ""
    for code in areas.loc[unknown, "municipality_code"]:
        issues.append(Issue("info", "areas", 0, code, name_of.get(code, ""),
                            "no hospital or centroid to place the municipality in a 二次医療圏",
                            f"secondary_area_code {pref}00 ({UNKNOWN_AREA_NAME})"))
    areas.loc[unknown, "secondary_area_code"] = f"{pref}00"
    areas.loc[unknown, "secondary_area_name"] = UNKNOWN_AREA_NAME
    areas.insert(1, "municipality_name", areas["municipality_code"].map(name_of))
    areas["prefecture_code"] = pref

    raise_if_strict(issues, strict)  # all-or-nothing: nothing has been written yet

    report = _report(pref, facilities, institutions, filings, hospitals, areas, issues,
                     [str(f) for f in [*kaigo_files, *shisetsu_files]] + ([str(hospital_dir)] if hospital_dir else []))
    _write(out, areas, facilities, institutions)
    report.write(out)
    load_region(out, strict=True)  # the folder must satisfy the contract; raises if not
    return report


def _institutions(pref: str, filings: pd.DataFrame, hospitals: pd.DataFrame, code_of: Mapping[str, str],
                  centroids: Mapping[str, tuple[float, float]],
                  geocode: Geocoder | None) -> tuple[pd.DataFrame, list[Issue]]:
    """Contract institutions: every filing institution, then every hospitals-data record without one."""
    issues: list[Issue] = []
    record = hospitals.set_index("record_id")
    rows: list[dict] = []

    def place(row: dict, lat, lon, address: str, source: str, srow: int, key: str, unjoined: str) -> bool:
        """Exact coordinates, else geocoded, else the municipality centroid; False when none."""
        if pd.notna(lat) and pd.notna(lon):
            row.update(lat=float(lat), lon=float(lon), location_approximate=False)
            return True
        point = geocode(address) if (geocode and address) else None
        if point:
            row.update(lat=point[0], lon=point[1], location_approximate=False, join_method="geocoded")
            issues.append(Issue("unmatched", source, srow, key, row["name"], unjoined, "geocoded from the address"))
            return True
        if row["municipality_code"] in centroids:
            lat, lon = centroids[row["municipality_code"]]
            row.update(lat=lat, lon=lon, location_approximate=True)
            issues.append(Issue("unmatched", source, srow, key, row["name"], unjoined,
                                "placed at the municipality centroid (location_approximate=true)"))
            return True
        issues.append(Issue("error", source, srow, key, row["name"],
                            f"{unjoined}; no coordinates and no centroid for municipality {row['municipality_code']}",
                            "skipped"))
        return False

    for f in filings.to_dict("records"):
        file, srow = f["source"].rsplit(":", 1)
        if not f["municipality_name"]:
            issues.append(Issue("error", file, int(srow), f["institution_number"], f["name"],
                                f"municipality of address {f['address']!r} not in the kaigo data (no code)",
                                "skipped"))
            continue
        rec = record.loc[f["hospital_record_id"]] if f["hospital_record_id"] else None
        row = {
            # The national 医療機関コード: prefecture, 点数表 1 (医科), 7-digit 医療機関番号.
            "institution_id": f"{pref}1{f['institution_number']}", "name": f["name"], "kind": f["kind"],
            "municipality_code": code_of[f["municipality_name"]], "beds": f["beds"],
            "designations": ";".join(sorted(f["designations"])), "designation_source": "施設基準",
            "institution_number": f["institution_number"], "address": f["address"],
            "join_method": f["join_method"], "hospital_record_id": f["hospital_record_id"],
            "functions": "" if rec is None else rec["functions"],
        }
        lat, lon = (rec["lat"], rec["lon"]) if rec is not None else (None, None)
        why = ("not found in the hospitals data" if rec is None
               else f"joined to {f['hospital_record_id']} ({f['join_method']}), which has no coordinates")
        if place(row, lat, lon, f"{f['address']}", file, int(srow), f["institution_number"], why):
            rows.append(row)

    joined = set(filings["hospital_record_id"]) - {""}
    for h in hospitals[~hospitals["record_id"].isin(joined)].to_dict("records"):
        if not h["municipality_code"]:
            issues.append(Issue("error", "facility_basic.csv", 0, h["record_id"], h["name"],
                                f"municipality {h['municipality_name']!r} not in the kaigo data (no code)",
                                "skipped"))
            continue
        designations = sorted(FUNCTION_DESIGNATIONS[fn][h["kind"]]
                              for fn in h["functions"].split(";") if fn in FUNCTION_DESIGNATIONS)
        row = {
            "institution_id": h["record_id"], "name": h["name"], "kind": h["kind"],
            "municipality_code": h["municipality_code"], "beds": None,
            "designations": ";".join(designations), "designation_source": "病床機能報告" if designations else "",
            "institution_number": "", "address": h["p04_address"], "join_method": "",
            "hospital_record_id": h["record_id"], "functions": h["functions"],
        }
        issues.append(Issue("unmatched", "facility_basic.csv", 0, h["record_id"], h["name"],
                            "no institution of the 施設基準 list joined to this record",
                            f"imported as a {h['kind']} with designations from its function flags"
                            f" ({row['designations'] or 'none'})"))
        if place(row, h["lat"], h["lon"], h["p04_address"], "facility_basic.csv", 0, h["record_id"],
                 "hospitals-data record without coordinates"):
            rows.append(row)

    contract = [c.name for c in INSTITUTIONS.columns if c.required]
    extra = ["location_approximate", "designation_source", "institution_number", "address",
             "join_method", "hospital_record_id", "functions"]
    df = pd.DataFrame(rows).reindex(columns=contract + extra)
    df["beds"] = df["beds"].astype("Int64")
    return df.sort_values("institution_id").reset_index(drop=True), issues


def _report(pref: str, facilities: pd.DataFrame, institutions: pd.DataFrame, filings: pd.DataFrame,
            hospitals: pd.DataFrame, areas: pd.DataFrame, issues: list[Issue], sources: list[str]) -> ImportReport:
    desig = Counter(d for ds in institutions["designations"] for d in ds.split(";") if d)
    desig["none"] = int((institutions["designations"] == "").sum())
    method = filings["join_method"].value_counts()
    matched = int((filings["join_method"] != "").sum())
    hospital_filings = filings["kind"] == "hospital"
    join = {
        "filing_institutions": len(filings),
        **{f"matched_by_{t}": int(method.get(t, 0)) for t in JOIN_TIERS},
        "matched": matched,
        "match_rate": round(matched / len(filings), 4) if len(filings) else 0.0,
        "hospital_filings": int(hospital_filings.sum()),
        "hospital_match_rate": (round(float((filings.loc[hospital_filings, "join_method"] != "").mean()), 4)
                                if hospital_filings.any() else 0.0),
        "hospital_records": len(hospitals),
        "hospital_records_joined": int(hospitals["record_id"].isin(set(filings["hospital_record_id"])).sum()),
        "placed_at_centroid": int(institutions["location_approximate"].sum()),
    }
    return ImportReport(
        prefecture_code=pref,
        facilities_by_type=dict(sorted(Counter(facilities["facility_type"]).items())),
        institutions_by_kind=dict(sorted(Counter(institutions["kind"]).items())),
        institutions_by_designation=dict(sorted(desig.items())),
        municipalities=len(areas),
        secondary_areas=dict(zip(areas["municipality_code"], areas["area_method"].replace("", "unknown"),
                                 strict=True)),
        join=join, issues=sorted(issues), sources=sources,
    )


def _write(out: Path, areas: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame) -> None:
    out.mkdir(parents=True, exist_ok=True)
    safecells.to_csv(areas.drop(columns="area_method"), out / "areas.csv", index=False)
    fac = facilities.assign(reported=facilities["reported"].map({True: "true", False: "false"}))
    safecells.to_csv(fac, out / "facilities.csv", index=False, float_format="%.7f")
    inst = institutions.assign(location_approximate=institutions["location_approximate"].map(
        {True: "true", False: "false"}))
    safecells.to_csv(inst, out / "institutions.csv", index=False, float_format="%.7f")
    pd.DataFrame(columns=[c.name for c in PARTNERSHIPS.columns]).to_csv(out / "partnerships.csv", index=False)
