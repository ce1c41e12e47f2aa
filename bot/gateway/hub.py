"""In-process publish/subscribe of conversation events, and the gateway's background tasks.

A WebSocket subscribes to its conversation; bot replies, agent replies and typing signals are
published here. The agent console will subscribe the same way. With several gateway replicas
this becomes Redis pub/sub behind the same two methods.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

Event = dict[str, Any]


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._queue_size = queue_size

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
        up from the database on its next reconnect. Returns how many received it."""
        delivered = 0
        for queue in list(self._subscribers.get(conversation_id, ())):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("subscriber queue full for a conversation; it will replay on reconnect")
        return delivered

    def has_subscribers(self, conversation_id: str) -> bool:
        return bool(self._subscribers.get(conversation_id))


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
