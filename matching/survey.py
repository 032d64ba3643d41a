"""The institutions' intention survey (意向調査: 協力医療機関を担う意向と受入可能数).

Whether an institution takes new partner facilities, how many, which of ①②③ it offers and
around the clock, and whom to call are not in any open data: municipalities and prefectures ask
the institutions.  :func:`import_survey` reads the answers (CSV in UTF-8 or CP932, or xlsx — the
form written by :func:`write_template`), one row per institution, resolves each row to the
region's institution with the same rule and review sheet as the annual reports
(:mod:`matching._resolve`: 医療機関番号, else the normalised name within the municipality given,
else a clearly best similar name; anything else goes to the review sheet), and gives the changes
to ``institutions.csv``:

=====================================  ============================================================
answer                                 column (a blank answer changes nothing)
=====================================  ============================================================
新規受入の意向 はい / いいえ / 未定      ``accepting`` true / false / blank (undecided)
受入可能施設数, 受入可能入所者数         ``capacity_facilities``, ``capacity_residents`` (「制限なし」: blank)
①相談対応 and its 24時間対応 ○/×       ``consult_24h``: ○ only when both are ○ (① must be 常時)
②診療（往診） and its 24時間対応 ○/×    ``visit_24h``: likewise
③入院受入れ ○/×                        ``admit`` (③ is for hospitals only: a clinic goes to review)
担当者名, 電話番号                      ``contact_name``, ``contact_phone``
回答日                                  ``survey_date`` (blank: the date of the import, said on the console)
=====================================  ============================================================

Nothing is guessed silently: a value that cannot be read stops the import with every such cell
listed (file, line, column; nothing is written), and a row whose institution is not certain waits
for the coordinator's decision in the review sheet while the other rows are imported.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matching._resolve import (
    REVIEW_ID,
    Candidate,
    candidate_cells,
    column_or_blank,
    date_validation,
    finish_form,
    form_sheet,
    header,
    keyed,
    read_date,
    resolve_name,
)
from matching._resolve import read_review as _read_review
from matching.contract import schema
from matching.contract.columns import FALSE_WORDS, TRUE_WORDS
from matching.contract.tablefile import TableError, read_frame
from matching.vocabulary import Role, column_label_ja

#: Accepted headers (English names, the template's Japanese headers, common variants).
ALIASES: dict[str, tuple[str, ...]] = {
    "institution_id": ("institution_id", "医療機関番号", "医療機関ID", "医療機関コード"),
    "institution_name": ("institution_name", "name", "医療機関名", "医療機関の名称", "名称"),
    "municipality": ("municipality", "市区町村", "所在市区町村", "医療機関の市区町村"),
    "accepting": ("accepting", "新規受入の意向", "受入意向", "新たな協力医療機関となる意向"),
    "capacity_facilities": ("capacity_facilities", "受入可能施設数", "受入可能な施設数"),
    "capacity_residents": ("capacity_residents", "受入可能入所者数", "受入可能な入所者数"),
    "consult": ("consult", "①相談対応", "①"),
    "visit": ("visit", "②診療（往診）", "②診療", "②"),
    "admit": ("admit", "③入院受入れ", "③入院受入", "③"),
    "consult_24h": ("consult_24h", "①24時間対応", "①相談対応の24時間対応"),
    "visit_24h": ("visit_24h", "②24時間対応", "②診療の24時間対応"),
    "contact_name": ("contact_name", "担当者名", "担当者"),
    "contact_phone": ("contact_phone", "電話番号", "担当者の電話番号", "連絡先電話番号"),
    "survey_date": ("survey_date", "回答日"),
}
#: The template's headers, in order (each is one of :data:`ALIASES`).
TEMPLATE_COLUMNS = ("医療機関番号", "医療機関名", "市区町村", "新規受入の意向", "受入可能施設数", "受入可能入所者数",
                    "①相談対応", "②診療（往診）", "③入院受入れ", "①24時間対応", "②24時間対応",
                    "担当者名", "電話番号", "回答日")
#: The columns of institutions.csv an answer may change, in the contract's order.
ANSWERED = ("consult_24h", "visit_24h", "admit", "accepting", "capacity_facilities", "capacity_residents",
            "contact_name", "contact_phone", "survey_date")
ACCEPTING_WORDS = {"はい": True, "いいえ": False, "未定": None, "検討中": None}
UNLIMITED_WORDS = ("制限なし", "上限なし", "無制限")
REVIEW_SHEET = "survey_review.xlsx"
CHANGES_FILE = "survey_changes.csv"
#: A Japanese phone number: 10 or 11 digits beginning with 0 (hyphens, brackets, spaces allowed),
#: an extension after it (内線 123, ext. 123).
_PHONE = re.compile(r"^(?P<number>[0-9()\-\s]+?)\s*(?:(?:内線|内|ext\.?|x)\s*[0-9]+)?$", re.IGNORECASE)


class SurveyError(TableError):
    """Cells of the survey that cannot be read: every one is listed (``problems``); nothing is written."""

    def __init__(self, file: str, problems: list[tuple[int, str, str, str]]):
        self.problems = problems  # (line, column as headed in the file, value, Japanese message)
        lines = [f"{file} {line} 行目「{col}」: {value!r} — {msg}" for line, col, value, msg in problems]
        super().__init__(f"{file}: {len(problems)} unreadable cell(s)",
                         f"意向調査の回答に誤りがあります（{len(problems)} 件、何も書き込んでいません）\n  "
                         + "\n  ".join(lines))


@dataclass
class SurveyRow:
    line: int
    institution_id: str | None
    how: str  # "id", "name", "similar (score 97)", "review decision", "review", "not filled"
    answers: dict[str, object] = field(default_factory=dict)  # column → new value (None = blank)
    problem: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    given: dict = field(default_factory=dict)
    dated_today: bool = False  # 回答日 was blank: the import's date was used
    notes: dict[str, str] = field(default_factory=dict)  # column → what the change report says of it


@dataclass
class SurveyImport:
    rows: list[SurveyRow]
    read_as: str = ""  # how the survey file was read ("survey.csv: CP932 (Shift_JIS)")

    @property
    def review(self) -> list[SurveyRow]:
        return [r for r in self.rows if r.how == "review"]

    @property
    def applied(self) -> list[SurveyRow]:
        return [r for r in self.rows if r.institution_id is not None and r.how not in ("review", "not filled")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            key = "similar" if r.how.startswith("similar") else r.how
            out[key] = out.get(key, 0) + 1
        return out


def read_review(path: str | Path) -> dict[int, str]:
    """The coordinator's decisions: survey line → institution id."""
    return {line: cells[0] for line, cells in _read_review(path, (REVIEW_ID,)).items()}


