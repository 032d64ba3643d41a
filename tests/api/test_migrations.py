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
