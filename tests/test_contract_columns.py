"""The contract's column parsers, cell by cell: values, bad cells and messages, at the edges.

The schema builds its parsers once at import; these tests build them again, so every branch
of each parser is checked on its own (and mutation testing can see them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching.contract import columns as c


def col(*cells: str) -> pd.Series:
    return pd.Series(list(cells), dtype=object)


def bad(parsed) -> list[bool]:
    return parsed.bad.tolist()


def test_text_required_strips_and_refuses_blank_and_control_characters():
    p = c.text()(col(" a ", "", "   ", "a\x00b", "a\tb", "a\nb", "a\rb", "x"))
    assert p.values.tolist() == ["a", "", "", "a\x00b", "a\tb", "a\nb", "a\rb", "x"]
    assert bad(p) == [False, True, True, True, False, False, False, False]
    assert p.message == "must not be empty, without control characters (NUL …)"


def test_text_control_characters_at_each_edge_of_the_ranges():
    inner = ["\x01", "\x08", "\x09", "\x0a", "\x0b", "\x0c", "\x0d", "\x0e", "\x1f", "\x20", "\x7e", "\x7f", "\x80"]
    p = c.text()(col(*[f"a{ch}b" for ch in inner]))
    assert dict(zip(inner, bad(p), strict=True)) == {
        "\x01": True, "\x08": True, "\x09": False, "\x0a": False, "\x0b": True, "\x0c": True, "\x0d": False,
        "\x0e": True, "\x1f": True, "\x20": False, "\x7e": False, "\x7f": True, "\x80": False}


def test_text_optional_and_max_length():
    p = c.text(required=False)(col("", "ok"))
    assert bad(p) == [False, False]
    assert p.message == "must be text, without control characters (NUL …)"
    p = c.text(max_length=3)(col("abc", "abcd", " abc ", ""))
    assert bad(p) == [False, True, False, True]
    assert p.message == "must not be empty, at most 3 characters, without control characters (NUL …)"
    p = c.text(required=False, max_length=2)(col("", "abc"))
    assert bad(p) == [False, True]
    assert p.message == "must be text, at most 2 characters, without control characters (NUL …)"


def test_text_reads_back_cells_neutralised_by_safecells():
    p = c.text()(col("'=1+1", "'plain", "x"))
    assert p.values.tolist() == ["=1+1", "'plain", "x"]
    assert bad(p) == [False, False, False]
    assert p.values.index.tolist() == [0, 1, 2]


def test_digits():
    # One digit short is a leading zero Excel dropped: restored (the loader says so); shorter is not guessed.
    p = c.digits(5)(col("03201", " 03201 ", "3201", "032011", "０３２０１", "a3201", "", "201"))
    assert p.values.tolist()[:3] == ["03201", "03201", "03201"]
    assert bad(p) == [False, False, False, True, True, True, True, True]
    assert p.message == "must be exactly 5 digits"
    assert bad(c.digits(2)(col("03", "3", ""))) == [False, False, True]


def test_boolean_words_and_blank():
    words = sorted(c.TRUE_WORDS) + sorted(c.FALSE_WORDS)
    p = c.boolean()(col(*words, " YES ", "", "maybe"))
    assert p.values.tolist() == [True] * len(c.TRUE_WORDS) + [False] * len(c.FALSE_WORDS) + [True, pd.NA, pd.NA]
    assert bad(p) == [False] * (len(words) + 1) + [True, True]
    assert {"○", "×", "有", "無", "はい", "いいえ"} <= set(words)  # what Excel users write
    assert p.message == "must be true or false (also TRUE/FALSE, 1/0, yes/no, ○/×, 有/無, はい/いいえ); required"
    assert str(p.values.dtype) == "boolean"
    p = c.boolean(required=False)(col("", "no", "x"))
    assert p.values.tolist() == [pd.NA, False, pd.NA]
    assert bad(p) == [False, False, True]
    assert p.message == "must be true or false (also TRUE/FALSE, 1/0, yes/no, ○/×, 有/無, はい/いいえ)"


def test_number_integer_with_minimum():
    p = c.number(integer=True, minimum=0)(col("3", " 4 ", "3.0", "3.5", "0", "-1", "inf", "nan", "", "x"))
    assert bad(p) == [False, False, False, True, False, True, True, True, True, True]
    assert p.values.tolist()[:3] == [3, 4, 3] and p.values.tolist()[4] == 0
    assert p.values.isna().tolist() == bad(p)
    assert str(p.values.dtype) == "Int64"
    assert p.message == "must be a whole number of at least 0"


def test_number_float_range_optional_and_message():
    p = c.number(integer=False, minimum=1, maximum=2, required=False)(col("1", "2", "1.5", "0.99", "2.01", "", "-inf"))
    assert bad(p) == [False, False, False, True, True, False, True]
    assert p.values.tolist()[:3] == [1.0, 2.0, 1.5] and np.isnan(p.values.tolist()[5])
    assert p.message == "must be a number between 1 and 2 or blank"
    assert c.number(integer=False, maximum=5)(col("6")).message == "must be a number"
    assert bad(c.number(integer=False, maximum=5)(col("5", "6"))) == [False, True]
    assert c.number(integer=True, message="custom")(col("1")).message == "custom"
    p = c.number(integer=True, required=False)(col("", "2"))
    assert bad(p) == [False, False] and p.values.tolist() == [pd.NA, 2]
    assert p.message == "must be a whole number or blank"


def test_latitude_and_longitude_boxes():
    assert bad(c.latitude(col("20", "46", "19.99", "46.01", ""))) == [False, False, True, True, True]
    assert bad(c.longitude(col("122", "154", "121.9", "154.1"))) == [False, False, True, True]
    assert "outside Japan (expected 20 to 46)" in c.latitude(col("0")).message


def test_one_of_and_code_list():
    p = c.one_of({"b", "a"}, "kind")(col("a", " b ", "c"))
    assert bad(p) == [False, False, True]
    assert p.message == "unknown kind; expected one of a, b"
    p = c.code_list({"x", "y"}, "role")(col("x; y", "", "x;z", " ;x; "))
    assert p.values.tolist() == [frozenset({"x", "y"}), frozenset(), frozenset({"x", "z"}), frozenset({"x"})]
    assert bad(p) == [False, False, True, False]
    assert p.message == "unknown role; expected ';'-separated codes from x, y"


def test_parse_distinct_equals_parsing_every_cell():
    cells = col(*(["1", "0", "", "x"] * 300))
    for parser in (c.boolean(required=False), c.number(integer=True, minimum=0, required=False)):
        once, each = c.parse_distinct(parser, cells), parser(cells)
        assert once.bad.tolist() == each.bad.tolist()
        assert once.values.astype(object).fillna(-9).tolist() == each.values.astype(object).fillna(-9).tolist()
        assert once.message == each.message
    ids = col(*[str(k) for k in range(50)])
    assert c.parse_distinct(c.text(), ids).values.tolist() == ids.tolist()


def test_iso_date_calendar_dates_only():
    """YYYY-MM-DD of a real day; blank allowed unless required; the messages in both languages."""
    optional, required = c.iso_date(), c.iso_date(required=True)
    p = optional(col("2025-04-01", " 2025-04-02 ", "", "2025-02-30", "2025/04/01", "25-04-01", "2025-4-1"))
    assert bad(p) == [False, False, False, True, True, True, True]
    assert p.values.tolist()[:3] == ["2025-04-01", "2025-04-02", ""]
    assert p.message == "must be a date written YYYY-MM-DD (e.g. 2025-04-01) or blank"
    assert p.message_ja == "日付は YYYY-MM-DD で書いてください（例 2025-04-01）。空欄も可"
    r = required(col("", "2024-02-29", "2023-02-29"))
    assert bad(r) == [True, False, True]
    assert r.message == "must be a date written YYYY-MM-DD (e.g. 2025-04-01)"
    assert r.message_ja == "日付は YYYY-MM-DD で書いてください（例 2025-04-01）"
    assert c.value_type(optional) == c.ValueType("text", max_length=10, min_length=0)
    assert c.value_type(required) == c.ValueType("text", max_length=10, min_length=10)


def test_location_columns_and_capacity_column_names():
    """The columns every located record shares (address, where the point comes from, its radius),
    built again here (the schema builds them once at import), and the capacity column names."""
    from matching.contract.schema import (
        ADDRESS_MAX,
        FACILITIES,
        _location_columns,
        capacity_column,
        column,
    )
    from matching.vocabulary import Role

    cols = _location_columns("clinic")
    assert [x.name for x in cols] == ["address", "location_source", "location_radius_km"]
    assert [x.label_ja for x in cols] == ["所在地", "位置の出典", "位置の誤差半径（km）"]
    assert all(not x.required for x in cols) and [x.default for x in cols] == ["", "", None]
    with pytest.raises(KeyError, match="facilities.csv has no column 'nope'"):
        column(FACILITIES, "nope")
    assert column(FACILITIES, "address").label_ja == "所在地"
    assert [x.doc for x in cols] == [  # what docs/data-contract.md and the API's descriptions say
        "the clinic's street address (所在地; blank = not known), for the people who call or visit",
        "where the clinic's point comes from: source (元データの座標), joined (突合した記録の座標), "
        "office (市区町村役場で近似), other (その他（ジオコーディング等）) (blank = source)",
        "uncertainty radius of the point in km (blank = exact enough)"]
    address, source, radius = (x.parse for x in cols)
    assert bad(address(col("", "岩手県" + "あ" * (ADDRESS_MAX - 3), "あ" * (ADDRESS_MAX + 1)))) == [False, False, True]
    assert bad(source(col("", "office", "x" * 17))) == [False, False, True]
    assert bad(radius(col("", "0", "3.5", "1000", "1000.1", "-1"))) == [False, False, False, False, True, True]
    assert capacity_column("facilities") == "capacity_facilities"
    assert capacity_column("residents", Role.VISIT) == capacity_column("residents", "visit") == "capacity_residents_visit"


def test_japanese_messages_and_value_types_of_every_parser():
    """What people read (``message_ja``) and what the database and API layers derive (``value_type``)."""
    vt = c.value_type
    p = c.digits(5)(col("3201"))
    assert p.message_ja == "半角数字 5 桁で書いてください" and p.note == "先頭の 0 が落ちていたので補いました"
    assert p.fixed.tolist() == [True]
    assert vt(c.digits(5)) == c.ValueType("digits", max_length=5)
    one = c.digits(1)(col("", "3", "33"))  # one digit: nothing shorter to restore, blank stays bad
    assert bad(one) == [True, False, True] and one.values.tolist()[0] == "" and one.fixed is None
    assert c.boolean()(col("x")).message_ja == (
        "必須です。true か false で書いてください（TRUE/FALSE、1/0、yes/no、○/×、有/無、はい/いいえ も可）")
    assert c.boolean(required=False)(col("x")).message_ja == (
        "true か false で書いてください（TRUE/FALSE、1/0、yes/no、○/×、有/無、はい/いいえ も可）")
    assert vt(c.boolean()) == c.ValueType("bool", nullable=False)
    assert vt(c.boolean(required=False)) == c.ValueType("bool", nullable=True)
    labels = {"a": "甲", "b": "乙"}
    assert c.one_of({"b", "a"}, "kind", labels)(col("c")).message_ja == \
        "kindのコードが不明です。次のいずれかで書いてください: a（甲）、b（乙）"
    assert c.one_of({"a"}, "facility type")(col("c")).message_ja == "施設種別のコードが不明です。次のいずれかで書いてください: a"
    assert vt(c.one_of(("b", "a"), "kind")) == c.ValueType("code", choices=("b", "a"), what="kind")
    assert c.code_list({"y", "x"}, "role", {"x": "①"})(col("z")).message_ja == \
        "役割のコードが不明です。次のコードを ; で区切って書いてください: x（①）、y"
    assert c.code_list({"x"}, "kind")(col("z")).message_ja == \
        "kindのコードが不明です。次のコードを ; で区切って書いてください: x"  # no Japanese name: the English one
    assert vt(c.code_list(("x", "y"), "role")) == c.ValueType("codes", choices=("x", "y"), what="role")
    assert c.number(integer=True, minimum=0, maximum=10)(col("x")).message_ja == "整数（0〜10）で書いてください"
    assert c.number(integer=False, minimum=1.5, required=False)(col("x")).message_ja == "数値（1.5 以上）で書いてください。空欄も可"
    assert c.number(integer=False)(col("x")).message_ja == "数値で書いてください"  # no bounds: none said
    assert c.number(integer=True, message_ja="独自")(col("x")).message_ja == "独自"
    assert vt(c.number(integer=True, minimum=0, maximum=9, required=False)) == \
        c.ValueType("int", nullable=True, minimum=0, maximum=9)
    assert vt(c.number(integer=False)) == c.ValueType("float", nullable=False)
    assert c.text()(col("")).message_ja == "空欄にはできません。制御文字（NUL など）は使えません"
    assert c.text(required=False, max_length=5)(col("\x00")).message_ja == "文字で書いてください（5 文字以内）。制御文字（NUL など）は使えません"
    assert vt(c.text(max_length=7)) == c.ValueType("text", max_length=7, min_length=1)
    assert vt(c.text(required=False, max_length=7)) == c.ValueType("text", max_length=7, min_length=0)  # blank allowed


def test_every_parser_keeps_the_rows_of_the_column_it_reads():
    """Values, bad cells and repairs line up with the column's own row labels, whatever they are
    (a table with rows left out, a survey's institutions): nothing is shifted or lost to alignment."""
    rows = [10, 3, 7]

    def labelled(*cells):
        return pd.Series(list(cells), index=rows, dtype=object)

    cases = [
        (c.number(integer=True, minimum=0), ("3", "-1", "4"), [3, pd.NA, 4], [False, True, False]),
        (c.number(integer=False, required=False), ("1.5", "", "x"), [1.5, None, None], [False, False, True]),
        (c.text(), (" a ", "", "b"), ["a", "", "b"], [False, True, False]),
        (c.text(), ("'=1+1", "", "b"), ["=1+1", "", "b"], [False, True, False]),  # read back from safecells
        (c.digits(5), ("3201", "03202", "1"), ["03201", "03202", "1"], [False, False, True]),
        (c.boolean(required=False), ("はい", "", "x"), [True, pd.NA, pd.NA], [False, False, True]),
        (c.iso_date(), ("2025-04-01", "", "2025-02-30"), ["2025-04-01", "", "2025-02-30"], [False, False, True]),
        (c.one_of({"a"}, "kind"), ("a", " a", "b"), ["a", "a", "b"], [False, False, True]),
        (c.code_list({"x"}, "role"), ("x", "", "y"), [frozenset({"x"}), frozenset(), frozenset({"y"})],
         [False, False, True]),
    ]
    for parser, cells, values, bad_cells in cases:
        p = parser(labelled(*cells))
        assert p.values.index.tolist() == rows and p.bad.index.tolist() == rows
        got = [None if (not isinstance(v, frozenset) and pd.isna(v)) else v for v in p.values.tolist()]
        want = [None if (not isinstance(v, frozenset) and pd.isna(v)) else v for v in values]
        assert got == want, parser
        assert bad(p) == bad_cells and p.bad.dtype == bool  # a mask, as Parsed.bad says (not 0.0/1.0)
    fixed = c.digits(5)(labelled("3201", "03202", "1")).fixed
    assert fixed.index.tolist() == rows and fixed.tolist() == [True, False, False]
