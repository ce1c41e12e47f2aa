"""Service requests (start, stop, transfer service): dates, references and what happens next.

Rules (documented here because members and staff both rely on them):
- The requested date is a business day in the co-op's time zone: Monday-Friday, not a co-op
  holiday from the profile, not before today, and at most 60 days ahead (crews and meter reads are
  scheduled two months out; further ahead the office asks the member to call back closer to the
  date). Today itself is allowed; staff decide whether same-day work is possible.
- Dates are read with python-dateutil relative to today: "dec 5", "12/15", "tomorrow",
  "next monday", "friday" (the next one, never today), "the 1st" (this month's if still ahead,
  else next month's). "The 31st" in a month without a 31st is refused, never rolled over.
- A reference is "S-" + 5 digits, unique among service requests (retried on a clash).
- Details: `address` (new service address) for start and transfer, `contact_phone` (E.164) for
  start; stop and transfer apply to the verified account.
Staff see the rows in the agent console (service_requests table). No Rasa types here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.dates import local_date, ordinal, weekday_date
from bot.services import audit, events
from bot.store.db import session_scope, unused_reference
from bot.store.models import ServiceRequest

KINDS = ("start", "stop", "transfer")
MAX_DAYS_AHEAD = 60

_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
_ORDINAL = re.compile(r"^(?:the\s+(\d{1,2})(?:st|nd|rd|th)?|(\d{1,2})(?:st|nd|rd|th))$")
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}


@dataclass(frozen=True)
class DateResult:
    """A parsed and checked date, or an error sentence that says what is wanted."""

    day: date | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.day is not None


def parse_date(text: str | None, today: date) -> DateResult:
    """Read a date a member typed, relative to `today`. Only reading; see `check_date` for rules."""
    raw = re.sub(r"[^\w/\- ]", " ", (text or "").lower()).strip()
    raw = re.sub(r"\s+", " ", raw)
    if not raw or len(raw) > 60:
        return DateResult(error="Please send a date, like Dec 8 or next Monday.")
    words = raw.removeprefix("on ").strip()
    if words in ("today", "now"):
        return DateResult(today)
    if words == "tomorrow":
        return DateResult(today + timedelta(days=1))
    parts = words.split()
    if (
        parts
        and parts[-1] in _WEEKDAYS
        and len(parts) <= 2
        and (len(parts) == 1 or parts[0] in ("next", "this"))
    ):
        target = _WEEKDAYS[parts[-1]]
        ahead = (target - today.weekday()) % 7 or 7
        return DateResult(today + timedelta(days=ahead))
    match = _ORDINAL.match(words)
    day_number = (
        int(match.group(1) or match.group(2))
        if match
        else _ORDINAL_WORDS.get(words.removeprefix("the ").strip())
    )
    if day_number is not None:
        return _day_of_month(day_number, today)
    if re.fullmatch(r"\d+", words):
        return DateResult(error="Please send a date with the month, like Dec 8 or 12/8.")
    try:
        parsed = date_parser.parse(words, default=datetime(today.year, today.month, 1), fuzzy=False)
    except (ValueError, OverflowError):
        return DateResult(
            error="I couldn't read that date. Please send it like Dec 8 or next Monday."
        )
    day = parsed.date()
    # No year and already behind us: a date in the last ~6 months is a past date (refused by the
    # rules with "has already passed"); an earlier one means next year's ("jan 4" in November).
    if not re.search(r"\b\d{4}\b", words) and day < today - timedelta(days=183):
        try:
            day = day + relativedelta(years=1)
        except ValueError:  # Feb 29
            return DateResult(error="That date doesn't exist next year. Please pick another day.")
    return DateResult(day)


def _day_of_month(number: int, today: date) -> DateResult:
    """ "the 1st": this month's if today or later, else next month's; refuse a day the month
    lacks."""
    if not 1 <= number <= 31:
        return DateResult(error="Please send a date with the month, like Dec 8.")
    month_start = today.replace(day=1)
    if number < today.day:
        month_start = month_start + relativedelta(months=1)
    try:
        return DateResult(month_start.replace(day=number))
    except ValueError:
        last = (month_start + relativedelta(months=1) - timedelta(days=1)).day
        return DateResult(
            error=f"{month_start:%B} has no {ordinal(number)}. Please send a date with the month, "
            f"like {month_start:%b} {last}."
        )


def check_date(day: date, today: date, holidays: dict[date, str] | None = None) -> DateResult:
    """The business rules for a requested date (module docstring)."""
    holidays = holidays or {}
    if day < today:
        return DateResult(
            error=f"{weekday_date(day)} has already passed. Please pick a weekday from today on."
        )
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        return DateResult(
            error=f"I can only schedule up to {MAX_DAYS_AHEAD} days ahead (until "
            f"{weekday_date(today + timedelta(days=MAX_DAYS_AHEAD))}). Please pick an "
            "earlier weekday."
        )
    if day.weekday() >= 5:
        return DateResult(
            error=f"{weekday_date(day)} is a {day:%A}, and crews work weekdays. Please pick a "
            "weekday."
        )
    if day in holidays:
        return DateResult(
            error=f"{weekday_date(day)} is {holidays[day]}, when we're closed. Please pick another "
            "weekday."
        )
    return DateResult(day)


def read_requested_date(
    text: str | None, now: datetime, holidays: dict[date, str] | None = None, *, tz: tzinfo
) -> DateResult:
    today = local_date(now, tz)
    parsed = parse_date(text, today)
    return check_date(parsed.day, today, holidays) if parsed.day else parsed


def holidays_of(profile: Any) -> dict[date, str]:
    return {h.date: h.name for h in getattr(profile, "holidays", ())}


def clean_address(text: str | None) -> tuple[str | None, str | None]:
    """(address, error): a street address with a number and a name, 5-120 characters."""
    raw = re.sub(r"\s+", " ", (text or "").strip())
    if len(raw) > 120:
        return (
            None,
            "That's too long for an address. Please send the street and town, like 412 Mill St, "
            "Wrens.",
        )
    if (
        len(raw) < 5
        or not re.search(r"\d", raw)
        or not re.search(r"[A-Za-z]{2,}", raw)
        or re.search(r"[<>;{}`]|--", raw)
    ):
        return (
            None,
            "Please send the street address with the house number and town, like 412 Mill St, "
            "Wrens.",
        )
    return raw, None


def next_steps(kind: str, profile: Any) -> str:
    """What happens next, from the profile's FAQ wording."""
    faq = getattr(profile, "faq", {}) or {}
    if kind == "start":
        return faq.get("start_service") or "A membership fee and a deposit may apply."
    if kind == "stop":
        return "We'll read the meter on your last day and mail your final bill."
    if kind == "transfer":
        return (
            "We'll read the meter at your old address and mail its final bill; a deposit may "
            "apply at the new one."
        )
    raise ValueError(f"unknown kind {kind!r}")


