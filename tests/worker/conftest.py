"""A worker's collaborators for the notice jobs: a fresh database (SQLite, then PostgreSQL where
one is reachable), the real profile, a notifier that records what members would receive, and a
clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import PROJECT_ROOT
from bot.profile import CoopProfile, load_profile
from bot.services.notify import DeliveryResult
from bot.store.db import async_session_factory, make_async_engine, session_scope
from bot.store.models import (
    Bill,
    Contact,
    DraftEnrollment,
    NotificationPreference,
    PaymentMethod,
)
from bot.worker.base import JobContext
from tests.store import rows

PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@dataclass
class Sent:
    channel: str
    to: str
    body: str
    subject: str | None = None


@dataclass
class RecordingNotifier:
    """What members would receive; yields to the loop on each send, so two job copies running
    together really interleave."""

    sent: list[Sent] = field(default_factory=list)

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        await asyncio.sleep(0)
        self.sent.append(Sent("sms", to_e164, body))
        return DeliveryResult("outbox", outbox_id=len(self.sent))

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        await asyncio.sleep(0)
        self.sent.append(Sent("email", to, body, subject))
        return DeliveryResult("outbox", outbox_id=len(self.sent))


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    notifier: RecordingNotifier
    clock: Clock
    profile: CoopProfile = PROFILE

    def ctx(self, profile: CoopProfile | None = None) -> JobContext:
        return JobContext(
            settings=None,  # type: ignore[arg-type]  # the notice jobs read no settings
            profile=profile or self.profile,
            sessions=self.sessions,
            notifier=self.notifier,
            http=None,  # type: ignore[arg-type]  # nor make HTTP calls
            clock=self.clock,
        )

    async def member(
        self,
        *,
        phone: str | None = "+17065550147",
        email: str | None = "dana@example.com",
        prefs: dict[tuple[str, str], bool] | None = None,
        number: str = "1000004821",
    ) -> tuple[int, int]:
        """Dana Whitfield with her home account; returns (member id, account id)."""
        async with session_scope(self.sessions) as s:
            member = await rows.member(s, f"M{number}", "Dana", "Whitfield")
            account = rows.account(member, number)
            s.add(account)
            if phone:
                s.add(Contact(member_id=member.id, kind="phone", value=phone, is_primary=True))
            if email:
                s.add(Contact(member_id=member.id, kind="email", value=email, is_primary=True))
            await s.flush()
            for (topic, channel), enabled in (prefs or {}).items():
                s.add(
                    NotificationPreference(
                        account_id=account.id, topic=topic, channel=channel, enabled=enabled
                    )
                )
            return member.id, account.id

    async def bill(
        self, account_id: int, billed: date, due: date, cents: int, **columns: Any
    ) -> int:
        async with session_scope(self.sessions) as s:
            bill = Bill(
                account_id=account_id,
                period_start=billed.replace(day=1),
                period_end=billed,
                billing_date=billed,
                due_date=due,
                amount_cents=cents,
                kwh=1000,
                **columns,
            )
            s.add(bill)
            await s.flush()
            return bill.id

    async def enrollment(
        self,
        member_id: int,
        account_id: int,
        *,
        day: int = 18,
        starts_on: date,
        rule: str = "full_balance",
        fixed: int | None = None,
    ) -> int:
        async with session_scope(self.sessions) as s:
            method = PaymentMethod(
                member_id=member_id, token=f"tok-{account_id}", kind="checking", last4="6120"
            )
            s.add(method)
            await s.flush()
            row = DraftEnrollment(
                account_id=account_id,
                payment_method_id=method.id,
                draft_day=day,
                amount_rule=rule,
                fixed_amount_cents=fixed,
                starts_on=starts_on,
            )
            s.add(row)
            await s.flush()
            return row.id


def with_drafts(profile: CoopProfile, **changes: Any) -> CoopProfile:
    return replace(profile, drafts=replace(profile.drafts, **changes))


def with_notices(profile: CoopProfile, **changes: Any) -> CoopProfile:
    return replace(profile, notices=replace(profile.notices, **changes))


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    engine = make_async_engine(db_url)
    try:
        yield World(
            async_session_factory(engine),
            RecordingNotifier(),
            Clock(datetime(2026, 12, 1, tzinfo=UTC)),
        )
    finally:
        await engine.dispose()
