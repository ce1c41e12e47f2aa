"""Outage report: reading the address a member types, and what a report returns.

The address check is pure (no Rasa types, no I/O) so every odd input a member may type is
unit-tested: empty, overlong, emoji, script fragments, a card number. Free text is accepted as an
address as long as it has a street part and a town or ZIP; a card number is never accepted (the
caller tells the member it was not kept). Creating the report is `OutageService.report`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.core.masking import find_bank_numbers, find_card_numbers
from bot.services.outage.status import OutageInfo

MAX_ADDRESS_CHARS = 200

AddressProblem = Literal["empty", "too_long", "card_number", "unclear", "need_street", "need_town"]

_ZIP_RE = re.compile(r"\b(\d{5})(?:-\d{4})?\b")
_ALLOWED_RE = re.compile(r"^[A-Za-z0-9 ,.#'/\-&]+$")
_STATE_RE = re.compile(r"\b(ga|georgia)\b\.?", re.IGNORECASE)


@dataclass(frozen=True)
class Address:
    """Where the power is out: what the member wrote (tidied), and the town and/or ZIP in it."""

    text: str
    street: str
    town: str | None
    zip: str | None


@dataclass(frozen=True)
class AddressError:
    problem: AddressProblem


def parse_address(raw: str | None, towns: Iterable[str | None] = ()) -> Address | AddressError:
    """An address from a member's message ("412 mill st wrens", "88 Church St, Louisville GA").

    `towns` are town entities the NLU found in the message (lookup table of the co-op's towns);
    without one, the words after the last comma are taken as the town.
    """
    text = " ".join((raw or "").split())
    if not text:
        return AddressError("empty")
    if find_card_numbers(text) or find_bank_numbers(text):
        return AddressError("card_number")
    if len(text) > MAX_ADDRESS_CHARS:
        return AddressError("too_long")
    if not _ALLOWED_RE.match(text):
        return AddressError("unclear")  # emoji, other scripts, <script>, SQL punctuation

    zips = list(_ZIP_RE.finditer(text))
    zip_match = zips[-1] if zips else None  # the last 5-digit group ("3400 hwy 88 blythe 30805")
    zip5 = zip_match.group(1) if zip_match and zip_match.start() > 0 else None
    rest = text[: zip_match.start()] + text[zip_match.end() :] if zip5 and zip_match else text
    rest = _STATE_RE.sub(" ", rest)
    rest = " ".join(rest.replace(" ,", ",").split()).strip(" ,.")

    town = None
    lowered = rest.casefold()
    for candidate in towns:
        name = " ".join(str(candidate or "").split())
        if name and name.casefold() in lowered:
            idx = lowered.rfind(name.casefold())
            town = rest[idx : idx + len(name)].title()
            rest = (rest[:idx] + rest[idx + len(name) :]).strip(" ,.")
            break
    if town is None and "," in rest:
        head, tail = rest.rsplit(",", 1)
        tail = tail.strip(" .")
        if tail and re.fullmatch(r"[A-Za-z][A-Za-z .'-]{1,40}", tail) and len(tail.split()) <= 3:
            town, rest = tail.title(), head.strip(" ,.")

    street = rest.strip(" ,.")
    if not (re.search(r"\d", street) and re.search(r"[A-Za-z]{2,}", street)):
        return AddressError("need_street")
    if town is None and zip5 is None:
        return AddressError("need_town")
    place = " ".join(p for p in (town, zip5) if p)
    return Address(
        text=f"{_tidy_street(street)}, {place}", street=_tidy_street(street), town=town, zip=zip5
    )


def _tidy_street(street: str) -> str:
    """ "412 mill st" -> "412 Mill St" (already capitalised words are left alone)."""
    return " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in street.split())


@dataclass(frozen=True)
class ReportResult:
    reference: str
    outage: OutageInfo | None  # a known outage the report was linked to
    created: bool  # False when the idempotency key had been used: this is the first report
