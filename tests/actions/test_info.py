"""Information as a member reads it: office hours at the clock's "now", and every other answer
(offices, phones, fees, ways to pay, due dates...) from the co-op profile."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker

from bot.actions.deps import use_deps
from bot.actions.info import ActionAnswerInfo, ActionOfficeHours
from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.demo import generate_demo_data
from bot.services.info import INFO_INTENTS
from tests.actions.conftest import EASTERN, TUESDAY_10AM, run_action, tracker_for

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=EASTERN)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


async def answer(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> list[str]:
    messages, events = await run_action(ActionAnswerInfo(), tracker_for(text, intent, entities))
    assert events == []
    return texts(messages)


async def test_office_hours_on_a_weekday_morning(make_deps) -> None:
    make_deps(TUESDAY_10AM)
    messages, _ = await run_action(
        ActionOfficeHours(), tracker_for("what time do yall close", "ask_office_hours")
    )

    assert [m["text"] for m in messages] == [
        "Our offices are open until 5 PM today (the Louisville and Thomson offices close 1-2 PM "
        "for lunch)."
    ]


async def test_office_hours_on_saturday_say_when_we_open(make_deps) -> None:
    make_deps(datetime(2026, 11, 28, 11, 0, tzinfo=EASTERN))  # Saturday
    messages, _ = await run_action(
        ActionOfficeHours(), tracker_for("are you open", "ask_office_hours")
    )

    assert messages[0]["text"] == "Our office is closed now. We open Monday at 8 AM."


async def test_office_hours_for_a_named_office_during_its_lunch(make_deps) -> None:
    make_deps(datetime(2026, 12, 1, 13, 15, tzinfo=EASTERN))
    tracker = tracker_for(
        "is the louisville office open",
        "ask_office_hours",
        [{"entity": "town", "value": "Louisville", "start": 7, "end": 17}],
    )
    messages, _ = await run_action(ActionOfficeHours(), tracker)

    assert messages[0]["text"] == (
        "The Louisville office is closed for lunch until 2 PM. It is open until 5 PM today."
    )


def test_fake_clock_env_is_parsed_and_must_carry_a_zone() -> None:
    import pytest

    from bot.config import ConfigError
    from bot.core.clock import clock_from_env, system_clock

    assert clock_from_env({}) is system_clock
    assert clock_from_env({"JEC_FAKE_NOW": "2026-12-01T10:00:00-05:00"})() == TUESDAY_10AM
    with pytest.raises(ConfigError, match="UTC offset"):
        clock_from_env({"JEC_FAKE_NOW": "2026-12-01T10:00:00"})


async def test_every_information_answer_fits_an_sms(make_deps) -> None:
    make_deps()
    for intent in sorted(INFO_INTENTS):
        for text in await answer("question", intent):
            assert is_gsm7(text) and gsm7_length(text) <= 306, (intent, text)


async def test_phone_numbers(make_deps) -> None:
    make_deps()
    assert await answer("PHONE NUMBER", "ask_phone_numbers") == [
        (
            "Member services: (706) 547-2167 or 877-JEFFERSON (877-533-3377), Mon-Fri 8 AM-5 PM. "
            "Outages and emergencies, 24/7: 1-800-262-5131. Fax: (706) 592-4531."
        )
    ]


async def test_louisville_office_location_mentions_its_lunch_closure(make_deps) -> None:
    make_deps()
    town = [{"entity": "town", "value": "louisville", "start": 10, "end": 20}]
    assert await answer("where is louisville office", "ask_office_locations", town) == [
        "Our Louisville office is at 851 Peachtree St, Louisville, GA 30434.",
        (
            "It is open Mon-Fri 8 AM-5 PM, closed on co-op holidays. The Louisville office closes "
            "1-2 PM for lunch. It has a drive-through, payment kiosk and night drop box."
        ),
    ]


async def test_all_offices_with_the_unpublished_thomson_street_said_honestly(make_deps) -> None:
    make_deps()
    first, second = await answer("locations", "ask_office_locations")
    assert first == (
        "We have 4 offices. Wrens: 3077 Hwy 17 N, Wrens, GA 30833; Louisville: 851 Peachtree St, "
        "Louisville, GA 30434; Blythe: 3106 GA-88, Blythe, GA 30805; Thomson: Thomson, GA 30824. "
        "For directions call (706) 547-2167."
    )
    assert "The Louisville and Thomson offices close 1-2 PM for lunch." in second


async def test_fees_are_exact_amounts_from_the_profile(make_deps) -> None:
    make_deps()
    assert await answer("how much to reconnect", "ask_reconnect_fee") == [
        (
            "Reconnecting service after a disconnection for non-payment costs $50.00 Mon-Fri 8 "
            "AM-4 PM, and $100.00 at other times."
        )
    ]
    assert await answer("late fee?", "ask_late_fee") == [
        "A past-due balance over $25.00 gets a 5% late fee, at least $3.00.",
        "An unpaid bill can lead to disconnection if it is still unpaid at the next meter reading.",
    ]


async def test_a_changed_fee_in_the_profile_changes_the_answer(make_deps, profile) -> None:
    deps = make_deps()
    billing = replace(profile.billing, reconnect_fee_business_hours_cents=7550)
    use_deps(replace(deps, profile=replace(profile, billing=billing)))
    assert "$75.50" in (await answer("reconnect fee", "ask_reconnect_fee"))[0]


async def test_ways_to_pay_extreme_weather_levelized_and_register(make_deps) -> None:
    make_deps()
    pay = await answer("payment options", "ask_ways_to_pay")
    assert pay[0].startswith(
        "Ways to pay: online account at jec.coop; this assistant, by chat or text;"
    )
    assert pay[1] == (
        "Online payments usually post in 1-2 business days. A payment must reach an office by 5 PM "
        "on the due date."
    )
    weather = await answer("can yall cut me off in the cold", "ask_extreme_weather")
    assert weather[0].startswith(
        "We don't disconnect for non-payment when the National Weather Service"
    )
    assert (await answer("levelized billing", "ask_levelized_billing"))[0].startswith(
        "Levelized (budget) billing"
    )
    assert (await answer("register online", "ask_register_online"))[0].startswith(
        "To register online, go to jec.coop"
    )


async def test_due_date_rule_for_a_visitor(make_deps) -> None:
    make_deps(TUESDAY_10AM)
    assert await answer("DUE DATE", "ask_due_date") == [
        (
            "A bill is due 15 days after its billing date. Payment must reach us by 5 PM on the "
            "due date. Members 65 and older can ask for a billing date on the 1st of the month."
        )
    ]


@pytest.fixture
def demo(sqlite_url: str) -> str:
    generate_demo_data(sqlite_url, members=5, today=date(2026, 11, 28))
    return sqlite_url


async def test_due_date_for_a_verified_member_adds_their_exact_date(
    make_deps, demo, session_factory
) -> None:
    services = make_deps(NOW).members
    account = await services.find_account("1000007315")  # Earl: past due plus a current bill
    balance = await services.balance(account.id, NOW.date())
    slots = {
        "tier": "verified",
        "member_id": account.member_id,
        "account_id": account.id,
        "verified_at": (NOW - timedelta(minutes=1)).isoformat(),
    }
    message = {"text": "when is my bill due", "intent": {"name": "ask_due_date"}, "entities": []}
    tracker = Tracker(
        "earl",
        slots,
        message,
        [{"event": "user", "parse_data": message}],
        False,
        None,
        {},
        "action_listen",
    )
    messages, _ = await run_action(ActionAnswerInfo(), tracker)

    due = balance.due_date
    assert texts(messages)[-1] == (
        f"Your current bill on account ending 7315 is due {due:%b} {due.day}, {due.year}. "
        "$38.10 is past due now."
    )


async def test_an_intent_it_does_not_answer_gets_a_menu_not_a_guess(make_deps) -> None:
    make_deps()
    assert await answer("hmm", "greet") == [
        (
            "I can tell you about our offices, phone numbers, ways to pay, due dates, fees, "
            "levelized billing and registering online. What would you like to know?"
        )
    ]
