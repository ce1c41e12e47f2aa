"""The co-op profile: the co-op's published facts and policies, loaded from YAML and validated.

Why a typed, validated object rather than a dict: every fact the assistant tells a member (hours,
phones, fees, draft days) comes from this file, and a co-op's IT staff edit it by hand. A typo must
stop start-up with a message naming the field (`profiles/jec.yml: billing.late_fee_percent must be
a number, got 'five'`), not surface as a wrong answer to a member weeks later.

Attribute names mirror the YAML keys exactly, with two conversions:
- money (quoted strings like "25.00" in the YAML) becomes integer cents named `<key>_cents`
  (`billing.late_fee_threshold` -> `billing.late_fee_threshold_cents`); percentages are `Decimal`;
- times ("08:00") become `datetime.time`, dates `datetime.date`, the time zone a `ZoneInfo`,
  week days ("mon") the keys of a `WeekHours` mapping that accepts `0`..`6` or "mon".."sun".

`load_profile` does no caching: each process loads the profile once at start-up and passes the
object down (it is immutable).
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.config import ConfigError
from bot.core.gsm7 import is_gsm7, straighten
from bot.core.money import to_cents

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AMOUNT_RULES = frozenset({"full_balance", "fixed"})
PAYMENT_METHOD_KINDS = frozenset({"card", "checking", "savings"})
AUTHORIZATION_FIELDS = frozenset(
    {
        "start_date",
        "coop_name",
        "amount_phrase",
        "account_last4",
        "method_label",
        "draft_day_ordinal",
        "cancel_notice_days",
    }
)
BANK_HOLIDAY_RULES = frozenset({"next_business_day", "previous_business_day"})
# Notices (bot/services/notice_texts.py): the placeholders each wording may use. Every wording
# may also use {coop} (the co-op's short name), {account_last4} and {phone} (member services).
NOTICE_COMMON_FIELDS = frozenset({"coop", "account_last4", "phone"})
NOTICE_FIELDS: dict[str, frozenset[str]] = {
    "bill_ready": frozenset({"amount", "due_date"}),
    "payment_received": frozenset({"amount", "received_date"}),
    "past_due": frozenset(
        {"past_due_amount", "late_fee", "fee_note", "amount_due", "disconnect_note"}
    ),
    "draft_notice": frozenset({"amount", "draft_date", "method", "cancel_by"}),
    "draft_succeeded": frozenset({"amount", "draft_date", "method"}),
    "draft_failed": frozenset({"amount", "draft_date", "method"}),
}


class ProfileError(ConfigError):
    """The profile file is missing, unreadable or wrong; the message names the file and field.

    A `ConfigError` (and so a `ValueError`), so `jecbot` reports it like any other setting error.
    """


# ---------------------------------------------------------------------------------------------
# The profile's shape
# ---------------------------------------------------------------------------------------------


class Hours(NamedTuple):
    """Opening hours of one day: `open, close = hours`."""

    open: time
    close: time


class WeekHours(Mapping[int, Hours]):
    """Weekly hours: weekday (0=Monday, as `date.weekday()`, or "mon") -> `Hours`.

    Days missing from the YAML are closed and absent from the mapping.
    """

    __slots__ = ("_days",)

    def __init__(self, days: Mapping[int, Hours]) -> None:
        self._days = dict(sorted(days.items()))

    @staticmethod
    def _key(day: int | str) -> int:
        if isinstance(day, str):
            return WEEKDAYS.index(day.lower()[:3])
        return day

    def __getitem__(self, day: int | str) -> Hours:
        try:
            return self._days[self._key(day)]
        except ValueError:
            raise KeyError(day) from None

    def __contains__(self, day: object) -> bool:
        try:
            return (self._key(day) if isinstance(day, str) else day) in self._days
        except (ValueError, TypeError):
            return False

    def __iter__(self) -> Iterator[int]:
        return iter(self._days)

    def __len__(self) -> int:
        return len(self._days)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{WEEKDAYS[d]}: {h.open:%H:%M}-{h.close:%H:%M}" for d, h in self._days.items()
        )
        return f"WeekHours({inner})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeekHours) and self._days == other._days

    def __hash__(self) -> int:
        return hash(tuple(self._days.items()))


class MonthDay(NamedTuple):
    """A day of the year without a year ("11-15" -> month 11, day 15)."""

    month: int
    day: int


@dataclass(frozen=True)
class Coop:
    name: str
    short_name: str
    website: str
    timezone: ZoneInfo
    counties_served: int | None = None
    members_approx: int | None = None


@dataclass(frozen=True)
class Phones:
    member_services: str
    outage_24_7: str
    member_services_toll_free: str | None = None
    fax: str | None = None


@dataclass(frozen=True)
class LunchClosure:
    start: time
    end: time


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    town: str
    state: str
    zip: str
    street: str | None = None
    lunch_closure: LunchClosure | None = None
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holiday:
    date: date
    name: str


@dataclass(frozen=True)
class ReconnectHours:
    days: tuple[int, ...]  # weekday numbers, 0=Monday
    start: time
    end: time


@dataclass(frozen=True)
class Billing:
    due_days_after_billing: int
    payment_cutoff_local_time: time
    late_fee_threshold_cents: int
    late_fee_percent: Decimal
    late_fee_minimum_cents: int
    disconnect_rule: str
    reconnect_fee_business_hours_cents: int
    reconnect_fee_other_times_cents: int
    reconnect_business_hours: ReconnectHours
    senior_billing_day: int | None
    online_payment_posting: str


@dataclass(frozen=True)
class Payments:
    minimum_cents: int
    maximum_cents: int
    warn_above_balance: bool
    methods_accepted: tuple[str, ...]
    ways_to_pay: tuple[str, ...]


@dataclass(frozen=True)
class Drafts:
    allowed_days: tuple[int, ...]
    amount_rules: tuple[str, ...]
    member_cancel_notice_days: int
    amount_notice_days: int
    date_change_notice_days: int
    authorization_retention_years: int
    authorization_template: str
    # A draft date that is not a bank business day (weekend, Federal Reserve holiday) settles on
    # the next business day, or the previous one (bot/services/calendars.py).
    bank_holiday_rule: str = "next_business_day"


@dataclass(frozen=True)
class ExtremeWeather:
    winter_window: tuple[MonthDay, MonthDay]  # (start, end); may wrap over New Year
    winter_forecast_low_below_f: int
    heat_advisory_suspends: bool
    summary: str


@dataclass(frozen=True)
class Verification:
    max_failures: int
    failure_window_minutes: int
    lockout_minutes: int
    session_idle_minutes: int
    otp_length: int
    otp_ttl_minutes: int
    otp_max_attempts: int


@dataclass(frozen=True)
class Outages:
    safe_distance_feet: int
    report_prefix: str
    hazard_words: tuple[str, ...]


@dataclass(frozen=True)
class Retention:
    """How long the assistant keeps what it records, in days (`jecbot retention` deletes what is
    older). Draft authorizations follow `drafts.authorization_retention_years` after the
    enrollment is cancelled (NACHA: two years after revocation); payments are never deleted
    here, they are the co-op's financial records."""

    conversation_messages_days: int = 365  # chat and SMS messages, Rasa tracker events
    verification_attempts_days: int = 90
    outbox_bodies_days: int = 30  # bodies blanked; who, when and the status stay
    audit_entries_days: int = 7 * 365


