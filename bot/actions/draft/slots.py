"""The bank draft journey's slots, and reading the member's answers into them."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet

from bot.actions.common import Identity
from bot.core.masking import find_bank_numbers, find_card_numbers
from bot.profile import CoopProfile
from bot.services import drafts
from bot.services.drafts import DraftSituation, DraftTerms
from bot.services.members import MethodRecord

# Every slot this journey writes; reset when a draft conversation ends (done, stopped or failed).
DRAFT_SLOTS = (
    "draft_day",
    "draft_amount_rule",
    "draft_fixed_amount",
    "draft_method_id",
    "draft_authorized",
    "draft_shown_on",
    "draft_change_what",
    "draft_cancel_confirmed",
    "draft_failures",
)

ADD_WORDS = ("add", "new", "another", "different bank", "link")
CARD_WORDS = (
    "card",
    "visa",
    "mastercard",
    "master card",
    "amex",
    "american express",
    "discover",
    "credit",
    "debit",
)
# What a member says once a bank account is saved on the secure page (besides a plain yes).
ADDED_WORDS = ("done", "added", "saved")
# A run of 5+ digits in an answer about a bank account is an account or routing number: never kept.
_LONG_DIGITS = re.compile(r"\d[\d -]{3,}\d")
_MASKED = re.compile(r"\*{3,}")
_DAY_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "tenth": 10,
    "fifteenth": 15,
    "eighteenth": 18,
    "twentieth": 20,
    "twenty first": 21,
    "twenty-first": 21,
    "twenty eighth": 28,
}


def reset_events() -> list[dict[str, Any]]:
    return [SlotSet(slot, None) for slot in DRAFT_SLOTS]


def leave_form_events() -> list[dict[str, Any]]:
    """Leave the active draft form and forget its answers (the identity gate fell short)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]


def sensitive_number(text: str) -> str | None:
    """'card' or 'bank' if the member typed (or the gateway masked) a card or bank number."""
    if find_card_numbers(text) or (_MASKED.search(text) and re.search(r"\d{4}", text)):
        return "card"
    if find_bank_numbers(text):
        return "bank"
    for run in _LONG_DIGITS.findall(text):
        if len(re.sub(r"\D", "", run)) >= 5:
            return "bank"
    return None


def day_words(text: str) -> str:
    """ "eighteenth" -> "18", "third" -> "3", "the 18th please" -> "18"."""
    lowered = text.lower()
    for word, day in sorted(_DAY_WORDS.items(), key=lambda item: -len(item[0])):
        if word in lowered:
            return str(day)
    found = re.search(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?(?!\d)", lowered)
    return found.group(1) if found else text


def match_method(
    text: str, entity: str | None, methods: list[MethodRecord]
) -> MethodRecord | str | None:
    """The saved method the member named, or 'card' / 'add' / 'ambiguous', or None."""
    lowered = f"{text} {entity or ''}".lower()
    digits = set(re.findall(r"(?<!\d)\d{4}(?!\d)", lowered))
    by_last4 = [m for m in methods if m.last4 in digits]
    if by_last4:
        return by_last4[0]
    if any(word in lowered for word in CARD_WORDS):
        return "card"
    if any(word in lowered for word in ADD_WORDS):
        return "add"
    banks = drafts.bank_methods(methods)
    for kind in ("checking", "savings"):
        if kind in lowered:
            named = [m for m in banks if m.kind == kind]
            if len(named) == 1:
                return named[0]
            if named:
                return "ambiguous"
    return None


def amount_slots(tracker: Tracker, profile: CoopProfile) -> list[str]:
    """The amount questions: none when only the full amount is offered, the amount for 'fixed'."""
    if not drafts.fixed_amount_offered(profile):
        return []
    slots = ["draft_amount_rule"]
    if tracker.get_slot("draft_amount_rule") == "fixed":
        slots.append("draft_fixed_amount")
    return slots


def terms_from_slots(tracker: Tracker, situation: DraftSituation) -> DraftTerms | None:
    """The terms chosen in the slots, completed by the current enrollment in a change."""
    return drafts.proposed_terms(
        situation,
        draft_day=tracker.get_slot("draft_day"),
        amount_rule=tracker.get_slot("draft_amount_rule"),
        fixed_amount_cents=tracker.get_slot("draft_fixed_amount"),
        payment_method_id=tracker.get_slot("draft_method_id"),
    )


def verified_how(identity: Identity, tracker: Tracker) -> str:
    """How the member proved who they are, as the authorization record keeps it (60 chars)."""
    return str(identity.verified_how or tracker.get_slot("verified_how") or "unknown")[:60]
