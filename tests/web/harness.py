"""Run the service in a background thread (uvicorn, free port, temp SQLite) and drive it with headless
Chromium: shared by the end-to-end tests and docs/screenshots/take.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from api.cli import create_token
from api.main import create_app
from api.settings import Settings
from api.store import import_region

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Server:
    url: str
    app: object
    tokens: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(region: Path, db_dir: Path, users: dict[str, tuple], stage_time_limit: float = 10.0) -> Iterator[Server]:
    """The app on ``region`` with map tiles disabled (offline); ``users`` maps a key to
    (name, role, prefecture, municipality) and each gets a token."""
    app = create_app(Settings(database_url=f"sqlite:///{db_dir / 'web.sqlite'}", tile_url="",
                              stage_time_limit=stage_time_limit))
    with app.state.sessions() as session:
        import_region(session, region)
        session.commit()
    tokens = {key: create_token(app.state.sessions, *spec) for key, spec in users.items()}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", app, tokens)
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.engine.dispose()


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def sign_in(page, server: Server, who: str) -> None:
    page.goto(server.url + "/")
    page.fill("#token", server.tokens[who])
    page.click("#signin-button")
    page.wait_for_selector("body[data-ready=true]")
