"""Service requests: date rules a member will hit, references, and the stored row."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.profile import load_profile
from bot.services.service_request import (
    check_date,
    clean_address,
    create_request,
    holidays_of,
    next_steps,
    parse_date,
    read_requested_date,
)
from bot.store.models import AuditEntry, ServiceRequest
from tests.store import rows

EASTERN = ZoneInfo("America/New_York")
SATURDAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=EASTERN)
PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")
HOLIDAYS = holidays_of(PROFILE)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("dec 5", date(2026, 12, 5)),
        ("Dec 8", date(2026, 12, 8)),
        ("12/15", date(2026, 12, 15)),
        ("next monday", date(2026, 11, 30)),
        ("monday", date(2026, 11, 30)),
        ("saturday", date(2026, 12, 5)),  # the next one, never today
        ("tomorrow", date(2026, 11, 29)),
        ("the 1st", date(2026, 12, 1)),
        ("the 30th", date(2026, 11, 30)),
        ("jan 4", date(2027, 1, 4)),  # no year given and already passed this year: next year
        ("on december 9th", date(2026, 12, 9)),
        ("nov 20", date(2026, 11, 20)),  # a week ago: past, refused by check_date, not next year's
    ],
)
def test_dates_members_type_are_read_relative_to_today(text: str, expected: date) -> None:
    assert parse_date(text, SATURDAY).day == expected


def test_the_31st_of_a_month_without_one_is_refused_not_rolled_over() -> None:
    result = parse_date("the 31st", SATURDAY)  # Nov 28: the 31st is still "ahead" in November
    assert result.day is None
    assert result.error == "November has no 31st. Please send a date with the month, like Nov 30."


def test_the_31st_after_it_passed_looks_at_next_month() -> None:
    assert parse_date("the 31st", date(2026, 12, 10)).day == date(2026, 12, 31)
    result = parse_date("the 30th", date(2027, 1, 31))
    assert result.day is None
    assert result.error == "February has no 30th. Please send a date with the month, like Feb 28."


@pytest.mark.parametrize("text", ["", "   ", "blue", "5", "'; drop table accounts;--", "x" * 200])
def test_nonsense_is_not_a_date(text: str) -> None:
    result = parse_date(text, SATURDAY)
    assert result.day is None and result.error


def test_past_weekend_holiday_and_far_dates_get_a_clear_reason() -> None:
    assert check_date(date(2026, 11, 20), SATURDAY, HOLIDAYS).error == (
        "Fri, Nov 20 has already passed. Please pick a weekday from today on."
    )
    assert check_date(date(2026, 12, 5), SATURDAY, HOLIDAYS).error == (
        "Sat, Dec 5 is a Saturday, and crews work weekdays. Please pick a weekday."
    )
    assert check_date(date(2026, 12, 24), SATURDAY, HOLIDAYS).error == (
        "Thu, Dec 24 is Christmas Eve, when we're closed. Please pick another weekday."
    )
    assert (
        "up to 60 days ahead (until Wed, Jan 27)"
        in check_date(date(2027, 2, 1), SATURDAY, HOLIDAYS).error
    )
    assert check_date(date(2027, 1, 27), SATURDAY, HOLIDAYS).day == date(2027, 1, 27)
    assert read_requested_date("dec 8", NOW, HOLIDAYS, tz=PROFILE.timezone).day == date(2026, 12, 8)


def test_addresses_need_a_number_and_a_street() -> None:
    assert clean_address("  412 Mill St,  Wrens ") == ("412 Mill St, Wrens", None)
    assert clean_address("mill street")[0] is None
    assert clean_address("<script>1 a</script>")[0] is None
    assert clean_address("1 " + "a" * 200)[0] is None


def test_next_steps_come_from_the_profile() -> None:
    assert next_steps("start", PROFILE) == PROFILE.faq["start_service"]
    assert "membership fee" in next_steps("start", PROFILE)
    assert "final bill" in next_steps("stop", PROFILE)
    assert "final bill" in next_steps("transfer", PROFILE) and "deposit" in next_steps(
        "transfer", PROFILE
    )


async def _member(session_factory) -> tuple[int, int]:
    async with session_factory() as session:
        member = await rows.member(session, "M1", "Dana", "W")
        account = rows.account(member, "1000004821")
        session.add(account)
        await session.commit()
        return member.id, account.id


async def _request(
    session_factory,
    member_id: int,
    account_id: int,
    kind: str,
    requested_date: date,
    *,
    details: dict[str, str] | None = None,
    channel: str = "web",
):
    """`create_request` for conversation c1 at NOW, with the co-op's holidays and time zone."""
    return await create_request(
        session_factory,
        kind=kind,
        member_id=member_id,
        account_id=account_id,
        requested_date=requested_date,
        details=details or {},
        channel=channel,
        conversation_id="c1",
        now=NOW,
        holidays=HOLIDAYS,
        tz=PROFILE.timezone,
    )


async def test_a_stop_request_is_stored_open_with_a_unique_reference_and_audited(
    session_factory,
) -> None:
    member_id, account_id = await _member(session_factory)
    refs = set()
    for _ in range(3):
        created = await _request(session_factory, member_id, account_id, "stop", date(2026, 12, 8))
        assert re.fullmatch(r"S-\d{5}", created.reference)
        refs.add(created.reference)
    assert len(refs) == 3
    async with session_factory() as session:
        rows = (await session.scalars(select(ServiceRequest))).all()
        assert {r.status for r in rows} == {"open"} and {r.kind for r in rows} == {"stop"}
        audits = (await session.scalars(select(AuditEntry))).all()
        assert [a.action for a in audits] == ["service_request.stop"] * 3


async def test_a_start_request_keeps_address_and_masks_the_phone_in_the_audit(
    session_factory,
) -> None:
    member_id, account_id = await _member(session_factory)
    created = await _request(
        session_factory,
        member_id,
        account_id,
        "start",
        date(2026, 12, 1),
        details={"address": "27 Broad St, Wrens", "contact_phone": "+17065550147"},
        channel="sms",
    )
    async with session_factory() as session:
        row = await session.scalar(
            select(ServiceRequest).where(ServiceRequest.reference == created.reference)
        )
        assert row.details == {"address": "27 Broad St, Wrens", "contact_phone": "+17065550147"}
        entry = await session.scalar(select(AuditEntry))
        assert entry.details["contact_phone"] == "***-***-0147"


async def test_the_service_refuses_a_weekend_even_if_a_caller_skipped_validation(
    session_factory,
) -> None:
    member_id, account_id = await _member(session_factory)
    with pytest.raises(ValueError, match="Saturday"):
        await _request(session_factory, member_id, account_id, "stop", date(2026, 12, 5))
    with pytest.raises(ValueError, match="address"):
        await _request(session_factory, member_id, account_id, "transfer", date(2026, 12, 7))
