"""Recovery from confusion: leaving a form, and the second miss in a row.

- `action_stop` ("never mind", "cancel payment"; intent `cancel`): leaves whatever form is active,
  at any step, clears that form's answers and says nothing was changed. With no form active it
  takes the member out of the agent queue if they were waiting, else says there is nothing to stop.
  A journey that wants its own wording may add a rule with `condition: active_loop: <its form>`
  (longer rules win); `STOPPED` below already carries the wording of the forms we know.
- `action_offer_choices` (issue 9 item 2, in bot/actions/outage/unsure.py, since its outage
  branch is the outage journey's): the first miss (`nlu_fallback`, the model unsure)
  offers the model's two or three best candidates as buttons ("Did you mean: 1 See a bill 2 Pay a
  bill 3 Something else"; by SMS the gateway numbers them). When the candidates are the outage
  intents (report_outage and outage_status, which "my power is out in louisville" splits between)
  there is no choice to make: it answers with the known outage in the town or ZIP and starts the
  report (report_outage on top) or offers it (outage_status on top). Ambiguity between the
  outage intents is resolved here, by design, not by a threshold.
- `action_choice_yes` (bot/actions/outage/unsure.py): YES after an outage answer that offered the
  report starts the report form.
- `action_inform_out_of_context`: a bare number, town or amount with nothing asked.
- `action_fallback_offer_person`: a second miss in a row offers a person and the menu, plus the
  classifier's two best guesses as buttons, and says plainly when the message had no words or
  was not in English.
- "start over" (intent `restart`) is Rasa's own `action_restart` (a default rule), which utters
  `utter_restart` (domain/recovery.yml) and forgets everything, the verified identity included.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import GUESS_TITLES, IDENTITY_SLOTS
from bot.actions.deps import get_deps
from bot.services.handoff import cancel_handoff
from bot.store.db import session_scope

GENERIC_STOPPED = "OK, I've stopped that. Nothing was changed. Anything else?"
STOPPED: dict[str, str] = {
    "payment_form": "OK, I've stopped the payment. Nothing was charged. Anything else?",
    "callback_form": "OK, I won't ask anyone to call. Nothing was changed. Anything else?",
    "outage_report_form": "OK, I've stopped the outage report. Nothing was sent. Anything else?",
}
NOTHING_TO_STOP = "OK. There's nothing in progress to stop. What can I help with?"
LEFT_QUEUE = "OK, I've taken you out of the line for a person. Anything else I can help with?"
# Slots that belong to the member's identity: leaving a form never forgets who they are.
_KEEP = frozenset({*IDENTITY_SLOTS, "journey", "channel", "phone", "gate_stopped"})

PERSON_BUTTON = {"title": "Talk to a person", "payload": "/talk_to_human"}
MENU_BUTTON = {"title": "See the menu", "payload": "/help"}
_SPANISH = re.compile(
    r"\b(hola|necesito|quiero|pagar|factura|luz|gracias|por favor|ayuda|cuenta|usted|tengo|hablar|"
    r"espa[nñ]ol|cu[aá]nto|d[oó]nde|c[oó]mo)\b",
    re.IGNORECASE,
)


def message_kind(text: str | None) -> str:
    """Why a message was not understood, as far as the text alone tells: empty, symbols (emoji,
    punctuation only), other_language (another script, or common Spanish words), or words."""
    stripped = (text or "").strip()
    if not stripped:
        return "empty"
    letters = [ch for ch in stripped if ch.isalpha()]
    if not letters and not any(ch.isdigit() for ch in stripped):
        return "symbols"
    non_latin = [ch for ch in letters if "LATIN" not in unicodedata.name(ch, "")]
    if letters and len(non_latin) * 2 > len(letters):
        return "other_language"
    if len(_SPANISH.findall(stripped)) >= 1 and not re.search(
        r"\b(the|my|is|i|you|and|to)\b", stripped, re.I
    ):
        return "other_language"
    return "words"


_OPENERS = {
    "empty": "I didn't get any words in that message.",
    "symbols": "I can only read words, not emoji or pictures.",
    "other_language": "Sorry, I can only understand English here. Lo siento, solo entiendo ingles.",
    "words": "Sorry, I still didn't understand.",
}


def guess_buttons(tracker: Tracker, limit: int = 2) -> list[dict[str, str]]:
    """The classifier's best guesses that we can offer as a button."""
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    buttons = []
    for item in ranking:
        name = item.get("name")
        if name in GUESS_TITLES and (item.get("confidence") or 0) >= 0.1:
            buttons.append({"title": GUESS_TITLES[name], "payload": f"/{name}"})
        if len(buttons) == limit:
            break
    return buttons


