"""Coordinators' own files (issue 14): CP932 and BOM CSV, xlsx workbooks, Excel's dropped zeros,
Japanese yes/no words, and a bounded answer on junk."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from openpyxl import Workbook

from matching.contract import RegionValidationError, load_region
from matching.contract.errors import MAX_LISTED
from matching.contract.tablefile import TableError, open_table, read_frame
from tests.regionkit import (
    DEFAULT_FACILITIES,
    DEFAULT_INSTITUTIONS,
    DEFAULT_PARTNERSHIPS,
    append,
    edit,
    facility,
    partnership,
    write_region,
)

F1 = 0


def _recode(folder, name, encoding):
    text = (folder / name).read_text(encoding="utf-8")
    (folder / name).write_bytes(text.encode(encoding))


def _frames(region):
    return [region.areas, region.facilities, region.institutions, region.partnerships]


@pytest.mark.parametrize("encoding", ["cp932", "shift_jis", "utf-8-sig"])
def test_region_in_excel_encodings_reads_as_utf8(tmp_path, encoding):
    ref = load_region(write_region(tmp_path / "ref"))
    folder = write_region(tmp_path / "x")
    for name in ("areas.csv", "facilities.csv", "institutions.csv", "partnerships.csv"):
        _recode(folder, name, encoding)
    region = load_region(folder)
    for a, b in zip(_frames(ref), _frames(region), strict=True):
        pd.testing.assert_frame_equal(a, b)
    if encoding == "utf-8-sig":
        assert region.notes == []
    else:  # said on the console
        assert any("facilities.csv: CP932 (Shift_JIS)" in n for n in region.notes)


def _to_xlsx(csv_path, xlsx_path, sheet="Sheet1", wb=None, typed=True):
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    own = wb is None
    wb = wb or Workbook()
    ws = wb.active if own else wb.create_sheet(sheet)
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if typed and v in ("true", "false"):
                cells.append(v == "true")  # Excel's TRUE/FALSE
            elif typed and v.replace(".", "", 1).isdigit() and not v.startswith("0"):
                cells.append(float(v) if "." in v else int(v))
            else:
                cells.append(v)
        ws.append(cells)
    if own:
        wb.save(xlsx_path)
    return wb


def test_region_as_xlsx_files_and_as_one_workbook(tmp_path):
    src = write_region(tmp_path / "src")
    ref = load_region(src)
    one = tmp_path / "xlsx"
    one.mkdir()
    for name in ("areas", "facilities", "institutions", "partnerships"):
        _to_xlsx(src / f"{name}.csv", one / f"{name}.xlsx")
    region = load_region(one)
    for a, b in zip(_frames(ref), _frames(region), strict=True):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert any("facilities.xlsx [Sheet1]: xlsx" in n for n in region.notes)

    book = tmp_path / "book"
    book.mkdir()
    wb = Workbook()
    wb.remove(wb.active)
    for name in ("areas", "facilities", "institutions", "partnerships"):
        _to_xlsx(src / f"{name}.csv", None, sheet=name, wb=wb)
    wb.save(book / "region.xlsx")
    region = load_region(book)
    assert list(region.facilities.index) == list(ref.facilities.index)


def test_named_sheet_and_missing_sheet(tmp_path):
    wb = Workbook()
    wb.active.append(["other"])
    ws = wb.create_sheet("提案")
    ws.append(["a", "b"])
    ws.append([1, True])
    wb.save(tmp_path / "t.xlsx")
    df, table = read_frame(f"{tmp_path / 't.xlsx'}#提案")
    assert df.to_dict("records") == [{"a": "1", "b": "TRUE"}] and table.sheet == "提案"
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "t.xlsx", sheet="nope")
    assert "シート「nope」がありません" in exc.value.ja


def test_dropped_leading_zero_is_restored_with_a_note(tmp_path):
    fac = edit(DEFAULT_FACILITIES, F1, municipality_code="3201")
    region = load_region(write_region(tmp_path, facilities=fac))
    assert region.facilities.iloc[0]["municipality_code"] == "03201"
    assert any("municipality_code" in n and "3201 → 03201" in n for n in region.notes)


def test_restored_leading_zeros_are_counted_over_the_whole_file(tmp_path, monkeypatch):
    """A large file is read in chunks; the note counts every restored code of the file (here 2 in
    the first chunk, 1 in the second) and names the first one; every chunk's rows are kept."""
    import matching.contract.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 3)
    fac = DEFAULT_FACILITIES
    for row, code in ((0, "3201"), (1, "3201"), (3, "3202")):
        fac = edit(fac, row, municipality_code=code)
    region = load_region(write_region(tmp_path, facilities=fac))
    assert region.facilities["municipality_code"].tolist() == ["03201", "03201", "03202", "03202"]
    assert region.notes == ["facilities.csv の municipality_code: 先頭の 0 が落ちていたので補いました"
                            "（3 件、2 行目 3201 → 03201 など）"]


def test_a_dropped_leading_zero_repeated_down_a_column_is_restored_with_its_note(tmp_path):
    """Every facility in one municipality whose code lost its zero (``3201``, a column of one repeated
    value, read once per distinct cell): each is restored and the note counts all of them."""
    fac = DEFAULT_FACILITIES
    for row in range(len(fac)):
        fac = edit(fac, row, municipality_code="3201")
    region = load_region(write_region(tmp_path, facilities=fac))
    assert region.facilities["municipality_code"].tolist() == ["03201"] * len(fac)
    assert region.notes == ["facilities.csv の municipality_code: 先頭の 0 が落ちていたので補いました"
                            f"（{len(fac)} 件、2 行目 3201 → 03201 など）"]

