"""The national instance with time slots (issue 16, item 4), whole process, against the run without.

    .venv/bin/python benchmarks/slots_national.py              # national (≈ 40,000 facilities)
    .venv/bin/python benchmarks/slots_national.py --scale 0.25 # a quarter

Not part of the test suite.  Writes the synthetic national instance (seed 2027, capacities in
facilities, ``matching/demo/national.py``) twice — without and with ``availability.csv``
(``matching demo national DIR --availability``: about a third of the clinics without 24-hour
house calls making them by day, hospitals on call at night and on holidays, 連携 pairs splitting
the week) — and times ``matching match DIR --out OUT`` on each as one whole process (Python
start, imports, loading, matching, the verifier, writing), in this same benchmark process one
after the other, each capped at 8 GB of address space.  Recorded: wall time, peak resident
memory of the largest process, the options the data chose, whether coverage is proven for the
full candidate lists, the five goals, and the ratio of the run with time slots to the one
without.

Results: ``benchmarks/slots_national.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, publish  # noqa: E402
from benchmarks.default_options import run_cli  # noqa: E402
from benchmarks.run import SEED  # noqa: E402

HEADING = "## National with time slots (issue 16: `availability.csv`, up to 2 partners per role, whole process)"
MAX_BYTES = 8_000_000_000


def measure(folder: Path, out: Path) -> dict:
    cli = run_cli(folder, out, MAX_BYTES)
    if cli["rc"] != 0:
        return {"cli": cli}
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {"cli": cli, "summary": {k: s[k] for k in (
        "facilities", "facilities_to_match", "proposals", "new_agreements", "objective", "bound", "gap", "proof",
        "warnings", "notes", "components", "seconds")},
            "part_time_proposals": _part_time(out / "proposals.csv")}


def _part_time(path: Path) -> int:
    """Proposed partners giving ① or ② in part of the week only."""
    import pandas as pd

    p = pd.read_csv(path, dtype=str, keep_default_na=False)
    columns = [c for c in ("consult_slots", "visit_slots") if c in p.columns]
    if not columns:
        return 0
    part = False
    for c in columns:
        part = part | p[c].map(lambda v: bool(v) and len(v.split(";")) < 4)
    return int(part.sum())


def markdown(results: dict, meta: dict) -> str:
    lines = [HEADING, "",
             f"{meta['machine']}, {meta['date']}; {meta['note']}.  Synthetic national instance (seed {SEED}, scale "
             f"{meta['scale']}, capacities in facilities), written without and with `availability.csv` "
             f"({meta['availability_rows']:,} rows); `matching match DIR --out OUT` with default options, each a whole "
             "process in the same benchmark run, capped at 8 GB.  Coverage proven = goals 1–3 optimal for the "
             "*full* candidate lists (summary.json `proof`).", "",
             "| run | candidate lists | wall s | peak MB | match steps s (solve) | components | all met | roles "
             "| new agreements | part-time partners | coverage proven | × wall without slots |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    base = results["without"]["cli"]["wall"]
    for name, r in results.items():
        cli = r["cli"]
        if "summary" not in r:
            lines.append(f"| {name} | – | {cli['wall']:.2f} | {cli['peak_mb']:.0f} | failed (rc {cli['rc']}) "
                         "| | | | | | | |")
            continue
        s = r["summary"]
        obj = s["objective"]
        steps = sum(v for k, v in s["seconds"].items() if k in ("status", "candidates", "solve", "explain"))
        proven = s["proof"]["coverage_proven"]
        gap = "" if proven else " (" + "; ".join(s["warnings"])[:200] + ")"
        lines.append(
            f"| {name} | {s['proof']['candidate_lists']} | {cli['wall']:.2f} | {cli['peak_mb']:.0f} "
            f"| {steps:.2f} ({s['seconds']['solve']:.2f}) | {s['components']} "
            f"| {obj['obligated_full'] + obj['effort_full']:.0f} | {obj['roles_covered']:.0f} "
            f"| {obj['new_agreements']:.0f} | {r['part_time_proposals']} | {proven}{gap} "
            f"| {cli['wall'] / base:.2f} |")
    lines += ["", "Goals 4–5 (agreements, travel) carry no bound for cut lists with time slots (the run's notes say"
              " so); the coverage bound is the capacity-free one with at most K partners per role, which cut"
              " lists keep because every slot set of a (facility, role)'s full list keeps its nearest"
              " institutions (`candidates.slot_groups`).", ""]
    return "\n".join(lines)


def main() -> None:
    from matching.demo import national

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--note", default="machine shared with other jobs",
                    help="what else ran on the machine (goes into results.md)")
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-slots-") as tmp:
        counts = {}
        for name, availability in (("without", False), ("with time slots", True)):
            folder = Path(tmp) / name.replace(" ", "-")
            counts = national.write(folder, SEED, a.scale, residents_capacity=False, availability=availability)
            results[name] = measure(folder, Path(tmp) / f"out-{folder.name}")
            print(json.dumps({name: results[name]["cli"]}), flush=True)
    meta = {**machine(), "scale": a.scale, "availability_rows": counts.get("availability", 0), "note": a.note}
    publish("slots_national", {"meta": meta, "results": results}, HEADING, markdown(results, meta))


if __name__ == "__main__":
    main()
