"""Reading the TOML files users write (run parameters, scenarios), with errors that name the file
and the key, in Japanese: pydantic's checks are translated by error type (:func:`problem_ja`), the
project's own checks raise their message in Japanese."""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_toml(path: str | Path, error: type[Exception]) -> dict:
    """The parsed file; a missing or malformed file raises ``error`` naming it.

    >>> read_toml("nowhere.toml", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: nowhere.toml: ファイルが見つかりません
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: ファイルが見つかりません") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {exc.start} バイト目が UTF-8 ではありません（Shift_JIS などで保存されていませんか。"
                    "UTF-8 で保存し直してください） / not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: TOML として読めません（{exc}）。引用符・括弧・= の書き方を確認してください") from None


def key_path(loc) -> str:
    """Pydantic's error location as a TOML key path: ``close[0].share``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith(("function-", "literal[")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(全体)"


#: Pydantic's error types in Japanese (those with a bound are in :func:`problem_ja`).
_PROBLEMS_JA = {
    "missing": "必須の項目がありません",
    "extra_forbidden": "この項目は使えません（綴りを確認してください）",
    "float_parsing": "数値で書いてください", "float_type": "数値で書いてください",
    "finite_number": "有限の数値で書いてください",
    "int_parsing": "整数で書いてください", "int_type": "整数で書いてください",
    "int_from_float": "整数で書いてください",
    "bool_parsing": "true か false で書いてください", "bool_type": "true か false で書いてください",
    "string_type": "文字列（\"…\"）で書いてください",
    "list_type": "リスト（[…]）で書いてください", "tuple_type": "リスト（[…]）で書いてください",
    "dict_type": "表（[…] の節、または { … }）で書いてください",
    "model_type": "表（[…] の節、または { … }）で書いてください",
    "model_attributes_type": "表（[…] の節、または { … }）で書いてください",
}
_BOUNDS_JA = {"greater_than": ("gt", "より大きい値にしてください"), "greater_than_equal": ("ge", "以上にしてください"),
              "less_than": ("lt", "未満にしてください"), "less_than_equal": ("le", "以下にしてください")}


def problem_ja(error: dict) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in Japanese.

    >>> problem_ja({"type": "greater_than", "msg": "Input should be greater than 0", "ctx": {"gt": 0}})
    '0 より大きい値にしてください'
    """
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in _BOUNDS_JA:
        key, words = _BOUNDS_JA[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # 1, not 1.0, in a message people read
        return f"{bound} {words}"
    if kind in ("literal_error", "enum"):
        return f"次のいずれかを書いてください: {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"書き方が違います（形式 {ctx.get('pattern', '')}）"
    if kind in ("string_too_long", "too_long"):
        return f"長すぎます（{ctx.get('max_length', '')} まで）"
    if kind in ("string_too_short", "too_short"):
        return f"短すぎます（{ctx.get('min_length', '')} 以上）"
    if kind in _PROBLEMS_JA:
        return _PROBLEMS_JA[kind]
    return error.get("msg", "").removeprefix("Value error, ")  # the project's own checks: Japanese already


def validation_lines(source: str, exc, prefix: str = "", extra=None) -> str:
    """Every error of a pydantic ``ValidationError`` as ``source: key: problem`` lines (Japanese);
    ``extra(error)`` may add to a line (e.g. the keys that are valid there)."""
    return "\n".join(f"{source}: {prefix}{key_path(e['loc'])}: {problem_ja(e)}" + (extra(e) if extra else "")
                     for e in exc.errors())
