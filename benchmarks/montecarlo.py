"""Monte-Carlo acceptance on Dask distributed, as users run it: ``matching montecarlo`` timed as a
whole process on 1 and 2 local workers, and the projection for a cluster.

    .venv/bin/python benchmarks/montecarlo.py                # the demo, 20 draws
    .venv/bin/python benchmarks/montecarlo.py --draws 8      # shorter

Not part of the test suite.  The speed-up from 1 to 2 workers is measured on this machine;
the projection for a cluster assumes what it states (independent draws, the region sent to each
worker once, the per-draw time measured here on one core).

Results: ``benchmarks/montecarlo.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, replace_section  # noqa: E402

HEADING = "## Monte-Carlo acceptance on Dask (`matching montecarlo`, whole process)"
MATCHING = Path(sys.executable).parent / "matching"


def run(region: Path, draws: int, workers: int, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(MATCHING), "montecarlo", str(region), "--draws", str(draws), "--workers", str(workers),
                    "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--region", type=Path, default=ROOT / "data" / "demo")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = run(args.region, args.draws, 1, Path(tmp) / "w1")
        two = run(args.region, args.draws, 2, Path(tmp) / "w2")
        same = all((Path(tmp) / "w1" / f).read_bytes() == (Path(tmp) / "w2" / f).read_bytes()
                   for f in ("montecarlo_draws.csv", "montecarlo_facilities.csv"))
    per_draw = one / (args.draws + 1)  # the base run and the draws, one core
    regions, scenarios, nodes = 47, 20, 16
    projected = math.ceil(regions * scenarios * per_draw / (nodes * 2) / 60)
    rec = {"region": args.region.name, "draws": args.draws, "workers_1_s": round(one, 1),
           "workers_2_s": round(two, 1), "speedup": round(one / two, 2), "identical": same,
           "per_draw_s": round(per_draw, 2), "projection_minutes_47x20_on_16x2_cores": projected, **machine()}
    (ROOT / "benchmarks" / "montecarlo.json").write_text(json.dumps(rec, ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
    section = "\n".join([
        HEADING, "",
        f"{rec['machine']}, {rec['date']}. `matching montecarlo {args.region.name} --draws {args.draws} "
        f"--workers N` as one process (Python start, loading, the base run, the draws, writing).", "",
        "| workers | wall s | speed-up | outputs identical |", "|---|---|---|---|",
        f"| 1 | {one:.1f} | 1.00 | – |",
        f"| 2 (local Dask cluster) | {two:.1f} | {one / two:.2f} | {'yes' if same else 'NO'} |", "",
        f"Projection (not measured): 47 prefecture-like regions × 20 scenarios at {per_draw:.2f} s per run "
        f"(this machine, one core) on 16 nodes × 2 cores ≈ {projected} min, assuming runs independent and "
        "CPU-bound, the region sent to each worker once, and start-up and scheduling small against a run. "
        "A 2-core machine gains less than 2× because the base run and the process start are not divided.",
    ]) + "\n"
    replace_section(HEADING, section)
    print(section)


if __name__ == "__main__":
    main()
