"""The national run as users run it (issue 17, item 1): ``matching match DIR --out OUT --profile``,
whole process, against a baseline commit in the same benchmark run.

    .venv/bin/python benchmarks/national_match.py                      # this checkout only
    .venv/bin/python benchmarks/national_match.py --baseline 4fd8986   # and that commit, same run
    .venv/bin/python benchmarks/national_match.py --repeat 1 --scale 0.25

Not part of the test suite.  Writes the synthetic national instance (seed 2027,
``matching/demo/national.py``) twice — capacities in facilities, and in facilities and residents —
and times ``matching match DIR --out OUT --profile`` on each as one whole process (Python start,
imports, loading, matching, writing the CSVs and the workbook, the verifier), ``--repeat`` times,
alternating this checkout and the baseline (a ``git worktree`` of ``--baseline``, run with the same
virtual environment, its package first on ``PYTHONPATH``).  Recorded: median wall, peak resident
memory of the largest process (CLI or a worker), the phases ``--profile`` prints, whether coverage
is proven for the full candidate lists, and the ratio to the baseline.  Targets (issue 17): 6 s
with capacities in facilities, 8 s with residents too.

Results: ``benchmarks/national_match.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, publish  # noqa: E402
from benchmarks.default_options import run_cli  # noqa: E402
from benchmarks.run import SEED  # noqa: E402

HEADING = "## The national run, whole process (issue 17, item 1)"
TARGETS = {"facilities": 6.0, "residents": 8.0}
PROFILE_TITLE = "処理時間（秒）"
_ROW = re.compile(r"^[│|]\s*(.+?)\s*[│|]\s*([\d.]+)\s*[│|]$")


def run_once(folder: Path, out: Path, code: Path | None) -> dict:
    """One whole ``matching match --profile`` process (:func:`run_cli`): wall, peak RSS and the
    phases of its profile table."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    r = run_cli(folder, out, options=("--profile",), env=env, stdout=True)
    r["phases"] = _profile(r.pop("stdout"))
    if r["rc"] == 0:
        s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        r["coverage_proven"] = s["proof"]["coverage_proven"]
        r["objective"] = s["objective"]
    return r


def _profile(stdout: str) -> dict[str, float]:
    """The rows of the ``処理時間（秒）`` table ``--profile`` prints last (the status tables above
    it are tables too, and are not read)."""
    table = stdout[stdout.rfind(PROFILE_TITLE):] if PROFILE_TITLE in stdout else ""
    return {m.group(1): float(m.group(2)) for m in map(_ROW.match, (line.strip() for line in table.splitlines()))
            if m}


def markdown(results: dict, meta: dict) -> str:
    base = meta.get("baseline")
    lines = [HEADING, "",
             f"{meta['machine']}, {meta['date']}; {meta['note']}.  `python benchmarks/national_match.py"
             f"{' --baseline ' + base if base else ''}`: the synthetic national instance (seed {SEED}, scale "
             f"{meta['scale']:g}: {meta['facilities']:,} facilities, {meta['institutions']:,} institutions), `matching match DIR --out OUT --profile` with default options as "
             f"one whole process, {meta['repeat']} run(s) each, alternating"
             f"{' this checkout and the baseline commit `' + base + '`' if base else ''}; median wall.  "
             "Phases from `--profile` (median run): start = Python and imports; write = the CSVs (the workbook "
             "is written in a second process meanwhile); wait = the workbook's remainder after the verifier.", "",
             "| capacities | code | wall s (runs) | × baseline | target s | peak MB | start | load | match (solve) "
             "| write | verify | wait | coverage proven |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant, by_code in results.items():
        base_wall = statistics.median(r["wall"] for r in by_code["baseline"]) if "baseline" in by_code else None
        for code, runs in by_code.items():
            walls = [r["wall"] for r in runs]
            med = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
            p = med["phases"]

            def ph(*names, p=p):
                return next((f"{p[n]:.2f}" for n in names if n in p), "–")

            ratio = f"{statistics.median(walls) / base_wall:.2f}" if base_wall else "–"
            solve = p.get("└ solve")
            lines.append(
                f"| {variant} | {code} | **{statistics.median(walls):.1f}** ({', '.join(f'{w:.1f}' for w in walls)}) "
                f"| {ratio} | {TARGETS[variant]:g} | {max(r['peak_mb'] for r in runs):.0f} "
                f"| {ph('起動・ライブラリ読込（Python start, imports）')} | {ph('読込・検証（load）')} "
                f"| {ph('マッチング（match）')} ({solve if solve is not None else '–'}) "
                f"| {ph('書出し（write: CSV）', '書出し（write）')} | {ph('検証（verify）')} "
                f"| {ph('ブック書出しの残り（proposals.xlsx, 検証と並行）')} | {med.get('coverage_proven', '–')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from matching.demo import national

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", help="a commit to run beside this checkout (git worktree)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--variants", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--note", default="nothing else running", help="what else ran on the machine")
    a = ap.parse_args()
    results: dict = {}
    counts: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-national-") as tmp:
        codes: dict[str, Path | None] = {"this checkout": None}
        if a.baseline:
            wt = Path(tmp) / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(wt), a.baseline], cwd=ROOT, check=True,
                           capture_output=True)
            codes["baseline"] = wt
        try:
            for variant in a.variants:
                folder = Path(tmp) / variant
                counts = national.write(folder, SEED, a.scale, residents_capacity=variant == "residents")
                results[variant] = {code: [] for code in codes}
                for k in range(a.repeat):
                    for code, path in codes.items():
                        r = run_once(folder, Path(tmp) / f"out-{variant}-{k}-{code.replace(' ', '-')}", path)
                        results[variant][code].append(r)
                        print(json.dumps({variant: code, "wall": round(r["wall"], 2), "rc": r["rc"]}), flush=True)
        finally:
            if a.baseline:
                subprocess.run(["git", "worktree", "remove", "--force", str(codes["baseline"])], cwd=ROOT,
                               capture_output=True)
    meta = {**machine(), "baseline": a.baseline, "repeat": a.repeat, "scale": a.scale, "note": a.note,
            "facilities": counts.get("facilities", 0), "institutions": counts.get("institutions", 0)}
    publish("national_match", {"meta": meta, "results": results}, HEADING, markdown(results, meta))


if __name__ == "__main__":
    main()
