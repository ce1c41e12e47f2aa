"""Finding and masking card and bank account numbers in free text, and masking contacts.

Every inbound message is masked before it is stored or forwarded, so card and bank numbers never
reach the tracker store, the database, logs or the agent console (docs/policies.md).

Masking is deliberately narrow, so ordinary messages pass untouched:
- a card number is 13-19 digits passing Luhn, written as one run or in groups separated by single
  spaces or dashes the way cards are printed (groups of 4 to 6 digits, the last 1 to 6), so
  "706-547-2167 30833" or "7065472167 30833", a phone number and a ZIP, is never read as one number;
- a bank account number is masked only when it sits next to a valid ABA routing number (within a
  few words), so a 10-digit co-op account number like 1000004821 on its own is never masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.checks import aba_routing_valid, luhn_valid

CARD_NOT_KEPT_MESSAGE = (
    "For your safety I didn't keep that number. Please never type a card or bank number here. "
    "To pay with a new card or bank account, I can send you a secure payment page link."
)

Span = tuple[int, int]

# Digit groups joined by a single space or a dash (optionally spaced); never crossing other text.
_GROUPED_DIGITS = re.compile(r"(?<![\w.,/$])\d+(?:(?: ?- ?| )\d+)*(?![\w/])")
_GROUP = re.compile(r"\d+")
_DIGIT_RUN = re.compile(r"(?<![\w.,/$])\d+(?![\w/]|[.,]\d)")
# What may sit between a routing number and an account number: a few words, no other digits.
_BANK_GAP = re.compile(r"^[^\d\n]{0,30}$")


def find_card_numbers(text: str) -> list[Span]:
    """Spans of card numbers in `text` (13-19 digits passing Luhn, grouped by spaces/dashes or not)."""
    spans: list[Span] = []
    for run in _GROUPED_DIGITS.finditer(text):
        groups = [
            (m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())
        ]
        i = 0
        while i < len(groups):
            found = None
            for j in range(len(groups) - 1, i - 1, -1):  # longest candidate first
                parts = groups[i : j + 1]
                digits = "".join(text[a:b] for a, b in parts)
                if not 13 <= len(digits) <= 19:
                    continue
                if len(parts) > 1 and (
                    any(not 4 <= b - a <= 6 for a, b in parts[:-1])
                    or parts[-1][1] - parts[-1][0] > 6
                ):
                    continue  # cards are written in groups of 4 (Amex 4-6-5); phones and ZIPs are not
                if luhn_valid(digits):
                    found = j
                    break
            if found is None:
                i += 1
                continue
            spans.append((groups[i][0], groups[found][1]))
            i = found + 1
    return spans


def find_bank_numbers(text: str) -> list[tuple[Span, Span]]:
    """(routing span, account span) pairs: a valid routing number with a 4-17 digit number beside it."""
    runs = [(m.start(), m.end()) for m in _DIGIT_RUN.finditer(text)]
    pairs: list[tuple[Span, Span]] = []
    used: set[Span] = set()
    for k, (a, b) in enumerate(runs):
        if (a, b) in used or not aba_routing_valid(text[a:b]):
            continue
        neighbours = []
        if k + 1 < len(runs):
            neighbours.append(runs[k + 1])
        if k > 0:
            neighbours.append(runs[k - 1])
        for c, d in neighbours:
            if (c, d) in used or not 4 <= d - c <= 17:
                continue
            gap = text[b:c] if c > b else text[d:a]
            if _BANK_GAP.match(gap):
                pairs.append(((a, b), (c, d)))
                used.update({(a, b), (c, d)})
                break
    return pairs


def mask_card(digits: str) -> str:
    """`4111111111111111` -> `4111 **** **** 1111`: the first 4 and last 4 digits at most."""
    digits = re.sub(r"\D", "", digits)
    middle = len(digits) - 8
    stars = " ".join("*" * min(4, middle - i) for i in range(0, middle, 4))
    return f"{digits[:4]} {stars} {digits[-4:]}"


def mask_digits(digits: str) -> str:
    """All but the last 4 digits replaced by `*`."""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


@dataclass(frozen=True)
class MaskResult:
    text: str
    found_card: bool
    found_bank: bool

    @property
    def found_any(self) -> bool:
        return self.found_card or self.found_bank


def mask_sensitive(text: str) -> MaskResult:
    """Mask card numbers and bank account numbers (with their routing number) in a member's message."""
    replacements: list[tuple[int, int, str]] = []
    bank_pairs = find_bank_numbers(text)
    taken: list[Span] = []
    for routing, account in bank_pairs:
        for a, b in (routing, account):
            replacements.append((a, b, mask_digits(text[a:b])))
            taken.append((a, b))
    card_spans = [
        (a, b) for a, b in find_card_numbers(text) if not any(a < d and c < b for c, d in taken)
    ]
    for a, b in card_spans:
        replacements.append((a, b, mask_card(text[a:b])))
    out = text
    for a, b, masked in sorted(replacements, reverse=True):
        out = out[:a] + masked + out[b:]
    return MaskResult(out, bool(card_spans), bool(bank_pairs))


def mask_phone(e164: str) -> str:
    """`+17065550101` -> `***-***-0101`."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"


def mask_email(address: str) -> str:
    """`dana.whitfield@example.com` -> `d***@example.com`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