NUMBER_OUT_OF_CONTEXT = (
    "Is that your account number? I can check your balance or report an outage for it."
)
PLACE_OUT_OF_CONTEXT = "Is that where you are? I can check for a power outage there."
AMOUNT_OUT_OF_CONTEXT = "Would you like to make a payment of that amount?"
DETAIL_OUT_OF_CONTEXT = (
    "Thanks. What would you like to do with that? I can check your balance, take a payment or "
    "report an outage."
)


class ActionInformOutOfContext(Action):
    """A bare answer (a number, a town, an amount) when nothing asked for one: say what it looks
    like and offer what can be done with it, instead of no reply at all."""

    def name(self) -> str:
        return "action_inform_out_of_context"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        import json

        def button(title: str, intent: str, entities: dict[str, str] | None = None) -> dict:
            payload = f"/{intent}" + (json.dumps(entities) if entities else "")
            return {"title": title, "payload": payload}

        def entity(name: str) -> str | None:
            value = next(tracker.get_latest_entity_values(name), None)
            return str(value).strip() if value else None

        account, town, zip5, amount = (
            entity("account_number"),
            entity("town"),
            entity("zip_code"),
            entity("amount"),
        )
        if account:
            dispatcher.utter_message(
                text=NUMBER_OUT_OF_CONTEXT,
                buttons=[
                    button("Check my balance", "check_balance", {"account_number": account}),
                    button("Report an outage", "report_outage"),
                    PERSON_BUTTON,
                ],
            )
        elif town or zip5:
            place = {"town": town} if town else {"zip_code": zip5 or ""}
            dispatcher.utter_message(
                text=PLACE_OUT_OF_CONTEXT,
                buttons=[
                    button("Check for outages", "outage_status", place),
                    button("Report an outage", "report_outage", place),
                    MENU_BUTTON,
                ],
            )
        elif amount:
            dispatcher.utter_message(
                text=AMOUNT_OUT_OF_CONTEXT,
                buttons=[button("Pay that amount", "pay_bill", {"amount": amount}), MENU_BUTTON],
            )
        else:
            dispatcher.utter_message(
                text=DETAIL_OUT_OF_CONTEXT,
                buttons=[
                    button("Check my balance", "check_balance"),
                    button("Pay my bill", "pay_bill"),
                    button("Report an outage", "report_outage"),
                ],
            )
        return []


class ActionFallbackOfferPerson(Action):
    """Second miss in a row: offer a person and the menu (and the best guesses)."""

    def name(self) -> str:
        return "action_fallback_offer_person"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        kind = message_kind((tracker.latest_message or {}).get("text"))
        guesses = guess_buttons(tracker) if kind == "words" else []
        pick = "pick one of these or see the menu" if guesses else "see the menu"
        dispatcher.utter_message(
            text=f"{_OPENERS[kind]} I can connect you with a person, or you can {pick}.",
            buttons=[*guesses, PERSON_BUTTON, MENU_BUTTON],
        )
        return []


class ActionStop(Action):
    """Leave any active form at any step; nothing the form was collecting is kept."""

    def name(self) -> str:
        return "action_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        form = (tracker.active_loop or {}).get("name")
        if form:
            dispatcher.utter_message(text=STOPPED.get(form, GENERIC_STOPPED))
            return [
                ActiveLoop(None),
                SlotSet("requested_slot", None),
                *_clear_form_slots(form, domain),
            ]
        if tracker.get_slot("handoff_result") == "queued":
            deps = await get_deps()
            async with session_scope(deps.sessions) as session:
                await cancel_handoff(session, tracker.sender_id, deps.now())
            dispatcher.utter_message(text=LEFT_QUEUE)
            return [SlotSet("handoff_result", None)]
        dispatcher.utter_message(text=NOTHING_TO_STOP)
        return []


def _clear_form_slots(form: str, domain: DomainDict) -> list[dict[str, Any]]:
    spec = (domain or {}).get("forms", {}).get(form) or {}
    slots = spec.get("required_slots") or []
    if isinstance(slots, dict):  # older domain format
        slots = list(slots)
    return [SlotSet(slot, None) for slot in slots if slot not in _KEEP]
