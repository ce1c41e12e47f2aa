"""Information: office hours, offices, phones, ways to pay, due dates, fees and the rest.

Thin: `action_office_hours` reads today's hours (holidays, lunch closures) at the clock's "now";
every other ask_* question goes, with a town for "where is the louisville office", to
`bot.services.info.answer`, which reads every fact from the co-op profile. Public tier, except
that a verified member asking "when is my bill due" also gets their own exact due date.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from bot.actions.common import Dispatcher, JourneyAction, verified_account_id
from bot.actions.deps import ActionDeps
from bot.actions.tracker import latest_entity, latest_intent
from bot.core.dates import local_date
from bot.core.money import format_cents
from bot.services import info
from bot.services.office_hours import OfficeHours


class ActionOfficeHours(JourneyAction):
    """Today's office hours (holidays, lunch closures) from the profile, at the clock's 'now'.

    "When does the Louisville office close?" (a `town` entity naming an office) answers for that
    office; otherwise for all offices.
    """

    action_name = "action_office_hours"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        hours = OfficeHours(deps.profile)
        office = info.office_for_town(deps.profile, tracker.get_latest_entity_values("town"))
        office_id = office.id if office is not None else None
        dispatcher.utter_message(text=hours.describe_today(deps.now(), office_id=office_id))
        return []


class ActionAnswerInfo(JourneyAction):
    """Answers ask_office_locations, ask_phone_numbers, ask_ways_to_pay, ask_due_date, ask_late_fee,
    ask_reconnect_fee, ask_extreme_weather, ask_levelized_billing and ask_register_online."""

    action_name = "action_answer_info"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        profile = deps.profile
        intent = latest_intent(tracker)
        if intent not in info.INFO_INTENTS:
            # Reached by a rule with an unexpected intent: say what we can answer, never guess.
            dispatcher.utter_message(
                text="I can tell you about our offices, phone numbers, ways to pay, due dates, "
                "fees, levelized billing and registering online. What would you like to know?"
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
