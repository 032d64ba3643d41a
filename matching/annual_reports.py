"""The facilities' annual reports (年次報告: 協力医療機関の名称 and the requirements it meets).

Partnership data is not public: each facility reports once a year, to the authority that
designated it, which institution(s) it agreed with and which of ①②③ each one secures.
:func:`import_reports` reads such a table (CSV in UTF-8 or CP932, or xlsx — the form written by
:func:`write_template`), resolves every facility and institution to the region's ids, and
gives the region's new ``partnerships.csv`` and the facilities to mark as reported.

Resolution — nothing is guessed silently (the rule is shared with the intention survey,
:mod:`matching._resolve`):

- facility: by 事業所番号 (``facility_id``) when given, else by name (normalised: NFKC, corporate
  prefixes, spaces and punctuation removed — :func:`matching.importers.normalise.normalise_name`)
  when exactly one facility of the region has it;
- institution: by 医療機関番号 (``institution_id``) when given, else by normalised name among the
  institutions of the municipality given (or, when several share the name, of the facility's
  municipality), else a similar name (rapidfuzz, :data:`AUTO_SCORE`, :data:`AUTO_MARGIN`) —
  anything else goes to the **review sheet** with ranked candidates.  The coordinator writes the
  chosen id in the sheet and imports again with ``--review``.

A facility is imported only when every one of its rows is resolved; its partnerships then
replace the ones on file, and it is marked ``reported=true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matching._resolve import (
    AUTO_MARGIN,
    AUTO_SCORE,
    CANDIDATES,
    MIN_SCORE,
    REVIEW_ID,
    Candidate,
    candidate_cells,
    column_or_blank,
    date_validation,
    finish_form,
    form_sheet,
    keyed,
    read_date,
    resolve_name,
)
from matching._resolve import column as _aliased
from matching._resolve import read_review as _read_review
from matching.contract.tablefile import TableError, read_frame
from matching.vocabulary import ROLE_ORDER, Role

__all__ = ["AUTO_MARGIN", "AUTO_SCORE", "CANDIDATES", "MIN_SCORE", "REVIEW_ID", "import_reports", "read_review",
           "review_table", "write_template"]

#: Accepted headers (English contract names, the template's Japanese headers, common variants).
ALIASES: dict[str, tuple[str, ...]] = {
    "facility_id": ("facility_id", "事業所番号", "施設ID", "介護保険事業所番号"),
    "facility_name": ("facility_name", "施設名", "事業所名", "施設・事業所名"),
    "institution_id": ("institution_id", "医療機関番号", "医療機関ID", "医療機関コード"),
    "institution_name": ("institution_name", "協力医療機関名", "協力医療機関の名称", "医療機関名"),
    "institution_municipality": ("institution_municipality", "医療機関の市区町村", "医療機関所在市区町村"),
    "roles": ("roles", "満たす要件", "役割"),
    "confirmed_on": ("confirmed_on", "確認日", "確認した日"),
}
ROLE_HEADERS = {Role.CONSULT: ("consult", "①"), Role.VISIT: ("visit", "②"), Role.ADMIT: ("admit", "③")}
#: The template's headers, in order.
TEMPLATE_COLUMNS = ("事業所番号", "施設名", "市区町村", "協力医療機関名", "医療機関番号",
                    "①相談対応（常時）", "②診療（往診・常時）", "③入院受入れ", "確認日")
REVIEW_FACILITY = "決定した施設ID"


@dataclass
class Resolution:
    line: int
    facility_id: str | None
    institution_id: str | None
    roles: frozenset[Role]
    confirmed_on: str
    how: str  # "id", "name", "similar (score 97)", "review", "no partner"
    problem: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    given: dict = field(default_factory=dict)


@dataclass
class ReportImport:
    rows: list[Resolution]
    partnerships: pd.DataFrame  # the region's new partnerships.csv
    reported: list[str]  # facilities marked reported=true
    read_as: str = ""  # how the report file was read ("reports.csv: CP932 (Shift_JIS)")

    @property
    def review(self) -> list[Resolution]:
        return [r for r in self.rows if r.how == "review"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            key = "similar" if r.how.startswith("similar") else r.how
            out[key] = out.get(key, 0) + 1
        return out


def _column(df: pd.DataFrame, name: str) -> pd.Series | None:
    return _aliased(df, ALIASES[name])


def _roles(df: pd.DataFrame) -> tuple[list[frozenset[Role]], list[str]]:
    from matching.contract.columns import boolean

    n = len(df)
    found = {r: next((c for c in df.columns if str(c).strip().startswith(heads) or str(c).strip() == heads[0]),
                     None) for r, heads in ROLE_HEADERS.items()}
    problems = [""] * n
    roles: list[set[Role]] = [set() for _ in range(n)]
    if any(found.values()):
        parse = boolean(required=False)
        for role, col in found.items():
            if col is None:
                continue
            parsed = parse(df[col].astype(str))
            for k in range(n):
                if parsed.bad.iloc[k]:
                    problems[k] = f"{col}: {df[col].iloc[k]!r} は ○/× で記入してください"
                elif not pd.isna(parsed.values.iloc[k]) and bool(parsed.values.iloc[k]):
                    roles[k].add(role)
    text = _column(df, "roles")
    if text is not None:
        marks = {r.mark: r for r in ROLE_ORDER} | {r.value: r for r in ROLE_ORDER}
        for k, cell in enumerate(text):
            for token in cell.replace(";", " ").replace("、", " ").replace(",", " ").split():
                parts = [token] if token in marks else list(token)
                for p in parts:
                    if p in marks:
                        roles[k].add(marks[p])
                    else:
                        problems[k] = f"満たす要件 {cell!r} を読めません（①②③ で記入してください）"
    return [frozenset(r) for r in roles], problems


def _date(text: str) -> str:
    found = read_date(text)
    return text.strip() if found is None else found  # kept as written: the report is not refused for it


def read_review(path: str | Path) -> dict[int, tuple[str, str]]:
    """The coordinator's decisions: report line → (facility id, institution id), blanks kept."""
    return _read_review(path, (REVIEW_FACILITY, REVIEW_ID))  # type: ignore[return-value]


