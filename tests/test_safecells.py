"""matching.safecells: cells a spreadsheet would run as formulas get an apostrophe, nothing else changes."""

import numpy as np
import pandas as pd
import pytest

from matching import safecells


def _cellwise(df: pd.DataFrame) -> pd.DataFrame:
    """The rule cell by cell, as the reference for the vectorised frame version."""
    out = df.copy()
    for col in out.columns:
        out[col] = [safecells.neutralise(v) for v in out[col]]
    out.columns = [safecells.neutralise(c) for c in out.columns]
    return out


@pytest.mark.parametrize("value", ["=1+1", "+81", "-x", "@SUM(A1)", "\tx", "\rx"])
def test_each_trigger_gets_an_apostrophe(value):
    assert safecells.neutralise(value) == "'" + value
    assert safecells.restore("'" + value) == value


def test_plain_text_and_numbers_are_left_alone():
    assert safecells.neutralise("病院") == "病院"
    assert safecells.neutralise(-3) == -3
    assert safecells.restore("'病院") == "'病院"  # an apostrophe we did not add stays


def test_frame_matches_the_cell_rule_on_mixed_columns():
    rng = np.random.default_rng(7)
    texts = ["=A1", "+1", "-2", "@x", "\tt", "plain", "", "名前", "'=kept"]
    n = 300
    df = pd.DataFrame({
        "text": rng.choice(texts, n),
        "mixed": [rng.choice(texts) if k % 3 else (k if k % 2 else None) for k in range(n)],
        "ints": rng.integers(-5, 5, n),
        "floats": rng.normal(size=n),
        "objects_without_text": pd.Series([1, 2, None] * (n // 3), dtype=object),
        "string_dtype": pd.Series(rng.choice(texts, n), dtype="string"),
        "=header": ["x"] * n,
    })
    df.loc[5, "string_dtype"] = pd.NA
    got = safecells.neutralise_frame(df)
    want = _cellwise(df)
    assert list(got.columns) == list(want.columns) == [*df.columns[:-1], "'=header"]
    for col in got.columns:
        assert [None if pd.isna(v) else v for v in got[col]] == [None if pd.isna(v) else v for v in want[col]], col
    assert df.loc[0, "text"] in texts  # the input frame is not changed


def test_empty_frame():
    df = pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=float)})
    assert safecells.neutralise_frame(df).empty
