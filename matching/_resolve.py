"""Name resolution and the review round shared by the imports of returned forms.

The facilities' annual reports (:mod:`matching.annual_reports`) and the institutions' intention
survey (:mod:`matching.survey`) both come back as tables people filled in: an id when they knew
it, otherwise a name (and perhaps a municipality).  Both resolve them the same way, so a
coordinator learns one rule and one review sheet:

- by id when given;
- else by the normalised name (NFKC, corporate prefixes, spaces and punctuation removed —
  :func:`matching.importers.normalise.normalise_name`) among the records of the municipality
  given (when several share the name: of the municipality nearby, e.g. the facility's);
- otherwise rapidfuzz (``fuzz.ratio`` on the normalised names): a best score of at least
  :data:`AUTO_SCORE` that leads the next candidate by at least :data:`AUTO_MARGIN` is taken —
  and listed with its score; anything else goes to the **review sheet** with up to
  :data:`CANDIDATES` ranked candidates (score ≥ :data:`MIN_SCORE`).  The coordinator writes the
  chosen id in the sheet and imports again with ``--review``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from matching.contract.tablefile import TableError, read_frame

#: A similar name is taken without review from this rapidfuzz score (0–100) …
AUTO_SCORE = 95.0
#: … when the next candidate scores at least this much less.
AUTO_MARGIN = 5.0
#: Candidates below this score are not offered in the review sheet.
MIN_SCORE = 60.0
#: Candidates offered per row in the review sheet.
CANDIDATES = 3
#: The review sheet's column the coordinator fills in with the institution chosen.
REVIEW_ID = "決定した医療機関ID"
#: The review sheet's column with the line of the returned form.
REVIEW_LINE = "行"

Candidate = tuple[str, str, float]  # (id, name, score)


def column(df: pd.DataFrame, aliases: tuple[str, ...]) -> pd.Series | None:
    """The first of ``aliases`` the table has, as stripped text (``None`` when it has none)."""
    for alias in aliases:
        if alias in df.columns:
            return df[alias].astype(str).str.strip()
    return None


def column_or_blank(df: pd.DataFrame, aliases: tuple[str, ...]) -> pd.Series:
    """:func:`column`, or blank cells when the table has none of ``aliases``."""
    found = column(df, aliases)
    return found if found is not None else pd.Series([""] * len(df), index=df.index)


def header(df: pd.DataFrame, aliases: tuple[str, ...]) -> str | None:
    """The header the table uses for a column (for messages that name it as the user wrote it)."""
    return next((a for a in aliases if a in df.columns), None)


def read_date(text: str) -> str | None:
    """A date as people write it (2025-04-01, 2025/4/1, 2025年4月1日) in ISO form; ``""`` for a blank
    cell, ``None`` for one that is not a date.

    >>> read_date("2025/4/1"), read_date(""), read_date("来週")
    ('2025-04-01', '', None)
    """
    text = text.strip()
    if not text:
        return ""
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def keyed(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` (with a ``name`` column) plus ``_key``, the normalised name compared."""
    from matching.importers.normalise import normalise_name

    out = records.copy()
    out["_key"] = out["name"].map(normalise_name)
    return out


def candidates(name: str, pool: pd.DataFrame) -> list[Candidate]:
    """The records of ``pool`` (see :func:`keyed`) with a name like ``name``, best first."""
    from rapidfuzz import fuzz, process

    from matching.importers.normalise import normalise_name

    if pool.empty:
        return []
    keys = pool["_key"].tolist()
    hits = process.extract(normalise_name(name), keys, scorer=fuzz.ratio, limit=CANDIDATES + 1,
                           score_cutoff=MIN_SCORE)
    return [(pool.index[k], pool["name"].iloc[k], round(float(score), 1)) for _, score, k in hits]


def municipality_code(text: str, areas: pd.DataFrame) -> str | None:
    """The region's municipality given as a code or a name (``None`` when it is not in the region)."""
    if text in areas.index:
        return text
    return next((c for c, n in areas["municipality_name"].items() if n == text), None)


