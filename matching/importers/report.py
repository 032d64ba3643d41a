"""What an import did: counts, join rates and every record it skipped or could not join.

Nothing is dropped silently.  Each parser returns the problems it found as
:class:`Issue` records; ``severity`` says what happened to the record:

* ``error`` — the row could not be read (bad municipality code, wrong check
  digit, missing coordinates, unknown service …).  Strict imports stop with
  :class:`ImportValidationError` listing all of them; lenient imports (the
  default for real data) skip the row and list it here.
* ``unmatched`` — the record was imported, but could not be joined to the
  other publication; it is placed at its municipality's centroid and flagged
  ``location_approximate=true``.
* ``info`` — the record was merged or left out on purpose (a duplicate
  事業所番号, a service that is not one of the nine facility types).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matching import safecells

SEVERITIES = ("error", "unmatched", "info")


@dataclass(frozen=True, order=True)
class Issue:
    """One record the import could not take as it was.

    ``row`` is the line (CSV) or row (xlsx) number as a spreadsheet shows it
    (0 when the issue concerns a whole record rather than one row).
    """

    severity: str
    source: str
    row: int
    record: str          # the record's own id: 事業所番号, 医療機関番号, record_id …
    name: str
    problem: str
    action: str          # what the import did about it: skipped, merged, placed at centroid …

    def __str__(self) -> str:
        where = f"{self.source}" + (f" row {self.row}" if self.row else "")
        return f"{where} [{self.record} {self.name}]: {self.problem} → {self.action}"


class ImportValidationError(ValueError):
    """Raised by strict imports, listing every bad row (nothing is written)."""

    def __init__(self, issues: list[Issue]):
        self.issues = sorted(issues)
        lines = [str(i) for i in self.issues[:50]]
        if len(self.issues) > 50:
            lines.append(f"... and {len(self.issues) - 50} more")
        super().__init__(f"{len(self.issues)} bad row(s) in the open data:\n  " + "\n  ".join(lines))


def raise_if_strict(issues: list[Issue], strict: bool) -> None:
    """In strict mode, any ``error`` issue stops the whole import."""
    errors = [i for i in issues if i.severity == "error"]
    if strict and errors:
        raise ImportValidationError(errors)


@dataclass
class ImportReport:
    """The outcome of :func:`matching.importers.region.build_region`.

    ``join`` holds the join of the 施設基準 list to the hospitals data:
    institutions from the list, how many were matched by each method, the
    ``match_rate`` (matched / institutions) and how many institutions were
    placed at a municipality centroid.
    """

    prefecture_code: str
    facilities_by_type: dict[str, int] = field(default_factory=dict)
    institutions_by_kind: dict[str, int] = field(default_factory=dict)
    institutions_by_designation: dict[str, int] = field(default_factory=dict)
    municipalities: int = 0
    secondary_areas: dict[str, str] = field(default_factory=dict)   # municipality_code → how assigned
    join: dict[str, float | int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def unmatched(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "unmatched"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["issue_counts"] = {s: sum(i.severity == s for i in self.issues) for s in SEVERITIES}
        return data

    def summary(self) -> str:
        """A few lines for a terminal."""
        lines = [f"prefecture {self.prefecture_code}: {sum(self.facilities_by_type.values())} facilities, "
                 f"{sum(self.institutions_by_kind.values())} institutions, {self.municipalities} municipalities",
                 "facilities: " + ", ".join(f"{k} {v}" for k, v in self.facilities_by_type.items()),
                 "institutions: " + ", ".join(f"{k} {v}" for k, v in self.institutions_by_kind.items()),
                 "designations: " + ", ".join(f"{k} {v}" for k, v in self.institutions_by_designation.items()),
                 "join: " + ", ".join(f"{k} {v}" for k, v in self.join.items()),
                 f"skipped {len(self.skipped)}, unmatched {len(self.unmatched)}, "
                 f"info {sum(i.severity == 'info' for i in self.issues)}"]
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> None:
        """Write ``import_report.json`` (everything) and ``import_unmatched.csv``
        (every skipped or unmatched record, one per line) into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "import_report.json").write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        with open(out / "import_unmatched.csv", "w", newline="", encoding="utf-8-sig") as fh:  # BOM: for Excel
            writer = csv.writer(fh)
            writer.writerow(["severity", "source", "row", "record", "name", "problem", "action"])
            writer.writerows(safecells.rows(
                [i.severity, i.source, i.row, i.record, i.name, i.problem, i.action]
                for i in sorted(self.issues) if i.severity != "info"))
