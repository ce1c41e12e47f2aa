"""Balances, late fees, usage figures and the member-services interface to the billing system.

Three layers, each usable on its own:

1. **Pure rules** (`late_fee_cents`, `summarize_balance`, the usage helpers): plain data in, plain
   data out, no database, no clock. The conversation and the tests call them directly.
2. **`MemberServices`**: the interface the assistant uses to read a member's accounts, bills,
   payments, usage, contacts and saved payment methods. A co-op that keeps its billing system of
   record elsewhere implements this Protocol as an adapter; nothing else in the assistant changes.
3. **`SqlMemberServices`**: the default implementation over our own database (the demo data or a
   co-op's imported export).

The balance rule (what `summarize_balance` computes, and what a live adapter should reproduce):

- *Open bills* are the bills not marked paid. The billing system marks a bill paid when payments
  covering it *post*; a payment taken by the assistant does not mark bills paid itself.
- An open bill is **past due** when its due date is before `today`; otherwise it is **current**.
  The *current bill* is the newest open bill not yet due; its due date is the summary's `due_date`.
- The **late fee** is the penalty on the past-due bills: if the billing system recorded one on a
  past-due bill (`BillRecord.late_fee_cents`), the recorded figure is used; otherwise the co-op's
  rule (`late_fee_cents`) applied to the past-due bill amounts. It is part of the amount due, not
  of `past_due_cents`, and a payment made after the due date does not undo it.
- **Unposted payments** are payments with status `succeeded` received (local date) on or after
  the billing date of the oldest open bill: they cannot have been applied to that bill yet. They
  are credited oldest bill first, so they reduce `past_due_cents` before the current bill.
  `pending` payments (a charge still waiting for the processor's answer) are *not* credited: they
  may yet be declined. With no open bills, nothing is credited (every payment has posted).
- `amount_due_cents` = open bill amounts + late fee - unposted payments; negative means a credit.
- `status` is `no_bills`, `credit`, `past_due`, `current` or `paid_up` (see `BalanceStatus`).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.money import percent_of
from bot.store.models import Account, Bill, Contact, Member, Payment, PaymentMethod, UsageReading

DEFAULT_TIMEZONE = "America/New_York"

# --------------------------------------------------------------------------------------------
# Records: what MemberServices returns. Plain, frozen dataclasses; no ORM object ever leaks out.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRecord:
    """One service account. `status` is `active`, `disconnected` or `final` (closed)."""

    id: int
    account_number: str
    member_id: int
    status: str
    service_street: str
    service_town: str
    service_zip: str
    member_first_name: str = ""
    member_last_name: str = ""
    paperless: bool = False
    levelized_billing: bool = False

    @property
    def last4(self) -> str:
        return self.account_number[-4:]

    @property
    def service_address(self) -> str:
        """`412 Mill St, Wrens`: how the assistant names the place, never with the ZIP."""
        return f"{self.service_street}, {self.service_town}"


@dataclass(frozen=True)
class BillRecord:
    id: int
    account_id: int
    period_start: date
    period_end: date
    billing_date: date
    due_date: date
    amount_cents: int
    kwh: int
    late_fee_cents: int = 0
    paid: bool = False


PaymentStatus = Literal["pending", "succeeded", "declined", "failed"]


@dataclass(frozen=True)
class PaymentRecord:
    """A payment attempt. `received_at` is set once the money was accepted (status succeeded)."""

    id: int
    account_id: int
    amount_cents: int
    method_label: str
    status: str
    channel: str
    created_at: datetime
    received_at: datetime | None = None
    confirmation_number: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class UsageDay:
    day: date
    kwh: Decimal
    cost_cents: int


@dataclass(frozen=True)
class ContactRecord:
    """A phone (E.164) or email on file. Show it masked to members; it is the OTP destination."""

    id: int
    kind: str  # phone|email
    value: str
    is_primary: bool
    is_verified: bool


@dataclass(frozen=True)
class MethodRecord:
    """A saved payment method as the conversation may see it: no token, never a full number."""

    id: int
    member_id: int
    kind: str  # card|checking|savings
    brand: str | None
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None
    is_active: bool = True

    @property
    def label(self) -> str:
        """`Visa ending 4242`, `Checking ending 6120`."""
        return method_label(self.kind, self.brand, self.last4)

    def expired(self, today: date) -> bool:
        """A card is good through the last day of its expiry month; bank accounts never expire."""
        if self.exp_month is None or self.exp_year is None:
            return False
        return (today.year, today.month) > (self.exp_year, self.exp_month)


def method_label(kind: str, brand: str | None, last4: str) -> str:
    """The one wording of a payment method used everywhere (conversation, receipts, audit)."""
    if kind == "card":
        return f"{brand or 'Card'} ending {last4}"
    return f"{kind.capitalize()} ending {last4}"


# --------------------------------------------------------------------------------------------
# Rules from the profile
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingRules:
    """The billing terms the balance rules need, taken from the co-op profile's `billing` section."""

    late_fee_threshold_cents: int = 2500
    late_fee_percent: Decimal = Decimal(5)
    late_fee_minimum_cents: int = 300
    disconnect_rule: str = (
        "An unpaid bill can lead to disconnection if it is still unpaid at the next meter reading."
    )
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_profile(cls, profile: Any) -> BillingRules:
        """Build from a `bot.profile.CoopProfile` (duck-typed, so this module does not import it)."""
        billing = profile.billing
        coop = getattr(profile, "coop", None)
        return cls(
            late_fee_threshold_cents=int(billing.late_fee_threshold_cents),
            late_fee_percent=Decimal(billing.late_fee_percent),
            late_fee_minimum_cents=int(billing.late_fee_minimum_cents),
            disconnect_rule=str(billing.disconnect_rule),
            timezone=str(getattr(coop, "timezone", None) or DEFAULT_TIMEZONE),
        )


