"""Information answers (journey 12): one action for every ask_* question except office hours.

Thin: the intent (and a town, for "where is the louisville office") goes to
`bot.services.info.answer`, which reads every fact from the co-op profile. Public tier, except that
a verified member asking "when is my bill due" also gets their own exact due date.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import verified_account_id
from bot.actions.deps import get_deps
from bot.actions.tracker import latest_entity
from bot.core.dates import local_date
from bot.core.money import format_cents
from bot.services import info


class ActionAnswerInfo(Action):
    """Answers ask_office_locations, ask_phone_numbers, ask_ways_to_pay, ask_due_date, ask_late_fee,
    ask_reconnect_fee, ask_extreme_weather, ask_levelized_billing and ask_register_online."""

    def name(self) -> str:
        return "action_answer_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        profile = deps.profile
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent not in info.INFO_INTENTS:
            # Reached by a rule with an unexpected intent: say what we can answer, never guess.
            dispatcher.utter_message(
                text="I can tell you about our offices, phone numbers, ways to pay, due dates, fees, "
                "levelized billing and registering online. What would you like to know?"
            )
            return []

        for text in info.answer(intent, profile, town=latest_entity(tracker, "town")):
            dispatcher.utter_message(text=text)

        if intent == "ask_due_date":
            account_id = verified_account_id(tracker, deps)
            if account_id is not None:
                services = deps.members
                balance = await services.balance(
                    account_id, local_date(deps.now(), profile.timezone)
                )
                last4 = balance.account_last4
                if balance.due_date is not None:
                    text = (
                        f"Your current bill on account ending {last4} is due "
                        f"{balance.due_date:%b} {balance.due_date.day}, {balance.due_date.year}."
                    )
                else:
                    text = f"Account ending {last4} has no current bill waiting to be paid."
                if balance.past_due_cents > 0:
                    text += f" {format_cents(balance.past_due_cents)} is past due now."
                dispatcher.utter_message(text=text)
        return []
