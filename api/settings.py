"""Service settings, read from the environment (one pydantic-settings class)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matching.boundaries import BUNDLED as BUNDLED_BOUNDARIES

REPO = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """``DATABASE_URL`` selects the database: an embedded SQLite file by default,
    PostgreSQL in production (``postgresql+psycopg://user@host/db``)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = f"sqlite:///{REPO / 'matching.sqlite'}"
    #: Region folder imported on first start when the database is empty (``matching serve``).
    demo_region: Path = REPO / "data" / "demo"
    #: Whole-run solver effort per stage (deterministic seconds) for runs started through the API.
    stage_time_limit: float = 20.0
    #: The web page's base map is offline: the municipal boundaries above (国土数値情報), drawn with
    #: their names, so it works on a closed network (LGWAN).  ``TILE_URL``: a tile server of your
    #: own (e.g. inside the closed network), shown under the boundaries by default; empty = none.
    tile_url: str = ""
    #: ``ONLINE_TILES=true`` offers 地理院タイル（淡色） and OpenStreetMap in the map's layer switch
    #: (off by default: a page on a closed network must not try to reach them).
    online_tiles: bool = False
    #: Largest request body accepted (``MAX_BODY_BYTES``); larger ones get 413.  Imports of a
    #: prefecture are a few MB; a national region should be imported with ``matching db import``.
    max_body_bytes: int = 50 * 1024 * 1024
    #: At start-up, resume runs a stopped server left running (``RESUME_INTERRUPTED_RUNS``; see
    #: ``api.runqueue``).  Turn off when several server processes share one database (another
    #: process may be running them); queued runs are kept either way.
    resume_interrupted_runs: bool = True
    #: Runs executing at once in this server process (``RUN_WORKERS``); more wait in the queue.
    #: A run's solver uses up to two cores itself, so one worker per two cores is the default.
    run_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    #: Seconds between looks at the queue for runs queued by another process (``RUN_POLL_SECONDS``; 0 = never).
    run_poll_seconds: float = Field(default=5.0, ge=0)
    #: Municipal boundaries (GeoJSON, 国土数値情報 N03) facilities are checked against
    #: (``MUNICIPAL_BOUNDARIES='["/srv/geo/19.json", "/srv/geo/20.json"]'``); default: the bundled 岩手.
    municipal_boundaries: list[Path] = list(BUNDLED_BOUNDARIES)
    #: How far outside its municipality a facility may lie (``BOUNDARY_TOLERANCE_KM``): the
    #: simplified boundary files move borders by a few hundred metres.
    boundary_tolerance_km: float = Field(default=1.0, ge=0)
    #: Keep the read endpoints' answers in memory per data version (``READ_CACHE``, see
    #: ``api.readcache``); off only to measure without it.
    read_cache: bool = True
    #: Per-token limits (``limits`` notation, e.g. ``"10/minute"``); beyond them 429 with ``Retry-After``.
    run_rate_limit: str = "10/minute"
    import_rate_limit: str = "20/minute"
    #: Where the rate-limit counters live (``RATE_LIMIT_STORAGE``): in the process by default,
    #: ``redis://127.0.0.1:6379`` to share them between server processes.
    rate_limit_storage: str = "memory://"
    #: Road networks runs may use, by key (``ROAD_NETWORKS='{"iwate": "/srv/roads/iwate.graphml"}'``).
    #: A run names a key (``parameters.travel.road_network``); paths never come from the API.
    road_networks: dict[str, Path] = {}
    #: The credit of ``TILE_URL``'s tiles.
    tile_attribution: str = ""

    @field_validator("run_rate_limit", "import_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        parse(value)  # "10/minute", "100 per hour"; a typo stops the start, not a request
        return value


def get_settings() -> Settings:
    return Settings()
