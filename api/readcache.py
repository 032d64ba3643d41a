"""Answers of the read endpoints kept in memory per data version (``api.dataversion``).

A list of a prefecture's facilities with their status, its institutions, its status table …
change only when the data changes, while a busy office reads them constantly.  Each answer is
kept as JSON under (data version, path, query, scope); the first read after a change computes
it, every other read is one primary-key query plus the token check.  ``READ_CACHE=false`` turns
it off (to measure against).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from api import dataversion
from api.scope import Scope

_ADAPTERS: dict[Any, TypeAdapter] = {}


class ReadCache:
    def __init__(self, size: int = 1024):
        self.size = size
        self._answers: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: tuple, body: bytes) -> None:
        with self._lock:
            self._answers[key] = body
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class RegionCache:
    """The region as the library loads it from the database (``api.store.load_from_db``), kept per
    data version: a status read or a municipality's re-run does not rebuild it from the tables.
    Callers get their own copy (the library may add columns to its frames)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._found: OrderedDict[tuple, tuple] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, session: Session, prefecture: str | None, for_matching: bool = False):
        from api.store import load_from_db

        with self._guard:
            lock = self._locks.setdefault((prefecture, for_matching), threading.Lock())
        with lock:  # readers arriving together after a change wait for one load
            key = (dataversion.current(session), prefecture, for_matching)
            found = self._found.get(key)
            if found is None:
                found = self._found[key] = load_from_db(session, prefecture, for_matching=for_matching)
                while len(self._found) > self.size:
                    self._found.popitem(last=False)
            else:
                self._found.move_to_end(key)
        region, forbidden = found
        return copy.deepcopy(region), list(forbidden)


def dump(model: Any, value: Any) -> bytes:
    """``value`` (ORM rows, models or plain data) as the JSON of ``model``, as FastAPI would write it."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter.dump_json(adapter.validate_python(value, from_attributes=True))


def cached_json(request: Request, session: Session, scope: Scope, model: Any,
                compute: Callable[[], Any]) -> Response:
    """The answer of ``compute()`` as ``model`` JSON, from the cache when the data has not changed."""
    cache: ReadCache | None = request.app.state.read_cache
    if cache is None:
        return Response(dump(model, compute()), media_type="application/json")
    key = (dataversion.current(session), request.url.path, tuple(sorted(request.query_params.multi_items())),
           scope.role, scope.prefecture_code, scope.municipalities, scope.prefecture_municipalities)
    body = cache.get(key)
    if body is None:
        body = dump(model, compute())
        cache.put(key, body)
    return Response(body, media_type="application/json")


def cached_read(model: Any):
    """Decorate a read route (with ``request``, ``session`` and ``scope`` parameters) so its answer
    is served by :func:`cached_json`; its ``response_model`` should be ``model``."""

    def wrap(route: Callable) -> Callable:
        @functools.wraps(route)
        def cached_route(**kwargs):
            return cached_json(kwargs["request"], kwargs["session"], kwargs["scope"], model,
                               lambda: route(**kwargs))

        return cached_route

    return wrap
