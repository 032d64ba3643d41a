"""Institution contacts from the intention survey (issue 15 item 4): stored by ``POST /imports`` and
``matching db import``, served by the institution endpoints, kept by an older file without them,
exported as imported.  Every test runs on SQLite and on PostgreSQL (tests/api/conftest.py)."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from api.store import export_region
from matching.cli import app as cli

CONTACTS = {"Z1": ("岩手 太郎", "019-651-4111 内線 12", "2025-06-01"), "C1": ("盛岡 花子", "090-1234-5678", "2025-06-02")}


def _with_contacts(region_dir) -> str:
    """institutions.csv of the two-prefecture region with the contact columns filled for Z1 and C1."""
    with (region_dir / "institutions.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = [*rows[0], "contact_name", "contact_phone", "survey_date"]
    lines = [",".join(header)]
    for r in rows:
        name, phone, date = CONTACTS.get(r["institution_id"], ("", "", ""))
        lines.append(",".join([*r.values(), name, phone, date]))
    return "\n".join(lines) + "\n"


def _upload(client, users, region_dir, institutions: str):
    files = {name: (f"{name}.csv", (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "partnerships")}
    files["institutions"] = ("institutions.csv", institutions.encode("utf-8"), "text/csv")
    return client.post("/imports", files=files, headers=users.headers("admin"))


def test_contacts_are_stored_served_kept_and_exported(client, users, region_dir, app, tmp_path):
    r = _upload(client, users, region_dir, _with_contacts(region_dir))
    assert r.status_code == 200, r.text
    z1 = client.get("/institutions/Z1", headers=users.headers("pref03")).json()
    assert (z1["contact_name"], z1["contact_phone"], z1["survey_date"]) == CONTACTS["Z1"]
    listed = {i["institution_id"]: i for i in client.get("/institutions", headers=users.headers("muni03201")).json()}
    assert listed["C1"]["contact_phone"] == "090-1234-5678"
    assert listed["Z2"]["contact_name"] == "" and listed["Z2"]["survey_date"] == ""  # not surveyed
    # A later file without the columns (an older export) does not blank them.
    r = _upload(client, users, region_dir, (region_dir / "institutions.csv").read_text(encoding="utf-8"))
    assert r.status_code == 200, r.text
    assert client.get("/institutions/Z1", headers=users.headers("pref03")).json()["contact_name"] == "岩手 太郎"
    with app.state.sessions() as session:
        export_region(session, tmp_path / "export")
    with (tmp_path / "export" / "institutions.csv").open(encoding="utf-8") as fh:
        rows = {r["institution_id"]: r for r in csv.DictReader(fh)}
    for iid, (name, phone, date) in CONTACTS.items():
        assert (rows[iid]["contact_name"], rows[iid]["contact_phone"], rows[iid]["survey_date"]) == (name, phone, date)


def test_an_institution_written_through_the_api_keeps_its_contact(loaded, users):
    h = users.headers("pref03")
    body = {k: v for k, v in loaded.get("/institutions/Z1", headers=h).json().items()
            if k not in ("institution_id", "municipality_code", "reserved_facilities", "reserved_residents",
                         "designations")}
    body.update(contact_name="岩手 次郎", contact_phone="019-000-0000", survey_date="2025-07-01")
    r = loaded.put("/institutions/Z1", json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["contact_name"] == "岩手 次郎"
    body["survey_date"] = "2025/07/01"
    assert loaded.put("/institutions/Z1", json=body, headers=h).status_code == 422


def test_the_survey_reaches_the_service_through_db_import(database_url, region_dir, tmp_path, app, client, users):
    survey = tmp_path / "survey.csv"
    survey.write_text("医療機関番号,新規受入の意向,担当者名,電話番号,回答日\nZ2,はい,滝沢 一郎,019-684-1111,2025-06-03\n",
                      encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["import", "survey", str(survey), "--region", str(region_dir)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["db", "import", str(region_dir), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    z2 = client.get("/institutions/Z2", headers=users.headers("pref03")).json()
    assert (z2["accepting"], z2["contact_name"], z2["contact_phone"], z2["survey_date"]) == (
        True, "滝沢 一郎", "019-684-1111", "2025-06-03")
