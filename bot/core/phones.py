"""Phone numbers: one way to read them (E.164 through `phonenumbers`, never a regex), one way to
show them."""

from __future__ import annotations

import re

import phonenumbers

from bot.core.masking import find_card_numbers

MAX_PHONE_TEXT = 200  # longer text is not an answer with a phone number in it


def normalize_phone(
    text: str | None, region: str = "US", *, strict: bool = True, max_length: int = MAX_PHONE_TEXT
) -> str | None:
    """The phone number in `text` as E.164 (`+17065550101`), or None.

    "706-555-0101", "(706) 555-0101", "7065550101", "+1 706 555 0101" and "call me at
    706 555 0101" all work; "555-0101" (no area code), "12345" and card numbers do not.
    `strict` asks for a valid number; `strict=False` accepts any possible one (a sender id that
    Twilio gives us is a real phone, whatever the numbering plan says).
    """
    raw = (text or "").strip()
    if not raw or len(raw) > max_length or find_card_numbers(raw):
        return None
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    for match in phonenumbers.PhoneNumberMatcher(raw, region):
        if check(match.number):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not check(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def read_e164(text: str) -> tuple[str, bool] | None:
    """`text` read strictly as an international number: (its E.164 form, whether it is a valid
    number), or None when it is no phone number at all.

    For data that must already be E.164, such as a billing-system import: unlike
    `normalize_phone`, no region is assumed and no number is looked for inside other text, so the
    caller can insist the E.164 form equals what it was given.
    """
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.is_valid_number(number)


def is_us_number(e164: str) -> bool:
    return e164.startswith("+1")


def display_phone(e164: str) -> str:
    """`+17065550101` -> "(706) 555-0101" (US numbers); other countries in international form."""
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_last4(e164: str) -> str:
    return re.sub(r"\D", "", e164)[-4:]
