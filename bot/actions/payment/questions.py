"""The payment form's questions: amount, another amount, method, and the explicit confirmation.

After a side question (the balance, the office hours) the form asks again with "Back to your
payment: ...", so the member knows where they are.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, JourneyAction, buttons_or_choices, current_identity
from bot.actions.deps import ActionDeps
from bot.actions.payment import texts
from bot.actions.payment.forms import NEW_METHOD, usable_methods
from bot.actions.payment.method_added import METHOD_ADDED_INTENT
from bot.actions.tracker import latest_intent
from bot.services.members import MethodRecord

# Side questions the rules answer inside the form; the next question then says "Back to ...".
DIGRESSION_INTENTS = frozenset({"check_balance", "ask_office_hours"})


def resuming(tracker: Tracker) -> bool:
    """True when the form is re-asking after answering a side question."""
    return latest_intent(tracker) in DIGRESSION_INTENTS


class ActionAskPaymentAmountChoice(JourneyAction):
    """'How much would you like to pay?' with [Full $x] [Past due only $y] [Other amount]."""

    action_name = "action_ask_payment_amount_choice"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        summary = None
        if identity is not None and identity.account_id is not None:
            summary = await deps.members.balance(identity.account_id, deps.today())
        dispatcher.utter_message(
            text=texts.amount_question(summary, resuming(tracker)),
            buttons=buttons_or_choices(texts.amount_buttons(summary)),
        )
        return []


class ActionAskPaymentAmountCents(Action):
    """'How much would you like to pay? For example $45 or 45.20.' (after 'Other amount')."""

    def name(self) -> str:
        return "action_ask_payment_amount_cents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=texts.amount_cents_question(resuming(tracker)))
        return []


class ActionAskPaymentMethod(JourneyAction):
    """Saved methods by type and last four, plus 'Add a new card or bank account'."""

    action_name = "action_ask_payment_method"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        methods: list[MethodRecord] = []
        if identity is not None:
            methods = usable_methods(await deps.members.saved_methods(identity.member_id), deps)
        dispatcher.utter_message(
            text=texts.method_question(bool(methods), resuming(tracker)),
            buttons=buttons_or_choices(texts.method_buttons(methods, NEW_METHOD)),
        )
        return []


class ActionAskPaymentConfirm(JourneyAction):
    """The explicit confirmation with amount, method and date (and a heads-up above the balance)."""

    action_name = "action_ask_payment_confirm"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        amount = int(tracker.get_slot("payment_amount_cents") or 0)
        label = tracker.get_slot("payment_method_label") or "your saved method"
        back = resuming(tracker)
        if identity is not None and identity.account_id is not None and not back:
            summary = await deps.members.balance(identity.account_id, deps.today())
            if deps.profile.payments.warn_above_balance and amount > summary.amount_due_cents:
                dispatcher.utter_message(text=texts.above_balance(amount, summary.amount_due_cents))
        just_saved = latest_intent(tracker) == METHOD_ADDED_INTENT
        dispatcher.utter_message(
            text=(
                texts.pay_with_saved_question(amount)
                if just_saved
                else texts.confirm_question(amount, label, back)
            ),
            buttons=buttons_or_choices(texts.confirm_buttons()),
        )
        return []
