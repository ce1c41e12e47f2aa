"""Deterministic demo data: the named accounts of docs/demo-accounts.md plus generated members.

`jecbot demo-data` (and `make run` on an empty database) calls `generate_demo_data`. The same
(seed, today) always produces the same rows, ids included, on an empty database, so the README,
tests and newcomers can rely on them. Amounts and dates are relative to "today", so a balance is
always current.

Speed matters (40,000 members for scale tests): rows are built as plain dicts with ids assigned
here and written with SQLAlchemy Core `executemany` in chunks, in one transaction, never as ORM
objects one by one. Money is integer cents throughout; every timestamp is aware UTC.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from bot.core.dates import ordinal
from bot.core.money import format_cents, percent_of
from bot.profile import load_profile
from bot.store.db import make_sync_engine
from bot.store.migrate import ensure_schema, sync_id_sequences
from bot.store.models import (
    Account,
    Bill,
    Contact,
    DraftAuthorization,
    DraftEnrollment,
    Member,
    NotificationPreference,
    Outage,
    OutageArea,
    Payment,
    PaymentMethod,
    UsageReading,
)

LOCAL_TZ = ZoneInfo("America/New_York")
DEFAULT_PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "jec.yml"

# Demo tariff: a monthly facility charge plus an energy rate, so bills and daily usage agree.
FACILITY_CHARGE_CENTS = 3250
RATE_TENTHS_OF_CENT_PER_KWH = 119  # 11.9 cents per kWh
BILLS_PER_ACCOUNT = 12
CHUNK_MEMBERS = 1000

# Tables in foreign-key order: a chunk is flushed in this order.
TABLES = [
    Member.__table__,
    Account.__table__,
    Contact.__table__,
    PaymentMethod.__table__,
    Bill.__table__,
    Payment.__table__,
    DraftEnrollment.__table__,
    DraftAuthorization.__table__,
    UsageReading.__table__,
    NotificationPreference.__table__,
    Outage.__table__,
    OutageArea.__table__,
]

TOWNS: list[tuple[str, str, str, int]] = [  # town, ZIP, county, weight
    ("Wrens", "30833", "Jefferson", 14),
    ("Louisville", "30434", "Jefferson", 12),
    ("Stapleton", "30823", "Jefferson", 4),
    ("Bartow", "30413", "Jefferson", 3),
    ("Wadley", "30477", "Jefferson", 4),
    ("Avera", "30803", "Jefferson", 2),
    ("Matthews", "30818", "Jefferson", 2),
    ("Blythe", "30805", "Richmond", 6),
    ("Keysville", "30816", "Burke", 4),
    ("Midville", "30441", "Burke", 3),
    ("Gibson", "30810", "Glascock", 4),
    ("Mitchell", "30820", "Glascock", 2),
    ("Thomson", "30824", "McDuffie", 9),
    ("Dearing", "30808", "McDuffie", 3),
    ("Warrenton", "30828", "Warren", 5),
    ("Harlem", "30814", "Columbia", 6),
]
STREETS = [
    "Main St",
    "Broad St",
    "Church St",
    "Mill St",
    "Peachtree St",
    "Old Quaker Rd",
    "Hwy 17 N",
    "Hwy 88",
    "Hwy 1 S",
    "Pine Hollow Rd",
    "Gibson Hwy",
    "Clarks Mill Rd",
    "Kings Mill Rd",
    "Old Savannah Rd",
    "Dogwood Ln",
    "Pecan Ln",
    "Cotton Gin Rd",
    "Brushy Creek Rd",
    "Mennonite Church Rd",
    "Rocky Comfort Rd",
    "Ogeechee Rd",
    "Stellaville Rd",
    "Duke Rd",
    "Red Hill Rd",
    "Magnolia Dr",
    "Oak St",
    "Walnut St",
    "Depot St",
    "College St",
    "Sandy Run Rd",
]
FIRST_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Linda",
    "Michael",
    "Barbara",
    "William",
    "Elizabeth",
    "David",
    "Jennifer",
    "Richard",
    "Maria",
    "Charles",
    "Susan",
    "Joseph",
    "Margaret",
    "Thomas",
    "Dorothy",
    "Willie",
    "Lisa",
    "Larry",
    "Nancy",
    "Roy",
    "Karen",
    "Eddie",
    "Betty",
    "Clarence",
    "Helen",
    "Leroy",
    "Sandra",
    "Wanda",
    "Tammy",
    "Curtis",
    "Shirley",
    "Darnell",
    "Brenda",
    "Travis",
    "Amber",
    "Jamal",
    "Keisha",
    "Cody",
    "Crystal",
    "Luis",
    "Rosa",
    "Hank",
    "Mavis",
    "Otis",
    "Geneva",
    "Wade",
    "Inez",
    "Tyrone",
    "Latoya",
    "Buck",
    "Peggy",
    "Dewayne",
    "Ruby",
    "Vernon",
    "Hattie",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Davis",
    "Miller",
    "Wilson",
    "Moore",
    "Taylor",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Martin",
    "Thompson",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Parker",
    "Evans",
    "Collins",
    "Stewart",
    "Morris",
    "Rogers",
    "Reed",
    "Cook",
    "Bell",
    "Murphy",
    "Rivera",
    "Cooper",
    "Bailey",
    "Howard",
    "Ward",
    "Cox",
    "Peterson",
    "Gray",
    "James",
    "Watson",
    "Brooks",
    "Kelly",
    "Sanders",
    "Price",
    "Bennett",
    "Wood",
    "Barnes",
    "Sapp",
    "Tanner",
    "Polhill",
    "Gamble",
    "Kitchens",
    "Rabun",
]
# Last four digits of the processors' published test cards, never real cards.
TEST_CARDS = [
    ("Visa", "4242"),
    ("Visa", "1881"),
    ("Mastercard", "4444"),
    ("Mastercard", "5454"),
    ("American Express", "0005"),
    ("Discover", "1117"),
]
BANKS = [
    "First Farmers Bank",
    "Ogeechee Valley Bank",
    "Jefferson County Bank",
    "Burke Savings",
    "Queensborough Bank",
]
# Fictional 555 exchange: 555-0100..0199 are the named accounts; generated ones use 0200..9999.
PHONE_AREA_CODES = ["706", "762", "478", "912", "229", "404", "770", "678"]
PHONE_LINES = 9800


@dataclass(frozen=True)
class BillingTerms:
    """The profile's billing and draft rules the generator needs (from profiles/jec.yml)."""

    coop_name: str
    due_days: int
    late_fee_threshold_cents: int
    late_fee_percent: Decimal
    late_fee_minimum_cents: int
    draft_days: tuple[int, ...]
    cancel_notice_days: int
    authorization_template: str

    def late_fee(self, past_due_cents: int) -> int:
        """The profile's late-fee rule: over the threshold, a percentage with a minimum."""
        if past_due_cents <= self.late_fee_threshold_cents:
            return 0
        return max(percent_of(past_due_cents, self.late_fee_percent), self.late_fee_minimum_cents)