# -- reading the answers -------------------------------------------------------------------

def _mark(cell: str) -> bool | None | str:
    """○/× (and the contract's other yes/no words) → True/False, blank → None, else the cell (bad)."""
    v = cell.strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False
    return None if v == "" else cell


def _count(cell: str, name: str) -> tuple[object, str]:
    """(value, problem) of a capacity cell: a whole number within the contract's bounds; 制限なし = blank."""
    text = unicodedata.normalize("NFKC", cell).strip().removesuffix("施設").removesuffix("人").strip()
    if text in UNLIMITED_WORDS:
        return None, ""
    parsed = schema.column(schema.INSTITUTIONS, name).parse(pd.Series([text], dtype=object))
    if parsed.bad.iloc[0]:
        vt = schema.column(schema.INSTITUTIONS, name).type
        return None, f"0 以上 {vt.maximum:,.0f} 以下の整数で記入してください（上限がなければ「制限なし」）"
    return int(parsed.values.iloc[0]), ""


def _phone(cell: str) -> tuple[str, str, str]:
    """(number as stored, problem, note): full-width digits made ASCII; a leading 0 a spreadsheet
    dropped from a number cell (196-xx → 0196-xx) restored and said.

    >>> _phone("０１９－６５１－４１１１ 内線12")[0]
    '019-651-4111 内線12'
    >>> _phone("196514111")
    ('0196514111', '', '電話番号の先頭の 0 を補いました（196514111 → 0196514111）')
    >>> _phone("12-34")[1][:19]
    '電話番号は 0 から始まる 10 桁か'
    """
    text = unicodedata.normalize("NFKC", cell).strip()
    m = _PHONE.match(text)
    digits = re.sub(r"[^0-9]", "", m.group("number")) if m else ""
    note = ""
    if m and text.isdigit() and len(text) in (9, 10) and not text.startswith("0"):
        text, digits, note = "0" + text, "0" + digits, f"電話番号の先頭の 0 を補いました（{cell.strip()} → 0{cell.strip()}）"
    if not m or not digits.startswith("0") or len(digits) not in (10, 11):
        return "", "電話番号は 0 から始まる 10 桁か 11 桁で記入してください（例 019-651-4111、内線は「内線 123」）", ""
    if len(text) > schema.PHONE_MAX:
        return "", f"電話番号は {schema.PHONE_MAX} 文字以内で記入してください", ""
    return text, "", note


