"""Report an outage: the address form, then the report with what is known there.

Flow: report_outage -> action_outage_safety -> outage_report_form (address: the verified account's
service address with a YES, or any address with a street and a town/ZIP) -> action_report_outage
(known outage there with a labelled estimate, or breaker advice when none is known; a reference;
an offer of a text when power is back).

Design choice: breaker advice is given only when no known outage covers the address. When crews
already know about an outage there, the breakers are not the cause and the advice would only
delay the member.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, JourneyAction, verified_account_id
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.outage.safety import hazard_events, safety_already_given
from bot.actions.tracker import (
    channel_of,
    idempotency_key,
    latest_entity,
    latest_intent,
    latest_text,
)
from bot.core.masking import find_bank_numbers, find_card_numbers
from bot.services.outage import (
    Address,
    AddressError,
    OutageService,
    describe,
    detect_hazard,
    parse_address,
    safety_message,
)

YES_NO_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
# Intents whose text may be the answer to "what's the address / which number": anything else
# (a side question, cancel, start over) is left to the rules, and the form re-asks afterwards.
ANSWER_INTENTS = frozenset(
    {
        "inform",
        "affirm",
        "deny",
        "report_outage",
        "nlu_fallback",
        "out_of_scope",
        "outage_status",
        "request_callback",
    }
)
ADDRESS_SLOTS = (
    "outage_address",
    "outage_town",
    "outage_zip",
    "outage_for_account",
    "outage_address_draft",
    "outage_hazard",
    "outage_hazard_note",
    "outage_tries",
)
CARD_NOT_KEPT = (
    "For your safety I didn't keep that number. Please never send card or bank numbers in a "
    "chat or text."
)
ADDRESS_PROBLEMS = {
    "empty": "I didn't get an address there.",
    "unclear": "I couldn't read that as an address. Letters, numbers and commas work best.",
    "too_long": "That's longer than an address.",
    "need_street": "I need the street too, like 412 Mill St.",
    "need_town": "Which town or ZIP code is that in?",
}
BREAKERS = (
    "Please check your breakers or fuse box too. If the main breaker has tripped, switch it "
    "fully off and back on. If that brings your power back, there's nothing more to do."
)


async def _account_address(tracker: Tracker) -> tuple[int, str] | None:
    deps = await get_deps()
    account_id = verified_account_id(tracker, deps)
    if account_id is None:
        return None
    record = await deps.members.account(account_id)
    return (record.id, record.service_address) if record else None


def _title(street: str) -> str:
    return " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in street.split())


class ActionAskOutageAddress(Action):
    """Ask where the power is out: the verified account's address first, else any address."""

    def name(self) -> str:
        return "action_ask_outage_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        again = bool(tracker.get_slot("outage_tries"))
        if tracker.get_slot("outage_for_account") is not False and not again:
            account = await _account_address(tracker)
            if account is not None:
                dispatcher.utter_message(
                    text=f"I'll report the outage. Is it for {account[1]}? Reply YES or send "
                    "the address.",
                    buttons=[{"title": "Yes", "payload": "/affirm"}],
                )
                return []
        draft = tracker.get_slot("outage_address_draft")
        if draft:
            dispatcher.utter_message(text=f"Which town or ZIP code is {_title(str(draft))} in?")
            return []
        if again:
            text = (
                "What's the address where the power is out? The street and the town or ZIP "
                "code, please."
            )
        else:
            text = (
                "I'll report the outage. What's the address where the power is out? Please send "
                "the street and the town or ZIP code, like 412 Mill St, Wrens."
            )
        dispatcher.utter_message(text=text)
        return []