def resolve_name(name: str, muni: str, near: str | None, pool: pd.DataFrame, areas: pd.DataFrame,
                 what: str = "医療機関") -> tuple[str | None, str, list[Candidate], str]:
    """(id or ``None``, how, candidates, problem) for a ``name`` of ``pool`` (see :func:`keyed`).

    ``muni`` (code or name, may be blank) narrows the pool; ``near`` (a municipality code) picks
    among records that share the name.  ``how`` is ``"name"``, ``"similar (score 97)"`` or
    ``"review"`` (then ``problem`` says why, in Japanese)."""
    from matching.importers.normalise import normalise_name

    if muni:
        code = municipality_code(muni, areas)
        if code is None:
            return None, "review", [], f"{what}の市区町村 {muni!r} が区域にありません"
        pool = pool[pool["municipality_code"] == code]
    exact = pool[pool["_key"] == normalise_name(name)]
    if len(exact) > 1 and near is not None and (exact["municipality_code"] == near).any():
        exact = exact[exact["municipality_code"] == near]
    if len(exact) == 1:
        return exact.index[0], "name", [], ""
    cands = candidates(name, exact if len(exact) > 1 else pool)
    if len(exact) > 1:
        return None, "review", cands, f"同じ名称の{what}が複数あります"
    if cands and cands[0][2] >= AUTO_SCORE and (len(cands) == 1 or cands[0][2] - cands[1][2] >= AUTO_MARGIN):
        return cands[0][0], f"similar (score {cands[0][2]:g})", cands[:1], ""
    return None, "review", cands[:CANDIDATES], (f"名称が一致する{what}がありません" if cands
                                                 else f"名称が一致する{what}も、似た名称の候補もありません")


def candidate_cells(found: list[Candidate]) -> dict[str, object]:
    """The review sheet's ranked candidate columns (候補1 ID, 候補1 名称, 候補1 スコア, …)."""
    out: dict[str, object] = {}
    for n in range(CANDIDATES):
        c = found[n] if n < len(found) else ("", "", None)
        out[f"候補{n + 1} ID"], out[f"候補{n + 1} 名称"], out[f"候補{n + 1} スコア"] = c
    return out


def read_review(path: str | Path, decided: tuple[str, ...] = (REVIEW_ID,)) -> dict[int, tuple[str, ...]]:
    """The coordinator's decisions in a filled-in review sheet: form line → the ``decided`` cells
    (blank kept; rows with every one blank left out).  The last of ``decided`` must be a column."""
    df, _ = read_frame(path)
    if REVIEW_LINE not in df.columns or decided[-1] not in df.columns:
        raise TableError(f"{Path(path).name}: not a review sheet (columns {REVIEW_LINE} and {decided[-1]} expected)",
                         f"{Path(path).name} は確認シートではありません"
                         f"（列「{REVIEW_LINE}」「{decided[-1]}」がありません）")
    out = {}
    for _, row in df.iterrows():
        cells = tuple(str(row.get(c, "")).strip() for c in decided)
        if str(row[REVIEW_LINE]).strip().isdigit() and any(cells):
            out[int(row[REVIEW_LINE])] = cells
    return out


# -- the forms sent out (templates) -------------------------------------------------------------

def form_sheet(title: str, columns: tuple[str, ...], records: pd.DataFrame, areas: pd.DataFrame):
    """A new workbook whose first sheet ``title`` has the bold header ``columns`` and one row per
    record (sorted by id): its id, name and municipality name pre-filled, the rest blank.
    Returns (workbook, sheet)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    names = areas["municipality_name"]
    for rid, row in records.sort_index().iterrows():
        ws.append([rid, row["name"], names.get(row["municipality_code"], row["municipality_code"])]
                  + [None] * (len(columns) - 3))
    return wb, ws


def date_validation():
    """The drop-in check of a form's date column (after 2000-01-01)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    dates = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
    dates.error = "日付（例 2025-04-01）を入力してください"
    return dates


def finish_form(wb, ws, path: str | Path, *, freeze: str, widths: tuple[float, ...],
                instructions: tuple[str, ...]) -> None:
    """Frozen header, a filter over every column, column widths in order, a 記入方法 sheet; saved
    with formula-like cells neutralised (:mod:`matching.safecells`)."""
    from openpyxl.utils import get_column_letter

    from matching import safecells

    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(ws.max_column)}{ws.max_row}"
    for k, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(k)].width = width
    info = wb.create_sheet("記入方法")
    for line in instructions:
        info.append([line])
    safecells.workbook(wb)
    wb.save(path)
