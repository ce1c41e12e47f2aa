"""Safety first: any hazard words in the member's message (line down, sparks, fire, someone
hurt...) get the safety message before anything else.

It comes from `action_outage_safety` (start of a report), from the report form's validation
(mid-form) and from the status action, through the helpers here; never twice for one message.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import Dispatcher, JourneyAction
from bot.actions.deps import ActionDeps
from bot.actions.tracker import latest_entity, latest_text
from bot.core.masking import mask_sensitive
from bot.profile import CoopProfile
from bot.services.outage import detect_hazard, safety_message

# Actions that give the safety message for the latest message before the report form runs.
SAFETY_ACTIONS = frozenset({"action_outage_safety", "action_offer_choices"})


def safety_already_given(tracker: Tracker) -> bool:
    """Whether the safety message already went out for the latest user message (no double
    warning): action_outage_safety, or the unsure-message action that started the report."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") in SAFETY_ACTIONS:
            return True
    return False


def utter_safety_if_hazard(
    dispatcher: CollectingDispatcher, tracker: Tracker, profile: CoopProfile
) -> bool:
    """Send the safety messages if the latest message mentions a hazard; True when it did."""
    if not detect_hazard(latest_text(tracker), profile.outages.hazard_words):
        return False
    if not safety_already_given(tracker):
        for text in safety_message(profile):
            dispatcher.utter_message(text=text)
    return True


def hazard_events(tracker: Tracker, profile: CoopProfile) -> list[dict[str, Any]]:
    """The slots that put the hazard on the report: a flag and the member's words, masked."""
    text = latest_text(tracker)
    if not detect_hazard(text, profile.outages.hazard_words):
        return []
    return [
        SlotSet("outage_hazard", True),
        SlotSet("outage_hazard_note", mask_sensitive(text).text[:200]),
    ]


class ActionOutageSafety(JourneyAction):
    """First step of every outage report: the safety message if the member mentioned a hazard,
    then what crews already know in the town or ZIP the message names ("my power is out in
    louisville": the known outage there, cause and estimate, before the form asks the address)."""

    action_name = "action_outage_safety"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        from bot.actions.outage.status import known_outages_in_place

        events = hazard_events(tracker, deps.profile)
        if events:
            for text in safety_message(deps.profile):
                dispatcher.utter_message(text=text)
        if not latest_entity(tracker, "service_address"):
            for text in await known_outages_in_place(tracker, deps, none_known=False) or []:
                dispatcher.utter_message(text=text)
        return events