@dataclass(frozen=True)
class Notices:
    """Bill, payment and draft notices (bot/worker/notices.py, docs/operations.md "Notices").

    Texts that are not urgent (all of these) wait while the local time is within quiet hours
    (`quiet_start` to `quiet_end`, may wrap over midnight); emails go any time. A bill or payment
    older than `lookback_days` gets no notice (so a first start-up does not text the history).
    `wording` overrides the default wording of a notice kind (keys of `NOTICE_FIELDS`)."""

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    lookback_days: int = 3
    holiday_warning_days: int = 60
    wording: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CannedReply:
    """A ready-made agent reply (`canned_replies` in the profile), filled from the account when
    the agent picks it: `{first_name}`, `{amount_due}`, `{due_date}`, `{agent_name}`,
    `{member_services_phone}`."""

    id: str
    title: str
    text: str

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None
        )


CANNED_FIELDS = frozenset(
    {"first_name", "amount_due", "due_date", "agent_name", "member_services_phone"}
)


@dataclass(frozen=True)
class Busy:
    """Busy nights (docs/queue.md): a member whose message has waited longer than
    `courtesy_after_seconds` for the assistant gets one courtesy message per busy period."""

    courtesy_after_seconds: int = 15


RETENTION_KEYS = (
    "conversation_messages_days",
    "verification_attempts_days",
    "outbox_bodies_days",
    "audit_entries_days",
)


@dataclass(frozen=True)
class CoopProfile:
    """Everything the assistant knows about the co-op. Immutable; load once, pass down."""

    source: str
    coop: Coop
    phones: Phones
    office_hours: WeekHours
    agent_hours: WeekHours
    offices: tuple[Office, ...]
    holidays: tuple[Holiday, ...]
    billing: Billing
    payments: Payments
    drafts: Drafts
    extreme_weather: ExtremeWeather
    verification: Verification
    outages: Outages
    faq: Mapping[str, str]
    retention: Retention = Retention()
    notices: Notices = Notices()
    canned_replies: tuple[CannedReply, ...] = ()
    busy: Busy = Busy()

    @property
    def timezone(self) -> ZoneInfo:
        return self.coop.timezone

    def office(self, office_id: str) -> Office:
        """The office with this id; `KeyError` naming the known ids otherwise."""
        for office in self.offices:
            if office.id == office_id:
                return office
        raise KeyError(f"no office {office_id!r}; known: {', '.join(o.id for o in self.offices)}")

    def holiday_on(self, day: date) -> Holiday | None:
        for holiday in self.holidays:
            if holiday.date == day:
                return holiday
        return None


