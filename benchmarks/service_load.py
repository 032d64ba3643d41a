"""The service under a busy office's load: 20 concurrent clients on the read endpoints, over HTTP.

    .venv/bin/python benchmarks/service_load.py                    # SQLite, and PostgreSQL if reachable
    .venv/bin/python benchmarks/service_load.py --seconds 5 --postgres ''   # SQLite only, shorter

Not part of the test suite.  The server runs as its own process the way it is deployed
(``uvicorn --factory api.main:create_app``, one process, no access log) on the demo region;
20 clients — each with its own token: 5 prefecture staff and 15 municipal coordinators of
different municipalities — send requests back to back for ``--seconds``, from one asyncio
process on the same machine (so the client's CPU competes with the server's, as in the issue's
measurement).  Each endpoint set is measured twice in the same run: with the status cache
(the default) and without it (``READ_CACHE=false``, the baseline), and the ratio is given.

Results: ``benchmarks/service_load.json`` and a section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine, publish  # noqa: E402

CLIENTS = 20
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_service"
HEADING = "## The service under load"
ENDPOINTS = {
    "/status": ["/status"],
    "read mix": ["/status", "/status?by=secondary_area", "/facilities", "/institutions", "/proposals",
                 "/runs", "/me"],
}


def prepare(database_url: str) -> list[str]:
    """An empty database with the demo region and 20 tokens; returns the tokens."""
    from sqlalchemy import create_engine, select, text

    if database_url.startswith("postgresql"):
        admin = create_engine(database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        name = database_url.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    from api.cli import create_token
    from api.db import make_engine, migrate, session_factory
    from api.models import Area
    from api.store import import_region

    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        import_region(session, ROOT / "data" / "demo")
        session.commit()
        munis = sorted(session.scalars(select(Area.municipality_code)))
    tokens = [create_token(sessions, f"県{k}", "prefecture", "03", None) for k in range(5)]
    tokens += [create_token(sessions, f"市町村{m}", "municipal", None, m) for m in munis[:CLIENTS - 5]]
    engine.dispose()
    return tokens


def serve(database_url: str, read_cache: bool, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "READ_CACHE": str(read_cache).lower(),
           "RUN_POLL_SECONDS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port",
                             str(port), "--no-access-log", "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(log.read_text())


async def load(url: str, tokens: list[str], paths: list[str], seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for t in tokens:  # warm-up: one request per client and path (first status computation)
            for p in paths:
                await client.get(p, headers={"Authorization": f"Bearer {t}"})
        stop = time.perf_counter() + seconds

        async def one(k: int) -> None:
            nonlocal errors
            h = {"Authorization": f"Bearer {tokens[k]}"}
            i = k
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.get(paths[i % len(paths)], headers=h)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200
                i += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(len(tokens))))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "per_second": len(latencies) / wall,
            "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * q[94]}


def rerun_after_decline(url: str, pref_token: str, muni_token: str, times: int = 5) -> dict:
    """A municipality declines one proposal and re-runs: request → proposals stored (state done)."""
    ph, mh = ({"Authorization": f"Bearer {t}"} for t in (pref_token, muni_token))
    with httpx.Client(base_url=url, timeout=120) as c:
        run = c.post("/runs", json={}, headers=ph).json()
        while c.get(f"/runs/{run['id']}", headers=ph).json()["state"] in ("queued", "running"):
            time.sleep(0.05)
        walls, inner = [], []
        for _ in range(times):
            mine = [p for p in c.get("/proposals", params={"state": "proposed"}, headers=mh).json()]
            if not mine:
                break
            pid = mine[0]["id"]
            c.post(f"/proposals/{pid}/state", json={"state": "contacted"}, headers=mh)
            c.post(f"/proposals/{pid}/state", json={"state": "declined", "reason": "夜間の対応が難しい"}, headers=mh)
            t0 = time.perf_counter()
            run = c.post("/runs", json={}, headers=mh).json()
            while (got := c.get(f"/runs/{run['id']}", headers=mh).json())["state"] in ("queued", "running"):
                time.sleep(0.005)
            walls.append(time.perf_counter() - t0)
            inner.append(sum(v for k, v in (got["summary"].get("seconds") or {}).items()
                             if k in ("status", "candidates", "solve", "explain")))
    return {"reruns": len(walls), "median_ms": 1000 * statistics.median(walls), "max_ms": 1000 * max(walls),
            "match_steps_median_ms": 1000 * statistics.median(inner)}


def measure(database_url: str, label: str, seconds: float, tmp: Path) -> tuple[list[dict], dict]:
    tokens = prepare(database_url)
    rows = []
    for name, paths in ENDPOINTS.items():
        for cache in (False, True):
            proc, url = serve(database_url, cache, tmp / f"{label}-{cache}.log")
            try:
                res = asyncio.run(load(url, tokens, paths, seconds))
            finally:
                proc.terminate()
                proc.wait(10)
            rec = {"database": label, "endpoints": name, "read_cache": cache, **res}
            print(json.dumps(rec), flush=True)
            rows.append(rec)
    proc, url = serve(database_url, True, tmp / f"{label}-rerun.log")
    try:
        rerun = {"database": label, **rerun_after_decline(url, tokens[0], tokens[5])}
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(rerun), flush=True)
    return rows, rerun


def markdown(rows: list[dict], reruns: list[dict], meta: dict, seconds: float) -> str:
    out = [HEADING, "",
           f"{meta['machine']}, {meta['date']}. `benchmarks/service_load.py`: the server as deployed "
           f"(`uvicorn --factory api.main:create_app`, one process) on the demo region; {CLIENTS} clients "
           f"with their own tokens (5 prefecture, 15 municipal) send requests back to back for {seconds:.0f} s "
           "from one asyncio process on the same 2 cores. Baseline: the same server with `READ_CACHE=false` "
           "(every `/status` read rebuilds the region from the database). Read mix: `/status` (two groupings), "
           "`/facilities`, `/institutions`, `/proposals`, `/runs`, `/me` in turn. Target (issue 12): "
           "p50 ≤ 100 ms and ≥ 150 requests/s.", "",
           "| database | endpoints | read cache | requests/s | p50 ms | p95 ms | errors | ×req/s vs baseline |",
           "|---|---|---|---|---|---|---|---|"]
    base = {(r["database"], r["endpoints"]): r for r in rows if not r["read_cache"]}
    for r in rows:
        ratio = r["per_second"] / base[(r["database"], r["endpoints"])]["per_second"]
        out.append(f"| {r['database']} | {r['endpoints']} | {'on' if r['read_cache'] else 'off (baseline)'} | "
                   f"{r['per_second']:.0f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['errors']} | "
                   f"{ratio:.1f} |")
    out += ["", "A municipality declines one proposal and re-runs its matching (`POST /runs` with its token), "
            "timed over HTTP from the request to the run's state `done` (proposals stored), polling every 5 ms. "
            "Target (issue 17): ≤ 500 ms.", "",
            "| database | re-runs | median ms | max ms | match steps (median ms) |", "|---|---|---|---|---|"]
    for r in reruns:
        out.append(f"| {r['database']} | {r['reruns']} | {r['median_ms']:.0f} | {r['max_ms']:.0f} | "
                   f"{r['match_steps_median_ms']:.0f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' = SQLite only)")
    args = ap.parse_args()
    rows, reruns = [], []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", "SQLite")]
        if args.postgres:
            targets.append((args.postgres, "PostgreSQL"))
        for url, label in targets:
            got, rerun = measure(url, label, args.seconds, Path(tmp))
            rows += got
            reruns.append(rerun)
    meta = machine()
    publish("service_load", {"meta": meta, "results": rows, "reruns": reruns}, HEADING,
            markdown(rows, reruns, meta, args.seconds))


if __name__ == "__main__":
    main()
