"""Welcome, help and office hours as a member reads them."""

from __future__ import annotations

from datetime import datetime

from bot.actions.info import ActionGreet, ActionHelp, ActionOfficeHours
from tests.actions.conftest import EASTERN, TUESDAY_10AM, run_action, tracker_for

CONTACT = (
    "To talk with a person, call member services at (706) 547-2167. "
    "For outages and emergencies, call 1-800-262-5131 any time, 24/7."
)


async def test_greeting_says_what_it_can_do_offers_buttons_and_how_to_reach_a_person(
    make_deps,
) -> None:
    make_deps()
    messages, events = await run_action(ActionGreet(), tracker_for("hi", "greet"))

    assert [m["text"] for m in messages] == [
        "Hi, I'm the Jefferson Energy Cooperative assistant. I can tell you our office hours and "
        "check for a known power outage in your town or ZIP code. What can I help with?",
        CONTACT,
    ]
    assert messages[0]["buttons"] == [
        {"title": "Office hours", "payload": "/ask_office_hours"},
        {"title": "Outage in my area", "payload": "/outage_status"},
    ]
    assert events == []


async def test_help_repeats_the_menu_and_the_phone_numbers(make_deps) -> None:
    make_deps()
    messages, _ = await run_action(ActionHelp(), tracker_for("help", "help"))

    assert messages[0]["text"].startswith("I can tell you our office hours")
    assert len(messages[0]["buttons"]) == 2
    assert messages[1]["text"] == CONTACT


async def test_phone_numbers_come_from_the_profile(make_deps, profile) -> None:
    from dataclasses import replace

    other = replace(
        profile,
        phones=replace(
            profile.phones, member_services="(555) 010-0000", outage_24_7="1-800-555-0199"
        ),
    )
    deps = make_deps()
    from bot.actions.deps import use_deps

    use_deps(replace(deps, profile=other))
    messages, _ = await run_action(ActionGreet(), tracker_for("hello", "greet"))

    assert "(555) 010-0000" in messages[1]["text"]
    assert "1-800-555-0199" in messages[1]["text"]
    assert "547-2167" not in messages[1]["text"]


async def test_office_hours_on_a_weekday_morning(make_deps) -> None:
    make_deps(TUESDAY_10AM)
    messages, _ = await run_action(
        ActionOfficeHours(), tracker_for("what time do yall close", "ask_office_hours")
    )

    assert [m["text"] for m in messages] == [
        "Our offices are open until 5 PM today (the Louisville and Thomson offices close 1-2 PM for lunch)."
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