class ValidateOutageReportForm(FormValidationAction):
    """The address for the report: YES for the account's address, or a street with a town/ZIP."""

    def name(self) -> str:
        return "validate_outage_report_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # Safety before anything else, even mid-form ("theres sparks now").
        deps = await get_deps()
        hazard = []
        if not safety_already_given(tracker) and detect_hazard(
            latest_text(tracker), deps.profile.outages.hazard_words
        ):
            for text in safety_message(deps.profile):
                dispatcher.utter_message(text=text)
            hazard = hazard_events(tracker, deps.profile)
            tracker.add_slots(hazard)
        return hazard + await super().run(dispatcher, tracker, domain)

    async def extract_outage_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("outage_address"):
            return {}
        intent = latest_intent(tracker)
        if tracker.get_slot("requested_slot") == "outage_address":
            return {"outage_address": latest_text(tracker)} if intent in ANSWER_INTENTS else {}
        # Activation: "no power at 412 mill st wrens" already names the place.
        street = latest_entity(tracker, "service_address")
        if intent == "report_outage" and street:
            place = latest_entity(tracker, "town") or latest_entity(tracker, "zip_code")
            return {"outage_address": f"{street}, {place}" if place else street}
        return {}

    async def validate_outage_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        text = str(value or "")
        intent = latest_intent(tracker)
        asked_account = (
            tracker.get_slot("requested_slot") == "outage_address"
            and not tracker.get_slot("outage_tries")
            and tracker.get_slot("outage_for_account") is not False
        )
        account = await _account_address(tracker) if asked_account else None

        if account is not None and intent == "affirm":
            record = await deps.members.account(account[0])
            assert record is not None
            return {
                "outage_address": record.service_address,
                "outage_town": record.service_town,
                "outage_zip": record.service_zip,
                "outage_for_account": True,
                "outage_tries": None,
            }
        if account is not None and intent == "deny":
            return {"outage_address": None, "outage_for_account": False}

        if find_card_numbers(text) or find_bank_numbers(text):
            dispatcher.utter_message(text=CARD_NOT_KEPT)
            return {"outage_address": None}

        towns = list(tracker.get_latest_entity_values("town"))
        parsed = parse_address(text, towns)
        draft = tracker.get_slot("outage_address_draft")
        if isinstance(parsed, AddressError) and parsed.problem == "need_street" and draft:
            parsed = parse_address(f"{draft}, {text}", towns)  # "412 mill st" then "wrens"
        if isinstance(parsed, Address):
            return {
                "outage_address": parsed.text,
                "outage_town": parsed.town,
                "outage_zip": parsed.zip,
                "outage_for_account": False,
                "outage_address_draft": None,
                "outage_tries": None,
            }

        tries = int(tracker.get_slot("outage_tries") or 0) + 1
        message = ADDRESS_PROBLEMS[parsed.problem]
        if tries >= 2:
            message += (
                f" If it's easier, call our 24/7 line, {deps.profile.phones.outage_24_7}, and "
                "we'll take the report by phone."
            )
        if parsed.problem != "need_town" or tries >= 2:  # else the ask names the street it has
            dispatcher.utter_message(text=message)
        events: dict[str, Any] = {"outage_address": None, "outage_tries": float(tries)}
        if parsed.problem == "need_town":
            events["outage_address_draft"] = " ".join(text.split())[:200]
        return events


def _no_outage_known(address: str) -> str:
    return f"I don't see a known outage at {address} yet, so your report helps crews find it."


class ActionReportOutage(JourneyAction):
    """Create the report (once per turn, by idempotency key) and say what is known there."""

    action_name = "action_report_outage"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        address = tracker.get_slot("outage_address")
        if not address:
            dispatcher.utter_message(text="I need the address before I can report the outage.")
            return []
        account_id = (
            verified_account_id(tracker, deps) if tracker.get_slot("outage_for_account") else None
        )
        hazard = bool(tracker.get_slot("outage_hazard"))
        now = deps.now()
        result = await OutageService(
            deps.sessions, deps.profile.outages.report_prefix, deps.profile.timezone
        ).report(
            account_id=account_id,
            address=str(address),
            town=tracker.get_slot("outage_town"),
            zip=tracker.get_slot("outage_zip"),
            hazard=hazard,
            hazard_description=tracker.get_slot("outage_hazard_note"),
            channel=channel_of(tracker),
            conversation_id=tracker.sender_id,
            idempotency_key=idempotency_key(tracker, "outage_report"),
            now=now,
        )

        if result.outage is not None:
            dispatcher.utter_message(text=describe(result.outage, now, deps.profile.timezone))
        else:
            dispatcher.utter_message(text=_no_outage_known(str(address)))
            dispatcher.utter_message(text=BREAKERS)
        text = f"Your report is {result.reference}."
        if hazard:
            text += (
                f" I noted the hazard on it; please also call {deps.profile.phones.outage_24_7}."
            )
        dispatcher.utter_message(
            text=f"{text} Want a text when your power is back? Reply YES or NO.",
            buttons=YES_NO_BUTTONS,
        )
        return [SlotSet("outage_reference", result.reference)] + [
            SlotSet(s, None) for s in ADDRESS_SLOTS
        ]
