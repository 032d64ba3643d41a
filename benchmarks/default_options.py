"""The main job as users run it: ``matching match REGION --out OUT``, no options, per size.

    .venv/bin/python benchmarks/default_options.py                 # demo … national, HiGHS peer ≤ 600 s
    .venv/bin/python benchmarks/default_options.py --quick         # demo and prefecture only
    .venv/bin/python benchmarks/default_options.py --highs-limit 0 # no HiGHS peer

Not part of the test suite.  For every size (demo, prefecture-size, national ¼, ½,
full; capacities in facilities) it times the CLI as one whole process (Python start,
imports, loading, matching, the verifier, writing) and records the peak resident
memory of the largest process it ran (``RUSAGE_CHILDREN``: the CLI or one of its
worker processes), the options the data chose, the five goals with their proven
bounds, and — on the same region — the greedy baseline and, where it finishes,
HiGHS (an exact MILP solver, through PuLP) on the same candidate lists.

Results: ``benchmarks/default_options.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, publish  # noqa: E402
from benchmarks.run import build_instance  # noqa: E402

SIZES = ("demo", "prefecture", "national-quarter", "national-half", "national")
MATCHING = Path(sys.executable).parent / "matching"


def run_cli(folder: Path, out: Path, max_bytes: int | None = None, *, options: tuple[str, ...] = (),
            env: dict | None = None, stdout: bool = False) -> dict:
    """``matching match folder --out out [options]`` in a fresh process: wall time, peak RSS, exit
    status and the end of stderr (and the whole of stdout if ``stdout``).  ``env``: the process's
    environment.  ``max_bytes`` caps the command's address space (``RLIMIT_AS``; it fails beyond)."""
    cmd = [sys.executable, "-c", (
        "import resource, subprocess, sys, time, json\n"
        f"cap = {max_bytes!r}\n"
        "limit = (lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))) if cap else None\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn=limit)\n"
        "wall = time.perf_counter() - t\n"
        f"keep = {stdout!r}\n"
        "print(json.dumps({'wall': wall, 'rc': p.returncode, 'stderr': p.stderr[-2000:],"
        " 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,"
        " **({'stdout': p.stdout} if keep else {})}))\n"),
        str(MATCHING), "match", str(folder), "--out", str(out), *options]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def peers(folder: Path, highs_limit: float) -> dict:
    """Greedy and HiGHS on the lists a default run uses (the full lists when they are whole)."""
    from benchmarks.pulp_baseline import model_inputs_of, solve_pulp
    from matching.contract import load_region
    from matching.optimise.greedy import coverage, greedy_match
    from matching.optimise.run import match, proposals_from

    region = load_region(folder)
    result = match(region)
    t = time.perf_counter()
    greedy = coverage(region, greedy_match(region, result.params, candidates=result.candidates))
    out = {"greedy": {"coverage": greedy, "seconds": time.perf_counter() - t},
           "candidate_rows": len(result.candidates)}
    if highs_limit > 0:
        t = time.perf_counter()
        p = solve_pulp(result.candidates, model_inputs_of(region, result), region.institutions,
                       time_limit=highs_limit, solver="highs")
        out["highs"] = {"seconds": time.perf_counter() - t, "values": p.values, "status": p.status,
                        "optimal": p.optimal,
                        "coverage": coverage(region, proposals_from(p.chosen)) if len(p.chosen) else None}
    return out


def measure(name: str, tmp: Path, highs_limit: float) -> dict:
    folder = build_instance(name, "facilities", tmp)
    out = tmp / f"out-{name}"
    cli = run_cli(folder, out)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rec = {"instance": name, "cli": cli, "summary": {k: s[k] for k in (
        "facilities", "facilities_to_match", "proposals", "new_agreements", "objective", "bound", "gap",
        "proof", "warnings", "notes", "seconds")}}
    # Peers in a child process of their own, so their memory is not counted above.
    code = ("import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
            "from benchmarks.default_options import peers;"
            "print(json.dumps(peers(Path(sys.argv[2]), float(sys.argv[3]))))")
    limit = highs_limit if name in ("demo", "prefecture") else 0  # national: HiGHS does not finish
    rec["highs_limit"] = highs_limit
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), str(folder), str(limit)],
                          capture_output=True, text=True, cwd=ROOT, timeout=max(600, 3 * limit + 300))
    rec["peers"] = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {
        "error": done.stderr[-1000:]}
    return rec


def markdown(results: list[dict], meta: dict) -> str:
    lines = ["## The main job with default options (`matching match REGION --out OUT`, whole process)", "",
             f"{meta['machine']}, {meta['date']}.  Wall = the command as a user runs it (Python start, imports,"
             " loading, matching, verifier, writing); peak = the largest process (CLI or a worker).  Inner"
             " step times from `summary.json` beside it.  Capacities in facilities.", "",
             "| size | facilities (to match) | candidate lists | wall s | peak MB | match steps s "
             "| all met | roles | new agreements (bound, gap) | coverage proven | greedy all met / roles "
             "| HiGHS (same lists) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, cli, peer = r["summary"], r["cli"], r["peers"]
        obj, bound, gap = s["objective"], s["bound"], s["gap"]
        steps = sum(v for k, v in s["seconds"].items() if k in ("status", "candidates", "solve", "explain"))
        g = peer.get("greedy", {}).get("coverage") or {}
        h = peer.get("highs")
        if h is None:
            htext = ("error" if "error" in peer else "not run (--highs-limit 0)" if r.get("highs_limit") == 0
                     else "not run (does not finish at this size)")
        else:
            hv = h["values"]
            htext = (f"{hv[0] + hv[1]:.0f} / {hv[2]:.0f} roles / {hv[3]:.0f} agreements, {h['seconds']:.0f} s"
                     f"{'' if h['optimal'] else ' (not proven: ' + '; '.join(h['status']) + ')'}")
        agreements = (f"{obj['new_agreements']:.0f} ({bound['new_agreements']:.0f}, {gap['new_agreements']:.1%})"
                      if bound["new_agreements"] is not None else f"{obj['new_agreements']:.0f} (no bound)")
        lines.append(
            f"| {r['instance']} | {s['facilities']} ({s['facilities_to_match']}) | {s['proof']['candidate_lists']} "
            f"| {cli['wall']:.2f} | {cli['peak_mb']:.0f} | {steps:.2f} "
            f"| {obj['obligated_full'] + obj['effort_full']:.0f} | {obj['roles_covered']:.0f} | {agreements} "
            f"| {s['proof']['coverage_proven']} | {g.get('all_full', '–')} / {g.get('roles_covered', '–')} "
            f"| {htext} |")
    lines += ["", "Greedy and HiGHS run on the candidate lists the default run used (the whole lists on the"
              " demo; the cut lists elsewhere).  A bound on new agreements holds for the *full* lists.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="demo and prefecture only")
    ap.add_argument("--highs-limit", type=float, default=600.0, help="seconds for HiGHS per level (0 = skip)")
    a = ap.parse_args()
    sizes = SIZES[:2] if a.quick else SIZES
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-default-") as tmp:
        for name in sizes:
            rec = measure(name, Path(tmp), a.highs_limit)
            print(json.dumps({k: rec[k] for k in ("instance", "cli")}), flush=True)
            results.append(rec)
    meta = machine()
    publish("default_options", {"meta": meta, "results": results}, "## The main job with default options",
            markdown(results, meta))


if __name__ == "__main__":
    main()
