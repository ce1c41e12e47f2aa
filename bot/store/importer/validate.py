"""Row validation: each row on its own, before anything touches the database.

Every problem in a row is reported, not just the first. Payment methods carry the processor's
token and the last four digits only: a field that would hold a full card or bank account number
(or a CVV), or any value that looks like a card number, refuses the row so it is never stored.
"""

from __future__ import annotations

import re
from typing import Any

from bot.core.checks import luhn_valid
from bot.store.importer.fields import SPECS, RowError, parse_email, parse_phone
from bot.store.importer.rows import Row

# Fields that would hold a full card or bank account number (or a CVV). Never accepted.
FORBIDDEN_FIELDS = {
    "card_number",
    "cardnumber",
    "card_no",
    "pan",
    "full_number",
    "number",
    "cvv",
    "cvc",
    "cvv2",
    "security_code",
    "bank_account_number",
    "bank_account",
    "full_account_number",
    "routing_number",
    "aba",
    "account_number",  # account_number only in payment_methods
}
# 13-19 digits, each optionally followed by one space or dash: wider than the grouping that
# `bot.core.masking` accepts in a chat message, on purpose (an export is refused, not masked).
_CARD_LIKE = re.compile(r"(?:\d[ -]?){12,18}\d")
_DIGIT = re.compile(r"\d")


def validate_row(row: Row) -> list[str]:
    """Fill `row.values` from `row.raw`; return every problem found in the row."""
    spec = SPECS[row.entity]
    problems: list[str] = []
    raw = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.raw.items()}
    given = {k: v for k, v in raw.items() if v not in (None, "")}
    if row.entity == "payment_methods":
        for key in given:
            if key.lower() in FORBIDDEN_FIELDS:
                problems.append(
                    f"field {key!r} would hold a full card or bank account number "
                    "(or CVV): send the processor's token and last4 only"
                )
        for key, value in given.items():
            if (
                key != "last4"
                and key.lower() not in FORBIDDEN_FIELDS
                and isinstance(value, str)
                and looks_like_card(value)
            ):
                problems.append(
                    f"field {key!r} looks like a full card number; "
                    "never send card numbers, only the token and last4"
                )
    else:
        for key in given:
            if key.lower() in FORBIDDEN_FIELDS - {"account_number", "number"}:
                problems.append(f"field {key!r} would hold card or bank data; it is never imported")
    for key in given:
        if key not in spec and key.lower() not in FORBIDDEN_FIELDS:
            problems.append(f"unknown field {key!r} (known: {', '.join(spec)})")
    for key, (parse, required) in spec.items():
        if key not in given:
            if required:
                problems.append(f"{key} is required")
            continue
        try:
            row.values[key] = parse(given[key])
        except RowError as exc:
            problems.append(f"{key}: {exc}")
    if not problems:
        problems += _check_row(row.entity, row.values)
    return problems


def looks_like_card(value: str) -> bool:
    """True when `value` holds 13-19 digits (spaces or dashes between them) passing Luhn."""
    for match in _CARD_LIKE.finditer(value):
        # `\d` also matches other scripts' digits: read each as its ASCII digit for Luhn.
        digits = "".join(str(int(d)) for d in _DIGIT.findall(match.group()))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def _check_row(entity: str, v: dict[str, Any]) -> list[str]:
    """Rules that involve more than one field of a row."""
    problems = []
    if entity == "contacts":
        try:
            v["value"] = (
                parse_phone(v["value"]) if v["kind"] == "phone" else parse_email(v["value"])
            )
        except RowError as exc:
            problems.append(f"value: {exc}")
    elif entity == "bills":
        if v["period_start"] > v["period_end"]:
            problems.append("period_start is after period_end")
        if v["due_date"] < v["billing_date"]:
            problems.append("due_date is before billing_date")
    elif entity == "payments":
        if v["amount"] <= 0:
            problems.append("amount must be more than 0.00")
        if "idempotency_key" not in v and "confirmation_number" not in v:
            problems.append("a payment needs an idempotency_key or a confirmation_number")
    elif entity == "outages":
        if not (v.get("towns") or v.get("zips") or v.get("feeders")):
            problems.append("an outage needs at least one of towns, zips or feeders")
        if v.get("status") == "restored" and not v.get("restored_at"):
            # members who asked are texted "power is back as of <restored_at>"
            problems.append("a restored outage needs restored_at")
    return problems
