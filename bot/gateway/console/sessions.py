"""Console sessions held server-side, the sign-in throttle and the password-hashing pool.

Sessions: the cookie carries a random session id (signed, `console.auth`); the database holds
its SHA-256 with the agent, the CSRF token, the last activity and an absolute expiry. A session
ends after 30 idle minutes, at its absolute lifetime (`CONSOLE_SESSION_HOURS`), or as soon as it
is revoked: sign-out, a password change or the agent disabled (`jecbot agents`). A copied cookie
therefore dies with the session it was copied from.

Throttle: every refused sign-in is counted per username and per client address (HMACs, never the
values). 5 refusals for one username in 15 minutes lock that username for a minute, 20 from one
address lock the address for 5 minutes; each earlier lock that day doubles the next one (at most
an hour for a username, a day for an address). While locked, no password is checked at all.

Hashing pool: argon2 is deliberately slow, so its checks run in a small executor of their own
(2 threads, at most 16 checks waiting), never in the default pool that Twilio sends use; beyond
that the sign-in answers "busy" instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.console.auth import INACTIVITY
from bot.services import audit
from bot.services.throttle import add_lock, address_bucket, doubled, hmac_key, lock_until
from bot.services.throttle import locks_since as _locks_since
from bot.store.db import session_scope
from bot.store.models import Agent, ConsoleSessionRow, ConsoleSignInAttempt, SecurityLock

log = logging.getLogger(__name__)

USER_SCOPE = "console_user"
ADDRESS_SCOPE = "console_address"
WINDOW = timedelta(minutes=15)
USER_LIMIT = 5
ADDRESS_LIMIT = 20
USER_LOCK = timedelta(minutes=1)
USER_LOCK_CAP = timedelta(hours=1)
ADDRESS_LOCK = timedelta(minutes=5)
ADDRESS_LOCK_CAP = timedelta(hours=24)

T = TypeVar("T")


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


# -- the hashing pool --------------------------------------------------------------------------


class PoolBusy(RuntimeError):
    """Too many password checks are already waiting."""


class HashingPool:
    """A bounded executor for argon2: `workers` threads, at most `max_waiting` calls queued."""

    def __init__(self, workers: int = 2, max_waiting: int = 16) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.BoundedSemaphore(workers + max_waiting)
        self.workers = workers

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self._slots.locked():
            raise PoolBusy("password checks are busy")
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# -- server-side sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveSession:
    agent_id: int
    csrf: str


async def create_session(
    factory: async_sessionmaker[AsyncSession],
    agent_id: int,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, str]:
    """A new session for `agent_id`: (session id for the cookie, CSRF token)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    async with session_scope(factory) as session:
        session.add(
            ConsoleSessionRow(
                id_hash=id_hash(session_id),
                agent_id=agent_id,
                csrf=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )
    return session_id, csrf


async def live_session(
    factory: async_sessionmaker[AsyncSession], session_id: str, now: datetime
) -> LiveSession | None:
    """The session behind `session_id` if it is neither revoked, expired, idle nor its agent
    disabled."""
    if not session_id:
        return None
    async with session_scope(factory) as session:
        found = (
            await session.execute(
                select(ConsoleSessionRow, Agent.disabled_at)
                .join(Agent, Agent.id == ConsoleSessionRow.agent_id)
                .where(ConsoleSessionRow.id_hash == id_hash(session_id))
            )
        ).first()
    if found is None:
        return None
    row, disabled_at = found
    if (
        row.revoked_at is not None
        or disabled_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at > INACTIVITY
    ):
        return None
    return LiveSession(row.agent_id, row.csrf)


async def touch(factory: async_sessionmaker[AsyncSession], session_id: str, now: datetime) -> None:
    """Record activity (a page load or a form post) on the session."""
    async with session_scope(factory) as session:
        await session.execute(
            update(ConsoleSessionRow)
            .where(ConsoleSessionRow.id_hash == id_hash(session_id))
            .values(last_seen_at=now)
        )


async def revoke(
    factory: async_sessionmaker[AsyncSession], session_id: str, reason: str, now: datetime
) -> None:
    async with session_scope(factory) as session:
        await session.execute(
            update(ConsoleSessionRow)
            .where(
                ConsoleSessionRow.id_hash == id_hash(session_id),
                ConsoleSessionRow.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )


# -- the sign-in throttle --------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleKeys:
    username: str
    address: str | None


def throttle_keys(secret_key: str, username: str, remote: str | None) -> ThrottleKeys:
    bucket = address_bucket(remote)
    return ThrottleKeys(
        hmac_key(secret_key, "console-user", username),
        hmac_key(secret_key, "console-address", bucket) if bucket else None,
    )


async def locked_until(
    factory: async_sessionmaker[AsyncSession], keys: ThrottleKeys, now: datetime
) -> datetime | None:
    """When sign-in from this username or address may be tried again, or None if it may now."""
    async with session_scope(factory) as session:
        user = await lock_until(session, USER_SCOPE, [keys.username], now)
        address = await lock_until(session, ADDRESS_SCOPE, [keys.address], now)
    ends = [t for t in (user, address) if t is not None]
    return max(ends) if ends else None


async def record_failure(
    factory: async_sessionmaker[AsyncSession], keys: ThrottleKeys, now: datetime
) -> None:
    """Count a refused sign-in; lock the username or the address when it passes its limit."""
    async with session_scope(factory) as session:
        session.add(
            ConsoleSignInAttempt(username_key=keys.username, address_key=keys.address, at=now)
        )
        await session.flush()
        await _maybe_lock(
            session, USER_SCOPE, keys.username, USER_LIMIT, USER_LOCK, USER_LOCK_CAP, now
        )
        if keys.address:
            await _maybe_lock(
                session,
                ADDRESS_SCOPE,
                keys.address,
                ADDRESS_LIMIT,
                ADDRESS_LOCK,
                ADDRESS_LOCK_CAP,
                now,
            )


async def _maybe_lock(
    session: AsyncSession,
    scope: str,
    key: str,
    limit: int,
    base: timedelta,
    cap: timedelta,
    now: datetime,
) -> None:
    column = (
        ConsoleSignInAttempt.username_key
        if scope == USER_SCOPE
        else ConsoleSignInAttempt.address_key
    )
    # Failures since the window opened, not counting those already answered with a lock.
    latest_lock_start = await lock_start(session, scope, key, now - WINDOW)
    since = max(now - WINDOW, latest_lock_start) if latest_lock_start else now - WINDOW
    failures = await session.scalar(
        select(func.count())
        .select_from(ConsoleSignInAttempt)
        .where(column == key, ConsoleSignInAttempt.at > since)
    )
    if int(failures or 0) < limit:
        return
    repeats = await _locks_since(session, scope, key, now - timedelta(hours=24))
    until = now + doubled(base, repeats, cap)
    await add_lock(session, scope, key, until=until, reason="console_sign_in", now=now)
    await audit.record(
        session,
        actor="system",
        action=f"console.{scope.removeprefix('console_')}_locked",
        details={"minutes": int((until - now).total_seconds() // 60) or 1, "failures": failures},
        now=now,
    )
    log.warning("console sign-in locked (%s) until %s", scope, until.isoformat())


async def lock_start(
    session: AsyncSession, scope: str, key: str, since: datetime
) -> datetime | None:
    """When the latest lock on `key` in `scope` after `since` began, if any."""
    return await session.scalar(
        select(func.max(SecurityLock.locked_at)).where(
            SecurityLock.scope == scope, SecurityLock.key == key, SecurityLock.locked_at > since
        )
    )
