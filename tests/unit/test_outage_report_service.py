"""Addresses and phone numbers a member types while reporting an outage, and the restore text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core.phones import normalize_phone as parse_phone
from bot.services.outage_report import Address, AddressError, parse_address, set_restore_notice
from bot.services.outages import OutageService
from bot.store.models import OutageReport

TOWNS = ["wrens", "louisville", "blythe"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("412 mill st wrens", ("412 Mill St, Wrens", "Wrens", None)),
        (
            "88 Church St, Louisville GA 30434",
            ("88 Church St, Louisville 30434", "Louisville", "30434"),
        ),
        ("3400 hwy 88 blythe 30805", ("3400 Hwy 88, Blythe 30805", "Blythe", "30805")),
        ("5 pine hollow rd, stapleton", ("5 Pine Hollow Rd, Stapleton", "Stapleton", None)),
        ("5 pine hollow rd 30823-1142", ("5 Pine Hollow Rd, 30823", None, "30823")),
    ],
)
def test_addresses_members_write(text, expected) -> None:
    parsed = parse_address(text, TOWNS)
    assert isinstance(parsed, Address)
    assert (parsed.text, parsed.town, parsed.zip) == expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("4111 1111 1111 1111", "card_number"),
        ("412 mill st 4111-1111-1111-1111", "card_number"),
        ("x" * 201, "too_long"),
        ("<script>alert(1)</script>", "unclear"),
        ("412 mill st'; DROP TABLE outage_reports;--", "unclear"),
        ("\U0001f600\U0001f600", "unclear"),
        ("wrens", "need_street"),
        ("my house", "need_street"),
        ("412 mill st", "need_town"),
    ],
)
def test_what_is_not_an_address(text, problem) -> None:
    assert parse_address(text, TOWNS) == AddressError(problem)


@pytest.mark.parametrize(
    "text, e164",
    [
        ("706-555-0101", "+17065550101"),
        ("(706) 555-0104", "+17065550104"),
        ("+1 706 555 0155", "+17065550155"),
        ("555", None),
        ("", None),
        ("4111111111111111", None),
        ("call me maybe", None),
        ("1" * 40, None),
    ],
)
def test_phone_numbers(text, e164) -> None:
    assert parse_phone(text) == e164


async def test_restore_text_is_saved_on_the_report_and_repeating_is_harmless(
    session_factory,
) -> None:
    now = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
    result = await OutageService(session_factory).report(
        account_id=None,
        address="5 Pine Hollow Rd",
        town="Stapleton",
        zip=None,
        channel="web",
        conversation_id="c1",
        idempotency_key="k1",
        now=now,
    )

    assert await set_restore_notice(session_factory, result.reference, "+17065550199")
    assert await set_restore_notice(session_factory, result.reference, "+17065550199")
    assert not await set_restore_notice(session_factory, "R-00000", "+17065550199")
    async with session_factory() as session:
        row = await session.scalar(
            select(OutageReport).where(OutageReport.reference == result.reference)
        )
    assert (row.notify_on_restore, row.notify_phone) == (True, "+17065550199")
