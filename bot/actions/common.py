"""Small helpers every journey's actions share: who the member is, which channel, money typed in
chat, card numbers that must not be kept, buttons.

Why here and not in each journey: the identity gate is only as strong as its weakest re-check, so
there is ONE `current_identity()` (with the 15-idle-minute rule) and ONE `require_tier()` that
every action calls first (docs/conversation-design.md, "Defence in depth").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from price_parser import Price
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.services.checks import find_bank_numbers, find_card_numbers
from bot.services.money import format_cents
from bot.services.verification import Tier, VerificationRules, tier_still_valid

if TYPE_CHECKING:
    from bot.actions.deps import ActionDeps

# Slots that make up the identity; cleared together on log out and when the gate fails.
IDENTITY_SLOTS = (
    "tier",
    "member_id",
    "account_id",
    "account_last4",
    "member_first_name",
    "verified_how",
    "verified_at",
)

CARD_NOT_KEPT_MESSAGE = (
    "For your safety I didn't keep that number. Please never type a card or bank number here. "
    "To pay with a new card or bank account, I can send you a secure payment page link."
)

# ---------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    """The member's identity as the slots tell it, already checked for idle expiry."""

    tier: Tier
    member_id: int
    account_id: int | None
    account_last4: str | None
    first_name: str
    verified_how: str | None
    verified_at: datetime

    def at_least(self, needed: Tier) -> bool:
        return self.tier >= needed


def _parse_time(raw: Any) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, (int, float)):
        return datetime.fromtimestamp(stamp, tz=UTC)
    return None


def idle_gap(tracker: Tracker) -> timedelta | None:
    """How long the conversation sat quiet before the latest member message.

    Measured between two tracker event timestamps (both from Rasa's clock), so it stays right
    when the action server's clock is frozen for tests. None when the events carry no time.
    """
    events = list(tracker.events or [])
    last_user = None
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            last_user = index
            break
    if last_user is None:
        return None
    current = _event_time(events[last_user])
    if current is None:
        return None
    for event in reversed(events[:last_user]):
        if event.get("event") in ("user", "bot", "action"):
            before = _event_time(event)
            if before is not None:
                return current - before
    return None


def current_identity(
    tracker: Tracker, *, now: datetime, rules: VerificationRules | None = None
) -> Identity | None:
    """The verified identity in the slots, or None: public, incomplete, or idle 15 minutes.

    Rasa's session_config already resets slots after 15 idle minutes; this is the second lock on
    the same door (a long-lived SMS thread, a missed session start, a replayed tracker).
    """
    rules = rules or VerificationRules()
    raw_tier = tracker.get_slot("tier")
    try:
        tier = Tier(raw_tier) if raw_tier else Tier.PUBLIC
    except ValueError:
        return None
    if tier is Tier.PUBLIC:
        return None
    member_id = tracker.get_slot("member_id")
    verified_at = _parse_time(tracker.get_slot("verified_at"))
    if member_id in (None, "") or verified_at is None:
        return None
    gap = idle_gap(tracker)
    if gap is not None:
        if gap >= rules.session_idle:
            return None
    elif not tier_still_valid(verified_at, None, now, rules):
        return None
    account_id = tracker.get_slot("account_id")
    return Identity(
        tier=tier,
        member_id=int(member_id),
        account_id=int(account_id) if account_id not in (None, "") else None,
        account_last4=tracker.get_slot("account_last4"),
        first_name=tracker.get_slot("member_first_name") or "",
        verified_how=tracker.get_slot("verified_how"),
        verified_at=verified_at,
    )


def not_verified_message(needed: Tier) -> str:
    if needed is Tier.CONFIRMED:
        return "I need to confirm it's you before I can do that. Just ask again and I'll send you a code."
    return "I need to verify your account before I can share that. Just ask again and I'll walk you through it."


def require_tier(
    dispatcher: CollectingDispatcher, tracker: Tracker, needed: Tier, deps: ActionDeps
) -> Identity | None:
    """First line of every account action: the identity if it reaches `needed`, else None.

    When the identity falls short the member is told plainly what to do; the action returns [].
    An identity without a chosen account (several accounts, none picked) also falls short.
    """
    identity = current_identity(
        tracker, now=deps.now(), rules=VerificationRules.from_profile(deps.profile)
    )
    if identity is None or not identity.at_least(needed) or identity.account_id is None:
        dispatcher.utter_message(text=not_verified_message(needed))
        return None
    return identity


def cleared_identity_events() -> list[dict[str, Any]]:
    """SlotSet events that forget who the member is (log out, failed gate)."""
    from rasa_sdk.events import SlotSet

    return [SlotSet(name, "public" if name == "tier" else None) for name in IDENTITY_SLOTS]


