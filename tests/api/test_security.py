"""The attacks of issue 12, reproduced on every database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): each must be refused, and no input may give a 500."""

from __future__ import annotations

from sqlalchemy import select

from api.models import Area, AuditEntry, Facility, Institution

AREAS_HEAD = "municipality_code,municipality_name,secondary_area_code,secondary_area_name,prefecture_code\n"
FAC_HEAD = "facility_id,name,facility_type,municipality_code,lat,lon,residents,reported\n"
INST_HEAD = ("institution_id,name,kind,municipality_code,lat,lon,beds,designations,consult_24h,visit_24h,"
             "admit,accepting,capacity_facilities,capacity_residents\n")
PART_HEAD = "facility_id,institution_id,roles\n"
AKITA = "05201,秋田市,0501,秋田周辺,05\n"
IWATE = "03201,盛岡市,0301,盛岡,03\n"


def upload(client, users, who, areas=AKITA, facilities="", institutions="", partnerships=""):
    files = {"areas": AREAS_HEAD + areas, "facilities": FAC_HEAD + facilities,
             "institutions": INST_HEAD + institutions, "partnerships": PART_HEAD + partnerships}
    return client.post("/imports", headers=users.headers(who),
                       files={k: (f"{k}.csv", v.encode("utf-8"), "text/csv") for k, v in files.items()})


# -- 1. cross-area writes through POST /imports ---------------------------------------------------

def test_import_cannot_overwrite_another_prefectures_ids(loaded, users, app):
    """Akita's token re-uses Iwate's ids F1 and Z1 (moving them into Akita): 403, rows listed."""
    r = upload(loaded, users, "pref05",
               facilities="A1,秋田の施設,tokuyo,05201,39.72,140.1,50,true\n"
                          "F1,乗っ取り施設,tokuyo,05201,39.72,140.1,50,true\n",
               institutions="Z1,乗っ取り病院,hospital,05201,39.73,140.11,100,zaibyo,,,,true,99,\n")
    assert r.status_code == 403, r.text
    rows = r.json()["detail"]
    assert {(e["file"], e["row"], e["column"], e["value"]) for e in rows} == {
        ("facilities.csv", 3, "facility_id", "F1"), ("institutions.csv", 2, "institution_id", "Z1")}
    assert all("担当区域外" in e["message"] for e in rows)
    with app.state.sessions() as s:  # nothing written, not even the in-scope row
        assert s.get(Facility, "F1").name == "テスト施設F1" and s.get(Facility, "F1").municipality_code == "03201"
        assert s.get(Institution, "Z1").capacity_facilities == 1
        assert s.get(Facility, "A1").name == "テスト施設A1"


def test_import_cannot_place_rows_in_another_prefecture(loaded, users, app):
    """Iwate's token adds a facility and an institution in an Akita municipality: 403."""
    r = upload(loaded, users, "pref03", areas=IWATE + AKITA,
               facilities="N1,新施設,tokuyo,05201,39.72,140.1,50,true\n",
               institutions="N2,新病院,hospital,05201,39.73,140.11,100,zaibyo,,,,true,,\n")
    assert r.status_code == 403, r.text
    cols = {(e["file"], e["column"], e["value"]) for e in r.json()["detail"]}
    assert ("areas.csv", "prefecture_code", "05") in cols
    assert ("facilities.csv", "municipality_code", "05201") in cols
    assert ("institutions.csv", "municipality_code", "05201") in cols
    with app.state.sessions() as s:
        assert s.get(Facility, "N1") is None and s.get(Institution, "N2") is None


def test_import_cannot_reassign_an_area_to_own_prefecture(loaded, users, app):
    """Iwate's token re-labels Akita's 05201 as an Iwate municipality: 403, the area is unchanged."""
    r = upload(loaded, users, "pref03", areas="05201,秋田市,0301,盛岡,03\n")
    assert r.status_code == 403, r.text
    [row] = r.json()["detail"]
    assert (row["file"], row["row"], row["value"]) == ("areas.csv", 2, "05201")
    assert "05" in row["message"]
    with app.state.sessions() as s:
        assert s.get(Area, "05201").prefecture_code == "05"


def test_municipal_tokens_cannot_import(loaded, users):
    assert upload(loaded, users, "muni03201", areas=IWATE).status_code == 403


