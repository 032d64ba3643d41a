"""Service settings, read from the environment (one pydantic-settings class)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

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
    #: Map tiles of the web page (``TILE_URL``); empty = no tiles, points on a plain background (offline).
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    #: Largest request body accepted (``MAX_BODY_BYTES``); larger ones get 413.  Imports of a
    #: prefecture are a few MB; a national region should be imported with ``matching db import``.
    max_body_bytes: int = 50 * 1024 * 1024
    #: At start-up, mark runs left queued/running by a stopped server as failed (``FAIL_INTERRUPTED_RUNS``).
    #: Turn off only when several server processes share one database.
    fail_interrupted_runs: bool = True
    #: Road networks runs may use, by key (``ROAD_NETWORKS='{"iwate": "/srv/roads/iwate.graphml"}'``).
    #: A run names a key (``parameters.travel.road_network``); paths never come from the API.
    road_networks: dict[str, Path] = {}
    tile_attribution: str = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def get_settings() -> Settings:
    return Settings()
