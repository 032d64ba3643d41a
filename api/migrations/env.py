"""Alembic environment: the engine comes from ``api.db.alembic_config`` (or DATABASE_URL)."""

from alembic import context

from api.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from api.db import make_engine
        from api.settings import get_settings

        engine = make_engine(get_settings().database_url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=engine.dialect.name == "sqlite")
        context.run_migrations()


run_migrations_online()
