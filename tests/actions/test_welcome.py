"""Welcome and help as a member reads them: what the assistant can do and how to reach a person."""

from __future__ import annotations

from bot.actions.welcome import ActionGreet, ActionHelp
from tests.actions.conftest import run_action, tracker_for

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
        "Hi, I'm the Jefferson Energy Cooperative assistant. I can take a payment, check your "
        "balance, report an outage or check on one, connect you with a person and tell you our "
        "office hours. What can I help with?",
        CONTACT,
    ]
    assert messages[0]["buttons"] == [
        {"title": "Pay my bill", "payload": "/pay_bill"},
        {"title": "My balance", "payload": "/check_balance"},
        {"title": "Outage in my area", "payload": "/outage_status"},
        {"title": "Talk to a person", "payload": "/talk_to_human"},
        {"title": "Office hours", "payload": "/ask_office_hours"},
    ]
    assert events == []


async def test_help_repeats_the_menu_and_the_phone_numbers(make_deps) -> None:
    make_deps()
    messages, _ = await run_action(ActionHelp(), tracker_for("help", "help"))

    assert messages[0]["text"].startswith("I can take a payment, check your balance")
    assert "office hours" in messages[0]["text"]
    assert len(messages[0]["buttons"]) == 5
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


async def test_a_verified_member_is_greeted_by_name_with_usage_and_bills_on_the_menu(
    make_deps,
) -> None:
    make_deps()
    tracker = tracker_for("hi", "greet")
    tracker.slots.update({"tier": "verified", "member_first_name": "Dana"})
    messages, _ = await run_action(ActionGreet(), tracker)

    assert messages[0]["text"].startswith("Hi Dana, I'm the Jefferson Energy Cooperative")
    assert "usage and past bills" in messages[0]["text"]
    assert {"title": "My usage", "payload": "/usage_question"} in messages[0]["buttons"]
