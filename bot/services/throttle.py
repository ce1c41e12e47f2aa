"""Locks that span conversations, and the keys they are held under (docs/security.md).

A new conversation is free for anyone to start, so counting failures per conversation alone
stops nobody. Verification (`bot.services.identity`) and one-time codes (`bot.services.otp`) also
count per account, per phone, per client address and per code destination, and when a count
passes its limit they write a `SecurityLock` row: the scope (what is locked), an HMAC of the
thing locked (never the account number, phone or address itself), a reason and an end time.

The database is the record every process shares. Where Redis is configured, a `LockMirror`
copies each lock there with the same expiry, so a locked source under a flood is refused with one
Redis read before any database query; the database stays the authority (a flushed Redis only
means the next check reads the table).

Client addresses are bucketed before keying: an IPv4 address as it is, an IPv6 address by its
/64 network (one subscriber's allocation; counting single IPv6 addresses would let one machine
try from billions), an IPv4-mapped IPv6 address as its IPv4 address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.keys import Purpose, key_for
from bot.store.models import SecurityLock


class LockScope(StrEnum):
    """What a lock covers."""

    ACCOUNT = "account"  # verification of one account number (or one phone on the phone path)
    PHONE = "phone"  # verification tries from one texting phone
    ADDRESS = "address"  # verification tries from one client address
    OTP_DESTINATION = "otp_destination"  # one-time codes to one phone or email
    OTP_ACCOUNT = "otp_account"  # one-time codes for one account


class LockMirror(Protocol):
    """A fast shared copy of the locks (Redis); the database remains the record."""

    async def until(self, scope: str, keys: Sequence[str], now: datetime) -> datetime | None: ...

    async def put(self, scope: str, key: str, until: datetime, now: datetime) -> None: ...


def hmac_key(secret_key: str, kind: str, value: str) -> str:
    """HMAC-SHA256 of `kind:value` under the verification purpose key (64 hex characters)."""
    key = key_for(secret_key, Purpose.VERIFICATION).encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def address_bucket(raw: object) -> str | None:
    """The client address to count under, or None when `raw` is not an IP address."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        return None
    try:
        address = ipaddress.ip_address(raw.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


async def lock_until(
    session: AsyncSession,
    scope: str,
    keys: Sequence[str | None],
    now: datetime,
    mirror: LockMirror | None = None,
) -> datetime | None:
    """The latest end of a lock in `scope` on any of `keys` that is still on at `now`."""
    wanted = [k for k in keys if k]
    if not wanted:
        return None
    if mirror is not None:
        until = await mirror.until(scope, wanted, now)
        if until is not None and until > now:
            return until
    until = await session.scalar(
        select(func.max(SecurityLock.until)).where(
            SecurityLock.scope == scope,
            SecurityLock.key.in_(wanted),
            SecurityLock.locked_at <= now,
            SecurityLock.until > now,
        )
    )
    return until


async def locks_since(session: AsyncSession, scope: str, key: str, since: datetime) -> int:
    """How many locks `key` got in `scope` since `since` (for doubling repeated locks)."""
    count = await session.scalar(
        select(func.count())
        .select_from(SecurityLock)
        .where(SecurityLock.scope == scope, SecurityLock.key == key, SecurityLock.locked_at > since)
    )
    return int(count or 0)


async def add_lock(
    session: AsyncSession,
    scope: str,
    key: str,
    *,
    until: datetime,
    reason: str,
    now: datetime,
    mirror: LockMirror | None = None,
) -> None:
    """Lock `key` in `scope` from `now` until `until` (in the caller's transaction)."""
    session.add(SecurityLock(scope=scope, key=key, reason=reason, locked_at=now, until=until))
    await session.flush()
    if mirror is not None:
        await mirror.put(scope, key, until, now)


def doubled(base: timedelta, repeats: int, cap: timedelta) -> timedelta:
    """`base` doubled for each earlier lock, at most `cap`."""
    return min(base * (2 ** min(repeats, 16)), cap)
