"""The coordinators' service: ``create_app()`` builds the FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from api import web
from api.db import make_engine, migrate, session_factory
from api.routes import (
    areas,
    audit,
    candidates,
    facilities,
    imports,
    institutions,
    me,
    partnerships,
    proposals,
    reports,
    runs,
    status,
)
from api.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """An application bound to ``settings.database_url``; the schema is migrated on creation."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    app = FastAPI(title="協力医療機関マッチング API",
                  description="Status of elderly-care facilities, proposals of cooperating medical "
                              "institutions, and the coordinators' workflow.", version="0.1.0")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    for module in (me, areas, facilities, candidates, institutions, partnerships, status, reports, runs, proposals,
                   imports, audit):
        app.include_router(module.router)
    web.mount(app)  # the coordinators' web page at / (static files under /static)

    @app.exception_handler(IntegrityError)
    def _conflict(request: Request, exc: IntegrityError):  # e.g. a concurrent insert of the same id
        return JSONResponse(status_code=409, content={"detail": "conflicts with existing data"})

    @app.get("/health", tags=["service"])
    def health() -> dict:
        return {"status": "ok"}

    return app
