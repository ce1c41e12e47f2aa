"""The Redis copy of the cross-conversation locks (`bot.services.throttle.LockMirror`).

Each lock is one key, `jec:lock:<scope>:<hmac>`, holding its end time and expiring then, so any
process can refuse a locked account, phone, address or code destination with one read. The
database stays the record: a Redis that is down, slow or flushed only means the next check reads
the table. Every call has a timeout and never raises into a conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "jec:lock:"


class RedisLockMirror:
    def __init__(self, redis_url: str, *, timeout_seconds: float = 1.0, client: Any = None) -> None:
        if client is None:
            from redis.asyncio import Redis

            client = Redis.from_url(
                redis_url,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
                decode_responses=True,
            )
        self._client = client
        self._timeout = timeout_seconds

    @staticmethod
    def _name(scope: str, key: str) -> str:
        return f"{PREFIX}{scope}:{key}"

    async def until(self, scope: str, keys: Sequence[str], now: datetime) -> datetime | None:
        """The latest end of a mirrored lock on any of `keys`, or None (also when unreachable)."""
        if not keys:
            return None
        try:
            values = await asyncio.wait_for(
                self._client.mget([self._name(scope, k) for k in keys]), self._timeout
            )
        except Exception as exc:  # noqa: BLE001 - the database answers instead
            log.warning("lock mirror unavailable (%s); checking the database", type(exc).__name__)
            return None
        ends = []
        for value in values:
            try:
                ends.append(datetime.fromisoformat(value))
            except (TypeError, ValueError):  # no such lock (None), or not one of ours
                continue
        running = [end for end in ends if end.tzinfo is not None and end > now]
        return max(running) if running else None

    async def put(self, scope: str, key: str, until: datetime, now: datetime) -> None:
        """Mirror a lock until `until` (never shortening a longer one already there)."""
        milliseconds = int((until - now).total_seconds() * 1000)
        if milliseconds <= 0:
            return
        name = self._name(scope, key)
        try:
            current = await self.until(scope, [key], now)
            if current is not None and current >= until:
                return
            await asyncio.wait_for(
                self._client.set(name, until.isoformat(), px=milliseconds), self._timeout
            )
        except Exception as exc:  # noqa: BLE001 - the database row is the record
            log.warning("could not mirror a lock (%s)", type(exc).__name__)

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass
