"""The identity gate: `verify_form` (verified tier), `confirm_form` (confirmed tier), log out.

Thin on purpose: the rules (lockouts, generic mismatch wording, code expiry and tries) live in
`bot.services.verification` and `bot.services.otp`; this module turns slots into service calls and
results into slots and short messages. The dialogue pattern is docs/conversation-design.md.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import (
    cleared_identity_events,
    current_identity,
    intent_button,
    scrub_card_numbers,
)
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.tracker import channel_of, phone_of
from bot.core.amounts import parse_amount
from bot.core.masking import CARD_NOT_KEPT_MESSAGE, mask_email
from bot.services.identity import (
    ACCOUNT_FORMAT_MESSAGE,
    Tier,
    VerificationResult,
    VerificationService,
    VerificationStatus,
    locked_message,
    normalize_account_number,
    normalize_zip,
)
from bot.services.members import AccountRecord
from bot.services.otp import OtpService, OtpStatus, SendStatus

OTP_PURPOSE = "confirm"
MAX_ANSWER_CHARS = 200
ZIP_OR_PAYMENT_MESSAGE = (
    "Please send the 5-digit ZIP code of the service address, or the amount of your last payment."
)
STOPPED = "stopped"  # journey value: the gate failed for good; no journey action runs


# ---------------------------------------------------------------- services from deps


def verification_service(deps: ActionDeps) -> VerificationService:
    return VerificationService(deps.sessions, deps.settings.secret_key, deps.rules.verification)


def otp_service(deps: ActionDeps) -> OtpService:
    return OtpService(
        deps.sessions,
        deps.rules.otp,
        deps.notifier,
    )


def account_button(account: AccountRecord) -> dict[str, str]:
    """'Account ending 5560 (27 Broad St, Wrens)'; the payload names the account for the form."""
    return intent_button(
        f"Account ending {account.last4} ({account.service_address})",
        "inform",
        {"account_number": account.account_number},
    )


# ---------------------------------------------------------------- verify_form


async def _phone_path_accounts(tracker: Tracker, deps: ActionDeps) -> list[Any]:
    """Accounts on file for the texting phone, when the SMS phone path applies (else [])."""
    if channel_of(tracker) != "sms" or tracker.get_slot("verify_path") == "account":
        return []
    if tracker.get_slot("account_number"):
        return []
    phone = phone_of(tracker)
    if phone is None:
        return []
    return await verification_service(deps).accounts_for_phone(phone)


def _success_events(
    result: VerificationResult, tracker: Tracker, deps: ActionDeps
) -> dict[str, Any]:
    member = result.member
    assert member is not None
    chosen = next((a for a in member.accounts if a.account_id == member.account_id), None)
    return {
        "tier": Tier.VERIFIED.value,
        "member_id": member.member_id,
        "member_first_name": member.first_name,
        "account_id": member.account_id,
        "account_last4": chosen.last4 if chosen else None,
        "verified_how": result.verified_how,
        "verified_at": deps.now().isoformat(),
        "channel": channel_of(tracker),
        "phone": phone_of(tracker),
        "account_number": None,
        "zip_code": None,
        "last_payment_amount": None,
        "verify_path": None,
    }


class ValidateVerifyForm(FormValidationAction):
    """Account number + ZIP (or last payment), or on SMS phone-on-file + ZIP; then pick an account."""

    def name(self) -> str:
        return "validate_verify_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        deps = await get_deps()
        if tracker.get_slot("journey") == STOPPED:
            return []
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is not None:
            return [] if identity.account_id is not None else ["account_choice"]
        if await _phone_path_accounts(tracker, deps):
            return ["zip_code"]
        second = "last_payment_amount" if tracker.get_slot("last_payment_amount") else "zip_code"
        return ["account_number", second]

    # ---- one small check per slot: shape only, nothing reaches the database unvalidated

    async def validate_account_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"account_number": None}
        text = str(value or "")[:MAX_ANSWER_CHARS]
        number = normalize_account_number(text)
        if number is None:
            found = re.findall(r"(?<![\d-])\d{10}(?![\d-])", text)
            number = found[0] if len(found) == 1 else None
        if number is None:
            dispatcher.utter_message(text=ACCOUNT_FORMAT_MESSAGE)
            return {"account_number": None}
        return {"account_number": number}

    async def validate_zip_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"zip_code": None}
        text = str(value or "")[:MAX_ANSWER_CHARS]
        zip5 = normalize_zip(text)
        if zip5 is None:
            found = re.findall(r"(?<![\d-])\d{5}(?:-\d{4})?(?![\d-])", text)
            zip5 = normalize_zip(found[0]) if len(found) == 1 else None
        if zip5 is not None:
            return {"zip_code": zip5}
        if re.search(r"[$.]|dollar|buck", text.lower()):
            amount = parse_amount(text)
            if (
                amount.ok and amount.cents is not None
            ):  # the member offered the last payment instead
                return {"zip_code": None, "last_payment_amount": _dollars(amount.cents)}
        dispatcher.utter_message(text=ZIP_OR_PAYMENT_MESSAGE)
        return {"zip_code": None}

    async def validate_last_payment_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"last_payment_amount": None}
        amount = parse_amount(str(value or "")[:MAX_ANSWER_CHARS])
        if not amount.ok or amount.cents is None:
            dispatcher.utter_message(text=amount.error or ZIP_OR_PAYMENT_MESSAGE)
            return {"last_payment_amount": None}
        return {"last_payment_amount": _dollars(amount.cents)}

    async def validate_account_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return {"account_choice": None}
        accounts = await deps.members.accounts_for_member(identity.member_id)
        chosen = pick_account(str(value or "")[:MAX_ANSWER_CHARS], accounts)
        if chosen is None:
            dispatcher.utter_message(
                text="Sorry, I didn't catch which account. Please pick one below."
            )
            return {"account_choice": None, "account_number": None}
        dispatcher.utter_message(
            text=f"OK, account ending {chosen.last4} ({chosen.service_address})."
        )
        return {
            "account_choice": None,
            "account_number": None,
            "account_id": chosen.id,
            "account_last4": chosen.last4,
        }

    # ---- after the shape checks: one verification call when both factors are in

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        deps = await get_deps()
        if current_identity(tracker, now=deps.now(), rules=deps.rules.verification) is not None:
            return events
        updates = await self._verify(dispatcher, tracker, deps)
        if updates:
            tracker.slots.update(updates)
            events += [SlotSet(k, v) for k, v in updates.items()]
        return events

    async def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, deps: ActionDeps
    ) -> dict[str, Any]:
        service = verification_service(deps)
        number = tracker.get_slot("account_number")
        zip5 = tracker.get_slot("zip_code")
        last_payment = tracker.get_slot("last_payment_amount")
        phone = phone_of(tracker)
        if number and (zip5 or last_payment):
            cents = parse_amount(last_payment).cents if last_payment and not zip5 else None
            result = await service.verify_account(
                conversation_id=tracker.sender_id,
                account_number=number,
                zip_code=zip5 or None,
                last_payment_amount_cents=cents,
                now=deps.now(),
                channel=channel_of(tracker),
            )
            cleared = {"account_number": None, "zip_code": None, "last_payment_amount": None}
        elif zip5 and not number and phone and await _phone_path_accounts(tracker, deps):
            result = await service.verify_by_phone(
                conversation_id=tracker.sender_id,
                phone_e164=phone,
                zip_code=zip5,
                now=deps.now(),
                channel=channel_of(tracker),
            )
            cleared = {"zip_code": None}
        else:
            return {}

        if result.ok:
            updates = _success_events(result, tracker, deps)
            dispatcher.utter_message(text=f"You're verified, {result.member.first_name}.")  # type: ignore[union-attr]
            return updates
        dispatcher.utter_message(text=result.message)
        if result.status is VerificationStatus.LOCKED:
            return {**cleared, "journey": STOPPED, "requested_slot": None}
        if result.status in (VerificationStatus.NOT_ON_FILE, VerificationStatus.AMBIGUOUS):
            return {"verify_path": "account", "account_number": None}
        return cleared


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def pick_account(answer: str, accounts: list[AccountRecord]) -> AccountRecord | None:
    """Which of the member's accounts an answer names: full number, last four, or street/town words."""
    digits = re.sub(r"\D", "", answer)
    if digits:
        exact = [a for a in accounts if a.account_number == digits]
        if exact:
            return exact[0]
        ending = [
            a for a in accounts if len(digits) >= 4 and a.account_number.endswith(digits[-4:])
        ]
        if len(ending) == 1:
            return ending[0]
    words = set(re.findall(r"[a-z]{3,}", answer.lower())) - {"account", "ending", "the", "one"}
    if words:
        hits = [
            a for a in accounts if words & set(re.findall(r"[a-z]{3,}", a.service_address.lower()))
        ]
        if len(hits) == 1:
            return hits[0]
    return None


