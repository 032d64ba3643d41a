"""Partners across a prefecture border through the service (広域, issue 13 item 8): a prefecture's
run takes the neighbouring prefecture's institutions in reach as candidates, matches its own
facilities only, and each prefecture sees only its own facilities' proposals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.cli import create_token
from api.main import create_app
from api.settings import Settings
from tests.matchkit import AREAS, _write, fac, inst


def test_a_prefecture_run_takes_a_neighbouring_institution_in_reach(database_url, tmp_path):
    folder = tmp_path / "region"
    folder.mkdir()
    areas = [a for a in AREAS if a["municipality_code"] == "03201"] + [
        {"municipality_code": "05201", "municipality_name": "秋田市", "secondary_area_code": "0501",
         "secondary_area_name": "秋田周辺", "prefecture_code": "05"}]
    _write(folder / "areas.csv", areas, list(AREAS[0]))
    facs = [fac("G1", "gh", 0, 0, municipality="03201")]
    _write(folder / "facilities.csv", facs, list(facs[0]))
    # The only clinic in reach is registered in the neighbouring prefecture (秋田, 05).
    insts = [inst("X5", "clinic", 1, 0, "zaishin", municipality="05201", capacity_facilities=1)]
    _write(folder / "institutions.csv", insts, list(insts[0]))
    _write(folder / "partnerships.csv", [], ["facility_id", "institution_id", "roles"])
    app = create_app(Settings(database_url=database_url, stage_time_limit=10))
    try:
        client = TestClient(app)
        s = app.state.sessions
        admin = {"Authorization": f"Bearer {create_token(s, 'admin', 'admin', None, None)}"}
        iwate = {"Authorization": f"Bearer {create_token(s, '岩手県', 'prefecture', '03', None)}"}
        akita = {"Authorization": f"Bearer {create_token(s, '秋田県', 'prefecture', '05', None)}"}
        files = {name: (f"{name}.csv", (folder / f"{name}.csv").read_bytes(), "text/csv")
                 for name in ("areas", "facilities", "institutions", "partnerships")}
        assert client.post("/imports", files=files, headers=admin).status_code == 200
        assert client.get("/institutions/X5", headers=iwate).status_code == 403  # not a partner yet
        # The facility's alternatives are a run's candidates: the neighbour in reach among them.
        cands = client.get("/facilities/G1/candidates", headers=iwate).json()
        assert {(c["institution_id"], c["role"]) for c in cands} == {("X5", "consult"), ("X5", "visit")}
        run = client.post("/runs", json={}, headers=iwate).json()
        assert client.get(f"/runs/{run['id']}", headers=iwate).json()["state"] == "done"
        proposals = client.get(f"/runs/{run['id']}/proposals", headers=iwate).json()
        assert [(p["facility_id"], p["institution_id"], p["roles"]) for p in proposals] == [
            ("G1", "X5", "consult;visit")]
        # 秋田's own run has no facility of its own to match, and does not see 岩手's proposal.
        other = client.post("/runs", json={}, headers=akita).json()
        assert client.get(f"/runs/{other['id']}", headers=akita).json()["summary"]["proposals"] == 0
        assert client.get(f"/proposals/{proposals[0]['id']}", headers=akita).status_code in (403, 404)
        # Accepting it reserves the neighbour's capacity: 秋田's clinic has no spare place left.
        pid = proposals[0]["id"]
        for state in ("contacted", "accepted"):
            r = client.post(f"/proposals/{pid}/state", json={"state": state}, headers=iwate)
            assert r.status_code == 200, r.text
        # A mistaken accept is taken back by the facility's side too (then accepted again).
        r = client.post(f"/proposals/{pid}/undo", headers=iwate)
        assert r.status_code == 200 and r.json()["state"] == "contacted", r.text
        assert client.post(f"/proposals/{pid}/state", json={"state": "accepted"}, headers=iwate).status_code == 200
        # 秋田 sees its clinic's capacity taken.  岩手 reads the partner it must call (name, contact),
        # in its institution list too, but cannot change it.
        x5 = client.get("/institutions/X5", headers=akita).json()
        assert x5["reserved_facilities"] == 1
        assert client.get("/institutions/X5", headers=iwate).json()["name"] == x5["name"]
        assert "X5" in {i["institution_id"] for i in client.get("/institutions", headers=iwate).json()}
        body = {k: x5[k] for k in ("name", "kind", "lat", "lon", "beds", "consult_24h", "visit_24h", "admit",
                                   "accepting", "capacity_residents")}
        body["designations"] = [d for d in x5["designations"].split(";") if d]
        assert client.put("/institutions/X5", json={**body, "capacity_facilities": 5}, headers=akita).status_code == 200
        assert client.put("/institutions/X5", json={**body, "capacity_facilities": 9}, headers=iwate).status_code == 403
    finally:
        app.state.engine.dispose()
