"""National what-if work on Dask distributed: 47 prefecture-like regions × 20 scenarios.

    .venv/bin/python benchmarks/scale_out.py                    # 47 × 20 on 1 and 2 workers
    .venv/bin/python benchmarks/scale_out.py --prefectures 3 --scenarios 2   # a quick try

The regions are the seeded national instance cut at its prefectures (``matching.demo.national
.generate(seed, prefectures=(code,))``: each prefecture with its share of the 39,398 facilities).
A scenario is one value of a parameter sweep (``limits.visit.minutes`` from 16 to 54 in steps
of 2), run on a region exactly as ``matching whatif REGION --sweep`` runs it: one verified
matching, its summary figures kept.  The 940 runs go through :func:`matching.distribute.run_all`
— in this process for 1 worker, on a local Dask cluster of 2 worker processes for 2 — and each
count is a whole process (Python start, Dask start-up, loading every region, the runs).  The
tables of both must be identical.

The projection for a cluster is stated with its assumptions: runs independent and CPU-bound,
each region read once per worker, the per-run time measured here on one core.

Not part of the test suite.  Results: ``benchmarks/scale_out.json`` and a section of
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, replace_section  # noqa: E402

HEADING = "## National what-if on Dask: 47 prefecture-like regions × 20 scenarios"
SEED = 2027
PARAMETER = "limits.visit.minutes"


def values(n: int) -> list[int]:
    return [16 + 2 * k for k in range(n)]


def build(root: Path, codes: list[str]) -> None:
    from matching.demo import national

    for code in codes:
        national.write_tables(root / code, national.generate(SEED, 1.0, prefectures=(code,),
                                                             residents_capacity=False))


@cache
def _region(folder: str):
    from matching.contract import load_region

    return load_region(folder)


def one_run(item: tuple[str, int], root: str) -> dict:
    """One scenario on one region (a task: top level, so a Dask worker can run it)."""
    from matching import MatchParameters
    from matching.scenarios.schema import Scenario
    from matching.scenarios.sweep import _sweep_row

    code, value = item
    t = time.perf_counter()
    row = _sweep_row(value, _region(str(Path(root) / code)), Scenario.from_mapping({}, source="base"),
                     MatchParameters(), PARAMETER)
    return {"prefecture": code, **row, "seconds": time.perf_counter() - t}


def child(root: str, codes: list[str], n: int, workers: int) -> None:
    """The measured process: every (region, value) through run_all; prints the table as JSON."""
    from matching.distribute import run_all

    items = [(code, v) for code in codes for v in values(n)]
    rows = run_all(one_run, items, workers=workers, root=root)
    print(json.dumps(rows, ensure_ascii=False))


def measure(root: Path, codes: list[str], n: int, workers: int) -> dict:
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from benchmarks.scale_out import child; "
            "child(sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), str(root), json.dumps(codes), str(n), str(workers)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"{workers} worker(s) failed:\n{done.stderr[-4000:]}")
    return {"workers": workers, "wall": wall, "rows": json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefectures", type=int, default=47, help="how many prefectures (the first N codes)")
    ap.add_argument("--scenarios", type=int, default=20)
    args = ap.parse_args()
    from matching.demo.national import PREFECTURES

    codes = [p[0] for p in PREFECTURES][: args.prefectures]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, codes)
        runs = [measure(root, codes, args.scenarios, w) for w in (1, 2)]
    keyed = [[{k: v for k, v in r.items() if k != "seconds"} for r in run["rows"]] for run in runs]
    one_core = sum(r["seconds"] for r in runs[0]["rows"])
    results = {"meta": machine(), "prefectures": len(codes), "scenarios": args.scenarios,
               "runs": len(runs[0]["rows"]), "identical": keyed[0] == keyed[1],
               "wall": {str(r["workers"]): r["wall"] for r in runs}, "run_seconds_one_core": one_core,
               "facilities_all_met": sum(r["all_met_after"] for r in runs[0]["rows"] if "all_met_after" in r)}
    (ROOT / "benchmarks" / "scale_out.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n",
                                                       encoding="utf-8")
    replace_section(HEADING, markdown(results))
    print(markdown(results))


def markdown(r: dict) -> str:
    w1, w2 = r["wall"]["1"], r["wall"]["2"]
    per_run = r["run_seconds_one_core"] / r["runs"]
    nodes, cores = 16, 2
    projected = (940 if r["scenarios"] != 20 else r["runs"]) * per_run / (nodes * cores)
    lines = [HEADING, "",
             f"{r['meta']['machine']}, {r['meta']['date']}. `python benchmarks/scale_out.py`: the seeded national "
             f"instance cut into its {r['prefectures']} prefectures (capacities in facilities), {r['scenarios']} "
             f"values of `{PARAMETER}` each — {r['runs']} verified matchings through `matching.distribute.run_all`, "
             "each count one whole process (Python, Dask start-up, loading, the runs).", "",
             "| workers | wall s | speed-up | tables identical |", "|---|---|---|---|",
             f"| 1 (in process) | {w1:.1f} | 1.00 | – |",
             f"| 2 (local Dask cluster) | {w2:.1f} | {w1 / w2:.2f} | {'yes' if r['identical'] else '**no**'} |", "",
             f"Per run on one core: {per_run:.2f} s on average ({r['run_seconds_one_core']:.0f} s in all). "
             + ("" if r["scenarios"] == 20 else
                f"The issue's 47 × 20 = 940 runs were not measured here: at this per-run time they take about "
                f"{940 * per_run / 60:.0f} min on one core and, at the measured speed-up, "
                f"{940 * per_run / 60 * w2 / w1:.0f} min on 2 workers. ")
             + f"Projection (not measured): on {nodes} nodes × {cores} cores the 940 runs take about "
             f"{math.ceil(projected / 60)} min ({projected:.0f} s), assuming the runs are independent and CPU-bound, "
             "each region is read once per worker, and scheduling and start-up are small against a run; the "
             "largest prefecture's runs (東京都, 大阪府) set the floor when workers outnumber regions."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
