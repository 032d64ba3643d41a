"""The 地方厚生局 届出受理医療機関名簿 (施設基準の届出, 医科), an xlsx file per prefecture.

As published by 関東信越厚生局: a title on the first rows, then a header row
(項番, 都道府県コード, …, 医療機関番号, 医療機関名称, 医療機関所在地（住所）, 病床数,
受理届出名称, 受理記号, …) and **one row per filing** — an institution with ten
filings has ten rows.  The header row is found by its names, not by position.

>>> parse_beds("一般　55／療養　56")
111
>>> sorted(designations_from_kigo(["支援診２", "時間外１"]))
['zaishin_kyoka']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from matching.importers.normalise import nfkc
from matching.importers.report import Issue, raise_if_strict
from matching.vocabulary import DESIGNATIONS, InstitutionKind

COLUMNS = {
    "number": "医療機関番号",
    "name": "医療機関名称",
    "postcode": "医療機関所在地（郵便番号）",
    "address": "医療機関所在地（住所）",
    "beds": "病床数",
    "filing": "受理届出名称",
    "kigo": "受理記号",
    "section": "区分",
}
# Headers are compared after NFKC, which turns （） into ().
COLUMNS = {key: nfkc(name) for key, name in COLUMNS.items()}

#: 受理記号 prefix (NFKC, so full- and half-width digits both match) → designation code.
KIGO_PREFIXES: tuple[tuple[str, str], ...] = tuple(sorted(
    ((nfkc(prefix), d.code) for d in DESIGNATIONS.values() for prefix in d.juri_kigo),
    key=lambda pair: len(pair[0]), reverse=True))

HOSPITAL_BEDS = 20  # 医療法 Art. 1-5: 20 beds or more is a 病院, fewer a 診療所

INSTITUTION_COLUMNS = ["institution_number", "name", "address", "postcode", "beds", "designations",
                       "kind", "filings", "source"]


def parse_beds(text: object) -> int | None:
    """Total beds from a 病床数 cell: the sum of the number ending each ／-separated part.

    Blank → None (no beds or not stated).  Raises ValueError when a part has no number.

    >>> parse_beds("一般　一般　622／一般（感染）　感染　2／結核　　16／精神　　4")
    644
    >>> parse_beds("一般　　/療養　　200"), parse_beds("")
    (200, None)
    """
    value = nfkc(text)
    if not value:
        return None
    numbers = []
    for part in re.split(r"[/／]", value):
        # 「一般　/療養　200」: a bed category with no number has no beds of that kind.
        m = re.fullmatch(r"\D*?(\d+)?\s*床?", part.strip())
        if not m:
            raise ValueError(f"cannot read 病床数 {value!r}")
        if m.group(1):
            numbers.append(int(m.group(1)))
    return sum(numbers) if numbers else None


def designation_from_kigo(kigo: object) -> str | None:
    """The designation code of one 受理記号, or None when it is not one of ours.

    >>> designation_from_kigo("支援病１"), designation_from_kigo("地包ケア2"), designation_from_kigo("ニコ")
    ('zaibyo_kyoka', 'chiiki_houkatsu_ward', None)
    """
    value = nfkc(kigo)
    for prefix, code in KIGO_PREFIXES:
        if value.startswith(prefix):
            return code
    return None


def designations_from_kigo(kigos: Iterable[object]) -> frozenset[str]:
    """All designation codes among several 受理記号."""
    return frozenset(c for c in map(designation_from_kigo, kigos) if c)


def institution_kind(beds: int | None, designations: Iterable[str]) -> str:
    """hospital when it has 20 beds or more or holds a hospital-only designation; else clinic.

    >>> institution_kind(19, {"zaishin"}), institution_kind(None, {"koho_shien"}), institution_kind(55, ())
    ('clinic', 'hospital', 'hospital')
    """
    hospital_only = any(DESIGNATIONS[d].kind is InstitutionKind.HOSPITAL for d in designations)
    return "hospital" if hospital_only or (beds or 0) >= HOSPITAL_BEDS else "clinic"


def read_shisetsu_kijun(path: str | Path) -> pd.DataFrame:
    """The filing rows of one xlsx file as strings, with ``_row`` = the spreadsheet row number.

    The header row is the first row (of the first 30) holding 医療機関番号 and 受理記号.
    """
    from openpyxl import load_workbook  # optional dependency, only needed for this format

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header, header_row = None, 0
        for number, row in enumerate(rows, start=1):
            cells = [nfkc(c) for c in row]
            if COLUMNS["number"] in cells and COLUMNS["kigo"] in cells:
                header, header_row = cells, number
                break
            if number >= 30:
                break
        if header is None:
            raise ValueError(f"{Path(path).name}: no header row with 医療機関番号 and 受理記号 in the first 30 rows")
        records = [["" if c is None else str(c) for c in row] for row in rows]
    finally:
        wb.close()
    width = len(header)
    df = pd.DataFrame([(r + [""] * width)[:width] for r in records], columns=header, dtype=str)
    df["_row"] = range(header_row + 1, header_row + 1 + len(df))
    blank = df.drop(columns="_row").apply(lambda col: col.str.strip() == "").all(axis=1)
    return df[~blank].reset_index(drop=True)


def parse_shisetsu_kijun(files: Iterable[str | Path], *, strict: bool = False) -> tuple[pd.DataFrame, list[Issue]]:
    """Aggregate the filing rows of 施設基準 lists into one row per institution.

    Returns ``(institutions, issues)``; ``institutions`` has institution_number
    (医療機関番号), name, address, postcode, beds (total, None when blank),
    designations (frozenset of codes from the 受理記号), kind (see
    :func:`institution_kind`), filings (number of rows) and source.  Only 医科
    rows are read when the file has a 区分 column.  A filing row without
    医療機関番号 or name, or with an unreadable 病床数, is an error.

    >>> inst, issues = parse_shisetsu_kijun(["19_yamanashi.xlsx"])  # doctest: +SKIP
    """
    issues: list[Issue] = []
    per_number: dict[str, dict] = {}
    for path in map(Path, files):
        df = read_shisetsu_kijun(path)
        for rec in df.to_dict("records"):
            section = nfkc(rec.get(COLUMNS["section"], "医科"))
            if section and section != "医科":
                continue
            number, name = nfkc(rec.get(COLUMNS["number"])), nfkc(rec.get(COLUMNS["name"]))

            def bad(problem: str, action: str = "skipped") -> None:
                issues.append(Issue("error", path.name, rec["_row"], number, name, problem, action))  # noqa: B023

            if not re.fullmatch(r"\d{7}", number) or not name:
                bad("missing or malformed 医療機関番号 (7 digits) or 医療機関名称")
                continue
            try:
                beds = parse_beds(rec.get(COLUMNS["beds"]))
            except ValueError as exc:
                bad(str(exc), "filing row skipped")
                continue
            inst = per_number.setdefault(number, {
                "institution_number": number, "name": name,
                "address": nfkc(rec.get(COLUMNS["address"])), "postcode": nfkc(rec.get(COLUMNS["postcode"])),
                "beds": beds, "designations": set(), "filings": 0, "source": f"{path.name}:{rec['_row']}",
            })
            inst["filings"] += 1
            if inst["beds"] is None:
                inst["beds"] = beds
            code = designation_from_kigo(rec.get(COLUMNS["kigo"]))
            if code:
                inst["designations"].add(code)
    raise_if_strict(issues, strict)

    rows = []
    for inst in per_number.values():
        desigs = frozenset(inst["designations"])
        kind = institution_kind(inst["beds"], desigs)
        # A hospital keeps only designations that a hospital can hold (a 支援診 filing
        # on a 20-bed institution would contradict the contract); report the dropped one.
        wrong = sorted(d for d in desigs if DESIGNATIONS[d].kind not in (None, InstitutionKind(kind)))
        if wrong:
            file, row = inst["source"].rsplit(":", 1)
            issues.append(Issue("info", file, int(row), inst["institution_number"], inst["name"],
                                f"designations {wrong} are not for a {kind} (beds {inst['beds']})",
                                "designation dropped"))
            desigs = desigs - set(wrong)
        rows.append({**inst, "designations": desigs, "kind": kind})
    out = pd.DataFrame(rows, columns=INSTITUTION_COLUMNS)
    out["beds"] = out["beds"].astype("Int64")
    return out.sort_values("institution_number").reset_index(drop=True), issues
