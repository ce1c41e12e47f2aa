"""After the member saves a card or bank account on the secure page: offer to pay with it.

The gateway posts "Your Visa ending 4242 is saved." to the conversation and triggers the intent
`EXTERNAL_method_added` with the entity `payment_method_id` (docs/agent-console.md). The method
is checked to be the member's, active and not expired; then, if the identity still holds the
confirmed tier and something is due, the payment form is pre-filled (the balance due, this
method) and resumes at its confirmation: "Pay $142.87 with it now?". Otherwise the member is told
how to go on. Nothing here trusts the entity beyond looking the method up among the member's own.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet

from bot.actions.common import Dispatcher, JourneyAction, current_identity
from bot.actions.deps import ActionDeps
from bot.actions.payment import texts
from bot.actions.payment.forms import usable_methods
from bot.services.identity import Tier

METHOD_ADDED_INTENT = "EXTERNAL_method_added"


def _method_id(tracker: Tracker) -> int | None:
    raw = next(tracker.get_latest_entity_values("payment_method_id"), None)
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


class ActionMethodAdded(JourneyAction):
    """Continue the conversation once a payment method was saved on the secure page."""

    action_name = "action_method_added"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None or identity.account_id is None:
            dispatcher.utter_message(text=texts.SAVED_VERIFY_AGAIN)
            return []
        method_id = _method_id(tracker)
        methods = usable_methods(await deps.members.saved_methods(identity.member_id), deps)
        method = next((m for m in methods if m.id == method_id), None)
        if method is None:
            dispatcher.utter_message(text=texts.SAVED_NOT_FOUND)
            return []
        due = (await deps.members.balance(identity.account_id, deps.today())).amount_due_cents
        if due <= 0:
            dispatcher.utter_message(text=texts.SAVED_NOTHING_DUE)
            return []
        if not identity.at_least(Tier.CONFIRMED):
            dispatcher.utter_message(text=texts.SAVED_SAY_PAY)
            return []
        return [
            SlotSet("payment_amount_choice", "full"),
            SlotSet("payment_amount_cents", due),
            SlotSet("payment_method", str(method.id)),
            SlotSet("payment_method_label", method.label),
            SlotSet("payment_confirm", None),
            SlotSet("payment_failures", 0),
            FollowupAction("payment_form"),
        ]
