"""Reading the tables coordinators actually have: CSV in UTF-8 or CP932, and Excel workbooks.

Every input table of the project (a region folder's files, the proposals ``matching verify``
checks) is read here, so they all accept the same things:

- CSV as UTF-8 with or without a BOM, or as CP932 / Shift_JIS (what Excel's plain "CSV"
  writes on a Japanese PC).  A file that is not UTF-8 is identified with charset-normalizer,
  restricted to the Japanese encodings, and the encoding found is reported (``Table.encoding``)
  so the caller can say it on the console.  Nothing else is guessed: a file none of these
  encodings reads is refused with a message that says what to do.
- ``.xlsx`` / ``.xlsm`` workbooks (also when saved under a ``.csv`` name), the first sheet or a
  named one (``file.xlsx#Sheet``).  Cells are turned back into the text a CSV would hold:
  ``TRUE``/``FALSE``, whole numbers without ``.0``, dates as ``YYYY-MM-DD``.

Files are streamed: rows are yielded one by one with the line they start on, so a large file
is never held as one string.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Encodings accepted besides UTF-8 (charset-normalizer's names); CP932 is Excel's "ANSI" on a
#: Japanese PC, a superset of Shift_JIS, so Shift_JIS files are read as CP932.
JAPANESE_ENCODINGS = ("cp932", "shift_jis", "euc_jp", "iso2022_jp")
_LABELS = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8 (BOM)", "cp932": "CP932 (Shift_JIS)",
           "shift_jis": "CP932 (Shift_JIS)", "euc_jp": "EUC-JP", "iso2022_jp": "ISO-2022-JP"}
_ODD = re.compile("[\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # private use, controls
_BINARY = re.compile(b"[\x00-\x08\x0e-\x1a\x1c-\x1f]")  # control bytes no text table holds (ESC: ISO-2022)
_SAMPLE = 1 << 20  # bytes looked at to identify the encoding
_JIS_KANJI = re.compile(b"\x1b\\$[@B]")  # ISO-2022-JP's switch to JIS X 0208 (ESC $ @, ESC $ B)
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
#: Largest CSV cell (csv's default 128 KiB); a longer one means the file is not a table.
FIELD_LIMIT = 1 << 17


class TableError(ValueError):
    """A file that cannot be read as a table at all: ``ja`` for users, ``str()`` in English."""

    def __init__(self, message: str, ja: str):
        super().__init__(message)
        self.ja = ja


@dataclass
class Table:
    """An opened table: its header and an iterator of ``(line, cells)`` for the records."""

    path: Path
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str  # "UTF-8", "UTF-8 (BOM)", "CP932 (Shift_JIS)", "xlsx" …
    sheet: str | None = None
    closer: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop reading (the file is closed also when ``rows`` is not started)."""
        self.rows.close()  # type: ignore[attr-defined]
        if self.closer is not None:
            self.closer()

    @property
    def described(self) -> str:
        """``facilities.csv (CP932 (Shift_JIS))`` for the console."""
        where = f"{self.path.name}" + (f" [{self.sheet}]" if self.sheet else "")
        return f"{where}: {self.encoding}"


def split_sheet(path: str | Path) -> tuple[Path, str | None]:
    """``book.xlsx#Sheet2`` → (``book.xlsx``, ``"Sheet2"``); other paths unchanged."""
    text = str(path)
    base, sep, sheet = text.rpartition("#")
    if sep and base.lower().endswith((".xlsx", ".xlsm")) and sheet:
        return Path(base), sheet
    return Path(text), None