def test_import_audit_names_created_and_changed_ids(loaded, users, app):
    r = upload(loaded, users, "pref03", areas=IWATE,
               facilities="F1,改称施設F1,tokuyo,03201,39.7,141.15,50,true\n"
                          "N1,新施設,gh,03201,39.71,141.15,9,true\n",
               institutions="Z1,テスト機関Z1,hospital,03201,39.7,141.173429,100,zaibyo,,,,true,1,\n",
               partnerships="N1,Z1,consult\n")
    assert r.status_code == 200, r.text
    with app.state.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc())).first()
    assert "/tmp" not in entry.entity_id
    after = entry.after
    assert after["created"]["facilities"] == ["N1"]
    assert after["created"]["partnerships"] == ["N1|Z1"]
    assert after["changed"]["facilities"] == {"F1": {"before": {"name": "テスト施設F1"}, "after": {"name": "改称施設F1"}}}
    assert after["changed"]["institutions"] == {}  # Z1 unchanged
    assert entry.user_id is not None


# -- 2. run parameters never reach the file system -------------------------------------------------

BAD_PARAMETERS = [
    {"travel": {"road_network": "/etc/passwd"}},
    {"travel": {"road_network": "../../etc/passwd"}},
    {"travel": {"road_network": "C:\\\\windows\\\\win.ini"}},
    {"travel": {"road_network": "roads.graphml"}},
    {"matching": "x"},
    {"matching": {"limits": {}}},
    {"limits": "x"},
    {"limits": {"visit": 3}},
    {"limits": {"teleport": {"minutes": 3}}},
    {"travel": ["x"]},
    {"travel": {"speed_kmh": "fast"}},
    {"forbidden": [{"facility_id": "F1", "institution_id": "Z1"}]},
    {"pinned": []},
    {"stage_time_limit": 100000},
    {"unknown": 1},
    {"facility_types": ["hospice"]},
    {"facility_types": "tokuyo"},
]


def test_bad_run_parameters_are_422(loaded, users):
    for params in BAD_PARAMETERS:
        r = loaded.post("/runs", json={"parameters": params}, headers=users.headers("pref03"))
        assert r.status_code == 422, (params, r.status_code, r.text)
        assert "/etc" not in r.text or "passwd" not in r.json()["detail"][0].get("msg", "")
    assert loaded.post("/runs", json={"parameters": "x"}, headers=users.headers("pref03")).status_code == 422
    assert loaded.get("/runs", headers=users.headers("pref03")).json() == []  # nothing queued


def test_unregistered_road_network_key_is_422(loaded, users):
    r = loaded.post("/runs", json={"parameters": {"travel": {"road_network": "iwate"}}}, headers=users.headers("pref03"))
    assert r.status_code == 422 and "登録されていません" in r.text


def test_registered_road_network_is_used_by_key(loaded, users, app, tmp_path):
    from api.jobs import run_parameters

    graph = tmp_path / "roads.graphml"
    app.state.settings.road_networks = {"iwate": graph}
    params = {"travel": {"road_network": "iwate"}, "limits": {"admit": {"minutes": 40}}}
    r = loaded.post("/runs", json={"parameters": params}, headers=users.headers("pref03"))
    assert r.status_code == 202, r.text
    stored = r.json()["parameters"]
    assert stored["travel"]["road_network"] == "iwate"  # the key, never the path, is stored and shown
    assert stored["limits"]["admit"] == {"minutes": 40.0, "km": None}
    assert run_parameters(stored, 1.0, {"iwate": graph}).travel.road_network == graph


# -- 3. a failed run tells the user what happened, never the server's internals ---------------------

def test_failed_run_shows_a_japanese_message_and_an_error_id(loaded, users, monkeypatch, caplog):
    import api.jobs

    def explode(*args, **kwargs):
        raise FileNotFoundError("[Errno 2] No such file or directory: '/srv/secret/roads.graphml'")

    monkeypatch.setattr(api.jobs, "match", explode)
    r = loaded.post("/runs", json={}, headers=users.headers("pref03"))
    assert r.status_code == 202
    with caplog.at_level("ERROR", logger="api.jobs"):
        run = loaded.get(f"/runs/{r.json()['id']}", headers=users.headers("pref03")).json()
    # (the background task ran inside the POST; the log was written then)
    assert run["state"] == "failed"
    error_id = run["summary"]["error_id"]
    assert run["summary"] == {"error_id": error_id}
    assert "失敗しました" in run["message"] and error_id in run["message"]
    body = loaded.get(f"/runs/{r.json()['id']}", headers=users.headers("pref03")).text
    assert "Traceback" not in body and "/srv/secret" not in body and "FileNotFoundError" not in body
    listing = loaded.get("/runs", headers=users.headers("pref03")).text
    assert "/srv/secret" not in listing


