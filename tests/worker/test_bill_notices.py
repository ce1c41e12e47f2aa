"""Bill ready, payment received and past due: by the member's preferences and channel, quiet
hours for texts, opt-outs, and exactly one notice with two job copies."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.store.db import session_scope
from bot.store.models import MemberNotice, SmsOptOut
from bot.worker import notices
from tests.store import rows
from tests.worker.conftest import World, with_notices

TEXT_BILLS = {("bill_ready", "sms"): True}
TEN_AM = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # Dec 2, 10 AM in Wrens


async def run_at(world: World, at: datetime, profile=None) -> int:  # type: ignore[no-untyped-def]
    world.clock.at = at
    return await notices.run_bill_notices(world.ctx(profile))


async def test_bill_ready_by_text_has_the_amount_and_due_date(world: World) -> None:
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    assert await run_at(world, TEN_AM) == 1
    [text] = world.notifier.sent
    assert text.channel == "sms" and text.to == "+17065550147"
    assert text.body == (
        "JEC: Your bill for account ending 4821 is ready: $142.17 due Dec 16, 2026. Pay by chat "
        "or text here, or call (706) 547-2167."
    )
    assert is_gsm7(text.body) and gsm7_length(text.body) <= 306
    assert await run_at(world, datetime(2026, 12, 2, 18, 0, tzinfo=UTC)) == 0  # once only


async def test_bill_ready_by_email_has_a_subject(world: World) -> None:
    _, account_id = await world.member(prefs={("bill_ready", "email"): True})
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    await run_at(world, TEN_AM)
    [email] = world.notifier.sent
    assert (email.channel, email.to, email.subject) == (
        "email",
        "dana@example.com",
        "Your JEC bill is ready",
    )
    assert "$142.17 due Dec 16, 2026" in email.body
    assert "Jefferson Energy Cooperative" in email.body


@pytest.mark.parametrize(
    "prefs",
    [{}, {("bill_ready", "sms"): False, ("bill_ready", "email"): False}, {("outage", "sms"): True}],
    ids=["none stored", "turned off", "other topics only"],
)
async def test_preferences_off_means_nothing_is_sent(world: World, prefs: dict) -> None:  # type: ignore[type-arg]
    _, account_id = await world.member(prefs=prefs)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    assert await run_at(world, TEN_AM) == 0
    assert world.notifier.sent == []


async def test_texts_wait_out_quiet_hours_emails_do_not(world: World) -> None:
    _, account_id = await world.member(
        prefs={("bill_ready", "sms"): True, ("bill_ready", "email"): True}
    )
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    await run_at(world, datetime(2026, 12, 2, 2, 30, tzinfo=UTC))  # 9:30 PM Dec 1 in Wrens
    assert [s.channel for s in world.notifier.sent] == ["email"]
    await run_at(world, datetime(2026, 12, 2, 12, 59, tzinfo=UTC))  # 7:59 AM
    assert [s.channel for s in world.notifier.sent] == ["email"]
    await run_at(world, datetime(2026, 12, 2, 13, 0, tzinfo=UTC))  # 8:00 AM: quiet hours over
    assert [s.channel for s in world.notifier.sent] == ["email", "sms"]


async def test_quiet_hours_come_from_the_profile(world: World) -> None:
    from datetime import time

    profile = with_notices(world.profile, quiet_start=time(20, 0), quiet_end=time(9, 30))
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    await run_at(world, datetime(2026, 12, 2, 14, 0, tzinfo=UTC), profile)  # 9:00 AM
    assert world.notifier.sent == []
    await run_at(world, datetime(2026, 12, 2, 14, 30, tzinfo=UTC), profile)  # 9:30 AM
    assert len(world.notifier.sent) == 1


async def test_quiet_hours_follow_dst(world: World) -> None:
    # Mar 15, 2027 is the first Monday of daylight time: 8 AM in Wrens is 12:00 UTC, not 13:00
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2027, 3, 15), date(2027, 3, 30), 9050)
    await run_at(world, datetime(2027, 3, 15, 11, 59, tzinfo=UTC))
    assert world.notifier.sent == []
    await run_at(world, datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    assert len(world.notifier.sent) == 1


async def test_an_opted_out_number_gets_no_text(world: World) -> None:
    _, account_id = await world.member(prefs=TEXT_BILLS)
    async with session_scope(world.sessions) as s:
        s.add(SmsOptOut(phone="+17065550147", opted_out=True, source="keyword:STOP"))
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    assert await run_at(world, TEN_AM) == 0
    assert world.notifier.sent == []


async def test_two_copies_of_the_job_send_one_notice(world: World) -> None:
    _, account_id = await world.member(
        prefs={("bill_ready", "sms"): True, ("bill_ready", "email"): True}
    )
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    world.clock.at = TEN_AM
    ctx = world.ctx()
    counts = await asyncio.gather(*(notices.run_bill_notices(ctx) for _ in range(3)))
    assert sum(counts) == 2
    assert sorted(s.channel for s in world.notifier.sent) == ["email", "sms"]
    async with world.sessions() as s:
        assert len(list(await s.scalars(select(MemberNotice)))) == 2


async def test_old_bills_get_no_notice_on_a_first_start(world: World) -> None:
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2026, 11, 1), date(2026, 12, 16), 14217)  # a month ago
    assert await run_at(world, TEN_AM) == 0


async def test_past_due_gives_the_late_fee_and_the_disconnection_rule(world: World) -> None:
    _, account_id = await world.member(prefs={("past_due", "sms"): True})
    await world.bill(account_id, date(2026, 11, 14), date(2026, 11, 30), 12000)
    await run_at(world, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    [text] = world.notifier.sent
    assert "past due: $120.00" in text.body
    assert "A late fee of $6.00 applies." in text.body  # 5% of $120.00, over the $25 threshold
    assert "$126.00" in text.body
    assert "disconnection if it is still unpaid at the next meter reading" in text.body
    assert is_gsm7(text.body) and gsm7_length(text.body) <= 306


async def test_no_past_due_notice_once_a_payment_covers_it(world: World) -> None:
    _, account_id = await world.member(prefs={("past_due", "sms"): True})
    await world.bill(account_id, date(2026, 11, 14), date(2026, 11, 30), 12000)
    async with session_scope(world.sessions) as s:
        s.add(
            rows.payment(
                account_id, 12600, "pay-1", received_at=datetime(2026, 12, 1, 14, tzinfo=UTC)
            )
        )
    await run_at(world, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert world.notifier.sent == []


async def test_payment_received(world: World) -> None:
    _, account_id = await world.member(prefs={("payment_received", "email"): True})
    async with session_scope(world.sessions) as s:
        s.add(
            rows.payment(
                account_id, 5000, "pay-2", received_at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
            )
        )
    await run_at(world, TEN_AM)
    [email] = world.notifier.sent
    # received at 10 PM on Dec 1 in Wrens (3 AM Dec 2 UTC): the member's date is Dec 1
    assert "payment of $50.00 on Dec 1, 2026" in email.body
    assert email.subject == "JEC payment received"


async def test_the_profile_wording_is_used(world: World) -> None:
    profile = with_notices(
        world.profile,
        wording={"bill_ready": "{coop}: bill of {amount} for {account_last4}, due {due_date}."},
    )
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    await run_at(world, TEN_AM, profile)
    assert world.notifier.sent[0].body == "JEC: bill of $142.17 for 4821, due Dec 16, 2026."


async def test_a_wording_too_long_for_two_texts_is_recorded_not_sent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    profile = with_notices(world.profile, wording={"bill_ready": "{coop}: " + "x" * 320})
    _, account_id = await world.member(prefs=TEXT_BILLS)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    with caplog.at_level(logging.WARNING):
        assert await run_at(world, TEN_AM, profile) == 0
    assert world.notifier.sent == []
    async with world.sessions() as s:
        [row] = list(await s.scalars(select(MemberNotice)))
    assert row.status == "rejected" and "more than 306" in (row.error or "")
    assert "not sent" in caplog.text


async def test_a_notice_claimed_before_a_crash_is_not_sent_again(world: World) -> None:
    _, account_id = await world.member(prefs=TEXT_BILLS)
    bill_id = await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 16), 14217)
    async with session_scope(world.sessions) as s:  # a copy claimed it, then died before sending
        s.add(
            MemberNotice(
                kind="bill_ready",
                account_id=account_id,
                occurrence=f"bill:{bill_id}",
                channel="sms",
                destination="***-***-0147",
                status="sending",
                created_at=TEN_AM,
            )
        )
    assert await run_at(world, datetime(2026, 12, 2, 16, 0, tzinfo=UTC)) == 0
    assert world.notifier.sent == []
