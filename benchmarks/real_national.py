"""The real country as users run it: the national open data, beside the synthetic instance.

    .venv/bin/python benchmarks/real_national.py            # import all, status, admission, match
    .venv/bin/python benchmarks/real_national.py --no-match # without the national match

Not part of the test suite; skipped (exit 0, with the reason) when ``../shared/data/open`` is
absent.  Each step is the ``matching`` command in a fresh process, timed from Python start to
exit, with the peak resident memory of the largest process it ran (``RUSAGE_CHILDREN``):

1. ``matching import region all --kaigo … --hospitals … --out TMP/country`` (47 prefectures +
   national/, hospitals only: the 施設基準 lists exist for two prefectures only);
2. ``matching status TMP/country/national --out …``;
3. ``matching admission TMP/country/national --out …`` (the ③ analysis, workbook and map);
4. ``matching match TMP/country/national --out … --include-unreported`` (no annual reports
   are public, so every facility would otherwise be left as 集計していない).

Results: ``benchmarks/real_national.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, replace_section  # noqa: E402

OPEN = ROOT.parent / "shared" / "data" / "open"
MATCHING = Path(sys.executable).parent / "matching"
HEADING = "## The real country (national open data)"


def timed(args: list[str]) -> dict:
    """``matching *args`` in a fresh process: wall seconds, exit code, peak RSS (MB)."""
    cmd = [sys.executable, "-c", (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "print(json.dumps({'wall': wall, 'rc': p.returncode, 'stdout': p.stdout[-1500:],"
        " 'stderr': p.stderr[-1500:], 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"),
        str(MATCHING), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-match", action="store_true", help="skip the national match")
    args = ap.parse_args()
    if not OPEN.is_dir():
        print(f"skipped: ../shared/data/open not present (the real open data is expected at {OPEN})")
        return
    results: dict = {"meta": machine(), "steps": {}}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        country, national = t / "country", t / "country" / "national"
        steps = [("import", ["import", "region", "all", "--kaigo", str(OPEN / "kaigo"),
                             "--hospitals", str(OPEN / "hospitals"), "--out", str(country)]),
                 ("status", ["status", str(national), "--out", str(t / "status")]),
                 ("admission", ["admission", str(national), "--out", str(t / "admission")])]
        if not args.no_match:
            steps.append(("match", ["match", str(national), "--out", str(t / "match"), "--include-unreported"]))
        for name, argv in steps:
            r = timed(argv)
            results["steps"][name] = r
            print(f"{name}: {r['wall']:.1f} s, peak {r['peak_mb']:.0f} MB, exit {r['rc']}", flush=True)
            if r["rc"] != 0:
                print(r["stderr"], file=sys.stderr)
                break
        import pandas as pd

        summary = pd.read_csv(national / "import_summary.csv", dtype={"prefecture_code": str})
        results["import_summary"] = summary.to_dict("records")
        results["totals"] = {"facilities": int(summary["facilities"].sum()),
                             "hospitals": int(summary["hospitals"].sum()),
                             "hospital_records": int(summary["hospital_records"].sum())}
        adm = t / "admission" / "admission_by_prefecture.csv"
        if adm.exists():
            a = pd.read_csv(adm, encoding="utf-8-sig")
            results["admission"] = {"facilities": int(a.iloc[:, 2].sum()), "without_admitting": int(a.iloc[:, 3].sum())}
            inc = pd.read_csv(t / "admission" / "admission_increases.csv", encoding="utf-8-sig")
            note = next((line for line in results["steps"]["admission"].get("stdout", "").splitlines()
                         if line.startswith("③のみ")), "")
            results["admission"]["plan"] = {"hospitals": len(inc), "facilities_added": int(inc["増やす施設数"].sum())
                                            if len(inc) else 0, "note": note}
        summ = t / "match" / "summary.json"
        if summ.exists():
            s = json.loads(summ.read_text(encoding="utf-8"))
            results["match"] = {k: s.get(k) for k in ("facilities", "facilities_to_match", "proposals",
                                                      "new_agreements", "objective", "bound", "seconds", "gap",
                                                      "optimal")}
    (ROOT / "benchmarks" / "real_national.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n",
                                                            encoding="utf-8")
    replace_section(HEADING, markdown(results))


def markdown(r: dict) -> str:
    tot = r.get("totals", {})
    lines = [HEADING, "",
             f"`benchmarks/real_national.py` on {r['meta']['machine']}, {r['meta']['date']}: the MHLW kaigo files "
             f"and the 病床機能報告 of `../shared/data/open` — {tot.get('facilities', '?'):,} facilities, "
             f"{tot.get('hospitals', '?'):,} hospitals (of {tot.get('hospital_records', '?'):,} records; bedded "
             "clinics left out, clinics not loaded). Each step is the command in a fresh process.", "",
             "| step | command | wall s | peak MB |", "|---|---|---|---|"]
    cmds = {"import": "`matching import region all …`", "status": "`matching status national`",
            "admission": "`matching admission national`", "match": "`matching match national --include-unreported`"}
    for name, s in r["steps"].items():
        lines.append(f"| {name} | {cmds[name]} | {s['wall']:.1f} | {s['peak_mb']:.0f} |"
                     + ("" if s["rc"] == 0 else f" (exit {s['rc']})"))
    if "admission" in r:
        a = r["admission"]
        lines += ["", f"③: {a['facilities']:,} facilities must secure admission; {a['without_admitting']} have no "
                  "admitting hospital within 45 minutes."]
        if "plan" in a:
            lines += ["", f"③ capacity plan over every hospital within 45 minutes: {a['plan']['hospitals']} hospitals, "
                      f"+{a['plan']['facilities_added']} facilities in all — {a['plan']['note']}"]
    if "match" in r:
        m = r["match"]
        lines += ["", f"Match: {m.get('facilities_to_match')} facilities to match, {m.get('proposals')} proposals, "
                  f"{m.get('new_agreements')} new agreements; coverage (goals 1–3) "
                  + ("proven." if m.get("optimal") else "not proven within the stage time limits (see `gap`).")
                  + " ①② gaps are 診療所未取込 (clinics not loaded)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