@dataclass(frozen=True)
class CreatedRequest:
    reference: str
    kind: str
    requested_date: date
    id: int


async def _new_reference(session: AsyncSession) -> str:
    reference = await unused_reference(session, ServiceRequest.reference, "S-", tries=20)
    if reference is None:
        raise RuntimeError("could not find a free service request reference")
    return reference


async def create_request(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    member_id: int,
    account_id: int | None,
    requested_date: date,
    details: dict[str, Any],
    channel: str,
    conversation_id: str | None,
    now: datetime,
    tz: tzinfo,
    holidays: dict[date, str] | None = None,
    verified_how: str | None = None,
) -> CreatedRequest:
    """Store an open request (checked again here: a stale date from a slot is refused)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    checked = check_date(requested_date, local_date(now, tz), holidays)
    if not checked.ok:
        raise ValueError(checked.error)
    if kind in ("start", "transfer") and not details.get("address"):
        raise ValueError(f"a {kind} request needs the new address")
    if kind in ("stop", "transfer") and account_id is None:
        raise ValueError(f"a {kind} request needs the account")
    async with session_scope(session_factory) as session:
        reference = await _new_reference(session)
        row = ServiceRequest(
            reference=reference,
            kind=kind,
            account_id=account_id,
            member_id=member_id,
            requested_date=requested_date,
            details=dict(details),
            status="open",
            channel=channel,
            conversation_id=conversation_id,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        masked = {
            k: (f"***-***-{str(v)[-4:]}" if k == "contact_phone" else v) for k, v in details.items()
        }
        await audit.record(
            session,
            actor=f"member:{member_id}",
            action=f"service_request.{kind}",
            account_id=account_id,
            conversation_id=conversation_id,
            channel=channel,
            verified_how=verified_how,
            details={"reference": reference, "date": requested_date.isoformat(), **masked},
            now=now,
        )
        await events.publish(
            session,
            "service_request.created",
            occurred_at=now,
            data={
                "reference": reference,
                "kind": kind,
                "requested_date": requested_date,
                "verified_how": verified_how,
                "details": dict(details),
            },
            account_id=account_id,
            member_id=member_id,
            channel=channel,
            conversation_id=conversation_id,
        )
        return CreatedRequest(reference, kind, requested_date, row.id)
