"""Outage updates from outside the chat: the co-op's outage system (new, estimate changed,
restored) and staff marking an outage restored in the console.

Each update only writes the `outages` row (and its areas); the texts that follow ("outage near
you", "power is back") are sent by the periodic job in `notices.py`, which finds the row within
seconds. Every update is idempotent: the same event twice leaves the same row (a restore keeps
its first time), and the texts are claimed once per address anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import audit
from bot.store.db import session_scope
from bot.store.models import Outage, OutageArea

EVENTS = ("new", "estimate_changed", "restored")


class UpdateError(ValueError):
    """An update that cannot be applied (the message says why, for the caller's 4xx)."""


@dataclass(frozen=True)
class OutageUpdate:
    event: str  # new|estimate_changed|restored
    reference: str
    started_at: datetime | None = None
    estimated_restoration_at: datetime | None = None
    restored_at: datetime | None = None
    cause: str | None = None
    crew_status: str | None = None
    customers_affected: int | None = None
    towns: tuple[str, ...] = ()
    zips: tuple[str, ...] = ()
    feeders: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateResult:
    outage_id: int
    created: bool
    changed: bool


async def apply_update(
    factory: async_sessionmaker[AsyncSession],
    update: OutageUpdate,
    now: datetime,
    *,
    actor: str = "outage-system",
) -> UpdateResult:
    """Create or change the outage named by `update.reference`; audit-logged."""
    if update.event not in EVENTS:
        raise UpdateError(f"event must be one of {', '.join(EVENTS)}")
    reference = (update.reference or "").strip()[:20]
    if not reference:
        raise UpdateError("reference is required")
    async with session_scope(factory) as session:
        outage = await session.scalar(select(Outage).where(Outage.reference == reference))
        created = outage is None
        if outage is None:
            if update.event != "new" and not (update.towns or update.zips or update.feeders):
                raise UpdateError(f"no outage {reference}; send 'new' with its areas first")
            if not (update.towns or update.zips or update.feeders):
                raise UpdateError("a new outage needs at least one of towns, zips or feeders")
            outage = Outage(
                reference=reference,
                status="active",
                started_at=update.started_at or now,
                customers_affected=0,
                source="outage system",
            )
            session.add(outage)
            await session.flush()
        before = (outage.status, outage.estimated_restoration_at, outage.restored_at)
        if update.cause is not None:
            outage.cause = update.cause[:120] or None
        if update.crew_status is not None:
            outage.crew_status = update.crew_status[:120] or None
        if update.customers_affected is not None:
            outage.customers_affected = max(0, update.customers_affected)
        if update.started_at is not None and update.event == "new":
            outage.started_at = update.started_at
        if update.estimated_restoration_at is not None or update.event == "estimate_changed":
            outage.estimated_restoration_at = update.estimated_restoration_at
        if update.event == "restored":
            if outage.restored_at is None:
                outage.restored_at = min(update.restored_at or now, now)
            outage.status = "restored"
        elif update.event == "new" and outage.status == "restored" and not created:
            # the same reference out again: a fresh outage for the texts
            outage.status, outage.restored_at = "active", None
        if update.towns or update.zips or update.feeders:
            await _replace_areas(session, outage.id, update)
        changed = created or before != (
            outage.status,
            outage.estimated_restoration_at,
            outage.restored_at,
        )
        await audit.record(
            session,
            actor=actor,
            action=f"outage.{update.event}",
            details={"reference": reference, "created": created, "changed": changed},
            now=now,
        )
        return UpdateResult(outage.id, created, changed)


async def _replace_areas(session: AsyncSession, outage_id: int, update: OutageUpdate) -> None:
    await session.execute(delete(OutageArea).where(OutageArea.outage_id == outage_id))
    for town in dict.fromkeys(t.strip()[:80] for t in update.towns if t.strip()):
        session.add(OutageArea(outage_id=outage_id, town=town))
    for z in dict.fromkeys(z.strip()[:10] for z in update.zips if z.strip()):
        session.add(OutageArea(outage_id=outage_id, zip=z))
    for f in dict.fromkeys(f.strip()[:40] for f in update.feeders if f.strip()):
        session.add(OutageArea(outage_id=outage_id, feeder=f))


async def mark_restored(
    factory: async_sessionmaker[AsyncSession], outage_id: int, now: datetime, *, actor: str
) -> bool:
    """Staff mark an outage restored (the console); False when there is no such active outage."""
    async with session_scope(factory) as session:
        outage = await session.get(Outage, outage_id)
        if outage is None or outage.restored_at is not None:
            return False
        outage.status, outage.restored_at = "restored", now
        await audit.record(
            session,
            actor=actor,
            action="outage.restored",
            details={"reference": outage.reference, "outage_id": outage.id, "by": "console"},
            now=now,
        )
        return True
