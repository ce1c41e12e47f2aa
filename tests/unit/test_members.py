"""The member data behind every account journey: saved-method labels, and the SQL member
services on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.sql_member_services import SqlMemberServices
from bot.services.balance import BillingRules
from bot.services.members import MemberServices, MethodRecord
from bot.store.models import (
    Bill,
    Contact,
    Member,
    Payment,
    PaymentMethod,
    UsageReading,
)
from tests.store import rows

TODAY = date(2026, 11, 28)
EASTERN = ZoneInfo("America/New_York")
RULES = BillingRules(timezone=EASTERN)


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


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
        home = rows.account(dana, "1000004821", paperless=True)
        shop = rows.account(marcus, "1000005578")
        house = rows.account(marcus, "1000005560")
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
        visa = rows.card(dana, "tok_sandbox_visa", holder_name="Dana Whitfield")
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

        def paid_with_visa(cents: int, key: str, confirmation: str, day: date) -> Payment:
            return rows.payment(
                home.id,
                cents,
                key,
                payment_method_id=visa.id,
                confirmation_number=confirmation,
                created_at=at(day),
                received_at=at(day),
            )

        s.add_all(
            [
                paid_with_visa(10110, "k1", "P-AAAAAA", date(2026, 10, 10)),
                paid_with_visa(11820, "k2", "P-BBBBBB", date(2026, 11, 12)),
                rows.payment(
                    home.id,
                    5000,
                    "k3",
                    status="declined",
                    channel="sms",
                    payment_method_id=visa.id,
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
            rows.payment(
                ids["home"],
                14287,
                "today",
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