def open_table(path: str | Path, sheet: str | None = None) -> Table:
    """Open a CSV or xlsx file for reading (raises :class:`TableError`, or ``FileNotFoundError``)."""
    file, named = split_sheet(path)
    sheet = sheet or named
    if file.is_dir():
        raise TableError(f"{file} is a folder, not a table file", f"{file} はフォルダです（表のファイルを指定してください）")
    if not file.exists():
        raise FileNotFoundError(2, "No such file", str(file))
    with file.open("rb") as fh:
        head = fh.read(_SAMPLE)
    if head.startswith(_ZIP) or file.suffix.lower() in (".xlsx", ".xlsm"):
        return _open_xlsx(file, sheet)
    if head.startswith(_OLE) or file.suffix.lower() == ".xls":
        raise TableError(f"{file.name}: the old .xls format is not read; save it as .xlsx or CSV",
                         f"{file.name} は古い Excel 形式（.xls）です。.xlsx か CSV で保存し直してください")
    encoding, label = _encoding(file, head)
    return _open_csv(file, encoding, label)


# -- CSV -------------------------------------------------------------------------

def _encoding(file: Path, head: bytes) -> tuple[str, str]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", _LABELS["utf_8_sig"]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError(f"{file.name}: UTF-16 text (Excel's \"Unicode text\") is not read; save it as CSV",
                         f"{file.name} は UTF-16（Excel の「Unicode テキスト」）です。CSV（UTF-8）で保存し直してください")
    if len(_BINARY.findall(head[:65536])) > max(8, len(head[:65536]) // 100):  # one NUL is a bad cell
        raise TableError(f"{file.name}: binary data (control bytes), not a text table",
                         f"{file.name} は表のファイルではありません（バイナリデータ）")
    if _JIS_KANJI.search(head) and head.isascii():  # ISO-2022-JP is 7-bit: UTF-8 would take it
        try:
            codecs.getincrementaldecoder("iso2022_jp")().decode(head, final=len(head) < _SAMPLE)
            return "iso2022_jp", _LABELS["iso2022_jp"]
        except UnicodeDecodeError:
            pass
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SAMPLE)
        return "utf-8", _LABELS["utf_8"]
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # charset-normalizer picks among the Japanese encodings; on short tables of katakana names it
    # may find all of them too "chaotic", so a file that CP932 reads without error is CP932 then.
    best = from_bytes(head, cp_isolation=list(JAPANESE_ENCODINGS), threshold=0.5).best()
    if best is not None:
        name = "cp932" if best.encoding in ("shift_jis", "cp932") else best.encoding
        return name, _LABELS.get(best.encoding, best.encoding)
    try:
        text = codecs.getincrementaldecoder("cp932")().decode(head, final=len(head) < _SAMPLE)
        if not _ODD.search(text):  # CP932 gives bytes 0xFD–0xFF and user-defined codes private use
            return "cp932", _LABELS["cp932"]
    except UnicodeDecodeError:
        pass
    raise TableError(f"{file.name}: neither UTF-8 nor a Japanese encoding (CP932/Shift_JIS, EUC-JP)",
                     f"{file.name} の文字コードを判定できません（UTF-8 か Shift_JIS で保存してください）")


def _open_csv(file: Path, encoding: str, label: str) -> Table:
    fh = io.TextIOWrapper(file.open("rb"), encoding=encoding, newline="", errors="strict")
    reader = csv.reader(fh)

    def records() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        try:
            for row in reader:  # keep this loop bare: it runs once per line of a national file
                yield start, row
                start = reader.line_num + 1
        except UnicodeDecodeError as exc:
            raise _decode_error(file, label, start, exc) from None
        except csv.Error as exc:
            raise _csv_error(file, start, exc) from None
        finally:
            fh.close()

    try:
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        fh.close()
        raise _decode_error(file, label, 1, exc) from None
    except csv.Error as exc:
        fh.close()
        raise _csv_error(file, 1, exc) from None
    if header is None:
        fh.close()
        raise TableError(f"{file.name}: file is empty (a header row is required)",
                         f"{file.name} は空のファイルです（見出し行が必要です）")
    return Table(file, [h.strip() for h in header], records(), label, closer=fh.close)


