"""Addresses (所在地, issue 15 item 4) of facilities and institutions: stored by ``POST /imports``,
served by the endpoints, kept by a later file without the column, exported as imported.  SQLite and
PostgreSQL (tests/api/conftest.py)."""

from __future__ import annotations

import csv

from api.store import export_region

ADDRESSES = {"institutions": ("Z1", "岩手県盛岡市内丸11-1"), "facilities": ("F1", "岩手県盛岡市中央通1-2-3")}


def _with_address(region_dir, name: str) -> str:
    rid, address = ADDRESSES[name]
    key = "facility_id" if name == "facilities" else "institution_id"
    with (region_dir / f"{name}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    lines = [",".join([*rows[0], "address"])]
    lines += [",".join([*r.values(), address if r[key] == rid else ""]) for r in rows]
    return "\n".join(lines) + "\n"


def _upload(client, users, region_dir, **texts: str):
    files = {name: (f"{name}.csv", texts[name].encode("utf-8") if name in texts
                    else (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    return client.post("/imports", files=files, headers=users.headers("admin"))


def test_addresses_are_stored_served_kept_and_exported(client, users, region_dir, app, tmp_path):
    r = _upload(client, users, region_dir, institutions=_with_address(region_dir, "institutions"),
                facilities=_with_address(region_dir, "facilities"))
    assert r.status_code == 200, r.text
    assert client.get("/institutions/Z1", headers=users.headers("pref03")).json()["address"] == ADDRESSES["institutions"][1]
    facilities = {f["facility_id"]: f for f in client.get("/facilities", headers=users.headers("pref03")).json()}
    assert facilities["F1"]["address"] == ADDRESSES["facilities"][1]
    assert all(f["address"] == "" for k, f in facilities.items() if k != "F1")
    # A later file without the column does not blank them.
    r = _upload(client, users, region_dir)
    assert r.status_code == 200, r.text
    assert client.get("/institutions/Z1", headers=users.headers("pref03")).json()["address"] == ADDRESSES["institutions"][1]
    with app.state.sessions() as session:
        export_region(session, tmp_path / "export")
    with (tmp_path / "export" / "facilities.csv").open(encoding="utf-8") as fh:
        assert {r["facility_id"]: r["address"] for r in csv.DictReader(fh)}["F1"] == ADDRESSES["facilities"][1]


def test_an_address_too_long_is_a_422_in_japanese(client, users, region_dir):
    text = _with_address(region_dir, "institutions").replace(ADDRESSES["institutions"][1], "あ" * 201)
    r = _upload(client, users, region_dir, institutions=text)
    assert r.status_code == 422
    row = next(e for e in r.json()["detail"] if e["column"] == "address")
    assert row["file"] == "institutions.csv" and "200 文字以内" in row["message"]
