"""Every prefecture (or a list of them) from the national open data, in one call.

:func:`build_country` runs :func:`matching.importers.region.build_region` for each prefecture —
one region folder each, ``OUT/{code}/`` with its own join report — and puts them together in
``OUT/national/``: the same four tables (one region: ids are national — 事業所番号 and the
病床機能報告's record_id), ``region_scope.json`` and ``import_summary.csv``, one row per
prefecture with the counts of its join report.  The national files are read once and kept
(``read_kaigo_csv``, ``read_hospitals``, ``MunicipalTable.read`` cache them).

Without 施設基準 lists (the national view), every prefecture is hospitals only and says so.

>>> parse_codes("19,20"), parse_codes("all")[:3], len(parse_codes("ALL"))
(['19', '20'], ['01', '02', '03'], 47)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from matching import safecells
from matching.contract import load_region
from matching.contract.schema import PARTNERSHIPS
from matching.importers.municipalities import PREFECTURE_CODES
from matching.importers.normalise import nfkc
from matching.importers.region import build_region, write_scope
from matching.importers.report import ImportInputError, ImportReport
from matching.vocabulary import FACILITY_TYPES

NATIONAL = "national"
SUMMARY_FILE = "import_summary.csv"
#: The 47 prefectures' outlines beside the hospitals folder (the shared layout), for the map.
PREFECTURE_BOUNDARIES = "geojson_s0001_prefectures.json"


def parse_codes(values: str | Iterable[str]) -> list[str]:
    """Prefecture codes from ``all`` or codes separated by commas or spaces (sorted, unique).

    Raises :class:`ImportInputError` (Japanese) for a code that is not one of the 47."""
    items = [values] if isinstance(values, str) else list(values)
    tokens = [t for v in items for t in nfkc(v).replace(",", " ").replace("、", " ").split()]
    if any(t.lower() == "all" for t in tokens):
        return list(PREFECTURE_CODES)
    codes = []
    for t in tokens:
        code = t.zfill(2)
        if code not in PREFECTURE_CODES:
            raise ImportInputError(f"都道府県コード {t!r} は存在しません（01〜47 の2桁、または all で指定してください）")
        codes.append(code)
    if not codes:
        raise ImportInputError("都道府県コードを指定してください（例: 19、19,20、all）")
    return sorted(set(codes))


def summary_row(report: ImportReport, seconds: float) -> dict:
    """One prefecture's line of ``import_summary.csv``."""
    issues = report.to_dict()["issue_counts"]
    inst_loc = report.locations.get("institutions", {})
    fac_loc = report.locations.get("facilities", {})
    return {
        "prefecture_code": report.prefecture_code, "prefecture_name": PREFECTURE_CODES[report.prefecture_code],
        "facilities": sum(report.facilities_by_type.values()),
        **{f"facilities_{k}": v for k, v in report.facilities_by_type.items()},
        "hospitals": report.institutions_by_kind.get("hospital", 0),
        "clinics": report.institutions_by_kind.get("clinic", 0),
        "clinics_loaded": report.clinics_loaded,
        "hospital_records": report.join.get("hospital_records", 0),
        "hospitals_zaibyo": report.institutions_by_designation.get("zaibyo", 0),
        "institutions_at_source_point": inst_loc.get("source", 0) + inst_loc.get("joined", 0),
        "institutions_at_office": inst_loc.get("office", 0),
        "facilities_at_office": fac_loc.get("office", 0),
        "municipalities": report.municipalities,
        "skipped": issues["error"], "relocated": issues["relocated"], "info": issues["info"],
        "seconds": round(seconds, 2),
    }


def build_country(codes: Iterable[str], kaigo_files: Iterable[str | Path], hospital_dir: str | Path,
                  out_dir: str | Path, *, strict: bool = False, areas_dir: str | Path | None = None,
                  progress: Callable[[ImportReport], None] | None = None) -> pd.DataFrame:
    """Import each prefecture of ``codes`` into ``out_dir/{code}`` (hospitals only) and all of
    them into ``out_dir/national``; returns the per-prefecture summary (also written as
    ``national/import_summary.csv``).  ``progress`` is called after each prefecture."""
    out = Path(out_dir)
    kaigo_files = [Path(f) for f in kaigo_files]
    rows, folders = [], []
    for code in codes:
        start = time.perf_counter()
        folder = out / code
        report = build_region(code, kaigo_files, hospital_dir, [], folder, strict=strict, areas_dir=areas_dir)
        rows.append(summary_row(report, time.perf_counter() - start))
        folders.append(folder)
        if progress:
            progress(report)
    summary = pd.DataFrame(rows).fillna(0)
    types = [f"facilities_{t}" for t in FACILITY_TYPES if f"facilities_{t}" in summary.columns]
    for c in types:
        summary[c] = summary[c].astype(int)
    first = summary.columns[:summary.columns.get_loc("facilities") + 1].tolist()
    summary = summary[first + types + [c for c in summary.columns if c not in first and c not in types]]
    pref_map = Path(hospital_dir).resolve().parent / "boundaries" / PREFECTURE_BOUNDARIES
    merge(folders, out / NATIONAL, summary, pref_map if pref_map.exists() else None)
    return summary


def merge(folders: list[Path], out: Path, summary: pd.DataFrame, prefecture_boundaries: Path | None = None) -> None:
    """One region folder from several (the tables concatenated, written as they were read)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("areas.csv", "facilities.csv", "institutions.csv"):
        # Concatenated as text: the cells stay exactly as each prefecture's import wrote them.
        header, body = None, []
        for f in folders:
            lines = (f / name).read_text(encoding="utf-8-sig").splitlines(keepends=True)
            if header is not None and lines[0] != header:
                raise ImportInputError(f"{f / name} の列が他の都道府県と異なります")
            header = lines[0]
            body += lines[1:]
        (out / name).write_text(header + "".join(body), encoding="utf-8")
    pd.DataFrame(columns=[c.name for c in PARTNERSHIPS.columns]).to_csv(out / "partnerships.csv", index=False)
    write_scope(out, clinics_loaded=False)
    safecells.to_csv(summary, out / SUMMARY_FILE, index=False, encoding="utf-8-sig")
    (out / "import_sources.json").write_text(json.dumps(
        {"prefectures": [f.name for f in folders], "folders": [str(f) for f in folders],
         "prefecture_boundaries": str(prefecture_boundaries) if prefecture_boundaries else ""},
        ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    load_region(out, strict=True)  # the national folder satisfies the contract too
