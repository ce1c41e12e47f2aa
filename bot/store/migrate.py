"""Alembic migrations, driven from code: no alembic.ini at the repository root.

`jecbot init-db`, `make run` and the demo-data loader call `upgrade(url)`; it always goes to
"heads" so a later branch of migrations (for example the gateway's) is applied too. The
Alembic `Config` is built here with `script_location = bot/store/migrations`; the database URL
travels in `config.attributes`, so passwords with `%` in them need no escaping.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from bot.store.db import make_sync_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic `Config` for our migrations and this database (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database to `revision` (default: every head). Safe to run again."""
    command.upgrade(alembic_config(database_url), revision)


def current_revisions(database_url: str) -> set[str]:
    """The revisions the database is at (empty set for a database never migrated)."""
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def schema_exists(database_url: str) -> bool:
    """True when the member tables exist (made by migrations or, in tests, by `create_all`)."""
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("members")
    finally:
        engine.dispose()


def ensure_schema(database_url: str) -> None:
    """Migrate to the heads unless the tables were made without Alembic (tests' `create_all`).

    A database with no tables, or one managed by Alembic, is upgraded (a no-op when current);
    a database whose tables exist but has no `alembic_version` is left as it is.
    """
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            managed = inspector.has_table("alembic_version")
            has_tables = inspector.has_table("members")
    finally:
        engine.dispose()
    if managed or not has_tables:
        upgrade(database_url)


def sync_id_sequences(conn: Connection, table_names: list[str]) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past the new rows.

    The demo generator and the importer assign ids themselves (so child rows can be inserted
    with executemany, without a round trip per row). SQLite needs nothing; PostgreSQL's serial
    sequences would otherwise hand out ids that already exist.
    """
    if conn.dialect.name != "postgresql":
        return
    for name in table_names:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )
