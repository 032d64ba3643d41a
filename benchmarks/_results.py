"""Writing one benchmark's section of ``benchmarks/results.md`` without touching the others."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "results.md"


def machine() -> dict:
    return {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB",
            "date": time.strftime("%Y-%m-%d")}


def replace_section(heading: str, section: str, md: Path = RESULTS_MD) -> None:
    """Replace the section starting with ``heading`` (up to the next ``## `` heading), or append it."""
    text = md.read_text(encoding="utf-8") if md.exists() else "# Benchmark results\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    else:
        end = text.find("\n## ", start + len(heading))
        rest = text[end:] if end >= 0 else "\n"
        text = text[:start] + section.rstrip() + "\n" + rest
    md.write_text(text, encoding="utf-8")


def publish(name: str, record: dict, heading: str, section: str) -> None:
    """A benchmark's results: ``benchmarks/<name>.json`` (``record``), its section of results.md
    (``section``, starting with ``heading``), and the section on stdout."""
    (RESULTS_MD.parent / f"{name}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1),
                                                    encoding="utf-8")
    replace_section(heading, section)
    print(section)
