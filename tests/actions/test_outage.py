"""The outage journey as a member reads it: safety first, the report, the restore text and the
status, against the demo database (outages in Wrens 30833 with an estimate and Louisville 30434
with crews assessing) and, for the status by town or ZIP, a few outages of its own."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from bot.actions.outage.report import (
    ActionAskOutageAddress,
    ActionReportOutage,
    ValidateOutageReportForm,
)
from bot.actions.outage.restore_notice import ActionOutageNotify, ValidateOutageNotifyForm
from bot.actions.outage.safety import ActionOutageSafety
from bot.actions.outage.status import REPORT_OFFER, ActionOutageStatus
from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import PROJECT_ROOT
from bot.demo import generate_demo_data
from bot.services.balance import BillingRules
from bot.store.db import session_scope
from bot.store.models import Outage, OutageArea, OutageReport
from tests.actions.conftest import EASTERN, TUESDAY_10AM, listening_tracker, tracker_for

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain" / "outage.yml").read_text())  # the real forms

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=EASTERN)  # the demo data's "now": Saturday noon

SAFETY = [
    (
        "Stay away from that line. Keep at least 35 feet from it and anything touching it, and "
        "never touch it. If anyone is in danger, call 911. If a line is on your car, stay inside "
        "until help arrives."
    ),
    (
        "Please also call our 24/7 line, 1-800-262-5131, to report it. Hazards must be reported by "
        "phone too, not only here."
    ),
]
WRENS_OUTAGE = (
    "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
    "Crews: on site. Estimated restoration: 3:00 PM, an estimate that may change."
)
LOUISVILLE_OUTAGE = (
    "Crews already know about an outage near Louisville (about 85 homes, cause not known "
    "yet). Crews are assessing it; there's no restoration estimate yet."
)
BREAKERS = (
    "Please check your breakers or fuse box too. If the main breaker has tripped, switch it fully "
    "off and back on. If that brings your power back, there's nothing more to do."
)
REFERENCE = re.compile(
    r"^Your report is (R-\d{4}-\d{6})\. Want a text when your power is back\? Reply YES or NO\.$"
)


@pytest.fixture
def demo(sqlite_url: str) -> str:
    generate_demo_data(sqlite_url, members=5, today=date(2026, 11, 28))
    return sqlite_url


@pytest.fixture
async def dana_account_id(demo, session_factory) -> int:
    account = await SqlMemberServices(session_factory, BillingRules()).find_account("1000004821")
    assert account is not None
    return account.id


def verified(account_id: int) -> dict[str, Any]:
    return {
        "tier": "verified",
        "member_id": 1,
        "account_id": account_id,
        "account_last4": "4821",
        "verified_at": (NOW - timedelta(minutes=2)).isoformat(),
    }


def tracker(
    text: str,
    intent: str = "inform",
    *,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    message_id: str = "m1",
    events_after: list[dict[str, Any]] | None = None,
) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": metadata or {},
        "message_id": message_id,
    }
    return listening_tracker(
        "member-1",
        dict(slots or {}),
        message,
        [
            {
                "event": "user",
                "text": text,
                "parse_data": message,
                "message_id": message_id,
                "metadata": metadata or {},
            }
        ]
        + (events_after or []),
    )


def entity(name: str, value: str) -> list[dict[str, Any]]:
    return [{"entity": name, "value": value, "start": 0, "end": len(value)}]


async def run_action(
    action: Action, t: Tracker
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return dispatcher.messages, events


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def report_count(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(OutageReport))


# ---------------------------------------------------------------- safety first


async def test_a_downed_line_by_sms_gets_the_safety_message_first(make_deps, demo) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOutageSafety(),
        tracker(
            "pwr out n theres a line down across my drivewy",
            "report_outage",
            metadata={"channel": "sms"},
        ),
    )

    assert texts(messages) == SAFETY
    assert slots_of(events) == {
        "outage_hazard": True,
        "outage_hazard_note": "pwr out n theres a line down across my drivewy",
    }
    assert all(len(t) <= 306 for t in texts(messages))


async def test_a_plain_outage_gets_no_safety_message(make_deps, demo) -> None:
    make_deps(NOW)
    messages, events = await run_action(
        ActionOutageSafety(), tracker("my power is out", "report_outage")
    )
    assert messages == [] and events == []


async def test_sparks_mentioned_in_the_middle_of_the_form_gets_safety_before_the_re_ask(
    make_deps, demo
) -> None:
    make_deps(NOW)
    t = tracker(
        "theres sparks coming off the pole now",
        "report_outage",
        slots={"requested_slot": "outage_address"},
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert texts(messages) == SAFETY + ["I need the street too, like 412 Mill St."]
    assert slots_of(events)["outage_hazard"] is True
    assert slots_of(events)["outage_address"] is None


async def test_no_second_safety_message_when_action_outage_safety_already_gave_it(
    make_deps, demo
) -> None:
    make_deps(NOW)
    t = tracker(
        "line down at 412 mill st wrens",
        "report_outage",
        entities=entity("service_address", "412 mill st") + entity("town", "wrens"),
        events_after=[{"event": "action", "name": "action_outage_safety"}],
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert texts(messages) == []
    assert slots_of(events)["outage_address"] == "412 Mill St, Wrens"


# ---------------------------------------------------------------- the address


async def test_a_verified_member_is_asked_about_their_service_address(
    make_deps, dana_account_id
) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionAskOutageAddress(),
        tracker("no power", "report_outage", slots=verified(dana_account_id)),
    )
    assert texts(messages) == [
        "I'll report the outage. Is it for 412 Mill St, Wrens? Reply YES or send the address."
    ]


async def test_a_visitor_is_asked_for_the_address(make_deps, demo) -> None:
    make_deps(NOW)
    messages, _ = await run_action(ActionAskOutageAddress(), tracker("no power", "report_outage"))
    assert texts(messages) == [
        (
            "I'll report the outage. What's the address where the power is out? Please send the "
            "street and the town or ZIP code, like 412 Mill St, Wrens."
        )
    ]


async def test_yes_takes_the_accounts_service_address(make_deps, dana_account_id) -> None:
    make_deps(NOW)
    t = tracker(
        "yes", "affirm", slots={**verified(dana_account_id), "requested_slot": "outage_address"}
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert messages == []
    slots = slots_of(events)
    assert (
        slots["outage_address"],
        slots["outage_town"],
        slots["outage_zip"],
        slots["outage_for_account"],
    ) == ("412 Mill St, Wrens", "Wrens", "30833", True)


async def test_a_visitors_address_with_town_and_zip_is_accepted(make_deps, demo) -> None:
    make_deps(NOW)
    t = tracker(
        "88 church st, louisville ga 30434",
        entities=entity("town", "louisville"),
        slots={"requested_slot": "outage_address"},
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert messages == []
    slots = slots_of(events)
    assert (slots["outage_address"], slots["outage_town"], slots["outage_zip"]) == (
        "88 Church St, Louisville 30434",
        "Louisville",
        "30434",
    )


async def test_a_card_number_typed_as_the_address_is_not_kept(make_deps, demo) -> None:
    make_deps(NOW)
    t = tracker("4111 1111 1111 1111", slots={"requested_slot": "outage_address"})
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert texts(messages) == [
        (
            "For your safety I didn't keep that number. Please never send card or bank "
            "numbers in a chat or text."
        )
    ]
    assert slots_of(events)["outage_address"] is None
    assert "4111" not in repr([e for e in events if e.get("name") != "outage_tries"])


async def test_a_street_without_a_town_asks_for_the_town_and_then_combines_them(
    make_deps, demo
) -> None:
    make_deps(NOW)
    first, events = await run_action(
        ValidateOutageReportForm(),
        tracker("1520 old quaker rd", slots={"requested_slot": "outage_address"}),
    )
    assert first == []
    draft = slots_of(events)["outage_address_draft"]
    asked, _ = await run_action(
        ActionAskOutageAddress(),
        tracker("1520 old quaker rd", slots={"outage_address_draft": draft, "outage_tries": 1.0}),
    )
    assert texts(asked) == ["Which town or ZIP code is 1520 Old Quaker Rd in?"]

    second, events = await run_action(
        ValidateOutageReportForm(),
        tracker(
            "blythe",
            entities=entity("town", "blythe"),
            slots={
                "requested_slot": "outage_address",
                "outage_address_draft": draft,
                "outage_tries": 1.0,
            },
        ),
    )
    assert second == []
    assert slots_of(events)["outage_address"] == "1520 Old Quaker Rd, Blythe"


async def test_the_second_unclear_address_offers_the_24_7_line(make_deps, demo) -> None:
    make_deps(NOW)
    t = tracker(
        "<script>alert(1)</script>", slots={"requested_slot": "outage_address", "outage_tries": 1.0}
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)

    assert texts(messages) == [
        (
            "I couldn't read that as an address. Letters, numbers and commas work best. If it's "
            "easier, call our 24/7 line, 1-800-262-5131, and we'll take the report by phone."
        )
    ]
    assert slots_of(events)["outage_tries"] == 2.0


async def test_a_side_question_is_not_taken_as_the_address(make_deps, demo) -> None:
    make_deps(NOW)
    t = tracker(
        "what time do yall close", "ask_office_hours", slots={"requested_slot": "outage_address"}
    )
    messages, events = await run_action(ValidateOutageReportForm(), t)
    assert messages == [] and "outage_address" not in slots_of(events)


# ---------------------------------------------------------------- the report


async def test_report_in_wrens_names_the_known_outage_with_a_labelled_estimate(
    make_deps, dana_account_id, session_factory
) -> None:
    make_deps(NOW)
    slots = {
        **verified(dana_account_id),
        "outage_address": "412 Mill St, Wrens",
        "outage_town": "Wrens",
        "outage_zip": "30833",
        "outage_for_account": True,
        "outage_hazard": True,
        "outage_hazard_note": "line down across my driveway",
    }
    messages, events = await run_action(ActionReportOutage(), tracker("yes", "affirm", slots=slots))

    assert texts(messages)[0] == WRENS_OUTAGE
    match = re.match(
        r"^Your report is (R-\d{4}-\d{6})\. I noted the hazard on it; please also call "
        r"1-800-262-5131\. "
        r"Want a text when your power is back\? Reply YES or NO\.$",
        texts(messages)[1],
    )
    assert match, texts(messages)
    assert len(messages) == 2  # no breaker advice: crews know about this outage
    assert messages[1]["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]
    assert slots_of(events)["outage_reference"] == match.group(1)
    assert slots_of(events)["outage_address"] is None  # a later report starts fresh

    async with session_factory() as session:
        row = await session.scalar(
            select(OutageReport).where(OutageReport.reference == match.group(1))
        )
    assert (row.account_id, row.zip, row.hazard, row.outage_id is not None, row.channel) == (
        dana_account_id,
        "30833",
        True,
        True,
        "web",
    )


async def test_the_report_is_created_once_even_if_the_action_runs_twice(
    make_deps, demo, session_factory
) -> None:
    make_deps(NOW)
    slots = {"outage_address": "1520 Old Quaker Rd, Blythe", "outage_town": "Blythe"}
    t = tracker("1520 old quaker rd blythe", slots=slots, message_id="turn-7")
    first, _ = await run_action(ActionReportOutage(), t)
    second, _ = await run_action(ActionReportOutage(), t)

    assert texts(first) == texts(second)
    assert await report_count(session_factory) == 1


async def test_no_known_outage_asks_to_check_breakers_and_gives_a_reference(
    make_deps, demo
) -> None:
    make_deps(NOW)
    t = tracker(
        "1520 old quaker rd blythe",
        slots={"outage_address": "1520 Old Quaker Rd, Blythe", "outage_town": "Blythe"},
    )
    messages, _ = await run_action(ActionReportOutage(), t)

    assert texts(messages)[:2] == [
        "I don't see a known outage at 1520 Old Quaker Rd, Blythe yet, so your report helps crews "
        "find it.",
        BREAKERS,
    ]
    assert REFERENCE.match(texts(messages)[2])


# ---------------------------------------------------------------- text when power is back


async def test_by_sms_the_senders_number_is_used_without_asking(make_deps, demo) -> None:
    make_deps(NOW)
    t = tracker("yes", "affirm", metadata={"channel": "sms", "phone": "+17065550188"})
    messages, events = await run_action(ValidateOutageNotifyForm(), t)
    assert messages == [] and slots_of(events)["outage_notify_phone"] == "+17065550188"


async def test_on_the_web_a_typed_number_is_checked(make_deps, demo) -> None:
    make_deps(NOW)
    bad, events = await run_action(
        ValidateOutageNotifyForm(), tracker("555", slots={"requested_slot": "outage_notify_phone"})
    )
    assert texts(bad) == [
        (
            "That doesn't look like a US phone number. Please send the 10 digits, like "
            "706-555-0101, or say no thanks."
        )
    ]
    assert slots_of(events)["outage_notify_phone"] is None

    good, events = await run_action(
        ValidateOutageNotifyForm(),
        tracker(
            "(706) 555-0199",
            entities=entity("phone", "(706) 555-0199"),
            slots={"requested_slot": "outage_notify_phone"},
        ),
    )
    assert good == [] and slots_of(events)["outage_notify_phone"] == "+17065550199"


async def test_yes_stores_the_restore_text_on_the_report(make_deps, demo, session_factory) -> None:
    make_deps(NOW)
    _, events = await run_action(
        ActionReportOutage(),
        tracker(
            "5 pine hollow rd 30823",
            slots={"outage_address": "5 Pine Hollow Rd, 30823", "outage_zip": "30823"},
        ),
    )
    reference = slots_of(events)["outage_reference"]

    messages, _ = await run_action(
        ActionOutageNotify(),
        tracker(
            "yes",
            "affirm",
            slots={"outage_reference": reference, "outage_notify_phone": "+17065550199"},
        ),
    )

    assert texts(messages) == [
        (
            f"OK. I'll text the number ending 0199 when power is back for report {reference}. "
            "Anything else?"
        )
    ]
    async with session_factory() as session:
        row = await session.scalar(select(OutageReport).where(OutageReport.reference == reference))
    assert (row.notify_on_restore, row.notify_phone) == (True, "+17065550199")


# ---------------------------------------------------------------- status


async def test_status_by_reference_gives_the_report_and_its_outage(
    make_deps, dana_account_id
) -> None:
    make_deps(NOW)
    _, events = await run_action(
        ActionReportOutage(),
        tracker(
            "yes",
            "affirm",
            slots={
                **verified(dana_account_id),
                "outage_address": "412 Mill St, Wrens",
                "outage_town": "Wrens",
                "outage_zip": "30833",
                "outage_for_account": True,
            },
        ),
    )
    reference = slots_of(events)["outage_reference"]

    messages, _ = await run_action(
        ActionOutageStatus(),
        tracker(
            f"any news on {reference.lower()}",
            "outage_status",
            entities=entity("reference", reference),
        ),
    )

    assert texts(messages) == [f"Report {reference} was received today at 12:00 PM.", WRENS_OUTAGE]


async def test_an_unknown_reference_says_so_without_guessing(make_deps, demo) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(),
        tracker("R-99999", "outage_status", entities=entity("reference", "R-99999")),
    )
    assert texts(messages) == [
        (
            "I can't find R-99999. Please check the number; it looks like R-20331. You can also "
            "call our 24/7 line, 1-800-262-5131."
        )
    ]


async def test_status_by_zip_without_an_estimate_says_crews_are_assessing(make_deps, demo) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker("30434", entities=entity("zip_code", "30434"))
    )
    assert texts(messages) == [LOUISVILLE_OUTAGE, REPORT_OFFER]


async def test_no_known_outage_in_a_town_says_so_and_gives_the_24_7_line(make_deps, demo) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(),
        tracker("thomson", "outage_status", entities=entity("town", "thomson")),
    )
    assert texts(messages) == [
        (
            "I don't see a known outage in Thomson right now. If your power is out, please call "
            "our 24/7 line, 1-800-262-5131, to report it."
        ),
        REPORT_OFFER,
    ]


async def test_status_by_account_for_a_verified_member(make_deps, dana_account_id) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(),
        tracker("is my power out", "outage_status", slots=verified(dana_account_id)),
    )
    assert texts(messages) == [WRENS_OUTAGE, REPORT_OFFER]


async def test_status_with_no_place_asks_for_one_and_reveals_no_account(
    make_deps, dana_account_id
) -> None:
    make_deps(NOW)
    stale = {**verified(dana_account_id), "verified_at": (NOW - timedelta(hours=2)).isoformat()}
    messages, _ = await run_action(
        ActionOutageStatus(), tracker("is my power out", "outage_status", slots=stale)
    )
    assert texts(messages) == [
        (
            "Which should I check? Send your report number (like R-20331), a town or a 5-digit "
            "ZIP code."
        )
    ]


async def test_a_hazard_in_a_status_question_gets_safety_first(make_deps, demo) -> None:
    make_deps(NOW)
    messages, _ = await run_action(
        ActionOutageStatus(),
        tracker(
            "transformer blew in wrens when will power be back",
            "outage_status",
            entities=entity("town", "wrens"),
        ),
    )
    assert texts(messages) == SAFETY + [WRENS_OUTAGE, REPORT_OFFER]


# ---------------------------------------------------------------- status by town or ZIP

TUESDAY = TUESDAY_10AM  # a working day; these tests bring their own outages, not the demo data's


@pytest.fixture
async def outages(session_factory) -> None:
    """Wrens: storm damage, 240 homes, estimate 1:30 PM. Louisville: assessing, no estimate.
    Thomson: restored this morning (must not be reported as active)."""
    async with session_scope(session_factory) as session:
        session.add_all(
            [
                Outage(
                    reference="O-1",
                    status="active",
                    cause="storm damage",
                    crew_status="on site",
                    customers_affected=240,
                    started_at=TUESDAY - timedelta(hours=2),
                    estimated_restoration_at=TUESDAY + timedelta(hours=3, minutes=30),
                    areas=[OutageArea(town="Wrens", zip="30833")],
                ),
                Outage(
                    reference="O-2",
                    status="active",
                    cause=None,
                    crew_status="assessing",
                    customers_affected=85,
                    started_at=TUESDAY - timedelta(minutes=40),
                    areas=[OutageArea(town="Louisville", zip="30434")],
                ),
                Outage(
                    reference="O-3",
                    status="restored",
                    cause="tree on line",
                    customers_affected=12,
                    started_at=TUESDAY - timedelta(hours=6),
                    restored_at=TUESDAY - timedelta(hours=1),
                    areas=[OutageArea(town="Thomson", zip="30824")],
                ),
            ]
        )


def town(value: str) -> list[dict]:
    return [{"entity": "town", "value": value, "start": 0, "end": len(value)}]


def zip_code(value: str) -> list[dict]:
    return [{"entity": "zip_code", "value": value, "start": 0, "end": len(value)}]


async def test_known_outage_by_town_gives_cause_and_a_labelled_estimate(make_deps, outages) -> None:
    make_deps(TUESDAY)
    messages, events = await run_action(
        ActionOutageStatus(),
        tracker_for("is the power out in wrens", "outage_status", town("wrens")),
    )

    assert [m["text"] for m in messages] == [
        "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
        "Crews: on site. Estimated restoration: 1:30 PM, an estimate that may change.",
        REPORT_OFFER,
    ]
    # YES now means "take my report" (issue 9 item 1: one outage flow).
    assert events == [
        {"event": "slot", "name": "choice_yes", "value": "report_outage", "timestamp": None}
    ]


async def test_outage_without_an_estimate_says_crews_are_assessing(make_deps, outages) -> None:
    make_deps(TUESDAY)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("outage in 30434?", "outage_status", zip_code("30434"))
    )

    assert [m["text"] for m in messages] == [
        "Crews already know about an outage near Louisville (about 85 homes, cause not known yet). "
        "Crews are assessing it; there's no restoration estimate yet.",
        REPORT_OFFER,
    ]


async def test_no_known_outage_says_so_and_gives_the_24_7_line(make_deps, outages) -> None:
    make_deps(TUESDAY)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("power out in thomson", "outage_status", town("thomson"))
    )

    assert [m["text"] for m in messages] == [
        "I don't see a known outage in Thomson right now. If your power is out, please call our "
        "24/7 line, 1-800-262-5131, to report it.",
        REPORT_OFFER,
    ]


async def test_no_town_or_zip_asks_for_one_without_touching_the_database(make_deps) -> None:
    make_deps(TUESDAY)
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("is there an outage", "outage_status")
    )

    assert [m["text"] for m in messages] == [
        "Which town or 5-digit ZIP code should I check for outages?"
    ]


async def test_estimate_is_shown_in_eastern_time_whatever_the_clock_zone(
    make_deps, outages
) -> None:
    make_deps(TUESDAY.astimezone(UTC))
    messages, _ = await run_action(
        ActionOutageStatus(), tracker_for("wrens", "outage_status", town("Wrens"))
    )

    assert "Estimated restoration: 1:30 PM, an estimate that may change." in messages[0]["text"]
