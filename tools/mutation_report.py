"""Summarise mutmut's results per rule module for docs/mutation.md (run by `make mutate`).

Reads ``mutmut results --all true`` (one ``name: status`` line per mutant), keeps the
mutants `make mutate` runs, and prints a Markdown table: per module the mutants made,
killed (a test failed, or the mutant timed out), survived, with no covering test, and not
yet run; the score is killed / (killed + survived + no tests), with the mutants listed as
equivalent in docs/mutation.md taken out of the denominator.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

PATTERNS = {
    "matching/verify.py": ["matching.verify.*"],
    "matching/candidates.py": ["matching.candidates.*"],
    "matching/status.py": ["matching.status.*"],
    "matching/vocabulary.py": ["matching.vocabulary.*"],
    "matching/contract/": ["matching.contract.*"],
    "matching/optimise/model.py (formulation)": ["matching.optimise.model.xǁComponentFormulationǁ__init__*",
                                                 "matching.optimise.model.xǁComponentFormulationǁ_capacity*",
                                                 "matching.optimise.model.xǁComponentFormulationǁcovers_all*",
                                                 "matching.optimise.model.xǁComponentFormulationǁ_fix_full_coverage*",
                                                 "matching.optimise.model.xǁComponentFormulationǁsolve*"],
    "matching/optimise/reduce.py": ["matching.optimise.reduce.*"],
}
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def results(mutmut: str) -> dict[str, str]:
    out = subprocess.run([mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            rows[name] = status
    return rows


def equivalent(doc: Path) -> set[str]:
    """Mutant names listed in the document's equivalent-mutant table (first column, in backticks)."""
    if not doc.exists():
        return set()
    return set(re.findall(r"^\| `([^`]+__mutmut_\d+)`", doc.read_text(encoding="utf-8"), flags=re.M))


def table(rows: dict[str, str], eq: set[str]) -> str:
    lines = ["| module | mutants | killed | survived | equivalent | no test | not run | score |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals: Counter = Counter()
    for module, patterns in PATTERNS.items():
        mine = {n: s for n, s in rows.items() if any(fnmatch.fnmatch(n, p) for p in patterns)}
        count: dict[str, int] = defaultdict(int)
        for name, status in mine.items():
            if status in KILLED:
                count["killed"] += 1
            elif name in eq:
                count["equivalent"] += 1
            elif status == "survived":
                count["survived"] += 1
            elif status == "no tests":
                count["no test"] += 1
            else:
                count["not run"] += 1
        count["mutants"] = len(mine)
        totals.update(count)
        lines.append(_row(module, count))
    lines.append(_row("**all**", totals))
    return "\n".join(lines)


def _row(label: str, c) -> str:
    judged = c["killed"] + c["survived"] + c["no test"]
    score = f"{100 * c['killed'] / judged:.1f} %" if judged else "–"
    return (f"| {label} | {c['mutants']} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
            f"{c['no test']} | {c['not run']} | {score} |")


def main() -> None:
    doc = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/mutation.md")
    mutmut = str(Path(sys.executable).parent / "mutmut")
    rows = results(mutmut)
    text = table(rows, equivalent(doc))
    print(text)
    if doc.exists():
        body = doc.read_text(encoding="utf-8")
        start, end = "<!-- results: make mutate -->", "<!-- /results -->"
        if start in body and end in body:
            head, rest = body.split(start, 1)
            doc.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")
    survivors = sorted(n for n, s in rows.items() if s == "survived" and n not in equivalent(doc)
                       and any(fnmatch.fnmatch(n, p) for ps in PATTERNS.values() for p in ps))
    Path("mutants").mkdir(exist_ok=True)
    Path("mutants/survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    print(f"{len(survivors)} survivors not listed as equivalent: mutants/survivors.txt "
          "(see one with `.venv/bin/mutmut show NAME`)")


if __name__ == "__main__":
    main()
