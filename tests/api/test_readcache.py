"""Read answers (the status, the lists) are served from memory per data version and is never stale: every kind of change —
through this server, another server process on the same database, or a rolled-back write — is
seen (or not) exactly as the database says, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from api import dataversion
from api.main import create_app
from api.models import Facility
from api.settings import Settings
from tests.api.test_security import _put_capacity

TOTAL = {"by": "prefecture", "by_type": False}


def _total(client, users, who="pref03") -> dict:
    rows = client.get("/status", params=TOTAL, headers=users.headers(who)).json()
    return rows[0]


def _version(app) -> int:
    with app.state.sessions() as s:
        return dataversion.current(s)


def test_status_follows_every_change_through_the_api(loaded, users, app):
    before = _total(loaded, users)
    assert before["total"] == 4 and before["not_designated"] == 3
    v0 = _version(app)
    assert _total(loaded, users) == before and _version(app) == v0  # a read changes nothing
    r = loaded.post("/partnerships", headers=users.headers("pref03"),
                    json={"facility_id": "F1", "institution_id": "Z2", "roles": ["consult", "visit", "admit"]})
    assert r.status_code == 201, r.text
    after = _total(loaded, users)
    assert _version(app) > v0
    assert after["all_met"] == before["all_met"] + 1 and after["not_designated"] == before["not_designated"] - 1
    assert loaded.delete("/facilities/W1", headers=users.headers("pref03")).status_code == 204
    assert _total(loaded, users)["total"] == 3
    # the municipal view is cut from the same computation and changes with it
    rows = loaded.get("/status", params=TOTAL, headers=users.headers("muni03201")).json()
    assert rows[0]["total"] == 3 and rows[0]["all_met"] == after["all_met"]


def test_a_change_by_another_server_process_is_seen(loaded, users, app, database_url):
    before = _total(loaded, users)
    other = create_app(Settings(database_url=database_url))  # a second process on the same database
    with other.state.sessions() as s:
        s.delete(s.get(Facility, "F3"))
        s.commit()
    assert _total(loaded, users)["total"] == before["total"] - 1
    other.state.engine.dispose()


def test_a_rolled_back_write_changes_nothing(loaded, users, app):
    before, v0 = _total(loaded, users), _version(app)
    with app.state.sessions() as s:
        s.delete(s.get(Facility, "F3"))
        s.flush()
        s.rollback()
    assert _version(app) == v0 and _total(loaded, users) == before
    with app.state.sessions() as s:  # bulk statements count as changes too
        from sqlalchemy import delete

        s.execute(delete(Facility).where(Facility.facility_id == "F3"))
        s.commit()
    assert _version(app) == v0 + 1 and _total(loaded, users)["total"] == before["total"] - 1


def test_with_the_cache_off_the_answers_are_the_same(loaded, users, database_url):
    plain = TestClient(create_app(Settings(database_url=database_url, read_cache=False)))
    for params in (TOTAL, {"by": "municipality"}, {"by": "secondary_area", "by_type": False}):
        for who in ("pref03", "muni03216", "admin"):
            cached = loaded.get("/status", params=params, headers=users.headers(who))
            fresh = plain.get("/status", params=params, headers=users.headers(who))
            assert cached.status_code == fresh.status_code == 200
            assert cached.json() == fresh.json()
    with plain.app.state.sessions() as s:
        assert s.scalar(select(Facility.facility_id).limit(1)) is not None
    plain.app.state.engine.dispose()


def test_lists_follow_changes_of_their_rows(loaded, users, app):
    h = users.headers("pref03")
    names = {f["facility_id"]: f["name"] for f in loaded.get("/facilities", headers=h).json()}
    r = loaded.patch("/facilities/F1", json={"name": "改名した施設"}, headers=h)
    assert r.status_code == 200, r.text
    assert {f["facility_id"]: f["name"] for f in loaded.get("/facilities", headers=h).json()}["F1"] == "改名した施設"
    assert names["F1"] != "改名した施設"
    r = _put_capacity(loaded, users, "Z2", capacity_facilities=7)
    assert r.status_code == 200, r.text
    assert {i["institution_id"]: i for i in loaded.get("/institutions", headers=h).json()}["Z2"][
        "capacity_facilities"] == 7
    # one user's answer is never served to another scope
    muni = loaded.get("/facilities", headers=users.headers("muni03216")).json()
    assert {f["municipality_code"] for f in muni} == {"03216"}
