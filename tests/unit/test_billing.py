"""Balances and late fees as a member would hear them, usage figures, and the SQL member services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.sql_member_services import SqlMemberServices
from bot.services.balance import BillingRules, late_fee_cents, summarize_balance
from bot.services.members import (
    AccountRecord,
    BillRecord,
    MemberServices,
    MethodRecord,
    PaymentRecord,
    UsageDay,
)
from bot.services.usage import average_daily_cost_cents, compare_month, monthly_totals
from bot.store.models import (
    Account,
    Bill,
    Contact,
    Member,
    Payment,
    PaymentMethod,
    UsageReading,
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


# ---------------------------------------------------------------------------------------------
# Usage figures
# ---------------------------------------------------------------------------------------------


def _days(start: date, count: int, kwh: str, cost: int) -> list[UsageDay]:
    return [UsageDay(start + timedelta(days=i), Decimal(kwh), cost) for i in range(count)]


def test_monthly_totals_and_comparisons() -> None:
    days = (
        _days(date(2025, 11, 1), 30, "40.00", 520)
        + _days(date(2026, 10, 1), 31, "25.50", 330)
        + _days(date(2026, 11, 1), 30, "30.25", 401)
    )
    months = monthly_totals(days)
    assert [m.month for m in months] == [date(2025, 11, 1), date(2026, 10, 1), date(2026, 11, 1)]
    november = months[-1]
    assert (november.kwh, november.cost_cents, november.days) == (Decimal("907.50"), 12030, 30)
    assert november.label == "November 2026"

    comparison = compare_month(days, date(2026, 11, 17))
    assert comparison.last_month is not None and comparison.last_month.kwh == Decimal("790.50")
    assert comparison.last_year is not None and comparison.last_year.kwh == Decimal("1200.00")
    assert comparison.change_from_last_month_percent == Decimal("14.8")  # 907.5 / 790.5
    assert comparison.change_from_last_year_percent == Decimal("-24.4")


def test_comparison_without_history_says_so() -> None:
    comparison = compare_month(_days(date(2026, 11, 1), 3, "10", 100), date(2026, 11, 1))
    assert comparison.last_month is None and comparison.last_year is None
    assert comparison.change_from_last_month_percent is None


def test_january_compares_with_december_of_the_year_before() -> None:
    days = _days(date(2025, 12, 1), 31, "10", 100) + _days(date(2026, 1, 1), 31, "20", 200)
    comparison = compare_month(days, date(2026, 1, 5))
    assert comparison.last_month is not None and comparison.last_month.month == date(2025, 12, 1)
    assert comparison.change_from_last_month_percent == Decimal("100.0")


def test_average_daily_cost_rounds_half_up_to_the_cent() -> None:
    days = [UsageDay(date(2026, 11, d), Decimal(10), c) for d, c in [(1, 400), (2, 401)]]
    assert average_daily_cost_cents(days) == 401  # 400.5
    assert average_daily_cost_cents([]) == 0


def test_method_labels_name_the_brand_or_account_type() -> None:
    visa = MethodRecord(1, 1, "card", "Visa", "4242", 9, 2028)
    checking = MethodRecord(2, 1, "checking", "First Bank", "6120")
    assert visa.label == "Visa ending 4242"
    assert checking.label == "Checking ending 6120"
    assert visa.expired(date(2028, 9, 30)) is False
    assert visa.expired(date(2028, 10, 1)) is True
    assert checking.expired(date(2099, 1, 1)) is False


# ---------------------------------------------------------------------------------------------
# SqlMemberServices on a real database
# ---------------------------------------------------------------------------------------------


async def _seed(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with factory() as s:
        dana = Member(member_number="M1", first_name="Dana", last_name="Whitfield")
        marcus = Member(member_number="M2", first_name="Marcus", last_name="Reed")
        s.add_all([dana, marcus])
        await s.flush()
        home = Account(
            account_number="1000004821",
            member_id=dana.id,
            service_street="412 Mill St",
            service_town="Wrens",
            service_zip="30833",
            paperless=True,
        )
        shop = Account(
            account_number="1000005578",
            member_id=marcus.id,
            service_street="3400 Hwy 88",
            service_town="Blythe",
            service_zip="30805",
        )
        house = Account(
            account_number="1000005560",
            member_id=marcus.id,
            service_street="27 Broad St",
            service_town="Wrens",
            service_zip="30833",
        )
        s.add_all([home, shop, house])
        await s.flush()
        s.add_all(
            [
                Contact(
                    member_id=dana.id, kind="email", value="dana@example.com", is_verified=True
                ),
                Contact(
                    member_id=dana.id,
                    kind="phone",
                    value="+17065550101",
                    is_primary=True,
                    is_verified=True,
                ),
                Contact(member_id=marcus.id, kind="phone", value="+17065550104", is_primary=True),
            ]
        )
        for i, (billing, amount, paid) in enumerate(
            [
                (date(2026, 9, 28), 10110, True),
                (date(2026, 10, 28), 11820, True),
                (date(2026, 11, 27), 14287, False),
            ]
        ):
            s.add(
                Bill(
                    account_id=home.id,
                    period_start=billing - timedelta(days=30),
                    period_end=billing,
                    billing_date=billing,
                    due_date=billing + timedelta(days=15),
                    amount_cents=amount,
                    kwh=900 + i,
                    paid=paid,
                )
            )
        visa = PaymentMethod(
            member_id=dana.id,
            token="tok_sandbox_visa",
            kind="card",
            brand="Visa",
            last4="4242",
            exp_month=9,
            exp_year=2028,
            holder_name="Dana Whitfield",
        )
        old = PaymentMethod(
            member_id=dana.id,
            token="tok_sandbox_old",
            kind="checking",
            brand=None,
            last4="1111",
            is_active=False,
        )
        s.add_all([visa, old])
        await s.flush()
        s.add_all(
            [
                Payment(
                    account_id=home.id,
                    payment_method_id=visa.id,
                    amount_cents=10110,
                    method_label="Visa ending 4242",
                    status="succeeded",
                    idempotency_key="k1",
                    channel="web",
                    confirmation_number="P-AAAAAA",
                    created_at=at(date(2026, 10, 10)),
                    received_at=at(date(2026, 10, 10)),
                ),
                Payment(
                    account_id=home.id,
                    payment_method_id=visa.id,
                    amount_cents=11820,
                    method_label="Visa ending 4242",
                    status="succeeded",
                    idempotency_key="k2",
                    channel="web",
                    confirmation_number="P-BBBBBB",
                    created_at=at(date(2026, 11, 12)),
                    received_at=at(date(2026, 11, 12)),
                ),
                Payment(
                    account_id=home.id,
                    payment_method_id=visa.id,
                    amount_cents=5000,
                    method_label="Visa ending 4242",
                    status="declined",
                    idempotency_key="k3",
                    channel="sms",
                    failure_reason="card declined",
                    created_at=at(date(2026, 11, 28), 14),
                ),
            ]
        )
        for d in range(1, 31):
            s.add(
                UsageReading(
                    account_id=home.id, day=date(2026, 11, d), kwh=Decimal("30.50"), cost_cents=400
                )
            )
        await s.commit()
        return {
            "dana": dana.id,
            "marcus": marcus.id,
            "home": home.id,
            "shop": shop.id,
            "house": house.id,
        }


async def test_sql_member_services_finds_accounts_by_number_member_and_phone(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed(session_factory)
    services = SqlMemberServices(session_factory, RULES)
    assert isinstance(services, MemberServices)

    found = await services.find_account("1000-004821")
    assert found is not None
    assert (found.id, found.last4, found.member_first_name) == (ids["home"], "4821", "Dana")
    assert found.service_address == "412 Mill St, Wrens"
    assert found.paperless is True
    assert await services.find_account("1000009999") is None
    assert await services.find_account("not a number") is None

    marcus = await services.accounts_for_member(ids["marcus"])
    assert [a.account_number for a in marcus] == ["1000005560", "1000005578"]
    by_phone = await services.accounts_for_phone("+17065550104")
    assert [a.id for a in by_phone] == [ids["house"], ids["shop"]]
    assert await services.accounts_for_phone("+17065550199") == []


async def test_sql_member_services_balance_bills_payments_and_usage(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed(session_factory)
    services = SqlMemberServices(session_factory, RULES)

    balance = await services.balance(ids["home"], TODAY)
    assert balance.status == "current"
    assert balance.amount_due_cents == 14287
    assert balance.due_date == date(2026, 12, 12)
    assert balance.last_payment is not None
    assert (balance.last_payment.amount_cents, balance.last_payment.received_on) == (
        11820,
        date(2026, 11, 12),
    )
    assert (await services.balance(ids["shop"], TODAY)).status == "no_bills"

    bills = await services.bills(ids["home"], limit=2)
    assert [b.amount_cents for b in bills] == [14287, 11820]
    payments = await services.payments(ids["home"])
    assert [(p.amount_cents, p.status) for p in payments] == [
        (5000, "declined"),
        (11820, "succeeded"),
        (10110, "succeeded"),
    ]

    usage = await services.usage(ids["home"], date(2026, 11, 10), date(2026, 11, 19))
    assert [u.day.day for u in usage] == list(range(10, 20))
    assert usage[0].kwh == Decimal("30.50") and usage[0].cost_cents == 400


async def test_sql_balance_credits_a_payment_taken_after_the_bill(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed(session_factory)
    async with session_factory() as s:
        s.add(
            Payment(
                account_id=ids["home"],
                amount_cents=14287,
                method_label="Visa ending 4242",
                status="succeeded",
                idempotency_key="today",
                channel="sms",
                confirmation_number="P-CCCCCC",
                created_at=at(TODAY),
                received_at=at(TODAY),
            )
        )
        await s.commit()
    balance = await SqlMemberServices(session_factory, RULES).balance(ids["home"], TODAY)
    assert (balance.amount_due_cents, balance.status) == (0, "paid_up")
    assert balance.last_payment is not None and balance.last_payment.received_on == TODAY


async def test_sql_member_services_contacts_and_saved_methods(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed(session_factory)
    services = SqlMemberServices(session_factory, RULES)
    contacts = await services.member_contacts(ids["dana"])
    assert [(c.kind, c.value) for c in contacts] == [
        ("phone", "+17065550101"),
        ("email", "dana@example.com"),
    ]
    methods = await services.saved_methods(ids["dana"])
    assert [m.label for m in methods] == ["Visa ending 4242"]  # the inactive checking is left out
    assert not hasattr(methods[0], "token")
    assert await services.saved_methods(ids["marcus"]) == []
