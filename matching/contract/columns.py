"""Column parsers: each turns a column of strings into typed values plus a mask of bad cells.

They work on whole columns (vectorised), so loading a national region stays fast,
and they never guess: a value they cannot read is reported, not coerced.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matching.safecells import restore

#: What a yes/no cell may hold, lower-cased: also Excel's TRUE/FALSE and the Japanese forms'
#: ○/× (both circles: ○ U+25CB, ◯ U+25EF, 〇), 有/無, あり/なし, はい/いいえ.
TRUE_WORDS = {"true", "1", "yes", "y", "t", "○", "◯", "〇", "有", "あり", "はい"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "×", "✕", "無", "なし", "いいえ"}

# A generous box around Japan (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
LAT_RANGE = (20.0, 46.0)
LON_RANGE = (122.0, 154.0)


@dataclass(frozen=True)
class Parsed:
    values: pd.Series
    bad: pd.Series  # bool mask of cells that could not be read
    message: str = ""
    #: Cells read after an unambiguous repair (a leading zero Excel dropped), and what was done.
    fixed: pd.Series | None = None
    note: str = ""
    #: ``message`` in Japanese, for the people who fix the file (CLI and API show this one).
    message_ja: str = ""


Parser = Callable[[pd.Series], Parsed]


@dataclass(frozen=True)
class ValueType:
    """What a parser reads, for the layers derived from the contract (database columns, API and
    scenario models, import/export).  Every parser factory below attaches one as ``.value_type``."""

    kind: str  # "text" | "digits" | "float" | "int" | "bool" | "code" | "codes"
    nullable: bool = False  # a blank cell reads as missing (None in the database and the API)
    max_length: int | None = None  # text: longest value; digits: the exact number of digits
    min_length: int = 0  # text: 1 when the cell may not be blank
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # code, codes: the allowed codes
    what: str = ""  # code, codes: what the codes are ("facility type")


def value_type(parse: Parser) -> ValueType:
    """The :class:`ValueType` a parser was made with."""
    return parse.value_type  # type: ignore[attr-defined]


def _typed(parse, vt: ValueType):
    parse.value_type = vt
    return parse

_SAMPLE = 1000  # rows looked at to guess whether a column repeats its values


def parse_distinct(parse: Parser, s: pd.Series) -> Parsed:
    """``parse(s)``, run once per distinct cell value and spread back over the rows.

    Every parser reads each cell on its own, so this gives the same values, dtypes
    and bad cells; it pays off because codes, flags, counts and role lists repeat a
    few values over tens of thousands of rows.
    """
    head = s.iloc[:_SAMPLE]
    if head.nunique() > len(head) // 2:  # ids, names, coordinates: little repeats, skip the detour
        return parse(s)
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    parsed = parse(pd.Series(uniques, dtype=s.dtype))
    fixed = None if parsed.fixed is None else parsed.fixed.take(codes).set_axis(s.index)
    return Parsed(parsed.values.take(codes).set_axis(s.index),
                  parsed.bad.take(codes).set_axis(s.index), parsed.message, fixed, parsed.note, parsed.message_ja)


def map_distinct(s: pd.Series, fn: Callable[[Hashable], Any]) -> pd.Series:
    """``s.map(fn)`` for a column of few distinct values: ``fn`` runs once per value (object dtype)."""
    if s.empty:
        return s.map(fn)  # keeps the dtype, as before (an empty roles column stays str)
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    table = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):  # element-wise: numpy would unpack tuple results
        table[i] = fn(value)
    return pd.Series(table[codes], index=s.index, name=s.name)


def stripped(s: pd.Series) -> pd.Series:
    """``s.str.strip()`` for a column of read cells (never missing), without pandas' per-cell overhead."""
    cells = np.fromiter(map(str.strip, s.to_numpy(dtype=object)), dtype=object, count=len(s))
    return pd.Series(cells, index=s.index, dtype=s.dtype, name=s.name)


def empty(v: pd.Series) -> pd.Series:
    """``v == ""``, compared on the plain array (several times faster than on the str dtype)."""
    return pd.Series(v.to_numpy(dtype=object) == "", index=v.index, dtype=bool)


#: Characters no text cell may hold: NUL (PostgreSQL refuses it) and the other control
#: characters but tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Longest id and name the service stores (the same limits as its API).
ID_MAX = 64
NAME_MAX = 200


