"""History of bills and payments: which bill the member means, the signed PDF link and a
tiny PDF writer for the copy of a bill the gateway serves.

Why our own PDF writer: a copy of a bill is one page of plain text lines, which the PDF format
describes in a few hundred bytes (PDF 1.4, the standard Helvetica font, one content stream, an
exact cross-reference table). No dependency, and the tests parse the structure back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.core.money import format_cents
from bot.services.members import AccountRecord, BillRecord
from bot.services.signed_links import BILL_PDF_SALT, LinkRefused, sign, unsign

# ---------------------------------------------------------------- which bill


_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_MONTH_RE = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?(?:\s*,?\s*(20\d\d))?",
    re.IGNORECASE,
)
# "may" is also a verb ("may I get my bill"): only a month when it reads like one.
_MAY_AS_MONTH = re.compile(
    r"\b(?:in|for|from|of|the|last|this)\s+may\b|\bmay\s*,?\s*(?:20\d\d|bill|statement)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MonthName:
    """A month the member named; `year` only when they said it."""

    month: int
    year: int | None = None

    def label(self) -> str:
        name = date(2000, self.month, 1).strftime("%B")
        return f"{name} {self.year}" if self.year else name


def named_month(text: str | None) -> MonthName | None:
    """The first month named in `text` ("my october bill", "Sept 2026"), or None."""
    if not text:
        return None
    for match in _MONTH_RE.finditer(text[:500]):
        word = match.group(1).lower()
        if word == "may" and not _MAY_AS_MONTH.search(text):
            continue
        year = int(match.group(2)) if match.group(2) else None
        return MonthName(_MONTHS[word], year)
    return None


def pick_bill(
    bills_newest_first: Sequence[BillRecord], month: MonthName | None
) -> BillRecord | None:
    """The newest bill issued in the named month (billing date), or the newest bill of all."""
    if month is None:
        return bills_newest_first[0] if bills_newest_first else None
    for bill in bills_newest_first:
        if bill.billing_date.month == month.month and (
            month.year is None or bill.billing_date.year == month.year
        ):
            return bill
    return None


def month_label(day: date) -> str:
    """`Nov 2026`: how a bill is named in lists (its billing month)."""
    return f"{day:%b} {day.year}"


def long_date(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


# ---------------------------------------------------------------- the signed link


@dataclass(frozen=True)
class BillLink:
    account_id: int
    bill_id: int


def bill_token(secret_key: str, account_id: int, bill_id: int, *, now: datetime) -> str:
    return sign(secret_key, BILL_PDF_SALT, {"a": int(account_id), "b": int(bill_id)}, now=now)


def bill_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/bill/{token}.pdf"


def read_bill_token(secret_key: str, token: object, *, now: datetime) -> BillLink:
    payload = unsign(secret_key, BILL_PDF_SALT, token, now=now)
    account_id, bill_id = payload.get("a"), payload.get("b")
    if not isinstance(account_id, int) or not isinstance(bill_id, int):
        raise LinkRefused("invalid")
    return BillLink(account_id, bill_id)


# ---------------------------------------------------------------- the copy of a bill


def bill_copy_lines(
    bill: BillRecord, account: AccountRecord, *, coop_name: str, phone: str, made_on: date
) -> list[str]:
    """The text of the PDF copy, first line the heading. Shows the account's last four only."""
    days = (bill.period_end - bill.period_start).days + 1
    name = f"{account.member_first_name} {account.member_last_name}".strip()
    lines = [
        coop_name,
        f"Copy of your {month_label(bill.billing_date)} bill",
        "",
        f"Account: ending {account.last4}",
    ]
    if name:
        lines.append(f"Member: {name}")
    lines += [
        f"Service address: {account.service_street}, {account.service_town} {account.service_zip}",
        f"Service period: {long_date(bill.period_start)} to {long_date(bill.period_end)} ({days} "
        "days)",
        f"Billing date: {long_date(bill.billing_date)}",
        f"Energy used: {bill.kwh} kWh",
        f"Amount of this bill: {format_cents(bill.amount_cents)}",
    ]
    if bill.late_fee_cents:
        lines.append(f"Late fee: {format_cents(bill.late_fee_cents)}")
    lines += [
        f"Due date: {long_date(bill.due_date)}",
        f"Status on {long_date(made_on)}: {'paid' if bill.paid else 'not paid yet'}",
        "",
        f"Questions? Call member services at {phone}.",
    ]
    return lines


def _pdf_text(value: str) -> str:
    """A PDF literal string body: Latin-1 only, with backslash and parentheses escaped."""
    safe = value.encode("latin-1", "replace").decode("latin-1")
    return (
        safe.replace("\\", "\\\\")
        .replace("(", "\\(")
        .replace(")", "\\)")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def simple_pdf(lines: Sequence[str], *, title: str = "") -> bytes:
    """A one-page US Letter PDF: the first line as a heading, the rest as 11-point text lines.

    Lines that do not fit the page (more than about 40) are dropped; a bill copy has 16.
    """
    body = [
        "BT",
        "/F1 16 Tf",
        "72 720 Td",
        f"({_pdf_text(lines[0] if lines else '')}) Tj",
        "ET",
        "BT",
        "/F1 11 Tf",
        "16 TL",
        "72 692 Td",
    ]
    for index, line in enumerate(lines[1:41]):
        if index:
            body.append("T*")
        body.append(f"({_pdf_text(line)}) Tj")
    body.append("ET")
    stream = "\n".join(body).encode("latin-1")

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 "
            b"R >> >> "
            b"/Contents 5 0 R >>"
        ),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        f"<< /Title ({_pdf_text(title)}) /Producer (JEC assistant) >>".encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)
