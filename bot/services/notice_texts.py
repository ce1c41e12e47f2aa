"""The wording of bill, payment and draft notices: the one place it lives.

Each notice kind has a default wording here; a co-op changes one in its profile
(`notices.wording.<kind>`, placeholders checked at start-up against `bot.profile.NOTICE_FIELDS`).
A text must fit two SMS segments of plain GSM-7 (306 characters: 2 x 153 once a message is split),
so a wording is checked after its placeholders are filled; `NoticeTooLong` otherwise, and the
notice is recorded as rejected rather than sent cut short or as UCS-2. Emails carry the same
sentence under a subject line, with the co-op's name and phone below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.gsm7 import gsm7_length, is_gsm7, straighten
from bot.profile import CoopProfile

SMS_NOTICE_MAX = 306  # two concatenated GSM-7 segments (153 characters each)

KINDS = (
    "bill_ready",
    "payment_received",
    "past_due",
    "draft_notice",
    "draft_succeeded",
    "draft_failed",
)

DEFAULT_WORDING: Mapping[str, str] = {
    "bill_ready": (
        "{coop}: Your bill for account ending {account_last4} is ready: {amount} due {due_date}. "
        "Pay by chat or text here, or call {phone}."
    ),
    "payment_received": (
        "{coop}: We received your payment of {amount} on {received_date} for account ending "
        "{account_last4}. Thank you!"
    ),
    "past_due": (
        "{coop}: Account ending {account_last4} is past due: {past_due_amount}.{fee_note} "
        "{disconnect_note} Please pay {amount_due} by chat or text here, or call {phone}."
    ),
    "draft_notice": (
        "{coop}: Your bank draft of {amount} for account ending {account_last4} will be taken "
        "from {method} on {draft_date}. To stop it, cancel by {cancel_by}: reply here or call "
        "{phone}."
    ),
    "draft_succeeded": (
        "{coop}: Your bank draft of {amount} from {method} on {draft_date} for account ending "
        "{account_last4} went through. Thank you!"
    ),
    "draft_failed": (
        "{coop}: Your bank draft of {amount} from {method} on {draft_date} for account ending "
        "{account_last4} did not go through. Please pay by chat or text here, or call {phone}."
    ),
}

SUBJECTS: Mapping[str, str] = {
    "bill_ready": "Your {coop} bill is ready",
    "payment_received": "{coop} payment received",
    "past_due": "Your {coop} account is past due",
    "draft_notice": "Your upcoming {coop} bank draft",
    "draft_succeeded": "Your {coop} bank draft went through",
    "draft_failed": "Your {coop} bank draft did not go through",
}


class NoticeTooLong(ValueError):
    """A filled-in text that does not fit two plain SMS segments (or is not GSM-7)."""


@dataclass(frozen=True)
class NoticeText:
    kind: str
    sms: str
    subject: str
    email_body: str


def wording(kind: str, profile: CoopProfile) -> str:
    """The profile's wording of `kind`, or the default."""
    if kind not in DEFAULT_WORDING:
        raise ValueError(f"unknown notice kind {kind!r}")
    return profile.notices.wording.get(kind) or DEFAULT_WORDING[kind]


def render(kind: str, profile: CoopProfile, *, account_last4: str, **fields: str) -> NoticeText:
    """The notice of `kind` with its placeholders filled (see `bot.profile.NOTICE_FIELDS`)."""
    values = {
        "coop": profile.coop.short_name,
        "account_last4": account_last4,
        "phone": profile.phones.member_services,
        **fields,
    }
    text = " ".join(straighten(wording(kind, profile).format(**values)).split())
    if not is_gsm7(text):
        raise NoticeTooLong(f"{kind} notice is not plain GSM-7: {text!r}")
    if gsm7_length(text) > SMS_NOTICE_MAX:
        raise NoticeTooLong(
            f"{kind} notice is {gsm7_length(text)} characters, more than {SMS_NOTICE_MAX}"
        )
    subject = SUBJECTS[kind].format(coop=profile.coop.short_name)
    body = (
        f"{text}\n\n{profile.coop.name}\n{profile.phones.member_services}\n{profile.coop.website}"
    )
    return NoticeText(kind, text, subject, body)