def text(required: bool = True, max_length: int | None = None) -> Parser:
    def parse(s: pd.Series) -> Parsed:
        v = stripped(s)
        cells = v.to_numpy(dtype=object)
        if any(x.startswith("'") for x in cells):  # written by matching.safecells: read back as it was
            v = pd.Series([restore(x) for x in cells], index=v.index, dtype=v.dtype, name=v.name)
            cells = v.to_numpy(dtype=object)
        bad = empty(v) if required else pd.Series(False, index=s.index)
        control = np.fromiter((_CONTROL.search(x) is not None for x in cells), dtype=bool, count=len(cells))
        too_long = (np.fromiter(map(len, cells), dtype=np.int64, count=len(cells)) > max_length
                    if max_length is not None else np.zeros(len(cells), dtype=bool))
        bad = bad | pd.Series(control | too_long, index=s.index)
        what = "must not be empty" if required else "must be text"
        ja = "空欄にはできません" if required else "文字で書いてください"
        if max_length is not None:
            what += f", at most {max_length} characters"
            ja += f"（{max_length} 文字以内）"
        return Parsed(v, bad, what + ", without control characters (NUL …)",
                      message_ja=ja + "。制御文字（NUL など）は使えません")

    return _typed(parse, ValueType("text", max_length=max_length, min_length=1 if required else 0))


def digits(n: int) -> Parser:
    """A code of exactly ``n`` digits.  One digit short is a code whose leading zero a spreadsheet
    dropped (3201 for 03201 盛岡市): restored, and flagged in ``Parsed.fixed`` so the loader says so.
    Nothing shorter is guessed."""
    pattern = re.compile(rf"^[0-9]{{{n}}}$")  # ASCII only: full-width ０３２０１ is not a code
    short = re.compile(rf"^[0-9]{{{n - 1}}}$") if n > 1 else None

    def parse(s: pd.Series) -> Parsed:
        v = stripped(s)
        ok = v.str.match(pattern).astype(bool)
        fixed = None
        if short is not None:
            fixed = (~ok & v.str.match(short)).astype(bool)
            if fixed.any():
                v = v.where(~fixed, "0" + v)
                ok = ok | fixed
        return Parsed(v, ~ok, f"must be exactly {n} digits", fixed, "先頭の 0 が落ちていたので補いました",
                      f"半角数字 {n} 桁で書いてください")

    return _typed(parse, ValueType("digits", max_length=n))


def boolean(required: bool = True) -> Parser:
    """true/false, also 1/0 and yes/no; blank gives <NA> when not required."""

    def parse(s: pd.Series) -> Parsed:
        v = stripped(s).str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[v.isin(TRUE_WORDS)] = True
        out[v.isin(FALSE_WORDS)] = False
        known = v.isin(TRUE_WORDS | FALSE_WORDS)
        bad = ~known & ((v != "") | required)
        return Parsed(out, bad, "must be true or false (also TRUE/FALSE, 1/0, yes/no, ○/×, 有/無, はい/いいえ)"
                      + ("" if not required else "; required"),
                      message_ja=("必須です。" if required else "")
                      + "true か false で書いてください（TRUE/FALSE、1/0、yes/no、○/×、有/無、はい/いいえ も可）")

    return _typed(parse, ValueType("bool", nullable=not required))


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def iso_date(required: bool = False) -> Parser:
    """A calendar date written ``YYYY-MM-DD`` (blank allowed unless ``required``).  Stored as that
    text (the service's column is a string of 10): a date is compared and shown, never computed on."""

    def parse(s: pd.Series) -> Parsed:
        v = stripped(s)

        def ok(x: str) -> bool:
            if not _ISO_DATE.match(x):
                return False
            try:
                dt.date.fromisoformat(x)
            except ValueError:  # 2025-02-30
                return False
            return True

        good = np.fromiter((ok(x) or (x == "" and not required) for x in v.to_numpy(dtype=object)),
                           dtype=bool, count=len(v))
        return Parsed(v, pd.Series(~good, index=s.index),
                      "must be a date written YYYY-MM-DD (e.g. 2025-04-01)" + ("" if required else " or blank"),
                      message_ja="日付は YYYY-MM-DD で書いてください（例 2025-04-01）" + ("" if required else "。空欄も可"))

    return _typed(parse, ValueType("text", max_length=10, min_length=10 if required else 0))


def _plain_number(x: float) -> str:
    """10000000, not 1e+07, in messages people read."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def number(*, integer: bool, minimum: float | None = None, maximum: float | None = None,
           required: bool = True, message: str | None = None, message_ja: str | None = None) -> Parser:
    """Numbers; blank gives NaN (or <NA> for integers) when not required."""

    def parse(s: pd.Series) -> Parsed:
        v = stripped(s)
        num = pd.to_numeric(v, errors="coerce")
        x = num.to_numpy(dtype=float, na_value=np.nan)  # plain arrays: these masks run on every row
        ok = np.isfinite(x)  # "inf" is a number to pandas, not to us
        bad = ~ok
        if not required:
            bad &= ~empty(v).to_numpy()  # blank is allowed
        if integer:
            bad |= ok & (x != np.floor(x))
        if minimum is not None:
            bad |= ok & (x < minimum)
        if maximum is not None:
            bad |= ok & (x > maximum)
        bad = pd.Series(bad, index=s.index)
        what = "a whole number" if integer else "a number"
        rng = ""
        if minimum is not None and maximum is not None:
            rng = f" between {_plain_number(minimum)} and {_plain_number(maximum)}"
        elif minimum is not None:
            rng = f" of at least {_plain_number(minimum)}"
        msg = message or (f"must be {what}{rng}" + ("" if required else " or blank"))
        ja = message_ja or (("整数" if integer else "数値") + _range_ja(minimum, maximum) + "で書いてください"
                            + ("" if required else "。空欄も可"))
        values = num.where(~bad)
        if integer:
            values = values.round().astype("Int64")
        return Parsed(values, bad, msg, message_ja=ja)

    return _typed(parse, ValueType("int" if integer else "float", nullable=not required,
                                   minimum=minimum, maximum=maximum))


def _range_ja(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"（{_plain_number(minimum)}〜{_plain_number(maximum)}）"
    return f"（{_plain_number(minimum)} 以上）" if minimum is not None else ""


#: What the codes of a code column are, in Japanese (for the messages).
WHAT_JA = {"facility type": "施設種別", "institution kind": "医療機関の種別", "designation": "届出・指定",
           "role": "役割", "time slot": "時間帯"}


def _codes_ja(codes, labels: dict[str, str] | None) -> str:
    """``wd_day（平日日中）、wd_night（平日夜間）…``: the codes with their Japanese names."""
    labels = labels or {}
    return "、".join(f"{x}（{labels[x]}）" if x in labels else x for x in codes)


def one_of(choices: Collection[str], what: str, labels: dict[str, str] | None = None) -> Parser:
    """One code of ``choices``; ``labels``: their Japanese names, for the message."""
    names = sorted(choices)

    def parse(s: pd.Series) -> Parsed:
        v = stripped(s)
        return Parsed(v, ~v.isin(names), f"unknown {what}; expected one of {', '.join(names)}",
                      message_ja=f"{WHAT_JA.get(what, what)}のコードが不明です。次のいずれかで書いてください: "
                                 f"{_codes_ja(names, labels)}")

    return _typed(parse, ValueType("code", choices=tuple(choices), what=what))


def code_list(choices: Collection[str], what: str, labels: dict[str, str] | None = None) -> Parser:
    """``;``-separated codes (blank = none); ``labels``: their Japanese names, for the message."""
    allowed = set(choices)

    def parse(s: pd.Series) -> Parsed:
        sets = s.map(lambda x: frozenset(t.strip() for t in str(x).split(";") if t.strip()))
        bad = sets.map(lambda xs: not xs <= allowed)
        return Parsed(sets, bad.astype(bool),
                      f"unknown {what}; expected ';'-separated codes from {', '.join(sorted(allowed))}",
                      message_ja=f"{WHAT_JA.get(what, what)}のコードが不明です。次のコードを ; で区切って書いてください: "
                                 f"{_codes_ja(sorted(allowed), labels)}")

    return _typed(parse, ValueType("codes", choices=tuple(choices), what=what))


latitude = number(integer=False, minimum=LAT_RANGE[0], maximum=LAT_RANGE[1],
                  message=f"latitude missing or outside Japan (expected {LAT_RANGE[0]:g} to {LAT_RANGE[1]:g})",
                  message_ja=f"緯度が空欄か日本の範囲外です（{LAT_RANGE[0]:g}〜{LAT_RANGE[1]:g} の数値）")
longitude = number(integer=False, minimum=LON_RANGE[0], maximum=LON_RANGE[1],
                   message=f"longitude missing or outside Japan (expected {LON_RANGE[0]:g} to {LON_RANGE[1]:g})",
                   message_ja=f"経度が空欄か日本の範囲外です（{LON_RANGE[0]:g}〜{LON_RANGE[1]:g} の数値）")
