"""Import a co-op's billing-system export (JSON or CSV) into the member-services tables.

The format is documented field by field in docs/import-format.md. The rules that matter:

- Every row of every file is validated first and *every* problem is reported with its file, line
  and reason, not just the first one.
- All or nothing: if any row is bad nothing is written; a good import is one transaction.
- Rows refer to each other by natural keys (member_number, account_number, payment token), never
  by database ids; an existing row with the same key is updated (upsert), nothing is deleted.
- Payment methods carry the processor's token and the last four digits only. A row with a full
  card number, CVV or bank account number is rejected, never stored.
- Money is written as a string ("142.87") and becomes integer cents with no float in between.

`jecbot import FILE...` calls `import_files`; a live billing-system adapter implementing
`bot.services.members.MemberServices` is the alternative to periodic imports.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import Connection, Table, bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.core.money import to_cents
from bot.store.db import make_sync_engine
from bot.store.migrate import ensure_schema, sync_id_sequences
from bot.store.models import (
    Account,
    AuditEntry,
    Bill,
    Contact,
    Member,
    Outage,
    OutageArea,
    Payment,
    PaymentMethod,
    UsageReading,
)

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
]

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
_CARD_LIKE = re.compile(r"(?:\d[ -]?){12,18}\d")


class RowError(ValueError):
    """One problem with one row; the message is shown to the person running the import."""


@dataclass(frozen=True)
class ImportError_:  # noqa: N801 - trailing underscore: not the builtin ImportError
    """A bad row (or file): where it is and why it was refused."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """Outcome of `import_files`: `ok` only if every row was valid and everything was written."""

    ok: bool
    errors: list[ImportError_] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows imported per entity
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def summary(self, max_errors: int = 200) -> str:
        if self.ok:
            parts = [
                f"{name} {self.counts[name]:,} ({self.created.get(name, 0):,} new, "
                f"{self.updated.get(name, 0):,} updated)"
                for name in ENTITIES
                if self.counts.get(name)
            ]
            total = sum(self.counts.values())
            return (
                f"Imported {total:,} rows from {len(self.files)} file(s): "
                f"{'; '.join(parts) or 'nothing to import'}."
            )
        lines = [f"Import failed: nothing was written. {len(self.errors)} problem(s):"]
        lines += [f"  {e}" for e in self.errors[:max_errors]]
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors} more")
        return "\n".join(lines)


@dataclass
class _Row:
    file: str
    line: int
    entity: str
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)  # validated, typed, only fields given


# --- field parsers ------------------------------------------------------------------------


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
    if not isinstance(value, str):
        raise RowError(f"{value!r} is not a date and time like 2026-11-28T14:05:00-05:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{value!r} is not a date and time like 2026-11-28T14:05:00-05:00") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RowError(f"{value!r} needs a UTC offset (for example -05:00 or Z)")
    return parsed.astimezone(UTC)


def _phone(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("+"):
        raise RowError(f"phone {value!r} must be in E.164 form like +17065550101")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise RowError(f"phone {value!r} must be in E.164 form like +17065550101") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != value or not phonenumbers.is_valid_number(number):
        raise RowError(f"phone {value!r} is not a valid number in E.164 form like +17065550101")
    return e164


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise RowError(f"{value!r} is not an email address")
    return value.lower()


def _names(parse_one: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
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

Spec = dict[str, tuple[Callable[[Any], Any], bool]]  # field -> (parser, required)

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
        "value": (_text(254), True),
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
}


# --- reading files ------------------------------------------------------------------------


class _Lines:
    """Line numbers for increasing offsets into a text, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def _read_json(path: Path, errors: list[ImportError_]) -> list[_Row]:
    """Parse `{"members": [...], ...}` keeping the line on which each row object starts."""
    name = path.name
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder(parse_float=Decimal)
    space = re.compile(r"\s*")
    lines = _Lines(text)
    rows: list[_Row] = []

    def skip(i: int) -> int:
        return space.match(text, i).end()  # type: ignore[union-attr]

    def expect(i: int, chars: str, what: str) -> None:
        if text[i : i + 1] not in chars:
            raise json.JSONDecodeError(f"expected {what}", text, i)

    try:
        i = skip(0)
        if text[i : i + 1] != "{":
            errors.append(
                ImportError_(
                    name, 1, "a JSON import is one object of lists: " + ", ".join(ENTITIES)
                )
            )
            return []
        i = skip(i + 1)
        if text[i : i + 1] == "}":
            return []
        while True:
            key_at = i
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            expect(i, ":", "':'")
            i = skip(i + 1)
            if key not in ENTITIES or text[i : i + 1] != "[":
                reason = (
                    f"unknown list {key!r}; the lists are {', '.join(ENTITIES)}"
                    if key not in ENTITIES
                    else f"{key!r} must be a list of objects"
                )
                errors.append(ImportError_(name, lines.at(key_at), reason))
                _, i = decoder.raw_decode(text, i)
            else:
                i = skip(i + 1)
                if text[i : i + 1] == "]":
                    i += 1
                while text[i - 1 : i] != "]":
                    start = i
                    item, i = decoder.raw_decode(text, i)
                    line = lines.at(start)
                    if isinstance(item, dict):
                        rows.append(_Row(name, line, key, item))
                    else:
                        errors.append(ImportError_(name, line, f"each {key} row must be an object"))
                    i = skip(i)
                    expect(i, ",]", "',' or ']'")
                    i = skip(i + 1) if text[i] == "," else i + 1
            i = skip(i)
            expect(i, ",}", "',' or '}'")
            if text[i] == "}":
                break
            i = skip(i + 1)
    except json.JSONDecodeError as exc:
        errors.append(ImportError_(name, exc.lineno, f"not valid JSON: {exc.msg}"))
        return []
    return rows