def _answers(cells: dict[str, str], kind: str, today: str) -> tuple[dict[str, object], list[tuple[str, str]],
                                                                     dict[str, str], bool]:
    """The columns one row answers, its problems ``(alias key, message)``, notes, and whether the
    date of the import was used as 回答日."""
    out: dict[str, object] = {}
    problems: list[tuple[str, str]] = []
    notes: dict[str, str] = {}
    if cells["accepting"]:
        word = unicodedata.normalize("NFKC", cells["accepting"]).strip()
        if word in ACCEPTING_WORDS:
            out["accepting"] = ACCEPTING_WORDS[word]
        elif isinstance(_mark(word), bool):
            out["accepting"] = _mark(word)
        else:
            problems.append(("accepting", "「はい」「いいえ」「未定」のいずれかで記入してください"))
    for name in ("capacity_facilities", "capacity_residents"):
        if cells[name]:
            value, problem = _count(cells[name], name)
            if problem:
                problems.append((name, problem))
            else:
                out[name] = value
    marks = {k: _mark(cells[k]) for k in ("consult", "visit", "admit", "consult_24h", "visit_24h")}
    for k, v in marks.items():
        if isinstance(v, str):
            problems.append((k, "○ か × で記入してください"))
    for role, h24 in (("consult", "consult_24h"), ("visit", "visit_24h")):
        offered, always = marks[role], marks[h24]
        if isinstance(offered, str) or isinstance(always, str):
            continue
        mark = Role(role).mark
        # The contract's flag is "offers the role around the clock" (① and ② are 常時 by definition).
        if offered is False and always is True:
            problems.append((h24, f"{mark}を担わない（×）のに24時間対応が ○ です"))
        elif offered is True and always is None:
            problems.append((h24, f"{mark}を担う場合は24時間対応できるかを ○ か × で記入してください"))
        elif offered is False or always is not None:
            out[h24] = bool(offered is not False and always)
            if offered is True and always is False:
                notes[h24] = f"{mark}は24時間対応ではないため担えない扱いです（時間帯は availability.csv に記入できます）"
    if marks["admit"] is not None and not isinstance(marks["admit"], str):
        out["admit"] = marks["admit"]
    if cells["contact_name"]:
        name = unicodedata.normalize("NFKC", cells["contact_name"]).strip()
        parsed = schema.column(schema.INSTITUTIONS, "contact_name").parse(pd.Series([name], dtype=object))
        if parsed.bad.iloc[0]:
            problems.append(("contact_name", f"担当者名は {schema.CONTACT_MAX} 文字以内で記入してください"))
        else:
            out["contact_name"] = name
    if cells["contact_phone"]:
        phone, problem, note = _phone(cells["contact_phone"])
        if problem:
            problems.append(("contact_phone", problem))
        else:
            out["contact_phone"] = phone
            if note:
                notes["contact_phone"] = note
    dated_today = False
    date = read_date(cells["survey_date"])
    if date is None:
        problems.append(("survey_date", "日付（例 2025-04-01、2025/4/1、2025年4月1日）で記入してください"))
    elif out or date:
        out["survey_date"] = date or today
        dated_today = not date
    if out.get("admit") is True and kind == "clinic":
        problems.append(("admit", "③入院受入れは病院に限られますが、診療所の回答です"))
    return out, problems, notes, dated_today


