"""Balances and late fees: pure rules, plain data in and out, no database, no clock.

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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from bot.core.dates import local_date
from bot.core.money import percent_of
from bot.profile import CoopProfile

if TYPE_CHECKING:
    from bot.services.members import AccountRecord, BillRecord, PaymentRecord


@dataclass(frozen=True)
class BillingRules:
    """The billing terms the balance rules need, from the co-op profile's `billing` section."""

    late_fee_threshold_cents: int = 2500
    late_fee_percent: Decimal = Decimal(5)
    late_fee_minimum_cents: int = 300
    disconnect_rule: str = (
        "An unpaid bill can lead to disconnection if it is still unpaid at the next meter reading."
    )
    timezone: tzinfo = UTC  # always the profile's in the assistant; tests may set their own

    @classmethod
    def from_profile(cls, profile: CoopProfile) -> BillingRules:
        billing = profile.billing
        return cls(
            late_fee_threshold_cents=billing.late_fee_threshold_cents,
            late_fee_percent=billing.late_fee_percent,
            late_fee_minimum_cents=billing.late_fee_minimum_cents,
            disconnect_rule=billing.disconnect_rule,
            timezone=profile.timezone,
        )


def late_fee_cents(past_due_cents: int, rules: BillingRules) -> int:
    """The late penalty for a past-due balance.

    Only a balance strictly *over* the threshold gets a fee ($25.00 exactly gets none); the fee is
    `late_fee_percent` of the balance, rounded half up to the cent, but never less than the minimum.
    """
    if past_due_cents <= rules.late_fee_threshold_cents:
        return 0
    return max(percent_of(past_due_cents, rules.late_fee_percent), rules.late_fee_minimum_cents)


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


def summarize_balance(
    bills: Iterable[BillRecord],
    payments: Iterable[PaymentRecord],
    today: date,
    rules: BillingRules,
    *,
    account: AccountRecord,
) -> BalanceSummary:
    """Apply the balance rule (module docstring) to one account's bills and payments.

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
