"""The 介護サービス情報公表システム open data (one CSV per service code), as published.

Each file is UTF-8 with a BOM and Japanese headers; the columns used here are
都道府県コード又は市町村コード (6-digit code with check digit), 市区町村名, 事業所名,
住所, 緯度, 経度, 定員, 事業所番号 and サービスの種類.  The service code comes from
the サービスの種類 label, or from the file name (``jigyosho_520.csv``) when the
label is not one we know.

>>> municipality_code_5("192015")
'19201'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from matching.importers.normalise import nfkc
from matching.importers.report import Issue, raise_if_strict
from matching.vocabulary import FACILITY_TYPES

#: service code → facility type code, from the vocabulary table.
SERVICE_TO_TYPE: dict[str, str] = {
    code: t.code for t in FACILITY_TYPES.values() for code in t.service_codes
}

#: サービスの種類 labels as published → service code.
SERVICE_LABELS: dict[str, str] = {
    "介護老人福祉施設": "510",
    "地域密着型介護老人福祉施設入所者生活介護": "540",
    "介護老人保健施設": "520",
    "介護医療院": "550",
    "短期入所療養介護（介護医療院）": "551",
    "介護療養型医療施設": "530",
    "特定施設入居者生活介護（有料老人ホーム）": "331",
    "特定施設入居者生活介護（軽費老人ホーム）": "332",
    "特定施設入居者生活介護（有料老人ホーム（サービス付き高齢者向け住宅））": "334",
    "地域密着型特定施設入居者生活介護（有料老人ホーム）": "361",
    "地域密着型特定施設入居者生活介護（軽費老人ホーム）": "362",
    "地域密着型特定施設入居者生活介護（有料老人ホーム（サービス付き高齢者向け住宅））": "364",
    "認知症対応型共同生活介護": "320",
}
# Labels are compared after NFKC, which turns （） into ().
SERVICE_LABELS = {nfkc(label): code for label, code in SERVICE_LABELS.items()}

#: Services that are published but are none of the nine facility types: reported, not imported.
EXCLUDED_SERVICES: dict[str, str] = {
    "530": "介護療養型医療施設 is not one of the nine facility types (abolished at the end of FY2023)",
}

COLUMNS = {
    "code": "都道府県コード又は市町村コード",
    "municipality": "市区町村名",
    "name": "事業所名",
    "service": "サービスの種類",
    "address": "住所",
    "lat": "緯度",
    "lon": "経度",
    "capacity": "定員",
    "number": "事業所番号",
}

FACILITY_COLUMNS = ["facility_id", "name", "facility_type", "municipality_code", "lat", "lon",
                    "residents", "reported", "service_code", "jigyosho_number", "address", "source"]


def check_digit(code5: str) -> int:
    """The JIS X 0402 check digit of a 5-digit municipality code.

    Sum of the digits weighted 6, 5, 4, 3, 2; r = sum mod 11; check = (11 − r) mod 10.

    >>> check_digit("19201")
    5
    """
    r = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True)) % 11
    return (11 - r) % 10


def municipality_code_5(code6: str) -> str:
    """The contract's 5-digit code from a published 6-digit code, after checking its check digit.

    Raises ValueError with the reason when the code is malformed or the check digit is wrong.

    >>> municipality_code_5("192016")
    Traceback (most recent call last):
    ...
    ValueError: check digit of municipality code '192016' should be 5
    """
    code = nfkc(code6)
    if not re.fullmatch(r"\d{6}", code):
        raise ValueError(f"municipality code {code6!r} is not 6 digits")
    expected = check_digit(code[:5])
    if int(code[5]) != expected:
        raise ValueError(f"check digit of municipality code {code!r} should be {expected}")
    return code[:5]


def parse_capacity(text: str) -> int | None:
    """定員: a positive whole number, or None when 0, blank or unreadable (= unknown).

    >>> parse_capacity("２９"), parse_capacity("0"), parse_capacity("")
    (29, None, None)
    """
    value = nfkc(text).replace(",", "")
    if not re.fullmatch(r"\d+", value):
        return None
    return int(value) or None


def read_kaigo_csv(path: str | Path) -> pd.DataFrame:
    """One published file as strings (BOM removed), with ``_row`` = line number (header is 1).

    Read once per process and kept while the file is unchanged (a national import reads the
    national files for every prefecture); a copy is returned."""
    st = Path(path).stat()
    return _read_kaigo_csv(str(Path(path).resolve()), st.st_mtime_ns, st.st_size).copy()


@functools.lru_cache(maxsize=32)
def _read_kaigo_csv(path: str, _mtime: int, _size: int) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [nfkc(c) for c in df.columns]
    missing = [c for c in COLUMNS.values() if c not in df.columns and c != COLUMNS["service"]]
    if missing:
        raise ValueError(f"{Path(path).name}: not a 介護サービス情報公表 file, missing columns {missing}")
    df["_row"] = range(2, len(df) + 2)
    return df


def _service_code(label: str, file_code: str | None) -> str | None:
    return SERVICE_LABELS.get(nfkc(label)) or file_code


def parse_kaigo(files: Iterable[str | Path], prefecture_code: str | None = None, *,
                strict: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """Read 介護サービス情報公表 files into contract facilities.

    Returns ``(facilities, municipalities, issues)``: ``facilities`` has the
    contract columns of facilities.csv (plus service_code, jigyosho_number,
    address, source); ``municipalities`` has municipality_code (5 digits),
    municipality_name and prefecture_code for every municipality seen in the
    selected prefecture (also those whose rows were skipped for other reasons).
    Only rows whose code starts with ``prefecture_code`` are read (all when None).

    Rules: 定員 0 or blank → residents blank (unknown); every facility starts
    ``reported=false`` (no annual report on file); 530 is reported and left out;
    the same 事業所番号 and facility type in several files (e.g. 550 and 551) is
    one facility (the first file in service-code order wins, reported as info);
    the same 事業所番号 with *different* types is kept as separate facilities
    with ids ``{事業所番号}-{type}`` (reported as info).

    >>> fac, mun, issues = parse_kaigo(["tests/fixtures/open/kaigo/jigyosho_520.csv"], "19")
    >>> len(fac), len(mun), len(issues)
    (3, 2, 0)
    """
    issues: list[Issue] = []
    rows: list[dict] = []
    municipalities: dict[str, str] = {}
    for path in sorted(map(Path, files), key=lambda p: p.name):
        m = re.search(r"(\d{3})", path.stem)
        file_code = m.group(1) if m else None
        df = read_kaigo_csv(path)
        if prefecture_code is not None:
            df = df[df[COLUMNS["code"]].map(nfkc).str.startswith(prefecture_code)]
        for rec in df.to_dict("records"):
            code6 = nfkc(rec[COLUMNS["code"]])
            if prefecture_code is not None and not code6.startswith(prefecture_code):
                continue
            number, name = nfkc(rec[COLUMNS["number"]]), nfkc(rec[COLUMNS["name"]])

            def bad(problem: str, severity: str = "error", action: str = "skipped") -> None:
                issues.append(Issue(severity, path.name, rec["_row"], number, name, problem, action))  # noqa: B023

            try:
                code5 = municipality_code_5(code6)
            except ValueError as exc:
                bad(str(exc))
                continue
            municipalities.setdefault(code5, nfkc(rec[COLUMNS["municipality"]]))
            service = _service_code(rec.get(COLUMNS["service"], ""), file_code)
            if service in EXCLUDED_SERVICES:
                bad(f"service {service}: {EXCLUDED_SERVICES[service]}", "info", "not imported")
                continue
            if service not in SERVICE_TO_TYPE:
                bad(f"unknown service {rec.get(COLUMNS['service'], '')!r} (code {service})")
                continue
            try:
                lat, lon = float(nfkc(rec[COLUMNS["lat"]])), float(nfkc(rec[COLUMNS["lon"]]))
            except ValueError:
                bad("missing or unreadable coordinates (緯度/経度)")
                continue
            if not (20 <= lat <= 46 and 122 <= lon <= 154):
                bad(f"coordinates outside Japan ({lat}, {lon})")
                continue
            if not number or not name:
                bad("missing 事業所番号 or 事業所名")
                continue
            rows.append({
                "facility_id": number, "name": name, "facility_type": SERVICE_TO_TYPE[service],
                "municipality_code": code5, "lat": lat, "lon": lon,
                "residents": parse_capacity(rec[COLUMNS["capacity"]]), "reported": False,
                "service_code": service, "jigyosho_number": number,
                "address": nfkc(rec[COLUMNS["address"]]), "source": f"{path.name}:{rec['_row']}",
            })
    raise_if_strict(issues, strict)

    facilities = _deduplicate(pd.DataFrame(rows, columns=FACILITY_COLUMNS), issues)
    facilities["residents"] = facilities["residents"].astype("Int64")
    mun = pd.DataFrame(sorted(municipalities.items()), columns=["municipality_code", "municipality_name"])
    mun["prefecture_code"] = mun["municipality_code"].str[:2]
    return facilities, mun, issues


def _deduplicate(fac: pd.DataFrame, issues: list[Issue]) -> pd.DataFrame:
    """One facility per (事業所番号, type); distinct ids when one 事業所番号 has several types."""
    order = {code: i for i, code in enumerate(c for t in FACILITY_TYPES.values() for c in t.service_codes)}
    fac = fac.assign(_order=fac["service_code"].map(order)).sort_values(["_order", "source"], kind="stable")
    dup = fac.duplicated(["jigyosho_number", "facility_type"], keep="first")
    for rec in fac[dup].to_dict("records"):
        file, row = rec["source"].rsplit(":", 1)
        first = fac[(fac["jigyosho_number"] == rec["jigyosho_number"])
                    & (fac["facility_type"] == rec["facility_type"])].iloc[0]
        issues.append(Issue("info", file, int(row), rec["jigyosho_number"], rec["name"],
                            f"duplicate 事業所番号 (same {rec['facility_type']} as {first['source']})",
                            "merged into the first record"))
    fac = fac[~dup]
    types_per_number = fac.groupby("jigyosho_number")["facility_type"].transform("nunique")
    shared = types_per_number > 1
    for rec in fac[shared].to_dict("records"):
        file, row = rec["source"].rsplit(":", 1)
        issues.append(Issue("info", file, int(row), rec["jigyosho_number"], rec["name"],
                            "事業所番号 shared by facilities of different types",
                            f"kept as facility_id {rec['jigyosho_number']}-{rec['facility_type']}"))
    fac.loc[shared, "facility_id"] = fac.loc[shared, "jigyosho_number"] + "-" + fac.loc[shared, "facility_type"]
    return fac.drop(columns="_order").sort_values("facility_id").reset_index(drop=True)