@pytest.mark.parametrize(("yes", "no"), [("TRUE", "FALSE"), ("○", "×"), ("有", "無"), ("はい", "いいえ")])
def test_japanese_and_excel_booleans(tmp_path, yes, no):
    inst = edit(DEFAULT_INSTITUTIONS, 0, accepting=yes)
    inst = edit(inst, 1, accepting=no)
    region = load_region(write_region(tmp_path, institutions=inst))
    assert list(region.institutions["accepting"].iloc[:2]) == [True, False]


def test_duplicated_header_column_is_a_file_error(tmp_path):
    folder = write_region(tmp_path)
    lines = (folder / "facilities.csv").read_text(encoding="utf-8").splitlines()
    lines = [line + "," + line.split(",")[1] for line in lines]  # "name" twice
    (folder / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [(e.file, e.column) for e in exc.value.errors] == [("facilities.csv", "name")]
    assert "more than once" in exc.value.errors[0].message


def test_binary_file_is_refused(tmp_path):
    folder = write_region(tmp_path)
    (folder / "facilities.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert "binary" in exc.value.errors[0].message


def test_row_errors_are_listed_up_to_a_limit_per_file(tmp_path):
    rows = [facility(f"X{k}", "nope") for k in range(MAX_LISTED + 250)]
    folder = write_region(tmp_path, facilities=append(DEFAULT_FACILITIES, *rows))
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    err = exc.value
    assert len([e for e in err.errors if e.file == "facilities.csv"]) == MAX_LISTED
    assert err.omitted == {"facilities.csv": 250}
    assert err.total == MAX_LISTED + 250
    assert "他 250 件" in str(err)
    # Lenient mode still skips every bad row, not only the listed ones.
    region = load_region(folder, strict=False)
    assert len(region.facilities) == len(DEFAULT_FACILITIES)
    assert region.skipped_omitted == {"facilities.csv": 250}


def test_strict_reading_stops_on_a_file_of_junk(tmp_path, monkeypatch):
    import matching.contract.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 150)
    rows = [facility(f"X{k}", "nope") for k in range(1000)]
    folder = write_region(tmp_path, facilities=append(DEFAULT_FACILITIES, *rows))
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    stopped = [e for e in exc.value.errors if e.row == 0]
    assert len(stopped) == 1 and "reading stopped after line 151" in stopped[0].message
    assert "確認を打ち切りました" in stopped[0].ja
    # Lenient mode reads every chunk and keeps the good rows.
    region = load_region(folder, strict=False)
    assert len(region.facilities) == len(DEFAULT_FACILITIES)
    assert region.skipped_omitted == {"facilities.csv": 1000 - MAX_LISTED}


def test_a_file_whose_reading_stopped_is_answered_alone(tmp_path, monkeypatch):
    """Once a file of junk stops being read, the other files' references to it are not checked: the
    answer is that file's problems and the stop, not a cell per partnership whose facility was in the
    part never read."""
    import matching.contract.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 150)
    rows = [facility("F1", "gh")] + [facility(f"X{k}", "nope") for k in range(1000)]  # a repeated id first
    part = DEFAULT_PARTNERSHIPS + [partnership("X999", "H1", "admit"), partnership("F9", "H1", "admit")]
    folder = write_region(tmp_path, facilities=append(DEFAULT_FACILITIES, *rows), partnerships=part)
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert {e.file for e in exc.value.errors} == {"facilities.csv"}
    assert [(e.column, e.message, e.ja) for e in exc.value.errors if e.row == 0] == [
        ("", "too many problems: reading stopped after line 151",
         "facilities.csv は誤りが多いため 151 行目までで確認を打ち切りました")]  # a file-level problem: no column
    assert [e.row for e in exc.value.errors if e.row] == list(range(7, 7 + MAX_LISTED))
    # Every problem of the part read (lines 6-151) is counted, the unlisted ones too: 145 bad types, 1 repeat.
    assert exc.value.total == 146 and exc.value.heading_ja == "入力データに誤りがあります（146 件以上）"
    # 100 of them listed: the other 46 are said as such (the stop line is not one of the 146).
    assert exc.value.omitted == {"facilities.csv": 46}
    assert exc.value.lines_ja(limit=None)[-1] == "facilities.csv: ほか 46 件（一覧に載せていません）"
    assert str(exc.value).splitlines()[-1] == "  facilities.csv: 46 more not listed (他 46 件)"
    # Read to its end (lenient), the unknown facility is reported and its partnership left out.
    region = load_region(folder, strict=False)
    assert [(e.file, e.row, e.column) for e in region.skipped if e.file == "partnerships.csv"] == [
        ("partnerships.csv", 6, "facility_id"), ("partnerships.csv", 7, "facility_id")]


def test_xlsx_cells_read_as_people_typed_them(tmp_path):
    """Excel stores TRUE, 3, a date and a date-time as typed values; they read back as the text a
    person typed (TRUE/FALSE, 3 not 3.0, 2025-04-01, 2025-04-01 10:30:00), blanks as ''."""
    import datetime as dt

    wb = Workbook()
    ws = wb.active
    ws.append(["flag", "off", "count", "date", "when", "blank"])
    ws.append([True, False, 3.0, dt.datetime(2025, 4, 1), dt.datetime(2025, 4, 1, 10, 30), None])
    ws.append([None, None, 2.5, dt.date(2025, 4, 2), None, "x"])
    wb.save(tmp_path / "cells.xlsx")
    df, table = read_frame(tmp_path / "cells.xlsx", lines=True)
    assert table.encoding == "xlsx"
    assert df.iloc[0].tolist()[:6] == ["TRUE", "FALSE", "3", "2025-04-01", "2025-04-01 10:30:00", ""]
    assert df.iloc[1].tolist()[:6] == ["", "", "2.5", "2025-04-02", "", "x"]


