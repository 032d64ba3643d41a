"""A run the solver could not prove says so, through the service: the warning travels with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.cli import create_token
from api.main import create_app
from api.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture
def hurried(database_url):
    """The service with a solver time limit far too short for the demo prefecture."""
    app = create_app(Settings(database_url=database_url, stage_time_limit=0.0001))
    yield app
    app.state.engine.dispose()


def test_unproven_run_carries_the_warning(hurried):
    client = TestClient(hurried)
    admin = {"Authorization": f"Bearer {create_token(hurried.state.sessions, 'admin', 'admin', None, None)}"}
    pref = {"Authorization": f"Bearer {create_token(hurried.state.sessions, '岩手県', 'prefecture', '03', None)}"}
    files = {name: (f"{name}.csv", (DEMO / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    assert client.post("/imports", files=files, headers=admin).status_code == 200
    r = client.post("/runs", json={}, headers=pref)
    assert r.status_code == 202, r.text
    run = client.get(f"/runs/{r.json()['id']}", headers=pref).json()
    assert run["state"] == "done", run["message"]
    s = run["summary"]
    assert s["proof"]["coverage_proven"] is False
    assert any("最適と証明されていません" in w for w in s["warnings"])
    # Never below the greedy rule: the run still brings facilities to "all met".
    assert s["proposals"] > 100
