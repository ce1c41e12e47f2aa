"""`validate_verify_form`: who the member is (tier `verified`).

Account number + ZIP code (or the last payment amount), or on SMS the phone on file + ZIP; then,
for a member with several accounts, which account. Each answer gets a shape check only; nothing
reaches the database unvalidated, and one verification call is made when both factors are in.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import JourneyForm, current_identity, scrub_card_numbers
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.identity import texts
from bot.actions.tracker import channel_of, client_ip_of, latest_intent, latest_text, phone_of
from bot.core.amounts import parse_amount
from bot.core.masking import CARD_NOT_KEPT_MESSAGE
from bot.services.identity import (
    ACCOUNT_FORMAT_MESSAGE,
    AccountChoice,
    Tier,
    VerificationResult,
    VerificationService,
    VerificationStatus,
    is_sign_in_request,
    normalize_account_number,
    normalize_zip,
)
from bot.services.members import AccountRecord
from bot.services.throttle import hmac_key

MAX_ANSWER_CHARS = 200
STOPPED = "stopped"  # journey value: the gate failed for good; no journey action runs


def verification_service(deps: ActionDeps) -> VerificationService:
    """The verification service over the container's database, secret key and rules."""
    return VerificationService(
        deps.sessions, deps.settings.secret_key, deps.rules.verification, mirror=deps.locks
    )


async def phone_path_accounts(tracker: Tracker, deps: ActionDeps) -> list[AccountChoice]:
    """Accounts on file for the texting phone, when the SMS phone path applies (else [])."""
    if channel_of(tracker) != "sms" or tracker.get_slot("verify_path") == "account":
        return []
    if tracker.get_slot("account_number"):
        return []
    phone = phone_of(tracker)
    if phone is None:
        return []
    return await verification_service(deps).accounts_for_phone(phone)


def _success_slots(
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


def sign_in_request(tracker: Tracker) -> bool:
    """The latest message is "verify me / sign in" (not an answer): the gate's question is asked
    again plainly, with no format hint (`ask_again_plainly` in the questions)."""
    return is_sign_in_request(latest_intent(tracker), latest_text(tracker))


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


ACCOUNT_REF_PREFIX = "acct-"


def account_ref(deps: ActionDeps, conversation_id: str, account_id: int) -> str:
    """The opaque id an account-choice button carries: an HMAC of the conversation and the
    account's row id, meaningless outside this conversation and never the account number."""
    digest = hmac_key(deps.settings.secret_key, "account-choice", f"{conversation_id}:{account_id}")
    return ACCOUNT_REF_PREFIX + digest[:16]


def account_for_ref(
    deps: ActionDeps, conversation_id: str, answer: str, accounts: list[AccountRecord]
) -> AccountRecord | None:
    """The account whose button `answer` is (mapped back server-side), if any."""
    answer = answer.strip()
    if not answer.startswith(ACCOUNT_REF_PREFIX):
        return None
    for account in accounts:
        if hmac.compare_digest(account_ref(deps, conversation_id, account.id), answer):
            return account
    return None


def pick_account(answer: str, accounts: list[AccountRecord]) -> AccountRecord | None:
    """Which of the member's accounts an answer names: full number, last four, or street/town
    words."""
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


class ValidateVerifyForm(JourneyForm):
    """Account number + ZIP (or last payment), or on SMS phone-on-file + ZIP; then pick an
    account."""

    action_name = "validate_verify_form"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        deps = await get_deps()
        if tracker.get_slot("journey") == STOPPED:
            return []
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is not None:
            return [] if identity.account_id is not None else ["account_choice"]
        if await phone_path_accounts(tracker, deps):
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
        if sign_in_request(tracker):
            return {"account_number": None}  # the question is asked again, no hint
        text = str(value or "")[:MAX_ANSWER_CHARS]
        if (
            text.strip().startswith(ACCOUNT_REF_PREFIX)
            and tracker.get_slot("requested_slot") == "account_choice"
        ):
            return {"account_number": None}  # an account-choice button: validate_account_choice
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
        if sign_in_request(tracker):
            return {"zip_code": None}  # the question is asked again, no hint
        text = str(value or "")[:MAX_ANSWER_CHARS]
        zip5 = normalize_zip(text)
        if zip5 is None:
            found = re.findall(r"(?<![\d-])\d{5}(?:-\d{4})?(?![\d-])", text)
            zip5 = normalize_zip(found[0]) if len(found) == 1 else None
        if zip5 is not None:
            return {"zip_code": zip5}
        if re.search(r"[$.]|dollar|buck", text.lower()):
            amount = parse_amount(text)
            if amount.ok and amount.cents is not None:
                # The member offered the last payment instead.
                return {"zip_code": None, "last_payment_amount": _dollars(amount.cents)}
        dispatcher.utter_message(text=texts.ZIP_OR_PAYMENT_MESSAGE)
        return {"zip_code": None}

    async def validate_last_payment_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if scrub_card_numbers(value).found:
            dispatcher.utter_message(text=CARD_NOT_KEPT_MESSAGE)
            return {"last_payment_amount": None}
        amount = parse_amount(str(value or "")[:MAX_ANSWER_CHARS])
        if not amount.ok or amount.cents is None:
            dispatcher.utter_message(text=amount.error or texts.ZIP_OR_PAYMENT_MESSAGE)
            return {"last_payment_amount": None}
        return {"last_payment_amount": _dollars(amount.cents)}

    async def validate_account_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        deps = await get_deps()
        identity = current_identity(tracker, now=deps.now(), rules=deps.rules.verification)
        if identity is None:
            return {"account_choice": None}
        if sign_in_request(tracker):
            return {"account_choice": None}  # the question is asked again, no hint
        accounts = await deps.members.accounts_for_member(identity.member_id)
        answer = str(value or "")[:MAX_ANSWER_CHARS]
        chosen = account_for_ref(deps, tracker.sender_id, answer, accounts) or (
            None
            if answer.strip().startswith(ACCOUNT_REF_PREFIX)
            else pick_account(answer, accounts)
        )
        if chosen is None:
            dispatcher.utter_message(text=texts.ACCOUNT_CHOICE_UNCLEAR)
            return {"account_choice": None, "account_number": None}
        dispatcher.utter_message(text=texts.account_chosen(chosen))
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
                phone_e164=phone if channel_of(tracker) == "sms" else None,
                client_ip=client_ip_of(tracker),
            )
            cleared = {"account_number": None, "zip_code": None, "last_payment_amount": None}
        elif zip5 and not number and phone and await phone_path_accounts(tracker, deps):
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
            updates = _success_slots(result, tracker, deps)
            dispatcher.utter_message(text=texts.verified(updates["member_first_name"]))
            return updates
        dispatcher.utter_message(text=result.message)
        if result.status is VerificationStatus.LOCKED:
            return {**cleared, "journey": STOPPED, "requested_slot": None}
        if result.status in (VerificationStatus.NOT_ON_FILE, VerificationStatus.AMBIGUOUS):
            return {"verify_path": "account", "account_number": None}
        return cleared
