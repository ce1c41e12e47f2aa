"""Payments: limits, saved methods, idempotency (also under concurrency), declines and errors."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.sandbox_processor import SandboxProcessor
from bot.adapters.sql_member_services import SqlMemberServices
from bot.services.balance import BillingRules
from bot.services.payment_processor import (
    CardToken,
    PaymentProcessor,
    ProcessorResult,
    TokenizeError,
)
from bot.services.payment_rules import PaymentRules, amount_warning, check_amount, posting_estimate
from bot.services.payments import (
    CONFIRMATION_ALPHABET,
    DECLINE_MESSAGE,
    ERROR_MESSAGE,
    PaymentService,
)
from bot.store.db import async_session_factory, make_async_engine
from bot.store.models import AuditEntry, Member, Payment, PaymentMethod
from tests.store import rows

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "jec.yml"
NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # Saturday 10:30 AM in Georgia
CONFIRMATION = re.compile(rf"^P-[{CONFIRMATION_ALPHABET}]{{6}}$")
EASTERN = ZoneInfo("America/New_York")
RULES = PaymentRules(minimum_cents=100, maximum_cents=500_000, timezone=EASTERN)


async def seed(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Dana (active account, Visa, declining card, erroring card, inactive and expired methods),
    her closed old account, and Earl with his own checking account."""
    async with factory() as s:
        dana = Member(member_number="M1", first_name="Dana", last_name="Whitfield")
        earl = Member(member_number="M2", first_name="Earl", last_name="Hardeman")
        s.add_all([dana, earl])
        await s.flush()
        home = rows.account(dana, "1000004821")
        closed = rows.account(dana, "1000004839", ("9 Old Rd", "Wrens", "30833"), status="final")
        off = rows.account(
            dana, "1000009914", ("5 Pine Hollow Rd", "Stapleton", "30823"), status="disconnected"
        )
        earls = rows.account(earl, "1000007315")
        s.add_all([home, closed, off, earls])
        await s.flush()
        period = (date(2026, 10, 27), date(2026, 11, 26))
        s.add(rows.bill(home.id, 14287, period, date(2026, 11, 27), date(2026, 12, 12), kwh=950))

        methods = {
            "visa": rows.card(dana, "tok_sandbox_visa4242"),
            "declining": rows.card(dana, "tok_sandbox_decline_0002", last4="0002"),
            "erroring": rows.card(dana, "tok_sandbox_error", last4="0119"),
            "inactive": rows.card(dana, "tok_sandbox_old", last4="1881", is_active=False),
            "expired": rows.card(
                dana, "tok_sandbox_expired", last4="1111", exp_month=10, exp_year=2026
            ),
            "earl_checking": PaymentMethod(
                member_id=earl.id, token="tok_sandbox_earl", kind="checking", last4="6120"
            ),
        }
        s.add_all(methods.values())
        await s.commit()
        return {
            "dana": dana.id,
            "earl": earl.id,
            "home": home.id,
            "closed": closed.id,
            "off": off.id,
            "earls": earls.id,
        } | {k: m.id for k, m in methods.items()}


def service(
    factory: async_sessionmaker[AsyncSession],
    processor: PaymentProcessor | None = None,
    rules: PaymentRules = RULES,
) -> PaymentService:
    return PaymentService(
        factory, processor or SandboxProcessor(), rules, duplicate_wait_seconds=10
    )


def pay_args(ids: dict[str, int], **overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "account_id": ids["home"],
        "member_id": ids["dana"],
        "payment_method_id": ids["visa"],
        "amount_cents": 14287,
        "idempotency_key": "conv-1:pay:1",
        "channel": "sms",
        "actor": f"member:{ids['dana']}",
        "verified_how": "phone_on_file+zip+otp",
        "conversation_id": "conv-1",
        "now": NOW,
    }
    return args | overrides


async def payment_rows(factory: async_sessionmaker[AsyncSession]) -> list[Payment]:
    async with factory() as s:
        return list(await s.scalars(select(Payment).order_by(Payment.id)))


