"""The outage rules: lookups, reports, honest estimates, the safety message, the addresses and
phone numbers a member types while reporting, and the restore text."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.core.phones import normalize_phone as parse_phone
from bot.profile import load_profile
from bot.services.notify import sms_problem
from bot.services.outage import (
    Address,
    AddressError,
    OutageInfo,
    OutageService,
    describe,
    detect_hazard,
    parse_address,
    safety_message,
    set_restore_notice,
)
from bot.store.db import session_scope
from bot.store.models import Member, Outage, OutageArea, OutageReport
from tests.store import rows

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # 3:00 PM in Wrens
PROFILE = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "jec.yml")


async def seed(factory) -> dict[str, int]:
    async with session_scope(factory) as s:
        wrens = Outage(
            reference="O-1001",
            cause="storm damage",
            crew_status="on site",
            customers_affected=240,
            started_at=NOW - timedelta(hours=2),
            estimated_restoration_at=datetime(2026, 11, 29, 4, 30, tzinfo=UTC),
        )
        louisville = Outage(
            reference="O-1002",
            cause=None,
            crew_status="assessing",
            customers_affected=35,
            started_at=NOW - timedelta(hours=1),
        )
        old = Outage(
            reference="O-0999",
            status="restored",
            cause="tree on line",
            customers_affected=12,
            started_at=NOW - timedelta(days=1),
            restored_at=NOW - timedelta(hours=20),
        )
        s.add_all([wrens, louisville, old])
        await s.flush()
        s.add_all(
            [
                OutageArea(outage_id=wrens.id, town="Wrens", zip="30833"),
                OutageArea(outage_id=louisville.id, town="Louisville", zip="30434"),
                OutageArea(outage_id=old.id, town="Blythe", zip="30805"),
            ]
        )
        dana = Member(member_number="M1", first_name="Dana", last_name="Whitfield")
        loretta = Member(member_number="M2", first_name="Loretta", last_name="Boyd")
        s.add_all([dana, loretta])
        await s.flush()
        a1 = rows.account(dana, "1000004821")
        a2 = rows.account(loretta, "1000002209", ("1520 Old Quaker Rd", "Blythe", "30805"))
        s.add_all([a1, a2])
        await s.flush()
        return {"wrens": wrens.id, "louisville": louisville.id, "dana": a1.id, "loretta": a2.id}


@pytest.fixture
async def svc(session_factory):
    ids = await seed(session_factory)
    service = OutageService(session_factory, report_prefix=PROFILE.outages.report_prefix)
    service.ids = ids  # type: ignore[attr-defined]
    return service


async def report_at(
    service: OutageService,
    address: str,
    town: str,
    zip_code: str,
    conversation: str,
    *,
    account_id: int | None = None,
    channel: str = "web",
    idempotency_key: str | None = None,
    now: datetime = NOW,
    **details: Any,
):
    """An outage report at an address: by web, from no verified account, at NOW, unless told."""
    return await service.report(
        account_id=account_id,
        address=address,
        town=town,
        zip=zip_code,
        channel=channel,
        conversation_id=conversation,
        idempotency_key=idempotency_key,
        now=now,
        **details,
    )


async def test_lookup_by_account_town_and_zip(svc) -> None:
    (o,) = await svc.find_for_account(svc.ids["dana"], NOW)
    assert (o.reference, o.cause, o.customers_affected) == ("O-1001", "storm damage", 240)
    assert await svc.find_for_account(svc.ids["loretta"], NOW) == []  # Blythe's outage is restored
    assert [o.reference for o in await svc.find_by_town("  wrens ")] == ["O-1001"]
    assert [o.reference for o in await svc.find_by_town("LOUISVILLE, GA")] == ["O-1002"]
    assert [o.reference for o in await svc.find_by_zip("30434-1234")] == ["O-1002"]
    assert await svc.find_by_town("Thomson") == []
    assert await svc.find_by_zip("308") == []


async def test_report_links_the_known_outage_and_gets_a_reference(svc, session_factory) -> None:
    r = await report_at(
        svc,
        "412 Mill St",
        None,
        None,
        "c1",
        account_id=svc.ids["dana"],
        hazard=True,
        hazard_description="line down across driveway",
        notify_on_restore=True,
        notify_phone="+17065550101",
        channel="sms",
        idempotency_key="sms:SM1",
    )
    # the year (co-op time) and a yearly sequence that never runs out: R-2026-000001
    assert r.created and re.fullmatch(r"R-2026-\d{6}", r.reference), r.reference
    assert r.outage is not None and r.outage.reference == "O-1001"
    async with session_factory() as s:
        row = await s.scalar(select(OutageReport))
    assert (row.town, row.zip, row.hazard, row.notify_phone) == (
        "Wrens",
        "30833",
        True,
        "+17065550101",
    )


async def test_unverified_report_at_an_address_without_a_known_outage(svc) -> None:
    r = await report_at(svc, "9 Main St", "Thomson", "30824", "c2")
    assert r.created and r.outage is None


async def test_report_is_idempotent_by_key(svc, session_factory) -> None:
    kwargs = {
        "account_id": None,
        "address": "88 Church St",
        "town": "Louisville",
        "zip": "30434",
        "channel": "web",
        "conversation_id": "c3",
        "idempotency_key": "web:c3:report:1",
        "now": NOW,
    }
    first, second = await asyncio.gather(svc.report(**kwargs), svc.report(**kwargs))
    third = await svc.report(**kwargs)
    assert first.reference == second.reference == third.reference
    assert not third.created
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(OutageReport)) == 1


async def test_report_references_are_unique(svc) -> None:
    refs = [
        (
            await report_at(svc, f"{i} Main St", "Wrens", "30833", f"c{i}", idempotency_key=f"k{i}")
        ).reference
        for i in range(40)
    ]
    assert len(set(refs)) == 40


async def test_lookup_by_reference(svc) -> None:
    report = await report_at(svc, "1 Broad St", "Wrens", "30833", "c4", idempotency_key="k")
    digits = report.reference[2:]
    for typed in (report.reference, report.reference.lower(), f"r {digits}", digits):
        found = await svc.find_by_reference(typed)
        assert found.kind == "report" and found.report.reference == report.reference
        assert found.outage.reference == "O-1001"
    outage = await svc.find_by_reference("o-1002")
    assert outage.kind == "outage" and outage.outage.cause is None
    assert await svc.find_by_reference("R-00000") is None


def info(**overrides) -> OutageInfo:
    base = {
        "id": 1,
        "reference": "O-1",
        "status": "active",
        "cause": "storm damage",
        "customers_affected": 240,
        "crew_status": "on site",
        "started_at": NOW - timedelta(hours=2),
        "estimated_restoration_at": datetime(2026, 11, 29, 4, 30, tzinfo=UTC),
        "restored_at": None,
        "towns": ("Wrens",),
        "zips": ("30833",),
        "source": "outage management system",
    }
    base.update(overrides)
    return OutageInfo(**base)


def test_estimate_is_labelled_as_an_estimate() -> None:
    text = describe(info(), NOW, TZ)
    assert text == (
        "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
        "Crews: on site. Estimated restoration: 11:30 PM, an estimate that may change."
    )
    assert sms_problem(text) is None


def test_no_estimate_says_crews_are_assessing_and_invents_nothing() -> None:
    text = describe(
        info(cause=None, crew_status="assessing", estimated_restoration_at=None), NOW, TZ
    )
    assert "Crews are assessing" in text and "no restoration estimate yet" in text
    assert "cause not known yet" in text
    assert "Estimated restoration" not in text and "PM" not in text and "AM" not in text


def test_estimate_on_another_day_and_a_passed_estimate() -> None:
    tomorrow = describe(
        info(estimated_restoration_at=datetime(2026, 11, 29, 14, 0, tzinfo=UTC)), NOW, TZ
    )
    assert "Estimated restoration: tomorrow at 9:00 AM, an estimate that may change." in tomorrow
    later = describe(
        info(estimated_restoration_at=datetime(2026, 12, 1, 14, 0, tzinfo=UTC)), NOW, TZ
    )
    assert "Tue, Dec 1 at 9:00 AM" in later
    passed = describe(info(estimated_restoration_at=NOW - timedelta(minutes=30)), NOW, TZ)
    assert "has passed" in passed and "an estimate that may change" not in passed


def test_restored_outage_is_described_as_restored() -> None:
    text = describe(info(status="restored", restored_at=NOW - timedelta(hours=1)), NOW, TZ)
    assert text.startswith("Power was restored near Wrens at 2:00 PM.")


def test_hazard_detection() -> None:
    words = PROFILE.outages.hazard_words
    for text in [
        "power out and theres a line down across my driveway",
        "SPARKS at the pole!!",
        "Power lines down on Hwy 17",
        "the line's down",
        "I smell smoke by the transformer",
        "my neighbor is hurt, someone hurt here",
    ]:
        assert detect_hazard(text, words), text
    for text in [
        "power is out since 7",
        "lights flickering",
        "stacking firewood in the dark",
        "outage at 412 Mill St",
    ]:
        assert not detect_hazard(text, words), text


def test_safety_message_content_and_length() -> None:
    messages = safety_message(PROFILE)
    joined = " ".join(messages)
    for needle in ["911", "35 feet", "never touch", "stay inside", "1-800-262-5131", "by phone"]:
        assert needle in joined, needle
    assert all(sms_problem(m) is None for m in messages)
    other = safety_message(
        SimpleNamespace(
            phones=SimpleNamespace(outage_24_7="1-888-555-0100"),
            outages=SimpleNamespace(safe_distance_feet=50),
        )
    )
    assert "50 feet" in other[0] and "1-888-555-0100" in other[1]


async def test_reports_and_lookups_on_sqlite_and_postgresql(db_url) -> None:
    from bot.store.db import async_session_factory, make_async_engine

    engine = make_async_engine(db_url)
    try:
        factory = async_session_factory(engine)
        ids = await seed(factory)
        service = OutageService(factory)
        first = await report_at(
            service, "412 Mill St", None, None, "pg", account_id=ids["dana"], idempotency_key="pg-1"
        )
        again = await report_at(
            service, "412 Mill St", None, None, "pg", account_id=ids["dana"], idempotency_key="pg-1"
        )
        assert again.reference == first.reference and not again.created
        assert first.outage.reference == "O-1001"
        assert (
            await service.find_by_reference(first.reference)
        ).outage.estimated_restoration_at is not None
        assert [o.reference for o in await service.find_by_zip("30434")] == ["O-1002"]
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- what a member types

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
    result = await report_at(
        OutageService(session_factory),
        "5 Pine Hollow Rd",
        "Stapleton",
        None,
        "c1",
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
