"""What an import may carry: the entities, each entity's fields, and one parser per field type.

Each parser takes the raw value (JSON value or CSV cell text) and returns the typed value or
raises `RowError` with the reason shown to the person running the import (docs/import-format.md
is the reference for every rule here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.core.money import to_cents
from bot.core.phones import read_e164

# Entities in the order they are written (references point backwards only).
ENTITIES = [
    "members",
    "accounts",
    "contacts",
    "payment_methods",
    "bills",
    "payments",
    "usage",
    "outages",
    "draft_results",  # last: a result needs its account's draft enrollment (docs/integration.md)
]


class RowError(ValueError):
    """One problem with one row; the message is shown to the person running the import."""


Parser = Callable[[Any], Any]


def _text(max_len: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise RowError(f"must be text (in quotes), not {value!r}")
        if len(value) > max_len:
            raise RowError(f"is longer than {max_len} characters")
        return value

    return parse


def _pattern(regex: str, what: str) -> Callable[[Any], str]:
    compiled = re.compile(regex)

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise RowError(f"must be text (in quotes, to keep leading zeros), not {value!r}")
        if not compiled.fullmatch(value):
            raise RowError(f"{value!r} is not {what}")
        return value

    return parse


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise RowError(f"{value!r} is not one of {', '.join(options)}")
        return text

    return parse


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "y", "1"}:
        return True
    if text in {"false", "no", "n", "0"}:
        return False
    raise RowError(f"{value!r} is not true or false")


def _int(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise RowError(f"{value!r} is not a whole number")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise RowError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise RowError(f"{number} is outside {low}..{high}")
        return number

    return parse


_MONEY = re.compile(r"\d{1,9}(\.\d{1,2})?")


def _money(value: Any) -> int:
    """'142.87' -> 14287. Money must be a string so no float ever touches it."""
    if not isinstance(value, str):
        raise RowError(f'money must be written as a string like "142.87", not {value!r}')
    text = value.strip().lstrip("$").replace(",", "")
    if not _MONEY.fullmatch(text):
        raise RowError(f'{value!r} is not an amount like "142.87"')
    return to_cents(text)


def _kwh(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise RowError(f"{value!r} is not a number of kWh")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"{value!r} is not a number of kWh") from None
    if not number.is_finite() or number < 0 or number != number.quantize(Decimal("0.01")):
        raise RowError(f"{value!r} must be zero or more with at most two decimals")
    return number.quantize(Decimal("0.01"))


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise RowError(f"{value!r} is not a date like 2026-11-28")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{value!r} is not a real date") from None


def _datetime(value: Any) -> datetime:
    example = "a date and time like 2026-11-28T14:05:00-05:00"
    if not isinstance(value, str):
        raise RowError(f"{value!r} is not {example}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{value!r} is not {example}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RowError(f"{value!r} needs a UTC offset (for example -05:00 or Z)")
    return parsed.astimezone(UTC)


def parse_phone(value: Any) -> str:
    """An imported phone must already be exact E.164 (`+17065550101`) and a valid number.

    Unlike a member's typed phone (`normalize_phone`), nothing is rewritten: "+1 706 555 0101"
    or "706-555-0101" is refused, so the billing system's data is fixed at its source.
    """
    if not isinstance(value, str) or not value.startswith("+"):
        raise RowError(f"phone {value!r} must be in E.164 form like +17065550101")
    read = read_e164(value)
    if read is None:
        raise RowError(f"phone {value!r} must be in E.164 form like +17065550101")
    e164, valid = read
    if e164 != value or not valid:
        raise RowError(f"phone {value!r} is not a valid number in E.164 form like +17065550101")
    return e164


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def parse_email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise RowError(f"{value!r} is not an email address")
    return value.lower()


def _names(parse_one: Parser) -> Callable[[Any], list[Any]]:
    """A list in JSON, or a ';'-separated cell in CSV."""

    def parse(value: Any) -> list[Any]:
        items = value if isinstance(value, list) else str(value).split(";")
        return [
            parse_one(item.strip() if isinstance(item, str) else item)
            for item in items
            if not (isinstance(item, str) and not item.strip())
        ]

    return parse


_ACCOUNT = _pattern(r"\d{10}", "a 10-digit account number")
_ZIP = _pattern(r"\d{5}(-\d{4})?", "a ZIP code like 30833 or 30833-1234")
_LAST4 = _pattern(r"\d{4}", "exactly four digits")
_TOKEN = _pattern(r"[A-Za-z0-9_\-:.]{4,120}", "a processor token (letters, digits, _ - : .)")

Spec = dict[str, tuple[Parser, bool]]  # field -> (parser, required)

SPECS: dict[str, Spec] = {
    "members": {
        "member_number": (_text(20), True),
        "first_name": (_text(80), True),
        "last_name": (_text(80), True),
        "is_senior": (_bool, False),
    },
    "accounts": {
        "account_number": (_ACCOUNT, True),
        "member_number": (_text(20), True),
        "status": (_choice("active", "disconnected", "final"), False),
        "service_street": (_text(200), True),
        "service_town": (_text(80), True),
        "service_zip": (_ZIP, True),
        "county": (_text(80), False),
        "feeder": (_text(40), False),
        "paperless": (_bool, False),
        "levelized_billing": (_bool, False),
    },
    "contacts": {
        "member_number": (_text(20), True),
        "kind": (_choice("phone", "email"), True),
        "value": (_text(254), True),  # then parse_phone or parse_email, by kind
        "is_primary": (_bool, False),
        "is_verified": (_bool, False),
    },
    "payment_methods": {
        "member_number": (_text(20), True),
        "token": (_TOKEN, True),
        "kind": (_choice("card", "checking", "savings"), True),
        "brand": (_text(30), False),
        "last4": (_LAST4, True),
        "exp_month": (_int(1, 12), False),
        "exp_year": (_int(2000, 2100), False),
        "holder_name": (_text(120), False),
        "is_active": (_bool, False),
    },
    "bills": {
        "account_number": (_ACCOUNT, True),
        "billing_date": (_date, True),
        "period_start": (_date, True),
        "period_end": (_date, True),
        "due_date": (_date, True),
        "amount": (_money, True),
        "kwh": (_int(0, 10_000_000), True),
        "late_fee": (_money, False),
        "paid": (_bool, False),
    },
    "payments": {
        "account_number": (_ACCOUNT, True),
        "amount": (_money, True),
        "received_at": (_datetime, True),
        "status": (_choice("pending", "succeeded", "declined", "failed"), False),
        "method_label": (_text(60), True),
        "confirmation_number": (_text(20), False),
        "idempotency_key": (_text(120), False),
        "channel": (_choice("web", "sms", "office", "draft", "phone", "mail", "import"), False),
        "payment_method_token": (_TOKEN, False),
    },
    "usage": {
        "account_number": (_ACCOUNT, True),
        "day": (_date, True),
        "kwh": (_kwh, True),
        "cost": (_money, True),
    },
    "outages": {
        "reference": (_text(20), True),
        "status": (_choice("active", "restored"), False),
        "cause": (_text(120), False),
        "crew_status": (_text(120), False),
        "customers_affected": (_int(0, 10_000_000), False),
        "started_at": (_datetime, True),
        "estimated_restoration_at": (_datetime, False),
        "restored_at": (_datetime, False),
        "towns": (_names(_text(80)), False),
        "zips": (_names(_ZIP), False),
        "feeders": (_names(_text(40)), False),
    },
    "draft_results": {
        "id": (_pattern(r"[A-Za-z0-9._:-]{1,80}", "a result id (letters, digits, . _ : -)"), True),
        "account_number": (_ACCOUNT, True),
        "draft_date": (_date, True),
        "amount": (_money, True),
        "status": (_choice("paid", "returned"), True),
        "return_code": (_pattern(r"R\d{2}", "a NACHA return code like R01"), False),
    },
}