def import_survey(path: str | Path, region, review: dict[int, str] | None = None,
                  today: dt.date | None = None) -> SurveyImport:
    """Resolve every row of a survey table against ``region`` and read its answers (see the module's
    docstring).  Raises :class:`SurveyError` listing every unreadable cell."""
    df, table = read_frame(path, lines=True)
    review = review or {}
    today_text = (today or dt.date.today()).isoformat()
    name = table.path.name
    if header(df, ALIASES["institution_id"]) is None and header(df, ALIASES["institution_name"]) is None:
        raise TableError(f"{name}: no institution column (医療機関番号 or 医療機関名)",
                         f"{name} に医療機関の列（医療機関番号 または 医療機関名）がありません")
    answered = [k for k in ALIASES if k not in ("institution_id", "institution_name", "municipality")]
    if not any(header(df, ALIASES[k]) for k in answered):
        raise TableError(f"{name}: no answer columns (新規受入の意向, 受入可能施設数, …)",
                         f"{name} に回答の列（新規受入の意向、受入可能施設数 など）がありません")
    cells = {k: column_or_blank(df, aliases) for k, aliases in ALIASES.items()}
    inst = keyed(region.institutions)

    rows: list[SurveyRow] = []
    problems: list[tuple[int, str, str, str]] = []
    for k in range(len(df)):
        line = int(df["_line"].iloc[k])
        row_cells = {key: s.iloc[k] for key, s in cells.items()}
        given = {key: row_cells[key] for key in ("institution_id", "institution_name", "municipality")}
        r = SurveyRow(line, None, "", given=given)
        decided = review.get(line, "")
        i = decided or row_cells["institution_id"]
        if i:
            if i in inst.index:
                r.institution_id, r.how = i, ("review decision" if decided else "id")
            else:
                r.how, r.problem = "review", f"医療機関番号 {i} の医療機関が区域にありません"
        elif row_cells["institution_name"]:
            r.institution_id, r.how, r.candidates, r.problem = resolve_name(
                row_cells["institution_name"], row_cells["municipality"], None, inst, region.areas)
        else:
            r.how, r.problem = "review", "医療機関番号も医療機関名もありません"
        kind = inst.at[r.institution_id, "kind"] if r.institution_id else ""
        r.answers, bad, r.notes, r.dated_today = _answers(row_cells, kind, today_text)
        clinic_admit = [b for b in bad if b[0] == "admit" and "診療所" in b[1]]
        if clinic_admit:
            # Either the answer or the name resolution is wrong: the coordinator decides (as the
            # annual reports do for a clinic reported for ③).
            bad.remove(clinic_admit[0])
            r.how, r.problem, r.institution_id = "review", clinic_admit[0][1], None
        for key, message in bad:
            problems.append((line, header(df, ALIASES[key]) or key, row_cells[key], message))
        if not r.answers and r.how != "review":
            r.how = "not filled"  # an untouched pre-filled row of the template answers nothing
        rows.append(r)
    seen: dict[str, int] = {}
    for r in rows:
        if r.institution_id is None or r.how == "not filled":
            continue
        if r.institution_id in seen:
            problems.append((r.line, header(df, ALIASES["institution_id"]) or header(df, ALIASES["institution_name"])
                             or "", r.institution_id,
                             f"医療機関 {r.institution_id} の回答が {seen[r.institution_id]} 行目にもあります（1機関1行）"))
        seen.setdefault(r.institution_id, r.line)
    if problems:
        raise SurveyError(name, sorted(problems))
    read_as = "" if table.encoding in ("UTF-8", "UTF-8 (BOM)") else table.described
    return SurveyImport(rows, read_as)


# -- what changes --------------------------------------------------------------------------

#: How a blank cell reads, for the change report (the contract's meaning of blank).
_BLANK = {"accepting": "（空欄：未確認）", "capacity_facilities": "（空欄：上限なし）",
          "capacity_residents": "（空欄：上限なし）"}
_ROLE_FLAGS = ("consult_24h", "visit_24h", "admit")


def _blank(value) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and np.isnan(value))


def _unchanged(old, new) -> bool:
    if _blank(old) or _blank(new):
        return _blank(old) and _blank(new)
    if isinstance(new, bool):
        return bool(old) == new
    if isinstance(new, int):
        return int(old) == new
    return str(old) == new


def _shown(value) -> str:
    """A value as the change report shows it."""
    if _blank(value):
        return "（空欄）"
    if isinstance(value, bool | np.bool_):
        return "はい" if value else "いいえ"
    return str(value)


def _cell(value) -> str:
    """A value as institutions.csv holds it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply(result: SurveyImport, institutions: pd.DataFrame, region) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``institutions`` with the answers written in, the change report).

    ``institutions`` is the table as the file holds it (all text): only the cells whose value an
    answer changes are rewritten; other cells, columns and rows stay as they were, and the contact
    columns are added when missing.  An answer is compared with what the file *says* (read by the
    contract's parser): a ○ for ① where the cell is blank (derived from the designations) is
    written, because the institution has now said it.  The report has one row per changed cell
    (行, 医療機関ID, 医療機関名, 特定方法, 項目, 列, 変更前, 変更後, 備考)."""
    out = institutions.copy()
    for col in ANSWERED:
        if col not in out.columns:
            out[col] = ""
    row_of = {iid: k for k, iid in enumerate(out["institution_id"].astype(str).str.strip())}
    parsed = {col: schema.column(schema.INSTITUTIONS, col).parse(out[col].astype(str)).values for col in ANSWERED}
    records = []
    for r in result.applied:
        k = row_of[r.institution_id]
        for col in ANSWERED:
            if col not in r.answers:
                continue
            new, old = r.answers[col], parsed[col].iloc[k]
            old_blank = _blank(old)
            if _unchanged(old, new):
                continue
            before = _shown(old)
            if old_blank and col in _ROLE_FLAGS:
                before = f"（空欄：指定・届出から {_shown(region.institutions.at[r.institution_id, col])}）"
            elif old_blank:
                before = _BLANK.get(col, before)
            out.iat[k, out.columns.get_loc(col)] = _cell(new)
            records.append({"行": r.line, "医療機関ID": r.institution_id,
                            "医療機関名": region.institutions.at[r.institution_id, "name"], "特定方法": _how_ja(r.how),
                            "項目": column_label_ja(col), "列": col, "変更前": before,
                            "変更後": _BLANK.get(col, "（空欄）") if new is None else _shown(new),
                            "備考": r.notes.get(col, "")})
    return out, pd.DataFrame(records, columns=["行", "医療機関ID", "医療機関名", "特定方法", "項目", "列", "変更前",
                                               "変更後", "備考"])


