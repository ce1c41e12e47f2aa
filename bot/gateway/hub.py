"""Publish/subscribe of conversation events, and the gateway's background tasks.

A member's WebSocket subscribes to its conversation; the agent console subscribes to its
conversation and to `CONSOLE_CHANNEL` (queue changes). Bot replies, agent replies, typing signals
and queue changes are published here. Two implementations of the same three methods:

- `Hub`: in-process (the embedded default: one gateway process).
- `RedisHub` (HUB=redis, or HUB=auto with REDIS_URL set): every gateway copy shares one Redis
  pub/sub channel (`<REDIS_PREFIX>:hub`), so a member's WebSocket on copy A and an agent's console
  on copy B see each other's messages live. `publish` stays a plain call: it delivers to this
  copy's subscribers at once, then queues the event for one sender task that publishes it in
  order; a listener task delivers what other copies published (its own events carry this copy's
  origin id and are skipped, so nothing is delivered twice here).

Redis is a live-update path, never the record: messages are in the database first. When Redis
is down or slow, this copy's subscribers still get their events, other copies miss them, and
they catch up from the database (a WebSocket fills any gap in sequence numbers from the
database on its next message or reconnect; the console reloads). Nothing raises to the caller.
The Redis client is made in the app's cleanup context (`start`/`close`), with timeouts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.config import Settings

log = logging.getLogger(__name__)

Event = dict[str, Any]
# Failures talking to Redis: the client's own, sockets, timeouts.
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


class Hub:
    """In-process: subscribers of this process only."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._queue_size = queue_size

    async def start(self) -> None:
        """Nothing to connect in-process (see `RedisHub.start`)."""

    async def close(self) -> None:
        """Nothing to close in-process."""

    @asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers[conversation_id].add(queue)
        try:
            yield queue
        finally:
            subs = self._subscribers.get(conversation_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[conversation_id]

    def publish(self, conversation_id: str, event: Event) -> int:
        """Deliver to every current subscriber; a full (stuck) subscriber misses it and catches
        up from the database on its next reconnect. Returns how many (here) received it."""
        return self._deliver(conversation_id, event)

    def _deliver(self, conversation_id: str, event: Event) -> int:
        delivered = 0
        for queue in list(self._subscribers.get(conversation_id, ())):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("subscriber queue full for a conversation; it will replay on reconnect")
        return delivered

    def has_subscribers(self, conversation_id: str) -> bool:
        """Subscribers in this process (with `RedisHub`, other copies may have more)."""
        return bool(self._subscribers.get(conversation_id))


class RedisHub(Hub):
    """`Hub` across gateway copies over one Redis pub/sub channel (see the module docstring)."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "jec",
        queue_size: int = 256,
        timeout_seconds: float = 5.0,
        outbox_size: int = 10_000,
        retry_seconds: float = 1.0,
    ) -> None:
        super().__init__(queue_size)
        self._url = redis_url
        self.channel = f"{prefix}:hub"
        self.origin = uuid.uuid4().hex  # this copy; its own events are not delivered twice
        self.client_name = f"{prefix}-hub-{self.origin[:12]}"
        self._timeout = timeout_seconds
        self._outbox_size = outbox_size
        self._retry = retry_seconds
        self._client: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_warning = 0.0
        self.subscribed = asyncio.Event()  # set while the listener is subscribed
        self.dropped = 0  # events other copies never got (Redis down, outbox full)

    async def start(self) -> None:
        """Make the client (no connection yet: an outage here is not a failed start) and the
        sender and listener tasks."""
        self._client = aioredis.from_url(
            self._url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            health_check_interval=15,  # a silent dead connection is noticed (PING) and replaced
            client_name=self.client_name,  # CLIENT LIST tells which copy a connection is
        )
        self._outbox = asyncio.Queue(self._outbox_size)
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="hub-redis-send"),
            asyncio.create_task(self._listen_forever(), name="hub-redis-listen"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            with suppress(*REDIS_FAILURES):
                await self._client.aclose()
            self._client = None

    def publish(self, conversation_id: str, event: Event) -> int:
        delivered = self._deliver(conversation_id, event)
        if self._outbox is None:  # not started (or closed): this copy only
            return delivered
        data = json.dumps(
            {"o": self.origin, "c": conversation_id, "e": event}, default=str, ensure_ascii=False
        ).encode("utf-8")
        try:
            self._outbox.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped += 1
            self._warn("hub outbox full (Redis slow or down): other gateway copies miss an event")
        return delivered

    # -- Redis side ------------------------------------------------------------------------------
    async def _send_forever(self) -> None:
        """Publish queued events in order, a pipeline per batch; on failure drop the batch (the
        other copies catch up from the database) and wait before the next."""
        assert self._outbox is not None and self._client is not None
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < 200 and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                pipe = self._client.pipeline(transaction=False)
                for data in batch:
                    pipe.publish(self.channel, data)
                await asyncio.wait_for(pipe.execute(), self._timeout)
            except REDIS_FAILURES as exc:
                self.dropped += len(batch)
                self._warn(f"hub could not publish to Redis ({type(exc).__name__}: {exc})")
                await asyncio.sleep(self._retry)

    async def _listen_forever(self) -> None:
        """Deliver what other copies publish; resubscribe after a Redis failure."""
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), self._timeout)
                self.subscribed.set()
                log.info("hub subscribed to Redis channel %s", self.channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._on_remote(message["data"])
            except REDIS_FAILURES as exc:
                self._warn(f"hub lost Redis ({type(exc).__name__}: {exc}); retrying")
            finally:
                self.subscribed.clear()
                with suppress(*REDIS_FAILURES):
                    await asyncio.wait_for(pubsub.aclose(), self._timeout)
            await asyncio.sleep(self._retry)

    def _on_remote(self, data: bytes) -> None:
        try:
            wire = json.loads(data)
            origin, conversation_id, event = wire["o"], wire["c"], wire["e"]
        except (ValueError, TypeError, KeyError):
            log.warning("hub ignored a malformed message on %s", self.channel)
            return
        if origin == self.origin or not isinstance(event, dict):
            return  # delivered here already, when it was published
        self._deliver(str(conversation_id), event)

    def _warn(self, message: str) -> None:
        """At most one warning every 10 s: an outage must not flood the log."""
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            log.warning(message)


def build_hub(settings: Settings) -> Hub:
    """The hub `.env` asks for: Redis pub/sub when HUB resolves to redis, else in-process."""
    if settings.hub_backend == "redis":
        return RedisHub(
            settings.redis_url,
            prefix=settings.redis_prefix,
            timeout_seconds=min(settings.http_timeout_seconds, 5.0),
        )
    return Hub()


class TaskTracker:
    """Background work (bot turns, late SMS replies) that outlives a request but not the app."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float = 5.0) -> None:
        """Let running work finish (briefly) at shutdown, then cancel the rest."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class KeyedLocks:
    """One asyncio lock per conversation, so one conversation's turns run in order."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]
