"""What the custom actions need, wired in ONE place: settings, the co-op profile, the database,
the member services, the notifier, the payment processor, the rules and one clock.

The action server is one process with one event loop. The first action that runs calls
`await get_deps()`, which reads `.env`, loads and validates the co-op profile and creates the async
engine *inside that running loop* (nothing is created at import time, so importing `bot.actions`
never opens a database). Later calls get the same object.

Actions never build collaborators themselves: they use `deps.members` (the `MemberServices`
protocol: our database by default, a co-op's billing-system adapter in its place), `deps.notifier`
and `deps.processor`. Tests build a container with `wire(...)` (overriding any collaborator) and
install it with `use_deps(...)` (`use_deps(None)` after), so an action test runs against its own
SQLite file and a fixed clock. The clock is `bot.core.clock`'s (test-only JEC_FAKE_NOW and
JEC_FAKE_NOW_FILE included).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.notifier import build_notifier
from bot.adapters.redis_locks import RedisLockMirror
from bot.adapters.sandbox_processor import SandboxProcessor
from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import Settings, check_secrets, load_settings
from bot.core.clock import Clock, clock_from_env, system_clock
from bot.profile import CoopProfile, load_profile
from bot.services.members import MemberServices
from bot.services.notify import Notifier
from bot.services.payment_processor import PaymentProcessor
from bot.services.rules import Rules
from bot.services.throttle import LockMirror
from bot.store.db import async_session_factory, make_async_engine


@dataclass(frozen=True)
class ActionDeps:
    """Everything an action may use. Built once per process (or by a test) with `wire`."""

    settings: Settings
    profile: CoopProfile
    sessions: async_sessionmaker[AsyncSession]
    members: MemberServices
    notifier: Notifier
    processor: PaymentProcessor
    rules: Rules
    clock: Clock = system_clock
    engine: AsyncEngine | None = None  # owned here when built by get_deps(); closed by close_deps()
    locks: LockMirror | None = None  # Redis copy of the security locks, where REDIS_URL is set

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in the co-op's time zone."""
        return self.clock().astimezone(self.profile.timezone).date()


def wire(
    settings: Settings,
    profile: CoopProfile,
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock = system_clock,
    engine: AsyncEngine | None = None,
    members: MemberServices | None = None,
    notifier: Notifier | None = None,
    processor: PaymentProcessor | None = None,
    locks: LockMirror | None = None,
) -> ActionDeps:
    """The container with its default collaborators (our database, the configured notifier, the
    sandbox processor); pass any of them to use another."""
    rules = Rules.from_profile(
        profile, processor_timeout_seconds=min(20.0, settings.http_timeout_seconds)
    )
    return ActionDeps(
        settings=settings,
        profile=profile,
        sessions=sessions,
        members=members or SqlMemberServices(sessions, rules.billing),
        notifier=notifier or build_notifier(settings, sessions),
        processor=processor or SandboxProcessor(),
        rules=rules,
        clock=clock,
        engine=engine,
        locks=locks
        or (
            RedisLockMirror(
                settings.redis_url, timeout_seconds=min(2.0, settings.http_timeout_seconds)
            )
            if settings.redis_url
            else None
        ),
    )


_deps: ActionDeps | None = None
_deps_loop: asyncio.AbstractEventLoop | None = None
_lock: asyncio.Lock | None = None


def _read_configuration() -> tuple[Settings, CoopProfile]:
    """File reads (.env, profile YAML): run in a worker thread so the loop never blocks.
    Refuses example or short secrets on a public installation (ConfigError)."""
    settings = load_settings()
    check_secrets(settings)
    return settings, load_profile(settings.coop_profile)


async def _build() -> ActionDeps:
    settings, profile = await asyncio.to_thread(_read_configuration)
    engine = make_async_engine(settings.database_url, pool_pre_ping=True)
    return wire(
        settings, profile, async_session_factory(engine), clock=clock_from_env(), engine=engine
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
    if deps is not None and isinstance(deps.locks, RedisLockMirror):
        await deps.locks.close()
