"""The coordinators' service: ``create_app()`` builds the FastAPI application."""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from api import web
from api.db import make_engine, migrate, session_factory
from api.jobs import execute_run
from api.middleware import BodyLimit, CleanURL, SecurityHeaders
from api.placement import Placement
from api.ratelimit import RateLimits
from api.readcache import ReadCache, RegionCache
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
from api.runqueue import Poller, RunQueue, recover
from api.settings import Settings, get_settings
from matching.boundaries import MunicipalBoundaries
from matching.tomlfile import problem_ja

log = logging.getLogger("api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """An application bound to ``settings.database_url``; the schema is migrated on creation."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        """Queued (and resumed) runs start with the server; the poller picks up runs queued elsewhere."""
        app.state.run_queue.start_background()
        poller = Poller(app.state.run_queue, settings.run_poll_seconds) if settings.run_poll_seconds else None
        if poller:
            poller.start()
        yield
        if poller:
            poller.stop()

    app = FastAPI(title="協力医療機関マッチング API",
                  description="Status of elderly-care facilities, proposals of cooperating medical "
                              "institutions, and the coordinators' workflow.", version="0.1.0",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.rate_limits = RateLimits(settings)
    app.state.read_cache = ReadCache() if settings.read_cache else None
    app.state.placement = Placement(MunicipalBoundaries.from_paths(settings.municipal_boundaries),
                                    settings.boundary_tolerance_km)
    app.state.region_cache = RegionCache()
    app.state.run_queue = RunQueue(
        app.state.sessions, workers=settings.run_workers,
        execute=lambda run_id: execute_run(app.state.sessions, run_id, settings.stage_time_limit,
                                           settings.road_networks, app.state.region_cache))
    if settings.resume_interrupted_runs:
        recovered = recover(app.state.sessions)
        if any(recovered.values()):
            log.warning("runs interrupted by a server stop: %s", recovered)
    for module in (me, areas, facilities, candidates, institutions, partnerships, status, reports, runs, proposals,
                   imports, audit):
        app.include_router(module.router)
    web.mount(app)  # the coordinators' web page at / (static files under /static)
    # Outermost last: headers on every answer (413 and 422 too), then the URL check, then the size.
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(CleanURL)
    app.add_middleware(SecurityHeaders, tile_url=settings.tile_url, online_tiles=settings.online_tiles)

    @app.exception_handler(IntegrityError)
    def _conflict(request: Request, exc: IntegrityError):  # e.g. a concurrent insert of the same id
        return JSONResponse(status_code=409, content={"detail": "conflicts with existing data"})

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError):
        """422 naming each field (dotted path) — without echoing the input: a NaN or a lone
        surrogate in it could not even be written as JSON."""
        detail = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            field = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
            detail.append({"loc": loc, "field": field, "type": e.get("type", ""),
                           "msg": f"{field}: {e.get('msg', '')}" if field else str(e.get("msg", "")),
                           # the same Japanese as the CLI's parameter files (matching.tomlfile)
                           "message": f"{field}: {problem_ja(e)}" if field else problem_ja(e)})
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception):
        """A bug: the traceback goes to the server log under an error id; the user gets the id."""
        error_id = uuid.uuid4().hex[:12]
        log.error("unhandled error on %s %s (error id %s)", request.method, request.url.path, error_id,
                  exc_info=exc)
        return JSONResponse(status_code=500, content={
            "detail": f"内部エラーが発生しました。管理者に問い合わせる際はエラーID {error_id} をお伝えください",
            "error_id": error_id})

    @app.get("/health", tags=["service"])
    def health() -> dict:
        return {"status": "ok"}

    return app
