"""Finding and masking card and bank account numbers in free text, and masking contacts.

Every inbound message is masked before it is stored or forwarded, so card and bank numbers never
reach the tracker store, the database, logs or the agent console (docs/policies.md).

Matching runs on a normalised copy of the text (`normalise_for_matching`): Unicode NFKC, every
decimal digit as its ASCII digit (full-width, Arabic-Indic...), every dash as "-", every space or
line break as a space. Invisible format characters (zero-width spaces, direction marks) are read
both ways, as nothing and as a space, and whatever either reading finds is masked. Spans found
are mapped back to the member's own characters, so the rest of the message is kept as typed.

Masking is deliberately narrow, so ordinary messages pass untouched:
- a card number is 13-19 digits passing Luhn, written as one run or in groups separated by spaces,
  line breaks, dashes or dots the way cards are printed (groups of 4 to 6 digits, the last 1 to
  6), whatever sits right before or after it (a comma, a word, an expiry glued on with a slash);
  so "706-547-2167 30833" or "7065472167\n30833", a phone number and a ZIP, is never one number;
- a bank account number is masked only in a message that also holds a valid ABA routing number
  (9 digits, or 3-3-3 with dashes, dots or spaces): then every other number of 4 to 17 digits in
  the message that is not an amount or a date is masked with it, wherever it is (the next line,
  the end of a long sentence). A 10-digit co-op account number like 1000004821 on its own is
  never masked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.core.checks import aba_routing_valid, luhn_valid

CARD_NOT_KEPT_MESSAGE = (
    "For your safety I didn't keep that number. Please never type a card or bank number here. "
    "To pay with a new card or bank account, I can send you a secure payment page link."
)

Span = tuple[int, int]

_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
# Between the printed groups of one card number: spaces (line breaks included after
# normalising), or one dash or dot with optional spaces around it.
_SEPARATOR = r"(?: *[-.] *| +)"
_GROUPED_DIGITS = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}\d+)*(?!\d)")
_GROUP = re.compile(r"\d+")
_TOKEN = re.compile(r"\d+")
_ROUTING_GAP = re.compile(r" ?[-. ] ?")
_DASH_GAP = re.compile(r" ?- ?")


def normalise_for_matching(text: str, *, drop_format: bool = True) -> tuple[str, list[int]]:
    """The text as matching sees it, and for each of its characters the index of the member's
    character it came from (several for one when NFKC expands a character, none for a dropped
    one). Format characters are dropped, or read as spaces with `drop_format=False`."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Nd":
            out = str(unicodedata.decimal(ch))
        elif ch in _DASHES:
            out = "-"
        elif category == "Cf":  # zero-width spaces and joiners, direction marks: invisible
            out = "" if drop_format else " "
        elif ch.isspace():
            out = " "
        else:
            out = unicodedata.normalize("NFKC", ch)
            out = "".join(
                str(unicodedata.decimal(c))
                if unicodedata.category(c) == "Nd"
                else (" " if c.isspace() else c)
                for c in out
            )
        chars.extend(out)
        origin.extend([index] * len(out))
    return "".join(chars), origin


def _to_original(span: Span, origin: list[int]) -> Span:
    a, b = span
    return origin[a], origin[b - 1] + 1


def _card_spans(norm: str) -> list[Span]:
    """Card number spans in the normalised text."""
    spans: list[Span] = []
    for run in _GROUPED_DIGITS.finditer(norm):
        groups = [
            (m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())
        ]
        ends = [0]  # digits before each group, so a candidate's length costs nothing
        for a, b in groups:
            ends.append(ends[-1] + b - a)
        i = 0
        while i < len(groups):
            found = None
            # Longest candidate first; at most 19 groups fit in 19 digits.
            for j in range(min(len(groups) - 1, i + 18), i - 1, -1):
                if not 13 <= ends[j + 1] - ends[i] <= 19:
                    continue
                parts = groups[i : j + 1]
                digits = "".join(norm[a:b] for a, b in parts)
                if len(parts) > 1 and (
                    any(not 4 <= b - a <= 6 for a, b in parts[:-1])
                    or parts[-1][1] - parts[-1][0] > 6
                ):
                    # Cards are written in groups of 4 (Amex 4-6-5); phones and ZIPs are not.
                    continue
                if luhn_valid(digits):
                    found = j
                    break
            if found is None:
                i += 1
                continue
            spans.append((groups[i][0], groups[found][1]))
            i = found + 1
    return spans