def test_failed_run_traceback_goes_to_the_server_log(loaded, users, monkeypatch, caplog):
    import api.jobs

    monkeypatch.setattr(api.jobs, "match", lambda *a, **k: 1 / 0)
    with caplog.at_level("ERROR", logger="api.jobs"):
        r = loaded.post("/runs", json={}, headers=users.headers("pref03"))
    run = loaded.get(f"/runs/{r.json()['id']}", headers=users.headers("pref03")).json()
    error_id = run["summary"]["error_id"]
    [record] = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


# -- 4. capacity invariants hold in the data ----------------------------------------------------------

def _run(client, users, who="pref03", **body):
    r = client.post("/runs", json=body, headers=users.headers(who))
    assert r.status_code == 202, r.text
    run = client.get(f"/runs/{r.json()['id']}", headers=users.headers(who)).json()
    assert run["state"] == "done", run["message"]
    return run


def _proposals(client, users, run_id, who="pref03"):
    rows = client.get(f"/runs/{run_id}/proposals", headers=users.headers(who)).json()
    return {(p["facility_id"], p["institution_id"]): p for p in rows}


def _move(client, users, pid, state, reason=None, who="pref03"):
    return client.post(f"/proposals/{pid}/state", json={"state": state, "reason": reason}, headers=users.headers(who))


def _inst(client, users, iid):
    return client.get(f"/institutions/{iid}", headers=users.headers("admin")).json()


def _put_capacity(client, users, iid, **capacity):
    i = _inst(client, users, iid)
    body = {k: i[k] for k in ("name", "kind", "lat", "lon", "beds", "consult_24h", "visit_24h", "admit", "accepting",
                              "capacity_facilities", "capacity_residents")}
    body["designations"] = [d for d in i["designations"].split(";") if d]
    return client.put(f"/institutions/{iid}", json={**body, **capacity}, headers=users.headers("pref03"))


def test_capacity_cannot_fall_below_reservations(loaded, users):
    pid = _proposals(loaded, users, _run(loaded, users, facility_ids=["F1"])["id"])[("F1", "Z1")]["id"]
    assert _move(loaded, users, pid, "accepted").status_code == 200
    r = _put_capacity(loaded, users, "Z1", capacity_facilities=0)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert (detail["capacity_facilities"], detail["reserved_facilities"]) == (0, 1)
    assert "Z1" in detail["message"] and "1" in detail["message"]
    assert _put_capacity(loaded, users, "Z1", capacity_facilities=2).status_code == 200
    assert _move(loaded, users, pid, "contracted").status_code == 200
    z1 = _inst(loaded, users, "Z1")
    assert (z1["capacity_facilities"], z1["reserved_facilities"]) == (1, 0)
    for who in ("pref03", "muni03201", "admin"):
        assert loaded.get("/status", headers=users.headers(who)).status_code == 200


