"""Every resource refuses cross-scope reads and writes with 403 (and no token with 401)."""

from __future__ import annotations

import pytest


def test_no_or_bad_token_is_401(loaded):
    assert loaded.get("/facilities").status_code == 401
    assert loaded.get("/facilities", headers={"Authorization": "Bearer mt_nope"}).status_code == 401


def test_revoked_token_is_401(loaded, users, app):
    from sqlalchemy import select

    from api.models import User
    with app.state.sessions() as s:
        u = s.scalar(select(User).where(User.name == "滝沢市"))
        u.active = False
        s.commit()
    assert loaded.get("/facilities", headers=users.headers("muni03216")).status_code == 401


def test_lists_are_limited_to_the_scope(loaded, users):
    ids = lambda who, path, key: {x[key] for x in loaded.get(path, headers=users.headers(who)).json()}  # noqa: E731
    assert ids("muni03201", "/facilities", "facility_id") == {"F1", "F2", "F3"}
    assert ids("muni03216", "/facilities", "facility_id") == {"W1"}
    assert ids("pref03", "/facilities", "facility_id") == {"F1", "F2", "F3", "W1"}
    assert ids("pref05", "/facilities", "facility_id") == {"A1"}
    assert ids("admin", "/facilities", "facility_id") == {"F1", "F2", "F3", "W1", "A1"}
    # Municipal coordinators read their prefecture's institutions and areas.
    assert ids("muni03201", "/institutions", "institution_id") == {"Z1", "Z2", "C1", "H3"}
    assert ids("muni03201", "/areas", "municipality_code") == {"03201", "03216"}
    assert ids("muni03216", "/partnerships", "facility_id") == set()
    assert ids("muni03201", "/partnerships", "facility_id") == {"F2"}


CROSS_READS = [
    ("muni03201", "/facilities/W1"),
    ("muni03201", "/facilities?municipality_code=03216"),
    ("muni03201", "/institutions/AZ"),
    ("muni03201", "/institutions?municipality_code=05201"),
    ("muni03201", "/areas/05201"),
    ("muni03216", "/partnerships?facility_id=F2"),
    ("pref03", "/facilities/A1"),
    ("pref05", "/facilities/F1"),
    ("pref05", "/institutions/Z1"),
    ("muni03201", "/audit"),
    ("pref03", "/audit"),
]


@pytest.mark.parametrize(("who", "path"), CROSS_READS)
def test_cross_scope_reads_are_403(loaded, users, who, path):
    assert loaded.get(path, headers=users.headers(who)).status_code == 403


def test_cross_scope_writes_are_403(loaded, users):
    h = users.headers
    assert loaded.patch("/facilities/W1", json={"name": "x"}, headers=h("muni03201")).status_code == 403
    assert loaded.delete("/facilities/A1", headers=h("pref03")).status_code == 403
    new_fac = {"facility_id": "N1", "name": "新施設", "facility_type": "gh", "municipality_code": "03216",
               "lat": 39.7, "lon": 141.1, "residents": 18}
    assert loaded.post("/facilities", json=new_fac, headers=h("muni03201")).status_code == 403
    inst = {"institution_id": "N2", "name": "新病院", "kind": "hospital", "municipality_code": "03201",
            "lat": 39.7, "lon": 141.1}
    assert loaded.post("/institutions", json=inst, headers=h("muni03201")).status_code == 403  # municipal: read only
    assert loaded.post("/institutions", json={**inst, "municipality_code": "05201"}, headers=h("pref03")).status_code == 403
    assert loaded.put("/institutions/AZ", json={k: v for k, v in inst.items() if k not in ("institution_id", "municipality_code")},
                      headers=h("pref03")).status_code == 403
    part = {"facility_id": "W1", "institution_id": "H3", "roles": ["admit"]}
    assert loaded.post("/partnerships", json=part, headers=h("muni03201")).status_code == 403
    assert loaded.post("/partnerships", json={**part, "facility_id": "F1", "institution_id": "AZ"},
                       headers=h("pref03")).status_code == 403
    area = {"municipality_code": "03201", "municipality_name": "盛岡市", "secondary_area_code": "0301",
            "secondary_area_name": "盛岡", "prefecture_code": "03"}
    assert loaded.put("/areas/03201", json=area, headers=h("pref03")).status_code == 403
    assert loaded.post("/runs", json={"prefecture_code": "05"}, headers=h("pref03")).status_code == 403
    assert loaded.post("/runs", json={"municipality_code": "03216"}, headers=h("muni03201")).status_code == 403
    assert loaded.post("/runs", json={"facility_ids": ["W1"]}, headers=h("muni03201")).status_code == 403


def test_runs_and_proposals_are_scoped(loaded, users):
    h = users.headers
    pref_run = loaded.post("/runs", json={}, headers=h("pref03")).json()
    muni_run = loaded.post("/runs", json={}, headers=h("muni03201")).json()
    assert muni_run["municipality_code"] == "03201"
    assert loaded.get(f"/runs/{pref_run['id']}", headers=h("muni03201")).status_code == 403
    assert loaded.get(f"/runs/{muni_run['id']}", headers=h("muni03216")).status_code == 403
    assert loaded.get(f"/runs/{pref_run['id']}", headers=h("pref05")).status_code == 403
    # The municipal run only proposed for its own facilities.
    own = loaded.get(f"/runs/{muni_run['id']}/proposals", headers=h("muni03201")).json()
    assert own and {p["facility_id"] for p in own} <= {"F1", "F2", "F3"}
    w1 = [p for p in loaded.get("/proposals", headers=h("pref03")).json() if p["facility_id"] == "W1"]
    assert w1
    assert loaded.get(f"/proposals/{w1[0]['id']}", headers=h("muni03201")).status_code == 403
    assert loaded.post(f"/proposals/{w1[0]['id']}/state", json={"state": "contacted"},
                       headers=h("muni03201")).status_code == 403
    assert all(p["facility_id"] != "W1" for p in loaded.get("/proposals", headers=h("muni03201")).json())


def test_imports_are_scoped(client, users, region_dir):
    files = {name: (f"{name}.csv", (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    assert client.post("/imports", files=files, headers=users.headers("muni03201")).status_code == 403
    r = client.post("/imports", files=files, headers=users.headers("pref03"))  # the file holds 秋田 too
    assert r.status_code == 403 and "05201" in r.text
    assert client.get("/facilities", headers=users.headers("admin")).json() == []
