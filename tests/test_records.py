"""One definition per record: a column added to the data contract reaches every layer.

The contract (``matching/contract/schema.py``) gets one more institutions column, in a
fresh interpreter (the layers build their models at import time); then the database
table, the API bodies, the scenario model, the generated document, the page's labels
(``/vocabulary``) and the service's import/export must all have it — with nothing else
changed.  (The service's database also needs an Alembic migration: that is the second
and last step of adding a column, and ``tests/api/test_migrations.py`` checks it.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import csv, dataclasses, sys
    from pathlib import Path

    from matching.contract import columns as c
    from matching.contract import schema

    # -- the one change: a column added to institutions.csv --------------------------------
    extra = schema.Column("night_doctors", c.number(integer=True, minimum=0, maximum=50, required=False),
                          "doctors on night duty (blank = unknown)", required=False, label_ja="夜間の医師数")
    schema.INSTITUTIONS = dataclasses.replace(schema.INSTITUTIONS,
                                              columns=schema.INSTITUTIONS.columns + (extra,))
    schema.FILES = tuple(schema.INSTITUTIONS if f.name == "institutions.csv" else f for f in schema.FILES)
    schema.RECORDS["institutions"] = schema.INSTITUTIONS
    for name in ("matching.scenarios.schema", "matching.scenarios.apply"):  # imported with the package
        if name in sys.modules:
            import importlib
            importlib.reload(sys.modules[name])

    # -- every layer ---------------------------------------------------------------------
    from fastapi.testclient import TestClient
    from pydantic import ValidationError
    from sqlalchemy import Integer, create_engine
    from sqlalchemy.orm import sessionmaker

    from api import schemas
    from api.models import Base, Institution
    from api.routes.me import vocabulary
    from api.store import export_region, import_region
    from matching.contract import load_region
    from matching.scenarios.apply import apply_scenario
    from matching.scenarios.schema import NewInstitution, Scenario
    from tests.api.region import write_two_prefectures

    column = Institution.__table__.c["night_doctors"]
    assert isinstance(column.type, Integer) and column.nullable, column

    for model in (schemas.InstitutionIn, schemas.InstitutionBase, schemas.InstitutionOut, NewInstitution):
        assert "night_doctors" in model.model_fields, model
    body = dict(name="x", kind="hospital", lat=39.7, lon=141.1, institution_id="N1", municipality_code="03201")
    assert schemas.InstitutionIn(**body, night_doctors=3).night_doctors == 3
    for bad in (-1, 51, 2.5):
        try:
            schemas.InstitutionIn(**body, night_doctors=bad)
        except ValidationError:
            pass
        else:
            raise AssertionError(f"night_doctors={bad} accepted by the API")

    assert "`night_doctors`" in schema.markdown() and "夜間の医師数" in schema.markdown()
    assert {"name": "night_doctors", "label_ja": "夜間の医師数"} in vocabulary()["records"]["institutions"]

    # The CSV loader, the service's import and export.
    tmp = Path(sys.argv[1])
    folder = write_two_prefectures(tmp / "region")
    with (folder / "institutions.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["night_doctors"] = {"Z1": "2", "C1": ""}.get(row["institution_id"], "1")
    with (folder / "institutions.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    engine = create_engine(f"sqlite:///{tmp / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine)() as session:
        import_region(session, folder)
        session.commit()
        assert session.get(Institution, "Z1").night_doctors == 2
        assert session.get(Institution, "C1").night_doctors is None
        export_region(session, tmp / "export")
    with (tmp / "export" / "institutions.csv").open(encoding="utf-8") as fh:
        exported = {r["institution_id"]: r["night_doctors"] for r in csv.DictReader(fh)}
    assert exported["Z1"] == "2" and exported["C1"] == "" and exported["Z2"] == "1", exported

    # The API (request, database, response), on a database migrated to head plus what the
    # new column's Alembic migration would add.
    from sqlalchemy import text
    from api.cli import create_token
    from api.db import make_engine, migrate
    from api.main import create_app
    from api.settings import Settings
    engine = make_engine(f"sqlite:///{tmp / 'api.sqlite'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE institutions ADD COLUMN night_doctors INTEGER"))
    engine.dispose()
    app = create_app(Settings(database_url=f"sqlite:///{tmp / 'api.sqlite'}"))
    with app.state.sessions() as session:
        import_region(session, folder)
        session.commit()
    token = create_token(app.state.sessions, "admin", "admin", None, None)
    client = TestClient(app)
    r = client.post("/institutions", json={**body, "night_doctors": 4}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.json()["night_doctors"] == 4, r.text
    assert client.get("/institutions/Z1", headers={"Authorization": f"Bearer {token}"}).json()["night_doctors"] == 2

    # Scenarios: a new institution carries it into the region.
    region = load_region(folder)
    scenario = Scenario.from_mapping({"new_institutions": [dict(
        id="N9", name="新病院", kind="hospital", municipality_code="03201", lat=39.7, lon=141.1,
        night_doctors=5)]}, source="s.toml")
    after, _ = apply_scenario(region, scenario)
    assert after.institutions.loc["N9", "night_doctors"] == 5
    print("every layer has night_doctors")
''')


def test_a_column_added_to_the_contract_reaches_every_layer(tmp_path):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every layer has night_doctors" in r.stdout
