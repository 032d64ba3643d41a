"""Service commands of ``matching``: serve, tokens, database import.  Thin layers over ``api``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console(width=120)
token_app = typer.Typer(help="Access tokens of the service (shown once, stored hashed).", no_args_is_help=True)
db_app = typer.Typer(help="The service's database.", no_args_is_help=True)

DB_OPTION = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                         help="default: the embedded SQLite file matching.sqlite")


def _sessions(database_url: str | None):
    from api.db import make_engine, migrate, session_factory
    from api.settings import Settings

    settings = Settings(**({"database_url": database_url} if database_url else {}))
    engine = make_engine(settings.database_url)
    migrate(engine)
    return settings, session_factory(engine)


def _user_record(user) -> dict:
    from api import audit

    return {k: v for k, v in audit.snapshot(user).items() if k != "token_hash"}


def create_token(sessions, name: str, role: str, prefecture: str | None, municipality: str | None,
                 expires_at=None) -> str:
    """Create a token (recorded in the audit log, without its hash); ``expires_at``: optional end."""
    from api import audit
    from api.models import User
    from api.scope import ROLES
    from api.security import hash_token, new_token

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "prefecture" and not prefecture:
        raise ValueError("a prefecture token needs --prefecture (2 digits)")
    if role == "municipal" and not municipality:
        raise ValueError("a municipal token needs --municipality (5 digits)")
    token = new_token()
    with sessions() as session:
        user = User(name=name, role=role, prefecture_code=prefecture or (municipality[:2] if municipality else None),
                    municipality_code=municipality, token_hash=hash_token(token), active=True, expires_at=expires_at)
        session.add(user)
        session.flush()
        audit.record(session, None, "token_create", "user", str(user.id), None, _user_record(user))
        session.commit()
    return token


def revoke_token(sessions, user_id: int) -> bool:
    """Revoke a token (recorded in the audit log); False when there is no such token."""
    from api import audit
    from api.models import User

    with sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            return False
        before = _user_record(user)
        user.active = False
        session.flush()
        audit.record(session, None, "token_revoke", "user", str(user.id), before, _user_record(user))
        session.commit()
    return True


@token_app.command("create")
def token_create(name: str = typer.Option(..., help="who holds it, e.g. 盛岡市在宅医療介護連携拠点"),
                 role: str = typer.Option(..., help="admin | prefecture | municipal"),
                 prefecture: str = typer.Option(None, help="2-digit code (prefecture staff)"),
                 municipality: str = typer.Option(None, help="5-digit code (municipal coordinator)"),
                 expires_days: int = typer.Option(None, "--expires-days", min=1,
                                                  help="the token stops working after this many days"),
                 database_url: str = DB_OPTION):
    """Create a token; it is printed once and only its hash is stored."""
    from datetime import timedelta

    from api.models import now

    _, sessions = _sessions(database_url)
    try:
        token = create_token(sessions, name, role, prefecture, municipality,
                             expires_at=now() + timedelta(days=expires_days) if expires_days else None)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(token)


@token_app.command("list")
def token_list(database_url: str = DB_OPTION):
    from sqlalchemy import select

    from api.models import User

    _, sessions = _sessions(database_url)
    t = Table("id", "name", "role", "prefecture", "municipality", "active", "created", "expires", "last used")
    stamp = lambda d: "" if d is None else d.isoformat(timespec="seconds")  # noqa: E731
    with sessions() as session:
        for u in session.scalars(select(User).order_by(User.id)):
            t.add_row(str(u.id), u.name, u.role, u.prefecture_code or "", u.municipality_code or "",
                      str(u.active), stamp(u.created_at), stamp(u.expires_at), stamp(u.last_used_at))
    console.print(t)


@token_app.command("revoke")
def token_revoke(user_id: int, database_url: str = DB_OPTION):
    _, sessions = _sessions(database_url)
    if not revoke_token(sessions, user_id):
        console.print(f"[red]no token with id {user_id}[/red]")
        raise typer.Exit(2)
    console.print(f"revoked {user_id}")


@db_app.command("import")
def db_import(region_dir: Path, database_url: str = DB_OPTION):
    """Import a region folder into the database, all or nothing."""
    from api.store import import_region
    from matching.contract import RegionValidationError

    _, sessions = _sessions(database_url)
    with sessions() as session:
        try:
            counts = import_region(session, region_dir)
        except RegionValidationError as exc:
            session.rollback()
            console.print("[red]取込みを中止しました（何も書き込んでいません）[/red]")
            console.print(exc.ja, markup=False)
            raise typer.Exit(2) from None
        session.commit()
    console.print(f"imported {counts}")


def with_region_boundaries(settings, region: Path | None):
    """The settings with the region folder's own municipal boundaries (``boundaries.geojson``, written
    by ``matching import region``) added: the page's offline base map and the placement check then
    cover that region too."""
    from matching.boundaries import REGION_FILE

    own = region / REGION_FILE if region is not None else None
    if own is None or not own.is_file() or own in settings.municipal_boundaries:
        return settings
    return settings.model_copy(update={"municipal_boundaries": [*settings.municipal_boundaries, own]})


def serve(host: str = "127.0.0.1", port: int = 8000, database_url: str = DB_OPTION,
          region: Path = typer.Option(None, help="region imported on first start (default: data/demo)")):
    """Start the service (OpenAPI docs at /docs) on the embedded database, importing the demo on first start."""
    import uvicorn
    from sqlalchemy import func, select

    from api.main import create_app
    from api.models import Area, User
    from api.store import import_region

    settings, _ = _sessions(database_url)
    settings = with_region_boundaries(settings, region)
    app = create_app(settings)
    sessions = app.state.sessions
    with sessions() as session:
        if not session.scalar(select(func.count()).select_from(Area)):
            counts = import_region(session, region or settings.demo_region)
            session.commit()
            console.print(f"imported the demo region: {counts}")
        first = not session.scalar(select(func.count()).select_from(User))
    if first:
        token = create_token(sessions, "first administrator", "admin", None, None)
        console.print(f"administrator token (shown once): [bold]{token}[/bold]")
    console.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")