def load_billing_terms(profile_path: Path | None = None) -> BillingTerms:
    """The billing/draft terms of the co-op profile, read and validated by `bot.profile`."""
    profile = load_profile(profile_path or DEFAULT_PROFILE)
    billing, drafts = profile.billing, profile.drafts
    return BillingTerms(
        coop_name=profile.coop.name,
        due_days=billing.due_days_after_billing,
        late_fee_threshold_cents=billing.late_fee_threshold_cents,
        late_fee_percent=billing.late_fee_percent,
        late_fee_minimum_cents=billing.late_fee_minimum_cents,
        draft_days=drafts.allowed_days,
        cancel_notice_days=drafts.member_cancel_notice_days,
        authorization_template=drafts.authorization_template,
    )


def add_months(d: date, months: int, day: int | None = None) -> date:
    """`d` moved by whole months, on `day` (default d.day), clamped to the month's last day."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day or d.day, last))


def local_time(d: date, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time in America/New_York as an aware UTC datetime."""
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def season_factor(d: date) -> float:
    """Relative daily use: peaks in January (heating) and late July (cooling)."""
    angle = 4 * math.pi * (d.timetuple().tm_yday - 20) / 365.25
    return 0.78 + 0.32 * math.cos(angle)


def energy_cents(kwh_hundredths: int) -> int:
    """Energy charge for kWh given in hundredths, rounded half up to the cent."""
    return (kwh_hundredths * RATE_TENTHS_OF_CENT_PER_KWH + 500) // 1000


@dataclass
class PaymentSource:
    """How an account's payments show up in its history."""

    method_id: int | None
    label: str
    channel: str


