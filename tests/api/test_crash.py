"""A crash mid-run (issue 12, part 6): the server runs as its own process, is killed with SIGKILL
while a run is running, and restarted; the run is resumed and finishes, nothing half-written."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from api.models import MatchRun, Proposal

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database_url: str, log: Path):
        self.database_url, self.log = database_url, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        env = {**os.environ, "RUN_POLL_SECONDS": "0.5", "COLUMNS": "500"}
        with self.log.open("ab") as out:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "matching.cli", "serve", "--port", str(self.port), "--database-url",
                 self.database_url], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self.log.read_text(encoding="utf-8", errors="replace")
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text(encoding="utf-8", errors="replace")
            time.sleep(0.1)
        raise AssertionError("the server did not start: " + self.log.read_text(encoding="utf-8", errors="replace"))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_kill_9_during_a_run_then_restart_resumes_the_run(database_url, tmp_path):
    server = Server(database_url, tmp_path / "server.log")
    try:
        token = re.search(r"mt_[A-Za-z0-9_\-]+", server.start()).group(0)
        h = {"Authorization": f"Bearer {token}"}
        engine = create_engine(database_url if not database_url.startswith("postgresql://") else
                               "postgresql+psycopg://" + database_url[len("postgresql://"):])
        for _attempt in range(3):  # a run on the demo takes about a second; catch it while running
            run_id = httpx.post(server.url + "/runs", json={}, headers=h, timeout=10).json()["id"]
            for _ in range(400):
                if httpx.get(f"{server.url}/runs/{run_id}", headers=h, timeout=10).json()["state"] == "running":
                    break
                time.sleep(0.01)
            server.kill()
            with engine.connect() as conn:
                state = conn.execute(select(MatchRun.state).where(MatchRun.id == run_id)).scalar()
            if state == "running":
                break
            server.start()  # finished before the kill: try again
        assert state == "running"
        with engine.connect() as conn:  # nothing of the interrupted run was written
            assert conn.execute(select(Proposal.id).where(Proposal.run_id == run_id)).first() is None
        server.start()
        for _ in range(600):
            run = httpx.get(f"{server.url}/runs/{run_id}", headers=h, timeout=10).json()
            if run["state"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert run["state"] == "done", run
        assert run["summary"]["proposals"] > 0
        got = httpx.get(f"{server.url}/runs/{run_id}/proposals", headers=h, timeout=10).json()
        assert len(got) == run["summary"]["proposals"]
        audit = httpx.get(server.url + "/audit", params={"entity": "match_run", "entity_id": str(run_id)},
                          headers=h, timeout=10).json()
        assert "run_resumed_at_start" in [e["action"] for e in audit]
        engine.dispose()
    finally:
        server.stop()
