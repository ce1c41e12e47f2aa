"""Queue fixtures: each engine for real (SQLite; the local Redis under a random prefix)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.queue.redis_streams import RedisJobQueue
from bot.queue.sql import SqlJobQueue

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


class Clock:
    """A wall clock the test moves (leases and backoff without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_TEST_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
async def engine(request: pytest.FixtureRequest, tmp_path: Any, clock: Clock) -> AsyncIterator[Any]:
    """Each engine for real: the SQL engine on SQLite and PostgreSQL, the Redis engine."""
    if request.param in ("sqlite", "postgresql"):
        from conftest import _reset_schema

        from bot.store.db import async_session_factory, make_async_engine

        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'queue.db'}"
        else:
            url = request.getfixturevalue("postgres_server_url")
        _reset_schema(url)
        db = make_async_engine(url)
        try:
            yield SqlJobQueue(async_session_factory(db), clock)
        finally:
            await db.dispose()
        return
    queue = RedisJobQueue(_redis_or_skip(), prefix=f"jec-test-{uuid.uuid4().hex[:10]}", clock=clock)
    try:
        yield queue
    finally:
        await queue.delete_everything()
        await queue.close()
