"""Time slots in the service (issue 16): imports store availability.csv (scope-checked, audited),
answers carry the slots per role as the library reads them, and a run on the stored demo gives the
CLI's proposals.  Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.cli import create_token
from api.main import create_app
from api.models import AuditEntry, Availability
from api.settings import Settings
from matching import MatchParameters, match
from matching.contract import load_region
from matching.roles import SLOT_CODES, SLOTTED, slots_of
from matching.status import facility_status

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
NAMES = ("areas", "facilities", "institutions", "partnerships")
# C1 (在支診, F2's partner for ①②) makes house calls on weekdays only; Z2 consults on holidays only.
SLOTS = "institution_id,role,slots\nC1,visit,wd_day;wd_night\nZ2,consult,hol_day;hol_night\n"


def upload(client, headers, folder: Path, availability: str | None = None, **override):
    files = {name: (f"{name}.csv", (folder / f"{name}.csv").read_bytes(), "text/csv") for name in NAMES}
    for name, text in override.items():
        files[name] = (f"{name}.csv", text.encode("utf-8"), "text/csv")
    if availability is not None:
        files["availability"] = ("availability.csv", availability.encode("utf-8"), "text/csv")
    return client.post("/imports", files=files, headers=headers)


def stored(app) -> dict[tuple[str, str], str]:
    with app.state.sessions() as s:
        return {(a.institution_id, a.role): a.slots for a in s.scalars(select(Availability))}


def last_import(app) -> dict:
    with app.state.sessions() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == "import")
                         .order_by(AuditEntry.id.desc())).first().after


def with_slots(folder: Path, tmp_path: Path, availability: str) -> Path:
    """The region folder with ``availability.csv``, as the CLI reads it."""
    out = tmp_path / "with-slots"
    shutil.copytree(folder, out)
    (out / "availability.csv").write_text(availability, encoding="utf-8")
    return out


def test_import_stores_time_slots_and_the_answers_carry_them(loaded, users, app, region_dir, tmp_path):
    h = users.headers("admin")
    r = upload(loaded, h, region_dir, SLOTS)
    assert r.status_code == 200, r.text
    assert r.json()["availability"] == 2
    assert stored(app) == {("C1", "visit"): "wd_day;wd_night", ("Z2", "consult"): "hol_day;hol_night"}
    assert sorted(last_import(app)["created"]["availability"]) == ["C1|visit", "Z2|consult"]

    # Institutions: per role, the slots the library reads (its row, else all four or none by the flag).
    region = load_region(with_slots(region_dir, tmp_path, SLOTS))
    answer = {i["institution_id"]: i["slots"] for i in loaded.get("/institutions", headers=h).json()}
    assert answer == {iid: {code: list(slots_of(region.slots(code)[iid])) for code in SLOTTED}
                      for iid in region.institutions.index}
    assert loaded.get("/institutions/C1", headers=h).json()["slots"] == {"consult": list(SLOT_CODES),
                                                                          "visit": ["wd_day", "wd_night"]}

    # Facilities: F2's agreement with C1 gives ② on weekdays only, so ② is missing — as the library says.
    status = facility_status(region)
    for f in loaded.get("/facilities", headers=h).json():
        lib = status.loc[f["facility_id"]]
        assert set(f["missing_roles"]) == {r.value for r in lib["missing_roles"]}, f["facility_id"]
        assert f["status"] == lib["status"], f["facility_id"]
    f2 = loaded.get("/facilities/F2", headers=h).json()
    assert f2["slots"] == {"consult": list(SLOT_CODES), "visit": ["wd_day", "wd_night"]}
    assert "visit" in f2["missing_roles"] and "consult" in f2["covered_roles"]
    assert loaded.get("/facilities/F1", headers=h).json()["slots"] == {"consult": [], "visit": []}


def test_reimport_changes_removes_and_keeps_time_slots_with_an_audit(loaded, users, app, region_dir):
    h = users.headers("admin")
    assert upload(loaded, h, region_dir, SLOTS).status_code == 200
    # C1 now on weekday days only; Z2's row left out (back to its flag); H3 gets a row.
    again = "institution_id,role,slots\nC1,visit,wd_day\nH3,visit,hol_night\n"
    assert upload(loaded, h, region_dir, again).status_code == 200
    assert stored(app) == {("C1", "visit"): "wd_day", ("H3", "visit"): "hol_night"}
    after = last_import(app)
    assert after["created"]["availability"] == ["H3|visit"]
    assert after["changed"]["availability"] == {"C1|visit": {"before": {"slots": "wd_day;wd_night"},
                                                             "after": {"slots": "wd_day"}}}
    assert after["removed"]["availability"] == ["Z2|consult"]
    assert loaded.get("/institutions/Z2", headers=h).json()["slots"]["consult"] == list(SLOT_CODES)
    # An import without the file changes no time slot; one of other institutions keeps these.
    assert upload(loaded, h, region_dir).status_code == 200
    assert stored(app) == {("C1", "visit"): "wd_day", ("H3", "visit"): "hol_night"}
    assert last_import(app)["removed"]["availability"] == []


def test_time_slots_of_an_institution_outside_the_prefecture_refuse_the_import(loaded, users, app, region_dir):
    """Akita's token moves Iwate's Z1 into Akita and gives it time slots: 403, every row listed
    (the availability rows too), nothing written — Z1's stored slots stay."""
    assert upload(loaded, users.headers("admin"), region_dir, "institution_id,role,slots\nZ1,visit,wd_day\n"
                  ).status_code == 200
    areas = "municipality_code,municipality_name,secondary_area_code,secondary_area_name,prefecture_code\n" \
            "05201,秋田市,0501,秋田周辺,05\n"
    inst = (region_dir / "institutions.csv").read_text(encoding="utf-8").splitlines()
    head, z1 = inst[0], next(line for line in inst if line.startswith("Z1,"))
    z1 = z1.replace(",03201,", ",05201,")
    r = upload(loaded, users.headers("pref05"), region_dir, "institution_id,role,slots\nZ1,consult,wd_day\nZ1,visit,hol_day\n",
               areas=areas, facilities=(region_dir / "facilities.csv").read_text(encoding="utf-8").splitlines()[0] + "\n",
               institutions=f"{head}\n{z1}\n", partnerships="facility_id,institution_id,roles\n")
    assert r.status_code == 403, r.text
    rows = {(e["file"], e["row"], e["column"], e["value"]) for e in r.json()["detail"]}
    assert {("availability.csv", 2, "institution_id", "Z1"), ("availability.csv", 3, "institution_id", "Z1"),
            ("institutions.csv", 2, "institution_id", "Z1")} <= rows
    assert all("担当区域外" in e["message"] for e in r.json()["detail"])
    assert stored(app) == {("Z1", "visit"): "wd_day"}
    assert loaded.get("/institutions/Z1", headers=users.headers("admin")).json()["municipality_code"] == "03201"


