"""The identity gate's questions: account number, ZIP code (or last payment), which account, and
the one-time code (sent by the question itself when none is waiting)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import Dispatcher, JourneyAction, current_identity
from bot.actions.deps import ActionDeps
from bot.actions.identity import texts
from bot.actions.identity.confirm import OTP_PURPOSE, code_destination, otp_service
from bot.actions.identity.verify import (
    account_ref,
    phone_path_accounts,
    sign_in_request,
    verification_service,
)
from bot.actions.tracker import asked_before, channel_of, client_ip_of, phone_of
from bot.services.identity import locked_message
from bot.services.otp import SendStatus


def ask_again_plainly(tracker: Tracker, question: str) -> bool:
    """ "verify me / sign in" said while this question was waiting: ask it again with "Sure -
    let's do that now." and nothing else (the validator gave no format hint)."""
    return asked_before(tracker, question) and sign_in_request(tracker)


class ActionAskAccountNumber(JourneyAction):
    """The gate's first question (with "First I need to make sure it's you."), unless locked."""

    action_name = "action_ask_account_number"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        until = await verification_service(deps).locked_until(
            conversation_id=tracker.sender_id,
            now=deps.now(),
            phone_e164=phone_of(tracker) if channel_of(tracker) == "sms" else None,
            client_ip=client_ip_of(tracker),
        )
        if until is not None:
            dispatcher.utter_message(
                text=locked_message(until, deps.now(), deps.rules.verification)
            )
            return []
        if ask_again_plainly(tracker, self.name()):
            intro = texts.SIGN_IN_AGAIN
        else:
            intro = "" if asked_before(tracker, self.name()) else texts.GATE_INTRO
        dispatcher.utter_message(text=f"{intro}{texts.ACCOUNT_NUMBER_QUESTION}")
        return []


class ActionAskZipCode(JourneyAction):
    """The second factor; on SMS with the phone on file, the only question (which names no
    account: the texter may not be the member)."""

    action_name = "action_ask_zip_code"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        accounts = await phone_path_accounts(tracker, deps)
        plainly = ask_again_plainly(tracker, self.name())
        if accounts:
            text = texts.zip_question_for_phone(len(accounts))
        else:
            text = texts.ZIP_QUESTION_PLAIN if plainly else texts.ZIP_QUESTION
        dispatcher.utter_message(text=f"{texts.SIGN_IN_AGAIN}{text}" if plainly else text)
        return []


class ActionAskLastPaymentAmount(Action):
    def name(self) -> str:
        return "action_ask_last_payment_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        dispatcher.utter_message(text=texts.LAST_PAYMENT_QUESTION)
        return []


class ActionAskAccountChoice(JourneyAction):
    """A member with several accounts picks one (a button per account)."""

    action_name = "action_ask_account_choice"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return []
        accounts = await deps.members.accounts_for_member(identity.member_id)
        plainly = ask_again_plainly(tracker, self.name())
        dispatcher.utter_message(
            text=f"{texts.SIGN_IN_AGAIN}{texts.ACCOUNT_CHOICE_QUESTION}"
            if plainly
            else texts.ACCOUNT_CHOICE_QUESTION,
            buttons=[
                texts.account_button(a, account_ref(deps, tracker.sender_id, a.id))
                for a in accounts
            ],
        )
        return []


class ActionAskOtpCode(JourneyAction):
    """Sends a code when none is waiting (first ask, or the last one expired); else reminds."""

    action_name = "action_ask_otp_code"

    async def act(self, dispatcher: Dispatcher, tracker: Tracker, deps: ActionDeps) -> list[Any]:
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return []
        otp = otp_service(deps)
        phone = deps.profile.phones.member_services
        sent_to = tracker.get_slot("otp_sent_to")
        if sent_to and await otp.pending(
            conversation_id=tracker.sender_id, purpose=OTP_PURPOSE, now=deps.now()
        ):
            dispatcher.utter_message(text=texts.code_reminder(sent_to))
            return []
        destination, kind = await code_destination(deps, identity.member_id)
        if destination is None:
            dispatcher.utter_message(text=texts.no_contact_on_file(phone))
            return []
        sent = await otp.send(
            conversation_id=tracker.sender_id,
            account_id=identity.account_id,
            purpose=OTP_PURPOSE,
            destination=destination,
            channel=kind,
            now=deps.now(),
        )
        described = texts.describe_destination(destination, kind)
        if sent.status is SendStatus.SENT:
            minutes = int(otp.rules.ttl.total_seconds() // 60)
            dispatcher.utter_message(text=texts.code_sent(kind, described, minutes))
            return [SlotSet("otp_sent_to", described)]
        if sent.status is SendStatus.RATE_LIMITED:
            if sent.limited_by == "locked":
                dispatcher.utter_message(text=texts.codes_paused(phone))
            else:
                dispatcher.utter_message(text=texts.CODE_RATE_LIMITED)
            return []
        dispatcher.utter_message(text=texts.code_not_sent(phone))
        return []