def _first_question_of_gate(tracker: Tracker) -> bool:
    """True when verify_form has not asked for the account number since it was last activated.

    (`requested_slot` is already set when Rasa runs an ask action, so it cannot tell.)
    """
    for event in reversed(tracker.events):
        if event.get("event") == "bot" and "10-digit account number" in (event.get("text") or ""):
            return False
        if event.get("event") == "active_loop" and event.get("name") == "verify_form":
            return True
    return True


class ActionAskAccountNumber(Action):
    def name(self) -> str:
        return "action_ask_account_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        deps = await get_deps()
        until = await verification_service(deps).locked_until(
            conversation_id=tracker.sender_id, now=deps.now()
        )
        if until is not None:
            dispatcher.utter_message(
                text=locked_message(until, deps.now(), deps.rules.verification)
            )
            return []
        intro = "First I need to make sure it's you. " if _first_question_of_gate(tracker) else ""
        dispatcher.utter_message(
            text=f"{intro}What's your 10-digit account number? It's at the top of your bill."
        )
        return []


class ActionAskZipCode(Action):
    def name(self) -> str:
        return "action_ask_zip_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        deps = await get_deps()
        accounts = await _phone_path_accounts(tracker, deps)
        if len(accounts) == 1:
            dispatcher.utter_message(
                text=(
                    f"I see this number on account ending {accounts[0].last4}. To confirm it's you, "
                    "reply with the ZIP code of that service address."
                )
            )
        elif accounts:
            endings = (
                " and ".join(a.last4 for a in accounts[:2])
                if len(accounts) == 2
                else str(len(accounts))
            )
            dispatcher.utter_message(
                text=(
                    f"I see this number on accounts ending {endings}. To confirm it's you, reply with "
                    "the ZIP code of the service address you want to ask about."
                )
            )
        else:
            dispatcher.utter_message(
                text=(
                    "Thanks. What's the ZIP code of the service address? "
                    "You can send the amount of your last payment instead."
                )
            )
        return []


