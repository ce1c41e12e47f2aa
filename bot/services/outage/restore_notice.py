"""Restore notice: the member's "text me when power is back" choice, saved on their report."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.db import session_scope
from bot.store.models import OutageReport


async def set_restore_notice(
    session_factory: async_sessionmaker[AsyncSession], reference: str, phone_e164: str
) -> bool:
    """Ask for a text to `phone_e164` when the reported outage is restored; safe to repeat.

    Returns False when no report has that reference.
    """
    async with session_scope(session_factory) as session:
        report = await session.scalar(
            select(OutageReport).where(OutageReport.reference == reference)
        )
        if report is None:
            return False
        report.notify_on_restore = True
        report.notify_phone = phone_e164
        return True
