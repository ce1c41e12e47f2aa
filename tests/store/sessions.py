"""An async session factory on a test database, its engine disposed afterwards: the body of
every `sessions`/`db`/`session_factory` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.db import async_session_factory, make_async_engine


@asynccontextmanager
async def open_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on `url` (a test database with the schema) while the block runs."""
    engine = make_async_engine(url)
    try:
        yield async_session_factory(engine)
    finally:
        await engine.dispose()
