"""Leaving the payment form: charge the confirmed payment once, or stop with nothing charged."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import (
    Dispatcher,
    JourneyAction,
    buttons_or_choices,
    require_tier,
    secure_link,
)
from bot.actions.deps import ActionDeps
from bot.actions.payment import texts
from bot.actions.payment.forms import NEW_METHOD, reset_form_events
from bot.actions.tracker import channel_of, idempotency_key
from bot.services.identity import Tier
from bot.services.payments import PaymentService


def payment_service(deps: ActionDeps) -> PaymentService:
    """The payment service over the container's database, processor and payment rules."""
    return PaymentService(deps.sessions, deps.processor, deps.rules.payment)


class ActionCancelPayment(Action):
    """'Never mind' / 'cancel payment' at any step: nothing charged, form slots cleared."""

    def name(self) -> str:
        return "action_cancel_payment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=texts.STOPPED)
        return reset_form_events()


class ActionSubmitPayment(JourneyAction):
    """Charge the confirmed payment once; say the result with a next step."""

    action_name = "action_submit_payment"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        confirm = tracker.get_slot("payment_confirm")
        method = tracker.get_slot("payment_method")
        last = tracker.get_slot("payment_last_confirmation")
        if confirm is None and method != NEW_METHOD:
            # Nothing waiting: a second "yes" after a payment, or a stray submit.
            dispatcher.utter_message(
                text=texts.already_paid(last) if last else texts.NOTHING_WAITING
            )
            return reset_form_events()
        identity = require_tier(dispatcher, tracker, Tier.CONFIRMED, deps)
        if identity is None:
            return reset_form_events()
        if method == NEW_METHOD:
            url = await secure_link(deps, tracker, identity)
            dispatcher.utter_message(text=texts.NEW_METHOD_LINK.format(url=url))
            return reset_form_events()
        if confirm != "yes":
            dispatcher.utter_message(text=texts.STOPPED)
            return reset_form_events()
        outcome = await payment_service(deps).pay(
            account_id=int(identity.account_id),  # require_tier: an account is chosen
            member_id=identity.member_id,
            payment_method_id=int(method),
            amount_cents=int(tracker.get_slot("payment_amount_cents") or 0),
            idempotency_key=idempotency_key(tracker, "payment"),
            channel=channel_of(tracker),
            actor=f"member:{identity.member_id}",
            verified_how=str(identity.verified_how or "otp"),
            conversation_id=tracker.sender_id,
            now=deps.now(),
        )
        events = reset_form_events()
        if outcome.ok:
            dispatcher.utter_message(text=outcome.message)
            events.append(SlotSet("payment_last_confirmation", outcome.confirmation_number))
            return events
        buttons: list[dict[str, str]] = []
        if outcome.status in {"declined", "refused"}:
            buttons = buttons_or_choices(texts.try_another_method_buttons())
        message = texts.with_phone(outcome.message, deps.profile.phones.member_services)
        dispatcher.utter_message(text=message, buttons=buttons)
        return events
