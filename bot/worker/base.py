"""What a background job sees and what a periodic job is.

A periodic job is an idempotent coroutine: it looks for due work in the database (restored
outages with members waiting for a text, notices due today, events not yet delivered), does it,
and returns how many things it did. It must be safe with two copies running at the same moment
(each piece of work claimed by a unique row or key, never by "check, then act"), and safe to run
again after a crash half way. The background engine decides when and where it runs; a job never
sleeps or loops itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.profile import CoopProfile
from bot.services.notify import Notifier


@dataclass(frozen=True)
class JobContext:
    """The collaborators of one worker process, built once by its container."""

    settings: Settings
    profile: CoopProfile
    sessions: async_sessionmaker[AsyncSession]
    notifier: Notifier
    http: aiohttp.ClientSession
    clock: Callable[[], datetime]


JobFunction = Callable[[JobContext], Awaitable[int]]


@dataclass(frozen=True)
class PeriodicTask:
    """A job run every `every_seconds`, once per interval across all worker copies."""

    name: str
    every_seconds: float
    run: JobFunction