def test_read_frame_pads_short_rows_drops_blank_ones_and_keeps_lines(tmp_path):
    """Short rows get '' cells, blank rows go, text stays text (007), and ``_line`` is the line each
    record is on (the blank line counted)."""
    (tmp_path / "t.csv").write_text("id,name,code\nA,x\n\n,,\nB,y,007\n", encoding="utf-8")
    df, _ = read_frame(tmp_path / "t.csv", lines=True)
    assert df.columns.tolist() == ["id", "name", "code", "_line"]
    assert df[["id", "name", "code"]].values.tolist() == [["A", "x", ""], ["B", "y", "007"]]
    assert df["_line"].tolist() == [2, 5]
    assert df["code"].dtype == object
    plain, _ = read_frame(tmp_path / "t.csv")
    assert "_line" not in plain.columns


def test_read_frame_refuses_a_repeated_column_in_both_languages(tmp_path):
    (tmp_path / "d.csv").write_text("id,name,id\n1,a,2\n", encoding="utf-8")
    with pytest.raises(TableError) as exc:
        read_frame(tmp_path / "d.csv")
    assert str(exc.value) == "d.csv: column(s) id appear more than once in the header"
    assert exc.value.ja == "d.csv の見出しに同じ列名が複数あります: id"
    (tmp_path / "d.csv").write_text("id,name,id,name,id\n1,a,2,b,3\n", encoding="utf-8")
    with pytest.raises(TableError) as exc:
        read_frame(tmp_path / "d.csv")
    assert str(exc.value) == "d.csv: column(s) id, name appear more than once in the header"
    assert exc.value.ja == "d.csv の見出しに同じ列名が複数あります: id、name"


def test_read_frame_reads_the_named_sheet(tmp_path):
    wb = Workbook()
    wb.active.title = "first"
    wb.active.append(["a"])
    wb.active.append(["1"])
    second = wb.create_sheet("second")
    second.append(["b"])
    second.append(["2"])
    wb.save(tmp_path / "two.xlsx")
    df, table = read_frame(tmp_path / "two.xlsx", "second")
    assert df.columns.tolist() == ["b"] and df["b"].tolist() == ["2"] and table.sheet == "second"


def test_xlsx_refusals_say_what_and_where_in_both_languages(tmp_path):
    """A broken workbook, a missing sheet and an empty sheet: the English detail and the Japanese
    line each name the file (and the sheets there are)."""
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "broken.xlsx")
    assert str(exc.value).startswith("broken.xlsx: not a readable xlsx workbook (")
    assert exc.value.ja == "broken.xlsx は Excel ブック（.xlsx）として読めません"
    wb = Workbook()
    wb.active.title = "施設"
    wb.create_sheet("機関")
    wb.save(tmp_path / "book.xlsx")
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "book.xlsx", "協定")
    assert str(exc.value) == "book.xlsx: no sheet '協定' (sheets: 施設, 機関)"
    assert exc.value.ja == "book.xlsx にシート「協定」がありません（シート: 施設、機関）"
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "book.xlsx", "機関")
    assert str(exc.value) == "book.xlsx [機関]: the sheet is empty (a header row is required)"
    assert exc.value.ja == "book.xlsx のシート「機関」は空です（見出し行が必要です）"


def test_xlsx_header_loses_formatted_empty_columns_and_rows_keep_their_lines(tmp_path):
    """Columns formatted but empty on the right are not columns (a blank one between stays); records
    carry the sheet's own row numbers; a formula with no saved result reads blank, not as '=…'."""
    wb = Workbook()
    ws = wb.active
    ws.append(["a", "", "b", None, None])
    ws["E1"].number_format = "0.0"  # formatted, still empty
    ws.append(["1", "x", "2"])
    ws.append([None, None, None])
    ws.append(["3", "y", "=1+1"])
    wb.save(tmp_path / "h.xlsx")
    table = open_table(tmp_path / "h.xlsx")
    try:
        assert table.header == ["a", "", "b"]
        rows = list(table.rows)
    finally:
        table.close()
    assert [line for line, _ in rows] == [2, 3, 4]
    assert rows[2][1][:3] == ["3", "y", ""]
    (tmp_path / "h.csv").write_text("a\n1\n", encoding="utf-8")
    open_table(tmp_path / "h.csv").close()  # a CSV table has nothing else to close: no error


