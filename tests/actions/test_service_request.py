"""Service request actions on the demo database (today Sat Nov 28 2026): the questions per kind,
date refusals with a clear re-ask, the summary, and the reference with what happens next."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.service_request import (
    ActionAskSrConfirmed,
    ActionAskSrDate,
    ActionServiceRequestSubmit,
    ValidateServiceRequestForm,
)
from bot.core.gsm7 import is_gsm7
from bot.store.models import AuditEntry, ServiceRequest
from tests.actions.demo_db import confirmed, demo_deps, merged_domain
from tests.actions.identity_helpers import make_tracker, run


def domain() -> dict[str, Any]:
    return merged_domain("identity", "service_request")


@pytest.fixture
def demo(sqlite_url, make_deps):
    return demo_deps(sqlite_url, make_deps)


async def answer(
    slots: dict[str, Any], slot: str, text: str, intent: str = "inform"
) -> tuple[list[str], dict[str, Any]]:
    tracker = make_tracker(
        text=text,
        intent=intent,
        slots=slots,
        new_slots={slot: text},
        active_loop="service_request_form",
    )
    texts, _, set_slots = await run(ValidateServiceRequestForm(), tracker, domain())
    return texts, set_slots


async def test_each_kind_asks_only_what_it_needs(demo, session_factory):
    form = ValidateServiceRequestForm()
    for kind, expected in [
        ("start", ["sr_address", "sr_date", "sr_phone", "sr_confirmed"]),
        ("stop", ["sr_date", "sr_confirmed"]),
        ("transfer", ["sr_address", "sr_date", "sr_confirmed"]),
    ]:
        tracker = make_tracker(slots={"sr_kind": kind})
        assert await form.required_slots([], CollectingDispatcher(), tracker, domain()) == expected


async def test_stop_asks_the_last_day_at_the_verified_account(demo, session_factory):
    slots = {**await confirmed(session_factory, "1000004821", "Dana"), "sr_kind": "stop"}
    texts, _, _ = await run(ActionAskSrDate(), make_tracker(slots=slots), domain())
    assert texts == [
        (
            "What's your last day at 412 Mill St, Wrens (account ending 4821)? "
            "A weekday, up to 60 days out, like Dec 8 or next Monday."
        )
    ]


@pytest.mark.parametrize(
    "typed, reply",
    [
        ("the 31st", "November has no 31st. Please send a date with the month, like Nov 30."),
        ("nov 20", "Fri, Nov 20 has already passed. Please pick a weekday from today on."),
        ("dec 5", "Sat, Dec 5 is a Saturday, and crews work weekdays. Please pick a weekday."),
        ("dec 24", "Thu, Dec 24 is Christmas Eve, when we're closed. Please pick another weekday."),
        (
            "march 3",
            "I can only schedule up to 60 days ahead (until Wed, Jan 27). Please pick an earlier "
            "weekday.",
        ),
        ("whenever", "I couldn't read that date. Please send it like Dec 8 or next Monday."),
    ],
)
async def test_dates_that_cannot_be_scheduled_get_a_reason_and_a_reask(
    demo, session_factory, typed, reply
):
    slots = {**await confirmed(session_factory, "1000004821", "Dana"), "sr_kind": "stop"}
    texts, set_slots = await answer(slots, "sr_date", typed)
    assert texts == [reply]
    assert set_slots["sr_date"] is None


async def test_next_monday_and_dec_8_are_read_from_today(demo, session_factory):
    slots = {**await confirmed(session_factory, "1000004821", "Dana"), "sr_kind": "stop"}
    assert (await answer(slots, "sr_date", "next monday"))[1]["sr_date"] == "2026-11-30"
    assert (await answer(slots, "sr_date", "dec 8"))[1]["sr_date"] == "2026-12-08"
    # safe to validate twice in one turn: the clean ISO value passes again silently
    texts, set_slots = await answer(slots, "sr_date", "2026-12-08")
    assert (texts, set_slots["sr_date"], set_slots["requested_slot"]) == (
        [],
        "2026-12-08",
        "sr_confirmed",
    )


async def test_second_failed_try_offers_a_person(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000004821", "Dana"),
        "sr_kind": "stop",
        "sr_failures": 1,
    }
    texts, set_slots = await answer(slots, "sr_date", "sunday")
    assert texts == [
        (
            "Sun, Nov 29 is a Sunday, and crews work weekdays. Please pick a weekday. "
            "If you'd rather talk with a person, say agent or call (706) 547-2167."
        )
    ]
    assert set_slots["sr_failures"] == 2


async def test_a_card_number_is_never_kept_as_an_answer(demo, session_factory):
    slots = {**await confirmed(session_factory, "1000004821", "Dana"), "sr_kind": "start"}
    texts, set_slots = await answer(slots, "sr_address", "4111 1111 1111 1111")
    assert set_slots["sr_address"] is None and "didn't keep that number" in texts[0]


async def test_stop_service_with_a_date_summary_then_reference(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000007315", "Earl"),
        "sr_kind": "stop",
        "sr_date": "2026-12-08",
    }
    texts, messages, _ = await run(ActionAskSrConfirmed(), make_tracker(slots=slots), domain())
    assert texts == [
        (
            "Stop service at 88 Church St, Louisville (account ending 7315) on Tue, Dec 8, "
            "with a final bill. Is that right?"
        )
    ]
    assert [b["title"] for b in messages[0]["buttons"]] == ["Yes, send it", "No"]
    texts, confirmed_slots = await answer(slots, "sr_confirmed", "yes", intent="affirm")
    assert confirmed_slots["sr_confirmed"] is True
    texts, _, cleared = await run(
        ActionServiceRequestSubmit(), make_tracker(slots={**slots, "sr_confirmed": True}), domain()
    )
    match = re.fullmatch(
        r"Done\. Your request to stop service on Tue, Dec 8 is in\. Your reference is (S-\d{5})\.",
        texts[0],
    )
    assert match
    assert texts[1] == (
        "What happens next: We'll read the meter on your last day and mail your final bill. "
        "Our staff will contact you if anything else is needed."
    )
    assert cleared["sr_date"] is None and cleared["sr_confirmed"] is None
    async with session_factory() as session:
        row = (
            await session.scalars(
                select(ServiceRequest).where(ServiceRequest.reference == match.group(1))
            )
        ).one()
        assert (row.kind, row.status, row.account_id, row.requested_date.isoformat()) == (
            "stop",
            "open",
            slots["account_id"],
            "2026-12-08",
        )
        assert (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "service_request.stop")
            )
        ).one()


async def test_start_service_stores_address_and_phone_and_mentions_fees(
    demo, session_factory, profile
):
    slots = {**await confirmed(session_factory, "1000004821", "Dana"), "sr_kind": "start"}
    assert (await answer(slots, "sr_address", "27 Broad St, Wrens"))[1][
        "sr_address"
    ] == "27 Broad St, Wrens"
    assert (await answer(slots, "sr_phone", "(706) 555-0147"))[1]["sr_phone"] == "+17065550147"
    slots.update(sr_address="27 Broad St, Wrens", sr_date="2026-12-01", sr_phone="+17065550147")
    texts, _, _ = await run(ActionAskSrConfirmed(), make_tracker(slots=slots), domain())
    assert texts == [
        (
            "Start service at 27 Broad St, Wrens on Tue, Dec 1, and we'll call ***-***-0147 "
            "with any questions. Is that right?"
        )
    ]
    texts, _, _ = await run(
        ActionServiceRequestSubmit(), make_tracker(slots={**slots, "sr_confirmed": True}), domain()
    )
    assert texts[1] == (
        f"What happens next: {profile.faq['start_service']} "
        "Our staff will contact you if anything else is needed."
    )
    async with session_factory() as session:
        row = (await session.scalars(select(ServiceRequest))).one()
        assert row.details == {"address": "27 Broad St, Wrens", "contact_phone": "+17065550147"}


async def test_transfer_summary_names_both_addresses(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000007315", "Earl"),
        "sr_kind": "transfer",
        "sr_address": "5 Pine Hollow Rd, Stapleton",
        "sr_date": "2026-12-04",
    }
    texts, _, _ = await run(ActionAskSrConfirmed(), make_tracker(slots=slots), domain())
    assert texts == [
        (
            "Move service from 88 Church St, Louisville (account ending 7315) to 5 Pine Hollow Rd, "
            "Stapleton on Fri, Dec 4. Is that right?"
        )
    ]
    for message in texts:
        assert len(message) <= 306 and is_gsm7(message)


async def test_no_to_the_summary_sends_nothing(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000007315", "Earl"),
        "sr_kind": "stop",
        "sr_date": "2026-12-08",
    }
    assert (await answer(slots, "sr_confirmed", "no", intent="deny"))[1]["sr_confirmed"] is False
    texts, _, _ = await run(
        ActionServiceRequestSubmit(), make_tracker(slots={**slots, "sr_confirmed": False}), domain()
    )
    assert texts == ["OK, I didn't send the request. Nothing was changed. Anything else?"]
    async with session_factory() as session:
        assert (await session.scalars(select(ServiceRequest))).all() == []


async def test_a_member_who_is_only_verified_cannot_file_a_request(demo, session_factory):
    slots = {
        **await confirmed(session_factory, "1000007315", "Earl"),
        "tier": "verified",
        "sr_kind": "stop",
        "sr_date": "2026-12-08",
        "sr_confirmed": True,
    }
    texts, _, _ = await run(ActionServiceRequestSubmit(), make_tracker(slots=slots), domain())
    assert texts == [
        "I need to confirm it's you before I can do that. Just ask again and I'll send you a code."
    ]
    async with session_factory() as session:
        assert (await session.scalars(select(ServiceRequest))).all() == []
