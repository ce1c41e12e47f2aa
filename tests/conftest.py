"""Shared fixtures: real databases, created and dropped by the tests themselves.

`db_url` runs a test on SQLite and, where a PostgreSQL server is reachable, on PostgreSQL too
(a fresh database per test session, dropped at the end). In CI (`CI=true`) PostgreSQL must be
reachable: the suite fails instead of quietly running on SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.db import make_sync_engine
from bot.store.models import Base
from tests.store.sessions import open_sessions

# The real Rasa stack (session fixtures `rasa_stack`, `gateway`, `member_factory`, `talk`...),
# shared by tests/e2e and the real-Rasa attack tests in tests/security; `gw` and `router` of a
# directory's gateway `client` (tests/gateway/agents, tests/security/live_gateway).
pytest_plugins = ["tests.stack", "tests.gateway.app_fixtures"]

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


POSTGRES_AVAILABLE = _postgres_reachable()
if os.environ.get("CI") == "true" and not POSTGRES_AVAILABLE:
    raise RuntimeError(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}")


def _throwaway_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its `postgresql://` URL), dropped afterwards."""
    if not POSTGRES_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable here (CI requires it)")
    name = f"jec_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url.replace("postgresql+psycopg", "postgresql")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session; dropped afterwards."""
    yield from _throwaway_postgres_database()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for one test, with no tables at all."""
    yield from _throwaway_postgres_database()


def _reset_schema(url: str) -> None:
    engine = make_sync_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file with the current schema."""
    url = f"sqlite:///{tmp_path / 'jec-test.db'}"
    _reset_schema(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The current schema on SQLite, then on PostgreSQL: a data-layer test runs on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jec-test.db'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
    _reset_schema(url)
    return url


@pytest.fixture
async def session_factory(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """An async session factory on a fresh SQLite database (services and actions tests)."""
    async with open_sessions(sqlite_url) as factory:
        yield factory
