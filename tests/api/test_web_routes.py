"""The small routes the web page needs (/me, /vocabulary, /facilities/{id}/candidates) and the
page itself (/ and /static), with the same scope rules as every other resource."""

from __future__ import annotations

import pytest

from api.main import create_app
from api.settings import Settings


@pytest.mark.parametrize("who, role, codes", [
    ("admin", "admin", ["03201", "03216", "05201"]),
    ("pref03", "prefecture", ["03201", "03216"]),
    ("pref05", "prefecture", ["05201"]),
    ("muni03201", "municipal", ["03201"]),
    ("muni03216", "municipal", ["03216"]),
])
def test_me_names_the_role_and_the_area(loaded, users, who, role, codes):
    me = loaded.get("/me", headers=users.headers(who)).json()
    assert me["role"] == role
    assert [m["municipality_code"] for m in me["municipalities"]] == codes
    # The area is exactly where /facilities finds facilities.
    seen = {f["municipality_code"] for f in loaded.get("/facilities", headers=users.headers(who)).json()}
    assert seen <= set(codes)


def test_me_needs_a_token(loaded):
    assert loaded.get("/me").status_code == 401
    assert loaded.get("/me", headers={"Authorization": "Bearer mt_nope"}).status_code == 401


def test_me_of_a_municipal_coordinator(loaded, users):
    me = loaded.get("/me", headers=users.headers("muni03201")).json()
    assert (me["name"], me["prefecture_code"], me["municipality_code"]) == ("盛岡市", "03", "03201")
    assert me["prefecture_name"] == "岩手県"
    assert me["municipalities"] == [{"municipality_code": "03201", "municipality_name": "盛岡市"}]


@pytest.mark.parametrize("who, codes, mine", [
    ("pref03", ["03201", "03216"], ["03201", "03216"]),
    ("muni03201", ["03201", "03216"], ["03201"]),
    ("pref05", [], []),  # the bundled boundaries are 岩手's only
])
def test_boundaries_are_the_base_map_of_the_areas_you_may_see(loaded, users, who, codes, mine):
    r = loaded.get("/areas/boundaries", headers=users.headers(who))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["type"] == "FeatureCollection" and "国土数値情報" in data["credit"]
    assert [f["properties"]["municipality_code"] for f in data["features"]] == codes
    assert [f["properties"]["municipality_code"] for f in data["features"] if f["properties"]["in_your_area"]] == mine
    for f in data["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon") and f["properties"]["municipality_name"]
        assert 38 < f["properties"]["label_lat"] < 41 and 140 < f["properties"]["label_lon"] < 143
    assert loaded.get("/areas/boundaries").status_code == 401


def test_vocabulary_has_the_official_labels(client):
    v = client.get("/vocabulary").json()
    types = {t["code"]: t for t in v["facility_types"]}
    assert len(types) == 9 and types["tokuyo"]["name_ja"] == "介護老人福祉施設"
    assert types["gh"]["required_roles"] == ["consult", "visit"] and types["gh"]["strength_ja"] == "努力義務"
    assert [r["mark"] for r in v["roles"]] == ["①", "②", "③"]
    assert v["roles"][2]["label_ja"] == "③入院受入れ"
    assert v["statuses"][0]["label_ja"] == "全ての要件を満たした協力医療機関を定めている"
    assert [s["code"] for s in v["statuses"]][-1] == "not_tracked"
    sources = {s["code"]: s["label_ja"] for s in v["location_sources"]}
    assert sources["office"] == "市区町村役場で近似" and sources["source"] == "元データの座標"


def test_candidates_are_the_alternatives_for_the_missing_roles(loaded, users):
    r = loaded.get("/facilities/F2/candidates", headers=users.headers("muni03201"))
    assert r.status_code == 200, r.text
    cands = r.json()
    assert cands and {c["role"] for c in cands} == {"admit"}  # F2 has a clinic for ①②, lacks ③
    assert all(c["kind"] == "hospital" for c in cands)  # ③ only hospitals
    assert [c["minutes"] for c in cands] == sorted(c["minutes"] for c in cands)
    f1 = loaded.get("/facilities/F1/candidates?per_role=1", headers=users.headers("muni03201")).json()
    assert [c["role"] for c in f1] == ["consult", "visit", "admit"]


def test_candidates_respect_the_scope(loaded, users):
    assert loaded.get("/facilities/W1/candidates", headers=users.headers("muni03201")).status_code == 403
    assert loaded.get("/facilities/F1/candidates", headers=users.headers("pref05")).status_code == 403
    assert loaded.get("/facilities/F1/candidates", headers=users.headers("pref03")).status_code == 200
    assert loaded.get("/facilities/NOPE/candidates", headers=users.headers("admin")).status_code == 404
    assert loaded.get("/facilities/F1/candidates").status_code == 401
    # Only the facility's own prefecture's institutions are offered.
    ids = {c["institution_id"] for c in loaded.get("/facilities/A1/candidates", headers=users.headers("admin")).json()}
    assert ids <= {"AZ"}


def test_declined_pairs_are_not_offered_again(loaded, users):
    h = users.headers("muni03201")
    run = loaded.post("/runs", json={}, headers=h).json()
    p = next(p for p in loaded.get(f"/runs/{run['id']}/proposals", headers=h).json() if p["facility_id"] == "F1")
    assert any(c["institution_id"] == p["institution_id"] for c in loaded.get("/facilities/F1/candidates", headers=h).json())
    r = loaded.post(f"/proposals/{p['id']}/state", json={"state": "declined", "reason": "夜間対応が困難"}, headers=h)
    assert r.status_code == 200, r.text
    assert all(c["institution_id"] != p["institution_id"] for c in loaded.get("/facilities/F1/candidates", headers=h).json())


def test_the_page_and_its_static_files_are_served(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}"))
    from fastapi.testclient import TestClient
    c = TestClient(app)
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<html lang="ja">' in page.text and "協力医療機関マッチング" in page.text
    # Offline by default: no tile server, no online tiles offered (the boundaries are the base map).
    assert '<meta name="tile-url" content="">' in page.text and '<meta name="online-tiles" content="">' in page.text
    assert "/static/vendor/leaflet/leaflet.js" in page.text and "unpkg" not in page.text and "cdn" not in page.text.lower()
    for path, kind in [("/static/js/app.js", "javascript"), ("/static/style.css", "css"),
                       ("/static/vendor/leaflet/leaflet.js", "javascript"), ("/static/vendor/leaflet/leaflet.css", "css"),
                       ("/static/vendor/leaflet/images/marker-icon.png", "png"),
                       ("/static/vendor/leaflet.markercluster/leaflet.markercluster.js", "javascript"),
                       ("/static/vendor/leaflet.markercluster/MarkerCluster.css", "css")]:
        r = c.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    assert "/" not in app.openapi()["paths"]  # the page is not part of the API schema
    app.state.engine.dispose()


def test_tiles_are_configurable_and_can_be_switched_off(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    monkeypatch.setenv("TILE_URL", "")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}"))
    assert '<meta name="tile-url" content="">' in TestClient(app).get("/").text
    app.state.engine.dispose()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}",
                              tile_url='https://tiles.example/{z}/{x}/{y}.png?a="b"'))
    assert 'content="https://tiles.example/{z}/{x}/{y}.png?a=&quot;b&quot;"' in TestClient(app).get("/").text
    app.state.engine.dispose()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}", online_tiles=True))
    assert '<meta name="online-tiles" content="true">' in TestClient(app).get("/").text
    app.state.engine.dispose()


