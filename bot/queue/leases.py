"""One holder per conversation at a time, across every worker copy: a row in the database.

`acquire` inserts the row, or takes it over when its lease ran out (a crashed worker); the update
is conditional, so of two copies racing only one gets rowcount 1. Used by both queue engines.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.queue.base import WallClock, wall_clock
from bot.store.db import session_scope
from bot.store.models import ConversationLease


class ConversationLeases:
    def __init__(
        self, factory: async_sessionmaker[AsyncSession], clock: WallClock = wall_clock
    ) -> None:
        self._factory = factory
        self._clock = clock

    async def acquire(self, conversation_id: str, holder: str, seconds: float) -> bool:
        now = self._clock()
        until = now + timedelta(seconds=seconds)
        async with session_scope(self._factory) as session:
            result = await session.execute(
                update(ConversationLease)
                .where(
                    ConversationLease.conversation_id == conversation_id,
                    or_(ConversationLease.lease_until < now, ConversationLease.holder == holder),
                )
                .values(holder=holder, lease_until=until)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            async with session_scope(self._factory) as session:
                session.add(
                    ConversationLease(
                        conversation_id=conversation_id, holder=holder, lease_until=until
                    )
                )
            return True
        except IntegrityError:  # held by someone else, lease still running
            return False

    async def renew(self, conversation_id: str, holder: str, seconds: float) -> bool:
        until: datetime = self._clock() + timedelta(seconds=seconds)
        async with session_scope(self._factory) as session:
            result = await session.execute(
                update(ConversationLease)
                .where(
                    ConversationLease.conversation_id == conversation_id,
                    ConversationLease.holder == holder,
                )
                .values(lease_until=until)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self, conversation_id: str, holder: str) -> None:
        async with session_scope(self._factory) as session:
            await session.execute(
                delete(ConversationLease).where(
                    ConversationLease.conversation_id == conversation_id,
                    ConversationLease.holder == holder,
                )
            )