def test_import_cannot_lower_capacity_below_reservations(loaded, users, region_dir):
    pid = _proposals(loaded, users, _run(loaded, users, facility_ids=["F1"])["id"])[("F1", "Z1")]["id"]
    assert _move(loaded, users, pid, "accepted").status_code == 200
    inst = (region_dir / "institutions.csv").read_text(encoding="utf-8").replace(",true,1,", ",true,0,")
    files = {name: (f"{name}.csv", (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "partnerships")}
    files["institutions"] = ("institutions.csv", inst.encode("utf-8"), "text/csv")
    r = loaded.post("/imports", files=files, headers=users.headers("admin"))
    assert r.status_code == 409, r.text
    [row] = r.json()["detail"]
    assert (row["institution_id"], row["column"], row["value"], row["row"]) == ("Z1", "capacity_facilities", "0", 2)


def test_no_data_state_turns_status_into_500(loaded, users, app):
    with app.state.sessions() as s:  # whatever got into the database before these checks existed
        s.get(Institution, "Z1").capacity_facilities = -1
        s.get(Institution, "Z2").capacity_residents = -5
        s.get(Facility, "F3").name = "   "
        s.commit()
    for who in ("pref03", "muni03201", "admin"):
        r = loaded.get("/status", headers=users.headers(who))
        assert r.status_code == 200, r.text
    assert loaded.get("/facilities/F1/candidates", headers=users.headers("pref03")).status_code == 200


def test_one_pair_one_agreement_capacity_counted_once(loaded, users, app):
    """Two runs proposed the same pair; accepting and contracting both takes the capacity once."""
    from api.models import Proposal

    first = _run(loaded, users, facility_ids=["F1"])["id"]
    p1 = _proposals(loaded, users, first)[("F1", "Z2")] if ("F1", "Z2") in _proposals(loaded, users, first) \
        else _proposals(loaded, users, first)[("F1", "Z1")]
    iid = p1["institution_id"]
    with app.state.sessions() as s:  # the second run's proposal of the same pair
        twin = Proposal(run_id=first, facility_id="F1", institution_id=iid, roles=p1["roles"], distance_km=1,
                        travel_minutes=3, extends_existing=False, explanation="", state="proposed")
        s.add(twin)
        s.commit()
        twin_id = twin.id
    before = _inst(loaded, users, iid)
    assert _move(loaded, users, p1["id"], "accepted").status_code == 200
    assert _move(loaded, users, twin_id, "accepted").status_code == 200
    assert _inst(loaded, users, iid)["reserved_facilities"] == before["reserved_facilities"] + 1
    assert _move(loaded, users, twin_id, "contracted").status_code == 200
    assert _move(loaded, users, p1["id"], "contracted").status_code == 200
    after = _inst(loaded, users, iid)
    assert after["capacity_facilities"] == before["capacity_facilities"] - 1
    assert after["reserved_facilities"] == before["reserved_facilities"]
    parts = loaded.get("/partnerships", params={"facility_id": "F1"}, headers=users.headers("pref03")).json()
    assert [p["institution_id"] for p in parts] == [iid]


def test_declining_one_of_two_accepted_twins_keeps_the_reservation(loaded, users, app):
    from api.models import Proposal

    first = _run(loaded, users, facility_ids=["F1"])["id"]
    p1 = _proposals(loaded, users, first)[("F1", "Z1")]
    with app.state.sessions() as s:
        twin = Proposal(run_id=first, facility_id="F1", institution_id="Z1", roles=p1["roles"], distance_km=1,
                        travel_minutes=3, extends_existing=False, explanation="", state="proposed")
        s.add(twin)
        s.commit()
        twin_id = twin.id
    assert _move(loaded, users, p1["id"], "accepted").status_code == 200
    assert _move(loaded, users, twin_id, "accepted").status_code == 200
    assert _move(loaded, users, p1["id"], "declined", "重複").status_code == 200
    assert _inst(loaded, users, "Z1")["reserved_facilities"] == 1  # still held, by the twin
    assert _move(loaded, users, twin_id, "contracted").status_code == 200
    z1 = _inst(loaded, users, "Z1")
    assert (z1["capacity_facilities"], z1["reserved_facilities"]) == (0, 0)


def test_deleting_a_facility_releases_its_reservation(loaded, users):
    pid = _proposals(loaded, users, _run(loaded, users, facility_ids=["F1"])["id"])[("F1", "Z1")]["id"]
    assert _move(loaded, users, pid, "accepted").status_code == 200
    assert _inst(loaded, users, "Z1")["reserved_facilities"] == 1
    assert loaded.delete("/facilities/F1", headers=users.headers("pref03")).status_code == 204
    assert _inst(loaded, users, "Z1")["reserved_facilities"] == 0
    log = loaded.get("/audit", params={"entity": "proposal", "entity_id": str(pid)}, headers=users.headers("admin")).json()
    assert log[0]["action"] == "proposal_deleted" and log[0]["before"]["state"] == "accepted"


def test_partnerships_check_roles_and_capacity(loaded, users):
    h = users.headers("pref03")
    assert loaded.post("/partnerships", json={"facility_id": "F1", "institution_id": "Z1", "roles": []},
                       headers=h).status_code == 422
    new = {"institution_id": "N9", "name": "入院のみ病院", "kind": "hospital", "municipality_code": "03201",
           "lat": 39.7, "lon": 141.1, "consult_24h": False, "visit_24h": False, "admit": True, "capacity_facilities": 0}
    assert loaded.post("/institutions", json=new, headers=h).status_code == 201
    r = loaded.post("/partnerships", json={"facility_id": "F1", "institution_id": "N9", "roles": ["consult"]}, headers=h)
    assert r.status_code == 409 and "N9" in r.text and "提供していません" in r.text
    r = loaded.post("/partnerships", json={"facility_id": "F1", "institution_id": "N9", "roles": ["admit"]}, headers=h)
    assert r.status_code == 409 and "受入枠" in r.text  # capacity 0
    # Z1 has room for one: the first agreement takes it, the second is refused.
    assert loaded.post("/partnerships", json={"facility_id": "F1", "institution_id": "Z1", "roles": ["admit"]},
                       headers=h).status_code == 201
    assert _inst(loaded, users, "Z1")["capacity_facilities"] == 0
    assert loaded.post("/partnerships", json={"facility_id": "F3", "institution_id": "Z1", "roles": ["consult"]},
                       headers=h).status_code == 409
    # An agreement already signed in reality is recorded as is, and the log says so.
    r = loaded.post("/partnerships", json={"facility_id": "F3", "institution_id": "N9", "roles": ["consult"],
                                           "as_signed": True}, headers=h)
    assert r.status_code == 201, r.text
    log = loaded.get("/audit", params={"entity": "partnership", "entity_id": str(r.json()["id"])},
                     headers=users.headers("admin")).json()
    assert log[0]["action"] == "create_as_signed" and log[0]["after"]["as_signed"] is True


# -- 5. a re-run never loses a decision ------------------------------------------------------------

def test_rerun_carries_contacted_and_accepted_proposals(loaded, users):
    first = _run(loaded, users)
    props = _proposals(loaded, users, first["id"])
    contacted = props[("F1", "Z1")]["id"]
    accepted = props[("F3", "C1")]["id"]
    untouched = [p["id"] for (f, _), p in props.items() if f in ("W1", "F2")]
    assert untouched
    assert _move(loaded, users, contacted, "contacted").status_code == 200
    assert _move(loaded, users, accepted, "accepted").status_code == 200
    second = _run(loaded, users)
    h = users.headers("pref03")
    assert loaded.get(f"/proposals/{contacted}", headers=h).json()["state"] == "contacted"
    assert loaded.get(f"/proposals/{accepted}", headers=h).json()["state"] == "accepted"
    new = _proposals(loaded, users, second["id"])
    assert ("F1", "Z1") not in new and ("F3", "C1") not in new  # not proposed again as new
    # Z1 (room for one facility) is held by the contacted pin: nobody else is offered it.
    assert not any(i == "Z1" for _, i in new)
    carried = {c["proposal_id"]: c for c in second["summary"]["carried_over"]}
    assert set(carried) == {contacted, accepted}
    assert carried[contacted]["state"] == "contacted" and carried[contacted]["pinned"] is True
    assert "引き継ぎ" in second["message"]
    for pid in untouched:
        assert loaded.get(f"/proposals/{pid}", headers=h).json()["state"] == "superseded"
        log = loaded.get("/audit", params={"entity": "proposal", "entity_id": str(pid)},
                         headers=users.headers("admin")).json()
        assert log[0]["action"] == "proposal_superseded" and log[0]["after"]["superseded_by_run"] == second["id"]
    # The contacted pair can still be accepted and contracted after the re-run.
    assert _move(loaded, users, contacted, "accepted").status_code == 200
    assert _move(loaded, users, contacted, "contracted").status_code == 200


# -- 6. inputs that gave 500 give 422 (413 for a too-large body) ----------------------------------

NEW_FACILITY = {"facility_id": "N1", "name": "新施設", "facility_type": "gh", "municipality_code": "03201",
                "lat": 39.7, "lon": 141.1, "residents": 9}
NEW_INSTITUTION = {"institution_id": "N2", "name": "新病院", "kind": "hospital", "municipality_code": "03201",
                   "lat": 39.7, "lon": 141.1}


def _raw(client, method, path, body: str, headers):
    return client.request(method, path, content=body.encode("utf-8"),
                          headers={**headers, "content-type": "application/json"})


def test_nan_infinity_surrogates_and_nul_are_422(loaded, users, app):
    import json

    h = users.headers("admin")
    fac = json.dumps(NEW_FACILITY, ensure_ascii=False)
    inst = json.dumps(NEW_INSTITUTION, ensure_ascii=False)
    cases = [
        ("POST", "/facilities", fac.replace("39.7", "NaN")),
        ("POST", "/facilities", fac.replace("141.1", "Infinity")),
        ("POST", "/facilities", fac.replace("39.7", "-Infinity")),
        ("PATCH", "/facilities/F1", '{"lat": NaN}'),
        ("POST", "/institutions", inst.replace("141.1", "NaN")),
        ("POST", "/runs", '{"parameters": {"limits": {"visit": {"minutes": Infinity}}}}'),
        ("POST", "/runs", '{"parameters": {"preference_minutes": NaN}}'),
        ("POST", "/runs", '{"parameters": {"travel": {"speed_kmh": Infinity}}}'),
        ("POST", "/facilities", fac.replace("新施設", "\\ud800")),
        ("PATCH", "/facilities/F1", '{"name": "\\ud800"}'),
        ("POST", "/facilities", fac.replace("新施設", "新\\u0000施設")),
        ("PATCH", "/facilities/F1", '{"name": "a\\u0000b"}'),
        ("PATCH", "/facilities/F1", '{"name": "   "}'),
        ("POST", "/institutions", inst.replace("新病院", "病\\u0000院")),
        ("POST", "/partnerships", '{"facility_id": "F\\u0000", "institution_id": "Z1", "roles": ["admit"]}'),
        ("POST", "/runs", '{"facility_ids": ["F\\u0000"]}'),
        ("POST", "/runs", '{"facility_ids": ["\\udfff"]}'),
        ("PUT", "/areas/03201", '{"municipality_code": "03201", "municipality_name": "盛\\u0000岡", '
                                '"secondary_area_code": "0301", "secondary_area_name": "盛岡", "prefecture_code": "03"}'),
        ("POST", "/facilities", fac.replace('"N1"', '"' + "x" * 65 + '"')),
        ("POST", "/facilities", fac.replace("新施設", "名" * 201)),
    ]
    for method, path, body in cases:
        r = _raw(loaded, method, path, body, h)
        assert r.status_code == 422, (method, path, body[:80], r.status_code, r.text[:300])
    with app.state.sessions() as s:
        assert s.get(Facility, "N1") is None and s.get(Facility, "F1").name == "テスト施設F1"
    for path in ("/facilities/%00", "/facilities/%ED%A0%80", "/institutions/a%00b", "/areas/%00",
                 "/facilities?municipality_code=%00", "/partnerships?facility_id=%00", "/audit?entity=%00",
                 "/proposals?facility_id=%00", "/facilities/%00/candidates"):
        r = loaded.get(path, headers=h)
        assert r.status_code == 422, (path, r.status_code, r.text)


def test_imports_enforce_the_api_limits(loaded, users, app):
    long_id, long_name = "F" * 100, "名" * 300
    for facilities in (f"{long_id},長いID,tokuyo,03201,39.7,141.15,50,true\n",
                       f"N1,{long_name},tokuyo,03201,39.7,141.15,50,true\n",
                       "N1,NUL\x00入り,tokuyo,03201,39.7,141.15,50,true\n"):
        r = upload(loaded, users, "pref03", areas=IWATE, facilities=facilities)
        assert r.status_code == 422, r.text
        [err] = r.json()["detail"]
        assert (err["file"], err["row"]) == ("facilities.csv", 2) and err["column"] in ("facility_id", "name")
    r = upload(loaded, users, "pref03", areas=IWATE,
               institutions=f"{'I' * 65},病院,hospital,03201,39.7,141.17,100,zaibyo,,,,true,1,\n")
    assert r.status_code == 422 and r.json()["detail"][0]["column"] == "institution_id"
    with app.state.sessions() as s:
        assert s.get(Facility, "N1") is None and s.get(Facility, long_id) is None


def test_request_body_size_limit_is_413(loaded, users, app):
    app.state.settings.max_body_bytes = 10_000  # the middleware reads the limit it was built with
    from api.main import create_app
    from api.settings import Settings

    small = create_app(Settings(database_url=str(app.state.engine.url.render_as_string(hide_password=False)),
                                max_body_bytes=10_000))
    from fastapi.testclient import TestClient

    c = TestClient(small)
    h = users.headers("admin")
    r = c.post("/facilities", content=b'{"name": "' + b"x" * 20_000 + b'"}',
               headers={**h, "content-type": "application/json"})
    assert r.status_code == 413 and "大きすぎます" in r.json()["detail"]

    def chunks():  # no Content-Length: streamed in pieces
        for _ in range(20):
            yield b"x" * 1000

    r = c.post("/facilities", content=chunks(), headers={**h, "content-type": "application/json"})
    assert r.status_code == 413
    big = {"areas": ("areas.csv", AREAS_HEAD.encode() + b"x" * 20_000, "text/csv")}
    assert c.post("/imports", files=big, headers=h).status_code == 413
    assert c.get("/facilities", headers=h).status_code == 200
    small.state.engine.dispose()


# -- 8. hardening ------------------------------------------------------------------------------

def test_security_headers(loaded, users):
    for path, h in (("/", {}), ("/facilities", users.headers("pref03")), ("/facilities/%00", {}),
                    ("/static/style.css", {})):
        r = loaded.get(path, headers=h)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in loaded.get("/docs").headers["content-security-policy"]


# -- 7. exports are safe to open in a spreadsheet ------------------------------------------------

EVIL = '=HYPERLINK("http://evil.example","click")'


def test_workbook_cells_never_become_formulas(loaded, users):
    import io

    from openpyxl import load_workbook

    h = users.headers("pref03")
    for fid, name in (("E1", EVIL), ("E2", "+1+2"), ("E3", "@SUM(A1)"), ("E4", "-2+3"), ("E5", "\t=1")):
        body = {**NEW_FACILITY, "facility_id": fid, "name": name}
        body["name"] = name if not name.startswith("\t") else "x\t=1"  # leading whitespace is trimmed on input
        assert loaded.post("/facilities", json=body, headers=h).status_code == 201
    _run(loaded, users)  # the workbook reads the stored run's proposals, which name these facilities
    r = loaded.get("/reports/workbook", headers=h)
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
    assert any(t == "'" + EVIL for t in texts)


def test_cli_csv_exports_are_neutralised_and_region_folders_round_trip(tmp_path):
    import csv

    from typer.testing import CliRunner

    from matching import safecells
    from matching.cli import app as cli
    from matching.contract import load_region
    from tests.api.region import write_two_prefectures

    region = write_two_prefectures(tmp_path / "region")
    fac = (region / "facilities.csv").read_text(encoding="utf-8").replace("テスト施設F1", '"=HYPERLINK(""x"")"')
    (region / "facilities.csv").write_text(fac, encoding="utf-8")
    res = CliRunner().invoke(cli, ["status", str(region), "--out", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "st" / "status_facilities.csv", encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert "'=HYPERLINK(\"x\")" in cells and not any(c.startswith(safecells.TRIGGERS) for c in cells)
    # A region folder written through the helper loads back with the names as they were.
    loaded = load_region(region)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("areas", "facilities", "institutions", "partnerships"):
        import pandas as pd

        safecells.to_csv(pd.read_csv(region / f"{name}.csv", dtype=str, keep_default_na=False),
                         copy / f"{name}.csv", index=False)
    assert "'=HYPERLINK" in (copy / "facilities.csv").read_text(encoding="utf-8")
    assert load_region(copy).facilities.loc["F1", "name"] == loaded.facilities.loc["F1", "name"] == '=HYPERLINK("x")'


def test_token_expiry_last_use_and_audit(loaded, users, app, database_url):
    from datetime import timedelta

    from typer.testing import CliRunner

    from api.cli import create_token
    from api.models import User, aware, now
    from matching.cli import app as cli

    expired = create_token(app.state.sessions, "期限切れ", "prefecture", "03", None, expires_at=now() - timedelta(seconds=1))
    later = create_token(app.state.sessions, "期限付き", "prefecture", "03", None, expires_at=now() + timedelta(days=1))
    r = loaded.get("/facilities", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "有効期限" in r.text
    assert loaded.get("/facilities", headers={"Authorization": f"Bearer {later}"}).status_code == 200
    with app.state.sessions() as s:
        user = s.scalar(select(User).where(User.name == "期限付き"))
        assert user.last_used_at is not None and now() - aware(user.last_used_at) < timedelta(minutes=1)
        uid = user.id
    res = CliRunner().invoke(cli, ["token", "revoke", str(uid), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert loaded.get("/facilities", headers={"Authorization": f"Bearer {later}"}).status_code == 401
    log = loaded.get("/audit", params={"entity": "user", "entity_id": str(uid)}, headers=users.headers("admin")).json()
    assert [e["action"] for e in log] == ["token_revoke", "token_create"]
    assert log[0]["before"]["active"] is True and log[0]["after"]["active"] is False
    assert all("token_hash" not in (e["before"] or {}) and "token_hash" not in (e["after"] or {}) for e in log)
    res = CliRunner().invoke(cli, ["token", "create", "--name", "x", "--role", "admin", "--expires-days", "30",
                                   "--database-url", database_url])
    assert res.exit_code == 0, res.output


# -- 4b. per-role capacity invariants (accept, PUT, import) ------------------------------------------

def test_per_role_capacity_holds_on_accept_put_and_import(loaded, users, app):
    """Z2 offers ③ to at most one new partner: the second acceptance of a ③ proposal is refused,
    and its ③ capacity cannot be set below what accepted proposals hold, by PUT or by import."""
    from api.models import Proposal

    h = users.headers("pref03")
    assert _put_capacity(loaded, users, "Z2", capacity_facilities_admit=1).status_code == 200
    ids = []
    with app.state.sessions() as s:  # two runs' proposals of ③ at Z2 for two facilities
        from api.models import MatchRun, User

        admin = s.scalar(select(User).where(User.role == "admin"))
        run = MatchRun(created_by=admin.id, prefecture_code="03", state="done", parameters={})
        s.add(run)
        s.flush()
        for fid in ("F1", "W1"):
            p = Proposal(run_id=run.id, facility_id=fid, institution_id="Z2", roles="admit", distance_km=1.0,
                         travel_minutes=2.0)
            s.add(p)
            s.flush()
            ids.append(p.id)
        s.commit()
    move = lambda pid, state: loaded.post(f"/proposals/{pid}/state", json={"state": state}, headers=h)  # noqa: E731
    assert move(ids[0], "contacted").status_code == 200 and move(ids[0], "accepted").status_code == 200
    assert move(ids[1], "contacted").status_code == 200
    r = move(ids[1], "accepted")
    assert r.status_code == 409 and "③" in r.json()["detail"] and "承諾できません" in r.json()["detail"]
    assert loaded.get(f"/proposals/{ids[1]}", headers=h).json()["state"] == "contacted"
    assert _inst(loaded, users, "Z2")["reserved_facilities"] == 1  # the refused one reserved nothing
    r = _put_capacity(loaded, users, "Z2", capacity_facilities_admit=0)
    assert r.status_code == 409
    assert r.json()["detail"]["rows"][0]["column"] == "capacity_facilities_admit"
    assert _inst(loaded, users, "Z2")["capacity_facilities_admit"] == 1
    inst = _inst(loaded, users, "Z2")
    row = {k: ("" if inst.get(k) is None else str(inst[k]).lower() if isinstance(inst[k], bool) else str(inst[k]))
           for k in INST_HEAD.strip().split(",")}
    header = INST_HEAD.strip() + ",capacity_facilities_admit\n"
    body = header + ",".join(row.values()) + ",0\n"
    files = {"areas": AREAS_HEAD + IWATE, "facilities": FAC_HEAD, "institutions": body, "partnerships": PART_HEAD}
    r = loaded.post("/imports", headers=h, files={k: (f"{k}.csv", v.encode("utf-8"), "text/csv")
                                                  for k, v in files.items()})
    assert r.status_code == 409 and r.json()["detail"][0]["column"] == "capacity_facilities_admit"
    assert _inst(loaded, users, "Z2")["capacity_facilities_admit"] == 1
