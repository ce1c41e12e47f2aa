"""Demo data: the README's accounts exist with their exact figures, and runs are repeatable."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.demo import generate_demo_data
from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.migrate import current_revisions
from bot.store.models import (
    Account,
    Bill,
    Contact,
    DraftAuthorization,
    DraftEnrollment,
    Member,
    Outage,
    OutageArea,
    Payment,
    PaymentMethod,
    UsageReading,
)

TODAY = date(2026, 11, 28)


def _session(url: str):
    engine = make_sync_engine(url)
    return engine, sync_session_factory(engine)()


def _account(session, number: str) -> Account:
    return session.scalars(select(Account).where(Account.account_number == number)).one()


def _bills(session, account: Account) -> list[Bill]:
    return list(
        session.scalars(
            select(Bill).where(Bill.account_id == account.id).order_by(Bill.billing_date.desc())
        )
    )


def test_named_accounts_are_exactly_as_documented(db_url: str) -> None:
    generate_demo_data(db_url, members=20, usage_days=30, today=TODAY)
    engine, s = _session(db_url)
    with s:
        dana = _account(s, "1000004821")
        assert (dana.service_street, dana.service_town, dana.service_zip) == (
            "412 Mill St",
            "Wrens",
            "30833",
        )
        assert dana.paperless and dana.status == "active"
        assert (dana.member.first_name, dana.member.last_name) == ("Dana", "Whitfield")
        contacts = {(c.kind, c.value, c.is_verified) for c in dana.member.contacts}
        assert ("phone", "+17065550101", True) in contacts
        assert ("email", "dana.whitfield@example.com", True) in contacts
        open_bill, previous = _bills(s, dana)[:2]
        assert open_bill.amount_cents == 14287 and not open_bill.paid
        assert open_bill.due_date == TODAY + timedelta(days=14)
        assert all(b.paid for b in _bills(s, dana)[1:])
        last_payment = s.scalars(
            select(Payment)
            .where(Payment.account_id == dana.id, Payment.status == "succeeded")
            .order_by(Payment.received_at.desc())
        ).first()
        assert last_payment.amount_cents == 11820
        assert {(m.kind, m.brand, m.last4) for m in dana.member.payment_methods} == {
            ("card", "Visa", "4242")
        }

        earl = _account(s, "1000007315")
        current, past_due = _bills(s, earl)[:2]
        assert (current.amount_cents, current.paid, current.late_fee_cents) == (9655, False, 0)
        assert current.due_date >= TODAY
        assert (past_due.amount_cents, past_due.paid) == (3810, False)
        assert past_due.due_date < TODAY
        assert past_due.late_fee_cents == 300  # over $25: 5% is $1.91, so the $3.00 minimum
        assert {(m.kind, m.last4) for m in earl.member.payment_methods} == {("checking", "6120")}
        assert (
            s.scalar(
                select(func.count())
                .select_from(DraftEnrollment)
                .where(DraftEnrollment.account_id == earl.id)
            )
            == 0
        )

        loretta = _account(s, "1000002209")
        draft = s.scalars(
            select(DraftEnrollment).where(DraftEnrollment.account_id == loretta.id)
        ).one()
        assert (draft.draft_day, draft.amount_rule, draft.status) == (18, "full_balance", "active")
        method = s.get(PaymentMethod, draft.payment_method_id)
        assert (method.kind, method.last4) == ("checking", "3344")
        auth = s.scalars(
            select(DraftAuthorization).where(DraftAuthorization.enrollment_id == draft.id)
        ).one()
        assert auth.action == "enroll" and "3344" in auth.text and "18th" in auth.text

        marcus = s.scalars(
            select(Member).where(Member.last_name == "Reed", Member.first_name == "Marcus")
        ).one()
        assert {(a.account_number, a.service_zip) for a in marcus.accounts} == {
            ("1000005560", "30833"),
            ("1000005578", "30805"),
        }
        assert [(m.brand, m.last4) for m in marcus.payment_methods] == [("Mastercard", "5454")]

        bobbie = _account(s, "1000009914")
        assert bobbie.status == "disconnected"
        assert bobbie.member.payment_methods == []
        assert [c.kind for c in bobbie.member.contacts] == ["phone"]

        outages = s.scalars(select(Outage).where(Outage.status == "active")).all()
        by_zip = {a.zip: a.outage for a in s.scalars(select(OutageArea))}
        assert len(outages) == 2
        assert by_zip["30833"].customers_affected == 240
        assert by_zip["30833"].estimated_restoration_at > by_zip["30833"].started_at
        assert by_zip["30434"].estimated_restoration_at is None
        assert {a.town for a in s.scalars(select(OutageArea))} == {"Wrens", "Louisville"}
    engine.dispose()


def test_generated_members_are_plausible(db_url: str) -> None:
    generate_demo_data(db_url, members=120, usage_days=40, today=TODAY)
    engine, s = _session(db_url)
    with s:
        numbers = s.scalars(select(Account.account_number)).all()
        assert all(len(n) == 10 and n.isdigit() for n in numbers)
        assert len(set(numbers)) == len(numbers)
        named = {"1000004821", "1000007315", "1000002209", "1000005560", "1000005578", "1000009914"}
        assert sum(n in named for n in numbers) == 6
        phones = s.scalars(select(Contact.value).where(Contact.kind == "phone")).all()
        assert len(set(phones)) == len(phones)
        assert all(p.startswith("+1") and p[5:8] == "555" for p in phones)
        tokens = s.scalars(select(PaymentMethod.token)).all()
        assert all(t.startswith("tok_sandbox_") for t in tokens)
        payments = s.scalars(select(Payment)).all()
        keys = [p.idempotency_key for p in payments]
        assert len(set(keys)) == len(keys)
        assert all(p.confirmation_number for p in payments if p.status == "succeeded")
        # twelve monthly bills per active account, due after the profile's 15 days
        bills = s.scalars(
            select(Bill).where(
                Bill.account_id
                == s.scalars(
                    select(Account.id).where(Account.status == "active").order_by(Account.id.desc())
                ).first()
            )
        ).all()
        assert len(bills) == 12
        assert all(b.due_date - b.billing_date == timedelta(days=15) for b in bills)
        members_with_two = s.scalar(
            select(func.count()).select_from(
                select(Account.member_id)
                .group_by(Account.member_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        assert members_with_two >= 2
        past_due = s.scalar(
            select(func.count())
            .select_from(Bill)
            .where(Bill.paid.is_(False), Bill.due_date < TODAY)
        )
        assert past_due > 0
        readings = s.scalars(
            select(UsageReading).where(UsageReading.account_id == bills[0].account_id)
        ).all()
        assert len(readings) == 40
        assert max(r.day for r in readings) == TODAY - timedelta(days=1)
        assert all(r.cost_cents > 0 for r in readings)
    engine.dispose()


def _dump(url: str) -> dict[str, list[tuple]]:
    engine = make_sync_engine(url)
    tables = [
        "members",
        "accounts",
        "contacts",
        "payment_methods",
        "bills",
        "payments",
        "draft_enrollments",
        "draft_authorizations",
        "usage_readings",
        "outages",
        "outage_areas",
        "notification_preferences",
    ]
    with engine.connect() as conn:
        dump = {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }
    engine.dispose()
    return dump


def test_same_seed_and_day_give_the_same_rows(tmp_path: Path) -> None:
    first, second, other = (f"sqlite:///{tmp_path / n}" for n in ("a.db", "b.db", "c.db"))
    for url in (first, second):
        generate_demo_data(url, members=40, usage_days=10, today=TODAY)
    generate_demo_data(other, members=40, usage_days=10, seed=7, today=TODAY)
    assert _dump(first) == _dump(second)
    assert _dump(first)["members"] != _dump(other)["members"]
    assert current_revisions(first)  # an empty database was migrated first


def test_only_if_empty_leaves_a_loaded_database_alone(db_url: str) -> None:
    generate_demo_data(db_url, members=10, usage_days=5, today=TODAY)
    before = _dump(db_url)
    report = generate_demo_data(db_url, members=10, usage_days=5, today=TODAY, only_if_empty=True)
    assert "not loaded" in report and "15 members" in report
    assert _dump(db_url) == before


def test_a_second_run_adds_members_without_clashing(db_url: str) -> None:
    generate_demo_data(db_url, members=10, usage_days=2, today=TODAY)
    report = generate_demo_data(db_url, members=10, usage_days=2, today=TODAY)
    assert "already there" in report
    engine, s = _session(db_url)
    with s:
        assert s.scalar(select(func.count()).select_from(Member)) == 25
        assert (
            s.scalar(
                select(func.count())
                .select_from(Account)
                .where(Account.account_number == "1000004821")
            )
            == 1
        )
        # PostgreSQL's id sequences were moved past the demo rows: a normal insert still works
        s.add(Member(member_number="NEW-1", first_name="New", last_name="Member"))
        s.commit()
    engine.dispose()


@pytest.mark.slow
def test_forty_thousand_members_scale(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scale.db'}"
    started = time.monotonic()
    report = generate_demo_data(url, members=40_000, usage_days=1, today=TODAY)
    elapsed = time.monotonic() - started
    print(f"\n40,000 demo members with 1 usage day into SQLite: {elapsed:.1f}s\n{report}")
    engine, s = _session(url)
    with s:
        assert s.scalar(select(func.count()).select_from(Member)) == 40_005
        assert s.scalar(select(func.count(func.distinct(Account.account_number)))) == s.scalar(
            select(func.count()).select_from(Account)
        )
    engine.dispose()
