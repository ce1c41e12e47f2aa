"""Money a member typed ("$45", "45.20", "fifty dollars", "a hundred and twenty") in cents.

Refuses negatives, zero, fractions of a cent, scientific notation and absurd sizes, each with a
sentence the member can act on; a card or bank number is refused without being echoed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from price_parser import Price

from bot.core.masking import CARD_NOT_KEPT_MESSAGE, find_bank_numbers, find_card_numbers
from bot.core.money import format_cents

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