CSV_REFUSALS = {
    "utf-16-le": (b"\xff\xfe" + "a,b\n".encode("utf-16-le"),
                  "x.csv: UTF-16 text (Excel's \"Unicode text\") is not read; save it as CSV",
                  "x.csv は UTF-16（Excel の「Unicode テキスト」）です。CSV（UTF-8）で保存し直してください"),
    "utf-16-be": (b"\xfe\xff" + "a,b\n".encode("utf-16-be"),
                  "x.csv: UTF-16 text (Excel's \"Unicode text\") is not read; save it as CSV",
                  "x.csv は UTF-16（Excel の「Unicode テキスト」）です。CSV（UTF-8）で保存し直してください"),
    "binary": (b"a,b\n1," + b"\x00" * 9 + b"\n", "x.csv: binary data (control bytes), not a text table",
               "x.csv は表のファイルではありません（バイナリデータ）"),
    "xls-bytes": (b"\xd0\xcf\x11\xe0" + b"\x00" * 600,
                  "x.csv: the old .xls format is not read; save it as .xlsx or CSV",
                  "x.csv は古い Excel 形式（.xls）です。.xlsx か CSV で保存し直してください"),
    "empty": (b"", "x.csv: file is empty (a header row is required)", "x.csv は空のファイルです（見出し行が必要です）"),
    "no-known-encoding": (b"municipality_code,\xff\xfe\xfd\xff\xfd\n03201,\xfd\xfe\xff\n",
                          "x.csv: neither UTF-8 nor a Japanese encoding (CP932/Shift_JIS, EUC-JP)",
                          "x.csv の文字コードを判定できません（UTF-8 か Shift_JIS で保存してください）"),
    "huge-header-cell": (b'"' + b"x" * 140_000 + b'"\n',
                         "x.csv line 1: not a readable CSV file (field larger than field limit (131072))",
                         "x.csv の 1 行目付近が CSV として読めません（引用符の対応や区切りを確認してください）"),
}


@pytest.mark.parametrize("case", CSV_REFUSALS)
def test_csv_refusals_say_what_and_where_in_both_languages(tmp_path, case):
    data, message, ja = CSV_REFUSALS[case]
    (tmp_path / "x.csv").write_bytes(data)
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "x.csv")
    assert (str(exc.value), exc.value.ja) == (message, ja)


def _rows_of(path):
    table = open_table(path)
    try:
        return table.header, list(table.rows), table.encoding
    finally:
        table.close()


def test_a_few_control_bytes_are_bad_cells_not_a_binary_file(tmp_path):
    """Up to 8 control bytes, or 1 % of the first 64 KiB, are cells to report, not a binary file."""
    (tmp_path / "few.csv").write_bytes(b"a,b\n1," + b"\x00" * 8 + b"\n")
    assert _rows_of(tmp_path / "few.csv")[1] == [(2, ["1", "\x00" * 8])]
    body = b"a,b\n" + b"1,abcdefgh\n" * 225  # with the last row 2,507 bytes: 25 control bytes allowed
    (tmp_path / "some.csv").write_bytes(body + b"2," + b"\x01" * 25 + b"\n")
    assert len(_rows_of(tmp_path / "some.csv")[1]) == 226
    (tmp_path / "many.csv").write_bytes(body + b"2," + b"\x01" * 26 + b"\n")
    with pytest.raises(TableError, match="binary data"):
        open_table(tmp_path / "many.csv")
    # Only the first 64 KiB are counted.
    (tmp_path / "late.csv").write_bytes(b"a,b\n" + b"1,abcdefgh\n" * 6000 + b"2," + b"\x01" * 800 + b"\n")
    assert len(_rows_of(tmp_path / "late.csv")[1]) == 6001


def test_old_xls_is_refused_by_its_name_too(tmp_path):
    (tmp_path / "t.xls").write_bytes(b"a,b\n1,2\n")
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "t.xls")
    assert str(exc.value) == "t.xls: the old .xls format is not read; save it as .xlsx or CSV"
    (tmp_path / "t.XLS").write_bytes(b"a,b\n1,2\n")
    with pytest.raises(TableError, match="old .xls"):
        open_table(tmp_path / "t.XLS")


@pytest.mark.parametrize(("encoding", "label"), [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"),
                                                   ("cp932", "CP932 (Shift_JIS)"), ("shift_jis", "CP932 (Shift_JIS)"),
                                                   ("euc_jp", "EUC-JP"), ("iso2022_jp", "ISO-2022-JP")])
def test_csv_encodings_are_read_and_named(tmp_path, encoding, label):
    """Each encoding Japanese offices save tables in is recognised and named; ISO-2022-JP (JIS, 7-bit)
    too, which a UTF-8 check alone would take for UTF-8 and then refuse its escape codes."""
    (tmp_path / "t.csv").write_bytes(" 名前 ,種別\r\n施設イ,\"特養\r\nほか\"\r\n\r\nグループホーム,gh\r\n".encode(encoding))
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == label
    assert header == ["名前", "種別"]  # header cells are stripped
    assert rows == [(2, ["施設イ", "特養\r\nほか"]), (4, []), (5, ["グループホーム", "gh"])]
    table = open_table(tmp_path / "t.csv")
    assert table.described == f"t.csv: {label}"
    table.close()


def test_a_line_no_encoding_reads_is_named_after_the_first_mebibyte(tmp_path):
    """The encoding is identified on the first MiB; a bad line past it is found while streaming
    and named by its line number (a BOM file too)."""
    body = "id,name\n" + ("x" * 60 + ",y\n") * 17_000  # 1.1 MB
    for prefix, label in ((b"", "UTF-8"), (b"\xef\xbb\xbf", "UTF-8 (BOM)")):
        (tmp_path / "t.csv").write_bytes(prefix + body.encode() + "施設,y\n".encode("cp932"))
        table = open_table(tmp_path / "t.csv")
        assert table.encoding == label
        with pytest.raises(TableError) as exc:
            list(table.rows)
        assert str(exc.value) == (f"t.csv line 17002: not {label} text (invalid start byte); save it as UTF-8 "
                                  "or Shift_JIS (CP932)")
        assert exc.value.ja == (f"t.csv の 17002 行目が {label} として読めません。文字コードを UTF-8 か "
                                "Shift_JIS に揃えて保存し直してください")
    # In the header itself (a header longer than the sample): line 1.
    (tmp_path / "h.csv").write_bytes(",".join(["c" * 1000] * 1100).encode() + b",\x8e{\n1\n")
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "h.csv")
    assert str(exc.value).startswith("h.csv line 1: not UTF-8 text (invalid start byte)")