def late_fee_cents(past_due_cents: int, rules: BillingRules) -> int:
    """The late penalty for a past-due balance.

    Only a balance strictly *over* the threshold gets a fee ($25.00 exactly gets none); the fee is
    `late_fee_percent` of the balance, rounded half up to the cent, but never less than the minimum.
    """
    if past_due_cents <= rules.late_fee_threshold_cents:
        return 0
    return max(percent_of(past_due_cents, rules.late_fee_percent), rules.late_fee_minimum_cents)


# --------------------------------------------------------------------------------------------
# Balance summary
# --------------------------------------------------------------------------------------------

BalanceStatus = Literal["no_bills", "credit", "past_due", "current", "paid_up"]


@dataclass(frozen=True)
class LastPayment:
    amount_cents: int
    received_on: date  # local date
    method_label: str


@dataclass(frozen=True)
class BalanceSummary:
    """What the assistant tells a verified member about one account. See the module docstring."""

    account_last4: str
    service_address: str
    amount_due_cents: int  # negative: a credit
    due_date: date | None  # the current bill's due date; None when nothing is current
    current_cents: int  # open bills not yet due
    past_due_cents: int  # open bills past their due date, less unposted payments
    late_fee_cents: int
    unposted_payments_cents: int
    disconnection_note: str | None  # the co-op's disconnect rule, only when something is past due
    last_payment: LastPayment | None
    status: BalanceStatus
    open_bill_ids: tuple[int, ...] = field(default=())

    @property
    def credit_cents(self) -> int:
        return max(0, -self.amount_due_cents)

    @property
    def past_due_with_fee_cents(self) -> int:
        """What "pay the past-due part" should offer: the past-due bills plus the late fee."""
        return self.past_due_cents + self.late_fee_cents if self.past_due_cents > 0 else 0


