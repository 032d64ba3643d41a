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