def _sheets(content: bytes) -> dict:
    import io

    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(content))
    return {ws.title: [[c for c in row] for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_meeting_workbook_for_the_users_area(loaded, users):
    from matching.reports import SHEETS

    r = loaded.get("/reports/workbook", headers=users.headers("muni03201"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    sheets = _sheets(r.content)
    assert SHEETS["summary"] in sheets and SHEETS["proposals"] in sheets
    text = "\n".join(str(c) for rows in sheets.values() for row in rows for c in row if c is not None)
    # Only the coordinator's municipality: 盛岡市's facilities, never 滝沢市's or 秋田市's.
    assert "盛岡市" in text and "滝沢市" not in text and "秋田市" not in text
    # Nothing is stored: no run, no proposal.
    assert loaded.get("/runs", headers=users.headers("admin")).json() == []


def test_meeting_workbook_respects_the_scope(loaded, users):
    assert loaded.get("/reports/workbook").status_code == 401
    assert loaded.get("/reports/workbook?municipality_code=03216", headers=users.headers("muni03201")).status_code == 403
    assert loaded.get("/reports/workbook?prefecture_code=05", headers=users.headers("pref03")).status_code == 403
    assert loaded.get("/reports/workbook?municipality_code=05201", headers=users.headers("pref03")).status_code == 403
    assert loaded.get("/reports/workbook?municipality_code=99999", headers=users.headers("admin")).status_code == 404
    assert loaded.get("/reports/workbook?prefecture_code=99", headers=users.headers("admin")).status_code == 404
    r = loaded.get("/reports/workbook?municipality_code=03216", headers=users.headers("pref03"))
    assert r.status_code == 200
    assert loaded.get("/reports/workbook?prefecture_code=05", headers=users.headers("admin")).status_code == 200


def test_meeting_workbook_has_the_stored_workflow_with_contact_log(loaded, users):
    """The workbook lists the stored proposals with their state, its date and the contact log,
    for the user's area only; the title names the region, the cover the date."""
    from datetime import date

    from api.routes.reports import WORKFLOW_SHEET
    h = users.headers("muni03201")
    run = loaded.post("/runs", json={}, headers=h).json()
    props = loaded.get(f"/runs/{run['id']}/proposals", headers=h).json()
    p = props[0]
    assert loaded.post(f"/proposals/{p['id']}/contacts", json={"contact_date": "2025-06-02", "person": "佐藤", "note": "来週回答"},
                       headers=h).status_code == 201
    assert loaded.post(f"/proposals/{p['id']}/state", json={"state": "contacted"}, headers=h).status_code == 200
    sheets = _sheets(loaded.get("/reports/workbook", headers=h).content)
    rows = sheets[WORKFLOW_SHEET]
    header = rows[1]
    body = {r[0]: dict(zip(header, r, strict=True)) for r in rows[2:]}
    assert set(body) == {q["id"] for q in props}
    row = body[p["id"]]
    assert row["状態"] == "連絡済み" and row["連絡記録（日付 相手：内容）"] == "2025-06-02 佐藤：来週回答"
    assert row["状態の更新日"] == row["連絡済みの日"] == date.today().isoformat()
    assert row["承諾の日"] is row["契約済みの日"] is row["辞退の日"] is None and row["由来"] == f"実行 {run['id']}"
    text = "\n".join(str(c) for r in sheets[next(iter(sheets))] for c in r if c is not None)
    assert "岩手県" in text and "tmp" not in text


def test_meeting_workbook_reads_the_stored_run_and_workflow_not_a_recomputation(loaded, users):
    """Issue 15 item 9: the proposals sheet is the stored open proposals as the coordinators left them
    (a declined one gone and not replaced, a hand-made one in), the uncovered roles are the run's, the
    title names the region and the cover the date and the run; reading it changes nothing."""
    from datetime import date

    from matching.reports import SHEETS
    from matching.reports.context import japanese_date
    h = users.headers("muni03201")
    run = loaded.post("/runs", json={}, headers=h).json()
    props = loaded.get(f"/runs/{run['id']}/proposals", headers=h).json()
    declined = next(p for p in props if p["facility_id"] == "F3")
    assert loaded.post(f"/proposals/{declined['id']}/state", json={"state": "declined", "reason": "夜間不可"},
                       headers=h).status_code == 200
    accepted = next(p for p in props if p["facility_id"] == "F1")
    assert loaded.post(f"/proposals/{accepted['id']}/state", json={"state": "accepted"}, headers=h).status_code == 200
    stored = {p["id"]: p for p in loaded.get("/proposals", headers=h).json()}
    unmatched = loaded.get(f"/runs/{run['id']}/unmatched", headers=h).json()

    sheets = _sheets(loaded.get("/reports/workbook", headers=h).content)
    rows = sheets[SHEETS["proposals"]]
    header = next(r for r in rows if r and r[0] == "施設ID")
    body = [dict(zip(header, r, strict=False)) for r in rows[rows.index(header) + 1:] if r[0]]
    want = sorted((p["facility_id"], p["institution_id"]) for p in stored.values()
                  if p["state"] in ("proposed", "contacted", "accepted"))
    assert sorted((r["施設ID"], r["医療機関ID"]) for r in body) == want
    assert ("F3", declined["institution_id"]) not in want
    # A recomputation would have proposed F3's roles again (from another institution): not here.
    assert not any(r["施設ID"] == "F3" for r in body)
    cover = "\n".join(str(c) for r in sheets[SHEETS["cover"]] for c in r if c is not None)
    assert "協力医療機関の確保状況とマッチング提案（岩手県盛岡市）" in cover
    assert japanese_date(date.today()) in cover and f"直近の実行 {run['id']}" in cover
    un_rows = sheets[SHEETS["unmatched"]]
    un_header = next(r for r in un_rows if r and r[0] == "施設ID")
    listed = [r[0] for r in un_rows[un_rows.index(un_header) + 1:] if r[0]]
    assert sorted(listed) == sorted(u["facility_id"] for u in unmatched if u["reason_code"] != "not_tracked")
    # Reading it stored nothing and moved nothing.
    assert [r["id"] for r in loaded.get("/runs", headers=h).json()] == [run["id"]]
    assert {p["id"]: p["state"] for p in loaded.get("/proposals", headers=h).json()} == \
        {i: p["state"] for i, p in stored.items()}