# ---------------------------------------------------------------- channel, phone, keys


def _latest_metadata(tracker: Tracker) -> Mapping[str, Any]:
    meta = (tracker.latest_message or {}).get("metadata")
    if isinstance(meta, Mapping) and meta:
        return meta
    for event in reversed(list(tracker.events or [])):
        if event.get("event") == "user":
            meta = event.get("metadata")
            if isinstance(meta, Mapping) and meta:
                return meta
            break
    meta = tracker.get_slot("session_started_metadata")
    return meta if isinstance(meta, Mapping) else {}


def channel_of(tracker: Tracker) -> str:
    """ "sms" or "web" from the gateway's message metadata (default "web")."""
    channel = str(_latest_metadata(tracker).get("channel") or "").strip().lower()
    if channel not in ("web", "sms"):
        channel = str(tracker.get_slot("channel") or "web").lower()
    return "sms" if channel == "sms" else "web"


def phone_of(tracker: Tracker) -> str | None:
    """The member's phone (E.164) from SMS metadata, or None. Not proof of identity on its own."""
    raw = _latest_metadata(tracker).get("phone") or tracker.get_slot("phone")
    if not raw:
        return None
    text = str(raw).strip()
    return text if re.fullmatch(r"\+[1-9]\d{7,14}", text) else None


def idempotency_key(tracker: Tracker, purpose: str) -> str:
    """Stable for one member turn: the same confirmation re-sent (or an action retried) gives
    the same key, so the payment service charges once.

    Built from the sender id, the purpose and the id of the latest member message (its
    timestamp if the message has no id).
    """
    message_id = (tracker.latest_message or {}).get("message_id")
    if not message_id:
        for event in reversed(list(tracker.events or [])):
            if event.get("event") == "user":
                message_id = event.get("message_id") or event.get("timestamp")
                break
    return f"{tracker.sender_id}:{purpose}:{message_id or 'no-message'}"


# ---------------------------------------------------------------- money typed by a member

MAX_AMOUNT_CENTS = 10_000_000  # $100,000: far above any member bill, far below overflow

_UNITS = {
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}
_DOLLAR_WORDS = {"dollar", "dollars", "bucks", "buck"}
_CENT_WORDS = {"cent", "cents"}


@dataclass(frozen=True)
class AmountResult:
    """`cents` when the text is a usable amount, else `error`: a sentence to say to the member."""

    cents: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.cents is not None


AMOUNT_HELP = "Please send an amount in dollars and cents, like $45 or 45.20."


def _words_to_number(words: Sequence[str]) -> int | None:
    """ "a hundred and twenty" -> 120; None if any word is not part of a number."""
    total, current, seen = 0, 0, False
    for word in words:
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
        elif word.isdigit():
            current += int(word)
        else:
            return None
        seen = True
    return total + current if seen else None


def _parse_words(text: str) -> Decimal | None:
    """ "forty five dollars and 20 cents" -> 45.20; "fifty" -> 50."""
    words = re.findall(r"[a-z]+|\d+", text.lower().replace("-", " "))
    if not words:
        return None
    dollars_part, cents_part = list(words), []
    for i, word in enumerate(words):
        if word in _DOLLAR_WORDS:
            dollars_part, cents_part = words[:i], words[i + 1 :]
            break
    if cents_part and cents_part[-1] in _CENT_WORDS:
        cents_part = cents_part[:-1]
    elif cents_part:
        return None
    if not cents_part and dollars_part and dollars_part[-1] in _CENT_WORDS:
        # "fifty cents"
        cents = _words_to_number(dollars_part[:-1])
        return None if cents is None or cents >= 100 else Decimal(cents) / 100
    dollars = _words_to_number(dollars_part) if dollars_part else 0
    cents = _words_to_number(cents_part) if cents_part else 0
    if dollars is None or cents is None or cents >= 100:
        return None
    return Decimal(dollars) + Decimal(cents) / 100


