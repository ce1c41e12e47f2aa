"""Full-balance drafts: the amount notice on the right day, the draft-run row on the draft day,
bank holidays, the co-op's time zone across DST, and exactly one of each with two job copies."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.store.db import session_scope
from bot.store.models import MemberNotice, ScheduledDraft
from bot.worker import notices
from tests.worker.conftest import World, with_drafts


async def draft_runs(world: World) -> list[ScheduledDraft]:
    async with world.sessions() as s:
        return list(await s.scalars(select(ScheduledDraft).order_by(ScheduledDraft.id)))


async def run_at(world: World, at: datetime, profile=None) -> int:  # type: ignore[no-untyped-def]
    world.clock.at = at
    return await notices.run_drafts(world.ctx(profile))


async def dana_on_draft(world: World, *, prefs=None, starts_on=date(2026, 12, 18)) -> int:  # type: ignore[no-untyped-def]
    member_id, account_id = await world.member(prefs=prefs)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 20), 14217)
    await world.enrollment(member_id, account_id, day=18, starts_on=starts_on)
    return account_id


async def test_the_amount_notice_goes_ten_days_before_a_draft_on_the_18th(world: World) -> None:
    await dana_on_draft(world)
    assert await run_at(world, datetime(2026, 12, 7, 15, 0, tzinfo=UTC)) == 0  # Dec 7: too early
    assert world.notifier.sent == []

    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))  # Dec 8, 10 AM in Wrens
    [notice] = world.notifier.sent
    assert notice.channel == "email" and notice.to == "dana@example.com"  # no preferences: email
    assert "$142.17" in notice.body
    assert "Dec 18, 2026" in notice.body
    assert "checking ending 6120" in notice.body
    assert "cancel by Dec 14, 2026" in notice.body  # it goes to the bank on the 15th
    assert notice.subject == "Your upcoming JEC bank draft"

    for day in (9, 12, 17):  # told once, not every day until the draft
        await run_at(world, datetime(2026, 12, day, 15, 0, tzinfo=UTC))
    assert len(world.notifier.sent) == 1
    assert await draft_runs(world) == []  # no draft-run row before the draft day


async def test_the_draft_run_row_is_written_on_the_draft_day_in_the_coops_time_zone(
    world: World,
) -> None:
    await dana_on_draft(world)
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    # 11:30 PM on Dec 17 in Wrens is already Dec 18 in UTC: not the draft day yet
    await run_at(world, datetime(2026, 12, 18, 4, 30, tzinfo=UTC))
    assert await draft_runs(world) == []
    await run_at(world, datetime(2026, 12, 18, 5, 0, tzinfo=UTC))  # midnight in Wrens
    [run] = await draft_runs(world)
    assert (run.draft_date, run.amount_cents, run.status) == (
        date(2026, 12, 18),
        14217,
        "scheduled",
    )
    await run_at(world, datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    await run_at(world, datetime(2026, 12, 19, 15, 0, tzinfo=UTC))
    assert len(await draft_runs(world)) == 1


async def test_the_draft_never_takes_more_than_the_notice_announced(world: World) -> None:
    account_id = await dana_on_draft(world)
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    await world.bill(account_id, date(2026, 12, 10), date(2026, 12, 25), 5000)  # a second bill
    await run_at(world, datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    [run] = await draft_runs(world)
    assert run.amount_cents == 14217


async def test_a_worker_down_on_the_draft_day_writes_the_run_when_it_is_back(world: World) -> None:
    await dana_on_draft(world)
    await run_at(world, datetime(2026, 12, 21, 15, 0, tzinfo=UTC))
    [run] = await draft_runs(world)
    assert run.draft_date == date(2026, 12, 18)


async def test_a_bank_holiday_moves_the_draft_to_the_next_business_day(world: World) -> None:
    # Jan 18, 2027 is Martin Luther King Jr. Day: the Federal Reserve is closed
    await dana_on_draft(world, starts_on=date(2027, 1, 18))
    await run_at(world, datetime(2027, 1, 8, 15, 0, tzinfo=UTC))
    assert world.notifier.sent == []
    await run_at(world, datetime(2027, 1, 9, 15, 0, tzinfo=UTC))  # 10 days before Jan 19
    [notice] = world.notifier.sent
    assert "Jan 19, 2027" in notice.body
    await run_at(world, datetime(2027, 1, 18, 15, 0, tzinfo=UTC))
    assert await draft_runs(world) == []
    await run_at(world, datetime(2027, 1, 19, 15, 0, tzinfo=UTC))
    [run] = await draft_runs(world)
    assert run.draft_date == date(2027, 1, 19)


async def test_the_profile_can_move_holiday_drafts_to_the_business_day_before(
    world: World,
) -> None:
    profile = with_drafts(world.profile, bank_holiday_rule="previous_business_day")
    await dana_on_draft(world, starts_on=date(2027, 1, 18))
    await run_at(world, datetime(2027, 1, 4, 15, 0, tzinfo=UTC), profile)
    assert world.notifier.sent == []
    await run_at(world, datetime(2027, 1, 5, 15, 0, tzinfo=UTC), profile)  # 10 days before Jan 15
    [notice] = world.notifier.sent
    assert "Jan 15, 2027" in notice.body
    await run_at(world, datetime(2027, 1, 15, 15, 0, tzinfo=UTC), profile)
    [run] = await draft_runs(world)
    assert run.draft_date == date(2027, 1, 15)


async def test_a_weekend_draft_date_settles_on_monday(world: World) -> None:
    # Apr 18, 2027 is a Sunday
    await dana_on_draft(world, starts_on=date(2027, 4, 18))
    await run_at(world, datetime(2027, 4, 9, 15, 0, tzinfo=UTC))  # 10 days before Mon Apr 19
    [notice] = world.notifier.sent
    assert "Apr 19, 2027" in notice.body


async def test_dst_week_the_draft_day_starts_at_local_midnight(world: World) -> None:
    # DST starts Mar 14, 2027: Wrens is UTC-5 before and UTC-4 after
    await dana_on_draft(world, starts_on=date(2027, 3, 18))
    await run_at(world, datetime(2027, 3, 8, 4, 59, tzinfo=UTC))  # 11:59 PM Mar 7, EST
    assert world.notifier.sent == []
    await run_at(world, datetime(2027, 3, 8, 5, 0, tzinfo=UTC))  # midnight Mar 8, EST
    assert len(world.notifier.sent) == 1  # an email: emails go any time
    await run_at(world, datetime(2027, 3, 18, 3, 59, tzinfo=UTC))  # 11:59 PM Mar 17, EDT
    assert await draft_runs(world) == []
    await run_at(world, datetime(2027, 3, 18, 4, 0, tzinfo=UTC))  # midnight Mar 18, EDT
    assert [r.draft_date for r in await draft_runs(world)] == [date(2027, 3, 18)]


async def test_a_text_notice_waits_for_quiet_hours_to_end_across_dst(world: World) -> None:
    await dana_on_draft(world, prefs={("bill_ready", "sms"): True}, starts_on=date(2027, 3, 18))
    await run_at(world, datetime(2027, 3, 8, 12, 59, tzinfo=UTC))  # 7:59 AM EST: quiet hours
    assert world.notifier.sent == []
    await run_at(world, datetime(2027, 3, 8, 13, 0, tzinfo=UTC))  # 8:00 AM EST
    [text] = world.notifier.sent
    assert text.channel == "sms" and text.to == "+17065550147"
    assert is_gsm7(text.body) and gsm7_length(text.body) <= 306


async def test_two_copies_of_the_job_send_one_notice_and_write_one_run(world: World) -> None:
    await dana_on_draft(world, prefs={("bill_ready", "sms"): True, ("bill_ready", "email"): True})
    world.clock.at = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    ctx = world.ctx()
    await asyncio.gather(notices.run_drafts(ctx), notices.run_drafts(ctx))
    assert sorted(s.channel for s in world.notifier.sent) == ["email", "sms"]
    world.clock.at = datetime(2026, 12, 18, 15, 0, tzinfo=UTC)
    results = await asyncio.gather(notices.run_drafts(ctx), notices.run_drafts(ctx))
    assert sorted(results) == [0, 1]
    assert len(await draft_runs(world)) == 1
    assert len(world.notifier.sent) == 2


async def test_the_draft_result_is_told_once(world: World) -> None:
    await dana_on_draft(world, prefs={("payment_received", "sms"): True})
    await run_at(world, datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    world.notifier.sent.clear()
    async with session_scope(world.sessions) as s:  # the billing system reports the run failed
        run = (await s.scalars(select(ScheduledDraft))).one()
        run.status = "failed"
    await run_at(world, datetime(2026, 12, 19, 15, 0, tzinfo=UTC))
    await run_at(world, datetime(2026, 12, 19, 16, 0, tzinfo=UTC))
    [text] = world.notifier.sent
    assert "did not go through" in text.body and "$142.17" in text.body
    assert "Dec 18, 2026" in text.body


async def test_a_cancelled_draft_gets_no_notice(world: World) -> None:
    await dana_on_draft(world)
    async with session_scope(world.sessions) as s:
        from bot.store.models import DraftEnrollment

        row = (await s.scalars(select(DraftEnrollment))).one()
        row.status, row.ends_on = "cancelled", date(2026, 12, 1)
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    await run_at(world, datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    assert world.notifier.sent == []
    assert await draft_runs(world) == []


async def test_nothing_due_means_no_notice_and_a_skipped_run(world: World) -> None:
    member_id, account_id = await world.member()
    await world.enrollment(member_id, account_id, day=18, starts_on=date(2026, 12, 18))
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    assert world.notifier.sent == []
    await run_at(world, datetime(2026, 12, 18, 15, 0, tzinfo=UTC))
    [run] = await draft_runs(world)
    assert (run.amount_cents, run.status) == (0, "skipped")


async def test_the_notice_row_records_where_it_went_masked(world: World) -> None:
    await dana_on_draft(world)
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    async with world.sessions() as s:
        [row] = list(await s.scalars(select(MemberNotice)))
    assert (row.kind, row.occurrence, row.status) == ("draft_notice", "draft:2026-12-18", "sent")
    assert "dana@example.com" not in row.destination
    assert row.amount_cents == 14217


async def test_a_member_with_only_a_phone_gets_the_draft_notice_by_text(world: World) -> None:
    member_id, account_id = await world.member(email=None)
    await world.bill(account_id, date(2026, 12, 1), date(2026, 12, 20), 14217)
    await world.enrollment(member_id, account_id, day=18, starts_on=date(2026, 12, 18))
    await run_at(world, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))
    [text] = world.notifier.sent
    assert text.channel == "sms" and "$142.17" in text.body
