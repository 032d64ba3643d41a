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
* ``relocated`` — the record's coordinates lie outside its municipality; it was moved to
  the municipal office (``location_source=office``).
* ``info`` — the record was merged or left out on purpose (a duplicate
  事業所番号, a service that is not one of the nine facility types).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matching import safecells

SEVERITIES = ("error", "relocated", "unmatched", "info")


class ImportInputError(ValueError):
    """The inputs cannot make a region (unknown prefecture, a file of another prefecture, an
    empty table): raised before anything is written, with a Japanese message for the console."""


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
    #: facilities / institutions → location_source → count.
    locations: dict[str, dict[str, int]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    #: False when imported without a 施設基準 list: hospitals only, no clinic (region_scope.json).
    clinics_loaded: bool = True

    @property
    def skipped(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def unmatched(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "unmatched"]

    @property
    def relocated(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "relocated"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["issue_counts"] = {s: sum(i.severity == s for i in self.issues) for s in SEVERITIES}
        return data

    def summary_ja(self, limit: int = 10) -> str:
        """The console summary in Japanese: counts, join rates, location sources, and the skipped
        rows and relocated points (the first ``limit`` of each; all of them are in the report files)."""
        from matching.contract.schema import LOCATION_SOURCES

        j = self.join
        lines = [f"都道府県 {self.prefecture_code}: 施設 {sum(self.facilities_by_type.values())}、"
                 f"医療機関 {sum(self.institutions_by_kind.values())}、市区町村 {self.municipalities}",
                 "施設種別: " + "、".join(f"{k} {v}" for k, v in self.facilities_by_type.items()),
                 "医療機関: " + "、".join(f"{k} {v}" for k, v in self.institutions_by_kind.items()),
                 "届出: " + "、".join(f"{k} {v}" for k, v in self.institutions_by_designation.items())]
        if not self.clinics_loaded:
            lines.append("診療所: 未取込（施設基準の名簿なし。医療機関は病床機能報告の病院のみ、"
                         "①②の不足は「診療所未取込」として扱います）")
        if j and self.clinics_loaded:
            lines.append(
                f"突合率: 施設基準の医療機関 {j.get('matched', 0)}/{j.get('filing_institutions', 0)}"
                f"（{100 * float(j.get('match_rate', 0)):.1f}%）、うち病院 {100 * float(j.get('hospital_match_rate', 0)):.1f}%；"
                f"病床機能報告 {j.get('hospital_records_joined', 0)}/{j.get('hospital_records', 0)} 件が届出と突合；"
                f"施設基準の届出 {j.get('filings_placed', 0)}/{j.get('filings', 0)} 件を市区町村に配置"
                f"（{100 * float(j.get('filing_placement_rate', 0)):.1f}%）")
        for what, label in (("facilities", "施設"), ("institutions", "医療機関")):
            counts = self.locations.get(what, {})
            if counts:
                lines.append(f"{label}の位置: " + "、".join(
                    f"{LOCATION_SOURCES.get(k, k)} {v}" for k, v in sorted(counts.items())))
        lines.append(f"読み飛ばし {len(self.skipped)} 件、位置の移動 {len(self.relocated)} 件、"
                     f"役場で近似 {sum(c.get('office', 0) for c in self.locations.values())} 件、"
                     f"突合できず {len(self.unmatched)} 件、参考 {sum(i.severity == 'info' for i in self.issues)} 件")
        for title, items in (("読み飛ばした行", self.skipped), ("役場へ移動した位置", self.relocated)):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {i}" for i in items[:limit]]
                if len(items) > limit:
                    lines.append(f"  … ほか {len(items) - limit} 件（import_unmatched.csv に全件）")
        return "\n".join(lines)

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
