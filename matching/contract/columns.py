"""Column parsers: each turns a column of strings into typed values plus a mask of bad cells.

They work on whole columns (vectorised), so loading a national region stays fast,
and they never guess: a value they cannot read is reported, not coerced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}

# A generous box around Japan (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
LAT_RANGE = (20.0, 46.0)
LON_RANGE = (122.0, 154.0)


@dataclass(frozen=True)
class Parsed:
    values: pd.Series
    bad: pd.Series  # bool mask of cells that could not be read
    message: str = ""


Parser = Callable[[pd.Series], Parsed]


def blank(s: pd.Series) -> pd.Series:
    return s.str.strip() == ""


def text(required: bool = True) -> Parser:
    def parse(s: pd.Series) -> Parsed:
        v = s.str.strip()
        bad = (v == "") if required else pd.Series(False, index=s.index)
        return Parsed(v, bad, "must not be empty")

    return parse


def digits(n: int) -> Parser:
    pattern = re.compile(rf"^[0-9]{{{n}}}$")  # ASCII only: full-width ０３２０１ is not a code

    def parse(s: pd.Series) -> Parsed:
        v = s.str.strip()
        return Parsed(v, ~v.str.match(pattern), f"must be exactly {n} digits")

    return parse


def boolean(required: bool = True) -> Parser:
    """true/false, also 1/0 and yes/no; blank gives <NA> when not required."""

    def parse(s: pd.Series) -> Parsed:
        v = s.str.strip().str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[v.isin(TRUE_WORDS)] = True
        out[v.isin(FALSE_WORDS)] = False
        known = v.isin(TRUE_WORDS | FALSE_WORDS)
        bad = ~known & ((v != "") | required)
        return Parsed(out, bad, "must be true or false (also 1/0, yes/no)" + ("" if not required else "; required"))

    return parse


def number(*, integer: bool, minimum: float | None = None, maximum: float | None = None,
           required: bool = True, message: str | None = None) -> Parser:
    """Numbers; blank gives NaN (or <NA> for integers) when not required."""

    def parse(s: pd.Series) -> Parsed:
        v = s.str.strip()
        num = pd.to_numeric(v, errors="coerce")
        is_blank = v == ""
        bad = num.isna() & (~is_blank | required)
        bad |= num.notna() & ~np.isfinite(num.astype(float))  # "inf" is a number to pandas, not to us
        ok = num.notna() & ~bad
        if integer:
            bad |= ok & (num != np.floor(num))
        if minimum is not None:
            bad |= ok & (num < minimum)
        if maximum is not None:
            bad |= ok & (num > maximum)
        what = "a whole number" if integer else "a number"
        rng = ""
        if minimum is not None and maximum is not None:
            rng = f" between {minimum:g} and {maximum:g}"
        elif minimum is not None:
            rng = f" of at least {minimum:g}"
        msg = message or (f"must be {what}{rng}" + ("" if required else " or blank"))
        values = num.where(~bad)
        if integer:
            values = values.round().astype("Int64")
        return Parsed(values, bad, msg)

    return parse


def one_of(choices: set[str] | dict, what: str) -> Parser:
    names = sorted(choices)

    def parse(s: pd.Series) -> Parsed:
        v = s.str.strip()
        return Parsed(v, ~v.isin(names), f"unknown {what}; expected one of {', '.join(names)}")

    return parse


def code_list(choices: set[str] | dict, what: str) -> Parser:
    """``;``-separated codes (blank = none)."""
    allowed = set(choices)

    def parse(s: pd.Series) -> Parsed:
        sets = s.map(lambda x: frozenset(t.strip() for t in str(x).split(";") if t.strip()))
        bad = sets.map(lambda xs: not xs <= allowed)
        return Parsed(sets, bad.astype(bool), f"unknown {what}; expected ';'-separated codes from {', '.join(sorted(allowed))}")

    return parse


latitude = number(integer=False, minimum=LAT_RANGE[0], maximum=LAT_RANGE[1],
                  message=f"latitude missing or outside Japan (expected {LAT_RANGE[0]:g} to {LAT_RANGE[1]:g})")
longitude = number(integer=False, minimum=LON_RANGE[0], maximum=LON_RANGE[1],
                   message=f"longitude missing or outside Japan (expected {LON_RANGE[0]:g} to {LON_RANGE[1]:g})")
