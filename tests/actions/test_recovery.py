"""Never mind, the second miss, and leaving the queue, as a member reads them."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import select

from bot.actions.recovery import ActionFallbackOfferPerson, ActionStop, message_kind
from bot.services.handoff import request_handoff
from bot.store.db import session_scope
from bot.store.models import HandoffRequest
from tests.actions.conftest import TUESDAY_10AM, listening_tracker

DOMAIN = {
    "forms": {
        "payment_form": {
            "required_slots": ["payment_amount_choice", "payment_amount_cents", "payment_confirm"]
        },
        "callback_form": {
            "required_slots": ["callback_phone", "callback_best_time", "callback_topic"]
        },
        "contact_form": {"required_slots": ["new_contact", "account_id"]},
    }
}


def tracker(
    text: str,
    intent: str,
    *,
    active_loop: str | None = None,
    slots: dict[str, Any] | None = None,
    ranking: list[tuple[str, float]] = (),
) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.4},
        "entities": [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
    }
    return listening_tracker("conv-1", dict(slots or {}), message, active_loop=active_loop)


async def run(action, t: Tracker):
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return [m["text"] for m in dispatcher.messages], dispatcher.messages, events


async def test_never_mind_in_the_payment_form_stops_it_and_nothing_is_charged(make_deps) -> None:
    make_deps()
    texts, _, events = await run(
        ActionStop(), tracker("never mind", "cancel", active_loop="payment_form")
    )
    assert texts == ["OK, I've stopped the payment. Nothing was charged. Anything else?"]
    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    cleared = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert cleared == {
        "requested_slot": None,
        "payment_amount_choice": None,
        "payment_amount_cents": None,
        "payment_confirm": None,
    }


async def test_never_mind_in_any_other_form_uses_the_generic_words_and_keeps_identity(
    make_deps,
) -> None:
    make_deps()
    texts, _, events = await run(
        ActionStop(), tracker("forget it", "cancel", active_loop="contact_form")
    )
    assert texts == ["OK, I've stopped that. Nothing was changed. Anything else?"]
    names = {e.get("name") for e in events if e["event"] == "slot"}
    assert "new_contact" in names and "account_id" not in names


async def test_never_mind_with_nothing_going_on(make_deps) -> None:
    make_deps()
    texts, _, events = await run(ActionStop(), tracker("never mind", "cancel"))
    assert texts == ["OK. There's nothing in progress to stop. What can I help with?"]
    assert events == []


async def test_never_mind_while_waiting_for_an_agent_leaves_the_line(
    make_deps, session_factory
) -> None:
    make_deps(TUESDAY_10AM)
    async with session_scope(session_factory) as session:
        await request_handoff(
            session,
            conversation_id="conv-1",
            channel="web",
            topic=None,
            summary=None,
            verified_tier="public",
            verified_how=None,
            account_id=None,
            member_id=None,
            now=TUESDAY_10AM,
        )
    texts, _, events = await run(
        ActionStop(), tracker("never mind", "cancel", slots={"handoff_result": "queued"})
    )
    assert texts == [
        "OK, I've taken you out of the line for a person. Anything else I can help with?"
    ]
    async with session_scope(session_factory) as session:
        row = (await session.scalars(select(HandoffRequest))).one()
    assert row.status == "abandoned"
    assert events[0]["name"] == "handoff_result" and events[0]["value"] is None


async def test_second_miss_offers_a_person_the_menu_and_the_two_best_guesses(make_deps) -> None:
    make_deps()
    t = tracker(
        "my thingy is broke whats the deal",
        "nlu_fallback",
        ranking=[
            ("nlu_fallback", 0.55),
            ("usage_question", 0.3),
            ("greet", 0.2),
            ("report_outage", 0.15),
            ("pay_bill", 0.05),
        ],
    )
    texts, messages, _ = await run(ActionFallbackOfferPerson(), t)
    assert texts == [
        "Sorry, I still didn't understand. I can connect you with a person, or you can pick one "
        "of these or see the menu."
    ]
    assert messages[0]["buttons"] == [
        {"title": "My usage", "payload": "/usage_question"},
        {"title": "Report an outage", "payload": "/report_outage"},
        {"title": "Talk to a person", "payload": "/talk_to_human"},
        {"title": "See the menu", "payload": "/help"},
    ]


async def test_second_miss_on_emoji_or_another_language_says_why(make_deps) -> None:
    make_deps()
    texts, messages, _ = await run(
        ActionFallbackOfferPerson(),
        tracker("\U0001f621\U0001f621\U0001f621", "nlu_fallback", ranking=[("pay_bill", 0.3)]),
    )
    assert texts[0].startswith(
        "I can only read words, not emoji or pictures. I can connect you with a person"
    )
    assert [b["title"] for b in messages[0]["buttons"]] == ["Talk to a person", "See the menu"]

    texts, _, _ = await run(
        ActionFallbackOfferPerson(), tracker("necesito pagar mi factura", "nlu_fallback")
    )
    assert texts[0].startswith("Sorry, I can only understand English here.")


def test_message_kinds() -> None:
    assert message_kind("") == "empty"
    assert message_kind("   ") == "empty"
    assert message_kind("?!? \U0001f44d") == "symbols"
    assert (
        message_kind("\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440") == "other_language"
    )
    assert message_kind("hola quiero hablar con alguien") == "other_language"
    assert message_kind("my bill is weird") == "words"
    assert message_kind("'; DROP TABLE members; --") == "words"


async def test_every_reply_fits_one_text_message(make_deps) -> None:
    from bot.core.gsm7 import gsm7_length, is_gsm7

    make_deps()
    for t in (
        tracker("never mind", "cancel", active_loop="payment_form"),
        tracker(
            "zzz",
            "nlu_fallback",
            ranking=[("ask_extreme_weather", 0.4), ("ask_levelized_billing", 0.3)],
        ),
    ):
        action = (
            ActionStop()
            if t.latest_message["intent"]["name"] == "cancel"
            else ActionFallbackOfferPerson()
        )
        texts, _, _ = await run(action, t)
        assert all(is_gsm7(x) and gsm7_length(x) <= 306 for x in texts)
