"""The audit log records who did what, and refuses anything that looks like a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import audit
from bot.store.models import AuditEntry

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)


async def test_record_writes_who_what_when_and_how(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as s:
        await audit.record(
            s,
            actor="member:7",
            action="contact.phone_changed",
            account_id=3,
            conversation_id="conv-9",
            channel="web",
            verified_how="account+zip+otp",
            details={"old": "***0101", "new": "***0199", "when": "2026-11-28 10:30:00-05:00"},
            now=NOW,
        )
        await s.commit()
    async with session_factory() as s:
        (entry,) = list(await s.scalars(select(AuditEntry)))
    assert (entry.actor, entry.action, entry.account_id, entry.conversation_id) == (
        "member:7",
        "contact.phone_changed",
        3,
        "conv-9",
    )
    assert (entry.channel, entry.verified_how, entry.at) == ("web", "account+zip+otp", NOW)
    assert entry.details == {
        "old": "***0101",
        "new": "***0199",
        "when": "2026-11-28 10:30:00-05:00",
    }


async def test_record_defaults_to_now_and_empty_details(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    before = datetime.now(UTC)
    async with session_factory() as s:
        entry = await audit.record(s, actor="system", action="drafts.run")
        await s.commit()
    assert entry.details == {}
    assert before - timedelta(seconds=1) <= entry.at <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("details", "where"),
    [
        ({"note": "member typed 4111 1111 1111 1111"}, "details.note (a card number)"),
        ({"note": "card 4111-1111-1111-1111"}, "details.note (a card number)"),
        ({"bank": "acct 123456786120"}, "details.bank (9 or more digits in a row)"),
        ({"ssn_like": 123456789}, "details.ssn_like (9 or more digits in a row)"),
        ({"account_number": "1000004821"}, "details.account_number (9 or more digits in a row)"),
        (
            {"nested": [{"x": "ok"}, {"y": "4242424242424242"}]},
            "details.nested[1].y (9 or more digits in a row)",
        ),
        ({"cvv": "123"}, "details.cvv (a secret's name)"),
        ({"Token": "tok_sandbox_abc"}, "details.Token (a secret's name)"),
    ],
)
async def test_record_refuses_secrets_and_writes_nothing(
    session_factory: async_sessionmaker[AsyncSession], details: dict[str, object], where: str
) -> None:
    async with session_factory() as s:
        with pytest.raises(audit.SensitiveDataError) as error:
            await audit.record(s, actor="system", action="test.leak", details=details, now=NOW)
        await s.commit()
    assert where in str(error.value)
    for value in ("4111", "123456786120", "4242424242424242", "tok_sandbox_abc"):
        assert value not in str(error.value)
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_ordinary_details_are_allowed() -> None:
    ordinary = {
        "amount_cents": 500_000,
        "method": "Visa ending 4242",
        "confirmation_number": "P-7Q2K9D",
        "at": "2026-11-28T15:30:00+00:00",
        "local": "2026-11-28 10:30",
        "phone": "***0101",
        "ok": True,
        "none": None,
        "ids": [1, 2, 3],
        "order_digits": "12345678",  # 8 digits is fine
        "odd_grouping": "1234 5678 9012 3",  # 13 digits failing Luhn: not a card
    }
    assert audit.find_sensitive(ordinary) is None


async def test_record_refuses_naive_times(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as s:
        with pytest.raises(ValueError, match="naive"):
            await audit.record(s, actor="system", action="x", now=datetime(2026, 11, 28, 10, 30))


async def test_entries_filters_newest_first(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as s:
        for minutes, action, account in [
            (0, "payment.succeeded", 1),
            (1, "payment.declined", 1),
            (2, "payment.succeeded", 2),
            (3, "draft.enrolled", 1),
        ]:
            await audit.record(
                s,
                actor="system",
                action=action,
                account_id=account,
                now=NOW + timedelta(minutes=minutes),
            )
        await s.commit()
    async with session_factory() as s:
        found = await audit.entries(s, account_id=1, action_prefix="payment.")
    assert [e.action for e in found] == ["payment.declined", "payment.succeeded"]
