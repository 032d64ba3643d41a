"""Property-based fuzzing of the API against its own OpenAPI schema: no server errors.

Every operation is called with schemathesis-generated inputs (valid and invalid) as an
administrator on a loaded database — SQLite, and PostgreSQL when TEST_DATABASE_URL is set
(skipped with the reason otherwise, a failure in CI) — a bounded number of examples each,
so CI stays fast.  Schemathesis puts NUL bytes in generated strings (``allow_x00``); on top
of that, about half the examples are "poisoned": numbers in JSON bodies become NaN or
±Infinity (Python's JSON, which the service parses with, accepts them), strings gain a NUL
byte, and query and path values become ``NaN``, ``Infinity``, ``1e999`` or a NUL.
(Schemathesis' own pytest plugin does not run under pytest 9, so the operations are driven
with its Hypothesis strategies directly.)
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import GenerationConfig

from api.cli import create_token
from api.main import create_app
from api.settings import Settings
from api.store import import_region
from tests.api.conftest import BACKENDS, postgres_url, reset_postgres
from tests.api.region import write_two_prefectures

_TMP = Path(tempfile.mkdtemp(prefix="fuzz-"))


def _loaded_app(database_url: str):
    app = create_app(Settings(database_url=database_url, stage_time_limit=2))
    with app.state.sessions() as s:
        import_region(s, write_two_prefectures(_TMP / "region"))
        s.commit()
    return app, create_token(app.state.sessions, "fuzz", "admin", None, None)


# The schema (and so the list of operations) is the same whatever the database.
APP, TOKEN = _loaded_app(f"sqlite:///{_TMP / 'fuzz.sqlite'}")
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
SCHEMA.config.generation.update(allow_x00=True)
assert GenerationConfig().allow_x00  # NUL bytes stay allowed whatever the default becomes
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
_SERVERS: dict[str, tuple] = {"sqlite": (APP, TOKEN)}


@pytest.fixture(params=BACKENDS)
def server(request):
    """(app, admin token) on a loaded database of the backend; PostgreSQL set up once."""
    if request.param not in _SERVERS:
        url = postgres_url()
        reset_postgres(url)
        _SERVERS[request.param] = _loaded_app(url)
    return _SERVERS[request.param]


NASTY_NUMBERS = [math.nan, math.inf, -math.inf]
NASTY_TEXT = ["NaN", "Infinity", "-Infinity", "1e999", "\x00", "a\x00b"]


def _poison(value, draw):
    """``value`` with some leaves replaced by NaN, ±Infinity or strings with NUL bytes."""
    if isinstance(value, dict):
        return {k: _poison(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, draw) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return draw(st.sampled_from([value, *NASTY_NUMBERS]))
    if isinstance(value, str):
        return draw(st.sampled_from([value, value + "\x00", "\x00" + value]))
    return value


def poison(case, draw) -> dict:
    """Poison ``case`` in place; returns the keyword arguments its call then needs."""
    for where in ("query", "path_parameters"):
        values = getattr(case, where)
        if values:
            setattr(case, where, {k: draw(st.sampled_from([v, *NASTY_TEXT])) for k, v in values.items()})
    if isinstance(case.body, dict | list) and case.media_type == "application/json":
        # requests refuses to encode NaN; the standard library writes it as JSON's NaN/Infinity.
        return {"json": None, "data": json.dumps(_poison(case.body, draw)).encode(),
                "headers": {"Content-Type": "application/json"}}
    return {}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors(operation, server):
    app, token = server

    @given(case=operation.as_strategy(), data=st.data())
    # Derandomized: the same examples on every CI run (a red build is then reproducible).
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    def call(case, data):
        extra = poison(case, data.draw) if data.draw(st.booleans(), label="poisoned") else {}
        headers = {**extra.pop("headers", {}), "Authorization": f"Bearer {token}"}
        response = case.call(headers=headers, app=app, **extra)
        case.validate_response(response, checks=[not_a_server_error])

    call()


def test_poisoning_puts_nan_infinity_and_nul_into_the_request():
    last = lambda strategy: strategy.wrapped_strategy.elements[-1] if hasattr(strategy, "wrapped_strategy") \
        else strategy.elements[-1]  # noqa: E731
    body = _poison({"a": [1.5, {"b": 2}], "c": "x", "d": True, "e": None}, last)
    assert math.isinf(body["a"][0]) and math.isinf(body["a"][1]["b"]) and body["a"][0] < 0
    assert body["c"] == "\x00x" and body["d"] is True and body["e"] is None
    assert "-Infinity" in json.dumps(body)