# ---------------------------------------------------------------------------------------------
# Validation helpers: each names the field path in its message
# ---------------------------------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")


class _Reader:
    """Reads one profile document; every failure names the source file and the field path.

    Required and optional reads are separate methods (`text` / `optional_text`, ...): a required
    read returns its value or fails with "is missing", an optional one returns None (or `()`).
    A key set to nothing (`fax:`) counts as missing.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> NoReturn:
        raise ProfileError(f"{self.source}: {field} {problem}")

    # -- structure ----------------------------------------------------------------------------
    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field, f"must be a group of settings (key: value lines), got {value!r}")
        return value

    def section(self, parent: dict[str, Any], key: str, field: str) -> dict[str, Any]:
        return self.mapping(self.get(parent, key, field), field)

    def optional_section(
        self, parent: dict[str, Any], key: str, field: str
    ) -> dict[str, Any] | None:
        value = parent.get(key)
        return None if value is None else self.mapping(value, field)

    def only_keys(self, m: dict[str, Any], field: str, known: set[str] | frozenset[str]) -> None:
        """Unknown keys are refused: a misspelt key would otherwise silently fall back to
        nothing."""
        for key in m:
            if key not in known:
                where = f"{field}.{key}" if field else str(key)
                self.fail(where, f"is not a known setting (known here: {', '.join(sorted(known))})")

    def get(self, m: dict[str, Any], key: str, field: str) -> Any:
        """The raw value of a required key (anything but None)."""
        value = m.get(key)
        if value is None:
            self.fail(field, "is missing")
        return value

    # -- scalars --------------------------------------------------------------------------------
    def text(self, m: dict[str, Any], key: str, field: str) -> str:
        return self.text_value(self.get(m, key, field), field)

    def optional_text(self, m: dict[str, Any], key: str, field: str) -> str | None:
        value = m.get(key)
        return None if value is None else self.text_value(value, field)

    def text_value(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"must be text, got {value!r}")
        return value.strip()

    def integer(
        self,
        m: dict[str, Any],
        key: str,
        field: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        return self.int_value(self.get(m, key, field), field, minimum=minimum, maximum=maximum)

    def optional_integer(
        self,
        m: dict[str, Any],
        key: str,
        field: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = m.get(key)
        if value is None:
            return None
        return self.int_value(value, field, minimum=minimum, maximum=maximum)

    def int_value(
        self, value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            self.fail(field, f"must be at least {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            self.fail(field, f"must be at most {maximum}, got {value!r}")
        return value

    def boolean(self, m: dict[str, Any], key: str, field: str) -> bool:
        value = self.get(m, key, field)
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {value!r}")
        return value

    def money_cents(self, m: dict[str, Any], key: str, field: str) -> int:
        """Money is a quoted string ("25.00"): YAML numbers are binary floats, and 25.10 would not
        be 25.10. Whole cents only, never negative."""
        value = self.get(m, key, field)
        if isinstance(value, (bool, int, float)):
            self.fail(field, f'must be an amount in quotes, like "25.00", got {value!r} (a number)')
        if not isinstance(value, str):
            self.fail(field, f'must be an amount in quotes, like "25.00", got {value!r}')
        cleaned = value.strip().removeprefix("$").replace(",", "")
        try:
            cents = to_cents(cleaned)
        except ValueError as exc:
            if "fractions of a cent" in str(exc):
                self.fail(field, f"must be whole cents, got {value!r}")
            self.fail(field, f'must be an amount like "25.00", got {value!r}')
        if cents < 0:
            self.fail(field, f"must not be negative, got {value!r}")
        return cents

    def number(self, m: dict[str, Any], key: str, field: str) -> Decimal:
        """A percentage or similar: a whole number or a quoted decimal ("5", "2.5"); no floats."""
        value = self.get(m, key, field)
        if isinstance(value, (bool, float)):
            self.fail(field, f'must be a number in quotes, like "5", got {value!r}')
        if isinstance(value, int):
            return Decimal(value)
        if not isinstance(value, str):
            self.fail(field, f"must be a number, got {value!r}")
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            self.fail(field, f"must be a number, got {value!r}")
        if not number.is_finite() or number < 0:
            self.fail(field, f"must be a number of zero or more, got {value!r}")
        return number

    def clock(self, value: Any, field: str) -> time:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 17:00 as the number 1020 (base 60).
            self.fail(field, f'must be a time in quotes, like "17:00", got {value!r}')
        if not isinstance(value, str):
            self.fail(field, f'must be a time like "17:00", got {value!r}')
        match = _TIME_RE.match(value.strip())
        if not match:
            self.fail(field, f'must be a time like "17:00" (24-hour clock), got {value!r}')
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            self.fail(field, f'must be a time like "17:00" (24-hour clock), got {value!r}')
        return time(hour, minute)

    def day(self, value: Any, field: str) -> date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.fail(field, f"must be a date like 2026-11-26, got {value!r}")

    def text_list(self, m: dict[str, Any], key: str, field: str) -> tuple[str, ...]:
        return self.text_items(self.get(m, key, field), field)

    def optional_text_list(self, m: dict[str, Any], key: str, field: str) -> tuple[str, ...]:
        value = m.get(key)
        return () if value is None else self.text_items(value, field)

    def text_items(self, value: Any, field: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(field, f"must be a list, got {value!r}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{field}[{i}]", f"must be text, got {item!r}")
            out.append(item.strip())
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def _coop(r: _Reader, raw: dict[str, Any]) -> Coop:
    m = r.section(raw, "coop", "coop")
    r.only_keys(
        m,
        "coop",
        {"name", "short_name", "website", "timezone", "counties_served", "members_approx"},
    )
    tz_name = r.text(m, "timezone", "coop.timezone")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("coop.timezone", f"must be a time zone like America/New_York, got {tz_name!r}")
    return Coop(
        name=r.text(m, "name", "coop.name"),
        short_name=r.text(m, "short_name", "coop.short_name"),
        website=r.text(m, "website", "coop.website"),
        timezone=tz,
        counties_served=r.optional_integer(m, "counties_served", "coop.counties_served", minimum=1),
        members_approx=r.optional_integer(m, "members_approx", "coop.members_approx", minimum=0),
    )


def _phones(r: _Reader, raw: dict[str, Any]) -> Phones:
    m = r.section(raw, "phones", "phones")
    r.only_keys(m, "phones", {"member_services", "member_services_toll_free", "outage_24_7", "fax"})
    return Phones(
        member_services=r.text(m, "member_services", "phones.member_services"),
        outage_24_7=r.text(m, "outage_24_7", "phones.outage_24_7"),
        member_services_toll_free=r.optional_text(
            m, "member_services_toll_free", "phones.member_services_toll_free"
        ),
        fax=r.optional_text(m, "fax", "phones.fax"),
    )


def _week(r: _Reader, m: dict[str, Any], field: str) -> WeekHours:
    r.only_keys(m, field, set(WEEKDAYS))
    days: dict[int, Hours] = {}
    for key, value in m.items():
        where = f"{field}.{key}"
        if value is None:  # "sat:" with nothing = closed
            continue
        hours = r.mapping(value, where)
        r.only_keys(hours, where, {"open", "close"})
        opens = r.clock(r.get(hours, "open", f"{where}.open"), f"{where}.open")
        closes = r.clock(r.get(hours, "close", f"{where}.close"), f"{where}.close")
        if closes <= opens:
            r.fail(f"{where}.close", f"({closes:%H:%M}) must be after {where}.open ({opens:%H:%M})")
        days[WEEKDAYS.index(key)] = Hours(opens, closes)
    if not days:
        r.fail(field, "must list at least one open day")
    return WeekHours(days)


def _offices(r: _Reader, raw: dict[str, Any], week: WeekHours) -> tuple[Office, ...]:
    value = r.get(raw, "offices", "offices")
    if not isinstance(value, list) or not value:
        r.fail("offices", f"must be a list of offices, got {value!r}")
    earliest = min(h.open for h in week.values())
    latest = max(h.close for h in week.values())
    offices: list[Office] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = f"offices[{i}]"
        m = r.mapping(item, where)
        r.only_keys(
            m, where, {"id", "name", "street", "town", "state", "zip", "lunch_closure", "services"}
        )
        office_id = r.text(m, "id", f"{where}.id")
        where = f"offices[{i}] ({office_id})"
        if office_id in seen:
            r.fail(f"{where}.id", f"repeats an earlier office id {office_id!r}")
        seen.add(office_id)
        zip_code = r.get(m, "zip", f"{where}.zip")
        if not isinstance(zip_code, str) or not re.fullmatch(r"\d{5}(-\d{4})?", zip_code):
            r.fail(f"{where}.zip", f'must be a ZIP code in quotes, like "30833", got {zip_code!r}')
        lunch = None
        lunch_raw = r.optional_section(m, "lunch_closure", f"{where}.lunch_closure")
        if lunch_raw is not None:
            lw = f"{where}.lunch_closure"
            r.only_keys(lunch_raw, lw, {"start", "end"})
            start = r.clock(r.get(lunch_raw, "start", f"{lw}.start"), f"{lw}.start")
            end = r.clock(r.get(lunch_raw, "end", f"{lw}.end"), f"{lw}.end")
            if end <= start:
                r.fail(f"{lw}.end", f"({end:%H:%M}) must be after {lw}.start ({start:%H:%M})")
            if start < earliest or end > latest:
                r.fail(
                    lw,
                    f"({start:%H:%M}-{end:%H:%M}) must fall inside office hours "
                    f"({earliest:%H:%M}-{latest:%H:%M})",
                )
            lunch = LunchClosure(start, end)
        offices.append(
            Office(
                id=office_id,
                name=r.text(m, "name", f"{where}.name"),
                street=r.optional_text(m, "street", f"{where}.street"),
                town=r.text(m, "town", f"{where}.town"),
                state=r.text(m, "state", f"{where}.state"),
                zip=zip_code,
                lunch_closure=lunch,
                services=r.optional_text_list(m, "services", f"{where}.services"),
            )
        )
    return tuple(offices)


def _holidays(r: _Reader, raw: dict[str, Any]) -> tuple[Holiday, ...]:
    value = raw.get("holidays") or []
    if not isinstance(value, list):
        r.fail("holidays", f"must be a list of dates and names, got {value!r}")
    seen: dict[date, int] = {}
    out: list[Holiday] = []
    for i, item in enumerate(value):
        where = f"holidays[{i}]"
        m = r.mapping(item, where)
        r.only_keys(m, where, {"date", "name"})
        day = r.day(r.get(m, "date", f"{where}.date"), f"{where}.date")
        if day in seen:
            r.fail(
                f"{where}.date", f"{day.isoformat()} is listed twice (also holidays[{seen[day]}])"
            )
        seen[day] = i
        out.append(Holiday(day, r.text(m, "name", f"{where}.name")))
    return tuple(sorted(out, key=lambda h: h.date))


def _billing(r: _Reader, raw: dict[str, Any]) -> Billing:
    f = "billing"
    m = r.section(raw, f, f)
    r.only_keys(
        m,
        f,
        {
            "due_days_after_billing",
            "payment_cutoff_local_time",
            "late_fee_threshold",
            "late_fee_percent",
            "late_fee_minimum",
            "disconnect_rule",
            "reconnect_fee_business_hours",
            "reconnect_fee_other_times",
            "reconnect_business_hours",
            "senior_billing_day",
            "online_payment_posting",
        },
    )
    rh = r.section(m, "reconnect_business_hours", f"{f}.reconnect_business_hours")
    rw = f"{f}.reconnect_business_hours"
    r.only_keys(rh, rw, {"days", "start", "end"})
    days_raw = r.get(rh, "days", f"{rw}.days")
    if not isinstance(days_raw, list) or not days_raw:
        r.fail(f"{rw}.days", f"must be a list of days like [mon, tue], got {days_raw!r}")
    days = []
    for i, d in enumerate(days_raw):
        if not isinstance(d, str) or d.lower() not in WEEKDAYS:
            r.fail(f"{rw}.days[{i}]", f"must be one of {', '.join(WEEKDAYS)}, got {d!r}")
        days.append(WEEKDAYS.index(d.lower()))
    start = r.clock(r.get(rh, "start", f"{rw}.start"), f"{rw}.start")
    end = r.clock(r.get(rh, "end", f"{rw}.end"), f"{rw}.end")
    if end <= start:
        r.fail(f"{rw}.end", f"({end:%H:%M}) must be after {rw}.start ({start:%H:%M})")
    percent = r.number(m, "late_fee_percent", f"{f}.late_fee_percent")
    if percent > 100:
        r.fail(f"{f}.late_fee_percent", f"must be at most 100, got {m['late_fee_percent']!r}")
    return Billing(
        due_days_after_billing=r.integer(
            m, "due_days_after_billing", f"{f}.due_days_after_billing", minimum=1, maximum=90
        ),
        payment_cutoff_local_time=r.clock(
            r.get(m, "payment_cutoff_local_time", f"{f}.payment_cutoff_local_time"),
            f"{f}.payment_cutoff_local_time",
        ),
        late_fee_threshold_cents=r.money_cents(m, "late_fee_threshold", f"{f}.late_fee_threshold"),
        late_fee_percent=percent,
        late_fee_minimum_cents=r.money_cents(m, "late_fee_minimum", f"{f}.late_fee_minimum"),
        disconnect_rule=r.text(m, "disconnect_rule", f"{f}.disconnect_rule"),
        reconnect_fee_business_hours_cents=r.money_cents(
            m, "reconnect_fee_business_hours", f"{f}.reconnect_fee_business_hours"
        ),
        reconnect_fee_other_times_cents=r.money_cents(
            m, "reconnect_fee_other_times", f"{f}.reconnect_fee_other_times"
        ),
        reconnect_business_hours=ReconnectHours(tuple(sorted(set(days))), start, end),
        senior_billing_day=r.optional_integer(
            m, "senior_billing_day", f"{f}.senior_billing_day", minimum=1, maximum=28
        ),
        online_payment_posting=r.text(m, "online_payment_posting", f"{f}.online_payment_posting"),
    )


def _payments(r: _Reader, raw: dict[str, Any]) -> Payments:
    f = "payments"
    m = r.section(raw, f, f)
    r.only_keys(
        m, f, {"minimum", "maximum", "warn_above_balance", "methods_accepted", "ways_to_pay"}
    )
    minimum = r.money_cents(m, "minimum", f"{f}.minimum")
    maximum = r.money_cents(m, "maximum", f"{f}.maximum")
    if minimum <= 0:
        r.fail(f"{f}.minimum", f"must be more than zero, got {m['minimum']!r}")
    if maximum < minimum:
        r.fail(f"{f}.maximum", f"({m['maximum']}) must not be below {f}.minimum ({m['minimum']})")
    methods = r.text_list(m, "methods_accepted", f"{f}.methods_accepted")
    for i, kind in enumerate(methods):
        if kind not in PAYMENT_METHOD_KINDS:
            r.fail(
                f"{f}.methods_accepted[{i}]",
                f"must be one of card, checking, savings, got {kind!r}",
            )
    return Payments(
        minimum_cents=minimum,
        maximum_cents=maximum,
        warn_above_balance=r.boolean(m, "warn_above_balance", f"{f}.warn_above_balance"),
        methods_accepted=methods,
        ways_to_pay=r.text_list(m, "ways_to_pay", f"{f}.ways_to_pay"),
    )


def _drafts(r: _Reader, raw: dict[str, Any]) -> Drafts:
    f = "drafts"
    m = r.section(raw, f, f)
    r.only_keys(
        m,
        f,
        {
            "allowed_days",
            "amount_rules",
            "member_cancel_notice_days",
            "amount_notice_days",
            "date_change_notice_days",
            "authorization_retention_years",
            "authorization_template",
            "bank_holiday_rule",
        },
    )
    holiday_rule = r.optional_text(m, "bank_holiday_rule", f"{f}.bank_holiday_rule")
    if holiday_rule is not None and holiday_rule not in BANK_HOLIDAY_RULES:
        r.fail(
            f"{f}.bank_holiday_rule",
            f"must be next_business_day or previous_business_day, got {holiday_rule!r}",
        )
    days_raw = r.get(m, "allowed_days", f"{f}.allowed_days")
    if not isinstance(days_raw, list) or not days_raw:
        r.fail(
            f"{f}.allowed_days",
            f"must be a list of days of the month like [3, 18], got {days_raw!r}",
        )
    days: list[int] = []
    for i, d in enumerate(days_raw):
        where = f"{f}.allowed_days[{i}]"
        if isinstance(d, bool) or not isinstance(d, int):
            r.fail(where, f"must be a day of the month from 1 to 28, got {d!r}")
        if not 1 <= d <= 28:  # every month has these days, so a draft never slips
            r.fail(where, f"must be a day of the month from 1 to 28, got {d!r}")
        if d in days:
            r.fail(where, f"repeats day {d}")
        days.append(d)
    rules = r.text_list(m, "amount_rules", f"{f}.amount_rules")
    for i, rule in enumerate(rules):
        if rule not in AMOUNT_RULES:
            r.fail(f"{f}.amount_rules[{i}]", f"must be full_balance or fixed, got {rule!r}")
    if not rules:
        r.fail(f"{f}.amount_rules", "must list at least one of full_balance, fixed")
    template = r.text(m, "authorization_template", f"{f}.authorization_template")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        r.fail(f"{f}.authorization_template", f"has a broken {{placeholder}}: {exc}")
    unknown = names - AUTHORIZATION_FIELDS
    if unknown:
        r.fail(
            f"{f}.authorization_template",
            f"uses unknown placeholder(s) {', '.join(sorted('{' + n + '}' for n in unknown))}; "
            f"known: {', '.join(sorted('{' + n + '}' for n in AUTHORIZATION_FIELDS))}",
        )
    return Drafts(
        allowed_days=tuple(sorted(days)),
        amount_rules=rules,
        member_cancel_notice_days=r.integer(
            m, "member_cancel_notice_days", f"{f}.member_cancel_notice_days", minimum=0, maximum=27
        ),
        amount_notice_days=r.integer(
            m, "amount_notice_days", f"{f}.amount_notice_days", minimum=0, maximum=27
        ),
        date_change_notice_days=r.integer(
            m, "date_change_notice_days", f"{f}.date_change_notice_days", minimum=0, maximum=60
        ),
        authorization_retention_years=r.integer(
            m, "authorization_retention_years", f"{f}.authorization_retention_years", minimum=2
        ),
        authorization_template=" ".join(template.split()),
        bank_holiday_rule=holiday_rule or "next_business_day",
    )


def _month_day(r: _Reader, value: Any, field: str) -> MonthDay:
    match = _MONTH_DAY_RE.match(value) if isinstance(value, str) else None
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        try:
            date(2024, month, day)  # a leap year, so 02-29 is allowed
            return MonthDay(month, day)
        except ValueError:
            pass
    r.fail(field, f'must be a month and day in quotes like "11-15", got {value!r}')


def _extreme_weather(r: _Reader, raw: dict[str, Any]) -> ExtremeWeather:
    f = "extreme_weather"
    m = r.section(raw, f, f)
    r.only_keys(
        m, f, {"winter_window", "winter_forecast_low_below_f", "heat_advisory_suspends", "summary"}
    )
    ww = r.section(m, "winter_window", f"{f}.winter_window")
    r.only_keys(ww, f"{f}.winter_window", {"start", "end"})
    start = _month_day(
        r, r.get(ww, "start", f"{f}.winter_window.start"), f"{f}.winter_window.start"
    )
    end = _month_day(r, r.get(ww, "end", f"{f}.winter_window.end"), f"{f}.winter_window.end")
    low = r.get(m, "winter_forecast_low_below_f", f"{f}.winter_forecast_low_below_f")
    return ExtremeWeather(
        winter_window=(start, end),
        winter_forecast_low_below_f=r.int_value(
            low, f"{f}.winter_forecast_low_below_f", minimum=-60, maximum=80
        ),
        heat_advisory_suspends=r.boolean(
            m, "heat_advisory_suspends", f"{f}.heat_advisory_suspends"
        ),
        summary=" ".join(r.text(m, "summary", f"{f}.summary").split()),
    )


def _verification(r: _Reader, raw: dict[str, Any]) -> Verification:
    f = "verification"
    m = r.section(raw, f, f)
    keys = (
        "max_failures",
        "failure_window_minutes",
        "lockout_minutes",
        "session_idle_minutes",
        "otp_length",
        "otp_ttl_minutes",
        "otp_max_attempts",
    )
    r.only_keys(m, f, set(keys))
    values = {k: r.integer(m, k, f"{f}.{k}", minimum=1) for k in keys}
    if not 4 <= values["otp_length"] <= 10:
        r.fail(f"{f}.otp_length", f"must be from 4 to 10 digits, got {values['otp_length']!r}")
    return Verification(**values)


def _outages(r: _Reader, raw: dict[str, Any]) -> Outages:
    f = "outages"
    m = r.section(raw, f, f)
    r.only_keys(m, f, {"safe_distance_feet", "report_prefix", "hazard_words"})
    words = r.text_list(m, "hazard_words", f"{f}.hazard_words")
    if not words:
        r.fail(f"{f}.hazard_words", "must list at least one word")
    return Outages(
        safe_distance_feet=r.integer(m, "safe_distance_feet", f"{f}.safe_distance_feet", minimum=1),
        report_prefix=r.text(m, "report_prefix", f"{f}.report_prefix"),
        hazard_words=tuple(w.lower() for w in words),
    )


def _retention(r: _Reader, raw: dict[str, Any]) -> Retention:
    f = "retention"
    m = r.optional_section(raw, f, f)
    if m is None:
        return Retention()
    r.only_keys(m, f, set(RETENTION_KEYS))
    values = {
        k: r.optional_integer(m, k, f"{f}.{k}", minimum=1, maximum=36500) for k in RETENTION_KEYS
    }
    return Retention(**{k: v for k, v in values.items() if v is not None})


def _notices(r: _Reader, raw: dict[str, Any]) -> Notices:
    f = "notices"
    m = r.optional_section(raw, f, f)
    if m is None:
        return Notices()
    r.only_keys(m, f, {"quiet_hours", "lookback_days", "holiday_warning_days", "wording"})
    default = Notices()
    start, end = default.quiet_start, default.quiet_end
    qh = r.optional_section(m, "quiet_hours", f"{f}.quiet_hours")
    if qh is not None:
        r.only_keys(qh, f"{f}.quiet_hours", {"start", "end"})
        start = r.clock(r.get(qh, "start", f"{f}.quiet_hours.start"), f"{f}.quiet_hours.start")
        end = r.clock(r.get(qh, "end", f"{f}.quiet_hours.end"), f"{f}.quiet_hours.end")
    lookback = r.optional_integer(m, "lookback_days", f"{f}.lookback_days", minimum=0, maximum=60)
    warning = r.optional_integer(
        m, "holiday_warning_days", f"{f}.holiday_warning_days", minimum=1, maximum=730
    )
    wording: dict[str, str] = {}
    wm = r.optional_section(m, "wording", f"{f}.wording") or {}
    r.only_keys(wm, f"{f}.wording", set(NOTICE_FIELDS))
    for kind, value in wm.items():
        where = f"{f}.wording.{kind}"
        text = " ".join(r.text_value(value, where).split())
        known = NOTICE_FIELDS[kind] | NOTICE_COMMON_FIELDS
        try:
            names = {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}
        except ValueError as exc:
            r.fail(where, f"has a broken {{placeholder}}: {exc}")
        unknown = names - known
        if unknown:
            r.fail(
                where,
                f"uses unknown placeholder(s) {', '.join(sorted('{' + n + '}' for n in unknown))}; "
                f"known: {', '.join(sorted('{' + n + '}' for n in known))}",
            )
        text = straighten(text)
        if not is_gsm7(text):
            bad = " ".join(sorted({ch for ch in text if not is_gsm7(ch)}))
            r.fail(where, f"must fit a plain text message (GSM-7); these characters do not: {bad}")
        wording[kind] = text
    return Notices(
        quiet_start=start,
        quiet_end=end,
        lookback_days=default.lookback_days if lookback is None else lookback,
        holiday_warning_days=warning or default.holiday_warning_days,
        wording=wording,
    )


def _busy(r: _Reader, raw: dict[str, Any]) -> Busy:
    f = "busy"
    m = r.optional_section(raw, f, f)
    if m is None:
        return Busy()
    r.only_keys(m, f, {"courtesy_after_seconds"})
    value = r.optional_integer(
        m, "courtesy_after_seconds", f"{f}.courtesy_after_seconds", minimum=1, maximum=3600
    )
    return Busy() if value is None else Busy(courtesy_after_seconds=value)


def _faq(r: _Reader, raw: dict[str, Any]) -> dict[str, str]:
    m = r.optional_section(raw, "faq", "faq") or {}
    out: dict[str, str] = {}
    for key in m:
        if not isinstance(key, str):
            r.fail(f"faq.{key}", "must have a text name")
        text = r.text(m, key, f"faq.{key}")
        out[key] = " ".join(text.split())
    return out


def _canned_replies(r: _Reader, raw: dict[str, Any]) -> tuple[CannedReply, ...]:
    f = "canned_replies"
    m = r.optional_section(raw, f, f) or {}
    out = []
    for key in m:
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]{1,40}", key):
            r.fail(f"{f}.{key}", "must be named with lowercase letters, digits and _")
        item = r.section(m, key, f"{f}.{key}")
        r.only_keys(item, f"{f}.{key}", {"title", "text"})
        text = " ".join(r.text(item, "text", f"{f}.{key}.text").split())
        try:
            names = {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}
        except ValueError as exc:
            r.fail(f"{f}.{key}.text", f"has a broken {{placeholder}}: {exc}")
        unknown = names - CANNED_FIELDS
        if unknown:
            r.fail(
                f"{f}.{key}.text",
                f"uses unknown placeholder(s) {', '.join(sorted('{' + n + '}' for n in unknown))}"
                f"; known: {', '.join(sorted('{' + n + '}' for n in CANNED_FIELDS))}",
            )
        title = " ".join(r.text(item, "title", f"{f}.{key}.title").split())
        out.append(CannedReply(key, title, text))
    return tuple(out)


_TOP_LEVEL = {
    "coop",
    "phones",
    "office_hours",
    "agent_hours",
    "offices",
    "holidays",
    "billing",
    "payments",
    "drafts",
    "extreme_weather",
    "verification",
    "outages",
    "faq",
    "retention",
    "notices",
    "canned_replies",
    "busy",
}


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_profile(raw: Any, source: str = "profile") -> CoopProfile:
    """Validate an already-parsed YAML document (tests and tools build profiles from dicts)."""
    r = _Reader(source)
    if not isinstance(raw, dict):
        r.fail("the file", "must be a YAML mapping of sections (coop:, phones:, ...)")
    r.only_keys(raw, "", _TOP_LEVEL)
    office_raw = r.section(raw, "office_hours", "office_hours")
    office_hours = _week(r, office_raw, "office_hours")
    agent_raw = r.optional_section(raw, "agent_hours", "agent_hours")
    agent_hours = _week(r, agent_raw, "agent_hours") if agent_raw is not None else office_hours
    return CoopProfile(
        source=source,
        coop=_coop(r, raw),
        phones=_phones(r, raw),
        office_hours=office_hours,
        agent_hours=agent_hours,
        offices=_offices(r, raw, office_hours),
        holidays=_holidays(r, raw),
        billing=_billing(r, raw),
        payments=_payments(r, raw),
        drafts=_drafts(r, raw),
        extreme_weather=_extreme_weather(r, raw),
        verification=_verification(r, raw),
        outages=_outages(r, raw),
        faq=_faq(r, raw),
        retention=_retention(r, raw),
        notices=_notices(r, raw),
        canned_replies=_canned_replies(r, raw),
        busy=_busy(r, raw),
    )


def load_profile(path: str | Path) -> CoopProfile:
    """Read and validate the profile file; `ProfileError` names the file and the wrong field."""
    path = Path(path)
    source = _display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(
            f"{source}: the co-op profile file does not exist (set COOP_PROFILE)"
        ) from None
    except OSError as exc:
        raise ProfileError(f"{source}: cannot read the co-op profile: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{source}: not valid YAML{where}: {problem}") from None
    return parse_profile(raw, source)


def load_profile_or_exit(path: str | Path) -> CoopProfile:
    """For process start-up: a wrong profile prints its one-line reason and exits with status 2."""
    try:
        return load_profile(path)
    except ProfileError as exc:
        print(f"Co-op profile error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
