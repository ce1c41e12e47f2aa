"""Balances and late fees as a member would hear them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.services.balance import BillingRules, late_fee_cents, summarize_balance
from bot.services.members import (
    AccountRecord,
    BillRecord,
    PaymentRecord,
)

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "jec.yml"
TODAY = date(2026, 11, 28)
EASTERN = ZoneInfo("America/New_York")
RULES = BillingRules(timezone=EASTERN)
ACCOUNT = AccountRecord(
    id=1,
    account_number="1000007315",
    member_id=1,
    status="active",
    service_street="88 Church St",
    service_town="Louisville",
    service_zip="30434",
)


def bill(
    bid: int, billing: date, amount: int, *, paid: bool = False, fee: int = 0, due_days: int = 15
) -> BillRecord:
    return BillRecord(
        id=bid,
        account_id=1,
        period_start=billing - timedelta(days=30),
        period_end=billing - timedelta(days=1),
        billing_date=billing,
        due_date=billing + timedelta(days=due_days),
        amount_cents=amount,
        kwh=900,
        late_fee_cents=fee,
        paid=paid,
    )


def payment(
    pid: int, amount: int, received: datetime | None, status: str = "succeeded"
) -> PaymentRecord:
    return PaymentRecord(
        id=pid,
        account_id=1,
        amount_cents=amount,
        method_label="Visa ending 4242",
        status=status,
        channel="web",
        created_at=received or datetime(2026, 11, 28, 15, tzinfo=UTC),
        received_at=received,
        confirmation_number="P-ABCDEF" if status == "succeeded" else None,
    )


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Late fee rule
# ---------------------------------------------------------------------------------------------


def test_past_due_of_exactly_25_dollars_gets_no_late_fee() -> None:
    assert late_fee_cents(2500, RULES) == 0
    assert late_fee_cents(0, RULES) == 0


def test_one_cent_over_the_threshold_gets_the_3_dollar_minimum() -> None:
    assert late_fee_cents(2501, RULES) == 300


def test_larger_balances_get_five_percent() -> None:
    assert late_fee_cents(10000, RULES) == 500
    assert late_fee_cents(6000, RULES) == 300  # 5% is exactly the minimum
    assert late_fee_cents(6001, RULES) == 300  # 300.05 rounds to 300
    assert late_fee_cents(6010, RULES) == 301  # 300.5 rounds half up


def test_rules_come_from_the_jec_profile() -> None:
    from bot.profile import load_profile

    rules = BillingRules.from_profile(load_profile(PROFILE))
    assert rules.late_fee_threshold_cents == 2500
    assert rules.late_fee_minimum_cents == 300
    assert rules.late_fee_percent == Decimal(5)
    assert "next meter reading" in rules.disconnect_rule
    assert str(rules.timezone) == "America/New_York"
    assert late_fee_cents(2501, rules) == 300
    assert late_fee_cents(10000, rules) == 500


# ---------------------------------------------------------------------------------------------
# Balance summary
# ---------------------------------------------------------------------------------------------


def test_current_bill_only() -> None:
    bills = [bill(1, date(2026, 10, 28), 11820, paid=True), bill(2, date(2026, 11, 27), 14287)]
    payments = [payment(1, 11820, at(date(2026, 11, 12)))]
    s = summarize_balance(bills, payments, TODAY, RULES, account=ACCOUNT)
    assert s.status == "current"
    assert s.amount_due_cents == 14287
    assert s.due_date == date(2026, 12, 12)
    assert (s.past_due_cents, s.late_fee_cents, s.disconnection_note) == (0, 0, None)
    assert s.account_last4 == "7315"
    assert s.service_address == "88 Church St, Louisville"
    assert s.last_payment is not None
    assert (s.last_payment.amount_cents, s.last_payment.received_on) == (11820, date(2026, 11, 12))
    assert s.last_payment.method_label == "Visa ending 4242"


def test_past_due_bill_adds_the_late_fee_and_the_disconnection_note() -> None:
    bills = [bill(1, date(2026, 10, 28), 3810), bill(2, date(2026, 11, 20), 9655)]
    s = summarize_balance(bills, [], TODAY, RULES, account=ACCOUNT)
    assert s.status == "past_due"
    assert s.past_due_cents == 3810
    assert s.late_fee_cents == 300
    assert s.current_cents == 9655
    assert s.amount_due_cents == 3810 + 300 + 9655
    assert s.past_due_with_fee_cents == 4110
    assert s.due_date == date(2026, 12, 5)
    assert s.disconnection_note == RULES.disconnect_rule
    assert s.last_payment is None


def test_a_bill_due_today_is_not_yet_past_due() -> None:
    s = summarize_balance(
        [bill(1, TODAY - timedelta(days=15), 5000)], [], TODAY, RULES, account=ACCOUNT
    )
    assert s.status == "current"
    assert s.due_date == TODAY
    assert s.late_fee_cents == 0


def test_a_late_fee_recorded_by_the_billing_system_wins_over_the_rule() -> None:
    s = summarize_balance(
        [bill(1, date(2026, 10, 28), 3810, fee=191)], [], TODAY, RULES, account=ACCOUNT
    )
    assert s.late_fee_cents == 191
    assert s.amount_due_cents == 4001


def test_small_past_due_balance_has_no_fee_but_still_the_disconnection_note() -> None:
    s = summarize_balance([bill(1, date(2026, 10, 28), 2500)], [], TODAY, RULES, account=ACCOUNT)
    assert (s.status, s.late_fee_cents, s.amount_due_cents) == ("past_due", 0, 2500)
    assert s.disconnection_note is not None


def test_unposted_payment_is_credited_to_the_past_due_part_first() -> None:
    bills = [bill(1, date(2026, 10, 28), 3810), bill(2, date(2026, 11, 20), 9655)]
    s = summarize_balance(bills, [payment(1, 5000, at(TODAY))], TODAY, RULES, account=ACCOUNT)
    assert s.past_due_cents == 0
    assert s.disconnection_note is None
    assert s.late_fee_cents == 300  # paying late does not undo the penalty
    assert s.unposted_payments_cents == 5000
    assert s.amount_due_cents == 3810 + 300 + 9655 - 5000
    assert s.current_cents == 9655 - (5000 - 3810 - 300)
    assert s.status == "current"


def test_paying_the_current_bill_today_leaves_nothing_due_before_it_posts() -> None:
    bills = [bill(1, date(2026, 11, 27), 14287)]
    payments = [
        payment(1, 14287, at(TODAY)),
        payment(2, 14287, None, status="pending"),  # still with the processor: not credited
        payment(3, 14287, None, status="declined"),
    ]
    s = summarize_balance(bills, payments, TODAY, RULES, account=ACCOUNT)
    assert (s.amount_due_cents, s.status, s.unposted_payments_cents) == (0, "paid_up", 14287)
    assert s.last_payment is not None and s.last_payment.received_on == TODAY


def test_overpayment_shows_a_credit() -> None:
    bills = [bill(1, date(2026, 11, 27), 14287)]
    s = summarize_balance(bills, [payment(1, 20000, at(TODAY))], TODAY, RULES, account=ACCOUNT)
    assert s.status == "credit"
    assert s.amount_due_cents == -5713
    assert s.credit_cents == 5713
    assert s.current_cents == 0


def test_payments_before_the_oldest_open_bill_were_already_posted() -> None:
    # Received 22:00 on Nov 26 in Georgia (03:00 UTC on the 27th), the day before the bill.
    received = datetime(2026, 11, 27, 3, tzinfo=UTC)
    s = summarize_balance(
        [bill(1, date(2026, 11, 27), 14287)],
        [payment(1, 11820, received)],
        TODAY,
        RULES,
        account=ACCOUNT,
    )
    assert s.amount_due_cents == 14287
    assert s.unposted_payments_cents == 0


def test_no_bills_yet() -> None:
    s = summarize_balance([], [], TODAY, RULES, account=ACCOUNT)
    assert s.status == "no_bills"
    assert (s.amount_due_cents, s.due_date, s.last_payment) == (0, None, None)


def test_everything_paid() -> None:
    bills = [bill(1, date(2026, 10, 28), 11820, paid=True)]
    s = summarize_balance(
        bills, [payment(1, 11820, at(date(2026, 11, 12)))], TODAY, RULES, account=ACCOUNT
    )
    assert (s.status, s.amount_due_cents, s.unposted_payments_cents) == ("paid_up", 0, 0)
