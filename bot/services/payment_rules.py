"""Payment limits and wording from the co-op profile: the smallest and largest payment, the
warning above the balance, and when a payment posts (business days, the profile's holidays)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.core.money import format_cents
from bot.profile import CoopProfile


@dataclass(frozen=True)
class PaymentRules:
    """Payment limits and wording from the co-op profile (`payments` and `billing` sections)."""

    minimum_cents: int = 100
    maximum_cents: int = 500_000
    warn_above_balance: bool = True
    posting_text: str = "1-2 business days"
    holidays: frozenset[date] = frozenset()
    timezone: tzinfo = UTC  # always the profile's in the assistant; tests may set their own
    processor_timeout_seconds: float = 20.0

    @classmethod
    def from_profile(
        cls, profile: CoopProfile, *, processor_timeout_seconds: float = 20.0
    ) -> PaymentRules:
        return cls(
            minimum_cents=profile.payments.minimum_cents,
            maximum_cents=profile.payments.maximum_cents,
            warn_above_balance=profile.payments.warn_above_balance,
            posting_text=profile.billing.online_payment_posting,
            holidays=frozenset(h.date for h in profile.holidays),
            timezone=profile.timezone,
            processor_timeout_seconds=processor_timeout_seconds,
        )


def check_amount(amount_cents: int, rules: PaymentRules) -> str | None:
    """Why this amount cannot be paid here (member wording), or None when it can."""
    if amount_cents < rules.minimum_cents:
        return f"The smallest payment I can take is {format_cents(rules.minimum_cents)}."
    if amount_cents > rules.maximum_cents:
        return (
            f"I can take payments up to {format_cents(rules.maximum_cents)} here. For a larger "
            "payment, "
            "please call member services."
        )
    return None


def amount_warning(
    amount_cents: int, balance_cents: int, rules: PaymentRules | None = None
) -> str | None:
    """A heads-up to show before confirming a payment larger than the balance, or None.

    Paying more than is owed is allowed (it becomes a credit); the member should just know.
    """
    if rules is not None and not rules.warn_above_balance:
        return None
    if amount_cents <= balance_cents:
        return None
    extra = amount_cents - max(balance_cents, 0)
    owed = (
        "you don't owe anything right now"
        if balance_cents <= 0
        else f"your balance is {format_cents(balance_cents)}"
    )
    credit = format_cents(extra)
    return f"Just so you know, {owed}; the extra {credit} will be a credit on your account."


def posting_estimate(now: datetime, rules: PaymentRules | CoopProfile) -> str:
    """`1-2 business days (by Tuesday, December 1)`: the profile's posting text and latest date.

    Business days skip weekends and the profile's holidays, counted from the local date of `now`.
    Accepts `PaymentRules` or a profile. If the text has no "N business days" the text alone.
    """
    if not isinstance(rules, PaymentRules):
        rules = PaymentRules.from_profile(rules)
    match = re.search(r"(\d+)\s*business days?", rules.posting_text)
    if match is None:
        return rules.posting_text
    day = now.astimezone(rules.timezone).date()
    remaining = int(match.group(1))
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in rules.holidays:
            remaining -= 1
    return f"{rules.posting_text} (by {day:%A, %B} {day.day})"


# Part of the balance, in the member's words (the guide: any portion of a bill can be paid).
_PORTIONS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"\bhalf\b", re.I), 2),
    (re.compile(r"\b(a |one )?third\b", re.I), 3),
    (re.compile(r"\b(a |one )?(quarter|fourth)\b", re.I), 4),
)
_PAST_DUE_WORDS = re.compile(r"\b(past[ -]?due|behind|overdue|late part)\b", re.I)
_REST_LATER = re.compile(
    r"\b(the )?(rest|remainder|remaining|balance|other half)\b.{0,40}"
    r"\b(later|friday|monday|tuesday|wednesday|thursday|saturday|sunday|next week|payday|"
    r"tomorrow|the \d{1,2}(st|nd|rd|th)?|on the)\b",
    re.I,
)


def portion_cents(text: str, amount_due_cents: int) -> int | None:
    """The amount for "half" / "a third" / "a quarter" of the balance (rounded to the cent,
    halves up), or None when the text names no portion or nothing is due. A number in the text
    wins ("half, so $70"): the caller reads typed amounts first."""
    if amount_due_cents <= 0 or re.search(r"\d", text):
        return None
    for pattern, divisor in _PORTIONS:
        if pattern.search(text):
            return (amount_due_cents * 2 + divisor) // (2 * divisor)
    return None


def asks_for_past_due(text: str) -> bool:
    """ "whatever the past due is", "just what im behind": the past-due part."""
    return bool(_PAST_DUE_WORDS.search(text)) and not re.search(r"\d", text)


def rest_later_note(
    text: str, paying_cents: int, amount_due_cents: int, due: date | None
) -> str | None:
    """ "$50 now and the rest Friday": what is left after this payment and until when it can be
    paid, or None when the member did not ask to split or nothing would be left. Nothing is
    scheduled: the member pays the rest later the same way."""
    rest = amount_due_cents - paying_cents
    if rest <= 0 or not _REST_LATER.search(text):
        return None
    when = f" by the due date, {due:%b} {due.day}," if due else ""
    return (
        f"I'll take {format_cents(paying_cents)} now. The rest, {format_cents(rest)}, can be "
        f"paid any time{when} the same way: just say pay my bill."
    )
