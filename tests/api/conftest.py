"""Fixtures for the service tests: every database test runs on SQLite, and on PostgreSQL
when TEST_DATABASE_URL is set (.ci/run sets it to this machine's server); without it the
PostgreSQL variants are shown as skipped (failed under MATCHING_REQUIRE_ALL=1, as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from api.cli import create_token
from api.main import create_app
from api.settings import Settings
from tests.api.region import write_two_prefectures
from tests.required import missing

BACKENDS = ["sqlite", "postgresql"]
NO_POSTGRES = ("TEST_DATABASE_URL is not set: the PostgreSQL variant needs a server, e.g. "
               "TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_url() -> str:
    """The test server's URL, or skip (fail in CI) when none is configured. Under pytest-xdist each
    worker gets its own database beside the configured one (``test_gw0``, ``test_gw1``…), created
    on first use, because every test resets the schema it works in."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        missing(NO_POSTGRES)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if worker else url


def _worker_database(url: str, worker: str) -> str:
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    """Start from an empty database: drop and recreate the public schema."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    url = postgres_url()
    reset_postgres(url)
    return url


@pytest.fixture
def region_dir(tmp_path) -> Path:
    return write_two_prefectures(tmp_path / "region")


@pytest.fixture
def app(database_url, region_dir):
    app = create_app(Settings(database_url=database_url, stage_time_limit=10))
    yield app
    app.state.engine.dispose()


class Users:
    """Tokens for each role in the two-prefecture region."""

    def __init__(self, app):
        s = app.state.sessions
        self.tokens = {
            "admin": create_token(s, "admin", "admin", None, None),
            "pref03": create_token(s, "岩手県", "prefecture", "03", None),
            "pref05": create_token(s, "秋田県", "prefecture", "05", None),
            "muni03201": create_token(s, "盛岡市", "municipal", None, "03201"),
            "muni03216": create_token(s, "滝沢市", "municipal", None, "03216"),
        }

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def users(app) -> Users:
    return Users(app)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def loaded(client, users, region_dir) -> TestClient:
    """A client on a database with the two-prefecture region imported through the API."""
    files = {name: (f"{name}.csv", (region_dir / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("areas", "facilities", "institutions", "partnerships")}
    r = client.post("/imports", files=files, headers=users.headers("admin"))
    assert r.status_code == 200, r.text
    return client
