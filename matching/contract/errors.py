"""Errors of the data contract: every problem names its file, row and column."""

from __future__ import annotations

from dataclasses import dataclass


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

    def __str__(self) -> str:
        where = f"{self.file}" + (f" line {self.row}" if self.row else "")
        col = f", column {self.column!r}" if self.column else ""
        val = f" (value {self.value!r})" if self.value != "" else ""
        return f"{where}{col}: {self.message}{val}"


class RegionValidationError(ValueError):
    """Raised in strict mode (and for file-level problems) with *every* error found."""

    def __init__(self, errors: list[RowError]):
        self.errors = sorted(errors)
        lines = [str(e) for e in self.errors[:50]]
        more = len(self.errors) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(f"{len(self.errors)} problem(s) in region data:\n  " + "\n  ".join(lines))
