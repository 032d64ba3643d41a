"""No traceback reaches a user of the ``matching`` command.

:func:`install` wraps every command of the Typer app: an exception that leaves a command is
turned into one Japanese line on stderr (the English detail follows with ``--verbose`` or
``MATCHING_VERBOSE=1``) and the exit status says whose fault it was:

- 2 — bad input: a missing or unreadable file, a file that is not what the command expects,
  an ``--out`` that is a file, invalid region data or parameters;
- 1 — an internal error (a bug): "内部エラー", with the detail (and traceback) under ``--verbose``.

Commands raise :class:`InputError` for problems they find themselves.
"""

from __future__ import annotations

import csv
import functools
import inspect
import os
import sys
import traceback

import click
import typer

BAD_INPUT = 2
INTERNAL = 1

_verbose = False


class InputError(Exception):
    """Bad input found by a command: ``ja`` for users, ``str()`` (English) for ``--verbose``."""

    def __init__(self, ja: str, en: str = ""):
        super().__init__(en or ja)
        self.ja = ja


def verbose() -> bool:
    return _verbose or os.environ.get("MATCHING_VERBOSE", "") not in ("", "0")


def say(ja: str, en: str = "") -> None:
    """One line for users on stderr, plus the English detail when verbose."""
    print(f"エラー: {ja}", file=sys.stderr)
    if en and verbose():
        print(f"  detail: {en}", file=sys.stderr)


def fail(ja: str, en: str = "", code: int = BAD_INPUT):
    say(ja, en)
    raise typer.Exit(code)


def describe(exc: BaseException) -> tuple[int, str, str]:
    """(exit status, Japanese line, English detail) for an exception that left a command."""
    from matching.contract.errors import RegionValidationError
    from matching.contract.tablefile import TableError
    from matching.outputs import OutputPathError

    en = f"{type(exc).__name__}: {exc}"
    name = getattr(exc, "filename", None) or ""
    if isinstance(exc, InputError | TableError | OutputPathError):
        return BAD_INPUT, exc.ja, en
    if isinstance(exc, RegionValidationError):
        first = exc.errors[0] if exc.errors else None
        what = (first.ja or str(first)) if first is not None else ""
        return BAD_INPUT, f"{exc.heading_ja}: {what}", en
    if isinstance(exc, FileNotFoundError):
        return BAD_INPUT, f"ファイルまたはフォルダが見つかりません: {name}", en
    if isinstance(exc, IsADirectoryError):
        return BAD_INPUT, f"ファイルを指定してください（{name} はフォルダです）", en
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return BAD_INPUT, f"フォルダを指定してください（{name} はファイルです）", en
    if isinstance(exc, PermissionError):
        return BAD_INPUT, f"ファイルを読み書きする権限がありません: {name}", en
    if isinstance(exc, UnicodeDecodeError):
        return BAD_INPUT, "文字コードを読めないファイルがあります（UTF-8 か Shift_JIS で保存してください）", en
    if isinstance(exc, csv.Error):
        return BAD_INPUT, "CSV として読めないファイルがあります", en
    if isinstance(exc, MemoryError):
        return INTERNAL, "メモリが不足しました（入力が大きすぎる可能性があります）", en
    return INTERNAL, "内部エラーが発生しました（--verbose で詳細を表示できます。開発者に連絡してください）", en


def guard(fn):
    """``fn`` as a command that never lets an exception (and its traceback) out; adds ``--verbose``."""

    sig = inspect.signature(fn)
    own = "verbose" in sig.parameters  # the command has its own --verbose: pass it on

    @functools.wraps(fn)
    def command(*args, **kwargs):
        global _verbose
        _verbose = bool(kwargs.get("verbose") if own else kwargs.pop("verbose", False))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            print("中断しました", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 — this is the one place that catches everything
            code, ja, en = describe(exc)
            say(ja, en)
            if code == INTERNAL and verbose():
                traceback.print_exception(exc, file=sys.stderr)
            raise typer.Exit(code) from None

    if not own:
        extra = inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                  default=typer.Option(False, "--verbose",
                                                       help="show the English detail of errors"))
        params = list(sig.parameters.values())
        command.__signature__ = sig.replace(parameters=params + [extra])
        command.__annotations__ = {**getattr(fn, "__annotations__", {}), "verbose": bool}
    return command


def install(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and its sub-apps with :func:`guard` (once)."""
    for info in app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "_guarded", False):
            info.callback = guard(info.callback)
            info.callback._guarded = True
    for group in app.registered_groups:
        if group.typer_instance is not None:
            install(group.typer_instance)