def _decode_error(file: Path, label: str, line: int, exc: UnicodeDecodeError) -> TableError:
    line = _first_bad_line(file, exc.encoding) or line
    return TableError(f"{file.name} line {line}: not {label} text ({exc.reason}); save it as UTF-8 "
                      "or Shift_JIS (CP932)",
                      f"{file.name} の {line} 行目が {label} として読めません。文字コードを UTF-8 か "
                      "Shift_JIS に揃えて保存し直してください")


def _first_bad_line(file: Path, encoding: str) -> int | None:
    """The first line (as an editor counts) that ``encoding`` cannot read; only run on an error.

    In UTF-8 and CP932 a line feed byte is never part of a character, so lines decode alone."""
    with file.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode(encoding.replace("-sig", ""))
            except UnicodeDecodeError:
                return number
            except LookupError:
                return None
    return None


def _csv_error(file: Path, line: int, exc: csv.Error) -> TableError:
    return TableError(f"{file.name} line {line}: not a readable CSV file ({exc})",
                      f"{file.name} の {line} 行目付近が CSV として読めません（引用符の対応や区切りを確認してください）")


csv.field_size_limit(FIELD_LIMIT)


# -- xlsx ----------------------------------------------------------------------------

def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _open_xlsx(file: Path, sheet: str | None) -> Table:
    import zipfile

    from openpyxl import load_workbook

    # openpyxl refuses a path it does not know by its suffix (a workbook saved as "….csv"), but
    # reads the same bytes from a file object.
    source = file if file.suffix.lower() in (".xlsx", ".xlsm") else io.BytesIO(file.read_bytes())
    try:
        wb = load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"{file.name}: not a readable xlsx workbook ({exc})",
                         f"{file.name} は Excel ブック（.xlsx）として読めません") from None
    if sheet is not None and sheet not in wb.sheetnames:
        names = "、".join(wb.sheetnames)
        wb.close()
        raise TableError(f"{file.name}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})",
                         f"{file.name} にシート「{sheet}」がありません（シート: {names}）")
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header_row = next(rows, None)
    if header_row is None:
        wb.close()
        raise TableError(f"{file.name} [{ws.title}]: the sheet is empty (a header row is required)",
                         f"{file.name} のシート「{ws.title}」は空です（見出し行が必要です）")
    header = [_cell_text(v).strip() for v in header_row]
    while header and header[-1] == "":  # formatted but empty columns on the right
        header.pop()

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, row in enumerate(rows, start=2):
                yield line, [_cell_text(v) for v in row]
        finally:
            wb.close()

    return Table(file, header, records(), "xlsx", sheet=ws.title, closer=wb.close)


def read_frame(path: str | Path, sheet: str | None = None, *, lines: bool = False):
    """The whole table as a DataFrame of strings (short rows padded, blank rows dropped), and
    the :class:`Table` read; ``lines=True`` adds ``_line``, the line each record starts on.

    For small tables (proposals, reports); region files go through :mod:`matching.contract.load`.
    """
    import pandas as pd

    table = open_table(path, sheet)
    dup = duplicated(table.header)
    if dup:
        table.close()
        raise TableError(f"{table.path.name}: column(s) {', '.join(dup)} appear more than once in the header",
                         f"{table.path.name} の見出しに同じ列名が複数あります: {'、'.join(dup)}")
    width = len(table.header)
    body, starts = [], []
    for start, row in table.rows:
        if any(x.strip() for x in row):
            body.append((row + [""] * width)[:width])
            starts.append(start)
    df = pd.DataFrame(body, columns=table.header, dtype=object)
    if lines:
        df["_line"] = starts
    return df, table


def duplicated(header: list[str]) -> list[str]:
    """Non-blank column names that appear more than once, in order."""
    seen: set[str] = set()
    dup: list[str] = []
    for h in header:
        if h and h in seen and h not in dup:
            dup.append(h)
        seen.add(h)
    return dup
