"""Welcome: the greeting and help menu (what the assistant can do) and how to reach a person.

Every fact (name, phone numbers) comes from `deps.profile`; the wording lives here so the same
text serves the web chat (buttons) and SMS (the gateway numbers the buttons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from bot.actions.common import Dispatcher, JourneyAction
from bot.actions.deps import ActionDeps
from bot.profile import CoopProfile


@dataclass(frozen=True)
class MenuOption:
    """One thing the assistant can do: how the menu describes it and the button that starts it."""

    phrase: str  # completes "I can ...": "tell you our office hours"
    title: str  # button title
    payload: str  # button payload (an intent the domain knows)


# What the assistant can do for a member who is not verified yet (issue 9 item 5: paying,
# balances, outages, a person and the hours), in menu order; the buttons start each journey.
_PAY = MenuOption("take a payment", "Pay my bill", "/pay_bill")
_OUTAGE = MenuOption("report an outage or check on one", "Outage in my area", "/outage_status")
_PERSON = MenuOption("connect you with a person", "Talk to a person", "/talk_to_human")
MENU: list[MenuOption] = [
    _PAY,
    MenuOption("check your balance", "My balance", "/check_balance"),
    _OUTAGE,
    _PERSON,
    MenuOption("tell you our office hours", "Office hours", "/ask_office_hours"),
]
# A verified member already passed the gate: their bills and usage are one step away.
VERIFIED_MENU: list[MenuOption] = [
    _PAY,
    MenuOption("show your balance", "My balance", "/check_balance"),
    MenuOption("show your usage and past bills", "My usage", "/usage_question"),
    _OUTAGE,
    _PERSON,
]


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def menu_for(tracker: Tracker | None = None) -> list[MenuOption]:
    """The menu for this member: the verified one once the identity gate was passed."""
    tier = tracker.get_slot("tier") if tracker is not None else None
    return VERIFIED_MENU if tier in ("verified", "confirmed") else MENU


def buttons(tracker: Tracker | None = None) -> list[dict[str, str]]:
    return [{"title": option.title, "payload": option.payload} for option in menu_for(tracker)]


def capabilities_text(
    profile: CoopProfile, *, greeting: bool, tracker: Tracker | None = None
) -> str:
    """'Hi, I'm the ... assistant. I can ...' (greeting) or 'Here's what I can do: ...' (help)."""
    can = _join([option.phrase for option in menu_for(tracker)])
    if greeting:
        name = tracker.get_slot("member_first_name") if tracker is not None else None
        hello = f"Hi {name}, I'm" if name and menu_for(tracker) is VERIFIED_MENU else "Hi, I'm"
        return f"{hello} the {profile.coop.name} assistant. I can {can}. What can I help with?"
    return f"I can {can}. Pick one below or just ask."


def contact_text(profile: CoopProfile) -> str:
    """How to reach a person, and the 24/7 outage line: said in every welcome and help."""
    return (
        f"To talk with a person, call member services at {profile.phones.member_services}. "
        f"For outages and emergencies, call {profile.phones.outage_24_7} any time, 24/7."
    )


class ActionGreet(JourneyAction):
    """Welcome: what the assistant can do, quick options, how to reach a person."""

    greeting = True

    action_name = "action_greet"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        dispatcher.utter_message(
            text=capabilities_text(deps.profile, greeting=self.greeting, tracker=tracker),
            buttons=buttons(tracker),
        )
        dispatcher.utter_message(text=contact_text(deps.profile))
        return []


class ActionHelp(ActionGreet):
    """The menu again, on request (the welcome without the greeting)."""

    greeting = False
    action_name = "action_help"
