"""End to end: the REAL Rasa 3.6 server and the REAL action server, talking over HTTP, with the
trained model and a database full of demo data, driven through Rasa's REST channel as a member
would. The action server's clock is frozen (JEC_FAKE_NOW) at a Tuesday 10 AM Eastern, so office
hours and outage estimates are predictable.

The session's stack (fixtures `rasa_stack` and `talk`) lives in tests/stack.py, shared with
the journey and full-stack tests: the processes are started with the same code `jecbot run` uses
(bot.runner), on free ports, with their own temporary database, tracker store and logs. On a
failure the logs' folder is printed.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.rasa, pytest.mark.slow]


def _texts(replies: list[dict]) -> list[str]:
    return [reply["text"] for reply in replies if reply.get("text")]


async def test_greeting_lists_what_it_can_do_and_the_24_7_line(talk) -> None:
    replies = await talk("hi")

    texts = _texts(replies)
    assert texts[0] == (
        "Hi, I'm the Jefferson Energy Cooperative assistant. I can take a payment, check your "
        "balance, report an outage or check on one, connect you with a person and tell you our "
        "office hours. What can I help with?"
    )
    assert texts[1] == (
        "To talk with a person, call member services at (706) 547-2167. "
        "For outages and emergencies, call 1-800-262-5131 any time, 24/7."
    )
    assert [b["title"] for b in replies[0]["buttons"]] == [
        "Pay my bill",
        "My balance",
        "Outage in my area",
        "Talk to a person",
        "Office hours",
    ]


async def test_closing_time_comes_from_the_profile(talk) -> None:
    replies = await talk("what time do yall close")

    assert _texts(replies) == [
        "Our offices are open until 5 PM today "
        "(the Louisville and Thomson offices close 1-2 PM for lunch)."
    ]


async def test_outage_in_a_town_comes_from_the_database_with_a_labelled_estimate(talk) -> None:
    replies = await talk("is the power out in wrens")

    # The demo data's Wrens outage: 240 homes, storm damage, estimate 3 hours after "now" (10 AM).
    assert _texts(replies) == [
        "Crews already know about an outage near Wrens (about 240 homes, cause: storm damage). "
        "Crews: on site. Estimated restoration: 1:00 PM, an estimate that may change.",
        # One outage flow (issue 9 item 1): the member may be out too.
        "Is your power out? Reply YES and I'll take your report, or NO if you're fine.",
    ]


async def test_a_button_payload_starts_its_journey(talk) -> None:
    greeting = await talk("hello")
    outage_button = next(b for b in greeting[0]["buttons"] if b["title"] == "Outage in my area")

    replies = await talk(outage_button["payload"])

    assert _texts(replies) == ["Which town or 5-digit ZIP code should I check for outages?"]
