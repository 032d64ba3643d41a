"""Criticality ("which institutions matter"), incremental against full re-solves, as users run it.

    .venv/bin/python benchmarks/criticality.py                 # the demo (time slots) and the prefecture
    .venv/bin/python benchmarks/criticality.py --skip-prefecture
    .venv/bin/python benchmarks/criticality.py --national     # and the national instance (~10 min more)

Measured in one run:

* ``matching critical data/demo`` as a whole process (it also writes the capacity plan);
* inside it, :func:`matching.scenarios.criticality.criticality` alone (incremental: repair,
  else a coverage-only re-solve of the reached facilities, 2 processes), against the baseline
  a user had before — one full ``match`` of the whole region per institution that stops
  accepting — with the counts compared (they must be identical);
* the seeded 1,961-facility prefecture (capacities in facilities): the incremental table, and
  the full re-solve on a sample of institutions, extrapolated to all of them (stated as such);
* with ``--national``, the same for the synthetic national instance (39,398 facilities);
* the steps of ``matching critical`` in one process (loading, base run, criticality, capacity
  plan), so the whole-process figure can be read against them.

The whole process and the incremental table are timed ``--repeat`` times (median given, every
time kept in the JSON); the load average before and after says how busy the machine was.

Not part of the test suite.  Results: ``benchmarks/criticality.json`` and a section of
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, replace_section  # noqa: E402
from matching import MatchParameters, match  # noqa: E402
from matching.contract import load_region  # noqa: E402
from matching.demo import national  # noqa: E402
from matching.scenarios.capacity import capacity_plan  # noqa: E402
from matching.scenarios.criticality import criticality  # noqa: E402

HEADING = "## Criticality, incremental (`matching critical`)"
MATCHING = Path(sys.executable).parent / "matching"


def full_resolve_lost(region, params, base, institutions) -> dict[str, tuple[int, int]]:
    """The baseline: the whole region matched again per institution that stops accepting."""
    before = base.status_after["status"].eq("all_met")
    ob = base.status_after["obligated"].astype(bool)
    out = {}
    for i in institutions:
        inst = region.institutions.copy()
        inst.loc[i, "accepting"] = False
        changed = type(region)(region.areas, region.facilities, inst, region.partnerships, region.travel_times,
                               region.source, region.skipped, region.availability)
        now = match(changed, params).status_after["status"].eq("all_met")
        out[i] = (int(before.sum() - now.sum()), int((before & ob).sum() - (now & ob).sum()))
    return out


def measure(region, sample: int | None, repeat: int = 1) -> dict:
    params = MatchParameters()
    t0 = time.perf_counter()
    base = match(region, params)
    base_s = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = criticality(region, params, base).set_index("institution_id")
        times.append(round(time.perf_counter() - t0, 1))
    incremental_s = statistics.median(times)
    ids = table.index.tolist() if sample is None else table.index.tolist()[::max(1, len(table) // sample)]
    t0 = time.perf_counter()
    full = full_resolve_lost(region, params, base, ids)
    full_s = time.perf_counter() - t0
    projected = full_s * len(table) / len(ids)
    same = all(full[i] == (table.at[i, "lost_all_met"], table.at[i, "lost_obligated"]) for i in ids)
    return {"facilities": len(region.facilities), "institutions_considered": len(table),
            "with_loss": int((table["lost_all_met"] > 0).sum()), "base_match_s": round(base_s, 1),
            "incremental_s": round(incremental_s, 1), "incremental_runs_s": times, "baseline_institutions": len(ids),
            "baseline_s": round(full_s, 1), "baseline_all_s": round(projected, 1),
            "baseline_extrapolated": len(ids) < len(table), "speedup": round(projected / incremental_s, 1),
            "identical_counts": same}


def steps(folder: Path) -> dict:
    """The steps of ``matching critical`` in one process, in seconds (as the command runs them)."""
    out = {}
    t0 = time.perf_counter()
    region = load_region(folder)
    out["load"] = time.perf_counter() - t0
    params = MatchParameters()
    t0 = time.perf_counter()
    base = match(region, params)
    out["base_run"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    criticality(region, params, base)
    out["criticality"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    capacity_plan(region, params)
    out["capacity_plan"] = time.perf_counter() - t0
    return {k: round(v, 1) for k, v in out.items()}


def cli_run(folder: Path, out: Path) -> dict:
    """``matching critical FOLDER --out OUT`` as one whole process: wall seconds, peak MB, its last lines."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", str(MATCHING), "critical", str(folder), "--out", str(out)],
                          check=True, capture_output=True, text=True)
    return {"wall_s": round(time.perf_counter() - t0, 1),
            "peak_mb": round(int(done.stderr.strip().splitlines()[-1]) / 1024),
            "plan": [line for line in done.stdout.splitlines() if "受入枠" in line][:2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-prefecture", action="store_true")
    ap.add_argument("--prefecture-sample", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the whole process and of the table (median)")
    ap.add_argument("--national", action="store_true",
                    help="also the synthetic national instance (capacities in facilities): the whole table once, "
                         "the full re-solve on --national-sample institutions (about 10 min in all)")
    ap.add_argument("--national-sample", type=int, default=3)
    ap.add_argument("--note", default="nothing else running",
                    help="what else ran on the machine (a busy machine slows every figure, the baseline too)")
    args = ap.parse_args()
    rec: dict = {**machine(), "load_average_before": round(os.getloadavg()[0], 1), "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for k in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([str(MATCHING), "critical", str(ROOT / "data" / "demo"), "--out", str(Path(tmp) / f"c{k}")],
                           check=True, capture_output=True)
            runs.append(round(time.perf_counter() - t0, 1))
        rec["cli_demo_s"] = statistics.median(runs)
        rec["cli_demo_runs_s"] = runs
        rec["cli_demo_steps_s"] = steps(ROOT / "data" / "demo")
        rec["demo"] = measure(load_region(ROOT / "data" / "demo"), None, args.repeat)
        if not args.skip_prefecture:
            folder = Path(tmp) / "pref"
            national.write_tables(folder, national.prefecture(2027, residents_capacity=False))
            rec["prefecture"] = measure(load_region(folder), args.prefecture_sample)
            rec["prefecture"]["cli"] = cli_run(folder, Path(tmp) / "pref_out")
        if args.national:
            folder = Path(tmp) / "national"
            national.write_tables(folder, national.generate(2027, residents_capacity=False))
            rec["national"] = measure(load_region(folder), args.national_sample)
            rec["national"]["cli"] = cli_run(folder, Path(tmp) / "national_out")
    rec["load_average_after"] = round(os.getloadavg()[0], 1)
    (ROOT / "benchmarks" / "criticality.json").write_text(json.dumps(rec, ensure_ascii=False, indent=1),
                                                           encoding="utf-8")
    st = rec["cli_demo_steps_s"]
    lines = [HEADING, "", f"{rec['machine']}, {rec['date']}. `python benchmarks/criticality.py`; load average "
             f"{rec['load_average_before']} before, {rec['load_average_after']} after (its own processes "
             f"included); {args.note}.", "",
             f"`matching critical data/demo --out …` as a whole process (loading, base run, criticality, "
             f"capacity plan, writing): **{rec['cli_demo_s']} s** (median of {rec['repeat']}: "
             f"{', '.join(map(str, rec['cli_demo_runs_s']))} s). Its steps in one process: loading {st['load']} s, "
             f"base run {st['base_run']} s, criticality {st['criticality']} s, capacity plan {st['capacity_plan']} s "
             "(the rest is Python start-up and imports, ~2 s, and writing).", "",
             "| region | facilities | institutions considered | with a loss | base run | incremental | "
             "full re-solves (baseline) | speed-up | same counts |", "|---|---|---|---|---|---|---|---|---|"]
    for name in ("demo", "prefecture", "national"):
        if name not in rec:
            continue
        r = rec[name]
        base = (f"{r['baseline_all_s']} s (measured on {r['baseline_institutions']}, extrapolated)"
                if r["baseline_extrapolated"] else f"{r['baseline_s']} s")
        lines.append(f"| {name} | {r['facilities']:,} | {r['institutions_considered']} | {r['with_loss']} | "
                     f"{r['base_match_s']} s | **{r['incremental_s']} s** | {base} | {r['speedup']}× | "
                     f"{'yes' if r['identical_counts'] else 'NO'} |")
    for name in ("prefecture", "national"):
        if "cli" in rec.get(name, {}):
            c = rec[name]["cli"]
            lines += ["", f"`matching critical` on the {name} as a whole process (base run, criticality, capacity "
                      f"plan, writing): **{c['wall_s']} s**, peak {c['peak_mb']} MB."]
    lines += ["", f"Incremental on the demo: median of {rec['repeat']} "
              f"({', '.join(map(str, rec['demo']['incremental_runs_s']))} s). Targets (issue 17): demo ≤ 3 s, "
              "prefecture ≤ 10 s, national ≤ 5 min. The incremental table repairs the base solution where it can "
              "(greedy on the base's rows less the institution's, then CP-SAT on the facilities near those that "
              "lost a partner; exact when its counts reach the base's or the capacity-free cover's), else solves "
              "the reached facilities again for goals 1–2 only (facilities all met), looking only for better than "
              "the best repair, on the component's model built once. 2 processes, largest component first."]
    replace_section(HEADING, "\n".join(lines))
    print(json.dumps(rec, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