class ActionAskLastPaymentAmount(Action):
    def name(self) -> str:
        return "action_ask_last_payment_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        dispatcher.utter_message(
            text="What was the amount of your last payment? For example: 118.20"
        )
        return []


class ActionAskAccountChoice(Action):
    def name(self) -> str:
        return "action_ask_account_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        deps = await get_deps()
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return []
        accounts = await deps.members.accounts_for_member(identity.member_id)
        dispatcher.utter_message(
            text="You have more than one account. Which one?",
            buttons=[account_button(a) for a in accounts],
        )
        return []


# ---------------------------------------------------------------- confirm_form (one-time code)


class ValidateConfirmForm(FormValidationAction):
    """A 6-digit code to the phone (or email) on file lifts a verified member to `confirmed`."""

    def name(self) -> str:
        return "validate_confirm_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        deps = await get_deps()
        if tracker.get_slot("journey") == STOPPED:
            return []
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None or identity.tier is Tier.CONFIRMED:
            return []  # nothing to confirm (not verified: the journey action refuses) or done
        return ["otp_code"]

    async def validate_otp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"otp_code": None}
        deps = await get_deps()
        result = await otp_service(deps).check(
            conversation_id=tracker.sender_id,
            purpose=OTP_PURPOSE,
            code=str(value or "")[:MAX_ANSWER_CHARS],
            now=deps.now(),
        )
        if result.status is OtpStatus.OK:
            how = tracker.get_slot("verified_how") or "verified"
            dispatcher.utter_message(text="Thanks, that code checks out.")
            return {
                "otp_code": None,
                "tier": Tier.CONFIRMED.value,
                "verified_how": f"{how}+otp",
                "verified_at": deps.now().isoformat(),
            }
        if result.status is OtpStatus.WRONG:
            tries = "try" if result.attempts_left == 1 else "tries"
            dispatcher.utter_message(
                text=f"That code doesn't match. You have {result.attempts_left} {tries} left."
            )
        elif result.status is OtpStatus.MALFORMED:
            dispatcher.utter_message(text="The code is the 6 digits in the message I sent.")
        elif result.status in (OtpStatus.EXPIRED, OtpStatus.NONE_PENDING):
            dispatcher.utter_message(text="That code has expired, so I'll send you a new one.")
        else:  # too many tries
            dispatcher.utter_message(
                text=(
                    "That's too many tries, so I've stopped for your security. Please call member "
                    f"services at {deps.profile.phones.member_services} for help."
                )
            )
            return {"otp_code": None, "journey": STOPPED, "requested_slot": None}
        return {"otp_code": None}


