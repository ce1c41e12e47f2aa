"""Checksums, sensitive-number masking and GSM-7 text: small pure functions used at the edges.

Why here and not in a channel: the gateway masks every inbound message before it is stored or
forwarded (compliance.md: card numbers and bank account numbers never reach the tracker store, the
database, logs or the agent console), and the payment page validates routing and card numbers with
the same functions.

Masking is deliberately narrow, so ordinary messages pass untouched:
- a card number is 13-19 digits passing Luhn, written as one run or in groups separated by single
  spaces or dashes the way cards are printed (groups of 4 to 6 digits, the last 1 to 6), so
  "706-547-2167 30833" or "7065472167 30833", a phone number and a ZIP, is never read as one number;
- a bank account number is masked only when it sits next to a valid ABA routing number (within a
  few words), so a 10-digit co-op account number like 1000004821 on its own is never masked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------


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
    """An ABA routing number: 9 digits, known prefix, weights 3,7,1 repeated summing to a multiple of 10."""
    if len(routing) != 9 or not routing.isascii() or not routing.isdigit():
        return False
    if int(routing[:2]) not in _ABA_PREFIXES or routing == "000000000":
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights)) % 10 == 0


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


# ---------------------------------------------------------------------------------------------
# Finding and masking numbers
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# GSM-7
# ---------------------------------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # each costs two characters in a text

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u2122": "TM",
    "\u00b0": " degrees",
}


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (basic set or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def gsm7_length(text: str) -> int:
    """Septets the text takes in an SMS: extension characters (like `€` or `[`) count twice."""
    return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)


def gsm7_safe(text: str) -> str:
    """Text rewritten to GSM-7: straight quotes and dashes, `...`, accents dropped where needed,
    emoji and other symbols removed (so one stray character cannot switch a text to UCS-2, which
    cuts a message from 160 to 70 characters)."""
    out: list[str] = []
    removed = False
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and all(c in GSM7_BASIC for c in base):
            out.append(base)
            continue
        removed = True  # emoji, variation selectors, zero-width joiners, other scripts' symbols
    result = "".join(out)
    if removed:
        result = re.sub(r"[ ]{2,}", " ", result)
        result = re.sub(r" +([.,!?])", r"\1", result)
        result = "\n".join(line.strip() for line in result.split("\n")).strip()
    return result
