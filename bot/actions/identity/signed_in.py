"""`action_verify_identity`: the plain "verify me / sign in" journey.

The rules (data/rules/identity.yml) open `verify_form` for `verify_identity`, like every account
journey; this action runs when the gate is through:

- already verified (the member's latest message was the request itself): says so, with the
  account's last four digits and what the member can do;
- just verified by the form (the latest message was an answer to it; the form already said
  "You're verified, Dana."): what the member can do now, not a balance;
- not verified (the gate was skipped, or the 15-minute idle limit passed): starts `verify_form`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction

from bot.actions.common import (
    AccountAction,
    Dispatcher,
    buttons_or_choices,
    current_identity,
    intent_button,
)
from bot.actions.deps import ActionDeps
from bot.actions.identity import texts
from bot.actions.identity.verify import STOPPED
from bot.actions.tracker import latest_intent
from bot.services.members import AccountRecord

INTENT = "verify_identity"


def next_steps() -> list[dict[str, str]]:
    return buttons_or_choices(
        [
            intent_button("Check my balance", "check_balance"),
            intent_button("Pay my bill", "pay_bill"),
            intent_button("Something else", "help"),
        ]
    )


class ActionVerifyIdentity(AccountAction):
    """Verify me / sign in: the gate, then what the member can do now."""

    action_name = "action_verify_identity"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        if tracker.get_slot("journey") == STOPPED:
            return []  # the gate said why (locked out) and stopped for good
        if current_identity(tracker, now=deps.now(), rules=deps.rules.verification) is None:
            return [FollowupAction("verify_form")]
        return await super().act(dispatcher, tracker, deps)

    async def answer(
        self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps, account: AccountRecord
    ) -> list[Any]:
        if latest_intent(tracker) == INTENT:
            text = texts.already_verified(account.last4)
        else:
            text = texts.signed_in(account.last4)
        dispatcher.utter_message(text=text, buttons=next_steps())
        return []
