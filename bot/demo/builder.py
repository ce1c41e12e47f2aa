"""Building demo rows: one `DemoBuilder` per run turns plans into member, account, contact,
payment-method, draft, bill, payment and usage rows, and a `DemoWriter` collects them with ids
assigned here and flushes them with executemany in foreign-key order.

The demo tariff (a monthly facility charge plus an energy rate) makes bills and daily usage agree;
money is integer cents and every timestamp is aware UTC.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from bot.demo.catalog import PHONE_AREA_CODES, PHONE_LINES
from bot.profile import CoopProfile
from bot.services.balance import BillingRules, late_fee_cents
from bot.services.drafts import authorization_text
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

# Demo tariff: a monthly facility charge plus an energy rate, so bills and daily usage agree.
FACILITY_CHARGE_CENTS = 3250
RATE_TENTHS_OF_CENT_PER_KWH = 119  # 11.9 cents per kWh
BILLS_PER_ACCOUNT = 12

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


def add_months(d: date, months: int, day: int | None = None) -> date:
    """`d` moved by whole months, on `day` (default d.day), clamped to the month's last day."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day or d.day, last))


def local_time(d: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    """A wall-clock time on `d` in `tz` (the profile's time zone) as an aware UTC datetime."""
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz).astimezone(UTC)


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
    kind: str = ""  # a saved method's kind and last four digits (drafts word them)
    last4: str = ""


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


class DemoWriter:
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


class DemoBuilder:
    """Builds the demo rows for one run; deterministic for (profile, seed, today, now).

    Business rules come from the co-op profile through the services that apply them: the late
    fee (`bot.services.balance.late_fee_cents`), the draft authorization wording
    (`bot.services.drafts.authorization_text`, the words a member agrees to in the chat), the due
    days, the draft days and the time zone every local time is in.
    """

    def __init__(
        self,
        writer: DemoWriter,
        profile: CoopProfile,
        seed: int,
        today: date,
        now: datetime,
        usage_days: int,
        existing_accounts: set[str],
        existing_values: set[str],
    ) -> None:
        self.w = writer
        self.profile = profile
        self.rules = BillingRules.from_profile(profile)
        self.due_days = profile.billing.due_days_after_billing
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
        # (period start, billing date, kWh) of every bill, per account: readings match them.
        self.billed_periods: dict[int, list[tuple[date, date, int]]] = {}
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

    def local_time(self, d: date, hour: int, minute: int = 0) -> datetime:
        """A wall-clock time on `d` in the co-op's time zone, as an aware UTC datetime."""
        return local_time(d, hour, minute, self.profile.timezone)

    def stamp(self, days_ago: int, hour: int = 10) -> datetime:
        return self.local_time(self.today - timedelta(days=days_ago), hour)

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
        return PaymentSource(method_id, f"{brand} ending {last4}", "web", "card", last4)

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
        return PaymentSource(method_id, f"{kind.capitalize()} ending {last4}", "web", kind, last4)

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
                "created_at": self.local_time(starts_on - timedelta(days=12), 11),
            },
        )
        text = authorization_text(
            self.profile,
            start_date=starts_on,
            draft_day=day,
            amount_rule=amount_rule,
            fixed_amount_cents=fixed_cents,
            account_last4=account_number[-4:],
            method_kind=method.kind,
            method_last4=method.last4,
        )
        self.w.add(
            "draft_authorizations",
            {
                "enrollment_id": enrollment_id,
                "action": "enroll",
                "text": text,
                "accepted_at": self.local_time(starts_on - timedelta(days=12), 11),
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
        rng = self.rng
        for k in sorted(plan.bill_ks, reverse=True):  # oldest first
            billing = add_months(plan.last_billing_date, -k)
            start = add_months(billing, -1)
            kwh = self._period_kwh(plan, start, billing)
            amount = plan.amount_overrides.get(k, FACILITY_CHARGE_CENTS + energy_cents(kwh * 100))
            if k in plan.amount_overrides:  # keep kWh plausible for a fixed amount
                kwh = max(1, (amount - FACILITY_CHARGE_CENTS) * 10 // RATE_TENTHS_OF_CENT_PER_KWH)
            self.billed_periods.setdefault(plan.account_id, []).append((start, billing, kwh))
            due = billing + timedelta(days=self.due_days)
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
                late_fee = late_fee_cents(amount, self.rules)
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
                    "created_at": self.local_time(billing, 6),
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
        when = self.local_time(on, 9 + payment_id % 8, (payment_id * 7) % 60)
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
        self._reconcile_with_bills(plan, rows)

    def _reconcile_with_bills(self, plan: AccountPlan, rows: list[dict[str, Any]]) -> None:
        """Make the daily readings of every billed period the readings fully cover add up to that
        bill's kWh (and their cost to its energy charge), so usage and bills never disagree about
        the same days. The day-to-day shape of the readings is kept; only their scale changes."""
        mine = {r["day"]: r for r in rows if r["account_id"] == plan.account_id}
        for start, end_exclusive, kwh in self.billed_periods.get(plan.account_id, []):
            days = [start + timedelta(days=i) for i in range((end_exclusive - start).days)]
            if not days or any(d not in mine for d in days):
                continue
            raw = [int(mine[d]["kwh"].scaleb(2)) for d in days]
            target, total = kwh * 100, sum(raw)
            scaled = [max(1, h * target // total) for h in raw]
            scaled[-1] += target - sum(scaled)  # the rounding rest on the last day
            for day, hundredths in zip(days, scaled, strict=True):
                mine[day]["kwh"] = Decimal(hundredths).scaleb(-2)
                mine[day]["cost_cents"] = energy_cents(hundredths)

    def finish_account(self, plan: AccountPlan) -> None:
        self.bills_and_payments(plan)
        self.usage(plan)

    def last_billing_date(self, billing_day: int) -> date:
        candidate = add_months(self.today, 0, billing_day)
        return candidate if candidate <= self.today else add_months(self.today, -1, billing_day)