@pytest.mark.parametrize(("text", "column"), [
    ("C1,visit,night\n", "slots"),          # not a slot code
    ("C1,visit,\n", "slots"),               # no slot: leave the row out instead
    ("C1,admit,wd_day\n", "role"),          # ③ has no time slots
    ("NOPE,visit,wd_day\n", "institution_id"),
])
def test_bad_time_slots_are_422_in_japanese_and_write_nothing(loaded, users, app, region_dir, text, column):
    r = upload(loaded, users.headers("admin"), region_dir, "institution_id,role,slots\n" + text)
    assert r.status_code == 422, r.text
    [row] = [e for e in r.json()["detail"] if e["file"] == "availability.csv"]
    assert (row["row"], row["column"]) == (2, column)
    assert any("\u3040" <= ch <= "\u9fff" for ch in row["message"]), row["message"]  # says it in Japanese
    assert stored(app) == {}


def test_the_vocabulary_names_the_slots(loaded, users):
    v = loaded.get("/vocabulary", headers=users.headers("muni03201")).json()
    assert [s["code"] for s in v["slots"]] == list(SLOT_CODES)
    assert [s["label_ja"] for s in v["slots"]] == ["平日日中", "平日夜間", "休日日中", "休日夜間"]
    assert v["slotted_roles"] == list(SLOTTED)
    assert "slots" in {c["name"] for c in v["records"]["availability"]}