def test_a_broken_quote_is_named_by_the_line_it_starts_on(tmp_path):
    (tmp_path / "q.csv").write_bytes(b"a,b\n1,2\n3,\"" + b"x" * 140_000 + b"\"\n")
    table = open_table(tmp_path / "q.csv")
    rows = table.rows
    assert next(rows) == (2, ["1", "2"])
    with pytest.raises(TableError) as exc:
        next(rows)
    assert str(exc.value) == "q.csv line 3: not a readable CSV file (field larger than field limit (131072))"
    assert exc.value.ja == "q.csv の 3 行目付近が CSV として読めません（引用符の対応や区切りを確認してください）"


def test_a_small_file_cut_inside_a_character_is_not_utf8(tmp_path):
    """A whole file (under the sample size) that ends inside a UTF-8 sequence is not UTF-8: the
    Japanese encodings are tried (here CP932 reads it), not a stream that fails on its last line."""
    (tmp_path / "t.csv").write_bytes(b"a,b\n1,\xe3\x81")
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "CP932 (Shift_JIS)" and rows == [(2, ["1", "縺"])]


def test_a_short_katakana_table_charset_normalizer_gives_up_on_is_read_as_cp932(tmp_path):
    """Half-width katakana (ｰｱｲ) alone: charset-normalizer finds every Japanese encoding too "chaotic";
    CP932 reads the file without an odd character, so it is CP932, named so, not refused."""
    (tmp_path / "t.csv").write_bytes("a\nｰｱｲ\n".encode("cp932"))
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "CP932 (Shift_JIS)" and header == ["a"] and rows == [(2, ["ｰｱｲ"])]


def test_a_small_file_cut_inside_a_cp932_character_is_refused_when_opened(tmp_path):
    """A whole file that ends inside a CP932 character (and that nothing else reads) is refused when
    it is opened, with the encoding message, not read as CP932 until its last line fails."""
    (tmp_path / "t.csv").write_bytes(b"a,b\n1,\x82")
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "t.csv")
    assert str(exc.value) == "t.csv: neither UTF-8 nor a Japanese encoding (CP932/Shift_JIS, EUC-JP)"
    assert exc.value.ja == "t.csv の文字コードを判定できません（UTF-8 か Shift_JIS で保存してください）"


def test_names_cp932_reads_only_with_a_user_defined_character_each_are_refused(tmp_path):
    """Every name ends in a code CP932 leaves to the user (外字, read as private use): charset-normalizer
    rates the file 0.89 "chaos", above the 0.5 it accepts, and the CP932 fallback will not give
    private-use characters — refused with the encoding message, not read with 外字 in every name."""
    rows = b"".join(b"%d,%s\xf0\x40\n" % (k, "山田医院".encode("cp932")) for k in range(1, 11))
    (tmp_path / "t.csv").write_bytes(b"id,name\n" + rows)
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "t.csv")
    assert str(exc.value) == "t.csv: neither UTF-8 nor a Japanese encoding (CP932/Shift_JIS, EUC-JP)"
    assert exc.value.ja == "t.csv の文字コードを判定できません（UTF-8 か Shift_JIS で保存してください）"


