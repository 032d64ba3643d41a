"""Errors of the data contract: every problem names its file, row and column."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in one cell (or row) of a region file.

    ``row`` is the line number in the CSV file as a spreadsheet shows it: the
    header is line 1, the first record line 2.  ``row`` is 0 for file-level
    problems (a missing file or column).
    """

    file: str
    row: int
    column: str
    message: str
    value: str = ""
    #: The problem in Japanese with its place, as people read it (CLI, API): every loader error has one.
    ja: str = field(default="", compare=False, repr=False)

    @classmethod
    def located(cls, file: str, row: int, column: str, message: str, value: str, problem_ja: str,
                label: str = "") -> RowError:
        """The error with its Japanese line composed from the same place and value (:func:`located_ja`)."""
        return cls(file, row, column, message, value, ja=located_ja(file, row, column, problem_ja, value, label))

    def __str__(self) -> str:
        where = f"{self.file}" + (f" line {self.row}" if self.row else "")
        col = f", column {self.column!r}" if self.column else ""
        val = f" (value {self.value!r})" if self.value != "" else ""
        return f"{where}{col}: {self.message}{val}"


def located_ja(file: str, row: int, column: str, problem: str, value: str = "", label: str = "") -> str:
    """A problem in Japanese with its place: ``facilities.csv 3 行目・lat 列（緯度）: …（値「abc」）``."""
    col = (f"・{column} 列" + (f"（{label}）" if label else "")) if column else ""
    val = f"（値「{value}」）" if value != "" else ""
    return f"{file} {row} 行目{col}: {problem}{val}"


#: Row errors listed per file; the rest are counted ("他 N 件"), so junk input is answered quickly.
MAX_LISTED = 100


def _stop(error: RowError) -> bool:
    """The line that says a file's reading stopped: listed with the problems, but not one of them."""
    return error.row == 0 and "reading stopped" in error.message


class ErrorLog:
    """The errors of one load: the first :data:`MAX_LISTED` per file listed, every bad line kept.

    Junk input must not cost a RowError per cell: past the limit only the count and the line
    numbers (to skip those rows in lenient mode) are kept.
    """

    def __init__(self, limit: int = MAX_LISTED):
        self.limit = limit
        self.listed: list[RowError] = []
        self.count: dict[str, int] = {}
        self.lines: dict[str, set[int]] = {}

    def add(self, error: RowError) -> None:
        n = self.count.get(error.file, 0)
        self.count[error.file] = n + 1
        self.lines.setdefault(error.file, set()).add(error.row)
        if n < self.limit:
            self.listed.append(error)

    def add_cells(self, file: str, lines, column: str, message: str, values, ja: str = "", label: str = "") -> None:
        """Many cells of one column with the same problem (``lines`` and ``values`` aligned);
        ``ja``: the problem in Japanese, ``label``: the column's Japanese name."""
        lines = [int(x) for x in lines]
        if not lines:
            return
        n = self.count.get(file, 0)
        room = max(self.limit - n, 0)
        values = list(values[:room]) if room else []
        for line, value in zip(lines[:room], values, strict=True):
            self.listed.append(RowError.located(file, line, column, message, str(value), ja, label) if ja
                               else RowError(file, line, column, message, str(value)))
        self.count[file] = n + len(lines)
        self.lines.setdefault(file, set()).update(lines)

    def extend(self, errors) -> None:
        for e in errors:
            self.add(e)

    @property
    def omitted(self) -> dict[str, int]:
        listed: dict[str, int] = {}
        for e in self.listed:
            if not _stop(e):
                listed[e.file] = listed.get(e.file, 0) + 1
        return {f: n - listed.get(f, 0) for f, n in self.count.items() if n > listed.get(f, 0)}

    def __len__(self) -> int:
        return sum(self.count.values())

    def __bool__(self) -> bool:
        return bool(self.count)


class RegionValidationError(ValueError):
    """Raised in strict mode (and for file-level problems) with every error found.

    ``errors`` lists at most :data:`MAX_LISTED` per file; ``omitted`` counts the rest per file
    and ``total`` is the number of problems found.
    """

    def __init__(self, errors: list[RowError], omitted: dict[str, int] | None = None):
        self.errors = sorted(errors)
        self.omitted = dict(omitted or {})
        self.total = sum(not _stop(e) for e in self.errors) + sum(self.omitted.values())
        lines = [str(e) for e in self.errors[:50]]
        more = len(self.errors) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        lines += [f"{file}: {n} more not listed (他 {n} 件)" for file, n in sorted(self.omitted.items())]
        super().__init__(f"{self.total} problem(s) in region data:\n  " + "\n  ".join(lines))

    @property
    def heading_ja(self) -> str:
        """「入力データに誤りがあります（N 件）」, N 件以上 when a file's reading stopped early."""
        stopped = "以上" if any(_stop(e) for e in self.errors) else ""
        return f"入力データに誤りがあります（{self.total} 件{stopped}）"

    def lines_ja(self, limit: int | None = 50) -> list[str]:
        """The problems in Japanese, one per line: the first ``limit`` (None = all listed), then
        how many more, per file."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [e.ja or str(e) for e in shown]
        if len(self.errors) > len(shown):
            lines.append(f"ほか {len(self.errors) - len(shown)} 件")
        return lines + [f"{file}: ほか {n} 件（一覧に載せていません）" for file, n in sorted(self.omitted.items())]

    @property
    def ja(self) -> str:
        """The heading and the first 50 problems in Japanese, one per line."""
        return f"{self.heading_ja}:\n  " + "\n  ".join(self.lines_ja())
