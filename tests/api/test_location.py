"""Location quality through the service (issue 13 item 3): a proposal whose travel limit holds only
for part of a point's uncertainty, and an uncovered role that may have a candidate after all, say
so in the API (``location_uncertain``) — stored with the run, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.cli import create_token
from api.main import create_app
from api.settings import Settings
from tests.matchkit import fac, inst, make_region


def test_proposals_and_unmatched_roles_carry_location_uncertain(database_url, tmp_path):
    office = {"location_source": "office", "location_radius_km": 8}
    folder = tmp_path / "region"
    make_region(folder, [{**fac("F1", "gh", 0, 0), **office},     # 12 km from C1: within, but ± 8 km
                         {**fac("F2", "gh", -6, 0), **office},    # 18 km: beyond, but ± 8 km
                         fac("F3", "gh", 0, 5)],                  # placed exactly, 13 km: certain
                [inst("C1", "clinic", 12, 0, "zaishin")])
    app = create_app(Settings(database_url=database_url, stage_time_limit=10))
    try:
        client = TestClient(app)
        admin = {"Authorization": f"Bearer {create_token(app.state.sessions, 'admin', 'admin', None, None)}"}
        pref = {"Authorization": f"Bearer {create_token(app.state.sessions, '岩手県', 'prefecture', '03', None)}"}
        files = {name: (f"{name}.csv", (folder / f"{name}.csv").read_bytes(), "text/csv")
                 for name in ("areas", "facilities", "institutions", "partnerships")}
        assert client.post("/imports", files=files, headers=admin).status_code == 200
        r = client.post("/runs", json={}, headers=pref)
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        assert client.get(f"/runs/{run_id}", headers=pref).json()["state"] == "done"
        proposals = {p["facility_id"]: p for p in client.get(f"/runs/{run_id}/proposals", headers=pref).json()}
        assert proposals["F1"]["location_uncertain"] is True and "市区町村役場" in proposals["F1"]["explanation"]
        assert proposals["F3"]["location_uncertain"] is False
        unmatched = client.get(f"/runs/{run_id}/unmatched", headers=pref).json()
        f2 = [u for u in unmatched if u["facility_id"] == "F2"]
        assert f2 and all(u["location_uncertain"] for u in f2) and "位置の確認" in f2[0]["fix"]
    finally:
        app.state.engine.dispose()