@dataclass
class AccountPlan:
    """Everything needed to write one account's bills, payments and usage."""

    account_id: int
    last_billing_date: date  # most recent billing date (k = 0)
    bill_ks: range = field(default_factory=lambda: range(BILLS_PER_ACCOUNT))
    daily_kwh: float = 30.0
    amount_overrides: dict[int, int] = field(default_factory=dict)  # k -> cents
    unpaid_ks: set[int] = field(default_factory=set)  # bills left unpaid
    sources: list[PaymentSource] = field(default_factory=list)
    draft_day: int | None = None  # paid by draft on this day of the month
    draft_method: PaymentSource | None = None
    usage_until: date | None = None  # last day with a reading (disconnected accounts stop)


class _Writer:
    """Collects rows per table, assigns ids, and flushes them with executemany in FK order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
        self.next_id: dict[str, int] = {}
        self.counts: dict[str, int] = {t.name: 0 for t in TABLES}
        for table in TABLES:
            current = conn.execute(select(func.max(table.c.id))).scalar()
            self.next_id[table.name] = int(current or 0) + 1

    def add(self, table: str, row: dict[str, Any]) -> int:
        row_id = self.next_id[table]
        self.next_id[table] = row_id + 1
        row["id"] = row_id
        self.rows[table].append(row)
        return row_id

    def flush(self) -> None:
        for table in TABLES:
            rows = self.rows[table.name]
            if rows:
                self.conn.execute(table.insert(), rows)
                self.counts[table.name] += len(rows)
                self.rows[table.name] = []


class _Generator:
    """Builds the demo rows for one run; deterministic for (seed, today, now)."""

    def __init__(
        self,
        writer: _Writer,
        terms: BillingTerms,
        seed: int,
        today: date,
        now: datetime,
        usage_days: int,
        existing_accounts: set[str],
        existing_values: set[str],
    ) -> None:
        self.w = writer
        self.terms = terms
        self.rng = random.Random(seed)
        self.today = today
        self.now = now
        self.usage_days = usage_days
        self.used_accounts = set(existing_accounts)
        self.used_values = set(existing_values)
        self.phone_cursor = 0
        first_day = add_months(today, -(BILLS_PER_ACCOUNT + 3), 1)
        self.season = {}
        self.season_prefix: dict[date, float] = {}
        running = 0.0
        day = first_day
        while day <= today + timedelta(days=40):
            self.season_prefix[day] = running  # sum of factors for days before `day`
            factor = season_factor(day)
            self.season[day] = factor
            running += factor
            day += timedelta(days=1)
        self.past_due_accounts = 0
        self.card_methods = 0
        self.bank_methods = 0

    # --- identifiers -------------------------------------------------------------------
    def account_number(self) -> str:
        while True:
            number = str(self.rng.randrange(2_000_000_000, 10_000_000_000))
            if number not in self.used_accounts:
                self.used_accounts.add(number)
                return number

    def phone(self) -> str:
        while True:
            n = self.phone_cursor
            self.phone_cursor += 1
            area = PHONE_AREA_CODES[(n // PHONE_LINES) % len(PHONE_AREA_CODES)]
            line = 200 + (n * 7919) % PHONE_LINES  # a stride through 0200..9999, no repeats
            value = f"+1{area}555{line:04d}"
            if value not in self.used_values:
                self.used_values.add(value)
                return value

    def stamp(self, days_ago: int, hour: int = 10) -> datetime:
        return local_time(self.today - timedelta(days=days_ago), hour)

    # --- rows ----------------------------------------------------------------------------
    def member(self, number: str, first: str, last: str, senior: bool, since_days: int) -> int:
        return self.w.add(
            "members",
            {
                "member_number": number,
                "first_name": first,
                "last_name": last,
                "is_senior": senior,
                "created_at": self.stamp(since_days),
            },
        )

    def account(
        self,
        member_id: int,
        number: str,
        street: str,
        town: str,
        zip_: str,
        county: str,
        *,
        status: str = "active",
        paperless: bool = False,
        since_days: int = 900,
    ) -> int:
        return self.w.add(
            "accounts",
            {
                "account_number": number,
                "member_id": member_id,
                "status": status,
                "service_street": street,
                "service_town": town,
                "service_zip": zip_,
                "county": county,
                "feeder": f"{town[:3].upper()}-{(int(number) % 4) + 1}",
                "paperless": paperless,
                "levelized_billing": False,
                "created_at": self.stamp(since_days),
            },
        )

    def contact(
        self,
        member_id: int,
        kind: str,
        value: str,
        *,
        primary: bool,
        verified: bool,
        since_days: int = 400,
    ) -> None:
        self.used_values.add(value)
        self.w.add(
            "contacts",
            {
                "member_id": member_id,
                "kind": kind,
                "value": value,
                "is_primary": primary,
                "is_verified": verified,
                "created_at": self.stamp(since_days),
            },
        )

    def card(self, member_id: int, holder: str, brand: str, last4: str) -> PaymentSource:
        method_id = self.w.next_id["payment_methods"]
        self.w.add(
            "payment_methods",
            {
                "member_id": member_id,
                "kind": "card",
                "brand": brand,
                "last4": last4,
                "token": f"tok_sandbox_{brand.split()[0].lower()}_{method_id:08d}",
                "exp_month": 1 + method_id % 12,
                "exp_year": self.today.year + 1 + method_id % 4,
                "holder_name": holder,
                "is_active": True,
                "created_at": self.stamp(300),
            },
        )
        self.card_methods += 1
        return PaymentSource(method_id, f"{brand} ending {last4}", "web")

    def bank(self, member_id: int, holder: str, kind: str, bank: str, last4: str) -> PaymentSource:
        method_id = self.w.next_id["payment_methods"]
        self.w.add(
            "payment_methods",
            {
                "member_id": member_id,
                "kind": kind,
                "brand": bank,
                "last4": last4,
                "token": f"tok_sandbox_bank_{method_id:08d}",
                "exp_month": None,
                "exp_year": None,
                "holder_name": holder,
                "is_active": True,
                "created_at": self.stamp(320),
            },
        )
        self.bank_methods += 1
        return PaymentSource(method_id, f"{kind.capitalize()} ending {last4}", "web")

    def draft(
        self,
        account_id: int,
        account_number: str,
        method: PaymentSource,
        day: int,
        starts_on: date,
        amount_rule: str = "full_balance",
        fixed_cents: int | None = None,
    ) -> None:
        enrollment_id = self.w.add(
            "draft_enrollments",
            {
                "account_id": account_id,
                "payment_method_id": method.method_id,
                "draft_day": day,
                "amount_rule": amount_rule,
                "fixed_amount_cents": fixed_cents,
                "status": "active",
                "starts_on": starts_on,
                "cancelled_at": None,
                "ends_on": None,
                "created_at": local_time(starts_on - timedelta(days=12), 11),
            },
        )
        phrase = (
            "the full balance of each bill"
            if amount_rule == "full_balance"
            else f"{format_cents(fixed_cents or 0)}"
        )
        text = self.terms.authorization_template.format(
            start_date=f"{starts_on:%B} {starts_on.day}, {starts_on.year}",
            coop_name=self.terms.coop_name,
            amount_phrase=phrase,
            account_last4=account_number[-4:],
            method_label=method.label.lower(),
            draft_day_ordinal=ordinal(day),
            cancel_notice_days=self.terms.cancel_notice_days,
        )
        self.w.add(
            "draft_authorizations",
            {
                "enrollment_id": enrollment_id,
                "action": "enroll",
                "text": text,
                "accepted_at": local_time(starts_on - timedelta(days=12), 11),
                "channel": "web",
                "verified_how": "account number + ZIP",
                "conversation_id": None,
                "copy_sent_to": None,
            },
        )

    def preference(self, account_id: int, topic: str, channel: str) -> None:
        self.w.add(
            "notification_preferences",
            {"account_id": account_id, "topic": topic, "channel": channel, "enabled": True},
        )

    # --- bills, payments, usage ----------------------------------------------------------
    def _period_kwh(self, plan: AccountPlan, start: date, end_exclusive: date) -> int:
        factors = self.season_prefix[end_exclusive] - self.season_prefix[start]
        return max(1, round(plan.daily_kwh * factors * self.rng.uniform(0.94, 1.06)))

    def bills_and_payments(self, plan: AccountPlan) -> None:
        """Monthly bills (due = billing date + profile due days), their payments, late fees."""
        terms, rng = self.terms, self.rng
        for k in sorted(plan.bill_ks, reverse=True):  # oldest first
            billing = add_months(plan.last_billing_date, -k)
            start = add_months(billing, -1)
            kwh = self._period_kwh(plan, start, billing)
            amount = plan.amount_overrides.get(k, FACILITY_CHARGE_CENTS + energy_cents(kwh * 100))
            if k in plan.amount_overrides:  # keep kWh plausible for a fixed amount
                kwh = max(1, (amount - FACILITY_CHARGE_CENTS) * 10 // RATE_TENTHS_OF_CENT_PER_KWH)
            due = billing + timedelta(days=terms.due_days)
            paid_on: date | None = None
            source: PaymentSource | None = None
            if k not in plan.unpaid_ks:
                if plan.draft_day is not None and plan.draft_method is not None:
                    draft_on = add_months(billing, 0, plan.draft_day)
                    if draft_on <= billing:
                        draft_on = add_months(billing, 1, plan.draft_day)
                    if draft_on < self.today:
                        paid_on, source = (
                            draft_on,
                            PaymentSource(
                                plan.draft_method.method_id,
                                f"Draft {plan.draft_method.label.lower()}",
                                "draft",
                            ),
                        )
                elif due < self.today or rng.random() < 0.3:
                    latest = min(due, self.today - timedelta(days=1))
                    span = (latest - billing).days
                    if span >= 1:
                        paid_on = billing + timedelta(days=rng.randint(1, span))
                        source = rng.choice(plan.sources) if plan.sources else self._walk_in()
            late_fee = 0
            if paid_on is None and due < self.today:
                late_fee = terms.late_fee(amount)
            self.w.add(
                "bills",
                {
                    "account_id": plan.account_id,
                    "period_start": start,
                    "period_end": billing - timedelta(days=1),
                    "billing_date": billing,
                    "due_date": due,
                    "amount_cents": amount,
                    "kwh": kwh,
                    "late_fee_cents": late_fee,
                    "paid": paid_on is not None,
                    "created_at": local_time(billing, 6),
                },
            )
            if paid_on is not None and source is not None:
                if source.channel == "web" and rng.random() < 0.02:
                    self.payment(
                        plan.account_id, amount, source, paid_on - timedelta(days=1), declined=True
                    )
                self.payment(plan.account_id, amount, source, paid_on)

    def _walk_in(self) -> PaymentSource:
        return self.rng.choice(
            [
                PaymentSource(None, "Office", "office"),
                PaymentSource(None, "Card by phone", "phone"),
                PaymentSource(None, "Check by mail", "office"),
            ]
        )

    def payment(
        self,
        account_id: int,
        cents: int,
        source: PaymentSource,
        on: date,
        *,
        declined: bool = False,
    ) -> None:
        payment_id = self.w.next_id["payments"]
        when = local_time(on, 9 + payment_id % 8, (payment_id * 7) % 60)
        self.w.add(
            "payments",
            {
                "account_id": account_id,
                "payment_method_id": source.method_id,
                "amount_cents": cents,
                "method_label": source.label,
                "status": "declined" if declined else "succeeded",
                "confirmation_number": None if declined else f"JEC{payment_id:09d}",
                "idempotency_key": f"demo-payment-{payment_id}",
                "channel": source.channel,
                "processor_reference": f"sbx_{payment_id:010d}" if source.method_id else None,
                "failure_reason": "card declined by the issuer" if declined else None,
                "created_at": when,
                "received_at": None if declined else when,
            },
        )

    def usage(self, plan: AccountPlan) -> None:
        """Daily readings for the last `usage_days` days (yesterday back), cost in cents."""
        last = self.today - timedelta(days=1)
        if plan.usage_until is not None:
            last = min(last, plan.usage_until)
        rng = self.rng
        rows = self.w.rows["usage_readings"]
        next_id = self.w.next_id["usage_readings"]
        for back in range(self.usage_days):
            day = self.today - timedelta(days=self.usage_days - back)
            if day > last:
                break
            hundredths = max(
                1, int(plan.daily_kwh * self.season[day] * rng.uniform(0.75, 1.25) * 100)
            )
            rows.append(
                {
                    "id": next_id,
                    "account_id": plan.account_id,
                    "day": day,
                    "kwh": Decimal(hundredths).scaleb(-2),
                    "cost_cents": energy_cents(hundredths),
                }
            )
            next_id += 1
        self.w.next_id["usage_readings"] = next_id

    def finish_account(self, plan: AccountPlan) -> None:
        self.bills_and_payments(plan)
        self.usage(plan)

    def last_billing_date(self, billing_day: int) -> date:
        candidate = add_months(self.today, 0, billing_day)
        return candidate if candidate <= self.today else add_months(self.today, -1, billing_day)


def _named(g: _Generator) -> None:
    """The accounts of docs/demo-accounts.md, exactly as listed there."""
    today, terms = g.today, g.terms

    # Dana Whitfield: open $142.87 due in about two weeks; last payment $118.20; Visa 4242.
    dana = g.member("M100001", "Dana", "Whitfield", False, 2400)
    g.contact(dana, "phone", "+17065550101", primary=True, verified=True)
    g.contact(dana, "email", "dana.whitfield@example.com", primary=True, verified=True)
    visa = g.card(dana, "Dana Whitfield", "Visa", "4242")
    acct = g.account(
        dana,
        "1000004821",
        "412 Mill St",
        "Wrens",
        "30833",
        "Jefferson",
        paperless=True,
        since_days=2400,
    )
    last_billing = today + timedelta(days=14 - terms.due_days)  # due 14 days from today
    g.finish_account(
        AccountPlan(
            acct,
            last_billing,
            daily_kwh=34.0,
            unpaid_ks={0},
            amount_overrides={0: 14287, 1: 11820},
            sources=[visa],
        )
    )
    g.preference(acct, "bill_ready", "email")
    g.preference(acct, "outage", "sms")

    # Earl Hardeman: past due $38.10 with the profile's late fee, plus a current $96.55.
    earl = g.member("M100002", "Earl", "Hardeman", True, 5200)
    g.contact(earl, "phone", "+17065550102", primary=True, verified=True)
    g.contact(earl, "email", "earl.hardeman@example.com", primary=False, verified=True)
    checking = g.bank(earl, "Earl Hardeman", "checking", "Ogeechee Valley Bank", "6120")
    acct = g.account(
        earl, "1000007315", "88 Church St", "Louisville", "30434", "Jefferson", since_days=5200
    )
    g.finish_account(
        AccountPlan(
            acct,
            today - timedelta(days=5),
            daily_kwh=24.0,
            unpaid_ks={0, 1},
            amount_overrides={0: 9655, 1: 3810},
            sources=[checking, PaymentSource(None, "Office", "office")],
        )
    )
    g.past_due_accounts += 1

    # Loretta Boyd: bank draft on the 18th, full balance, checking 3344, with the authorization.
    loretta = g.member("M100003", "Loretta", "Boyd", True, 3000)
    g.contact(loretta, "phone", "+17065550103", primary=True, verified=True)
    g.contact(loretta, "email", "loretta.boyd@example.com", primary=False, verified=True)
    bank = g.bank(loretta, "Loretta Boyd", "checking", "First Farmers Bank", "3344")
    acct = g.account(
        loretta, "1000002209", "1520 Old Quaker Rd", "Blythe", "30805", "Richmond", since_days=3000
    )
    last_billing = g.last_billing_date(3)
    g.draft(acct, "1000002209", bank, 18, add_months(last_billing, -BILLS_PER_ACCOUNT - 1, 18))
    g.finish_account(
        AccountPlan(
            acct, last_billing, daily_kwh=31.0, draft_day=18, draft_method=bank, sources=[bank]
        )
    )

    # Marcus Reed: home in Wrens and a shop in Blythe; Mastercard 5454.
    marcus = g.member("M100004", "Marcus", "Reed", False, 1500)
    g.contact(marcus, "phone", "+17065550104", primary=True, verified=True)
    g.contact(marcus, "email", "marcus.reed@example.com", primary=True, verified=True)
    mastercard = g.card(marcus, "Marcus Reed", "Mastercard", "5454")
    last_billing = g.last_billing_date(10)
    home = g.account(
        marcus, "1000005560", "27 Broad St", "Wrens", "30833", "Jefferson", since_days=1500
    )
    g.finish_account(AccountPlan(home, last_billing, daily_kwh=36.0, sources=[mastercard]))
    shop = g.account(
        marcus, "1000005578", "3400 Hwy 88", "Blythe", "30805", "Richmond", since_days=700
    )
    g.finish_account(AccountPlan(shop, last_billing, daily_kwh=58.0, sources=[mastercard]))
    g.preference(home, "outage", "sms")

    # Bobbie Jo Kitchens: disconnected for non-payment, no saved methods, no email.
    bobbie = g.member("M100005", "Bobbie Jo", "Kitchens", False, 1900)
    g.contact(bobbie, "phone", "+17065550105", primary=True, verified=True)
    acct = g.account(
        bobbie,
        "1000009914",
        "5 Pine Hollow Rd",
        "Stapleton",
        "30823",
        "Jefferson",
        status="disconnected",
        since_days=1900,
    )
    last_billing = g.last_billing_date(20)
    disconnected_on = add_months(last_billing, -2) + timedelta(days=terms.due_days + 20)
    g.finish_account(
        AccountPlan(
            acct,
            last_billing,
            bill_ks=range(2, 2 + BILLS_PER_ACCOUNT),
            daily_kwh=27.0,
            unpaid_ks={2, 3},
            usage_until=min(disconnected_on, today - timedelta(days=1)),
        )
    )
    g.past_due_accounts += 1


def _generated(g: _Generator, count: int, member_offset: int, progress: bool) -> None:
    rng, terms = g.rng, g.terms
    town_weights = [t[3] for t in TOWNS]
    started = time.monotonic()
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        senior = rng.random() < 0.22
        member_id = g.member(
            f"M{200001 + member_offset + i}", first, last, senior, rng.randint(200, 9000)
        )
        g.contact(member_id, "phone", g.phone(), primary=True, verified=rng.random() < 0.93)
        has_email = rng.random() < 0.7
        if has_email:
            email = f"{first}.{last}.{member_offset + i + 1}@example.com".lower()
            g.contact(member_id, "email", email, primary=True, verified=rng.random() < 0.88)
        sources: list[PaymentSource] = []
        bank: PaymentSource | None = None
        if rng.random() < 0.35:
            brand, last4 = rng.choice(TEST_CARDS)
            sources.append(g.card(member_id, f"{first} {last}", brand, last4))
        if rng.random() < 0.18:
            kind = "checking" if rng.random() < 0.8 else "savings"
            bank = g.bank(
                member_id, f"{first} {last}", kind, rng.choice(BANKS), f"{rng.randrange(10000):04d}"
            )
            sources.append(bank)
        n_accounts = 2 if rng.random() < 0.08 else 1
        billing_day = 1 if senior and rng.random() < 0.5 else rng.randint(1, 28)
        draft_day = None
        if bank is not None and rng.random() < 0.6:
            # Bill a few days before the draft date, so the draft lands by the due date.
            draft_day = rng.choice(terms.draft_days)
            gap = rng.randint(2, max(2, terms.due_days - 3))
            billing_day = draft_day - gap if draft_day > gap else draft_day - gap + 28
        last_billing = g.last_billing_date(billing_day)
        for a in range(n_accounts):
            town, zip_, county, _ = rng.choices(TOWNS, weights=town_weights)[0]
            street = f"{rng.randint(1, 4999)} {rng.choice(STREETS)}"
            roll = rng.random()
            status = "disconnected" if roll < 0.01 else "final" if roll < 0.02 else "active"
            number = g.account_number()
            account_id = g.account(
                member_id,
                number,
                street,
                town,
                zip_,
                county,
                status=status,
                paperless=has_email and rng.random() < 0.3,
                since_days=rng.randint(120, 6000),
            )
            plan = AccountPlan(
                account_id,
                last_billing,
                daily_kwh=rng.uniform(14, 48) * (2.0 if a == 1 else 1.0),
                sources=sources,
            )
            if status != "active":
                plan.bill_ks = range(2, 2 + BILLS_PER_ACCOUNT)
                stop = add_months(last_billing, -2) + timedelta(days=terms.due_days + 20)
                plan.usage_until = min(stop, g.today - timedelta(days=1))
                if status == "disconnected":
                    plan.unpaid_ks = {2, 3}
                    g.past_due_accounts += 1
            elif bank is not None and draft_day is not None and a == 0:
                day = draft_day
                fixed = rng.random() < 0.15
                fixed_cents = int(plan.daily_kwh * 30 * 12) // 100 * 100 + FACILITY_CHARGE_CENTS
                g.draft(
                    account_id,
                    number,
                    bank,
                    day,
                    add_months(last_billing, -BILLS_PER_ACCOUNT - 1, day),
                    "fixed" if fixed else "full_balance",
                    fixed_cents if fixed else None,
                )
                plan.draft_day, plan.draft_method = day, bank
            elif rng.random() < 0.08:
                plan.unpaid_ks = {0, 1}  # the previous bill is past due
                g.past_due_accounts += 1
            g.finish_account(plan)
            if status == "active" and rng.random() < 0.4:
                g.preference(account_id, "outage", "sms")
            if status == "active" and has_email and rng.random() < 0.3:
                g.preference(account_id, "bill_ready", "email")
        if (i + 1) % CHUNK_MEMBERS == 0:
            g.w.flush()
            if progress:
                elapsed = time.monotonic() - started
                print(
                    f"  demo data: {i + 1:,}/{count:,} members ({elapsed:.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )


def _outages(g: _Generator) -> list[str]:
    """The two active outages of docs/demo-accounts.md; skipped if already loaded today."""
    made = []
    specs = [
        dict(
            town="Wrens",
            zip="30833",
            feeder="WRE-2",
            cause="storm damage",
            crew_status="on site",
            customers_affected=240,
            started_at=g.now - timedelta(hours=2, minutes=10),
            estimated_restoration_at=g.now + timedelta(hours=3),
        ),
        dict(
            town="Louisville",
            zip="30434",
            feeder="LOU-1",
            cause=None,
            crew_status="assessing",
            customers_affected=85,
            started_at=g.now - timedelta(minutes=40),
            estimated_restoration_at=None,
        ),
    ]
    existing = set(g.w.conn.execute(select(Outage.__table__.c.reference)).scalars())
    for n, spec in enumerate(specs, start=1):
        reference = f"O-{g.today:%y%m%d}-{n}"
        if reference in existing:
            continue
        outage_id = g.w.add(
            "outages",
            {
                "reference": reference,
                "status": "active",
                "cause": spec["cause"],
                "crew_status": spec["crew_status"],
                "customers_affected": spec["customers_affected"],
                "started_at": spec["started_at"],
                "estimated_restoration_at": spec["estimated_restoration_at"],
                "restored_at": None,
                "source": "outage management system",
            },
        )
        g.w.add(
            "outage_areas",
            {
                "outage_id": outage_id,
                "town": spec["town"],
                "zip": spec["zip"],
                "feeder": spec["feeder"],
            },
        )
        made.append(f"{spec['town']} ({spec['zip']})")
    return made


def _existing(conn: Connection, column: Any) -> set[str]:
    return set(conn.execute(select(column)).scalars())


def generate_demo_data(
    database_url: str,
    *,
    members: int = 300,
    seed: int = 2026,
    only_if_empty: bool = False,
    usage_days: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
    profile_path: Path | None = None,
) -> str:
    """Load the named demo accounts plus `members` generated members; return a summary.

    `today` (local date) and `now` (aware) default to the clock; given `today` alone, "now" is
    noon local time that day, so (seed, today) fully determines the rows. Runs the migrations
    first when the schema is missing. With `only_if_empty`, does nothing if members exist.
    """
    if now is None:
        now = local_time(today, 12) if today is not None else datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = today or now.astimezone(LOCAL_TZ).date()
    usage_days = 365 if usage_days is None else max(0, usage_days)
    terms = load_billing_terms(profile_path)
    shown_url = make_url(database_url).render_as_string(hide_password=True)

    ensure_schema(database_url)
    started = time.monotonic()
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as conn:
            existing_members = conn.execute(select(func.count()).select_from(Member)).scalar_one()
            if existing_members and only_if_empty:
                return (
                    f"Demo data not loaded: {shown_url} already has {existing_members:,} "
                    "members (--if-empty leaves a database with members alone)."
                )
            writer = _Writer(conn)
            existing_accounts = _existing(conn, Account.__table__.c.account_number)
            g = _Generator(
                writer,
                terms,
                seed,
                today,
                now,
                usage_days,
                existing_accounts,
                _existing(conn, Contact.__table__.c.value),
            )
            named_skipped = "1000004821" in existing_accounts
            if not named_skipped:
                _named(g)
            outages = _outages(g)
            writer.flush()
            _generated(g, members, writer.next_id["members"] - 1, progress=members >= 2000)
            writer.flush()
            sync_id_sequences(conn, [t.name for t in TABLES])
    finally:
        engine.dispose()

    c = writer.counts
    named = (
        "the named demo accounts were already there"
        if named_skipped
        else ("5 named demo members (docs/demo-accounts.md)")
    )
    return (
        f"Loaded demo data into {shown_url} in {time.monotonic() - started:.1f}s "
        f"(seed {seed}, today {today.isoformat()}): {c['members']:,} members "
        f"({named}; {members:,} generated) holding {c['accounts']:,} accounts, "
        f"{c['contacts']:,} contacts, {c['bills']:,} bills, {c['payments']:,} payments, "
        f"{c['usage_readings']:,} daily usage readings ({usage_days} days), "
        f"{g.card_methods:,} saved cards and {g.bank_methods:,} bank accounts, "
        f"{c['draft_enrollments']:,} bank drafts, {g.past_due_accounts:,} accounts with a "
        f"past-due bill, and {len(outages)} active outage(s)"
        f"{': ' + ', '.join(outages) if outages else ''}."
    )