def test_a_large_file_charset_normalizer_gives_up_on_is_cp932_when_its_first_mib_ends_inside_a_character(tmp_path):
    """Half-width katakana (ｰｱｲ) over more than the first MiB, which charset-normalizer gives up on, with
    a full-width ア whose first byte is the MiB's last: the CP932 fallback reads the first MiB as the
    start of a longer file (the character goes on past it), so the file is CP932, read to its end."""
    from matching.contract.tablefile import _SAMPLE

    row = "ｰｱｲ\n".encode("cp932")
    head = b"a\n" + row * ((_SAMPLE - 3) // len(row))
    head += "ｱ".encode("cp932") * (_SAMPLE - 1 - len(head))
    (tmp_path / "t.csv").write_bytes(head + "ア\n".encode("cp932") + row * 3)
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "CP932 (Shift_JIS)" and header == ["a"]
    assert rows[-4:] == [(len(rows) - 2, ["ｱア"]), (len(rows) - 1, ["ｰｱｲ"]), (len(rows), ["ｰｱｲ"]),
                         (len(rows) + 1, ["ｰｱｲ"])]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc (Linux)")
def test_closing_an_unread_csv_table_closes_its_file(tmp_path):

    (tmp_path / "t.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = len(os.listdir("/proc/self/fd"))
    table = open_table(tmp_path / "t.csv")
    assert len(os.listdir("/proc/self/fd")) == before + 1
    table.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_closing_an_unread_workbook_closes_its_file(tmp_path):
    wb = Workbook()
    wb.active.append(["a", "b"])
    wb.active.append([1, 2])
    wb.save(tmp_path / "t.xlsx")
    before = len(os.listdir("/proc/self/fd"))
    table = open_table(tmp_path / "t.xlsx")
    assert len(os.listdir("/proc/self/fd")) == before + 1
    table.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_large_utf8_file_whose_sample_ends_inside_a_character_is_utf8(tmp_path):
    """The first MiB may end inside a character of a longer file: that is not a decoding error
    (the sample is decoded as unfinished), so the file is UTF-8, not tried as CP932."""
    from matching.contract.tablefile import _SAMPLE

    row = "1,名前\n".encode()  # 3-byte characters
    n = _SAMPLE // len(row) + 1
    # Shift the rows by a first row of 0–8 ASCII bytes until byte _SAMPLE continues a character.
    data = next(d for d in (b"a,b\n0," + b"x" * k + b"\n" + row * n for k in range(len(row)))
                if 0x80 <= d[_SAMPLE] < 0xC0)
    assert len(data) > _SAMPLE
    (tmp_path / "t.csv").write_bytes(data)
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "UTF-8" and header == ["a", "b"] and len(rows) == n + 1 and rows[-1][1] == ["1", "名前"]


def test_a_file_charset_normalizer_calls_shift_jis_is_read_as_cp932_to_its_end(tmp_path):
    """Opening hours written 9時～17時 over the first MiB make charset-normalizer call the file Shift_JIS;
    it is read as CP932 (what Excel writes, a superset), so the wave dash reads back as written and a
    name with 髙 further down (a CP932-only character) is read, not refused as undecodable."""
    from matching.contract.tablefile import _SAMPLE

    row = "1,9時～17時\n"
    n = _SAMPLE // len(row.encode("cp932")) + 10
    text = "a,b\n" + row * n + "2,髙橋医院\n"
    (tmp_path / "t.csv").write_bytes(text.encode("cp932"))
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "CP932 (Shift_JIS)" and header == ["a", "b"]
    assert rows[0] == (2, ["1", "9時～17時"]) and rows[-1] == (n + 2, ["2", "髙橋医院"]) and len(rows) == n + 1



def test_an_euc_jp_table_charset_normalizer_finds_untidy_is_still_euc_jp(tmp_path):
    """A short EUC-JP table whose notes are ℃: charset-normalizer rates it 0.28 "chaos"; up to 0.5 is
    accepted, so it is read as EUC-JP, not refused (CP932, the fallback, cannot read its bytes)."""
    text = "id,name,note\n" + "".join(f"F{k},施設{k},℃\n" for k in range(5))
    (tmp_path / "t.csv").write_bytes(text.encode("euc_jp"))
    header, rows, found = _rows_of(tmp_path / "t.csv")
    assert found == "EUC-JP" and header == ["id", "name", "note"]
    assert rows == [(k + 2, [f"F{k}", f"施設{k}", "℃"]) for k in range(5)]


def test_formatted_empty_cells_right_of_an_xlsx_header_are_not_extra_cells_but_csv_commas_are(tmp_path):
    """In a workbook, cells formatted but empty to the right of the header are not cells (the loader
    does not call the row long); in a CSV, trailing commas are extra cells and the row is reported."""
    from openpyxl import load_workbook

    folder = write_region(tmp_path / "x")
    _to_xlsx(folder / "areas.csv", folder / "areas.xlsx")
    (folder / "areas.csv").unlink()
    wb = load_workbook(folder / "areas.xlsx")
    wb.active["H2"].number_format = "0.0"  # formatted, still empty, three columns right of the header
    wb.save(folder / "areas.xlsx")
    region = load_region(folder)
    assert region.areas.index.tolist() == ["03201", "03202"] and region.skipped == []
    folder = write_region(tmp_path / "c")
    lines = (folder / "areas.csv").read_text(encoding="utf-8").splitlines()
    (folder / "areas.csv").write_text("\n".join([lines[0], lines[1] + ",,", lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [(e.file, e.row, e.message) for e in exc.value.errors] == [
        ("areas.csv", 2, "row has 7 cells but the header has 5 columns")]


def test_a_file_with_exactly_the_listed_number_of_problems_in_a_chunk_is_read_on(tmp_path, monkeypatch):
    """Reading stops only past the listing limit: a first chunk with exactly MAX_LISTED bad rows goes
    on to the next chunk, whose problems are counted too."""
    import matching.contract.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 150)
    rows = [facility(f"X{k}", "nope" if k < MAX_LISTED else "gh") for k in range(146)]
    rows += [facility(f"Y{k}", "nope") for k in range(10)]
    folder = write_region(tmp_path, facilities=append(DEFAULT_FACILITIES, *rows))
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [e for e in exc.value.errors if e.row == 0] == []
    assert exc.value.total == MAX_LISTED + 10 and exc.value.omitted == {"facilities.csv": 10}


def test_a_file_read_in_chunks_is_checked_as_one_table(tmp_path, monkeypatch):
    """A repeat of an id read in an earlier chunk is found, on its own line, and lenient mode keeps
    the rows of every chunk but the repeat."""
    import matching.contract.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 3)
    folder = write_region(tmp_path, facilities=append(DEFAULT_FACILITIES, facility("F2", "gh")))
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [(e.file, e.row, e.column, e.message, e.value) for e in exc.value.errors] == [
        ("facilities.csv", 6, "facility_id", "duplicate facility_id, first seen on line 3", "F2")]
    region = load_region(folder, strict=False)
    assert region.facilities.index.tolist() == ["F1", "F2", "F3", "F4"]
    assert region.facilities.loc["F2", "facility_type"] == "gh" and region.facilities.loc["F4", "facility_type"] == "keihi"


def test_a_row_of_only_commas_is_a_blank_line_not_a_record(tmp_path):
    """Excel writes an empty row of a CSV as commas (",,,,"), with spaces sometimes: that is a blank
    line, not a record of blank cells; the lines after it keep their numbers."""
    fac = edit(DEFAULT_FACILITIES, 1, lat="north")
    folder = write_region(tmp_path, facilities=fac)
    lines = (folder / "facilities.csv").read_text(encoding="utf-8").splitlines()
    lines[2:2] = ["," * (lines[0].count(",")), " , ,"]
    (folder / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [(e.file, e.row, e.column) for e in exc.value.errors] == [("facilities.csv", 5, "lat")]
    region = load_region(folder, strict=False)
    assert region.facilities.index.tolist() == ["F1", "F3", "F4"]


def test_a_short_row_reads_its_missing_cells_as_blank(tmp_path):
    """A row that stops early (a hand-written CSV drops its trailing empty cells) reads the missing
    cells as blank: optional ones load as blank, required ones are reported as missing, each in its column."""
    ref = load_region(write_region(tmp_path / "ref"))
    folder = write_region(tmp_path / "x")
    path = folder / "institutions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = ",".join(lines[2].split(",")[:8])  # C1: nothing after its designations
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    region = load_region(folder)
    cut = ["accepting", "capacity_residents"]  # C1's true and 60 were cut off
    pd.testing.assert_frame_equal(region.institutions.drop(columns=cut), ref.institutions.drop(columns=cut))
    assert region.institutions.loc["C1", cut].isna().all() and region.skipped == []
    path = folder / "facilities.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = ",".join(lines[1].split(",")[:4])  # F1: no lat, lon, residents, reported
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert [(e.file, e.row, e.column, e.value) for e in exc.value.errors] == [
        ("facilities.csv", 2, "lat", ""), ("facilities.csv", 2, "lon", ""), ("facilities.csv", 2, "reported", "")]


def test_a_file_with_a_header_and_no_rows_is_an_empty_table_of_its_columns(tmp_path):
    """Optional files written with their header only (no partnerships yet, no travel times measured)
    load as empty tables that still have their columns."""
    folder = write_region(tmp_path, partnerships=[], travel_times=[])
    for name, header in (("partnerships.csv", "facility_id,institution_id,roles"),
                         ("travel_times.csv", "facility_id,institution_id,minutes")):
        (folder / name).write_text(header + "\n", encoding="utf-8")
    region = load_region(folder)
    assert region.partnerships.columns.tolist() == ["facility_id", "institution_id", "roles"]
    assert region.travel_times.columns.tolist() == ["facility_id", "institution_id", "minutes"]
    assert len(region.partnerships) == 0 and len(region.travel_times) == 0
    assert region.travel_times["minutes"].dtype == float


def test_a_table_without_rows_types_its_text_columns_as_one_with_rows(tmp_path):
    """Partnerships with a column the contract does not know (``note``, kept as the file holds it),
    written with rows and with their header only: the ids are text (``str``) in both, and the extra
    column is typed the same in both — code that joins or concatenates an empty table meets the
    types it meets otherwise."""
    frames = {}
    for rows in ("rows", "empty"):
        folder = write_region(tmp_path / rows)
        lines = (folder / "partnerships.csv").read_text(encoding="utf-8").splitlines()
        body = [f"{line},note {k}" for k, line in enumerate(lines[1:])] if rows == "rows" else []
        (folder / "partnerships.csv").write_text("\n".join([lines[0] + ",note", *body]) + "\n", encoding="utf-8")
        frames[rows] = load_region(folder).partnerships
    assert len(frames["rows"]) == len(DEFAULT_PARTNERSHIPS) and len(frames["empty"]) == 0
    assert frames["rows"]["note"].tolist() == [f"note {k}" for k in range(len(DEFAULT_PARTNERSHIPS))]
    for col in ("facility_id", "institution_id"):
        assert frames["rows"][col].dtype == frames["empty"][col].dtype == "str", col
    assert frames["rows"]["note"].dtype == frames["empty"]["note"].dtype


def test_a_folder_given_as_a_table_is_refused_in_both_languages(tmp_path):
    (tmp_path / "t.csv").mkdir()
    with pytest.raises(TableError) as exc:
        open_table(tmp_path / "t.csv")
    assert str(exc.value) == f"{tmp_path / 't.csv'} is a folder, not a table file"
    assert exc.value.ja == f"{tmp_path / 't.csv'} はフォルダです（表のファイルを指定してください）"


def test_a_missing_table_file_is_reported_by_its_path(tmp_path):
    """A table that is not there is the OS's "no such file", naming the file (without its
    ``#sheet``), so every command answers 「ファイルまたはフォルダが見つかりません: <path>」."""
    import errno

    from matching._cli_errors import BAD_INPUT, describe

    for given, missing in ((tmp_path / "nowhere.csv", tmp_path / "nowhere.csv"),
                           (f"{tmp_path / 'book.xlsx'}#提案", tmp_path / "book.xlsx")):
        with pytest.raises(FileNotFoundError) as exc:
            open_table(given)
        assert exc.value.errno == errno.ENOENT
        assert exc.value.filename == str(missing)
        assert str(exc.value) == f"[Errno 2] No such file: '{missing}'"
        assert describe(exc.value) == (BAD_INPUT, f"ファイルまたはフォルダが見つかりません: {missing}",
                                       f"FileNotFoundError: [Errno 2] No such file: '{missing}'")



def test_a_workbook_is_known_by_its_bytes_and_by_its_name(tmp_path):
    """A workbook saved under a ``.csv`` name is read as the workbook it is; a text file named
    ``.xlsx`` or ``.XLSM`` is refused as a workbook that cannot be read, not read as CSV."""
    wb = Workbook()
    wb.active.append(["a", "b"])
    wb.active.append([1, "x"])
    wb.save(tmp_path / "book.csv")
    df, table = read_frame(tmp_path / "book.csv")
    assert table.encoding == "xlsx" and df.to_dict("records") == [{"a": "1", "b": "x"}]
    for name in ("t.xlsx", "T.XLSM"):
        (tmp_path / name).write_text("a,b\n1,x\n", encoding="utf-8")
        with pytest.raises(TableError) as exc:
            open_table(tmp_path / name)
        assert str(exc.value).startswith(f"{name}: not a readable xlsx workbook (")
        assert exc.value.ja == f"{name} は Excel ブック（.xlsx）として読めません"


def test_a_whole_number_a_workbook_stores_with_a_decimal_point_reads_without_it(tmp_path):
    """Some programs store a whole number as ``12.0`` in the workbook (openpyxl reads a float):
    it reads back as ``12``, as a person typed it; ``2.5`` stays ``2.5``."""
    import zipfile

    wb = Workbook()
    wb.active.append(["residents", "minutes"])
    wb.active.append([12, 2.5])
    wb.save(tmp_path / "plain.xlsx")
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as src, \
            zipfile.ZipFile(tmp_path / "stored.xlsx", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<v>12</v>" in data
                data = data.replace(b"<v>12</v>", b"<v>12.0</v>")
            dst.writestr(item, data)
    df, _ = read_frame(tmp_path / "stored.xlsx")
    assert df.to_dict("records") == [{"residents": "12", "minutes": "2.5"}]


def test_a_hash_in_a_file_or_folder_name_is_not_a_sheet(tmp_path):
    """Only ``#`` after the workbook's name names a sheet: a CSV called ``案#2.csv`` is read as itself,
    and a workbook in a folder called ``2025#1`` is found, with its named sheet."""
    (tmp_path / "案#2.csv").write_text("a,b\n1,x\n", encoding="utf-8")
    df, table = read_frame(tmp_path / "案#2.csv")
    assert table.path == tmp_path / "案#2.csv" and df.to_dict("records") == [{"a": "1", "b": "x"}]
    (tmp_path / "2025#1").mkdir()
    wb = Workbook()
    wb.active.append(["other"])
    ws = wb.create_sheet("提案")
    ws.append(["a"])
    ws.append([1])
    wb.save(tmp_path / "2025#1" / "book.xlsx")
    df, table = read_frame(f"{tmp_path / '2025#1' / 'book.xlsx'}#提案")
    assert table.path == tmp_path / "2025#1" / "book.xlsx" and table.sheet == "提案"
    assert df.to_dict("records") == [{"a": "1"}]
    wb.save(tmp_path / "Book.XLSM")  # a macro workbook's name, in any case, takes a sheet too
    df, table = read_frame(f"{tmp_path / 'Book.XLSM'}#提案")
    assert table.path == tmp_path / "Book.XLSM" and table.sheet == "提案" and df.to_dict("records") == [{"a": "1"}]


def test_a_region_table_read_back_as_text_keeps_every_cell_as_written(tmp_path):
    """The ``matching data`` commands write a region table back with few changes, so they read it as
    the file holds it: every cell as text (a dropped zero stays dropped, a blank stays ''), the
    file's own columns and order (an extra one, a repeated one), and whether it was CSV or a workbook."""
    from matching.cli.data import load_table_text
    from matching.contract.schema import FACILITIES

    folder = write_region(tmp_path / "csv", facilities=edit(DEFAULT_FACILITIES, 0, municipality_code="3201", memo="a"))
    df, kind = load_table_text(folder, FACILITIES)
    assert kind == "csv"
    assert df.columns.tolist() == ["facility_id", "name", "facility_type", "municipality_code", "lat", "lon",
                                   "residents", "reported", "memo"]
    assert df.iloc[0].tolist() == ["F1", "テスト施設F1", "tokuyo", "3201", "39.70", "141.15", "80", "true", "a"]
    assert df.iloc[2].tolist() == ["F3", "テスト施設F3", "roken", "03202", "39.64", "141.95", "", "true", ""]
    text = (folder / "facilities.csv").read_text(encoding="utf-8").replace(",memo\n", ",name\n", 1)
    (folder / "facilities.csv").write_text(text, encoding="utf-8")  # "name" twice: both columns kept
    df, _ = load_table_text(folder, FACILITIES)
    assert len(df.columns) == 9 and df.iloc[0, [1, 8]].tolist() == ["テスト施設F1", "a"]
    one = tmp_path / "xlsx"
    one.mkdir()
    _to_xlsx(write_region(tmp_path / "src") / "facilities.csv", one / "facilities.xlsx", typed=False)
    df, kind = load_table_text(one, FACILITIES)
    assert kind == "xlsx" and df.iloc[3].tolist()[:8] == ["F4", "テスト施設F4", "keihi", "03202", "39.65", "141.94",
                                                        "0", "false"]
    book = tmp_path / "book"  # one workbook, a sheet per table: the facilities' sheet, not the first
    book.mkdir()
    wb = Workbook()
    wb.remove(wb.active)
    for name in ("areas", "facilities"):
        _to_xlsx(tmp_path / "src" / f"{name}.csv", None, sheet=name, wb=wb, typed=False)
    wb.save(book / "region.xlsx")
    df, kind = load_table_text(book, FACILITIES)
    assert kind == "xlsx" and df["facility_id"].tolist() == ["F1", "F2", "F3", "F4"]
