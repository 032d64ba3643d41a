"""Cells safe to open in a spreadsheet (OWASP "CSV injection").

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel and LibreOffice: an imported name ``=HYPERLINK("http://…","click")``
would become a live link.  Every CSV and xlsx file the library, the CLI and the service write
for people goes through this one module: such cells get a leading apostrophe, so they show
as the text they are.  Numbers are left alone (a negative number is a number, not text).

The data contract's loader removes the apostrophe again (:func:`restore`), so a region
folder written here and loaded back keeps its names exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The inverse of :func:`neutralise` for one text cell read back from a file we wrote."""
    if len(value) > 1 and value[0] == "'" and value[1] in TRIGGERS:
        return value[1:]
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and column names) are neutralised."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            hit = _triggered(s)
            if hit.any():
                values = s.to_numpy(dtype=object, copy=True)
                values[hit] = ["'" + v for v in values[hit]]
                out[col] = pd.Series(values, index=s.index, dtype=s.dtype)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def _triggered(column: pd.Series) -> np.ndarray:
    """Which cells of a text column :func:`neutralise` would change, without a Python call per
    cell where the column holds only text (a national run writes two million cells): the first
    characters are compared as one NumPy array."""
    values = column.to_numpy(dtype=object)
    present = ~pd.isna(values)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        hit = np.zeros(len(values), bool)
        hit[present] = np.isin(values[present].astype("U1"), TRIGGERS)
        return hit
    return np.fromiter((isinstance(v, str) and v.startswith(TRIGGERS) for v in values), bool, len(values))


def to_csv(df: pd.DataFrame, path: str | Path, **kwargs) -> None:
    """``df.to_csv(path, **kwargs)`` with every text cell neutralised."""
    neutralise_frame(df).to_csv(path, **kwargs)


def rows(rows: Iterable[Iterable[Any]]) -> list[list[Any]]:
    """Rows for ``csv.writer.writerows`` with every text cell neutralised."""
    return [[neutralise(v) for v in row] for row in rows]


def workbook(wb) -> None:
    """Neutralise every text cell of an openpyxl workbook in place (just before saving)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(TRIGGERS):
                    cell.value = neutralise(cell.value)
                    cell.data_type = "s"
