"""Reading the TOML files users write (run parameters, scenarios), with errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_toml(path: str | Path, error: type[Exception]) -> dict:
    """The parsed file; a missing or malformed file raises ``error`` naming it.

    >>> read_toml("nowhere.toml", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: nowhere.toml: file not found
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {exc.start} バイト目が UTF-8 ではありません（Shift_JIS などで保存されていませんか。"
                    "UTF-8 で保存し直してください） / not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
