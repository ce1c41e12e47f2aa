"""`validate_confirm_form`: a 6-digit code to the phone (or email) on file lifts a verified member
to tier `confirmed` (needed to move money or change the account)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import JourneyForm, current_identity, scrub_card_numbers
from bot.actions.deps import ActionDeps, get_deps
from bot.actions.identity import texts
from bot.actions.identity.verify import MAX_ANSWER_CHARS, STOPPED
from bot.core.masking import CARD_NOT_KEPT_MESSAGE
from bot.services.identity import Tier
from bot.services.otp import OtpService, OtpStatus

OTP_PURPOSE = "confirm"


def otp_service(deps: ActionDeps) -> OtpService:
    """The one-time-code service over the container's database, rules, notifier and secret."""
    return OtpService(
        deps.sessions,
        deps.rules.otp,
        deps.notifier,
        secret_key=deps.settings.secret_key,
        mirror=deps.locks,
    )


async def code_destination(deps: ActionDeps, member_id: int) -> tuple[str | None, str]:
    """Where to send the code: the primary phone on file (a text), else the primary email."""
    contacts = await deps.members.member_contacts(member_id)
    ordered = sorted(contacts, key=lambda c: (not c.is_primary, c.id))
    for kind, channel in (("phone", "sms"), ("email", "email")):
        for contact in ordered:
            if contact.kind == kind:
                return contact.value, channel
    return None, "sms"


class ValidateConfirmForm(JourneyForm):
    """A 6-digit code to the phone (or email) on file lifts a verified member to `confirmed`."""

    action_name = "validate_confirm_form"

    async def slots_for(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
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
            dispatcher.utter_message(text=texts.CODE_OK)
            return {
                "otp_code": None,
                "tier": Tier.CONFIRMED.value,
                "verified_how": f"{how}+otp",
                "verified_at": deps.now().isoformat(),
            }
        if result.status is OtpStatus.WRONG:
            dispatcher.utter_message(text=texts.code_wrong(result.attempts_left))
        elif result.status is OtpStatus.MALFORMED:
            dispatcher.utter_message(text=texts.CODE_MALFORMED)
        elif result.status in (OtpStatus.EXPIRED, OtpStatus.NONE_PENDING):
            dispatcher.utter_message(text=texts.CODE_EXPIRED)
        else:  # too many tries
            phone = deps.profile.phones.member_services
            dispatcher.utter_message(text=texts.too_many_tries(phone))
            return {"otp_code": None, "journey": STOPPED, "requested_slot": None}
        return {"otp_code": None}