async def audit_rows(factory: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with factory() as s:
        return list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


# ---------------------------------------------------------------------------------------------
# Success, limits and refusals
# ---------------------------------------------------------------------------------------------


async def test_successful_payment_gets_a_confirmation_number_and_posting_time(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    outcome = await service(session_factory, processor).pay(**pay_args(ids))

    assert outcome.ok and outcome.status == "succeeded" and not outcome.duplicate
    assert outcome.confirmation_number and CONFIRMATION.match(outcome.confirmation_number)
    assert outcome.method_label == "Visa ending 4242"
    assert outcome.message == (
        f"Done. Payment of $142.87 received, confirmation {outcome.confirmation_number}. "
        "It posts in 1-2 business days."
    )
    assert processor.charges == [("tok_sandbox_visa4242", 14287, "conv-1:pay:1")]
    (row,) = await payment_rows(session_factory)
    assert (row.status, row.confirmation_number, row.received_at) == (
        "succeeded",
        outcome.confirmation_number,
        NOW,
    )
    assert row.processor_reference and row.channel == "sms"

    # Not posted yet: the bill stays open, but the balance no longer asks for the money.
    balance = await SqlMemberServices(session_factory, BillingRules(timezone=EASTERN)).balance(
        ids["home"], NOW.date()
    )
    assert balance.amount_due_cents == 0 and balance.open_bill_ids


@pytest.mark.parametrize(
    ("amount", "reason", "wording"),
    [
        (99, "below_minimum", "smallest payment I can take is $1.00"),
        (500_001, "above_maximum", "up to $5,000.00"),
    ],
)
async def test_amounts_outside_the_limits_are_refused_without_charging(
    session_factory: async_sessionmaker[AsyncSession], amount: int, reason: str, wording: str
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    outcome = await service(session_factory, processor).pay(**pay_args(ids, amount_cents=amount))
    assert (outcome.status, outcome.reason) == ("refused", reason)
    assert wording in outcome.message
    assert processor.charges == [] and await payment_rows(session_factory) == []
    (entry,) = await audit_rows(session_factory)
    assert (entry.action, entry.details["reason"]) == ("payment.refused", reason)


async def test_the_limits_themselves_are_accepted(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    svc = service(session_factory)
    assert (await svc.pay(**pay_args(ids, amount_cents=100, idempotency_key="a"))).ok
    assert (await svc.pay(**pay_args(ids, amount_cents=500_000, idempotency_key="b"))).ok


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"payment_method_id": "earl_checking"}, "foreign_method"),
        ({"account_id": "closed"}, "closed_account"),
        ({"account_id": "earls"}, "foreign_account"),
        ({"payment_method_id": "inactive"}, "inactive_method"),
        ({"payment_method_id": "expired"}, "expired_method"),
    ],
)
async def test_payments_the_member_may_not_make_are_refused(
    session_factory: async_sessionmaker[AsyncSession], overrides: dict[str, str], reason: str
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    outcome = await service(session_factory, processor).pay(
        **pay_args(ids, **{k: ids[v] for k, v in overrides.items()})
    )
    assert (outcome.status, outcome.reason) == ("refused", reason)
    assert processor.charges == [] and await payment_rows(session_factory) == []
    assert [e.action for e in await audit_rows(session_factory)] == ["payment.refused"]


async def test_a_disconnected_account_can_still_pay(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    assert (await service(session_factory).pay(**pay_args(ids, account_id=ids["off"]))).ok


# ---------------------------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------------------------


async def test_the_same_key_twice_charges_once_and_repeats_the_confirmation(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    svc = service(session_factory, processor)
    first = await svc.pay(**pay_args(ids))
    again = await svc.pay(**pay_args(ids))
    assert again.duplicate and again.ok
    assert again.confirmation_number == first.confirmation_number
    assert again.message == (
        f"That payment is already done (confirmation {first.confirmation_number}). Nothing more "
        "was charged."
    )
    assert len(processor.charges) == 1
    assert len(await payment_rows(session_factory)) == 1


async def test_a_key_reused_for_a_different_amount_is_refused(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    svc = service(session_factory, processor)
    await svc.pay(**pay_args(ids))
    other = await svc.pay(**pay_args(ids, amount_cents=5000))
    assert (other.status, other.reason) == ("refused", "idempotency_key_reused")
    assert len(processor.charges) == 1


async def test_concurrent_submissions_with_one_key_charge_once(db_url: str) -> None:
    """Five tasks submit the same payment at once, on SQLite and on PostgreSQL."""
    engine = make_async_engine(db_url)
    try:
        factory = async_session_factory(engine)
        ids = await seed(factory)
        processor = SandboxProcessor()
        svc = service(factory, processor)
        outcomes = await asyncio.gather(*(svc.pay(**pay_args(ids)) for _ in range(5)))

        assert len(processor.charges) == 1
        assert {o.status for o in outcomes} == {"succeeded"}
        assert len({o.confirmation_number for o in outcomes}) == 1
        assert sum(not o.duplicate for o in outcomes) == 1
        async with factory() as s:
            assert await s.scalar(select(func.count()).select_from(Payment)) == 1
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# Declines and processor errors (the documented sandbox triggers)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "amount"), [("declining", 14287), ("visa", 2013)])
async def test_declines_tell_the_member_nothing_was_charged(
    session_factory: async_sessionmaker[AsyncSession], method: str, amount: int
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    outcome = await service(session_factory, processor).pay(
        **pay_args(ids, payment_method_id=ids[method], amount_cents=amount)
    )
    assert (outcome.status, outcome.message, outcome.confirmation_number) == (
        "declined",
        DECLINE_MESSAGE,
        None,
    )
    assert processor.charges == []
    (row,) = await payment_rows(session_factory)
    assert row.status == "declined" and row.failure_reason in {
        "card declined",
        "insufficient funds",
    }
    assert row.received_at is None
    assert [e.action for e in await audit_rows(session_factory)] == ["payment.declined"]


@pytest.mark.parametrize(("method", "amount"), [("erroring", 14287), ("visa", 2014)])
async def test_processor_errors_leave_a_failed_row_and_no_charge(
    session_factory: async_sessionmaker[AsyncSession], method: str, amount: int
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor()
    svc = service(session_factory, processor)
    outcome = await svc.pay(**pay_args(ids, payment_method_id=ids[method], amount_cents=amount))
    assert (outcome.status, outcome.message) == ("failed", ERROR_MESSAGE)
    retry = await svc.pay(**pay_args(ids, payment_method_id=ids[method], amount_cents=amount))
    assert (retry.status, retry.duplicate) == ("failed", True)
    assert processor.charges == []
    (row,) = await payment_rows(session_factory)
    assert row.status == "failed" and row.confirmation_number is None


async def test_a_processor_that_does_not_answer_in_time_counts_as_an_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    processor = SandboxProcessor(hang_seconds=30)
    rules = replace(RULES, processor_timeout_seconds=0.05)
    outcome = await service(session_factory, processor, rules).pay(
        **pay_args(ids, amount_cents=2015)
    )
    assert outcome.status == "failed"
    assert processor.charges == []
    (row,) = await payment_rows(session_factory)
    assert (row.status, row.failure_reason) == ("failed", "processor timeout")


async def test_a_crashing_processor_adapter_counts_as_an_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    class Broken(SandboxProcessor):
        async def charge(
            self, token: str, amount_cents: int, idempotency_key: str
        ) -> ProcessorResult:
            raise ConnectionResetError("peer went away")

    ids = await seed(session_factory)
    outcome = await service(session_factory, Broken()).pay(**pay_args(ids))
    assert outcome.status == "failed"
    (row,) = await payment_rows(session_factory)
    assert row.failure_reason == "processor exception: ConnectionResetError"


# ---------------------------------------------------------------------------------------------
# Audit trail
# ---------------------------------------------------------------------------------------------


async def test_every_attempt_is_audited_without_tokens_or_numbers(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(session_factory)
    svc = service(session_factory)
    ok = await svc.pay(**pay_args(ids))
    await svc.pay(**pay_args(ids))  # duplicate
    await svc.pay(**pay_args(ids, idempotency_key="k2", payment_method_id=ids["declining"]))
    await svc.pay(**pay_args(ids, idempotency_key="k3", amount_cents=50))

    entries = await audit_rows(session_factory)
    assert [e.action for e in entries] == [
        "payment.succeeded",
        "payment.duplicate",
        "payment.declined",
        "payment.refused",
    ]
    first = entries[0]
    assert (first.actor, first.account_id, first.channel, first.conversation_id) == (
        f"member:{ids['dana']}",
        ids["home"],
        "sms",
        "conv-1",
    )
    assert first.verified_how == "phone_on_file+zip+otp"
    assert first.details["confirmation_number"] == ok.confirmation_number
    assert first.details["method"] == "Visa ending 4242"
    assert first.details["amount_cents"] == 14287
    dumped = json.dumps([e.details for e in entries])
    assert "tok_" not in dumped
    assert not re.search(r"\d{9,}", dumped)


# ---------------------------------------------------------------------------------------------
# Pure checks used by the conversation before confirming
# ---------------------------------------------------------------------------------------------


def test_amount_warning_only_above_the_balance() -> None:
    assert amount_warning(14287, 14287) is None
    assert amount_warning(5000, 14287) is None
    assert amount_warning(20000, 14287) == (
        "Just so you know, your balance is $142.87; the extra $57.13 will be a credit on your "
        "account."
    )
    assert amount_warning(2000, 0) == (
        "Just so you know, you don't owe anything right now; the extra $20.00 will be a credit on "
        "your account."
    )
    assert amount_warning(20000, 14287, replace(RULES, warn_above_balance=False)) is None


def test_check_amount_wording() -> None:
    assert check_amount(100, RULES) is None
    assert check_amount(99, RULES) == "The smallest payment I can take is $1.00."
    assert "call member services" in (check_amount(500_001, RULES) or "")


def test_rules_and_posting_estimate_from_the_jec_profile() -> None:
    from bot.profile import load_profile

    profile = load_profile(PROFILE)
    rules = PaymentRules.from_profile(profile)
    assert (rules.minimum_cents, rules.maximum_cents, rules.warn_above_balance) == (
        100,
        500_000,
        True,
    )
    # Saturday after Thanksgiving: Monday and Tuesday are the two business days.
    assert posting_estimate(NOW, profile) == "1-2 business days (by Tuesday, December 1)"
    # Wednesday before Thanksgiving: Thursday and Friday are co-op holidays.
    wednesday = datetime(2026, 11, 25, 20, tzinfo=UTC)
    assert posting_estimate(wednesday, rules) == "1-2 business days (by Tuesday, December 1)"
    # Late Monday evening in Georgia is already Tuesday in UTC; count from the local day.
    monday_night = datetime(2026, 11, 24, 3, tzinfo=UTC)  # Mon Nov 23, 10 PM EST
    assert posting_estimate(monday_night, rules) == "1-2 business days (by Wednesday, November 25)"


# ---------------------------------------------------------------------------------------------
# The sandbox processor
# ---------------------------------------------------------------------------------------------

TODAY = date(2026, 11, 28)


async def tokenize(
    sandbox: SandboxProcessor,
    number: str,
    exp: tuple[int, int] = (1, 2030),
    cvv: str = "999",
    name: str = "Test",
) -> CardToken:
    """The sandbox's card token for these details, entered today (TODAY)."""
    return await sandbox.tokenize_card(
        number=number, exp_month=exp[0], exp_year=exp[1], cvv=cvv, name=name, today=TODAY
    )


async def test_sandbox_tokenizes_a_card_without_keeping_the_number_or_cvv() -> None:
    sandbox = SandboxProcessor()
    card = await tokenize(sandbox, "4242 4242 4242 4242", (9, 2028), "123", " Dana Whitfield ")
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.holder_name) == (
        "Visa",
        "4242",
        9,
        2028,
        "Dana Whitfield",
    )
    assert card.token.startswith("tok_sandbox_")
    kept = repr(card) + json.dumps(asdict(card)) + repr(vars(sandbox))
    assert "4242424242424242" not in kept and "123" not in kept.replace(card.token, "")
    assert (await sandbox.charge(card.token, 1000, "k")).status == "succeeded"


async def test_sandbox_test_cards_trigger_declines_and_errors() -> None:
    sandbox = SandboxProcessor()
    declining = await tokenize(sandbox, "4000000000000002")
    erroring = await tokenize(sandbox, "4000-0000-0000-0119")
    assert "decline" in declining.token
    declined = await sandbox.charge(declining.token, 1000, "k1")
    assert (declined.status, declined.decline_reason) == ("declined", "card declined")
    assert (await sandbox.charge(erroring.token, 1000, "k2")).status == "error"
    assert (await sandbox.charge("tok_sandbox_error", 1000, "k3")).status == "error"
    assert (
        await sandbox.charge("tok_sandbox_ok", 1013, "k4")
    ).decline_reason == "insufficient funds"
    assert (await sandbox.charge("tok_sandbox_ok", 1014, "k5")).status == "error"
    assert sandbox.charges == []


async def test_sandbox_remembers_idempotency_keys() -> None:
    sandbox = SandboxProcessor()
    first = await sandbox.charge("tok_sandbox_ok", 1000, "same")
    second = await sandbox.charge("tok_sandbox_ok", 1000, "same")
    assert first == second
    assert len(sandbox.charges) == 1


@pytest.mark.parametrize(
    ("number", "exp", "cvv", "problem"),
    [
        ("4242424242424241", (9, 2028), "123", "card number"),  # fails Luhn
        ("4242424242424242", (10, 2026), "123", "expired"),
        ("4242424242424242", (13, 2028), "123", "expired"),
        ("4242424242424242", (9, 2028), "12", "security code"),
        ("378282246310005", (9, 2028), "123", "security code"),  # Amex needs 4 digits
    ],
)
async def test_sandbox_refuses_bad_card_details(
    number: str, exp: tuple[int, int], cvv: str, problem: str
) -> None:
    with pytest.raises(TokenizeError, match=problem) as error:
        await tokenize(SandboxProcessor(), number, exp, cvv, "Dana")
    assert number not in str(error.value)


async def test_sandbox_bank_accounts_need_a_valid_routing_number() -> None:
    sandbox = SandboxProcessor()
    bank = await sandbox.tokenize_bank(
        routing="011000015", account="123456786120", kind="checking", name="Earl"
    )
    assert (bank.last4, bank.kind) == ("6120", "checking")
    assert "123456786120" not in repr(bank)
    declining = await sandbox.tokenize_bank(
        routing="011000015", account="000000002", kind="savings", name="Earl"
    )
    assert (await sandbox.charge(declining.token, 1000, "k")).status == "declined"
    with pytest.raises(TokenizeError, match="routing number"):
        await sandbox.tokenize_bank(
            routing="011000016", account="123456786120", kind="checking", name="Earl"
        )