class ActionAskOtpCode(Action):
    """Sends a code when none is waiting (first ask, or the last one expired); else reminds."""

    def name(self) -> str:
        return "action_ask_otp_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        deps = await get_deps()
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return []
        otp = otp_service(deps)
        sent_to = tracker.get_slot("otp_sent_to")
        if sent_to and await otp.pending(
            conversation_id=tracker.sender_id, purpose=OTP_PURPOSE, now=deps.now()
        ):
            dispatcher.utter_message(
                text=f"Please reply with the 6-digit code I sent to {sent_to}."
            )
            return []
        destination, kind = await code_destination(deps, identity.member_id)
        if destination is None:
            dispatcher.utter_message(
                text=(
                    "I don't have a phone or email on file to send a code to. Please call member "
                    f"services at {deps.profile.phones.member_services}."
                )
            )
            return []
        sent = await otp.send(
            conversation_id=tracker.sender_id,
            account_id=identity.account_id,
            purpose=OTP_PURPOSE,
            destination=destination,
            channel=kind,
            now=deps.now(),
        )
        described = describe_destination(destination, kind)
        minutes = int(otp.rules.ttl.total_seconds() // 60)
        if sent.status is SendStatus.SENT:
            verb = "text" if kind == "sms" else "email"
            dispatcher.utter_message(
                text=(
                    f"To continue, I'll {verb} a 6-digit code to {described}. Reply with it here. "
                    f"It expires in {minutes} min."
                )
            )
            return [SlotSet("otp_sent_to", described)]
        if sent.status is SendStatus.RATE_LIMITED:
            dispatcher.utter_message(
                text=(
                    "I've sent several codes already. Please use the latest one, or wait a few minutes "
                    "and ask again."
                )
            )
            return []
        dispatcher.utter_message(
            text=(
                "I couldn't send a code just now. Please try again in a few minutes, or call member "
                f"services at {deps.profile.phones.member_services}."
            )
        )
        return []


async def code_destination(deps: ActionDeps, member_id: int) -> tuple[str | None, str]:
    """The primary phone on file (a text), else the primary email."""
    contacts = await deps.members.member_contacts(member_id)
    ordered = sorted(contacts, key=lambda c: (not c.is_primary, c.id))
    for kind, channel in (("phone", "sms"), ("email", "email")):
        for contact in ordered:
            if contact.kind == kind:
                return contact.value, channel
    return None, "sms"


def describe_destination(destination: str, kind: str) -> str:
    if kind == "email":
        return f"the email on file, {mask_email(destination)}"
    last4 = re.sub(r"\D", "", destination)[-4:]
    return f"the phone on file ending {last4}"


# ---------------------------------------------------------------- log out and digressions


class ActionLogOut(Action):
    """Forget the identity in this conversation ("log out")."""

    def name(self) -> str:
        return "action_log_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Any]:
        was_verified = (tracker.get_slot("tier") or "public") != "public"
        if was_verified:
            dispatcher.utter_message(
                text=(
                    "You're logged out. I've forgotten your account in this chat; I'll ask again "
                    "before sharing account details."
                )
            )
        else:
            dispatcher.utter_message(
                text="You weren't signed in, so there's nothing to log out of."
            )
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
        dispatcher.utter_message(text="I can help with that as soon as you're verified.")
        return []


__all__ = [
    "ActionAskAccountChoice",
    "ActionAskAccountNumber",
    "ActionAskLastPaymentAmount",
    "ActionAskOtpCode",
    "ActionAskZipCode",
    "ActionIdentityDigression",
    "ActionLogOut",
    "ValidateConfirmForm",
    "ValidateVerifyForm",
]
