"""Handoff, talk to a person: queue for an agent in hours, otherwise offer a callback.

Thin: the rules (agent hours, who is online, queue place, wait estimate, callback records) are in
`bot.services.handoff`. The contract with the gateway is docs/handoff-contract.md: when the
member is queued this action sends the custom payload `{"handoff": {"status": "queued",
"handoff_id": N}}` and pauses the conversation (`ConversationPaused`), so Rasa stays silent while
an agent has it; the gateway resumes it and triggers `EXTERNAL_agent_handback` when the agent is
done, and `action_handback` tells the member the assistant is back.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import (
    Dispatcher,
    Identity,
    JourneyAction,
    JourneyForm,
    current_identity,
    scrub_card_numbers,
)
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.tracker import channel_of, phone_of
from bot.core.masking import CARD_NOT_KEPT_MESSAGE, mask_sensitive
from bot.core.phones import display_phone, normalize_phone
from bot.services.handoff import (
    agents_available,
    callback_when,
    closed_sentence,
    create_callback,
    handoff_decision,
    request_handoff,
    wait_phrase,
)
from bot.services.identity import Tier
from bot.services.office_hours import OfficeHours
from bot.store.db import session_scope

SUMMARY_MESSAGES = 5
# Intents that say nothing about what the member needs, so they never become the topic.
_NOT_A_TOPIC = frozenset(
    {
        "greet",
        "goodbye",
        "thanks",
        "affirm",
        "deny",
        "bot_challenge",
        "help",
        "out_of_scope",
        "cancel",
        "restart",
        "talk_to_human",
        "request_callback",
        "inform",
        "nlu_fallback",
        "EXTERNAL_agent_handback",
        "session_start",
    }
)
CALLBACK_SLOTS = ("callback_phone", "callback_best_time", "callback_topic")
HANDBACK_TEXT = "You're back with the automated assistant. Anything else I can help with?"


def _identity(tracker: Tracker, deps: ActionDeps) -> Identity | None:
    return current_identity(tracker, now=deps.now(), rules=deps.rules.verification)


def member_texts(tracker: Tracker, limit: int = SUMMARY_MESSAGES) -> list[str]:
    """The member's last messages, masked, oldest first (button payloads like /help skipped)."""
    texts: list[str] = []
    for event in reversed(list(tracker.events or [])):
        if event.get("event") != "user":
            continue
        text = " ".join(str(event.get("text") or "").split())
        if not text or text.startswith("/"):
            continue
        texts.append(mask_sensitive(text).text[:160])
        if len(texts) == limit:
            break
    return list(reversed(texts))


def summary_of(tracker: Tracker) -> str | None:
    """A short summary for the agent: the last few member messages."""
    texts = member_texts(tracker)
    return " / ".join(f'"{t}"' for t in texts) if texts else None


def topic_of(tracker: Tracker) -> str | None:
    """What the member was doing before asking: the journey slot, else the last telling intent."""
    journey = tracker.get_slot("journey")
    if journey:
        return str(journey).replace("_", " ")
    for event in reversed(list(tracker.events or [])):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent and intent not in _NOT_A_TOPIC:
            return str(intent).replace("_", " ")
    return None


def callback_offer_buttons() -> list[dict[str, str]]:
    return [
        {"title": "Request a callback", "payload": "/request_callback"},
        {"title": "Keep chatting", "payload": "/help"},
    ]


class ActionTalkToHuman(JourneyAction):
    """In agent hours with someone online: queue, say the place and wait, pause the bot.
    Otherwise: say when we open (or that nobody is free), offer a callback and the 24/7 line."""

    action_name = "action_talk_to_human"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        now = deps.now()
        hours = OfficeHours(deps.profile)
        outage = deps.profile.phones.outage_24_7
        identity = _identity(tracker, deps)

        async with session_scope(deps.sessions) as session:
            online = await agents_available(session, now)
            decision = handoff_decision(now, hours, online)
            ticket = None
            if decision == "queue":
                ticket = await request_handoff(
                    session,
                    conversation_id=tracker.sender_id,
                    channel=channel_of(tracker),
                    topic=topic_of(tracker),
                    summary=summary_of(tracker),
                    verified_tier=identity.tier.value if identity else Tier.PUBLIC.value,
                    verified_how=identity.verified_how if identity else None,
                    account_id=identity.account_id if identity else None,
                    member_id=identity.member_id if identity else None,
                    now=now,
                    agents_online=online,
                )

        if ticket is not None:
            opening = (
                "Sure. I'm connecting you with our member-services team."
                if ticket.created
                else "You're already in line for our member-services team."
            )
            dispatcher.utter_message(
                text=f"{opening} {wait_phrase(ticket)} I'll stay quiet while you chat with them."
            )
            dispatcher.utter_message(
                json_message={"handoff": {"status": "queued", "handoff_id": ticket.handoff_id}}
            )
            events: list[dict[str, Any]] = [SlotSet("handoff_result", "queued")]
            if tracker.active_loop.get("name"):
                # The agent takes over: a half-filled form must not resume when the bot is back.
                events += [ActiveLoop(None), SlotSet("requested_slot", None)]
            return events + [ConversationPaused()]

        if decision == "closed":
            first = (
                f"{closed_sentence(now, hours)} I can ask someone to call you back then, or keep "
                "helping here."
            )
        else:
            first = (
                "Everyone on our member-services team is busy right now. I can ask someone to call "
                f"you back {callback_when(now, hours)}, or keep helping here."
            )
        dispatcher.utter_message(
            text=f"{first} For outages or emergencies, call {outage} any time.",
            buttons=callback_offer_buttons(),
        )
        return [SlotSet("handoff_result", decision)]


