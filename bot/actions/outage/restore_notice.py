"""A text when power is back: after a report, the member's number for the restore notice.

YES after action_report_outage -> outage_notify_form (the SMS sender's own number, or one typed
on the web) -> action_outage_notify, which saves the wish on the report.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.deps import get_deps
from bot.actions.outage.report import ANSWER_INTENTS, CARD_NOT_KEPT
from bot.actions.tracker import latest_entity, latest_intent, latest_text, phone_of
from bot.core.masking import find_bank_numbers, find_card_numbers
from bot.core.phones import normalize_phone as parse_phone
from bot.core.phones import phone_last4
from bot.services.outage import set_restore_notice


class ActionAskOutageNotifyPhone(Action):
    def name(self) -> str:
        return "action_ask_outage_notify_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="What mobile number should I text when your power is back?")
        return []


class ValidateOutageNotifyForm(FormValidationAction):
    """The number for the restore text: the SMS sender's own number, or one typed on the web."""

    def name(self) -> str:
        return "validate_outage_notify_form"

    async def extract_outage_notify_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("outage_notify_phone"):
            return {}
        if tracker.get_slot("requested_slot") == "outage_notify_phone":
            if latest_intent(tracker) not in ANSWER_INTENTS:
                return {}
            return {"outage_notify_phone": latest_entity(tracker, "phone") or latest_text(tracker)}
        phone = phone_of(tracker)  # activation: SMS needs no question
        return {"outage_notify_phone": phone} if phone else {}

    async def validate_outage_notify_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if find_card_numbers(text) or find_bank_numbers(text):
            dispatcher.utter_message(text=CARD_NOT_KEPT)
            return {"outage_notify_phone": None}
        phone = parse_phone(text)
        if phone is None:
            dispatcher.utter_message(
                text="That doesn't look like a US phone number. Please send the 10 digits, like "
                "706-555-0101, or say no thanks."
            )
            return {"outage_notify_phone": None}
        return {"outage_notify_phone": phone}


class ActionOutageNotify(Action):
    """Store the member's wish for a text when power is back on their report."""

    def name(self) -> str:
        return "action_outage_notify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reference, phone = (
            tracker.get_slot("outage_reference"),
            tracker.get_slot("outage_notify_phone"),
        )
        if not reference or not phone:
            dispatcher.utter_message(
                text="I don't have a report to add that to. Say report outage to start one."
            )
            return [SlotSet("outage_notify_phone", None)]
        deps = await get_deps()
        if not await set_restore_notice(deps.sessions, str(reference), str(phone)):
            dispatcher.utter_message(
                text="I couldn't find that report. Say report outage to start a new one."
            )
            return [SlotSet("outage_notify_phone", None)]
        dispatcher.utter_message(
            text=f"OK. I'll text the number ending {phone_last4(str(phone))} when power is back "
            f"for report {reference}. Anything else?"
        )
        return [SlotSet("outage_notify_phone", None)]