def import_reports(path: str | Path, region, review: dict[int, tuple[str, str]] | None = None) -> ReportImport:
    """Resolve every row of an annual-report table against ``region`` (see the module's docstring)."""
    from matching.importers.normalise import normalise_name

    df, table = read_frame(path, lines=True)
    review = review or {}
    fac_id, fac_name = _column(df, "facility_id"), _column(df, "facility_name")
    inst_id, inst_name = _column(df, "institution_id"), _column(df, "institution_name")
    if fac_id is None and fac_name is None:
        raise TableError(f"{table.path.name}: no facility column (事業所番号 or 施設名)",
                         f"{table.path.name} に施設の列（事業所番号 または 施設名）がありません")
    if inst_id is None and inst_name is None:
        raise TableError(f"{table.path.name}: no institution column (医療機関番号 or 協力医療機関名)",
                         f"{table.path.name} に協力医療機関の列（医療機関番号 または 協力医療機関名）がありません")
    roles, role_problems = _roles(df)
    fac, inst = keyed(region.facilities), keyed(region.institutions)
    fac_id, fac_name = column_or_blank(df, ALIASES["facility_id"]), column_or_blank(df, ALIASES["facility_name"])
    inst_id = column_or_blank(df, ALIASES["institution_id"])
    inst_name = column_or_blank(df, ALIASES["institution_name"])
    muni = column_or_blank(df, ALIASES["institution_municipality"])
    confirmed = column_or_blank(df, ALIASES["confirmed_on"])

    rows: list[Resolution] = []
    for k in range(len(df)):
        line = int(df["_line"].iloc[k])
        given = {"facility_id": fac_id.iloc[k], "facility_name": fac_name.iloc[k],
                 "institution_id": inst_id.iloc[k], "institution_name": inst_name.iloc[k],
                 "institution_municipality": muni.iloc[k]}
        r = Resolution(line, None, None, roles[k], _date(confirmed.iloc[k]), "", given=given)
        decided_fac, decided_inst = review.get(line, ("", ""))
        # facility
        f = decided_fac or fac_id.iloc[k]
        if f and f in fac.index:
            r.facility_id = f
        elif f:
            r.problem = f"事業所番号 {f} の施設が区域にありません"
        else:
            hits = fac.index[fac["_key"] == normalise_name(fac_name.iloc[k])]
            if len(hits) == 1:
                r.facility_id = hits[0]
            else:
                r.problem = ("同じ名称の施設が複数あります" if len(hits) else "施設名が一致する施設がありません")
        # institution
        i = decided_inst or inst_id.iloc[k]
        if r.problem:
            r.how = "review"
        elif role_problems[k]:
            r.how, r.problem = "review", role_problems[k]
        elif not i and inst_name.iloc[k] in ("", "なし", "無し", "無"):
            # "なし" (or a date without a partner) reports that there is none; an untouched
            # pre-filled row of the template reports nothing.
            explicit = inst_name.iloc[k] != "" or r.confirmed_on or r.roles
            r.how = "no partner" if explicit else "not filled"
        elif i:
            if i in inst.index:
                r.institution_id, r.how = i, ("review decision" if decided_inst else "id")
            else:
                r.how, r.problem = "review", f"医療機関番号 {i} の医療機関が区域にありません"
        else:
            fac_muni = fac.at[r.facility_id, "municipality_code"]
            r.institution_id, r.how, r.candidates, r.problem = resolve_name(
                inst_name.iloc[k], muni.iloc[k], fac_muni, inst, region.areas)
        if r.institution_id and Role.ADMIT in r.roles and inst.at[r.institution_id, "kind"] != "hospital":
            r.how, r.problem = "review", "③入院受入れは病院に限られますが、診療所が記入されています"
            r.institution_id = None
        rows.append(r)

    # A facility is imported only when all its rows are resolved.
    pending = {r.facility_id for r in rows if r.how == "review" and r.facility_id}
    done = [r for r in rows if r.facility_id and r.facility_id not in pending
            and r.how not in ("review", "not filled")]
    reported = sorted({r.facility_id for r in done})
    merged: dict[tuple[str, str], list] = {}
    for r in done:
        if r.institution_id is None:
            continue
        entry = merged.setdefault((r.facility_id, r.institution_id), [set(), ""])
        entry[0] |= r.roles
        entry[1] = max(entry[1], r.confirmed_on)
    kept = region.partnerships[~region.partnerships["facility_id"].isin(reported)]
    new = pd.DataFrame([{"facility_id": f, "institution_id": i,
                         "roles": ";".join(x.value for x in ROLE_ORDER if x in roles), "confirmed_on": d}
                        for (f, i), (roles, d) in sorted(merged.items())],
                       columns=["facility_id", "institution_id", "roles", "confirmed_on"])
    old = pd.DataFrame({"facility_id": kept["facility_id"], "institution_id": kept["institution_id"],
                        "roles": kept["roles"].map(lambda rs: ";".join(x.value for x in ROLE_ORDER if x in rs)),
                        "confirmed_on": kept["confirmed_on"] if "confirmed_on" in kept.columns else ""})
    partnerships = pd.concat([old, new], ignore_index=True)
    read_as = "" if table.encoding in ("UTF-8", "UTF-8 (BOM)") else table.described
    return ReportImport(rows, partnerships, reported, read_as)