class ActionHandback(Action):
    """Run when the gateway hands the conversation back (trigger_intent EXTERNAL_agent_handback)."""

    def name(self) -> str:
        return "action_handback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=HANDBACK_TEXT)
        return [SlotSet("handoff_result", None)]


# -- callback form --------------------------------------------------------------------------------


async def default_phone(tracker: Tracker, deps: ActionDeps) -> str | None:
    """The number to offer: the SMS sender's phone, else the verified member's phone on file."""
    sender = phone_of(tracker)
    if sender:
        return sender
    identity = _identity(tracker, deps)
    if identity is None:
        return None
    services = deps.members
    for contact in await services.member_contacts(identity.member_id):
        if contact.kind == "phone" and normalize_phone(contact.value):
            return normalize_phone(contact.value)
    return None


class ActionAskCallbackPhone(JourneyAction):
    """Ask which number to call, offering the number we already know as a one-tap yes."""

    action_name = "action_ask_callback_phone"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        known = await default_phone(tracker, deps)
        if known:
            dispatcher.utter_message(
                text=f"Should we call you at {display_phone(known)}? Reply YES, or send the "
                "number to call.",
                buttons=[{"title": f"Yes, {display_phone(known)}", "payload": "/affirm"}],
            )
        else:
            dispatcher.utter_message(
                text="What number should we call? Please include the area code."
            )
        return []


class ValidateCallbackForm(JourneyForm):
    """Phone (E.164), best time and topic: short, free text, never a card number."""

    action_name = "validate_callback_form"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        # Callbacks are a verified-tier request (docs/policies.md, "Identity tiers"). A gate that
        # failed for good ends the form at once; action_submit_callback then explains (or stays
        # silent).
        deps = await get_deps()
        identity = _identity(tracker, deps)
        if identity is None or not identity.at_least(Tier.VERIFIED):
            return []
        return list(domain_slots)

    async def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "affirm":
            known = await default_phone(tracker, deps)
            if known:
                return {"callback_phone": known}
        scrub = scrub_card_numbers(value)
        if scrub.found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"callback_phone": None}
        phone = normalize_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(
                text="That doesn't look like a US phone number. Please send 10 digits with the "
                "area code, like 706-555-0101."
            )
            return {"callback_phone": None}
        return {"callback_phone": phone}

    def validate_callback_best_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._short_text(
            "callback_best_time",
            value,
            80,
            dispatcher,
            'Please tell me a time in a few words, like "mornings" or "after 2 PM".',
        )

    def validate_callback_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._short_text(
            "callback_topic",
            value,
            200,
            dispatcher,
            "Please tell me in a few words what the call is about.",
        )

    @staticmethod
    def _short_text(
        slot: str, value: Any, limit: int, dispatcher: CollectingDispatcher, reask: str
    ) -> dict[str, Any]:
        scrub = scrub_card_numbers(value)
        if scrub.found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {slot: None}
        text = " ".join(str(value or "").split())
        if not any(ch.isalnum() for ch in text) or text.startswith("/"):
            dispatcher.utter_message(text=reask)
            return {slot: None}
        if len(text) > limit:
            dispatcher.utter_message(text=f"That's a bit long for a note to staff. {reask}")
            return {slot: None}
        return {slot: text}


class ActionSubmitCallback(JourneyAction):
    """Record the callback and say who calls, at which number, and when."""

    action_name = "action_submit_callback"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        clear = [SlotSet(slot, None) for slot in CALLBACK_SLOTS]
        if tracker.get_slot("gate_stopped"):
            return clear  # the identity gate already said why and gave the phone number
        identity = _identity(tracker, deps)
        phone = tracker.get_slot("callback_phone")
        if identity is None or not identity.at_least(Tier.VERIFIED):
            dispatcher.utter_message(
                text="I need to verify your account before I can set up a callback. Ask for a "
                "callback again and I'll walk you through it, or call member services at "
                f"{deps.profile.phones.member_services}."
            )
            return clear
        if not phone:
            dispatcher.utter_message(
                text="I couldn't take a phone number, so no callback was set up. You can call "
                f"member services at {deps.profile.phones.member_services}."
            )
            return clear
        now = deps.now()
        async with session_scope(deps.sessions) as session:
            await create_callback(
                session,
                conversation_id=tracker.sender_id,
                channel=channel_of(tracker),
                name=identity.first_name or None,
                phone=phone,
                best_time=tracker.get_slot("callback_best_time"),
                topic=tracker.get_slot("callback_topic"),
                account_id=identity.account_id,
                verified_tier=identity.tier.value,
                now=now,
            )
        when = callback_when(now, OfficeHours(deps.profile))
        dispatcher.utter_message(
            text=f"Thanks. Someone from member services will call you at {display_phone(phone)} "
            f"{when}."
        )
        return clear