def local_date(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use an aware datetime")
    return moment.astimezone(ZoneInfo(tz)).date()


def summarize_balance(
    bills: Iterable[BillRecord],
    payments: Iterable[PaymentRecord],
    today: date,
    rules: BillingRules,
    *,
    account: AccountRecord,
) -> BalanceSummary:
    """Apply the balance rule of the module docstring to one account's bills and payments.

    `bills` must include every open bill and at least one bill if the account has any (paid ones
    only tell "paid up" from "no bills yet"); `payments` every succeeded payment since the oldest
    open bill was issued plus the most recent succeeded one (for `last_payment`).
    """
    bills = list(bills)
    open_bills = sorted((b for b in bills if not b.paid), key=lambda b: (b.billing_date, b.id))
    succeeded = [p for p in payments if p.status == "succeeded" and p.received_at is not None]

    last = max(succeeded, key=lambda p: p.received_at, default=None)  # type: ignore[arg-type,return-value]
    last_payment = (
        LastPayment(
            last.amount_cents, local_date(last.received_at, rules.timezone), last.method_label
        )  # type: ignore[arg-type]
        if last is not None
        else None
    )

    past_due_bills = [b for b in open_bills if b.due_date < today]
    current_bills = [b for b in open_bills if b.due_date >= today]
    past_due_gross = sum(b.amount_cents for b in past_due_bills)
    current_gross = sum(b.amount_cents for b in current_bills)

    recorded_fee = sum(b.late_fee_cents for b in past_due_bills)
    fee = recorded_fee if recorded_fee > 0 else late_fee_cents(past_due_gross, rules)

    unposted = 0
    if open_bills:
        since = open_bills[0].billing_date
        unposted = sum(
            p.amount_cents
            for p in succeeded
            if local_date(p.received_at, rules.timezone) >= since  # type: ignore[arg-type]
        )

    amount_due = past_due_gross + fee + current_gross - unposted
    past_due = max(0, past_due_gross - unposted)
    current = max(0, current_gross - max(0, unposted - past_due_gross - fee))

    status: BalanceStatus
    if not bills:
        status = "no_bills"
    elif amount_due < 0:
        status = "credit"
    elif past_due > 0:
        status = "past_due"
    elif amount_due > 0:
        status = "current"
    else:
        status = "paid_up"

    return BalanceSummary(
        account_last4=account.last4,
        service_address=account.service_address,
        amount_due_cents=amount_due,
        due_date=current_bills[-1].due_date if current_bills else None,
        current_cents=current,
        past_due_cents=past_due,
        late_fee_cents=fee,
        unposted_payments_cents=unposted,
        disconnection_note=rules.disconnect_rule if past_due > 0 else None,
        last_payment=last_payment,
        status=status,
        open_bill_ids=tuple(b.id for b in open_bills),
    )


# --------------------------------------------------------------------------------------------
# Usage figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUsage:
    month: date  # the first day of the month
    kwh: Decimal
    cost_cents: int
    days: int  # days with a reading

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")


@dataclass(frozen=True)
class UsageComparison:
    """A month next to the month before and the same month a year earlier (None when missing)."""

    month: MonthUsage | None
    last_month: MonthUsage | None
    last_year: MonthUsage | None

    @property
    def change_from_last_month_percent(self) -> Decimal | None:
        return _change_percent(self.month, self.last_month)

    @property
    def change_from_last_year_percent(self) -> Decimal | None:
        return _change_percent(self.month, self.last_year)


def _change_percent(now: MonthUsage | None, before: MonthUsage | None) -> Decimal | None:
    """kWh change in percent, one decimal place; None when either month is missing or zero."""
    if now is None or before is None or before.kwh == 0:
        return None
    return ((now.kwh - before.kwh) * 100 / before.kwh).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def monthly_totals(days: Iterable[UsageDay]) -> list[MonthUsage]:
    """Daily readings grouped by calendar month, oldest month first."""
    totals: dict[date, tuple[Decimal, int, int]] = {}
    for d in days:
        key = d.day.replace(day=1)
        kwh, cost, count = totals.get(key, (Decimal(0), 0, 0))
        totals[key] = (kwh + Decimal(d.kwh), cost + d.cost_cents, count + 1)
    return [
        MonthUsage(month, kwh, cost, count) for month, (kwh, cost, count) in sorted(totals.items())
    ]


def _shift_month(month: date, delta: int) -> date:
    index = month.year * 12 + (month.month - 1) + delta
    return date(index // 12, index % 12 + 1, 1)


def compare_month(days: Iterable[UsageDay], month: date) -> UsageComparison:
    """Usage of `month` (any day in it) against the previous month and the same month last year."""
    by_month = {m.month: m for m in monthly_totals(days)}
    first = month.replace(day=1)
    return UsageComparison(
        month=by_month.get(first),
        last_month=by_month.get(_shift_month(first, -1)),
        last_year=by_month.get(_shift_month(first, -12)),
    )


def average_daily_cost_cents(days: Sequence[UsageDay]) -> int:
    """Mean cost per day with a reading, rounded half up to the cent; 0 with no readings."""
    if not days:
        return 0
    total = Decimal(sum(d.cost_cents for d in days))
    return int((total / len(days)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month containing `month` (for `MemberServices.usage`)."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


# --------------------------------------------------------------------------------------------
# The member-services interface
# --------------------------------------------------------------------------------------------


@runtime_checkable
class MemberServices(Protocol):
    """How the assistant reads a member's records from the co-op's billing system.

    For IT staff writing a live adapter (for example over the billing vendor's REST API):

    - Every method is `async` and must not block the event loop: use an async HTTP client with a
      timeout (aiohttp) or run blocking client code in a thread. Raise an exception on an outage
      of the billing system; the assistant apologises and offers the phone line. Never return
      partial data silently.
    - Return only the record dataclasses of this module; copy what you need from your system's
      objects. Never put a full card or bank account number, CVV or processor secret in them.
    - Amounts are integer cents; dates are `date` in the co-op's local time; timestamps are
      timezone-aware `datetime`.
    - `find_account` returns None for an unknown number; the assistant never tells the member
      which part of their answer was wrong, so do not raise a distinct error for "not found".
    - Account ids (`AccountRecord.id`) and member ids are your system's stable keys, opaque to the
      assistant; it only passes them back to you.
    - `balance` must follow the balance rule in this module's docstring; the simplest correct
      adapter fetches bills and payments and calls `summarize_balance`. If your system computes
      the balance itself, map its figures onto `BalanceSummary` field by field.
    """

    async def find_account(self, account_number: str) -> AccountRecord | None:
        """The account with this 10-digit number (spaces and dashes ignored), or None."""
        ...

    async def accounts_for_member(self, member_id: int) -> list[AccountRecord]:
        """Every account the member holds, by account number."""
        ...

    async def accounts_for_phone(self, e164: str) -> list[AccountRecord]:
        """Accounts of members with this phone (E.164, e.g. `+17065550101`) on file."""
        ...

    async def balance(self, account_id: int, today: date) -> BalanceSummary:
        """The balance summary as of `today` (local date)."""
        ...

    async def bills(self, account_id: int, limit: int = 12) -> list[BillRecord]:
        """The most recent bills, newest first."""
        ...

    async def payments(self, account_id: int, limit: int = 10) -> list[PaymentRecord]:
        """The most recent payment attempts of any status, newest first."""
        ...

    async def usage(self, account_id: int, start: date, end: date) -> list[UsageDay]:
        """Daily readings from `start` to `end` inclusive, oldest first; missing days are absent."""
        ...

    async def member_contacts(self, member_id: int) -> list[ContactRecord]:
        """Phones and emails on file, primary first."""
        ...

    async def saved_methods(self, member_id: int) -> list[MethodRecord]:
        """Active saved payment methods (expired cards included; the caller decides)."""
        ...


# --------------------------------------------------------------------------------------------
# The default implementation over our database
# --------------------------------------------------------------------------------------------


def _account_record(account: Account, member: Member | None = None) -> AccountRecord:
    return AccountRecord(
        id=account.id,
        account_number=account.account_number,
        member_id=account.member_id,
        status=account.status,
        service_street=account.service_street,
        service_town=account.service_town,
        service_zip=account.service_zip,
        member_first_name=member.first_name if member else "",
        member_last_name=member.last_name if member else "",
        paperless=bool(account.paperless),
        levelized_billing=bool(account.levelized_billing),
    )


def bill_record(bill: Bill) -> BillRecord:
    return BillRecord(
        id=bill.id,
        account_id=bill.account_id,
        period_start=bill.period_start,
        period_end=bill.period_end,
        billing_date=bill.billing_date,
        due_date=bill.due_date,
        amount_cents=bill.amount_cents,
        kwh=bill.kwh,
        late_fee_cents=bill.late_fee_cents or 0,
        paid=bool(bill.paid),
    )


def payment_record(payment: Payment) -> PaymentRecord:
    return PaymentRecord(
        id=payment.id,
        account_id=payment.account_id,
        amount_cents=payment.amount_cents,
        method_label=payment.method_label,
        status=payment.status,
        channel=payment.channel,
        created_at=payment.created_at,
        received_at=payment.received_at,
        confirmation_number=payment.confirmation_number,
        failure_reason=payment.failure_reason,
    )


def method_record(method: PaymentMethod) -> MethodRecord:
    return MethodRecord(
        id=method.id,
        member_id=method.member_id,
        kind=method.kind,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        holder_name=method.holder_name,
        is_active=bool(method.is_active),
    )


def normalize_account_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch not in " -")


class SqlMemberServices:
    """`MemberServices` over our own database, with the async engine.

    Each call opens its own short session from `session_factory` and closes it before returning,
    so concurrent conversations never share a session or a transaction.
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], rules: BillingRules | None = None
    ):
        self._sessions = session_factory
        self._rules = rules or BillingRules()

    async def find_account(self, account_number: str) -> AccountRecord | None:
        number = normalize_account_number(account_number)
        if not number.isdigit():
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Account, Member)
                    .join(Member, Member.id == Account.member_id)
                    .where(Account.account_number == number)
                )
            ).first()
            return _account_record(row[0], row[1]) if row else None

    async def account(self, account_id: int) -> AccountRecord | None:
        """The account with this id, or None (not part of the Protocol; a convenience)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Account, Member)
                    .join(Member, Member.id == Account.member_id)
                    .where(Account.id == account_id)
                )
            ).first()
            return _account_record(row[0], row[1]) if row else None

    async def accounts_for_member(self, member_id: int) -> list[AccountRecord]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Account, Member)
                .join(Member, Member.id == Account.member_id)
                .where(Account.member_id == member_id)
                .order_by(Account.account_number)
            )
            return [_account_record(a, m) for a, m in rows]

    async def accounts_for_phone(self, e164: str) -> list[AccountRecord]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Account, Member)
                .join(Member, Member.id == Account.member_id)
                .join(Contact, Contact.member_id == Member.id)
                .where(Contact.kind == "phone", Contact.value == e164)
                .order_by(Account.account_number)
                .distinct()
            )
            return [_account_record(a, m) for a, m in rows]

    async def balance(self, account_id: int, today: date) -> BalanceSummary:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Account, Member)
                    .join(Member, Member.id == Account.member_id)
                    .where(Account.id == account_id)
                )
            ).first()
            if row is None:
                raise LookupError(f"no account with id {account_id}")
            account = _account_record(row[0], row[1])
            open_bills = [
                bill_record(b)
                for b in (
                    await session.scalars(
                        select(Bill).where(Bill.account_id == account_id, Bill.paid.is_(False))
                    )
                )
            ]
            newest = await session.scalar(
                select(Bill)
                .where(Bill.account_id == account_id)
                .order_by(Bill.billing_date.desc())
                .limit(1)
            )
            bills = open_bills + (
                [bill_record(newest)] if newest is not None and newest.paid else []
            )
            succeeded = select(Payment).where(
                Payment.account_id == account_id,
                Payment.status == "succeeded",
                Payment.received_at.is_not(None),
            )
            payments: dict[int, PaymentRecord] = {}
            last = await session.scalar(
                succeeded.order_by(Payment.received_at.desc(), Payment.id.desc()).limit(1)
            )
            if last is not None:
                payments[last.id] = payment_record(last)
            if open_bills:
                # A day early in UTC so no local-time payment on the billing date is missed; the
                # exact local-date comparison happens in summarize_balance.
                oldest = min(b.billing_date for b in open_bills)
                since = datetime.combine(
                    oldest - timedelta(days=1), datetime.min.time(), ZoneInfo("UTC")
                )
                for p in await session.scalars(succeeded.where(Payment.received_at >= since)):
                    payments[p.id] = payment_record(p)
        return summarize_balance(bills, payments.values(), today, self._rules, account=account)

    async def bills(self, account_id: int, limit: int = 12) -> list[BillRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Bill)
                .where(Bill.account_id == account_id)
                .order_by(Bill.billing_date.desc())
                .limit(limit)
            )
            return [bill_record(b) for b in rows]

    async def payments(self, account_id: int, limit: int = 10) -> list[PaymentRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Payment)
                .where(Payment.account_id == account_id)
                .order_by(
                    func.coalesce(Payment.received_at, Payment.created_at).desc(), Payment.id.desc()
                )
                .limit(limit)
            )
            return [payment_record(p) for p in rows]

    async def usage(self, account_id: int, start: date, end: date) -> list[UsageDay]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UsageReading)
                .where(
                    UsageReading.account_id == account_id,
                    UsageReading.day >= start,
                    UsageReading.day <= end,
                )
                .order_by(UsageReading.day)
            )
            return [UsageDay(r.day, Decimal(r.kwh), r.cost_cents) for r in rows]

    async def member_contacts(self, member_id: int) -> list[ContactRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Contact)
                .where(Contact.member_id == member_id)
                .order_by(Contact.is_primary.desc(), Contact.id)
            )
            return [
                ContactRecord(c.id, c.kind, c.value, bool(c.is_primary), bool(c.is_verified))
                for c in rows
            ]

    async def saved_methods(self, member_id: int) -> list[MethodRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(PaymentMethod)
                .where(PaymentMethod.member_id == member_id, PaymentMethod.is_active.is_(True))
                .order_by(PaymentMethod.id)
            )
            return [method_record(m) for m in rows]


__all__ = [
    "AccountRecord",
    "BalanceSummary",
    "BillRecord",
    "BillingRules",
    "ContactRecord",
    "LastPayment",
    "MemberServices",
    "MethodRecord",
    "MonthUsage",
    "PaymentRecord",
    "SqlMemberServices",
    "UsageComparison",
    "UsageDay",
    "average_daily_cost_cents",
    "compare_month",
    "late_fee_cents",
    "method_label",
    "month_bounds",
    "monthly_totals",
    "summarize_balance",
]