def review_table(result: ReportImport) -> pd.DataFrame:
    """The review sheet: one row per unresolved report row, ranked candidates, a column to fill in."""
    records = []
    for r in result.review:
        rec = {"行": r.line, "事業所番号": r.given.get("facility_id", ""), "施設名": r.given.get("facility_name", ""),
               "協力医療機関名（報告）": r.given.get("institution_name", ""),
               "医療機関番号（報告）": r.given.get("institution_id", ""), "問題": r.problem}
        rec.update(candidate_cells(r.candidates))
        rec[REVIEW_FACILITY] = r.facility_id or ""
        rec[REVIEW_ID] = ""
        records.append(rec)
    return pd.DataFrame(records)


def write_template(region, path: Path) -> None:
    """The form sent to facilities: one pre-filled row per facility, drop-downs for ①②③."""
    from openpyxl.worksheet.datavalidation import DataValidation

    wb, ws = form_sheet("年次報告", TEMPLATE_COLUMNS, region.facilities, region.areas)
    last = max(ws.max_row, 2) + 200  # room for a second partner per facility
    marks = DataValidation(type="list", formula1='"○,×"', allow_blank=True)
    marks.error, marks.errorTitle = "○ か × を選んでください", "①②③"
    ws.add_data_validation(marks)
    marks.add(f"F2:H{last}")
    dates = date_validation()
    ws.add_data_validation(dates)
    dates.add(f"I2:I{last}")
    finish_form(wb, ws, path, freeze="A2", widths=(14, 30, 12, 30, 14, 14, 14, 12, 12), instructions=(
        "協力医療機関ごとに1行記入してください（2機関以上は行を追加し、事業所番号と施設名を写してください）。",
        "医療機関番号が分かれば記入してください。分からなければ協力医療機関名だけで構いません。",
        "①②③の欄は、その医療機関との取決めで満たす要件に ○、満たさない要件に × を選んでください。",
        "③入院受入れは病院に限られます。協力医療機関を定めていない場合は、協力医療機関名に「なし」と記入してください。",
        "確認日には、医療機関と急変時の対応を確認した日を記入してください。"))