def _digits(text: str) -> str:
    return re.sub(r"\D", "", normalise_for_matching(text)[0])


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans joined into one, in order."""
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(span[0] < d and c < span[1] for c, d in others)


@dataclass(frozen=True)
class _Found:
    cards: list[Span]
    bank_pairs: list[tuple[Span, Span]]

    @property
    def bank_spans(self) -> list[Span]:
        return _merge([span for pair in self.bank_pairs for span in pair])


def _find(text: str) -> _Found:
    """Card spans and (routing, account) pairs in the member's characters. Bank numbers first,
    so an account number next to a routing number is one even when it also passes Luhn."""
    cards: list[Span] = []
    pairs: list[tuple[Span, Span]] = []
    for drop_format in (True, False):
        norm, origin = normalise_for_matching(text, drop_format=drop_format)
        found = _bank_pairs(norm)
        pairs += [(_to_original(r, origin), _to_original(a, origin)) for r, a in found]
        taken = [span for pair in found for span in pair]
        cards += [_to_original(c, origin) for c in _card_spans(norm) if not _overlaps(c, taken)]
        if not any(unicodedata.category(ch) == "Cf" for ch in text):
            break  # both readings are the same
    unique_pairs = list(dict.fromkeys(pairs))
    bank_spans = _merge([span for pair in unique_pairs for span in pair])
    return _Found([c for c in _merge(cards) if not _overlaps(c, bank_spans)], unique_pairs)


def find_card_numbers(text: str) -> list[Span]:
    """Spans of card numbers in `text` (13-19 digits passing Luhn, grouped or not)."""
    return _find(text).cards


def _is_amount_or_date(norm: str, a: int, b: int) -> bool:
    """Digits at norm[a:b] that belong to an amount ($, decimals) or a date (slashes)."""
    before, after = norm[max(0, a - 2) : a], norm[b : b + 3]
    if before.rstrip().endswith("$"):
        return True
    if re.match(r"[.,]\d", after) or re.search(r"\d[.,]$", before):
        return True
    return before.endswith("/") or after.startswith("/")


def _routing_spans(norm: str, tokens: list[Span]) -> list[tuple[Span, list[int]]]:
    """Valid routing numbers: one 9-digit token, or three 3-digit tokens (3-3-3)."""
    found: list[tuple[Span, list[int]]] = []
    used: set[int] = set()
    for k, (a, b) in enumerate(tokens):
        if k in used:
            continue
        if b - a == 9 and aba_routing_valid(norm[a:b]) and not _is_amount_or_date(norm, a, b):
            found.append(((a, b), [k]))
            used.add(k)
            continue
        if k + 2 < len(tokens) and all(e - s == 3 for s, e in tokens[k : k + 3]):
            gaps = [norm[tokens[n][1] : tokens[n + 1][0]] for n in (k, k + 1)]
            digits = "".join(norm[s:e] for s, e in tokens[k : k + 3])
            if all(_ROUTING_GAP.fullmatch(g) for g in gaps) and aba_routing_valid(digits):
                found.append(((a, tokens[k + 2][1]), [k, k + 1, k + 2]))
                used.update({k, k + 1, k + 2})
    return found


def _bank_pairs(norm: str) -> list[tuple[Span, Span]]:
    """(routing, account) spans in the normalised text."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(norm)]
    routings = _routing_spans(norm, tokens)
    if not routings:
        return []
    in_routing = {k for _, ks in routings for k in ks}
    accounts: list[Span] = []
    k = 0
    while k < len(tokens):
        if k in in_routing:
            k += 1
            continue
        start, end = tokens[k]
        last = k  # dash-joined groups ("1234-5678-9012") are one account number
        while (
            last + 1 < len(tokens)
            and last + 1 not in in_routing
            and _DASH_GAP.fullmatch(norm[tokens[last][1] : tokens[last + 1][0]])
        ):
            last += 1
        end = tokens[last][1]
        digits = re.sub(r"\D", "", norm[start:end])
        if 4 <= len(digits) <= 17 and not _is_amount_or_date(norm, start, end):
            accounts.append((start, end))
        k = last + 1
    if not accounts and len(routings) >= 2:
        # Two routing-valid numbers and nothing else: one of them is the account.
        return [(routings[n][0], routings[n + 1][0]) for n in range(0, len(routings) - 1, 2)]
    pairs = []
    for account in accounts:
        routing = min(routings, key=lambda r: abs(r[0][0] - account[0]))[0]
        pairs.append((routing, account))
    return pairs


def find_bank_numbers(text: str) -> list[tuple[Span, Span]]:
    """(routing span, account span) pairs: a valid routing number and every other number of
    4-17 digits in the message that is not an amount or a date."""
    return _find(text).bank_pairs


def mask_card(digits: str) -> str:
    """`4111111111111111` -> `4111 **** **** 1111`: the first 4 and last 4 digits at most."""
    digits = re.sub(r"\D", "", digits)
    middle = len(digits) - 8
    stars = " ".join("*" * min(4, middle - i) for i in range(0, middle, 4))
    return f"{digits[:4]} {stars} {digits[-4:]}"


def mask_digits(digits: str) -> str:
    """All but the last 4 digits replaced by `*`, and never more than half of them shown."""
    digits = re.sub(r"\D", "", digits)
    shown = min(4, len(digits) // 2)
    return "*" * (len(digits) - shown) + (digits[-shown:] if shown else "")


@dataclass(frozen=True)
class MaskResult:
    text: str
    found_card: bool
    found_bank: bool

    @property
    def found_any(self) -> bool:
        return self.found_card or self.found_bank


def mask_sensitive(text: str) -> MaskResult:
    """Mask card numbers and bank account numbers (with their routing number) in a member's
    message. Bank numbers are found first, so an account number next to a routing number is
    masked as one (last four at most), even when it also passes Luhn."""
    found = _find(text)
    replacements = [(a, b, mask_digits(_digits(text[a:b]))) for a, b in found.bank_spans]
    replacements += [(a, b, mask_card(_digits(text[a:b]))) for a, b in found.cards]
    out = text
    for a, b, masked in sorted(replacements, reverse=True):
        out = out[:a] + masked + out[b:]
    return MaskResult(out, bool(found.cards), bool(found.bank_pairs))


def mask_phone(e164: str) -> str:
    """`+17065550101` -> `***-***-0101`."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"


def mask_email(address: str) -> str:
    """`dana.whitfield@example.com` -> `d***@example.com`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