def _read_csv(path: Path, errors: list[ImportError_]) -> list[_Row]:
    """One entity per file, named by the file (members.csv, accounts.csv, ...)."""
    entity = path.stem.lower()
    if entity not in ENTITIES:
        errors.append(
            ImportError_(
                path.name,
                None,
                "a CSV file must be named after what it holds: "
                + ", ".join(f"{e}.csv" for e in ENTITIES),
            )
        )
        return []
    rows: list[_Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            errors.append(ImportError_(path.name, 1, "the file is empty (it needs a header row)"))
            return []
        line = 1
        for record in reader:
            start, line = line + 1, reader.line_num
            if None in record:
                errors.append(ImportError_(path.name, start, "more cells than header columns"))
                continue
            rows.append(
                _Row(
                    path.name,
                    start,
                    entity,
                    {k.strip(): v for k, v in record.items() if k is not None},
                )
            )
    return rows


# --- validating rows ----------------------------------------------------------------------


def _validate(row: _Row) -> list[str]:
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
                and _looks_like_card(value)
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


def _looks_like_card(value: str) -> bool:
    for match in _CARD_LIKE.finditer(value):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _check_row(entity: str, v: dict[str, Any]) -> list[str]:
    """Rules that involve more than one field of a row."""
    problems = []
    if entity == "contacts":
        try:
            v["value"] = _phone(v["value"]) if v["kind"] == "phone" else _email(v["value"])
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
    return problems


def _natural_key(entity: str, v: dict[str, Any]) -> tuple[Any, ...]:
    if entity == "members":
        return (v["member_number"],)
    if entity == "accounts":
        return (v["account_number"],)
    if entity == "contacts":
        return (v["member_number"], v["kind"], v["value"])
    if entity == "payment_methods":
        return (v["token"],)
    if entity == "bills":
        return (v["account_number"], v["billing_date"])
    if entity == "payments":
        return (payment_key(v),)
    if entity == "usage":
        return (v["account_number"], v["day"])
    return (v["reference"],)


def payment_key(v: dict[str, Any]) -> str:
    """The idempotency key of an imported payment (derived from the confirmation if absent)."""
    return v.get("idempotency_key") or f"import:{v['account_number']}:{v['confirmation_number']}"


# --- writing ------------------------------------------------------------------------------


class _Writer:
    """Upserts validated rows with executemany; ids for new rows are assigned here."""

    def __init__(self, conn: Connection, now: datetime, result: ImportResult) -> None:
        self.conn, self.now, self.result = conn, now, result

    def next_id(self, table: Table) -> int:
        return int(self.conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1

    def upsert(
        self,
        entity: str,
        table: Table,
        existing: dict[Any, int],
        rows: list[tuple[Any, dict[str, Any]]],
        defaults: dict[str, Any],
    ) -> dict[Any, int]:
        """Insert rows whose key is new (with defaults), update the given fields of the others."""
        inserts: list[dict[str, Any]] = []
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        ids = dict(existing)
        next_id = self.next_id(table)
        for key, values in rows:
            if key in ids:
                values = dict(values, _id=ids[key])
                updates.setdefault(tuple(sorted(values)), []).append(values)
            else:
                ids[key] = next_id
                row = dict(defaults)
                if "created_at" in table.c:
                    row["created_at"] = self.now
                row.update(values, id=next_id)
                inserts.append(row)
                next_id += 1
        for keys, batch in updates.items():
            fields = {k: bindparam(k) for k in keys if k != "_id"}
            if fields:
                self.conn.execute(
                    table.update().where(table.c.id == bindparam("_id")).values(fields), batch
                )
        for columns in {tuple(sorted(r)) for r in inserts}:
            self.conn.execute(table.insert(), [r for r in inserts if tuple(sorted(r)) == columns])
        self.result.created[entity] = len(inserts)
        self.result.updated[entity] = len(rows) - len(inserts)
        self.result.counts[entity] = len(rows)
        return ids


def _key_map(conn: Connection, table: Table, *columns: str) -> dict[Any, int]:
    cols = [table.c[c] for c in columns]
    result: dict[Any, int] = {}
    for row in conn.execute(select(table.c.id, *cols)):
        result[tuple(row[1:])] = row[0]
    return result


def _single(mapping: dict[Any, int]) -> dict[Any, int]:
    return {k[0]: v for k, v in mapping.items()}


def _resolve(rows_by: dict[str, list[_Row]], conn: Connection, errors: list[ImportError_]) -> None:
    """Check references (member_number, account_number, token) and duplicate keys."""
    members = set(_single(_key_map(conn, Member.__table__, "member_number")))
    accounts = set(_single(_key_map(conn, Account.__table__, "account_number")))
    tokens = set(_single(_key_map(conn, PaymentMethod.__table__, "token")))
    members |= {r.values["member_number"] for r in rows_by["members"]}
    accounts |= {r.values["account_number"] for r in rows_by["accounts"]}
    tokens |= {r.values["token"] for r in rows_by["payment_methods"]}
    known_confirmations = {
        row[0]: row[1]
        for row in conn.execute(
            select(
                Payment.__table__.c.confirmation_number, Payment.__table__.c.idempotency_key
            ).where(Payment.__table__.c.confirmation_number.is_not(None))
        )
    }
    for entity in ENTITIES:
        seen: dict[tuple[Any, ...], _Row] = {}
        for row in rows_by[entity]:
            v = row.values
            problems = []
            if "member_number" in SPECS[entity] and v["member_number"] not in members:
                problems.append(
                    f"member_number {v['member_number']!r} is not in this import or the database"
                )
            if (
                entity != "accounts"
                and "account_number" in v
                and v["account_number"] not in accounts
            ):
                problems.append(
                    f"account_number {v['account_number']!r} is not in this import or the database"
                )
            if v.get("payment_method_token") and v["payment_method_token"] not in tokens:
                problems.append(f"payment_method_token {v['payment_method_token']!r} is unknown")
            if entity == "payments" and v.get("confirmation_number"):
                other = known_confirmations.get(v["confirmation_number"])
                if other is not None and other != payment_key(v):
                    problems.append(
                        f"confirmation_number {v['confirmation_number']!r} already "
                        "belongs to another payment"
                    )
            key = _natural_key(entity, v)
            if key in seen:
                first = seen[key]
                problems.append(f"duplicate of {first.file} line {first.line} (same {entity} key)")
            else:
                seen[key] = row
            errors.extend(ImportError_(row.file, row.line, p) for p in problems)


def _write(
    conn: Connection, rows_by: dict[str, list[_Row]], now: datetime, result: ImportResult
) -> None:
    w = _Writer(conn, now, result)

    def given(row: _Row, *names: str, rename: dict[str, str] | None = None) -> dict[str, Any]:
        out = {}
        for name in names:
            if name in row.values:
                out[(rename or {}).get(name, name)] = row.values[name]
        return out

    member_ids = _single(
        w.upsert(
            "members",
            Member.__table__,
            _key_map(conn, Member.__table__, "member_number"),
            [
                (
                    (r.values["member_number"],),
                    given(r, "member_number", "first_name", "last_name", "is_senior"),
                )
                for r in rows_by["members"]
            ],
            {"is_senior": False},
        )
    )
    account_ids = _single(
        w.upsert(
            "accounts",
            Account.__table__,
            _key_map(conn, Account.__table__, "account_number"),
            [
                (
                    (r.values["account_number"],),
                    dict(
                        given(
                            r,
                            "account_number",
                            "status",
                            "service_street",
                            "service_town",
                            "service_zip",
                            "county",
                            "feeder",
                            "paperless",
                            "levelized_billing",
                        ),
                        member_id=member_ids[r.values["member_number"]],
                    ),
                )
                for r in rows_by["accounts"]
            ],
            {
                "status": "active",
                "county": None,
                "feeder": None,
                "paperless": False,
                "levelized_billing": False,
            },
        )
    )
    w.upsert(
        "contacts",
        Contact.__table__,
        _key_map(conn, Contact.__table__, "member_id", "kind", "value"),
        [
            (
                (member_ids[r.values["member_number"]], r.values["kind"], r.values["value"]),
                dict(
                    given(r, "kind", "value", "is_primary", "is_verified"),
                    member_id=member_ids[r.values["member_number"]],
                ),
            )
            for r in rows_by["contacts"]
        ],
        {"is_primary": False, "is_verified": False},
    )
    token_ids = _single(
        w.upsert(
            "payment_methods",
            PaymentMethod.__table__,
            _key_map(conn, PaymentMethod.__table__, "token"),
            [
                (
                    (r.values["token"],),
                    dict(
                        given(
                            r,
                            "token",
                            "kind",
                            "brand",
                            "last4",
                            "exp_month",
                            "exp_year",
                            "holder_name",
                            "is_active",
                        ),
                        member_id=member_ids[r.values["member_number"]],
                    ),
                )
                for r in rows_by["payment_methods"]
            ],
            {
                "brand": None,
                "exp_month": None,
                "exp_year": None,
                "holder_name": None,
                "is_active": True,
            },
        )
    )
    w.upsert(
        "bills",
        Bill.__table__,
        _key_map(conn, Bill.__table__, "account_id", "billing_date"),
        [
            (
                (account_ids[r.values["account_number"]], r.values["billing_date"]),
                dict(
                    given(
                        r,
                        "billing_date",
                        "period_start",
                        "period_end",
                        "due_date",
                        "amount",
                        "kwh",
                        "late_fee",
                        "paid",
                        rename={"amount": "amount_cents", "late_fee": "late_fee_cents"},
                    ),
                    account_id=account_ids[r.values["account_number"]],
                ),
            )
            for r in rows_by["bills"]
        ],
        {"late_fee_cents": 0, "paid": False},
    )
    w.upsert(
        "payments",
        Payment.__table__,
        _key_map(conn, Payment.__table__, "idempotency_key"),
        [
            (
                (payment_key(r.values),),
                dict(
                    given(
                        r,
                        "amount",
                        "received_at",
                        "status",
                        "method_label",
                        "confirmation_number",
                        "channel",
                        rename={"amount": "amount_cents"},
                    ),
                    account_id=account_ids[r.values["account_number"]],
                    idempotency_key=payment_key(r.values),
                    **(
                        {"payment_method_id": token_ids[r.values["payment_method_token"]]}
                        if r.values.get("payment_method_token")
                        else {}
                    ),
                ),
            )
            for r in rows_by["payments"]
        ],
        {
            "status": "succeeded",
            "channel": "import",
            "confirmation_number": None,
            "payment_method_id": None,
            "processor_reference": None,
            "failure_reason": None,
        },
    )
    w.upsert(
        "usage",
        UsageReading.__table__,
        _key_map(conn, UsageReading.__table__, "account_id", "day"),
        [
            (
                (account_ids[r.values["account_number"]], r.values["day"]),
                dict(
                    given(r, "day", "kwh", "cost", rename={"cost": "cost_cents"}),
                    account_id=account_ids[r.values["account_number"]],
                ),
            )
            for r in rows_by["usage"]
        ],
        {},
    )
    outage_ids = _single(
        w.upsert(
            "outages",
            Outage.__table__,
            _key_map(conn, Outage.__table__, "reference"),
            [
                (
                    (r.values["reference"],),
                    given(
                        r,
                        "reference",
                        "status",
                        "cause",
                        "crew_status",
                        "customers_affected",
                        "started_at",
                        "estimated_restoration_at",
                        "restored_at",
                    ),
                )
                for r in rows_by["outages"]
            ],
            {
                "status": "active",
                "cause": None,
                "crew_status": None,
                "customers_affected": 0,
                "estimated_restoration_at": None,
                "restored_at": None,
                "source": "billing-system import",
            },
        )
    )
    _replace_outage_areas(conn, rows_by["outages"], outage_ids)
    conn.execute(
        AuditEntry.__table__.insert().values(
            at=now,
            actor="import",
            action="import_files",
            details={"files": result.files, "counts": result.counts},
        )
    )
    sync_id_sequences(
        conn,
        [
            t.name
            for t in (
                Member.__table__,
                Account.__table__,
                Contact.__table__,
                PaymentMethod.__table__,
                Bill.__table__,
                Payment.__table__,
                UsageReading.__table__,
                Outage.__table__,
                OutageArea.__table__,
            )
        ],
    )


def _replace_outage_areas(conn: Connection, rows: list[_Row], outage_ids: dict[str, int]) -> None:
    """An imported outage's towns/ZIPs/feeders replace the areas stored for it."""
    areas = OutageArea.__table__
    new_rows = []
    for r in rows:
        v = r.values
        outage_id = outage_ids[v["reference"]]
        conn.execute(delete(areas).where(areas.c.outage_id == outage_id))
        new_rows += [
            {"outage_id": outage_id, "town": t, "zip": None, "feeder": None}
            for t in v.get("towns", [])
        ]
        new_rows += [
            {"outage_id": outage_id, "town": None, "zip": z, "feeder": None}
            for z in v.get("zips", [])
        ]
        new_rows += [
            {"outage_id": outage_id, "town": None, "zip": None, "feeder": f}
            for f in v.get("feeders", [])
        ]
    if new_rows:
        conn.execute(areas.insert(), new_rows)


def _read(paths: Iterable[Path], errors: list[ImportError_]) -> list[_Row]:
    rows: list[_Row] = []
    for path in paths:
        if not path.is_file():
            errors.append(ImportError_(str(path), None, "file not found"))
        elif path.suffix.lower() == ".json":
            rows += _read_json(path, errors)
        elif path.suffix.lower() == ".csv":
            rows += _read_csv(path, errors)
        else:
            errors.append(
                ImportError_(path.name, None, "only .json and .csv files can be imported")
            )
    return rows


def import_files(
    database_url: str, paths: list[Path], *, now: datetime | None = None
) -> ImportResult:
    """Validate every row of `paths`, then write all of them in one transaction, or nothing.

    Returns an `ImportResult`; when `ok` is False nothing was written and `errors` lists every
    bad row (file, line, reason). Creates the schema first if the database has none.
    """
    now = now or datetime.now(UTC)
    result = ImportResult(ok=False, files=[str(p) for p in paths])
    errors = result.errors
    rows = _read(paths, errors)
    for row in rows:
        errors.extend(ImportError_(row.file, row.line, p) for p in _validate(row))
    if errors:
        return result

    rows_by: dict[str, list[_Row]] = {e: [] for e in ENTITIES}
    for row in rows:
        rows_by[row.entity].append(row)
    ensure_schema(database_url)
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            with conn.begin() as transaction:
                _resolve(rows_by, conn, errors)
                if errors:
                    transaction.rollback()
                    return result
                try:
                    _write(conn, rows_by, now, result)
                except SQLAlchemyError as exc:
                    transaction.rollback()
                    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
                    errors.append(
                        ImportError_(
                            "(database)", None, f"the database refused the import: {reason}"
                        )
                    )
                    result.counts, result.created, result.updated = {}, {}, {}
                    return result
    finally:
        engine.dispose()
    result.ok = True
    return result
