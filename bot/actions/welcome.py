"""Welcome: the greeting and help menu (what the assistant can do) and how to reach a person.

Every fact (name, phone numbers) comes from `deps.profile`; the wording lives here so the same
text serves the web chat (buttons) and SMS (the gateway numbers the buttons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.deps import get_deps
from bot.profile import CoopProfile


@dataclass(frozen=True)
class MenuOption:
    """One thing the assistant can do: how the menu describes it and the button that starts it."""

    phrase: str  # completes "I can ...": "tell you our office hours"
    title: str  # button title
    payload: str  # button payload (an intent the domain knows)


# What the assistant can do, in menu order. Journeys add themselves here as they land.
MENU: list[MenuOption] = [
    MenuOption("tell you our office hours", "Office hours", "/ask_office_hours"),
    MenuOption(
        "check for a known power outage in your town or ZIP code",
        "Outage in my area",
        "/outage_status",
    ),
]


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def buttons() -> list[dict[str, str]]:
    return [{"title": option.title, "payload": option.payload} for option in MENU]


def capabilities_text(profile: CoopProfile, *, greeting: bool) -> str:
    """'Hi, I'm the ... assistant. I can ...' (greeting) or 'Here's what I can do: ...' (help)."""
    can = _join([option.phrase for option in MENU])
    if greeting:
        return f"Hi, I'm the {profile.coop.name} assistant. I can {can}. What can I help with?"
    return f"I can {can}. Pick one below or just ask."


def contact_text(profile: CoopProfile) -> str:
    """How to reach a person, and the 24/7 outage line: said in every welcome and help."""
    return (
        f"To talk with a person, call member services at {profile.phones.member_services}. "
        f"For outages and emergencies, call {profile.phones.outage_24_7} any time, 24/7."
    )


class ActionGreet(Action):
    """Welcome: what the assistant can do, quick options, how to reach a person."""

    greeting = True

    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        dispatcher.utter_message(
            text=capabilities_text(deps.profile, greeting=self.greeting), buttons=buttons()
        )
        dispatcher.utter_message(text=contact_text(deps.profile))
        return []


class ActionHelp(ActionGreet):
    """The menu again, on request (the welcome without the greeting)."""

    greeting = False

    def name(self) -> str:
        return "action_help"
