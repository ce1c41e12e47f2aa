"""Log out (forget the identity in this conversation), and the identity digression: a journey
question asked while verification is under way is answered right after it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import cleared_identity_events
from bot.actions.identity import texts


class ActionLogOut(Action):
    """Forget the identity in this conversation ("log out")."""

    def name(self) -> str:
        return "action_log_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        was_verified = (tracker.get_slot("tier") or "public") != "public"
        dispatcher.utter_message(text=texts.LOGGED_OUT if was_verified else texts.NOT_SIGNED_IN)
        return [
            *cleared_identity_events(),
            SlotSet("journey", None),
            SlotSet("otp_sent_to", None),
            SlotSet("account_number", None),
            SlotSet("zip_code", None),
            SlotSet("last_payment_amount", None),
        ]


class ActionIdentityDigression(Action):
    """A journey question asked while verification is under way: it comes right after."""

    def name(self) -> str:
        return "action_identity_digression"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        dispatcher.utter_message(text=texts.AFTER_VERIFICATION)
        return []
