"""Per-role capacities (``capacity_{unit}_{role}``) survive CSV → service import → run → export,
and the service proposes exactly what the CLI proposes on a region that uses them (issue #18)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from api.store import export_region
from matching.cli import app as cli
from tests.api import region as two
from tests.matchkit import _write

#: ② (visit) closed at C1 and Z2: only Z1 and H3 may take new ② partners.
CAPS = {"C1": {"capacity_facilities_visit": 0}, "Z2": {"capacity_facilities_visit": 0},
        "Z1": {"capacity_residents_admit": 500}}
ROLE_CAPS = [f"capacity_{unit}_{role}" for role in ("consult", "visit", "admit")
             for unit in ("facilities", "residents")]


def write_iwate_with_role_caps(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    areas = [a for a in two.AREAS if a["prefecture_code"] == "03"]
    codes = {a["municipality_code"] for a in areas}
    facilities = [f for f in two.FACILITIES if f["municipality_code"] in codes]
    institutions = [{**i, **dict.fromkeys(ROLE_CAPS, ""), **CAPS.get(i["institution_id"], {})}
                    for i in two.INSTITUTIONS if i["municipality_code"] in codes]
    _write(folder / "areas.csv", areas, list(areas[0]))
    _write(folder / "facilities.csv", facilities, list(facilities[0]))
    _write(folder / "institutions.csv", institutions, list(institutions[0]))
    _write(folder / "partnerships.csv", two.PARTNERSHIPS, ["facility_id", "institution_id", "roles"])
    return folder


def _cli_proposals(folder: Path, out: Path) -> set[tuple[str, str, str]]:
    result = CliRunner().invoke(cli, ["match", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "proposals.csv").open(encoding="utf-8-sig") as fh:
        return {(r["facility_id"], r["institution_id"], r["roles"]) for r in csv.DictReader(fh)}


def test_service_and_cli_propose_the_same_with_per_role_capacities(client, users, app, tmp_path):
    folder = write_iwate_with_role_caps(tmp_path / "region")
    expected = _cli_proposals(folder, tmp_path / "cli")
    # The caps bite: no new ② partner at C1 or Z2, yet ② is proposed elsewhere.
    assert not [p for p in expected if p[1] in ("C1", "Z2") and "visit" in p[2].split(";")]
    assert [p for p in expected if "visit" in p[2].split(";")]

    files = {name: (f"{name}.csv", (folder / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    r = client.post("/imports", files=files, headers=users.headers("admin"))
    assert r.status_code == 200, r.text
    # Stored and served.
    c1 = client.get("/institutions/C1", headers=users.headers("pref03")).json()
    assert c1["capacity_facilities_visit"] == 0 and c1["capacity_residents_visit"] is None
    assert client.get("/institutions/Z1", headers=users.headers("pref03")).json()["capacity_residents_admit"] == 500

    r = client.post("/runs", json={}, headers=users.headers("pref03"))
    assert r.status_code == 202, r.text
    run = client.get(f"/runs/{r.json()['id']}", headers=users.headers("pref03")).json()
    assert run["state"] == "done", run["message"]
    got = {(p["facility_id"], p["institution_id"], p["roles"])
           for p in client.get(f"/runs/{run['id']}/proposals", headers=users.headers("pref03")).json()}
    assert got == expected

    # Exported as they were imported.
    with app.state.sessions() as session:
        export_region(session, tmp_path / "export")
    with (tmp_path / "export" / "institutions.csv").open(encoding="utf-8") as fh:
        rows = {r["institution_id"]: r for r in csv.DictReader(fh)}
    for iid, caps in CAPS.items():
        for column in ROLE_CAPS:
            assert rows[iid][column] == str(caps.get(column, "")), (iid, column)


def test_per_role_capacity_through_the_api(loaded, users):
    body = {"name": "新病院", "kind": "hospital", "lat": 39.70, "lon": 141.15, "designations": ["zaibyo"],
            "capacity_facilities_admit": 2, "institution_id": "N1", "municipality_code": "03201"}
    r = loaded.post("/institutions", json=body, headers=users.headers("pref03"))
    assert r.status_code == 201, r.text
    assert r.json()["capacity_facilities_admit"] == 2 and r.json()["capacity_facilities_visit"] is None
    for bad in (-1, 100_001, 1.5, "NaN"):
        r = loaded.put("/institutions/N1", json={**{k: v for k, v in body.items()
                                                      if k not in ("institution_id", "municipality_code")},
                                                 "capacity_facilities_admit": bad},
                       headers=users.headers("pref03"))
        assert r.status_code == 422, (bad, r.text)


def test_accepted_and_contracted_proposals_take_per_role_capacity(loaded, users, app):
    from api.store import load_from_db
    from tests.api.test_workflow import move, proposals, run

    pref = users.headers("pref03")
    z1 = loaded.get("/institutions/Z1", headers=pref).json()
    facts = {k: v for k, v in z1.items() if k not in ("institution_id", "municipality_code", "reserved_facilities",
                                                        "reserved_residents")}
    facts["designations"] = [d for d in z1["designations"].split(";") if d]
    r = loaded.put("/institutions/Z1", json={**facts, "capacity_facilities_visit": 2,
                                             "capacity_facilities_admit": 5}, headers=pref)
    assert r.status_code == 200, r.text
    props = proposals(loaded, users, run(loaded, users)["id"])
    p = props[("F1", "Z1")]
    assert p["roles"] == "consult;visit;admit"
    assert move(loaded, users, p["id"], "accepted").status_code == 200
    with app.state.sessions() as session:
        region, _ = load_from_db(session, "03", for_matching=True)
    z1 = region.institutions.loc["Z1"]
    assert (z1["capacity_facilities_visit"], z1["capacity_facilities_admit"]) == (1, 4)
    assert pd.isna(z1["capacity_facilities_consult"])
    assert move(loaded, users, p["id"], "contracted").status_code == 200
    z1 = loaded.get("/institutions/Z1", headers=pref).json()
    assert (z1["capacity_facilities_visit"], z1["capacity_facilities_admit"], z1["capacity_facilities_consult"]) \
        == (1, 4, None)


def test_a_file_without_the_per_role_columns_keeps_them(client, users, app, tmp_path):
    """An older institutions.csv (no per-role columns) re-imported must not blank the stored ones."""
    folder = write_iwate_with_role_caps(tmp_path / "region")
    files = {name: (f"{name}.csv", (folder / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    assert client.post("/imports", files=files, headers=users.headers("admin")).status_code == 200
    old = pd.read_csv(folder / "institutions.csv", dtype=str, keep_default_na=False).drop(columns=ROLE_CAPS)
    old.loc[old["institution_id"] == "C1", "name"] = "改称した診療所"
    files["institutions"] = ("institutions.csv", old.to_csv(index=False).encode("utf-8"), "text/csv")
    r = client.post("/imports", files=files, headers=users.headers("admin"))
    assert r.status_code == 200, r.text
    c1 = client.get("/institutions/C1", headers=users.headers("pref03")).json()
    assert c1["name"] == "改称した診療所"  # what the file has is written
    assert c1["capacity_facilities_visit"] == 0  # what it does not have is kept
    assert client.get("/institutions/Z1", headers=users.headers("pref03")).json()["capacity_residents_admit"] == 500
