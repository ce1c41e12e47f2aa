"""Unsure messages (issue 9 items 1 and 2): `action_offer_choices` and `action_choice_yes`.

The first miss (`nlu_fallback`, the model unsure) offers the model's two or three best candidates
as buttons ("Did you mean: 1 See a bill 2 Pay a bill 3 Something else"; by SMS the gateway
numbers them). When the candidates are the outage intents (report_outage and outage_status, which
"my power is out in louisville" splits between) there is no choice to make: the known outage in
the town or ZIP, and the report started (report_outage on top) or offered (outage_status on top).
A weak outage guess that names a town or ZIP ("when is it back in louisville") is the outage
flow too: the gentle one, the status and an offer, never a report the member did not ask for.
The ambiguity between the outage intents is resolved here, by design, not by a threshold. It
lives in the outage package because that branch is the outage journey's; the second miss is
recovery's `action_fallback_offer_person`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import GUESS_TITLES
from bot.actions.deps import get_deps
from bot.actions.outage.safety import hazard_events, utter_safety_if_hazard
from bot.actions.outage.status import OFFER_REPORT, known_outages_in_place, offer_report

FALLBACK = "nlu_fallback"
OUTAGE_INTENTS = frozenset({"report_outage", "outage_status"})
# An outage intent on top this sure (of what the classifier gave) is the outage flow even when
# the second candidate is something else: a storm-night text never gets "didn't get that".
OUTAGE_TOP_CONFIDENCE = 0.3
CHOICE_MIN_CONFIDENCE = 0.05
MAX_CHOICES = 3
SOMETHING_ELSE = {"title": "Something else", "payload": "/help"}
DID_YOU_MEAN = "I'm not sure I got that. Did you mean one of these?"
REPHRASE = (
    "Sorry, I didn't quite get that. Could you say it another way? Type help to see what I can do."
)
ASK_OUTAGE_PLACE = (
    "Is this about a power outage? Tell me the town or ZIP code and I'll check what crews know, "
    "or reply YES and I'll take your report."
)
CHOICE_YES_UNKNOWN = "Please tap one of the choices, or tell me in a few words what you need."


def candidates(latest_message: dict[str, Any] | None) -> list[tuple[str, float]]:
    """The classifier's candidates for a message it was unsure of, best first, `nlu_fallback`
    left out (the FallbackClassifier puts it on top of the original ranking)."""
    ranking = (latest_message or {}).get("intent_ranking") or []
    return [
        (str(item.get("name")), float(item.get("confidence") or 0.0))
        for item in ranking
        if item.get("name") and item.get("name") != FALLBACK
    ]


PLACE_ENTITIES = frozenset({"town", "zip_code"})


def names_a_place(latest_message: dict[str, Any] | None) -> bool:
    """The message names a town or ZIP code (what an outage question is about)."""
    entities = (latest_message or {}).get("entities") or []
    return any(isinstance(e, dict) and e.get("entity") in PLACE_ENTITIES for e in entities)


def resolve_unsure(
    ranked: list[tuple[str, float]], *, place_named: bool = False
) -> tuple[str, list[str]]:
    """What a miss becomes: ("report_outage" | "outage_status", []) when the outage flow answers
    it, ("choices", [intents]) for a "did you mean", ("rephrase", []) when there is nothing worth
    offering. Pure, so the NLU test counts what members would see from the same rule."""
    if ranked and ranked[0][0] in OUTAGE_INTENTS:
        top, confidence = ranked[0]
        second = ranked[1][0] if len(ranked) > 1 else None
        if second in OUTAGE_INTENTS or confidence >= OUTAGE_TOP_CONFIDENCE:
            return top, []
        if place_named:  # a weak outage guess about a place: its status, and the report offered
            return "outage_status", []
    offered = [
        name
        for name, confidence in ranked
        if name in GUESS_TITLES and confidence >= CHOICE_MIN_CONFIDENCE
    ][:MAX_CHOICES]
    return ("choices", offered) if offered else ("rephrase", [])


class ActionOfferChoices(Action):
    """First miss: the best candidates as a choice, or the outage flow when they are outages."""

    def name(self) -> str:
        return "action_offer_choices"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        kind, offered = resolve_unsure(
            candidates(tracker.latest_message), place_named=names_a_place(tracker.latest_message)
        )
        if kind in OUTAGE_INTENTS:
            # Inside another form the member is offered the report rather than pulled out of it.
            in_form = bool((tracker.active_loop or {}).get("name"))
            return await self._outage(
                dispatcher, tracker, report=kind == "report_outage" and not in_form
            )
        if kind == "choices":
            dispatcher.utter_message(
                text=DID_YOU_MEAN,
                buttons=[
                    *({"title": GUESS_TITLES[name], "payload": f"/{name}"} for name in offered),
                    SOMETHING_ELSE,
                ],
            )
        else:
            dispatcher.utter_message(text=REPHRASE)
        return [SlotSet("choice_yes", None)]

    @staticmethod
    async def _outage(
        dispatcher: CollectingDispatcher, tracker: Tracker, *, report: bool
    ) -> list[dict[str, Any]]:
        deps = await get_deps()
        utter_safety_if_hazard(dispatcher, tracker, deps.profile)
        events = hazard_events(tracker, deps.profile)
        known = await known_outages_in_place(tracker, deps, none_known=not report)
        for text in known or []:
            dispatcher.utter_message(text=text)
        if report:
            # The report form opens now and asks for the address (the loop runs next).
            return [*events, SlotSet("choice_yes", None), ActiveLoop("outage_report_form")]
        if known is None:
            dispatcher.utter_message(text=ASK_OUTAGE_PLACE)
            return [*events, SlotSet("choice_yes", OFFER_REPORT)]
        return events + offer_report(dispatcher)


class ActionChoiceYes(Action):
    """YES after an answer that offered something (`choice_yes`): today, the outage report."""

    def name(self) -> str:
        return "action_choice_yes"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("choice_yes") == OFFER_REPORT:
            return [SlotSet("choice_yes", None), ActiveLoop("outage_report_form")]
        dispatcher.utter_message(text=CHOICE_YES_UNKNOWN)
        return []
