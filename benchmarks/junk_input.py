"""50 MB of junk as ``facilities.csv``: answered in ≤ 10 s using ≤ 500 MB (issue 14).

    .venv/bin/python benchmarks/junk_input.py              # 50 MB, every case
    .venv/bin/python benchmarks/junk_input.py --mb 5       # quicker

Not part of the test suite.  Each case copies the bundled demo region, replaces its
facilities.csv by ~``--mb`` MB of junk and runs ``matching status`` on it as its own process;
the wall time and the process's peak resident memory (``ru_maxrss`` of the child) are recorded.
Before issue 14 the text-junk case took 335 s and 3.3 GB and listed 11,173,557 problems.

Cases:
- ``text``: lines of random words (Japanese, ASCII, quotes, commas) — no usable header;
- ``rows``: the valid header, then junk lines (every row fails several columns);
- ``cells``: the valid header, then rows of the right width whose every cell is wrong;
- ``cp932``: the ``cells`` file saved as CP932 (encoding detection on a large file).

Results: ``benchmarks/junk_input.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._results import machine, replace_section  # noqa: E402

HEADER = "facility_id,name,facility_type,municipality_code,lat,lon,residents,reported"
WORDS = ["あいう", "施設", "xyz", "123", '"', ",", ",,", "テスト", "=cmd", "\t", "true", "03201", "  "]
LIMIT_S, LIMIT_MB = 10.0, 500.0


def _lines(kind: str, rnd: random.Random):
    if kind == "text":
        while True:
            yield "".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 20))).replace('"', "'") + "\n"
    elif kind == "rows":
        while True:
            yield "".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 20))).replace('"', "'") + "\n"
    else:
        k = 0
        while True:
            k += 1
            yield f"J{k},{rnd.choice(WORDS).strip(',')}名,nope,3x,999,-1,many,perhaps\n"


def write_junk(path: Path, kind: str, mb: float) -> int:
    rnd = random.Random(14)
    encoding = "cp932" if kind == "cp932" else "utf-8"
    gen = _lines("cells" if kind == "cp932" else kind, rnd)
    target = int(mb * 2**20)
    size = 0
    with path.open("w", encoding=encoding, newline="") as fh:
        if kind != "text":
            fh.write(HEADER + "\n")
        chunk: list[str] = []
        while size < target:
            line = next(gen)
            chunk.append(line)
            size += len(line.encode(encoding))
            if len(chunk) >= 10_000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))
    return path.stat().st_size


def measure_one(region: Path) -> None:
    """Run in a fresh process: the CLI as a child, its time and peak memory as JSON on stdout."""
    start = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "matching"), "status", str(region)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1), "exit": proc.returncode,
                      "stderr_lines": len(proc.stderr.splitlines()),
                      "first_line": (proc.stderr.splitlines() or [""])[0][:160],
                      "traceback": "Traceback" in proc.stderr + proc.stdout}, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--cases", default="text,rows,cells,cp932")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        measure_one(Path(args.one))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.cases.split(","):
            region = Path(tmp) / kind
            shutil.copytree(ROOT / "data" / "demo", region)
            size = write_junk(region / "facilities.csv", kind, args.mb)
            out = subprocess.run([sys.executable, __file__, "--one", str(region)], capture_output=True,
                                 text=True, check=True)
            r = {"case": kind, "mb": round(size / 2**20, 1), **json.loads(out.stdout)}
            r["ok"] = r["seconds"] <= LIMIT_S and r["peak_mb"] <= LIMIT_MB and r["exit"] == 2 and not r["traceback"]
            results.append(r)
            print(json.dumps(r, ensure_ascii=False))
            shutil.rmtree(region)
    data = {**machine(), "limits": {"seconds": LIMIT_S, "peak_mb": LIMIT_MB}, "results": results}
    (ROOT / "benchmarks" / "junk_input.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n",
                                                          encoding="utf-8")
    rows = "\n".join(f"| {r['case']} | {r['mb']} | {r['seconds']} | {r['peak_mb']:.0f} | {r['exit']} | "
                     f"{r['stderr_lines']} | {'yes' if r['ok'] else 'NO'} |" for r in results)
    replace_section("## Junk input (issue 14)", f"""## Junk input (issue 14)

`benchmarks/junk_input.py` ({data['machine']}, {data['date']}): `matching status` on the demo region with
`facilities.csv` replaced by junk; limit {LIMIT_S:g} s and {LIMIT_MB:g} MB peak memory. Before issue 14
the text case took 335 s and 3.3 GB and listed 11,173,557 problems; now at most 100 are listed per file.

| case | MB | seconds | peak MB | exit | stderr lines | within limits |
|---|---|---|---|---|---|---|
{rows}
""")


if __name__ == "__main__":
    main()