def _how_ja(how: str) -> str:
    if how.startswith("similar"):
        return f"類似名称（スコア {how.split()[-1].rstrip(')')}）"
    return {"id": "医療機関番号", "name": "名称", "review decision": "確認結果"}.get(how, how)


# -- the review sheet and the form ---------------------------------------------------------

def review_table(result: SurveyImport) -> pd.DataFrame:
    """The review sheet: one row per unresolved survey row, ranked candidates, a column to fill in."""
    records = []
    for r in result.review:
        rec = {"行": r.line, "医療機関番号（回答）": r.given.get("institution_id", ""),
               "医療機関名（回答）": r.given.get("institution_name", ""), "市区町村（回答）": r.given.get("municipality", ""),
               "問題": r.problem}
        rec.update(candidate_cells(r.candidates))
        rec[REVIEW_ID] = ""
        records.append(rec)
    return pd.DataFrame(records)


def write_template(region, path: Path) -> None:
    """The form sent to institutions: one pre-filled row per institution, drop-downs for the answers."""
    from openpyxl.worksheet.datavalidation import DataValidation

    wb, ws = form_sheet("意向調査", TEMPLATE_COLUMNS, region.institutions, region.areas)
    last = max(ws.max_row, 2)
    col = {h: chr(ord("A") + k) for k, h in enumerate(TEMPLATE_COLUMNS)}
    intent = DataValidation(type="list", formula1='"はい,いいえ,未定"', allow_blank=True)
    intent.error, intent.errorTitle = "はい・いいえ・未定 から選んでください", "新規受入の意向"
    marks = DataValidation(type="list", formula1='"○,×"', allow_blank=True)
    marks.error, marks.errorTitle = "○ か × を選んでください", "①②③・24時間対応"
    # A hint, not a rule: 「制限なし」 is a valid answer too, and the import checks the numbers.
    counts = DataValidation(type="custom", formula1="TRUE", allow_blank=True, showInputMessage=True,
                            promptTitle="受入可能数", prompt="0 以上の整数、上限がなければ「制限なし」")
    dates = date_validation()
    for dv in (intent, marks, counts, dates):
        ws.add_data_validation(dv)
    intent.add(f"{col['新規受入の意向']}2:{col['新規受入の意向']}{last}")
    counts.add(f"{col['受入可能施設数']}2:{col['受入可能入所者数']}{last}")
    marks.add(f"{col['①相談対応']}2:{col['②24時間対応']}{last}")
    dates.add(f"{col['回答日']}2:{col['回答日']}{last}")
    for r in range(2, last + 1):  # a phone number typed as a number would lose its leading 0
        ws[f"{col['電話番号']}{r}"].number_format = "@"
    finish_form(wb, ws, path, freeze="D2", widths=(14, 30, 12, 14, 14, 16, 12, 14, 14, 12, 12, 16, 16, 12),
                instructions=(
        "医療機関ごとに1行で回答してください（医療機関番号・医療機関名・市区町村は変更しないでください）。",
        "新規受入の意向：新たに高齢者施設等の協力医療機関となる意向を「はい」「いいえ」「未定」から選んでください。",
        "受入可能施設数・受入可能入所者数：新たに協力医療機関として受け入れられる施設数と入所者数（上限がなければ「制限なし」）。",
        "①相談対応・②診療（往診）・③入院受入れ：担える役割に ○、担えない役割に × を選んでください（③は病院に限ります）。",
        "①24時間対応・②24時間対応：①②を担う場合、常時（24時間）対応できれば ○、時間帯が限られる場合は × を選んでください。",
        "担当者名・電話番号：協力医療機関の依頼について連絡する担当者です。",
        "回答日：回答した日を記入してください。空欄の項目は変更しません。"))
