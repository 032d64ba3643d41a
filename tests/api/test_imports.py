"""Import through the API and the CLI is all or nothing, with row-level errors."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from api.models import Facility, Institution, Partnership
from matching.cli import app as cli


def upload(client, users, region_dir, **override):
    files = {name: (f"{name}.csv", (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    for name, text in override.items():
        files[name] = (f"{name}.csv", text.encode("utf-8"), "text/csv")
    return client.post("/imports", files=files, headers=users.headers("admin"))


def count(app, model) -> int:
    with app.state.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_good_import_counts(client, users, region_dir, app):
    r = upload(client, users, region_dir)
    assert r.json() == {"areas": 3, "facilities": 5, "institutions": 5, "partnerships": 1,
                        "availability": 0, "unconfirmed": []}
    assert count(app, Facility) == 5


def test_bad_file_writes_nothing_and_lists_every_row(client, users, region_dir, app):
    fac = (region_dir / "facilities.csv").read_text(encoding="utf-8").splitlines()
    fac[2] = fac[2].replace(",roken,", ",hospice,")
    fac[3] = fac[3].replace("39.", "89.", 1)
    r = upload(client, users, region_dir, facilities="\n".join(fac) + "\n")
    assert r.status_code == 422
    errors = r.json()["detail"]
    assert {(e["file"], e["row"], e["column"]) for e in errors} >= {
        ("facilities.csv", 3, "facility_type"), ("facilities.csv", 4, "lat")}
    assert count(app, Facility) == count(app, Institution) == count(app, Partnership) == 0


def test_reimport_updates_in_place(client, users, region_dir, app):
    assert upload(client, users, region_dir).status_code == 200
    inst = (region_dir / "institutions.csv").read_text(encoding="utf-8").replace("テスト機関Z1", "改称病院")
    assert upload(client, users, region_dir, institutions=inst).status_code == 200
    assert client.get("/institutions/Z1", headers=users.headers("admin")).json()["name"] == "改称病院"
    assert count(app, Institution) == 5


def test_cli_import_is_all_or_nothing(database_url, region_dir, tmp_path, app):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("areas", "facilities", "institutions", "partnerships"):
        (bad / f"{name}.csv").write_text((region_dir / f"{name}.csv").read_text(encoding="utf-8"), encoding="utf-8")
    part = (bad / "partnerships.csv").read_text(encoding="utf-8") + "F1,NOPE,admit\n"
    (bad / "partnerships.csv").write_text(part, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["db", "import", str(bad), "--database-url", database_url])
    assert res.exit_code == 2 and "NOPE" in res.output
    assert count(app, Facility) == 0
    res = runner.invoke(cli, ["db", "import", str(region_dir), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert count(app, Facility) == 5


def test_validation_errors_are_422_with_a_message(loaded, users):
    h = users.headers("admin")
    r = loaded.post("/facilities", json={"facility_id": "X", "name": "x", "facility_type": "hospice",
                                         "municipality_code": "03201", "lat": 39.7, "lon": 141.1}, headers=h)
    assert r.status_code == 422 and "unknown facility type" in r.text
    r = loaded.post("/institutions", json={"institution_id": "X", "name": "x", "kind": "clinic", "admit": True,
                                           "municipality_code": "03201", "lat": 39.7, "lon": 141.1}, headers=h)
    assert r.status_code == 422 and "hospitals only" in r.text
    r = loaded.post("/partnerships", json={"facility_id": "F1", "institution_id": "C1", "roles": ["admit"]}, headers=h)
    assert r.status_code == 422 and "clinic" in r.text
    r = loaded.post("/runs", json={"parameters": {"limits": {"visit": {"km": -1}}}}, headers=h)
    assert r.status_code == 422 and "limits.visit.km" in r.text


def test_db_import_stores_the_time_slots(database_url, app):
    """``matching db import`` stores availability.csv (issue 16) and says nothing is left out."""
    from pathlib import Path

    from api.models import Availability

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    res = CliRunner().invoke(cli, ["db", "import", str(demo), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert "保存されません" not in res.output  # the note of the time before slots were stored
    assert count(app, Availability) == 99


def test_422_says_it_in_japanese_too(loaded, users):
    """Each field error carries ``message``: the field and the problem in Japanese (the same words
    as the CLI's parameter files), beside pydantic's English ``msg``."""
    h = users.headers("admin")
    r = loaded.post("/runs", json={"parameters": {"limits": {"visit": {"km": -1}}}}, headers=h)
    assert r.status_code == 422
    messages = [d.get("message", "") for d in r.json()["detail"]]
    assert any("limits.visit.km" in m and "0 より大きい値にしてください" in m for m in messages), messages
    r = loaded.post("/facilities", json={"facility_id": "X", "name": "x", "facility_type": "tokuyo",
                                         "municipality_code": "03201", "lat": "north", "lon": 141.1}, headers=h)
    assert r.status_code == 422
    assert any(d["field"] == "lat" and d["message"] == "lat: 数値で書いてください" for d in r.json()["detail"]), r.json()
