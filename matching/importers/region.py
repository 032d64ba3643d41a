"""Build a region folder (the data contract) from the open data of one prefecture.

>>> report = build_region("19", sorted(Path("../shared/data/open/kaigo").glob("*.csv")),
...                       "../shared/data/open/hospitals",
...                       ["../shared/data/open/shisetsu_kijun/19_yamanashi.xlsx"], "out/yamanashi")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from matching import safecells
from matching.boundaries import (
    REGION_FILE,
    TOLERANCE_KM,
    TOPOJSON_TOLERANCE_KM,
    MunicipalBoundaries,
    place_problem,
)
from matching.contract import load_region
from matching.contract.schema import INSTITUTIONS, PARTNERSHIPS
from matching.importers.hospitals import HOSPITAL_COLUMNS, read_hospitals
from matching.importers.join import (
    JOIN_TIERS,
    distance_km,
    join_to_hospitals,
    municipality_from_address,
)
from matching.importers.kaigo import parse_kaigo
from matching.importers.municipalities import OFFICES_FILE, PREFECTURE_CODES, MunicipalTable
from matching.importers.normalise import nfkc
from matching.importers.report import ImportInputError, ImportReport, Issue, raise_if_strict
from matching.importers.shisetsu_kijun import parse_shisetsu_kijun

#: Function flag of the 病床機能報告 → designation, for hospitals-data records with no filing.
#: The flag does not say whether the institution is 機能強化型, so the basic designation is used.
FUNCTION_DESIGNATIONS = {"在宅療養支援": {"hospital": "zaibyo", "clinic": "zaishin"}}

#: Without a 施設基準 list (hospitals only): function flags that make a hospital an admitting
#: hospital (``admit=true``) although they are no designation of the vocabulary — 二次救急 and
#: 三次救急 hospitals take emergency admissions around the clock, and a 地域医療支援病院 (地域支援)
#: must keep beds and emergency care for the community's doctors (医療法 Art. 4, 16-2).
#: 特定機能 alone gives no role (advanced care, not the local back-up bed).
ADMIT_FUNCTIONS = ("二次救急", "三次救急", "地域支援")

#: The region-level note of a region built without clinics (read by the loader, see the contract).
SCOPE_FILE = "region_scope.json"

#: Secondary area given when the official table does not list a municipality (reported).
UNKNOWN_AREA_NAME = "二次医療圏不明"

#: Uncertainty radius (km) of points taken from a publication (geocoded addresses: a building).
SOURCE_RADIUS_KM = {"source": 0.1, "joined": 0.1, "other": 0.5}
#: Radius (km) of a point at a municipal office when the municipality's boundary is unknown.
DEFAULT_OFFICE_RADIUS_KM = 5.0
#: With the coarse national boundaries, a point in no municipality (sea: a dropped island) within
#: this distance of its own municipality is kept where it is.
COARSE_SEA_KM = 10.0
#: Without a boundary, a point farther than this from its municipal office is moved to the office.
OFFICE_MAX_KM = 30.0

Geocoder = Callable[[str], "tuple[float, float] | None"]


def find_open_data(hospital_dir: str | Path | None, prefecture_code: str) -> tuple[Path | None, list[Path]]:
    """The official municipal tables folder and the boundary files next to a hospitals folder
    laid out like ``../shared/data/open`` (``areas/``, ``boundaries/geojson_s0010_N03-21_{pref}_*.json``)."""
    if hospital_dir is None:
        return None, []
    root = Path(hospital_dir).resolve().parent
    areas = root / "areas"
    boundaries = sorted((root / "boundaries").glob(f"geojson_s0010_N03-21_{prefecture_code}_*.json"))
    if not boundaries:  # the national file (coarser), for the prefectures without their own
        boundaries = sorted((root / "boundaries").glob("topojson_s0001_N03-21_*.json"))[:1]
    return (areas if (areas / OFFICES_FILE).exists() else None), boundaries


class Locator:
    """Checks a point against its municipality and gives the municipal office as the fallback.

    Inside the municipality's boundary (within the tolerance of the simplified files), or, where
    no boundary is known, within :data:`OFFICE_MAX_KM` of its office.  A point at the office
    carries the municipality's equivalent radius (√(area/π)) as its uncertainty.
    """

    def __init__(self, table: MunicipalTable, boundaries: MunicipalBoundaries | None,
                 tolerance_km: float = TOLERANCE_KM, office_max_km: float = OFFICE_MAX_KM, coarse: bool = False):
        self.table, self.boundaries, self.coarse = table, boundaries, coarse
        self.tolerance_km, self.office_max_km = tolerance_km, office_max_km

    def radius_km(self, code: str) -> float:
        poly = self.boundaries.polygons.get(code) if self.boundaries else None
        if poly is None:
            return DEFAULT_OFFICE_RADIUS_KM
        lat = poly.centroid.y
        area_km2 = poly.area * 111.32 ** 2 * math.cos(math.radians(lat))
        return round(math.sqrt(area_km2 / math.pi), 1)

    def problem(self, code: str, lat: float, lon: float) -> str | None:
        """A Japanese sentence when the point is not in the municipality, else None."""
        name = self.table.name(code)
        if self.boundaries is not None and self.boundaries.covers(code):
            problem = place_problem(self.boundaries, code, lat, lon, name, self.tolerance_km)
            if problem and self.coarse and self.boundaries.municipality_at(lat, lon) is None:
                # The coarse national file drops small islands and coves: a point in no
                # municipality at all, near its own, is kept.
                off = self.boundaries.outside_km(code, lat, lon)
                if off is not None and off <= COARSE_SEA_KM:
                    return None
            return problem
        office = self.table.office(code)
        if office is not None:
            d = distance_km(office, (lat, lon))
            if d > self.office_max_km:
                return f"座標 ({lat:.5f}, {lon:.5f}) が{name}の役場から {d:.1f} km 離れています（境界データなし）"
        return None

    def office(self, code: str) -> dict | None:
        point = self.table.office(code)
        if point is None:
            return None
        return {"lat": point[0], "lon": point[1], "location_source": "office",
                "location_radius_km": self.radius_km(code)}


def build_region(prefecture_code: str, kaigo_files: Iterable[str | Path], hospital_dir: str | Path | None,
                 shisetsu_files: Iterable[str | Path], out_dir: str | Path, *, strict: bool = False,
                 municipalities: Mapping[str, str] | None = None,
                 geocode: Geocoder | None = None, areas_dir: str | Path | None = None,
                 boundaries: Iterable[str | Path] | None = None) -> ImportReport:
    """Import one prefecture's open data and write a region folder that loads strictly.

    Writes areas.csv, facilities.csv, institutions.csv, partnerships.csv (header
    only: partnership data is not public), import_report.json and
    import_unmatched.csv into ``out_dir``, and checks the folder with
    ``load_region(out_dir)``.

    * ``prefecture_code`` — 2 digits, e.g. "19" (山梨県); rows of other prefectures are ignored.
    * ``kaigo_files`` — 介護サービス情報公表 CSV files (any prefectures; national files are fine).
    * ``hospital_dir`` — folder with facility_basic.csv, facility_functions.csv and
      facility_geo_linkage.csv (None: no hospitals data, institutions are placed at their office).
    * ``shisetsu_files`` — 届出受理医療機関名簿 xlsx files of the prefecture.  None (an empty
      list): the region has the 病床機能報告's hospitals only, with designations and ③ from its
      function flags (see :func:`_institutions`), and says in ``region_scope.json`` that its
      clinics are not loaded.
    * ``areas_dir`` — folder with the official ``localgovjp-utf8.csv`` (every municipality's code
      and office) and ``municipality_to_iryoken2.csv`` (市区町村 → 二次医療圏); default: ``areas/``
      beside ``hospital_dir``.  Required.
    * ``boundaries`` — N03 GeoJSON files of the prefecture's municipal boundaries; default:
      ``boundaries/geojson_s0010_N03-21_{pref}_*.json`` beside ``hospital_dir``.  Without them a
      point is checked against its distance to the municipal office.
    * ``strict`` — any bad row stops the import (nothing is written) with
      :class:`ImportValidationError` listing all of them; lenient (default) skips
      bad rows and lists them in the report.
    * ``municipalities`` — extra {municipality name: 5-digit code} tried before the official list.
    * ``geocode`` — optional function address → (lat, lon) tried before the
      municipal office for institutions that could not be joined.  Off by default.

    Raises :class:`ImportInputError` (nothing written) when the prefecture code is unknown, a
    file belongs to another prefecture, or a table ends up empty.
    """
    pref = nfkc(prefecture_code).zfill(2)
    shisetsu_files = [Path(f) for f in shisetsu_files]
    clinics_loaded = bool(shisetsu_files)  # without a 施設基準 list: hospitals only
    if pref not in PREFECTURE_CODES:
        raise ImportInputError(f"都道府県コード {prefecture_code!r} は存在しません（01〜47 の2桁で指定してください）")
    pref_name = PREFECTURE_CODES[pref]
    out = Path(out_dir)
    kaigo_files = [Path(f) for f in kaigo_files]
    found_areas, found_boundaries = find_open_data(hospital_dir, pref)
    areas_dir = Path(areas_dir) if areas_dir is not None else found_areas
    if areas_dir is None or not (areas_dir / OFFICES_FILE).exists():
        raise ImportInputError(f"市区町村の公式一覧 {OFFICES_FILE} が見つかりません（--areas で"
                               f" localgovjp-utf8.csv と municipality_to_iryoken2.csv のあるフォルダを指定してください）")
    table = MunicipalTable.read(areas_dir)
    if not table.codes(pref):
        raise ImportInputError(f"{OFFICES_FILE} に{pref_name}（{pref}）の市区町村がありません")
    boundary_files = [Path(b) for b in boundaries] if boundaries is not None else found_boundaries
    bounds, tolerance = _read_boundaries(boundary_files, pref)
    locator = Locator(table, bounds, tolerance_km=tolerance, coarse=tolerance == TOPOJSON_TOLERANCE_KM)
    issues: list[Issue] = []

    facilities, _, kaigo_issues = parse_kaigo(kaigo_files, pref)
    issues += kaigo_issues
    if facilities.empty:
        raise ImportInputError(f"介護サービス情報公表のファイル（{', '.join(f.name for f in kaigo_files)}）に"
                               f"{pref_name}（{pref}）の施設が1件もありません。都道府県コードとファイルを確認してください")
    hospitals = (read_hospitals(hospital_dir, pref) if hospital_dir is not None
                 else pd.DataFrame(columns=HOSPITAL_COLUMNS))
    if hospital_dir is not None and hospitals.empty:
        raise ImportInputError(f"病床機能報告（{hospital_dir}）に{pref_name}（{pref}）の医療機関が1件もありません")
    filings, filing_issues = parse_shisetsu_kijun(shisetsu_files)
    issues += filing_issues

    extra = {nfkc(name): nfkc(code) for name, code in (municipalities or {}).items()}

    def code_of_address(address: str, in_pref: bool = True) -> str:
        name = municipality_from_address(address, extra) if extra else None
        if name:
            return extra[name]
        return table.code_of_address(address, pref if in_pref else None) or ""

    filings["municipality_code"] = [code_of_address(a) for a in filings["address"]]
    _check_filing_files(filings, lambda a: code_of_address(a, in_pref=False), pref)
    hospitals = hospitals.assign(municipality_code=[
        (table.code_of_name(n, pref) if n else None) or table.code_of_address(a, pref) or ""
        for n, a in zip(hospitals["municipality_name"], hospitals["p04_address"], strict=True)])

    facilities, fac_issues = _locate_facilities(facilities, table, locator)
    issues += fac_issues
    filings = join_to_hospitals(filings, hospitals)
    institutions, inst_issues = _institutions(pref, filings, hospitals, table, locator, geocode,
                                              lambda a: code_of_address(a, in_pref=False),
                                              hospitals_only=not clinics_loaded)
    issues += inst_issues
    if institutions.empty:
        raise ImportInputError(f"{pref_name}（{pref}）の医療機関が1件も取り込めませんでした"
                               f"（施設基準の名簿: {', '.join(f.name for f in shisetsu_files) or 'なし'}）")

    used = sorted(set(facilities["municipality_code"]) | set(institutions["municipality_code"]))
    areas, area_method = [], {}
    for code in used:
        official = table.secondary_area(code)
        if official is None:
            issues.append(Issue("error", "municipality_to_iryoken2.csv", 0, code, table.name(code),
                                "the official table has no 二次医療圏 for this municipality",
                                f"secondary_area_code {pref}00 ({UNKNOWN_AREA_NAME})"))
            official = (f"{pref}00", UNKNOWN_AREA_NAME)
        area_method[code] = "official" if official[0] != f"{pref}00" else "missing"
        areas.append({"municipality_code": code, "municipality_name": table.name(code),
                      "secondary_area_code": official[0], "secondary_area_name": official[1],
                      "prefecture_code": pref})
    areas = pd.DataFrame(areas)

    raise_if_strict(issues, strict)  # all-or-nothing: nothing has been written yet

    report = _report(pref, facilities, institutions, filings, hospitals, areas, area_method, issues,
                     [str(f) for f in [*kaigo_files, *shisetsu_files]] + ([str(hospital_dir)] if hospital_dir else [])
                     + [str(areas_dir)] + [str(b) for b in boundary_files])
    report.clinics_loaded = clinics_loaded
    _write(out, areas, facilities, institutions)
    write_scope(out, clinics_loaded)
    if bounds is not None:  # the page's offline base map for this region (matching serve --region)
        bounds.write_geojson(out / REGION_FILE, {a["municipality_code"]: a["municipality_name"]
                                                     for a in areas.to_dict("records")})
    report.write(out)
    load_region(out, strict=True)  # the folder must satisfy the contract; raises if not
    return report


def _read_boundaries(files: list[Path], pref: str) -> tuple[MunicipalBoundaries | None, float]:
    """GeoJSON files as they are; a TopoJSON file (the national one) for the prefecture's
    municipalities, with the wider tolerance of its coarser simplification."""
    geo = [f for f in files if "topojson" not in f.name]
    topo = [f for f in files if "topojson" in f.name]
    polygons: dict = {}
    if topo:
        for f in topo:
            polygons.update(MunicipalBoundaries.from_topojson(f, pref).polygons)
    if geo:
        polygons.update(MunicipalBoundaries.from_geojson(*geo).polygons)
    if not polygons:
        return None, TOLERANCE_KM
    return MunicipalBoundaries(polygons), (TOPOJSON_TOLERANCE_KM if topo and not geo else TOLERANCE_KM)


def write_scope(out: Path, clinics_loaded: bool) -> None:
    """``region_scope.json``: a region without clinics says so (see the data contract); a region
    with them has no such file (a stale one is removed)."""
    from matching.contract.scope import RegionScope

    RegionScope(clinics_loaded=clinics_loaded,
                note="" if clinics_loaded else CLINICS_NOTE).write(out)


#: Why a hospitals-only region has no clinics (region_scope.json, said by every command).
CLINICS_NOTE = ("施設基準の届出受理医療機関名簿なしで取り込んだため、医療機関は病床機能報告の病院のみです"
                "（診療所は未取込）。①②の不足は「診療所未取込」であり、担える医療機関がないことは示していません。")


def _check_filing_files(filings: pd.DataFrame, code_anywhere: Callable[[str], str], pref: str) -> None:
    """A 施設基準 list of another prefecture is an input error, not a list of skipped rows."""
    if filings.empty:
        return
    files = filings["source"].str.rsplit(":", n=1).str[0]
    for file, group in filings.groupby(files):
        if (group["municipality_code"] != "").any():
            continue
        elsewhere = Counter(code_anywhere(a)[:2] for a in group["address"])
        elsewhere.pop("", None)
        if elsewhere:
            other = elsewhere.most_common(1)[0][0]
            raise ImportInputError(
                f"施設基準の名簿 {file} は{PREFECTURE_CODES[pref]}（{pref}）のものではありません："
                f"住所 {len(group)} 件のうち {elsewhere[other]} 件が{PREFECTURE_CODES.get(other, other)}（{other}）です")
        raise ImportInputError(f"施設基準の名簿 {file} の住所が1件も{PREFECTURE_CODES[pref]}の市区町村に当たりません")


def _locate_facilities(facilities: pd.DataFrame, table: MunicipalTable,
                       locator: Locator) -> tuple[pd.DataFrame, list[Issue]]:
    """Source coordinates checked against the municipality; outside → moved to the office."""
    issues: list[Issue] = []
    rows = []
    for f in facilities.to_dict("records"):
        file, srow = f["source"].rsplit(":", 1)
        code = f["municipality_code"]
        if table.office(code) is None:
            issues.append(Issue("error", file, int(srow), f["facility_id"], f["name"],
                                f"municipality code {code} is not in the official list ({OFFICES_FILE})", "skipped"))
            continue
        f.update(location_source="source", location_radius_km=SOURCE_RADIUS_KM["source"])
        problem = locator.problem(code, f["lat"], f["lon"])
        if problem:
            f.update(locator.office(code))
            issues.append(Issue("relocated", file, int(srow), f["facility_id"], f["name"], problem,
                                "市区町村役場の位置へ移動（location_source=office）"))
        rows.append(f)
    out = pd.DataFrame(rows, columns=[*facilities.columns, "location_source", "location_radius_km"])
    out["residents"] = out["residents"].astype("Int64")
    return out.reset_index(drop=True), issues


def _institutions(pref: str, filings: pd.DataFrame, hospitals: pd.DataFrame, table: MunicipalTable,
                  locator: Locator, geocode: Geocoder | None,
                  code_anywhere: Callable[[str], str], hospitals_only: bool = False) -> tuple[pd.DataFrame, list[Issue]]:
    """Contract institutions: every filing institution, then every hospitals-data record without one.

    ``hospitals_only`` (no 施設基準 list): the hospitals of the 病床機能報告 only, with their
    designation from the 在宅療養支援 flag (:data:`FUNCTION_DESIGNATIONS`), ``admit=true`` from
    :data:`ADMIT_FUNCTIONS`, and beds from 国土数値情報 P04; its bedded clinics are left out
    (listed as info): a region either has the clinics or says it has none."""
    issues: list[Issue] = []
    record = hospitals.set_index("record_id")
    rows: list[dict] = []

    def place(row: dict, lat, lon, source_kind: str, address: str, source: str, srow: int, key: str,
              unjoined: str | None) -> bool:
        """Published coordinates (checked), else geocoded (checked), else the municipal office."""
        code = row["municipality_code"]
        candidates = []
        if pd.notna(lat) and pd.notna(lon):
            candidates.append((float(lat), float(lon), source_kind))
        elif geocode and address:
            point = geocode(address)
            if point:
                candidates.append((float(point[0]), float(point[1]), "other"))
        for clat, clon, kind in candidates:
            problem = locator.problem(code, clat, clon)
            if problem is None:
                row.update(lat=clat, lon=clon, location_source=kind, location_radius_km=SOURCE_RADIUS_KM[kind])
                if kind == "other":
                    row["join_method"] = "geocoded"
                return True
            issues.append(Issue("relocated", source, srow, key, row["name"], problem,
                                "市区町村役場の位置へ移動（location_source=office）"))
        office = locator.office(code)
        if office is None:
            issues.append(Issue("error", source, srow, key, row["name"],
                                f"no coordinates and no municipal office for municipality {code}", "skipped"))
            return False
        row.update(office)
        if unjoined and not candidates:
            issues.append(Issue("unmatched", source, srow, key, row["name"], unjoined,
                                f"位置は市区町村役場で近似（半径 {office['location_radius_km']} km）"))
        return True

    for f in filings.to_dict("records"):
        file, srow = f["source"].rsplit(":", 1)
        if not f["municipality_code"]:
            other = code_anywhere(f["address"])
            why = (f"address {f['address']!r} is in another prefecture ({other})" if other
                   else f"no municipality of the official list at the start of address {f['address']!r}")
            issues.append(Issue("error", file, int(srow), f["institution_number"], f["name"], why, "skipped"))
            continue
        rec = record.loc[f["hospital_record_id"]] if f["hospital_record_id"] else None
        row = {
            # The national 医療機関コード: prefecture, 点数表 1 (医科), 7-digit 医療機関番号.
            "institution_id": f"{pref}1{f['institution_number']}", "name": f["name"], "kind": f["kind"],
            "municipality_code": f["municipality_code"], "beds": f["beds"],
            "designations": ";".join(sorted(f["designations"])), "designation_source": "施設基準",
            "institution_number": f["institution_number"], "address": f["address"],
            "join_method": f["join_method"], "hospital_record_id": f["hospital_record_id"],
            "functions": "" if rec is None else rec["functions"],
        }
        lat, lon = (rec["lat"], rec["lon"]) if rec is not None else (None, None)
        why = ("not found in the hospitals data" if rec is None
               else f"joined to {f['hospital_record_id']} ({f['join_method']}), which has no coordinates")
        if place(row, lat, lon, "joined", f["address"], file, int(srow), f["institution_number"], why):
            rows.append(row)

    joined = set(filings["hospital_record_id"]) - {""}
    for h in hospitals[~hospitals["record_id"].isin(joined)].to_dict("records"):
        if hospitals_only and h["kind"] != "hospital":
            issues.append(Issue("info", "facility_basic.csv", 0, h["record_id"], h["name"],
                                "bedded clinic (有床診療所): clinics are not loaded without a 施設基準 list",
                                "not imported"))
            continue
        if not h["municipality_code"]:
            issues.append(Issue("error", "facility_basic.csv", 0, h["record_id"], h["name"],
                                f"municipality {h['municipality_name']!r} not in the official list", "skipped"))
            continue
        flags = h["functions"].split(";")
        designations = sorted(FUNCTION_DESIGNATIONS[fn][h["kind"]] for fn in flags if fn in FUNCTION_DESIGNATIONS)
        row = {
            "institution_id": h["record_id"], "name": h["name"], "kind": h["kind"],
            "municipality_code": h["municipality_code"], "beds": h["beds"] if hospitals_only else None,
            "designations": ";".join(designations), "designation_source": "病床機能報告" if designations else "",
            "institution_number": "", "address": h["p04_address"], "join_method": "",
            "hospital_record_id": h["record_id"], "functions": h["functions"],
        }
        if hospitals_only:
            # Explicit only where a flag says so; blank = from the designations (none: no role).
            row["admit"] = True if any(fn in ADMIT_FUNCTIONS for fn in flags) else None
        else:
            issues.append(Issue("unmatched", "facility_basic.csv", 0, h["record_id"], h["name"],
                                "no institution of the 施設基準 list joined to this record",
                                f"imported as a {h['kind']} with designations from its function flags"
                                f" ({row['designations'] or 'none'})"))
        if place(row, h["lat"], h["lon"], "source", h["p04_address"], "facility_basic.csv", 0, h["record_id"],
                 None):
            rows.append(row)

    contract = [c.name for c in INSTITUTIONS.columns if c.required]
    extra = ["location_source", "location_radius_km", "location_approximate", "designation_source",
             "institution_number", "address", "join_method", "hospital_record_id", "functions"]
    df = pd.DataFrame(rows).reindex(columns=contract + extra)
    df["location_approximate"] = df["location_source"] == "office"
    df["beds"] = df["beds"].astype("Int64")
    return df.sort_values("institution_id").reset_index(drop=True), issues


def _report(pref: str, facilities: pd.DataFrame, institutions: pd.DataFrame, filings: pd.DataFrame,
            hospitals: pd.DataFrame, areas: pd.DataFrame, area_method: dict[str, str], issues: list[Issue],
            sources: list[str]) -> ImportReport:
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
        "placed_at_office": int(institutions["location_approximate"].sum()),
        "filings": int(filings["filings"].sum()) if "filings" in filings else len(filings),
        "filings_placed": int(filings.loc[filings["municipality_code"] != "", "filings"].sum())
        if "filings" in filings else int((filings["municipality_code"] != "").sum()),
        "hospital_records_lost": int((~hospitals["record_id"].isin(
            set(institutions["hospital_record_id"].fillna("")))).sum()),
    }
    join["filing_placement_rate"] = round(join["filings_placed"] / join["filings"], 4) if join["filings"] else 0.0
    return ImportReport(
        prefecture_code=pref,
        facilities_by_type=dict(sorted(Counter(facilities["facility_type"]).items())),
        institutions_by_kind=dict(sorted(Counter(institutions["kind"]).items())),
        institutions_by_designation=dict(sorted(desig.items())),
        municipalities=len(areas),
        secondary_areas=dict(sorted(area_method.items())),
        join=join,
        locations={"facilities": dict(sorted(Counter(facilities["location_source"]).items())),
                   "institutions": dict(sorted(Counter(institutions["location_source"]).items()))}, issues=sorted(issues), sources=sources,
    )


def _write(out: Path, areas: pd.DataFrame, facilities: pd.DataFrame, institutions: pd.DataFrame) -> None:
    out.mkdir(parents=True, exist_ok=True)
    safecells.to_csv(areas, out / "areas.csv", index=False)
    def radius(values: pd.Series) -> pd.Series:
        return values.map(lambda v: "" if pd.isna(v) else f"{float(v):g}")

    fac = facilities.assign(reported=facilities["reported"].map({True: "true", False: "false"}),
                            location_radius_km=radius(facilities["location_radius_km"]))
    safecells.to_csv(fac, out / "facilities.csv", index=False, float_format="%.7f")
    inst = institutions.assign(location_approximate=institutions["location_approximate"].map(
        {True: "true", False: "false"}), location_radius_km=radius(institutions["location_radius_km"]))
    inst["admit"] = inst["admit"].map(lambda v: "true" if v is True else "false" if v is False else "")
    safecells.to_csv(inst, out / "institutions.csv", index=False, float_format="%.7f")
    pd.DataFrame(columns=[c.name for c in PARTNERSHIPS.columns]).to_csv(out / "partnerships.csv", index=False)
