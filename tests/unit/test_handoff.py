"""The handoff queue, callbacks and when a person can take the chat, with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.core.phones import display_phone, normalize_phone
from bot.profile import load_profile
from bot.services.handoff import (
    HandoffTicket,
    agents_available,
    callback_when,
    cancel_handoff,
    closed_sentence,
    create_callback,
    estimated_wait,
    handoff_decision,
    queue_position,
    request_handoff,
    wait_phrase,
)
from bot.services.office_hours import OfficeHours
from bot.store.db import session_scope
from bot.store.models import Agent, CallbackRequest, HandoffRequest

EASTERN = ZoneInfo("America/New_York")
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=EASTERN)
SATURDAY_11AM = datetime(2026, 11, 28, 11, 0, tzinfo=EASTERN)
THANKSGIVING_10AM = datetime(2026, 11, 26, 10, 0, tzinfo=EASTERN)
FRIDAY_6PM = datetime(2026, 12, 4, 18, 0, tzinfo=EASTERN)
TUESDAY_7AM = datetime(2026, 12, 1, 7, 0, tzinfo=EASTERN)


@pytest.fixture(scope="module")
def hours() -> OfficeHours:
    return OfficeHours(load_profile(PROJECT_ROOT / "profiles" / "jec.yml"))


def _agent(name: str, presence: str, seen: datetime | None) -> Agent:
    return Agent(
        username=name,
        display_name=name.title(),
        password_hash="x",
        presence=presence,
        last_seen_at=seen,
    )


async def _ask(session, conversation_id: str, now: datetime = TUESDAY_10AM, **kw) -> HandoffTicket:
    args = dict(
        conversation_id=conversation_id,
        channel="web",
        topic="draft date",
        summary="when is my draft",
        verified_tier="verified",
        verified_how="account+zip",
        account_id=None,
        member_id=None,
        now=now,
    )
    args.update(kw)
    return await request_handoff(session, **args)


async def test_only_online_agents_seen_in_the_last_two_minutes_count(session_factory) -> None:
    async with session_scope(session_factory) as session:
        session.add_all(
            [
                _agent("maria", "online", TUESDAY_10AM - timedelta(seconds=30)),
                _agent("james", "online", TUESDAY_10AM - timedelta(minutes=5)),  # browser closed
                _agent("ana", "away", TUESDAY_10AM),
                _agent("lee", "offline", None),
                _agent("kim", "online", None),
            ]
        )
    async with session_scope(session_factory) as session:
        assert await agents_available(session, TUESDAY_10AM) == 1
        assert await agents_available(session, TUESDAY_10AM, stale_after=timedelta(minutes=10)) == 2


def test_decision_follows_agent_hours_holidays_and_who_is_online(hours) -> None:
    assert handoff_decision(TUESDAY_10AM, hours, agents_online=2) == "queue"
    assert handoff_decision(TUESDAY_10AM, hours, agents_online=0) == "no_agents"
    assert handoff_decision(SATURDAY_11AM, hours, agents_online=3) == "closed"
    assert handoff_decision(THANKSGIVING_10AM, hours, agents_online=3) == "closed"
    assert handoff_decision(FRIDAY_6PM, hours, agents_online=1) == "closed"
    assert handoff_decision(datetime(2026, 12, 1, 17, 0, tzinfo=EASTERN), hours, 1) == "closed"
    assert handoff_decision(datetime(2026, 12, 1, 8, 0, tzinfo=EASTERN), hours, 1) == "queue"
    with pytest.raises(ValueError):
        handoff_decision(datetime(2026, 12, 1, 10, 0), hours, 1)


async def test_queue_is_first_come_first_served_and_assigned_requests_leave_it(
    session_factory,
) -> None:
    async with session_scope(session_factory) as session:
        first = await _ask(session, "c1", TUESDAY_10AM)
        second = await _ask(session, "c2", TUESDAY_10AM + timedelta(minutes=1))
        third = await _ask(session, "c3", TUESDAY_10AM + timedelta(minutes=2))
    assert (first.position, second.position, third.position) == (1, 2, 3)
    assert second.estimated_wait == timedelta(minutes=8)

    async with session_scope(session_factory) as session:
        (await session.get(HandoffRequest, first.handoff_id)).status = "assigned"
    async with session_scope(session_factory) as session:
        assert await queue_position(session, first.handoff_id) == 0
        assert await queue_position(session, second.handoff_id) == 1
        assert await queue_position(session, third.handoff_id) == 2


async def test_asking_twice_returns_the_same_request(session_factory) -> None:
    async with session_scope(session_factory) as session:
        first = await _ask(session, "c1")
        again = await _ask(session, "c1", TUESDAY_10AM + timedelta(minutes=3))
        count = await session.scalar(select(func.count(HandoffRequest.id)))
    assert first.created is True and again.created is False
    assert again.handoff_id == first.handoff_id
    assert count == 1


async def test_request_keeps_verified_identity_and_masks_card_numbers_in_the_summary(
    session_factory,
) -> None:
    async with session_scope(session_factory) as session:
        ticket = await _ask(
            session,
            "c9",
            summary="use my card 4111 1111 1111 1111 please",
            verified_tier="confirmed",
            verified_how="account+zip+otp",
        )
        row = await session.get(HandoffRequest, ticket.handoff_id)
    assert row.verified_tier == "confirmed" and row.verified_how == "account+zip+otp"
    assert "4111 1111 1111 1111" not in row.summary
    assert row.summary.endswith("1111 please")
    assert row.status == "waiting" and row.channel == "web"


async def test_cancel_takes_a_waiting_member_out_of_the_line(session_factory) -> None:
    async with session_scope(session_factory) as session:
        first = await _ask(session, "c1")
        second = await _ask(session, "c2", TUESDAY_10AM + timedelta(minutes=1))
        assert await cancel_handoff(session, "c1", TUESDAY_10AM + timedelta(minutes=2)) is True
        assert await cancel_handoff(session, "c1", TUESDAY_10AM + timedelta(minutes=3)) is False
        assert await queue_position(session, second.handoff_id) == 1
        with pytest.raises(LookupError):
            await queue_position(session, first.handoff_id)
        row = await session.get(HandoffRequest, first.handoff_id)
    assert row.status == "abandoned" and row.ended_at is not None
    async with session_scope(session_factory) as session:  # asking again after leaving queues anew
        again = await _ask(session, "c1", TUESDAY_10AM + timedelta(minutes=4))
    assert again.created is True and again.position == 2


def test_wait_estimate_rule() -> None:
    assert estimated_wait(0) == timedelta(0)
    assert estimated_wait(1) == timedelta(minutes=4)
    assert estimated_wait(2) == timedelta(minutes=8)
    assert estimated_wait(3, agents_online=2) == timedelta(minutes=8)
    assert estimated_wait(4, agents_online=4) == timedelta(minutes=4)
    ticket = HandoffTicket(1, "waiting", 2, timedelta(minutes=8), True)
    assert wait_phrase(ticket) == "You're number 2 in line, usually about 8 minutes."


def test_phone_numbers_are_normalised_to_e164_and_shown_nationally() -> None:
    for typed in (
        "706-555-0101",
        "(706) 555-0101",
        "7065550101",
        "+1 706 555 0101",
        "call me at 706.555.0101",
    ):
        assert normalize_phone(typed) == "+17065550101", typed
    for bad in ("555-0101", "12345", "", "tomorrow", "123-456-7890"):
        assert normalize_phone(bad) is None, bad
    assert display_phone("+17065550101") == "(706) 555-0101"


async def test_callback_is_stored_once_per_conversation_and_number(session_factory) -> None:
    async with session_scope(session_factory) as session:
        args = dict(
            conversation_id="c1",
            channel="sms",
            name="Dana",
            phone="+17065550101",
            best_time="mornings",
            topic="my draft date",
            account_id=None,
            verified_tier="verified",
            now=SATURDAY_11AM,
        )
        first = await create_callback(session, **args)
        again = await create_callback(session, **args)
        with pytest.raises(ValueError):
            await create_callback(session, **{**args, "phone": "555-0101"})
        rows = (await session.scalars(select(CallbackRequest))).all()
    assert first.id == again.id and len(rows) == 1
    assert (
        rows[0].status == "open"
        and rows[0].best_time == "mornings"
        and rows[0].verified_tier == "verified"
    )


def test_when_staff_call_back_and_the_closed_sentence(hours) -> None:
    assert callback_when(SATURDAY_11AM, hours) == "on Monday after 8 AM"
    assert callback_when(TUESDAY_10AM, hours) == "today before 5 PM"
    assert callback_when(TUESDAY_7AM, hours) == "today after 8 AM"
    assert (
        callback_when(datetime(2026, 12, 1, 18, 0, tzinfo=EASTERN), hours) == "tomorrow after 8 AM"
    )
    assert (
        callback_when(datetime(2026, 12, 23, 18, 0, tzinfo=EASTERN), hours)
        == "on Monday after 8 AM"
    )  # Christmas Eve and Day closed
    assert (
        closed_sentence(SATURDAY_11AM, hours) == "Our office is closed now. We open Monday at 8 AM."
    )
    assert closed_sentence(THANKSGIVING_10AM, hours) == (
        "Our office is closed today for Thanksgiving Day. We open Monday at 8 AM."
    )
    assert closed_sentence(TUESDAY_7AM, hours) == "Our office is closed now. We open today at 8 AM."
