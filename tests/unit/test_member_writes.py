"""The write side of `MemberServices`: a change made in chat goes through the member services
(the system of record); the SQL default writes the change, its audit entry and its event in one
transaction, and a failing billing system leaves no trace of a change that did not happen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import PROJECT_ROOT
from bot.profile import load_profile
from bot.services.balance import BillingRules
from bot.services.members import Actor
from bot.services.settings import AccountSettings
from bot.store.db import session_scope
from bot.store.models import Account, AuditEntry, IntegrationEvent
from tests.store import rows

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@pytest.fixture
async def actor(session_factory) -> Actor:
    async with session_scope(session_factory) as s:
        member = await rows.member(s, "M1", "Dana", "Whitfield")
        account = rows.account(member, "1000004821")
        s.add(account)
        await s.flush()
        return Actor(member.id, account.id, "conv-1", "sms", "phone_on_file+zip")


async def counts(factory) -> tuple[int, int, bool]:
    async with factory() as s:
        audits = await s.scalar(select(func.count()).select_from(AuditEntry))
        events = await s.scalar(select(func.count()).select_from(IntegrationEvent))
        paperless = await s.scalar(select(Account.paperless))
        return audits, events, bool(paperless)


async def test_the_sql_write_side_writes_change_audit_and_event_together(session_factory, actor):
    members = SqlMemberServices(session_factory, BillingRules.from_profile(PROFILE))
    service = AccountSettings(session_factory, members=members)
    assert (await service.set_paperless(actor, True, now=NOW)).changed
    assert await counts(session_factory) == (1, 1, True)
    assert not (await service.set_paperless(actor, True, now=NOW)).changed  # nothing to do
    assert await counts(session_factory) == (1, 1, True)
    assert (await service.set_preference(actor, "bill_ready", "email", True, now=NOW)).changed
    assert await members.set_primary_contact(actor, "email", "dana@example.com", now=NOW) is None
    async with session_factory() as s:
        kinds = (await s.scalars(select(IntegrationEvent.kind).order_by(IntegrationEvent.id))).all()
    assert kinds == ["paperless.changed", "notification_preference.changed", "contact.changed"]


class DownBillingSystem:
    """A live adapter whose billing system is down."""

    async def set_paperless(self, actor: Actor, on: bool, *, now: datetime) -> bool:
        raise ConnectionError("billing system unavailable")


async def test_a_change_the_billing_system_refused_is_not_recorded(session_factory, actor):
    service = AccountSettings(session_factory, members=DownBillingSystem())  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await service.set_paperless(actor, True, now=NOW)
    assert await counts(session_factory) == (0, 0, False)


async def test_erasing_the_member_erases_the_events_about_them(session_factory, sqlite_url, actor):
    from bot.ops.member import erase_member

    await AccountSettings(session_factory).set_paperless(actor, True, now=NOW)
    report = await asyncio.to_thread(erase_member, sqlite_url, "", "1000004821", NOW, "it:test")
    assert report.erased["integration events"] == 1
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(IntegrationEvent)) == 0
