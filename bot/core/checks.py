"""Checksums: Luhn for card numbers, ABA for routing numbers, and the card network from its
leading digits. Pure functions; the payment page, masking and the importer all use these."""

from __future__ import annotations

import re


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by card numbers. Only plain digit strings can pass."""
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


# First two digits of a routing number: 00-12 banks, 21-32 thrifts, 61-72 electronic, 80 travellers
# cheques. Anything else (e.g. 45...) is not a routing number whatever its checksum.
_ABA_PREFIXES = set(range(13)) | set(range(21, 33)) | set(range(61, 73)) | {80}


def aba_routing_valid(routing: str) -> bool:
    """An ABA routing number: 9 digits, a known prefix, and weights 3,7,1 (repeated) whose
    weighted sum is a multiple of 10."""
    if len(routing) != 9 or not routing.isascii() or not routing.isdigit():
        return False
    if int(routing[:2]) not in _ABA_PREFIXES or routing == "000000000":
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights, strict=True)) % 10 == 0


def card_brand(number: str) -> str | None:
    """The card network from the leading digits (spaces and dashes ignored), or None."""
    digits = re.sub(r"[ -]", "", number)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return None
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":
        return "Visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "Mastercard"
    if two in (34, 37):
        return "American Express"
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925:
        return "Discover"
    if 3528 <= four <= 3589:
        return "JCB"
    if two in (36, 38) or 300 <= int(digits[:3]) <= 305:
        return "Diners Club"
    return None
