"""The queue engine a deployment chose in `.env` (`QUEUE_BACKEND`: sql | redis)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.errors import ConfigError
from bot.queue.base import JobQueue
from bot.queue.sql import SqlJobQueue


def build_queue(settings: Settings, factory: async_sessionmaker[AsyncSession]) -> JobQueue:
    if settings.queue_backend == "redis":
        if not settings.redis_url:
            raise ConfigError("QUEUE_BACKEND=redis needs REDIS_URL")
        from bot.queue.redis_streams import RedisJobQueue

        return RedisJobQueue(settings.redis_url, prefix=settings.queue_redis_prefix)
    return SqlJobQueue(factory)
