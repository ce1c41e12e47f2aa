"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bot.store.db import make_sync_engine
from bot.store.migrate import alembic_config, current_revisions, upgrade
from bot.store.models import Base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (unlike `db_url`, which runs create_all)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    name = f"jec_mig_{uuid.uuid4().hex[:10]}"
    admin_url = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_creates_the_schema_of_the_models(empty_db_url: str) -> None:
    assert current_revisions(empty_db_url) == set()
    upgrade(empty_db_url)
    heads = set(ScriptDirectory.from_config(alembic_config(empty_db_url)).get_heads())
    assert current_revisions(empty_db_url) == heads
    engine = make_sync_engine(empty_db_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert tables == set(Base.metadata.tables)
    assert len(tables) >= 22
    assert diffs == []


def test_first_revision_is_0001_initial_and_later_ones_build_on_it(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config(f"sqlite:///{tmp_path / 'x.db'}"))
    bases = script.get_bases()
    assert bases == ["0001_initial"]
    for head in script.get_heads():
        chain = [rev.revision for rev in script.walk_revisions("base", head)]
        assert chain[-1] == "0001_initial"


def test_upgrade_twice_is_harmless(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    before = current_revisions(empty_db_url)
    upgrade(empty_db_url)
    assert current_revisions(empty_db_url) == before


def test_migrated_timestamp_columns_are_timezone_aware(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_sync_engine(empty_db_url)
    with engine.connect() as conn:
        columns = {c["name"]: c for c in inspect(conn).get_columns("payments")}
    engine.dispose()
    if engine.dialect.name == "postgresql":
        assert columns["received_at"]["type"].timezone is True
    assert (
        "DATETIME" in str(columns["received_at"]["type"]).upper()
        or "TIMESTAMP" in str(columns["received_at"]["type"]).upper()
    )