def parse_amount(text: str | None) -> AmountResult:
    """Money a member typed ("$45", "45.20", "fifty dollars", "a hundred and twenty") in cents.

    Refuses negatives, zero, fractions of a cent, scientific notation and absurd sizes, each with a
    sentence the member can act on. Card numbers are refused without being echoed.
    """
    raw = (text or "").strip()
    if not raw:
        return AmountResult(error=AMOUNT_HELP)
    if len(raw) > 80:
        return AmountResult(error=AMOUNT_HELP)
    if find_card_numbers(raw) or find_bank_numbers(raw):
        return AmountResult(error=CARD_NOT_KEPT_MESSAGE)
    lowered = raw.lower()
    if re.search(r"\d\s*e\s*[+-]?\d", lowered):
        return AmountResult(error=AMOUNT_HELP)
    if (
        re.search(r"(^|[\s$(])-\s*\$?\s*\d|\(\s*\$?\d", lowered)
        or "minus" in lowered
        or "negative" in lowered
    ):
        return AmountResult(error="The amount can't be negative. " + AMOUNT_HELP)

    value: Decimal | None = None
    if re.search(r"\d", lowered) and not re.search(
        r"[a-z]{3,}", re.sub(r"dollars?|bucks?|usd|cents?", "", lowered)
    ):
        cents_only = re.fullmatch(r"\s*(\d{1,2})\s*(cents?|c)\s*", lowered)
        if cents_only:
            value = Decimal(cents_only.group(1)) / 100
        else:
            price = Price.fromstring(raw, decimal_separator=".")
            value = price.amount
            digits_after = re.search(r"\.(\d+)", raw)
            if digits_after and len(digits_after.group(1)) > 2:
                return AmountResult(error="That has fractions of a cent. " + AMOUNT_HELP)
    if value is None:
        value = _parse_words(lowered.replace("$", " "))
    if value is None:
        return AmountResult(error=AMOUNT_HELP)
    try:
        if value != value.quantize(Decimal("0.01")):
            return AmountResult(error="That has fractions of a cent. " + AMOUNT_HELP)
        cents = int(value * 100)
    except InvalidOperation:
        return AmountResult(error=AMOUNT_HELP)
    if cents < 0:
        return AmountResult(error="The amount can't be negative. " + AMOUNT_HELP)
    if cents == 0:
        return AmountResult(error="The amount has to be more than $0. " + AMOUNT_HELP)
    if cents > MAX_AMOUNT_CENTS:
        return AmountResult(
            error=f"That's more than I can take here (over {format_cents(MAX_AMOUNT_CENTS)}). "
            + AMOUNT_HELP
        )
    return AmountResult(cents=cents)


# ---------------------------------------------------------------- card numbers in slot values


@dataclass(frozen=True)
class ScrubResult:
    """`clean` is the value safe to keep (None if it held a card/bank number); `found` says so."""

    clean: Any
    found: bool


def scrub_card_numbers(value: Any) -> ScrubResult:
    """Never keep a card or bank number in a slot: a value containing one is dropped whole.

    Dropped rather than masked: a masked fragment is useless as an answer, and a re-ask is clearer.
    """
    if value is None:
        return ScrubResult(None, False)
    if isinstance(value, (list, tuple)):
        results = [scrub_card_numbers(v) for v in value]
        if any(r.found for r in results):
            return ScrubResult(None, True)
        return ScrubResult(value, False)
    text = str(value)
    if find_card_numbers(text) or find_bank_numbers(text):
        return ScrubResult(None, True)
    return ScrubResult(value, False)


# ---------------------------------------------------------------- buttons


def intent_button(
    title: str, intent: str, entities: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """A button whose payload triggers `intent` directly ("/pay_bill", '/inform{"account_number":...}')."""
    import json

    payload = f"/{intent}"
    if entities:
        payload += json.dumps(dict(entities), separators=(",", ":"))
    return {"title": title, "payload": payload}


def buttons_or_choices(options: Iterable[tuple[str, str] | dict[str, str]]) -> list[dict[str, str]]:
    """Buttons from (title, payload) pairs; titles kept short and plain so the SMS gateway can
    number them ("Reply 1 for Pay now")."""
    buttons: list[dict[str, str]] = []
    for option in options:
        if isinstance(option, Mapping):
            title, payload = str(option["title"]), str(option["payload"])
        else:
            title, payload = option
        buttons.append({"title": title.strip()[:60], "payload": payload})
    return buttons


def offer_person(member_services_phone: str) -> str:
    """The one sentence every form uses to offer a person after repeated misses."""
    return f"If you'd rather talk with a person, say agent or call {member_services_phone}."


def reask(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    slot: str,
    counter: str,
    message: str,
    member_services_phone: str,
    buttons: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Re-ask `slot` with `message`; from the second miss in a row (counted in the `counter`
    slot) also offer a person. Returns the slot events for a FormValidationAction."""
    failures = int(tracker.get_slot(counter) or 0) + 1
    if failures >= 2:
        message = f"{message} {offer_person(member_services_phone)}"
    dispatcher.utter_message(text=message, buttons=buttons or [])
    return {slot: None, counter: failures}
