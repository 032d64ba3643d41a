"""The coordinators' web page: static HTML + ES modules + CSS, served by the same service.

The page calls only the JSON API with the user's bearer token; nothing here reads the
database.  ``mount(app)`` serves ``/static`` and ``/`` (index.html with the map-tile
settings filled in).
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent
VENDOR = WEB.parents[1] / "matching" / "vendor"


def mount(app: FastAPI) -> None:
    # The vendored libraries (Leaflet, leaflet.markercluster) live once, in matching/vendor/, shared
    # with the HTML report; mounted before /static so that /static/vendor/... resolves there.
    app.mount("/static/vendor", StaticFiles(directory=VENDOR), name="vendor")
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index() -> HTMLResponse:
        s = app.state.settings
        page = (WEB / "index.html").read_text(encoding="utf-8")
        page = page.replace("{{TILE_URL}}", html.escape(s.tile_url, quote=True))
        page = page.replace("{{TILE_ATTRIBUTION}}", html.escape(s.tile_attribution, quote=True))
        page = page.replace("{{ONLINE_TILES}}", "true" if s.online_tiles else "")
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