def test_institution_slots_follow_a_changed_flag_and_are_read_only(loaded, users, app, region_dir):
    """Without a row an institution's 24-hour flag decides: changing it through PUT changes its slots.
    ``slots`` may be sent back as read (GET, change, PUT), but not changed: 422 in Japanese."""
    h = users.headers("admin")
    body = {k: v for k, v in loaded.get("/institutions/Z2", headers=h).json().items()
            if k not in ("institution_id", "municipality_code", "reserved_facilities", "reserved_residents")}
    body["designations"] = [d for d in body["designations"].split(";") if d]  # stored as text, sent as a list
    assert body["slots"]["visit"] == list(SLOT_CODES)
    r = loaded.put("/institutions/Z2", json={**body, "visit_24h": False}, headers=h)  # the slots as read
    assert r.status_code == 200, r.text
    assert r.json()["slots"]["visit"] == []
    r = loaded.put("/institutions/Z2", json={**body, "visit_24h": False, "slots": {"consult": list(SLOT_CODES),
                                                                                     "visit": ["wd_day"]}}, headers=h)
    assert r.status_code == 422 and "availability.csv の取込み" in r.text
    for bad in ({"visit": ["night"]}, {"admit": ["wd_day"]}, ["wd_day"]):
        assert loaded.put("/institutions/Z2", json={**body, "slots": bad}, headers=h).status_code == 422
    assert stored(app) == {}
    new = {**{k: v for k, v in body.items() if k != "slots"}, "institution_id": "N9", "municipality_code": "03201"}
    r = loaded.post("/institutions", json={**new, "slots": {"consult": list(SLOT_CODES), "visit": ["hol_day"]}},
                    headers=h)
    assert r.status_code == 422, r.text
    r = loaded.post("/institutions", json=new, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["slots"] == {"consult": list(SLOT_CODES), "visit": list(SLOT_CODES)}


@pytest.fixture
def demo_app(database_url):
    """The service on the demo prefecture (with its 99 availability rows), imported through the CLI's path."""
    from api.store import import_region

    app = create_app(Settings(database_url=database_url, stage_time_limit=20))
    with app.state.sessions() as s:
        import_region(s, DEMO)
        s.commit()
    yield app
    app.state.engine.dispose()


def test_a_service_run_with_time_slots_gives_the_cli_proposals(demo_app):
    client = TestClient(demo_app)
    h = {"Authorization": f"Bearer {create_token(demo_app.state.sessions, 'admin', 'admin', None, None)}"}
    r = client.post("/runs", json={}, headers=h)
    assert r.status_code == 202, r.text
    run = client.get(f"/runs/{r.json()['id']}", headers=h).json()
    assert run["state"] == "done", run["message"]
    got = {(p["facility_id"], p["institution_id"], p["roles"], *(";".join(p["slots"][c]) for c in SLOTTED))
           for p in client.get(f"/runs/{run['id']}/proposals", headers=h).json()}

    cli = match(load_region(DEMO), MatchParameters(stage_time_limit=20))
    assert cli.optimal and run["summary"]["optimal"]
    want = {(p.facility_id, p.institution_id, p.roles, *(getattr(p, f"{c}_slots") for c in SLOTTED))
            for p in cli.proposals.itertuples(index=False)}
    assert got == want
    # Some partners give a role in part of the week only (the demo's 連携 pairs): the slots made it through.
    assert any(0 < len(given.split(";")) < len(SLOT_CODES) for p in got for given in p[3:] if given)


def test_cached_lists_see_new_time_slots_and_deleting_an_institution_deletes_its_slots(loaded, users, app,
                                                                                       region_dir):
    """The availability table raises the data version: the cached lists answer the new slots at once."""
    h = users.headers("pref03")
    slots = lambda: {i["institution_id"]: i["slots"] for i in loaded.get("/institutions", headers=h).json()}  # noqa: E731
    assert slots()["C1"]["visit"] == list(SLOT_CODES)
    f2 = lambda: next(f for f in loaded.get("/facilities", headers=h).json() if f["facility_id"] == "F2")  # noqa: E731
    assert "visit" in f2()["covered_roles"]
    assert upload(loaded, users.headers("admin"), region_dir, SLOTS).status_code == 200
    assert slots()["C1"]["visit"] == ["wd_day", "wd_night"]
    assert "visit" in f2()["missing_roles"] and f2()["slots"]["visit"] == ["wd_day", "wd_night"]
    assert loaded.delete("/institutions/Z2", headers=h).status_code == 204
    assert stored(app) == {("C1", "visit"): "wd_day;wd_night"}


def test_candidates_say_when_they_give_the_role(loaded, users, region_dir):
    h = users.headers("admin")
    assert upload(loaded, h, region_dir, "institution_id,role,slots\nZ2,consult,hol_day;hol_night\n").status_code == 200
    cands = loaded.get("/facilities/F1/candidates", headers=h).json()
    by = {(c["role"], c["institution_id"]): c["slots"] for c in cands}
    assert by[("consult", "Z2")] == ["hol_day", "hol_night"]  # a part-time partner is a candidate (2 per role)
    assert by[("admit", "Z2")] == list(SLOT_CODES)              # ③ has no time slots: its flag


def test_runs_take_max_partners_per_role_within_the_librarys_bounds(loaded, users):
    h = users.headers("admin")
    for bad in (0, 5, 1.5, "two"):
        r = loaded.post("/runs", json={"parameters": {"max_partners_per_role": bad}}, headers=h)
        assert r.status_code == 422, (bad, r.text)
    r = loaded.post("/runs", json={"parameters": {"max_partners_per_role": 1}}, headers=h)
    assert r.status_code == 202, r.text
    assert loaded.get(f"/runs/{r.json()['id']}", headers=h).json()["parameters"]["max_partners_per_role"] == 1


def test_proposals_stored_before_time_slots_answer_all_four_for_their_roles():
    """Runs before migration 0009 judged ① and ② by the 24-hour flags: their partners give all four."""
    from datetime import datetime

    from api.schemas import ProposalOut

    p = ProposalOut.model_validate({"id": 1, "run_id": 1, "facility_id": "F1", "institution_id": "Z1",
                                    "roles": "visit;admit", "distance_km": 1.0, "travel_minutes": 2.0,
                                    "extends_existing": False, "explanation": "", "state": "proposed",
                                    "decline_reason": None, "updated_at": datetime(2026, 1, 1), "slots": None})
    assert p.model_dump()["slots"] == {"consult": [], "visit": list(SLOT_CODES)}
