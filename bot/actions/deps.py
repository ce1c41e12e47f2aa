"""What the custom actions need, built in ONE place: settings, co-op profile, database, clock.

The action server is one process with one event loop. The first action that runs calls
`await get_deps()`, which reads `.env`, loads and validates the co-op profile and creates the async
engine *inside that running loop* (nothing is created at import time, so importing `bot.actions`
never opens a database). Later calls get the same object.

Tests replace the whole container with `use_deps(ActionDeps(...))` (and `use_deps(None)` after), so
an action test runs against its own SQLite file and a fixed clock.

Clock: actions never call `datetime.now()`; they ask `deps.now()`. For end-to-end tests only, the
environment variable `JEC_FAKE_NOW` (an ISO timestamp with a UTC offset, e.g.
`2026-12-01T10:00:00-05:00`) freezes the action server's clock. Never set it in production.
Tests only, too: `JEC_FAKE_NOW_FILE` names a file holding such a timestamp, read again on every
`deps.now()`, so an end-to-end test can move the clock of a running action server (office hours
on a holiday, say) without restarting Rasa. While the file is missing or empty the clock falls back
to `JEC_FAKE_NOW`, then to the real time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # the profile module is only needed at run time, inside get_deps()
    from bot.profile import CoopProfile

FAKE_NOW_ENV = "JEC_FAKE_NOW"  # test-only: freezes the clock of the action server
FAKE_NOW_FILE_ENV = "JEC_FAKE_NOW_FILE"  # test-only: a file whose timestamp is the clock, re-read

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stuck at `at` (must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware datetime")
    return lambda: at


def _parse_fake_now(raw: str, source: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{source} must be an ISO timestamp, not {raw!r}") from None
    if at.tzinfo is None:
        raise ConfigError(f"{source} must include a UTC offset, e.g. 2026-12-01T10:00:00-05:00")
    return at


def file_clock(path: Path, fallback: Clock) -> Clock:
    """TESTS ONLY: a clock that reads an ISO timestamp from `path` on every call (a tiny local
    file, so the blocking read is negligible; never used in production). A missing or empty
    file means `fallback`; a malformed one raises ConfigError, so a broken test setup is loud."""

    def now() -> datetime:
        try:
            raw = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raw = ""
        return _parse_fake_now(raw, f"{FAKE_NOW_FILE_ENV} ({path})") if raw else fallback()

    return now


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Clock:
    """The system clock, or the frozen one named by JEC_FAKE_NOW, or the settable one in the file
    named by JEC_FAKE_NOW_FILE (end-to-end tests only)."""
    raw = environ.get(FAKE_NOW_ENV, "").strip()
    clock = fixed_clock(_parse_fake_now(raw, FAKE_NOW_ENV)) if raw else system_clock
    file_name = environ.get(FAKE_NOW_FILE_ENV, "").strip()
    return file_clock(Path(file_name), clock) if file_name else clock


@dataclass(frozen=True)
class ActionDeps:
    """Everything an action may use. Built once per process (or by a test)."""

    settings: Settings
    profile: CoopProfile
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock = system_clock
    engine: AsyncEngine | None = (
        None  # owned here when built by get_deps(); disposed by close_deps()
    )

    def now(self) -> datetime:
        return self.clock()


_deps: ActionDeps | None = None
_deps_loop: asyncio.AbstractEventLoop | None = None
_lock: asyncio.Lock | None = None


def _build_sync_parts() -> tuple[Settings, Any]:
    """File reads (.env, profile YAML): run in a worker thread so the loop never blocks."""
    from bot.profile import load_profile

    settings = load_settings()
    return settings, load_profile(settings.coop_profile)


async def _build() -> ActionDeps:
    from bot.store.db import async_session_factory, make_async_engine

    settings, profile = await asyncio.to_thread(_build_sync_parts)
    engine = make_async_engine(settings.database_url, pool_pre_ping=True)
    return ActionDeps(
        settings=settings,
        profile=profile,
        session_factory=async_session_factory(engine),
        clock=clock_from_env(),
        engine=engine,
    )


async def get_deps() -> ActionDeps:
    """The process's dependencies, built on first use inside the running loop."""
    global _deps, _deps_loop, _lock
    loop = asyncio.get_running_loop()
    if _deps is not None and (_deps_loop is None or _deps_loop is loop):
        return _deps
    if _lock is None or _deps_loop is not loop:
        _lock = asyncio.Lock()
    async with _lock:
        if _deps is None or (_deps_loop is not None and _deps_loop is not loop):
            # A different loop (only in tests that run several loops) cannot reuse the engine.
            _deps = await _build()
            _deps_loop = loop
        return _deps


def use_deps(deps: ActionDeps | None) -> None:
    """Tests: make every action use `deps` (any loop); `None` goes back to lazy building."""
    global _deps, _deps_loop
    _deps = deps
    _deps_loop = None


async def close_deps() -> None:
    """Dispose of the engine this module built (action server shutdown, tests)."""
    global _deps, _deps_loop
    deps, _deps, _deps_loop = _deps, None, None
    if deps is not None and deps.engine is not None:
        await deps.engine.dispose()
