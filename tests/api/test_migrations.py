"""Migrations apply to an empty database and reach the models' schema."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from api.db import alembic_config, make_engine, migrate
from api.models import Base


def test_migrations_apply_to_an_empty_database(database_url):
    engine = make_engine(database_url)
    assert inspect(engine).get_table_names() == []
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
    for name, table in Base.metadata.tables.items():
        assert {c["name"] for c in inspect(engine).get_columns(name)} == set(table.columns.keys())
    migrate(engine)  # idempotent
    engine.dispose()


def test_a_populated_database_upgrades_from_0008_to_time_slots(database_url):
    """A database at 0008 (before availability, issue 16) with a region, an agreement, a run and a
    proposal upgrades to head: every row kept, no slots stored (so every institution keeps its
    flags), and the old proposal answers all four slots for its roles through the service."""
    from fastapi.testclient import TestClient

    from api.cli import create_token
    from api.main import create_app
    from api.settings import Settings
    from matching.roles import SLOT_CODES

    engine = make_engine(database_url)
    migrate(engine, "0008")
    assert "availability" not in inspect(engine).get_table_names()
    now = "2026-04-01 09:00:00"
    rows = [
        ("areas", {"municipality_code": "03201", "municipality_name": "盛岡市", "secondary_area_code": "0301",
                   "secondary_area_name": "盛岡", "prefecture_code": "03"}),
        ("institutions", {"institution_id": "H1", "name": "病院", "kind": "hospital", "municipality_code": "03201",
                          "lat": 39.70, "lon": 141.15, "designations": "zaibyo", "reserved_facilities": 0,
                          "reserved_residents": 0, "location_source": ""}),
        ("institutions", {"institution_id": "C1", "name": "診療所", "kind": "clinic", "municipality_code": "03201",
                          "lat": 39.71, "lon": 141.16, "designations": "zaishin", "consult_24h": True, "visit_24h": True,
                          "admit": False, "reserved_facilities": 0,
                          "reserved_residents": 0, "location_source": ""}),
        ("facilities", {"facility_id": "F1", "name": "特養", "facility_type": "tokuyou", "municipality_code": "03201",
                        "lat": 39.705, "lon": 141.155, "reported": True, "confirmed": True,
                        "unconfirmed_reason": "", "location_source": ""}),
        ("partnerships", {"facility_id": "F1", "institution_id": "C1", "roles": "consult"}),
        ("users", {"name": "admin", "role": "admin", "token_hash": "x" * 64, "active": True,
                   "created_at": now}),
        ("match_runs", {"created_by": "(select id from users)", "created_at": now, "state": "done", "progress": 1.0,
                        "message": "", "parameters": "{}", "attempts": 1, "cancel_requested": False}),
        ("proposals", {"run_id": "(select id from match_runs)", "facility_id": "F1", "institution_id": "H1", "roles": "visit;admit",
                       "distance_km": 1.2, "travel_minutes": 2.3, "extends_existing": False, "explanation": "近い",
                       "state": "proposed", "reserved_residents": 0, "reserved_facility": False,
                       "updated_at": now}),
    ]
    with engine.begin() as conn:
        for table, row in rows:  # ids from the database (a PostgreSQL sequence is not moved by given ids)
            values = [v if isinstance(v, str) and v.startswith("(select") else f":{k}" for k, v in row.items()]
            conn.execute(text(f"insert into {table} ({', '.join(row)}) values ({', '.join(values)})"), row)
    before = {t: _dump(engine, t) for t in ("areas", "institutions", "facilities", "partnerships", "proposals")}
    migrate(engine)
    assert {"availability"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from availability")).scalar() == 0
        assert conn.execute(text("select slots from proposals")).scalars().all() == [None]
    for table, old in before.items():
        new = _dump(engine, table)
        assert [{k: r[k] for k in old[0]} for r in new] == old, table  # the 0008 columns unchanged
    engine.dispose()

    app = create_app(Settings(database_url=database_url, stage_time_limit=10))
    try:
        headers = {"Authorization": f"Bearer {create_token(app.state.sessions, 'admin', 'admin', None, None)}"}
        with TestClient(app) as client:
            got = client.get("/proposals", headers=headers)
            assert got.status_code == 200, got.text
            (p,) = got.json()
            assert p["slots"] == {"consult": [], "visit": list(SLOT_CODES)}
            inst = client.get("/institutions/C1", headers=headers)
            assert inst.status_code == 200, inst.text
            assert inst.json()["slots"]["consult"] == list(SLOT_CODES)  # no availability row: the flag
    finally:
        app.state.engine.dispose()


def _dump(engine, table: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(f"select * from {table} order by 1"))]
