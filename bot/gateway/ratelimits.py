"""Rate limits at the gateway's edge, with the `limits` library (sliding-window counters).

What is counted (settings in `bot.config.Settings`, docs/security.md):
- messages per WebSocket connection (`RATE_MESSAGES_PER_CONNECTION`) and texts per phone
  (`RATE_TEXTS_PER_PHONE`);
- new web conversations and new WebSocket connections per client address (IPv6 by /64);
- open WebSockets per address at once (`MAX_CONNECTIONS_PER_ADDRESS`) and member messages waiting
  for the assistant per conversation (`MAX_PENDING_TURNS`): counts of what is open in this
  process, so they are plain counters, not windows.

Windows live in memory, or in Redis when `REDIS_URL` is set (shared by every gateway replica).
The strategy is the sliding-window counter (two counters per key, weighted), not the moving
window: the moving window keeps every hit, and `limits`' in-memory storage then expires them
with one thread hop per key, again and again while any hit is recent. With a storm's thousand
phone numbers that loop took most of the event loop (measured: webhook ack p50 1,083 -> 26 ms
at 50 texts/s, bench/README.md). A burst within one window counts exactly the same.
If Redis fails the limit lets the message through and logs a warning: members keep being served
while the verification locks, which are in the database, still hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from bot.config import Settings
from bot.services.throttle import address_bucket

log = logging.getLogger(__name__)

SLOW_DOWN = (
    "You're sending messages faster than I can answer them. Please wait a moment, then send "
    "that again."
)
STILL_WORKING = (
    "I'm still working on your earlier messages. Please wait for my answer, then send that again."
)


def too_many_chats(member_services_phone: str) -> str:
    return (
        "Too many chats have been opened from your connection. Please try again in a little "
        f"while, or call member services at {member_services_phone}."
    )


def _storage(settings: Settings, key_prefix: str) -> Storage:
    if not settings.redis_url:
        storage = storage_from_string("async+memory://")
    else:
        storage = storage_from_string(
            "async+" + settings.redis_url,
            implementation="redispy",
            key_prefix=key_prefix,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )
    assert isinstance(storage, Storage)
    return storage


class EdgeLimits:
    """The gateway's rate limits and caps; one per process, in the gateway container."""

    def __init__(self, settings: Settings, *, key_prefix: str | None = None) -> None:
        # "jec-gateway" with the default REDIS_PREFIX: every installation's keys are its own.
        self._storage = _storage(settings, key_prefix or f"{settings.redis_prefix}-gateway")
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._messages = parse_many(settings.rate_messages_per_connection)
        self._texts = parse_many(settings.rate_texts_per_phone)
        self._new_conversations = parse_many(settings.rate_new_conversations_per_address)
        self._connections = parse_many(settings.rate_connections_per_address)
        self.max_open = settings.max_connections_per_address
        self.max_pending = settings.max_pending_turns
        self._open: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()

    async def close(self) -> None:
        """At shutdown: stop the memory storage's expiry timer, close the Redis connections."""
        timer = getattr(self._storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _hit(self, items: list[RateLimitItem], *keys: str) -> bool:
        try:
            results = [await self._limiter.hit(item, *keys) for item in items]
        except Exception as exc:  # Redis down or slow: serve the member, say so in the log
            log.warning("rate limit storage unavailable, not limiting: %s", exc)
            return True
        return all(results)

    async def message(self, connection_id: str) -> bool:
        """One more member message on this WebSocket connection; False: over the budget."""
        return await self._hit(self._messages, "ws-message", connection_id)

    async def text(self, phone: str) -> bool:
        return await self._hit(self._texts, "sms-text", phone)

    async def new_conversation(self, address: str) -> bool:
        return await self._hit(self._new_conversations, "new-conversation", _bucket(address))

    async def connection(self, address: str) -> bool:
        return await self._hit(self._connections, "ws-connect", _bucket(address))

    @contextmanager
    def open_connection(self, address: str) -> Iterator[bool]:
        """Yields False when the address already has `max_open` sockets open here."""
        key = _bucket(address)
        if self._open[key] >= self.max_open:
            yield False
            return
        self._open[key] += 1
        try:
            yield True
        finally:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]

    def turn_slot(self, conversation_id: str) -> bool:
        """Reserve a place for one more waiting turn; False when the conversation is full."""
        if self._pending[conversation_id] >= self.max_pending:
            return False
        self._pending[conversation_id] += 1
        return True

    def release_turn(self, conversation_id: str, _task: Any = None) -> None:
        self._pending[conversation_id] -= 1
        if self._pending[conversation_id] <= 0:
            del self._pending[conversation_id]

    def hold_turn(self, conversation_id: str, task: asyncio.Task[Any]) -> None:
        """The slot reserved with `turn_slot` is freed when `task` ends."""
        task.add_done_callback(lambda t: self.release_turn(conversation_id, t))

    def pending(self, conversation_id: str) -> int:
        return self._pending[conversation_id]


def _bucket(address: str) -> str:
    return address_bucket(address) or address
