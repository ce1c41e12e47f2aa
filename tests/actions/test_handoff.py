"""Talk to a person and callbacks, as a member (and the agent console) would see them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from bot.actions.handoff import (
    ActionAskCallbackPhone,
    ActionHandback,
    ActionSubmitCallback,
    ActionTalkToHuman,
    ValidateCallbackForm,
)
from bot.store.db import session_scope
from bot.store.models import Agent, CallbackRequest, Contact, HandoffRequest, Member
from tests.actions.conftest import EASTERN, TUESDAY_10AM, listening_tracker, run_action
from tests.store import rows

SATURDAY_11AM = datetime(2026, 11, 28, 11, 0, tzinfo=EASTERN)
CLOSED_OFFER = (
    "Our office is closed now. We open Monday at 8 AM. I can ask someone to call you back then, or "
    "keep helping here. For outages or emergencies, call 1-800-262-5131 any time."
)
DOMAIN = {
    "forms": {
        "callback_form": {
            "required_slots": ["callback_phone", "callback_best_time", "callback_topic"]
        }
    }
}


@pytest.fixture
async def dana(session_factory) -> dict[str, int]:
    """Dana Whitfield, account ending 4821, phone on file (706) 555-0101."""
    async with session_scope(session_factory) as session:
        member = Member(member_number="M-1", first_name="Dana", last_name="Whitfield")
        account = rows.account(member, "1000004821")
        session.add_all(
            [
                member,
                account,
                Contact(member=member, kind="phone", value="+17065550101", is_primary=True),
            ]
        )
        await session.flush()
        return {"member_id": member.id, "account_id": account.id}


async def add_agent(
    session_factory, *, presence: str = "online", seen: datetime = TUESDAY_10AM
) -> None:
    async with session_scope(session_factory) as session:
        session.add(
            Agent(
                username=f"agent{seen.timestamp()}{presence}",
                display_name="Maria",
                password_hash="x",
                presence=presence,
                last_seen_at=seen - timedelta(seconds=20),
            )
        )


def tracker(
    text: str,
    intent: str,
    *,
    slots: dict[str, Any] | None = None,
    history: list[tuple[str, str]] = (),
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender: str = "conv-1",
) -> Tracker:
    """A tracker with earlier member messages `history` [(text, intent)] and the latest one."""
    events = []
    for old_text, old_intent in [*history, (text, intent)]:
        parse = {
            "text": old_text,
            "intent": {"name": old_intent, "confidence": 0.98},
            "entities": [],
        }
        events.append(
            {"event": "user", "text": old_text, "parse_data": parse, "metadata": metadata or {}}
        )
    latest = dict(events[-1]["parse_data"], metadata=metadata or {})
    return listening_tracker(sender, dict(slots or {}), latest, events, active_loop)


def verified_slots(
    ids: dict[str, int], now: datetime = TUESDAY_10AM, tier: str = "verified"
) -> dict[str, Any]:
    return {
        "tier": tier,
        "member_id": ids["member_id"],
        "account_id": ids["account_id"],
        "account_last4": "4821",
        "member_first_name": "Dana",
        "verified_how": "account+zip",
        "verified_at": (now - timedelta(minutes=2)).isoformat(),
    }


async def test_in_hours_with_an_agent_online_queues_with_identity_and_pauses_the_bot(
    make_deps, session_factory, dana
) -> None:
    make_deps(TUESDAY_10AM)
    await add_agent(session_factory)
    t = tracker(
        "can I talk to a real person",
        "talk_to_human",
        slots=verified_slots(dana),
        history=[("when is my draft 4111 1111 1111 1111", "view_draft")],
    )

    messages, events = await run_action(ActionTalkToHuman(), t)

    async with session_scope(session_factory) as session:
        rows = (await session.scalars(select(HandoffRequest))).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.conversation_id, row.status, row.verified_tier, row.verified_how) == (
        "conv-1",
        "waiting",
        "verified",
        "account+zip",
    )
    assert (row.account_id, row.member_id) == (dana["account_id"], dana["member_id"])
    assert row.topic == "view draft"
    assert "4111 1111 1111 1111" not in row.summary and "can I talk to a real person" in row.summary
    assert messages[0]["text"] == (
        "Sure. I'm connecting you with our member-services team. You're number 1 in line, usually "
        "about 4 minutes. I'll stay quiet while you chat with them."
    )
    assert messages[1]["custom"] == {"handoff": {"status": "queued", "handoff_id": row.id}}
    assert {
        "event": "slot",
        "name": "handoff_result",
        "value": "queued",
        "timestamp": None,
    } in events
    assert events[-1]["event"] == "pause"


async def test_second_member_in_line_hears_number_two_and_asking_again_does_not_requeue(
    make_deps, session_factory
) -> None:
    make_deps(TUESDAY_10AM)
    await add_agent(session_factory)
    await run_action(ActionTalkToHuman(), tracker("agent", "talk_to_human", sender="first"))
    messages, _ = await run_action(
        ActionTalkToHuman(), tracker("representative", "talk_to_human", sender="second")
    )
    again, _ = await run_action(
        ActionTalkToHuman(), tracker("hello?? person", "talk_to_human", sender="second")
    )

    assert "You're number 2 in line, usually about 8 minutes." in messages[0]["text"]
    assert again[0]["text"].startswith("You're already in line")
    async with session_scope(session_factory) as session:
        rows = (await session.scalars(select(HandoffRequest))).all()
    assert sorted(r.conversation_id for r in rows) == ["first", "second"]
    assert all(r.verified_tier == "public" and r.member_id is None for r in rows)


async def test_queueing_from_inside_a_form_leaves_the_form(make_deps, session_factory) -> None:
    make_deps(TUESDAY_10AM)
    await add_agent(session_factory)
    _, events = await run_action(
        ActionTalkToHuman(), tracker("agent please", "talk_to_human", active_loop="payment_form")
    )
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "pause" and "active_loop" in kinds


async def test_out_of_hours_offers_a_callback_and_the_outage_line(
    make_deps, session_factory
) -> None:
    make_deps(SATURDAY_11AM)
    await add_agent(
        session_factory, seen=SATURDAY_11AM
    )  # someone online on a Saturday: still closed

    messages, events = await run_action(ActionTalkToHuman(), tracker("agent", "talk_to_human"))

    assert [m["text"] for m in messages] == [CLOSED_OFFER]
    assert messages[0]["buttons"] == [
        {"title": "Request a callback", "payload": "/request_callback"},
        {"title": "Keep chatting", "payload": "/help"},
    ]
    assert [e["event"] for e in events] == ["slot"] and events[0]["value"] == "closed"
    async with session_scope(session_factory) as session:
        assert (await session.scalars(select(HandoffRequest))).all() == []


async def test_on_a_holiday_the_offer_names_it(make_deps) -> None:
    make_deps(datetime(2026, 11, 26, 10, 0, tzinfo=EASTERN))
    messages, _ = await run_action(ActionTalkToHuman(), tracker("talk to a human", "talk_to_human"))
    assert messages[0]["text"].startswith(
        "Our office is closed today for Thanksgiving Day. We open Monday at 8 AM."
    )


async def test_in_hours_with_nobody_online_offers_a_callback_today(
    make_deps, session_factory
) -> None:
    make_deps(TUESDAY_10AM)
    await add_agent(session_factory, presence="away")
    await add_agent(session_factory, seen=TUESDAY_10AM - timedelta(minutes=10))  # console closed

    messages, events = await run_action(ActionTalkToHuman(), tracker("agent", "talk_to_human"))

    assert messages[0]["text"] == (
        "Everyone on our member-services team is busy right now. I can ask someone to call you "
        "back "
        "today before 5 PM, or keep helping here. For outages or emergencies, call 1-800-262-5131 "
        "any time."
    )
    assert events[0]["value"] == "no_agents"


async def test_handback_says_the_assistant_is_back(make_deps) -> None:
    make_deps()
    messages, events = await run_action(ActionHandback(), tracker("", "EXTERNAL_agent_handback"))
    assert (
        messages[0]["text"]
        == "You're back with the automated assistant. Anything else I can help with?"
    )
    assert events[0]["name"] == "handoff_result" and events[0]["value"] is None


# -- callback form --------------------------------------------------------------------------------


async def test_callback_phone_question_offers_the_number_on_file(make_deps, dana) -> None:
    make_deps()
    messages, _ = await run_action(
        ActionAskCallbackPhone(),
        tracker("call me back", "request_callback", slots=verified_slots(dana)),
    )
    assert (
        messages[0]["text"]
        == "Should we call you at (706) 555-0101? Reply YES, or send the number to call."
    )
    assert messages[0]["buttons"] == [{"title": "Yes, (706) 555-0101", "payload": "/affirm"}]


async def test_callback_phone_question_by_sms_offers_the_sender(make_deps) -> None:
    make_deps()
    t = tracker("call me", "request_callback", metadata={"channel": "sms", "phone": "+17065550199"})
    messages, _ = await run_action(ActionAskCallbackPhone(), t)
    assert "(706) 555-0199" in messages[0]["text"]


async def validate(slot: str, value: str, intent: str, slots: dict[str, Any]) -> tuple[dict, list]:
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    method = getattr(ValidateCallbackForm(), f"validate_{slot}")
    result = method(value, dispatcher, tracker(value, intent, slots=slots), DOMAIN)
    if hasattr(result, "__await__"):
        result = await result
    return result, [m["text"] for m in dispatcher.messages]


async def test_callback_phone_validation(make_deps, dana) -> None:
    make_deps()
    slots = verified_slots(dana)
    assert (await validate("callback_phone", "yes", "affirm", slots))[0] == {
        "callback_phone": "+17065550101"
    }
    assert (await validate("callback_phone", "call 706.555.0177", "inform", slots))[0] == {
        "callback_phone": "+17065550177"
    }
    result, said = await validate("callback_phone", "555-0101", "inform", slots)
    assert result == {"callback_phone": None}
    assert said == [
        "That doesn't look like a US phone number. Please send 10 digits with the area code, like "
        "706-555-0101."
    ]
    result, said = await validate("callback_phone", "4111 1111 1111 1111", "inform", slots)
    assert result == {"callback_phone": None} and said[0].startswith(
        "For your safety I didn't keep that number."
    )


async def test_best_time_and_topic_are_short_words(make_deps, dana) -> None:
    make_deps()
    slots = verified_slots(dana)
    assert (await validate("callback_best_time", "  after 2 pm ", "inform", slots))[0] == {
        "callback_best_time": "after 2 pm"
    }
    result, said = await validate(
        "callback_best_time", "\U0001f600\U0001f600", "nlu_fallback", slots
    )
    assert result == {"callback_best_time": None} and "mornings" in said[0]
    result, said = await validate("callback_topic", "x" * 500, "inform", slots)
    assert result == {"callback_topic": None} and said[0].startswith("That's a bit long")
    assert (await validate("callback_topic", "my draft date", "inform", slots))[0] == {
        "callback_topic": "my draft date"
    }


async def test_unverified_member_gets_no_callback_questions(make_deps) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    make_deps()
    slots = await ValidateCallbackForm().required_slots(
        list(DOMAIN["forms"]["callback_form"]["required_slots"]),
        CollectingDispatcher(),
        tracker("call me", "request_callback"),
        DOMAIN,
    )
    assert slots == []


async def test_submitting_the_callback_stores_it_and_says_when(
    make_deps, session_factory, dana
) -> None:
    make_deps(SATURDAY_11AM)
    slots = {
        **verified_slots(dana, SATURDAY_11AM),
        "callback_phone": "+17065550101",
        "callback_best_time": "mornings",
        "callback_topic": "my draft date",
    }

    messages, events = await run_action(
        ActionSubmitCallback(), tracker("my draft date", "inform", slots=slots)
    )

    assert [m["text"] for m in messages] == [
        "Thanks. Someone from member services will call you at (706) 555-0101 on Monday after 8 AM."
    ]
    async with session_scope(session_factory) as session:
        rows = (await session.scalars(select(CallbackRequest))).all()
    assert len(rows) == 1
    assert (
        rows[0].phone,
        rows[0].best_time,
        rows[0].topic,
        rows[0].verified_tier,
        rows[0].account_id,
        rows[0].name,
    ) == ("+17065550101", "mornings", "my draft date", "verified", dana["account_id"], "Dana")
    assert {e["name"] for e in events} == {"callback_phone", "callback_best_time", "callback_topic"}


async def test_submitting_without_verification_stores_nothing(make_deps, session_factory) -> None:
    make_deps(SATURDAY_11AM)
    messages, _ = await run_action(
        ActionSubmitCallback(), tracker("x", "inform", slots={"callback_phone": "+17065550101"})
    )
    assert [m["text"] for m in messages] == [
        "I need to verify your account before I can set up a callback. Ask for a callback again "
        "and "
        "I'll walk you through it, or call member services at (706) 547-2167."
    ]
    async with session_scope(session_factory) as session:
        assert (await session.scalars(select(CallbackRequest))).all() == []
