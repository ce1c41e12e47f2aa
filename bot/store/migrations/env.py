"""Alembic environment for the member-services schema (SQLite and PostgreSQL).

Run through `bot.store.migrate` (which puts the database URL in `config.attributes`); the
sync engine of `bot.store.db` is used so SQLite gets its pragmas and PostgreSQL uses psycopg.
SQLite cannot ALTER most things, so migrations are rendered and run in batch mode there.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from bot.store.db import make_sync_engine, sync_url
from bot.store.models import Base
from bot.store.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: call bot.store.migrate.upgrade(database_url)")
    return str(url)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our UTCDateTime as a plain aware DateTime: migrations must not depend on app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_kwargs(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "render_item": render_item,
    }


def run_migrations_offline() -> None:
    url = sync_url(_database_url())
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_kwargs(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_configure_kwargs(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_sync_engine(_database_url())
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **_configure_kwargs(conn.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
