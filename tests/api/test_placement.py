"""Facilities where they belong (issue 12, part 9), on every database: the attack — a municipal
token registering made-up facilities at another town's coordinates and taking that town's
capacity — is refused; what a municipality registers waits for the prefecture's confirmation."""

from __future__ import annotations

from sqlalchemy import select

from api.models import AuditEntry, Facility

MORIOKA_OFFICE = (39.7036, 141.1527)  # 盛岡市役所, deep inside 03201
TAKIZAWA = (39.7835, 141.0849)  # a point inside 滝沢市 03216


def facility(fid, muni, lat, lon, ftype="tokuyo"):
    return {"facility_id": fid, "name": f"新規{fid}", "facility_type": ftype, "municipality_code": muni,
            "lat": lat, "lon": lon, "residents": 50, "reported": True}


def test_a_facility_at_another_towns_coordinates_is_refused(loaded, users, app):
    h = users.headers("muni03216")
    for k in range(3):  # the attack: Takizawa's token, Morioka's coordinates
        r = loaded.post("/facilities", json=facility(f"FAKE{k}", "03216", *MORIOKA_OFFICE), headers=h)
        assert r.status_code == 422
        assert f"施設 FAKE{k}" in r.json()["detail"] and "km 外れています" in r.json()["detail"]
        assert "03201" in r.json()["detail"]  # where the point really is
    with app.state.sessions() as s:
        assert s.scalar(select(Facility).where(Facility.facility_id.like("FAKE%"))) is None
    # moving an existing facility there is refused too
    r = loaded.patch("/facilities/W1", json={"lat": MORIOKA_OFFICE[0], "lon": MORIOKA_OFFICE[1]}, headers=h)
    assert r.status_code == 422
    assert loaded.get("/facilities/W1", headers=h).json()["lat"] != MORIOKA_OFFICE[0]


def test_what_a_municipality_registers_waits_for_the_prefecture(loaded, users, app):
    muni, pref = users.headers("muni03216"), users.headers("pref03")
    r = loaded.post("/facilities", json=facility("NEW1", "03216", *TAKIZAWA), headers=muni)
    assert r.status_code == 201, r.text
    assert r.json()["confirmed"] is False and "都道府県の確認" in r.json()["unconfirmed_reason"]
    # not matched while unconfirmed
    run = loaded.post("/runs", json={}, headers=pref).json()
    run = loaded.get(f"/runs/{run['id']}", headers=pref).json()
    assert run["state"] == "done", run["message"]
    got = loaded.get(f"/runs/{run['id']}/proposals", headers=pref).json()
    assert "NEW1" not in {p["facility_id"] for p in got}
    # confirmation is the prefecture's
    assert loaded.post("/facilities/NEW1/confirm", headers=muni).status_code == 403
    assert loaded.post("/facilities/NEW1/confirm", headers=users.headers("pref05")).status_code == 403
    r = loaded.post("/facilities/NEW1/confirm", headers=pref)
    assert r.status_code == 200 and r.json()["confirmed"] is True and r.json()["unconfirmed_reason"] == ""
    with app.state.sessions() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "confirm", AuditEntry.entity_id == "NEW1"))
    run = loaded.post("/runs", json={}, headers=pref).json()
    got = loaded.get(f"/runs/{run['id']}/proposals", headers=pref).json()
    assert "NEW1" in {p["facility_id"] for p in got}
    # a municipal move makes it wait again; a prefecture's does not
    r = loaded.patch("/facilities/NEW1", json={"lat": TAKIZAWA[0] + 0.01}, headers=muni)
    assert r.status_code == 200 and r.json()["confirmed"] is False
    r = loaded.post("/facilities", json=facility("NEW2", "03216", *TAKIZAWA), headers=pref)
    assert r.status_code == 201 and r.json()["confirmed"] is True


def test_no_reservation_for_an_unconfirmed_facility(loaded, users, app):
    pref = users.headers("pref03")
    run = loaded.post("/runs", json={}, headers=pref).json()
    proposal = next(p for p in loaded.get(f"/runs/{run['id']}/proposals", headers=pref).json()
                    if p["facility_id"] == "W1")
    with app.state.sessions() as s:  # W1 became unconfirmed after the run (e.g. moved by the town)
        f = s.get(Facility, "W1")
        f.confirmed, f.unconfirmed_reason = False, "市区町村の担当者が位置を変更しました。都道府県の確認を待っています"
        s.commit()
    r = loaded.post(f"/proposals/{proposal['id']}/state", json={"state": "contacted"}, headers=pref)
    assert r.status_code == 200, r.text
    r = loaded.post(f"/proposals/{proposal['id']}/state", json={"state": "accepted"}, headers=pref)
    assert r.status_code == 409 and "確認前" in r.json()["detail"] and "W1" in r.json()["detail"]
    assert loaded.get(f"/proposals/{proposal['id']}", headers=pref).json()["state"] == "contacted"


def test_a_prefecture_import_keeps_misplaced_facilities_unconfirmed_with_the_reason(loaded, users, app):
    from tests.api.test_security import AREAS_HEAD, FAC_HEAD, INST_HEAD, IWATE, PART_HEAD

    lat, lon = MORIOKA_OFFICE
    files = {"areas": AREAS_HEAD + IWATE + "03216,滝沢市,0301,盛岡,03\n",
             "facilities": FAC_HEAD + f"IMP1,新施設,tokuyo,03201,{lat},{lon},50,true\n"
                                      f"IMP2,ずれた施設,tokuyo,03216,{lat},{lon},50,true\n",
             "institutions": INST_HEAD, "partnerships": PART_HEAD}
    r = loaded.post("/imports", headers=users.headers("pref03"),
                    files={k: (f"{k}.csv", v.encode("utf-8"), "text/csv") for k, v in files.items()})
    assert r.status_code == 200, r.text
    assert [u["facility_id"] for u in r.json()["unconfirmed"]] == ["IMP2"]
    assert "km 外れています" in r.json()["unconfirmed"][0]["reason"]
    got = {f["facility_id"]: f for f in loaded.get("/facilities", headers=users.headers("pref03")).json()}
    assert got["IMP1"]["confirmed"] is True and got["IMP2"]["confirmed"] is False
    assert "km 外れています" in got["IMP2"]["unconfirmed_reason"]


def test_an_unconfirmed_facility_still_shows_its_candidates(loaded, users):
    muni = users.headers("muni03216")
    assert loaded.post("/facilities", json=facility("NEW3", "03216", *TAKIZAWA), headers=muni).status_code == 201
    r = loaded.get("/facilities/NEW3/candidates", headers=muni)
    assert r.status_code == 200, r.text
    assert {c["role"] for c in r.json()} <= {"consult", "visit", "admit"}
