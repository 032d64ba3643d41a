"""Benchmarks: the matching on the demo region, a prefecture-size and the national instance.

    .venv/bin/python benchmarks/run.py            # everything (~30 min: PuLP+CBC on the national instance is slow)
    .venv/bin/python benchmarks/run.py --quick    # demo, prefecture, national ¼ (a few minutes)
    make bench                                     # the same as the first line

Not part of the test suite.  Each measurement runs in a fresh Python process so that
its peak memory is its own: peak = ``resource.getrusage`` max RSS of that process
(and, separately, of the worker processes it forked), not tracemalloc.  The
synthetic instances are generated into a temporary folder (never committed).

For every instance and capacity mode ("facilities": capacities counted in partner
facilities only; "residents": also in residents) it reports the wall time of each
step — load, status + candidates (travel times), model preparation (exact
reductions, components, closed form), solve (CP-SAT components, incl. the rounds
that lengthen cut candidate lists), explanations, writing — the
five goals with bound and gap, the verifier's verdict, and the same candidates
solved by (a) PuLP + CBC (``benchmarks/pulp_baseline.py``) and (b) the greedy
baseline, as ratios from the same run.  Results: ``benchmarks/results.json`` and
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = 2027


def _rss_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def build_instance(name: str, mode: str, folder: Path) -> Path:
    from matching.demo import national

    out = folder / f"{name}-{mode}"
    if out.exists():
        return out
    residents = mode == "residents"
    if name == "demo":
        import shutil

        shutil.copytree(ROOT / "data" / "demo", out)
        if not residents:  # the demo's clinics state capacities in residents: blank them
            import pandas as pd

            inst = pd.read_csv(out / "institutions.csv", dtype=str, keep_default_na=False)
            inst["capacity_residents"] = ""
            inst.to_csv(out / "institutions.csv", index=False, lineterminator="\n")
    elif name == "prefecture":
        national.write_tables(out, national.prefecture(SEED, residents_capacity=residents))
    else:
        scale = {"national": 1.0, "national-half": 0.5, "national-quarter": 0.25}[name]
        national.write(out, SEED, scale, residents_capacity=residents)
    return out


def measure(folder: Path, name: str, with_pulp: bool, pulp_limit: float) -> dict:
    """One instance end to end (load → proposals written), then verifier, greedy, PuLP."""
    import pandas as pd

    from matching.contract import load_region
    from matching.optimise.greedy import coverage, greedy_match
    from matching.optimise.options import NATIONAL, SolveOptions
    from matching.optimise.run import match, summary
    from matching.parameters import MatchParameters
    from matching.verify import verify

    options = SolveOptions() if name == "demo" else NATIONAL
    params = MatchParameters()
    out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    t0 = time.perf_counter()
    region = load_region(folder)
    t_load = time.perf_counter() - t0
    result = match(region, params, options)
    t1 = time.perf_counter()
    result.proposals.to_csv(out / "proposals.csv", index=False)
    result.unmatched.to_csv(out / "unmatched.csv", index=False)
    result.alternatives.to_csv(out / "alternatives.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary(result), ensure_ascii=False, indent=1), encoding="utf-8")
    t_write = time.perf_counter() - t1
    end_to_end = time.perf_counter() - t0
    s = result.seconds
    rec = {
        "instance": name, "folder": str(folder),
        "facilities": len(region.facilities), "institutions": len(region.institutions),
        "facilities_to_match": int(result.status_before["missing_roles"].map(bool).sum()),
        "candidates": len(result.candidates), "components": result.components,
        "closed_form_components": result.closed_components,
        "settled_facilities": result.settled_facilities,
        "truncated_share": round(float(result.candidates["truncated"].mean()), 3) if len(result.candidates) else 0,
        "options": options.__dict__,
        "seconds": {"load": t_load, "status_and_candidates": s["status"] + s["candidates"],
                    "model_build": s["solve_prepare"], "solve": s["solve"] - s["solve_prepare"],
                    "lengthen": s.get("expand", 0.0), "explain": s["explain"],
                    "write": t_write, "end_to_end": end_to_end},
        "peak_rss_mb": {"process": _rss_mb(resource.RUSAGE_SELF), "workers": _rss_mb(resource.RUSAGE_CHILDREN)},
        "stages": [{"name": st.name, "objective": st.objective, "bound": st.bound, "gap": st.gap,
                    "optimal": st.optimal} for st in result.stages],
        "proposals": len(result.proposals),
    }
    opt_cov = coverage(region, result.proposals)
    rec["coverage"] = opt_cov
    t = time.perf_counter()
    problems = verify(region, out / "proposals.csv", params)
    rec["verifier"] = {"violations": len(problems), "seconds": time.perf_counter() - t,
                       "first": [str(p) for p in problems[:5]]}

    t = time.perf_counter()
    greedy = greedy_match(region, params, candidates=result.candidates)
    g_time = time.perf_counter() - t
    g_cov = coverage(region, greedy)
    rec["greedy"] = {"seconds": g_time, "coverage": g_cov,
                     "verifier_violations": len(verify(region, greedy, params))}
    if with_pulp:
        rec["pulp"] = run_pulp(region, result, pulp_limit)
    del pd
    return rec


def run_pulp(region, result, wall_limit: float) -> dict:
    """PuLP + CBC on the same candidates, in its own process group with a wall-clock cap.

    CBC's own ``timeLimit`` is not honoured while it is still in presolve / the root LP of
    a large model, so the cap is enforced from outside: past it, the group is killed and
    the result says so (PuLP's time is then a lower bound)."""
    import os
    import pickle
    import signal

    from benchmarks.pulp_baseline import model_inputs_of

    work = Path(tempfile.mkdtemp(prefix="bench-pulp-"))
    with (work / "input.pkl").open("wb") as fh:
        pickle.dump((result.candidates, model_inputs_of(region, result), region.institutions), fh)
    cmd = [sys.executable, __file__, "--pulp-job", str(work), "--pulp-limit", str(wall_limit)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        proc.wait(timeout=wall_limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the job and the cbc it started, nothing else
        proc.wait()
        return {"seconds": time.perf_counter() - t, "finished": False, "wall_limit": wall_limit,
                "status": [f"no result within {wall_limit:.0f} s (killed)"], "coverage": None}
    seconds = time.perf_counter() - t
    if proc.returncode or not (work / "output.pkl").exists():
        return {"seconds": seconds, "finished": False, "status": [f"failed (exit {proc.returncode})"],
                "coverage": None}
    with (work / "output.pkl").open("rb") as fh:
        p = pickle.load(fh)
    from matching.optimise.greedy import coverage
    from matching.optimise.run import proposals_from

    p_cov = coverage(region, proposals_from(p.chosen)) if len(p.chosen) else None
    return {"seconds": seconds, "finished": True, "build_seconds": p.seconds["build"],
            "solve_seconds": p.seconds["solve"], "values": p.values, "status": p.status, "optimal": p.optimal,
            "coverage": p_cov, "wall_limit": wall_limit}


def pulp_job(work: Path, limit: float) -> None:
    import pickle

    from benchmarks.pulp_baseline import solve_pulp

    with (work / "input.pkl").open("rb") as fh:
        cand, fac, inst = pickle.load(fh)
    out = solve_pulp(cand, fac, inst, time_limit=limit)
    with (work / "output.pkl").open("wb") as fh:
        pickle.dump(out, fh)


def run_child(name: str, mode: str, tmp: Path, with_pulp: bool, pulp_limit: float) -> dict:
    """Measure in a fresh process (its own peak memory)."""
    cmd = [sys.executable, __file__, "--one", name, mode, "--tmp", str(tmp), "--pulp-limit", str(pulp_limit)]
    if not with_pulp:
        cmd.append("--no-pulp")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{name}/{mode} failed:\n{done.stderr[-3000:]}")
    rec = json.loads(done.stdout.strip().splitlines()[-1])
    rec["mode"] = mode
    return rec


def markdown(results: list[dict], meta: dict) -> str:
    def f(x, nd=2):
        return "–" if x is None else f"{x:.{nd}f}"

    lines = ["# Benchmark results", "",
             f"Generated by `.venv/bin/python benchmarks/run.py{' --quick' if meta['quick'] else ''}` on "
             f"{meta['machine']} ({meta['cpus']} cores), Python {meta['python']}, {meta['date']}. "
             "Peak memory is the max RSS of the measuring process (`resource.getrusage`), worker "
             "processes separately. Seconds are wall time. Synthetic instances: "
             "`matching/demo/national.py`, seed 2027.", "",
             "## Wall time per step (s) and peak memory", "",
             "| instance | capacities | facilities | institutions | candidates | load | status+candidates | "
             "model build | solve | explain | write | **end to end** | peak RSS MB (workers) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r["seconds"]
        lines.append(f"| {r['instance']} | {r['mode']} | {r['facilities']} | {r['institutions']} | {r['candidates']} | "
                     f"{f(s['load'])} | {f(s['status_and_candidates'])} | {f(s['model_build'])} | {f(s['solve'])} | "
                     f"{f(s['explain'])} | {f(s['write'])} | **{f(s['end_to_end'])}** | "
                     f"{r['peak_rss_mb']['process']:.0f} ({r['peak_rss_mb']['workers']:.0f}) |")
    lines += ["", "## Objective, bound and gap (coverage goals summed over components)", "",
              "| instance | capacities | obligated full (bound) | effort full (bound) | roles covered (bound) | "
              "coverage gap % | new agreements | travel | all 5 proven | settled facilities | closed-form comps / comps | verifier |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        st = {s["name"]: s for s in r["stages"]}
        cov_obj = sum(st[k]["objective"] for k in ("obligated_full", "effort_full", "roles_covered"))
        cov_bnd = sum(st[k]["bound"] for k in ("obligated_full", "effort_full", "roles_covered"))
        gap = 100 * (cov_bnd - cov_obj) / max(cov_bnd, 1)
        proven = all(s["optimal"] for s in r["stages"])
        lines.append(
            f"| {r['instance']} | {r['mode']} | {st['obligated_full']['objective']:.0f} ({st['obligated_full']['bound']:.0f}) | "
            f"{st['effort_full']['objective']:.0f} ({st['effort_full']['bound']:.0f}) | "
            f"{st['roles_covered']['objective']:.0f} ({st['roles_covered']['bound']:.0f}) | {gap:.3f} | "
            f"{st['new_agreements']['objective']:.0f} | {st['travel_cost']['objective']:.0f} | {proven} | "
            f"{r.get('settled_facilities', 0)} | {r['closed_form_components']} / {r['components']} | "
            f"{'OK' if r['verifier']['violations'] == 0 else str(r['verifier']['violations']) + ' violations'} "
            f"({r['verifier']['seconds']:.1f} s) |")
    lines += ["", "## Against PuLP + CBC and the greedy baseline (same candidates, same run)", "",
              "Facilities brought to \"all met\" (all types) and roles covered; time = solve path only "
              "(optimiser: status → proposals incl. explanations; PuLP: build + two CBC solves; greedy: its loop).", "",
              "| instance | capacities | optimiser all-met / roles / s | PuLP+CBC all-met / roles / s (status) | "
              "greedy all-met / roles / s | speed-up vs PuLP | all-met vs greedy |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        opt_s = r["seconds"]["end_to_end"] - r["seconds"]["load"] - r["seconds"]["write"]
        c, g = r["coverage"], r["greedy"]
        p = r.get("pulp")
        if not p:
            ptxt, speed = "not run", "–"
        elif not p.get("finished", True) or p["coverage"] is None:
            ptxt = f"– / – / >{p['seconds']:.0f} ({', '.join(p['status'])})"
            speed = f">{p['seconds'] / opt_s:.0f}× (PuLP unfinished)"
        else:
            ptxt = (f"{p['coverage']['all_full']} / {p['coverage']['roles_covered']} / {p['seconds']:.1f} "
                    f"({', '.join(p['status'])})")
            speed = f"{p['seconds'] / opt_s:.1f}×"
            if p["coverage"] != c:  # a faster or slower *different* answer is no comparison
                speed += " (PuLP's coverage differs: not comparable)"
        lines.append(f"| {r['instance']} | {r['mode']} | {c['all_full']} / {c['roles_covered']} / {opt_s:.1f} | {ptxt} | "
                     f"{g['coverage']['all_full']} / {g['coverage']['roles_covered']} / {g['seconds']:.1f} | {speed} | "
                     f"{c['all_full'] / max(g['coverage']['all_full'], 1):.3f} |")
    growth = [r for r in results if r["instance"].startswith("national") and r["mode"] == "facilities"]
    if len(growth) > 1:
        lines += ["", "## Growth with size (capacities in facilities)", "",
                  "| instance | facilities | candidates | end to end s | s per 1,000 facilities |", "|---|---|---|---|---|"]
        for r in sorted(growth, key=lambda r: r["facilities"]):
            e = r["seconds"]["end_to_end"]
            lines.append(f"| {r['instance']} | {r['facilities']} | {r['candidates']} | {e:.2f} | "
                         f"{1000 * e / r['facilities']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="demo, prefecture and national ¼ only")
    ap.add_argument("--no-pulp-national", action="store_true", help="skip PuLP+CBC on the national-size instances")
    ap.add_argument("--pulp-limit", type=float, default=600.0,
                    help="wall-clock cap for PuLP+CBC per instance (s); also CBC's own limit per level")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--one", nargs=2, metavar=("INSTANCE", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--no-pulp", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pulp-job", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.pulp_job:
        pulp_job(a.pulp_job, a.pulp_limit)
        return
    if a.one:
        name, mode = a.one
        folder = build_instance(name, mode, a.tmp)
        print(json.dumps(measure(folder, name, not a.no_pulp, a.pulp_limit), default=float))
        return

    names = ["demo", "prefecture", "national-quarter"] + ([] if a.quick else ["national-half", "national"])
    tmp = Path(tempfile.mkdtemp(prefix="matching-bench-"))
    results = []
    for name in names:
        for mode in ("facilities", "residents"):
            pulp = not (a.no_pulp_national and name.startswith("national")) and not (
                name in ("national-quarter", "national-half") and not a.quick)
            print(f"{name} / capacities in {mode} …", file=sys.stderr, flush=True)
            rec = run_child(name, mode, tmp, pulp, a.pulp_limit)
            results.append(rec)
            print(f"  end to end {rec['seconds']['end_to_end']:.2f} s, peak {rec['peak_rss_mb']['process']:.0f} MB, "
                  f"verifier {rec['verifier']['violations']} violations", file=sys.stderr, flush=True)
    meta = {"quick": a.quick, "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=float),
                                        encoding="utf-8")
    (a.out / "results.md").write_text(markdown(results, meta), encoding="utf-8")
    print(markdown(results, meta))


if __name__ == "__main__":
    main()
